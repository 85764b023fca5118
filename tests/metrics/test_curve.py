"""Exact curve core: multisets, chunked accumulation, curve points."""

from __future__ import annotations

import math

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
