"""Component-level metrics of SegmentMeIfYouCan: sIoU, PPV and mean F1 over 11 sIoU thresholds.

Per frame, ground-truth components are the 8-connected components of ``labels == 1``; predicted
components those of the prediction with void pixels removed (instance annotations are not used,
touching objects merge). Track size filters (``metrics.md`` section 4):

============  ===========================  =========================
track         min predicted component      min ground-truth component
============  ===========================  =========================
``anomaly``   500 px (smaller: deleted)    100 px (smaller: void)
``obstacle``  50 px                        10 px
============  ===========================  =========================

Split-level numbers: TP_t = #{gt: sIoU >= t}, FN_t = #{gt: sIoU < t}, FP_t = #{pred: PPV < t}
summed over frames for t in ``np.linspace(0.25, 0.75, 11)``; F1_t = 2TP / (2TP + FN + FP);
``f1_mean`` is their mean; ``siou_gt`` and ``ppv`` are means over all components of the split.
Undefined cases are NaN, without warning: ``siou_gt`` with no ground-truth component, ``ppv`` and
``siou_pred`` with no predicted component, F1_t (and ``f1_mean``) with no component at all.

Inputs are checked like the pixel metrics': NaN scores on valid pixels and a NaN threshold raise
:class:`~oodforge.errors.ValueCheckError`; torch bfloat16 tensors are read as float32; an empty frame
(no pixel, or no valid pixel) holds no component and adds nothing, as in the pixel metrics.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from oodforge.errors import ValueCheckError
from oodforge.metrics._checks import (
    as_array,
    check_choice,
    check_label_dtype,
)
from oodforge.metrics._component_inputs import check_inputs, float16_threshold, strictly_above
from oodforge.metrics._components import (
    FrameComponents,
    FrameTruth,
    frame_components,
    frame_truth,
    truth_components,
)

__all__ = ["SIOU_THRESHOLDS", "TRACK_SIZES", "ComponentMetrics", "ComponentResult", "component_metrics"]

Track = Literal["anomaly", "obstacle"]
ThresholdDtype = Literal["float16", "float64"]

#: The 11 sIoU thresholds (exact float64 values of the official ``np.linspace``).
SIOU_THRESHOLDS: np.ndarray = np.linspace(0.25, 0.75, 11)
#: (min predicted component, min ground-truth component) in pixels per track.
TRACK_SIZES: dict[str, tuple[int, int]] = {"anomaly": (500, 100), "obstacle": (50, 10)}


@dataclass(frozen=True)
class ComponentResult:
    """Split-level component metrics; per-threshold tuples follow :data:`SIOU_THRESHOLDS`."""

    siou_gt: float
    ppv: float
    siou_pred: float
    f1_mean: float
    f1_25: float
    f1_50: float
    f1_75: float
    f1: tuple[float, ...]
    tp: tuple[int, ...]
    fn: tuple[int, ...]
    fp: tuple[int, ...]
    num_gt: int
    num_pred: int

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (JSON-ready)."""
        return asdict(self)


class _State:
    """Bounded state: per-threshold counts and component sums."""

    def __init__(self) -> None:
        self.tp = np.zeros(len(SIOU_THRESHOLDS), dtype=np.int64)
        self.fn = np.zeros(len(SIOU_THRESHOLDS), dtype=np.int64)
        self.fp = np.zeros(len(SIOU_THRESHOLDS), dtype=np.int64)
        self.sums = np.zeros(3)  # sIoU gt, PPV, sIoU pred
        self.num_gt = 0
        self.num_pred = 0

    def merge(self, other: _State) -> None:
        self.tp += other.tp
        self.fn += other.fn
        self.fp += other.fp
        self.sums += other.sums
        self.num_gt += other.num_gt
        self.num_pred += other.num_pred


def _check_args(
    track: str, threshold: float | None, threshold_dtype: str, sizes: tuple[int | None, int | None]
) -> tuple[int, int]:
    check_choice(track, "track", tuple(TRACK_SIZES))
    check_choice(threshold_dtype, "threshold_dtype", ("float16", "float64"))
    if threshold is not None and math.isnan(threshold):
        raise ValueCheckError(f"Expected `threshold` to be a number, but got {threshold}")
    defaults = TRACK_SIZES[track]
    out = tuple(d if s is None else int(s) for s, d in zip(sizes, defaults, strict=True))
    if min(out) < 0:
        raise ValueCheckError(f"Expected non-negative component size filters, but got {out}")
    return out[0], out[1]


