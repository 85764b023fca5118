"""Alpha feathering, photometric matching and alpha compositing of one pasted patch.

Everything works on the patch or on a scene *window* (the patch rectangle, optionally padded
by a ring margin), never on the whole frame. Images are ``uint8`` RGB ``(h, w, 3)``, masks
``bool`` ``(h, w)``, alpha ``float32`` ``(h, w)`` in ``[0, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from oodforge.errors import ShapeError

__all__ = [
    "PhotometricParams",
    "apply_photometric",
    "composite_window",
    "covered_mask",
    "feather_alpha",
    "photometric_params",
    "ring_mask",
]

ColorSpace = Literal["lab", "rgb", "none"]


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


@dataclass(frozen=True)
class PhotometricParams:
    """Per-channel affine colour transform ``x -> x * scale + shift`` in ``space``.

    Attributes:
        space: ``"lab"`` (OpenCV 8-bit Lab: L, a, b each in ``[0, 255]``), ``"rgb"`` or ``"none"``.
        scale: Per-channel multiplier, plain floats (manifest-friendly).
        shift: Per-channel offset in 8-bit units of ``space``, plain floats.
    """

    space: ColorSpace
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    shift: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def is_identity(self) -> bool:
        """Whether applying these parameters leaves any patch unchanged."""
        return self.space == "none" or (self.scale == (1.0, 1.0, 1.0) and self.shift == (0.0, 0.0, 0.0))


def _to_space(pixels: npt.NDArray[np.uint8], space: ColorSpace) -> npt.NDArray[np.uint8]:
    """``(h, w, 3)`` uint8 RGB to ``space`` (OpenCV 8-bit Lab or unchanged RGB), same shape."""
    if space != "lab":
        return pixels
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2LAB), dtype=np.uint8)


def _mean_std(
    image: npt.NDArray[np.uint8], mask: npt.NDArray[np.uint8] | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-channel mean and population std of ``(h, w, 3)`` pixels (where ``mask`` != 0), float64 ``(3,)``."""
    mean, std = cv2.meanStdDev(image, mask=mask)
    return np.asarray(mean, dtype=np.float64).reshape(3), np.asarray(std, dtype=np.float64).reshape(3)


def _triple(values: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    return float(values[0]), float(values[1]), float(values[2])


def photometric_params(
    patch_rgb: npt.NDArray[np.uint8],
    object_mask: npt.NDArray[np.bool_],
    background_pixels: npt.NDArray[np.uint8],
    *,
    space: ColorSpace,
    match_mean: bool,
    match_std: bool,
    strength: float,
    eps: float,
) -> PhotometricParams:
    """Colour transform matching the object's statistics to those of the scene ring around it.

    Statistics (mean, population std per channel) come from the OBJECT pixels of the patch
    and the ring pixels of the scene, in ``space``. Per channel ``s = std_bg / (std_obj + eps)``
    if ``match_std`` else 1; ``t = mean_bg - mean_obj * s`` if ``match_mean``, else
    ``mean_obj * (1 - s)`` (contrast only, about the object's own mean; 0 when ``s = 1``).
    Then ``s' = 1 + strength * (s - 1)``, ``t' = strength * t``.

    Args:
        patch_rgb: ``(h, w, 3)`` uint8 RGB patch (already resized).
        object_mask: ``(h, w)`` bool object pixels of the patch (e.g. ``alpha > 0``).
        background_pixels: ``(N, 3)`` uint8 RGB scene pixels of the ring (see :func:`ring_mask`).
        space: Colour space of the statistics and the transform; ``"none"`` disables matching.
        match_mean: Match the per-channel mean.
        match_std: Match the per-channel standard deviation.
        strength: 0 = no change, 1 = full match.
        eps: Added to the object's std before dividing.

    Returns:
        The parameters; identity (scale 1, shift 0) when ``space == "none"``, when nothing is
        matched, or when the object or the ring has no pixels.
    """
    if patch_rgb.shape[:2] != object_mask.shape or patch_rgb.ndim != 3 or patch_rgb.shape[2] != 3:
        raise ShapeError(
            f"photometric_params: patch {patch_rgb.shape}, mask {object_mask.shape}; expected (h, w, 3) and (h, w)"
        )
    background = background_pixels.reshape(-1, 3)
    if space == "none" or not (match_mean or match_std) or not object_mask.any() or background.shape[0] == 0:
        return PhotometricParams(space=space)
    mu_obj, sd_obj = _mean_std(_to_space(patch_rgb, space), object_mask.astype(np.uint8))
    mu_bg, sd_bg = _mean_std(_to_space(background.astype(np.uint8, copy=False)[:, None, :], space), None)
    s = sd_bg / (sd_obj + eps) if match_std else np.ones(3)
    t = mu_bg - mu_obj * s if match_mean else mu_obj * (1.0 - s)
    return PhotometricParams(space=space, scale=_triple(1.0 + strength * (s - 1.0)), shift=_triple(strength * t))


def apply_photometric(patch_rgb: npt.NDArray[np.uint8], params: PhotometricParams) -> npt.NDArray[np.uint8]:
    """Apply ``x * scale + shift`` per channel in ``params.space``, round, clip and return RGB.

    Args:
        patch_rgb: ``(h, w, 3)`` uint8 RGB patch.
        params: From :func:`photometric_params`.

    Returns:
        ``(h, w, 3)`` uint8 RGB; a byte-equal copy of the input for identity parameters.
    """
    if patch_rgb.ndim != 3 or patch_rgb.shape[2] != 3 or patch_rgb.dtype != np.uint8:
        raise ShapeError(f"apply_photometric: image {patch_rgb.shape} {patch_rgb.dtype}; expected (h, w, 3) uint8")
    if params.is_identity:
        return patch_rgb.copy()
    # the transform is per channel on 8-bit values: tabulate it once, apply as a lookup table
    lut = np.arange(256, dtype=np.float32)[:, None] * np.asarray(params.scale, dtype=np.float32)
    lut += np.asarray(params.shift, dtype=np.float32)
    lut += np.float32(0.5)
    np.floor(lut, out=lut)
    np.clip(lut, 0.0, 255.0, out=lut)
    table = np.ascontiguousarray(lut.astype(np.uint8)[None, :, :])  # (1, 256, 3): one table per channel
    out = np.asarray(cv2.LUT(_to_space(patch_rgb, params.space), table), dtype=np.uint8)
    if params.space == "lab":
        out = np.asarray(cv2.cvtColor(out, cv2.COLOR_LAB2RGB))
    return out


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
