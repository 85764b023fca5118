"""``coco``: one COCO instance-segmentation JSON per split for the pasted anomalies (EoMT, Mask2Former-instance).

```
OUT/instances_<split>.json    COCO format: images, annotations (RLE), categories
OUT/exports.json              target, options, per-split counts, files
```

- ``images``: every ``ok`` image of the split (clean ones too, without annotations): ``id`` (1-based, in
  manifest order), ``file_name`` (relative to the dataset root, e.g. ``test/images/<image_id>.png``),
  ``width``, ``height``, plus ``oodforge_image_id``.
- ``annotations``: one per instance **visible** in the id map (an instance listed in ``labels/<id>.json``
  without a visible pixel gets none): ``segmentation`` = compressed RLE from pycocotools'
  ``mask.encode`` of ``idmap == k`` (``counts`` as str), ``area`` (pixels), ``bbox`` ``[x, y, w, h]`` of the
  visible pixels, ``iscrowd`` 0, ``category_id``, plus ``coco_category``, ``coco_ann_id``,
  ``coco_image_id`` (from the labels entry) and ``oodforge_instance_id`` (``k``).
- ``categories``: ``anomaly`` (default): one category ``{"id": 1, "name": "anomaly"}``; ``coco``: one per COCO
  category name listed in the exported splits, with COCO's own category id when every labels entry has
  one (else 1..N in name order); the same table in every split's file.

Each RLE is decoded back and compared with its mask; each file is parsed back and compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from pycocotools import mask as mask_utils

from oodforge import __version__
from oodforge.errors import DataLayoutError, OodforgeError, UsageError
from oodforge.export.targets._dataset import Composite, DatasetView, open_dataset, read_composite, read_labels
from oodforge.export.targets._run import (
    Progress,
    TargetExport,
    new_counts,
    open_export,
    preflight,
    write_exports_json,
    write_verified_json,
)

__all__ = ["ANOMALY_CATEGORY", "CategoryMode", "coco_annotations", "coco_categories", "encode_rle", "export_coco"]

CategoryMode = Literal["anomaly", "coco"]
ANOMALY_CATEGORY: dict[str, Any] = {"id": 1, "name": "anomaly", "supercategory": "anomaly"}


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO RLE of an (H, W) bool mask, ``counts`` as str; decoded back and checked.

    Example:
        >>> encode_rle(np.array([[0, 1], [1, 1]], bool))
        {'size': [2, 2], 'counts': '13'}
    """
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    out = {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
    back = mask_utils.decode({"size": out["size"], "counts": out["counts"].encode("ascii")})
    if back.shape != mask.shape or not np.array_equal(back.astype(bool), mask):
        raise OodforgeError(f"RLE verification failed for a {mask.shape} mask of {int(mask.sum())} pixels")
    return out


def _bbox(mask: np.ndarray) -> list[int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def coco_annotations(
    comp: Composite, *, image_id: int, first_id: int, category_ids: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """One COCO annotation per instance visible in ``comp.idmap``, ids from ``first_id`` on.

    Args:
        comp: the composite (its id map and labels entries).
        image_id: the COCO image id.
        first_id: the id of the first annotation.
        category_ids: COCO category name -> category id; ``None``: every annotation is category 1 (anomaly).
    """
    anns = []
    for n, k in enumerate(comp.visible_ids):
        label = comp.labels[k]
        mask = comp.idmap == k
        name = str(label.get("category", ""))
        anns.append({
            "id": first_id + n,
            "image_id": image_id,
            "category_id": ANOMALY_CATEGORY["id"] if category_ids is None else category_ids[name],
            "segmentation": encode_rle(mask),
            "area": int(np.count_nonzero(mask)),
            "bbox": _bbox(mask),
            "iscrowd": 0,
            "coco_category": name,
            "coco_ann_id": label.get("coco_ann_id"),
            "coco_image_id": label.get("coco_image_id"),
            "oodforge_instance_id": k,
        })  # fmt: skip
    return anns


def coco_categories(view: DatasetView, mode: CategoryMode) -> tuple[list[dict[str, Any]], dict[str, int] | None]:
    """The ``categories`` table and the name -> id map (``None`` for ``anomaly``) of the chosen splits.

    Raises:
        DataLayoutError: a labels entry without a category name, or one name with two COCO ids.
    """
    if mode == "anomaly":
        return [dict(ANOMALY_CATEGORY)], None
    found: dict[str, int | None] = {}
    for rec in view.records:
        for entry in read_labels(view.root, rec).values():
            name, cid = entry.get("category"), entry.get("category_id")
            if not isinstance(name, str) or not name:
                raise DataLayoutError(
                    f"{rec.split}/{rec.image_id}: labels entry {entry.get('id')} has no category name"
                )
            cid = cid if isinstance(cid, int) and not isinstance(cid, bool) else None
            if name in found and found[name] != cid:
                raise DataLayoutError(f"{rec.split}/{rec.image_id}: category {name!r} has ids {found[name]} and {cid}")
            found[name] = cid
    names = sorted(found)
    if all(found[n] is not None for n in names) and len({found[n] for n in names}) == len(names):
        ids = {n: int(found[n] or 0) for n in names}
    else:
        ids = {n: i for i, n in enumerate(names, 1)}
    cats = [{"id": ids[n], "name": n, "supercategory": "anomaly"} for n in sorted(names, key=lambda n: ids[n])]
    return cats, ids


def export_coco(
    dataset: Path,
    out: Path,
    *,
    categories: CategoryMode = "anomaly",
    splits: list[str] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> TargetExport:
    """Write one COCO instance JSON per split of ``dataset`` under ``out`` (see the module docstring).

    Args:
        dataset: root of an ``oodforge synth`` dataset.
        out: export folder: new, empty, or a previous export (see ``overwrite``).
        categories: ``anomaly`` (one category) or ``coco`` (one per COCO category name).
        splits: only these splits (default: all).
        overwrite: replace a previous export in ``out`` (only files oodforge wrote are deleted).
        progress: optional ``progress(stage, done, total)`` callback.

    Raises:
        UsageError: unknown ``categories`` or split, missing or unreadable input file (named), a composite
            that breaks the pixel conventions, or an export folder that is refused.
    """
    if categories not in get_args(CategoryMode):
        raise UsageError(f"--categories: {categories!r} given; expected one of: {', '.join(get_args(CategoryMode))}")
    view = open_dataset(dataset, splits)
    preflight(view)
    cats, cat_ids = coco_categories(view, categories)
    res = TargetExport(out, "coco", {"categories": categories}, {s: new_counts(n) for s, n in view.failed.items()})
    rels = {s: f"instances_{s}.json" for s in view.splits}
    done = 0
    with open_export(view, out, "coco", list(rels.values()), overwrite=overwrite) as owned:
        for split, rel in rels.items():
            images: list[dict[str, Any]] = []
            anns: list[dict[str, Any]] = []
            counts = res.per_split[split]
            for rec in (r for r in view.records if r.split == split):
                comp = read_composite(view.root, rec)
                h, w = comp.gt.shape
                image = {"id": len(images) + 1, "file_name": comp.image_rel, "width": w, "height": h,
                         "oodforge_image_id": comp.image_id}  # fmt: skip
                images.append(image)
                new = coco_annotations(comp, image_id=image["id"], first_id=len(anns) + 1, category_ids=cat_ids)
                anns += new
                counts["images"] += 1
                counts["with_anomaly"] += int(bool(new))
                counts["anomaly_pixels"] += sum(a["area"] for a in new)
                counts["instances"] += len(new)
                counts["hidden_instances"] += len(comp.labels) - len(new)
                done += 1
                if progress:
                    progress("coco: writing", done, len(view.records))
            info = {"description": f"oodforge anomalies of {view.root.resolve().name}/{split}", "version": __version__}
            doc = {"info": info, "licenses": [], "images": images, "annotations": anns, "categories": cats}
            write_verified_json(out / rel, doc)
            res.files.append({"split": split, "file": rel, "images": len(images), "annotations": len(anns)})
        res.kept_files = owned.kept
        write_exports_json(view, res)
    return res
