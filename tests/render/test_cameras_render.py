"""Camera sources in Blender (32x32, 2 samples): ALLO's protocol and the user's ``Camera<k>`` objects."""

from __future__ import annotations

import json
import math
from importlib.util import find_spec

import numpy as np
import pytest

from oodforge.errors import InputFileError
from oodforge.render import plan_frames, render_config_from_dict, render_dataset
from oodforge.render.allo_cameras import allo_pose

pytestmark = pytest.mark.skipif(find_spec("bpy") is None, reason="needs Blender: pip install 'oodforge[render]'")

_RENDER = {"samples": 2, "resolution": [32, 32], "device": "CPU"}


def _records(root) -> list[dict]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


def test_allo_cameras_are_posed_from_the_tables(tmp_path):
    from oodforge.render._bpy_frame import BlenderSession

    cfg = render_config_from_dict({
        "seed": 4, "output_root": str(tmp_path / "out"), "anomalies": ["cube"], "cameras": {"source": "allo", "start": 1, "end": 2},
        "placement": {"max_tries": 50}, "render": _RENDER,
    })  # fmt: skip
    s = render_dataset(cfg)
    assert not s.failed and set(s.per_camera) == {"Camera1", "Camera2"}
    for rec in _records(s.output_root):
        k = int(rec["camera"][6:])
        pose = allo_pose(4, k, rec["day"], anomalous=rec["is_anomalous"])
        assert rec["camera_source"] == "allo"
        assert (
            rec["allo_camera"]["table"] == ("test" if rec["is_anomalous"] else "train")
            and rec["allo_camera"]["row"] == k
        )
        assert rec["allo_camera"]["location"] == pytest.approx(pose.location, abs=1e-6)
        assert rec["allo_camera"]["rotation_euler"] == pytest.approx(pose.rotation_euler, abs=1e-6)
        assert rec["camera_location"] == pytest.approx(pose.location, abs=1e-6)
    # the Blender object: ALLO's name, lens and far clip; location and rotation_euler as the pose
    (tmp_path / "tmp").mkdir()
    session = BlenderSession(cfg, tmp_path / "tmp")
    frame = next(f for f in plan_frames(cfg) if f.camera == "Camera2" and not f.anomalous)
    session.setup(frame, None)
    cam = session.scene.camera
    assert cam.name == "Camera2" and cam.data.lens == 25.0 and cam.data.clip_end == 10000.0
    assert tuple(cam.location) == pytest.approx(frame.allo_pose.location, rel=1e-6)
    assert tuple(cam.rotation_euler) == pytest.approx(frame.allo_pose.rotation_euler, rel=1e-6)
    assert cam.rotation_mode == "XYZ"


def _write_blend(path, *, cameras: dict[str, tuple], extra: bool = False) -> None:
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.mesh.primitive_cube_add(size=2.0)
    if extra:  # bodies as ALLO names them, unit spheres
        for name in ("moon", "sun"):
            bpy.ops.mesh.primitive_uv_sphere_add(radius=1.0)
            bpy.context.active_object.name = name
    for name, (loc, rot, lens) in cameras.items():
        data = bpy.data.cameras.new(name)
        data.lens = lens
        obj = bpy.data.objects.new(name, data)
        bpy.context.scene.collection.objects.link(obj)
        obj.location, obj.rotation_euler = loc, rot
    bpy.ops.wm.save_as_mainfile(filepath=str(path))


def test_blend_cameras_render_from_the_file(tmp_path):
    blend = tmp_path / "scene.blend"
    look = (math.radians(90), 0.0, 0.0)  # along +Y
    cams = {f"Camera{k}": ((2.0 * (k - 2), -8.0, 0.0), look, 30.0 + 5 * k) for k in (1, 2, 3)}
    _write_blend(blend, cameras=cams, extra=True)
    base = {"seed": 1, "anomalies": ["sphere"], "scene": {"blend_file": str(blend)},
            "cameras": {"source": "blend", "start": 2, "end": 3}, "render": _RENDER,
            "placement": {"distance": 4.0, "jitter": 0.0, "max_tries": 5}}  # fmt: skip
    s = render_dataset(render_config_from_dict({**base, "output_root": str(tmp_path / "out")}))
    assert not s.failed and set(s.per_camera) == {"Camera2", "Camera3"}
    for rec in _records(s.output_root):
        loc, rot, _ = cams[rec["camera"]]
        assert rec["camera_source"] == "blend" and "allo_camera" not in rec
        assert rec["camera_location"] == pytest.approx(loc, abs=1e-5)
        assert rec["camera_rotation_euler"] == pytest.approx(rot, abs=1e-5)
        if rec["is_anomalous"]:  # placed 4 units ahead of the file's camera, on its view axis
            assert rec["pose"]["location"] == pytest.approx(np.add(loc, (0.0, 4.0, 0.0)), abs=1e-5)
            assert rec["pixel_count"] > 0
        else:
            assert rec["foreground_pixel_count"] > 0  # the file's cube is in view
    # a missing Camera<k> is one line naming the file and what it has
    with pytest.raises(InputFileError) as exc:
        render_dataset(
            render_config_from_dict(
                {**base, "output_root": str(tmp_path / "o4"), "cameras": {"source": "blend", "start": 3, "end": 4}}
            )
        )
    msg = str(exc.value)
    assert "has no camera object named Camera4" in msg and "Camera1, Camera2, Camera3" in msg and "\n" not in msg
    assert not (tmp_path / "o4").exists()


def test_blend_bodies_move_with_the_ephemeris(tmp_path):
    from oodforge.demo.ephemeris import write_demo_ephemeris
    from oodforge.render._bpy_frame import BlenderSession
    from oodforge.render.ephemeris import load_ephemeris

    blend = tmp_path / "scene.blend"
    _write_blend(blend, cameras={"Camera1": ((0.0, -8.0, 0.0), (math.radians(90), 0.0, 0.0), 35.0)}, extra=True)
    eph = write_demo_ephemeris(tmp_path / "eph.csv", days=2)
    cfg = render_config_from_dict({
        "output_root": str(tmp_path / "out"), "anomalies": [], "scene": {"blend_file": str(blend), "ephemeris": str(eph)},
        "cameras": {"source": "blend", "start": 1, "end": 1}, "days": {"start": 2, "end": 2}, "render": _RENDER,
    })  # fmt: skip
    (tmp_path / "tmp").mkdir()
    session = BlenderSession(cfg, tmp_path / "tmp")
    assert session.moved_bodies == ["moon", "sun"]  # the file has no earth
    frame = plan_frames(cfg)[0]
    session.setup(frame, None)
    day = load_ephemeris(eph).day(2)
    assert tuple(session.scene.objects["moon"].location) == pytest.approx(day.moon.location, rel=1e-6)
    assert tuple(session.scene.objects["sun"].scale) == pytest.approx((day.sun.radius,) * 3, rel=1e-3)
    assert session.scene.camera.name == "Camera1" and session.scene.camera.data.clip_end > 4000.0
