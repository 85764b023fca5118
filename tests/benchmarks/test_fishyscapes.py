"""Fishyscapes Lost & Found and Static: official files and the redistributed copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_fixtures import (
    FS_RAW,
    FS_REDIST_RAW,
    FS_STATIC_OVERLAY_DELTA,
    W,
    bands,
    expected_label,
    frame_color,
    write_fishyscapes_lost_and_found,
    write_fishyscapes_static,
    write_label,
)

from oodforge.benchmarks import FishyscapesLostAndFound, FishyscapesStatic, open_benchmark
from oodforge.errors import DataLayoutError, UsageError, ValueCheckError

FS_MAP = {0: 0, 1: 1, 255: 255, 3: 255}  # everything but 0 and 1 is void
LAF_IDS = ["0000_01_Hanns_Klemm_Str_45_000000_000080", "0001_04_Maurener_Weg_8_000000_000030"]


def test_fs_laf_official(tmp_path: Path) -> None:
    write_fishyscapes_lost_and_found(tmp_path)
    reader = FishyscapesLostAndFound(tmp_path)
    assert reader.split == "val" and reader.official and reader.image_ids() == LAF_IDS
    sample = reader.load(LAF_IDS[1])
    assert np.array_equal(sample.label, expected_label(FS_RAW, FS_MAP))
    assert sample.image_path is not None and sample.image_path.parts[-3:] == (
        "train",
        "04_Maurener_Weg_8",
        "04_Maurener_Weg_8_000000_000030_leftImg8bit.png",
    )
    assert np.array_equal(sample.image[5, 5], frame_color(0))  # first frame written
    assert sample.label_path is not None and sample.label_path.name == f"{LAF_IDS[1]}_labels.png"


def test_fs_laf_separate_laf_root(tmp_path: Path) -> None:
    write_fishyscapes_lost_and_found(tmp_path / "fs", laf_root=tmp_path / "laf")
    with pytest.raises(DataLayoutError, match=r"no Lost and Found image for 2 of 2 .*pass laf_root="):
        FishyscapesLostAndFound(tmp_path / "fs")
    reader = open_benchmark("fishyscapes_lost_and_found", tmp_path / "fs", laf_root=tmp_path / "laf")
    assert reader.image_ids() == LAF_IDS


def test_fs_laf_redistributed_is_strict(tmp_path: Path) -> None:
    write_fishyscapes_lost_and_found(tmp_path, "validation_dataset")
    for root in (tmp_path, tmp_path / "FS_LostFound_full"):
        reader = FishyscapesLostAndFound(root)
        assert not reader.official and reader.image_ids() == LAF_IDS
        assert np.array_equal(reader.load_label(LAF_IDS[0]), bands(FS_REDIST_RAW))
    write_label(tmp_path / "FS_LostFound_full" / "labels_masks" / f"{LAF_IDS[0]}.png", bands(FS_RAW))
    with pytest.raises(ValueCheckError, match=r"label values 3 \(512 px\) are outside the encoding 0 normal"):
        FishyscapesLostAndFound(tmp_path).load_label(LAF_IDS[0])


def test_fs_laf_wrong_root(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError) as e:
        FishyscapesLostAndFound(tmp_path)
    msg = str(e.value)
    assert "<root>/<fsid:04d>_<lafid>_labels.png" in msg
    assert "<laf_root>/leftImg8bit/{train,test}/<NN>_<scene>/<lafid>_leftImg8bit.png" in msg
    assert "<root>/FS_LostFound_full/images/<stem>.png with labels <root>/FS_LostFound_full/labels_masks/" in msg


STATIC_IDS = ["0000_munster_000010_000019", "0003_frankfurt_000001_034047"]


def test_fs_static_official_overlay_clipped(tmp_path: Path) -> None:
    write_fishyscapes_static(tmp_path)
    reader = FishyscapesStatic(tmp_path)
    assert reader.official and reader.label_encoding is None and reader.image_ids() == STATIC_IDS
    sample = reader.load("0003_frankfurt_000001_034047")  # k = 0: colour (20, 100, 220)
    assert np.array_equal(sample.label, expected_label(FS_RAW, FS_MAP))
    assert np.array_equal(sample.image[0, 0], [0, 100, 255])  # 20 - 50 -> 0, 220 + 60 -> 255 (clipped)
    assert np.array_equal(sample.image[0, W - 1], frame_color(0))  # no overlay on the right half
    munster = reader.load("0000_munster_000010_000019").image[0, 0]  # k = 1: (45, 100, 195)
    assert np.array_equal(munster, np.clip(np.add(frame_color(1), FS_STATIC_OVERLAY_DELTA), 0, 255))
    assert sample.image_path is not None and sample.image_path.name == "frankfurt_000001_034047_leftImg8bit.png"


def test_fs_static_official_missing_overlay(tmp_path: Path) -> None:
    write_fishyscapes_static(tmp_path)
    (tmp_path / "0000_munster_000010_000019_rgb.npz").unlink()
    with pytest.raises(DataLayoutError, match=r"no overlay .*0000_munster_000010_000019_rgb.npz for"):
        FishyscapesStatic(tmp_path)


def test_fs_static_official_refuses_label_encoding(tmp_path: Path) -> None:
    write_fishyscapes_static(tmp_path)
    with pytest.raises(UsageError, match="applies to the redistributed fs_static copy only"):
        FishyscapesStatic(tmp_path, label_encoding="binary")
    with pytest.raises(UsageError, match=r"unknown label_encoding 'ood'; valid: binary, 255_is_ood"):
        FishyscapesStatic(tmp_path, label_encoding="ood")


def test_fs_static_redistributed_binary_default(tmp_path: Path) -> None:
    write_fishyscapes_static(tmp_path, "validation_dataset", raw=(0, 1, 255, 0))
    reader = FishyscapesStatic(tmp_path)
    assert not reader.official and reader.label_encoding == "binary"
    assert reader.image_ids() == ["static_00", "static_03"]
    sample = reader.load("static_03")
    assert np.array_equal(sample.label, bands([0, 1, 255, 0]))
    assert np.abs(sample.image.astype(int) - frame_color(0)).max() <= 2  # JPEG
    # the same files read as "255 is OOD" contradict that encoding (they hold 1s)
    with pytest.raises(ValueCheckError, match=r"label values 1 \(512 px\) are outside the encoding 0 normal / 255"):
        FishyscapesStatic(tmp_path, label_encoding="255_is_ood").load_label("static_03")


def test_fs_static_redistributed_255_is_ood(tmp_path: Path) -> None:
    write_fishyscapes_static(tmp_path / "Validation_Dataset", "validation_dataset", raw=(0, 255, 0, 0))
    root = tmp_path / "Validation_Dataset" / "fs_static"
    reader = open_benchmark("fishyscapes_static", root, label_encoding="255_is_ood")
    assert reader.label_encoding == "255_is_ood"
    assert np.array_equal(reader.load_label("static_00"), bands([0, 1, 0, 0]))
    # read with the default "binary" encoding, 0/255 without any 1 is refused as a contradiction
    with pytest.raises(ValueCheckError, match=r"holds 0 and 255 but no 1.*pass label_encoding='255_is_ood'"):
        FishyscapesStatic(root).load_label("static_00")


def test_fs_static_wrong_root(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError) as e:
        FishyscapesStatic(tmp_path)
    msg = str(e.value)
    assert "<root>/<fsid:04d>_<cityscapes_id>_labels.png with <root>/<fsid:04d>_<cityscapes_id>_rgb.npz" in msg
    assert "<root>/fs_static/images/<stem>.jpg with labels <root>/fs_static/labels_masks/<stem>.png" in msg
