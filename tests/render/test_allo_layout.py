"""ALLO's output layout: folders, file names, mask images, ``--layout`` (no Blender)."""

from __future__ import annotations

import numpy as np
import pytest

from oodforge.errors import ConfigError, UsageError
from oodforge.render import plan_frames, render_config_from_dict
from oodforge.render.allo_layout import allo_file_stem, allo_mask_png_array, allo_number, allo_rels, managed_folders
from oodforge.render.config_io import with_layout
from oodforge.render.plan import camera_names


def _cfg(**extra):
    return render_config_from_dict({"output_root": "o", **extra}, "cfg.yaml")


def test_names_follow_allos_prefixes():
    cfg = _cfg(anomalies=["drill"], days={"start": 3, "end": 3}, cameras={"count": 1},
               modes={"illumination": {"sun_strengths": [1, 2.5]}, "depth": {"offsets": [0, -1, 1.5]}, "scale": {},
                      "colour": {"palette": ["red"]}})  # fmt: skip
    frames = plan_frames(cfg)
    stems = {allo_file_stem(cfg, f) for f in frames}
    scale = next(f.scale for f in frames if f.anomalous)
    assert {"3_normal_1", "3_normal_2.5"} <= stems
    for illum in ("1", "2.5"):
        for depth in ("0", "-1", "1.5"):
            for colour in ("default", "red"):
                assert f"3_drill_{illum}_{allo_number(scale)}_{depth}_{colour}" in stems
    assert len(stems) == len(frames)
    # modes off: ALLO's neutral values (scale -1, depth 0, colour default, the config's sun strength)
    plain = _cfg(anomalies=["meshes/blanket.obj"], cameras={"count": 1}, scene={"sun_strength": 10.0})
    assert sorted(allo_file_stem(plain, f) for f in plan_frames(plain)) == ["1_blanket_10_-1_0_default", "1_normal_10"]


def test_paths_per_frame_kind_and_mask_images():
    cfg = _cfg(anomalies=["cube"], cameras={"source": "allo", "start": 2, "end": 2},
               output={"layout": "allo", "normal_exp": 4, "anomalous_exp": 7})  # fmt: skip
    normal, anomalous = sorted(plan_frames(cfg), key=lambda f: f.anomalous)
    assert allo_rels(cfg, normal, coverage=True) == {
        "image": "exp_4/Camera2/normal/1_normal_10.png",
        "fb_mask": "exp_4/Camera2/fb_mask/1_normal_10.png",
    }
    name = "1_cube_10_-1_0_default.png"
    assert allo_rels(cfg, anomalous, coverage=True) == {
        "image": f"exp_7/Camera2/anomaly/{name}",
        "gt_pixel": f"exp_7/Camera2/anomaly_mask/{name}",
        "fb_mask": f"exp_7/Camera2/fb_mask/{name}",
        "coverage": f"exp_7/Camera2/coverage/{name}",
    }
    assert "coverage" not in allo_rels(cfg, anomalous, coverage=False)
    splits, managed = managed_folders(cfg, camera_names(cfg))
    assert splits == ["exp_4", "exp_7"] and "Camera2/anomaly_mask" in managed and "Camera2/normal" in managed
    # orbit cameras go to Camera<slot> folders; the oodforge layout keeps its folders (+ coverage when asked)
    orbit = _cfg(cameras={"count": 3, "start": 3, "end": 3}, output={"layout": "allo"})
    assert allo_rels(orbit, plan_frames(orbit)[0], coverage=False)["image"].startswith("exp_2/Camera3/anomaly/")
    assert managed_folders(_cfg(), camera_names(_cfg()))[1] == ("images", "gt_pixel", "fb_mask")
    cov = _cfg(render={"coverage_mask": True})
    assert managed_folders(cov, camera_names(cov)) == (
        ["cam01", "cam02", "cam03"],
        ("images", "gt_pixel", "fb_mask", "coverage"),
    )
    m = allo_mask_png_array(np.array([[0, 1], [1, 0]], np.uint8))
    assert m.shape == (2, 2, 3) and m.dtype == np.uint8 and m[..., 0].tolist() == [[0, 255], [255, 0]]
    assert np.array_equal(m[..., 0], m[..., 1]) and np.array_equal(m[..., 0], m[..., 2])


def test_layout_option_and_config_errors():
    cfg = _cfg()
    assert cfg.output.layout == "oodforge" and with_layout(cfg, None) is cfg
    assert with_layout(cfg, "allo").output.layout == "allo"
    with pytest.raises(UsageError, match=r"^--layout alo: Input should be 'oodforge' or 'allo'$"):
        with_layout(cfg, "alo")
    with pytest.raises(UsageError, match="normal_per_anomalous <= 1"):
        with_layout(_cfg(normal_per_anomalous=2), "allo")
    with pytest.raises(ConfigError, match="normal_exp and anomalous_exp are both 3"):
        _cfg(output={"normal_exp": 3, "anomalous_exp": 3})
