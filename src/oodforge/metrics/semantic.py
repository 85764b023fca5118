"""Semantic segmentation metrics from a streaming confusion matrix: per-class IoU, mIoU, accuracy.

``confusion[i, j]`` counts pixels of true class ``i`` predicted as ``j`` (rows = truth, as
``sklearn.metrics.confusion_matrix``). Pixels whose target equals ``ignore_index`` are skipped;
any other target or prediction outside ``[0, num_classes)`` is an error. IoU of a class absent
from both target and prediction is NaN and left out of the mIoU (``nanmean``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from oodforge.errors import ValueCheckError
from oodforge.metrics._checks import as_array, check_same_shape

__all__ = ["SemanticMetrics", "SemanticResult", "semantic_metrics"]


@dataclass(frozen=True)
class SemanticResult:
    """Semantic metrics.

    Attributes:
        confusion: (K, K) int64, rows = target class, columns = predicted class.
        iou: (K,) float64 per-class IoU, NaN for classes absent from target and prediction.
        miou: Mean of the non-NaN IoUs of the evaluation classes (NaN if none).
        pixel_accuracy: Correct pixels / counted pixels (NaN if none).
        eval_classes: The first ``eval_classes`` classes are averaged into ``miou``; the others (e.g. a void
            20th output of a 19-class Cityscapes model) are never a correct answer: a labelled pixel
            predicted as one of them counts against its true class.
    """

    confusion: np.ndarray
    iou: np.ndarray
    miou: float
    pixel_accuracy: float
    eval_classes: int = 0

    @property
    def extra_prediction_share(self) -> float:
        """Share of counted pixels predicted as a class beyond the evaluation classes (0 without any)."""
        total = self.confusion.sum()
        k = self.eval_classes or self.confusion.shape[0]
        return float(self.confusion[:, k:].sum() / total) if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (arrays as lists, NaN kept as float NaN)."""
        return {
            "confusion": self.confusion.tolist(),
            "iou": self.iou.tolist(),
            "miou": self.miou,
            "pixel_accuracy": self.pixel_accuracy,
            "eval_classes": self.eval_classes or int(self.confusion.shape[0]),
        }


def _check_args(num_classes: int, ignore_index: int | None) -> None:
    if not isinstance(num_classes, int | np.integer) or num_classes < 1:
        raise ValueCheckError(f"Expected `num_classes` to be a positive int, but got {num_classes!r}")
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        raise ValueCheckError(f"Expected `ignore_index` outside [0, {num_classes}), but got {ignore_index}")


def _check_inputs(preds: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    p = as_array(preds, "preds")
    t = as_array(target, "target")
    for arr, name in ((p, "preds"), (t, "target")):
        if arr.dtype.kind not in "biu":
            raise ValueCheckError(f"Expected `{name}` to hold integer class ids, but got dtype {arr.dtype}")
    check_same_shape(p, t, "preds", "target")
    return p.reshape(-1), t.reshape(-1)


def _update(confusion: np.ndarray, preds: np.ndarray, target: np.ndarray, ignore_index: int | None) -> None:
    k = confusion.shape[0]
    if ignore_index is not None:
        keep = target != ignore_index
        if not keep.all():
            preds, target = preds[keep], target[keep]
    for arr, name in ((target, "target"), (preds, "preds")):
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= k):
            raise ValueCheckError(
                f"Expected `{name}` class ids in [0, {k}) (or ignore_index), but got {int(arr.min())}..{int(arr.max())}"
            )
    idx = target.astype(np.intp) * k + preds
    confusion += np.bincount(idx, minlength=k * k).reshape(k, k)


def _compute(confusion: np.ndarray, eval_classes: int | None = None) -> SemanticResult:
    k = confusion.shape[0] if eval_classes is None else min(int(eval_classes), confusion.shape[0])
    tp = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - tp
    total = confusion[:k].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / union
    miou = float(np.nanmean(iou[:k])) if np.isfinite(iou[:k]).any() else float("nan")
    acc = float(tp[:k].sum() / total) if total else float("nan")
    return SemanticResult(confusion.copy(), iou, miou, acc, k)


class SemanticMetrics:
    """Streaming confusion matrix over (H, W) or (B, H, W) class-id maps (state: K x K int64).

    Args:
        num_classes: Number of classes K (the model's outputs).
        ignore_index: Target value to skip (default 255); None counts every pixel.
        eval_classes: Average the mIoU over the first this many classes (default: all K); e.g. 19 for a
            Cityscapes model with a 20th void output, whose predictions then count as misses.

    Example:
        >>> import numpy as np
        >>> m = SemanticMetrics(3)
        >>> m.update(np.array([[0, 1], [2, 2]]), np.array([[0, 1], [1, 255]]))
        >>> r = m.compute()
        >>> r.iou.tolist(), round(r.miou, 4), round(r.pixel_accuracy, 4)
        ([1.0, 0.5, 0.0], 0.5, 0.6667)
    """

    def __init__(self, num_classes: int, *, ignore_index: int | None = 255, eval_classes: int | None = None) -> None:
        _check_args(num_classes, ignore_index)
        if eval_classes is not None and not 1 <= eval_classes <= num_classes:
            raise ValueCheckError(f"Expected `eval_classes` in [1, {num_classes}], but got {eval_classes!r}")
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.eval_classes = eval_classes
        self.confusion = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, preds: Any, target: Any) -> None:
        """Add predicted and target class-id maps of the same shape (any integer dtype)."""
        _update(self.confusion, *_check_inputs(preds, target), self.ignore_index)

    def merge(self, other: SemanticMetrics) -> SemanticMetrics:
        """Add the confusion matrix of ``other`` (same K). Returns ``self``."""
        if not isinstance(other, SemanticMetrics) or other.confusion.shape != self.confusion.shape:
            raise ValueCheckError(f"Expected a SemanticMetrics with {self.num_classes} classes, but got {other!r}")
        self.confusion += other.confusion
        return self

    def compute(self) -> SemanticResult:
        """Metrics of every pixel seen so far."""
        return _compute(self.confusion, self.eval_classes)

    def reset(self) -> None:
        """Zero the confusion matrix."""
        self.confusion[:] = 0


def semantic_metrics(
    preds: Any, target: Any, num_classes: int, *, ignore_index: int | None = 255, eval_classes: int | None = None
) -> SemanticResult:
    """Functional twin of :class:`SemanticMetrics`.

    Args:
        preds: Predicted class ids, any shape, integer dtype.
        target: Target class ids of the same shape; ``ignore_index`` pixels are skipped.
        num_classes: Number of classes K.
        ignore_index: Target value to skip (default 255); None counts every pixel.
        eval_classes: Average the mIoU over the first this many classes (default: all).

    Returns:
        Confusion matrix, per-class IoU, mIoU and pixel accuracy.

    Example:
        >>> import numpy as np
        >>> r = semantic_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2)
        >>> r.confusion.tolist(), r.pixel_accuracy
        ([[1, 0], [1, 2]], 0.75)
    """
    m = SemanticMetrics(int(num_classes), ignore_index=ignore_index, eval_classes=eval_classes)
    m.update(preds, target)
    return m.compute()
