"""PNG plots: three files written atomically; a clear error without matplotlib."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from eval_fixtures import make_synth, random_scores, write_scores

from oodforge.errors import UsageError
from oodforge.eval import evaluate
from oodforge.eval.plots import PLOT_FILES, require_matplotlib, write_plots


def test_three_pngs(tmp_path: Path) -> None:
    labels = make_synth(tmp_path / "ds")
    rep = evaluate("synth", tmp_path / "ds", write_scores(tmp_path / "s", random_scores(labels)))
    paths = write_plots(rep, tmp_path / "plots")
    assert [p.name for p in paths] == list(PLOT_FILES) == ["pr.png", "roc.png", "histogram.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5_000
    assert sorted(q.name for q in (tmp_path / "plots").iterdir()) == sorted(PLOT_FILES)  # no temporary files


def test_missing_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError) as e:
        require_matplotlib()
    assert str(e.value) == "plots need matplotlib: pip install 'oodforge[plots]'"