def _update(state: _State, masks: np.ndarray, gt: np.ndarray, valid: np.ndarray, sizes: tuple[int, int]) -> None:
    if not masks.size:  # e.g. (B, 0, 0) frames: no pixel, no component (OpenCV refuses empty images)
        return
    for b in range(masks.shape[0]):
        _add(state, frame_components(masks[b], gt[b], valid[b], sizes[0], sizes[1]))


def _add(state: _State, fc: FrameComponents) -> None:
    t = SIOU_THRESHOLDS[:, None]
    state.tp += np.count_nonzero(fc.siou_gt >= t, axis=1)
    state.fn += np.count_nonzero(fc.siou_gt < t, axis=1)
    state.fp += np.count_nonzero(fc.ppv < t, axis=1)
    state.sums += [np.sum(fc.siou_gt), np.sum(fc.ppv), np.sum(fc.siou_pred)]
    state.num_gt += len(fc.siou_gt)
    state.num_pred += len(fc.ppv)


def _compute(state: _State) -> ComponentResult:
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * state.tp / (2 * state.tp + state.fn + state.fp)
        siou_gt = state.sums[0] / state.num_gt if state.num_gt else float("nan")
        ppv, siou_pred = state.sums[1:] / state.num_pred if state.num_pred else (float("nan"),) * 2
    return ComponentResult(
        siou_gt=float(siou_gt),
        ppv=float(ppv),
        siou_pred=float(siou_pred),
        f1_mean=float(np.mean(f1)),
        f1_25=float(f1[0]),
        f1_50=float(f1[5]),
        f1_75=float(f1[10]),
        f1=tuple(float(v) for v in f1),
        tp=tuple(int(v) for v in state.tp),
        fn=tuple(int(v) for v in state.fn),
        fp=tuple(int(v) for v in state.fp),
        num_gt=state.num_gt,
        num_pred=state.num_pred,
    )


