"""Typed configuration for ``oodforge synth``: schema, loading, resolution."""

from oodforge.config.loader import dump_resolved, load_config, resolve_config
from oodforge.config.schema import SynthConfig

__all__ = ["SynthConfig", "dump_resolved", "load_config", "resolve_config"]
