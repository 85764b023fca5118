"""Pixel metrics, ``fishyscapes`` protocol and the shared class API, against scikit-learn."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metrics_tester import MetricTester, assert_results_equal
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from oodforge.errors import ShapeError, UsageError, ValueCheckError
from oodforge.metrics import PixelMetrics, PixelResult, pixel_curves, pixel_metrics


def sklearn_reference(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Fishyscapes numbers from scikit-learn on the valid (0/1) pixels, scores as float32."""
    valid = (labels == 0) | (labels == 1)
    y = (labels[valid] == 1).astype(np.int64)
    s = scores[valid].astype(np.float32)
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    j = int(np.flatnonzero(tpr >= 0.95)[0])
    fpr_d, tpr_d, _ = roc_curve(y, s)  # drop_intermediate=True, as popular repos call it
    prec, rec, pr_thr = precision_recall_curve(y, s)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * prec * rec / (prec + rec)
    f1 = np.nan_to_num(f1[:-1])
    best = int(np.flatnonzero(f1 == f1.max())[-1])  # pr_thr ascending: last max = highest threshold
    return {
        "ap": average_precision_score(y, s),
        "auroc": roc_auc_score(y, s),
        "fpr95": float(fpr[j]),
        "fpr95_threshold": float(thr[j]),
        "fpr95_interpolated": float(np.interp(0.95, tpr_d, fpr_d)),
        "best_f1": float(f1[best]),
        "best_f1_threshold": float(pr_thr[best]),
    }


