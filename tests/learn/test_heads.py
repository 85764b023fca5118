"""Anomaly heads: statistics equal the score functions, output shapes, gradients, interface."""

from __future__ import annotations

import pytest

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.scores import energy_score, entropy_score, maxlogit_score, msp_score

torch = pytest.importorskip("torch")
F = torch.nn.functional
heads = pytest.importorskip("oodforge.learn.heads")
losses = pytest.importorskip("oodforge.learn.losses")


def _logits(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 3


def test_statistics_channels_equal_score_functions() -> None:
    z = _logits(2, 6, 4, 5, dtype=torch.float64)
    stats = heads.uncertainty_statistics(z, temperature=1.5)
    assert stats.shape == (2, 5, 4, 5) and heads.STATISTICS == ("msp", "maxlogit", "entropy", "energy", "margin")
    torch.testing.assert_close(stats[:, 0], msp_score(z, temperature=1.5))
    torch.testing.assert_close(stats[:, 1], maxlogit_score(z))
    torch.testing.assert_close(stats[:, 2], entropy_score(z, temperature=1.5))
    torch.testing.assert_close(stats[:, 3], energy_score(z, temperature=1.5))
    p = torch.softmax(z / 1.5, 1).sort(1, descending=True).values
    torch.testing.assert_close(stats[:, 4], 1 - (p[:, 0] - p[:, 1]))
    assert ((stats[:, 4] >= 0) & (stats[:, 4] <= 1)).all()


def test_statistics_detach_and_errors() -> None:
    z = _logits(1, 3, 2, 2).requires_grad_()
    assert heads.uncertainty_statistics(z).requires_grad
    assert not heads.uncertainty_statistics(z, detach=True).requires_grad
    assert heads.uncertainty_statistics(z.detach().half()).dtype == torch.float32
    with pytest.raises(ShapeError):
        heads.uncertainty_statistics(z[0])
    with pytest.raises(ShapeError):
        heads.uncertainty_statistics(z[:, :1])
    with pytest.raises(ValueCheckError):
        heads.uncertainty_statistics(z, temperature=-1.0)


def test_statistics_head_shape_and_gradients() -> None:
    head = heads.StatisticsHead(width=8, num_blocks=1)
    z = _logits(2, 7, 6, 5).requires_grad_()
    out = head(z)
    assert out.shape == (2, 6, 5)
    mask = torch.randint(0, 2, (2, 6, 5), generator=torch.Generator().manual_seed(1))
    losses.outlier_bce_loss(out, mask).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert all(p.grad is not None for p in head.parameters())
    # features are accepted and unused; eval mode (running stats) works on a single image
    head.eval()
    with torch.no_grad():
        torch.testing.assert_close(head(z[:1]), head(z[:1], torch.zeros(1, 3, 2, 2)))


def test_statistics_head_detach_and_options() -> None:
    z = _logits(1, 4, 3, 3).requires_grad_()
    out = heads.StatisticsHead(width=4, num_blocks=0, normalize=False, detach=True)(z)
    assert out.shape == (1, 3, 3) and out.requires_grad
    out.sum().backward()
    assert z.grad is None
    with pytest.raises(ValueCheckError):
        heads.StatisticsHead(width=0)
    with pytest.raises(ValueCheckError):
        heads.StatisticsHead(num_blocks=-1)


def test_hybrid_head_shape_and_gradients() -> None:
    head = heads.HybridHead(feature_channels=10, width=8, feature_width=4)
    z = _logits(2, 5, 8, 12).requires_grad_()
    feats = _logits(2, 10, 2, 3, seed=1).requires_grad_()
    out = head(z, feats)
    assert out.shape == (2, 8, 12)
    out.square().mean().backward()
    assert feats.grad is not None and feats.grad.abs().sum() > 0
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert all(p.grad is not None for p in head.parameters())
    with pytest.raises(ShapeError):
        head(z)
    with pytest.raises(ShapeError):
        head(z, feats[:, :9])
    with pytest.raises(ValueCheckError):
        heads.HybridHead(feature_channels=0)


def test_hybrid_projection_commutes_with_resize() -> None:
    proj = torch.nn.Conv2d(6, 3, 1).double()
    x = _logits(1, 6, 3, 4, dtype=torch.float64)

    def up(t: torch.Tensor) -> torch.Tensor:
        return F.interpolate(t, size=(9, 10), mode="bilinear", align_corners=False)

    with torch.no_grad():
        torch.testing.assert_close(up(proj(x)), proj(up(x)))


def test_head_score() -> None:
    logit = torch.tensor([[[[-1.0, 2.0]]]])
    torch.testing.assert_close(heads.head_score(logit), logit[:, 0])
    torch.testing.assert_close(heads.head_score(logit[:, 0], probability=True), torch.sigmoid(logit[:, 0]))
    with pytest.raises(ShapeError):
        heads.head_score(torch.zeros(1, 2, 3, 3))
