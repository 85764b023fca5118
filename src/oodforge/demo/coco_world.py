"""The COCO part of the demo world: object images and an ``instances_train2017.json``.

Every image is busy clutter with 1-4 non-overlapping objects. Most are clean instances of the 18
default categories; a fixed set of "traps" must be removed by the default pool filters: a crowd, objects
cut by the image border, persons and a car (not allowed), tiny objects, a very thin arc (low solidity),
a very wide table (aspect) and a huge refrigerator (area ratio). Segmentations cycle through polygon,
compressed RLE and uncompressed RLE; ``area`` is the decoded mask's pixel count and ``bbox`` its box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from oodforge.config.schema import DEFAULT_CATEGORIES
from oodforge.demo._noise import to_uint8
from oodforge.demo.coco_categories import coco_categories_json, coco_category_id
from oodforge.demo.coco_encode import ENCODINGS, encode_mask, mask_bbox, solidity
from oodforge.demo.object_texture import busy_background, paint_object
from oodforge.demo.objects import ASPECT, FAMILY, silhouette

__all__ = ["CocoImage", "build_coco"]

#: (category, kind) of the annotations the default filters must exclude.
TRAPS: tuple[tuple[str, str], ...] = (
    ("sheep", "crowd"), ("dog", "truncated"), ("chair", "truncated"), ("banana", "truncated"),
    ("person", "other"), ("person", "other"), ("person", "other"), ("car", "other"),
    ("apple", "tiny"), ("cat", "tiny"), ("toaster", "tiny"), ("banana", "thin"),
    ("dining table", "wide"), ("refrigerator", "large"),
)  # fmt: skip
_FILL = {"animal": 0.34, "furniture": 0.5, "appliance": 0.8, "food": 0.5, "person": 0.58, "vehicle": 0.6}
_MARGIN = 8  # clean objects stay this far from the image border


@dataclass(frozen=True)
class CocoImage:
    """One written COCO image: its JSON entry and JPEG-ready RGB pixels."""

    entry: dict[str, Any]
    rgb: np.ndarray


@dataclass
class _Obj:
    category: str
    kind: str
    mask: np.ndarray  # local silhouette
    x: int = 0
    y: int = 0


def _box_size(rng: np.random.Generator, cat: str, kind: str, w: int, h: int) -> tuple[int, int]:
    area = w * h
    if kind == "tiny":
        target = rng.uniform(250, 650)
    elif kind == "large":
        return int(0.5 * w), int(0.85 * h)
    elif kind == "wide":
        return int(0.8 * w), max(12, int(0.8 * w / 4.5))
    else:
        target = float(np.clip(rng.uniform(0.03, 0.1) * area, 1500, 0.14 * area))
    aspect = ASPECT[cat] * rng.uniform(0.9, 1.1)
    box = target / _FILL[FAMILY[cat]]
    bw = min(math.sqrt(box * aspect), w - 2 * _MARGIN - 2)
    bh = min(box / bw, h - 2 * _MARGIN - 2)
    return max(6, round(bw)), max(6, round(bh))


def _arc(size: int, thickness: int) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    c = size // 2
    cv2.ellipse(m, (c, c), (c - thickness, c - thickness), 0, 20, 330, 1, thickness)
    return m


def _crowd(rng: np.random.Generator, bw: int, bh: int) -> np.ndarray:
    m = np.zeros((bh, bw), np.uint8)
    for _ in range(int(rng.integers(3, 6))):
        sw, sh = int(bw * rng.uniform(0.35, 0.5)), int(bh * rng.uniform(0.4, 0.6))
        x, y = int(rng.integers(0, bw - sw + 1)), int(rng.integers(0, bh - sh + 1))
        m[y : y + sh, x : x + sw] |= silhouette(rng, "sheep", sw, sh)
    return m


def _make(rng: np.random.Generator, cat: str, kind: str, w: int, h: int) -> _Obj:
    if kind == "thin":
        return _Obj(cat, kind, _arc(min(124, min(w, h) - 2 * _MARGIN), 5))
    if kind == "crowd":
        return _Obj(cat, kind, _crowd(rng, int(0.45 * w), int(0.4 * h)))
    bw, bh = _box_size(rng, cat, kind, w, h)
    return _Obj(cat, kind, silhouette(rng, cat, bw, bh))


def _place(rng: np.random.Generator, obj: _Obj, taken: list[tuple[int, int, int, int]], w: int, h: int) -> bool:
    """Find a free spot (3 px gap to other boxes); truncated objects stick out of a border."""
    bh, bw = obj.mask.shape
    for _ in range(80):
        if obj.kind == "truncated":
            side = int(rng.integers(4))
            x = int(rng.integers(_MARGIN, max(_MARGIN + 1, w - bw - _MARGIN)))
            y = int(rng.integers(_MARGIN, max(_MARGIN + 1, h - bh - _MARGIN)))
            if side == 0:
                x = -int(bw * rng.uniform(0.15, 0.35))
            elif side == 1:
                x = w - bw + int(bw * rng.uniform(0.15, 0.35))
            elif side == 2:
                y = -int(bh * rng.uniform(0.15, 0.35))
            else:
                y = h - bh + int(bh * rng.uniform(0.15, 0.35))
        else:
            if bw > w - 2 * _MARGIN or bh > h - 2 * _MARGIN:
                return False
            x = int(rng.integers(_MARGIN, w - bw - _MARGIN + 1))
            y = int(rng.integers(_MARGIN, h - bh - _MARGIN + 1))
        box = (x - 3, y - 3, x + bw + 3, y + bh + 3)
        if all(box[2] <= t[0] or t[2] <= box[0] or box[3] <= t[1] or t[3] <= box[1] for t in taken):
            obj.x, obj.y = x, y
            taken.append(box)
            return True
    return False


def _full_mask(obj: _Obj, w: int, h: int) -> np.ndarray:
    full = np.zeros((h, w), np.uint8)
    bh, bw = obj.mask.shape
    x0, y0, x1, y1 = max(obj.x, 0), max(obj.y, 0), min(obj.x + bw, w), min(obj.y + bh, h)
    full[y0:y1, x0:x1] = obj.mask[y0 - obj.y : y1 - obj.y, x0 - obj.x : x1 - obj.x]
    return full


def _clean_ok(mask: np.ndarray, w: int, h: int) -> bool:
    """A clean object passes the default filters with a safety margin."""
    area = int(mask.sum())
    x, y, bw, bh = mask_bbox(mask)
    return (
        max(1000.0, 0.002 * w * h) * 1.1 <= area <= 0.2 * w * h * 0.9
        and 0.35 <= bw / bh <= 2.8
        and solidity(mask) >= 0.3
        and x > 2 and y > 2 and x + bw < w - 2 and y + bh < h - 2
    )  # fmt: skip


def _plan(rng: np.random.Generator, n_images: int) -> list[list[tuple[str, str]]]:
    """Per image, the (category, kind) of its objects: traps spread evenly, clean objects cycling categories."""
    slots: list[list[tuple[str, str]]] = [[] for _ in range(n_images)]
    for j, trap in enumerate(TRAPS):
        if n_images:
            slots[(j * n_images) // len(TRAPS)].append(trap)
    cycle: list[str] = []
    for i in range(n_images):
        want = int(rng.integers(1, 5))
        if any(k in ("large", "wide", "crowd") for _, k in slots[i]):
            want = min(want, 2)
        while len(slots[i]) < want:
            if not cycle:
                cycle = [DEFAULT_CATEGORIES[k] for k in rng.permutation(len(DEFAULT_CATEGORIES))]
            slots[i].append((cycle.pop(), "clean"))
    return slots


def _render_image(
    rng: np.random.Generator, specs: list[tuple[str, str]], w: int, h: int
) -> tuple[np.ndarray, list[tuple[_Obj, np.ndarray]]]:
    objs = [_make(rng, cat, kind, w, h) for cat, kind in specs]
    objs.sort(key=lambda o: (o.kind == "clean", -o.mask.size))  # traps first, then big before small
    taken: list[tuple[int, int, int, int]] = []
    placed: list[tuple[_Obj, np.ndarray]] = []
    for first in objs:
        obj = first
        for _ in range(6):  # a clean object that would not pass the filters is redrawn
            if _place(rng, obj, taken, w, h):
                full = _full_mask(obj, w, h)
                if obj.kind != "clean" or _clean_ok(full, w, h):
                    placed.append((obj, full))
                    break
                taken.pop()
            obj = _make(rng, obj.category, obj.kind, w, h)
    img = busy_background(rng, w, h)
    return img, placed


def build_coco(rng: np.random.Generator, n_images: int) -> tuple[list[CocoImage], dict[str, Any]]:
    """Draw the COCO images and the instances JSON (info, licenses, images, annotations, categories)."""
    images: list[CocoImage] = []
    annotations: list[dict[str, Any]] = []
    for i, specs in enumerate(_plan(rng, n_images)):
        w, h = int(rng.integers(160, 321)), int(rng.integers(160, 321))
        if any(k in ("large", "wide", "thin", "crowd") for _, k in specs):
            w, h = max(w, 260), max(h, 220)
        img, placed = _render_image(rng, specs, w, h)
        image_id = 139 + 17 * i
        for obj, full in placed:
            enc = "rle_uncompressed" if obj.kind == "crowd" else ENCODINGS[len(annotations) % len(ENCODINGS)]
            seg, final = encode_mask(full, enc)
            ys, xs = np.nonzero(final)
            y0, x0 = int(ys.min()), int(xs.min())
            local = final[y0 : int(ys.max()) + 1, x0 : int(xs.max()) + 1]
            tex = paint_object(rng, "sheep" if obj.kind == "crowd" else obj.category, local)
            region = img[y0 : y0 + local.shape[0], x0 : x0 + local.shape[1]]
            region[local.astype(bool)] = tex[local.astype(bool)]
            annotations.append({
                "segmentation": seg,
                "area": float(final.sum()),
                "iscrowd": int(obj.kind == "crowd"),
                "image_id": image_id,
                "bbox": mask_bbox(final),
                "category_id": coco_category_id(obj.category),
                "id": 900100 + 3 * len(annotations),
            })  # fmt: skip
        rgb = to_uint8(cv2.GaussianBlur(img, (3, 3), 0.5))
        entry = {"license": 1, "file_name": f"{image_id:012d}.jpg", "coco_url": "", "height": h, "width": w,
                 "date_captured": "2013-11-14 16:28:13", "flickr_url": "", "id": image_id}  # fmt: skip
        images.append(CocoImage(entry=entry, rgb=rgb))
    doc = {
        "info": {"description": "oodforge demo world: procedural objects in the COCO 2017 instances format",
                 "url": "", "version": "1.0", "year": 2017, "contributor": "oodforge", "date_created": "2017/09/01"},
        "licenses": [{"url": "", "id": 1, "name": "procedural data generated by oodforge; no restrictions"}],
        "images": [im.entry for im in images],
        "annotations": annotations,
        "categories": coco_categories_json(),
    }  # fmt: skip
    return images, doc