def make_case(kind: str, rng: np.random.Generator, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    labels = (rng.random(n) < 0.1).astype(np.uint8)
    if kind == "continuous":
        scores = rng.standard_normal(n) + 1.5 * labels
    elif kind == "ties":
        scores = rng.integers(0, 12, n) / 7.0 + labels * rng.integers(0, 3, n)
    elif kind == "saturated16":
        scores = np.clip(rng.random(n) + 0.6 * labels, 0, 1).astype(np.float16)
        scores[rng.random(n) < 0.2] = 1.0
    elif kind == "few_positives":
        labels = np.zeros(n, np.uint8)
        labels[rng.choice(n, 3, replace=False)] = 1
        scores = rng.random(n)
    elif kind == "one_negative":
        labels = np.ones(n, np.uint8)
        labels[5] = 0
        scores = rng.random(n)
    elif kind == "void":
        labels = rng.choice(np.array([0, 1, 255, 7], np.uint8), n, p=[0.6, 0.1, 0.25, 0.05])
        scores = rng.random(n).astype(np.float32) + 0.3 * (labels == 1)
    else:  # "tiny"
        labels = np.array([0, 1], np.uint8)
        scores = np.array([0.5, 0.5])
    return scores.astype(scores.dtype if scores.dtype == np.float16 else np.float32), labels


KINDS = ["continuous", "ties", "saturated16", "few_positives", "one_negative", "void", "tiny"]


@pytest.mark.parametrize("kind", KINDS)
def test_fishyscapes_matches_sklearn(kind: str, rng: np.random.Generator) -> None:
    scores, labels = make_case(kind, rng)
    ref = sklearn_reference(scores, labels)
    r = pixel_metrics(scores, labels)
    assert r.ap == pytest.approx(ref["ap"], abs=1e-12)
    assert r.auroc == pytest.approx(ref["auroc"], abs=1e-12)
    assert r.fpr95 == ref["fpr95"]
    assert r.fpr95_threshold == ref["fpr95_threshold"]
    assert r.best_f1 == pytest.approx(ref["best_f1"], abs=1e-12)
    assert r.best_f1_threshold == ref["best_f1_threshold"]
    interp = pixel_metrics(scores, labels, fpr_mode="interpolated")
    assert interp.fpr95 == pytest.approx(ref["fpr95_interpolated"], abs=1e-12)
    assert interp.fpr_mode == "interpolated"


def test_interpolated_on_horizontal_run_at_095() -> None:
    # 20 positives: TPR is exactly 0.95 after 19 of them, then a run of negatives before the last one
    scores = np.r_[np.arange(19) + 100.0, [50.0, 40.0, 30.0], [10.0], [60.0, 5.0]].astype(np.float32)
    labels = np.r_[np.ones(19), [0, 0, 0], [1], [0, 0]].astype(np.uint8)
    ref = sklearn_reference(scores, labels)
    assert pixel_metrics(scores, labels, fpr_mode="interpolated").fpr95 == pytest.approx(ref["fpr95_interpolated"])
    assert pixel_metrics(scores, labels).fpr95 == ref["fpr95"] == 0.0


def test_hand_computed() -> None:
    r = pixel_metrics(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    # descending: 0.8 (+) P=1, 0.4 (-), 0.35 (+) P=2/3, 0.1 (-)
    assert r.ap == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert r.auroc == pytest.approx(0.75)
    assert (r.fpr95, r.fpr95_threshold) == (0.5, pytest.approx(0.35))
    assert (r.num_positives, r.num_negatives) == (2, 2)


def test_float16_histogram_path_equals_float32_path(rng: np.random.Generator) -> None:
    scores, labels = make_case("saturated16", rng)
    assert_results_equal(pixel_metrics(scores, labels), pixel_metrics(scores.astype(np.float32), labels))
    mixed = PixelMetrics()
    mixed.update(scores[:1000], labels[:1000])
    mixed.update(scores[1000:].astype(np.float32), labels[1000:])
    assert_results_equal(mixed.compute(), pixel_metrics(scores.astype(np.float32), labels))


@pytest.mark.parametrize("protocol", ["fishyscapes", "smiyc", "smiyc2021"])
def test_update_histogram_equals_update(protocol: str, rng: np.random.Generator) -> None:
    """Frames given as float16 key histograms build the same state as the frames themselves."""
    from oodforge.metrics._f16 import float16_keys, histogram_by_code

    by_pixels, by_hist = PixelMetrics(protocol), PixelMetrics(protocol)  # type: ignore[arg-type]
    for k in range(4):
        labels = (rng.random((16, 24)) < 0.2).astype(np.uint8)
        labels[rng.random((16, 24)) < 0.1] = 255
        scores = (rng.normal(size=(16, 24)) + labels * (k % 3)).astype(np.float16)
        scores[0, :3] = [-0.0, 0.0, 65504]
        by_pixels.update(scores[None], labels[None])
        by_hist.update_histogram(histogram_by_code(float16_keys(scores), np.minimum(labels, 2)))
    assert_results_equal(by_hist.compute(), by_pixels.compute())
    a, b = by_hist.curves(), by_pixels.curves()
    for field in ("thresholds", "tp", "fp"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field


def test_update_histogram_refuses_bad_counts() -> None:
    metric = PixelMetrics("smiyc")
    for bad in (np.zeros((2, 100), np.int64), -np.ones((2, 65536), np.int64), np.zeros((2, 65536))):
        with pytest.raises(ValueCheckError, match="key histogram"):
            metric.update_histogram(bad)
    nan = np.zeros((2, 65536), np.int64)
    nan[0, 0xFE00] = 1  # a NaN key
    with pytest.raises(ValueCheckError, match="NaN or inf"):
        metric.update_histogram(nan)


def test_state_is_bounded(rng: np.random.Generator) -> None:
    metric16, metric32 = PixelMetrics(), PixelMetrics()
    for _ in range(3):
        labels = rng.choice(np.array([0, 1, 255], np.uint8), (2, 32, 32))
        metric16.update(rng.random((2, 32, 32)).astype(np.float16), labels)
        metric32.update(rng.random((2, 32, 32)).astype(np.float32), labels)
    assert metric16.state_nbytes == 2 * 65536 * 8
    p, n = metric32.compute().num_positives, metric32.compute().num_negatives
    assert metric32.state_nbytes == 4 * (p + n)


def test_single_class(rng: np.random.Generator) -> None:
    scores, labels = rng.random(100), np.zeros(100, np.uint8)
    with pytest.raises(ValueCheckError, match="at least one anomaly"):
        pixel_metrics(scores, labels)
    r = pixel_metrics(scores, labels, single_class="nan")
    assert math.isnan(r.ap) and math.isnan(r.auroc) and (r.num_positives, r.num_negatives) == (0, 100)
    with pytest.raises(ValueCheckError):
        pixel_metrics(scores, np.ones(100, np.uint8))


@pytest.mark.parametrize(
    ("scores", "labels", "error", "match"),
    [
        (np.zeros((2, 3)), np.zeros((3, 2), np.uint8), ShapeError, "same shape"),
        (np.zeros(4), np.zeros(4, np.float32), ValueCheckError, "integer or bool dtype"),
        (np.array([0.1, np.nan, 0.3]), np.array([0, 1, 1]), ValueCheckError, "finite"),
        (np.array([0.1, np.inf, 0.3], np.float16), np.array([0, 1, 1]), ValueCheckError, "finite"),
        (np.array(["a", "b"]), np.array([0, 1]), ValueCheckError, "numeric"),
    ],
)
def test_bad_inputs(scores: np.ndarray, labels: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        pixel_metrics(scores, labels)


def test_bad_arguments() -> None:
    with pytest.raises(ValueCheckError, match="`protocol`"):
        PixelMetrics("fishyscape")  # type: ignore[arg-type]
    with pytest.raises(ValueCheckError, match="`fpr_mode`"):
        pixel_metrics(np.zeros(2), np.array([0, 1]), fpr_mode="closest")  # type: ignore[arg-type]
    with pytest.raises(ValueCheckError, match="protocol"):
        PixelMetrics("smiyc").merge(PixelMetrics())


@pytest.mark.parametrize("protocol", ["fishyscapes", "smiyc2021"])
def test_index0_quirk_needs_smiyc(protocol: str) -> None:
    msg = f"^Expected protocol 'smiyc' with `index0_quirk=True` .*, but got '{protocol}'$"
    with pytest.raises(UsageError, match=msg):
        PixelMetrics(protocol, index0_quirk=True)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=msg):
        pixel_metrics(np.zeros((1, 2)), np.array([[0, 1]]), protocol, index0_quirk=True)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=msg):
        pixel_curves(np.zeros((1, 2)), np.array([[0, 1]]), protocol, index0_quirk=True)  # type: ignore[arg-type]
    assert pixel_metrics(np.zeros((1, 2)), np.array([[0, 1]]), "smiyc", index0_quirk=True).auroc == 0.5


@pytest.mark.parametrize("protocol", ["fishyscapes", "smiyc"])
def test_torch_bfloat16_scores_are_read_as_float32(protocol: str, rng: np.random.Generator) -> None:
    torch = pytest.importorskip("torch")
    scores = torch.from_numpy(rng.random((2, 8, 8)).astype(np.float32)).to(torch.bfloat16)
    labels = (rng.random((2, 8, 8)) < 0.3).astype(np.uint8)
    r = pixel_metrics(scores, torch.from_numpy(labels), protocol)  # type: ignore[arg-type]
    assert r == pixel_metrics(scores.float().numpy(), labels, protocol)  # type: ignore[arg-type]
    with pytest.raises(ValueCheckError, match=r"^Expected `scores` to be a numeric array, but got torch\.float8"):
        pixel_metrics(scores.to(torch.float8_e4m3fn), labels)


def test_void_scores_may_be_nan() -> None:
    r = pixel_metrics(np.array([0.2, np.nan, 0.9]), np.array([0, 255, 1]))
    assert r.ap == 1.0


def test_array_like_inputs() -> None:
    class FakeTensor:  # duck-typed like a CPU torch tensor
        def __init__(self, a: np.ndarray) -> None:
            self.a = a

        def detach(self) -> FakeTensor:
            return self

        def cpu(self) -> FakeTensor:
            return self

        def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
            return self.a

    r = pixel_metrics(FakeTensor(np.array([0.1, 0.9])), [0, 1])
    assert r.ap == 1.0


def test_curves_lie_on_sklearn_curve(rng: np.random.Generator) -> None:
    scores, labels = make_case("ties", rng)
    curves = pixel_curves(scores, labels, max_points=40)
    fpr, tpr, thr = roc_curve(labels, scores, drop_intermediate=False)
    assert len(curves.thresholds) <= 45
    assert (curves.tpr[0], curves.fpr[0], curves.precision[0]) == (0.0, 0.0, 1.0)
    for t, a, b in zip(curves.thresholds[1:], curves.tpr[1:], curves.fpr[1:], strict=True):
        k = int(np.flatnonzero(thr == np.float32(t))[0])
        assert (a, b) == (tpr[k], fpr[k])
    metric = PixelMetrics()
    metric.update(scores, labels)
    np.testing.assert_array_equal(metric.curves(40).tp, curves.tp)


@settings(max_examples=30, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 30), st.booleans()), min_size=2, max_size=120),
    seed=st.integers(0, 2**32 - 1),
)
def test_permutation_and_monotone_invariance(data: list[tuple[int, bool]], seed: int) -> None:
    grid = np.array([d[0] for d in data], np.float32)
    labels = np.array([d[1] for d in data], np.uint8)
    if labels.min() == labels.max():
        labels[0] = 1 - labels[0]
    base = pixel_metrics(grid / 8, labels)
    perm = np.random.default_rng(seed).permutation(len(grid))
    assert_results_equal(pixel_metrics(grid[perm] / 8, labels[perm]), base)
    moved = pixel_metrics(3 * grid - 50, labels)  # strictly increasing, exact in float32
    assert (moved.ap, moved.auroc, moved.fpr95, moved.best_f1) == (base.ap, base.auroc, base.fpr95, base.best_f1)


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(2, 50), min_size=2, max_size=6),
    seed=st.integers(0, 2**32 - 1),
    half=st.booleans(),
)
def test_merge_of_random_splits_equals_one_pass(sizes: list[int], seed: int, half: bool) -> None:
    rng = np.random.default_rng(seed)
    chunks = [(rng.integers(0, 9, s) / 4, rng.choice(np.array([0, 1, 255], np.uint8), s)) for s in sizes]
    dtype = np.float16 if half else np.float32
    chunks[0][1][:2] = (0, 1)
    parts = [PixelMetrics() for _ in chunks]
    for m, (s, lab) in zip(parts, chunks, strict=True):
        m.update(s.astype(dtype), lab)
    merged = parts[0]
    for m in parts[1:]:
        merged.merge(m)
    whole = pixel_metrics(np.concatenate([c[0] for c in chunks]).astype(dtype), np.concatenate([c[1] for c in chunks]))
    assert_results_equal(merged.compute(), whole)


class TestFishyscapesTester(MetricTester):
    def make(self) -> PixelMetrics:
        return PixelMetrics("fishyscapes")

    def functional(self, preds: np.ndarray, labels: np.ndarray) -> PixelResult:
        return pixel_metrics(preds, labels, "fishyscapes")

    def frames(self) -> list[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(7)
        out = []
        for _ in range(5):
            labels = rng.choice(np.array([0, 1, 255], np.uint8), (2, 16, 24), p=[0.8, 0.1, 0.1])
            out.append(((rng.random((2, 16, 24)) + 0.5 * labels).astype(np.float32), labels))
        return out

    def assert_same(self, a: PixelResult, b: PixelResult) -> None:
        assert_results_equal(a, b)


def test_result_pickles_and_serialises() -> None:
    r = pixel_metrics(np.array([0.1, 0.9]), np.array([0, 1]))
    assert pickle.loads(pickle.dumps(r)) == r
    assert r.to_dict()["protocol"] == "fishyscapes"
