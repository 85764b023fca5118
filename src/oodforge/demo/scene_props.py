"""Props standing on the demo ground: street lamps, sign posts, traffic lights, trees, cars, persons, cyclists.

A street frame gets random props at all depths plus a guaranteed near group (:func:`plan_props`): a post
(street lamp, sign post or traffic light) on each kerb and a parked car, a pedestrian at the kerb or
crossing the road, or a cyclist at the road edge, all placed where their foot is in view (between the
horizon and the ego vehicle, inside the frame), so that objects pasted behind them are partly hidden. A
plaza gets a post and a pedestrian the same way.

Props are drawn far to near (painter's order) into the label, instance and colour layers. Persons, riders,
cars and bicycles get Cityscapes instance ids ``label_id * 1000 + k`` (k from 0 per class, in drawing
order) and their own colours; poles carry their signs and lights, which touch them, and trees only set
labels. Every prop also leaves a soft contact shadow on the ground under its foot (:func:`draw_props`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from oodforge.demo.camera import Camera
from oodforge.demo.prop_shapes import FOOTPRINTS, Part, shape_of
from oodforge.demo.street import Street
from oodforge.sources.cityscapes_labels import name2label

__all__ = ["Prop", "draw_props", "plan_props"]

_SHIFT = 4  # cv2 sub-pixel bits
_POSTS = ("pole", "sign post", "traffic light")
_POST_P = (0.4, 0.35, 0.25)
#: darkening at the centre of the contact shadow, per kind
_SHADOW = {"car": 0.5, "person": 0.35, "cyclist": 0.35, "tree": 0.3}
_POST_SHADOW = 0.25


@dataclass(frozen=True)
class Prop:
    """A prop at lateral position ``x`` (m, vehicle frame) and forward distance ``z`` (m)."""

    kind: str
    x: float
    z: float
    parts: tuple[Part, ...]


def _lateral(rng: np.random.Generator, street: Street, what: str, left: bool) -> float:
    """Lateral offset (m) from the centre line of a foot point on ``road``, ``kerb`` or ``sidewalk``."""
    if not street.has_road:
        return float(rng.uniform(-street.sw_left + 1.0, street.sw_right - 1.0))
    lo, hi = street.lateral_band(what, left=left)
    return float(rng.uniform(lo, hi)) * (-1.0 if left else 1.0)


def _place(rng: np.random.Generator, street: Street, what: str, z_range: tuple[float, float]) -> tuple[float, float]:
    """(x, z) of a foot point on the given band (``road``, ``kerb``, ``sidewalk``), random side."""
    z = float(rng.uniform(z_range[0], min(z_range[1], street.z_end - 3.0)))
    lat = _lateral(rng, street, what, bool(rng.random() < 0.5))
    return float(street.centre(np.asarray(z))) + lat, z


def _in_view(cam: Camera, x: float, z: float, size: tuple[int, int]) -> bool:
    """Whether the foot point (x, z) is seen inside the frame, between the horizon and the ego vehicle."""
    width, height = size
    u, v = cam.project(x, cam.height, z)
    return 0.1 * width <= u <= 0.9 * width and cam.horizon + 3 <= v <= 0.8 * height


def _hides(cam: Camera, prop: Prop, other: Prop) -> bool:
    """Whether ``prop`` stands nearer than ``other`` and its image box holds ``other``'s foot point."""
    if prop.z >= other.z:
        return False
    u, v = cam.project(other.x, cam.height, other.z)
    pts = []
    for _, _, shape in prop.parts:
        if shape.ndim == 1:  # circle: its bounding square
            r = float(shape[2])
            shape = np.array([[shape[0] - r, shape[1] - r], [shape[0] + r, shape[1] + r]])
        pts.append(_to_px(cam, prop, shape))
    box = np.concatenate(pts)
    lo, hi = box.min(axis=0) - 2.0, box.max(axis=0) + 2.0
    return bool(lo[0] <= u <= hi[0] and lo[1] <= v <= hi[1])


