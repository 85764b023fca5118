"""Name registry of the benchmark readers: ``register_benchmark``, ``list_benchmarks``, ``open_benchmark``."""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from oodforge._registry import unknown_name
from oodforge.benchmarks._base import BenchmarkReader
from oodforge.errors import UsageError

__all__ = ["benchmark_class", "list_benchmarks", "open_benchmark", "register_benchmark"]

_R = TypeVar("_R", bound=type[BenchmarkReader])
_REGISTRY: dict[str, type[BenchmarkReader]] = {}


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def register_benchmark(name: str) -> Callable[[_R], _R]:
    """Class decorator registering a :class:`BenchmarkReader` subclass under ``name`` (sets ``cls.name``).

    Args:
        name: Lower-case registry name, e.g. ``"road_anomaly_21"``.

    Raises:
        ValueError: ``name`` is already taken by another class.
    """
    key = _normalise(name)

    def decorate(cls: _R) -> _R:
        other = _REGISTRY.get(key)
        if other is not None and other is not cls:
            raise ValueError(f"benchmark name '{key}' is already registered by {other.__qualname__}")
        cls.name = key
        _REGISTRY[key] = cls
        return cls

    return decorate


def list_benchmarks(pattern: str | None = None) -> list[str]:
    """Registered benchmark names, sorted, optionally filtered by a shell-style ``pattern``.

    Example:
        >>> "road_anomaly_21" in list_benchmarks()
        True
        >>> list_benchmarks("fishyscapes_*")
        ['fishyscapes_lost_and_found', 'fishyscapes_static']
    """
    names = sorted(_REGISTRY)
    return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, _normalise(pattern))]


def benchmark_class(name: str) -> type[BenchmarkReader]:
    """The reader class registered under ``name`` (case and ``-``/``_`` insensitive).

    Raises:
        UsageError: unknown name; the message lists close matches and every registered name.
    """
    key = _normalise(name)
    try:
        return _REGISTRY[key]
    except KeyError:
        raise unknown_name("benchmark", key, _REGISTRY) from None


def open_benchmark(name: str, root: str | Path, split: str | None = None, **options: Any) -> BenchmarkReader:
    """Open one split of a registered benchmark.

    Args:
        name: Registry name (see :func:`list_benchmarks`).
        root: Dataset root; the message of a wrong root shows the expected layout.
        split: Split name; None for the reader's default split.
        **options: Reader-specific options, e.g. ``label_encoding`` of ``fishyscapes_static``.

    Returns:
        The opened reader.

    Raises:
        UsageError: unknown benchmark, split or option.
        DataLayoutError: ``root`` does not have the benchmark's layout.
    """
    cls = benchmark_class(name)
    params = inspect.signature(cls.__init__).parameters
    accepted = [p for p in params if p not in ("self", "root", "split")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        valid = ", ".join(accepted) if accepted else "none"
        raise UsageError(f"{cls.name}: unknown option(s) {', '.join(unknown)}; valid options: {valid}")
    return cls(root, split, **options)
