"""`oodforge render` / `oodforge preprocess`: mesh files, one-line errors with exit 2, min_pixel, 3-class masks."""

from __future__ import annotations

import json
import struct
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from oodforge._io import encode_png, read_label_png, sha256_bytes
from oodforge.cli.main import app
from oodforge.errors import UsageError
from oodforge.render.preprocess import is_normal_test, preprocess_renders

needs_bpy = pytest.mark.skipif(find_spec("bpy") is None, reason="needs Blender: pip install 'oodforge[render]'")
runner = CliRunner()

_V = [(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
_F = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
_TRIS = [(a, b, c) for q in _F for a, b, c in ((q[0], q[1], q[2]), (q[0], q[2], q[3]))]


def _write_mesh(path: Path) -> Path:
    """A box (2 x 2 x 2) as ASCII OBJ, PLY or STL."""
    if path.suffix == ".obj":
        text = "".join(f"v {x} {y} {z}\n" for x, y, z in _V) + "".join(
            f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in _TRIS
        )
    elif path.suffix == ".ply":
        text = (f"ply\nformat ascii 1.0\nelement vertex {len(_V)}\nproperty float x\nproperty float y\n"
                f"property float z\nelement face {len(_TRIS)}\nproperty list uchar int vertex_indices\nend_header\n")  # fmt: skip
        text += "".join(f"{x} {y} {z}\n" for x, y, z in _V) + "".join(f"3 {a} {b} {c}\n" for a, b, c in _TRIS)
    else:
        text = "solid box\n"
        for tri in _TRIS:
            text += "facet normal 0 0 0\nouter loop\n" + "".join("vertex {} {} {}\n".format(*_V[i]) for i in tri)
            text += "endloop\nendfacet\n"
        text += "endsolid box\n"
    path.write_text(text)
    return path


def _write_glb(path: Path) -> Path:
    """The same box as binary glTF 2.0 (written by hand: Blender's glTF exporter crashes the interpreter at exit)."""
    positions = np.asarray(_V, dtype="<f4")
    indices = np.asarray(_TRIS, dtype="<u2").ravel()
    binary = positions.tobytes() + indices.tobytes()
    binary += b"\0" * (-len(binary) % 4)
    gltf = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "box"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": positions.nbytes, "target": 34962},
            {"buffer": 0, "byteOffset": positions.nbytes, "byteLength": indices.nbytes, "target": 34963},
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(positions), "type": "VEC3",
             "min": positions.min(0).tolist(), "max": positions.max(0).tolist()},
            {"bufferView": 1, "componentType": 5123, "count": int(indices.size), "type": "SCALAR"},
        ],
    }  # fmt: skip
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(binary), 0x004E4942) + binary
    path.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)
    return path


def _one_line_exit_2(res, needle: str) -> None:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in res.output, res.output


def test_cli_config_errors(tiny_config, tmp_path):
    _one_line_exit_2(runner.invoke(app, ["render", str(tiny_config("m", {"anomalies": ["gone.obj"]}))]), "not found")
    _one_line_exit_2(
        runner.invoke(app, ["render", str(tiny_config("f", {"anomalies": ["a.fbx"]}))]), "'.fbx' cannot be imported"
    )
    bad_scale = tiny_config("s", {"modes": {"scale": {"range": [0.8, 0.2]}}})
    _one_line_exit_2(runner.invoke(app, ["render", str(bad_scale)]), "min 0.8 is greater than max 0.2")
    _one_line_exit_2(
        runner.invoke(app, ["render", str(tiny_config("b", {"scene.blend_file": "x.blend"}))]), "x.blend not found"
    )
    _one_line_exit_2(
        runner.invoke(app, ["preprocess", str(tmp_path), str(tmp_path / "o")]), "neither an `oodforge render` output"
    )


