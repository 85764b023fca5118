"""Tiny ``oodforge synth`` datasets with known labels and score maps for the evaluator tests.

Importable as ``eval_fixtures`` (``tests/eval/conftest.py`` and ``tests/cli/test_eval_cli.py`` load it);
it loads ``tests/benchmarks/fixtures.py`` as ``benchmark_fixtures`` when that is not loaded yet.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np


def load_module(name: str, path: Path):
    """Import ``path`` as module ``name`` once (tests are not packages)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


bf = load_module("benchmark_fixtures", Path(__file__).parents[1] / "benchmarks" / "fixtures.py")
H, W = bf.H, bf.W  # 32 x 64

#: Test-split image ids of :func:`make_synth` (one more failed record is in the manifest).
IDS = ("aachen_000000_000019", "bochum_000001_000019", "cologne_000002_000019")
FAILED_ID = "dusseldorf_000003_000019"


def frame_label(k: int) -> np.ndarray:
    """uint8 (H, W) label of frame k: a 20 x 30 anomaly block (600 px), void rows, the rest normal."""
    label = np.zeros((H, W), np.uint8)
    top, left = 4 + 2 * k, 5 + 10 * k
    label[top : top + 20, left : left + 30] = 1
    label[28:, :] = 255
    if k == 1:
        label[:2, :] = 255
    return label


def make_synth(root: Path, labels: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Write a synth dataset (split ``test``: :data:`IDS` ok + one failed record; split ``val``: one frame).

    Returns:
        image id -> label of the ``test`` split.
    """
    records = [("test", i, "ok") for i in IDS] + [("test", FAILED_ID, "failed"), ("val", "erfurt_000000_000001", "ok")]
    bf.write_synth(root, records)
    labels = labels or {i: frame_label(k) for k, i in enumerate(IDS)}
    for image_id, label in labels.items():
        bf.write_label(root / "test" / "gt_pixel" / f"{image_id}.png", label)
    return labels


def random_scores(labels: dict[str, np.ndarray], seed: int = 0, dtype: type = np.float32) -> dict[str, np.ndarray]:
    """Noisy scores, higher on anomaly pixels, with ties (rounded to 1/64)."""
    rng = np.random.default_rng(seed)
    out = {}
    for image_id, label in labels.items():
        s = rng.random(label.shape) + 0.4 * (label == 1)
        out[image_id] = (np.round(s * 64) / 64).astype(dtype)
    return out


def write_scores(scores_dir: Path, scores: dict[str, np.ndarray]) -> Path:
    """``scores_dir/<id>.npy`` for each map, saved as given (no dtype change)."""
    scores_dir.mkdir(parents=True, exist_ok=True)
    for image_id, s in scores.items():
        np.save(scores_dir / f"{image_id}.npy", s)
    return scores_dir
