"""Exact pooled curve statistics from sorted score multisets (the ``fishyscapes`` core).

No (score, label) pairs are ever sorted together. Positives and negatives are kept apart as
ascending *multisets*, and every quantity of the exact curve follows from counting, at each
distinct positive score ``t``::

    TP(t) = #{pos >= t}      FP(t) = #{neg >= t}      c_t = #{pos == t}

    AP     = (1/P) * sum_t c_t * TP(t) / (TP(t) + FP(t))                  (= sklearn step AP)
    AUROC  = (1/(P*N)) * sum_t c_t * (#{neg < t} + #{neg == t} / 2)         (= roc_auc_score)
    FPR95  = FP(t*) / N,  t* = max{t : TP(t) / P >= 0.95}                   (first point reaching 95 %)
    bestF1 = max_t 2 TP(t) / (TP(t) + FP(t) + P), ties -> highest t

TPR changes only at positive scores, so these sums over the distinct positive scores give exactly
the values of the full curve through every distinct score, ties included.

The AUROC sum is an integer up to ``2 * P * N``, which passes 2**63 at about 10**9.5 pixels of each
class (some 10,000 full-resolution frames); it is accumulated exactly in Python integers by
:func:`_dot_exact`, so the final ``sum / (2 * P * N)`` is the correctly rounded quotient at any size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CurveStats", "Multiset", "exact_curve_points", "exact_stats"]

_CHUNK = 1 << 20
_TPR_LEVEL = 0.95
_INT64_LIMIT = 1 << 63
_LIMB_BITS = 21  # 3 limbs hold any int64 >= 0; a limb product is < 2**42
_LIMB_BLOCK = 1 << 20  # limb products summed per block: < 2**62, no int64 overflow


@dataclass(frozen=True)
class Multiset:
    """Ascending multiset of float32 scores, optionally with integer multiplicities.

    Attributes:
        values: (M,) float32, ascending. With ``cum`` they must also be distinct.
        cum: None (each value counts once), or (M + 1,) int64 cumulative counts with ``cum[0] == 0``.
    """

    values: np.ndarray
    cum: np.ndarray | None = None

    @property
    def size(self) -> int:
        """Number of scores in the multiset."""
        return len(self.values) if self.cum is None else int(self.cum[-1])

    def count_less(self, t: np.ndarray) -> np.ndarray:
        """Number of scores strictly below each threshold (int64, same shape as ``t``)."""
        idx = np.searchsorted(self.values, t, side="left")
        return idx.astype(np.int64) if self.cum is None else self.cum[idx]

    def count_leq(self, t: np.ndarray) -> np.ndarray:
        """Number of scores at or below each threshold (int64, same shape as ``t``)."""
        idx = np.searchsorted(self.values, t, side="right")
        return idx.astype(np.int64) if self.cum is None else self.cum[idx]

    def distinct(self) -> np.ndarray:
        """Ascending distinct values (float32)."""
        if self.cum is not None or len(self.values) < 2:
            return self.values
        keep = np.empty(len(self.values), dtype=bool)
        keep[0] = True
        np.not_equal(self.values[1:], self.values[:-1], out=keep[1:])
        return self.values[keep]

    @classmethod
    def from_histogram(cls, counts: np.ndarray, values: np.ndarray) -> Multiset:
        """Build from per-key counts and the ascending value of each key (zero-count keys dropped).

        Args:
            counts: (K,) int64 counts.
            values: (K,) float32 values, ascending over the keys with non-zero counts.

        Returns:
            The weighted multiset.
        """
        nz = np.flatnonzero(counts)
        cum = np.zeros(len(nz) + 1, dtype=np.int64)
        np.cumsum(counts[nz], out=cum[1:])
        return cls(values[nz], cum)


@dataclass(frozen=True)
class CurveStats:
    """Pooled curve statistics; thresholds are score values, NaN where undefined."""

    num_positives: int
    num_negatives: int
    ap: float
    auroc: float
    fpr95: float
    fpr95_interpolated: float
    fpr95_threshold: float
    best_f1: float
    best_f1_threshold: float


def _total(sets: Sequence[Multiset], method: str, t: np.ndarray) -> np.ndarray:
    out = np.zeros(t.shape, dtype=np.int64)
    for m in sets:
        out += getattr(m, method)(t)
    return out


def _dot_exact(a: np.ndarray, b: np.ndarray) -> int:
    """Exact ``sum(a * b)`` of two equal-length int64 arrays of non-negative values, as a Python int.

    One int64 dot product when no partial sum can reach 2**63 (every realistic chunk); otherwise
    each operand is split into three 21-bit limbs whose products are summed in int64 blocks that
    cannot overflow, and the nine partial sums are shifted and added in Python integers.
    """
    if not len(a):
        return 0
    if int(a.max()) * int(b.max()) * len(a) < _INT64_LIMIT:
        return int(np.dot(a, b))
    mask = (1 << _LIMB_BITS) - 1
    total = 0
    for start in range(0, len(a), _LIMB_BLOCK):
        a_limbs = [(a[start : start + _LIMB_BLOCK] >> (_LIMB_BITS * k)) & mask for k in range(3)]
        b_limbs = [(b[start : start + _LIMB_BLOCK] >> (_LIMB_BITS * k)) & mask for k in range(3)]
        for i, al in enumerate(a_limbs):
            for j, bl in enumerate(b_limbs):
                total += int(np.dot(al, bl)) << (_LIMB_BITS * (i + j))
    return total


def _distinct_union(sets: Sequence[Multiset]) -> np.ndarray:
    parts = [m.distinct() for m in sets if len(m.values)]
    if not parts:
        return np.empty(0, dtype=np.float32)
    if len(parts) == 1:
        return parts[0]
    return np.unique(np.concatenate(parts))


def _chunks(n: int) -> Iterator[slice]:
    for start in range(0, n, _CHUNK):
        yield slice(start, min(start + _CHUNK, n))


def _interpolated_fpr95(
    u: np.ndarray, i_star: int, pos: Sequence[Multiset], neg: Sequence[Multiset], p: int, n: int
) -> float:
    """FPR linearly interpolated at TPR 0.95 on the full ROC curve, as ``np.interp`` on sklearn's curve.

    The crossing lies on the segment that ends at the first point reaching TPR >= 0.95 (threshold
    ``u[i_star]``); if that point has TPR exactly 0.95, ``np.interp`` returns the FPR at the end of
    the horizontal run that starts there (just above the next lower positive score).
    """
    t = u[i_star : i_star + 1]
    tp_a = p - int(_total(pos, "count_less", t)[0])
    c_a = int(_total(pos, "count_leq", t)[0]) - (p - tp_a)
    fp_a = n - int(_total(neg, "count_less", t)[0])
    fp_prev = n - int(_total(neg, "count_leq", t)[0])
    xs = [(tp_a - c_a) / p, tp_a / p]
    ys = [fp_prev / n, fp_a / n]
    if tp_a / p == _TPR_LEVEL:
        fp_end = n if i_star == 0 else n - int(_total(neg, "count_leq", u[i_star - 1 : i_star])[0])
        xs.append(tp_a / p)
        ys.append(fp_end / n)
    return float(np.interp(_TPR_LEVEL, xs, ys))


def exact_stats(pos: Sequence[Multiset], neg: Sequence[Multiset]) -> CurveStats:
    """Exact AP, AUROC, FPR@95TPR (first and interpolated) and best F1 of the pooled score sets.

    Args:
        pos: Multisets of anomaly (label 1) scores, float32.
        neg: Multisets of normal (label 0) scores, float32.

    Returns:
        The statistics; NaN where undefined (no positives or no negatives).

    Example:
        >>> import numpy as np
        >>> s = exact_stats([Multiset(np.array([0.4, 0.8], np.float32))], [Multiset(np.array([0.1, 0.5], np.float32))])
        >>> round(s.ap, 4), s.auroc, s.fpr95, s.best_f1
        (0.8333, 0.75, 0.5, 0.8)
    """
    p = sum(m.size for m in pos)
    n = sum(m.size for m in neg)
    if p == 0 or n == 0:
        nan = float("nan")
        return CurveStats(p, n, nan, nan, nan, nan, nan, nan, nan)
    u = _distinct_union(pos)
    ap_sum = 0.0
    auc2 = 0
    i_star = -1
    best_f1, best_i = -1.0, -1
    for sl in _chunks(len(u)):
        t = u[sl]
        less_p = _total(pos, "count_less", t)
        c = _total(pos, "count_leq", t) - less_p
        tp = p - less_p
        less_n = _total(neg, "count_less", t)
        leq_n = _total(neg, "count_leq", t)
        fp = n - less_n
        ap_sum += float(np.sum(c * (tp / (tp + fp))))
        auc2 += _dot_exact(c, less_n) + _dot_exact(c, leq_n)  # c * (2 #{neg < t} + #{neg == t}), exact
        reached = np.flatnonzero(tp / p >= _TPR_LEVEL)
        if len(reached):
            i_star = sl.start + int(reached[-1])
        f1 = 2 * tp / (tp + fp + p)
        top = float(f1.max())
        if top >= best_f1:
            best_f1, best_i = top, sl.start + int(np.flatnonzero(f1 == top)[-1])
    t_star = u[i_star : i_star + 1]
    fpr95 = (n - int(_total(neg, "count_less", t_star)[0])) / n
    return CurveStats(
        num_positives=p,
        num_negatives=n,
        ap=ap_sum / p,
        auroc=auc2 / (2 * p * n),
        fpr95=fpr95,
        fpr95_interpolated=_interpolated_fpr95(u, i_star, pos, neg, p, n),
        fpr95_threshold=float(u[i_star]),
        best_f1=best_f1,
        best_f1_threshold=float(u[best_i]),
    )


def _spread(values: np.ndarray, k: int) -> np.ndarray:
    if len(values) <= k:
        return values
    return values[np.linspace(0, len(values) - 1, k).round().astype(np.intp)]


def exact_curve_points(
    pos: Sequence[Multiset], neg: Sequence[Multiset], max_points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact curve points at up to about ``max_points`` thresholds spread over both classes.

    Every returned point lies on the exact curve (prediction = score >= threshold); the first is the
    (0, 0) start with threshold +inf.

    Args:
        pos: Anomaly score multisets.
        neg: Normal score multisets.
        max_points: Approximate number of points wanted (at least 4).

    Returns:
        ``(thresholds, tp, fp)``: descending float64 thresholds and int64 cumulative counts.
    """
    half = max(max_points // 2, 2)
    picks = [_spread(_distinct_union(pos), half)]
    per_set = max(half // max(len(neg), 1), 2)
    picks += [_spread(m.values, per_set) for m in neg]
    t = np.unique(np.concatenate(picks).astype(np.float32))[::-1]
    p = sum(m.size for m in pos)
    n = sum(m.size for m in neg)
    tp = p - _total(pos, "count_less", t)
    fp = n - _total(neg, "count_less", t)
    thresholds = np.concatenate([[np.inf], t.astype(np.float64)])
    return thresholds, np.concatenate([[0], tp]), np.concatenate([[0], fp])
