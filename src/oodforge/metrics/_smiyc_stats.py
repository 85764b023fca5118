"""Official SMIYC curve statistics from a pooled binned curve (``smiyc`` 2023 and ``smiyc2021`` rules).

Private stage of :mod:`oodforge.metrics.smiyc`: the pooled (thresholds, TP, FP) curve of the per-frame
bins is anchored (2023) or trimmed (2021), then AP, AUROC, FPR95 and best F1 are read off it with the
official arithmetic (``metrics.md`` sections 2-3).
"""

from __future__ import annotations

import numpy as np

from oodforge.errors import ValueCheckError
from oodforge.metrics._curve import CurveStats

__all__ = ["anchored_2023", "stats_2021", "stats_2023", "trimmed_2021"]


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    """Trapezoid rule with numpy's ``trapz`` arithmetic (``np.trapezoid`` is missing on numpy 1.26)."""
    d = np.diff(x)
    return float((d * (y[1:] + y[:-1]) / 2.0).sum())


def _fpr95(tpr: np.ndarray, fpr: np.ndarray, thr: np.ndarray) -> tuple[float, float]:
    j = int(np.searchsorted(tpr, 0.95))
    if j < len(tpr):
        return float(fpr[j]), float(thr[j])
    return 1.0, 0.0


def _best_f1(tp: np.ndarray, fp: np.ndarray, thr: np.ndarray, p: int) -> tuple[float, float]:
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * tp / (2 * tp + fp + (p - tp))
    if np.isnan(f1).all():
        return float("nan"), float("nan")
    ix = int(np.nanargmax(f1))
    return float(f1[ix]), float(thr[ix])


def anchored_2023(
    thr: np.ndarray, tp: np.ndarray, fp: np.ndarray, p: int, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add the 2023 end points to a collapsed curve.

    (0, 0) at threshold max + 1 if the first point predicts something, (P, N) at threshold max - 1
    if the last point is not (P, N).

    Args:
        thr: Descending thresholds (float64).
        tp: Cumulative TP (float64).
        fp: Cumulative FP (float64).
        p: Number of anomaly pixels.
        n: Number of normal pixels.

    Returns:
        The anchored ``(thresholds, tp, fp)``.
    """
    top = thr[0]
    if tp[0] + fp[0] > 0:
        thr, tp, fp = np.r_[top + 1, thr], np.r_[0.0, tp], np.r_[0.0, fp]
    if tp[-1] != p or fp[-1] != n:
        thr, tp, fp = np.r_[thr, top - 1], np.r_[tp, p], np.r_[fp, n]
    return thr, tp, fp


def trimmed_2021(thr: np.ndarray, tp: np.ndarray, fp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop the leading points with TP + FP <= 0.01 (the 2021 curve start).

    Args:
        thr: Descending thresholds (float64).
        tp: Cumulative TP (float64).
        fp: Cumulative FP (float64).

    Returns:
        The trimmed ``(thresholds, tp, fp)``.

    Raises:
        ValueCheckError: If no point predicts anything (no pixel at all).
    """
    start = np.flatnonzero(tp + fp > 0.01)
    if not len(start):
        raise ValueCheckError("Expected at least one pixel in the smiyc2021 bins, but got none")
    return thr[start[0] :], tp[start[0] :], fp[start[0] :]


def stats_2023(thr: np.ndarray, tp: np.ndarray, fp: np.ndarray, p: int, n: int) -> CurveStats:
    """Official 2023 numbers from a collapsed binned curve (see ``metrics.md`` section 2).

    After :func:`anchored_2023`, precision is 1 where nothing is predicted; AP is the step sum from
    R = 0, AUROC the trapezoid from (0, 0), FPR95 the FPR of the first point with TPR >= 0.95, best
    F1 the first maximum.

    Args:
        thr: Descending thresholds (float64).
        tp: Cumulative TP (float64).
        fp: Cumulative FP (float64).
        p: Number of anomaly pixels (> 0).
        n: Number of normal pixels (> 0).

    Returns:
        The statistics (``fpr95_interpolated`` is ``np.interp(0.95, TPR, FPR)`` on this curve).
    """
    thr, tp, fp = anchored_2023(thr, tp, fp, p, n)
    tpr, fpr = tp / p, fp / n
    denom = tp + fp
    prec = np.divide(tp, denom, out=np.ones_like(tp), where=denom > 0)
    ap = float(np.sum(np.diff(tpr) * prec[1:]))
    fpr95, thr95 = _fpr95(tpr, fpr, thr)
    best_f1, best_thr = _best_f1(tp, fp, thr, p)
    interp = float(np.interp(0.95, tpr, fpr))
    return CurveStats(p, n, ap, _trapezoid(tpr, fpr), fpr95, interp, thr95, best_f1, best_thr)


def stats_2021(thr: np.ndarray, tp: np.ndarray, fp: np.ndarray, p: int, n: int) -> CurveStats:
    """Paper-era (2021) numbers from an uncollapsed binned curve (see ``metrics.md`` section 3).

    Leading points with TP + FP <= 0.01 are dropped and no anchor is added; AP and AUROC are
    trapezoids over the remaining points, so the area before the first point is not counted;
    FPR95 keeps the official 1.0 fallback (threshold 0.0), unreachable in practice.

    Args:
        thr: Descending thresholds (float64).
        tp: Cumulative TP (float64).
        fp: Cumulative FP (float64).
        p: Number of anomaly pixels.
        n: Number of normal pixels.

    Returns:
        The statistics.

    """
    thr, tp, fp = trimmed_2021(thr, tp, fp)
    tpr, fpr = tp / p, fp / n
    prec = tp / (tp + fp)
    fpr95, thr95 = _fpr95(tpr, fpr, thr)
    best_f1, best_thr = _best_f1(tp, fp, thr, p)
    interp = float(np.interp(0.95, tpr, fpr))
    return CurveStats(p, n, _trapezoid(prec, tpr), _trapezoid(tpr, fpr), fpr95, interp, thr95, best_f1, best_thr)
