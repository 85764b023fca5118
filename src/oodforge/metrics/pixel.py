"""Pixel-level anomaly segmentation metrics: AP, AUROC, FPR@95TPR, best F1, pooled over all pixels.

Conventions: ``scores`` are floats, higher = more anomalous; ``labels`` are integers (or bool),
0 normal, 1 anomaly, every other value (255 included) void. Every number is pooled over all valid
pixels seen, never averaged per image.

Protocols (``metrics.md`` sections 1-3):

``fishyscapes``
    Exact curve over the scores cast to float32 (float16 scores are kept as exact key
    histograms). AP equals ``sklearn.metrics.average_precision_score``, AUROC equals
    ``roc_auc_score``. Shape free: any array shape, all pixels pooled.
``smiyc``
    SegmentMeIfYouCan 2023 code: scores cast to float16, per-frame quantile bins, collapsed
    pooled curve. The bin edges are those of that code under the numpy it pins (1.23: float16
    score range, float64 ``+-eps`` margin; :mod:`oodforge.metrics.smiyc`, ``docs/metrics.md``),
    also for frames reaching float16's 65504 or of one constant score. Finite scores beyond
    +-65504 (inf in float16) are refused. ``index0_quirk=True`` (``smiyc`` only) reproduces the
    official partial point at index 0 (depends on frame order and numpy's unstable argsort tie
    order; the official frame order is itself nondeterministic), the default is the
    deterministic closed form.
``smiyc2021``
    The paper-era code: outer edges 0 and 1, no collapse, trapezoid AP and AUROC. Order-dependent
    like the quirk (frames in update order, ties in numpy's default argsort order).

``fpr_mode="first"`` gives the FPR of the first (highest-threshold) curve point with TPR >= 0.95;
``"interpolated"`` the FPR linearly interpolated at TPR = 0.95 on the ROC curve, as
``np.interp(0.95, tpr, fpr)`` on ``sklearn.metrics.roc_curve`` (ood_metrics, Mask2Anomaly).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from oodforge.errors import ValueCheckError
from oodforge.metrics._f16 import NUM_KEYS, check_finite_hist
from oodforge.metrics._pixel_state import ExactState, PixelState, check_args, check_classes, check_inputs, new_state

__all__ = ["PixelCurves", "PixelMetrics", "PixelResult", "pixel_curves", "pixel_metrics"]

Protocol = Literal["fishyscapes", "smiyc", "smiyc2021"]
FprMode = Literal["first", "interpolated"]
SingleClass = Literal["raise", "nan"]


@dataclass(frozen=True)
class PixelResult:
    """Pooled pixel metrics; fractions in [0, 1], thresholds in score units.

    ``fpr95_threshold`` is the threshold of the first point with TPR >= 0.95 (also in
    ``interpolated`` mode). All metric fields are NaN when ``single_class="nan"`` and a class is
    missing.
    """

    protocol: str
    ap: float
    auroc: float
    fpr95: float
    fpr95_threshold: float
    best_f1: float
    best_f1_threshold: float
    num_positives: int
    num_negatives: int
    fpr_mode: str = "first"

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (JSON-ready)."""
        return asdict(self)


