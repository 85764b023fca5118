"""Drawing and row choice shared by the contact sheets of synthesized and rendered datasets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import cv2
import numpy as np

from oodforge.errors import DataLayoutError, UsageError

__all__ = ["ANOMALY_RGB", "BACKGROUND", "FONT", "GAP", "HEADER_H", "header", "select", "stack_rows", "text"]

HEADER_H = 22
GAP = 4
BACKGROUND = (24, 24, 24)
ANOMALY_RGB = np.array([255, 120, 0], np.float32)
FONT = cv2.FONT_HERSHEY_SIMPLEX


class _Row(Protocol):
    @property
    def split(self) -> str: ...
    @property
    def image_id(self) -> str: ...
    @property
    def status(self) -> str: ...


R = TypeVar("R", bound=_Row)


def select(records: Sequence[R], *, n: int, split: str | None, seed: int, first: Callable[[R], bool]) -> list[R]:
    """Choose up to ``n`` ``ok`` records: those with ``first(rec)`` first, then the others.

    Within each group the choice is a seeded random subset (``numpy.random.default_rng(seed)``) of the
    records sorted by (split, image_id), kept in that order: the same dataset and seed give the same rows.

    Raises:
        UsageError: ``n`` < 1.
        DataLayoutError: ``split`` is not in the manifest, or no record has status ``ok``.
    """
    if n < 1:
        raise UsageError(f"--n {n}: expected at least 1 row")
    if split is not None and all(rec.split != split for rec in records):
        available = ", ".join(sorted({rec.split for rec in records})) or "none"
        raise DataLayoutError(f"split {split!r} not in the manifest; available: {available}")
    ok = sorted(
        (rec for rec in records if rec.status == "ok" and (split is None or rec.split == split)),
        key=lambda rec: (rec.split, rec.image_id),
    )
    if not ok:
        raise DataLayoutError("no record with status ok to preview")
    rng = np.random.default_rng(seed)
    chosen: list[R] = []
    for group in ([rec for rec in ok if first(rec)], [rec for rec in ok if not first(rec)]):
        take = min(n - len(chosen), len(group))
        if take > 0:
            picks = sorted(int(i) for i in rng.permutation(len(group))[:take])
            chosen.extend(group[i] for i in picks)
    return chosen


def stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Rows one above the other, :data:`GAP` pixels of background between them."""
    width = rows[0].shape[1]
    parts: list[np.ndarray] = []
    for row in rows:
        if parts:
            parts.append(np.full((GAP, width, 3), BACKGROUND, np.uint8))
        parts.append(row)
    return np.ascontiguousarray(np.vstack(parts))


def header(line: str, width: int) -> np.ndarray:
    """One dark line of :data:`HEADER_H` pixels holding ``line``."""
    out = np.full((HEADER_H, width, 3), BACKGROUND, np.uint8)
    text(out, line, (6, HEADER_H - 7), (240, 240, 240), 0.5)
    return out


def text(img: np.ndarray, line: str, org: tuple[int, int], color: tuple[int, int, int], scale: float) -> None:
    """Draw ``line`` in ``color`` with a black outline for legibility on any background."""
    cv2.putText(img, line, org, FONT, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, line, org, FONT, scale, color, 1, cv2.LINE_AA)
