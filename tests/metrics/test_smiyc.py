"""``smiyc`` / ``smiyc2021`` protocols against a literal transcription of the official algorithm."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from metrics_smiyc_ref import reference_frame, reference_metrics
from metrics_tester import MetricTester, assert_results_equal
from sklearn.metrics import average_precision_score, roc_auc_score

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.metrics import PixelMetrics, PixelResult, pixel_curves, pixel_metrics
from oodforge.metrics._f16 import float16_keys, histogram_by_code
from oodforge.metrics.smiyc import bins_from_histogram, quantiles_from_histogram

FIELDS = ("ap", "auroc", "fpr95", "fpr95_threshold", "best_f1", "best_f1_threshold")


def make_frames(kind: str, rng: np.random.Generator, b: int = 6, h: int = 24, w: int = 32):
    labels = (rng.random((b, h, w)) < rng.uniform(0.02, 0.2, (b, 1, 1))).astype(np.uint8)
    labels[rng.random((b, h, w)) < 0.1] = 255
    if kind == "saturated":  # many frames share the top score 1.0 (the index-0 quirk case)
        scores = np.clip(rng.standard_normal((b, h, w)) * 0.3 + 0.5 + 0.6 * (labels == 1), 0, 1)
    elif kind == "ties":
        scores = rng.integers(0, 6, (b, h, w)) / 5
    elif kind == "wide":  # raw logits, outside [0, 1]
        scores = rng.standard_normal((b, h, w)) * 4 + 2 * (labels == 1)
    elif kind == "all_normal_frames":
        scores = rng.random((b, h, w))
        labels[1:4][labels[1:4] == 1] = 0
        labels[4] = 255  # a frame without ROI
    else:  # "continuous"
        scores = 1 / (1 + np.exp(-(rng.standard_normal((b, h, w)) + 2 * (labels == 1))))
    return scores.astype(np.float16), labels


KINDS = ["continuous", "saturated", "ties", "wide", "all_normal_frames"]


@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(
        np.float16,
        st.integers(1, 3000),
        elements=st.floats(-65504, 65504, allow_nan=False, allow_infinity=False, width=16),
    ),
    levels=st.integers(1, 500),
)
def test_quantiles_bit_exact(x: np.ndarray, levels: int) -> None:
    counts = histogram_by_code(float16_keys(x), np.zeros(x.shape, np.uint8))[0]
    ours = quantiles_from_histogram(counts, levels)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = np.quantile(x, np.linspace(0, 1, min(levels, x.size)))
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("rule", ["2023", "2021"])
@pytest.mark.parametrize("kind", KINDS)
def test_frame_bins_match_np_histogram(kind: str, rule: str, rng: np.random.Generator) -> None:
    scores, labels = make_frames(kind, rng)
    codes = np.minimum(labels, 2)
    for s, lab, c in zip(scores, labels, codes, strict=True):
        ref = reference_frame(s, lab, rule)
        hist = histogram_by_code(float16_keys(s), c)
        if ref is None:
            assert not hist.any()
            continue
        ours = bins_from_histogram(hist, rule)
        np.testing.assert_array_equal(ours.thresholds, ref[0])
        np.testing.assert_array_equal(ours.tp, ref[1])
        np.testing.assert_array_equal(ours.fp, ref[2])
        assert (ours.num_positives, ours.num_negatives) == ref[3:]


@pytest.mark.parametrize(
    ("protocol", "rule", "quirk"), [("smiyc", "2023", False), ("smiyc", "2023", True), ("smiyc2021", "2021", False)]
)
@pytest.mark.parametrize("kind", KINDS)
def test_protocol_matches_reference(kind: str, protocol: str, rule: str, quirk: bool, rng: np.random.Generator) -> None:
    scores, labels = make_frames(kind, rng)
    ref = reference_metrics(list(scores), list(labels), rule, keep_index0=quirk)
    r = pixel_metrics(scores, labels, protocol, index0_quirk=quirk)  # type: ignore[arg-type]
    for key in FIELDS:
        assert getattr(r, key) == pytest.approx(ref[key], rel=1e-12, abs=1e-15), key
    ri = pixel_metrics(scores, labels, protocol, fpr_mode="interpolated", index0_quirk=quirk)  # type: ignore[arg-type]
    assert ri.fpr95 == pytest.approx(ref["fpr95_interpolated"], rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_closed_form_is_exact_metric_of_floored_scores(kind: str, rng: np.random.Generator) -> None:
    scores, labels = make_frames(kind, rng)
    floored, ys = [], []
    for s, lab in zip(scores, labels, strict=True):
        frame = reference_frame(s, lab, "2023")
        if frame is None:
            continue
        edges = frame[0][::-1]  # ascending lower edges
        roi = lab < 255
        v = s[roi].astype(np.float64)
        floored.append(edges[np.searchsorted(edges, v, side="right") - 1])
        ys.append(lab[roi] == 1)
    q, y = np.concatenate(floored), np.concatenate(ys)
    r = pixel_metrics(scores, labels, "smiyc")
    assert r.ap == pytest.approx(average_precision_score(y, q), abs=1e-10)
    assert r.auroc == pytest.approx(roc_auc_score(y, q), abs=1e-10)


def test_quirk_only_matters_for_shared_top_threshold(rng: np.random.Generator) -> None:
    scores, labels = make_frames("continuous", rng)
    scores[:, 0, 0] = np.arange(len(scores)) / 100 + 0.9  # distinct frame maxima: no tie at the top
    assert_results_equal(
        pixel_metrics(scores, labels, "smiyc", index0_quirk=True), pixel_metrics(scores, labels, "smiyc")
    )
    sat, sat_labels = make_frames("saturated", rng, b=12)
    assert pixel_metrics(sat, sat_labels, "smiyc", index0_quirk=True).ap != pixel_metrics(sat, sat_labels, "smiyc").ap


def test_float32_scores_are_cast_to_float16(rng: np.random.Generator) -> None:
    scores, labels = make_frames("continuous", rng)
    wide = scores.astype(np.float32) + rng.random(scores.shape).astype(np.float32) * 1e-5
    assert_results_equal(pixel_metrics(wide, labels, "smiyc"), pixel_metrics(wide.astype(np.float16), labels, "smiyc"))
    with pytest.raises(ValueCheckError, match=r"^scores up to 1\.0e\+05 exceed float16's maximum 65504; the smiyc"):
        pixel_metrics(np.full((4, 4), 1e5, np.float32), np.eye(4, dtype=np.uint8), "smiyc")


def test_smiyc_needs_frames() -> None:
    with pytest.raises(ShapeError, match=r"\(H, W\) or \(B, H, W\)"):
        pixel_metrics(np.zeros(4), np.array([0, 1, 0, 1]), "smiyc")


def test_2021_counts_scores_outside_0_1() -> None:
    # the quantiles at levels 0 and 1 are the extremes, so no pixel falls outside the edges
    scores = np.array([[0.9, 2.0, 3.0, -0.5]])
    r = pixel_metrics(scores, np.array([[1, 1, 1, 0]]), "smiyc2021")
    assert (r.fpr95, r.auroc) == (0.0, 1.0)


def test_state_is_per_frame_bins(rng: np.random.Generator) -> None:
    scores, labels = make_frames("continuous", rng, b=3, h=200, w=200)
    metric = PixelMetrics("smiyc")
    metric.update(scores, labels)
    assert metric.state_nbytes <= 3 * 769 * 24


def test_single_class_nan(rng: np.random.Generator) -> None:
    scores, labels = make_frames("continuous", rng)
    labels[labels == 1] = 0
    r = pixel_metrics(scores, labels, "smiyc", single_class="nan")
    assert math.isnan(r.ap) and r.num_positives == 0


def test_curves_are_subsampled_official_points(rng: np.random.Generator) -> None:
    scores, labels = make_frames("continuous", rng)
    full = pixel_curves(scores, labels, "smiyc", max_points=10**6)
    small = pixel_curves(scores, labels, "smiyc", max_points=50)
    assert len(small.thresholds) <= 50
    assert (small.tp[0], small.fp[0], small.tp[-1]) == (0.0, 0.0, full.tp[-1])
    assert np.isin(small.thresholds, full.thresholds).all()
    steps = np.diff(full.recall) * full.precision[1:]
    assert pixel_metrics(scores, labels, "smiyc").ap == pytest.approx(float(np.sum(steps)), rel=1e-12)


class _BinnedTester(MetricTester):
    protocol = "smiyc"
    quirk = False

    def make(self) -> PixelMetrics:
        return PixelMetrics(self.protocol, index0_quirk=self.quirk)  # type: ignore[arg-type]

    def functional(self, preds: np.ndarray, labels: np.ndarray) -> PixelResult:
        return pixel_metrics(preds, labels, self.protocol, index0_quirk=self.quirk)  # type: ignore[arg-type]

    def frames(self) -> list[tuple[np.ndarray, np.ndarray]]:
        scores, labels = make_frames("saturated", np.random.default_rng(3), b=8)
        return [(scores[i : i + 2], labels[i : i + 2]) for i in range(0, 8, 2)]

    def assert_same(self, a: PixelResult, b: PixelResult) -> None:
        assert_results_equal(a, b)


class TestSmiycTester(_BinnedTester):
    pass


class TestSmiycQuirkTester(_BinnedTester):
    quirk = True


class TestSmiyc2021Tester(_BinnedTester):
    protocol = "smiyc2021"


def test_constant_frame_beyond_float16_eps_resolution() -> None:
    # |score| > 32: vmin - eps and vmax + eps would round back to the score in float16 (numpy >= 2);
    # the official code under numpy 1.23 keeps the float64 margin: bins [39.99, 40), [40, 40.01]
    scores = np.full((2, 4, 4), 40.0, np.float16)
    scores[1] = 0.5
    labels = np.zeros((2, 4, 4), np.uint8)
    labels[:, 0, 0] = 1
    r = pixel_metrics(scores, labels, "smiyc")
    exact = pixel_metrics(scores, labels, "fishyscapes")
    assert (r.ap, r.auroc, r.fpr95) == (exact.ap, exact.auroc, exact.fpr95)
