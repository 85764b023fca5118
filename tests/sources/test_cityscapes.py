"""Cityscapes index: layout checks, path derivation, empty-label refusal, camera files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from oodforge.errors import DataLayoutError, SampleError
from oodforge.sources.cityscapes import (
    CameraParams,
    check_split_has_labels,
    frame_paths,
    horizon_from_road,
    list_image_ids,
    load_label_ids,
    read_camera,
)

H, W = 8, 16
ROAD, SIDEWALK, EGO, OUT_OF_ROI = 7, 8, 1, 3

CAMERA = {
    "baseline": 0.22,
    "extrinsic": {"baseline": 0.22, "pitch": 0.05, "roll": 0.0, "x": 1.7, "y": 0.1, "yaw": 0.007, "z": 1.22},
    "intrinsic": {"fx": 2262.5, "fy": 2265.3, "u0": 1096.98, "v0": 513.137},
}


def write_frame(root: Path, split: str, image_id: str, labels: np.ndarray | None = None, camera: bool = False) -> None:
    city = image_id.split("_")[0]
    img_dir = root / "leftImg8bit" / split / city
    gt_dir = root / "gtFine" / split / city
    img_dir.mkdir(parents=True, exist_ok=True)
    gt_dir.mkdir(parents=True, exist_ok=True)
    if labels is None:
        labels = np.full((H, W), ROAD, np.uint8)
        labels[:2] = 23  # sky
    cv2.imwrite(str(img_dir / f"{image_id}_leftImg8bit.png"), np.full((H, W, 3), 100, np.uint8))
    cv2.imwrite(str(gt_dir / f"{image_id}_gtFine_labelIds.png"), labels)
    cv2.imwrite(str(gt_dir / f"{image_id}_gtFine_instanceIds.png"), labels.astype(np.uint16))
    if camera:
        cam_dir = root / "camera" / split / city
        cam_dir.mkdir(parents=True, exist_ok=True)
        (cam_dir / f"{image_id}_camera.json").write_text(json.dumps(CAMERA))


IDS = ["aachen_000001_000019", "aachen_000000_000019", "bochum_000000_000313"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for i, image_id in enumerate(IDS):
        write_frame(tmp_path, "train", image_id, camera=i == 0)
    return tmp_path


def one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg
    return msg


def test_list_image_ids_sorted(root: Path) -> None:
    assert list_image_ids(root, "train") == sorted(IDS)


def test_frame_paths(root: Path) -> None:
    f = frame_paths(root, "train", "aachen_000001_000019")
    assert f.city == "aachen"
    assert f.split == "train"
    assert f.image_path == root / "leftImg8bit/train/aachen/aachen_000001_000019_leftImg8bit.png"
    assert f.label_path == root / "gtFine/train/aachen/aachen_000001_000019_gtFine_labelIds.png"
    assert f.instance_path == root / "gtFine/train/aachen/aachen_000001_000019_gtFine_instanceIds.png"
    assert f.camera_path == root / "camera/train/aachen/aachen_000001_000019_camera.json"
    assert f.image_path.is_file()
    assert f.label_path.is_file()
    assert f.instance_path.is_file()
    assert frame_paths(root, "train", "bochum_000000_000313").camera_path is None
    with pytest.raises(DataLayoutError, match="<city>_<seq>_<frame>"):
        frame_paths(root, "train", "nounderscore")


def test_missing_split_folder(root: Path) -> None:
    with pytest.raises(DataLayoutError) as info:
        list_image_ids(root, "val")
    msg = one_line(info.value)
    assert "leftImg8bit/val" in msg
    assert "expected" in msg
    assert "<city>_<seq>_<frame>_leftImg8bit.png" in msg


def test_empty_split_folder(root: Path) -> None:
    (root / "leftImg8bit" / "val" / "frankfurt").mkdir(parents=True)
    with pytest.raises(DataLayoutError, match=r"no \*_leftImg8bit.png images found"):
        list_image_ids(root, "val")


def test_missing_gtfine(tmp_path: Path) -> None:
    write_frame(tmp_path, "val", "frankfurt_000000_000294")
    for p in sorted((tmp_path / "gtFine").rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    with pytest.raises(DataLayoutError, match=r"gtFine/val: Cityscapes label folder not found"):
        list_image_ids(tmp_path, "val")


def test_missing_label_file_named_with_count(root: Path) -> None:
    frame_paths(root, "train", "aachen_000001_000019").label_path.unlink()
    with pytest.raises(DataLayoutError) as info:
        list_image_ids(root, "train")
    msg = one_line(info.value)
    assert "aachen_000001_000019_gtFine_labelIds.png" in msg
    assert "1 of 3" in msg


def test_image_in_wrong_city_folder(root: Path) -> None:
    bad = root / "leftImg8bit" / "train" / "bochum" / "aachen_000009_000019_leftImg8bit.png"
    bad.write_bytes(b"")
    with pytest.raises(DataLayoutError, match="does not match its city folder 'bochum'"):
        list_image_ids(root, "train")


def test_labelled_split_passes(root: Path) -> None:
    check_split_has_labels(root, "train", list_image_ids(root, "train"))


def test_empty_labels_refused(tmp_path: Path) -> None:
    void = np.full((H, W), 0, np.uint8)
    void[-2:] = EGO
    void[:, :1] = OUT_OF_ROI
    ids = [f"berlin_00000{i}_000019" for i in range(4)]
    for image_id in ids[:3]:
        write_frame(tmp_path, "test", image_id, labels=void)
    labelled = void.copy()
    labelled[3, 3] = SIDEWALK
    write_frame(tmp_path, "test", ids[3], labels=labelled)
    with pytest.raises(DataLayoutError) as info:
        check_split_has_labels(tmp_path, "test", list(reversed(ids)), sample=3)
    msg = one_line(info.value)
    assert "empty labels" in msg
    assert "use train or val" in msg
    # the 4th image (in sorted order) has one non-void pixel: sampling it passes
    check_split_has_labels(tmp_path, "test", ids, sample=4)


def test_damaged_first_label_is_not_a_run_error(root: Path) -> None:
    # the split's first label file (sorted) is damaged: the check judges the next ones, the image fails alone
    frame_paths(root, "train", sorted(IDS)[0]).label_path.write_bytes(b"\x89PNG\r\n")
    check_split_has_labels(root, "train", IDS)


def test_empty_labels_judged_on_files_that_decode(tmp_path: Path) -> None:
    void = np.full((H, W), EGO, np.uint8)
    ids = [f"berlin_00000{i}_000019" for i in range(5)]
    for image_id in ids:
        write_frame(tmp_path, "test", image_id, labels=void)
    frame_paths(tmp_path, "test", ids[0]).label_path.write_bytes(b"garbage")
    data = frame_paths(tmp_path, "test", ids[2]).label_path.read_bytes()
    frame_paths(tmp_path, "test", ids[2]).label_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataLayoutError, match="first 3 readable images hold only void") as info:
        check_split_has_labels(tmp_path, "test", ids, sample=3)
    assert "empty labels" in one_line(info.value)
    # every label file damaged: nothing to judge, each image fails on its own
    for image_id in ids:
        frame_paths(tmp_path, "test", image_id).label_path.write_bytes(b"garbage")
    check_split_has_labels(tmp_path, "test", ids)


def test_load_label_ids(root: Path) -> None:
    f = frame_paths(root, "train", IDS[0])
    labels = load_label_ids(f.label_path)
    assert labels.shape == (H, W)
    assert labels.dtype == np.uint8
    assert labels[0, 0] == 23
    assert labels[5, 5] == ROAD
    data = f.label_path.read_bytes()
    f.label_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SampleError, match=str(f.label_path.name)):
        load_label_ids(f.label_path)


def test_read_camera(root: Path) -> None:
    f = frame_paths(root, "train", "aachen_000001_000019")
    assert f.camera_path is not None
    cam = read_camera(f.camera_path)
    assert cam == CameraParams(fx=2262.5, fy=2265.3, u0=1096.98, v0=513.137, pitch=0.05, height_m=1.22)
    assert cam.horizon_row == pytest.approx(513.137 - 2265.3 * math.tan(0.05))
    assert cam.horizon_row < cam.v0  # looking down: horizon above the principal point
    level = CameraParams(fx=1.0, fy=1.0, u0=0.0, v0=10.0, pitch=0.0, height_m=1.0)
    assert level.horizon_row == 10.0


def test_horizon_from_road() -> None:
    labels = np.full((10, 6), 23, np.uint8)
    labels[6:, :] = ROAD
    labels[4, 5] = ROAD
    labels[2, 0] = SIDEWALK
    assert horizon_from_road(labels, [ROAD]) == 4
    assert horizon_from_road(labels, [ROAD, SIDEWALK]) == 2
    assert horizon_from_road(np.zeros((4, 4), np.uint8), [ROAD]) is None
