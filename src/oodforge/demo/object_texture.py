"""Textures of the demo COCO objects (stripes, patches, spots, fur, wood, metal) and busy backgrounds."""

from __future__ import annotations

import cv2
import numpy as np

from oodforge.demo._noise import smooth_noise

__all__ = ["busy_background", "paint_object"]

#: category -> candidate base colours (RGB)
_BASE: dict[str, tuple[tuple[int, int, int], ...]] = {
    "dog": ((150, 100, 55), (60, 45, 35), (205, 175, 120)),
    "cat": ((120, 120, 125), (210, 140, 70), (40, 38, 40)),
    "horse": ((110, 65, 35), (70, 45, 30), (180, 160, 140)),
    "cow": ((235, 232, 225),),
    "sheep": ((225, 220, 200),),
    "bear": ((80, 55, 35), (45, 35, 30)),
    "zebra": ((235, 235, 230),),
    "giraffe": ((220, 175, 100),),
    "chair": ((140, 90, 50), (40, 40, 45), (170, 40, 40)),
    "couch": ((150, 40, 45), (50, 80, 140), (110, 110, 100)),
    "bed": ((230, 230, 225),),
    "dining table": ((125, 80, 45), (180, 130, 80)),
    "microwave": ((200, 200, 205), (40, 40, 42)),
    "refrigerator": ((225, 228, 230), (180, 185, 190)),
    "toaster": ((190, 192, 198), (200, 40, 40)),
    "banana": ((235, 205, 50),),
    "apple": ((200, 30, 35), (120, 190, 50)),
    "sandwich": ((215, 170, 105),),
    "person": ((200, 60, 60), (60, 90, 170), (70, 140, 80)),
    "car": ((30, 60, 150), (180, 30, 30), (210, 210, 215)),
}


def _pattern(rng: np.random.Generator, category: str, img: np.ndarray, mask: np.ndarray) -> None:
    """Category-specific pattern painted onto ``img`` in place."""
    h, w = mask.shape
    y = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w))
    x = np.broadcast_to(np.arange(w, dtype=np.float32)[None, :], (h, w))
    if category == "zebra":
        warp = smooth_noise(rng, h, w, max(h, w) / 4) * 3.0
        stripes = np.sin(x / max(w / 30, 1.5) + warp + 0.3 * y / max(h / 20, 1)) > 0.1
        img[stripes] = (20, 20, 22)
    elif category == "giraffe":
        cells = smooth_noise(rng, h, w, max(min(h, w) / 10, 2.0))
        img[cells > -0.3] = (150, 85, 35)
    elif category == "cow":
        img[smooth_noise(rng, h, w, max(min(h, w) / 5, 2.0)) > 0.7] = (25, 22, 22)
    elif category == "sheep":
        img += smooth_noise(rng, h, w, 2.0)[..., None] * 28.0
    elif category in ("dog", "cat", "horse", "bear"):
        fur = cv2.blur(rng.standard_normal((h, w)).astype(np.float32), (7, 1)) * 30.0
        img += fur[..., None]
    elif category in ("chair", "dining table"):
        grain = np.sin(y / 2.5 + smooth_noise(rng, h, w, max(w / 4, 2.0)) * 4.0) * 18.0
        img += grain[..., None]
    elif category == "bed":
        img[y > 0.6 * h] = rng.uniform(40, 200, 3)  # the blanket
    elif category in ("microwave", "toaster", "refrigerator"):
        img += ((x / max(w, 1) - 0.5) * 40.0)[..., None]
        if category == "microwave":
            img[int(0.2 * h) : int(0.8 * h), int(0.08 * w) : int(0.65 * w)] = (30, 32, 35)
        elif category == "refrigerator":
            img[int(0.35 * h) : int(0.35 * h) + 2, :] = (90, 90, 95)
            img[int(0.1 * h) : int(0.3 * h), int(0.82 * w) : int(0.86 * w)] = (70, 70, 75)
        else:
            img[int(0.2 * h) : int(0.3 * h), int(0.25 * w) : int(0.75 * w)] = (20, 20, 20)
    elif category == "banana":
        img[(x < 0.12 * w) | (x > 0.9 * w)] = (90, 70, 30)
    elif category == "apple":
        cy, cx = 0.45 * h, 0.35 * w
        glow = np.exp(-(((x - cx) / (0.2 * w)) ** 2 + ((y - cy) / (0.2 * h)) ** 2))
        img += glow[..., None] * 70.0
    elif category == "sandwich":
        img[(y > 0.55 * h) & (y < 0.68 * h)] = (70, 160, 50)
        img[(y > 0.68 * h) & (y < 0.76 * h)] = (200, 50, 40)


def paint_object(rng: np.random.Generator, category: str, mask: np.ndarray) -> np.ndarray:
    """Float RGB texture (H, W, 3) for an object of ``category`` whose silhouette is ``mask``.

    Colour, pattern and edge shading (darker towards the silhouette border) make each category look
    distinct; pixels outside ``mask`` are meaningless.
    """
    h, w = mask.shape
    choices = _BASE[category]
    base = np.asarray(choices[int(rng.integers(len(choices)))], np.float32) + rng.uniform(-15, 15, 3)
    img = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    img += smooth_noise(rng, h, w, max(min(h, w) / 6, 2.0))[..., None] * 10.0
    _pattern(rng, category, img, mask)
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    img *= (0.7 + 0.3 * np.minimum(dist / 6.0, 1.0))[..., None]
    img += rng.standard_normal((h, w, 3), dtype=np.float32) * 4.0
    return img


def busy_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Float RGB (H, W, 3) clutter: a two-colour gradient, random shapes and lines, noise."""
    top, bottom = rng.uniform(40, 220, 3), rng.uniform(40, 220, 3)
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    img = np.ascontiguousarray(np.broadcast_to(top * (1 - t) + bottom * t, (height, width, 3)), np.float32)
    for _ in range(int(rng.integers(15, 35))):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        kind = int(rng.integers(3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        s = int(rng.integers(8, max(9, min(width, height) // 3)))
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + s, y + int(rng.integers(4, s + 5))), colour, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), s // 2, colour, -1)
        else:
            x2, y2 = int(rng.integers(0, width)), int(rng.integers(0, height))
            cv2.line(img, (x, y), (x2, y2), colour, int(rng.integers(1, 5)))
    img += smooth_noise(rng, height, width, 16.0, 3) * 12.0
    img += rng.standard_normal((height, width, 3), dtype=np.float32) * 6.0
    return img
