"""Step 6a of the chain (appearance): adapt an object's colours to the scene around it.

Two families of per-channel colour transforms, both tabulated as 8-bit look-up tables:

* ``luminance`` (the default) adapts **illumination, not identity**: in linear RGB (sRGB decoded) the
  object's pixels are multiplied by one gain that moves its mean luminance part of the way toward the
  ring of scene around the paste, ``g = (Y_ring / Y_object) ** strength`` clipped to
  ``[1 / max_gain, max_gain]``; optionally a mild per-channel white-balance gain toward the ring's
  chromaticity (luminance preserved). A gain in linear RGB keeps the object's chromaticity: a red table
  stays red in a grey street.
* ``lab`` / ``rgb``: the object's channel means (and optionally std) are moved to the ring's, in OpenCV
  8-bit Lab or RGB (a colour transfer that paints the background's colour onto the object; kept for
  ablations and the pre-plausibility look).
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
    "linear_to_srgb",
    "luminance_params",
    "photometric_params",
    "srgb_to_linear",
]

ColorSpace = Literal["luminance", "lab", "rgb", "none"]
#: Rec. 709 / sRGB luminance weights of linear R, G, B.
LUMA = np.array([0.2126, 0.7152, 0.0722])


def srgb_to_linear(v: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """sRGB-encoded values in ``[0, 1]`` to linear light (IEC 61966-2-1)."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Linear light in ``[0, 1]`` to sRGB-encoded values (inverse of :func:`srgb_to_linear`)."""
    v = np.clip(np.asarray(v, dtype=np.float64), 0.0, 1.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)


_LINEAR = srgb_to_linear(np.arange(256) / 255.0)


@dataclass(frozen=True)
class PhotometricParams:
    """Per-channel affine colour transform ``x -> x * scale + shift`` in ``space``.

    Attributes:
        space: ``"luminance"`` (gains on linear RGB), ``"lab"`` (OpenCV 8-bit Lab: L, a, b each in
            ``[0, 255]``), ``"rgb"`` or ``"none"``.
        scale: Per-channel multiplier, plain floats (manifest-friendly).
        shift: Per-channel offset in 8-bit units of ``space`` (always 0 for ``luminance``), plain floats.
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
    if space == "luminance":
        raise ValueError("photometric_params: space 'luminance' is computed by luminance_params")
    if space == "none" or not (match_mean or match_std) or not object_mask.any() or background.shape[0] == 0:
        return PhotometricParams(space=space)
    mu_obj, sd_obj = _mean_std(_to_space(patch_rgb, space), object_mask.astype(np.uint8))
    mu_bg, sd_bg = _mean_std(_to_space(background.astype(np.uint8, copy=False)[:, None, :], space), None)
    s = sd_bg / (sd_obj + eps) if match_std else np.ones(3)
    t = mu_bg - mu_obj * s if match_mean else mu_obj * (1.0 - s)
    return PhotometricParams(space=space, scale=_triple(1.0 + strength * (s - 1.0)), shift=_triple(strength * t))


def apply_photometric(patch_rgb: npt.NDArray[np.uint8], params: PhotometricParams) -> npt.NDArray[np.uint8]:
    """Apply ``x * scale + shift`` per channel in ``params.space``, round, clip and return RGB.

    For ``luminance`` the transform is ``srgb(min(linear(x) * scale, 1))`` per channel.

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
    if params.space == "luminance":
        lin = _LINEAR[:, None] * np.asarray(params.scale, dtype=np.float64)
        lut = (linear_to_srgb(lin) * 255.0).astype(np.float32)
    else:
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


def luminance_params(
    patch_rgb: npt.NDArray[np.uint8],
    object_mask: npt.NDArray[np.bool_],
    background_pixels: npt.NDArray[np.uint8],
    *,
    strength: float,
    white_balance: float,
    max_gain: float,
    eps: float = 1e-6,
) -> PhotometricParams:
    """Linear-RGB gains that adapt the object's illumination to the ring's (see the module docstring).

    Args:
        patch_rgb: ``(h, w, 3)`` uint8 RGB patch.
        object_mask: ``(h, w)`` bool object pixels of the patch.
        background_pixels: ``(N, 3)`` uint8 RGB scene pixels of the ring.
        strength: exponent of the luminance ratio (0 = no change, 1 = equal mean luminance).
        white_balance: exponent of the per-channel chromaticity ratio (0 = off).
        max_gain: bound of the luminance gain and of each white-balance factor.
        eps: added to denominators.

    Returns:
        ``PhotometricParams(space="luminance", scale=gains)``; identity without object or ring pixels.
    """
    if patch_rgb.shape[:2] != object_mask.shape or patch_rgb.ndim != 3 or patch_rgb.shape[2] != 3:
        raise ShapeError(
            f"luminance_params: patch {patch_rgb.shape}, mask {object_mask.shape}; expected (h, w, 3) and (h, w)"
        )
    background = background_pixels.reshape(-1, 3)
    if not object_mask.any() or background.shape[0] == 0:
        return PhotometricParams(space="luminance")
    m_obj = _LINEAR[patch_rgb[object_mask]].mean(axis=0)
    m_bg = _LINEAR[background].mean(axis=0)
    y_obj, y_bg = float(LUMA @ m_obj), float(LUMA @ m_bg)
    gain = float(np.clip(((y_bg + eps) / (y_obj + eps)) ** strength, 1.0 / max_gain, max_gain))
    wb = np.ones(3)
    if white_balance > 0:
        c_obj, c_bg = (m_obj + eps) / (y_obj + eps), (m_bg + eps) / (y_bg + eps)
        wb = np.clip((c_bg / c_obj) ** white_balance, 1.0 / max_gain, max_gain)
        wb /= float(LUMA @ (c_obj * wb)) / float(LUMA @ c_obj)  # keep the luminance gain as computed
    gains = gain * wb
    return PhotometricParams(space="luminance", scale=(float(gains[0]), float(gains[1]), float(gains[2])))
