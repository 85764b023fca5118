"""Render config validation, resolution and frame planning: no Blender needed."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from oodforge.errors import ConfigError, InputFileError, UsageError
from oodforge.render import dump_resolved_render, load_render_config, plan_frames, render_config_from_dict
from oodforge.render.config_io import resolve_render_config
from oodforge.render.palette import colour_entry
from oodforge.render.plan import group_seed


def _cfg(**extra):
    return render_config_from_dict({"output_root": "out", **extra}, "cfg.yaml")


def _err(**extra) -> str:
    with pytest.raises(ConfigError) as info:
        _cfg(**extra)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_defaults_and_mode_forms():
    cfg = _cfg()
    assert cfg.modes.active() == [] and cfg.anomalies == ["drill"] and cfg.render.engine == "CYCLES"
    assert _cfg(modes=["illumination", "depth", "scale", "colour"]).modes.active() == [
        "illumination", "depth", "scale", "colour"]  # fmt: skip
    m = _cfg(modes={"color": {"palette": ["green", [1.0, 0.5, 0.0]]}, "scale": None}).modes
    assert m.active() == ["scale", "colour"] and m.colour.palette[0] == "green" and m.scale.range == (0.3, 0.7)
    assert _cfg(modes=["color"]).modes.colour.palette == ["red", "blue", "yellow"]


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        ({"modes": {"scale": {"range": [0.9, 0.2]}}}, ["modes.scale.range", "min 0.9 is greater than max 0.2"]),
        ({"modes": ["ilumination"]}, ["unknown key 'modes.ilumination'", "did you mean 'illumination'"]),
        ({"modes": {"colour": {}, "color": {}}}, ["either 'colour' or its alias 'color'"]),
        ({"modes": {"colour": {"palette": ["rde"]}}}, ["unknown colour 'rde'", "did you mean 'red'"]),
        ({"modes": {"colour": {"palette": [[2, 0, 0]]}}}, ["in [0, 1]"]),
        ({"modes": {"depth": {"offsets": [0, -5]}}}, ["puts the anomaly at distance -1"]),
        ({"modes": {"depth": {"offsets": [0, 0.01]}}}, ["same frame name"]),
        ({"modes": {"illumination": {"sun_strengths": [1, 1]}}}, ["must be unique"]),
        ({"anomalies": ["dril"]}, ["neither a primitive nor a mesh file", "did you mean 'drill'"]),
        ({"anomalies": ["part.fbx"]}, ["mesh format '.fbx' cannot be imported", ".obj, .ply, .stl, .gltf, .glb"]),
        ({"scene": {"blend_file": "scene.txt"}}, ["expected a .blend file"]),
        ({"days": {"start": 5, "end": 2}}, ["days start 5 is greater than end 2"]),
        ({"cameras": {"count": 4, "start": 3, "end": 2}}, ["cameras start 3 is greater than end 2"]),
        ({"cameras": {"count": 2, "end": 3}}, ["end 3 is greater than count 2"]),
        ({"render": {"engine": "EEVEE"}}, ["render.engine"]),
        ({"rendr": {}}, ["unknown key 'rendr'", "did you mean 'render'"]),
        ({"anomalies": [], "normal_per_anomalous": 0}, ["nothing to render"]),
        ({"normal_per_anomalous": 2, "cameras": {"jitter": 0}}, ["needs cameras.jitter > 0"]),
    ],
)
def test_one_line_errors(extra, needles):
    msg = _err(**extra)
    assert msg.startswith("cfg.yaml: ")
    for n in needles:
        assert n in msg, msg


def test_missing_files_and_resolution(tmp_path):
    (tmp_path / "meshes").mkdir()
    (tmp_path / "meshes" / "part.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    data = {"output_root": "out", "anomalies": ["cube", "meshes/part.obj"]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    cfg = load_render_config(path)
    assert cfg.output_root == str(tmp_path / "out") and cfg.anomalies[1] == str(tmp_path / "meshes" / "part.obj")
    dumped = dump_resolved_render(cfg)
    assert b"output_root: ." in dumped
    again = resolve_render_config(render_config_from_dict(yaml.safe_load(dumped)), tmp_path / "out")
    assert dump_resolved_render(again) == dumped  # round trip
    data["anomalies"] = ["meshes/missing.stl"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputFileError, match=r"anomalies\[0\]: mesh file .*missing.stl not found"):
        load_render_config(path)
    path.write_text(yaml.safe_dump({"output_root": "out", "scene": {"blend_file": "nope.blend"}}))
    with pytest.raises(InputFileError, match=r"scene.blend_file: .*nope.blend not found"):
        load_render_config(path)


def test_plan_names_counts_and_determinism():
    cfg = _cfg(
        anomalies=["cube", "torus"],
        modes={"illumination": {"sun_strengths": [1, 10]}, "depth": {"offsets": [0, 1]}, "scale": {}, "color": {}},
        cameras={"count": 3},
        days={"start": 1, "end": 3, "interval": 2},
        normal_per_anomalous=2,
    )
    frames = plan_frames(cfg)
    assert frames == plan_frames(cfg)
    # per camera and day: 2 strengths x 2 variants normal + 2 strengths x 2 depths x 2 colours anomalous
    assert len(frames) == 3 * 2 * (4 + 8)
    ids = [f.frame_id for f in frames if f.camera == "cam01"]
    assert ids == sorted(ids) and "d001_normal_i10" in ids and "d001_normal_i10_v1" in ids and "d003_normal_i1" in ids
    anomalous = [f for f in frames if f.anomalous and f.camera == "cam02" and f.day == 3]
    assert {f.colour for f in anomalous} - {"default"} <= {"red", "blue", "yellow"}
    f = anomalous[0]
    assert f.frame_id == f"d003_anomaly_i{f.sun_strength:g}_s{f.scale:.2f}_d{f.depth_offset:+.1f}_c{f.colour}"
    assert len({(g.anomaly, g.scale, g.rotation, g.seed) for g in anomalous}) == 1  # one draw per group
    assert f.seed == group_seed(cfg.seed, "cam02", 3)
    v1 = next(g for g in frames if g.frame_id == "d001_normal_i1_v1" and g.camera == "cam01")
    assert v1.camera_offset != (0.0, 0.0, 0.0)
    assert plan_frames(cfg, limit=3)[:3] == frames[:3] and len(plan_frames(cfg, limit=3)) == 9
    with pytest.raises(UsageError):
        plan_frames(cfg, limit=0)


def test_modes_do_not_perturb_each_other():
    base = {"anomalies": ["cube", "torus", "sphere"], "days": {"start": 1, "end": 4}}
    with_scale = plan_frames(_cfg(modes=["scale"], **base))
    with_all = plan_frames(_cfg(modes=["scale", "colour", "illumination"], **base))
    key = {(f.camera, f.day): (f.anomaly, f.scale, f.rotation) for f in with_scale if f.anomalous}
    for f in with_all:
        if f.anomalous:
            assert key[(f.camera, f.day)] == (f.anomaly, f.scale, f.rotation)
    other_seed = plan_frames(_cfg(modes=["scale"], seed=1, **base))
    assert [f.rotation for f in other_seed] != [f.rotation for f in with_scale]


def test_no_anomalies_gives_normal_frames_only():
    frames = plan_frames(_cfg(anomalies=[], modes=["illumination"]))
    assert frames and not any(f.anomalous for f in frames)
    assert [f.frame_id for f in frames if f.camera == "cam01"] == [
        "d001_normal_i1",
        "d001_normal_i10",
        "d001_normal_i5",
    ]
    frozen = frames[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        frozen.day = 2  # type: ignore[misc]


def test_colour_entry():
    assert colour_entry("blue")[0] == "blue"
    assert colour_entry([0.0, 1.0, 0.0]) == ("00ff00", (0.0, 1.0, 0.0))


def test_allo_scene_keys_resolve_and_check_files(tmp_path):
    from oodforge.config.identity import config_sha256

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "blanket.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    (tmp_path / "render_data_csv").write_text("0,0,0,0,0,0,0,0,0,0,0,0\n")
    data = {"output_root": "out", "anomalies": ["cube", "blanket"],
            "scene": {"ephemeris": "render_data_csv", "anomalies_dir": "models"}}  # fmt: skip
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    cfg = load_render_config(path)
    assert cfg.scene.ephemeris == str(tmp_path / "render_data_csv")
    assert cfg.scene.anomalies_dir == str(tmp_path / "models") and cfg.anomalies == ["cube", "blanket"]
    # moving the inputs keeps the dataset's identity (file names only)
    moved = cfg.model_copy(update={"scene": cfg.scene.model_copy(update={"ephemeris": "/else/render_data_csv",
                                                                          "anomalies_dir": "/else/models"})})  # fmt: skip
    assert config_sha256(dump_resolved_render(moved)) == config_sha256(dump_resolved_render(cfg))
    for scene, needle in [({"ephemeris": "nope.csv"}, r"scene.ephemeris: .*nope.csv not found"),
                          ({"anomalies_dir": "nodir"}, r"scene.anomalies_dir: .*nodir is not a folder")]:  # fmt: skip
        path.write_text(yaml.safe_dump({**data, "scene": {**data["scene"], **scene}}))
        with pytest.raises(InputFileError, match=needle):
            load_render_config(path)
    path.write_text(yaml.safe_dump({**data, "anomalies": ["quilt"]}))
    with pytest.raises(
        InputFileError, match=r"anomalies\[0\]: 'quilt' not found in scene.anomalies_dir .*quilt.blend, quilt.obj"
    ):
        load_render_config(path)
    # a bare name needs the folder; .blend models are accepted
    assert "a bare name needs scene.anomalies_dir" in _err(anomalies=["blanket"])
    assert _cfg(anomalies=["models/blanket.blend"]).anomalies == ["models/blanket.blend"]
