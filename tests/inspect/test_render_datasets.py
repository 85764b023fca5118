"""verify / stats / preview on a rendered dataset (``oodforge render`` at 64x64, 2 samples, rendered once).

The dataset (sphere anomaly 9.45 units out, depth offsets 0 and -5.45, two sun strengths, colour red)
holds on ``cam02`` and ``cam04`` normal frames, hidden anomalies (offset 0: behind the station) and
visible ones (offset -5.45); on ``cam03`` the placement fails, so its anomalous frames are ``failed``.
The ``clean`` copy drops the failed records (they own no file) and is a valid dataset.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from oodforge._io import encode_png, read_image_rgb, read_label_png, sha256_bytes
from oodforge.cli.main import app
from oodforge.errors import InputFileError
from oodforge.inspect._dataset import load_any
from oodforge.inspect._draw import header_height, layout_lines, select
from oodforge.inspect._preview_render import header_parts
from oodforge.inspect.preview import GAP, make_contact_sheet, write_preview
from oodforge.inspect.stats import PERCENTILES, dataset_stats, render_stats
from oodforge.inspect.verify import verify_dataset

pytestmark = pytest.mark.skipif(find_spec("bpy") is None, reason="needs Blender: pip install 'oodforge[render]'")

runner = CliRunner()
Record = dict[str, Any]


def _load_by_path(name: str, path: Path) -> Any:
    """A conftest module loaded by path (conftest modules cannot be imported by name)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses need the module registered while it executes
        spec.loader.exec_module(module)
    return sys.modules[name]


TESTS = Path(__file__).parents[1]
render_fixtures = _load_by_path("_oodforge_render_fixtures", TESTS / "render" / "conftest.py")
synth_fixtures = _load_by_path("_oodforge_inspect_fixtures", TESTS / "inspect" / "conftest.py")

OVERRIDES: dict[str, Any] = {
    "anomalies": ["sphere"],
    "modes": {
        "illumination": {"sun_strengths": [2, 8]},
        "depth": {"offsets": [0, -5.45]},
        "colour": {"palette": ["red"]},
    },
    "cameras": {"count": 4, "start": 2, "end": 4},
    "placement.distance": 9.45,
    "placement.require_visible": False,
    "placement.object_size": 0.3,
    "render.samples": 2,
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rendered dataset (read-only: tests work on copies)."""
    from oodforge.render import render_dataset

    base = tmp_path_factory.mktemp("rendered")
    data = copy.deepcopy(render_fixtures.TINY)
    data["output_root"] = str(base / "out")
    for dotted, value in OVERRIDES.items():
        render_fixtures.set_dotted(data, dotted, value)
    (base / "r.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    summary = render_dataset(base / "r.yaml")
    recs = _read(summary.output_root)
    kinds = {(r["status"], r["is_anomalous"], r["has_anomaly"], r["anomaly_hidden"]) for r in recs}
    assert {("ok", False, False, False), ("ok", True, True, False), ("ok", True, False, True)} <= kinds
    assert any(r["status"] == "failed" for r in recs)
    return summary.output_root


@pytest.fixture
def full(rendered: Path, tmp_path: Path) -> Path:
    """A copy of the rendered dataset, failed records included."""
    return Path(shutil.copytree(rendered, tmp_path / "full"))


@pytest.fixture
def clean(full: Path) -> Path:
    """A copy without the failed records: a valid dataset."""
    _write(full, [r for r in _read(full) if r["status"] == "ok"])
    return full


def _read(root: Path) -> list[Record]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines() if line.strip()]


def _write(root: Path, records: list[Record]) -> None:
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _pick(root: Path, *, anomalous: bool, visible: bool = False, hidden: bool = False) -> Record:
    return next(
        r
        for r in _read(root)
        if r["status"] == "ok"
        and r["is_anomalous"] == anomalous
        and r["has_anomaly"] == visible
        and r["anomaly_hidden"] == hidden
    )


def _edit(root: Path, target: Record, **changes: Any) -> str:
    """Change fields of the manifest's record of ``target``; return its ``camera/image_id``."""
    records = _read(root)
    for rec in records:
        if (rec["split"], rec["image_id"]) == (target["split"], target["image_id"]):
            rec.update({k: change(rec) if callable(change) else change for k, change in changes.items()})
    _write(root, records)
    return f"{target['split']}/{target['image_id']}"


def _edit_mask(root: Path, rec: Record, key: str, edit: Any) -> None:
    """Rewrite a mask PNG through ``edit(array)`` and update its sha256 in the manifest."""
    path = root / rec["outputs"][key]
    path.write_bytes(encode_png(edit(read_label_png(path))))
    _edit(root, rec, sha256=lambda r: {**r["sha256"], key: sha256_bytes(path.read_bytes())})


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) for p in files}


