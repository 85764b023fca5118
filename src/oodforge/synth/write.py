"""Step 9 of the chain: write one image's outputs atomically and build its manifest record.

Writes the image (a byte copy of the source when nothing was pasted), the 0/1/255 GT, the instance
id map (or per-instance ``.npy`` masks) and the labels JSON, each through a temp file and a rename,
and returns the paths and SHA-256 of what it wrote. The per-image record is written last by
:func:`oodforge.synth.sample.process_image` (it is the resume marker).
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from oodforge._codec import encode_mask_png
from oodforge._io import atomic_write_bytes, encode_image, sha256_bytes
from oodforge.config.schema import ExportConfig
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import InstanceRecord
from oodforge.sources.coco_pool import CocoPool
from oodforge.synth.apply import Rendered
from oodforge.synth.search import Placement

__all__ = ["Outputs", "instance_records", "write_outputs"]

Outputs = tuple[dict[str, Any], dict[str, Any]]


def instance_records(pool: CocoPool, placements: list[Placement], rendered: Rendered | None) -> list[InstanceRecord]:
    """Manifest records of the placed objects, in id-map order.

    bbox, ``area_px`` and ``visible_fraction`` (visible share of the covered pixels) describe the object in
    the final id map, after nearer scene objects and later pastes; ``coverage`` is the share of its
    footprint on the target label, judged when it was placed.
    """
    out: list[InstanceRecord] = []
    if rendered is None:
        return out
    for p, area, bbox, app, covered in zip(
        placements, rendered.areas, rendered.bboxes, rendered.applied, rendered.covered, strict=True
    ):
        cat_id = int(pool.category_ids[p.pool_index])
        out.append(
            InstanceRecord(
                coco_ann_id=int(pool.ann_ids[p.pool_index]),
                coco_image_id=int(pool.image_ids[p.pool_index]),
                category=pool.category_names[cat_id],
                category_id=cat_id,
                target_label=p.target_label,
                bbox=list(bbox),
                scale=round(p.scale, 6),
                flip=p.flip,
                area_px=area,
                coverage=round(p.coverage, 6),
                x=p.x0,
                y=p.y0,
                patch_w=p.patch_w,
                patch_h=p.patch_h,
                visible_fraction=round(area / covered, 6) if covered else 0.0,
                real_height_m=p.real_height_m,
                photometric={
                    "space": app.photometric.space,
                    "scale": [round(v, 6) for v in app.photometric.scale],
                    "shift": [round(v, 6) for v in app.photometric.shift],
                },
                texture=asdict(app.texture),
                shadow=asdict(app.shadow) if app.shadow is not None else None,
            )
        )
    return out


def write_outputs(
    layout: DatasetLayout,
    split: str,
    image_id: str,
    exp: ExportConfig,
    *,
    source_path: Path,
    source_bytes: bytes,
    rendered: Rendered | None,
    gt: np.ndarray,
    instances: list[InstanceRecord],
) -> Outputs:
    """Write the four outputs of one image; returns ``(outputs, sha256)`` keyed like the manifest."""
    outputs: dict[str, Any] = {}
    hashes: dict[str, Any] = {}

    def put(key: str, rel: str, data: bytes) -> None:
        atomic_write_bytes(layout.abs(rel), data)
        outputs[key], hashes[key] = rel, sha256_bytes(data)

    if rendered is None:  # clean, or nothing placed: a byte copy of the source
        ext = source_path.suffix.lstrip(".").lower()
        put("image", layout.image_rel(split, image_id, ext), source_bytes)
        id_map = np.zeros(gt.shape, dtype=np.uint16)
    else:
        data = encode_image(
            rendered.image, exp.image_format, png_compression=exp.png_compression, jpeg_quality=exp.jpeg_quality,
            png_codec=exp.png_codec,
        )  # fmt: skip
        put("image", layout.image_rel(split, image_id, exp.image_format), data)
        id_map = rendered.id_map
    put("gt_pixel", layout.gt_rel(split, image_id), encode_mask_png(gt, exp.png_codec, exp.png_compression))
    if exp.instance_format == "idmap":
        idmap_png = encode_mask_png(id_map, exp.png_codec, exp.png_compression)
        put("instances", layout.instances_rel(split, image_id), idmap_png)
    else:
        rels, shas = [], []
        for k in range(1, len(instances) + 1):
            buf = io.BytesIO()
            np.save(buf, id_map == k, allow_pickle=False)
            rels.append(layout.instance_npy_rel(split, image_id, k))
            atomic_write_bytes(layout.abs(rels[-1]), buf.getvalue())
            shas.append(sha256_bytes(buf.getvalue()))
        outputs["instances"], hashes["instances"] = rels, shas
    labels = [
        {"id": k, "label": 1, "category": i.category, "category_id": i.category_id, "coco_ann_id": i.coco_ann_id,
         "coco_image_id": i.coco_image_id, "bbox": i.bbox, "area_px": i.area_px}
        for k, i in enumerate(instances, start=1)
    ]  # fmt: skip
    put("labels", layout.labels_rel(split, image_id), (json.dumps(labels, ensure_ascii=False) + "\n").encode("utf-8"))
    return outputs, hashes