def test_cli_without_blender(tiny_config, monkeypatch):
    monkeypatch.setitem(sys.modules, "bpy", None)  # `import bpy` raises ImportError
    res = runner.invoke(app, ["render", str(tiny_config("nobpy"))])
    _one_line_exit_2(res, "oodforge render needs Blender as a Python module: pip install 'oodforge[render]'")
    assert not (tiny_config("nobpy").parent / "nobpy").exists()


@needs_bpy
def test_cli_render_color_alias_and_mesh_files(tiny_config, tmp_path):
    meshes = [str(_write_mesh(tmp_path / f"box.{ext}")) for ext in ("obj", "ply", "stl")]
    meshes.append(str(_write_glb(tmp_path / "box.glb")))
    path = tiny_config("cli", {"modes": ["color"], "anomalies": meshes, "cameras": {"count": 4},
                               "placement.object_size": 0.8})  # fmt: skip
    res = runner.invoke(app, ["render", str(path), "-q"])
    assert res.exit_code == 0, res.output
    recs = [json.loads(x) for x in (tmp_path / "cli" / "manifest.jsonl").read_text().splitlines()]
    anomalous = [r for r in recs if r["is_anomalous"]]
    assert {r["object"] for r in anomalous} <= set(meshes) and all(r["status"] == "ok" for r in recs)
    assert any(r["modes"]["colour"] not in (None, "default") for r in anomalous)
    assert sum(r["has_anomaly"] for r in anomalous) >= 4
    assert "already complete" in runner.invoke(app, ["render", str(path), "-q"]).output  # resumed, nothing to do
    (tmp_path / "broken.ply").write_text("not a ply file")
    res = runner.invoke(app, ["render", str(tiny_config("broken", {"anomalies": [str(tmp_path / "broken.ply")]}))])
    _one_line_exit_2(res, "Blender cannot import")


