"""Losses: hand-computed values, ignore handling, empty pixel sets, references, gradients, module twins."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.scores import energy_score, mask_class_pixel_scores, maxlogit_score, rba_score

torch = pytest.importorskip("torch")
F = torch.nn.functional
losses = pytest.importorskip("oodforge.learn.losses")

D = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- cross-entropy ---------------------------------------------------------------------------------
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_matches_torch_on_valid_pixels(weighted: bool, smoothing: float) -> None:
    g = _gen()
    logits = torch.randn(2, 4, 3, 5, generator=g, dtype=D)
    target = torch.randint(0, 4, (2, 3, 5), generator=g)
    target[0, 0, :3] = 255
    weights = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=D) if weighted else None
    got = losses.cross_entropy_loss(logits, target, class_weights=weights, label_smoothing=smoothing)
    want = F.cross_entropy(logits, target, weight=weights, ignore_index=255, label_smoothing=smoothing)
    torch.testing.assert_close(got, want)
    # the same as keeping only the non-ignored pixels
    valid = target != 255
    flat = logits.permute(0, 2, 3, 1)[valid]
    torch.testing.assert_close(got, F.cross_entropy(flat, target[valid], weight=weights, label_smoothing=smoothing))
    assert torch.allclose(got, losses.CrossEntropyLoss(weights, label_smoothing=smoothing)(logits, target))


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_all_ignored_is_zero_with_gradient(weighted: bool) -> None:
    logits = torch.randn(2, 3, 2, 2, dtype=D, requires_grad=True)
    target = torch.full((2, 2, 2), 255)
    weights = torch.ones(3, dtype=D) if weighted else None
    loss = losses.cross_entropy_loss(logits, target, class_weights=weights, label_smoothing=0.1)
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None and torch.equal(logits.grad, torch.zeros_like(logits))


def test_cross_entropy_hand_value_and_errors() -> None:
    logits = torch.tensor([[[[0.0]], [[math.log(3.0)]]]])  # p = (1/4, 3/4)
    assert losses.cross_entropy_loss(logits, torch.tensor([[[1]]])).item() == pytest.approx(-math.log(0.75))
    with pytest.raises(ShapeError):
        losses.cross_entropy_loss(torch.zeros(1, 2, 3), torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ShapeError):
        losses.cross_entropy_loss(torch.zeros(1, 2, 3, 3), torch.zeros(1, 3, 4, dtype=torch.long))
    with pytest.raises(ValueCheckError):
        losses.cross_entropy_loss(torch.zeros(1, 2, 3, 3), torch.zeros(1, 3, 3))


def test_class_weights_from_frequencies() -> None:
    counts = [60, 30, 10, 0]
    p = torch.tensor([0.6, 0.3, 0.1, 0.0], dtype=D)
    enet = losses.class_weights_from_frequencies(counts)
    torch.testing.assert_close(enet, (1 / torch.log(1.02 + p)).float())
    assert enet.dtype == torch.float32 and enet[3].item() == pytest.approx(1 / math.log(1.02))
    inverse = losses.class_weights_from_frequencies(torch.tensor(counts), "inverse")
    torch.testing.assert_close(inverse, torch.tensor([1 / 2.4, 1 / 1.2, 1 / 0.4, 0.0]))
    median = losses.class_weights_from_frequencies(counts, "median")  # median of (0.6, 0.3, 0.1) = 0.3
    torch.testing.assert_close(median, torch.tensor([0.5, 1.0, 3.0, 0.0]))
    for bad in ([], [[1, 2]]):
        with pytest.raises(ShapeError):
            losses.class_weights_from_frequencies(bad)
    for kwargs in (
        {"counts": [0, 0]},
        {"counts": [1, -1]},
        {"counts": [1, 2], "c": 1.0},
        {"counts": [1], "method": "x"},
    ):
        with pytest.raises(ValueCheckError):
            losses.class_weights_from_frequencies(**kwargs)


# --- OE hinge --------------------------------------------------------------------------------------
HINGE = {"inlier_threshold": -6.0, "outlier_threshold": -4.0}


def test_hinge_hand_computed() -> None:
    score = torch.tensor([[[-7.0, -5.0], [-5.0, 0.0]], [[-3.0, -6.5], [-9.0, -2.0]]])
    mask = torch.tensor([[[0, 0], [1, 255]], [[0, 1], [0, 1]]])
    # inliers: -7 → 0, -5 → 1, -3 → 9, -9 → 0 ; outliers: -5 → 1, -6.5 → 6.25, -2 → 0
    want = 0.5 * (10 / 4 + 7.25 / 3)
    assert losses.outlier_hinge_loss(score, mask, **HINGE).item() == pytest.approx(want)
    # ignore pixels count nowhere: changing their score changes nothing
    score2 = score.clone()
    score2[0, 1, 1] = 100.0
    assert losses.outlier_hinge_loss(score2, mask, **HINGE).item() == pytest.approx(want)


def test_hinge_no_outlier_pixel_keeps_the_half() -> None:
    score = torch.tensor([[[-7.0, -5.0], [-3.0, 0.0]]], dtype=D, requires_grad=True)
    mask = torch.tensor([[[0, 0], [0, 255]]], dtype=torch.uint8)
    loss = losses.outlier_hinge_loss(score, mask, **HINGE)
    assert loss.item() == pytest.approx(0.5 * (0 + 1 + 9) / 3)
    loss.backward()
    # d/ds ½·(1/3)·(s+6)² = (s+6)/3
    torch.testing.assert_close(score.grad, torch.tensor([[[0.0, 1 / 3], [1.0, 0.0]]], dtype=D))


def test_hinge_no_inlier_pixel_is_finite() -> None:
    score = torch.tensor([[[-5.0, -3.0], [-8.0, 0.0]]], dtype=D, requires_grad=True)
    mask = torch.tensor([[[1, 1], [1, 255]]])
    loss = losses.outlier_hinge_loss(score, mask, **HINGE)
    assert loss.item() == pytest.approx(0.5 * (1 + 0 + 16) / 3)
    loss.backward()
    torch.testing.assert_close(score.grad, torch.tensor([[[-1 / 3, 0.0], [-4 / 3, 0.0]]], dtype=D))


def test_hinge_all_ignored_is_zero_with_gradient() -> None:
    score = torch.randn(2, 3, 3, dtype=D, requires_grad=True)
    loss = losses.outlier_hinge_loss(score, torch.full((2, 3, 3), 255), **HINGE)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(score.grad, torch.zeros_like(score))


def test_hinge_resizes_the_score_bilinearly() -> None:
    score = torch.randn(2, 4, 6, generator=_gen(1), dtype=D)
    mask = torch.randint(0, 2, (2, 8, 12), generator=_gen(2))
    up = F.interpolate(score[:, None], size=(8, 12), mode="bilinear", align_corners=False)[:, 0]
    torch.testing.assert_close(
        losses.outlier_hinge_loss(score, mask, **HINGE), losses.outlier_hinge_loss(up, mask, **HINGE)
    )


def test_hinge_gradcheck() -> None:
    score = (torch.randn(2, 3, 3, generator=_gen(3), dtype=D) * 3 - 5).requires_grad_()
    mask = torch.tensor([[[0, 1, 255], [0, 0, 1], [1, 0, 255]]] * 2)
    assert torch.autograd.gradcheck(lambda s: losses.outlier_hinge_loss(s, mask, **HINGE), (score,))


def test_hinge_errors() -> None:
    score, mask = torch.zeros(1, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long)
    with pytest.raises(ValueCheckError):
        losses.outlier_hinge_loss(score, mask, inlier_threshold=-1.0, outlier_threshold=-2.0)
    with pytest.raises(ValueCheckError):
        losses.outlier_hinge_loss(score, mask + 2, **HINGE)
    losses.outlier_hinge_loss(score, mask + 2, validate=False, **HINGE)  # no check, no error
    with pytest.raises(ValueCheckError):
        losses.outlier_hinge_loss(score, mask.float(), **HINGE)
    with pytest.raises(ShapeError):
        losses.outlier_hinge_loss(score[0], mask, **HINGE)
    with pytest.raises(ShapeError):
        losses.outlier_hinge_loss(score, torch.zeros(2, 2, 2, dtype=torch.long), **HINGE)


@pytest.mark.parametrize("kind", ["energy", "nls", "rba", "maxlogit"])
def test_hinge_module_matches_function(kind: str) -> None:
    logits = torch.randn(2, 5, 3, 4, generator=_gen(4), dtype=D) * 4
    mask = torch.randint(0, 2, (2, 6, 8), generator=_gen(5))
    module = losses.OutlierHingeLoss(kind, temperature=0.5)
    lo, hi = losses.OE_THRESHOLDS[kind]
    assert (module.inlier_threshold, module.outlier_threshold) == (lo, hi) and lo < hi
    score = losses.oe_score(logits, kind, temperature=0.5)
    want = losses.outlier_hinge_loss(score, mask, inlier_threshold=lo, outlier_threshold=hi)
    torch.testing.assert_close(module(logits, mask), want)
    raw = losses.OutlierHingeLoss(None, inlier_threshold=-1.0, outlier_threshold=1.0)
    torch.testing.assert_close(
        raw(score, mask), losses.outlier_hinge_loss(score, mask, inlier_threshold=-1.0, outlier_threshold=1.0)
    )
    with pytest.raises(ValueCheckError):
        losses.OutlierHingeLoss(None)
    with pytest.raises(ValueCheckError):
        losses.OutlierHingeLoss("softmax")


# --- OE scores -------------------------------------------------------------------------------------
def test_oe_score_kinds_reuse_the_score_functions() -> None:
    z = torch.randn(2, 5, 3, 4, generator=_gen(6), dtype=D) * 3
    torch.testing.assert_close(losses.oe_score(z, "energy", temperature=2.0), energy_score(z, temperature=2.0))
    torch.testing.assert_close(losses.oe_score(z, "rba"), -torch.tanh(z.clamp_min(0)).sum(1))
    torch.testing.assert_close(losses.oe_score(z, "rba"), rba_score(z, relu=True))
    torch.testing.assert_close(losses.oe_score(z, "nls"), -torch.tanh(z).sum(1))
    torch.testing.assert_close(losses.oe_score(z, "nls", norm="sigmoid", temperature=2.0), -torch.sigmoid(z / 2).sum(1))
    torch.testing.assert_close(losses.oe_score(z, "nls", norm="none"), -z.sum(1))
    torch.testing.assert_close(losses.oe_score(z, "maxlogit", temperature=2.0), maxlogit_score(z) / 2)
    assert losses.oe_score(z.half(), "energy").dtype == torch.float32
    for bad in ({"kind": "softmax"}, {"kind": "nls", "norm": "l2"}, {"temperature": 0.0}):
        with pytest.raises(ValueCheckError):
            losses.oe_score(z, **bad)
    with pytest.raises(ShapeError):
        losses.oe_score(z[0])


def test_oe_score_mask_classification_outputs() -> None:
    class_logits = torch.randn(2, 3, 6, generator=_gen(7), dtype=D)  # Q=3, K=5 (+ no-object)
    mask_logits = torch.randn(2, 3, 4, 4, generator=_gen(8), dtype=D)
    want = rba_score(mask_class_pixel_scores(class_logits, mask_logits))
    torch.testing.assert_close(losses.oe_score((class_logits, mask_logits), "rba"), want)
    torch.testing.assert_close(losses.oe_score({"pred_logits": class_logits, "pred_masks": mask_logits}, "rba"), want)
    with pytest.raises(ValueCheckError):
        losses.oe_score({"logits": class_logits}, "rba")


# --- BCE -------------------------------------------------------------------------------------------
def test_bce_ignores_255_pixels() -> None:
    x = torch.randn(2, 3, 4, generator=_gen(9), dtype=D)
    mask = torch.randint(0, 2, (2, 3, 4), generator=_gen(10))
    mask[0, 0] = 255
    valid = mask != 255
    want = F.binary_cross_entropy_with_logits(x[valid], mask[valid].to(D))
    torch.testing.assert_close(losses.outlier_bce_loss(x, mask), want)
    pw = torch.tensor(3.0, dtype=D)
    want_pw = F.binary_cross_entropy_with_logits(x[valid], mask[valid].to(D), pos_weight=pw)
    torch.testing.assert_close(losses.outlier_bce_loss(x, mask, pos_weight=3.0), want_pw)
    torch.testing.assert_close(losses.OutlierBCELoss(pos_weight=3.0)(x, mask), want_pw)


def test_focal_reduces_to_bce_and_matches_formula() -> None:
    x = torch.randn(1, 4, 4, generator=_gen(11), dtype=D)
    mask = torch.randint(0, 2, (1, 4, 4), generator=_gen(12))
    mask[0, :, 0] = 255
    torch.testing.assert_close(
        losses.outlier_bce_loss(x, mask, focal_gamma=0.0, pos_weight=2.0),
        losses.outlier_bce_loss(x, mask, pos_weight=2.0),
    )
    valid = mask != 255
    y = mask[valid].to(D)
    p = torch.sigmoid(x[valid])
    p_true = torch.where(y == 1, p, 1 - p)
    want = (-((1 - p_true) ** 2) * torch.log(p_true)).mean()
    torch.testing.assert_close(losses.outlier_bce_loss(x, mask, focal_gamma=2.0), want)
    with pytest.raises(ValueCheckError):
        losses.outlier_bce_loss(x, mask, focal_gamma=-1.0)


def test_bce_all_ignored_and_resize() -> None:
    x = torch.randn(1, 2, 2, dtype=D, requires_grad=True)
    loss = losses.outlier_bce_loss(x, torch.full((1, 4, 4), 255))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))
    assert losses.outlier_bce_loss(torch.zeros(1, 2, 2), torch.ones(1, 4, 4, dtype=torch.long)).item() == pytest.approx(
        math.log(2)
    )


# --- entropy maximisation --------------------------------------------------------------------------
def test_entropy_maximization_tiny_case() -> None:
    logits = torch.tensor([[[[1.0, 0.0], [2.0, 0.0]], [[0.0, 0.0], [0.0, 3.0]], [[-1.0, 0.0], [0.0, 0.0]]]], dtype=D)
    mask = torch.tensor([[[0, 1], [0, 255]]])
    target = torch.tensor([[[0, 254], [255, 2]]])  # (1, 0) inlier but void target; (1, 1) ignored by the mask
    log_p = torch.log_softmax(logits, 1)
    alpha = 0.8
    inlier = -(1 - alpha) * log_p[0, 0, 0, 0]
    outlier = -alpha * log_p[0, :, 0, 1].mean()  # = α · CE(uniform) = α · log 3 for zero logits
    assert outlier.item() == pytest.approx(alpha * math.log(3))
    want = (inlier + outlier) / 2
    got = losses.entropy_maximization_loss(logits, mask, target, alpha=alpha)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(losses.EntropyMaximizationLoss(alpha=alpha)(logits, mask, target), want)


def test_entropy_maximization_extremes_and_empty() -> None:
    logits = torch.randn(2, 4, 3, 3, generator=_gen(13), dtype=D, requires_grad=True)
    target = torch.randint(0, 4, (2, 3, 3), generator=_gen(14))
    inliers = torch.zeros(2, 3, 3, dtype=torch.long)
    # α = 0, no outliers: plain cross-entropy
    torch.testing.assert_close(
        losses.entropy_maximization_loss(logits, inliers, target, alpha=0.0), F.cross_entropy(logits, target)
    )
    loss = losses.entropy_maximization_loss(logits, torch.full((2, 3, 3), 255), target)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))
    with pytest.raises(ValueCheckError):
        losses.entropy_maximization_loss(logits, inliers, target + 4)
    with pytest.raises(ValueCheckError):
        losses.entropy_maximization_loss(logits, inliers, target, alpha=1.5)
    with pytest.raises(ShapeError):
        losses.entropy_maximization_loss(logits, inliers, target[:, :2])


def test_entropy_maximization_gradcheck() -> None:
    logits = torch.randn(1, 3, 2, 3, generator=_gen(15), dtype=D, requires_grad=True)
    mask = torch.tensor([[[0, 1, 255], [0, 1, 0]]])
    target = torch.tensor([[[2, 254, 1], [0, 255, 255]]])
    assert torch.autograd.gradcheck(lambda z: losses.entropy_maximization_loss(z, mask, target), (logits,))


def test_learn_package_is_lazy() -> None:
    code = "import sys, oodforge.learn as L; assert 'torch' not in sys.modules; L.outlier_hinge_loss; L.HybridHead"
    subprocess.run([sys.executable, "-c", code], check=True)
