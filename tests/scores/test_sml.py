"""Standardized Max Logit: fitting against np.mean / np.std per class, streaming, fallbacks, I/O."""

from __future__ import annotations

import numpy as np
import pytest

from oodforge.errors import InputFileError, ShapeError, ValueCheckError
from oodforge.scores import SMLStats, fit_sml_stats, sml_score


def _data(seed: int = 0, shape: tuple[int, ...] = (3, 4, 8, 8)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=shape)
    labels = rng.integers(0, 4, size=shape[:1] + shape[2:]).astype(np.uint8)
    labels[rng.random(labels.shape) < 0.2] = 255
    return logits, labels


def _reference(logits: np.ndarray, labels: np.ndarray | None, k: int) -> tuple[list[float], list[float], list[int]]:
    peak, cls = logits.max(axis=-3), logits.argmax(axis=-3)
    if labels is not None:
        peak, cls = peak[labels != 255], cls[labels != 255]
    means, stds, counts = [], [], []
    for c in range(k):
        v = peak[cls == c]
        means.append(float(np.mean(v)))
        stds.append(float(np.std(v)))
        counts.append(int(v.size))
    return means, stds, counts


@pytest.mark.parametrize("use_labels", [True, False])
def test_fit_matches_numpy_per_class(use_labels: bool) -> None:
    logits, labels = _data()
    stats = fit_sml_stats(logits, labels if use_labels else None, 4)
    means, stds, counts = _reference(logits, labels if use_labels else None, 4)
    np.testing.assert_allclose(stats.means, means, rtol=1e-12)
    np.testing.assert_allclose(stats.stds, stds, rtol=1e-12)
    np.testing.assert_array_equal(stats.counts, counts)
    assert stats.means.dtype == np.float64 and stats.counts.dtype == np.int64


def test_streaming_equals_one_pass() -> None:
    logits, labels = _data()
    one = fit_sml_stats(logits, labels)
    streamed = fit_sml_stats((x for x in logits), (y for y in labels))
    listed = fit_sml_stats([logits[:1], logits[1:]], [labels[:1], labels[1:]])
    for other in (streamed, listed):
        np.testing.assert_allclose(other.means, one.means, rtol=1e-12)
        np.testing.assert_allclose(other.stds, one.stds, rtol=1e-12)
        np.testing.assert_array_equal(other.counts, one.counts)


def test_large_offset_is_accurate() -> None:
    # Max logits around 1e6 with std 1: naive sum of squares in float64 would lose most digits.
    rng = np.random.default_rng(3)
    logits = np.stack([1e6 + rng.normal(size=(64, 64)), np.zeros((64, 64))])
    stats = fit_sml_stats([logits[:, :32], logits[:, 32:]])
    peak = logits[0].ravel()
    assert stats.stds[0] == pytest.approx(np.std(peak), rel=1e-9)
    assert stats.means[0] == pytest.approx(np.mean(peak), rel=1e-14)


def test_unseen_and_degenerate_classes_fall_back() -> None:
    # Class 0 predicted once (σ = 0), class 1 twice, class 2 never.
    logits = np.array([[[3.0, 1.0, 0.0]], [[0.0, 2.0, 5.0]], [[-9.0, -9.0, -9.0]]])
    stats = fit_sml_stats(logits)
    assert stats.means.tolist() == [3.0, 3.5, 0.0]
    assert stats.stds.tolist() == [1.0, 1.5, 1.0]
    assert stats.counts.tolist() == [1, 2, 0]


def test_ignored_pixels_are_excluded() -> None:
    logits = np.array([[[3.0, 1.0, 100.0]], [[0.0, 2.0, 0.0]]])
    stats = fit_sml_stats(logits, np.array([[0, 1, 255]]))
    assert stats.means.tolist() == [3.0, 2.0]
    assert stats.counts.tolist() == [1, 1]


