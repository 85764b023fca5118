"""Per-pixel anomaly scores from dense logits: MSP, MaxLogit, Entropy, Energy.

Conventions shared by every function here:

- ``logits``: numpy array or torch tensor shaped (C, H, W) or (B, C, H, W); the class axis is -3.
  Per-pixel class scores of mask-classification models (see :func:`~oodforge.scores.rba.mask_class_pixel_scores`)
  are accepted the same way.
- Output: (H, W) or (B, H, W), the same kind as the input (torch stays on its device and keeps the
  autograd graph); float32 for float16 / bfloat16 / integer inputs (computed in float32), else the
  input dtype.
- **Higher = more anomalous.**
- ``temperature`` T > 0 divides the logits first (per-pixel temperature scaling, the seed's ``_pl``).
- Numerically stable: log-sum-exp subtracts the per-pixel maximum, so logits of 1e4 are fine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from oodforge.errors import ShapeError, UsageError
from oodforge.scores._backend import prepare_logits
from oodforge.scores._registry import register_score

__all__ = [
    "SOFTMAX_FAMILY", "energy_score", "entropy_score", "maxlogit_score", "msp_score", "softmax_family_scores",
]  # fmt: skip

_AXIS = -3


@register_score("msp")
def msp_score(logits: Any, *, temperature: float = 1.0) -> Any:
    r"""Maximum softmax probability score, ``1 − max_c softmax(z / T)_c`` (Hendrycks & Gimpel, 2017).

    .. math:: s = 1 - \max_c \frac{e^{z_c/T}}{\sum_k e^{z_k/T}} = -\mathrm{expm1}(\max_c z_c/T - \mathrm{LSE}(z/T))

    Args:
        logits: (C, H, W) or (B, C, H, W) float logits, class axis -3.
        temperature: Softmax temperature T > 0.

    Returns:
        (H, W) or (B, H, W) scores in [0, 1 − 1/C]; higher = more anomalous.

    Raises:
        ShapeError: If ``logits`` is not 3-D or 4-D.
        ValueCheckError: If ``temperature`` is not a finite number > 0.

    Example:
        >>> import numpy as np
        >>> logits = np.array([[[0.0, 2.0]], [[0.0, 0.0]]])  # C=2, H=1, W=2
        >>> msp_score(logits).round(4).tolist()
        [[0.5, 0.1192]]
    """
    b, z = prepare_logits(logits, temperature)
    # 1 - exp(max - lse) written with expm1 so that confident pixels keep their small scores exactly.
    return -b.expm1(b.amax(z, _AXIS) - b.logsumexp(z, _AXIS))


@register_score("maxlogit")
def maxlogit_score(logits: Any) -> Any:
    r"""Negative maximum logit, ``− max_c z_c`` (Hendrycks et al., 2022).

    Args:
        logits: (C, H, W) or (B, C, H, W) float logits, class axis -3.

    Returns:
        (H, W) or (B, H, W) scores; higher = more anomalous.

    Raises:
        ShapeError: If ``logits`` is not 3-D or 4-D.

    Example:
        >>> import numpy as np
        >>> maxlogit_score(np.array([[[1.0, 5.0]], [[3.0, -1.0]]])).tolist()
        [[-3.0, -5.0]]
    """
    b, z = prepare_logits(logits)
    return -b.amax(z, _AXIS)


@register_score("entropy")
def entropy_score(logits: Any, *, temperature: float = 1.0, normalize: bool = False) -> Any:
    r"""Shannon entropy (natural log) of ``softmax(z / T)``, optionally divided by ``log C``.

    .. math:: s = -\sum_c p_c \log p_c, \quad \log p = z/T - \operatorname{LSE}(z/T)

    Args:
        logits: (C, H, W) or (B, C, H, W) float logits, class axis -3.
        temperature: Softmax temperature T > 0.
        normalize: Divide by ``log C`` so that scores lie in [0, 1] (needs C ≥ 2). The seed
            projects report the unnormalised value (the default).

    Returns:
        (H, W) or (B, H, W) scores in [0, log C] (or [0, 1]); higher = more anomalous.

    Raises:
        ShapeError: If ``logits`` is not 3-D or 4-D, or ``normalize`` is set with a single class.
        ValueCheckError: If ``temperature`` is not a finite number > 0.

    Example:
        >>> import numpy as np
        >>> logits = np.zeros((4, 1, 1))  # uniform over 4 classes
        >>> entropy_score(logits).round(4).tolist(), entropy_score(logits, normalize=True).tolist()
        ([[1.3863]], [[1.0]])
    """
    b, z = prepare_logits(logits, temperature)
    log_p = b.log_softmax(z, _AXIS)
    # Each term −p·log p is ≥ 0 (log p ≤ 0 after max subtraction), so no clamp is needed.
    entropy = -b.sum(b.exp(log_p) * log_p, _AXIS)
    if normalize:
        num_classes = z.shape[_AXIS]
        if num_classes < 2:
            raise ShapeError(f"Expected `logits` to have at least 2 classes with normalize=True, but got {num_classes}")
        entropy = entropy / math.log(num_classes)
    return entropy


@register_score("energy")
def energy_score(logits: Any, *, temperature: float = 1.0) -> Any:
    r"""Free energy score, ``− T · logsumexp(z / T)`` (Liu et al., 2020).

    Args:
        logits: (C, H, W) or (B, C, H, W) float logits, class axis -3.
        temperature: Temperature T > 0.

    Returns:
        (H, W) or (B, H, W) scores (unbounded, ≤ − max z); higher = more anomalous.

    Raises:
        ShapeError: If ``logits`` is not 3-D or 4-D.
        ValueCheckError: If ``temperature`` is not a finite number > 0.

    Example:
        >>> import numpy as np
        >>> energy_score(np.zeros((2, 1, 1))).round(4).tolist()  # −log 2
        [[-0.6931]]
    """
    b, z = prepare_logits(logits, temperature)
    t = float(temperature)
    lse = b.logsumexp(z, _AXIS)
    return -lse if t == 1.0 else -t * lse


#: the scores :func:`softmax_family_scores` computes from one log-sum-exp
SOFTMAX_FAMILY = ("msp", "entropy", "energy")


def softmax_family_scores(logits: Any, names: Sequence[str], *, temperature: float = 1.0) -> dict[str, Any]:
    """Several of ``msp``, ``entropy``, ``energy`` at one temperature from one shared log-sum-exp.

    Each map is element for element the value the single-score function returns (same operations on the
    same intermediates: ``z = logits / T``, its maximum, ``LSE(z)``), so a caller that needs several
    scores of one output (``oodforge benchmark``) pays for the softmax once, and its maps stay
    bit-identical to ``oodforge score``'s.

    Raises:
        UsageError: a name outside :data:`SOFTMAX_FAMILY`.
    """
    unknown = [n for n in names if n not in SOFTMAX_FAMILY]
    if unknown:
        raise UsageError(f"softmax_family_scores: '{unknown[0]}' is not one of {', '.join(SOFTMAX_FAMILY)}")
    b, z = prepare_logits(logits, temperature)
    lse = b.logsumexp(z, _AXIS, keepdims=True)
    out: dict[str, Any] = {}
    for name in names:
        if name == "msp":
            out[name] = -b.expm1(b.amax(z, _AXIS) - _squeeze(lse))
        elif name == "entropy":
            log_p = z - lse
            out[name] = -b.sum(b.exp(log_p) * log_p, _AXIS)
        else:
            t = float(temperature)
            out[name] = -_squeeze(lse) if t == 1.0 else -t * _squeeze(lse)
    return out


def _squeeze(x: Any) -> Any:
    return x.squeeze(_AXIS)
