"""SMIYC submission export: the official layout and HDF5 format, round trip, refusals."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from oodforge.errors import ShapeError, UsageError, ValueCheckError
from oodforge.eval.smiyc_submission import (
    read_smiyc_submission,
    smiyc_dataset_name,
    smiyc_submission_path,
    write_smiyc_submission,
)


def _official_read(path: Path) -> np.ndarray:
    """What road-anomaly-benchmark does: ChannelLoaderHDF5.read_file (dataset 'value'), then np.squeeze."""
    with h5py.File(path, "r") as fh:
        var = fh["value"]
        return np.squeeze(var[:] if len(var.shape) > 0 else var)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_round_trip(tmp_path: Path, dtype: type) -> None:
    rng = np.random.default_rng(0)
    score = (rng.random((37, 53)) * 8 - 2).astype(dtype)
    method_dir = tmp_path / "outputs" / "anomaly_p" / "MyMethod"
    path = write_smiyc_submission(method_dir, "AnomalyTrack-validation", "validation0003", score)
    assert path == method_dir / "AnomalyTrack-all" / "validation0003.hdf5"
    assert sorted(p.name for p in path.parent.iterdir()) == ["validation0003.hdf5"]  # atomic: no temp file
    with h5py.File(path, "r") as fh:
        assert list(fh.keys()) == ["value"]
        ds = fh["value"]
        assert ds.dtype == np.float16 and ds.shape == (37, 53)
        assert ds.compression == "gzip" and ds.compression_opts == 9
    back = _official_read(path)
    assert back.dtype == np.float16
    np.testing.assert_array_equal(back, score.astype(np.float16))
    np.testing.assert_array_equal(read_smiyc_submission(path), back)


def test_float16_edges(tmp_path: Path) -> None:
    score = np.array([[65504.0, -65504.0], [0.0, 1e-8]], np.float32)
    back = read_smiyc_submission(write_smiyc_submission(tmp_path, "ObstacleTrack-test", "snowstorm1_00_0001", score))
    np.testing.assert_array_equal(back, score.astype(np.float16))
    assert np.isfinite(back).all()


@pytest.mark.parametrize(
    ("track", "folder"),
    [
        ("AnomalyTrack-all", "AnomalyTrack-all"),
        ("AnomalyTrack-test", "AnomalyTrack-all"),
        ("road_anomaly_21", "AnomalyTrack-all"),
        ("ObstacleTrack-validation", "ObstacleTrack-all"),
        ("ObstacleTrack-night", "ObstacleTrack-all"),
        ("ObstacleScene-gravel", "ObstacleTrack-all"),
        ("Erasing-21", "ObstacleTrack-all"),
        ("road_obstacle_21", "ObstacleTrack-all"),
        ("LostAndFound-testNoKnown", "LostAndFound-test"),
        ("LostAndFound-trainValid", "LostAndFound-train"),
    ],
)
def test_persistence_folder(track: str, folder: str) -> None:
    assert smiyc_dataset_name(track) == folder
    assert smiyc_submission_path(Path("m"), track, "f0") == Path("m") / folder / "f0.hdf5"


@pytest.mark.parametrize(
    ("track", "match"),
    [("FishyLAFAnomaly-val", "LostAndFound-train or LostAndFound-test"), ("RoadAnomaly", "unknown SMIYC track")],
)
def test_bad_track(tmp_path: Path, track: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        write_smiyc_submission(tmp_path, track, "f0", np.zeros((2, 2), np.float32))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("image_id", ["", "..", "a/b", "a\\b"])
def test_bad_image_id(tmp_path: Path, image_id: str) -> None:
    with pytest.raises(UsageError, match="frame id"):
        write_smiyc_submission(tmp_path, "AnomalyTrack-all", image_id, np.zeros((2, 2), np.float32))


@pytest.mark.parametrize(
    ("score", "error", "match"),
    [
        (np.full((2, 2), 70000.0, np.float32), ValueCheckError, "f0: score 70000 exceeds float16's maximum 65504"),
        (np.full((2, 2), -1e6), ValueCheckError, "exceeds float16's maximum 65504"),
        (np.array([[0.0, np.nan]], np.float32), ValueCheckError, "NaN or inf"),
        (np.array([[0.0, np.inf]], np.float16), ValueCheckError, "NaN or inf"),
        (np.zeros((1, 2, 2), np.float32), ShapeError, r"\(H, W\), but got shape \(1, 2, 2\)"),
        (np.zeros((0, 4), np.float32), ShapeError, "shape"),
        (np.zeros((2, 2), bool), ValueCheckError, "dtype bool"),
    ],
)
def test_refused_scores(tmp_path: Path, score: np.ndarray, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        write_smiyc_submission(tmp_path, "AnomalyTrack-all", "f0", score)
    assert not (tmp_path / "AnomalyTrack-all").exists()


def test_missing_h5py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(UsageError, match=r"pip install 'oodforge\[smiyc\]'"):
        write_smiyc_submission(tmp_path, "AnomalyTrack-all", "f0", np.zeros((2, 2), np.float32))


def test_read_wrong_dataset(tmp_path: Path) -> None:
    path = tmp_path / "x.hdf5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("scores", data=np.zeros((2, 2), np.float16))
    with pytest.raises(UsageError, match="no HDF5 dataset 'value'"):
        read_smiyc_submission(path)
