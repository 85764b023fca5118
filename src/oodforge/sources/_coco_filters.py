"""The filters of the COCO instance pool, in the order :mod:`oodforge.sources.coco_pool` applies them.

Every rejected annotation is counted under exactly one reason of :data:`REJECTION_REASONS` (the
first filter it fails, in that order):

0. ``malformed``: a field cannot be read (:func:`oodforge.sources._coco_check.annotation_problem`:
   a ``bbox`` that is not four numbers, ``area: null``, an odd polygon, a bad RLE, ...). Such an
   annotation is left out entirely, also as a neighbour in filter 10; the first one found is
   described in :attr:`Sifted.malformed_example`.
1. ``category``: its category is not in the allow-list.
2. ``crowd``: ``iscrowd`` is set (``exclude_crowd``).
3. ``truncated``: its ``bbox`` lies within ``truncation_margin_px`` of an image border
   (``exclude_truncated``): ``x <= m``, ``y <= m``, ``x + w >= W - m`` or ``y + h >= H - m``.
4. ``min_area_px``: its own ``area`` is below ``min_area_px``.
5. ``area_ratio``: ``area / (W * H)`` is outside ``area_ratio``.
6. ``aspect_ratio``: ``bbox`` ``w / h`` is outside ``aspect_ratio``.
7. ``empty_mask``: the decoded mask (as ``pycocotools.coco.COCO.annToMask``) has no pixel.
8. ``main_component``: its largest 8-connected component holds less than ``min_main_component``
   of its mask pixels (fence wire, a bedspread corner seen in pieces).
9. ``min_solidity``: mask pixels / pixels of the filled convex hull of all mask pixels is below
   ``min_solidity``.
10. ``occluded_outline``: more than ``max_occluded_outline`` of its outline touches another
    instance of the same image (see :func:`occluded_outline_fraction`).

Filters 0-6 read only the annotation; 7-9 its own mask; 10 also decodes the other annotations of
its image (any category, crowd included, whether allowed or not) whose ``bbox`` comes near it.
Should pycocotools still refuse a mask that filter 0 passed, the annotation counts as ``malformed``
too (as a neighbour it is left out of the union).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from oodforge.config.schema import CocoFilters
from oodforge.errors import ConfigError, InputFileError
from oodforge.sources._coco_check import Images, read_categories, segmentation_problem, split_malformed

__all__ = [
    "CATEGORIES_KEY",
    "REJECTION_REASONS",
    "TOUCH_PX",
    "ImageMasks",
    "Sifted",
    "allowed_ids",
    "cheap_reject",
    "decode",
    "judge_mask",
    "main_component_fraction",
    "occluded_outline_fraction",
    "outline",
    "sift",
    "solidity",
]

CATEGORIES_KEY = "synthesis.coco.allowed_categories"
Box = tuple[int, int, int, int]
#: Every rejection reason, in filter order; ``info.json`` "rejections" lists them all in this order.
REJECTION_REASONS: tuple[str, ...] = (
    "malformed", "category", "crowd", "truncated", "min_area_px", "area_ratio", "aspect_ratio", "empty_mask",
    "main_component", "min_solidity", "occluded_outline",
)  # fmt: skip
#: An outline pixel "touches" another instance when one of its pixels lies within this Chebyshev
#: distance (a 5 x 5 square around it): COCO polygons of touching objects leave gaps of 0-2 px.
TOUCH_PX = 2
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_SQUARE = np.ones((2 * TOUCH_PX + 1, 2 * TOUCH_PX + 1), np.uint8)


def allowed_ids(categories: list[Any], allowed: Sequence[str], path: Path) -> dict[int, str]:
    """COCO id -> name of the ``allowed`` category names; an unknown name is a :class:`ConfigError`."""
    by_name = read_categories(categories, path)
    for name in allowed:
        if name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=3, cutoff=0.5)
            hint = f"closest COCO names: {', '.join(repr(c) for c in close)}" if close else "no close COCO name"
            raise ConfigError(f"{CATEGORIES_KEY}: '{name}' is not a category of {path} ({hint})")
    return {by_name[name]: name for name in sorted(set(allowed))}


class Sifted(NamedTuple):
    """What :func:`sift` leaves for the mask filters.

    Attributes:
        rejected: every reason of :data:`REJECTION_REASONS` -> count so far.
        by_image: image id -> all its well-formed annotations (any category), ascending ids.
        todo: image id -> positions in ``by_image[id]`` of the annotations left for :func:`judge_mask`.
        malformed_example: the first malformed annotation (in file order) and what is wrong with it, or None.
    """

    rejected: dict[str, int]
    by_image: dict[int, list[dict[str, Any]]]
    todo: dict[int, list[int]]
    malformed_example: str | None


def sift(anns: list[Any], cats: dict[int, str], images: Images, f: CocoFilters) -> Sifted:
    """Filters 0-6 on every annotation; the well-formed ones in ascending id order."""
    rejected = dict.fromkeys(REJECTION_REASONS, 0)
    usable, rejected["malformed"], example = split_malformed(anns, images)
    by_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
    todo: dict[int, list[int]] = defaultdict(list)
    for ann in sorted(usable, key=lambda a: int(a["id"])):
        image_id = int(ann["image_id"])
        by_image[image_id].append(ann)
        if int(ann["category_id"]) not in cats:
            rejected["category"] += 1
        elif reason := cheap_reject(ann, *images[image_id][1:], f):
            rejected[reason] += 1
        else:
            todo[image_id].append(len(by_image[image_id]) - 1)
    return Sifted(rejected, by_image, todo, example)


def cheap_reject(ann: dict[str, Any], width: int, height: int, f: CocoFilters) -> str | None:
    """The reason among filters 2-6 that rejects ``ann`` (of a ``width`` x ``height`` image), or ``None``."""
    x, y, w, h = (float(v) for v in ann["bbox"])
    area = float(ann["area"])
    m = f.truncation_margin_px
    if f.exclude_crowd and ann.get("iscrowd", 0):
        return "crowd"
    if f.exclude_truncated and (x <= m or y <= m or x + w >= width - m or y + h >= height - m):
        return "truncated"
    if area < f.min_area_px:
        return "min_area_px"
    if not f.area_ratio[0] <= area / max(width * height, 1) <= f.area_ratio[1]:
        return "area_ratio"
    if w <= 0 or h <= 0 or not f.aspect_ratio[0] <= w / h <= f.aspect_ratio[1]:
        return "aspect_ratio"
    return None


def decode(ann: dict[str, Any], width: int, height: int, path: Path) -> np.ndarray:
    """Full (H, W) bool mask, decoded exactly like ``COCO.annToMask``.

    Raises:
        InputFileError: the segmentation is malformed or pycocotools refuses it (one line naming
            the JSON, the annotation and the field).
    """
    seg = ann["segmentation"]
    where = f"{path}: annotation {ann['id']}"
    problem = segmentation_problem(seg, width, height)
    if problem is not None:
        raise InputFileError(f"{where}: {problem}")
    if isinstance(seg, list) and not seg:
        return np.zeros((height, width), dtype=bool)
    try:
        if isinstance(seg, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
        elif isinstance(seg["counts"], list):
            rle = mask_utils.frPyObjects(seg, height, width)
        else:
            rle = seg
        return np.asarray(mask_utils.decode(rle)).astype(bool)
    except MemoryError:
        raise
    except Exception as exc:  # pycocotools raises bare Exception ("input type is not supported")
        raise InputFileError(
            f"{where}: 'segmentation' undecodable ({type(exc).__name__}: {exc}); expected polygons or RLE"
        ) from exc


def main_component_fraction(crop: np.ndarray) -> float:
    """Pixels of the largest 8-connected component / all mask pixels, in (0, 1]; 0 for an empty mask."""
    u8 = np.ascontiguousarray(crop, dtype=np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(u8, connectivity=8)
    if n < 2:
        return 0.0
    areas = stats[1:, cv2.CC_STAT_AREA]
    return float(areas.max()) / float(areas.sum())


def solidity(crop: np.ndarray) -> float:
    """Mask pixels / pixels of the filled convex hull of all mask pixels, in (0, 1]."""
    u8 = np.ascontiguousarray(crop, dtype=np.uint8)
    contours, _ = cv2.findContours(u8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(np.concatenate(contours))
    canvas = np.zeros_like(u8)
    cv2.fillConvexPoly(canvas, hull, 1)
    return min(1.0, float(np.count_nonzero(crop)) / max(float(np.count_nonzero(canvas | u8)), 1.0))


def outline(mask: np.ndarray) -> np.ndarray:
    """Bool outline of a mask: its pixels with a 4-neighbour outside it (outside the array counts as outside)."""
    u8 = np.ascontiguousarray(mask, dtype=np.uint8)
    inner = cv2.erode(u8, _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return (u8 > inner).view(np.bool_) if u8.size else np.zeros(u8.shape, bool)


def occluded_outline_fraction(mask: np.ndarray, others: np.ndarray) -> float:
    """Fraction of ``mask``'s outline pixels within :data:`TOUCH_PX` (Chebyshev) of an ``others`` pixel.

    The outline is :func:`outline` (mask pixels with a 4-neighbour outside the mask); an outline pixel
    touches when the 5 x 5 square centred on it holds a pixel of another instance (an outline pixel
    that another, overlapping annotation covers touches too).

    Args:
        mask: (H, W) bool mask of the instance.
        others: (H, W) bool union of the other instances' masks on the same pixel grid; it should
            extend :data:`TOUCH_PX` pixels beyond ``mask``'s box (or to the image border).

    Returns:
        ``|outline & dilate(others, (2 * TOUCH_PX + 1)^2 square)| / |outline|`` in [0, 1]; 0 for an empty mask.
    """
    edge = outline(mask)
    total = np.count_nonzero(edge)
    if not total or not others.any():
        return 0.0
    near = cv2.dilate(np.ascontiguousarray(others, dtype=np.uint8), _SQUARE, borderType=cv2.BORDER_CONSTANT)
    return float(np.count_nonzero(edge & near.view(np.bool_))) / float(total)


def judge_mask(masks: ImageMasks, i: int, f: CocoFilters) -> str | tuple[np.ndarray, Box]:
    """Filters 7-10 on annotation ``i`` of an image: the reason that rejects it, or (tight mask, ``x, y, w, h``).

    ``"malformed"`` when pycocotools refuses its mask (then ``masks.problems[i]`` says why).
    """
    full = masks.mask(i)
    if i in masks.problems:
        return "malformed"
    ys, xs = np.flatnonzero(full.any(axis=1)), np.flatnonzero(full.any(axis=0))
    if not ys.size:
        return "empty_mask"
    crop = full[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1]
    if main_component_fraction(crop) < f.min_main_component:
        return "main_component"
    if solidity(crop) < f.min_solidity:
        return "min_solidity"
    box = (int(xs[0]), int(ys[0]), crop.shape[1], crop.shape[0])
    if f.max_occluded_outline >= 1.0:  # no fraction exceeds 1: spare decoding the neighbours
        return crop, box
    others, x0, y0 = masks.others_near(i, box)
    x, y, w, h = box
    window = np.zeros_like(others)
    window[y - y0 : y - y0 + h, x - x0 : x - x0 + w] = crop
    if occluded_outline_fraction(window, others) > f.max_occluded_outline:
        return "occluded_outline"
    return crop, box


class ImageMasks:
    """The annotations of one image, each decoded at most once, on demand.

    Args:
        anns: every well-formed annotation of the image (any category, crowd included; see :func:`sift`).
        width: image width.
        height: image height.
        path: the JSON, for error messages.

    Attributes:
        problems: position -> ``annotation <id>: <why pycocotools refused its mask>`` (the mask counts as empty).
    """

    def __init__(self, anns: list[dict[str, Any]], width: int, height: int, path: Path) -> None:
        self._anns = anns
        self._size = (width, height)
        self._path = path
        self._boxes = np.asarray([a["bbox"] for a in anns], np.float64).reshape(-1, 4)
        self._decoded: dict[int, np.ndarray] = {}
        self.problems: dict[int, str] = {}

    def mask(self, i: int) -> np.ndarray:
        """Full (H, W) bool mask of annotation ``i`` (its position in ``anns``), decoded once; empty if refused."""
        if i not in self._decoded:
            try:
                self._decoded[i] = decode(self._anns[i], *self._size, self._path)
            except InputFileError as exc:
                self.problems[i] = str(exc).removeprefix(f"{self._path}: ")
                self._decoded[i] = np.zeros(self._size[::-1], dtype=bool)
        return self._decoded[i]

    def others_near(self, i: int, box: Box) -> tuple[np.ndarray, int, int]:
        """Union of the masks of all annotations but ``i`` around ``box`` (``x, y, w, h``), grown by :data:`TOUCH_PX`.

        Returns:
            ``(union, x0, y0)``: the bool union over the window ``box`` grown by ``TOUCH_PX`` (clipped to
            the image) and the window's top-left corner in the image. Only annotations whose ``bbox``
            comes within ``TOUCH_PX + 2`` px of the window are decoded.
        """
        width, height = self._size
        x, y, w, h = box
        x0, y0 = max(x - TOUCH_PX, 0), max(y - TOUCH_PX, 0)
        x1, y1 = min(x + w + TOUCH_PX, width), min(y + h + TOUCH_PX, height)
        union = np.zeros((y1 - y0, x1 - x0), bool)
        pad = TOUCH_PX + 2  # COCO boxes are rounded floats around the polygons: leave slack
        b = self._boxes
        near = (b[:, 0] <= x1 + pad) & (b[:, 1] <= y1 + pad) & (b[:, 0] + b[:, 2] >= x0 - pad)
        near &= b[:, 1] + b[:, 3] >= y0 - pad
        near[i] = False
        for j in np.flatnonzero(near).tolist():
            union |= self.mask(j)[y0:y1, x0:x1]
        return union, x0, y0
