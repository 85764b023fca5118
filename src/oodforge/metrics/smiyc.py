"""SegmentMeIfYouCan per-frame binning (``smiyc`` / ``smiyc2021`` protocols).

The official code bins every frame separately: the edges are the float64 ``linear`` quantiles of
the frame's anomaly scores and of its normal scores at ``min(384, count)`` evenly spaced levels,
plus two outer edges (``vmin - eps`` and ``vmax + eps`` in 2023, fixed 0 and 1 in 2021); TP and FP
are counted per bin ``[e_k, e_k+1)`` (last bin closed) and each bin's threshold is its lower edge.

Here a frame is first reduced to two exact 65536-bin float16 key histograms (one ``bincount``),
and the order statistics, quantiles and bin counts are read off the histograms, so a frame costs
O(pixels) without any sort. The quantiles reproduce numpy's arithmetic bit for bit (float16
difference ``b - a``, float64 lerp, the ``t >= 0.5`` branch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from oodforge.errors import ValueCheckError
from oodforge.metrics._curve import CurveStats
from oodforge.metrics._f16 import key_values16

__all__ = [
    "FrameBins",
    "anchored_2023",
    "binned_curve",
    "bins_from_histogram",
    "quantiles_from_histogram",
    "stats_2021",
    "stats_2023",
    "trimmed_2021",
]

EdgeRule = Literal["2023", "2021"]
_LEVELS = 384  # num_bins // 2 with the official num_bins = 768


@dataclass(frozen=True)
class FrameBins:
    """Per-frame SMIYC bins in descending threshold order.

    Attributes:
        thresholds: (K,) float64 lower bin edges, descending (K <= 769).
        tp: (K,) int64 anomaly pixels per bin.
        fp: (K,) int64 normal pixels per bin.
        num_positives: Anomaly pixels in the frame ROI.
        num_negatives: Normal pixels in the frame ROI.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    num_positives: int
    num_negatives: int


def quantiles_from_histogram(counts: np.ndarray, levels: int = _LEVELS) -> np.ndarray:
    """``np.quantile(x, np.linspace(0, 1, min(levels, x.size)))`` of float16 data given by key counts.

    Args:
        counts: (65536,) int64 float16-key histogram of the data ``x`` (at least one count).
        levels: Maximum number of quantile levels.

    Returns:
        float64 quantiles, bit-identical to numpy's default ``linear`` method on the float16 data.

    Example:
        >>> import numpy as np
        >>> from oodforge.metrics._f16 import float16_keys
        >>> x = np.array([0.1, 0.5, 0.5, 0.9], dtype=np.float16)
        >>> counts = np.bincount(float16_keys(x), minlength=65536)
        >>> bool(np.array_equal(quantiles_from_histogram(counts, 3), np.quantile(x, np.linspace(0, 1, 3))))
        True
    """
    keys = np.flatnonzero(counts)
    cum = np.cumsum(counts[keys])
    n = int(cum[-1])
    values16 = key_values16()
    q = np.linspace(0, 1, min(levels, n))
    virtual = (n - 1) * q
    prev = np.floor(virtual)
    above = virtual >= n - 1
    prev_idx = np.where(above, n - 1, prev).astype(np.intp)
    next_idx = np.where(above, n - 1, prev_idx + 1)
    a = values16[keys[np.searchsorted(cum, prev_idx, side="right")]]
    b = values16[keys[np.searchsorted(cum, next_idx, side="right")]]
    gamma = virtual - np.where(above, -1.0, prev)
    with np.errstate(over="ignore", invalid="ignore"):  # float16 extremes overflow exactly as np.quantile does
        diff = b - a
        out = a + diff * gamma
        upper = gamma >= 0.5
        out[upper] = (b - diff * (1 - gamma))[upper]
    return out


