"""Rendering the procedural scene at 64x64 (Cycles CPU, 4 samples): exact masks, hidden anomalies, modes."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from _helpers import tree_hashes
from oodforge._io import decode_image_rgb, read_image_rgb, read_label_png
from oodforge.errors import UsageError
from oodforge.render import plan_frames, render_config_from_dict, render_dataset
from oodforge.render.masks import index_to_masks

pytestmark = pytest.mark.skipif(find_spec("bpy") is None, reason="needs Blender: pip install 'oodforge[render]'")


def _records(root: Path) -> dict[str, dict]:
    lines = (root / "manifest.jsonl").read_text().splitlines()
    return {f"{r['camera']}/{r['image_id']}": r for r in map(json.loads, lines)}


def _load(root: Path, rec: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    o = rec["outputs"]
    return read_image_rgb(root / o["image"]), read_label_png(root / o["gt_pixel"]), read_label_png(root / o["fb_mask"])


def _emission(bpy, name: str, rgb: tuple[float, float, float]):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nt = mat.node_tree
    nt.nodes.clear()
    emit, out = nt.nodes.new("ShaderNodeEmission"), nt.nodes.new("ShaderNodeOutputMaterial")
    emit.inputs["Color"].default_value = (*rgb, 1.0)
    nt.links.new(emit.outputs[0], out.inputs["Surface"])
    return mat


def test_masks_match_an_emission_render(tmp_path):
    """Index-pass masks against a second render: anomaly pure red, scene objects pure green, no light."""
    from oodforge.render._bpy_frame import BlenderSession

    cfg = render_config_from_dict({
        "output_root": str(tmp_path), "seed": 7, "anomalies": ["torus"], "cameras": {"count": 4, "start": 2, "end": 2},
        "placement": {"distance": 4.0, "jitter": 0.0}, "render": {"samples": 4, "resolution": [64, 64], "device": "CPU"},
    })  # fmt: skip
    (tmp_path / "tmp").mkdir()
    session = BlenderSession(cfg, tmp_path / "tmp")
    frame = next(f for f in plan_frames(cfg) if f.anomalous)
    pos, _ = session.place(frame, [0.0])
    session.setup(frame, pos)
    gt, fb = index_to_masks(session.render().index)
    assert 20 < gt.sum() < fb.sum() < gt.size
    bpy = session.bpy
    red, green = _emission(bpy, "t_red", (1.0, 0.0, 0.0)), _emission(bpy, "t_green", (0.0, 1.0, 0.0))
    for obj in session.scene.objects:
        if obj.type == "MESH" and not obj.hide_render:
            for slot in obj.material_slots:
                slot.link, slot.material = "OBJECT", (red if obj.pass_index == 2 else green)
    session.sun.data.energy = 0.0
    session.scene.world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.0
    rgb = decode_image_rgb(session.render().png).astype(int)
    r, g = rgb[..., 0], rgb[..., 1]
    # the index pass takes the first surface of one camera ray per pixel: where it says "anomaly" the
    # emission render is red, and where every sample hit the anomaly (pure red) the mask says anomaly
    assert np.all(r[gt == 1] > 0)
    assert np.all(gt[r == 255] == 1)
    assert np.all((r + g)[fb == 1] > 0)
    assert np.all(fb[(r == 0) & (g == 0)] == 0)
    assert np.all(fb[(r == 255) | (g == 255)] == 1)
    boundary = (r > 0) & (r < 255)
    assert (gt != (r == 255))[~boundary].sum() == 0


def test_hidden_anomaly_is_flagged_not_anomalous(tiny_config):
    # camera 2 of 4 sits at (0, 8, 2) and looks at the hull's broadside; 9.45 units along its view ray
    # is just behind the hull, where a 0.3-unit sphere is fully occluded
    path = tiny_config("hidden", {"anomalies": ["sphere"], "placement.distance": 9.45,
                                  "placement.require_visible": False, "placement.object_size": 0.3})  # fmt: skip
    s = render_dataset(path)
    assert not s.failed
    rec = next(r for r in _records(s.output_root).values() if r["is_anomalous"])
    assert rec["anomaly_hidden"] is True and rec["has_anomaly"] is False and rec["pixel_count"] == 0
    assert rec["pose"]["distance"] == pytest.approx(9.45)
    _, gt, fb = _load(s.output_root, rec)
    assert gt.sum() == 0 and fb.sum() > 0
    assert s.per_camera["cam02"]["hidden"] == 1 and s.per_camera["cam02"]["anomalous"] == 0
    # the same placement in front of the station is visible
    visible = render_dataset(tiny_config("shown", {"anomalies": ["sphere"], "placement.distance": 4.0,
                                                   "placement.require_visible": False}))  # fmt: skip
    rec = next(r for r in _records(visible.output_root).values() if r["is_anomalous"])
    assert rec["has_anomaly"] and not rec["anomaly_hidden"] and rec["pixel_count"] > 0


def test_each_mode_changes_only_what_it_should(tiny_config):
    modes = {"illumination": {"sun_strengths": [2, 8]}, "depth": {"offsets": [0, 1.5]}, "colour": {"palette": ["red"]}}
    s = render_dataset(tiny_config("modes", {"modes": modes, "anomalies": ["drill"]}))
    recs = _records(s.output_root)
    assert len(recs) == 2 + 2 * 2 * 2 and not s.failed
    sc = next(r for r in recs.values() if r["is_anomalous"])["modes"]["scale"]
    name = f"cam02/d001_anomaly_i{{}}_s{sc:.2f}_d{{}}_c{{}}"

    # illumination: brighter image, identical masks (normal and anomalous frames)
    for lo, hi in [("cam02/d001_normal_i2", "cam02/d001_normal_i8"),
                   (name.format(2, "+0.0", "red"), name.format(8, "+0.0", "red"))]:  # fmt: skip
        (im_lo, gt_lo, fb_lo), (im_hi, gt_hi, fb_hi) = _load(s.output_root, recs[lo]), _load(s.output_root, recs[hi])
        assert im_hi.mean() > im_lo.mean() + 5
        assert np.array_equal(gt_lo, gt_hi) and np.array_equal(fb_lo, fb_hi)

    # colour: same masks; anomaly pixels turn red; the rest barely moves (indirect light only)
    (im_d, gt_d, fb_d), (im_r, gt_r, fb_r) = (
        _load(s.output_root, recs[name.format(8, "+0.0", c)]) for c in ("default", "red")
    )
    assert np.array_equal(gt_d, gt_r) and np.array_equal(fb_d, fb_r) and gt_d.sum() > 10
    a = gt_r == 1
    red_excess = lambda im: (im[..., 0].astype(float) - im[..., 1:].mean(axis=-1))[a].mean()  # noqa: E731
    assert red_excess(im_r) > red_excess(im_d) + 20
    near = np.zeros_like(a)
    ys, xs = np.nonzero(a)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            near[np.clip(ys + dy, 0, 63), np.clip(xs + dx, 0, 63)] = True
    diff = np.abs(im_d.astype(int) - im_r.astype(int))[~near]
    assert diff.mean() < 1.0

    # depth: farther anomaly, fewer pixels, different mask; pose distance differs by the offset
    r0, r1 = recs[name.format(8, "+0.0", "red")], recs[name.format(8, "+1.5", "red")]
    assert r1["pixel_count"] < r0["pixel_count"]
    assert r1["pose"]["distance"] - r0["pose"]["distance"] == pytest.approx(1.5)
    assert r1["pose"]["rotation_euler"] == r0["pose"]["rotation_euler"]

    # scale: a larger scale covers more pixels at the same place and rotation
    small, large = (render_dataset(tiny_config(f"scale{k}", {"modes": {"scale": {"range": [v, v]}}, "anomalies": ["drill"]}))
                    for k, v in ((1, 0.4), (2, 0.8)))  # fmt: skip
    rs, rl = (next(r for r in _records(x.output_root).values() if r["is_anomalous"]) for x in (small, large))
    assert rs["modes"]["scale"] == 0.4 and rl["modes"]["scale"] == 0.8
    assert (
        rs["pose"]["location"] == rl["pose"]["location"]
        and rs["pose"]["rotation_euler"] == rl["pose"]["rotation_euler"]
    )
    assert rl["pixel_count"] > 2 * rs["pixel_count"]


def test_same_seed_same_outputs_and_resume(tiny_config):
    over = {"anomalies": ["cube", "drill"], "cameras": {"count": 3, "start": 1, "end": 2}, "days": {"start": 1, "end": 2},
            "modes": {"illumination": {"sun_strengths": [3, 9]}, "depth": {"offsets": [0, 1]}, "scale": {}, "color": {}},
            "render.samples": 2}  # fmt: skip
    a, b = render_dataset(tiny_config("a", over)), render_dataset(tiny_config("b", over))
    assert a.total == b.total == 2 * 2 * (2 + 2 * 2 * 2) and not a.failed
    ha = tree_hashes(a.output_root)
    assert ha == tree_hashes(b.output_root)
    assert (a.output_root / "manifest.jsonl").read_bytes() == (b.output_root / "manifest.jsonl").read_bytes()
    other = render_dataset(tiny_config("c", {**over, "seed": 8}))
    assert tree_hashes(other.output_root) != ha

    # resume: a lost output is re-rendered, the rest is skipped, the result is byte-identical
    rec = next(iter(_records(a.output_root).values()))
    (a.output_root / rec["outputs"]["gt_pixel"]).unlink()
    (a.output_root / "manifest.jsonl").write_text("garbage\n")
    again = render_dataset(tiny_config("a", over))
    assert again.processed == 1 and again.skipped == a.total - 1
    assert tree_hashes(a.output_root) == ha

    # another config refuses to write into the same folder unless overwrite
    changed = tiny_config("a", {**over, "render.samples": 3})
    with pytest.raises(UsageError, match="another config"):
        render_dataset(changed, limit=1)
    assert render_dataset(changed, limit=1, overwrite=True).processed == 2


def test_user_blend_file_scene(tiny_config, tmp_path):
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.mesh.primitive_cube_add(size=2.0)
    bpy.ops.mesh.primitive_plane_add(size=30.0, location=(0.0, 0.0, -1.5))
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    s = render_dataset(tiny_config("blend", {"scene.blend_file": str(blend), "anomalies": ["sphere"]}))
    assert not s.failed and s.per_camera["cam02"]["anomalous"] == 1
    recs = _records(s.output_root)
    normal, anomalous = recs["cam02/d001_normal_i10"], next(r for r in recs.values() if r["is_anomalous"])
    _, gt_n, fb_n = _load(s.output_root, normal)
    _, gt_a, fb_a = _load(s.output_root, anomalous)
    assert gt_n.sum() == 0 and 0 < fb_n.sum() < fb_n.size  # cube and plane are foreground, the sky is not
    assert gt_a.sum() == anomalous["pixel_count"] > 0 and np.all(fb_a[gt_a == 1] == 1)
    (tmp_path / "broken.blend").write_bytes(b"not a blend file")
    with pytest.raises(UsageError, match="Blender cannot open"):
        render_dataset(tiny_config("broken", {"scene.blend_file": str(tmp_path / "broken.blend")}))
    assert not (tmp_path / "broken").exists()


def test_coverage_mask_agrees_with_the_hard_mask(tiny_config):
    over = {"anomalies": ["torus"], "render.samples": 16}
    hard = render_dataset(tiny_config("hard", over))
    soft = render_dataset(tiny_config("soft", {**over, "render.coverage_mask": True}))
    assert not soft.failed
    h_recs, s_recs = _records(hard.output_root), _records(soft.output_root)
    assert all(r["masks"] == ["gt_pixel", "fb_mask"] and "coverage" not in r["outputs"] for r in h_recs.values())
    for key, rec in s_recs.items():
        assert rec["masks"] == ["gt_pixel", "fb_mask", "coverage"]
        # the coverage pass changes nothing else: same image and hard masks as without it
        for k in ("image", "gt_pixel", "fb_mask"):
            assert rec["sha256"][k] == h_recs[key]["sha256"][k]
        cov = read_label_png(soft.output_root / rec["outputs"]["coverage"])
        _, gt, _ = _load(soft.output_root, rec)
        assert cov.dtype == np.uint8 and cov.shape == gt.shape == (64, 64)
        if not rec["is_anomalous"]:
            assert cov.max() == 0
            continue
        assert rec["pixel_count"] > 20
        assert cov[gt == 1].mean() > 200  # mostly fully covered inside the hard mask
        # soft edges: partial values exist, and coverage ends within two pixels of the hard mask
        assert np.any((cov > 0) & (cov < 255))
        near = np.zeros_like(gt, bool)
        ys, xs = np.nonzero(gt)
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                near[np.clip(ys + dy, 0, 63), np.clip(xs + dx, 0, 63)] = True
        assert cov[~near].max() == 0
        assert abs(cov.sum() / 255.0 - gt.sum()) < 0.25 * gt.sum()  # same area up to the edges


def test_anomalies_load_by_name_from_a_folder(tiny_config, tmp_path):
    import bpy

    models = tmp_path / "anomalies"
    models.mkdir()
    (models / "wedge.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.mesh.primitive_cylinder_add(radius=0.3, depth=2.0)
    bpy.context.active_object.name = "beam"  # ALLO appends the object named like its file
    bpy.ops.mesh.primitive_cube_add(location=(5.0, 0.0, 0.0))  # another object of the file, not appended
    bpy.ops.wm.save_as_mainfile(filepath=str(models / "beam.blend"))
    s = render_dataset(tiny_config("dir", {"anomalies": ["beam", "wedge"], "scene.anomalies_dir": str(models),
                                           "days": {"start": 1, "end": 3}, "placement.max_tries": 50}))  # fmt: skip
    assert not s.failed
    objects = {r["object"] for r in _records(s.output_root).values() if r["is_anomalous"]}
    assert objects == {"beam", "wedge"} and all(
        r["pixel_count"] > 0 for r in _records(s.output_root).values() if r["is_anomalous"]
    )
    from oodforge.render._bpy_frame import BlenderSession
    from oodforge.render.config_io import load_render_config

    cfg = load_render_config(tiny_config("dir2", {"anomalies": ["beam"], "scene.anomalies_dir": str(models)}))
    (tmp_path / "tmp").mkdir()
    beam = BlenderSession(cfg, tmp_path / "tmp").anomalies["beam"]
    extent = beam.verts.max(axis=0) - beam.verts.min(axis=0)  # the cylinder alone, scaled to object_size 1
    assert extent == pytest.approx((0.3, 0.3, 1.0), abs=0.02)
    with pytest.raises(UsageError, match=r"anomalies\[0\]: 'ghost' not found in scene.anomalies_dir .*ghost.blend"):
        render_dataset(tiny_config("ghost", {"anomalies": ["ghost"], "scene.anomalies_dir": str(models)}))


def test_layout_allo_from_the_cli(tiny_config):
    from typer.testing import CliRunner

    from oodforge.cli.main import app

    path = tiny_config("allo", {"modes": {"illumination": {"sun_strengths": [2, 8]}}, "render.coverage_mask": True})
    res = CliRunner().invoke(app, ["render", str(path), "--layout", "allo", "-q"])
    assert res.exit_code == 0, res.output
    root = path.parent / "allo"
    assert (root / "config.yaml").read_text().count("layout: allo") == 1
    recs = _records(root)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.png"))
    assert files == sorted(
        [f"exp_1/Camera2/{d}/1_normal_{i}.png" for d in ("normal", "fb_mask") for i in (2, 8)]
        + [f"exp_2/Camera2/{d}/1_cube_{i}_-1_0_default.png" for d in ("anomaly", "anomaly_mask", "fb_mask", "coverage")
           for i in (2, 8)]
    )  # fmt: skip
    for rec in recs.values():
        assert set(rec["outputs"].values()) <= set(files) and rec["status"] == "ok"
        fb = read_image_rgb(root / rec["outputs"]["fb_mask"])  # 3 equal channels, 0 / 255
        assert set(np.unique(fb)) <= {0, 255} and (fb[..., 0] == fb[..., 2]).all() and fb.any()
        if rec["is_anomalous"]:
            gt = read_image_rgb(root / rec["outputs"]["gt_pixel"])
            assert int((gt[..., 0] == 255).sum()) == rec["pixel_count"] > 0
    # the same frames as the oodforge layout: same image bytes
    plain = render_dataset(tiny_config("plain", {"modes": {"illumination": {"sun_strengths": [2, 8]}}}))
    plain_recs = _records(plain.output_root)
    assert {k: r["sha256"]["image"] for k, r in plain_recs.items()} == {
        k: r["sha256"]["image"] for k, r in recs.items()
    }
