"""Road Anomaly (Lis et al.) and Lost and Found (SMIYC layout and splits)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_fixtures import (
    LAF_MAP,
    LAF_RAW,
    LAF_TEST,
    LAF_TRAIN,
    RA_RAW,
    bands,
    expected_label,
    frame_color,
    write_label,
    write_lost_and_found,
    write_road_anomaly,
)

from oodforge.benchmarks import LostAndFound, RoadAnomaly, lost_and_found
from oodforge.errors import DataLayoutError, ValueCheckError

RA_MAP = {0: 0, 2: 1, 255: 255}


@pytest.mark.parametrize(("layout", "sub"), [("redistributed", ""), ("redistributed", "RoadAnomaly"), ("original", "")])
def test_road_anomaly_layouts(layout: str, sub: str, tmp_path: Path) -> None:
    write_road_anomaly(tmp_path, layout)
    reader = RoadAnomaly(tmp_path / sub)
    assert reader.split == "all" and reader.image_ids() == ["animals00_bear", "animals01_cow"]
    sample = reader.load("animals01_cow")
    assert np.array_equal(sample.label, expected_label(RA_RAW, RA_MAP))
    assert sample.label[8, 0] == 1 and sample.label[16, 0] == 255
    assert np.abs(sample.image.astype(int) - frame_color(0)).max() <= 2
    if layout == "original":
        assert sample.label_path == tmp_path / "frames" / "animals01_cow.labels" / "labels_semantic.png"


def test_road_anomaly_refuses_values_outside_encoding(tmp_path: Path) -> None:
    write_road_anomaly(tmp_path, raw=(0, 1, 2, 255))  # a 1 means an already-remapped dataset
    with pytest.raises(ValueCheckError, match=r"label values 1 \(512 px\) are outside the encoding .*Road Anomaly"):
        RoadAnomaly(tmp_path).load_label("animals00_bear")


def test_road_anomaly_wrong_root(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError) as e:
        RoadAnomaly(tmp_path)
    assert "<root>/RoadAnomaly/images/<stem>.jpg with labels <root>/RoadAnomaly/labels_masks/<stem>.png" in str(e.value)
    assert "<root>/frames/<stem>.jpg with labels <root>/frames/<stem>.labels/labels_semantic.png" in str(e.value)


def test_laf_splits_ids_and_mapping(tmp_path: Path) -> None:
    write_lost_and_found(tmp_path)
    reader = LostAndFound(tmp_path)
    assert reader.split == "test" and reader.image_ids() == sorted(LAF_TEST)
    assert LostAndFound(tmp_path, "train").image_ids() == list(LAF_TRAIN)
    fid = "02_Hanns_Klemm_Str_44_000000_000010"
    sample = reader.load(fid)
    # raw (1, 2, 150, 200, 0, 201, 255, 1) -> (0, 1, 1, 1, 255, 255, 255, 0)
    assert np.array_equal(sample.label, expected_label(LAF_RAW, LAF_MAP))
    assert [int(v) for v in sample.label[::4, 0]] == [0, 1, 1, 1, 255, 255, 255, 0]
    assert np.array_equal(sample.image[0, 0], frame_color(LAF_TEST.index(fid)))
    assert sample.label_path == (
        tmp_path / "gtCoarse" / "test" / "02_Hanns_Klemm_Str_44" / f"{fid}_gtCoarse_labelIds.png"
    )


def test_laf_parent_root(tmp_path: Path) -> None:
    write_lost_and_found(tmp_path / "dataset_LostAndFound")
    assert len(LostAndFound(tmp_path)) == 3


def test_laf_valid_splits_by_reading_labels(tmp_path: Path) -> None:
    empty = "02_Hanns_Klemm_Str_44_000000_000010"
    write_lost_and_found(tmp_path, empty=(empty,))
    valid = LostAndFound(tmp_path, "testValid")
    assert empty not in valid.image_ids() and len(valid) == 2
    assert any("not the official 1203" in note for note in valid.notes)
    # testNoKnown also drops 15_Rechbergstr_Deckenpfronn and 01_Hanns_Klemm_Str_45_000006: nothing is left
    with pytest.raises(DataLayoutError, match="split 'testNoKnown' of lost_and_found holds no frame"):
        LostAndFound(tmp_path, "testNoKnown")


def test_laf_no_known_prefixes(tmp_path: Path) -> None:
    test = (*LAF_TEST, "01_Hanns_Klemm_Str_45_000005_000020", "10_Schlossberg_9_000004_000010")
    write_lost_and_found(tmp_path, test=test)
    assert LostAndFound(tmp_path, "testNoKnown").image_ids() == [
        "01_Hanns_Klemm_Str_45_000005_000020",
        "02_Hanns_Klemm_Str_44_000000_000010",
    ]


def test_laf_valid_splits_by_official_indices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_lost_and_found(tmp_path)  # 3 test frames; pretend 3 is the official count, index 1 empty
    monkeypatch.setitem(lost_and_found.LAF_EMPTY_LABEL_FRAMES, "test", (3, (1,)))
    reader = LostAndFound(tmp_path, "testValid")
    assert reader.image_ids() == [sorted(LAF_TEST)[0], sorted(LAF_TEST)[2]] and reader.notes == []


def test_laf_missing_label_and_wrong_root(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError) as e:
        LostAndFound(tmp_path)
    assert "no test images found; expected <root>/leftImg8bit/<split>/<NN>_<scene>/<fid>_leftImg8bit.png" in str(
        e.value
    )
    assert "<root>/gtCoarse/<split>/<NN>_<scene>/<fid>_gtCoarse_labelIds.png" in str(e.value)
    write_lost_and_found(tmp_path)
    (tmp_path / "gtCoarse" / "train" / "03_Hanns_Klemm_Str_19" / f"{LAF_TRAIN[0]}_gtCoarse_labelIds.png").unlink()
    with pytest.raises(DataLayoutError, match=r"1 of 1 frames of split 'train' have no label file"):
        LostAndFound(tmp_path, "train")


def test_laf_label_of_16_bit_png_within_range(tmp_path: Path) -> None:
    write_lost_and_found(tmp_path)
    fid = sorted(LAF_TEST)[0]
    path = tmp_path / "gtCoarse" / "test" / fid.rsplit("_", 2)[0] / f"{fid}_gtCoarse_labelIds.png"
    write_label(path, bands(LAF_RAW, np.uint16))
    assert np.array_equal(LostAndFound(tmp_path).load_label(fid), expected_label(LAF_RAW, LAF_MAP))
