"""Composite-derived export targets on a dataset synthesized from the demo world.

The invariant every target keeps: the pixels it labels as anomaly are exactly the pixels an object covers in
the written image (GT 1, equivalently id map > 0), and an object listed in ``labels/<id>.json`` without a
visible pixel gets no label. Round trips use the references: pycocotools for ``coco``, cityscapesscripts'
label table for ``trainids`` and ``cityscapes-instances``.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from cityscapesscripts.helpers import labels as cs_labels
from pycocotools.coco import COCO

from _helpers import demo_config_dict
from oodforge import __version__
from oodforge.errors import DataLayoutError, InputFileError, OodforgeError, UsageError
from oodforge.export.targets import (
    ANOMALY_LABEL_ID,
    export_cityscapes_instances,
    export_coco,
    export_outlier_mask,
    export_trainids,
)
from oodforge.export.targets import _run as run_module
from oodforge.sources.cityscapes import frame_paths

Exporter = Callable[..., Any]


def synth_dataset(world: Path, out: Path, instance_format: str = "idmap") -> Path:
    """Synthesize a dataset from the demo world (``world`` holds ``world/`` and ``cache/``) into ``out``."""
    from oodforge.synth.runner import synthesize_dataset

    data = copy.deepcopy(demo_config_dict())
    data["sources"]["cityscapes"]["root"] = str(world / "world" / "cityscapes")
    data["sources"]["coco"]["root"] = str(world / "world" / "coco")
    data["sources"]["coco"]["cache_dir"] = str(world / "cache")
    data["dataset"]["output_root"] = str(out)
    data["export"]["instance_format"] = instance_format
    config = out.parent / f"{out.name}.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    assert not synthesize_dataset(config, workers=1).failed
    return out


@pytest.fixture(scope="module")
def ds(demo_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth_dataset(demo_world, tmp_path_factory.mktemp("targets") / "ds")


def records(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines() if line.strip()]


def read(path: Path) -> np.ndarray:
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert arr is not None, path
    return arr


def composite(root: Path, rec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    out = rec["outputs"]
    return read(root / out["gt_pixel"]), read(root / out["instances"]), json.loads((root / out["labels"]).read_text())


def scene(root: Path, rec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    frame = frame_paths(root, rec["source_split"], rec["image_id"])
    return read(frame.label_path), read(frame.instance_path).astype(np.int64)


def cs_root(ds: Path) -> Path:
    return Path(yaml.safe_load((ds / "config.yaml").read_text())["sources"]["cityscapes"]["root"])


CS_TRAIN_ID = np.full(256, 255, np.int64)
for _lab in cs_labels.labels:
    if _lab.id >= 0:
        CS_TRAIN_ID[_lab.id] = _lab.trainId if 0 <= _lab.trainId < 255 else 255


def anomaly_masks(target: str, out: Path, root: Path, rec: dict[str, Any]) -> dict[int, np.ndarray]:
    """Per instance id, the pixels the export labels as that anomaly (k = 0: all, for the id-less targets)."""
    split, image_id = rec["split"], rec["image_id"]
    if target == "coco":
        coco = COCO(str(out / f"instances_{split}.json"))
        (img,) = [i for i in coco.imgs.values() if i["oodforge_image_id"] == image_id]
        assert img["file_name"] == rec["outputs"]["image"] and (root / img["file_name"]).is_file()
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
        return {a["oodforge_instance_id"]: coco.annToMask(a).astype(bool) for a in anns}
    label = read(out / split / f"{image_id}.png")
    if target == "trainids":
        assert label.dtype == np.uint8
        return {0: label == 254}
    if target == "outlier-mask":
        assert label.dtype == np.uint8
        return {0: label == 1}
    assert label.dtype == np.uint16
    value = label.astype(np.int64)
    return {k: value == ANOMALY_LABEL_ID * 1000 + k for k in np.unique(value[value // 1000 == ANOMALY_LABEL_ID] % 1000)}


EXPORTERS: dict[str, Exporter] = {
    "trainids": export_trainids,
    "outlier-mask": export_outlier_mask,
    "coco": export_coco,
    "cityscapes-instances": export_cityscapes_instances,
}


@pytest.mark.parametrize("target", list(EXPORTERS))
def test_labelled_anomaly_pixels_are_the_covered_pixels(ds: Path, tmp_path: Path, target: str) -> None:
    out = tmp_path / "out"
    res = EXPORTERS[target](ds, out)
    n_visible = 0
    for rec in records(ds):
        gt, idmap, _ = composite(ds, rec)
        masks = anomaly_masks(target, out, ds, rec)
        union = np.zeros_like(gt, dtype=bool)
        for k, mask in masks.items():
            if k:  # an instance label: never without a visible pixel, exactly the object's pixels
                assert mask.any(), f"{target}: a label without a visible pixel ({rec['image_id']}, id {k})"
                np.testing.assert_array_equal(mask, idmap == k)
            union |= mask
        np.testing.assert_array_equal(union, gt == 1)
        np.testing.assert_array_equal(union, idmap > 0)
        visible = set(np.unique(idmap).tolist()) - {0}
        if target in ("coco", "cityscapes-instances"):
            assert set(masks) == visible
        n_visible += len(visible)
    assert n_visible > 3
    assert res.totals["instances"] == n_visible and res.totals["hidden_instances"] == 0
    assert res.totals["images"] == len(records(ds))


@pytest.fixture(scope="module")
def ds_hidden(ds: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A copy of ``ds`` in which instance 1 of an image with >= 2 instances has no visible pixel left."""
    root = tmp_path_factory.mktemp("hidden") / "ds"
    shutil.copytree(ds, root)
    rec = next(r for r in records(root) if r["placed_instances"] >= 2)
    gt, idmap, _ = composite(root, rec)
    label_ids, _ = scene(cs_root(root), rec)
    gone = idmap == 1
    gt[gone] = np.where(CS_TRAIN_ID[label_ids] == 255, 255, 0)[gone]
    idmap[gone] = 0
    cv2.imwrite(str(root / rec["outputs"]["gt_pixel"]), gt)
    cv2.imwrite(str(root / rec["outputs"]["instances"]), idmap)
    return root, rec


