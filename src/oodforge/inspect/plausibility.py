"""How plausible the placed objects of a synthesized dataset look: size, wholeness, colour, texture, location.

Pure measuring functions on arrays, and :func:`dataset_plausibility`, which runs them over a dataset image by
image (bounded memory) and summarises them per split (``oodforge stats``). The figures and their exact
definitions:

- **size**: ``visible bbox height / expected height``; expected = ``real height * (bottom row - horizon) /
  1.22 m`` with the horizon of the standard Cityscapes camera (:func:`standard_horizon_row`). In range when
  within ``[0.5, 2]``; an object whose bottom row is at or above the horizon is out of range.
- **whole**: >= 95 % of the visible pixels lie in one 8-connected component.
- **chroma shift**: distance between the mean CIELab (a, b) of the source COCO object and of the pasted
  object's visible pixels eroded by 2 px (un-eroded when the erosion empties it).
- **texture ratio**: mean Sobel gradient magnitude inside the object eroded by 3 px over the mean in the ring
  at 4-15 px outside it (other anomalies excluded). Real Cityscapes objects: :func:`real_texture_ratios`.
- **forbidden**: any visible pixel on Cityscapes ego vehicle (1), rectification border (2) or out of roi (3).

Erosion and distances are Euclidean (``cv2.distanceTransform``, precise mask): eroding by ``r`` keeps the
pixels farther than ``r`` from the background; the ring holds the pixels at distance ``3 < d <= 15``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from oodforge._io import read_bytes, read_image_rgb, read_label_png
from oodforge.errors import SampleError
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import InstanceRecord, ManifestRecord
from oodforge.inspect._dataset import decode_npy_mask, idmap_from_masks, output_paths
from oodforge.inspect._stats_plausibility import (
    SIZE_RANGE,
    CocoObjects,
    ObjectFigures,
    Sources,
    read_sources,
    summarise,
)
from oodforge.sources.cityscapes_labels import LABELS

__all__ = [
    "CAMERA_HEIGHT_M",
    "FORBIDDEN_LABEL_IDS",
    "SIZE_RANGE",
    "WHOLE_SHARE",
    "ObjectFigures",
    "chroma_shift",
    "dataset_plausibility",
    "gradient_magnitude",
    "largest_component_share",
    "mean_ab",
    "on_forbidden",
    "real_texture_ratios",
    "size_ratio",
    "standard_horizon_row",
    "summarise",
    "texture_ratio",
]

#: the standard Cityscapes camera at 1024 rows: height (m), pitch (rad), fy and v0 (px)
CAMERA_HEIGHT_M, CAMERA_PITCH, CAMERA_FY, CAMERA_V0, CAMERA_ROWS = 1.22, 0.038, 2265.0, 513.0, 1024
WHOLE_SHARE = 0.95
CHROMA_ERODE_PX = 2
TEXTURE_ERODE_PX = 3
RING_PX = (3, 15)  # ring = 3 < distance <= 15
#: Cityscapes label ids an object must not touch: ego vehicle, rectification border, out of roi
FORBIDDEN_LABEL_IDS = (1, 2, 3)
_THING_IDS = frozenset(lab.id for lab in LABELS if lab.has_instances)
_PAD = RING_PX[1] + 3  # crop margin: the ring plus the Sobel support


def standard_horizon_row(image_rows: int) -> float:
    """Horizon row ``v0 - fy * tan(pitch)`` of the standard Cityscapes camera scaled to ``image_rows``."""
    s = image_rows / CAMERA_ROWS
    return CAMERA_V0 * s - CAMERA_FY * s * math.tan(CAMERA_PITCH)


def size_ratio(bbox: Sequence[int], real_height_m: float, image_rows: int) -> float:
    """Visible bbox height over the height expected at its bottom row (``inf`` at or above the horizon).

    Args:
        bbox: ``[x, y, w, h]`` of the visible pixels; the bottom row is ``y + h - 1``.
        real_height_m: the real height of the object's category.
        image_rows: the frame height (scales the standard camera).
    """
    _, y, _, h = bbox
    expected = real_height_m * (y + h - 1 - standard_horizon_row(image_rows)) / CAMERA_HEIGHT_M
    return h / expected if expected > 0 else math.inf


def largest_component_share(mask: np.ndarray) -> float:
    """Share of the mask's pixels in its largest 8-connected component (1.0 for an empty mask)."""
    win = _window(mask, 0)
    if win is None:
        return 1.0
    n, _, stats, _ = cv2.connectedComponentsWithStats(np.ascontiguousarray(mask[win], np.uint8), connectivity=8)
    total = int(stats[1:, cv2.CC_STAT_AREA].sum()) if n > 1 else 0
    return float(stats[1:, cv2.CC_STAT_AREA].max()) / total if total else 1.0