# ----------------------------------------------------------------------------------------------- verify


def test_verify_clean_and_untouched(clean: Path) -> None:
    n = len(_read(clean))
    before = _snapshot(clean)
    calls: list[tuple[int, int]] = []
    report = verify_dataset(clean, progress=lambda d, t: calls.append((d, t)))
    assert report.problems == []
    assert (report.n_records, report.n_files_checked) == (n, 3 * n)
    assert calls[0] == (0, 3 * n) and calls[-1] == (3 * n, 3 * n)
    assert _snapshot(clean) == before


def test_failed_records_are_listed(full: Path) -> None:
    failed = [r for r in _read(full) if r["status"] == "failed"]
    problems = verify_dataset(full).problems
    assert problems == [f"{r['split']}/{r['image_id']}: failed: {r['error']}" for r in failed]


def test_flipped_byte_and_missing_file(clean: Path) -> None:
    rec = _pick(clean, anomalous=True, visible=True)
    where, image = f"{rec['split']}/{rec['image_id']}", clean / rec["outputs"]["image"]
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0xFF
    image.write_bytes(bytes(data))
    (clean / rec["outputs"]["fb_mask"]).unlink()
    problems = verify_dataset(clean).problems
    assert [p.split(":")[0] for p in problems] == [where, where]
    assert problems[0].startswith(f"{where}: sha256 mismatch for {rec['outputs']['image']}: manifest ")
    assert problems[1] == f"{where}: missing file {rec['outputs']['fb_mask']}"


def test_mask_values_outside_0_1(clean: Path) -> None:
    rec = _pick(clean, anomalous=False)
    where = f"{rec['split']}/{rec['image_id']}"

    def put(value: int) -> Any:
        def edit(a: np.ndarray) -> np.ndarray:
            a[0, 0] = value
            return a

        return edit

    _edit_mask(clean, rec, "gt_pixel", put(2))
    _edit_mask(clean, rec, "fb_mask", put(7))
    assert verify_dataset(clean).problems == [
        f"{where}: gt_pixel has values outside {{0, 1}}: [2]",
        f"{where}: fb_mask has values outside {{0, 1}}: [7]",
    ]


def test_pixel_count_mismatch(clean: Path) -> None:
    rec = _pick(clean, anomalous=True, visible=True)
    n = rec["pixel_count"]
    where = _edit(clean, rec, pixel_count=n + 3, foreground_pixel_count=1)
    fg = int(read_label_png(clean / rec["outputs"]["fb_mask"]).sum())
    assert verify_dataset(clean).problems == [
        f"{where}: pixel_count {n + 3} != {n} anomaly pixel(s) (1) in gt_pixel",
        f"{where}: foreground_pixel_count 1 != {fg} foreground pixel(s) in fb_mask",
    ]


def test_hidden_flag_inconsistent(clean: Path) -> None:
    visible, hidden, normal = (
        _pick(clean, anomalous=True, visible=True),
        _pick(clean, anomalous=True, hidden=True),
        _pick(clean, anomalous=False),
    )
    w_vis = _edit(clean, visible, anomaly_hidden=True)
    w_hid = _edit(clean, hidden, anomaly_hidden=False)
    w_norm = _edit(clean, normal, anomaly_hidden=True)
    problems = verify_dataset(clean).problems
    assert f"{w_vis}: anomaly_hidden and has_anomaly are both true" in problems
    assert f"{w_hid}: anomalous frame without anomaly pixels is not flagged anomaly_hidden" in problems
    assert f"{w_norm}: anomaly_hidden is true on a normal frame (is_anomalous is false)" in problems
    assert len(problems) == 3


def test_has_anomaly_disagrees_with_gt(clean: Path) -> None:
    hidden = _pick(clean, anomalous=True, hidden=True)
    where = _edit(clean, hidden, has_anomaly=True, anomaly_hidden=False)
    assert verify_dataset(clean).problems == [
        f"{where}: has_anomaly is True but pixel_count is 0",
        f"{where}: has_anomaly is True but gt_pixel has no anomaly pixel(s)",
    ]


