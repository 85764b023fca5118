"""SMIYC RoadAnomaly21 / RoadObstacle21 on their official and redistributed layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_fixtures import (
    RA21_FIDS,
    SMIYC_RAW,
    bands,
    expected_label,
    frame_color,
    write_label,
    write_road_anomaly_21,
    write_road_obstacle_21,
)

from oodforge.benchmarks import RoadAnomaly21, RoadObstacle21, open_benchmark
from oodforge.errors import DataLayoutError

SMIYC_MAP = {0: 0, 1: 1, 255: 255, 7: 255}  # other raw values -> void, as the official toolkit


def _close(image: np.ndarray, k: int, tol: int = 2) -> bool:
    return bool(np.abs(image.astype(int) - np.array(frame_color(k))).max() <= tol)


@pytest.mark.parametrize("layout", ["official", "validation_dataset"])
def test_ra21_ids_split_and_mapping(layout: str, tmp_path: Path) -> None:
    write_road_anomaly_21(tmp_path, layout)
    reader = RoadAnomaly21(tmp_path)
    assert reader.split == "all" and reader.image_ids() == ["road0002", "validation0000", "validation0001"]
    assert reader.layout.kind == ("official" if layout == "official" else "redistributed")
    assert open_benchmark("road_anomaly_21", tmp_path, "validation").image_ids() == ["validation0000", "validation0001"]
    assert open_benchmark("road_anomaly_21", tmp_path, "test").image_ids() == ["road0002"]
    sample = reader.load("validation0000")
    assert np.array_equal(sample.label, expected_label(SMIYC_RAW, SMIYC_MAP))
    assert sample.label[0, 0] == 0 and sample.label[8, 0] == 1 and sample.label[16, 0] == 255
    assert sample.label[31, 63] == 255  # raw 7
    assert _close(sample.image, RA21_FIDS.index("validation0000"))
    expected_name = "validation0000_labels_semantic.png" if layout == "official" else "validation0000.png"
    assert sample.label_path is not None and sample.label_path.name == expected_name


def test_ra21_root_at_track_folder_and_validation_folder(tmp_path: Path) -> None:
    write_road_anomaly_21(tmp_path / "a", "official")
    assert len(RoadAnomaly21(tmp_path / "a" / "dataset_AnomalyTrack")) == 3
    write_road_anomaly_21(tmp_path / "b", "validation_dataset")
    reader = RoadAnomaly21(tmp_path / "b" / "RoadAnomaly21")
    assert len(reader) == 3 and reader.layout.label_suffix == ".png"


def test_ra21_hidden_test_labels(tmp_path: Path) -> None:
    write_road_anomaly_21(tmp_path, without_label=("road0002",))
    assert len(RoadAnomaly21(tmp_path, "validation")) == 2
    with pytest.raises(
        DataLayoutError, match=r"1 of 3 frames of split 'all' have no label file .*use split='validation'"
    ):
        RoadAnomaly21(tmp_path)


def test_ra21_wrong_root_shows_expected_layout(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    with pytest.raises(DataLayoutError) as e:
        RoadAnomaly21(tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path}: no images found; expected ")
    assert (
        "<root>/dataset_AnomalyTrack/images/<fid>.jpg with labels "
        "<root>/dataset_AnomalyTrack/labels_masks/<fid>_labels_semantic.png" in msg
    )
    assert "<root>/images/<stem>.png with labels <root>/labels_masks/<stem>.png" in msg


def test_ra21_empty_split(tmp_path: Path) -> None:
    write_road_anomaly_21(tmp_path, fids=("road0001", "road0002"))
    with pytest.raises(DataLayoutError, match=r"none of the 2 frames belongs to split 'validation'.*validation0009"):
        RoadAnomaly21(tmp_path, "validation")


def test_ra21_unreadable_label_is_not_silently_mapped(tmp_path: Path) -> None:
    write_road_anomaly_21(tmp_path)
    path = tmp_path / "dataset_AnomalyTrack" / "labels_masks" / "road0002_labels_semantic.png"
    write_label(path, bands([0, 1, 300, 2], np.uint16))
    from oodforge.errors import SampleError

    with pytest.raises(SampleError, match="do not fit uint8"):
        RoadAnomaly21(tmp_path).load_label("road0002")


RO21_SPLITS = {
    "all": [
        "darkasphalt2_dog_1",
        "driveway_box_3",
        "gravel_axe_1",
        "snowstorm1_00_01_02.345",
        "validation_1",
        "validation_19",
        "validation_2",
        "validation_25",
    ],
    "test": ["darkasphalt2_dog_1", "gravel_axe_1"],
    "validation": ["validation_1", "validation_2"],  # validation_19 and validation_25 excluded by prefix
    "night": ["driveway_box_3"],
    "snowstorm": ["snowstorm1_00_01_02.345"],
    "noNight": [
        "darkasphalt2_dog_1",
        "gravel_axe_1",
        "snowstorm1_00_01_02.345",
        "validation_1",
        "validation_19",
        "validation_2",
        "validation_25",
    ],
}


@pytest.mark.parametrize("split", list(RO21_SPLITS))
def test_ro21_splits(split: str, tmp_path: Path) -> None:
    write_road_obstacle_21(tmp_path)
    assert RoadObstacle21(tmp_path, split).image_ids() == RO21_SPLITS[split]


@pytest.mark.parametrize("layout", ["official", "validation_dataset"])
def test_ro21_layouts_and_mapping(layout: str, tmp_path: Path) -> None:
    write_road_obstacle_21(tmp_path, layout)
    reader = RoadObstacle21(tmp_path, "validation")
    sample = reader.load("validation_2")
    assert np.array_equal(sample.label, expected_label(SMIYC_RAW, SMIYC_MAP))
    assert sample.image_path is not None and sample.image_path.suffix == ".webp"
    assert np.array_equal(sample.image[0, 0], frame_color(3))  # lossless webp, 4th frame written
    assert reader.component_track == "obstacle"


def test_ro21_wrong_root_names_typo_folder(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match=r"<root>/RoadObsticle21/images/<stem>.webp") as e:
        RoadObstacle21(tmp_path)
    assert "<root>/dataset_ObstacleTrack/images/<fid>.webp" in str(e.value)
