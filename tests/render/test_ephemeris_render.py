"""Ephemeris runs in Blender (32x32, 2 samples): bodies placed and sized by the table, the light from the Sun."""

from __future__ import annotations

import json
from importlib.util import find_spec

import numpy as np
import pytest

from oodforge.demo.ephemeris import write_demo_ephemeris
from oodforge.render import plan_frames, render_config_from_dict, render_dataset
from oodforge.render.ephemeris import load_ephemeris

pytestmark = pytest.mark.skipif(find_spec("bpy") is None, reason="needs Blender: pip install 'oodforge[render]'")


def _cfg(tmp_path, **extra):
    eph = write_demo_ephemeris(tmp_path / "render_data_csv", days=3)
    data = {"seed": 2, "output_root": str(tmp_path / "out"), "anomalies": ["cube"], "scene": {"ephemeris": str(eph)},
            "cameras": {"count": 2, "start": 1, "end": 1}, "days": {"start": 2, "end": 3},
            "placement": {"jitter": 0.0, "max_tries": 5},
            "render": {"samples": 2, "resolution": [32, 32], "device": "CPU"}, **extra}  # fmt: skip
    return render_config_from_dict(data), eph


def test_manifest_records_day_row_bodies_and_light(tmp_path):
    cfg, eph_path = _cfg(tmp_path)
    s = render_dataset(cfg)
    assert not s.failed and s.total == 4
    table = load_ephemeris(eph_path)
    recs = [json.loads(line) for line in (s.output_root / "manifest.jsonl").read_text().splitlines()]
    for rec in recs:
        day = table.day(rec["day"])
        e = rec["ephemeris"]
        assert (e["day"], e["row"], e["line"]) == (rec["day"], rec["day"], rec["day"] + 1)
        assert e["moved"] == ["moon", "sun", "earth"]
        for name, body in day.bodies().items():
            assert e["bodies"][name]["location"] == pytest.approx(body.location, abs=1e-5)
            assert e["bodies"][name]["dimensions"] == pytest.approx([2 * body.radius] * 3, abs=1e-5)
        assert rec["light"]["direction"] == pytest.approx(day.light_direction, abs=1e-6)
        assert rec["light"]["towards_sun"] == pytest.approx(day.sun_direction, abs=1e-6)
        assert rec["camera_source"] == "orbit"
    assert {r["day"] for r in recs} == {2, 3}


def test_bodies_and_sun_lamp_follow_the_table_in_blender(tmp_path):
    from oodforge.render._bpy_frame import BlenderSession
    from oodforge.render.geometry import matrix_from_euler

    cfg, eph_path = _cfg(tmp_path)
    (tmp_path / "tmp").mkdir()
    session = BlenderSession(cfg, tmp_path / "tmp")
    assert session.moved_bodies == ["moon", "sun", "earth"]
    for frame in plan_frames(cfg):
        if frame.anomalous:
            continue
        session.setup(frame, None)
        session.bpy.context.view_layer.update()
        day = load_ephemeris(eph_path).day(frame.day)
        for name, body in day.bodies().items():
            obj = session.scene.objects[name]
            assert tuple(obj.location) == pytest.approx(body.location, rel=1e-6)
            assert tuple(obj.dimensions) == pytest.approx((2 * body.radius,) * 3, rel=1e-3)
        assert session.scene.objects["sun"].visible_shadow is False  # it sits on the lamp's shadow rays
        lamp_travel = -matrix_from_euler(tuple(session.sun.rotation_euler))[:, 2]  # a sun lamp shines along -Z
        assert lamp_travel == pytest.approx(np.array(day.light_direction), abs=1e-5)
        assert session.scene.camera.data.clip_end > np.linalg.norm(day.sun.location) + day.sun.radius
