"""Learning to detect anomalies: outlier-exposure losses and anomaly heads (needs torch).

Names are imported lazily, so ``import oodforge.learn`` does not import torch; the first access to
one of them imports its submodule (``pip install 'oodforge[torch]'``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oodforge.learn.heads import STATISTICS, HybridHead, StatisticsHead, head_score, uncertainty_statistics
    from oodforge.learn.losses import (
        OE_THRESHOLDS,
        CrossEntropyLoss,
        EntropyMaximizationLoss,
        OutlierBCELoss,
        OutlierHingeLoss,
        class_weights_from_frequencies,
        cross_entropy_loss,
        entropy_maximization_loss,
        oe_score,
        outlier_bce_loss,
        outlier_hinge_loss,
    )

#: Public name → submodule that defines it.
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        [
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
        ],
        "oodforge.learn.losses",
    ),
    **dict.fromkeys(
        ["STATISTICS", "HybridHead", "StatisticsHead", "head_score", "uncertainty_statistics"],
        "oodforge.learn.heads",
    ),
}

__all__ = [
    "OE_THRESHOLDS",
    "STATISTICS",
    "CrossEntropyLoss",
    "EntropyMaximizationLoss",
    "HybridHead",
    "OutlierBCELoss",
    "OutlierHingeLoss",
    "StatisticsHead",
    "class_weights_from_frequencies",
    "cross_entropy_loss",
    "entropy_maximization_loss",
    "head_score",
    "oe_score",
    "outlier_bce_loss",
    "outlier_hinge_loss",
    "uncertainty_statistics",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
