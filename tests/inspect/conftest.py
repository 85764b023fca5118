"""Hand-built fixture datasets for the inspect tools (verify, stats, preview) and their CLI.

``build_dataset`` writes a tiny, valid dataset (64x32 images) with the layout and manifest of
``oodforge synth``:

| split/id                        | kind      | planned | placed | instances (category, rows, cols, area)          |
| ------------------------------- | --------- | ------- | ------ | ----------------------------------------------- |
| train/aachen_000000_000019      | clean     | 0       | 0      | -                                               |
| train/aachen_000001_000019      | synthetic | 3       | 2      | dog 10..14 x 5..12 (40), cat 16..19 x 30..35 (24) |
| train/bochum_000000_000000      | synthetic | 1       | 0      | - (nothing could be placed)                     |
| val/frankfurt_000000_000294     | synthetic | 1       | 1      | dog 5..9 x 20..29 (50)                          |

Every GT has ignore (255) in the bottom 4 rows (the ego vehicle). ``tests/cli/test_inspect_cli.py``
loads this module by path to reuse ``build_dataset``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from oodforge._io import encode_image, encode_png, sha256_bytes
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import InstanceRecord, ManifestRecord

H, W = 32, 64
CONFIG_BYTES = b"dataset:\n  name: fixture\n  seed: 7\nexport:\n  image_format: png\n"


@dataclass(frozen=True)
class Obj:
    category: str
    category_id: int
    rows: tuple[int, int]  # inclusive
    cols: tuple[int, int]  # inclusive
    scale: float
    flip: bool
    coverage: float
    target: str
    ann_id: int


@dataclass(frozen=True)
class Sample:
    split: str
    image_id: str
    is_synth: bool
    planned: int
    objects: list[Obj] = field(default_factory=list)


SAMPLES = (
    Sample("train", "aachen_000000_000019", False, 0),
    Sample(
        "train",
        "aachen_000001_000019",
        True,
        3,
        [
            Obj("dog", 18, (10, 14), (5, 12), 0.5, True, 0.9, "road", 101),
            Obj("cat", 17, (16, 19), (30, 35), 1.0, False, 1.0, "sidewalk", 202),
        ],
    ),
    Sample("train", "bochum_000000_000000", True, 1),
    Sample(
        "val", "frankfurt_000000_000294", True, 1, [Obj("dog", 18, (5, 9), (20, 29), 0.75, False, 0.85, "road", 303)]
    ),
)


def _write(root: Path, rel: str, data: bytes) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha256_bytes(data)


def _instance(k: int, obj: Obj) -> InstanceRecord:
    (y0, y1), (x0, x1) = obj.rows, obj.cols
    w, h = x1 - x0 + 1, y1 - y0 + 1
    return InstanceRecord(
        coco_ann_id=obj.ann_id,
        coco_image_id=obj.ann_id * 10,
        category=obj.category,
        category_id=obj.category_id,
        target_label=obj.target,
        bbox=[x0, y0, w, h],
        scale=obj.scale,
        flip=obj.flip,
        area_px=w * h,
        coverage=obj.coverage,
        x=x0,
        y=y0,
        patch_w=w,
        patch_h=h,
    )


def _write_sample(root: Path, s: Sample, config_sha: str, instance_format: str, index: int) -> dict[str, object]:
    rng = np.random.default_rng(index)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    gt = np.zeros((H, W), np.uint8)
    gt[H - 4 :] = 255
    idmap = np.zeros((H, W), np.uint16)
    for k, obj in enumerate(s.objects, 1):
        sl = (slice(obj.rows[0], obj.rows[1] + 1), slice(obj.cols[0], obj.cols[1] + 1))
        idmap[sl] = k
        gt[sl] = 1
        image[sl] = (200, 40 * k, 10)
    instances = [_instance(k, obj) for k, obj in enumerate(s.objects, 1)]
    labels = [
        {
            "id": k,
            "label": 1,
            "category": inst.category,
            "category_id": inst.category_id,
            "coco_ann_id": inst.coco_ann_id,
            "coco_image_id": inst.coco_image_id,
            "bbox": inst.bbox,
            "area_px": inst.area_px,
        }
        for k, inst in enumerate(instances, 1)
    ]
    lay = DatasetLayout
    outputs: dict[str, str | list[str]] = {
        "image": lay.image_rel(s.split, s.image_id, "png"),
        "gt_pixel": lay.gt_rel(s.split, s.image_id),
        "labels": lay.labels_rel(s.split, s.image_id),
    }
    sha: dict[str, str | list[str]] = {
        "image": _write(root, str(outputs["image"]), encode_image(image, "png")),
        "gt_pixel": _write(root, str(outputs["gt_pixel"]), encode_png(gt)),
        "labels": _write(root, str(outputs["labels"]), (json.dumps(labels) + "\n").encode()),
    }
    if instance_format == "idmap":
        outputs["instances"] = lay.instances_rel(s.split, s.image_id)
        sha["instances"] = _write(root, outputs["instances"], encode_png(idmap))
    else:
        rels = [lay.instance_npy_rel(s.split, s.image_id, k) for k in range(1, len(s.objects) + 1)]
        hashes = []
        for k, rel in enumerate(rels, 1):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, idmap == k)
            hashes.append(sha256_bytes(path.read_bytes()))
        (root / s.split / "instances").mkdir(parents=True, exist_ok=True)
        outputs["instances"], sha["instances"] = rels, hashes
    rec = ManifestRecord(
        config_sha256=config_sha,
        split=s.split,
        image_id=s.image_id,
        city=s.image_id.split("_")[0],
        source_split=s.split,
        is_synth=s.is_synth,
        has_anomaly=bool(s.objects),
        planned_instances=s.planned,
        placed_instances=len(s.objects),
        seed=1000 + index,
        target_labels=["road", "sidewalk"] if s.is_synth else [],
        coco_ann_ids=[o.ann_id for o in s.objects],
        instances=instances,
        outputs=outputs,
        sha256=sha,
        status="ok",
        placement_note="no road pixels" if s.is_synth and len(s.objects) < s.planned else None,
    )
    return rec.to_json_dict()


def build_dataset(root: Path, *, instance_format: str = "idmap") -> Path:
    """Write the fixture dataset (see the module docstring) under ``root`` and return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_bytes(CONFIG_BYTES)
    config_sha = sha256_bytes(CONFIG_BYTES)
    records = [_write_sample(root, s, config_sha, instance_format, i) for i, s in enumerate(SAMPLES)]
    write_records(root, records)
    return root


def read_records(root: Path) -> list[dict]:
    """The manifest lines as dicts, in file order."""
    lines = (root / "manifest.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def write_records(root: Path, records: list[dict]) -> None:
    """Write manifest lines exactly in the given order."""
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def rehash(root: Path, split: str, image_id: str, key: str) -> None:
    """Update the manifest sha256 of a (single-file) output after a test changed its bytes."""
    records = read_records(root)
    for rec in records:
        if rec["split"] == split and rec["image_id"] == image_id:
            rec["sha256"][key] = sha256_bytes((root / rec["outputs"][key]).read_bytes())
    write_records(root, records)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A valid idmap-format fixture dataset."""
    return build_dataset(tmp_path / "ds")


@pytest.fixture
def dataset_npy(tmp_path: Path) -> Path:
    """The same dataset with ``export.instance_format: npy``."""
    return build_dataset(tmp_path / "ds_npy", instance_format="npy")


@pytest.fixture
def helpers() -> SimpleNamespace:
    """The module-level helpers, for test modules (conftest modules cannot be imported by name)."""
    return SimpleNamespace(
        build_dataset=build_dataset, read_records=read_records, write_records=write_records, rehash=rehash, H=H, W=W
    )