@needs_bpy
def test_preprocess_min_pixel_log_and_three_classes(tiny_config, tmp_path):
    path = tiny_config("pre", {"modes": {"depth": {"offsets": [0, 2.5]}}, "anomalies": ["drill"],
                               "normal_per_anomalous": 3})  # fmt: skip
    res = runner.invoke(app, ["render", str(path), "-q"])
    assert res.exit_code == 0, res.output
    src = tmp_path / "pre"
    manifest = src / "manifest.jsonl"
    recs = [json.loads(x) for x in manifest.read_text().splitlines()]
    near, far = sorted((r for r in recs if r["is_anomalous"]), key=lambda r: -r["pixel_count"])
    assert near["pixel_count"] > far["pixel_count"] > 0
    # corrupt one normal frame: wrong size (manifest hash updated so the shape check is what fails)
    bad = next(r for r in recs if r["image_id"] == "d001_normal_i10_v2")
    data = encode_png(np.zeros((32, 48, 3), np.uint8))
    (src / bad["outputs"]["image"]).write_bytes(data)
    bad["sha256"]["image"] = sha256_bytes(data)
    manifest.write_text("".join(json.dumps(r) + "\n" for r in recs))

    out, log = tmp_path / "allo_format", tmp_path / "pre.log"
    args = ["preprocess", str(src), str(out), "--min-pixel", str(far["pixel_count"]), "--normal-test-share", "0.5",
            "--log", str(log), "-q"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output  # the wrong-size frame is rejected
    text = log.read_text()
    assert f"SKIPPED cam02/{far['image_id']}: {far['pixel_count']} anomaly pixels <= min_pixel" in text
    assert "REJECTED cam02/d001_normal_i10_v2: image is 48x32, expected 64x64" in text
    test_dir = out / "test" / "cam02"
    assert sorted(p.name for p in (test_dir / "images").iterdir() if "anomaly" in p.name) == [f"{near['image_id']}.png"]
    normals = ["d001_normal_i10", "d001_normal_i10_v1"]
    for n in normals:
        split = "test" if is_normal_test("cam02", n, 0.5) else "train"
        assert (out / split / "cam02" / "images" / f"{n}.png").is_file()
    images = sorted(p.name for p in (test_dir / "images").iterdir())
    assert sorted(p.name for p in (test_dir / "masks").iterdir()) == images
    three = read_label_png(test_dir / "masks" / f"{near['image_id']}.png")
    gt = read_label_png(src / near["outputs"]["gt_pixel"])
    fb = read_label_png(src / near["outputs"]["fb_mask"])
    assert set(np.unique(three).tolist()) == {0, 1, 2}
    assert np.array_equal(three == 2, gt == 1) and np.array_equal(three == 1, (fb == 1) & (gt == 0))
    # a second run replaces the first (--overwrite); the default min_pixel (0) keeps both anomalous frames
    s = preprocess_renders(src, out, overwrite=True)
    assert s.per_camera["cam02"]["anomalous"] == 2 and s.per_camera["cam02"]["rejected"] == 1
    assert (out / "preprocess.log").is_file()
    _one_line_exit_2(runner.invoke(app, ["preprocess", str(src), str(src / "inside")]), "must be outside the input")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    _one_line_exit_2(runner.invoke(app, ["preprocess", str(src), str(tmp_path / "other")]), "not empty")


def _fake_render(root: Path, frames: list[tuple[str, bool]], size: tuple[int, int] = (16, 8)) -> Path:
    """A render output written by hand (no Blender): (image_id, is_anomalous) frames of camera cam0."""
    w, h = size
    root.mkdir(parents=True)
    (root / "config.yaml").write_text(f"output_root: .\nrender: {{resolution: [{w}, {h}]}}\n")
    lines = []
    for k, (fid, anomalous) in enumerate(frames):
        gt = np.zeros((h, w), np.uint8)
        if anomalous:
            gt[2:5, 3 : 6 + k] = 1
        outputs = {"image": f"cam0/images/{fid}.png", "gt_pixel": f"cam0/gt/{fid}.png", "fb_mask": f"cam0/fb/{fid}.png"}
        for key, data in (("image", encode_png(np.full((h, w, 3), k, np.uint8))), ("gt_pixel", encode_png(gt)),
                          ("fb_mask", encode_png((gt == 0).astype(np.uint8)))):  # fmt: skip
            (root / outputs[key]).parent.mkdir(parents=True, exist_ok=True)
            (root / outputs[key]).write_bytes(data)
        rec = {"kind": "render", "camera": "cam0", "image_id": fid, "status": "ok", "is_anomalous": anomalous,
               "outputs": outputs}  # fmt: skip
        lines.append(json.dumps(rec) + "\n")
    (root / "manifest.jsonl").write_text("".join(lines))
    return root


FRAMES = [("n1", False), ("n2", False), ("n3", False), ("a1", True)]


def test_preprocess_rerun_deletes_only_its_own_files(tmp_path: Path) -> None:
    """Was: a re-run rmtree'd every OUT/<sub> holding train/ or test/, the user's files in them too."""
    src, out = _fake_render(tmp_path / "r", FRAMES), tmp_path / "out"
    first = preprocess_renders(src, out)
    assert first.per_camera["cam0"] == {"normal": 3, "normal_test": 0, "anomalous": 1, "skipped": 0, "rejected": 0}
    (out / "train/cam0/images/mine.png").write_bytes(b"my image")
    (out / "my_project/train").mkdir(parents=True)
    (out / "my_project/train/notes.txt").write_text("mine")
    s = preprocess_renders(src, out, normal_test_share=1.0, overwrite=True)  # every normal frame moves to test
    assert (out / "train/cam0/images/mine.png").read_bytes() == b"my image"
    assert (out / "my_project/train/notes.txt").read_text() == "mine"
    assert s.kept_files == 2 and s.per_camera["cam0"]["normal_test"] == 3
    assert sorted(p.name for p in (out / "train/cam0/images").iterdir()) == ["mine.png"]  # n1..n3 moved away
    names = [f"{f}.png" for f in ("a1", "n1", "n2", "n3")]
    assert sorted(p.name for p in (out / "test/cam0/masks").iterdir()) == names
    normal_mask = read_label_png(out / "test/cam0/masks/n1.png")
    assert set(np.unique(normal_mask).tolist()) <= {0, 1}  # in test/, a normal frame's mask has 3 classes (no 2)
    listed = set(json.loads((out / ".oodforge/files.json").read_text())["files"])
    assert listed == {
        "preprocess.json",
        "preprocess.log",
        *(f"test/cam0/{d}/{n}" for d in ("images", "masks") for n in names),
    }
    res = runner.invoke(app, ["preprocess", str(src), str(out), "-q", "--overwrite"])
    assert res.exit_code == 0 and "kept 2 file(s)" in " ".join(res.output.split()), res.output
    assert not (out / "test/cam0/images/n1.png").exists() and (out / "train/cam0/images/n1.png").is_file()
    train_mask = read_label_png(out / "train/cam0/masks/n1.png")
    assert (train_mask == 255).all()  # ALLO writes a normal frame's foreground mask (all foreground here) as 0/255


def test_preprocess_skips_exactly_min_pixel(tmp_path: Path) -> None:
    """ALLO skips count <= min_pixel; oodforge used to keep a frame with exactly min_pixel anomaly pixels."""
    src = _fake_render(tmp_path / "r", FRAMES)  # a1: 3 x 6 = 18 anomaly pixels
    assert preprocess_renders(src, tmp_path / "o1", min_pixel=17).per_camera["cam0"]["anomalous"] == 1
    s = preprocess_renders(src, tmp_path / "o2", min_pixel=18)
    assert s.per_camera["cam0"]["anomalous"] == 0 and s.per_camera["cam0"]["skipped"] == 1
    assert s.problems == ["SKIPPED cam0/a1: 18 anomaly pixels <= min_pixel 18: skipped (ALLO's rule)"]


def test_preprocess_refuses_a_second_run_without_overwrite(tmp_path: Path) -> None:
    src, out = _fake_render(tmp_path / "r", FRAMES), tmp_path / "out"
    preprocess_renders(src, out)
    before = (out / "test/cam0/masks/a1.png").read_bytes()
    res = runner.invoke(app, ["preprocess", str(src), str(out), "-q", "--min-pixel", "100"])
    _one_line_exit_2(res, "holds a previous preprocess output")
    assert (out / "test/cam0/masks/a1.png").read_bytes() == before
    doc = json.loads((out / "preprocess.json").read_text())
    assert doc["input"] == {"kind": "render", "name": "r", "experiments": []} and doc["log"] == "preprocess.log"


def test_preprocess_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    """Was: a folder holding a `preprocess.json` counted as ours, and its <sub>/train folders were deleted."""
    src, out = _fake_render(tmp_path / "r", FRAMES), tmp_path / "out"
    (out / "data/train").mkdir(parents=True)
    (out / "data/train/x.png").write_bytes(b"mine")
    (out / "preprocess.json").write_text("{}")
    res = runner.invoke(app, ["preprocess", str(src), str(out), "-q"])
    _one_line_exit_2(res, "has no list of oodforge's files")
    assert (out / "data/train/x.png").read_bytes() == b"mine" and not (out / ".oodforge").exists()


def test_preprocess_never_writes_over_a_user_file(tmp_path: Path) -> None:
    src, out = _fake_render(tmp_path / "r", FRAMES), tmp_path / "out"
    preprocess_renders(src, out)
    (out / "test/cam0/images/n1.png").write_bytes(b"mine")  # where the next run writes n1
    with pytest.raises(UsageError, match=r"test/cam0/images/n1\.png exists and oodforge did not write it"):
        preprocess_renders(src, out, normal_test_share=1.0, overwrite=True)
    assert (out / "test/cam0/images/n1.png").read_bytes() == b"mine"
