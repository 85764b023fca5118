"""Load, validate, resolve and dump a rendering config (same rules as the synthesis config).

Relative paths (``output_root``, ``scene.blend_file``, ``scene.ephemeris``, ``scene.anomalies_dir``, mesh
files in ``anomalies``) resolve against the config file's folder; an anomaly given by bare name is looked
up in ``scene.anomalies_dir`` (:func:`anomaly_file`); errors are one line naming the key; the resolved config is dumped
deterministically with ``output_root: .`` so ``config_sha256`` does not depend on where output goes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from oodforge.config._base import validate_strict
from oodforge.config.loader import _format_error, read_yaml, resolve_path
from oodforge.errors import ConfigError, InputFileError, UsageError
from oodforge.render.config import ANOMALY_DIR_EXTENSIONS, PRIMITIVES, RenderConfig

__all__ = [
    "anomaly_file",
    "check_input_files",
    "dump_resolved_render",
    "load_render_config",
    "render_config_from_dict",
    "resolve_render_config",
    "with_layout",
]


def render_config_from_dict(data: Any, source: str = "<config>") -> RenderConfig:
    """Validate a plain mapping (as parsed from YAML) into a :class:`RenderConfig` (no file checks).

    Raises:
        ConfigError: one line naming the key, the value found and what was expected.

    Example:
        >>> cfg = render_config_from_dict({"output_root": "out", "modes": ["illumination", "color"]})
        >>> cfg.modes.active()
        ['illumination', 'colour']
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a YAML mapping at the top level, found {type(data).__name__}")
    try:
        return validate_strict(RenderConfig, data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, source, RenderConfig)) from None


def _resolve(cfg: RenderConfig, base: Path) -> RenderConfig:
    data = cfg.model_dump(mode="python")
    data["output_root"] = resolve_path(data["output_root"], base)
    scene = data["scene"]
    for key in ("blend_file", "ephemeris", "anomalies_dir"):
        if scene[key] is not None:
            scene[key] = resolve_path(scene[key], base)
    data["anomalies"] = [a if _by_name(a) else resolve_path(a, base) for a in data["anomalies"]]
    data["modes"] = {k: v for k, v in data["modes"].items() if v is not None}
    return RenderConfig.model_validate(data)


def _by_name(item: str) -> bool:
    """A primitive or a bare model name (looked up in ``scene.anomalies_dir``), not a path."""
    return item in PRIMITIVES or not Path(item).suffix


def anomaly_file(cfg: RenderConfig, index: int) -> str | None:
    """The model file of ``cfg.anomalies[index]`` (None for a primitive).

    A path is taken as given; a bare name is the first of ``<anomalies_dir>/<name>{.blend, .obj, .glb,
    .stl, .ply}`` that exists.

    Raises:
        InputFileError: the file is missing, or no file of that name is in ``scene.anomalies_dir``.
    """
    item = cfg.anomalies[index]
    if item in PRIMITIVES:
        return None
    if Path(item).suffix:
        if not Path(item).is_file():
            raise InputFileError(f"anomalies[{index}]: mesh file {item} not found")
        return item
    folder = Path(cfg.scene.anomalies_dir or ".")
    for ext in ANOMALY_DIR_EXTENSIONS:
        candidate = folder / f"{item}{ext}"
        if candidate.is_file():
            return str(candidate)
    tried = ", ".join(f"{item}{ext}" for ext in ANOMALY_DIR_EXTENSIONS)
    raise InputFileError(f"anomalies[{index}]: '{item}' not found in scene.anomalies_dir {folder} (tried {tried})")


def check_input_files(cfg: RenderConfig) -> None:
    """Check that the ``.blend`` file, the ephemeris and every anomaly model of a resolved config exist.

    Raises:
        InputFileError: one line naming the key and the missing path.
    """
    blend = cfg.scene.blend_file
    if blend is not None and not Path(blend).is_file():
        raise InputFileError(f"scene.blend_file: {blend} not found")
    eph = cfg.scene.ephemeris
    if eph is not None and not Path(eph).is_file():
        raise InputFileError(f"scene.ephemeris: {eph} not found")
    folder = cfg.scene.anomalies_dir
    if folder is not None and not Path(folder).is_dir():
        raise InputFileError(f"scene.anomalies_dir: {folder} is not a folder")
    for i in range(len(cfg.anomalies)):
        anomaly_file(cfg, i)


def with_layout(cfg: RenderConfig, layout: str | None) -> RenderConfig:
    """``cfg`` with ``output.layout`` replaced (``oodforge render --layout``); None keeps the config's.

    Raises:
        UsageError: an unknown layout, or one the config cannot use (one line).
    """
    if layout is None:
        return cfg
    data = cfg.model_dump(mode="python")
    data["output"]["layout"] = layout
    data["modes"] = {k: v for k, v in data["modes"].items() if v is not None}
    try:
        return validate_strict(RenderConfig, data)
    except ValidationError as exc:
        msg = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise UsageError(f"--layout {layout}: {msg}") from None


def load_render_config(path: str | Path, *, check_files: bool = True) -> RenderConfig:
    """Read a YAML rendering config, validate it and resolve its relative paths against its folder.

    Raises:
        ConfigError: missing file, YAML syntax error, or an invalid key/value.
        InputFileError: a missing ``.blend`` or mesh file (when ``check_files``).
    """
    path = Path(path)
    data = read_yaml(path)
    cfg = _resolve(render_config_from_dict(data, str(path)), path.resolve().parent)
    if check_files:
        check_input_files(cfg)
    return cfg


def resolve_render_config(cfg: RenderConfig, base_dir: Path) -> RenderConfig:
    """Return a copy of ``cfg`` whose paths are absolute, relative ones taken against ``base_dir``."""
    return _resolve(cfg, base_dir)


def dump_resolved_render(cfg: RenderConfig) -> bytes:
    """Deterministic YAML bytes of the resolved config as written to ``OUT/config.yaml``."""
    data = cfg.model_dump(mode="json")
    data["output_root"] = "."
    data["modes"] = {k: v for k, v in data["modes"].items() if v is not None}
    text = (
        "# oodforge resolved render config: every default filled in. Regenerate with `oodforge render <this file>`.\n"
    )
    text += yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)
    return text.encode("utf-8")
