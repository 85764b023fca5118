"""Typed exceptions. Every user-facing error is one line: what, where, found, expected.

``UsageError`` and its subclasses map to exit code 2 in the CLI; ``SampleError`` marks a
single input sample that could not be processed (recorded as ``failed``, exit code 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "ConfigError",
    "DataLayoutError",
    "InputFileError",
    "OodforgeError",
    "SampleError",
    "ShapeError",
    "UsageError",
    "ValueCheckError",
    "every_sample_needed",
]


class OodforgeError(Exception):
    """Base class of every error raised on purpose by oodforge."""


class UsageError(OodforgeError, ValueError):
    """Bad user input (arguments, config, data roots): exit code 2."""


class ConfigError(UsageError):
    """Invalid configuration file or key."""


class DataLayoutError(UsageError):
    """A dataset root does not have the expected on-disk layout."""


class InputFileError(UsageError):
    """An input file is missing, malformed or unreadable."""


class ShapeError(OodforgeError, ValueError):
    """An array has an unexpected shape."""


class ValueCheckError(OodforgeError, ValueError):
    """An array holds values outside the expected set or range."""


class SampleError(OodforgeError):
    """One sample (image) failed; the run goes on and records the reason."""


@contextmanager
def every_sample_needed() -> Iterator[None]:
    """For commands whose one result needs every sample (preview, segeval, a single-image predict).

    Batch commands that write per sample (synth, render, preprocess, predict on a folder) skip a damaged
    sample, name it and exit 1. A command that cannot produce its result without that sample stops: inside
    this block a :class:`SampleError` becomes an :class:`InputFileError` (exit 2) with the same message.
    """
    try:
        yield
    except SampleError as exc:
        raise InputFileError(str(exc)) from None
