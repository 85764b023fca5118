"""Evaluate score maps on a benchmark split (``oodforge eval``), make score maps (``oodforge score``).

- :func:`evaluate`: per-image score files + a benchmark reader → pooled pixel metrics (AP, AUROC,
  FPR95, best F1), SMIYC component metrics where the benchmark has them, PR / ROC points and a score
  histogram, as an :class:`EvalReport` (``to_dict()`` is strict JSON).
- :mod:`~oodforge.eval.score_io`: the ``<image_id>.npy`` / ``.npz`` score-map files and their checks.
- :func:`score_logits_dir`: saved logits → score maps with a registered score (MSP, energy, RbA, …).
- :func:`rx_score`: a model-free colour baseline (RX detector) used by the demo.
- :mod:`~oodforge.eval.plots`: PR, ROC and histogram PNGs (needs ``pip install 'oodforge[plots]'``).

Importing this package imports neither torch nor matplotlib.
"""

from oodforge.eval.baseline import rx_score, score_dataset_images
from oodforge.eval.evaluate import PROTOCOLS, evaluate
from oodforge.eval.report import EvalCurves, EvalReport, ScoreHistogram
from oodforge.eval.score_io import find_score_files, read_score_map, write_score_map
from oodforge.eval.scoring import score_logits_dir

__all__ = [
    "PROTOCOLS",
    "EvalCurves",
    "EvalReport",
    "ScoreHistogram",
    "evaluate",
    "find_score_files",
    "read_score_map",
    "rx_score",
    "score_dataset_images",
    "score_logits_dir",
    "write_score_map",
]