def _window(mask: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    """The bbox of the mask grown by ``pad`` and clipped to the image; None for an empty mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return slice(max(rows[0] - pad, 0), rows[-1] + pad + 1), slice(max(cols[0] - pad, 0), cols[-1] + pad + 1)


def _distance(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of every non-zero pixel to the nearest zero pixel (0 on zero pixels)."""
    return cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def mean_ab(rgb: np.ndarray, mask: np.ndarray) -> tuple[float, float] | None:
    """Mean CIELab (a, b) of the masked pixels of a uint8 RGB image (OpenCV, float RGB in [0, 1]); None if empty."""
    win = _window(mask, 0)
    if win is None:
        return None
    lab = cv2.cvtColor(rgb[win].astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    ab = lab[mask[win].astype(bool)][:, 1:].astype(np.float64)
    return float(ab[:, 0].mean()), float(ab[:, 1].mean())


def chroma_shift(src_rgb: np.ndarray, src_mask: np.ndarray, rgb: np.ndarray, mask: np.ndarray) -> float | None:
    """Distance between the mean (a, b) of the source object and of the pasted one eroded by 2 px.

    Args:
        src_rgb: the source (COCO) image, uint8 RGB.
        src_mask: the source object's mask in it.
        rgb: the synthesized image, uint8 RGB.
        mask: the pasted object's visible pixels; eroded by 2 px unless that empties it.

    Returns:
        The Euclidean distance in the (a, b) plane, or None when either mask is empty.
    """
    win = _window(mask, 1)
    if win is None:
        return None
    m = mask[win].astype(bool)
    eroded = _distance(m) > CHROMA_ERODE_PX
    src, dst = mean_ab(src_rgb, src_mask), mean_ab(rgb[win], eroded if eroded.any() else m)
    if src is None or dst is None:
        return None
    return math.hypot(src[0] - dst[0], src[1] - dst[1])


def texture_ratio(grad: np.ndarray, mask: np.ndarray, exclude: np.ndarray | None = None) -> float | None:
    """Mean gradient inside the object eroded by 3 px over the mean in its 4-15 px ring.

    Args:
        grad: Sobel gradient magnitude of the image (:func:`gradient_magnitude`), or a crop of it holding the
            object and 18 px around it.
        mask: the object's visible pixels.
        exclude: pixels kept out of the ring (other objects; the object's own pixels may be in it), or None.

    Returns:
        The ratio, or None when the eroded inside or the ring is empty or the ring has no gradient.
    """
    win = _window(mask, _PAD)
    if win is None:
        return None
    m = mask[win].astype(bool)
    inside = _distance(m) > TEXTURE_ERODE_PX
    out = _distance(~m)
    ring = (out > RING_PX[0]) & (out <= RING_PX[1])
    if exclude is not None:
        ring &= ~exclude[win].astype(bool)
    g = grad[win]
    if not inside.any() or not ring.any():
        return None
    ring_mean = float(g[ring].mean())
    return float(g[inside].mean()) / ring_mean if ring_mean > 0 else None


def gradient_magnitude(rgb: np.ndarray) -> np.ndarray:
    """Sobel 3x3 gradient magnitude of the grey image (``COLOR_RGB2GRAY``, then float32)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return np.asarray(cv2.magnitude(gx, gy))


def real_texture_ratios(rgb: np.ndarray, instance_ids: np.ndarray, min_area_frac: float = 0.001) -> list[float]:
    """Texture ratios of the real Cityscapes objects of a frame: the reference for pasted objects.

    Args:
        rgb: the ``*_leftImg8bit.png`` frame, uint8 RGB.
        instance_ids: its ``*_gtFine_instanceIds.png``; ids >= 1000 of thing classes are objects.
        min_area_frac: objects smaller than this share of the frame are skipped (0.001: the smallest paste of
            the default ``synthesis.geometry.final_area_ratio``).

    Returns:
        One ratio per object with a defined ratio, by instance id; other objects are left out of the ring.
    """
    grad = gradient_magnitude(rgb)
    objects = instance_ids >= 1000
    ratios = []
    ids, counts = np.unique(instance_ids[objects], return_counts=True)
    for iid, count in zip(ids.tolist(), counts.tolist(), strict=True):
        if iid // 1000 not in _THING_IDS or count < min_area_frac * instance_ids.size:
            continue
        mask = instance_ids == iid
        ratio = texture_ratio(grad, mask, objects)
        if ratio is not None:
            ratios.append(ratio)
    return ratios


def on_forbidden(mask: np.ndarray, label_ids: np.ndarray) -> bool:
    """Whether any pixel of the mask lies on ego vehicle, rectification border or out of roi."""
    return bool(np.isin(label_ids[mask.astype(bool)], FORBIDDEN_LABEL_IDS).any())


def dataset_plausibility(layout: DatasetLayout, records: list[ManifestRecord]) -> dict[str, Any]:
    """Measure every placed object of a synthesized dataset, image by image, and summarise per split.

    Figures needing the sources (chroma shift: the COCO annotations and images; forbidden: the Cityscapes
    ``gtFine`` label ids) are None with a note when those are not reachable; so are figures of images
    whose files are unreadable.

    Returns:
        ``{"splits": {split: figures}, "totals": figures}``, ``figures`` as
        :func:`oodforge.inspect._stats_plausibility.summarise`.
    """
    sources = read_sources(layout)
    coco = CocoObjects(sources, {inst.coco_ann_id for rec in records for inst in rec.instances})
    by_split: dict[str, list[ObjectFigures]] = {}
    for rec in sorted(records, key=lambda r: (r.split, r.image_id)):
        by_split.setdefault(rec.split, []).extend(_measure_record(layout, rec, sources, coco))
    splits = {split: summarise(objs) for split, objs in by_split.items()}
    return {"splits": splits, "totals": summarise([o for objs in by_split.values() for o in objs])}


def _measure_record(
    layout: DatasetLayout, rec: ManifestRecord, sources: Sources, coco: CocoObjects
) -> list[ObjectFigures]:
    """The figures of the placed objects of one image (its files read once, dropped on return)."""
    objs = [ObjectFigures(inst.target_label, _visible_fraction(inst)) for inst in rec.instances]
    if not objs:
        return objs
    try:
        image = output_paths(rec, "image")
        if not image:
            raise SampleError(f"{rec.split}/{rec.image_id}: the record lists no image")
        rgb = read_image_rgb(layout.abs(image[0]))
        idmap = _idmap(layout, rec, rgb.shape[:2])
    except SampleError as exc:
        why = str(exc)
        for obj in objs:
            obj.missing.update(dict.fromkeys(("size", "whole", "chroma shift", "texture", "forbidden"), why))
        return objs
    grad, anomalies = gradient_magnitude(rgb), idmap > 0
    labels: np.ndarray | None = None
    label_error = ""
    try:
        labels = sources.label_ids(rec)
        if labels.shape != idmap.shape:
            raise SampleError(f"source label ids {labels.shape} do not match the image {idmap.shape}")
    except SampleError as exc:
        labels, label_error = None, str(exc)
    for k, (inst, obj) in enumerate(zip(rec.instances, objs, strict=True), 1):
        mask = idmap == k
        height = sources.heights.get(inst.category)
        if height is None:
            obj.missing["size"] = f"no real height for category {inst.category!r}"
        else:
            obj.size_ratio = size_ratio(inst.bbox, height, rgb.shape[0])
        if not mask.any():
            obj.missing.update(dict.fromkeys(("whole", "chroma shift", "texture", "forbidden"), "no visible pixels"))
            continue
        obj.whole = largest_component_share(mask) >= WHOLE_SHARE
        obj.texture_ratio = texture_ratio(grad, mask, anomalies)
        if obj.texture_ratio is None:
            obj.missing["texture"] = "empty eroded inside or flat ring"
        try:
            obj.chroma_shift = chroma_shift(*coco.get(inst.coco_ann_id), rgb, mask)
        except SampleError as exc:
            obj.missing["chroma shift"] = str(exc)
        if labels is None:
            obj.missing["forbidden"] = label_error
        else:
            obj.forbidden = on_forbidden(mask, labels)
    return objs


def _visible_fraction(inst: InstanceRecord) -> float | None:
    """The record's ``visible_fraction`` when its manifest line holds one (None for older datasets)."""
    return getattr(inst, "visible_fraction", None) if "visible_fraction" in inst.model_fields_set else None


def _idmap(layout: DatasetLayout, rec: ManifestRecord, shape: tuple[int, int]) -> np.ndarray:
    """The uint16 id map of a record (idmap PNG, or the per-instance ``.npy`` masks combined)."""
    value = rec.outputs.get("instances")
    if isinstance(value, str):
        idmap = read_label_png(layout.abs(value), np.uint16)
    else:
        masks = [decode_npy_mask(read_bytes(layout.abs(rel)), rel) for rel in output_paths(rec, "instances")]
        idmap = idmap_from_masks(masks, shape)
    if idmap.shape != shape:
        raise SampleError(f"{value}: id map {idmap.shape} does not match the image {shape}")
    return idmap
