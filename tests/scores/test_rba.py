"""Mask-classification pixel scores and RbA on a hand-made 2-query example, backends and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.scores import mask_class_pixel_scores, rba_score

# Q = 2 queries, K = 2 classes + no-object. softmax(q0) = (3/5, 1/5, 1/5), softmax(q1) = (1/4, 1/4, 1/2).
CLASS_LOGITS = np.array([[math.log(3.0), 0.0, 0.0], [0.0, 0.0, math.log(2.0)]])
MASK_LOGITS = np.array([[[2.0, -1.0, 0.0]], [[-3.0, 0.5, 0.0]]])  # (Q=2, H=1, W=3)


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _expected_pixel_scores(t: float = 1.0) -> np.ndarray:
    probs = []
    for row in CLASS_LOGITS:
        e = [math.exp(v / t) for v in row]
        probs.append([v / sum(e) for v in e][:2])
    out = np.zeros((2, 1, 3))
    for c in range(2):
        for w in range(3):
            out[c, 0, w] = sum(probs[q][c] * _sig(MASK_LOGITS[q, 0, w]) for q in range(2))
    return out


def test_pixel_scores_hand_computed() -> None:
    scores = mask_class_pixel_scores(CLASS_LOGITS, MASK_LOGITS)
    assert scores.shape == (2, 1, 3)
    np.testing.assert_allclose(scores, _expected_pixel_scores(), rtol=1e-12)
    # Pixel 2 has both masks at sigmoid(0) = 1/2: class 0 gets (3/5 + 1/4) / 2.
    assert scores[0, 0, 2] == pytest.approx((0.6 + 0.25) / 2)


def test_class_temperature() -> None:
    scores = mask_class_pixel_scores(CLASS_LOGITS, MASK_LOGITS, temperature=2.0)
    np.testing.assert_allclose(scores, _expected_pixel_scores(2.0), rtol=1e-12)


def test_rba_hand_computed() -> None:
    s = _expected_pixel_scores()
    expected = -(np.tanh(s[0]) + np.tanh(s[1]))
    np.testing.assert_allclose(rba_score(mask_class_pixel_scores(CLASS_LOGITS, MASK_LOGITS)), expected, rtol=1e-12)
    np.testing.assert_allclose(rba_score(s, temperature=0.5), -(np.tanh(2 * s[0]) + np.tanh(2 * s[1])), rtol=1e-12)


def test_rba_relu_variant() -> None:
    z = np.array([[[1.0, -2.0]], [[-0.5, 0.3]]])
    np.testing.assert_allclose(
        rba_score(z), [[-(math.tanh(1.0) + math.tanh(-0.5)), -(math.tanh(-2.0) + math.tanh(0.3))]]
    )
    np.testing.assert_allclose(rba_score(z, relu=True), [[-math.tanh(1.0), -math.tanh(0.3)]])
    nonneg = np.abs(z)
    np.testing.assert_array_equal(rba_score(nonneg, relu=True), rba_score(nonneg))


def test_unclaimed_pixel_scores_higher() -> None:
    # Query 0 claims pixel 0 strongly; no mask covers pixel 1.
    class_logits = np.array([[5.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    mask_logits = np.array([[[10.0, -10.0]], [[-10.0, -10.0]]])
    rba = rba_score(mask_class_pixel_scores(class_logits, mask_logits))
    assert rba[0, 1] > rba[0, 0]
    assert rba[0, 1] == pytest.approx(0.0, abs=1e-3)


def test_batch_equals_single() -> None:
    rng = np.random.default_rng(0)
    cl, ml = rng.normal(size=(3, 5, 4)), rng.normal(size=(3, 5, 6, 7))
    batched = mask_class_pixel_scores(cl, ml)
    assert batched.shape == (3, 3, 6, 7)
    for i in range(3):
        np.testing.assert_allclose(batched[i], mask_class_pixel_scores(cl[i], ml[i]), rtol=1e-12)
        np.testing.assert_allclose(rba_score(batched)[i], rba_score(batched[i]), rtol=1e-12)


def test_huge_and_half_inputs() -> None:
    cl = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]])
    ml = np.array([[[1e4, -1e4]], [[-1e4, 1e4]]])
    np.testing.assert_allclose(mask_class_pixel_scores(cl, ml), [[[1.0, 0.0]], [[0.0, 1.0]]], atol=1e-12)
    half = mask_class_pixel_scores(CLASS_LOGITS.astype(np.float16), MASK_LOGITS.astype(np.float16))
    assert half.dtype == np.float32
    np.testing.assert_allclose(half, _expected_pixel_scores(), rtol=2e-3)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_matches_numpy(dtype: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    cl, ml = rng.normal(size=(2, 5, 4)).astype(dtype), rng.normal(size=(2, 5, 3, 3)).astype(dtype)
    out = mask_class_pixel_scores(torch.from_numpy(cl), torch.from_numpy(ml), temperature=0.75)
    assert str(out.dtype) == f"torch.{dtype}"
    rtol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(out.numpy(), mask_class_pixel_scores(cl, ml, temperature=0.75), rtol=rtol)
    np.testing.assert_allclose(rba_score(out, relu=True).numpy(), rba_score(out.numpy(), relu=True), rtol=rtol)


def test_torch_mixed_dtypes_promote() -> None:
    torch = pytest.importorskip("torch")
    out = mask_class_pixel_scores(torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 1, 1, dtype=torch.float16))
    assert out.dtype == torch.float64


def test_errors() -> None:
    with pytest.raises(ShapeError, match=r"Expected `class_logits` to be \(Q, K\+1\) or \(B, Q, K\+1\)"):
        mask_class_pixel_scores(np.zeros(3), MASK_LOGITS)
    with pytest.raises(ShapeError, match=r"`mask_logits` to be \(Q, H, W\) or \(B, Q, H, W\)"):
        mask_class_pixel_scores(CLASS_LOGITS, np.zeros((2, 3)))
    with pytest.raises(ShapeError, match="share batch and query sizes"):
        mask_class_pixel_scores(CLASS_LOGITS, np.zeros((3, 1, 3)))
    with pytest.raises(ShapeError, match="share batch and query sizes"):
        mask_class_pixel_scores(CLASS_LOGITS, MASK_LOGITS[None])
    with pytest.raises(ShapeError, match="K\\+1 ≥ 2"):
        mask_class_pixel_scores(np.zeros((2, 1)), MASK_LOGITS)
    with pytest.raises(ValueCheckError, match="`temperature`"):
        mask_class_pixel_scores(CLASS_LOGITS, MASK_LOGITS, temperature=0.0)
    with pytest.raises(ShapeError, match=r"`pixel_class_scores` to be \(C, H, W\)"):
        rba_score(np.zeros((2, 2)))


def test_mixed_kinds_rejected() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueCheckError, match="same kind"):
        mask_class_pixel_scores(torch.from_numpy(CLASS_LOGITS), MASK_LOGITS)
