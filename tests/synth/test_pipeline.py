"""End-to-end synthesis on the demo world: layout, conventions, determinism, subsets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _helpers import demo_config_dict, tree_hashes
from oodforge._io import read_image_rgb, read_label_png
from oodforge.config.schema import PlacementConfig
from oodforge.sources.cityscapes import frame_paths, load_label_ids
from oodforge.sources.cityscapes_labels import label_id_to_train_id_lut, name2label
from oodforge.synth.runner import synthesize_dataset
from oodforge.synth.scene import contact_rows
from oodforge.synth.shadow import ShadowParams, shadow_factor


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


def _shadow_region(inst: dict, shape: tuple[int, int]) -> np.ndarray:
    """Pixels the recorded contact shadow of ``inst`` may darken (from the manifest alone)."""
    region = np.zeros(shape, dtype=bool)
    if inst["shadow"] is None:
        return region
    params = ShadowParams(**inst["shadow"])
    x0, y0, x1, y1 = win = params.window(*shape)
    region[y0:y1, x0:x1] = shadow_factor(params, win) < 1.0
    return region


def _contact(cs_root, r) -> np.ndarray:
    frame = frame_paths(cs_root, r["source_split"], r["image_id"])
    names = PlacementConfig().occluder_labels
    lut = np.zeros(256, dtype=bool)
    lut[[name2label[n].id for n in names]] = True
    return contact_rows(load_label_ids(frame.label_path), lut, read_label_png(frame.instance_path, np.int32))


def test_gt_conventions_and_placement_invariants(built):
    root, records, cs_root = built
    void = label_id_to_train_id_lut() == 255
    forbidden = [name2label[n].id for n in ("ego vehicle", "rectification border", "out of roi")]
    checked = occluded = 0
    for r in records:
        gt = read_label_png(root / r["outputs"]["gt_pixel"])
        ids = read_label_png(root / r["outputs"]["instances"], dtype=np.uint16)
        labels = load_label_ids(frame_paths(cs_root, r["source_split"], r["image_id"]).label_path)
        assert set(np.unique(gt)) <= {0, 1, 255}
        np.testing.assert_array_equal(gt == 1, ids > 0)  # GT is 1 exactly on visible covered pixels
        assert ((gt == 255) >= (void[labels] & (ids == 0))).all()  # uncovered void is 255
        windows = np.zeros(gt.shape, dtype=bool)
        for inst in r["instances"]:
            windows[inst["y"] : inst["y"] + inst["patch_h"], inst["x"] : inst["x"] + inst["patch_w"]] = True
        assert not ((gt == 255) & ~void[labels] & ~windows).any()  # other 255s: soft rims inside a patch
        contact = _contact(cs_root, r) if r["instances"] else None
        for k, inst in enumerate(r["instances"], start=1):
            visible = ids == k
            assert visible.sum() == inst["area_px"] > 0
            assert inst["coverage"] >= 0.8 - 1e-9 and inst["visible_fraction"] >= 0.5 - 1e-9
            assert not np.isin(labels[visible], forbidden).any()
            # a nearer scene object (contact row below the object's base) is never under a visible pixel
            assert contact is not None and not (visible & (contact > inst["y"] + inst["patch_h"] - 1)).any()
            occluded += inst["visible_fraction"] < 1.0
            x, y, w, h = inst["bbox"]
            yy, xx = np.nonzero(visible)
            assert (xx.min(), yy.min(), xx.max() - xx.min() + 1, yy.max() - yy.min() + 1) == (x, y, w, h)
            checked += 1
        labels_json = json.loads((root / r["outputs"]["labels"]).read_text())
        assert [e["id"] for e in labels_json] == list(range(1, r["placed_instances"] + 1))
        assert all(e["label"] == 1 for e in labels_json)
    assert checked > 0


def test_changed_pixels_are_anomaly_ignore_or_shadow(built):
    root, records, cs_root = built
    shadows = 0
    for r in records:
        if r["placed_instances"] == 0:
            continue
        out = read_image_rgb(root / r["outputs"]["image"])
        src = read_image_rgb(frame_paths(cs_root, r["source_split"], r["image_id"]).image_path)
        gt = read_label_png(root / r["outputs"]["gt_pixel"])
        changed = (out != src).any(axis=2)
        shadow = np.zeros(gt.shape, dtype=bool)
        for inst in r["instances"]:
            shadow |= _shadow_region(inst, gt.shape)
        assert not (changed & (gt == 0) & ~shadow).any()
        shadows += int((changed & (gt == 0) & shadow).sum())
    assert shadows > 0  # contact shadows darken normal (road) pixels


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
