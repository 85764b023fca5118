"""Dense scores (MSP, MaxLogit, Entropy, Energy) on hand-computed logits, backends, dtypes and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.scores import energy_score, entropy_score, maxlogit_score, msp_score

DENSE = [msp_score, maxlogit_score, entropy_score, energy_score]


def _pixels(*columns: list[float]) -> np.ndarray:
    """(C, 1, W) logits from one list of C logits per pixel."""
    return np.array(columns, dtype=np.float64).T[:, None, :]


def _softmax(z: list[float], t: float = 1.0) -> list[float]:
    e = [math.exp(v / t) for v in z]
    return [v / sum(e) for v in e]


PIXELS = [[2.0, 0.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-1.0, 4.0, 0.5]]


@pytest.mark.parametrize("z", PIXELS)
@pytest.mark.parametrize("t", [1.0, 0.5, 3.0])
def test_hand_computed(z: list[float], t: float) -> None:
    logits = _pixels(z)
    p = _softmax(z, t)
    lse = t * math.log(sum(math.exp(v / t) for v in z))
    assert msp_score(logits, temperature=t)[0, 0] == pytest.approx(1 - max(p), abs=1e-12)
    assert maxlogit_score(logits)[0, 0] == -max(z)
    entropy = -sum(q * math.log(q) for q in p)
    assert entropy_score(logits, temperature=t)[0, 0] == pytest.approx(entropy, abs=1e-12)
    normalized = entropy_score(logits, temperature=t, normalize=True)[0, 0]
    assert normalized == pytest.approx(entropy / math.log(len(z)), abs=1e-12)
    assert energy_score(logits, temperature=t)[0, 0] == pytest.approx(-lse, abs=1e-12)


def test_two_class_closed_form() -> None:
    # For two classes, 1 − max softmax = sigmoid(−|a − b|).
    d = np.linspace(-6, 6, 13)
    logits = np.stack([d, np.zeros_like(d)])[:, None, :]
    np.testing.assert_allclose(msp_score(logits)[0], 1 / (1 + np.exp(np.abs(d))), rtol=1e-12)


def test_bounds_and_known_values() -> None:
    logits = np.zeros((4, 2, 3))
    np.testing.assert_allclose(msp_score(logits), 0.75)
    np.testing.assert_allclose(entropy_score(logits, normalize=True), 1.0)
    np.testing.assert_allclose(energy_score(logits, temperature=2.0), -2 * math.log(4))


@pytest.mark.parametrize("score", DENSE)
def test_batch_equals_single(score) -> None:
    x = np.random.default_rng(0).normal(size=(3, 5, 4, 6))
    batched = score(x)
    assert batched.shape == (3, 4, 6)
    for i in range(3):
        np.testing.assert_array_equal(batched[i], score(x[i]))


@pytest.mark.parametrize("score", DENSE)
def test_uniform_scores_higher_than_peaked(score) -> None:
    uniform = np.zeros((5, 1, 1))
    peaked = np.zeros((5, 1, 1))
    peaked[2] = 8.0
    assert score(uniform)[0, 0] > score(peaked)[0, 0]


@pytest.mark.parametrize("score", DENSE)
def test_huge_logits_are_stable(score) -> None:
    logits = _pixels([1e4, 0.0, -1e4], [1e4, 1e4, 1e4], [-1e4, -1e4, 1e4 - 1])
    out = score(logits)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("score", DENSE)
def test_huge_logits_torch(score) -> None:
    torch = pytest.importorskip("torch")
    logits = _pixels([1e4, 0.0, -1e4], [1e4, 1e4, 1e4]).astype(np.float32)
    np.testing.assert_allclose(score(torch.from_numpy(logits)).numpy(), score(logits), rtol=1e-6, atol=1e-6)


def test_huge_logit_values() -> None:
    logits = _pixels([1e4, 0.0, -1e4], [1e4, 1e4, 1e4])
    np.testing.assert_allclose(msp_score(logits)[0], [0.0, 2 / 3], atol=1e-12)
    np.testing.assert_allclose(entropy_score(logits)[0], [0.0, math.log(3)], atol=1e-12)
    np.testing.assert_allclose(energy_score(logits)[0], [-1e4, -1e4 - math.log(3)], rtol=1e-12)


def test_confident_msp_keeps_precision() -> None:
    # 1 − max softmax ≈ e^{-30} must not round to 0 (computed with expm1).
    out = msp_score(_pixels([30.0, 0.0]))[0, 0]
    assert out == pytest.approx(math.exp(-30) / (1 + math.exp(-30)), rel=1e-9)


@pytest.mark.parametrize("score", DENSE)
def test_float16_is_computed_in_float32(score) -> None:
    x = np.random.default_rng(1).normal(scale=5.0, size=(4, 3, 3))
    x[0, 0, 0] = 60000.0  # exp would overflow in float16
    half = x.astype(np.float16)
    out = score(half)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, score(half.astype(np.float64)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("score", DENSE)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(score, dtype) -> None:
    assert score(np.zeros((2, 2, 2), dtype=dtype)).dtype == dtype


def test_integer_logits_become_float32() -> None:
    assert maxlogit_score(np.arange(8).reshape(2, 2, 2)).dtype == np.float32


@pytest.mark.parametrize("score", DENSE)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_matches_numpy(score, dtype) -> None:
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).normal(scale=3.0, size=(2, 6, 5, 4)).astype(dtype)
    out = score(torch.from_numpy(x))
    assert isinstance(out, torch.Tensor)
    assert str(out.dtype) == f"torch.{dtype}"
    rtol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(out.numpy(), score(x), rtol=rtol, atol=rtol)


def test_torch_half_and_gradients() -> None:
    torch = pytest.importorskip("torch")
    x = torch.randn(1, 3, 2, 2, dtype=torch.float16)
    assert entropy_score(x).dtype == torch.float32
    leaf = torch.randn(1, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    energy_score(leaf, temperature=2.0).sum().backward()
    # d/dz of −T·LSE(z/T) is −softmax(z/T).
    expected = -torch.softmax(leaf.detach() / 2.0, dim=1)
    torch.testing.assert_close(leaf.grad, expected)


@pytest.mark.parametrize("score", DENSE)
def test_shape_error_message(score) -> None:
    with pytest.raises(
        ShapeError, match=r"^Expected `logits` to be \(C, H, W\) or \(B, C, H, W\), but got shape \(3, 4\)$"
    ):
        score(np.zeros((3, 4)))


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "hot"])
@pytest.mark.parametrize("score", [msp_score, entropy_score, energy_score])
def test_bad_temperature(score, bad) -> None:
    with pytest.raises(ValueCheckError, match="`temperature`"):
        score(np.zeros((2, 1, 1)), temperature=bad)


def test_normalized_entropy_needs_two_classes() -> None:
    with pytest.raises(ShapeError, match="at least 2 classes"):
        entropy_score(np.zeros((1, 2, 2)), normalize=True)


def test_complex_and_bool_rejected() -> None:
    with pytest.raises(ValueCheckError, match="real floating"):
        msp_score(np.zeros((2, 1, 1), dtype=complex))
    with pytest.raises(ValueCheckError, match="real floating"):
        msp_score(np.zeros((2, 1, 1), dtype=bool))
