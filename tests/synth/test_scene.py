"""Scene analysis: the sizing camera and the contact rows of nearer objects."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oodforge.config.schema import StandardCamera
from oodforge.errors import SampleError
from oodforge.synth.placement import label_lut
from oodforge.synth.scene import NO_OCCLUDER, SceneInfo, contact_rows, scene_camera

ROAD, POLE, SIGN, PERSON, CAR = 7, 17, 20, 24, 26
OCC = label_lut([POLE, SIGN, PERSON, CAR])


def test_standard_camera_scales_with_the_frame_height() -> None:
    std = StandardCamera()
    full = scene_camera(None, 1024, std)
    assert full.source == "standard"
    assert full.horizon_row == pytest.approx(513 - 2265 * math.tan(0.038))
    assert full.height_m == 1.22 and full.fy_px == 2265
    half = scene_camera(None, 512, std)
    assert half.horizon_row == pytest.approx(full.horizon_row / 2)
    assert half.fy_px == pytest.approx(2265 / 2)


def test_camera_json_wins(tmp_path: Path) -> None:
    cam = {"extrinsic": {"pitch": 0.05, "z": 1.3}, "intrinsic": {"fx": 2000, "fy": 2100, "u0": 1000, "v0": 500}}
    path = tmp_path / "c_camera.json"
    path.write_text(json.dumps(cam))
    got = scene_camera(path, 1024, StandardCamera())
    assert got.source == "json"
    assert got.horizon_row == pytest.approx(500 - 2100 * math.tan(0.05))
    assert got.height_m == 1.3 and got.fy_px == 2100


@pytest.mark.parametrize(
    ("extrinsic", "intrinsic", "pattern"),
    [
        ({"pitch": 0.05, "z": 0.0}, {"fx": 2000, "fy": 2100, "u0": 1000, "v0": 500}, r"'extrinsic.z' is 0.0"),
        ({"pitch": 0.05, "z": 1.3}, {"fx": 2000, "fy": 2100, "u0": 2049, "v0": 500}, r"'intrinsic.u0' is 2049.0"),
        ({"pitch": 0.05, "z": 1.3}, {"fx": 2000, "fy": 2100, "u0": 1000, "v0": 1025}, r"'intrinsic.v0' is 1025.0"),
    ],
)
def test_impossible_camera_json_is_a_sample_error(
    tmp_path: Path, extrinsic: dict[str, float], intrinsic: dict[str, float], pattern: str
) -> None:
    path = tmp_path / "c_camera.json"
    path.write_text(json.dumps({"extrinsic": extrinsic, "intrinsic": intrinsic}))
    with pytest.raises(SampleError, match=pattern):
        scene_camera(path, 1024, StandardCamera(), image_cols=2048)


def test_contact_rows_by_hand() -> None:
    labels = np.full((12, 10), ROAD, dtype=np.uint8)
    inst = np.zeros((12, 10), dtype=np.int32)
    labels[2:9, 1:3] = CAR  # car 26001: rows 2..8
    inst[2:9, 1:3] = 26001
    labels[4:6, 3:5] = CAR  # car 26002 touching the first: its own contact row 5
    inst[4:6, 3:5] = 26002
    labels[1:11, 7] = POLE  # a pole down to row 10 with a sign on it at rows 1..2
    labels[1:3, 8:10] = SIGN
    out = contact_rows(labels, OCC, inst)
    assert (out[2:9, 1:3] == 8).all()
    assert (out[4:6, 3:5] == 5).all()
    assert (out[1:11, 7] == 10).all() and (out[1:3, 8:10] == 10).all()  # the sign takes its pole's row
    assert (out[labels == ROAD] == NO_OCCLUDER).all()
    # without instance ids, touching cars merge into one component
    merged = contact_rows(labels, OCC, None)
    assert (merged[4:6, 3:5] == 8).all()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_nearer_means_a_lower_contact_row(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.choice(np.array([ROAD, POLE, CAR], dtype=np.uint8), size=(20, 16), p=[0.6, 0.2, 0.2])
    contact = contact_rows(labels, OCC, None)
    rows = np.arange(20)[:, None]
    occ = labels != ROAD
    assert ((contact >= rows) == occ).all()  # an occluder pixel is never below its own contact row
    info = SceneInfo(labels, contact, None)
    foot = int(rng.integers(0, 20))
    nearer = info.nearer(2, 3, 10, 12, foot)
    assert nearer is not None
    np.testing.assert_array_equal(nearer, contact[3:15, 2:12] > foot)
    assert SceneInfo(labels, None, None).nearer(0, 0, 4, 4, 3) is None
