"""Cityscapes camera json: malformed or physically impossible files are one-line sample errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from oodforge.errors import SampleError
from oodforge.sources.cityscapes_camera import CameraParams, read_camera

CAMERA: dict[str, Any] = {
    "baseline": 0.22,
    "extrinsic": {"baseline": 0.22, "pitch": 0.05, "roll": 0.0, "x": 1.7, "y": 0.1, "yaw": 0.007, "z": 1.22},
    "intrinsic": {"fx": 2262.5, "fy": 2265.3, "u0": 1096.98, "v0": 513.137},
}
SIZE = (2048, 1024)


def _with(group: str, key: str, value: Any) -> str:
    data = copy.deepcopy(CAMERA)
    if value is _DROP:
        del data[group][key]
    else:
        data[group][key] = value
    return json.dumps(data)


_DROP = object()


def _refused(tmp_path: Path, text: str, pattern: str, size: tuple[int, int] | None = SIZE) -> str:
    path = tmp_path / "frankfurt_000000_000294_camera.json"
    path.write_text(text)
    with pytest.raises(SampleError, match=pattern) as info:
        read_camera(path, size)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(path)) and "expected" in msg
    return msg


def test_valid_camera(tmp_path: Path) -> None:
    path = tmp_path / "c_camera.json"
    path.write_text(json.dumps(CAMERA))
    cam = read_camera(path, SIZE)
    assert cam == CameraParams(fx=2262.5, fy=2265.3, u0=1096.98, v0=513.137, pitch=0.05, height_m=1.22)
    minimal = {"extrinsic": {"pitch": 0.0, "z": 1.0}, "intrinsic": {"fx": 1, "fy": 1, "u0": 0, "v0": 0}}
    path.write_text(json.dumps(minimal))
    assert read_camera(path, SIZE).height_m == 1.0  # the unused Cityscapes keys are optional


@pytest.mark.parametrize(
    ("group", "key", "value", "expected"),
    [
        ("extrinsic", "z", 0, "camera height above the road"),
        ("extrinsic", "z", -1.22, "camera height above the road"),
        ("intrinsic", "fx", 0.0, "focal length"),
        ("intrinsic", "fy", -2265.3, "focal length"),
        ("extrinsic", "pitch", 1.6, r"within \(-pi/2, pi/2\)"),
        ("intrinsic", "u0", 2100.0, r"0 <= u0 <= 2048"),
        ("intrinsic", "v0", -3.0, r"0 <= v0 <= 1024"),
    ],
)
def test_physically_impossible_values(tmp_path: Path, group: str, key: str, value: float, expected: str) -> None:
    msg = _refused(tmp_path, _with(group, key, value), expected)
    assert f"'{group}.{key}' is {float(value)!r}" in msg


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("{not json", "not a JSON camera file"),
        ('{"extrinsic": {"z": NaN}}', r"'intrinsic.fx' is missing"),
        (json.dumps([1, 2]), "camera json is a list; expected an object"),
        (json.dumps({"intrinsic": CAMERA["intrinsic"]}), r"'extrinsic.pitch' is missing"),
        (_with("intrinsic", "fy", "big"), r"'intrinsic.fy' is 'big'; expected a finite number"),
        (_with("extrinsic", "z", None), r"'extrinsic.z' is None"),
        (_with("extrinsic", "z", True), r"'extrinsic.z' is True"),
        (_with("extrinsic", "z", _DROP), r"'extrinsic.z' is missing"),
        (_with("extrinsic", "z", 1e999), r"'extrinsic.z' is inf"),
        (_with("extrinsic", "roll", float("nan")), r"'extrinsic.roll' is nan"),
        ('{"intrinsic": {"fx": 1' + "0" * 400 + "}}", r"'intrinsic.fx' is 1000.*\.\.\.; expected a finite"),
        ('{"intrinsic": {"fx": 1' + "0" * 5000 + "}}", "not a JSON camera file"),
        ("[" * 100000, "not a JSON camera file"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, pattern: str) -> None:
    _refused(tmp_path, text, pattern)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SampleError, match="cannot read camera file"):
        read_camera(tmp_path)  # a folder
    path = tmp_path / "c_camera.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(SampleError, match="not a JSON camera file"):
        read_camera(path)


def test_principal_point_unchecked_without_a_size(tmp_path: Path) -> None:
    path = tmp_path / "c_camera.json"
    path.write_text(_with("intrinsic", "u0", 5000.0))
    assert read_camera(path).u0 == 5000.0
