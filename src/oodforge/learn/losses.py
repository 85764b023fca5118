r"""Training losses for segmentation and outlier exposure (OE): functions with thin ``nn.Module`` twins.

- :func:`cross_entropy_loss`: class-weighted cross-entropy with ignore (0, not NaN, when all is ignored);
  :func:`class_weights_from_frequencies` gives ENet / inverse / median-frequency weights.
- :func:`outlier_hinge_loss`: the OE squared hinge on an anomaly score (:func:`oe_score`), always
  ½ (inlier + outlier terms).
- :func:`outlier_bce_loss`: BCE (optionally focal) on an anomaly logit, ignore pixels excluded.
- :func:`entropy_maximization_loss`: Meta-OoD soft-target cross-entropy towards the uniform distribution.

Masks follow :mod:`oodforge.learn`'s convention: ``outlier_mask`` (B, H, W) integer in {0 inlier,
1 outlier, 255 ignore}; semantic ``target`` (B, H, W) int64 trainIds with ``ignore_index``. Every loss
returns a scalar that stays finite, and attached to the graph, when a pixel set is empty.
Value checks that synchronise with the device (mask values) are skipped with ``validate=False``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.learn._loss_utils import (
    OE_THRESHOLDS,
    OEScoreKind,
    ScoreNorm,
    _check_float,
    _check_labels,
    _masked_mean,
    _match_size,
    _outlier_masks,
    class_weights_from_frequencies,
    oe_score,
)

__all__ = [
    "OE_THRESHOLDS",
    "CrossEntropyLoss",
    "EntropyMaximizationLoss",
    "OutlierBCELoss",
    "OutlierHingeLoss",
    "class_weights_from_frequencies",
    "cross_entropy_loss",
    "entropy_maximization_loss",
    "oe_score",
    "outlier_bce_loss",
    "outlier_hinge_loss",
]


def cross_entropy_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    class_weights: torch.Tensor | None = None,
    ignore_index: int = 255,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    r"""Pixel-wise cross-entropy with class weights and ignore, as ``F.cross_entropy(reduction="mean")``.

    .. math:: L = \frac{\sum_{i \in V} \ell_i}{\sum_{i \in V} w_{y_i}}, \quad
        \ell_i = -(1 - \varepsilon) w_{y_i} \log p_{i, y_i} - \frac{\varepsilon}{C} \sum_c w_c \log p_{i, c}

    over the non-ignored pixels :math:`V` (:math:`w \equiv 1` without weights). Unlike
    ``F.cross_entropy``, a batch whose pixels are all ignored gives 0 (with a zero gradient), not NaN.

    Args:
        logits: (B, C, H, W) float logits.
        target: (B, H, W) int64 class indices in [0, C) or ``ignore_index``.
        class_weights: Optional (C,) weights, e.g. from :func:`class_weights_from_frequencies`.
        ignore_index: Target value that contributes nothing.
        label_smoothing: ε in [0, 1].

    Returns:
        Scalar loss.

    Raises:
        ShapeError: Wrong ranks or mismatched sizes.
        ValueCheckError: Wrong dtypes.

    Example:
        >>> logits = torch.zeros(1, 2, 1, 2, requires_grad=True)
        >>> round(cross_entropy_loss(logits, torch.tensor([[[0, 255]]])).item(), 4)  # log 2
        0.6931
        >>> cross_entropy_loss(logits, torch.full((1, 1, 2), 255)).item()
        0.0
    """
    logits = _check_float(logits, "logits", 4, "(B, C, H, W)")
    _check_labels(target, "target", logits.shape[0])
    if target.shape[-2:] != logits.shape[-2:]:
        raise ShapeError(f"Expected `target` {tuple(target.shape)} to match `logits` {tuple(logits.shape)} in H, W")
    target = target.long()
    total = F.cross_entropy(
        logits,
        target,
        weight=class_weights,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        reduction="sum",
    )
    valid = target != ignore_index
    if class_weights is None:
        denom = valid.sum().to(total.dtype)
    else:
        denom = torch.where(valid, class_weights.to(total)[torch.where(valid, target, 0)], 0).sum()
    return total / torch.where(denom > 0, denom, torch.ones_like(denom))


def outlier_hinge_loss(
    score: torch.Tensor,
    outlier_mask: torch.Tensor,
    *,
    inlier_threshold: float,
    outlier_threshold: float,
    validate: bool = True,
) -> torch.Tensor:
    r"""OE squared hinge on an anomaly score: push inliers below τ_in and outliers above τ_out.

    .. math::
        L = \tfrac12 \Big( \underbrace{\tfrac{1}{|I|} \sum_{i \in I} \max(0, s_i - \tau_\text{in})^2}_{L_\text{in}}
          + \underbrace{\tfrac{1}{|O|} \sum_{i \in O} \max(0, \tau_\text{out} - s_i)^2}_{L_\text{out}} \Big)

    with inlier pixels :math:`I` (mask 0) and outlier pixels :math:`O` (mask 1); a term over an empty set
    is 0, and ignore pixels (255) count nowhere. **Sign convention**: ``score`` is higher = more
    anomalous, the same sign as the seed's ``s`` (``−Σ tanh p``, ``−logsumexp``), so its thresholds
    carry over unchanged (:data:`OE_THRESHOLDS`, τ_in ≤ τ_out). Fixes against the seed: the ½ is always
    applied (the seed dropped it in batches without pasted pixels, changing the loss scale), and a batch
    without inlier pixels gives ``½ L_out`` instead of NaN.

    Args:
        score: (B, h, w) anomaly score, e.g. from :func:`oe_score`; bilinearly resized (align_corners
            False) to the mask's (H, W) when the sizes differ.
        outlier_mask: (B, H, W) integer / bool in {0, 1, 255}.
        inlier_threshold: τ_in, the score inliers should stay below.
        outlier_threshold: τ_out ≥ τ_in, the score outliers should exceed.
        validate: Check the mask values (a device synchronisation).

    Returns:
        Scalar loss ≥ 0.

    Raises:
        ShapeError: Wrong ranks or batch sizes.
        ValueCheckError: Wrong dtypes, mask values or thresholds.

    Example:
        >>> score = torch.tensor([[[-7.0, -5.0], [-5.0, 0.0]]])
        >>> mask = torch.tensor([[[0, 0], [1, 255]]])  # L_in = (0 + 1) / 2, L_out = 1
        >>> outlier_hinge_loss(score, mask, inlier_threshold=-6.0, outlier_threshold=-4.0).item()
        0.75
    """
    lo, hi = float(inlier_threshold), float(outlier_threshold)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueCheckError(f"Expected finite thresholds with inlier ≤ outlier, but got ({lo}, {hi})")
    score = _check_float(score, "score", 3, "(B, H, W)")
    inlier, outlier = _outlier_masks(outlier_mask, score.shape[0], validate)
    s = _match_size(score, outlier_mask.shape[-2:])
    loss_in = _masked_mean(F.relu(s - lo).square(), inlier)
    loss_out = _masked_mean(F.relu(hi - s).square(), outlier)
    return 0.5 * (loss_in + loss_out)


def outlier_bce_loss(
    score_logit: torch.Tensor,
    outlier_mask: torch.Tensor,
    *,
    pos_weight: float | torch.Tensor | None = None,
    focal_gamma: float = 0.0,
    validate: bool = True,
) -> torch.Tensor:
    r"""Binary cross-entropy (optionally focal) of an anomaly logit against the outlier mask.

    .. math::
        L = \frac{1}{|V|} \sum_{i \in V} w_i \, (1 - q_i)^\gamma \, \mathrm{BCE}(x_i, y_i), \quad
        q_i = e^{-\mathrm{BCE}(x_i, y_i)}, \quad w_i = \begin{cases} w_+ & y_i = 1 \\ 1 & y_i = 0 \end{cases}

    over the non-ignored pixels :math:`V` (mask 0 or 1; the seed counted ignore pixels as negatives).
    :math:`q_i` is the probability given to the true label, so γ = 0 is plain BCE with ``pos_weight``
    (``F.binary_cross_entropy_with_logits``) and γ > 0 the focal loss (Lin et al., 2017).

    Args:
        score_logit: (B, h, w) anomaly logit (higher = more anomalous), e.g. a head's output; resized
            bilinearly to the mask size when it differs.
        outlier_mask: (B, H, W) integer / bool in {0, 1, 255}.
        pos_weight: Weight w+ of outlier pixels (scalar), e.g. #inlier / #outlier.
        focal_gamma: Focusing parameter γ ≥ 0.
        validate: Check the mask values (a device synchronisation).

    Returns:
        Scalar loss; 0 when every pixel is ignored.

    Raises:
        ShapeError: Wrong ranks or batch sizes.
        ValueCheckError: Wrong dtypes, mask values or a negative γ.

    Example:
        >>> x = torch.zeros(1, 1, 3)
        >>> round(outlier_bce_loss(x, torch.tensor([[[0, 1, 255]]])).item(), 4)  # log 2
        0.6931
    """
    if not focal_gamma >= 0:
        raise ValueCheckError(f"Expected `focal_gamma` ≥ 0, but got {focal_gamma!r}")
    x = _check_float(score_logit, "score_logit", 3, "(B, H, W)")
    inlier, outlier = _outlier_masks(outlier_mask, x.shape[0], validate)
    x = _match_size(x, outlier_mask.shape[-2:])
    bce = F.binary_cross_entropy_with_logits(x, outlier.to(x.dtype), reduction="none")
    if focal_gamma > 0:
        bce = (-torch.expm1(-bce)).pow(focal_gamma) * bce
    if pos_weight is not None:
        bce = torch.where(outlier, torch.as_tensor(pos_weight, dtype=x.dtype, device=x.device) * bce, bce)
    return _masked_mean(bce, inlier | outlier)


def entropy_maximization_loss(
    logits: torch.Tensor,
    outlier_mask: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.9,
    ignore_index: int = 255,
    validate: bool = True,
) -> torch.Tensor:
    r"""Meta-OoD entropy maximisation (Chan et al., ICCV 2021): soft-target CE towards uniform on outliers.

    .. math::
        L = \frac{1}{|I| + |O|} \Big( (1 - \alpha) \sum_{i \in I} -\log p_{i, y_i}
          + \alpha \sum_{i \in O} \frac{1}{C} \sum_c -\log p_{i, c} \Big)

    Inlier pixels :math:`I`: outlier mask 0 and ``target`` ≠ ``ignore_index``; outlier pixels :math:`O`:
    mask 1 (whatever their target); everything else is void and contributes 0. The outlier term is the
    cross-entropy against the uniform distribution, minimised by maximum entropy. The seed (meta-ood)
    averages over all B·C·H·W entries, void included; here the sum is divided by the number of
    contributing pixels (0 when there is none).

    Args:
        logits: (B, C, H, W) float logits.
        outlier_mask: (B, H, W) integer / bool in {0, 1, 255}.
        target: (B, H, W) int64 trainIds in [0, C) on inlier pixels (any value elsewhere).
        alpha: Outlier weight α in [0, 1] (meta-ood's ``pareto_alpha`` = 0.9).
        ignore_index: Target value that makes a non-outlier pixel void.
        validate: Check mask values and that inlier targets are < C (device synchronisations).

    Returns:
        Scalar loss.

    Raises:
        ShapeError: Wrong ranks or mismatched sizes.
        ValueCheckError: Wrong dtypes or values, or α outside [0, 1].

    Example:
        >>> logits = torch.tensor([[[[0.0, 0.0]], [[0.0, 0.0]]]])  # uniform over C=2
        >>> loss = entropy_maximization_loss(logits, torch.tensor([[[0, 1]]]), torch.tensor([[[1, 255]]]))
        >>> round(loss.item(), 4)  # (0.1 log 2 + 0.9 log 2) / 2
        0.3466
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueCheckError(f"Expected `alpha` in [0, 1], but got {alpha!r}")
    logits = _check_float(logits, "logits", 4, "(B, C, H, W)")
    _check_labels(target, "target", logits.shape[0])
    inlier, outlier = _outlier_masks(outlier_mask, logits.shape[0], validate)
    if target.shape[-2:] != logits.shape[-2:] or outlier_mask.shape[-2:] != logits.shape[-2:]:
        raise ShapeError(
            f"Expected `target` {tuple(target.shape)} and `outlier_mask` {tuple(outlier_mask.shape)} "
            f"to match `logits` {tuple(logits.shape)} in H, W"
        )
    target = target.long()
    inlier = inlier & (target != ignore_index)
    if validate and bool((inlier & ((target < 0) | (target >= logits.shape[1]))).any()):
        raise ValueCheckError(f"Expected inlier `target` values in [0, {logits.shape[1]}), but found others")
    nll = -F.log_softmax(logits, dim=1)
    nll_target = nll.gather(1, torch.where(inlier, target, 0)[:, None])[:, 0]
    per_pixel = torch.where(inlier, (1.0 - alpha) * nll_target, alpha * nll.mean(1))
    return _masked_mean(per_pixel, inlier | outlier)


class CrossEntropyLoss(nn.Module):
    """Module form of :func:`cross_entropy_loss`; ``class_weights`` is a buffer (moves with the module)."""

    class_weights: torch.Tensor | None

    def __init__(
        self, class_weights: torch.Tensor | None = None, ignore_index: int = 255, label_smoothing: float = 0.0
    ) -> None:
        super().__init__()
        self.register_buffer(
            "class_weights", None if class_weights is None else torch.as_tensor(class_weights), persistent=False
        )
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return :func:`cross_entropy_loss` of (B, C, H, W) logits and a (B, H, W) target."""
        return cross_entropy_loss(
            logits,
            target,
            class_weights=self.class_weights,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
        )


class OutlierHingeLoss(nn.Module):
    """Module form of :func:`outlier_hinge_loss`, optionally computing the score with :func:`oe_score`.

    Args:
        kind: Score computed from the model outputs by :func:`oe_score`; ``None`` when ``forward``
            receives a (B, H, W) score directly (thresholds are then required).
        inlier_threshold: τ_in; defaults to :data:`OE_THRESHOLDS` [kind].
        outlier_threshold: τ_out; defaults to :data:`OE_THRESHOLDS` [kind].
        temperature: Passed to :func:`oe_score`.
        norm: Passed to :func:`oe_score` (``nls`` only).
        validate: Passed to :func:`outlier_hinge_loss`.
    """

    def __init__(
        self,
        kind: OEScoreKind | None = "energy",
        *,
        inlier_threshold: float | None = None,
        outlier_threshold: float | None = None,
        temperature: float = 1.0,
        norm: ScoreNorm = "tanh",
        validate: bool = True,
    ) -> None:
        super().__init__()
        if kind is not None and kind not in OE_THRESHOLDS:
            raise ValueCheckError(f"Expected `kind` to be one of {sorted(OE_THRESHOLDS)} or None, but got {kind!r}")
        if kind is None and (inlier_threshold is None or outlier_threshold is None):
            raise ValueCheckError("Expected both thresholds when `kind` is None")
        default = OE_THRESHOLDS.get(kind or "", (0.0, 0.0))
        self.kind, self.temperature, self.norm, self.validate = kind, float(temperature), norm, validate
        self.inlier_threshold = float(default[0] if inlier_threshold is None else inlier_threshold)
        self.outlier_threshold = float(default[1] if outlier_threshold is None else outlier_threshold)

    def forward(self, outputs: Any, outlier_mask: torch.Tensor) -> torch.Tensor:
        """Return the hinge loss of the model outputs (or of a (B, H, W) score when ``kind`` is None)."""
        score = (
            outputs if self.kind is None else oe_score(outputs, self.kind, temperature=self.temperature, norm=self.norm)
        )
        return outlier_hinge_loss(
            score,
            outlier_mask,
            inlier_threshold=self.inlier_threshold,
            outlier_threshold=self.outlier_threshold,
            validate=self.validate,
        )

    def extra_repr(self) -> str:  # noqa: D102
        return (
            f"kind={self.kind!r}, inlier_threshold={self.inlier_threshold}, outlier_threshold={self.outlier_threshold}"
        )


class OutlierBCELoss(nn.Module):
    """Module form of :func:`outlier_bce_loss` (stores ``pos_weight``, ``focal_gamma``)."""

    def __init__(self, pos_weight: float | None = None, focal_gamma: float = 0.0, validate: bool = True) -> None:
        super().__init__()
        self.pos_weight, self.focal_gamma, self.validate = pos_weight, float(focal_gamma), validate

    def forward(self, score_logit: torch.Tensor, outlier_mask: torch.Tensor) -> torch.Tensor:
        """Return :func:`outlier_bce_loss` of a (B, H, W) anomaly logit."""
        return outlier_bce_loss(
            score_logit, outlier_mask, pos_weight=self.pos_weight, focal_gamma=self.focal_gamma, validate=self.validate
        )


class EntropyMaximizationLoss(nn.Module):
    """Module form of :func:`entropy_maximization_loss` (stores ``alpha``, ``ignore_index``)."""

    def __init__(self, alpha: float = 0.9, ignore_index: int = 255, validate: bool = True) -> None:
        super().__init__()
        self.alpha, self.ignore_index, self.validate = float(alpha), int(ignore_index), validate

    def forward(self, logits: torch.Tensor, outlier_mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return :func:`entropy_maximization_loss` of (B, C, H, W) logits."""
        return entropy_maximization_loss(
            logits, outlier_mask, target, alpha=self.alpha, ignore_index=self.ignore_index, validate=self.validate
        )