def test_normal_frame_with_anomaly_pixels(clean: Path) -> None:
    normal = _pick(clean, anomalous=False)
    where = f"{normal['split']}/{normal['image_id']}"
    fb = read_label_png(clean / normal["outputs"]["fb_mask"])
    y, x = (int(v[0]) for v in np.nonzero(fb == 1))

    def mark(a: np.ndarray) -> np.ndarray:
        a[y, x] = 1
        return a

    _edit_mask(clean, normal, "gt_pixel", mark)
    assert verify_dataset(clean).problems == [
        f"{where}: has_anomaly is False but gt_pixel has 1 anomaly pixel(s)",
        f"{where}: pixel_count 0 != 1 anomaly pixel(s) (1) in gt_pixel",
        f"{where}: normal frame has 1 anomaly pixel(s) (1) in gt_pixel",
    ]


def test_size_mismatch_and_anomaly_outside_foreground(clean: Path) -> None:
    rec = _pick(clean, anomalous=True, visible=True)
    where = f"{rec['split']}/{rec['image_id']}"
    _edit_mask(clean, rec, "fb_mask", lambda a: np.zeros_like(a))
    problems = verify_dataset(clean).problems
    assert f"{where}: gt_pixel is 1 at {rec['pixel_count']} pixel(s) where fb_mask is not 1" in problems[-1]
    _edit_mask(clean, rec, "gt_pixel", lambda a: cv2.resize(a, (32, 32), interpolation=0))
    assert f"{where}: gt_pixel is 32x32 but the image is 64x64" in verify_dataset(clean).problems


def test_orphans_order_and_config(clean: Path) -> None:
    for sub in ("images", "gt_pixel", "fb_mask"):
        (clean / "cam02" / sub / "stray.png").write_bytes(b"x")
    (clean / "cam02" / "notes.txt").write_text("not a managed folder")
    records = _read(clean)
    records[0], records[1] = records[1], records[0]
    _write(clean, records)
    problems = verify_dataset(clean).problems
    first = records[1]
    assert (
        problems[0]
        == f"{first['split']}/{first['image_id']}: manifest out of order (after {records[0]['split']}/{records[0]['image_id']})"
    )
    assert problems[-3:] == [
        f"cam02/{sub}/stray.png: orphan file (no manifest record references it)"
        for sub in ("images", "gt_pixel", "fb_mask")
    ]
    text = (clean / "config.yaml").read_text()
    assert "min_pixel: " in text
    (clean / "config.yaml").write_text(text.replace("min_pixel: ", "min_pixel: 1", 1))  # a setting, not a comment
    mismatched = [p for p in verify_dataset(clean).problems if "!= sha256 of config.yaml" in p]
    assert len(mismatched) == len(records)


def test_mixed_and_unknown_kinds(clean: Path, tmp_path: Path) -> None:
    synth = synth_fixtures.build_dataset(tmp_path / "synth")
    synth_line = (synth / "manifest.jsonl").read_text().splitlines()[0]
    render_text = (clean / "manifest.jsonl").read_text()
    (clean / "manifest.jsonl").write_text(render_text + synth_line + "\n")
    n = len(render_text.splitlines()) + 1
    problems = verify_dataset(clean).problems  # verify reports a bad line and checks the rest
    assert any(f"manifest.jsonl:{n}: synth record in a manifest whose line 1 is a render" in p for p in problems)
    (synth / "manifest.jsonl").write_text(synth_line + "\n" + render_text.splitlines()[0] + "\n")
    for fn in (dataset_stats, make_contact_sheet):
        with pytest.raises(InputFileError, match=r"manifest\.jsonl:2: render record .* line 1 is a synth record"):
            fn(synth)
    assert any(
        re.search(r"manifest\.jsonl:2: render record .* line 1 is a synth record", p)
        for p in verify_dataset(synth).problems
    )
    (clean / "manifest.jsonl").write_text(render_text.replace('"kind": "render"', '"kind": "paste"', 1))
    assert any(
        re.search(r"manifest\.jsonl:1: malformed manifest record .*unknown record kind 'paste'", p)
        for p in verify_dataset(clean).problems
    )
    rec = json.loads(render_text.splitlines()[0])
    del rec["pixel_count"]
    (clean / "manifest.jsonl").write_text(json.dumps(rec) + "\n")
    assert any(
        re.search(r"malformed manifest record .*pixel_count: Field required", p) for p in verify_dataset(clean).problems
    )