def _place_in_view(
    rng: np.random.Generator,
    cam: Camera,
    street: Street,
    kind: str,
    *,
    what: str = "kerb",
    left: bool,
    z_range: tuple[float, float],
    size: tuple[int, int],
    inward: float = 0.0,
    keep_clear: tuple[Prop, ...] = (),
) -> Prop:
    """A ``kind`` prop on the ``left`` or right ``kerb`` (or ``road``) with its foot in view (:func:`_in_view`).

    Up to 24 draws of the position; the first in view that hides none of ``keep_clear`` wins, else the
    last. ``inward`` moves the foot from the kerb towards the road centre (a parked car, a cyclist).
    """
    parts = shape_of(kind, rng)
    prop = Prop(kind, 0.0, 0.0, parts)
    for _ in range(24):
        z = float(rng.uniform(z_range[0], min(z_range[1], street.z_end - 3.0)))
        lat = _lateral(rng, street, what, left)
        prop = Prop(kind, float(street.centre(np.asarray(z))) + lat - float(np.sign(lat)) * inward, z, parts)
        if _in_view(cam, prop.x, prop.z, size) and not any(_hides(cam, prop, other) for other in keep_clear):
            break
    return prop


def _near_group(rng: np.random.Generator, cam: Camera, street: Street, size: tuple[int, int]) -> list[Prop]:
    """The guaranteed near occluders (see the module docstring)."""
    posts: list[Prop] = []
    for left in (True, False) if street.has_road else (bool(rng.random() < 0.5),):
        kind = str(rng.choice(_POSTS, p=_POST_P))
        posts.append(_place_in_view(rng, cam, street, kind, left=left, z_range=(8.0, 28.0), size=size))
    left = bool(rng.random() < 0.5)
    pick = float(rng.random()) if street.has_road else 0.5
    kind, what, z_range, inward = "person", "kerb", (7.0, 24.0), 0.0  # at the kerb
    if pick < 0.35:
        kind, z_range, inward = "car", (9.0, 30.0), 1.3  # parked next to the kerb
    elif pick >= 0.8:
        kind, z_range, inward = "cyclist", (9.0, 30.0), 0.9  # at the road edge
    elif pick >= 0.65:
        what, z_range = "road", (10.0, 30.0)  # crossing the road
    thing = _place_in_view(
        rng, cam, street, kind, what=what, left=left, z_range=z_range, size=size, inward=inward,
        keep_clear=tuple(posts),
    )  # fmt: skip
    return [*posts, thing]


def plan_props(rng: np.random.Generator, cam: Camera, street: Street, size: tuple[int, int]) -> list[Prop]:
    """Choose the frame's props (kinds, positions and shapes) for a ``size`` = (width, height) frame.

    Random props that would hide the foot of a near-group prop are left out.
    """
    props: list[Prop] = []
    if street.has_road:
        for _ in range(int(rng.integers(0, 5))):
            band = "road" if rng.random() < 0.7 else "kerb"
            x, z = _place(rng, street, band, (7.0, 55.0))
            if band == "kerb":  # parked: inside the road, next to the kerb
                x -= np.sign(x - street.offset) * 1.3
            props.append(Prop("car", x, z, shape_of("car", rng)))
    n_persons = int(rng.integers(0, 4)) if street.has_road else int(rng.integers(1, 5))
    for _ in range(n_persons):
        x, z = _place(rng, street, "sidewalk", (5.0, 35.0))
        props.append(Prop("person", x, z, shape_of("person", rng)))
    for _ in range(int(rng.integers(1, 4))):
        x, z = _place(rng, street, "kerb", (12.0, 70.0))
        kind = str(rng.choice(_POSTS, p=_POST_P))
        props.append(Prop(kind, x, z, shape_of(kind, rng)))
    if "vegetation" in (street.side_left, street.side_right) or rng.random() < 0.4:
        for _ in range(int(rng.integers(1, 5))):
            x, z = _place(rng, street, "sidewalk", (8.0, 60.0))
            props.append(Prop("tree", x, z, shape_of("tree", rng)))
    near = _near_group(rng, cam, street, size)
    return [p for p in props if not any(_hides(cam, p, n) for n in near)] + near


def _to_px(cam: Camera, prop: Prop, pts: np.ndarray) -> np.ndarray:
    """Metric (dx, dy-up) points of a prop to image (u, v)."""
    k = cam.fx / cam.depth(cam.height, prop.z)
    u_c, v_b = cam.project(prop.x, cam.height, prop.z)
    return np.stack([u_c + pts[:, 0] * k, v_b - pts[:, 1] * k], axis=1)