class ComponentMetrics:
    """Accumulate SMIYC component statistics over frames (bounded state: 33 counts and 3 sums).

    Predictions are bool masks, or scores thresholded with the official strict ``score > threshold``
    (use the pixel ``best_f1_threshold`` of the ``smiyc`` protocol). Scores are cast to float16 like
    the submission files; ``threshold_dtype="float16"`` (default) compares in float16 with the
    threshold rounded to float16, as the official code does under its pinned numpy 1.23;
    ``"float64"`` compares in float64 (official code under numpy >= 2).

    Args:
        track: ``"anomaly"`` or ``"obstacle"``; sets the size filters of :data:`TRACK_SIZES`.
        threshold: Score threshold; required unless predictions are bool.
        min_pred_size: Override of the track's minimum predicted component size.
        min_gt_size: Override of the track's minimum ground-truth component size.
        threshold_dtype: ``"float16"`` or ``"float64"``.

    Example:
        >>> import numpy as np
        >>> labels = np.zeros((40, 40), np.uint8)
        >>> labels[5:15, 5:15] = 1
        >>> pred = np.zeros((40, 40), bool)
        >>> pred[5:15, 5:10] = True
        >>> metric = ComponentMetrics("obstacle")
        >>> metric.update(pred, labels)
        >>> r = metric.compute()
        >>> r.siou_gt, r.ppv, r.f1_25, r.f1_50, round(r.f1_mean, 4)
        (0.5, 1.0, 1.0, 1.0, 0.5455)
    """

    def __init__(
        self,
        track: Track = "obstacle",
        *,
        threshold: float | None = None,
        min_pred_size: int | None = None,
        min_gt_size: int | None = None,
        threshold_dtype: ThresholdDtype = "float16",
    ) -> None:
        self.sizes = _check_args(track, threshold, threshold_dtype, (min_pred_size, min_gt_size))
        self.track = track
        self.threshold = threshold
        self.threshold_dtype = threshold_dtype
        self._state = _State()

    def update(self, predictions: Any, labels: Any) -> None:
        """Add one (H, W) frame or a (B, H, W) batch.

        Args:
            predictions: bool masks or float scores (higher = more anomalous).
            labels: Integer labels, 0 normal, 1 anomaly, anything else void.
        """
        _update(self._state, *check_inputs(predictions, labels, self.threshold, self.threshold_dtype), self.sizes)

    @staticmethod
    def truth(labels: Any) -> FrameTruth:
        """One (H, W) frame's ground truth, to score several predictions against (:meth:`update_masks`).

        Args:
            labels: (H, W) integer labels: 0 normal, 1 anomaly, anything else void.
        """
        lab = as_array(labels, "labels")
        check_label_dtype(lab)
        if lab.ndim != 2:
            raise ValueCheckError(f"Expected (H, W) labels, but got shape {lab.shape}")
        gt = lab == 1
        return frame_truth(gt, lab <= 1 if lab.dtype.kind == "u" else gt | (lab == 0))

    def predict(self, scores16: np.ndarray) -> np.ndarray:
        """The predicted mask of float16 scores under this metric's threshold rule (strict ``>``, module docs).

        Args:
            scores16: float16 scores, already checked finite on valid pixels.
        """
        if self.threshold is None:
            raise ValueCheckError("Expected `threshold` for score predictions (or pass bool masks), but got None")
        return strictly_above(scores16, float16_threshold(self.threshold, self.threshold_dtype))

    def update_masks(self, masks: np.ndarray, truth: FrameTruth) -> None:
        """Add one frame's (H, W) bool prediction against its :meth:`truth` (the label side computed once).

        Same state as :meth:`update` with the frame's labels.
        """
        if masks.dtype != np.bool_ or masks.shape != truth.gt_mask.shape:
            raise ValueCheckError(
                f"Expected a bool mask of shape {truth.gt_mask.shape}, but got {masks.shape} {masks.dtype}"
            )
        if masks.size:
            _add(self._state, truth_components(masks, truth, *self.sizes))

    def merge(self, other: ComponentMetrics) -> ComponentMetrics:
        """Absorb the state of ``other`` (same size filters). Returns ``self``."""
        if not isinstance(other, ComponentMetrics) or other.sizes != self.sizes:
            raise ValueCheckError(f"Expected a ComponentMetrics with sizes {self.sizes}, but got {other!r}")
        self._state.merge(other._state)
        return self

    def compute(self) -> ComponentResult:
        """Split-level metrics of every frame seen so far."""
        return _compute(self._state)

    def reset(self) -> None:
        """Forget every frame seen."""
        self._state = _State()


def component_metrics(
    predictions: Any,
    labels: Any,
    track: Track = "obstacle",
    *,
    threshold: float | None = None,
    min_pred_size: int | None = None,
    min_gt_size: int | None = None,
    threshold_dtype: ThresholdDtype = "float16",
) -> ComponentResult:
    """Functional twin of :class:`ComponentMetrics` for one (H, W) frame or a (B, H, W) batch.

    Args:
        predictions: bool masks or float scores, (H, W) or (B, H, W).
        labels: Integer labels of the same shape: 0 normal, 1 anomaly, anything else void.
        track: ``"anomaly"`` or ``"obstacle"``.
        threshold: Score threshold (strict ``>``); required unless predictions are bool.
        min_pred_size: Override of the track's minimum predicted component size.
        min_gt_size: Override of the track's minimum ground-truth component size.
        threshold_dtype: ``"float16"`` (official under numpy 1.23) or ``"float64"``.

    Returns:
        The split-level metrics of the given frames.

    Example:
        >>> import numpy as np
        >>> labels = np.zeros((40, 40), np.uint8)
        >>> labels[5:15, 5:15] = 1
        >>> scores = np.zeros((40, 40), np.float32)
        >>> scores[20:30, 20:30] = 0.9
        >>> r = component_metrics(scores, labels, "obstacle", threshold=0.5)
        >>> r.siou_gt, r.ppv, r.tp[0], r.fn[0], r.fp[0], r.f1_mean
        (0.0, 0.0, 0, 1, 1, 0.0)
    """
    sizes = _check_args(track, threshold, threshold_dtype, (min_pred_size, min_gt_size))
    state = _State()
    _update(state, *check_inputs(predictions, labels, threshold, threshold_dtype), sizes)
    return _compute(state)