def test_synth_records_stay_strict(tmp_path: Path) -> None:
    synth = synth_fixtures.build_dataset(tmp_path / "synth")
    lines = (synth / "manifest.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    rec["anomaly_hidden"] = False  # a render field on a synth record: extra keys are forbidden there
    (synth / "manifest.jsonl").write_text("\n".join([json.dumps(rec), *lines[1:]]) + "\n")
    assert any("manifest.jsonl:1: malformed manifest record" in p for p in verify_dataset(synth).problems)


# ------------------------------------------------------------------------------------------------ stats


def _expected(recs: list[Record]) -> dict[str, Any]:
    ok = [r for r in recs if r["status"] == "ok"]
    anomalous = [r for r in ok if r["is_anomalous"]]
    return {
        "n_frames": len(recs),
        "n_normal": len(ok) - len(anomalous),
        "n_anomalous": len(anomalous),
        "n_visible": sum(r["has_anomaly"] for r in anomalous),
        "n_hidden": sum(r["anomaly_hidden"] for r in anomalous),
        "n_failed": len(recs) - len(ok),
        "sun_strength": {f"{v:g}": sum(r["modes"]["sun_strength"] == v for r in ok) for v in (2, 8)},
        "objects": {"sphere": len(anomalous)} if anomalous else {},
    }


def test_stats_match_the_manifest(full: Path) -> None:
    recs = _read(full)
    stats = dataset_stats(full)
    assert stats["kind"] == "render" and list(stats["cameras"]) == ["cam02", "cam03", "cam04"]
    groups = {**stats["cameras"], "total": stats["totals"]}
    for name, group in groups.items():
        mine = [r for r in recs if name in ("total", r["split"])]
        expected = _expected(mine)
        assert {k: group[k] for k in expected} == expected, name
        assert group["n_frames"] == group["n_normal"] + group["n_anomalous"] + group["n_failed"]
        counts = [r["pixel_count"] for r in mine if r["status"] == "ok" and r["has_anomaly"]]
        if counts:
            assert group["pixel_count"] == {k: pytest.approx(np.percentile(counts, q)) for k, q in PERCENTILES.items()}
        else:
            assert group["pixel_count"] is None
        assert group["image_size"] == (None if name == "total" else [64, 64])
    total = stats["totals"]
    assert total["n_failed"] > 0 and total["n_hidden"] > 0 and total["n_visible"] > 0
    ok_anom = [r for r in recs if r["status"] == "ok" and r["is_anomalous"]]
    assert total["depth_offset"] == {"-5.45": len(ok_anom) // 2, "+0": len(ok_anom) // 2}
    assert total["colour"] == {"default": len(ok_anom) // 2, "red": len(ok_anom) // 2}
    assert total["scale"] == {"1": len(ok_anom)}
    assert json.loads(json.dumps(stats)) == stats


def test_stats_tables_and_json_cli(full: Path) -> None:
    console = Console(record=True, width=200)
    render_stats(dataset_stats(full), console)
    text = console.export_text()
    for word in ("n_hidden", "pixel_count", "sun_strength", "depth_offset", "colour", "sphere", "cam04"):
        assert word in text
    result = runner.invoke(app, ["stats", str(full), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["n_frames"] == len(_read(full))
    assert runner.invoke(app, ["stats", str(full)]).exit_code == 0


# ---------------------------------------------------------------------------------------------- preview


def _header(rec, panel_width: int) -> int:
    """Height of a row's header: it wraps to as many lines as the sheet width needs."""
    return header_height(len(layout_lines(header_parts(rec), 3 * panel_width + 2 * GAP)))


def test_preview_shape_order_and_determinism(full: Path) -> None:
    sheet = make_contact_sheet(full, n=5, panel_width=96)
    assert sheet.dtype == np.uint8
    frames = load_any(full).render
    top5 = select(frames, n=5, split=None, seed=0, first=lambda r: r.is_anomalous)
    assert sheet.shape == (sum(_header(r, 96) + 96 for r in top5) + 4 * GAP, 3 * 96 + 2 * GAP, 3)
    assert np.array_equal(sheet, make_contact_sheet(full, n=5, panel_width=96))
    assert not np.array_equal(sheet, make_contact_sheet(full, n=5, panel_width=96, seed=3))
    chosen = select(frames, n=len(frames), split=None, seed=0, first=lambda r: r.is_anomalous)
    flags = [r.is_anomalous for r in chosen]
    assert all(r.status == "ok" for r in chosen) and len(chosen) == sum(r["status"] == "ok" for r in _read(full))
    assert flags == sorted(flags, reverse=True) and flags[0] and not flags[-1]


def test_preview_panels(clean: Path) -> None:
    """At panel width 64 (scale 1) every row is pixel exact: overlay colours, outline only on anomalies."""
    frames = [r for r in load_any(clean).render if r.split == "cam02"]
    chosen = select(frames, n=len(frames), split="cam02", seed=0, first=lambda r: r.is_anomalous)
    sheet = make_contact_sheet(clean, n=len(frames), split="cam02", panel_width=64)
    assert sheet.shape[0] == sum(_header(r, 64) + 64 for r in chosen) + (len(chosen) - 1) * GAP
    top = 0
    for rec in chosen:
        top += _header(rec, 64)
        body = sheet[top : top + 64].astype(int)
        top += 64 + GAP
        image, overlay, outline = body[:, :64], body[:, 64 + GAP : 128 + GAP], body[:, 128 + 2 * GAP :]
        assert np.array_equal(image, read_image_rgb(clean / rec.outputs["image"]))
        gt = read_label_png(clean / rec.outputs["gt_pixel"]) == 1
        fg = (read_label_png(clean / rec.outputs["fb_mask"]) == 1) & ~gt
        assert np.array_equal(overlay[~gt & ~fg], image[~gt & ~fg])  # background untouched
        assert (overlay[fg][:, 2] > overlay[fg][:, 0]).all()  # foreground tinted blue
        assert (overlay[gt][:, 0] > overlay[gt][:, 2] + 100).all()  # anomaly orange
        assert np.array_equal(outline, image) == (not rec.is_anomalous)  # outline or "(hidden)" label


def test_preview_write_and_cli(clean: Path, tmp_path: Path) -> None:
    out = write_preview(clean, tmp_path / "s.png", n=2, panel_width=64)
    two = select(load_any(clean).render, n=2, split=None, seed=0, first=lambda r: r.is_anomalous)
    assert read_image_rgb(out).shape == (sum(_header(r, 64) + 64 for r in two) + GAP, 3 * 64 + 2 * GAP, 3)
    result = runner.invoke(app, ["preview", str(clean), "--n", "3", "--split", "cam04"])
    assert result.exit_code == 0, result.output
    assert (clean / "preview.png").is_file()
    bad = runner.invoke(app, ["preview", str(clean), "--split", "cam09"])
    assert bad.exit_code == 2 and "available: cam02, cam03, cam04" in bad.output
    assert runner.invoke(app, ["verify", str(clean), "-q"]).exit_code == 0  # preview.png is no orphan


# -------------------------------------------------------------------------------------------------- CLI


def test_verify_cli_exit_codes(clean: Path) -> None:
    n = len(_read(clean))
    ok = runner.invoke(app, ["verify", str(clean), "--quiet"])
    assert ok.exit_code == 0, ok.output
    assert f"{n} record(s), {3 * n} file(s) re-hashed" in ok.output
    assert runner.invoke(app, ["verify", str(clean)]).exit_code == 0  # with the progress bar
    rec = _pick(clean, anomalous=True, visible=True)
    _edit(clean, rec, pixel_count=1)
    bad = runner.invoke(app, ["verify", str(clean), "-q"])
    assert bad.exit_code == 1 and "pixel_count 1 !=" in bad.output
    (clean / "manifest.jsonl").write_text((clean / "manifest.jsonl").read_text() + '{"kind": "render"}\n')
    for verb in ("verify", "stats", "preview"):
        broken = runner.invoke(app, [verb, str(clean)])
        # verify reports the line and checks the rest (exit 1); stats/preview cannot summarise it (exit 2)
        assert broken.exit_code == (1 if verb == "verify" else 2) and "malformed manifest record" in broken.output
        assert "Traceback" not in broken.output
