"""The Cityscapes side of ``oodforge benchmark``: the temperature fit (pixel NLL) and the mIoU per temperature.

One pass over a Cityscapes split (labelIds → train ids, void 255 ignored), one model output per frame, feeds
both when they use the same split. The fit keeps the valid pixels' logit rows, or a uniform random subsample of
``max_pixels`` of them (seed 0), and calls :func:`oodforge.scores.fit_temperature` on them; the mIoU follows
``oodforge segeval`` (argmax of the per-pixel class scores, the 19 evaluation classes, a void 20th output counts
as a miss). Dense argmaxes do not change with a temperature: the mIoU is computed once; for mask-classification
outputs scaled on the class logits (``target: class``) it is computed per temperature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from oodforge._io import read_image_rgb
from oodforge.errors import InputFileError, UsageError, every_sample_needed
from oodforge.eval._bench_source import CITYSCAPES_GROUP, Source
from oodforge.eval.suite import CityscapesSplit
from oodforge.metrics import SemanticMetrics
from oodforge.scores import fit_temperature
from oodforge.sources.cityscapes import check_split_has_labels, frame_paths, list_image_ids, load_label_ids
from oodforge.sources.cityscapes_labels import label_id_to_train_id_lut

__all__ = ["STAGE_CITYSCAPES", "CalibrationResult", "PixelSample", "cityscapes_pass", "pixel_nll"]

STAGE_CITYSCAPES = "cityscapes"
_N_EVAL = 19
_CHUNK = 1 << 16


class PixelSample:
    """Valid pixels as (N, C) logit rows and (N,) train ids; beyond ``max_pixels`` a uniform random subsample."""

    def __init__(self, max_pixels: int, seed: int = 0) -> None:
        self.max_pixels = max_pixels
        self._rng = np.random.default_rng(seed)
        self._rows: list[np.ndarray] = []
        self._ys: list[np.ndarray] = []
        self._keys: list[np.ndarray] = []
        self._n = 0

    def add(self, logits: np.ndarray, target: np.ndarray) -> None:
        """Add one frame: (C, H, W) logits and (H, W) train ids (255 ignored)."""
        valid = target != 255
        z = np.moveaxis(np.asarray(logits), 0, -1)[valid]
        self._rows.append(z.astype(np.promote_types(z.dtype, np.float32), copy=False))
        self._ys.append(target[valid].astype(np.int64))
        self._keys.append(self._rng.random(len(z)))
        self._n += len(z)
        if self._n > 2 * self.max_pixels:
            self._compact()

    def _compact(self) -> None:
        z, y, k = (np.concatenate(a) for a in (self._rows, self._ys, self._keys))
        if len(k) > self.max_pixels:
            keep = np.sort(np.argpartition(k, self.max_pixels - 1)[: self.max_pixels])
            z, y, k = z[keep], y[keep], k[keep]
        self._rows, self._ys, self._keys, self._n = [z], [y], [k], len(k)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, C) rows and (N,) train ids, in frame order."""
        if not self._n:
            raise UsageError("temperature fit: no labelled (non-void) pixel in the calibration split")
        self._compact()
        return self._rows[0], self._ys[0]


def pixel_nll(z: np.ndarray, y: np.ndarray, temperature: float) -> float:
    """Mean NLL of softmax(z / T) at the train ids ``y`` (float64, in chunks)."""
    total = 0.0
    for start in range(0, len(z), _CHUNK):
        s = z[start : start + _CHUNK].astype(np.float64) / temperature
        m = s.max(axis=1)
        lse = np.log(np.exp(s - m[:, None]).sum(axis=1)) + m
        total += float(np.sum(lse - s[np.arange(len(s)), y[start : start + _CHUNK]]))
    return total / len(z)


@dataclass
class CalibrationResult:
    """What the Cityscapes pass measured: the fitted T with its NLL, the mIoU per class temperature."""

    temperature: float | None = None
    nll: float | None = None
    nll_at_1: float | None = None
    n_pixels: int = 0
    miou: dict[float, float] = field(default_factory=dict)


def _frames(split: CityscapesSplit) -> list[str]:
    root = Path(split.root)
    ids = list_image_ids(root, split.split)[: split.limit]
    check_split_has_labels(root, split.split, ids)
    return ids


def cityscapes_pass(
    source: Source,
    split: CityscapesSplit,
    *,
    fit: bool,
    miou_temperatures: list[float] | None,
    progress: Callable[[str, int, int], None] | None = None,
) -> CalibrationResult:
    """Run the source once over a Cityscapes split for the fit and / or the mIoU (module docstring).

    Args:
        source: the model or the saved logits (``<logits>/cityscapes/<image_id>``).
        split: root, split, limit and ``max_pixels`` (fit).
        fit: fit a temperature on the per-pixel class scores (class temperature 1).
        miou_temperatures: class-query temperatures to compute the mIoU at ([1.0] for dense outputs), or None.
        progress: ``progress(stage, done, total)``.

    Raises:
        DataLayoutError: not a Cityscapes split with labels.
        InputFileError: a missing or unreadable frame, label or logits file; an output of another size.
    """
    root = Path(split.root)
    ids = _frames(split)
    source.check(CITYSCAPES_GROUP, ids)
    lut = label_id_to_train_id_lut()
    sample = PixelSample(split.max_pixels) if fit else None
    metrics: dict[float, SemanticMetrics] = {}
    for k, image_id in enumerate(ids, start=1):
        frame = frame_paths(root, split.split, image_id)
        with every_sample_needed():
            target = lut[load_label_ids(frame.label_path)]
            output = source.output(CITYSCAPES_GROUP, image_id, partial(read_image_rgb, frame.image_path))
        if output.hw != target.shape:
            raise InputFileError(
                f"{source.where(CITYSCAPES_GROUP, image_id)}: output is {output.hw[1]}x{output.hw[0]}, the label "
                f"{target.shape[1]}x{target.shape[0]} (width x height); expected outputs at the image size"
            )
        if sample is not None:
            sample.add(output.pixel_scores(1.0), target)
        for t in miou_temperatures or []:
            scores = output.pixel_scores(t)
            if t not in metrics:
                metrics[t] = SemanticMetrics(max(int(scores.shape[0]), _N_EVAL), eval_classes=_N_EVAL)
            metrics[t].update(np.argmax(scores, axis=0).astype(np.uint8), target)
        if progress is not None:
            progress(STAGE_CITYSCAPES, k, len(ids))
    result = CalibrationResult(miou={t: float(m.compute().miou) for t, m in metrics.items()})
    if sample is not None:
        z, y = sample.arrays()
        if int(y.max()) >= z.shape[1]:
            raise InputFileError(f"{root}: train id {int(y.max())} but the outputs have {z.shape[1]} classes")
        t_fit = fit_temperature(z.T[:, :, None], y[:, None], max_pixels=len(y))
        result.temperature = t_fit
        result.nll, result.nll_at_1, result.n_pixels = pixel_nll(z, y, t_fit), pixel_nll(z, y, 1.0), len(y)
    return result
