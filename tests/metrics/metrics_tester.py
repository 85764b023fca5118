"""``MetricTester``: the invariants every streaming metric must satisfy (house style point 4).

A subclass provides ``make()`` (a fresh metric), ``functional(preds, labels)`` (the functional
twin), ``frames()`` (a list of (preds, labels) batches) and ``assert_same(a, b)``. The tests check
that many ``update`` calls equal one functional call on everything (batch-split invariance), that
``merge`` of two halves equals one pass, that pickling mid-stream changes nothing, and that
``reset`` forgets.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np


class MetricTester:
    def make(self) -> Any:
        raise NotImplementedError

    def functional(self, preds: np.ndarray, labels: np.ndarray) -> Any:
        raise NotImplementedError

    def frames(self) -> list[tuple[np.ndarray, np.ndarray]]:
        raise NotImplementedError

    def assert_same(self, a: Any, b: Any) -> None:
        assert a == b

    def _stacked(self) -> tuple[np.ndarray, np.ndarray]:
        frames = self.frames()
        return np.concatenate([f[0] for f in frames]), np.concatenate([f[1] for f in frames])

    def test_batch_split_invariance(self) -> None:
        metric = self.make()
        for preds, labels in self.frames():
            metric.update(preds, labels)
        self.assert_same(metric.compute(), self.functional(*self._stacked()))

    def test_merge_invariance(self) -> None:
        frames = self.frames()
        half = len(frames) // 2
        a, b, whole = self.make(), self.make(), self.make()
        for i, (preds, labels) in enumerate(frames):
            (a if i < half else b).update(preds, labels)
            whole.update(preds, labels)
        self.assert_same(a.merge(b).compute(), whole.compute())

    def test_pickle_mid_stream(self) -> None:
        frames = self.frames()
        metric = self.make()
        metric.update(*frames[0])
        clone = pickle.loads(pickle.dumps(metric))
        for preds, labels in frames[1:]:
            metric.update(preds, labels)
            clone.update(preds, labels)
        self.assert_same(clone.compute(), metric.compute())

    def test_reset(self) -> None:
        frames = self.frames()
        metric = self.make()
        metric.update(*frames[0])
        metric.reset()
        for preds, labels in frames:
            metric.update(preds, labels)
        self.assert_same(metric.compute(), self.functional(*self._stacked()))

    def test_compute_twice(self) -> None:
        metric = self.make()
        for preds, labels in self.frames():
            metric.update(preds, labels)
        first = metric.compute()
        self.assert_same(metric.compute(), first)


def assert_results_equal(a: Any, b: Any) -> None:
    """Field-by-field equality of two result dataclasses with ``to_dict``, NaN equal to NaN."""
    for key, va in a.to_dict().items():
        vb = b.to_dict()[key]
        if isinstance(va, float) and math.isnan(va):
            assert math.isnan(vb), key
        else:
            assert va == vb, (key, va, vb)
