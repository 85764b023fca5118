"""Sets of many strings in 8 bytes each, so ``verify`` keeps memory flat in the number of images.

A 64-bit BLAKE2b digest stands for each string. Two different strings share a digest with probability
about n² / 2⁶⁵ (for a million images' paths: ~10⁻⁸), in which case one orphan file could go unreported;
nothing is ever reported wrongly.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable

import numpy as np

__all__ = ["DigestSet", "digest64"]


def digest64(text: str) -> int:
    """The 64-bit digest of a string."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class DigestSet:
    """Add strings, then ask membership (the digests are sorted once, on the first question after adds)."""

    def __init__(self) -> None:
        self._digests = array("Q")
        self._sorted: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._digests)

    def add(self, text: str) -> None:
        """Add one string."""
        self._digests.append(digest64(text))
        self._sorted = None

    def update(self, texts: Iterable[str]) -> None:
        """Add every string of ``texts``."""
        for t in texts:
            self.add(t)

    def digests(self) -> set[int]:
        """Every digest added, as a Python set (for callers that must switch to exact online membership)."""
        return set(self._digests)

    def __contains__(self, text: object) -> bool:
        if not isinstance(text, str):
            return False
        if self._sorted is None:
            self._sorted = np.unique(np.frombuffer(self._digests, dtype=np.uint64))
        d = np.uint64(digest64(text))
        i = int(np.searchsorted(self._sorted, d))
        return i < len(self._sorted) and bool(self._sorted[i] == d)
