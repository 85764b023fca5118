"""Placement rules for one pasted object, judged on the pixels it covers (never its bbox).

Scene arrays are ``(H, W)``: Cityscapes ``labelIds`` (uint8) and the ``occupied`` mask of the
anomalies placed so far (bool). The object is given as its ``(h, w)`` bool *covered* mask
(``alpha >= 0.5``) and the scene position ``(x0, y0)`` of the patch's top-left pixel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from oodforge.errors import ShapeError, ValueCheckError

__all__ = ["REASONS", "PlacementCheck", "anchor_to_topleft", "check_placement", "label_lut"]

#: Rejection reasons, in the order they are tested.
REASONS: tuple[str, ...] = ("outside", "empty", "border", "coverage", "forbidden", "overlap")


@dataclass(frozen=True)
class PlacementCheck:
    """Outcome of :func:`check_placement`.

    Attributes:
        ok: Whether every rule passed.
        reason: The first failed rule (one of :data:`REASONS`), ``None`` when ``ok``.
        coverage: Fraction of covered pixels on target labels (0.0 when not evaluated:
            reasons ``"outside"`` and ``"empty"``).
        n_covered: Number of covered pixels of the object.
        bbox: ``(x, y, w, h)`` of the covered pixels in scene coordinates; ``(x0, y0, 0, 0)``
            when nothing is covered.
    """

    ok: bool
    reason: str | None
    coverage: float
    n_covered: int
    bbox: tuple[int, int, int, int]


def label_lut(label_ids: Iterable[int]) -> npt.NDArray[np.bool_]:
    """A ``(256,)`` bool lookup table, True at each of ``label_ids`` (values in ``[0, 255]``)."""
    ids = np.fromiter((int(i) for i in label_ids), dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() > 255):
        raise ValueCheckError(f"label_lut: label ids {sorted(set(ids.tolist()))}; expected values in [0, 255]")
    lut = np.zeros(256, dtype=bool)
    lut[ids] = True
    return lut


def anchor_to_topleft(anchor_x: int, bottom_row: int, patch_w: int, patch_h: int) -> tuple[int, int]:
    """Top-left ``(x0, y0)`` of a ``patch_w x patch_h`` patch whose bottom-centre pixel is the anchor.

    ``x0 = anchor_x - patch_w // 2``, ``y0 = bottom_row - patch_h + 1`` (the anchor row is the
    patch's last row).
    """
    return anchor_x - patch_w // 2, bottom_row - patch_h + 1


def _covered_bbox(covered: npt.NDArray[np.bool_], x0: int, y0: int) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(covered.any(axis=1))
    cols = np.flatnonzero(covered.any(axis=0))
    if rows.size == 0:
        return x0, y0, 0, 0
    return (
        x0 + int(cols[0]),
        y0 + int(rows[0]),
        int(cols[-1] - cols[0] + 1),
        int(rows[-1] - rows[0] + 1),
    )


def check_placement(
    label_ids: npt.NDArray[np.uint8],
    occupied: npt.NDArray[np.bool_],
    covered: npt.NDArray[np.bool_],
    x0: int,
    y0: int,
    *,
    target_lut: npt.NDArray[np.bool_],
    forbidden_lut: npt.NDArray[np.bool_],
    min_coverage: float,
    reject_border: bool,
    allow_overlap: bool,
) -> PlacementCheck:
    """Judge one placement of an object; only the patch window of the scene is read.

    Rules, tested in order (the first failure is the reason):
    ``"outside"`` the patch is not fully inside the frame; ``"empty"`` no covered pixel;
    ``"border"`` (if ``reject_border``) the covered bbox touches the frame border;
    ``"coverage"`` fewer than ``min_coverage`` of the covered pixels lie on target labels;
    ``"forbidden"`` a covered pixel lies on a forbidden label; ``"overlap"`` (unless
    ``allow_overlap``) a covered pixel is already occupied by an earlier anomaly.

    Args:
        label_ids: ``(H, W)`` uint8 Cityscapes labelIds of the scene.
        occupied: ``(H, W)`` bool covered pixels of the anomalies already placed.
        covered: ``(h, w)`` bool covered pixels of the object in its patch.
        x0: Scene column of the patch's left edge.
        y0: Scene row of the patch's top edge.
        target_lut: ``(256,)`` bool, True for label ids that count as target.
        forbidden_lut: ``(256,)`` bool, True for label ids the object must not cover.
        min_coverage: Minimum fraction of covered pixels on target labels.
        reject_border: Reject when the covered bbox touches the frame border.
        allow_overlap: Accept covering pixels of earlier anomalies.

    Returns:
        The verdict with coverage, covered-pixel count and covered bbox.
    """
    if label_ids.ndim != 2 or occupied.shape != label_ids.shape or covered.ndim != 2:
        raise ShapeError(
            f"check_placement: label_ids {label_ids.shape}, occupied {occupied.shape}, covered {covered.shape}; "
            "expected (H, W), (H, W), (h, w)"
        )
    if label_ids.dtype != np.uint8 or target_lut.shape != (256,) or forbidden_lut.shape != (256,):
        raise ShapeError(
            f"check_placement: label_ids dtype {label_ids.dtype}, luts {target_lut.shape} {forbidden_lut.shape}; "
            "expected uint8 and (256,)"
        )
    big_h, big_w = label_ids.shape
    h, w = covered.shape
    n_covered = int(np.count_nonzero(covered))
    bbox = _covered_bbox(covered, x0, y0)

    def verdict(reason: str | None, coverage: float = 0.0) -> PlacementCheck:
        return PlacementCheck(ok=reason is None, reason=reason, coverage=coverage, n_covered=n_covered, bbox=bbox)

    if x0 < 0 or y0 < 0 or x0 + w > big_w or y0 + h > big_h:
        return verdict("outside")
    if n_covered == 0:
        return verdict("empty")
    window = (slice(y0, y0 + h), slice(x0, x0 + w))
    counts = np.bincount(label_ids[window][covered], minlength=256)
    coverage = float(counts[target_lut].sum()) / n_covered
    bx, by, bw, bh = bbox
    if reject_border and (bx == 0 or by == 0 or bx + bw == big_w or by + bh == big_h):
        return verdict("border", coverage)
    if coverage < min_coverage:
        return verdict("coverage", coverage)
    if counts[forbidden_lut].any():
        return verdict("forbidden", coverage)
    if not allow_overlap and occupied[window][covered].any():
        return verdict("overlap", coverage)
    return verdict(None, coverage)
