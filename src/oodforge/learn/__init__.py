"""Learning to detect anomalies: outlier exposure on the fly, losses, anomaly heads, training (needs torch).

Names are imported lazily, so ``import oodforge.learn`` does not import torch; the first access to
one of them imports its submodule (``pip install 'oodforge[torch]'``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oodforge.learn.data import CityscapesSegmentation, class_balanced_sampler, class_pixel_counts
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
    from oodforge.learn.outlier_dataset import OutlierPasteDataset
    from oodforge.learn.outlier_paste import OutlierPaste, OutlierPasteConfig
    from oodforge.learn.train import train
    from oodforge.learn.train_config import TrainConfig, load_train_config

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
    **dict.fromkeys(["OutlierPaste", "OutlierPasteConfig"], "oodforge.learn.outlier_paste"),
    "OutlierPasteDataset": "oodforge.learn.outlier_dataset",
    **dict.fromkeys(["CityscapesSegmentation", "class_balanced_sampler", "class_pixel_counts"], "oodforge.learn.data"),
    "train": "oodforge.learn.train",
    **dict.fromkeys(["TrainConfig", "load_train_config"], "oodforge.learn.train_config"),
}

__all__ = [
    "OE_THRESHOLDS",
    "STATISTICS",
    "CityscapesSegmentation",
    "CrossEntropyLoss",
    "EntropyMaximizationLoss",
    "HybridHead",
    "OutlierBCELoss",
    "OutlierHingeLoss",
    "OutlierPaste",
    "OutlierPasteConfig",
    "OutlierPasteDataset",
    "StatisticsHead",
    "TrainConfig",
    "class_balanced_sampler",
    "class_pixel_counts",
    "class_weights_from_frequencies",
    "cross_entropy_loss",
    "entropy_maximization_loss",
    "head_score",
    "load_train_config",
    "oe_score",
    "outlier_bce_loss",
    "outlier_hinge_loss",
    "train",
    "uncertainty_statistics",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
