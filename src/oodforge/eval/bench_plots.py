"""PR and ROC figures of an ``oodforge benchmark`` run: per benchmark, every score × temperature on one figure.

Colour = score, line style = temperature. Uses the figure helpers of :mod:`oodforge.eval.plots`
(matplotlib optional: ``pip install 'oodforge[plots]'``; Agg canvas, no display); PNGs are rendered to
memory (so the HTML report can embed them) and written atomically as ``plots/<entry>_pr.png`` and
``plots/<entry>_roc.png``, where ``<entry>`` is the entry name with characters other than letters, digits,
``.``, ``-`` and ``_`` replaced by ``_``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from oodforge._io import atomic_write_bytes
from oodforge.eval.bench_results import BenchmarkRun, EntryInfo, row_key
from oodforge.eval.plots import _figure, require_matplotlib
from oodforge.eval.report import EvalReport

__all__ = ["PLOT_KINDS", "plot_stem", "render_benchmark_plots", "write_benchmark_plots"]

#: Figure kinds per entry, in file order.
PLOT_KINDS = ("pr", "roc")
_STYLES = ("-", "--", ":", "-.")


def plot_stem(entry: str) -> str:
    """File-name-safe form of an entry name: ``FS L&F/val`` → ``FS_L_F_val``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", entry) or "_"


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def _rows(run: BenchmarkRun, entry: str) -> list[tuple[str, EvalReport, dict[str, Any]]]:
    """(row, report, line style) of every measured row of ``entry``, in suite order."""
    reports = run.reports.get(entry, {})
    out = []
    for i, score in enumerate(run.scores):
        for j, temp in enumerate(run.temperatures):
            row = row_key(score, temp)
            if row in reports:
                style = {"color": f"C{i % 10}", "linestyle": _STYLES[j % len(_STYLES)], "linewidth": 1.4}
                out.append((row, reports[row], style))
    return out


def _setup(ax: Any, entry: EntryInfo, xlabel: str, ylabel: str) -> None:
    title = f"{entry.name}: {entry.benchmark} / {entry.split} ({entry.protocol}, {entry.n_images} images)"
    ax.set(xlabel=xlabel, ylabel=ylabel, xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(title, fontsize="medium")
    ax.grid(True, alpha=0.3)


def _legend(fig: Any, ax: Any, n: int) -> None:
    """Legend under the axes, one line per row; the figure grows with the number of lines."""
    fig.set_size_inches(6.4, 4.6 + 0.19 * n)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize="small", frameon=False)


def _pr(run: BenchmarkRun, entry: EntryInfo) -> bytes:
    fig, ax = _figure()
    rows = _rows(run, entry.name)
    for row, rep, style in rows:
        x, y = _finite(rep.curves.recall, rep.curves.precision)
        if x.size:
            ax.plot(x, y, drawstyle="steps-pre", label=f"{row}: AP {100 * rep.pixel.ap:.2f} %", **style)
    if rows:
        p, n = rows[0][1].pixel.num_positives, rows[0][1].pixel.num_negatives
        if p + n:
            ax.axhline(p / (p + n), color="grey", linestyle=":", label=f"chance {100 * p / (p + n):.2f} %")
    _setup(ax, entry, "recall (TPR)", "precision")
    _legend(fig, ax, len(rows) + 1)
    return _png(fig)


def _roc(run: BenchmarkRun, entry: EntryInfo) -> bytes:
    fig, ax = _figure()
    rows = _rows(run, entry.name)
    for row, rep, style in rows:
        x, y = _finite(rep.curves.fpr, rep.curves.tpr)
        if x.size:
            label = f"{row}: AUROC {100 * rep.pixel.auroc:.2f} %, FPR95 {100 * rep.pixel.fpr95:.2f} %"
            ax.plot(x, y, label=label, **style)
            if np.isfinite(rep.pixel.fpr95):
                ax.plot([rep.pixel.fpr95], [0.95], "o", color=style["color"], markersize=4)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8)
    ax.axhline(0.95, color="tab:red", linewidth=0.6, linestyle="--")
    _setup(ax, entry, "false positive rate", "true positive rate")
    _legend(fig, ax, len(rows))
    return _png(fig)


def render_benchmark_plots(run: BenchmarkRun) -> dict[str, dict[str, bytes]]:
    """PNG bytes per entry name and kind (``pr``, ``roc``); entries without any measured row are left out.

    Raises:
        UsageError: matplotlib is not installed (the message names ``pip install 'oodforge[plots]'``).
    """
    require_matplotlib()
    return {e.name: {"pr": _pr(run, e), "roc": _roc(run, e)} for e in run.entries if run.reports.get(e.name)}


def write_benchmark_plots(
    run: BenchmarkRun, out_dir: Path, pngs: dict[str, dict[str, bytes]] | None = None
) -> list[Path]:
    """Write ``out_dir/plots/<entry>_pr.png`` and ``<entry>_roc.png`` per entry, atomically.

    Args:
        run: The measured run.
        out_dir: Output folder of the run (``plots/`` is created inside).
        pngs: Already rendered figures (:func:`render_benchmark_plots`), to render them only once.

    Returns:
        The PNG paths, entry by entry, ``pr`` before ``roc``.

    Raises:
        UsageError: matplotlib is not installed.
    """
    pngs = render_benchmark_plots(run) if pngs is None else pngs
    paths, stems = [], set()
    for entry, figs in pngs.items():
        stem = plot_stem(entry)
        while stem in stems:  # two entry names with the same safe form
            stem += "_"
        stems.add(stem)
        for kind in PLOT_KINDS:
            path = out_dir / "plots" / f"{stem}_{kind}.png"
            atomic_write_bytes(path, figs[kind])
            paths.append(path)
    return paths
