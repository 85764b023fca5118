"""Object size from its position in the scene, and the resize / flip of a COCO patch.

Pure, deterministic functions: the pipeline draws the random parameters (anchor row, flip,
height jitter) from its own generators and calls these to apply them. Scale factors are
relative to the object's pixel size in its COCO image: ``scale = 1`` pastes it unchanged.

Conventions: rows grow downwards (row 0 is the top of the image); sizes are ``(width,
height)`` as OpenCV expects; masks are ``bool`` and images ``uint8`` RGB.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import cv2
import numpy as np
import numpy.typing as npt

from oodforge.errors import ConfigError, ShapeError
from oodforge.synth.heights import CATEGORY_HEIGHTS_M

__all__ = [
    "CATEGORY_HEIGHTS_M",
    "clamp_scale_to_area",
    "metric_scale",
    "perspective_scale",
    "real_height_m",
    "scaled_size",
    "transform_mask",
    "transform_rgb",
]

#: Shrinking below this factor (on either axis) resizes RGB with ``INTER_AREA``: any downscale averages the
#: source pixels like a camera sensor does (bilinear would alias fine COCO texture into the scene).
AREA_INTERPOLATION_BELOW = 1.0


def real_height_m(category: str, overrides: Mapping[str, float]) -> float:
    """The real-world height (m) of a COCO category: ``overrides`` first, then the built-in table.

    Args:
        category: COCO category name, e.g. ``"dining table"``.
        overrides: ``synthesis.geometry.category_heights_m`` from the config.

    Returns:
        Height in metres (> 0).

    Raises:
        ConfigError: The category is neither overridden nor in :data:`CATEGORY_HEIGHTS_M`.
    """
    if category in overrides:
        return float(overrides[category])
    if category in CATEGORY_HEIGHTS_M:
        return float(CATEGORY_HEIGHTS_M[category])
    raise ConfigError(
        f"synthesis.geometry.category_heights_m: no height for category {category!r}; "
        "expected a COCO category name or an entry in category_heights_m"
    )


def perspective_scale(bottom_row: int, image_height: int, scale_range: tuple[float, float]) -> float:
    """Scale growing linearly from the top row (``lo``) to the bottom row (``hi``) of the scene.

    ``t = clip(bottom_row / (H - 1), 0, 1)``, ``scale = lo + (hi - lo) * t``.

    Args:
        bottom_row: Scene row of the object's lowest pixel (where it touches the ground).
        image_height: Scene height ``H`` in pixels (``>= 1``).
        scale_range: ``(lo, hi)`` scale at the top and bottom rows.

    Returns:
        The scale factor.
    """
    lo, hi = scale_range
    t = min(max(bottom_row / max(image_height - 1, 1), 0.0), 1.0)
    return float(lo + (hi - lo) * t)


def metric_scale(
    bottom_row: float,
    horizon_row: float,
    camera_height_m: float,
    real_height_m: float,
    object_height_px: int,
) -> float | None:
    """Scale that makes an object of known height stand on a flat ground plane at ``bottom_row``.

    For a level pinhole camera at height ``h_c`` above a flat ground, a ground point imaged
    ``d = bottom_row - horizon_row`` pixels below the horizon lies at depth ``Z = f * h_c / d``;
    an object of height ``h`` there spans ``f * h / Z = h * d / h_c`` pixels (the focal length
    cancels). The scale is that height divided by the object's current pixel height.

    Args:
        bottom_row: Scene row of the object's foot (may be fractional).
        horizon_row: Scene row of the horizon (may be fractional, even outside the image).
        camera_height_m: Camera height above the ground in metres (> 0).
        real_height_m: Real object height in metres (> 0).
        object_height_px: Pixel height of the object in its source patch (> 0).

    Returns:
        The scale factor, or ``None`` when ``bottom_row <= horizon_row`` (the foot would be at or
        above the horizon, where nothing can stand on the ground).

    Raises:
        ValueError: A height argument is not positive.
    """
    if camera_height_m <= 0 or real_height_m <= 0 or object_height_px <= 0:
        raise ValueError(
            f"metric_scale: camera_height_m={camera_height_m}, real_height_m={real_height_m}, "
            f"object_height_px={object_height_px}; expected all > 0"
        )
    below = bottom_row - horizon_row
    if below <= 0:
        return None
    return float(real_height_m * below / camera_height_m / object_height_px)


def clamp_scale_to_area(
    scale: float,
    object_area_px: float,
    scene_area_px: float,
    final_area_ratio: tuple[float, float],
) -> float:
    """The scale nearest to ``scale`` whose pasted area fraction lies in ``final_area_ratio``.

    The area at scale ``s`` is ``s**2 * object_area_px``; the allowed scales are therefore
    ``[sqrt(lo * S / A), sqrt(hi * S / A)]`` and the result is ``scale`` clipped to them.
    The bound is on the unrounded area: the pasted area after :func:`scaled_size` rounding
    and feathering differs by a few pixels along the outline.

    Args:
        scale: Proposed scale factor.
        object_area_px: Object (mask) area in its source patch, pixels (> 0).
        scene_area_px: Scene area ``W * H`` in pixels (> 0).
        final_area_ratio: ``(lo, hi)`` allowed fractions of the scene area, ``0 <= lo <= hi``.

    Returns:
        The clamped scale factor.

    Raises:
        ValueError: A non-positive area or an unordered / negative ratio range.
    """
    lo, hi = final_area_ratio
    if object_area_px <= 0 or scene_area_px <= 0 or not 0 <= lo <= hi:
        raise ValueError(
            f"clamp_scale_to_area: object_area_px={object_area_px}, scene_area_px={scene_area_px}, "
            f"final_area_ratio={final_area_ratio}; expected positive areas and 0 <= lo <= hi"
        )
    s_min = math.sqrt(lo * scene_area_px / object_area_px)
    s_max = math.sqrt(hi * scene_area_px / object_area_px)
    return float(min(max(scale, s_min), s_max))


def scaled_size(w: int, h: int, scale: float) -> tuple[int, int]:
    """Output ``(width, height)`` of a ``w x h`` patch scaled by ``scale``: each rounded, at least 1."""
    return max(1, round(w * scale)), max(1, round(h * scale))


def _check_size(shape: tuple[int, ...], size: tuple[int, int]) -> None:
    if size[0] < 1 or size[1] < 1 or shape[0] < 1 or shape[1] < 1:
        raise ShapeError(f"resize: source shape {shape}, target (w, h) {size}; expected positive sizes")


def transform_mask(mask: npt.NDArray[np.bool_], size: tuple[int, int], flip: bool) -> npt.NDArray[np.bool_]:
    """Flip (optionally) then resize a binary mask with nearest-neighbour sampling.

    Uses ``cv2.INTER_NEAREST_EXACT`` (pixel-centre aligned, like ``INTER_LINEAR``), so mask and
    RGB stay registered; plain ``INTER_NEAREST`` is shifted by up to half a source pixel.

    Args:
        mask: ``(h, w)`` bool silhouette.
        size: Target ``(w_out, h_out)``.
        flip: Mirror left-right before resizing.

    Returns:
        ``(h_out, w_out)`` bool mask (a new array).
    """
    if mask.ndim != 2:
        raise ShapeError(f"transform_mask: mask shape {mask.shape}; expected (h, w)")
    _check_size(mask.shape, size)
    m = mask.view(np.uint8) if mask.dtype == np.bool_ else (mask != 0).astype(np.uint8)
    if flip:
        m = m[:, ::-1]
    m = np.ascontiguousarray(m)
    if (m.shape[1], m.shape[0]) != tuple(size):
        m = cv2.resize(m, size, interpolation=cv2.INTER_NEAREST_EXACT)
    return m.astype(bool)


def transform_rgb(rgb: npt.NDArray[np.uint8], size: tuple[int, int], flip: bool) -> npt.NDArray[np.uint8]:
    """Flip (optionally) then resize an RGB patch.

    ``cv2.INTER_AREA`` (box filter, no aliasing) when either axis shrinks, bilinear
    (``cv2.INTER_LINEAR``) when both grow. Deterministic.

    Args:
        rgb: ``(h, w, 3)`` uint8 RGB patch.
        size: Target ``(w_out, h_out)``.
        flip: Mirror left-right before resizing.

    Returns:
        ``(h_out, w_out, 3)`` uint8 RGB patch (a new array).
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ShapeError(f"transform_rgb: image shape {rgb.shape} dtype {rgb.dtype}; expected (h, w, 3) uint8")
    _check_size(rgb.shape, size)
    out = rgb[:, ::-1] if flip else rgb
    out = np.ascontiguousarray(out)
    h, w = out.shape[:2]
    if (w, h) == tuple(size):
        return out.copy() if out is rgb else out
    shrink = min(size[0] / w, size[1] / h)
    interp = cv2.INTER_AREA if shrink < AREA_INTERPOLATION_BELOW else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(out, size, interpolation=interp), dtype=np.uint8)
