"""Texture for demo scenes: per-label base colours, gradients, noise, road markings, windows, tiles."""

from __future__ import annotations

import cv2
import numpy as np

from oodforge.demo._noise import smooth_noise, to_uint8
from oodforge.demo.street import Street
from oodforge.sources.cityscapes_labels import name2label

__all__ = ["finish_image", "paint_background", "shade_ground"]

#: name -> (base RGB, smooth-noise amplitude, fine-noise sigma)
_LOOK: dict[str, tuple[tuple[int, int, int], float, float]] = {
    "sky": ((122, 162, 206), 7.0, 1.5),
    "building": ((128, 120, 112), 22.0, 5.0),
    "vegetation": ((68, 98, 44), 16.0, 9.0),
    "terrain": ((122, 134, 74), 14.0, 7.0),
    "road": ((86, 86, 91), 6.0, 5.0),
    "sidewalk": ((152, 144, 138), 9.0, 5.0),
    "ground": ((150, 132, 112), 10.0, 6.0),
    "pole": ((112, 112, 116), 4.0, 3.0),
    "traffic sign": ((205, 180, 45), 4.0, 3.0),
    "traffic light": ((40, 42, 40), 3.0, 2.0),
}
_FLAT = ("road", "sidewalk", "terrain", "ground", "parking")


def _luts(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    base = np.zeros((256, 3), np.float32)
    amp = np.zeros(256, np.float32)
    sigma = np.zeros(256, np.float32)
    for name, (rgb, a, s) in _LOOK.items():
        lid = name2label[name].id
        base[lid] = np.asarray(rgb, np.float32) + rng.uniform(-14, 14, 3).astype(np.float32)
        amp[lid], sigma[lid] = a, s
    return base, amp, sigma


def paint_background(
    rng: np.random.Generator, labels: np.ndarray, maps: dict[str, np.ndarray], street: Street
) -> np.ndarray:
    """Float RGB (H, W, 3) texture of every label region (things are coloured separately).

    Args:
        rng: the frame's generator.
        labels: Cityscapes label ids (H, W).
        maps: ``z`` (forward metres, inf above the horizon) and ``lat`` (metres from the road centre).
        street: the frame's layout (road half-width for the edge lines).
    """
    h, w = labels.shape
    base, amp, sigma = _luts(rng)
    img = base[labels]
    a = amp[labels][..., None]
    img += smooth_noise(rng, h, w, 22.0)[..., None] * a  # brightness
    img += smooth_noise(rng, h, w, 40.0, 3) * (0.3 * a)  # a little hue drift
    img += (smooth_noise(rng, h, w, 5.0) * 0.5 * amp[labels])[..., None]
    img += rng.standard_normal((h, w), dtype=np.float32)[..., None] * sigma[labels][..., None]
    v = np.arange(h, dtype=np.float32)[:, None]
    u = np.arange(w, dtype=np.float32)[None, :]
    z, lat = maps["z"], maps["lat"]
    ground = np.isfinite(z)
    zg = np.where(ground, z, 1e6)
    sky = labels == name2label["sky"].id
    img[sky] += (np.broadcast_to(v / max(h, 1), (h, w))[sky] * 70.0)[:, None] * np.array([0.8, 0.7, 0.45], np.float32)
    bld = labels == name2label["building"].id
    gx, gy = int(rng.integers(5, 9)), int(rng.integers(6, 10))
    win = ((u + int(rng.integers(0, 5))) % gx < gx - 2) & ((v + int(rng.integers(0, 5))) % gy < gy / 2)
    img[bld & win] *= 0.62
    road = labels == name2label["road"].id
    dash = (np.abs(lat) < 0.08) & ((zg % 9.0) < 3.5) & (zg < 90)
    edge = np.abs(np.abs(lat) - (street.half - 0.3)) < 0.07
    img[road & (dash | edge)] = (218.0, 218.0, 208.0)
    sw = (labels == name2label["sidewalk"].id) | (labels == name2label["ground"].id)
    tiles = ((zg % 0.9) < 0.06) | ((np.abs(lat) % 0.9) < 0.05)
    img[sw & tiles & (zg < 25)] -= 22.0
    flat = np.isin(labels, [name2label[n].id for n in _FLAT])
    haze = np.where(ground & flat, 1.0 - np.exp(-zg / 260.0), 0.0).astype(np.float32)[..., None]
    img = img * (1 - haze) + np.array([180.0, 190.0, 200.0], np.float32) * haze
    return img.astype(np.float32)


def shade_ground(background: np.ndarray, labels: np.ndarray, shadow: np.ndarray) -> None:
    """Darken the flat ground (road, sidewalk, terrain, ground, parking) of ``background`` by ``shadow`` (in place).

    Args:
        background: float RGB (H, W, 3) from :func:`paint_background`.
        labels: Cityscapes label ids (H, W).
        shadow: float (H, W) in [0, 1): the fraction of light taken away (contact shadows of the props).
    """
    flat = np.isin(labels, [name2label[n].id for n in _FLAT])
    background[flat] *= (1.0 - shadow[flat])[:, None]


def finish_image(rng: np.random.Generator, background: np.ndarray, colour: np.ndarray, cmask: np.ndarray) -> np.ndarray:
    """Composite thing colours over the background, soften edges a little, add sensor noise; uint8 RGB."""
    h, w = cmask.shape
    shade = 1.0 + 0.12 * smooth_noise(rng, h, w, 8.0)
    img = np.where(cmask[..., None], colour * shade[..., None], background).astype(np.float32)
    soft: np.ndarray = cv2.GaussianBlur(img, (3, 3), 0.6)
    return to_uint8(soft + rng.standard_normal(soft.shape, dtype=np.float32) * 3.0)
