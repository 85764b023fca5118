"""`oodforge benchmark`: a run from saved logits and from a model, numbers equal to `oodforge score` + `oodforge eval`,
the owned output folder, one-line errors with exit code 2."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from oodforge.cli.main import app
from oodforge.eval.report import json_safe

if "bench_fixtures" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "bench_fixtures", Path(__file__).parents[1] / "eval" / "bench_fixtures.py"
    )
    assert _spec is not None and _spec.loader is not None
    sys.modules["bench_fixtures"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["bench_fixtures"])
bfx = sys.modules["bench_fixtures"]

runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return bfx.build_world(tmp_path_factory.mktemp("bench_cli"))


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The BenchmarkRun objects the command makes."""
    from oodforge.eval import bench_engine

    runs: list[Any] = []
    real = bench_engine.run_benchmark

    def spy(*args: Any, **kwargs: Any) -> Any:
        runs.append(real(*args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(bench_engine, "run_benchmark", spy)
    return runs


def _one_line_exit_2(res: Result, needle: str) -> None:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip() and not ln.startswith("model:")]
    assert len(lines) == 1, res.output
    assert needle in lines[0]
    assert "Traceback" not in res.output


def _cli(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def test_logits_run_equals_score_then_eval_cli(world: Any, tmp_path: Path, captured: list[Any]) -> None:
    suite = world.suite(tmp_path / "suite.yaml", benchmarks=[
        {"name": "ra21", "benchmark": "road_anomaly_21", "root": str(world.smiyc), "split": "validation"},
        {"name": "synth", "benchmark": "synth", "root": str(world.synth), "split": "test"},
    ], scores=["energy", "maxlogit"], temperatures={"values": [1.0, 2.0]})  # fmt: skip
    out = tmp_path / "out"
    res = _cli("benchmark", suite, "--out", out, "--logits", world.logits, "-q")
    assert res.exit_code == 0, res.output
    for text in ("energy @ T=2", "maxlogit @ T=1", "ra21", "AP ↑", "FPR95 ↓", "note: maxlogit takes no temperature"):
        assert text in res.output
    (run,) = captured
    for name, bench, root, split in (
        ("ra21", "road_anomaly_21", world.smiyc, "validation"),
        ("synth", "synth", world.synth, "test"),
    ):
        for method, t in (("energy", "2"), ("maxlogit", "1")):
            scores = tmp_path / f"s_{name}_{method}"
            extra = ["--temperature", t] if method == "energy" else []
            assert _cli("score", world.logits / name, scores, "--method", method, "-q", *extra).exit_code == 0
            ev = _cli("eval", "--benchmark", bench, "--root", root, "--scores", scores, "--split", split, "-q",
                      "--out", tmp_path / f"{name}_{method}.json")  # fmt: skip
            assert ev.exit_code == 0, ev.output
            ref = json.loads((tmp_path / f"{name}_{method}.json").read_text())
            mine = json_safe(run.reports[name][f"{method} @ T={t}"].to_dict(include_curves=False))
            assert mine["pixel"] == ref["pixel"]
            assert mine["components"] == ref["components"]
            assert mine["component_threshold"] == ref["component_threshold"]
    listed = json.loads((out / ".oodforge" / "files.json").read_text())["files"]
    written = sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and ".oodforge" not in p.parts
    )
    assert listed == written
    assert "suite.yaml" in written
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "report.html", "plots/ra21_pr.png",
                 "plots/ra21_roc.png", "plots/synth_pr.png", "plots/synth_roc.png"):  # fmt: skip
        assert name in written, written
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["leaderboard"]["rows"] == ["energy @ T=1", "energy @ T=2", "maxlogit @ T=1", "maxlogit @ T=2"]
    html = (out / "report.html").read_text()
    assert "energy @ T=2" in html and "maxlogit @ T=1" in html and "http://" not in html
    assert not [p for p in (out / ".oodforge").iterdir() if p.name.startswith("oodforge-benchmark-")]

    again = _cli("benchmark", suite, "--out", out, "--logits", world.logits, "-q")
    _one_line_exit_2(again, "--overwrite")
    ok = _cli("benchmark", suite, "--out", out, "--logits", world.logits, "-q", "--overwrite")
    assert ok.exit_code == 0, ok.output


