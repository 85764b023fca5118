"""Score-map files: lookup of every id up front, readers for .npy / .npz, one-line errors, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oodforge.errors import InputFileError, ValueCheckError
from oodforge.eval.score_io import find_score_files, read_score_map, write_score_map


def test_find_all_ids_npy_and_npz(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((2, 2), np.float32))
    np.savez(tmp_path / "b.npz", np.zeros((2, 2), np.float16))
    (tmp_path / "extra.npy").write_bytes(b"")  # not a requested id: ignored
    assert find_score_files(tmp_path, ["b", "a"], "x") == {"b": tmp_path / "b.npz", "a": tmp_path / "a.npy"}


def test_missing_files_are_counted_before_reading(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((2, 2), np.float32))
    ids = ["a", "frankfurt_000000_000294", "c", "d"]
    with pytest.raises(InputFileError) as e:
        find_score_files(tmp_path, ids, "road_anomaly_21 (split 'all')")
    assert str(e.value) == (
        f"{tmp_path}/frankfurt_000000_000294.npy: missing (and 2 other image ids of road_anomaly_21 (split 'all') "
        "have no score file); expected <image_id>.npy or <image_id>.npz"
    )
    with pytest.raises(InputFileError, match=r"c.npy: missing \(and 1 other image id of x has no score file\)"):
        find_score_files(tmp_path, ["a", "c", "d"], "x")
    with pytest.raises(InputFileError, match=r"d.npy: missing \(every other image id of x has a score file\)"):
        find_score_files(tmp_path, ["a", "d"], "x")


def test_both_suffixes_and_not_a_folder(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((2, 2), np.float32))
    np.savez(tmp_path / "a.npz", np.zeros((2, 2), np.float32))
    with pytest.raises(InputFileError, match=r"both .npy and .npz score files exist for image id 'a'"):
        find_score_files(tmp_path, ["a"], "x")
    with pytest.raises(InputFileError, match="nope: not a folder"):
        find_score_files(tmp_path / "nope", ["a"], "x")


def test_npz_only_array_or_scores_key(tmp_path: Path) -> None:
    s = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.savez(tmp_path / "one.npz", s)
    np.savez(tmp_path / "key.npz", scores=s, other=np.zeros(3))
    np.savez(tmp_path / "two.npz", x=s, y=s)
    assert np.array_equal(read_score_map(tmp_path / "one.npz"), s)
    assert np.array_equal(read_score_map(tmp_path / "key.npz", (2, 3)), s)
    with pytest.raises(InputFileError, match=r"two.npz: expected one array or a 'scores' entry .* \['x', 'y'\]"):
        read_score_map(tmp_path / "two.npz")


@pytest.mark.parametrize(
    ("array", "needle"),
    [
        (np.zeros((4, 5), np.int32), "scores have dtype int32; expected float16 or float32"),
        (np.zeros((4, 5), bool), "scores have dtype bool"),
        (np.zeros((5, 4), np.float32), r"score map has shape \(5, 4\); expected \(4, 5\) \(H, W\) like the label"),
        (np.zeros((1, 4, 5), np.float32), r"shape \(1, 4, 5\); expected \(4, 5\)"),
        (np.where(np.eye(4, 5) > 0, np.nan, 0).astype(np.float32), r"4 non-finite score\(s\) \(4 NaN, 0 inf\) of 20"),
        (np.full((4, 5), np.inf, np.float16), r"20 non-finite score\(s\) \(0 NaN, 20 inf\) of 20"),
    ],
)
def test_invalid_maps_name_the_file(tmp_path: Path, array: np.ndarray, needle: str) -> None:
    path = tmp_path / "img.npy"
    np.save(path, array)
    with pytest.raises(InputFileError, match=needle) as e:
        read_score_map(path, (4, 5))
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(InputFileError, match=r"bad.npy: not a readable score file"):
        read_score_map(tmp_path / "bad.npy")


def test_write_is_float16_atomic_and_checked(tmp_path: Path) -> None:
    s = np.linspace(-3, 3, 12).reshape(3, 4)
    write_score_map(tmp_path / "sub" / "x.npy", s)
    back = np.load(tmp_path / "sub" / "x.npy")
    assert back.dtype == np.float16 and np.array_equal(back, s.astype(np.float16))
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["x.npy"]  # no temporary file left
    write_score_map(tmp_path / "y.npy", s * 1e5, dtype=np.float32)
    assert np.load(tmp_path / "y.npy").dtype == np.float32
    with pytest.raises(ValueCheckError, match="65504 for float16 storage"):
        write_score_map(tmp_path / "z.npy", s * 1e5)
    with pytest.raises(ValueCheckError, match="finite"):
        write_score_map(tmp_path / "z.npy", np.full((2, 2), np.nan))
    assert not (tmp_path / "z.npy").exists()
