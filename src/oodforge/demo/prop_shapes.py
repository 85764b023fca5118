"""Shapes of the props of the demo streets, in metres relative to the prop's foot point (x right, y up).

Each shape is a tuple of parts drawn in order: a Cityscapes label name, an RGB colour (None: the label's
background texture) and a polygon (N, 2) or a circle (cx, cy, r). Cars, persons and cyclists (a rider on
a bicycle, seen from behind) are things; street lamps, sign posts and traffic lights are a pole with its
sign or light attached (touching it, as in Cityscapes, so they form one connected object); trees are
vegetation. :data:`FOOTPRINTS` gives each kind's ground footprint for its contact shadow.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FOOTPRINTS", "KINDS", "Part", "shape_of"]

#: label name, RGB colour (None = background texture), polygon (N, 2) or circle (cx, cy, r)
Part = tuple[str, tuple[float, float, float] | None, np.ndarray]

_CAR_COLOURS = ((180, 30, 30), (30, 60, 150), (210, 210, 215), (25, 25, 28), (120, 125, 130), (200, 170, 40))
_SIGN_COLOURS = ((30, 80, 170), (200, 40, 40), (235, 235, 235), (205, 180, 45))

#: kind -> (half width, depth) in metres of the ground patch under the prop that its contact shadow covers
FOOTPRINTS: dict[str, tuple[float, float]] = {
    "car": (1.0, 1.6),
    "person": (0.3, 0.35),
    "cyclist": (0.3, 0.9),
    "pole": (0.12, 0.15),
    "sign post": (0.1, 0.12),
    "traffic light": (0.14, 0.15),
    "tree": (0.3, 0.3),
}
KINDS = tuple(FOOTPRINTS)


def _rect(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def _circle(cx: float, cy: float, r: float) -> np.ndarray:
    return np.array([cx, cy, r], np.float64)


def _jitter(rng: np.random.Generator, rgb: tuple[int, int, int], amount: float = 18) -> tuple[float, float, float]:
    j = rng.uniform(-amount, amount, 3)
    return (float(rgb[0] + j[0]), float(rgb[1] + j[1]), float(rgb[2] + j[2]))


def _random_rgb(rng: np.random.Generator) -> tuple[float, float, float]:
    return _jitter(rng, (int(rng.integers(30, 220)), int(rng.integers(30, 220)), int(rng.integers(30, 220))), 0)


def _car(rng: np.random.Generator) -> tuple[Part, ...]:
    body = _jitter(rng, _CAR_COLOURS[int(rng.integers(len(_CAR_COLOURS)))])
    dark = (30.0, 32.0, 38.0)
    glass = (55.0, 65.0, 80.0)
    w = float(rng.uniform(0.8, 0.95))
    return (
        ("car", dark, _rect(-w + 0.05, -w + 0.35, 0.0, 0.4)),
        ("car", dark, _rect(w - 0.35, w - 0.05, 0.0, 0.4)),
        ("car", body, _rect(-w, w, 0.25, 0.95)),
        ("car", body, np.array([[-w + 0.05, 0.95], [w - 0.05, 0.95], [w - 0.3, 1.45], [-w + 0.3, 1.45]])),
        ("car", glass, np.array([[-w + 0.15, 1.0], [w - 0.15, 1.0], [w - 0.35, 1.38], [-w + 0.35, 1.38]])),
        ("car", (190.0, 25.0, 25.0), _rect(-w + 0.05, -w + 0.3, 0.65, 0.8)),
        ("car", (190.0, 25.0, 25.0), _rect(w - 0.3, w - 0.05, 0.65, 0.8)),
        ("car", (215.0, 215.0, 200.0), _rect(-0.25, 0.25, 0.4, 0.55)),
    )


def _person(rng: np.random.Generator) -> tuple[Part, ...]:
    hgt = float(rng.uniform(1.55, 1.9))
    shirt = _random_rgb(rng)
    legs = _jitter(rng, (40, 45, 70), 25)
    skin = _jitter(rng, (200, 160, 130), 30)
    return (
        ("person", legs, _rect(-0.17, -0.02, 0.0, 0.48 * hgt)),
        ("person", legs, _rect(0.02, 0.17, 0.0, 0.48 * hgt)),
        ("person", shirt, _rect(-0.21, 0.21, 0.46 * hgt, 0.83 * hgt)),
        ("person", shirt, _rect(-0.28, -0.2, 0.5 * hgt, 0.8 * hgt)),
        ("person", shirt, _rect(0.2, 0.28, 0.5 * hgt, 0.8 * hgt)),
        ("person", skin, _circle(0.0, 0.92 * hgt, 0.08 * hgt)),
    )


def _cyclist(rng: np.random.Generator) -> tuple[Part, ...]:
    """A rider on a bicycle seen from behind: wheel, rack and handlebar around the rider's legs and back."""
    frame = _jitter(rng, (60, 60, 66), 30)
    tyre = (24.0, 24.0, 26.0)
    jacket = _random_rgb(rng)
    legs = _jitter(rng, (40, 45, 70), 25)
    return (
        ("bicycle", tyre, _rect(-0.03, 0.03, 0.0, 0.68)),
        ("bicycle", frame, _rect(-0.09, 0.09, 0.62, 0.78)),
        ("bicycle", frame, _rect(-0.32, 0.32, 0.98, 1.04)),
        ("rider", legs, _rect(-0.17, -0.05, 0.3, 0.85)),
        ("rider", legs, _rect(0.05, 0.17, 0.3, 0.85)),
        ("rider", jacket, _rect(-0.22, 0.22, 0.82, 1.42)),
        ("rider", jacket, _rect(-0.3, -0.2, 1.0, 1.36)),
        ("rider", jacket, _rect(0.2, 0.3, 1.0, 1.36)),
        ("rider", (30.0, 30.0, 34.0), _circle(0.0, 1.55, 0.12)),  # helmet
    )