def test_model_run_from_weights(world: Any, tmp_path: Path, captured: list[Any]) -> None:
    weights = bfx.tiny_erfnet(tmp_path / "erfnet.pth")
    suite = world.suite(tmp_path / "suite.yaml", benchmarks=[
        {"name": "ra21", "benchmark": "road_anomaly_21", "root": str(world.smiyc), "split": "validation"},
    ], scores=["msp"], outputs={"score_maps": True, "logits": True})  # fmt: skip
    out = tmp_path / "out"
    res = _cli("benchmark", suite, "--out", out, "--model", "erfnet", "--weights", weights, "--input-scale", "1",
               "--device", "cpu", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "model: erfnet with erfnet.pth" in res.output
    (run,) = captured
    assert run.header["device"] == "cpu"
    assert "scale 1" in run.header["input_convention"]
    for image_id in world.ids["ra21"]:
        assert (out / "score_maps" / "ra21" / "msp_T1" / f"{image_id}.npy").is_file()
        assert (out / "logits" / "ra21" / f"{image_id}.npy").is_file()
    ev = _cli("eval", "--benchmark", "road_anomaly_21", "--root", world.smiyc, "--split", "validation", "-q",
              "--scores", out / "score_maps" / "ra21" / "msp_T1", "--out", tmp_path / "ev.json")  # fmt: skip
    assert ev.exit_code == 0, ev.output
    ref = json.loads((tmp_path / "ev.json").read_text())
    assert json_safe(run.reports["ra21"]["msp @ T=1"].pixel.to_dict()) == ref["pixel"]


def test_usage_errors_are_one_line_exit_2(world: Any, tmp_path: Path) -> None:
    suite = world.suite(tmp_path / "suite.yaml", benchmarks=[
        {"name": "ra21", "benchmark": "road_anomaly_21", "root": str(world.smiyc), "split": "validation"},
    ])  # fmt: skip
    out = tmp_path / "out"
    _one_line_exit_2(_cli("benchmark", suite, "--out", out), "no model: give -c CKPT")
    _one_line_exit_2(_cli("benchmark", suite, "--logits", world.logits), "--out DIR is required")
    _one_line_exit_2(
        _cli("benchmark", suite, "--out", out, "--logits", world.logits, "-c", tmp_path / "x.ckpt"),
        "--checkpoint does not apply",
    )
    _one_line_exit_2(
        _cli("benchmark", suite, "--out", out, "--logits", world.logits, "--root", "fs=/x"), "no benchmark of that name"
    )
    _one_line_exit_2(_cli("benchmark", tmp_path / "none.yaml", "--out", out, "--logits", world.logits), "not found")
    _one_line_exit_2(_cli("benchmark", suite, "--out", out, "--logits", tmp_path / "nope"), "--logits is not a folder")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("user file")
    _one_line_exit_2(_cli("benchmark", suite, "--out", foreign, "--logits", world.logits), "not empty")
    assert (foreign / "mine.txt").read_text() == "user file"
    hidden = tmp_path / "hidden"
    bfx.bf.write_road_anomaly_21(hidden, without_label=("road0002",))
    bad = world.suite(tmp_path / "bad.yaml", benchmarks=[
        {"name": "ra21", "benchmark": "road_anomaly_21", "root": str(hidden), "split": "test"},
    ])  # fmt: skip
    _one_line_exit_2(_cli("benchmark", bad, "--out", out, "--logits", world.logits), "split='validation'")
    assert not out.exists() or not any(p for p in out.rglob("*") if p.is_file() and ".oodforge" not in p.parts)


def test_help_lists_the_options() -> None:
    res = _cli("benchmark", "--help")
    assert res.exit_code == 0
    for opt in ("--out", "--logits", "--root", "--checkpoint", "--model", "--weights", "--overwrite"):
        assert opt in res.output
