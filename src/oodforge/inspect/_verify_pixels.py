"""Pixel and label checks of one manifest record (used by :mod:`oodforge.inspect.verify`).

Every function returns problem messages without the ``<split>/<image_id>:`` prefix.
"""

from __future__ import annotations

import json

import numpy as np

from oodforge._io import decode_image_rgb
from oodforge.errors import SampleError
from oodforge.export.manifest import InstanceRecord, ManifestRecord
from oodforge.inspect._dataset import decode_npy_mask, idmap_from_masks
from oodforge.inspect._verify_common import decode_map

__all__ = ["check_labels", "check_pixels"]

GT_VALUES = np.array([0, 1, 255], np.uint8)

Files = list[tuple[str, bytes]]


def check_pixels(rec: ManifestRecord, data: dict[str, Files]) -> list[str]:
    """Image / GT / instance map decoding, sizes, GT values and their agreement with the record."""
    problems: list[str] = []
    img_rel, img_blob = data["image"][0]
    try:
        image = decode_image_rgb(img_blob, img_rel)
    except SampleError as exc:
        return [str(exc)]
    shape = (int(image.shape[0]), int(image.shape[1]))
    gt = _decode_gt(data["gt_pixel"][0], shape, problems)
    idmap = _decode_instances(rec, data["instances"], shape, problems)
    if gt is not None and idmap is not None:
        problems.extend(_check_gt_vs_idmap(rec, gt, idmap))
    return problems


def _decode_gt(file: tuple[str, bytes], shape: tuple[int, int], problems: list[str]) -> np.ndarray | None:
    """Decode the GT; None when it cannot be compared pixel by pixel."""
    gt = decode_map(file, np.uint8, problems)
    if gt is None:
        return None
    bad = np.setdiff1d(np.unique(gt), GT_VALUES)
    if bad.size:
        problems.append(f"gt_pixel has values outside {{0, 1, 255}}: {bad[:10].tolist()}")
    if gt.shape != shape:
        problems.append(f"gt_pixel is {gt.shape[0]}x{gt.shape[1]} but the image is {shape[0]}x{shape[1]}")
        return None
    return gt


def _decode_instances(
    rec: ManifestRecord, files: Files, shape: tuple[int, int], problems: list[str]
) -> np.ndarray | None:
    """The uint16 id map, from the idmap PNG or from the per-instance ``.npy`` masks."""
    if isinstance(rec.outputs.get("instances"), str):
        idmap = decode_map(files[0], np.uint16, problems)
        if idmap is None:
            return None
        if idmap.shape != shape:
            problems.append(f"instance map is {idmap.shape[0]}x{idmap.shape[1]} but the image is {shape[0]}x{shape[1]}")
            return None
        return idmap
    masks = []
    for rel, blob in files:
        try:
            mask = decode_npy_mask(blob, rel)
        except SampleError as exc:
            problems.append(str(exc))
            return None
        if mask.shape != shape:
            problems.append(f"{rel}: mask is {mask.shape[0]}x{mask.shape[1]} but the image is {shape[0]}x{shape[1]}")
            return None
        masks.append(mask)
    if len(masks) != rec.placed_instances:
        problems.append(f"{len(masks)} instance mask file(s) but placed_instances is {rec.placed_instances}")
    return idmap_from_masks(masks, shape)


def _check_gt_vs_idmap(rec: ManifestRecord, gt: np.ndarray, idmap: np.ndarray) -> list[str]:
    """GT is 1 exactly on instance pixels; ids 1..placed present with their area; flags agree with GT."""
    problems = []
    anomaly = gt == 1
    inside = idmap > 0
    n = int(np.count_nonzero(anomaly & ~inside))
    if n:
        problems.append(f"gt_pixel is 1 at {n} pixel(s) where the instance map is 0")
    n = int(np.count_nonzero(inside & ~anomaly))
    if n:
        problems.append(f"gt_pixel is not 1 at {n} pixel(s) where the instance map is > 0")
    placed = rec.placed_instances
    max_id = int(idmap.max()) if idmap.size else 0
    if max_id != placed:
        problems.append(f"instance map max id {max_id} != placed_instances {placed}")
    counts = np.bincount(idmap.ravel(), minlength=max(placed, max_id) + 1)
    for k, inst in enumerate(rec.instances[:placed], 1):
        problems.extend(_check_instance(k, inst, int(counts[k]), idmap))
    has_one = bool(anomaly.any())
    if rec.has_anomaly != has_one:
        problems.append(f"has_anomaly is {rec.has_anomaly} but gt_pixel has {'' if has_one else 'no '}anomaly pixels")
    if not rec.is_synth and has_one:
        problems.append("clean record has anomaly pixels (1) in gt_pixel")
    return problems


def _check_instance(k: int, inst: InstanceRecord, held: int, idmap: np.ndarray) -> list[str]:
    """Instance ``k`` holds ``area_px`` pixels of the id map, all inside its bbox."""
    if held == 0:
        if inst.area_px == 0:
            return []
        return [f"instance id {k} is absent from the instance map (area_px {inst.area_px})"]
    problems = []
    if held != inst.area_px:
        problems.append(f"instance {k}: area_px {inst.area_px} != {held} pixel(s) with id {k} in the instance map")
    if len(inst.bbox) != 4:
        return [*problems, f"instance {k}: bbox {inst.bbox} is not [x, y, w, h]"]
    ys, xs = np.nonzero(idmap == k)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    bx, by, bw, bh = inst.bbox
    if x0 < bx or y0 < by or x1 > bx + bw or y1 > by + bh:
        problems.append(f"instance {k}: pixels span [{x0}, {y0}, {x1 - x0}, {y1 - y0}] outside bbox {inst.bbox}")
    return problems


def check_labels(rec: ManifestRecord, rel: str, blob: bytes) -> list[str]:
    """The labels JSON lists ids 1..placed in order, label 1, matching the record's instances."""
    try:
        labels = json.loads(blob)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return [f"{rel}: not valid JSON"]
    if not isinstance(labels, list):
        return [f"{rel}: expected a JSON list, got {type(labels).__name__}"]
    problems = []
    if len(labels) != rec.placed_instances:
        problems.append(f"{rel} has {len(labels)} entries but placed_instances is {rec.placed_instances}")
    for k, entry in enumerate(labels, 1):
        if not isinstance(entry, dict):
            problems.append(f"{rel}: entry {k} is not an object")
            continue
        if entry.get("id") != k:
            problems.append(f"{rel}: entry {k} has id {entry.get('id')!r}; expected {k}")
        if entry.get("label") != 1:
            problems.append(f"{rel}: entry {k} has label {entry.get('label')!r}; expected 1")
        if k <= len(rec.instances):
            inst = rec.instances[k - 1]
            if entry.get("category") != inst.category or entry.get("coco_ann_id") != inst.coco_ann_id:
                found = entry.get("category")
                problems.append(f"{rel}: entry {k} ({found!r}) does not match instance {k} of the record")
    return problems
