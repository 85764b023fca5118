"""COCO segmentation encodings (polygon, compressed RLE, uncompressed RLE) and mask statistics."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

__all__ = ["ENCODINGS", "decode_segmentation", "encode_mask", "mask_bbox", "solidity"]

#: The three encodings COCO files use, in the order the demo world cycles through them.
ENCODINGS: tuple[str, ...] = ("polygon", "rle", "rle_uncompressed")


def _polygons(mask: np.ndarray) -> list[list[float]]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for c in contours:
        if len(c) >= 3:
            pts = c.reshape(-1, 2).astype(np.float64) + 0.5  # through pixel centres
            polys.append([round(float(v), 2) for v in pts.ravel()])
    return polys


def _uncompressed_counts(mask: np.ndarray) -> list[int]:
    """Column-major run lengths, starting with a (possibly empty) run of zeros, as COCO stores them."""
    flat = mask.flatten(order="F").astype(np.int8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds).astype(int).tolist()
    return [0, *runs] if flat.size and flat[0] == 1 else runs


def decode_segmentation(seg: Any, height: int, width: int) -> np.ndarray:
    """Rasterise any COCO segmentation to a ``uint8`` (height, width) 0/1 mask with pycocotools."""
    if isinstance(seg, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    elif isinstance(seg["counts"], list):
        rle = mask_utils.frPyObjects(seg, height, width)
    else:
        rle = {"size": seg["size"], "counts": seg["counts"].encode("ascii")}
    return np.asarray(mask_utils.decode(rle), np.uint8)


def encode_mask(mask: np.ndarray, encoding: str) -> tuple[Any, np.ndarray]:
    """Encode a full-image 0/1 mask as a COCO ``segmentation`` in ``encoding``.

    Returns:
        ``(segmentation, final_mask)``, where ``final_mask`` is what pycocotools decodes: for a polygon it
        differs slightly from ``mask``. A mask no polygon can hold (too thin) falls back to compressed RLE.
    """
    h, w = mask.shape
    if encoding == "polygon":
        polys = _polygons(mask)
        final = decode_segmentation(polys, h, w) if polys else None
        if final is not None and final.any():
            return polys, final
        encoding = "rle"
    if encoding == "rle":
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        return {"size": [h, w], "counts": rle["counts"].decode("ascii")}, mask.astype(np.uint8)
    if encoding == "rle_uncompressed":
        return {"counts": _uncompressed_counts(mask), "size": [h, w]}, mask.astype(np.uint8)
    raise ValueError(f"unknown encoding {encoding!r}; expected one of {ENCODINGS}")


def mask_bbox(mask: np.ndarray) -> list[float]:
    """COCO ``[x, y, w, h]`` of a non-empty mask (as ``pycocotools.mask.toBbox``)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return [float(v) for v in mask_utils.toBbox(rle)]


def solidity(mask: np.ndarray) -> float:
    """Pixel count over the area of the convex hull of the pixel squares (1.0 for a filled rectangle)."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return 0.0
    corners = np.concatenate([np.stack([xs + dx, ys + dy], axis=1) for dx in (0, 1) for dy in (0, 1)]).astype(
        np.float32
    )
    hull = cv2.convexHull(corners)
    return float(xs.size / max(cv2.contourArea(hull), 1.0))
