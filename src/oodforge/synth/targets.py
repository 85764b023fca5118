"""Step 8 of the chain: the targets, from the final visibility of each object.

GT 1 and the id map are exactly the *visible covered* pixels (alpha >= 0.5 and not hidden by a
nearer scene object); with ``export.soft_edge: ignore`` the pixels an object changes without
covering them (0 < alpha < 0.5, not covered by any object) become 255. Every pixel that differs from
the source is then GT 1, GT 255 or a shadow pixel. bbox and area come from the final id map.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["IGNORE", "apply_soft_edges", "mark_object", "visible_bbox"]

IGNORE = 255


def mark_object(
    gt: npt.NDArray[np.uint8],
    id_map: npt.NDArray[np.uint16],
    soft: npt.NDArray[np.bool_],
    k: int,
    x0: int,
    y0: int,
    visible: npt.NDArray[np.bool_],
    alpha: npt.NDArray[np.float32],
) -> None:
    """Write object ``k`` into the targets in place: GT 1 and id ``k`` on ``visible``, soft rim into ``soft``."""
    h, w = visible.shape
    ys, xs = slice(y0, y0 + h), slice(x0, x0 + w)
    gt[ys, xs][visible] = 1
    id_map[ys, xs][visible] = k
    soft[ys, xs] |= (alpha > 0) & (alpha < 0.5)


def apply_soft_edges(gt: npt.NDArray[np.uint8], soft: npt.NDArray[np.bool_], mode: str) -> None:
    """With ``mode == "ignore"``, set the soft rim pixels that no object covers to 255, in place."""
    if mode == "ignore":
        gt[soft & (gt != 1)] = IGNORE


def visible_bbox(
    id_map: npt.NDArray[np.uint16], k: int, window: tuple[int, int, int, int]
) -> tuple[int, int, int, int]:
    """``(x, y, w, h)`` of id ``k`` inside ``window`` = ``(x0, y0, w, h)``; ``(x0, y0, 0, 0)`` when absent."""
    x0, y0, w, h = window
    m = id_map[y0 : y0 + h, x0 : x0 + w] == k
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    if rows.size == 0:
        return x0, y0, 0, 0
    return x0 + int(cols[0]), y0 + int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)
