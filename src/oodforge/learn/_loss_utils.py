r"""Shared pieces of :mod:`oodforge.learn.losses`: input checks, masked means, OE scores, class weights.

:func:`oe_score` and :func:`class_weights_from_frequencies` are public and re-exported by
:mod:`oodforge.learn.losses`; everything starting with ``_`` is private.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.scores import energy_score, mask_class_pixel_scores, maxlogit_score, rba_score
from oodforge.scores._backend import check_temperature

__all__ = ["OE_THRESHOLDS", "OEScoreKind", "ScoreNorm", "class_weights_from_frequencies", "oe_score"]

OEScoreKind = Literal["energy", "nls", "rba", "maxlogit"]
ScoreNorm = Literal["tanh", "sigmoid", "none"]

#: Default ``(inlier_threshold, outlier_threshold)`` per OE score kind, at temperature 1, for scores where
#: higher = more anomalous (the sign of the seed's ``s``, so the seed's numbers carry over unchanged).
#:
#: - ``energy``: (−12, −6), PEBAL (Tian et al., ECCV 2022) on 19-class Cityscapes logits, the same
#:   squared hinge as Liu et al. (2020), whose CIFAR values are (−25, −7).
#: - ``nls`` / ``rba``: (−0.75, −0.10), the seed's ``inlier_upper_threshold`` / ``outlier_lower_threshold``
#:   (RbA): an inlier needs one class with tanh ≥ 0.75; an outlier may leave at most 0.1 of claimed mass.
#:   For ``nls`` they assume ``norm="tanh"``; give thresholds explicitly for ``sigmoid`` / ``none``.
#: - ``maxlogit``: (−12, −6) as for energy, an oodforge choice: ``−max z`` lies within ``log C`` above
#:   the energy, so the energy margins keep their meaning.
#:
#: Energy on mask-classification scores (the seed's code default, τ = (−1.0, −0.1)) is not usable:
#: with K classes and p_c ≥ 0, ``−logsumexp p ≤ −log K`` (−2.94 for K = 19), so τ_out = −0.1 can
#: never be met.
OE_THRESHOLDS: dict[str, tuple[float, float]] = {
    "energy": (-12.0, -6.0),
    "nls": (-0.75, -0.10),
    "rba": (-0.75, -0.10),
    "maxlogit": (-12.0, -6.0),
}

_MASK_OUTPUT_KEYS = (("class_logits", "mask_logits"), ("pred_logits", "pred_masks"))


def _pixel_class_scores(outputs: Any) -> torch.Tensor:
    """Dense (B, C, H, W) scores from a tensor, a ``(class_logits, mask_logits)`` pair or a mapping."""
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, Mapping):
        for keys in _MASK_OUTPUT_KEYS:
            if all(k in outputs for k in keys):
                return mask_class_pixel_scores(outputs[keys[0]], outputs[keys[1]])
        raise ValueCheckError(
            f"Expected a mapping of model outputs with keys {_MASK_OUTPUT_KEYS}, but got keys {sorted(outputs)}"
        )
    if isinstance(outputs, Sequence) and len(outputs) == 2:
        return mask_class_pixel_scores(outputs[0], outputs[1])
    raise ValueCheckError(
        "Expected `outputs` to be a (B, C, H, W) tensor, a (class_logits, mask_logits) pair or a mapping, "
        f"but got {type(outputs).__name__}"
    )


def oe_score(
    outputs: Any,
    kind: OEScoreKind = "energy",
    *,
    temperature: float = 1.0,
    norm: ScoreNorm = "tanh",
) -> torch.Tensor:
    r"""Anomaly score used by the OE hinge loss (higher = more anomalous), from model outputs.

    With dense scores :math:`z_c` (logits, or per-pixel class scores :math:`p_c` of a
    mask-classification model) and temperature :math:`T`:

    .. math::
        s_\text{energy} = -T \log \sum_c e^{z_c / T}, \quad
        s_\text{nls} = -\sum_c \nu(z_c / T), \quad
        s_\text{rba} = -\sum_c \tanh(\max(z_c / T, 0)), \quad
        s_\text{maxlogit} = -\max_c z_c / T

    with :math:`\nu` = ``norm`` (tanh, sigmoid or identity). ``energy``, ``rba`` and ``maxlogit`` reuse
    :func:`~oodforge.scores.energy_score`, :func:`~oodforge.scores.rba_score` (``relu=True``) and
    :func:`~oodforge.scores.maxlogit_score`; ``nls`` with tanh equals :func:`~oodforge.scores.rba_score`
    without the relu. :data:`OE_THRESHOLDS` holds matching hinge thresholds.

    Args:
        outputs: (B, C, H, W) dense logits / per-pixel class scores; or mask-classification outputs as a
            pair ``(class_logits (B, Q, K+1), mask_logits (B, Q, H, W))`` or a mapping with keys
            ``class_logits`` / ``mask_logits`` (or ``pred_logits`` / ``pred_masks``), turned into
            (B, K, H, W) scores by :func:`~oodforge.scores.mask_class_pixel_scores`.
        kind: ``"energy"``, ``"nls"`` (negative logit sum), ``"rba"`` or ``"maxlogit"``.
        temperature: T > 0 dividing the dense scores first.
        norm: Normalisation ν of ``nls``; ignored by the other kinds.

    Returns:
        (B, H, W) differentiable scores, float32 for half-precision inputs.

    Raises:
        ShapeError: If the dense scores are not 4-D.
        ValueCheckError: Unknown ``kind`` / ``norm``, a bad temperature or an unsupported ``outputs``.

    Example:
        >>> z = torch.zeros(1, 19, 1, 1)
        >>> round(oe_score(z, "energy").item(), 4), oe_score(z, "nls", norm="sigmoid").item()
        (-2.9444, -9.5)
    """
    t = check_temperature(temperature)
    z = _pixel_class_scores(outputs)
    if z.ndim != 4:
        raise ShapeError(f"Expected OE scores input to be (B, C, H, W), but got shape {tuple(z.shape)}")
    if kind == "energy":
        return energy_score(z, temperature=t)
    if kind == "rba":
        return rba_score(z, relu=True, temperature=t)
    if kind == "maxlogit":
        score = maxlogit_score(z)
        return score if t == 1.0 else score / t
    if kind == "nls":
        if norm == "tanh":
            return rba_score(z, temperature=t)
        zt = z if t == 1.0 else z / t
        zt = zt.float() if zt.dtype in (torch.float16, torch.bfloat16) else zt
        if norm == "sigmoid":
            return -torch.sigmoid(zt).sum(1)
        if norm == "none":
            return -zt.sum(1)
        raise ValueCheckError(f"Expected `norm` to be one of 'tanh', 'sigmoid', 'none', but got {norm!r}")
    raise ValueCheckError(f"Expected `kind` to be one of {sorted(OE_THRESHOLDS)}, but got {kind!r}")


def class_weights_from_frequencies(
    counts: Any,
    method: Literal["enet", "inverse", "median"] = "enet",
    *,
    c: float = 1.02,
) -> torch.Tensor:
    r"""Per-class loss weights from pixel counts, for :func:`~oodforge.learn.losses.cross_entropy_loss`.

    With frequencies :math:`p_k = n_k / \sum_j n_j`:

    .. math::
        w^\text{enet}_k = \frac{1}{\ln(c + p_k)}, \quad
        w^\text{inverse}_k = \frac{1}{K p_k}, \quad
        w^\text{median}_k = \frac{\operatorname{median}_{j: n_j > 0} p_j}{p_k}

    ENet (Paszke et al., 2016; :math:`c` = 1.02 bounds the weights in [1, 50.5]); inverse frequency
    normalised so that balanced classes get 1 (scikit-learn's "balanced"); median frequency balancing
    (Eigen & Fergus, 2015) on global frequencies. For ``inverse`` / ``median`` a class with no pixel
    gets weight 0 (it never occurs as a target, so its weight is irrelevant).

    Args:
        counts: (K,) non-negative pixel counts per class (sequence, numpy array or tensor), not all 0.
        method: ``"enet"``, ``"inverse"`` or ``"median"``.
        c: ENet constant, > 1.

    Returns:
        (K,) float32 weights on the CPU.

    Raises:
        ShapeError: If ``counts`` is not 1-D and non-empty.
        ValueCheckError: Negative / non-finite counts, a zero total, ``c ≤ 1`` or an unknown method.

    Example:
        >>> [round(w, 4) for w in class_weights_from_frequencies([3, 1], "inverse").tolist()]
        [0.6667, 2.0]
    """
    arr = counts.detach().cpu().double().numpy() if isinstance(counts, torch.Tensor) else np.asarray(counts, float)
    if arr.ndim != 1 or arr.size == 0:
        raise ShapeError(f"Expected `counts` to be a non-empty (K,) array, but got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or arr.sum() <= 0:
        raise ValueCheckError("Expected `counts` to be finite, non-negative and not all zero")
    p = arr / arr.sum()
    seen = p > 0
    if method == "enet":
        if not (isinstance(c, int | float) and math.isfinite(c) and c > 1):
            raise ValueCheckError(f"Expected `c` to be a finite number > 1, but got {c!r}")
        weights = 1.0 / np.log(c + p)
    elif method == "inverse":
        weights = np.where(seen, 1.0 / (len(p) * np.where(seen, p, 1.0)), 0.0)
    elif method == "median":
        weights = np.where(seen, np.median(p[seen]) / np.where(seen, p, 1.0), 0.0)
    else:
        raise ValueCheckError(f"Expected `method` to be one of 'enet', 'inverse', 'median', but got {method!r}")
    return torch.as_tensor(weights, dtype=torch.float32)


# --- private checks and helpers ------------------------------------------------------------------
def _check_float(x: torch.Tensor, name: str, ndim: int, layout: str) -> torch.Tensor:
    """Check a float tensor's rank; return it in float32 if it was half precision."""
    if not isinstance(x, torch.Tensor):
        raise ValueCheckError(f"Expected `{name}` to be a torch.Tensor, but got {type(x).__name__}")
    if x.ndim != ndim:
        raise ShapeError(f"Expected `{name}` to be {layout}, but got shape {tuple(x.shape)}")
    if not x.dtype.is_floating_point:
        raise ValueCheckError(f"Expected `{name}` to be a floating tensor, but got dtype {x.dtype}")
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _check_labels(x: torch.Tensor, name: str, batch: int) -> None:
    """Check a (B, H, W) integer (or bool) label map."""
    if not isinstance(x, torch.Tensor):
        raise ValueCheckError(f"Expected `{name}` to be a torch.Tensor, but got {type(x).__name__}")
    if x.ndim != 3 or x.shape[0] != batch:
        raise ShapeError(f"Expected `{name}` to be (B, H, W) with B = {batch}, but got shape {tuple(x.shape)}")
    if x.dtype.is_floating_point or x.dtype.is_complex:
        raise ValueCheckError(f"Expected `{name}` to be an integer or bool tensor, but got dtype {x.dtype}")


def _outlier_masks(outlier_mask: torch.Tensor, batch: int, validate: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Return boolean ``(inlier, outlier)`` maps of a {0, 1, 255} outlier mask (255 = ignore)."""
    _check_labels(outlier_mask, "outlier_mask", batch)
    m = outlier_mask.long()
    inlier, outlier = m == 0, m == 1
    if validate and not bool((inlier | outlier | (m == 255)).all()):
        found = sorted(torch.unique(m).tolist())[:10]
        raise ValueCheckError(f"Expected `outlier_mask` values in {{0, 1, 255}}, but got values {found}")
    return inlier, outlier


def _match_size(score: torch.Tensor, size: torch.Size) -> torch.Tensor:
    """Bilinearly resize a (B, H, W) map to ``size`` = (H', W') when it differs (align_corners=False)."""
    if score.shape[-2:] == size:
        return score
    return F.interpolate(score[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over ``mask``; 0 (still attached to the graph) when the mask is empty."""
    total = torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device)).sum()
    return total / mask.sum().clamp_min(1).to(values.dtype)
