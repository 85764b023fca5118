"""``torch.nn.Module`` twins of the score functions (kornia style): they store hyper-parameters only.

This module imports torch at the top and is therefore not imported by ``oodforge.scores``; install
the extra with ``pip install oodforge[torch]``. Each ``forward`` calls the function of the same
name, so gradients flow and results are identical.

Example:
    >>> import torch
    >>> score = EnergyScore(temperature=2.0)(torch.zeros(1, 4, 1, 1, dtype=torch.float64))  # −2 log 4
    >>> round(score.item(), 4), tuple(score.shape)
    (-2.7726, (1, 1, 1))
"""

from __future__ import annotations

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError("oodforge.scores.modules needs torch: pip install 'oodforge[torch]'") from exc

from oodforge.scores._backend import check_temperature
from oodforge.scores.pixel import energy_score, entropy_score, maxlogit_score, msp_score
from oodforge.scores.rba import mask_class_pixel_scores, rba_score

__all__ = ["EnergyScore", "EntropyScore", "MSPScore", "MaxLogitScore", "RbAScore"]


class MSPScore(nn.Module):
    """Module form of :func:`~oodforge.scores.msp_score`: (B, C, H, W) / (C, H, W) logits → (B, H, W) / (H, W)."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = check_temperature(temperature)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """Return ``1 − max softmax(logits / T)``; higher = more anomalous."""
        return msp_score(logits, temperature=self.temperature)

    def extra_repr(self) -> str:  # noqa: D102
        return f"temperature={self.temperature}"


class MaxLogitScore(nn.Module):
    """Module form of :func:`~oodforge.scores.maxlogit_score`: logits → ``− max logit``."""

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """Return ``− max_c logits``; higher = more anomalous."""
        return maxlogit_score(logits)


class EntropyScore(nn.Module):
    """Module form of :func:`~oodforge.scores.entropy_score`: logits → softmax entropy (optionally / log C)."""

    def __init__(self, temperature: float = 1.0, normalize: bool = False) -> None:
        super().__init__()
        self.temperature = check_temperature(temperature)
        self.normalize = bool(normalize)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """Return the entropy of ``softmax(logits / T)``; higher = more anomalous."""
        return entropy_score(logits, temperature=self.temperature, normalize=self.normalize)

    def extra_repr(self) -> str:  # noqa: D102
        return f"temperature={self.temperature}, normalize={self.normalize}"


class EnergyScore(nn.Module):
    """Module form of :func:`~oodforge.scores.energy_score`: logits → ``− T · logsumexp(logits / T)``."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = check_temperature(temperature)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """Return the free energy; higher = more anomalous."""
        return energy_score(logits, temperature=self.temperature)

    def extra_repr(self) -> str:  # noqa: D102
        return f"temperature={self.temperature}"


class RbAScore(nn.Module):
    """Module form of :func:`~oodforge.scores.rba_score`, optionally from raw mask-classification outputs.

    Args:
        relu: Use ``tanh(relu(·))`` as the seed inference notebook (see :func:`~oodforge.scores.rba_score`).
        temperature: Per-pixel temperature (``_pl``) dividing the class scores.
        class_temperature: Class-logit temperature (``_cl``), used only when ``forward`` gets mask logits.
    """

    def __init__(self, relu: bool = False, temperature: float = 1.0, class_temperature: float = 1.0) -> None:
        super().__init__()
        self.relu = bool(relu)
        self.temperature = check_temperature(temperature)
        self.class_temperature = check_temperature(class_temperature, "class_temperature")

    def forward(self, scores: torch.Tensor, mask_logits: torch.Tensor | None = None) -> torch.Tensor:
        """Return the RbA map (H, W) / (B, H, W); higher = more anomalous.

        Args:
            scores: Per-pixel class scores (K, H, W) / (B, K, H, W), or, when ``mask_logits`` is given,
                class logits (Q, K+1) / (B, Q, K+1).
            mask_logits: Optional mask logits (Q, H, W) / (B, Q, H, W).

        Returns:
            The score map.
        """
        if mask_logits is not None:
            scores = mask_class_pixel_scores(scores, mask_logits, temperature=self.class_temperature)
        return rba_score(scores, relu=self.relu, temperature=self.temperature)

    def extra_repr(self) -> str:  # noqa: D102
        return f"relu={self.relu}, temperature={self.temperature}, class_temperature={self.class_temperature}"
