r"""Pixel-wise anomaly heads on top of a segmentation model's output.

:func:`uncertainty_statistics` turns (B, C, H, W) logits into five per-pixel uncertainty maps;
:class:`StatisticsHead` maps them through a small conv net to one anomaly logit per pixel, and
:class:`HybridHead` also sees (projected, upsampled) backbone features, in the spirit of SynBoost
(Di Biase et al., CVPR 2021) and DenseHybrid (Grcić et al., ECCV 2022). Both return (B, H, W) anomaly
logits (higher = more anomalous), trained with :func:`~oodforge.learn.losses.outlier_bce_loss` on
outlier masks; :func:`head_score` turns an output into the score map that ``oodforge eval`` reads.

Example:
    >>> head = StatisticsHead(width=8).eval()
    >>> tuple(head(torch.randn(2, 19, 16, 16)).shape)
    (2, 16, 16)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.scores import energy_score, entropy_score, maxlogit_score, msp_score
from oodforge.scores._backend import check_temperature

__all__ = ["STATISTICS", "HybridHead", "StatisticsHead", "head_score", "uncertainty_statistics"]

#: Channel order of :func:`uncertainty_statistics`.
STATISTICS: tuple[str, ...] = ("msp", "maxlogit", "entropy", "energy", "margin")


def uncertainty_statistics(logits: torch.Tensor, *, temperature: float = 1.0, detach: bool = False) -> torch.Tensor:
    r"""Five per-pixel uncertainty statistics of segmentation logits, each higher = more anomalous.

    With :math:`p = \operatorname{softmax}(z / T)` and :math:`p_{(1)} \ge p_{(2)}` its two largest values,
    the channels (order :data:`STATISTICS`) are

    .. math::
        \big[\, 1 - p_{(1)},\; -\max_c z_c,\; -\sum_c p_c \log p_c,\; -T \log \sum_c e^{z_c / T},\;
        1 - (p_{(1)} - p_{(2)}) \,\big]

    i.e. :func:`~oodforge.scores.msp_score`, :func:`~oodforge.scores.maxlogit_score` (no temperature),
    :func:`~oodforge.scores.entropy_score` (unnormalised), :func:`~oodforge.scores.energy_score` and one
    minus the top-2 softmax margin (SynBoost's "softmax distance", flipped to the common sign).

    Args:
        logits: (B, C, H, W) float logits, C ≥ 2.
        temperature: Softmax temperature T > 0.
        detach: Compute from ``logits.detach()`` (no gradient into the segmentation model).

    Returns:
        (B, 5, H, W) statistics; float32 for half-precision inputs.

    Raises:
        ShapeError: If ``logits`` is not (B, C, H, W) with C ≥ 2.
        ValueCheckError: If ``temperature`` is not a finite number > 0.

    Example:
        >>> stats = uncertainty_statistics(torch.zeros(1, 4, 1, 1))  # uniform over 4 classes
        >>> [round(v, 4) for v in stats.flatten().tolist()]
        [0.75, -0.0, 1.3863, -1.3863, 1.0]
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 4 or logits.shape[1] < 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ShapeError(f"Expected `logits` to be a (B, C, H, W) tensor with C ≥ 2, but got {shape}")
    t = check_temperature(temperature)
    z = logits.detach() if detach else logits
    z = z.float() if z.dtype in (torch.float16, torch.bfloat16) else z
    top2 = torch.softmax(z if t == 1.0 else z / t, dim=1).topk(2, dim=1).values
    margin = 1.0 - (top2[:, 0] - top2[:, 1])
    maps = [
        msp_score(z, temperature=t),
        maxlogit_score(z),
        entropy_score(z, temperature=t),
        energy_score(z, temperature=t),
        margin,
    ]
    return torch.stack(maps, dim=1)


def head_score(head_output: torch.Tensor, *, probability: bool = False) -> torch.Tensor:
    """Anomaly score map of a head's output: the anomaly logit itself (higher = more anomalous).

    Args:
        head_output: (B, H, W) or (B, 1, H, W) anomaly logits.
        probability: Return ``sigmoid(logit)`` in [0, 1] instead (same ranking, so the same AP / AUROC).

    Returns:
        (B, H, W) scores.

    Raises:
        ShapeError: For any other shape.

    Example:
        >>> head_score(torch.zeros(1, 1, 2, 2), probability=True).tolist()
        [[[0.5, 0.5], [0.5, 0.5]]]
    """
    if head_output.ndim == 4 and head_output.shape[1] == 1:
        head_output = head_output[:, 0]
    if head_output.ndim != 3:
        raise ShapeError(f"Expected `head_output` to be (B, H, W) or (B, 1, H, W), but got {tuple(head_output.shape)}")
    return torch.sigmoid(head_output) if probability else head_output


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if not (isinstance(value, int) and value >= 1):
            raise ValueCheckError(f"Expected `{name}` to be an int ≥ 1, but got {value!r}")


class _AnomalyHead(nn.Module):
    """Shared parts: input statistics (optionally batch-normalised) and the 1×1 → 3×3 … → 1×1 conv net."""

    def __init__(
        self, in_channels: int, width: int, num_blocks: int, normalize: bool, temperature: float, detach: bool
    ) -> None:
        super().__init__()
        _check_positive(width=width)
        if not (isinstance(num_blocks, int) and num_blocks >= 0):
            raise ValueCheckError(f"Expected `num_blocks` to be an int ≥ 0, but got {num_blocks!r}")
        self.temperature = check_temperature(temperature)
        self.detach = bool(detach)
        # BatchNorm without affine parameters = standardisation with running mean / variance at eval time.
        self.stats_norm: nn.Module = nn.BatchNorm2d(len(STATISTICS), affine=False) if normalize else nn.Identity()
        blocks = [_conv_bn_relu(in_channels, width, 1)] + [_conv_bn_relu(width, width, 3) for _ in range(num_blocks)]
        self.body = nn.Sequential(*blocks)
        self.classifier = nn.Conv2d(width, 1, 1)

    def statistics(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, 5, H, W) normalised :func:`uncertainty_statistics` of the logits."""
        stats = uncertainty_statistics(logits, temperature=self.temperature, detach=self.detach)
        return self.stats_norm(stats)

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.body(x))[:, 0]


class StatisticsHead(_AnomalyHead):
    r"""Anomaly head on the per-pixel uncertainty statistics: (B, C, H, W) logits → (B, H, W) anomaly logits.

    Architecture: :func:`uncertainty_statistics` → BatchNorm (no affine; running stats) →
    1×1 conv (5 → ``width``) + BN + ReLU → ``num_blocks`` × [3×3 conv + BN + ReLU] → 1×1 conv → 1.

    Args:
        width: Hidden channels.
        num_blocks: Number of 3×3 blocks (receptive field 2·num_blocks + 1).
        normalize: Standardise the statistics with running mean / variance (BatchNorm, affine off).
        temperature: Softmax temperature of the statistics.
        detach: Stop gradients into the segmentation model (for a frozen model this only saves memory).
    """

    def __init__(
        self,
        width: int = 32,
        num_blocks: int = 2,
        normalize: bool = True,
        temperature: float = 1.0,
        detach: bool = False,
    ) -> None:
        super().__init__(len(STATISTICS), width, num_blocks, normalize, temperature, detach)

    def forward(self, logits: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        """Return (B, H, W) anomaly logits; ``features`` is accepted for a common interface and unused."""
        return self._head(self.statistics(logits))


class HybridHead(_AnomalyHead):
    r"""Anomaly head on the uncertainty statistics plus backbone features (B, F, h, w).

    The features pass a 1×1 conv (F → ``feature_width``) at their own resolution and are then resized
    bilinearly to the logits' (H, W): the same as resizing first, since both steps are linear and the
    interpolation weights sum to 1, but without materialising F full-resolution channels. They are
    concatenated with the normalised statistics and go through the same conv net as :class:`StatisticsHead`.

    Args:
        feature_channels: F, the backbone feature channels.
        width: Hidden channels of the conv net.
        feature_width: Channels of the projected features.
        num_blocks: Number of 3×3 blocks.
        normalize: Standardise the statistics with running mean / variance.
        temperature: Softmax temperature of the statistics.
        detach: Stop gradients into the segmentation model (logits and features).
    """

    def __init__(
        self,
        feature_channels: int,
        width: int = 64,
        feature_width: int = 32,
        num_blocks: int = 2,
        normalize: bool = True,
        temperature: float = 1.0,
        detach: bool = False,
    ) -> None:
        _check_positive(feature_channels=feature_channels, feature_width=feature_width)
        super().__init__(len(STATISTICS) + feature_width, width, num_blocks, normalize, temperature, detach)
        self.feature_channels = feature_channels
        self.project = nn.Conv2d(feature_channels, feature_width, 1)

    def forward(self, logits: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        """Return (B, H, W) anomaly logits from (B, C, H, W) logits and (B, F, h, w) features."""
        if features is None or features.ndim != 4 or features.shape[:2] != (logits.shape[0], self.feature_channels):
            got = None if features is None else tuple(features.shape)
            raise ShapeError(
                f"Expected `features` of shape (B={logits.shape[0]}, F={self.feature_channels}, h, w), got {got}"
            )
        stats = self.statistics(logits)
        feats = features.detach() if self.detach else features
        feats = self.project(feats)
        if feats.shape[-2:] != stats.shape[-2:]:
            feats = F.interpolate(feats, size=stats.shape[-2:], mode="bilinear", align_corners=False)
        return self._head(torch.cat([stats, feats], dim=1))
