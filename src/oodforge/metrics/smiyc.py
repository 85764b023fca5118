"""SegmentMeIfYouCan per-frame binning (``smiyc`` / ``smiyc2021`` protocols).

The official code bins every frame separately: the edges are the float64 ``linear`` quantiles of
the frame's anomaly scores and of its normal scores at ``min(384, count)`` evenly spaced levels,
plus two outer edges (``vmin - eps`` and ``vmax + eps`` in 2023, fixed 0 and 1 in 2021); TP and FP
are counted per bin ``[e_k, e_k+1)`` (last bin closed) and each bin's threshold is its lower edge.

Here a frame is first reduced to two exact 65536-bin float16 key histograms (one ``bincount``),
and the order statistics, quantiles and bin counts are read off the histograms, so a frame costs
O(pixels) without any sort. The quantiles reproduce numpy's arithmetic bit for bit (float16
difference ``b - a``, float64 lerp, the ``t >= 0.5`` branch).

numpy version: the edges are those of the official code run with the numpy its repository pins
(1.23.3), whatever numpy is installed here. There ``vmin`` and ``vmax`` are float16 scalars, so the
span ``vmax - vmin`` is float16 (inf beyond 65504), while value-based casting makes
``eps = max(0.01 * span, 0.01)`` and the outer edges ``vmin - eps``, ``vmax + eps`` float64
(:func:`outer_edges_2023`). Under numpy >= 2 (NEP 50) the same lines stay in float16, which moves
the lowest threshold, rounds ``vmax + eps`` back onto ``vmax`` when ``eps`` is below half a float16
ulp (|vmax| >= 32 with a small span: the top pixels then fall into the bin below; a constant frame
beyond +-32 gets a single edge) and, for a frame reaching 65504 with a span of about 1600 or more,
overflows to inf. The counts follow ``np.histogram``'s cumulative rule, so the
``+-inf`` edges of a frame whose span overflows, and the inf / NaN quantiles of a class whose
neighbouring order statistics lie more than 65504 apart, count exactly as there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from oodforge.metrics._f16 import key_values16
from oodforge.metrics._smiyc_stats import anchored_2023, stats_2021, stats_2023, trimmed_2021

__all__ = [
    "FrameBins",
    "anchored_2023",
    "binned_curve",
    "bins_from_histogram",
    "outer_edges_2023",
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
    return _quantiles(keys, counts[keys], levels)


def _quantiles(keys: np.ndarray, counts: np.ndarray, levels: int = _LEVELS) -> np.ndarray:
    """:func:`quantiles_from_histogram` given ascending ``keys`` and their counts (zero counts allowed)."""
    cum = np.cumsum(counts)  # a zero count never ends a search below: side="right" lands on a counted key
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


def outer_edges_2023(vmin: float, vmax: float) -> tuple[float, float]:
    """The 2023 outer edges ``(vmin - eps, vmax + eps)`` as the official code computes them under numpy 1.23.

    ``vmax - vmin`` of the two float16 scalars is float16 (inf once the span passes 65504, as a
    frame from -20 to 65504 does); ``eps = max(0.01 * span, 0.01)`` and both edges are float64.

    Args:
        vmin: The frame's smallest ROI score (a float16 value).
        vmax: The frame's largest ROI score (a float16 value).

    Returns:
        The float64 edges; ``(-inf, inf)`` when the float16 span overflows.

    Example:
        >>> outer_edges_2023(40.0, 40.5)  # float16 arithmetic would give (39.96875, 40.5)
        (39.99, 40.51)
        >>> outer_edges_2023(65504.0, 65504.0)  # float16: vmax + eps rounds back to 65504
        (65503.99, 65504.01)
    """
    with np.errstate(over="ignore"):
        span = float(np.float16(vmax) - np.float16(vmin))
    eps = max(span * 1e-2, 1e-2)
    return vmin - eps, vmax + eps


def _edges(keys: np.ndarray, neg: np.ndarray, pos: np.ndarray, rule: EdgeRule) -> np.ndarray:
    """The frame's bin edges from its present ``keys`` (ascending) and the class counts at them."""
    if rule == "2023":
        values16 = key_values16()
        outer = np.asarray(outer_edges_2023(float(values16[keys[0]]), float(values16[keys[-1]])))
    else:
        outer = np.asarray([0.0, 1.0])
    parts = [outer] + [_quantiles(keys, h) for h in (pos, neg) if h.any()]
    return np.unique(np.concatenate(parts))


def bins_from_histogram(hist: np.ndarray, rule: EdgeRule = "2023") -> FrameBins:
    """Per-frame SMIYC bins from a frame's (2, 65536) key histogram (row 0 normal, row 1 anomaly).

    Equivalent to the official ``binary_confusion_matrix(..., num_bins=768, bin_strategy='percentiles')``
    on the frame's ROI scores under numpy 1.23: same edges, same ``np.histogram`` counts, read from
    the cumulative counts below each edge (at or below the last one). (The quantiles at levels 0 and 1
    are the extremes of each class, so no ROI pixel falls outside the edges, even in 2021.)

    Args:
        hist: (2, 65536) int64 counts of finite scores with at least one non-zero entry.
        rule: ``"2023"`` (outer edges ``vmin - eps``, ``vmax + eps``) or ``"2021"`` (0 and 1).

    Returns:
        The frame's bins, descending.
    """
    keys = np.flatnonzero(hist[0] + hist[1])  # the present keys, once; everything below works on them
    neg, pos = hist[0][keys], hist[1][keys]
    edges = _edges(keys, neg, pos, rule)
    values = key_values16()[keys].astype(np.float64)  # ascending
    at = np.concatenate(
        [np.searchsorted(values, edges[:-1], side="left"), np.searchsorted(values, edges[-1:], side="right")]
    )
    cum_tp, cum_fp = np.concatenate([[0], np.cumsum(pos)]), np.concatenate([[0], np.cumsum(neg)])
    tp, fp = np.diff(cum_tp[at]), np.diff(cum_fp[at])
    return FrameBins(edges[:-1][::-1].copy(), tp[::-1].copy(), fp[::-1].copy(), int(cum_tp[-1]), int(cum_fp[-1]))


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
