"""Exact curve core: multisets, chunked accumulation, curve points."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from oodforge.metrics import _curve
from oodforge.metrics._curve import Multiset, exact_curve_points, exact_stats


def test_multiset_counts_with_and_without_weights() -> None:
    plain = Multiset(np.array([0.1, 0.2, 0.2, 0.5], np.float32))
    weighted = Multiset.from_histogram(np.array([1, 0, 2, 1]), np.array([0.1, 0.15, 0.2, 0.5], np.float32))
    t = np.array([0.05, 0.2, 0.3, 0.5, 0.9], np.float32)
    for m in (plain, weighted):
        assert m.size == 4
        assert m.count_less(t).tolist() == [0, 1, 3, 3, 4]
        assert m.count_leq(t).tolist() == [0, 3, 3, 4, 4]
        np.testing.assert_array_equal(m.distinct(), np.array([0.1, 0.2, 0.5], np.float32))


def test_split_sources_equal_single_source(rng: np.random.Generator) -> None:
    s = (rng.integers(0, 50, 3000) / 16).astype(np.float32)
    y = rng.random(3000) < 0.3
    one = exact_stats([Multiset(np.sort(s[y]))], [Multiset(np.sort(s[~y]))])
    parts = exact_stats(
        [Multiset(np.sort(s[y][:100])), Multiset(np.sort(s[y][100:]))],
        [Multiset(np.sort(s[~y][:7])), Multiset(np.sort(s[~y][7:]))],
    )
    assert parts.ap == pytest.approx(one.ap, abs=1e-15)
    assert (parts.auroc, parts.fpr95, parts.best_f1_threshold) == (one.auroc, one.fpr95, one.best_f1_threshold)
    assert one.ap == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert one.auroc == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_chunked_accumulation_equals_one_chunk(monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator) -> None:
    s = rng.random(5000).astype(np.float32)
    y = rng.random(5000) < 0.4
    pos, neg = [Multiset(np.sort(s[y]))], [Multiset(np.sort(s[~y]))]
    whole = exact_stats(pos, neg)
    monkeypatch.setattr(_curve, "_CHUNK", 37)
    chunked = exact_stats(pos, neg)
    assert chunked.ap == pytest.approx(whole.ap, abs=1e-14)
    assert (chunked.auroc, chunked.fpr95, chunked.fpr95_threshold) == (whole.auroc, whole.fpr95, whole.fpr95_threshold)
    assert (chunked.best_f1, chunked.best_f1_threshold) == (whole.best_f1, whole.best_f1_threshold)
    assert chunked.fpr95_interpolated == whole.fpr95_interpolated


def test_empty_class_gives_nan() -> None:
    stats = exact_stats([Multiset(np.array([0.5], np.float32))], [])
    assert math.isnan(stats.ap) and (stats.num_positives, stats.num_negatives) == (1, 0)


def test_curve_points_start_at_origin_and_end_at_full() -> None:
    pos = [Multiset(np.array([0.4, 0.8], np.float32))]
    neg = [Multiset(np.array([0.1, 0.5], np.float32))]
    thr, tp, fp = exact_curve_points(pos, neg, 100)
    assert thr[0] == np.inf and (tp[0], fp[0]) == (0, 0)
    assert (tp[-1], fp[-1]) == (2, 2)
    assert (np.diff(thr) < 0).all()


def _exact_auroc(pos: dict[float, int], neg: dict[float, int]) -> Fraction:
    """AUROC from its definition, in exact rationals: P(pos > neg) + P(pos == neg) / 2."""
    wins = sum(cp * cn * (2 if vp > vn else 1 if vp == vn else 0) for vp, cp in pos.items() for vn, cn in neg.items())
    return Fraction(wins, 2 * sum(pos.values()) * sum(neg.values()))


def _histogram(counts: dict[float, int]) -> Multiset:
    values = np.array(sorted(counts), np.float32)
    return Multiset.from_histogram(np.array([counts[float(v)] for v in values], np.int64), values)


P31, N31 = 2**31 + 1, 2**31  # 2 P N = 2**63 + 2**32: just past int64


@pytest.mark.parametrize(
    ("pos", "neg"),
    [
        ({0.75: P31}, {0.125: N31}),  # perfect split: the AUROC sum is 2 P N itself
        ({0.25: 2**10, 0.75: P31 - 2**10}, {0.125: N31 - 2**10, 0.25: 2**10}),  # ties: sum 2 P N - 2**20
        ({0.25: 2**31, 0.5: 2**31 + 1, 0.75: 2**32}, {0.125: 2**32, 0.25: 2**31, 0.5: 2**30, 0.875: 2**30}),
    ],
)
def test_auroc_exact_where_2pn_passes_int64(pos: dict[float, int], neg: dict[float, int]) -> None:
    p, n = sum(pos.values()), sum(neg.values())
    expected = _exact_auroc(pos, neg)
    assert expected * 2 * p * n > 2**63  # the integer sum behind the AUROC no longer fits int64
    stats = exact_stats([_histogram(pos)], [_histogram(neg)])
    assert stats.auroc == float(expected)  # correctly rounded, not wrapped around
    assert (stats.num_positives, stats.num_negatives) == (p, n)


def test_huge_counts_give_the_same_stats_as_small_ones(rng: np.random.Generator) -> None:
    # multiplying every count by 2**31 changes no ratio, so every statistic must come out bit-identical
    s = (rng.integers(0, 40, 4000) / 8).astype(np.float32)
    y = rng.random(4000) < 0.3
    values = np.unique(s)
    pos_counts = np.array([np.count_nonzero(s[y] == v) for v in values], np.int64)
    neg_counts = np.array([np.count_nonzero(s[~y] == v) for v in values], np.int64)
    small = exact_stats([Multiset.from_histogram(pos_counts, values)], [Multiset.from_histogram(neg_counts, values)])
    big = exact_stats(
        [Multiset.from_histogram(pos_counts << 31, values)], [Multiset.from_histogram(neg_counts << 31, values)]
    )
    assert 2 * big.num_positives * big.num_negatives > 2**63
    assert small.auroc == pytest.approx(roc_auc_score(y, s), abs=1e-15)
    assert small.ap == pytest.approx(average_precision_score(y, s), abs=1e-15)
    for field in ("ap", "auroc", "fpr95", "fpr95_interpolated", "fpr95_threshold", "best_f1", "best_f1_threshold"):
        assert getattr(big, field) == getattr(small, field), field


def test_dot_exact_matches_python_integers(monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator) -> None:
    monkeypatch.setattr(_curve, "_LIMB_BLOCK", 7)  # several limb blocks
    for high in (2**10, 2**40, 2**63 - 1):
        a = rng.integers(0, high, 50, dtype=np.int64, endpoint=True)
        b = rng.integers(0, high, 50, dtype=np.int64, endpoint=True)
        assert _curve._dot_exact(a, b) == sum(int(x) * int(y) for x, y in zip(a, b, strict=True))
    top = np.full(3, 2**63 - 1, np.int64)
    assert _curve._dot_exact(top, top) == 3 * (2**63 - 1) ** 2
    assert _curve._dot_exact(np.empty(0, np.int64), np.empty(0, np.int64)) == 0
