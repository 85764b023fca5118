"""`oodforge eval` and `oodforge score`: tables, JSON, plots, one-line errors with exit 2, the demo's eval step."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from oodforge.benchmarks import list_benchmarks
from oodforge.cli.main import app
from oodforge.eval import evaluate
from oodforge.scores import energy_score

if "eval_fixtures" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "eval_fixtures", Path(__file__).parents[1] / "eval" / "eval_fixtures.py"
    )
    assert _spec is not None and _spec.loader is not None
    sys.modules["eval_fixtures"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["eval_fixtures"])
ef = sys.modules["eval_fixtures"]

runner = CliRunner()


def _eval(root: Path, scores: Path, *extra: str):
    return runner.invoke(
        app, ["eval", "--benchmark", "synth", "--root", str(root), "--scores", str(scores), "-q", *extra]
    )


def _one_line_exit_2(res, needle: str) -> str:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert needle in lines[0] and "Traceback" not in res.output
    return lines[0]


@pytest.fixture
def ds(tmp_path: Path):
    root = tmp_path / "ds"
    labels = ef.make_synth(root)
    scores = ef.random_scores(labels, seed=2)
    return root, labels, scores, ef.write_scores(tmp_path / "scores", scores)


def test_table_json_and_plots(ds, tmp_path: Path) -> None:
    root, _, _, scores = ds
    res = _eval(root, scores, "--out", str(tmp_path / "r" / "results.json"), "--plots", str(tmp_path / "plots"))
    assert res.exit_code == 0, res.output
    ref = evaluate("synth", root, scores)
    for header in ("AP", "FPR95", "AUROC", "best F1", "sIoU", "PPV", "mean F1"):
        assert header in res.output
    assert f"{100 * ref.pixel.ap:.2f}" in res.output and f"{100 * ref.pixel.fpr95:.2f}" in res.output
    assert f"note: skipped 1 failed record(s) of split 'test': {ef.FAILED_ID}" in res.output
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    assert data["benchmark"] == "synth" and data["split"] == "test" and data["protocol"] == "fishyscapes"
    assert data["n_images"] == 3 and data["pixel"]["ap"] == ref.pixel.ap and data["pixel"]["auroc"] == ref.pixel.auroc
    assert data["components"]["f1_mean"] == ref.components.f1_mean and data["component_track"] == "anomaly"
    assert len(data["curves"]["recall"]) == len(ref.curves.recall) and sum(data["histogram"]["anomaly"]) == 1800
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["histogram.png", "pr.png", "roc.png"]


def test_protocol_option_and_no_components(ds) -> None:
    root, _, _, scores = ds
    res = _eval(root, scores, "--protocol", "smiyc", "--no-components")
    assert res.exit_code == 0, res.output
    ref = evaluate("synth", root, scores, protocol="smiyc")
    assert "protocol smiyc" in res.output and f"{100 * ref.pixel.ap:.2f}" in res.output
    assert "sIoU" not in res.output


def _missing(root, labels, scores, d):
    for image_id in ef.IDS[1:]:
        (d / f"{image_id}.npy").unlink()
    return f"{ef.IDS[1]}.npy: missing (and 1 other image id of synth (split 'test') has no score file)"


def _shape(root, labels, scores, d):
    np.save(d / f"{ef.IDS[0]}.npy", np.zeros((16, 64), np.float32))
    return "score map has shape (16, 64); expected (32, 64)"


def _nan(root, labels, scores, d):
    s = scores[ef.IDS[2]].copy()
    s[:3, 0] = np.nan
    np.save(d / f"{ef.IDS[2]}.npy", s)
    return f"{ef.IDS[2]}.npy: 3 non-finite score(s) (3 NaN, 0 inf) of 2048"


def _inf(root, labels, scores, d):
    s = scores[ef.IDS[2]].astype(np.float16)
    s[5, 5] = np.inf
    np.save(d / f"{ef.IDS[2]}.npy", s)
    return "1 non-finite score(s) (0 NaN, 1 inf)"


def _int(root, labels, scores, d):
    np.save(d / f"{ef.IDS[0]}.npy", np.zeros((32, 64), np.uint8))
    return "scores have dtype uint8; expected float16 or float32"


def _no_anomaly(root, labels, scores, d):
    ef.make_synth(root, {i: np.zeros((32, 64), np.uint8) for i in ef.IDS})
    return "synth (split 'test'): no anomaly pixel (label 1) in its 3 image(s)"


def _bad_label(root, labels, scores, d):
    ef.bf.write_label(
        root / "test" / "gt_pixel" / f"{ef.IDS[0]}.png",
        np.where(labels[ef.IDS[0]] == 1, 3, labels[ef.IDS[0]]).astype(np.uint8),
    )
    return "label values 3 (600 px) are outside"


@pytest.mark.parametrize("make_error", [_missing, _shape, _nan, _inf, _int, _no_anomaly, _bad_label])
def test_data_errors_exit_2_with_one_line(ds, tmp_path: Path, make_error) -> None:
    root, labels, scores, d = ds
    needle = make_error(root, labels, scores, d)
    _one_line_exit_2(_eval(root, d, "--out", str(tmp_path / "res.json")), needle)
    assert not (tmp_path / "res.json").exists()  # nothing half-written


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--protocol", "smiyc2022"], "unknown protocol 'smiyc2022'; valid protocols: fishyscapes, smiyc, smiyc2021"),
        (["--split", "train"], "unknown split 'train'; valid splits: test, val"),
    ],
)
def test_usage_errors(ds, extra, needle) -> None:
    root, _, _, scores = ds
    _one_line_exit_2(_eval(root, scores, *extra), needle)


def test_smiyc_scores_beyond_float16_exit_2_naming_the_file(ds) -> None:
    root, _, scores, d = ds
    s = scores[ef.IDS[1]].copy()
    s[3, 3] = 7.1e4
    np.save(d / f"{ef.IDS[1]}.npy", s)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = _eval(root, d, "--protocol", "smiyc")
    needle = (
        f"{ef.IDS[1]}.npy: scores up to 7.1e+04 exceed float16's maximum 65504; the smiyc protocol stores float16 "
        "scores: rescale them or use --protocol fishyscapes"
    )
    assert _one_line_exit_2(res, needle).endswith(needle) and "NaN" not in res.output


def test_wrong_root_and_missing_matplotlib(ds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _, _, scores = ds
    _one_line_exit_2(_eval(tmp_path, scores), "no manifest.jsonl; expected the output root of `oodforge synth`")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    line = _one_line_exit_2(_eval(root, scores, "--plots", str(tmp_path / "p")), "pip install 'oodforge[plots]'")
    assert "matplotlib" in line and not (tmp_path / "p").exists()


def test_score_then_eval_end_to_end(ds, tmp_path: Path) -> None:
    root, labels, _, _ = ds
    rng = np.random.default_rng(7)
    logits_dir = tmp_path / "logits"
    logits_dir.mkdir()
    logits = {}
    for image_id, label in labels.items():
        z = rng.standard_normal((4, 32, 64)).astype(np.float32)
        z[0] += 3 * (label != 1)  # confident class 0 on normal pixels: low energy score there
        logits[image_id] = z
        np.save(logits_dir / f"{image_id}.npy", z)
    res = runner.invoke(
        app, ["score", "--method", "energy", str(logits_dir), str(tmp_path / "energy"), "-t", "1.5", "-q"]
    )
    assert res.exit_code == 0, res.output
    assert "3 score map(s) written" in res.output
    for image_id, z in logits.items():
        got = np.load(tmp_path / "energy" / f"{image_id}.npy")
        assert got.dtype == np.float16 and np.array_equal(got, energy_score(z, temperature=1.5).astype(np.float16))
    res = _eval(root, tmp_path / "energy", "--out", str(tmp_path / "e.json"))
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "e.json").read_text())
    ref = evaluate("synth", root, tmp_path / "energy")
    assert data["pixel"]["ap"] == ref.pixel.ap and ref.pixel.auroc > 0.9


def test_score_errors(tmp_path: Path) -> None:
    (tmp_path / "l").mkdir()
    np.save(tmp_path / "l" / "a.npy", np.zeros((2, 4, 4), np.float32))
    res = runner.invoke(app, ["score", "--method", "nope", str(tmp_path / "l"), str(tmp_path / "o"), "-q"])
    _one_line_exit_2(res, "unknown score method 'nope'; available methods: energy, entropy, maxlogit, msp, rba, sml")
    res = runner.invoke(app, ["score", "--method", "sml", str(tmp_path / "l"), str(tmp_path / "o"), "-q"])
    _one_line_exit_2(res, "method 'sml' needs --sml-stats FILE")
    np.save(tmp_path / "l" / "a.npy", np.zeros((2, 4), np.float32))
    res = runner.invoke(app, ["score", "--method", "msp", str(tmp_path / "l"), str(tmp_path / "o"), "-q"])
    _one_line_exit_2(res, "a.npy: logits have shape (2, 4); expected (C, H, W)")


def test_help_lists_the_verbs_and_options() -> None:
    assert all(v in runner.invoke(app, ["--help"]).output for v in ("eval", "score"))
    text = runner.invoke(app, ["eval", "--help"]).output
    for opt in ("--benchmark", "--root", "--scores", "--split", "--protocol", "--out", "--plots"):
        assert opt in text
    names = list_benchmarks()
    assert len(names) >= 7 and all(name in text for name in names), text
    text = runner.invoke(app, ["score", "--help"]).output
    for opt in ("--method", "--temperature", "--sml-stats", "LOGITS_DIR", "OUT_DIR"):
        assert opt in text


def test_demo_ends_with_the_baseline_eval(tmp_path: Path) -> None:
    res = runner.invoke(app, ["demo", "--out", str(tmp_path / "d"), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "model-free baseline" in res.output and "AUROC" in res.output and "mean F1" in res.output
    scores = sorted((tmp_path / "d" / "scores" / "rx_baseline").glob("*.npy"))
    assert len(scores) == 7 and np.load(scores[0]).dtype == np.float16
    ref = evaluate("synth", tmp_path / "d" / "dataset", tmp_path / "d" / "scores" / "rx_baseline", split="test")
    assert f"{100 * ref.pixel.auroc:.2f}" in res.output
