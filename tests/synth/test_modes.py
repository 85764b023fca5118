"""Scale modes and export formats end to end on the demo world."""

from __future__ import annotations

import json

import numpy as np
import pytest

from oodforge.inspect.verify import verify_dataset
from oodforge.sources.cityscapes import frame_paths, read_camera
from oodforge.synth.geometry import real_height_m
from oodforge.synth.runner import synthesize_dataset

TEST_ONLY = {"t": {"source": "val", "part": [0.0, 1.0], "clean_ratio": 0.0, "synth_ratio": 1.0}}


def _records(root):
    return [json.loads(x) for x in (root / "manifest.jsonl").read_text().splitlines()]


def test_metric_mode_sizes_follow_the_ground_plane(write_config, demo_world):
    cfg = write_config(
        "metric",
        {"splits": TEST_ONLY, "synthesis.geometry.scale_mode": "metric", "synthesis.geometry.height_jitter": 0.0,
         "synthesis.geometry.final_area_ratio": [0.0, 1.0]},
    )  # fmt: skip
    run = synthesize_dataset(cfg)
    cs = demo_world / "world" / "cityscapes"
    checked = 0
    for r in _records(run.output_root):
        cam_path = frame_paths(cs, "val", r["image_id"]).camera_path
        for inst in r["instances"]:
            if cam_path is None:
                continue
            cam = read_camera(cam_path)
            bottom = inst["y"] + inst["patch_h"] - 1
            expected_h = real_height_m(inst["category"], {}) * (bottom - cam.horizon_row) / cam.height_m
            # the patch height is the scaled COCO mask height (rounded)
            assert inst["patch_h"] == pytest.approx(expected_h, abs=1.0)
            checked += 1
    assert checked > 0
    assert not verify_dataset(run.output_root).problems


def test_fixed_mode_jpg_and_npy_formats(write_config):
    cfg = write_config(
        "fixed",
        {"splits": TEST_ONLY, "synthesis.geometry.scale_mode": "fixed", "synthesis.geometry.fixed_scale": 0.5,
         "synthesis.geometry.final_area_ratio": [0.0, 1.0], "export.image_format": "jpg",
         "export.instance_format": "npy"},
    )  # fmt: skip
    run = synthesize_dataset(cfg)
    recs = _records(run.output_root)
    placed = [r for r in recs if r["placed_instances"]]
    assert placed
    for r in recs:
        assert r["outputs"]["image"].endswith(".jpg" if r["placed_instances"] else ".png")
        assert len(r["outputs"]["instances"]) == r["placed_instances"]
        for k, rel in enumerate(r["outputs"]["instances"], start=1):
            mask = np.load(run.output_root / rel)
            assert mask.dtype == bool and mask.sum() == r["instances"][k - 1]["area_px"]
        for inst in r["instances"]:
            assert inst["scale"] == pytest.approx(0.5)
    assert not verify_dataset(run.output_root).problems


def test_no_feather_no_photometric_pastes_exact_pixels(write_config):
    cfg = write_config(
        "hard",
        {"splits": TEST_ONLY, "synthesis.blending.feather_px": 0, "synthesis.blending.photometric.space": "none",
         "synthesis.geometry.hflip_p": 0.0},
    )  # fmt: skip
    run = synthesize_dataset(cfg, limit=4)
    recs = [r for r in _records(run.output_root) if r["placed_instances"]]
    assert recs
    assert all(not i["flip"] for r in recs for i in r["instances"])
    assert not verify_dataset(run.output_root).problems


def test_png_codecs_write_the_same_pixels(write_config):
    """``export.png_codec``: fast (default) and opencv files differ in bytes, never in pixels; both verify."""
    from oodforge._io import read_image_rgb, read_label_png

    runs = {}
    for codec in ("fast", "opencv"):
        cfg = write_config(codec, {"splits": TEST_ONLY, "export.png_codec": codec})
        runs[codec] = synthesize_dataset(cfg).output_root
        assert not verify_dataset(runs[codec]).problems
        assert f"png_codec: {codec}" in (runs[codec] / "config.yaml").read_text()
    fast, slow = _records(runs["fast"]), _records(runs["opencv"])
    assert [r["image_id"] for r in fast] == [r["image_id"] for r in slow]
    differ = 0
    for a, b in zip(fast, slow, strict=True):
        assert a["instances"] == b["instances"]  # the same composites
        for key, dtype in (("image", None), ("gt_pixel", np.uint8), ("instances", np.uint16)):
            pa, pb = runs["fast"] / a["outputs"][key], runs["opencv"] / b["outputs"][key]
            if dtype is None:
                np.testing.assert_array_equal(read_image_rgb(pa), read_image_rgb(pb))
            else:
                np.testing.assert_array_equal(read_label_png(pa, dtype), read_label_png(pb, dtype))
            differ += a["sha256"][key] != b["sha256"][key]
    assert differ > 0  # and the files are really written by different encoders
