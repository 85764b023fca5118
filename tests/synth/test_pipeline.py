"""End-to-end synthesis on the demo world: layout, conventions, determinism, subsets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _helpers import demo_config_dict, tree_hashes
from oodforge._io import read_image_rgb, read_label_png
from oodforge.sources.cityscapes import frame_paths, load_label_ids
from oodforge.sources.cityscapes_labels import label_id_to_train_id_lut, name2label
from oodforge.synth.runner import synthesize_dataset


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_world):
    """One dataset built with 1 worker, shared by the read-only checks below."""
    import yaml

    tmp = tmp_path_factory.mktemp("built")
    data = demo_config_dict()
    data["sources"]["cityscapes"]["root"] = str(demo_world / "world" / "cityscapes")
    data["sources"]["coco"]["root"] = str(demo_world / "world" / "coco")
    data["sources"]["coco"]["cache_dir"] = str(demo_world / "cache")
    data["dataset"]["output_root"] = str(tmp / "ds")
    cfg = tmp / "c.yaml"
    cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    summary = synthesize_dataset(cfg, workers=1)
    assert not summary.failed
    records = [json.loads(line) for line in (tmp / "ds" / "manifest.jsonl").read_text().splitlines()]
    return tmp / "ds", records, demo_world / "world" / "cityscapes"


def test_manifest_sorted_complete_and_split_semantics(built):
    root, records, _ = built
    keys = [(r["split"], r["image_id"]) for r in records]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    by_split = {s: [r for r in records if r["split"] == s] for s in ("train", "val", "test")}
    assert all(not r["is_synth"] for r in by_split["val"])
    assert all(r["is_synth"] for r in by_split["test"])
    assert {r["image_id"] for r in by_split["val"]}.isdisjoint({r["image_id"] for r in by_split["test"]})
    assert any(r["has_anomaly"] for r in by_split["test"])
    for r in records:
        assert r["status"] == "ok"
        assert r["has_anomaly"] == (r["placed_instances"] > 0)
        assert len(r["instances"]) == r["placed_instances"] == len(r["coco_ann_ids"])
        assert r["planned_instances"] >= r["placed_instances"]
        for key in ("image", "gt_pixel", "instances", "labels"):
            assert (root / r["outputs"][key]).is_file()


def test_images_without_paste_are_byte_copies(built):
    root, records, cs_root = built
    for r in records:
        if r["placed_instances"] == 0:
            src = frame_paths(cs_root, r["source_split"], r["image_id"]).image_path
            assert (root / r["outputs"]["image"]).read_bytes() == src.read_bytes()


def test_gt_conventions_and_placement_invariants(built):
    root, records, cs_root = built
    void = label_id_to_train_id_lut() == 255
    forbidden = [name2label[n].id for n in ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")]
    checked = 0
    for r in records:
        gt = read_label_png(root / r["outputs"]["gt_pixel"])
        ids = read_label_png(root / r["outputs"]["instances"], dtype=np.uint16)
        labels = load_label_ids(frame_paths(cs_root, r["source_split"], r["image_id"]).label_path)
        assert set(np.unique(gt)) <= {0, 1, 255}
        np.testing.assert_array_equal(gt == 1, ids > 0)  # GT is 1 exactly on covered pixels
        np.testing.assert_array_equal(gt == 255, void[labels] & (ids == 0))  # 255 exactly on uncovered void
        for k, inst in enumerate(r["instances"], start=1):
            covered = ids == k
            assert covered.sum() == inst["area_px"] > 0
            target = name2label[inst["target_label"]].id
            assert (labels[covered] == target).mean() >= 0.8 - 1e-9
            assert not np.isin(labels[covered], forbidden).any()
            x, y, w, h = inst["bbox"]
            yy, xx = np.nonzero(covered)
            assert (xx.min(), yy.min(), xx.max() - xx.min() + 1, yy.max() - yy.min() + 1) == (x, y, w, h)
            checked += 1
        labels_json = json.loads((root / r["outputs"]["labels"]).read_text())
        assert [e["id"] for e in labels_json] == list(range(1, r["placed_instances"] + 1))
        assert all(e["label"] == 1 for e in labels_json)
    assert checked > 0


def test_paste_touches_only_the_patch_region(built):
    root, records, cs_root = built
    for r in records:
        if r["placed_instances"] == 0 or not r["outputs"]["image"].endswith(".png"):
            continue
        out = read_image_rgb(root / r["outputs"]["image"])
        src = read_image_rgb(frame_paths(cs_root, r["source_split"], r["image_id"]).image_path)
        inside = np.zeros(out.shape[:2], bool)
        for inst in r["instances"]:
            inside[inst["y"] : inst["y"] + inst["patch_h"], inst["x"] : inst["x"] + inst["patch_w"]] = True
        np.testing.assert_array_equal(out[~inside], src[~inside])


def test_two_workers_and_subsets_give_identical_bytes(built, write_config):
    root, _, _ = built
    ref = tree_hashes(root)
    # two workers, into another folder
    summary = synthesize_dataset(write_config("w2"), workers=2)
    assert not summary.failed
    assert tree_hashes(summary.output_root) == ref
    # one split with a limit: a subset of the same bytes
    sub = synthesize_dataset(write_config("sub"), split="test", limit=2)
    sub_hashes = tree_hashes(sub.output_root)
    assert "test/gt_pixel" in " ".join(sub_hashes)
    for rel, digest in sub_hashes.items():
        if rel not in ("manifest.jsonl",):
            assert ref[rel] == digest, rel
    # then the rest: finishing the run gives exactly the full dataset
    synthesize_dataset(write_config("sub"))
    assert tree_hashes(sub.output_root) == ref


def test_rerun_is_a_noop_and_manifest_has_no_duplicates(write_config):
    cfg = write_config(
        "again", {"splits": {"t": {"source": "val", "part": [0, 1], "clean_ratio": 0, "synth_ratio": 1}}}
    )
    first = synthesize_dataset(cfg, limit=3)
    before = tree_hashes(first.output_root)
    second = synthesize_dataset(cfg, limit=3)
    assert second.skipped == 3 and second.processed == 0
    assert tree_hashes(second.output_root) == before
    lines = (second.output_root / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 3