@pytest.mark.parametrize("target", list(EXPORTERS))
def test_listed_but_invisible_instance_gets_no_label(ds_hidden: tuple[Path, dict], tmp_path: Path, target: str) -> None:
    root, rec = ds_hidden
    out = tmp_path / "out"
    res = EXPORTERS[target](root, out, splits=[rec["split"]])
    gt, idmap, labels = composite(root, rec)
    assert 1 in {entry["id"] for entry in labels} and not (idmap == 1).any()
    masks = anomaly_masks(target, out, root, rec)
    assert 1 not in masks
    np.testing.assert_array_equal(np.logical_or.reduce(list(masks.values())), gt == 1)
    assert res.per_split[rec["split"]]["hidden_instances"] == 1


def test_trainids_match_cityscapesscripts_and_soft_edges_are_ignored(ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = export_trainids(ds, out, anomaly_value=19)
    n_soft = n_clean = 0
    for rec in records(ds):
        gt, _, _ = composite(ds, rec)
        label_ids, _ = scene(cs_root(ds), rec)
        tid = read(out / rec["split"] / f"{rec['image_id']}.png")
        normal = gt == 0
        np.testing.assert_array_equal(tid[normal], CS_TRAIN_ID[label_ids][normal])
        assert (tid[normal] < 19).all()
        np.testing.assert_array_equal(tid == 19, gt == 1)
        assert (tid[gt == 255] == 255).all()
        n_soft += int(np.count_nonzero((gt == 255) & (CS_TRAIN_ID[label_ids] != 255)))
        n_clean += not rec["is_synth"]
    assert n_soft > 0, "the fixture should have soft-edge pixels"
    assert n_clean > 0 and res.totals["images"] == len(records(ds))
    assert res.options == {"anomaly_value": 19, "cityscapes_root": str(cs_root(ds))}


def test_cityscapes_instances_follow_cityscapesscripts(ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_cityscapes_instances(ds, out)
    assert ANOMALY_LABEL_ID not in cs_labels.id2label
    seen_things = 0
    for rec in records(ds):
        gt, idmap, _ = composite(ds, rec)
        label_ids, instance_ids = scene(cs_root(ds), rec)
        value = read(out / rec["split"] / f"{rec['image_id']}.png").astype(np.int64)
        label = np.where(value < 1000, value, value // 1000)
        assert set(np.unique(label).tolist()) <= set(cs_labels.id2label) | {ANOMALY_LABEL_ID}
        things = (value >= 1000) & (label != ANOMALY_LABEL_ID)
        assert all(cs_labels.id2label[int(v)].hasInstances for v in np.unique(label[things]))
        seen_things += int(things.any())
        np.testing.assert_array_equal(label == ANOMALY_LABEL_ID, gt == 1)
        np.testing.assert_array_equal(value[gt == 1] - ANOMALY_LABEL_ID * 1000, idmap[gt == 1])
        soft = (gt == 255) & (CS_TRAIN_ID[label_ids] != 255)
        assert (value[soft] == 0).all()
        keep = ~soft & (gt != 1)
        np.testing.assert_array_equal(value[keep], instance_ids[keep])
    assert seen_things > 0, "the fixture should have scene instances (cars, persons)"


@pytest.mark.parametrize("categories", ["anomaly", "coco"])
def test_coco_round_trip_with_pycocotools(ds: Path, tmp_path: Path, categories: str) -> None:
    out = tmp_path / "out"
    export_coco(ds, out, categories=categories)  # type: ignore[arg-type]
    for split in sorted({r["split"] for r in records(ds)}):
        coco = COCO(str(out / f"instances_{split}.json"))
        recs = {r["image_id"]: r for r in records(ds) if r["split"] == split}
        assert {i["oodforge_image_id"] for i in coco.imgs.values()} == set(recs)
        for ann in coco.anns.values():
            rec = recs[coco.imgs[ann["image_id"]]["oodforge_image_id"]]
            _, idmap, labels = composite(ds, rec)
            k = ann["oodforge_instance_id"]
            mask = idmap == k
            np.testing.assert_array_equal(coco.annToMask(ann), mask.astype(np.uint8))
            label = next(e for e in labels if e["id"] == k)
            assert ann["coco_category"] == label["category"] and ann["coco_ann_id"] == label["coco_ann_id"]
            assert ann["area"] == int(mask.sum()) > 0 and ann["iscrowd"] == 0
            assert isinstance(ann["segmentation"]["counts"], str)
            x, y, w, h = ann["bbox"]
            assert mask[y : y + h, x : x + w].sum() == mask.sum() and mask[y, x : x + w].any()
            cat = coco.loadCats(ann["category_id"])[0]
            if categories == "anomaly":
                assert (cat["id"], cat["name"]) == (1, "anomaly")
            else:
                assert (cat["id"], cat["name"]) == (label["category_id"], label["category"])


def test_npy_instance_format_gives_the_same_exports(
    ds: Path, demo_world: Path, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    ds_npy = synth_dataset(demo_world, tmp_path_factory.mktemp("npy") / "ds", instance_format="npy")
    for name, root in (("idmap", ds), ("npy", ds_npy)):
        export_coco(root, tmp_path / f"coco_{name}")
        export_outlier_mask(root, tmp_path / f"mask_{name}")
    for split in ("train", "test"):
        a = json.loads((tmp_path / "coco_idmap" / f"instances_{split}.json").read_text())
        b = json.loads((tmp_path / "coco_npy" / f"instances_{split}.json").read_text())
        assert a["annotations"] and a["annotations"] == b["annotations"]
    for path in (tmp_path / "mask_idmap").glob("*/*.png"):
        np.testing.assert_array_equal(
            read(path), read(tmp_path / "mask_npy" / path.relative_to(tmp_path / "mask_idmap"))
        )


def test_exports_json_lists_target_options_counts_and_files(ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = export_outlier_mask(ds, out, splits=["test", "val"])
    doc = json.loads((out / "exports.json").read_text())
    assert doc["target"] == "outlier-mask" and doc["oodforge_version"] == __version__
    assert doc["config_sha256"] == records(ds)[0]["config_sha256"]
    assert doc["dataset"] == str(ds.resolve()) and doc["options"] == res.options
    assert sorted(doc["splits"]) == ["test", "val"] and doc["splits"] == res.per_split
    n = sum(r["split"] in ("test", "val") for r in records(ds))
    assert len(doc["files"]) == n == sum(c["images"] for c in doc["splits"].values())
    for entry in doc["files"]:
        assert (ds / entry["image"]).is_file() and (out / entry["label"]).is_file()
    assert not (out / "train").exists()


def test_write_is_verified(ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = run_module.encode_png
    monkeypatch.setattr(run_module, "encode_png", lambda arr: real(np.zeros_like(arr) + 7))
    with pytest.raises(OodforgeError, match="verification failed"):
        export_outlier_mask(ds, tmp_path / "out")


def test_missing_cityscapes_label_names_the_file_and_writes_nothing(ds: Path, tmp_path: Path) -> None:
    root = tmp_path / "cs"
    shutil.copytree(cs_root(ds), root)
    rec = next(r for r in records(ds) if r["split"] == "test")
    missing = frame_paths(root, rec["source_split"], rec["image_id"]).label_path
    missing.unlink()
    for export in (export_trainids, export_cityscapes_instances):
        with pytest.raises(InputFileError, match=str(missing)):
            export(ds, tmp_path / "out", cityscapes_root=root)
        assert not (tmp_path / "out").exists()


def test_cityscapes_root_from_config_relative_and_override(ds: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(ds, moved / "ds")
    shutil.copytree(cs_root(ds), moved / "cs")
    config = yaml.safe_load((moved / "ds" / "config.yaml").read_text())
    config["sources"]["cityscapes"]["root"] = "../cs"  # relative: against the dataset folder
    (moved / "ds" / "config.yaml").write_text(yaml.safe_dump(config))
    res = export_trainids(moved / "ds", tmp_path / "a")
    assert res.options["cityscapes_root"] == str((moved / "cs").resolve())
    config["sources"]["cityscapes"]["root"] = "/nowhere/cityscapes"
    (moved / "ds" / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(DataLayoutError, match=r"sources\.cityscapes\.root"):
        export_trainids(moved / "ds", tmp_path / "b")
    assert export_trainids(moved / "ds", tmp_path / "b", cityscapes_root=moved / "cs").totals["images"] > 0


def test_scene_that_contradicts_the_gt_is_refused(ds: Path, tmp_path: Path) -> None:
    root = tmp_path / "cs"
    shutil.copytree(cs_root(ds), root)
    rec = next(r for r in records(ds) if r["split"] == "val")
    path = frame_paths(root, rec["source_split"], rec["image_id"]).label_path
    cv2.imwrite(str(path), np.zeros_like(read(path)))  # all 'unlabeled': void where the GT says normal
    with pytest.raises(DataLayoutError, match="void in the scene but normal"):
        export_trainids(ds, tmp_path / "out", cityscapes_root=root, splits=["val"])


def test_broken_composite_is_refused(ds: Path, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(ds, root)
    rec = next(r for r in records(root) if r["placed_instances"] >= 1)
    gt, idmap, _ = composite(root, rec)
    idmap[(gt == 0).nonzero()[0][0], (gt == 0).nonzero()[1][0]] = 1  # an id where nothing is covered
    cv2.imwrite(str(root / rec["outputs"]["instances"]), idmap)
    with pytest.raises(DataLayoutError, match="expected idmap > 0 exactly where GT == 1"):
        export_coco(root, tmp_path / "out", splits=[rec["split"]])


@pytest.mark.parametrize("value", [0, 18, 256, -1])
def test_anomaly_value_outside_19_255_is_refused(ds: Path, tmp_path: Path, value: int) -> None:
    with pytest.raises(UsageError, match="--anomaly-value"):
        export_trainids(ds, tmp_path / "out", anomaly_value=value)


def test_export_folder_rules(ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_outlier_mask(ds, out, splits=["test"])
    with pytest.raises(UsageError, match="--overwrite"):
        export_outlier_mask(ds, out, splits=["test"])
    (out / "mine.txt").write_text("keep me")
    res = export_coco(ds, out, overwrite=True)  # another target replaces the previous export's files
    assert not (out / "test").exists() and (out / "instances_test.json").is_file()
    assert (out / "mine.txt").read_text() == "keep me" and res.kept_files == 1
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "a.png").write_bytes(b"x")
    with pytest.raises(UsageError, match="no list of oodforge's files"):
        export_outlier_mask(ds, foreign, overwrite=True)
    with pytest.raises(UsageError, match="outside the dataset"):
        export_outlier_mask(ds, ds / "exports")
    with pytest.raises(UsageError, match="unknown split 'nope'"):
        export_outlier_mask(ds, tmp_path / "x", splits=["nope"])
