"""Masks from Blender's object-index pass, the 3-class mask, and deterministic PNG bytes (pure NumPy).

Pass indices: 0 = background (space or sky: no object hit), 1 = foreground scene objects, 2 = anomaly.
"""

from __future__ import annotations

import struct

import numpy as np

from oodforge.errors import ShapeError

__all__ = [
    "ANOMALY_INDEX",
    "FOREGROUND_INDEX",
    "coverage_to_uint8",
    "index_to_masks",
    "strip_png_metadata",
    "three_class_mask",
]

FOREGROUND_INDEX = 1
ANOMALY_INDEX = 2
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_KEEP_CHUNKS = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}


def index_to_masks(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split an object-index pass into the anomaly mask and the foreground/background mask.

    Args:
        index: (H, W) object-index pass (float or integer pass indices, top row first).

    Returns:
        ``gt``: (H, W) uint8, 1 where the anomaly object is the first surface hit, else 0;
        ``fb``: (H, W) uint8, 1 where any object is hit (foreground or anomaly), 0 on background.

    Example:
        >>> gt, fb = index_to_masks(np.array([[0.0, 1.0, 2.0]]))
        >>> gt.tolist(), fb.tolist()
        ([[0, 0, 1]], [[0, 1, 1]])
    """
    if index.ndim != 2:
        raise ShapeError(f"Expected the object-index pass to be (H, W), but got shape {index.shape}")
    ids = np.rint(index).astype(np.int32)
    gt = (ids == ANOMALY_INDEX).astype(np.uint8)
    fb = (ids > 0).astype(np.uint8)
    return gt, fb


def coverage_to_uint8(coverage: np.ndarray | None) -> np.ndarray:
    """A coverage matte (share of samples on the anomaly, [0, 1]) as an 8-bit mask: ``round(255 × c)``.

    Args:
        coverage: (H, W) float coverage; values outside [0, 1] (half-float rounding) are clipped.

    Returns:
        (H, W) uint8 in 0..255.

    Example:
        >>> coverage_to_uint8(np.array([[0.0, 0.5, 1.0, 1.0001]])).tolist()
        [[0, 128, 255, 255]]
    """
    if coverage is None:
        raise ValueError("no coverage pass was rendered (render.coverage_mask is off)")
    if coverage.ndim != 2:
        raise ShapeError(f"Expected the coverage pass to be (H, W), but got shape {coverage.shape}")
    return np.rint(np.clip(np.nan_to_num(coverage.astype(np.float64)), 0.0, 1.0) * 255.0).astype(np.uint8)


def three_class_mask(fb: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """ALLO's 3-class mask: 0 background (space), 1 foreground, 2 anomaly (overrides foreground).

    Args:
        fb: (H, W) foreground mask, non-zero = foreground.
        gt: (H, W) anomaly mask, non-zero = anomaly.

    Example:
        >>> three_class_mask(np.array([[0, 1, 1, 0]]), np.array([[0, 0, 1, 1]])).tolist()
        [[0, 1, 2, 2]]
    """
    if fb.shape != gt.shape:
        raise ShapeError(f"Expected fb_mask and gt_pixel of the same shape, but got {fb.shape} and {gt.shape}")
    out = (fb > 0).astype(np.uint8)
    out[gt > 0] = 2
    return out


def strip_png_metadata(data: bytes) -> bytes:
    """Drop every PNG chunk but the image data (Blender writes render times and dates as text chunks).

    The pixels are untouched, so identical renders give identical bytes.

    Raises:
        ValueError: ``data`` is not a PNG file.
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    out = [_PNG_SIGNATURE]
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if kind in _KEEP_CHUNKS:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)
