"""Small texture helpers shared by the demo scene and object painters (explicit generators only)."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["smooth_noise", "to_uint8"]


def smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float, channels: int = 1) -> np.ndarray:
    """Low-frequency noise of unit-ish amplitude: Gaussian samples on a coarse grid, bicubically upsampled.

    Args:
        rng: the generator that draws the coarse samples.
        height: output rows.
        width: output columns.
        cell: size in pixels of one coarse grid cell (larger = smoother).
        channels: 1 gives an (H, W) array, more gives (H, W, channels).

    Returns:
        float32 array with values roughly in [-2.5, 2.5].
    """
    gh = max(2, round(height / cell) + 2)
    gw = max(2, round(width / cell) + 2)
    coarse = rng.standard_normal((gh, gw, channels)).astype(np.float32)
    up = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return up.reshape(height, width, channels) if channels > 1 else up.reshape(height, width)


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """Round and clip a float array to ``uint8``."""
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
