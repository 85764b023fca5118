"""ALLO's native layout: `oodforge preprocess` and `oodforge export anomalib` on tiny hand-written experiments."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from oodforge._io import read_label_png
from oodforge.cli.main import app
from oodforge.errors import DataLayoutError
from oodforge.export.anomalib import export_anomalib
from oodforge.render.allo_native import (
    AlloName,
    NativeFrame,
    check_native_frame,
    find_experiments,
    list_native_frames,
    parse_allo_name,
)
from oodforge.render.preprocess import preprocess_renders

runner = CliRunner()
W, H = 16, 8
SIZE = f"{W}x{H}"
MIN = 6  # --min-pixel of these tests


def _png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), arr)


def _mask(n_on: int, *, channels: int = 3, w: int = W, h: int = H) -> np.ndarray:
    """A 0/255 mask with exactly ``n_on`` pixels on (row-major from the top left)."""
    m = np.zeros(h * w, np.uint8)
    m[:n_on] = 255
    m = m.reshape(h, w)
    return np.repeat(m[..., None], 3, axis=2) if channels == 3 else m


def _image(k: int, w: int = W, h: int = H) -> np.ndarray:
    return np.full((h, w, 3), (10 * k, 100, 200 - k), np.uint8)


def write_normal(exp: Path, cam: str, name: str, *, fb: int = 40, size: tuple[int, int] = (W, H),
                 fb_missing: bool = False) -> None:  # fmt: skip
    _png(exp / cam / "normal" / name, _image(len(name), *size))
    if not fb_missing:
        _png(exp / cam / "fb_mask" / name, _mask(fb, w=size[0], h=size[1]))


def write_anomalous(exp: Path, cam: str, name: str, pixels: int, *, fb: int = 50, channels: int = 3,
                    size: tuple[int, int] = (W, H)) -> None:  # fmt: skip
    _png(exp / cam / "anomaly" / name, _image(pixels, *size))
    _png(exp / cam / "anomaly_mask" / name, _mask(pixels, channels=channels, w=size[0], h=size[1]))
    _png(exp / cam / "fb_mask" / name, _mask(fb, w=size[0], h=size[1]))


@pytest.fixture
def allo(tmp_path: Path) -> Path:
    """renders/exp_1 (normal run, 2 cameras) and renders/exp_2 (anomalous run) with one fault of each kind."""
    root = tmp_path / "renders"
    e1, e2 = root / "exp_1", root / "exp_2"
    for cam in ("Camera1", "Camera2"):
        write_normal(e1, cam, "1_normal_10.png")
        write_normal(e1, cam, "2_normal_10.png")
    write_normal(e1, "Camera2", "3_normal_10.png", fb_missing=True)  # missing foreground mask
    write_normal(e1, "Camera2", "4_normal_10.png", size=(W * 2, H * 2))  # wrong size
    write_anomalous(e2, "Camera1", "1_drill_10_-1_0_default.png", MIN + 1)  # kept (one more than min_pixel)
    write_anomalous(e2, "Camera1", "1_drill_10_-1_0_red.png", MIN)  # exactly min_pixel: skipped (ALLO's rule)
    write_anomalous(e2, "Camera1", "2_cable_5_0.3_1_default.png", 20, channels=1)  # single-channel mask: accepted
    write_anomalous(e2, "Camera1", "3_blanket_10_-1_0_default.png", 30, size=(W + 1, H))  # wrong size
    write_anomalous(e2, "Camera1", "4_drill_10_-1_0_default.png", 30)
    (e2 / "Camera1" / "anomaly_mask" / "4_drill_10_-1_0_default.png").write_bytes(b"not a png")  # unreadable
    (e2 / "Camera1" / "anomaly" / "notes.txt").write_text("not a frame")
    return root


def test_parse_allo_name() -> None:
    assert parse_allo_name("12_normal_10") == AlloName(12, 10.0)
    assert parse_allo_name("3_drill_5_0.3_-1_red") == AlloName(3, 5.0, "drill", 0.3, -1.0, "red")
    assert parse_allo_name("3_my_rock_5_-1_0_default").anomaly == "my_rock"  # type: ignore[union-attr]
    assert parse_allo_name("frame_0001") is None and parse_allo_name("1_normal_x") is None


def test_find_experiments_one_or_many(allo: Path) -> None:
    assert [e.name for e in find_experiments(allo)] == ["exp_1", "exp_2"]
    assert [e.name for e in find_experiments(allo / "exp_2")] == ["exp_2"]
    with pytest.raises(DataLayoutError, match="no Camera<k>/ folder here or one level down"):
        find_experiments(allo / "exp_1" / "Camera1" / "normal")
    _, frames = list_native_frames(allo / "exp_2")
    assert [f.name for f in frames][:2] == ["1_drill_10_-1_0_default.png", "1_drill_10_-1_0_red.png"]
    assert all(f.anomalous and f.anomaly_rel for f in frames) and len(frames) == 5  # notes.txt is no frame


def test_min_pixel_is_alloS_strict_rule(allo: Path) -> None:
    exp = allo / "exp_2"
    frame = NativeFrame("exp_2", "Camera1", "1_drill_10_-1_0_default.png", True,
                        "Camera1/anomaly/1_drill_10_-1_0_default.png", "Camera1/fb_mask/1_drill_10_-1_0_default.png",
                        "Camera1/anomaly_mask/1_drill_10_-1_0_default.png")  # fmt: skip
    assert check_native_frame(exp, frame, size=(W, H), min_pixel=MIN).pixels == MIN + 1
    with pytest.raises(Exception, match=rf"{MIN + 1} anomaly pixels <= min_pixel {MIN + 1}: skipped"):
        check_native_frame(exp, frame, size=(W, H), min_pixel=MIN + 1)


def test_preprocess_one_experiment(allo: Path, tmp_path: Path) -> None:
    out = tmp_path / "test"
    res = runner.invoke(app, ["preprocess", str(allo / "exp_2"), str(out), "--expect-size", SIZE,
                              "--min-pixel", str(MIN), "-q"])  # fmt: skip
    assert res.exit_code == 1, res.output  # two frames rejected
    text = " ".join(res.output.split())
    assert "REJECTED exp_2/Camera1/3_blanket_10_-1_0_default.png: image is 17x8, expected 16x8" in text
    assert (
        "REJECTED exp_2/Camera1/4_drill_10_-1_0_default.png: anomaly_mask/4_drill_10_-1_0_default.png unreadable"
        in text
    )
    log = (out / "preprocess.log").read_text()
    assert f"SKIPPED exp_2/Camera1/1_drill_10_-1_0_red.png: {MIN} anomaly pixels <= min_pixel {MIN}" in log
    assert "INFO Camera1: normal 0, normal_test 0, anomalous 2, skipped 1, rejected 2" in log
    cam = out / "Camera1"  # one experiment: ALLO's own output, OUT/Camera<k>/{images,masks}
    kept = ["1_drill_10_-1_0_default.png", "2_cable_5_0.3_1_default.png"]
    assert sorted(p.name for p in (cam / "images").iterdir()) == kept
    assert sorted(p.name for p in (cam / "masks").iterdir()) == kept
    three = read_label_png(cam / "masks" / kept[0])
    assert (three == 2).sum() == MIN + 1 and (three == 1).sum() == 50 - (MIN + 1) and set(np.unique(three)) == {0, 1, 2}
    src = allo / "exp_2" / "Camera1" / "anomaly" / kept[0]
    assert (cam / "images" / kept[0]).read_bytes() == src.read_bytes()  # byte copy


def test_preprocess_folder_of_experiments_and_normal_masks(allo: Path, tmp_path: Path) -> None:
    out = tmp_path / "allo_out"
    s = preprocess_renders(allo, out, expect_size=(W, H), min_pixel=MIN)
    assert s.input_kind == "allo" and s.min_pixel == MIN
    assert s.per_camera["exp_1/Camera1"] == {"normal": 2, "normal_test": 0, "anomalous": 0, "skipped": 0, "rejected": 0}
    assert s.per_camera["exp_1/Camera2"]["rejected"] == 2 and s.per_camera["exp_2/Camera1"]["anomalous"] == 2
    assert any("exp_1/Camera2/3_normal_10.png: fb_mask/3_normal_10.png missing" in r for r in s.rejected)
    assert any("exp_1/Camera2/4_normal_10.png: image is 32x16, expected 16x8" in r for r in s.rejected)
    normal_mask = read_label_png(out / "exp_1" / "Camera1" / "masks" / "1_normal_10.png")
    assert set(np.unique(normal_mask)) == {0, 255} and (normal_mask == 255).sum() == 40  # ALLO: fb mask as is
    assert (out / "exp_2" / "Camera1" / "masks" / "2_cable_5_0.3_1_default.png").is_file()
    # ALLO resizes normal frames silently; here only on request
    s2 = preprocess_renders(allo, tmp_path / "resized", expect_size=(W, H), min_pixel=MIN, resize_normal=True)
    assert s2.per_camera["exp_1/Camera2"]["rejected"] == 1 and s2.per_camera["exp_1/Camera2"]["normal"] == 3
    resized = cv2.imread(str(tmp_path / "resized" / "exp_1" / "Camera2" / "images" / "4_normal_10.png"))
    assert resized.shape == (H, W, 3)
    assert (
        "INFO exp_1/Camera2/4_normal_10.png: resized from 32x16"
        in (tmp_path / "resized" / "preprocess.log").read_text()
    )


def test_preprocess_json_has_no_absolute_path(allo: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    preprocess_renders(allo, out, expect_size=(W, H), min_pixel=MIN)
    doc = json.loads((out / "preprocess.json").read_text())

    def strings(x: object) -> list[str]:
        if isinstance(x, dict):
            return [s for k, v in x.items() for s in (k, *strings(v))]
        if isinstance(x, list):
            return [s for v in x for s in strings(v)]
        return [x] if isinstance(x, str) else []

    found = strings(doc)
    assert doc["input"] == {"kind": "allo", "name": "renders", "experiments": ["exp_1", "exp_2"]}
    assert doc["log"] == "preprocess.log" and doc["expect_size"] == [W, H] and doc["totals"]["rejected"] == 4
    assert not [s for s in found if s.startswith("/") or str(tmp_path) in s], found


def test_second_preprocess_needs_overwrite(allo: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    args = ["preprocess", str(allo / "exp_1"), str(out), "--expect-size", SIZE, "-q"]
    assert runner.invoke(app, args).exit_code == 1  # exp_1 has two rejected frames
    before = (out / "Camera1" / "images" / "1_normal_10.png").read_bytes()
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "holds a previous preprocess output" in lines[0] and "--overwrite" in lines[0]
    assert (out / "Camera1" / "images" / "1_normal_10.png").read_bytes() == before
    res = runner.invoke(app, [*args, "--overwrite", "--resize-normal"])
    assert res.exit_code == 1 and (out / "Camera2" / "images" / "4_normal_10.png").is_file(), res.output


def test_mask_channels_must_be_equal(tmp_path: Path) -> None:
    exp = tmp_path / "exp_3"
    write_anomalous(exp, "Camera1", "1_drill_10_-1_0_default.png", 20)
    m = _mask(20)
    m[0, 0] = (255, 0, 0)
    _png(exp / "Camera1" / "anomaly_mask" / "1_drill_10_-1_0_default.png", m)
    s = preprocess_renders(exp, tmp_path / "o", expect_size=(W, H), min_pixel=MIN)
    assert s.rejected == ["REJECTED exp_3/Camera1/1_drill_10_-1_0_default.png: "
                          "anomaly_mask/1_drill_10_-1_0_default.png: its channels differ; expected 3 equal channels"]  # fmt: skip


def test_default_size_is_allo_s(allo: Path, tmp_path: Path) -> None:
    s = preprocess_renders(allo / "exp_2", tmp_path / "o")  # 1920x1080, min_pixel 2000
    assert s.expect_size == (1920, 1080) and s.min_pixel == 2000 and s.total("anomalous") == 0
    assert "image is 16x8, expected 1920x1080" in s.rejected[0]


def test_export_anomalib_from_native_folder(allo: Path, tmp_path: Path) -> None:
    out = tmp_path / "anomalib"
    res = runner.invoke(app, ["export", "anomalib", str(allo), str(out), "--expect-size", SIZE, "--min-pixel", str(MIN),
                              "--normal-test-ratio", "0", "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    good = sorted(p.name for p in (out / "train" / "good").iterdir())
    assert good == [f"exp_1__Camera{c}_{d}_normal_10.png" for c in (1, 2) for d in (1, 2)]
    abnormal = sorted(p.name for p in (out / "test" / "anomaly").iterdir())
    assert abnormal == ["exp_2__Camera1_1_drill_10_-1_0_default.png", "exp_2__Camera1_2_cable_5_0.3_1_default.png"]
    mask = read_label_png(out / "ground_truth" / "anomaly" / "exp_2__Camera1_1_drill_10_-1_0_default_mask.png")
    assert set(np.unique(mask)) == {0, 255} and (mask == 255).sum() == MIN + 1  # Anomalib's 0/255, anomaly only
    text = " ".join(res.output.split())
    assert "exp_1/Camera2/3_normal_10.png: fb_mask/3_normal_10.png missing; left out" in text
    assert f"exp_2: 1 anomalous frame(s) with <= min_pixel {MIN} anomaly pixels left out" in text
    assert (
        "--min-pixel and --expect-size: only for ALLO's native layout"
        in runner.invoke(
            app, ["export", "anomalib", str(tmp_path / "nothing"), str(tmp_path / "x"), "--min-pixel", "3"]
        ).output
    )


def test_a_synth_dataset_is_not_a_render_output(tmp_path: Path) -> None:
    ds = tmp_path / "synth_ds"
    ds.mkdir()
    (ds / "config.yaml").write_text("seed: 0\n")
    rec = {"schema": 1, "split": "val", "image_id": "x", "status": "ok", "has_anomaly": True, "outputs": {}}
    (ds / "manifest.jsonl").write_text(json.dumps(rec) + "\n")
    res = runner.invoke(app, ["preprocess", str(ds), str(tmp_path / "o")])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1, res.output
    assert f"{ds}: not a render output (a dataset of `oodforge synth`)" in lines[0]
    assert not (tmp_path / "o").exists()


def test_normal_test_share_is_for_render_outputs(allo: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["preprocess", str(allo), str(tmp_path / "o"), "--normal-test-share", "0.2"])
    assert res.exit_code == 2 and "only for an `oodforge render` output" in res.output
    res = runner.invoke(app, ["preprocess", str(allo), str(tmp_path / "o"), "--expect-size", "wide"])
    assert res.exit_code == 2 and "--expect-size: expected WIDTHxHEIGHT" in res.output
    assert not (tmp_path / "o").exists()


def test_a_render_written_in_allo_layout_is_read_as_allo_layout(allo: Path, tmp_path: Path) -> None:
    """`oodforge render --layout allo` keeps config.yaml and manifest.jsonl beside exp_<n>/: read the exp folders."""
    (allo / "config.yaml").write_text(f"output_root: .\nmin_pixel: {MIN}\nrender: {{resolution: [{W}, {H}]}}\n"
                                      "output: {layout: allo}\n")  # fmt: skip
    (allo / "manifest.jsonl").write_text(json.dumps({"kind": "render", "image_id": "x"}) + "\n")
    s = preprocess_renders(allo, tmp_path / "o")  # size and min_pixel from its config
    assert s.input_kind == "allo" and s.expect_size == (W, H) and s.min_pixel == MIN
    assert s.per_camera["exp_2/Camera1"]["anomalous"] == 2
    res = export_anomalib(allo, tmp_path / "a", normal_test_ratio=0.0)
    assert res.counts["test_anomaly"] == 2 and res.counts["train_good"] == 4
