"""Registry and the contract every registered reader honours, on each benchmark's own fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_fixtures import WRITERS, H, W, write_road_anomaly_21, write_synth

from oodforge.benchmarks import (
    BenchmarkReader,
    Sample,
    benchmark_class,
    list_benchmarks,
    open_benchmark,
    register_benchmark,
)
from oodforge.benchmarks._labels import SMIYC, LabelEncoding
from oodforge.errors import DataLayoutError, ShapeError, UsageError, ValueCheckError
from oodforge.metrics import TRACK_SIZES

ALL = [
    "fishyscapes_lost_and_found",
    "fishyscapes_static",
    "lost_and_found",
    "road_anomaly",
    "road_anomaly_21",
    "road_obstacle_21",
    "synth",
]


def test_list_benchmarks_sorted_and_filtered() -> None:
    assert list_benchmarks() == ALL
    assert list_benchmarks("road_*") == ["road_anomaly", "road_anomaly_21", "road_obstacle_21"]
    assert set(WRITERS) == set(ALL)  # every reader has a fixture


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(UsageError, match=r"Unknown benchmark 'road_anomaly21'; did you mean 'road_anomaly_21'") as e:
        benchmark_class("road_anomaly21")
    assert "available: fishyscapes_lost_and_found" in str(e.value)
    assert benchmark_class("Road-Anomaly-21").name == "road_anomaly_21"


def test_unknown_split_and_option(tmp_path: Path) -> None:
    write_road_anomaly_21(tmp_path)
    with pytest.raises(UsageError, match=r"unknown split 'val'; valid splits: all, test, validation"):
        open_benchmark("road_anomaly_21", tmp_path, split="val")
    with pytest.raises(UsageError, match=r"unknown option\(s\) label_encoding; valid options: none"):
        open_benchmark("road_anomaly_21", tmp_path, label_encoding="binary")


def test_register_duplicate_name_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):

        @register_benchmark("synth")
        class Other(BenchmarkReader):  # pragma: no cover - never instantiated
            def expected_layout(self) -> str:
                return ""

            def _discover(self, split: str) -> dict:
                return {}

            def _encoding(self, files: object) -> LabelEncoding:
                return SMIYC


PROPS = {  # name -> (default protocol, component config, default split)
    "road_anomaly_21": ("smiyc", "AnomalyTrack", "all"),
    "road_obstacle_21": ("smiyc", "ObstacleTrack", "all"),
    "fishyscapes_lost_and_found": ("fishyscapes", None, "val"),
    "fishyscapes_static": ("fishyscapes", None, "val"),
    "road_anomaly": ("fishyscapes", None, "all"),
    "lost_and_found": ("smiyc", "ObstacleTrack", "test"),
    "synth": ("fishyscapes", "AnomalyTrack", "test"),
}


@pytest.mark.parametrize("name", ALL)
def test_every_reader_on_its_fixture(name: str, tmp_path: Path) -> None:
    WRITERS[name](tmp_path)
    reader = open_benchmark(name, tmp_path)
    protocol, component, split = PROPS[name]
    assert (reader.name, reader.split, reader.default_protocol) == (name, split, protocol)
    assert reader.component_config == component and reader.has_components == (component is not None)
    if component is not None:
        assert reader.component_track in TRACK_SIZES
    ids = reader.image_ids()
    assert ids == sorted(ids) and len(reader) == len(ids) >= 1
    samples = list(reader)
    assert [s.image_id for s in samples] == ids
    for s in samples:
        assert isinstance(s, Sample)
        assert s.image.dtype == np.uint8 and s.image.shape == (H, W, 3)
        assert s.label.dtype == np.uint8 and s.label.shape == (H, W)
        assert set(np.unique(s.label)) <= {0, 1, 255}
        assert np.array_equal(reader.load_label(s.image_id), s.label)
        assert s.image_path is not None and s.image_path.is_file()
        assert s.label_path is not None and s.label_path.is_file()
    assert name in repr(reader) or type(reader).__name__ in repr(reader)


@pytest.mark.parametrize("name", ALL)
def test_every_reader_refuses_a_wrong_root(name: str, tmp_path: Path) -> None:
    (tmp_path / "unrelated").mkdir()
    with pytest.raises(DataLayoutError, match=r"expected .*<root>/") as e:
        open_benchmark(name, tmp_path)
    assert str(tmp_path) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(DataLayoutError, match="not a folder; expected"):
        open_benchmark(name, tmp_path / "missing")


def test_unknown_image_id(tmp_path: Path) -> None:
    reader = open_benchmark("synth", write_synth(tmp_path))
    assert "aachen_000001_000019" in reader and "nope" not in reader
    with pytest.raises(KeyError, match="image id 'nope' is not in split 'test'"):
        reader.load("nope")


def test_image_label_size_mismatch(tmp_path: Path) -> None:
    from benchmark_fixtures import write_label

    write_synth(tmp_path)
    write_label(tmp_path / "test" / "gt_pixel" / "aachen_000001_000019.png", np.zeros((H, W + 2), np.uint8))
    reader = open_benchmark("synth", tmp_path)
    assert reader.load_label("aachen_000001_000019").shape == (H, W + 2)  # labels alone are fine
    with pytest.raises(ShapeError, match=r"label is 66x32 but image .* is 64x32"):
        reader.load("aachen_000001_000019")


def test_label_encoding_error_message() -> None:
    raw = np.array([[0, 1, 2, 2], [255, 9, 9, 9]], np.uint8)
    from oodforge.benchmarks._labels import ROAD_ANOMALY

    with pytest.raises(ValueCheckError, match=r"x.png: label values 1 \(1 px\), 9 \(3 px\) are outside") as e:
        ROAD_ANOMALY.apply(raw, "x.png")
    assert "allowed raw values: 0, 2, 255" in str(e.value)
