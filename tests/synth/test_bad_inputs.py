"""Damaged inputs fail their own image with a one-line reason; the run goes on and the rest is intact."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from oodforge.errors import DataLayoutError
from oodforge.inspect.verify import verify_dataset
from oodforge.sources.cityscapes import frame_paths, list_image_ids
from oodforge.synth.runner import RunSummary, synthesize_dataset

CLEAN = {"c": {"source": "val", "part": [0.0, 1.0], "clean_ratio": 1.0, "synth_ratio": 0.0}}
WriteConfig = Callable[..., Path]
SYNTH = {"t": {"source": "val", "part": [0.0, 1.0], "clean_ratio": 0.0, "synth_ratio": 1.0}}


@pytest.fixture
def world(demo_world: Path, tmp_path: Path) -> Path:
    """A private copy of the demo world's Cityscapes tree (the shared one stays intact)."""
    dst = tmp_path / "cityscapes"
    shutil.copytree(demo_world / "world" / "cityscapes", dst)
    return dst


def _failures(summary: RunSummary) -> dict[str, str]:
    return {image_id: err for _, image_id, err in summary.failed}


def _check_rest_ok(summary: RunSummary, bad: set[str]) -> None:
    """Only the damaged images failed, each with a one-line reason; verify reports nothing else."""
    assert set(_failures(summary)) == bad
    assert all("\n" not in err for err in _failures(summary).values())
    records = [json.loads(x) for x in (summary.output_root / "manifest.jsonl").read_text().splitlines()]
    assert {r["image_id"] for r in records if r["status"] == "ok"} == {r["image_id"] for r in records} - bad
    other = [p for p in verify_dataset(summary.output_root).problems if not any(i in p for i in bad)]
    assert not other


def test_damaged_sources_of_clean_images_fail(write_config: WriteConfig, world: Path) -> None:
    ids = list_image_ids(world, "val")
    truncated, small, grey = ids[1], ids[4], ids[7]
    path = frame_paths(world, "val", truncated).image_path
    path.write_bytes(path.read_bytes()[:-100])
    cv2.imwrite(str(frame_paths(world, "val", small).image_path), np.zeros((64, 128, 3), np.uint8))
    cv2.imwrite(str(frame_paths(world, "val", grey).image_path), np.zeros((256, 512), np.uint8))
    cfg = write_config("clean", {"splits": CLEAN, "sources.cityscapes.root": str(world)})
    summary = synthesize_dataset(cfg)
    errors = _failures(summary)
    _check_rest_ok(summary, {truncated, small, grey})
    assert "truncated PNG" in errors[truncated] and f"{truncated}_leftImg8bit.png" in errors[truncated]
    assert "128x64 but its labels" in errors[small] and "512x256" in errors[small]
    assert "8-bit grey PNG; expected 8-bit RGB" in errors[grey]


def test_damaged_first_label_fails_only_its_image(write_config: WriteConfig, world: Path) -> None:
    first = list_image_ids(world, "val")[0]
    frame_paths(world, "val", first).label_path.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    cfg = write_config("label", {"splits": CLEAN, "sources.cityscapes.root": str(world)})
    summary = synthesize_dataset(cfg)
    _check_rest_ok(summary, {first})
    assert "unreadable or truncated label image" in _failures(summary)[first]


def test_empty_labels_still_refuse_the_run(write_config: WriteConfig, world: Path) -> None:
    ids = list_image_ids(world, "test")  # the demo test split has void labels only
    frame_paths(world, "test", ids[0]).label_path.write_bytes(b"broken")
    split = {"x": {"source": "test", "part": [0.0, 1.0], "clean_ratio": 1.0, "synth_ratio": 0.0}}
    cfg = write_config("void", {"splits": split, "sources.cityscapes.root": str(world)})
    with pytest.raises(DataLayoutError, match="empty labels"):
        synthesize_dataset(cfg)


@pytest.mark.parametrize(
    ("group", "key", "value", "reason"),
    [
        ("extrinsic", "z", -1.2, "'extrinsic.z' is -1.2; expected the camera height above the road"),
        ("extrinsic", "z", 0, "'extrinsic.z' is 0.0; expected the camera height above the road"),
        ("intrinsic", "u0", 5000.0, "'intrinsic.u0' is 5000.0; expected a principal point column"),
        ("intrinsic", "fy", 0, "'intrinsic.fy' is 0.0; expected a focal length"),
    ],
)
def test_impossible_camera_fails_only_its_image(
    write_config: WriteConfig, world: Path, group: str, key: str, value: float, reason: str
) -> None:
    ids = [i for i in list_image_ids(world, "val") if frame_paths(world, "val", i).camera_path is not None]
    victim = ids[0]
    path = frame_paths(world, "val", victim).camera_path
    assert path is not None
    cam = json.loads(path.read_text())
    cam[group][key] = value
    path.write_text(json.dumps(cam))
    cfg = write_config("cam", {"splits": SYNTH, "sources.cityscapes.root": str(world)})
    summary = synthesize_dataset(cfg)
    _check_rest_ok(summary, {victim})
    assert str(path) in _failures(summary)[victim] and reason in _failures(summary)[victim]
