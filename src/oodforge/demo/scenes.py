"""Procedural Cityscapes-like street scenes: labels from a flat-ground camera model, then texture.

A scene is a street (road, sidewalks, optional terrain, building or vegetation walls on both sides, an
optional facade closing the street) or, for ``has_road=False``, a plaza paved with the void label
``ground`` (no road, no sidewalk: nothing can be placed there with the default targets). Props (street
lamps, sign posts, traffic lights, trees, cars, persons, cyclists; :mod:`oodforge.demo.scene_props`) stand
on the ground at metric sizes, some of them near the camera, and cast soft contact shadows, so the drawn
scene agrees with the camera written next to it. Labels are official Cityscapes label ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from oodforge.demo.camera import Camera, random_camera
from oodforge.demo.scene_props import draw_props, plan_props
from oodforge.demo.scene_texture import finish_image, paint_background, shade_ground
from oodforge.demo.street import Street, random_street
from oodforge.sources.cityscapes_labels import name2label

__all__ = ["Scene", "empty_labels", "render_scene"]

_ID = {name: lab.id for name, lab in name2label.items()}


@dataclass(frozen=True)
class Scene:
    """One rendered frame: RGB image, Cityscapes label ids, instance ids and its camera."""

    rgb: np.ndarray
    label_ids: np.ndarray
    instance_ids: np.ndarray
    camera: Camera
    has_road: bool


def _wall_tops(cam: Camera, street: Street, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per column: top row of the side wall (inf where none) and whether the wall is the left one."""
    c, s, h = math.cos(cam.pitch), math.sin(cam.pitch), cam.height
    u = np.arange(width, dtype=np.float64) + 0.5
    left = u < cam.u0
    x_wall = np.where(left, street.wall_x(left=True), street.wall_x(left=False))
    du = u - cam.u0
    with np.errstate(divide="ignore", invalid="ignore"):
        zc = cam.fx * x_wall / np.where(np.abs(du) < 1e-6, 1e-6, du)
    z = (zc - h * s) / c
    tops = np.full(width, np.inf)
    ok = (zc > 0) & (z > 0.5) & (z < street.z_end)
    for side_left in (True, False):
        sel = ok & (left == side_left)
        hb = street.wall_heights(z[sel], left=side_left)
        y = h - hb
        tops[sel] = cam.v0 + cam.fy * (y * c - z[sel] * s) / (z[sel] * c + y * s)
    return tops, left


def _far_tops(cam: Camera, street: Street, width: int) -> np.ndarray:
    """Per column: top row of the facade closing the street, or of the distant skyline."""
    c, s, h = math.cos(cam.pitch), math.sin(cam.pitch), cam.height
    heights = street.far_heights(width)
    if math.isfinite(street.z_end):
        y = h - heights
        return cam.v0 + cam.fy * (y * c - street.z_end * s) / (street.z_end * c + y * s)
    return cam.horizon - heights  # distant skyline: heights in pixels


