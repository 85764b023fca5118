"""Private input checks and formatting shared by every metric family.

Every public metric funnels its inputs through these helpers so that class and functional twin
reject the same inputs with the same one-line messages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oodforge.errors import ShapeError, ValueCheckError

__all__ = [
    "VOID_CODE",
    "as_array",
    "check_choice",
    "check_finite_pair",
    "check_frames",
    "check_label_dtype",
    "check_same_shape",
    "label_codes",
]

#: Code of a void pixel in the normalised label codes returned by :func:`label_codes`.
VOID_CODE = 2


def as_array(x: Any, name: str) -> np.ndarray:
    """Convert an array-like (numpy array, list, CPU torch tensor) to a numpy array without copying.

    Torch tensors are detached and moved to the CPU by duck typing, so torch is never imported;
    bfloat16 tensors, which numpy cannot hold, become float32 (exact: every bfloat16 is a float32).

    Args:
        x: The input.
        name: Argument name used in error messages.

    Returns:
        A numpy array viewing (or, for tensors, converted from) ``x``.

    Raises:
        ValueCheckError: If ``x`` cannot be converted to a numeric array.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        if str(getattr(x, "dtype", "")) == "torch.bfloat16":
            x = x.float()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # e.g. torch float8 tensors, ragged lists
        what = getattr(x, "dtype", type(x).__name__)
        raise ValueCheckError(f"Expected `{name}` to be a numeric array, but got {what} ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise ValueCheckError(f"Expected `{name}` to be a numeric array, but got dtype {arr.dtype}")
    return arr


def check_choice(value: Any, name: str, choices: tuple[Any, ...]) -> None:
    """Raise if ``value`` is not one of ``choices``.

    Args:
        value: The argument value.
        name: Argument name used in error messages.
        choices: The allowed values.

    Raises:
        ValueCheckError: If ``value`` is not allowed.
    """
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueCheckError(f"Expected `{name}` to be one of {allowed}, but got {value!r}")


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise if two arrays differ in shape.

    Args:
        a: First array.
        b: Second array.
        name_a: Name of ``a`` in messages.
        name_b: Name of ``b`` in messages.

    Raises:
        ShapeError: If the shapes differ.
    """
    if a.shape != b.shape:
        raise ShapeError(f"Expected `{name_a}` and `{name_b}` to have the same shape, but got {a.shape} and {b.shape}")


def check_frames(x: np.ndarray, name: str) -> np.ndarray:
    """Return ``x`` as a (B, H, W) stack of frames, accepting one (H, W) frame or a (B, H, W) batch.

    Args:
        x: The input array.
        name: Argument name used in error messages.

    Returns:
        A (B, H, W) view of ``x``.

    Raises:
        ShapeError: If ``x`` is not 2-D or 3-D.
    """
    if x.ndim == 2:
        return x[None]
    if x.ndim == 3:
        return x
    raise ShapeError(f"Expected `{name}` to have shape (H, W) or (B, H, W), but got {x.shape}")


def label_codes(labels: np.ndarray) -> np.ndarray:
    """Normalise labels to uint8 codes: 0 normal, 1 anomaly, 2 (:data:`VOID_CODE`) void.

    Every value other than 0 and 1 (255 included) is void.

    Args:
        labels: Integer or bool array of any shape.

    Returns:
        uint8 array of the same shape (a new array unless ``labels`` is bool).

    Raises:
        ValueCheckError: If ``labels`` does not have an integer or bool dtype.
    """
    if labels.dtype == np.bool_:
        return labels.view(np.uint8)
    if labels.dtype.kind == "u":
        return np.minimum(labels, VOID_CODE).astype(np.uint8, copy=False)
    if labels.dtype.kind == "i":
        return np.where((labels == 0) | (labels == 1), labels, VOID_CODE).astype(np.uint8)
    raise ValueCheckError(f"Expected `labels` to have an integer or bool dtype, but got {labels.dtype}")


def check_label_dtype(labels: np.ndarray) -> None:
    """Raise unless ``labels`` has an integer or bool dtype.

    Args:
        labels: The label array.

    Raises:
        ValueCheckError: On a floating dtype.
    """
    if labels.dtype.kind not in "biu":
        raise ValueCheckError(f"Expected `labels` to have an integer or bool dtype, but got {labels.dtype}")


def check_finite_pair(lo: float, hi: float, name: str = "scores") -> None:
    """Raise if the extreme values of a score set are not finite (NaN propagates into min/max).

    Args:
        lo: Minimum of the scores.
        hi: Maximum of the scores.
        name: Argument name used in messages.

    Raises:
        ValueCheckError: If ``lo`` or ``hi`` is NaN or infinite.
    """
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueCheckError(f"Expected `{name}` to be finite on valid pixels, but got min {lo} and max {hi}")
