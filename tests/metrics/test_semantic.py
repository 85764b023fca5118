"""Streaming confusion matrix, IoU and accuracy against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metrics_tester import MetricTester
from sklearn.metrics import confusion_matrix, jaccard_score

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.metrics import SemanticMetrics, SemanticResult, semantic_metrics


def test_matches_sklearn(rng: np.random.Generator) -> None:
    k = 7
    target = rng.integers(0, k, (3, 20, 30)).astype(np.uint8)
    preds = np.where(rng.random(target.shape) < 0.7, target, rng.integers(0, k, target.shape))
    target[rng.random(target.shape) < 0.1] = 255
    r = semantic_metrics(preds, target, k)
    keep = target != 255
    ref = confusion_matrix(target[keep], preds[keep], labels=list(range(k)))
    np.testing.assert_array_equal(r.confusion, ref)
    np.testing.assert_allclose(r.iou, jaccard_score(target[keep], preds[keep], average=None, labels=list(range(k))))
    assert r.pixel_accuracy == pytest.approx(np.mean(target[keep] == preds[keep]))


def test_absent_class_is_nan_and_left_out_of_miou() -> None:
    r = semantic_metrics(np.array([0, 1, 1]), np.array([0, 1, 0]), 3)
    assert math.isnan(r.iou[2])
    assert r.miou == pytest.approx((0.5 + 0.5) / 2)


def test_ignore_none_counts_everything() -> None:
    with pytest.raises(ValueCheckError, match="class ids in"):
        semantic_metrics(np.array([0, 1]), np.array([0, 255]), 2, ignore_index=None)
    r = semantic_metrics(np.array([0, 1]), np.array([0, 1]), 2, ignore_index=None)
    assert r.pixel_accuracy == 1.0


@pytest.mark.parametrize(
    ("preds", "target", "error", "match"),
    [
        (np.array([0, 5]), np.array([0, 1]), ValueCheckError, "`preds` class ids"),
        (np.array([0, 1]), np.array([0, -1]), ValueCheckError, "`target` class ids"),
        (np.array([0.0, 1.0]), np.array([0, 1]), ValueCheckError, "integer class ids"),
        (np.array([0, 1, 1]), np.array([0, 1]), ShapeError, "same shape"),
    ],
)
def test_bad_inputs(preds: np.ndarray, target: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        semantic_metrics(preds, target, 3)


def test_bad_arguments() -> None:
    with pytest.raises(ValueCheckError, match="num_classes"):
        SemanticMetrics(0)
    with pytest.raises(ValueCheckError, match="ignore_index"):
        SemanticMetrics(3, ignore_index=2)
    with pytest.raises(ValueCheckError):
        SemanticMetrics(3).merge(SemanticMetrics(4))


def test_empty_is_nan() -> None:
    r = SemanticMetrics(2).compute()
    assert math.isnan(r.miou) and math.isnan(r.pixel_accuracy)
    assert r.to_dict()["confusion"] == [[0, 0], [0, 0]]


class TestSemanticTester(MetricTester):
    def make(self) -> SemanticMetrics:
        return SemanticMetrics(5)

    def functional(self, preds: np.ndarray, labels: np.ndarray) -> SemanticResult:
        return semantic_metrics(preds, labels, 5)

    def frames(self) -> list[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(2)
        return [
            (rng.integers(0, 5, (2, 8, 8)), rng.choice(np.array([0, 1, 2, 3, 4, 255], np.uint8), (2, 8, 8)))
            for _ in range(4)
        ]

    def assert_same(self, a: SemanticResult, b: SemanticResult) -> None:
        np.testing.assert_array_equal(a.confusion, b.confusion)
        np.testing.assert_array_equal(a.iou, b.iou)
        assert (a.miou, a.pixel_accuracy) == (b.miou, b.pixel_accuracy)


def test_eval_classes_exclude_a_void_output() -> None:
    """A 19 + void model: mIoU over the 19 classes; a void prediction on a labelled pixel is a miss."""
    target = np.array([0, 0, 1, 1, 2, 2])
    preds = np.array([0, 3, 1, 1, 2, 3])  # class 3 = the void output
    full = semantic_metrics(preds, target, 4)
    res = semantic_metrics(preds, target, 4, eval_classes=3)
    assert np.isnan(full.iou[3]) is np.False_ and full.iou[3] == 0.0  # the void column drags the 4-class mean
    assert res.miou == pytest.approx(np.mean([0.5, 1.0, 0.5])) and full.miou == pytest.approx(0.5)
    assert res.pixel_accuracy == pytest.approx(4 / 6) and res.extra_prediction_share == pytest.approx(2 / 6)
    m = SemanticMetrics(4, eval_classes=3)
    m.update(preds, target)
    assert m.compute().miou == res.miou and res.to_dict()["eval_classes"] == 3
    with pytest.raises(ValueCheckError):
        SemanticMetrics(4, eval_classes=5)
