"""Per-pixel anomaly scores for numpy arrays and torch tensors; higher = more anomalous.

Dense scores take logits (C, H, W) or (B, C, H, W) (class axis -3) and return (H, W) / (B, H, W)
of the same kind: :func:`msp_score`, :func:`maxlogit_score`, :func:`entropy_score`,
:func:`energy_score`, :func:`sml_score` (with :func:`fit_sml_stats`). Mask-classification outputs
(Mask2Former / EoMT) go through :func:`mask_class_pixel_scores` and then :func:`rba_score`.
:func:`fit_temperature` fits a softmax temperature by NLL. Scores are also reachable by name
(:func:`create_score`, :func:`list_scores`).

Importing this package does not import torch; the ``nn.Module`` twins live in
:mod:`oodforge.scores.modules`, which needs torch (``pip install oodforge[torch]``).
"""

from oodforge.scores._registry import create_score, is_score, list_scores, register_score
from oodforge.scores.pixel import energy_score, entropy_score, maxlogit_score, msp_score
from oodforge.scores.rba import mask_class_pixel_scores, rba_score
from oodforge.scores.sml import SMLStats, fit_sml_stats, sml_score
from oodforge.scores.temperature import fit_temperature, temperature_scale

__all__ = [
    "SMLStats",
    "create_score",
    "energy_score",
    "entropy_score",
    "fit_sml_stats",
    "fit_temperature",
    "is_score",
    "list_scores",
    "mask_class_pixel_scores",
    "maxlogit_score",
    "msp_score",
    "rba_score",
    "register_score",
    "sml_score",
    "temperature_scale",
]
