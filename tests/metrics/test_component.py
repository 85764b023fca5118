"""SMIYC component metrics: hand-made frames and the literal official loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metrics_component_ref import reference_split
from metrics_tester import MetricTester

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.metrics import SIOU_THRESHOLDS, ComponentMetrics, ComponentResult, component_metrics
from oodforge.metrics._components import frame_components


def frame(h: int = 60, w: int = 60) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((h, w), np.uint8), np.zeros((h, w), bool)


def stats(pred: np.ndarray, labels: np.ndarray, min_pred: int = 0, min_gt: int = 0):
    return frame_components(pred, labels == 1, labels <= 1, min_pred, min_gt)


def test_thresholds_are_the_official_linspace() -> None:
    assert SIOU_THRESHOLDS[7] == 0.6000000000000001
    assert len(SIOU_THRESHOLDS) == 11


def test_perfect_prediction() -> None:
    labels, pred = frame()
    labels[10:20, 10:20] = 1
    pred[10:20, 10:20] = True
    r = component_metrics(pred, labels)
    assert (r.siou_gt, r.ppv, r.f1_mean, r.num_gt, r.num_pred) == (1.0, 1.0, 1.0, 1, 1)


def test_adjusted_iou_ignores_other_gt_components() -> None:
    labels, pred = frame()
    labels[10:20, 10:20] = 1  # k1: 100 px
    labels[10:20, 30:40] = 1  # k2: 100 px
    pred[10:20, 10:40] = True  # one predicted blob over both (300 px)
    fc = stats(pred, labels)
    # |k n K^| = 100, |K^| = 300, |A(k)| = 100 (the other GT): 100 / (300 + 100 - 100 - 100)
    np.testing.assert_array_equal(fc.siou_gt, [0.5, 0.5])
    np.testing.assert_array_equal(fc.ppv, [200 / 300])
    np.testing.assert_array_equal(fc.siou_pred, [200 / 300])  # K = both GT: 200 / (200 + 300 - 200 - 0)


def test_eight_connectivity_merges_diagonal_pixels() -> None:
    labels, pred = frame(10, 10)
    labels[2, 2] = labels[3, 3] = 1
    pred[5, 5] = pred[6, 6] = True
    fc = stats(pred, labels)
    assert len(fc.siou_gt) == 1 and len(fc.ppv) == 1


def test_size_filters_and_void() -> None:
    labels, pred = frame()
    labels[5:8, 5:8] = 1  # 9 px GT: below 10 -> void
    pred[4:12, 4:12] = True  # 64 px pred, loses the 9 void px -> 55 in ROI, PPV 0
    labels[30:40, 30:40] = 1  # 100 px GT, missed
    pred[50:55, 50:55] = True  # 25 px pred: below 50 -> deleted
    labels[0:3, 40:60] = 255
    pred[0:3, 40:60] = True  # void pixels are not predictions
    r = component_metrics(pred, labels, "obstacle")
    assert (r.num_gt, r.num_pred) == (1, 1)
    assert (r.siou_gt, r.ppv) == (0.0, 0.0)
    assert (r.tp[0], r.fn[0], r.fp[0]) == (0, 1, 1)
    anomaly = component_metrics(pred, labels, "anomaly")  # 500 / 100 px filters
    assert (anomaly.num_gt, anomaly.num_pred) == (1, 0)
    assert math.isnan(anomaly.ppv) and anomaly.f1_mean == 0.0


def test_background_below_min_gt_size_becomes_void() -> None:
    labels, pred = frame(10, 10)
    labels[:, :] = 1
    labels[0, :5] = 0  # background: 5 px < 10 -> void, as in the official loop over ids 0..n
    pred[0, :5] = True
    pred[5:, :] = True
    fc = stats(pred, labels, min_pred=0, min_gt=10)
    np.testing.assert_array_equal(fc.ppv, [1.0])  # the 5 background pixels left the ROI


def test_no_components_is_nan() -> None:
    labels, pred = frame()
    r = component_metrics(pred, labels)
    assert math.isnan(r.siou_gt) and math.isnan(r.ppv) and math.isnan(r.f1_mean)
    assert r.tp == (0,) * 11


def test_matches_literal_reference(rng: np.random.Generator) -> None:
    for trial in range(12):
        b, h, w = 2, *rng.integers(10, 40, 2)
        labels = np.zeros((b, h, w), np.uint8)
        pred = np.zeros((b, h, w), bool)
        for i in range(b):
            for target, value in ((labels, 1), (pred, True)):
                for _ in range(rng.integers(0, 6)):
                    y, x = rng.integers(0, h), rng.integers(0, w)
                    dy, dx = rng.integers(1, 12, 2)
                    target[i, y : y + dy, x : x + dx] = value
            pred[i] ^= rng.random((h, w)) < 0.05
            labels[i][rng.random((h, w)) < 0.05] = 255
        min_pred, min_gt = [(50, 10), (4, 3), (0, 0)][trial % 3]
        r = component_metrics(pred, labels, min_pred_size=min_pred, min_gt_size=min_gt)
        ref = reference_split(list(pred), list(labels), min_pred, min_gt)
        for key in ("siou_gt", "ppv", "siou_pred", "f1_mean"):
            a, e = getattr(r, key), ref[key]
            assert (math.isnan(a) and math.isnan(e)) or a == pytest.approx(e, abs=1e-12), key
        assert (list(r.tp), list(r.fn), list(r.fp)) == (ref["tp"], ref["fn"], ref["fp"])


def test_threshold_is_strict_and_float16_compat() -> None:
    labels, _ = frame(20, 20)
    labels[5:15, 5:15] = 1
    scores = np.zeros((20, 20), np.float16)
    scores[5:15, 5:15] = np.float16(0.10003662109375)  # float16 nearest to 0.10003
    assert component_metrics(scores, labels, threshold=0.10003662109375).num_pred == 0  # strict >
    assert component_metrics(scores, labels, threshold=0.10003).num_pred == 0  # rounded up to the score
    assert component_metrics(scores, labels, threshold=0.10003, threshold_dtype="float64").num_pred == 1
    neg = component_metrics(-scores, labels, threshold=-0.5)  # negative threshold: float path
    assert neg.num_pred == 1


def test_bad_inputs() -> None:
    labels, pred = frame()
    with pytest.raises(ValueCheckError, match="`threshold`"):
        component_metrics(pred.astype(np.float32), labels)
    with pytest.raises(ShapeError):
        component_metrics(pred[:10], labels)
    with pytest.raises(ValueCheckError, match="`track`"):
        ComponentMetrics("road")  # type: ignore[arg-type]
    with pytest.raises(ValueCheckError):
        ComponentMetrics().merge(ComponentMetrics("anomaly"))


def test_nan_scores_and_nan_threshold_are_refused() -> None:
    labels, pred = frame()
    labels[10:20, 10:20] = 1
    scores = pred.astype(np.float32)
    scores[12, 12] = np.nan
    with pytest.raises(ValueCheckError, match=r"^Expected no NaN in `predictions` on valid pixels, but got 1 NaN"):
        component_metrics(scores, labels, threshold=0.5)
    with pytest.raises(ValueCheckError, match=r"^Expected no NaN in `predictions`"):
        ComponentMetrics(threshold=0.5).update(scores.astype(np.float16), labels)
    labels[12, 12] = 255  # NaN on a void pixel is ignored, like the pixel metrics do
    assert component_metrics(scores, labels, threshold=0.5).num_gt == 1
    with pytest.raises(ValueCheckError, match=r"^Expected `threshold` to be a number, but got nan$"):
        ComponentMetrics(threshold=float("nan"))
    with pytest.raises(ValueCheckError, match="`threshold`"):
        component_metrics(scores, labels, threshold=np.float16("nan"))  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [(0, 0), (1, 0, 0), (2, 0, 5), (2, 5, 0)])
def test_empty_frames_add_nothing(shape: tuple[int, ...]) -> None:
    labels, pred = frame(20, 20)
    labels[5:15, 5:15] = 1
    pred[5:15, 5:15] = True
    metric = ComponentMetrics(threshold=0.5)
    metric.update(np.zeros(shape, np.float32), np.zeros(shape, np.uint8))
    metric.update(pred.astype(np.float32), labels)
    metric.update(np.zeros(shape, bool), np.zeros(shape, np.uint8))
    assert metric.compute() == component_metrics(pred, labels)
    assert component_metrics(np.zeros(shape, np.float32), np.zeros(shape, np.uint8), threshold=0.5).num_gt == 0
    no_roi = np.full((20, 20), 255, np.uint8)
    assert component_metrics(pred, no_roi).num_pred == 0


def test_torch_bfloat16_scores_are_read_as_float32() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    labels = np.zeros((2, 40, 40), np.uint8)
    labels[:, 5:20, 5:20] = 1
    scores = rng.random((2, 40, 40)).astype(np.float32) * 0.4
    scores[:, 6:21, 5:20] = 0.9
    bf16 = torch.from_numpy(scores).to(torch.bfloat16)
    r = component_metrics(bf16, torch.from_numpy(labels), threshold=0.5)
    assert r == component_metrics(bf16.float().numpy(), labels, threshold=0.5) and r.num_gt == 2


class TestComponentTester(MetricTester):
    def make(self) -> ComponentMetrics:
        return ComponentMetrics("obstacle", threshold=0.5)

    def functional(self, preds: np.ndarray, labels: np.ndarray) -> ComponentResult:
        return component_metrics(preds, labels, "obstacle", threshold=0.5)

    def frames(self) -> list[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(5)
        out = []
        for _ in range(4):
            labels = np.zeros((2, 64, 64), np.uint8)
            scores = rng.random((2, 64, 64)).astype(np.float32) * 0.4
            for i in range(2):
                for _ in range(4):
                    y, x = rng.integers(0, 50, 2)
                    labels[i, y : y + 10, x : x + 12] = 1
                    scores[i, y + 2 : y + 12, x : x + 12] = 0.9
            out.append((scores, labels))
        return out

    def assert_same(self, a: ComponentResult, b: ComponentResult) -> None:
        # merge re-associates the float sums: equal to the last bits
        for key, va in a.to_dict().items():
            assert va == pytest.approx(b.to_dict()[key], rel=1e-12), key


def test_shared_truth_equals_update_and_the_reference(rng: np.random.Generator) -> None:
    """`truth` once per frame + `update_masks` per prediction == `update` per (prediction, frame) == reference."""
    for trial in range(12):
        h, w = rng.integers(10, 40, 2)
        labels = np.zeros((h, w), np.uint8)
        for _ in range(rng.integers(0, 6)):
            y, x = rng.integers(0, h), rng.integers(0, w)
            labels[y : y + rng.integers(1, 12), x : x + rng.integers(1, 12)] = 1
        labels[rng.random((h, w)) < 0.05] = 255
        sizes = [(50, 10), (4, 3), (0, 0)][trial % 3]
        truth = ComponentMetrics.truth(labels)
        shared = ComponentMetrics(min_pred_size=sizes[0], min_gt_size=sizes[1], threshold=0.5)
        one_by_one = ComponentMetrics(min_pred_size=sizes[0], min_gt_size=sizes[1], threshold=0.5)
        preds = []
        for _ in range(3):  # several predictions against one truth, as `oodforge benchmark` does per row
            scores = (rng.random((h, w)) < 0.3).astype(np.float16) + rng.random((h, w)).astype(np.float16) * 0.2
            shared.update_masks(shared.predict(scores), truth)
            one_by_one.update(scores, labels)
            preds.append(scores > np.float16(0.5))
        assert repr(shared.compute()) == repr(one_by_one.compute())  # NaN-aware: every field, NaN as 'nan'
        ref = reference_split(preds, [labels] * 3, *sizes)
        assert (list(shared.compute().tp), list(shared.compute().fp)) == (ref["tp"], ref["fp"])


def test_update_masks_refuses_a_wrong_mask() -> None:
    labels, _ = frame(8, 8)
    metric = ComponentMetrics()
    with pytest.raises(ValueCheckError, match="bool mask of shape"):
        metric.update_masks(np.zeros((8, 8), np.float32), metric.truth(labels))
    with pytest.raises(ValueCheckError, match="bool mask of shape"):
        metric.update_masks(np.zeros((4, 8), bool), metric.truth(labels))
    with pytest.raises(ValueCheckError, match="threshold"):
        metric.predict(np.zeros((8, 8), np.float16))
    with pytest.raises(ValueCheckError, match=r"\(H, W\) labels"):
        metric.truth(np.zeros((1, 8, 8), np.uint8))