def layout_labels(cam: Camera, street: Street, height: int, width: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Background label ids (no props) and the ground maps used for texture.

    Returns:
        ``(labels, maps)``: uint8 (H, W) label ids; ``maps`` holds ``z`` (forward metres, inf above the
        horizon) and ``lat`` (metres from the road centre line).
    """
    z, x = cam.ground_maps(height, width)
    ground = np.isfinite(z)
    zf = np.where(ground, z, 0.0)
    lat = x - street.centre(zf)
    labels = np.full((height, width), _ID["sky"], np.uint8)
    side = np.where(lat < 0, _ID[street.side_left], _ID[street.side_right]).astype(np.uint8)
    labels[ground] = side[ground]
    lo_sw = np.where(lat < 0, -street.half - street.sw_left, 0.0)
    hi_sw = np.where(lat < 0, 0.0, street.half + street.sw_right)
    lo_t = np.where(lat < 0, lo_sw - street.terrain_left, 0.0)
    hi_t = np.where(lat < 0, 0.0, hi_sw + street.terrain_right)
    near = ground & (zf < street.z_end)
    labels[near & (lat >= lo_t) & (lat <= hi_t)] = _ID["terrain"]
    labels[near & (lat >= lo_sw) & (lat <= hi_sw)] = _ID[street.paving]
    if street.has_road:
        labels[near & (np.abs(lat) <= street.half)] = _ID["road"]
    for cx, cz, rx, rz in street.patches:
        labels[near & (((lat - cx) / rx) ** 2 + ((zf - cz) / rz) ** 2 < 1.0)] = _ID["terrain"]
    labels[ground & (zf >= street.z_end)] = _ID["building"]
    # above the horizon: walls on both sides, the far facade or skyline, sky
    wall_top, left = _wall_tops(cam, street, width)
    far_top = _far_tops(cam, street, width)
    v = np.arange(height, dtype=np.float64)[:, None] + 0.5
    wall_lab = np.where(left, _ID[street.side_left], _ID[street.side_right]).astype(np.uint8)
    above = ~ground
    in_far = above & (v >= far_top[None, :])
    in_wall = above & (v >= wall_top[None, :])
    labels[in_far] = _ID["building"]
    wall_wins = in_wall & ((wall_top < far_top)[None, :] | ~in_far)
    labels[wall_wins] = np.broadcast_to(wall_lab[None, :], labels.shape)[wall_wins]
    return labels, {"z": z, "lat": lat}


def _ego_and_frame(labels: np.ndarray, inst: np.ndarray, colour: np.ndarray, cmask: np.ndarray) -> None:
    """Draw the ego-vehicle hood, the out-of-roi frame and the rectification border (in place)."""
    h, w = labels.shape
    v = np.arange(h, dtype=np.float64)[:, None] + 0.5
    u = np.arange(w, dtype=np.float64)[None, :] + 0.5
    hood = ((u - w / 2) / (0.78 * w)) ** 2 + ((v - 1.16 * h) / (0.32 * h)) ** 2 < 1.0
    labels[hood] = _ID["ego vehicle"]
    shade = np.clip((v - 0.84 * h) / (0.16 * h), 0, 1)
    hood_rgb = np.stack([38 + 30 * (1 - shade), 40 + 30 * (1 - shade), 46 + 34 * (1 - shade)], axis=-1)
    colour[hood] = np.broadcast_to(hood_rgb, (h, w, 3))[hood]
    cmask[hood] = True
    b = max(1, round(w / 256))
    rect = np.zeros((h, w), bool)
    rect[:, b : 2 * b + 1] = True
    rect[:, w - 2 * b - 1 : w - b] = True
    rect &= v > 0.6 * h
    labels[rect] = _ID["rectification border"]
    colour[rect] = (6, 6, 6)
    cmask[rect] = True
    roi = np.zeros((h, w), bool)
    roi[:b, :] = roi[-b:, :] = roi[:, :b] = roi[:, -b:] = True
    labels[roi] = _ID["out of roi"]
    fixed = hood | rect | roi
    inst[fixed] = labels[fixed]


def empty_labels(labels: np.ndarray) -> np.ndarray:
    """Labels as in the public Cityscapes test split: 0 everywhere but ego vehicle and out of roi."""
    keep = (labels == _ID["ego vehicle"]) | (labels == _ID["out of roi"])
    return np.where(keep, labels, 0).astype(np.uint8)


def render_scene(rng: np.random.Generator, width: int, height: int, *, has_road: bool = True) -> Scene:
    """Render one frame (labels, instances, texture) from ``rng``."""
    cam = random_camera(rng, width, height)
    street = random_street(rng, has_road=has_road)
    labels, maps = layout_labels(cam, street, height, width)
    inst = labels.astype(np.uint16)
    colour = np.zeros((height, width, 3), np.float32)
    cmask = np.zeros((height, width), bool)
    props = plan_props(rng, cam, street, (width, height))
    shadow = draw_props(props, cam, labels, inst, colour, cmask)
    background = paint_background(rng, labels, maps, street)
    shade_ground(background, labels, shadow)
    _ego_and_frame(labels, inst, colour, cmask)
    rgb = finish_image(rng, background, colour, cmask)
    return Scene(rgb=rgb, label_ids=labels, instance_ids=inst, camera=cam, has_road=street.has_road)