@dataclass(frozen=True)
class PixelCurves:
    """Curve points for plotting, descending thresholds (prediction = score >= threshold).

    Attributes:
        thresholds: (K,) float64.
        tp: (K,) float64 cumulative anomaly pixels predicted.
        fp: (K,) float64 cumulative normal pixels predicted.
        num_positives: P.
        num_negatives: N.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    num_positives: int
    num_negatives: int

    @property
    def recall(self) -> np.ndarray:
        """TP / P (= TPR)."""
        return self.tp / self.num_positives

    @property
    def tpr(self) -> np.ndarray:
        """TP / P."""
        return self.recall

    @property
    def fpr(self) -> np.ndarray:
        """FP / N."""
        return self.fp / self.num_negatives

    @property
    def precision(self) -> np.ndarray:
        """TP / (TP + FP), 1 where nothing is predicted."""
        denom = self.tp + self.fp
        return np.divide(self.tp, denom, out=np.ones_like(self.tp), where=denom > 0)


def _compute(state: PixelState, protocol: str, fpr_mode: str, index0_quirk: bool, single_class: str) -> PixelResult:
    p, n = state.counts
    if not check_classes(state, single_class):
        nan = float("nan")
        return PixelResult(protocol, nan, nan, nan, nan, nan, nan, p, n, fpr_mode)
    st = state.stats() if isinstance(state, ExactState) else state.stats(index0_quirk)
    fpr95 = st.fpr95 if fpr_mode == "first" else st.fpr95_interpolated
    return PixelResult(
        protocol, st.ap, st.auroc, fpr95, st.fpr95_threshold, st.best_f1, st.best_f1_threshold, p, n, fpr_mode
    )


def _curves(state: PixelState, max_points: int, index0_quirk: bool) -> PixelCurves:
    check_classes(state, "raise")
    p, n = state.counts
    if isinstance(state, ExactState):
        thr, tp, fp = state.curve(max_points)
    else:
        thr, tp, fp = state.curve(index0_quirk)
        if len(thr) > max_points:
            keep = np.unique(np.linspace(0, len(thr) - 1, max_points).round().astype(np.intp))
            thr, tp, fp = thr[keep], tp[keep], fp[keep]
    return PixelCurves(thr, tp, fp, p, n)


class PixelMetrics:
    """Accumulate pixels over frames, then compute pooled AP, AUROC, FPR@95TPR and best F1.

    State: see :mod:`oodforge.metrics._pixel_state` (``fishyscapes``: 4 bytes per valid float32
    pixel or a constant 1 MiB for float16 scores; ``smiyc*``: <= 769 bins per frame). Instances
    pickle; ``merge`` combines states of separate processes.

    Args:
        protocol: ``"fishyscapes"``, ``"smiyc"`` or ``"smiyc2021"``.
        fpr_mode: ``"first"`` or ``"interpolated"``.
        index0_quirk: ``smiyc`` only: reproduce the official partial point at index 0.
        single_class: ``"raise"`` (default) or ``"nan"`` when P or N is 0 at compute.

    Example:
        >>> import numpy as np
        >>> metric = PixelMetrics("fishyscapes")
        >>> metric.update(np.array([[0.1, 0.4], [0.5, 0.8]]), np.array([[0, 1], [0, 1]], dtype=np.uint8))
        >>> metric.update(np.array([[0.9, 0.2]]), np.array([[255, 0]], dtype=np.uint8))
        >>> r = metric.compute()
        >>> round(r.ap, 4), round(r.auroc, 4), r.fpr95, r.num_positives, r.num_negatives
        (0.8333, 0.8333, 0.3333333333333333, 2, 3)
    """

    def __init__(
        self,
        protocol: Protocol = "fishyscapes",
        *,
        fpr_mode: FprMode = "first",
        index0_quirk: bool = False,
        single_class: SingleClass = "raise",
    ) -> None:
        check_args(protocol, fpr_mode, single_class, index0_quirk)
        self.protocol = protocol
        self.fpr_mode = fpr_mode
        self.index0_quirk = index0_quirk
        self.single_class = single_class
        self._state: PixelState = new_state(protocol)

    def update(self, scores: Any, labels: Any) -> None:
        """Add one (H, W) frame or a (B, H, W) batch (``fishyscapes`` accepts any shape).

        Args:
            scores: float16/float32/float64 scores, higher = more anomalous.
            labels: Integer or bool labels of the same shape: 0 normal, 1 anomaly, else void.
        """
        self._state.update(*check_inputs(scores, labels, self.protocol))

    def update_histogram(self, hist: Any) -> None:
        """Add one frame given as its float16 key histogram instead of its pixels (same state as :meth:`update`).

        For callers that already counted the frame's float16 scores by key (``oodforge benchmark`` shares one
        count between the metric, its score histogram and the per-frame AP).

        Args:
            hist: (2, 65536) integer counts per :func:`~oodforge.metrics._f16.float16_keys` key of the frame's
                normal (row 0) and anomaly (row 1) pixels, as :func:`~oodforge.metrics._f16.histogram_by_code`
                returns them (-0.0 counted under +0.0).

        Raises:
            ValueCheckError: A wrong shape or dtype, negative counts, or counts on NaN / inf keys.
        """
        h = np.asarray(hist)
        if h.shape != (2, NUM_KEYS) or h.dtype.kind not in "iu" or (h.dtype.kind == "i" and h.min() < 0):
            raise ValueCheckError(
                f"Expected a (2, {NUM_KEYS}) non-negative integer key histogram, but got {h.shape} {h.dtype}"
            )
        check_finite_hist(h)
        self._state.add_histogram(h.astype(np.int64, copy=False))

    def merge(self, other: PixelMetrics) -> PixelMetrics:
        """Absorb the state of ``other`` (same protocol); frames of ``other`` come after this one's.

        Returns:
            ``self``.
        """
        if not isinstance(other, PixelMetrics) or other.protocol != self.protocol:
            got = getattr(other, "protocol", type(other).__name__)
            raise ValueCheckError(f"Expected a PixelMetrics with protocol {self.protocol!r}, but got {got!r}")
        self._state.merge(other._state)  # type: ignore[arg-type]
        return self

    def compute(self) -> PixelResult:
        """Pooled metrics of every pixel seen so far (the state is kept)."""
        return _compute(self._state, self.protocol, self.fpr_mode, self.index0_quirk, self.single_class)

    def curves(self, max_points: int = 1000) -> PixelCurves:
        """PR/ROC points for plotting, at most about ``max_points`` (exact points of the curve)."""
        return _curves(self._state, max_points, self.index0_quirk)

    def reset(self) -> None:
        """Forget every pixel seen."""
        self._state = new_state(self.protocol)

    @property
    def state_nbytes(self) -> int:
        """Bytes held by the accumulated state."""
        return self._state.nbytes


def pixel_metrics(
    scores: Any,
    labels: Any,
    protocol: Protocol = "fishyscapes",
    *,
    fpr_mode: FprMode = "first",
    index0_quirk: bool = False,
    single_class: SingleClass = "raise",
) -> PixelResult:
    """Functional twin of :class:`PixelMetrics`: pooled metrics of one array or (B, H, W) batch.

    Args:
        scores: float16/float32/float64 scores, higher = more anomalous; any shape for
            ``fishyscapes``, (H, W) or (B, H, W) for ``smiyc*``.
        labels: Integer or bool labels of the same shape: 0 normal, 1 anomaly, anything else void.
        protocol: ``"fishyscapes"``, ``"smiyc"`` or ``"smiyc2021"``.
        fpr_mode: ``"first"`` or ``"interpolated"``.
        index0_quirk: ``smiyc`` only: reproduce the official partial point at index 0.
        single_class: ``"raise"`` or ``"nan"`` when P or N is 0.

    Returns:
        The pooled metrics.

    Raises:
        ValueCheckError: Bad arguments, labels dtype, non-finite valid scores (``smiyc*``: also finite
            ones beyond float16's +-65504), or a missing class.
        UsageError: ``index0_quirk=True`` with a protocol other than ``smiyc``.
        ShapeError: ``scores`` and ``labels`` differ in shape (or are not frames for ``smiyc*``).

    Example:
        >>> import numpy as np
        >>> r = pixel_metrics(np.array([0.1, 0.4, 0.5, 0.8]), np.array([0, 1, 0, 1]))
        >>> round(r.ap, 4), r.auroc, r.fpr95, r.best_f1, r.best_f1_threshold
        (0.8333, 0.75, 0.5, 0.8, 0.4000000059604645)
    """
    check_args(protocol, fpr_mode, single_class, index0_quirk)
    state = new_state(protocol)
    state.update(*check_inputs(scores, labels, protocol))
    return _compute(state, protocol, fpr_mode, index0_quirk, single_class)


def pixel_curves(
    scores: Any, labels: Any, protocol: Protocol = "fishyscapes", *, max_points: int = 1000, index0_quirk: bool = False
) -> PixelCurves:
    """Functional twin of :meth:`PixelMetrics.curves`.

    Args:
        scores: Scores as for :func:`pixel_metrics`.
        labels: Labels as for :func:`pixel_metrics`.
        protocol: ``"fishyscapes"``, ``"smiyc"`` or ``"smiyc2021"``.
        max_points: Approximate maximum number of points returned.
        index0_quirk: ``smiyc`` only: official partial point at index 0.

    Returns:
        Exact curve points (``fishyscapes``) or the official binned curve subsampled (``smiyc*``).

    Example:
        >>> import numpy as np
        >>> c = pixel_curves(np.array([0.1, 0.4, 0.5, 0.8]), np.array([0, 1, 0, 1]))
        >>> c.recall.tolist(), c.fpr.tolist()
        ([0.0, 0.5, 0.5, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5, 1.0])
    """
    check_args(protocol, "first", "raise", index0_quirk)
    state = new_state(protocol)
    state.update(*check_inputs(scores, labels, protocol))
    return _curves(state, max_points, index0_quirk)
