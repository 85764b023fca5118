"""Alpha feathering, the background ring, and alpha compositing of one pasted patch.

Everything works on the patch or on a scene *window* (the patch rectangle, optionally padded
by a ring margin), never on the whole frame. Images are ``uint8`` RGB ``(h, w, 3)``, masks
``bool`` ``(h, w)``, alpha ``float32`` ``(h, w)`` in ``[0, 1]``.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from oodforge.errors import ShapeError

__all__ = ["composite_window", "covered_mask", "feather_alpha", "ring_mask"]


def feather_alpha(mask: npt.NDArray[np.bool_], feather_px: int) -> npt.NDArray[np.float32]:
    """Alpha of a silhouette with a linear ramp of ``feather_px`` pixels inside its edge.

    With ``d`` the Euclidean distance (``cv2.DIST_L2``, ``DIST_MASK_PRECISE``) from a mask pixel
    to the nearest non-mask pixel, counting everything beyond the patch border as outside,
    ``alpha = clip((d - 0.5) / feather_px, 0, 1)`` inside the mask and 0 outside. A pixel on the
    edge (``d = 1``) gets ``0.5 / feather_px``; pixels deeper than ``feather_px + 0.5`` are opaque.

    Args:
        mask: ``(h, w)`` bool silhouette.
        feather_px: Ramp width in pixels (``>= 0``); 0 gives the binary mask.

    Returns:
        ``(h, w)`` float32 alpha in ``[0, 1]``; ``alpha > 0`` exactly on the mask.
    """
    if mask.ndim != 2:
        raise ShapeError(f"feather_alpha: mask shape {mask.shape}; expected (h, w)")
    if feather_px < 0:
        raise ValueError(f"feather_alpha: feather_px={feather_px}; expected >= 0")
    m = mask.astype(np.uint8)
    if feather_px == 0 or m.size == 0:
        return m.astype(np.float32)
    padded = cv2.copyMakeBorder(m, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    alpha = (dist - np.float32(0.5)) * np.float32(1.0 / feather_px)
    np.clip(alpha, 0.0, 1.0, out=alpha)
    alpha[m == 0] = 0.0
    return np.asarray(alpha, dtype=np.float32)


def covered_mask(alpha: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    """Pixels the object covers (SPEC: ``alpha >= 0.5``); ``(h, w)`` bool."""
    return np.asarray(alpha >= 0.5)


def _disk(radius: int) -> npt.NDArray[np.uint8]:
    r = np.arange(-radius, radius + 1)
    return np.asarray(r[:, None] ** 2 + r[None, :] ** 2 <= radius * radius, dtype=np.uint8)


def ring_mask(silhouette_in_window: npt.NDArray[np.bool_], ring_px: int) -> npt.NDArray[np.bool_]:
    """The ring of pixels within ``ring_px`` (Euclidean) of the object, excluding the object.

    Dilates with a disk-shaped (elliptical) kernel of radius ``ring_px``. Pass the alpha
    *support* (``alpha > 0``) placed in a window padded by ``ring_px`` on every side of the
    patch, so that the ring excludes the feathered edge and is not cut by the window border.

    Args:
        silhouette_in_window: ``(h, w)`` bool object support in window coordinates.
        ring_px: Ring width in pixels (``>= 0``; 0 gives an empty ring).

    Returns:
        ``(h, w)`` bool ring, disjoint from ``silhouette_in_window``.
    """
    if silhouette_in_window.ndim != 2:
        raise ShapeError(f"ring_mask: mask shape {silhouette_in_window.shape}; expected (h, w)")
    if ring_px < 0:
        raise ValueError(f"ring_mask: ring_px={ring_px}; expected >= 0")
    m = silhouette_in_window.astype(np.uint8)
    if ring_px == 0 or m.size == 0:
        return np.zeros(m.shape, dtype=bool)
    grown = cv2.dilate(m, _disk(ring_px))
    return np.asarray((grown != 0) & (m == 0))


def composite_window(
    window: npt.NDArray[np.uint8],
    patch: npt.NDArray[np.uint8],
    alpha: npt.NDArray[np.float32],
) -> npt.NDArray[np.uint8]:
    """Blend ``patch`` over ``window``: ``alpha * patch + (1 - alpha) * window``, rounded half up.

    Computed in float32; exactly ``window`` where ``alpha == 0`` and exactly ``patch`` where
    ``alpha == 1``; elsewhere between the two per channel.

    Args:
        window: ``(h, w, 3)`` uint8 scene pixels under the patch.
        patch: ``(h, w, 3)`` uint8 object patch.
        alpha: ``(h, w)`` float32 alpha in ``[0, 1]``.

    Returns:
        ``(h, w, 3)`` uint8 composite (a new array).
    """
    if window.shape != patch.shape or window.shape[:2] != alpha.shape or window.ndim != 3:
        raise ShapeError(
            f"composite_window: window {window.shape}, patch {patch.shape}, alpha {alpha.shape}; "
            "expected (h, w, 3), (h, w, 3), (h, w)"
        )
    a = np.repeat(alpha.astype(np.float32, copy=False)[:, :, None], 3, axis=2)
    out = patch.astype(np.float32)
    out *= a  # alpha * patch
    np.subtract(np.float32(1.0), a, out=a)
    a *= window  # (1 - alpha) * window
    out += a
    out += np.float32(0.5)
    np.floor(out, out=out)
    np.clip(out, 0.0, 255.0, out=out)
    return out.astype(np.uint8)
