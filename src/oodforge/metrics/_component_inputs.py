"""Private input rules of the component metrics: the official float16 threshold and the checked predictions."""

from __future__ import annotations

from typing import Any

import numpy as np

from oodforge.errors import ValueCheckError
from oodforge.metrics._checks import as_array, check_frames, check_label_dtype, check_same_shape

__all__ = ["check_inputs", "float16_threshold", "strictly_above"]


def float16_threshold(threshold: float, threshold_dtype: str) -> np.float16:
    """Float16 t such that, for every float16 s, ``s > t`` equals the requested comparison."""
    t = np.float16(threshold)
    if threshold_dtype == "float64" and float(t) > float(threshold):
        t = np.nextafter(t, np.float16(-np.inf))  # round down: s > threshold <=> s > t
    return t + np.float16(0.0)  # -0.0 -> +0.0


def strictly_above(s16: np.ndarray, t: np.float16) -> np.ndarray:
    """``s16 > t`` for float16 arrays (NaN -> False), via the int16 bit order when ``t >= 0``."""
    if not (np.isfinite(t) and t >= 0):
        return s16 > t
    bits = np.ascontiguousarray(s16).view(np.int16)
    out = bits > np.asarray(t).view(np.int16)
    out &= bits <= np.int16(0x7C00)  # +inf stays above, positive NaN patterns do not
    return out


def check_inputs(
    predictions: Any, labels: Any, threshold: float | None, threshold_dtype: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred = check_frames(as_array(predictions, "predictions"), "predictions")
    lab = check_frames(as_array(labels, "labels"), "labels")
    check_label_dtype(lab)
    check_same_shape(pred, lab, "predictions", "labels")
    gt = lab == 1
    valid = lab <= 1 if lab.dtype.kind == "u" else gt | (lab == 0)
    if pred.dtype == np.bool_:
        return pred, gt, valid
    if threshold is None:
        raise ValueCheckError("Expected `threshold` for score predictions (or pass bool masks), but got None")
    nan = int(np.count_nonzero(np.isnan(pred) & valid))
    if nan:
        raise ValueCheckError(f"Expected no NaN in `predictions` on valid pixels, but got {nan} NaN values")
    with np.errstate(over="ignore"):
        s16 = pred.astype(np.float16, copy=False)
    return strictly_above(s16, float16_threshold(threshold, threshold_dtype)), gt, valid
