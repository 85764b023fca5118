"""Step 6b of the chain (appearance): give the object the scene's sharpness and noise.

A COCO crop shrunk to its physical size is much sharper and cleaner than the camera frame around it.
Three pure operations on the object's pixels (never on the scene; the blurs are normalised by the
object's support, so no COCO background bleeds in):

* a Gaussian blur (optics), with the smallest sigma that brings the object's mean Sobel gradient
  inside (its support eroded by 3 px) to at most ``target_ratio`` times the mean gradient of the scene
  ring around the paste, up to ``max_sigma_px`` (the object is never sharpened);
* an optional box blur along the image x axis (motion);
* Gaussian luminance noise raising the object's noise level to the ring's: noise levels are estimated
  with a robust form of Immerkaer's Laplacian-difference estimator (median absolute response).

The sampled part (noise seed, motion length) comes from :func:`oodforge.synth.plan.draw_appearance`;
:func:`texture_params` computes the rest from the scene, :func:`apply_texture` applies them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["TextureParams", "apply_texture", "gradient_mean", "noise_sigma", "ring_texture", "texture_params"]

#: Immerkaer's noise kernel: the difference of two Laplacians, blind to planes and linear ramps.
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
#: The kernel's response to unit white noise has std 6; 1.4826 * median|x| estimates a Gaussian std.
_NOISE_SCALE = 1.4826 / 6.0
_INTERIOR_ERODE_PX = 3
_BISECTION_STEPS = 7


@dataclass(frozen=True)
class TextureParams:
    """Applied sharpness and noise of one object (plain floats, manifest-friendly).

    Attributes:
        blur_sigma: Gaussian sigma in pixels (0 = none).
        motion_blur_px: horizontal box-blur length (0 = none).
        noise_sigma: std of the added luminance noise, 8-bit grey levels (0 = none).
        noise_seed: seed of the noise field.
    """

    blur_sigma: float = 0.0
    motion_blur_px: int = 0
    noise_sigma: float = 0.0
    noise_seed: int = 0


def _grey(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY), dtype=np.float32)


def gradient_mean(grey: npt.NDArray[np.float32], region: npt.NDArray[np.bool_]) -> float:
    """Mean Sobel (3x3) gradient magnitude of ``grey`` over ``region`` (0.0 for an empty region)."""
    if not region.any():
        return 0.0
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.sqrt(gx * gx + gy * gy)[region].mean())


def _grouped_median(values: npt.NDArray[np.float32]) -> float:
    """Median of non-negative values that are integers (8-bit data through an integer kernel).

    The plain median of integers is a coarse integer; the grouped median interpolates within the bin,
    treating ``k`` as the interval ``[k - 0.5, k + 0.5]`` (``[0, 0.5]`` for ``k = 0``).
    """
    counts = np.bincount(np.rint(values).astype(np.int64))
    if counts.size == 1:  # all zero: a flat (noise-free) region
        return 0.0
    half = values.size / 2.0
    cum = np.cumsum(counts)
    k = int(np.searchsorted(cum, half))
    below = float(cum[k - 1]) if k > 0 else 0.0
    lo, width = (0.0, 0.5) if k == 0 else (k - 0.5, 1.0)
    return lo + (half - below) / float(counts[k]) * width


def noise_sigma(grey: npt.NDArray[np.float32], region: npt.NDArray[np.bool_]) -> float:
    """Robust noise std (grey levels) of ``grey`` over ``region`` (0.0 for an empty region)."""
    if not region.any():
        return 0.0
    response = np.abs(cv2.filter2D(grey, cv2.CV_32F, _NOISE_KERNEL, borderType=cv2.BORDER_REFLECT)[region])
    integral = bool(np.all(grey == np.rint(grey)))
    median = _grouped_median(response) if integral else float(np.median(response))
    return float(_NOISE_SCALE * median)


def ring_texture(window_rgb: npt.NDArray[np.uint8], ring: npt.NDArray[np.bool_]) -> tuple[float, float]:
    """``(mean gradient, noise std)`` of the scene over the ring pixels of a window."""
    grey = _grey(window_rgb)
    inner = cv2.erode(ring.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return gradient_mean(grey, ring), noise_sigma(grey, inner if inner.any() else ring)


def _masked_filter(rgb: npt.NDArray[np.float32], weight: npt.NDArray[np.float32], blur: object) -> np.ndarray:
    num = blur(rgb * weight[:, :, None])  # type: ignore[operator]
    den = blur(weight)  # type: ignore[operator]
    return np.asarray(num / np.maximum(den, np.float32(1e-6))[:, :, None], dtype=np.float32)


def apply_texture(
    patch_rgb: npt.NDArray[np.uint8], support: npt.NDArray[np.bool_], params: TextureParams
) -> npt.NDArray[np.uint8]:
    """Blur, motion-blur and add noise to the object's pixels (``support``); other pixels are unchanged."""
    if params.blur_sigma <= 0 and params.motion_blur_px <= 1 and params.noise_sigma <= 0:
        return patch_rgb.copy()
    out = patch_rgb.astype(np.float32)
    weight = support.astype(np.float32)
    if params.blur_sigma > 0:
        s = float(params.blur_sigma)
        out = _masked_filter(out, weight, lambda a: cv2.GaussianBlur(a, (0, 0), s, borderType=cv2.BORDER_REPLICATE))
    if params.motion_blur_px > 1:
        k = (int(params.motion_blur_px), 1)
        out = _masked_filter(out, weight, lambda a: cv2.blur(a, k, borderType=cv2.BORDER_REPLICATE))
    if params.noise_sigma > 0:
        rng = np.random.Generator(np.random.PCG64(params.noise_seed))
        noise = rng.standard_normal(support.shape, dtype=np.float32) * np.float32(params.noise_sigma)
        out += noise[:, :, None]
    out += np.float32(0.5)
    np.floor(out, out=out)
    np.clip(out, 0.0, 255.0, out=out)
    result = out.astype(np.uint8)
    result[~support] = patch_rgb[~support]
    return result


