"""Silhouettes of the demo COCO objects, one recognisable-ish shape per category family.

Animals are a body ellipse with head, neck, legs and tail; furniture is slabs on legs; appliances are
boxes; food is a crescent, a round fruit or a wedge. Shapes are drawn in box-normalised coordinates
(x right, y down, both in [0, 1]) into a ``uint8`` mask of the requested box size.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

__all__ = ["ASPECT", "FAMILY", "silhouette"]

#: Typical bbox aspect (w / h) per category.
ASPECT: dict[str, float] = {
    "dog": 1.3, "cat": 1.2, "horse": 1.2, "cow": 1.4, "sheep": 1.3, "bear": 1.35, "zebra": 1.2, "giraffe": 0.75,
    "chair": 0.75, "couch": 1.8, "bed": 1.7, "dining table": 1.6, "microwave": 1.5, "refrigerator": 0.55,
    "toaster": 1.3, "banana": 1.8, "apple": 1.0, "sandwich": 1.4, "person": 0.4, "car": 1.7,
}  # fmt: skip

FAMILY: dict[str, str] = {
    **dict.fromkeys(("dog", "cat", "horse", "cow", "sheep", "bear", "zebra", "giraffe"), "animal"),
    **dict.fromkeys(("chair", "couch", "bed", "dining table"), "furniture"),
    **dict.fromkeys(("microwave", "refrigerator", "toaster"), "appliance"),
    **dict.fromkeys(("banana", "apple", "sandwich"), "food"),
    "person": "person",
    "car": "vehicle",
}


class _Pen:
    """Draws box-normalised primitives into a mask (value 1), with sub-pixel accuracy."""

    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.mask = np.zeros((h, w), np.uint8)

    def _pt(self, x: float, y: float) -> tuple[int, int]:
        return round(x * (self.w - 1) * 16), round(y * (self.h - 1) * 16)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, value: int = 1) -> None:
        axes = (max(16, round(rx * self.w * 16)), max(16, round(ry * self.h * 16)))
        cv2.ellipse(self.mask, self._pt(cx, cy), axes, angle, 0, 360, value, -1, cv2.LINE_8, 4)

    def poly(self, pts: list[tuple[float, float]], value: int = 1) -> None:
        arr = np.array([self._pt(x, y) for x, y in pts], np.int32)
        cv2.fillPoly(self.mask, [arr], value, cv2.LINE_8, 4)

    def rect(self, x0: float, y0: float, x1: float, y1: float, value: int = 1) -> None:
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], value)

    def bar(self, x0: float, y0: float, x1: float, y1: float, width: float) -> None:
        """A thick segment from (x0, y0) to (x1, y1); ``width`` relative to the box width."""
        d = np.array([(x1 - x0) * self.w, (y1 - y0) * self.h])
        n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-6) * width * self.w / 2
        nx, ny = n[0] / self.w, n[1] / self.h
        self.poly([(x0 + nx, y0 + ny), (x1 + nx, y1 + ny), (x1 - nx, y1 - ny), (x0 - nx, y0 - ny)])


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _animal(pen: _Pen, rng: np.random.Generator, cat: str) -> None:
    j = _u(rng, -0.03, 0.03)
    if cat == "giraffe":
        pen.ellipse(0.38, 0.5 + j, 0.26, 0.11)
        for x in (0.2, 0.3, 0.48, 0.56):
            pen.bar(x, 0.52, x + _u(rng, -0.03, 0.03), 0.97, 0.055)
        pen.bar(0.55, 0.48, 0.8, 0.1, 0.11)
        pen.ellipse(0.86, 0.08, 0.1, 0.05, -20)
        pen.bar(0.13, 0.45, 0.04, 0.62, 0.03)
        return
    cfg = {  # body cx, cy, rx, ry; leg top, leg width; head cx, cy, r; neck width
        "horse": (0.42, 0.4, 0.3, 0.15, 0.45, 0.07, 0.85, 0.14, 0.09, 0.12),
        "zebra": (0.42, 0.42, 0.3, 0.15, 0.47, 0.07, 0.84, 0.17, 0.09, 0.12),
        "cow": (0.43, 0.42, 0.33, 0.19, 0.5, 0.08, 0.86, 0.36, 0.1, 0.12),
        "dog": (0.44, 0.45, 0.3, 0.15, 0.5, 0.07, 0.84, 0.26, 0.12, 0.12),
        "cat": (0.45, 0.52, 0.3, 0.15, 0.58, 0.06, 0.84, 0.32, 0.12, 0.1),
        "sheep": (0.45, 0.45, 0.33, 0.22, 0.55, 0.05, 0.86, 0.38, 0.09, 0.1),
        "bear": (0.45, 0.45, 0.36, 0.24, 0.58, 0.12, 0.85, 0.34, 0.14, 0.16),
    }[cat]
    bx, by, rx, ry, leg_top, leg_w, hx, hy, hr, neck_w = cfg
    by += j
    pen.ellipse(bx, by, rx, ry)
    if cat == "sheep":  # fluffy fleece
        for k in range(7):
            a = 2 * np.pi * k / 7
            pen.ellipse(bx + 0.8 * rx * np.cos(a), by + 0.75 * ry * np.sin(a), 0.1, 0.12)
    for x in (bx - 0.8 * rx, bx - 0.55 * rx, bx + 0.5 * rx, bx + 0.75 * rx):
        pen.bar(x, leg_top, x + _u(rng, -0.04, 0.04), 0.97, leg_w)
    pen.bar(bx + 0.7 * rx, by - 0.3 * ry, hx, hy, neck_w)
    pen.ellipse(hx, hy, hr * (1.4 if cat in ("horse", "zebra") else 1.0) * pen.h / pen.w, hr, 25 if cat != "cat" else 0)
    if cat in ("cat", "dog", "bear"):
        for dx in (-0.05, 0.04):
            pen.poly([(hx + dx - 0.03, hy - 0.6 * hr), (hx + dx + 0.03, hy - 0.6 * hr), (hx + dx, hy - 1.5 * hr)])
    if cat in ("cat", "dog", "horse", "zebra", "cow"):
        tip_y = 0.12 if cat == "cat" else (0.28 if cat == "dog" else 0.75)
        pen.bar(bx - 0.95 * rx, by - 0.3 * ry, 0.04, tip_y, 0.045 if cat != "horse" else 0.07)


def _furniture(pen: _Pen, rng: np.random.Generator, cat: str) -> None:
    if cat == "chair":
        pen.rect(0.12, 0.03, 0.3, 0.6)
        pen.rect(0.12, 0.5, 0.9, 0.62)
        for x in (0.14, 0.8):
            pen.rect(x, 0.6, x + 0.1, 0.97)
        pen.rect(0.28, 0.6, 0.35, 0.9)
        return
    if cat == "couch":
        pen.rect(0.05, 0.12, 0.95, 0.5)
        pen.rect(0.02, 0.42, 0.98, 0.86)
        pen.rect(0.0, 0.3, 0.13, 0.86)
        pen.rect(0.87, 0.3, 1.0, 0.86)
        for x in (0.05, 0.9):
            pen.rect(x, 0.86, x + 0.05, 0.97)
        return
    if cat == "bed":
        pen.rect(0.0, 0.05, 0.09, 0.97)
        pen.rect(0.03, 0.42, 0.97, 0.8)
        pen.rect(0.91, 0.35, 0.99, 0.97)
        pen.ellipse(0.2, 0.4, 0.1, 0.08)
        for x in (0.3, 0.7):
            pen.rect(x, 0.8, x + 0.04, 0.95)
        return
    drape = _u(rng, 0.3, 0.42)  # dining table: top with a cloth, four legs
    pen.poly([(0.06, 0.05), (0.94, 0.05), (0.99, drape), (0.01, drape)])
    for x in (0.05, 0.22, 0.7, 0.86):
        pen.rect(x, drape - 0.02, x + 0.09, 0.97)


def _appliance(pen: _Pen, rng: np.random.Generator, cat: str) -> None:
    if cat == "refrigerator":
        pen.rect(0.02, 0.0, 0.98, 0.97)
        pen.rect(0.08, 0.97, 0.2, 1.0)
        pen.rect(0.8, 0.97, 0.92, 1.0)
    elif cat == "microwave":
        pen.rect(0.02, 0.08, 0.98, 0.9)
        pen.rect(0.05, 0.9, 0.12, 0.98)
        pen.rect(0.88, 0.9, 0.95, 0.98)
    else:  # toaster: rounded box with a lever
        pen.rect(0.08, 0.22, 0.92, 0.96)
        pen.ellipse(0.5, 0.25, 0.42, 0.08)
        pen.rect(0.92, 0.45, 0.99, 0.55)
    del rng


def _food(pen: _Pen, rng: np.random.Generator, cat: str) -> None:
    if cat == "banana":
        pen.ellipse(0.5, 0.1, 0.48, 0.85)
        pen.ellipse(0.5, -0.15, 0.46, 0.85, 0, value=0)
        pen.bar(0.03, 0.2, 0.06, 0.08, 0.03)
    elif cat == "apple":
        pen.ellipse(0.38, 0.58, 0.34, 0.38)
        pen.ellipse(0.62, 0.58, 0.34, 0.38)
        pen.bar(0.5, 0.25, 0.53, 0.04, 0.05)
        pen.ellipse(0.66, 0.12, 0.12, 0.06, -30)
    else:  # sandwich: a wedge with a bulging filling
        pen.poly([(0.02, 0.92), (0.98, 0.92), (0.6, 0.05), (0.45, 0.08)])
        pen.ellipse(0.5, 0.9, 0.48, 0.08)
    del rng


def _person(pen: _Pen, rng: np.random.Generator, cat: str) -> None:
    pen.ellipse(0.5, 0.08, 0.16, 0.065)
    pen.rect(0.2, 0.16, 0.8, 0.55)
    pen.bar(0.2, 0.18, 0.05, 0.5, 0.14)
    pen.bar(0.8, 0.18, 0.95, 0.5, 0.14)
    pen.rect(0.25, 0.52, 0.47, 0.98)
    pen.rect(0.53, 0.52, 0.75, 0.98)
    del rng, cat


def _vehicle(pen: _Pen, rng: np.random.Generator, cat: str) -> None:
    pen.rect(0.02, 0.4, 0.98, 0.8)
    pen.poly([(0.2, 0.42), (0.32, 0.08), (0.7, 0.08), (0.82, 0.42)])
    pen.ellipse(0.22, 0.82, 0.09, 0.16)
    pen.ellipse(0.78, 0.82, 0.09, 0.16)
    del rng, cat


_DRAW: dict[str, Callable[[_Pen, np.random.Generator, str], None]] = {
    "animal": _animal,
    "furniture": _furniture,
    "appliance": _appliance,
    "food": _food,
    "person": _person,
    "vehicle": _vehicle,
}


def silhouette(rng: np.random.Generator, category: str, width: int, height: int) -> np.ndarray:
    """A ``uint8`` 0/1 mask of shape (height, width) holding the category's silhouette (randomly mirrored)."""
    pen = _Pen(width, height)
    _DRAW[FAMILY[category]](pen, rng, category)
    return pen.mask[:, ::-1].copy() if rng.random() < 0.5 else pen.mask