def _window(pts: np.ndarray, shape: tuple[int, int]) -> tuple[slice, slice] | None:
    """Rows and columns of ``shape`` around the (u, v) points ``pts`` (one pixel of margin); None if outside."""
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), shape[1]), min(int(y1), shape[0])
    return (slice(y0, y1), slice(x0, x1)) if x0 < x1 and y0 < y1 else None


def _shadow(cam: Camera, prop: Prop, shadow: np.ndarray) -> None:
    """Add the prop's contact shadow (an ellipse on the ground around its foot) to ``shadow`` (in place)."""
    half, depth = FOOTPRINTS[prop.kind]
    u_c, _ = cam.project(prop.x, cam.height, prop.z)
    _, v_near = cam.project(prop.x, cam.height, max(prop.z - 0.5 * depth, 0.5))
    _, v_far = cam.project(prop.x, cam.height, prop.z + 0.5 * depth)
    k = cam.fx / cam.depth(cam.height, prop.z)
    cu, cv = u_c, 0.5 * (v_near + v_far)
    au, av = max(1.0, 1.15 * half * k), max(1.0, 0.5 * (v_near - v_far))
    win = _window(np.array([[cu - au, cv - av], [cu + au, cv + av]]), shadow.shape)
    if win is None:
        return
    ys, xs = win
    blob = np.zeros((ys.stop - ys.start, xs.stop - xs.start), np.float32)
    centre = (round((cu - xs.start) * 16), round((cv - ys.start) * 16))
    strength = _SHADOW.get(prop.kind, _POST_SHADOW)
    cv2.ellipse(blob, centre, (round(au * 16), round(av * 16)), 0.0, 0.0, 360.0, strength, -1, cv2.LINE_AA, _SHIFT)
    np.maximum(shadow[win], blob, out=shadow[win])


def _fill(cam: Camera, prop: Prop, shape: np.ndarray, size: tuple[int, int]) -> tuple[tuple[slice, slice], np.ndarray]:
    """One part of ``prop`` rasterized: its window in a ``size`` = (H, W) frame and the bool mask inside it."""
    if shape.ndim == 1:  # circle
        centre = _to_px(cam, prop, shape[None, :2])[0]
        radius = max(1.0 / 16, float(shape[2]) * cam.fx / cam.depth(cam.height, prop.z))
        pts = np.array([centre - radius, centre + radius])
    else:
        pts = _to_px(cam, prop, shape)
    win = _window(pts, size)
    if win is None:
        return (slice(0, 0), slice(0, 0)), np.zeros((0, 0), bool)
    ys, xs = win
    scratch = np.zeros((ys.stop - ys.start, xs.stop - xs.start), np.uint8)
    local = np.round((pts - [xs.start, ys.start]) * 16).astype(np.int32)
    if shape.ndim == 1:
        c = (round(float(centre[0] - xs.start) * 16), round(float(centre[1] - ys.start) * 16))
        cv2.circle(scratch, c, max(1, round(radius * 16)), 1, -1, cv2.LINE_8, _SHIFT)
    else:
        cv2.fillPoly(scratch, [local], 1, cv2.LINE_8, _SHIFT)
        cv2.polylines(scratch, [local], True, 1, 1, cv2.LINE_8, _SHIFT)  # thin parts stay >= 1 px wide
    return win, scratch.astype(bool)


def draw_props(
    props: list[Prop], cam: Camera, labels: np.ndarray, inst: np.ndarray, colour: np.ndarray, cmask: np.ndarray
) -> np.ndarray:
    """Draw ``props`` far to near into the label/instance/colour layers (in place).

    Returns:
        float32 (H, W) contact-shadow map in [0, 1): how much to darken the ground at each pixel.
    """
    counters: dict[str, int] = {}
    shadow = np.zeros(labels.shape, np.float32)
    for prop in sorted(props, key=lambda p: (-p.z, p.x)):
        _shadow(cam, prop, shadow)
        ids: dict[str, int] = {}
        for label, rgb, shape in prop.parts:
            lab = name2label[label]
            if lab.has_instances and label not in ids:
                ids[label] = lab.id * 1000 + counters.get(label, 0)
                counters[label] = counters.get(label, 0) + 1
            win, sel = _fill(cam, prop, shape, labels.shape)
            labels[win][sel] = lab.id
            inst[win][sel] = ids.get(label, lab.id)
            cmask[win][sel] = rgb is not None
            if rgb is not None:
                colour[win][sel] = rgb
    return cv2.GaussianBlur(shadow, (0, 0), 1.2)
