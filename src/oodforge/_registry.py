"""Shared helpers of the name registries (scores, models, benchmarks)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from oodforge.errors import UsageError

__all__ = ["unknown_name"]


def unknown_name(kind: str, name: str, names: Iterable[str]) -> UsageError:
    """The error for an unregistered ``name``: close matches first, then every available name.

    Example:
        >>> str(unknown_name("score", "enrgy", ["energy", "msp"]))
        "Unknown score 'enrgy'; did you mean 'energy'? available: energy, msp"
    """
    available = sorted(names)
    close = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    return UsageError(f"Unknown {kind} {name!r}; {hint}available: {', '.join(available)}")
