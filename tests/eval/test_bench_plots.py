"""Benchmark PR / ROC figures: one PNG pair per entry, every row on it; real EvalReports end to end."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from eval_fixtures import load_module, make_synth, random_scores, write_scores

from oodforge.errors import UsageError
from oodforge.eval import evaluate
from oodforge.eval.bench_plots import plot_stem, render_benchmark_plots, write_benchmark_plots
from oodforge.eval.bench_results import BenchmarkRun, EntryInfo, Temperature
from oodforge.eval.html_report import write_html_report
from oodforge.eval.leaderboard import write_leaderboard

bf = load_module("bench_run_fixtures", Path(__file__).with_name("bench_run_fixtures.py"))
PNG = b"\x89PNG\r\n\x1a\n"


def _decode(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def test_files_per_entry(tmp_path: Path) -> None:
    paths = write_benchmark_plots(bf.make_run(), tmp_path)
    names = ["RA21_pr.png", "RA21_roc.png", "FS_L_F_pr.png", "FS_L_F_roc.png"]
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [f"plots/{n}" for n in names]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(names)  # no temporary files
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == PNG and b"matplotlib.org" not in data


def test_every_row_is_drawn() -> None:
    run = bf.make_run()
    full = _decode(render_benchmark_plots(run)["RA21"]["pr"])
    run.reports["RA21"] = {r: rep for r, rep in run.reports["RA21"].items() if r.startswith("msp")}
    msp_only = _decode(render_benchmark_plots(run)["RA21"]["pr"])
    orange = np.array([14, 127, 255], np.int16)  # matplotlib C1 (energy) in BGR
    count = [int((np.abs(im.astype(np.int16) - orange).max(axis=2) < 40).sum()) for im in (full, msp_only)]
    assert count[0] > 500 and count[1] == 0
    assert full.shape[0] > msp_only.shape[0]  # the legend grows with the rows


def test_entry_without_reports_and_stem_collision(tmp_path: Path) -> None:
    run = bf.make_run()
    run.entries.append(dataclasses.replace(run.entries[1], name="FS_L_F"))
    run.reports["FS_L_F"] = run.reports["FS L&F"]
    del run.reports["RA21"]
    assert list(render_benchmark_plots(run)) == ["FS L&F", "FS_L_F"]
    names = [p.name for p in write_benchmark_plots(run, tmp_path)]
    assert names == ["FS_L_F_pr.png", "FS_L_F_roc.png", "FS_L_F__pr.png", "FS_L_F__roc.png"]
    assert plot_stem("a/b c:d") == "a_b_c_d" and plot_stem("") == "_"


def test_missing_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError, match=r"pip install 'oodforge\[plots\]'"):
        write_benchmark_plots(bf.make_run(), tmp_path)
    assert not (tmp_path / "plots").exists()


def test_real_reports_end_to_end(tmp_path: Path) -> None:
    labels = make_synth(tmp_path / "ds")
    temps = [Temperature(1.0), Temperature(2.0)]
    reports = {}
    for k, t in enumerate(temps):
        scores = random_scores(labels, seed=k)
        for name, s in (("rx", scores), ("flat", {i: np.round(v * 4) / 4 for i, v in scores.items()})):
            rep = evaluate("synth", tmp_path / "ds", write_scores(tmp_path / f"s_{name}_{k}", s))
            reports[f"{name} @ {t.label}"] = rep
    first = next(iter(reports.values()))
    entry = EntryInfo("synth test", "synth", str(tmp_path / "ds"), first.split, first.protocol, first.n_images, False)
    run = BenchmarkRun("demo", "tiny", "x: 1\n", {"date": "today"}, [entry], ["rx", "flat"], temps)
    run.reports = {"synth test": reports}
    md, _, json_path = write_leaderboard(run, tmp_path / "out")
    plots = write_benchmark_plots(run, tmp_path / "out")
    html = write_html_report(run, tmp_path / "out").read_text(encoding="utf-8")
    assert [p.name for p in plots] == ["synth_test_pr.png", "synth_test_roc.png"]
    data = json.loads(json_path.read_text(encoding="utf-8"))
    row = "flat @ T=2"
    assert data["leaderboard"]["values"][run.rows().index(row)][0] == reports[row].pixel.ap
    assert f"| {row} | {100 * reports[row].pixel.ap:.2f} |" in md.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 2 and "synth / test" in html