def texture_params(
    patch_rgb: npt.NDArray[np.uint8],
    support: npt.NDArray[np.bool_],
    ring_gradient: float,
    ring_noise: float,
    *,
    sharpness: bool,
    target_ratio: float,
    max_sigma_px: float,
    noise: bool,
    motion_blur_px: int,
    noise_seed: int,
) -> TextureParams:
    """Choose the blur sigma and noise level that match the object to the scene ring (see module docstring).

    Args:
        patch_rgb: ``(h, w, 3)`` uint8 object patch (already resized and colour-adapted).
        support: ``(h, w)`` bool object pixels (``alpha > 0``).
        ring_gradient: mean Sobel gradient of the scene ring (:func:`ring_texture`).
        ring_noise: noise std of the scene ring (:func:`ring_texture`).
        sharpness: search a blur sigma (else 0).
        target_ratio: wanted object / ring gradient ratio at most.
        max_sigma_px: largest blur sigma.
        noise: add noise up to the ring's level.
        motion_blur_px: drawn motion-blur length (0 = none).
        noise_seed: drawn seed of the noise field.
    """
    interior = cv2.erode(support.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=_INTERIOR_ERODE_PX)
    region = interior.astype(bool) if interior.any() else support

    def candidate(sigma: float) -> TextureParams:
        base = TextureParams(round(sigma, 3), motion_blur_px, 0.0, noise_seed)
        if not noise or ring_noise <= 0:
            return base
        own = noise_sigma(_grey(apply_texture(patch_rgb, support, base)), region)
        add = float(np.sqrt(max(ring_noise * ring_noise - own * own, 0.0)))
        return TextureParams(base.blur_sigma, motion_blur_px, round(add, 3), noise_seed)

    def ratio(p: TextureParams) -> float:
        return gradient_mean(_grey(apply_texture(patch_rgb, support, p)), region) / max(ring_gradient, 1e-6)

    best = candidate(0.0)
    if not sharpness or max_sigma_px <= 0 or ring_gradient <= 0 or ratio(best) <= target_ratio:
        return best
    top = candidate(max_sigma_px)
    if ratio(top) > target_ratio:
        return top
    lo, hi = 0.0, max_sigma_px
    best = top
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        p = candidate(mid)
        if ratio(p) <= target_ratio:
            hi, best = mid, p
        else:
            lo = mid
    return best
