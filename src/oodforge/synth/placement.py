"""Step 4 of the chain: the placement rules for one object, judged on pixels (never its bbox).

An object stands on its footprint (its lowest rows), which must lie on the target label; it may rise
in front of anything farther away, while nearer scene objects are drawn over it. Every other rule is
judged on its *visible* pixels. Scene arrays are ``(H, W)``: labels (uint8) and the ``occupied`` mask
of the anomalies placed so far (bool). The object is given as its ``(h, w)`` bool *covered* mask
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
REASONS: tuple[str, ...] = ("outside", "empty", "border", "coverage", "visible", "forbidden", "overlap")


@dataclass(frozen=True)
class PlacementCheck:
    """Outcome of :func:`check_placement`.

    Attributes:
        ok: Whether every rule passed.
        reason: The first failed rule (one of :data:`REASONS`), ``None`` when ``ok``.
        coverage: Fraction of the judged pixels (footprint, or all covered pixels) on target labels
            (0.0 when not evaluated: reasons ``"outside"`` and ``"empty"``).
        n_covered: Number of covered pixels of the object (before occlusion).
        bbox: ``(x, y, w, h)`` of the visible pixels in scene coordinates; ``(x0, y0, 0, 0)`` when none.
        visible: ``(h, w)`` bool covered pixels not hidden by a nearer scene object (``None`` when not
            evaluated).
        n_visible: Number of visible pixels.
    """

    ok: bool
    reason: str | None
    coverage: float
    n_covered: int
    bbox: tuple[int, int, int, int]
    visible: npt.NDArray[np.bool_] | None = None
    n_visible: int = 0

    @property
    def visible_fraction(self) -> float:
        """Visible share of the covered pixels (0.0 when nothing is covered)."""
        return self.n_visible / self.n_covered if self.n_covered else 0.0


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


def _mask_bbox(mask: npt.NDArray[np.bool_], x0: int, y0: int) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
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
    footprint: npt.NDArray[np.bool_] | None = None,
    nearer: npt.NDArray[np.bool_] | None = None,
    min_visible: float = 0.0,
) -> PlacementCheck:
    """Judge one placement of an object; only the patch window of the scene is read.

    The object stands on its ``footprint`` (target coverage is judged there, or on every covered
    pixel when ``footprint`` is ``None``); scene objects standing nearer (``nearer``) hide it, and
    every other rule is judged on the **visible** pixels (covered and not hidden). Rules, tested in
    order (the first failure is the reason): ``"outside"`` the patch is not fully inside the frame;
    ``"empty"`` no visible pixel; ``"border"`` (if ``reject_border``) the visible bbox touches the
    frame border; ``"coverage"`` fewer than ``min_coverage`` of the judged pixels lie on target
    labels; ``"visible"`` less than ``min_visible`` of the covered pixels are visible;
    ``"forbidden"`` a visible pixel lies on a forbidden label; ``"overlap"`` (unless
    ``allow_overlap``) a visible pixel is already occupied by an earlier anomaly.

    Args:
        label_ids: ``(H, W)`` uint8 labels of the scene (Cityscapes label ids or train ids).
        occupied: ``(H, W)`` bool visible pixels of the anomalies already placed.
        covered: ``(h, w)`` bool covered pixels of the object in its patch.
        x0: Scene column of the patch's left edge.
        y0: Scene row of the patch's top edge.
        target_lut: ``(256,)`` bool, True for label values that count as target.
        forbidden_lut: ``(256,)`` bool, True for label values no visible pixel may lie on.
        min_coverage: Minimum fraction of the judged pixels on target labels.
        reject_border: Reject when the visible bbox touches the frame border.
        allow_overlap: Accept covering pixels of earlier anomalies.
        footprint: ``(h, w)`` bool pixels the coverage rule is judged on (``None``: all covered).
        nearer: ``(h, w)`` bool pixels hidden by nearer scene objects (``None``: none).
        min_visible: Minimum visible fraction of the covered pixels.

    Returns:
        The verdict with coverage, counts, the visible mask and its bbox.
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
    for name, extra in (("footprint", footprint), ("nearer", nearer)):
        if extra is not None and extra.shape != covered.shape:
            raise ShapeError(f"check_placement: {name} {extra.shape}; expected {covered.shape} as covered")
    big_h, big_w = label_ids.shape
    h, w = covered.shape
    n_covered = int(np.count_nonzero(covered))
    visible = covered if nearer is None else covered & ~nearer
    n_visible = int(np.count_nonzero(visible))
    bbox = _mask_bbox(visible, x0, y0)

    def verdict(reason: str | None, coverage: float = 0.0) -> PlacementCheck:
        return PlacementCheck(reason is None, reason, coverage, n_covered, bbox, visible, n_visible)

    if x0 < 0 or y0 < 0 or x0 + w > big_w or y0 + h > big_h:
        return verdict("outside")
    if n_visible == 0:
        return verdict("empty")
    window = (slice(y0, y0 + h), slice(x0, x0 + w))
    labels = label_ids[window]
    judged = covered if footprint is None else footprint
    n_judged = int(np.count_nonzero(judged))
    coverage = float(np.count_nonzero(target_lut[labels[judged]])) / n_judged if n_judged else 0.0
    bx, by, bw, bh = bbox
    if reject_border and (bx == 0 or by == 0 or bx + bw == big_w or by + bh == big_h):
        return verdict("border", coverage)
    if coverage < min_coverage:
        return verdict("coverage", coverage)
    if n_visible < min_visible * n_covered:
        return verdict("visible", coverage)
    if forbidden_lut[labels[visible]].any():
        return verdict("forbidden", coverage)
    if not allow_overlap and occupied[window][visible].any():
        return verdict("overlap", coverage)
    return verdict(None, coverage)