def test_sml_score_hand_computed() -> None:
    stats = SMLStats(means=np.array([2.0, -1.0]), stds=np.array([0.5, 2.0]), counts=np.array([5, 5]))
    logits = np.array([[[3.0, -4.0]], [[1.0, 0.0]]])
    # pixel 0: class 0, −(3 − 2)/0.5 = −2; pixel 1: class 1, −(0 − (−1))/2 = −0.5
    np.testing.assert_allclose(sml_score(logits, stats), [[-2.0, -0.5]])
    np.testing.assert_allclose(sml_score(logits[None], stats), [[[-2.0, -0.5]]])


def test_unseen_class_scores_as_maxlogit() -> None:
    stats = SMLStats(means=np.zeros(3), stds=np.ones(3), counts=np.zeros(3))
    logits = np.random.default_rng(4).normal(size=(3, 4, 4))
    np.testing.assert_allclose(sml_score(logits, stats), -logits.max(axis=0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_matches_numpy(dtype: str) -> None:
    torch = pytest.importorskip("torch")
    logits, labels = _data(5)
    logits = logits.astype(dtype)
    stats = fit_sml_stats(logits, labels)
    stats_t = fit_sml_stats(torch.from_numpy(logits), torch.from_numpy(labels))
    np.testing.assert_allclose(stats_t.means, stats.means, rtol=1e-12)
    out = sml_score(torch.from_numpy(logits), stats)
    assert isinstance(out, torch.Tensor) and str(out.dtype) == f"torch.{dtype}"
    np.testing.assert_allclose(out.numpy(), sml_score(logits, stats), rtol=1e-6)


def test_float16_input() -> None:
    logits, _ = _data(6)
    stats = fit_sml_stats(logits)
    out = sml_score(logits.astype(np.float16), stats)
    assert out.dtype == np.float32


def test_dict_and_npz_round_trip(tmp_path) -> None:
    stats = fit_sml_stats(*_data(7))
    again = SMLStats.from_dict(stats.to_dict())
    path = tmp_path / "sml_stats"  # no suffix: written exactly where asked
    stats.save(path)
    assert path.exists()
    loaded = SMLStats.load(path)
    for other in (again, loaded):
        np.testing.assert_array_equal(other.means, stats.means)
        np.testing.assert_array_equal(other.stds, stats.stds)
        np.testing.assert_array_equal(other.counts, stats.counts)


def test_load_errors(tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    with pytest.raises(InputFileError, match=r"bad\.npz"):
        SMLStats.load(bad)
    with pytest.raises(InputFileError):
        SMLStats.load(tmp_path / "missing.npz")
    with pytest.raises(ValueCheckError, match="Expected keys"):
        SMLStats.from_dict({"means": [0.0], "stds": [1.0], "counts": [1], "extra": 1})


def test_stats_validation() -> None:
    with pytest.raises(ValueCheckError, match="std"):
        SMLStats(means=np.zeros(2), stds=np.array([1.0, 0.0]), counts=np.ones(2))
    with pytest.raises(ShapeError, match="same length"):
        SMLStats(means=np.zeros(2), stds=np.ones(3), counts=np.ones(2))
    with pytest.raises(ValueCheckError, match="counts"):
        SMLStats(means=np.zeros(1), stds=np.ones(1), counts=np.array([-1]))


def test_fit_errors() -> None:
    logits, labels = _data(8)
    with pytest.raises(ShapeError, match="num_classes=5"):
        fit_sml_stats(logits, labels, 5)
    with pytest.raises(ShapeError, match="`labels` to have shape"):
        fit_sml_stats(logits, labels[:, :4])
    with pytest.raises(ShapeError, match="ran out"):
        fit_sml_stats(list(logits), list(labels[:2]))
    with pytest.raises(ShapeError, match="has more"):
        fit_sml_stats(list(logits[:2]), list(labels))
    with pytest.raises(ValueCheckError, match="none"):
        fit_sml_stats([])


def test_score_errors() -> None:
    stats = SMLStats(means=np.zeros(3), stds=np.ones(3), counts=np.ones(3))
    with pytest.raises(ShapeError, match="3 classes"):
        sml_score(np.zeros((4, 2, 2)), stats)
    with pytest.raises(ValueCheckError, match="SMLStats"):
        sml_score(np.zeros((3, 2, 2)), {"means": [0, 0, 0]})
