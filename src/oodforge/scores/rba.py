r"""Scores for mask-classification models (Mask2Former, EoMT): per-pixel class scores and RbA.

A mask-classification head predicts, for each of Q queries, class logits over K classes plus a
"no object" column (Q, K+1) and a mask logit map (Q, H, W). The per-pixel class scores are

.. math:: p_c(x) = \sum_q \operatorname{softmax}(\ell_q / T)_c \, \sigma(m_q(x)), \quad c < K

(the no-object column is dropped after the softmax). Rejected by All (RbA, Nayal et al., ICCV 2023)
scores a pixel as ``− Σ_c tanh(p_c)``: high when no class claims the pixel.

Temperature scaling comes in two flavours, as in the seed projects: on the class-query logits
(``_cl``: ``temperature`` of :func:`mask_class_pixel_scores`) and on the per-pixel scores (``_pl``:
``temperature`` of :func:`rba_score`, :func:`~oodforge.scores.msp_score`, …, which divide their input).
"""

from __future__ import annotations

from typing import Any

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.scores._backend import check_ndim, check_temperature, get_backend, prepare_logits
from oodforge.scores._registry import register_score

__all__ = ["mask_class_pixel_scores", "rba_score"]


def mask_class_pixel_scores(class_logits: Any, mask_logits: Any, *, temperature: float = 1.0) -> Any:
    r"""Per-pixel class scores of a mask-classification output: ``Σ_q softmax(ℓ_q / T)[:K] · sigmoid(m_q)``.

    Args:
        class_logits: (Q, K+1) or (B, Q, K+1) class logits per query; the last column is "no object".
        mask_logits: (Q, H, W) or (B, Q, H, W) mask logits per query (before the sigmoid), the same
            kind (numpy / torch) and batch layout as ``class_logits``.
        temperature: Temperature T > 0 applied to the class logits before the softmax (``_cl``).

    Returns:
        (K, H, W) or (B, K, H, W) scores in [0, Q], the input's kind; float32 for float16 inputs,
        otherwise the promoted input dtype. Feed them to :func:`rba_score` or any dense score.

    Raises:
        ShapeError: Wrong ranks, mismatched batch or query counts, or fewer than 2 class columns.
        ValueCheckError: Mixed numpy / torch inputs, or a bad temperature.

    Example:
        >>> import numpy as np
        >>> class_logits = np.array([[0.0, 0.0, -1e9], [-1e9, 0.0, 0.0]])  # Q=2, K=2 (+ no-object)
        >>> mask_logits = np.array([[[40.0, -40.0]], [[-40.0, 40.0]]])  # Q=2, H=1, W=2
        >>> mask_class_pixel_scores(class_logits, mask_logits).round(4).tolist()
        [[[0.5, 0.0]], [[0.5, 0.5]]]
    """
    t = check_temperature(temperature)
    backend = get_backend(class_logits)
    if get_backend(mask_logits) is not backend:
        raise ValueCheckError(
            f"Expected `class_logits` and `mask_logits` to be the same kind, but got "
            f"{type(class_logits).__name__} and {type(mask_logits).__name__}"
        )
    check_ndim(class_logits, "class_logits", {2: "(Q, K+1)", 3: "(B, Q, K+1)"})
    check_ndim(mask_logits, "mask_logits", {3: "(Q, H, W)", 4: "(B, Q, H, W)"})
    if class_logits.ndim + 1 != mask_logits.ndim or class_logits.shape[:-1] != mask_logits.shape[:-2]:
        raise ShapeError(
            "Expected `class_logits` (B, Q, K+1) / (Q, K+1) and `mask_logits` (B, Q, H, W) / (Q, H, W) "
            f"to share batch and query sizes, but got shapes {tuple(class_logits.shape)} and {tuple(mask_logits.shape)}"
        )
    if class_logits.shape[-1] < 2:
        raise ShapeError(
            f"Expected `class_logits` to have K+1 ≥ 2 columns (last = no-object), but got {tuple(class_logits.shape)}"
        )
    cls = backend.to_float(class_logits, "class_logits")
    masks = backend.to_float(mask_logits, "mask_logits")
    probs = backend.softmax(cls if t == 1.0 else cls / t, -1)[..., :-1]
    probs, masks = backend.promote(probs, backend.sigmoid(masks))
    return backend.einsum("...qk,...qhw->...khw", probs, masks)


@register_score("rba")
def rba_score(pixel_class_scores: Any, *, relu: bool = False, temperature: float = 1.0) -> Any:
    r"""Rejected-by-All score, ``− Σ_c tanh(s_c / T)`` over per-pixel class scores.

    Args:
        pixel_class_scores: (K, H, W) or (B, K, H, W), class axis -3: the output of
            :func:`mask_class_pixel_scores` (values in [0, Q]) or, more loosely, dense logits.
        relu: Compute ``− Σ_c tanh(relu(s_c / T))`` as the seed repository's inference notebook
            does. Identical for mask-classification scores (already ≥ 0); it only matters for inputs
            with negative values such as raw logits, where it ignores negative evidence.
        temperature: T > 0 dividing the scores first (per-pixel temperature scaling, ``_pl``).

    Returns:
        (H, W) or (B, H, W) scores in [−K, K] ([−K, 0] for non-negative inputs or ``relu=True``);
        higher = more anomalous.

    Raises:
        ShapeError: If the input is not 3-D or 4-D.
        ValueCheckError: If ``temperature`` is not a finite number > 0.

    Example:
        >>> import numpy as np
        >>> scores = np.array([[[0.5, 0.1]], [[0.5, 0.0]]])  # K=2, H=1, W=2
        >>> rba_score(scores).round(4).tolist()  # a claimed pixel, then one that no class claims
        [[-0.9242, -0.0997]]
    """
    b, s = prepare_logits(pixel_class_scores, temperature, name="pixel_class_scores")
    if relu:
        s = b.relu(s)
    return -b.sum(b.tanh(s), -3)
