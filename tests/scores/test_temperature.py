"""Temperature scaling and NLL fitting: recovery of a known temperature, streaming, subsampling, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.scores import fit_temperature, temperature_scale


def _synthetic(t_true: float, seed: int = 0, shape: tuple[int, ...] = (4, 5, 48, 48)) -> tuple[np.ndarray, np.ndarray]:
    """Logits z and labels drawn from softmax(z / t_true) (class axis 1)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=4.0, size=shape)
    s = z / t_true
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    cdf = np.cumsum(np.moveaxis(p, 1, -1), axis=-1)
    labels = (rng.random(cdf.shape[:-1])[..., None] > cdf).sum(axis=-1)
    return z, np.minimum(labels, shape[1] - 1).astype(np.uint8)


def _nll(z: np.ndarray, y: np.ndarray, t: float) -> float:
    s = np.moveaxis(z, 1, -1).reshape(-1, z.shape[1]) / t
    y = y.reshape(-1)
    lse = np.log(np.exp(s - s.max(1, keepdims=True)).sum(1)) + s.max(1)
    return float(np.mean(lse - s[np.arange(len(y)), y]))


@pytest.mark.parametrize("t_true", [0.5, 2.0])
def test_recovers_known_temperature(t_true: float) -> None:
    z, y = _synthetic(t_true)
    t = fit_temperature(z, y)
    assert abs(t - t_true) / t_true < 0.1
    # The search is a true minimiser of the NLL.
    assert _nll(z, y, t) <= min(_nll(z, y, t * 1.01), _nll(z, y, t / 1.01))


def test_hand_case() -> None:
    # Three pixels with margin 4, two right and one wrong: the optimum is σ(4/T) = 2/3, T = 4 / log 2.
    logits = np.array([[[4.0, 4.0, 0.0]], [[0.0, 0.0, 4.0]]])
    assert fit_temperature(logits, np.array([[0, 0, 0]])) == pytest.approx(4 / math.log(2), rel=1e-4)


def test_pairs_equal_single_array() -> None:
    z, y = _synthetic(1.5, seed=1, shape=(3, 4, 16, 16))
    single = fit_temperature(z, y)
    assert fit_temperature(zip(z, y, strict=True)) == pytest.approx(single, rel=1e-9)
    assert fit_temperature([(z[:1], y[:1]), (z[1:], y[1:])]) == pytest.approx(single, rel=1e-9)


def test_ignore_index_excluded() -> None:
    z, y = _synthetic(1.5, seed=2, shape=(1, 4, 16, 16))
    garbage = z.copy()
    garbage[0, 0, :, 8:] = 50.0
    y_ignored = y.copy()
    y_ignored[0, :, 8:] = 255
    expected = fit_temperature(z[..., :8], y[..., :8])
    assert fit_temperature(garbage, y_ignored) == pytest.approx(expected, rel=1e-9)


def test_subsampling_is_seeded_and_close() -> None:
    z, y = _synthetic(2.0, seed=3)
    a = fit_temperature(zip(z, y, strict=True), max_pixels=3000, seed=7)
    b = fit_temperature(zip(z, y, strict=True), max_pixels=3000, seed=7)
    c = fit_temperature(zip(z, y, strict=True), max_pixels=3000, seed=8)
    assert a == b
    assert a != c
    assert abs(a - 2.0) / 2.0 < 0.15


def test_grid_returns_best_candidate() -> None:
    z, y = _synthetic(1.1, seed=4, shape=(1, 5, 32, 32))
    grid = [0.5, 0.75, 1.0, 1.25, 2.0]
    best = fit_temperature(z, y, grid=grid)
    assert best == grid[int(np.argmin([_nll(z, y, t) for t in grid]))]


def test_bounds_are_respected() -> None:
    # Perfect, confident predictions: the NLL keeps falling as T → 0, so the lower bound is returned.
    logits = np.array([[[5.0, 0.0]], [[0.0, 5.0]]])
    t = fit_temperature(logits, np.array([[0, 1]]), bounds=(0.1, 10.0))
    assert t == pytest.approx(0.1, rel=1e-3)


def test_torch_matches_numpy() -> None:
    torch = pytest.importorskip("torch")
    z, y = _synthetic(0.8, seed=5, shape=(2, 3, 16, 16))
    expected = fit_temperature(z.astype(np.float32), y)
    assert fit_temperature(torch.from_numpy(z.astype(np.float32)), torch.from_numpy(y)) == pytest.approx(expected)


def test_errors() -> None:
    z, y = _synthetic(1.0, seed=6, shape=(1, 3, 4, 4))
    with pytest.raises(
        ValueCheckError, match="Expected `labels` in \\[0, 3\\) or ignore_index=255, but got values \\[7\\]"
    ):
        fit_temperature(z, np.full((1, 4, 4), 7))
    with pytest.raises(ValueCheckError, match="at least one labelled"):
        fit_temperature(z, np.full((1, 4, 4), 255))
    with pytest.raises(ValueCheckError, match="`labels` with a single"):
        fit_temperature(z)
    with pytest.raises(ValueCheckError, match="labels=None"):
        fit_temperature([(z, y)], y)
    with pytest.raises(ValueCheckError, match="pairs"):
        fit_temperature([z])
    with pytest.raises(ShapeError, match="`labels` to have shape"):
        fit_temperature(z, y[:, :2])
    with pytest.raises(ShapeError, match="3 classes"):
        fit_temperature([(z, y), (z[:, :2], y)])
    with pytest.raises(ValueCheckError, match="low < high"):
        fit_temperature(z, y, bounds=(2.0, 1.0))
    with pytest.raises(ValueCheckError, match="`grid`"):
        fit_temperature(z, y, grid=[])
    with pytest.raises(ValueCheckError, match="`grid`"):
        fit_temperature(z, y, grid=[1.0, -1.0])
    with pytest.raises(ValueCheckError, match="`max_pixels`"):
        fit_temperature(z, y, max_pixels=0)


def test_temperature_scale() -> None:
    x = np.array([[2.0, -1.0]], dtype=np.float16)
    out = temperature_scale(x, 4.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0.5, -0.25]])
    with pytest.raises(ValueCheckError, match="`temperature`"):
        temperature_scale(x, 0.0)


def test_temperature_scale_torch() -> None:
    torch = pytest.importorskip("torch")
    out = temperature_scale(torch.tensor([[2.0, -1.0]], dtype=torch.float64), 2.0)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    assert out.tolist() == [[1.0, -0.5]]
