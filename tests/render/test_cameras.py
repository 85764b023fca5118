"""ALLO's camera protocol and the camera sources in the config and the plan (no Blender)."""

from __future__ import annotations

import numpy as np
import pytest

from oodforge.errors import ConfigError
from oodforge.render import plan_frames, render_config_from_dict
from oodforge.render.allo_cameras import ALLO_LENS_MM, ALLO_TEST_POSES, ALLO_TRAIN_POSES, allo_camera_name, allo_pose
from oodforge.render.plan import camera_names


def _cfg(**extra):
    return render_config_from_dict({"output_root": "o", **extra}, "cfg.yaml")


def test_pose_tables_are_allos():
    # values from CAMERA_DATA_TRAIN / CAMERA_DATA_TEST of utiasSTARS/ALLO blender_render/python/utils/camera.py
    assert len(ALLO_TRAIN_POSES) == 40 and len(ALLO_TEST_POSES) == 10
    assert ALLO_TRAIN_POSES[0] == (-37.69, -6.94, 4.93, 0.7887, 0, -0.0103)
    assert ALLO_TRAIN_POSES[39] == (-24.11, 1.457, -17.8, 2.77, 0, 0.6721)
    assert ALLO_TEST_POSES[0] == (-26.537, 27.247, -14.353, 1.73031, 0, -3.3945)
    assert ALLO_TEST_POSES[7] == (-6.200, -7.592, 5.144, 0.850549, -0.2, 0.850549)
    assert ALLO_TEST_POSES[9] == (-54.314, 13.020, -19.700, -0.966208, -3.1416, 0.022838)
    assert ALLO_LENS_MM == 25.0 and allo_camera_name(0) == "Camera0" and allo_camera_name(12) == "Camera12"


def test_noise_is_seeded_per_seed_camera_day_and_table():
    p = allo_pose(3, 2, 7, anomalous=False)
    assert p == allo_pose(3, 2, 7, anomalous=False)  # reproducible
    assert (p.table, p.row) == ("train", 2)
    assert p.table_location + p.table_rotation == pytest.approx(ALLO_TRAIN_POSES[2])
    t = allo_pose(3, 2, 7, anomalous=True)
    assert (t.table, t.row) == ("test", 2) and t.table_location + t.table_rotation == pytest.approx(ALLO_TEST_POSES[2])
    others = [allo_pose(4, 2, 7, anomalous=False), allo_pose(3, 1, 7, anomalous=False),
              allo_pose(3, 2, 8, anomalous=False)]  # fmt: skip
    noise = np.subtract(p.location, p.table_location)
    for o in [*others, t]:
        assert not np.allclose(np.subtract(o.location, o.table_location), noise)
    # N(0, 1) on the location, N(0, 0.2) rad on each Euler angle
    d_loc = np.array(
        [np.subtract(allo_pose(0, 5, d, anomalous=False).location, ALLO_TRAIN_POSES[5][:3]) for d in range(1, 2001)]
    )
    d_rot = np.array(
        [
            np.subtract(allo_pose(0, 5, d, anomalous=False).rotation_euler, ALLO_TRAIN_POSES[5][3:])
            for d in range(1, 2001)
        ]
    )
    assert np.abs(d_loc.mean(axis=0)).max() < 0.1 and np.allclose(d_loc.std(axis=0), 1.0, atol=0.06)
    assert np.abs(d_rot.mean(axis=0)).max() < 0.02 and np.allclose(d_rot.std(axis=0), 0.2, atol=0.012)
    with pytest.raises(IndexError, match=r"test table has poses 0\.\.9"):
        allo_pose(0, 10, 1, anomalous=True)


def test_plan_uses_train_poses_for_normal_and_test_poses_for_anomalous_frames():
    cfg = _cfg(cameras={"source": "allo", "start": 0, "end": 2}, days={"start": 1, "end": 2}, anomalies=["cube"],
               modes=["illumination"], seed=5)  # fmt: skip
    assert camera_names(cfg) == [("Camera0", 0), ("Camera1", 1), ("Camera2", 2)]
    frames = plan_frames(cfg)
    assert {f.camera for f in frames} == {"Camera0", "Camera1", "Camera2"}
    for f in frames:
        assert f.camera_source == "allo" and f.allo_pose is not None and f.slot == int(f.camera[6:])
        assert f.allo_pose == allo_pose(5, f.slot, f.day, anomalous=f.anomalous)
        assert f.allo_pose.table == ("test" if f.anomalous else "train")
    # one pose per (camera, day, table): every sun strength of a group sees the same camera
    normal = {(f.camera, f.day, f.allo_pose) for f in frames if not f.anomalous}
    assert len(normal) == 3 * 2
    # the default range is ALLO's render_config.yaml cams {start: 1, end: 3}
    assert camera_names(_cfg(cameras={"source": "allo"})) == [("Camera1", 1), ("Camera2", 2), ("Camera3", 3)]
    # orbit cameras keep their names and carry no pose
    plain = plan_frames(_cfg())
    assert plain[0].camera == "cam01" and plain[0].camera_source == "orbit" and plain[0].allo_pose is None


def test_blend_cameras_are_named_like_allos():
    cfg = _cfg(scene={"blend_file": "s.blend"}, cameras={"source": "blend", "start": 1, "end": 3})
    assert camera_names(cfg) == [("Camera1", 1), ("Camera2", 2), ("Camera3", 3)]
    assert {f.camera_source for f in plan_frames(cfg)} == {"blend"}


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"cameras": {"source": "allo", "start": 0, "end": 40}, "anomalies": []}, "training table has poses 0..39"),
        ({"cameras": {"source": "allo", "start": 5, "end": 12}}, "anomalous frames use ALLO's test table, poses 0..9"),
        ({"cameras": {"source": "blend"}}, "scene.blend_file, which is not set"),
        ({"cameras": {"start": 0}}, "orbit slots are numbered from 1"),
        ({"cameras": {"source": "alo"}}, "'orbit', 'allo' or 'blend'"),
    ],
)
def test_camera_source_errors(extra, needle):
    with pytest.raises(ConfigError) as exc:
        _cfg(**extra)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_allo_normal_only_runs_may_use_every_training_pose():
    frames = plan_frames(_cfg(cameras={"source": "allo", "start": 38, "end": 39}, anomalies=[]))
    assert [f.camera for f in frames] == ["Camera38", "Camera39"] and not any(f.anomalous for f in frames)
