"""Props standing on the demo ground: poles with signs, trees, cars and persons at metric sizes.

Props are drawn far to near (painter's order) into the label, instance and colour layers. Cars and
persons get Cityscapes instance ids ``label_id * 1000 + k`` (k from 0 per class, in drawing order)
and their own colours; poles, signs and trees only set labels and are textured with the background.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from oodforge.demo.camera import Camera
from oodforge.demo.street import Street
from oodforge.sources.cityscapes_labels import name2label

__all__ = ["Prop", "draw_props", "plan_props"]

_SHIFT = 4  # cv2 sub-pixel bits
_CAR_COLOURS = ((180, 30, 30), (30, 60, 150), (210, 210, 215), (25, 25, 28), (120, 125, 130), (200, 170, 40))

#: A part: label name, RGB colour (None = background texture), and a polygon (N, 2) or circle (cx, cy, r) in
#: metres relative to the prop's foot point (x right, y up).
Part = tuple[str, tuple[float, float, float] | None, np.ndarray]


@dataclass(frozen=True)
class Prop:
    """A prop at lateral position ``x`` (m, vehicle frame) and forward distance ``z`` (m)."""

    kind: str
    x: float
    z: float
    parts: tuple[Part, ...]


def _rect(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def _circle(cx: float, cy: float, r: float) -> np.ndarray:
    return np.array([cx, cy, r], np.float64)


def _jitter(rng: np.random.Generator, rgb: tuple[int, int, int], amount: float = 18) -> tuple[float, float, float]:
    j = rng.uniform(-amount, amount, 3)
    return (float(rgb[0] + j[0]), float(rgb[1] + j[1]), float(rgb[2] + j[2]))


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
    shirt = _jitter(rng, (int(rng.integers(30, 220)), int(rng.integers(30, 220)), int(rng.integers(30, 220))), 0)
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


def _pole(rng: np.random.Generator) -> tuple[Part, ...]:
    hgt = float(rng.uniform(3.5, 7.0))
    parts: list[Part] = [("pole", None, _rect(-0.07, 0.07, 0.0, hgt))]
    if rng.random() < 0.55:
        if rng.random() < 0.5:
            parts.append(("traffic sign", None, _circle(0.0, hgt - 0.35, 0.32)))
        else:
            parts.append(("traffic sign", None, _rect(-0.35, 0.35, hgt - 0.75, hgt - 0.05)))
    return tuple(parts)


def _tree(rng: np.random.Generator) -> tuple[Part, ...]:
    trunk = float(rng.uniform(1.8, 3.2))
    r = float(rng.uniform(1.3, 2.8))
    return (
        ("vegetation", None, _rect(-0.15, 0.15, 0.0, trunk + 0.3)),
        ("vegetation", None, _circle(0.0, trunk + 0.8 * r, r)),
        ("vegetation", None, _circle(0.5 * r, trunk + 0.5 * r, 0.7 * r)),
    )


def _place(rng: np.random.Generator, street: Street, what: str, z_range: tuple[float, float]) -> tuple[float, float]:
    """(x, z) of a foot point on the given band (``road``, ``kerb``, ``sidewalk``), random side."""
    z = float(rng.uniform(z_range[0], min(z_range[1], street.z_end - 3.0)))
    left = bool(rng.random() < 0.5)
    if not street.has_road:
        lat = float(rng.uniform(-street.sw_left + 1.0, street.sw_right - 1.0))
    else:
        lo, hi = street.lateral_band(what, left=left)
        lat = float(rng.uniform(lo, hi)) * (-1.0 if left else 1.0)
    return float(street.centre(np.asarray(z))) + lat, z


def plan_props(rng: np.random.Generator, cam: Camera, street: Street, width: int) -> list[Prop]:
    """Choose the frame's props (positions and shapes); ``cam`` and ``width`` are kept for future culling."""
    del cam, width
    props: list[Prop] = []
    if street.has_road:
        for _ in range(int(rng.integers(0, 5))):
            band = "road" if rng.random() < 0.7 else "kerb"
            x, z = _place(rng, street, band, (7.0, 55.0))
            if band == "kerb":  # parked: inside the road, next to the kerb
                x -= np.sign(x - street.offset) * 1.3
            props.append(Prop("car", x, z, _car(rng)))
    n_persons = int(rng.integers(0, 5)) if street.has_road else int(rng.integers(1, 6))
    for _ in range(n_persons):
        x, z = _place(rng, street, "sidewalk", (5.0, 35.0))
        props.append(Prop("person", x, z, _person(rng)))
    for _ in range(int(rng.integers(1, 5))):
        x, z = _place(rng, street, "kerb", (6.0, 70.0))
        props.append(Prop("pole", x, z, _pole(rng)))
    if "vegetation" in (street.side_left, street.side_right) or rng.random() < 0.4:
        for _ in range(int(rng.integers(1, 5))):
            x, z = _place(rng, street, "sidewalk", (8.0, 60.0))
            props.append(Prop("tree", x, z, _tree(rng)))
    return props


def _to_px(cam: Camera, prop: Prop, pts: np.ndarray) -> np.ndarray:
    """Metric (dx, dy-up) points of a prop to image (u, v)."""
    k = cam.fx / cam.depth(cam.height, prop.z)
    u_c, v_b = cam.project(prop.x, cam.height, prop.z)
    return np.stack([u_c + pts[:, 0] * k, v_b - pts[:, 1] * k], axis=1)


def draw_props(
    props: list[Prop], cam: Camera, labels: np.ndarray, inst: np.ndarray, colour: np.ndarray, cmask: np.ndarray
) -> None:
    """Draw ``props`` far to near into the label/instance/colour layers (in place)."""
    h, w = labels.shape
    counters = {"car": 0, "person": 0}
    scratch = np.zeros((h, w), np.uint8)
    for prop in sorted(props, key=lambda p: (-p.z, p.x)):
        inst_id = 0
        if prop.kind in counters:
            inst_id = name2label[prop.kind].id * 1000 + counters[prop.kind]
            counters[prop.kind] += 1
        for label, rgb, shape in prop.parts:
            scratch[:] = 0
            if shape.ndim == 1:  # circle
                centre = _to_px(cam, prop, shape[None, :2])[0]
                radius = shape[2] * cam.fx / cam.depth(cam.height, prop.z)
                c = (round(float(centre[0]) * 16), round(float(centre[1]) * 16))
                cv2.circle(scratch, c, max(1, round(radius * 16)), 1, -1, cv2.LINE_8, _SHIFT)
            else:
                poly = np.round(_to_px(cam, prop, shape) * 16).astype(np.int32)
                cv2.fillPoly(scratch, [poly], 1, cv2.LINE_8, _SHIFT)
                if prop.kind == "pole":  # keep thin poles visible: at least one pixel wide
                    cv2.polylines(scratch, [poly], True, 1, 1, cv2.LINE_8, _SHIFT)
            sel = scratch.astype(bool)
            labels[sel] = name2label[label].id
            inst[sel] = inst_id if inst_id else name2label[label].id
            if rgb is None:
                cmask[sel] = False
            else:
                colour[sel] = rgb
                cmask[sel] = True