def _edges(neg: np.ndarray, pos: np.ndarray, rule: EdgeRule) -> np.ndarray:
    present = np.flatnonzero(neg + pos)
    values16 = key_values16()
    if rule == "2023":
        # float16 scalars, as in the official code: with numpy >= 2 (NEP 50) the outer edges are float16,
        # with numpy 1.x float64; the lowest bin is empty and the top edge is never a threshold either way
        vmin, vmax = values16[present[0]], values16[present[-1]]
        eps = np.maximum((vmax - vmin) * 1e-2, 1e-2)
        outer = np.asarray([vmin - eps, vmax + eps])
        if not np.isfinite(outer).all():
            raise ValueCheckError(f"Expected the SMIYC bin range to fit float16, but got scores from {vmin} to {vmax}")
    else:
        outer = np.asarray([0, 1])
    parts = [outer] + [quantiles_from_histogram(h) for h in (pos, neg) if h.any()]
    edges = np.unique(np.concatenate(parts))
    if len(edges) < 2:
        # constant frame where +-eps vanishes in float16 (|score| >= 16): np.histogram would reject a single
        # edge; use one closed bin [v, v]
        edges = np.repeat(edges, 2)
    return edges


def bins_from_histogram(hist: np.ndarray, rule: EdgeRule = "2023") -> FrameBins:
    """Per-frame SMIYC bins from a frame's (2, 65536) key histogram (row 0 normal, row 1 anomaly).

    Equivalent to the official ``binary_confusion_matrix(..., num_bins=768, bin_strategy='percentiles')``
    on the frame's ROI scores: same edges, same ``np.histogram`` counts. (The quantiles at levels 0
    and 1 are the extremes of each class, so no ROI pixel falls outside the edges, even in 2021.)

    Args:
        hist: (2, 65536) int64 counts with at least one non-zero entry.
        rule: ``"2023"`` (outer edges ``vmin - eps``, ``vmax + eps``) or ``"2021"`` (0 and 1).

    Returns:
        The frame's bins, descending.
    """
    neg, pos = hist[0], hist[1]
    edges = _edges(neg, pos, rule)
    keys = np.flatnonzero(neg + pos)
    values = key_values16()[keys].astype(np.float64)
    k = len(edges)
    idx = np.searchsorted(edges, values, side="right") - 1
    idx[values == edges[-1]] = k - 2
    inside = (values >= edges[0]) & (values <= edges[-1])
    idx = idx[inside]
    tp = np.bincount(idx, weights=pos[keys][inside], minlength=k - 1).astype(np.int64)
    fp = np.bincount(idx, weights=neg[keys][inside], minlength=k - 1).astype(np.int64)
    return FrameBins(edges[:-1][::-1].copy(), tp[::-1].copy(), fp[::-1].copy(), int(pos.sum()), int(neg.sum()))


def binned_curve(
    frames: list[FrameBins], *, collapse: bool, keep_first: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool per-frame bins into one descending curve, as the official aggregation does.

    Thresholds of all frames are concatenated in frame order and ordered by numpy's default
    (unstable) ``argsort``, reversed; counts are cumulated in float64.

    Args:
        frames: Per-frame bins, in frame order.
        collapse: Keep only the last point of each run of equal thresholds (2023); False keeps every
            bin as its own point (2021).
        keep_first: With ``collapse``, also keep index 0 even inside a tie (the official 2023 quirk).

    Returns:
        ``(thresholds, tp, fp)`` float64 arrays, descending thresholds, cumulative counts.
    """
    thr = np.concatenate([f.thresholds for f in frames])
    order = np.argsort(thr)[::-1]
    thr = thr[order]
    tp = np.cumsum(np.concatenate([f.tp for f in frames])[order].astype(np.float64))
    fp = np.cumsum(np.concatenate([f.fp for f in frames])[order].astype(np.float64))
    if collapse:
        keep = np.ones(len(thr), dtype=bool)
        np.not_equal(thr[:-1], thr[1:], out=keep[:-1])
        keep[0] |= keep_first
        thr, tp, fp = thr[keep], tp[keep], fp[keep]
    return thr, tp, fp


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
