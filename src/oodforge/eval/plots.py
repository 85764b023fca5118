"""PNG plots of an :class:`~oodforge.eval.report.EvalReport`: PR curve, ROC curve, score histogram.

matplotlib is optional (``pip install 'oodforge[plots]'``) and imported only here, inside the
functions; figures are drawn with the Agg canvas (no global backend switch, no display needed) and
each PNG is written atomically (rendered to memory, then a temporary file renamed into place).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from oodforge._io import atomic_write_bytes
from oodforge.errors import UsageError
from oodforge.eval.report import EvalReport

__all__ = ["PLOT_FILES", "require_matplotlib", "write_plots"]

#: File names written by :func:`write_plots`.
PLOT_FILES = ("pr.png", "roc.png", "histogram.png")
_DPI = 120


def require_matplotlib() -> None:
    """Raise a one-line :class:`UsageError` naming the extra to install when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("plots need matplotlib: pip install 'oodforge[plots]'") from None


def _figure() -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4.5), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
    return path


def _title(report: EvalReport) -> str:
    return f"{report.benchmark} / {report.split} ({report.protocol}, {report.n_images} images)"


def _pr(report: EvalReport, path: Path) -> Path:
    fig, ax = _figure()
    c, r = report.curves, report.pixel
    ax.plot(c.recall, c.precision, drawstyle="steps-pre", label=f"AP {100 * r.ap:.2f} %")
    prior = r.num_positives / (r.num_positives + r.num_negatives)
    ax.axhline(prior, color="grey", linestyle=":", label=f"chance {100 * prior:.2f} %")
    ax.set(xlabel="recall (TPR)", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=_title(report))
    ax.legend(loc="upper right")
    return _save(fig, path)


def _roc(report: EvalReport, path: Path) -> Path:
    fig, ax = _figure()
    c, r = report.curves, report.pixel
    ax.plot(c.fpr, c.tpr, label=f"AUROC {100 * r.auroc:.2f} %")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.axhline(0.95, color="tab:red", linewidth=0.8, linestyle="--")
    ax.plot([r.fpr95], [0.95], "o", color="tab:red", label=f"FPR95 {100 * r.fpr95:.2f} %")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(_title(report))
    ax.legend(loc="lower right")
    return _save(fig, path)


def _histogram(report: EvalReport, path: Path) -> Path:
    fig, ax = _figure()
    h = report.histogram
    widths = np.diff(h.edges)
    for counts, name, color in ((h.normal, "normal", "tab:blue"), (h.anomaly, "anomaly", "tab:orange")):
        total = int(counts.sum())
        density = counts / (total * widths) if total else np.zeros_like(widths)
        ax.stairs(density, h.edges, fill=True, alpha=0.45, color=color, label=f"{name} ({total} px)")
    thr = report.pixel.best_f1_threshold
    if np.isfinite(thr):
        ax.axvline(thr, color="black", linestyle="--", linewidth=0.8, label=f"best-F1 threshold {thr:.4g}")
    ax.set(xlabel="anomaly score", ylabel="density (per class)", title=_title(report))
    ax.legend(loc="upper right")
    return _save(fig, path)


def write_plots(report: EvalReport, out_dir: Path) -> list[Path]:
    """Write ``pr.png``, ``roc.png`` and ``histogram.png`` for ``report`` into ``out_dir`` (created).

    Args:
        report: The result of :func:`oodforge.eval.evaluate`.
        out_dir: Target folder.

    Returns:
        The three PNG paths, in :data:`PLOT_FILES` order.

    Raises:
        UsageError: matplotlib is not installed (the message names ``pip install 'oodforge[plots]'``).
    """
    require_matplotlib()
    out_dir.mkdir(parents=True, exist_ok=True)
    writers = (_pr, _roc, _histogram)
    return [write(report, out_dir / name) for write, name in zip(writers, PLOT_FILES, strict=True)]