def _pole(rng: np.random.Generator) -> tuple[Part, ...]:
    """A street lamp: a tall pole, half of them with a sign near the top."""
    hgt = float(rng.uniform(3.5, 7.0))
    parts: list[Part] = [("pole", None, _rect(-0.07, 0.07, 0.0, hgt))]
    if rng.random() < 0.55:
        if rng.random() < 0.5:
            parts.append(("traffic sign", None, _circle(0.0, hgt - 0.35, 0.32)))
        else:
            parts.append(("traffic sign", None, _rect(-0.35, 0.35, hgt - 0.75, hgt - 0.05)))
    return tuple(parts)


def _sign_post(rng: np.random.Generator) -> tuple[Part, ...]:
    """A short post with one or two signs at head height and above."""
    hgt = float(rng.uniform(2.3, 3.1))
    colour = _jitter(rng, _SIGN_COLOURS[int(rng.integers(len(_SIGN_COLOURS)))], 10)
    parts: list[Part] = [("pole", None, _rect(-0.045, 0.045, 0.0, hgt))]
    if rng.random() < 0.5:
        parts.append(("traffic sign", colour, _circle(0.0, hgt - 0.3, 0.3)))
    else:
        parts.append(("traffic sign", colour, _rect(-0.3, 0.3, hgt - 0.6, hgt)))
    if rng.random() < 0.4:
        parts.append(("traffic sign", (235.0, 235.0, 235.0), _rect(-0.28, 0.28, hgt - 1.0, hgt - 0.68)))
    return tuple(parts)


def _traffic_light(rng: np.random.Generator) -> tuple[Part, ...]:
    """A pole with a light housing on top and its three lamps (one lit)."""
    hgt = float(rng.uniform(3.0, 4.2))
    lit = int(rng.integers(3))
    parts: list[Part] = [
        ("pole", None, _rect(-0.06, 0.06, 0.0, hgt)),
        ("traffic light", (34.0, 36.0, 34.0), _rect(-0.17, 0.17, hgt - 0.1, hgt + 0.85)),
    ]
    for i, on in enumerate(((235.0, 40.0, 30.0), (240.0, 180.0, 30.0), (40.0, 220.0, 90.0))):
        rgb = on if i == lit else (60.0, 62.0, 60.0)
        parts.append(("traffic light", rgb, _circle(0.0, hgt + 0.65 - 0.26 * i, 0.09)))
    return tuple(parts)


def _tree(rng: np.random.Generator) -> tuple[Part, ...]:
    trunk = float(rng.uniform(1.8, 3.2))
    r = float(rng.uniform(1.3, 2.8))
    return (
        ("vegetation", None, _rect(-0.15, 0.15, 0.0, trunk + 0.3)),
        ("vegetation", None, _circle(0.0, trunk + 0.8 * r, r)),
        ("vegetation", None, _circle(0.5 * r, trunk + 0.5 * r, 0.7 * r)),
    )


_MAKERS = {
    "car": _car,
    "person": _person,
    "cyclist": _cyclist,
    "pole": _pole,
    "sign post": _sign_post,
    "traffic light": _traffic_light,
    "tree": _tree,
}


def shape_of(kind: str, rng: np.random.Generator) -> tuple[Part, ...]:
    """A random shape of ``kind`` (one of :data:`KINDS`)."""
    return _MAKERS[kind](rng)
