"""Step 3 of the chain: prepare one object once (resize, flip, mask, alpha, footprint).

The search prepares the silhouette of each candidate here and the renderer reuses the very same
:class:`PreparedMask`; only the RGB (which needs the COCO image decoded) is prepared at render time,
with :func:`prepare_rgb`. Pure functions of their arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from oodforge.synth.composite import covered_mask, feather_alpha
from oodforge.synth.geometry import transform_mask, transform_rgb

__all__ = ["MIN_FOOTPRINT_ROWS", "PreparedMask", "footprint_of", "prepare_mask", "prepare_rgb"]

#: The footprint spans at least this many rows of the object.
MIN_FOOTPRINT_ROWS = 2


@dataclass(frozen=True)
class PreparedMask:
    """The silhouette of one object at its pasted size.

    Attributes:
        alpha: ``(h, w)`` float32 feathered alpha in ``[0, 1]``.
        covered: ``(h, w)`` bool, ``alpha >= 0.5`` (before occlusion).
        footprint: ``(h, w)`` bool, the covered pixels of the lowest rows (where the object stands).
        foot_row: patch row of the lowest covered pixel (``h - 1`` for a tight crop).
    """

    alpha: npt.NDArray[np.float32]
    covered: npt.NDArray[np.bool_]
    footprint: npt.NDArray[np.bool_]
    foot_row: int

    @property
    def support(self) -> npt.NDArray[np.bool_]:
        """Pixels the object changes at all (``alpha > 0``)."""
        return np.asarray(self.alpha > 0)


def footprint_of(covered: npt.NDArray[np.bool_], ratio: float) -> tuple[npt.NDArray[np.bool_], int]:
    """The covered pixels in the lowest ``ratio`` of the covered rows (at least :data:`MIN_FOOTPRINT_ROWS`).

    Returns:
        ``(footprint, foot_row)``; an all-False footprint and ``foot_row = h - 1`` when nothing is covered.
    """
    rows = np.flatnonzero(covered.any(axis=1))
    fp = np.zeros_like(covered)
    if rows.size == 0:
        return fp, covered.shape[0] - 1
    top, bottom = int(rows[0]), int(rows[-1])
    n = max(MIN_FOOTPRINT_ROWS, int(np.ceil(ratio * (bottom - top + 1))))
    first = max(top, bottom - n + 1)
    fp[first : bottom + 1] = covered[first : bottom + 1]
    return fp, bottom


def prepare_mask(
    mask0: npt.NDArray[np.bool_], size: tuple[int, int], flip: bool, feather_px: int, footprint_ratio: float
) -> PreparedMask:
    """Flip, resize (nearest, pixel-centre aligned), feather, and find the covered pixels and footprint.

    Args:
        mask0: ``(h0, w0)`` bool tight COCO mask.
        size: pasted ``(w, h)``.
        flip: mirror left-right first.
        feather_px: alpha ramp width (``synthesis.blending.feather_px``).
        footprint_ratio: ``synthesis.placement.footprint_ratio``.
    """
    alpha = feather_alpha(transform_mask(mask0, size, flip), feather_px)
    covered = covered_mask(alpha)
    footprint, foot_row = footprint_of(covered, footprint_ratio)
    return PreparedMask(alpha, covered, footprint, foot_row)


def prepare_rgb(rgb0: npt.NDArray[np.uint8], size: tuple[int, int], flip: bool) -> npt.NDArray[np.uint8]:
    """Flip and resize the COCO crop to ``size`` (area interpolation when shrinking)."""
    return transform_rgb(rgb0, size, flip)
