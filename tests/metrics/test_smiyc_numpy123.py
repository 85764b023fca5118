"""``smiyc`` bin edges as the official code computes them under its pinned numpy 1.23.3.

The official lines ``eps = np.maximum((vmax - vmin) * 1e-2, 1e-2)`` and ``[vmin - eps, vmax + eps]``
run on float16 scalars: numpy 1.23 (value-based casting) takes the span in float16 and the margin in
float64, numpy >= 2 (NEP 50) keeps everything in float16. The reference emulates 1.23 explicitly.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from metrics_smiyc_ref import outer_edges_123, outer_edges_nep50, reference_frame, reference_metrics

from oodforge.errors import ValueCheckError
from oodforge.metrics import PixelMetrics, pixel_metrics
from oodforge.metrics._f16 import float16_keys, histogram_by_code
from oodforge.metrics.smiyc import bins_from_histogram, outer_edges_2023

FIELDS = ("ap", "auroc", "fpr95", "fpr95_threshold", "best_f1", "best_f1_threshold")


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no raw numpy overflow / invalid RuntimeWarning anywhere
        yield


def frame_bins(scores: np.ndarray, labels: np.ndarray):
    return bins_from_histogram(histogram_by_code(float16_keys(scores.astype(np.float16)), np.minimum(labels, 2)))


def assert_bins_equal_reference(scores: np.ndarray, labels: np.ndarray) -> None:
    ref = reference_frame(scores, labels)
    ours = frame_bins(scores, labels)
    np.testing.assert_array_equal(ours.thresholds, ref[0])
    np.testing.assert_array_equal(ours.tp, ref[1])
    np.testing.assert_array_equal(ours.fp, ref[2])


def assert_metrics_equal_reference(scores: np.ndarray, labels: np.ndarray) -> None:
    ref = reference_metrics(list(scores), list(labels))
    r = pixel_metrics(scores, labels, "smiyc")
    for key in FIELDS:
        assert getattr(r, key) == pytest.approx(ref[key], rel=1e-12, abs=1e-15), key


def tiny_case() -> tuple[np.ndarray, np.ndarray]:
    """A constant frame at 40, a frame in [40, 40.5], a frame from -20 to 65504, a frame in [0, 1]."""
    i, j = np.mgrid[0:4, 0:6]
    labels = np.stack([((i * 7 + j * 3 + k) % 4 == 0).astype(np.uint8) for k in range(4)])
    labels[:, 3, 5] = 255
    scores = np.empty((4, 4, 6))
    scores[0] = 40.0
    scores[1] = 40 + ((i + j) % 5) * 0.125
    scores[2] = np.where((i + j) % 3 == 0, 65504.0, -20.0 + i * j)
    scores[3] = (i * 6 + j) / 23
    return scores.astype(np.float16), labels


def test_numbers_of_the_official_code_run_with_numpy_1_23_3() -> None:
    # printed by the literal official per-frame + pooled code in a numpy 1.23.3 environment; the same
    # code under numpy 2.4 gives ap 0.28527969246111173, auroc 0.5289855072463768, fpr95_threshold inf
    official = {
        "ap": 0.27161210233904953,
        "auroc": 0.49716446124763713,
        "fpr95": 1.0,
        "fpr95_threshold": -20.0,
        "best_f1": 0.41379310344827586,
        "best_f1_threshold": 0.5654296875,
    }
    scores, labels = tiny_case()
    r = pixel_metrics(scores, labels, "smiyc")
    for key, value in official.items():
        assert getattr(r, key) == pytest.approx(value, rel=1e-15, abs=1e-16), key
    const = frame_bins(scores[0], labels[0])  # numpy 1.23.3: [40.0, 39.99] [5, 0] [18, 0]
    assert (const.thresholds.tolist(), const.tp.tolist(), const.fp.tolist()) == ([40.0, 39.99], [5, 0], [18, 0])
    narrow = frame_bins(scores[1], labels[1])  # numpy 1.23.3 keeps the top bin [40.5, 40.51]
    assert narrow.thresholds.tolist() == [40.5, 40.375, 40.25, 40.125, 40.0, 39.99]
    assert (narrow.tp.tolist(), narrow.fp.tolist()) == ([0, 0, 0, 2, 4, 0], [4, 4, 5, 3, 1, 0])
    assert_metrics_equal_reference(scores, labels)


@pytest.mark.parametrize(
    ("vmin", "vmax", "expected"),
    [
        (40.0, 40.5, (39.99, 40.51)),
        (0.0, 65504.0, (-655.04, 66159.04)),  # float16 vmax + eps would overflow to inf
        (65504.0, 65504.0, (65503.99, 65504.01)),
        (-20.0, 65504.0, (-math.inf, math.inf)),  # the float16 span overflows in numpy 1.23 too
    ],
)
def test_outer_edges(vmin: float, vmax: float, expected: tuple[float, float]) -> None:
    assert outer_edges_2023(vmin, vmax) == expected


def test_outer_edges_equal_the_explicit_numpy_123_emulation() -> None:
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 1 << 16, (20000, 2)).astype(np.uint16).view(np.float16)
    special = np.array([[0, 65504], [-65504, 65504], [-15, 65504], [-16, 65504], [40, 40], [1e-7, 2e-7]])
    pairs = np.concatenate([bits[np.isfinite(bits).all(axis=1)], special.astype(np.float16)])
    pairs.sort(axis=1)
    for vmin, vmax in pairs:
        ours = np.asarray(outer_edges_2023(float(vmin), float(vmax)))
        np.testing.assert_array_equal(ours, outer_edges_123(vmin, vmax))


@pytest.mark.parametrize("vmin", [0.0, -15.0, -20.0, -1000.0, -65504.0])
def test_frame_reaching_float16_max(vmin: float) -> None:
    rng = np.random.default_rng(1)
    scores = rng.uniform(vmin, 65504, (3, 12, 16))
    scores[:, 0, :2] = [65504, vmin]
    labels = (rng.random(scores.shape) < 0.2).astype(np.uint8)
    scores = scores.astype(np.float16)
    for s, lab in zip(scores, labels, strict=True):
        assert_bins_equal_reference(s, lab)
    assert_metrics_equal_reference(scores, labels)
    assert pixel_metrics(scores.astype(np.float32), labels, "smiyc") == pixel_metrics(scores, labels, "smiyc")


@pytest.mark.parametrize("value", [0.0, 0.5, 16.0, 40.0, 1000.0, 65504.0, -65504.0])
def test_constant_frame(value: float) -> None:
    labels = np.zeros((1, 6, 8), np.uint8)
    labels[0, :2] = 1
    scores = np.full((1, 6, 8), value, np.float16)
    assert_bins_equal_reference(scores[0], labels[0])
    ours = frame_bins(scores[0], labels[0])
    assert ours.thresholds.tolist() == [value, value - 0.01]  # float64 margin: never rounded away
    assert (ours.tp.tolist(), ours.fp.tolist()) == ([16, 0], [32, 0])
    r = pixel_metrics(scores, labels, "smiyc")
    assert (r.ap, r.auroc, r.fpr95, r.best_f1_threshold) == (16 / 48, 0.5, 1.0, value)
    rng = np.random.default_rng(2)
    mixed = np.concatenate([scores, rng.random((2, 6, 8)).astype(np.float16)])
    mixed_labels = np.concatenate([labels, (rng.random((2, 6, 8)) < 0.3).astype(np.uint8)])
    assert_metrics_equal_reference(mixed, mixed_labels)


@pytest.mark.parametrize(("lo", "hi"), [(40, 40.5), (16, 16.4), (100, 103), (2000, 2010), (-50, -49.6), (0.3, 0.7)])
def test_float16_and_float64_range_arithmetic_give_different_edges(lo: float, hi: float) -> None:
    rng = np.random.default_rng(3)
    scores = rng.uniform(lo, hi, (4, 12, 16))
    scores[:, 0, :2] = [hi, lo]
    labels = (rng.random(scores.shape) < 0.2).astype(np.uint8)
    labels[:, 0, 0] = 1
    scores = scores.astype(np.float16)
    for s, lab in zip(scores, labels, strict=True):
        old = reference_frame(s, lab, outer=outer_edges_nep50)
        new = reference_frame(s, lab)
        assert not np.array_equal(old[0], new[0])  # at least the lowest threshold moves
        assert_bins_equal_reference(s, lab)
    assert_metrics_equal_reference(scores, labels)


def test_vanishing_float16_margin_would_move_the_top_pixels() -> None:
    # |vmax| >= 32 with a small span: vmax + eps rounds back to vmax in float16, so numpy >= 2 puts the
    # pixels at vmax into the bin below; numpy 1.23 (float64 margin) keeps them in [vmax, vmax + eps]
    s = np.array([40.0, 40.25, 40.5, 40.5], np.float16)
    lab = np.array([0, 0, 1, 1], np.uint8)
    nep50 = reference_frame(s, lab, outer=outer_edges_nep50)
    assert nep50[0][0] == 40.25 and nep50[1][0] == 2
    ours = frame_bins(s, lab)
    assert ours.thresholds[0] == 40.5 and ours.tp[0] == 2


def test_class_spanning_beyond_float16_gets_inf_and_nan_quantiles_like_numpy() -> None:
    rng = np.random.default_rng(4)
    for n in (5, 50, 800):
        scores = np.where(rng.random((2, 1, n)) < 0.5, -40000.0, 40000.0).astype(np.float16)
        scores[:, 0, :2] = [-40000, 40000]
        labels = (rng.random((2, 1, n)) < 0.3).astype(np.uint8)
        for s, lab in zip(scores, labels, strict=True):
            assert_bins_equal_reference(s, lab)
        assert_metrics_equal_reference(scores, labels)


@pytest.mark.parametrize("protocol", ["smiyc", "smiyc2021"])
def test_float32_scores_beyond_float16_are_one_clear_error(protocol: str) -> None:
    labels = np.zeros((2, 4, 4), np.uint8)
    labels[:, 0] = 1
    scores = np.full((2, 4, 4), 0.5, np.float32)
    scores[1, 2, 2] = 7.1e4
    msg = (
        f"scores up to 7.1e+04 exceed float16's maximum 65504; the {protocol} protocol stores float16 scores: "
        "rescale them or use --protocol fishyscapes"
    )
    with pytest.raises(ValueCheckError) as e:
        pixel_metrics(scores, labels, protocol)  # type: ignore[arg-type]
    assert str(e.value) == msg
    with pytest.raises(ValueCheckError, match=r"^scores down to -1\.1e\+05 exceed float16.s minimum -65504; "):
        PixelMetrics(protocol).update(-scores * 1.5, labels)  # type: ignore[arg-type]
    assert pixel_metrics(scores, labels, "fishyscapes").num_positives == 8  # float32 protocol: fine


def test_float16_overflow_only_counts_where_float16_rounds_to_inf() -> None:
    labels = np.array([[0, 1, 0, 1, 255]], np.uint8)
    scores = np.array([[0.1, 65519.0, 0.2, 0.9, 1e9]], np.float32)  # 65519 rounds to 65504; void 1e9 ignored
    r = pixel_metrics(scores, labels, "smiyc")
    assert r == pixel_metrics(np.array([[0.1, 65504, 0.2, 0.9, 0]], np.float16), labels, "smiyc")
    scores[0, 0] = np.nan  # NaN keeps its own message
    with pytest.raises(ValueCheckError, match="finite on valid pixels, but got 1 NaN or inf"):
        pixel_metrics(scores, labels, "smiyc")
