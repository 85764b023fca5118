"""Order-preserving float16 keys and exact 65536-bin score histograms.

A float16 score has 65536 bit patterns. Mapping each pattern to a uint16 *key* whose integer order
equals the float order turns "sort the scores" into "count the keys": two 65536-bin histograms (one
for normal, one for anomaly pixels) hold every float16 score set exactly in 1 MiB, whatever the
number of pixels, and per-frame histograms add up to the pooled one.

Key rule: with ``b`` the uint16 bits, ``key = b | 0x8000`` if the sign bit is clear, else
``0xFFFF - b``. ``-0.0`` and ``+0.0`` compare equal but get adjacent keys (0x7FFF, 0x8000); the
histograms fold -0 into +0. NaN patterns land in keys below 0x03FF or above 0xFC00.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from oodforge.errors import ValueCheckError

__all__ = [
    "NUM_KEYS",
    "check_finite_hist",
    "float16_keys",
    "histogram_by_code",
    "key_values16",
    "key_values32",
]

NUM_KEYS = 65536
_NEG_ZERO_KEY = 0x7FFF
_POS_ZERO_KEY = 0x8000
_FIRST_FINITE_KEY = 0x0400  # key of -inf is 0x03FF
_LAST_FINITE_KEY = 0xFBFF  # key of +inf is 0xFC00


@cache
def key_values16() -> np.ndarray:
    """Float16 value of every key (NaN for NaN keys); read-only, built once.

    Returns:
        (65536,) float16 array, non-decreasing over the non-NaN keys.
    """
    keys = np.arange(NUM_KEYS, dtype=np.uint32)
    bits = np.where(keys & 0x8000, keys ^ 0x8000, 0xFFFF - keys).astype(np.uint16)
    values = bits.view(np.float16).copy()
    values.flags.writeable = False
    return values


@cache
def key_values32() -> np.ndarray:
    """Float32 value of every key (exact conversion of :func:`key_values16`); read-only.

    Returns:
        (65536,) float32 array.
    """
    values = key_values16().astype(np.float32)
    values.flags.writeable = False
    return values


def float16_keys(scores16: np.ndarray) -> np.ndarray:
    """Order-preserving uint16 keys of float16 scores.

    Args:
        scores16: float16 array of any shape.

    Returns:
        uint16 array of the same shape; ``a < b`` as floats iff ``key(a) < key(b)`` (finite values,
        except that -0.0 and +0.0 get keys 0x7FFF and 0x8000).

    Example:
        >>> import numpy as np
        >>> float16_keys(np.array([-1.0, -0.0, 0.0, 0.5, 1.0], dtype=np.float16)).tolist()
        [17407, 32767, 32768, 47104, 48128]
    """
    bits = np.ascontiguousarray(scores16).view(np.uint16)
    flip = (bits.view(np.int16) >> 15).view(np.uint16)
    flip |= np.uint16(0x8000)
    flip ^= bits
    return flip


def histogram_by_code(keys: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Count keys per label code in one ``bincount``: row 0 normal, row 1 anomaly (void is dropped).

    Args:
        keys: uint16 keys, any shape.
        codes: uint8 label codes (0 normal, 1 anomaly, 2 void) of the same shape.

    Returns:
        (2, 65536) int64 counts with -0.0 folded into +0.0.
    """
    idx = codes.reshape(-1).astype(np.intp)
    idx <<= 16
    idx |= keys.reshape(-1)
    hist = np.bincount(idx, minlength=3 * NUM_KEYS)[: 2 * NUM_KEYS].reshape(2, NUM_KEYS)
    hist[:, _POS_ZERO_KEY] += hist[:, _NEG_ZERO_KEY]
    hist[:, _NEG_ZERO_KEY] = 0
    return hist


def _check_float16_range(valid: np.ndarray, protocol: str) -> None:
    """Raise if finite ``valid`` scores overflow to +-inf when cast to float16 (|s| >= 65520)."""
    if not valid.size or not np.isfinite(valid).all():
        return
    hi, lo = float(valid.max()), float(valid.min())
    with np.errstate(over="ignore"):
        over_hi, over_lo = np.isinf(np.float16(hi)), np.isinf(np.float16(lo))
    if over_hi or over_lo:
        found = f"up to {hi:.1e} exceed float16's maximum 65504" if over_hi else ""
        found = found or f"down to {lo:.1e} exceed float16's minimum -65504"
        raise ValueCheckError(
            f"scores {found}; the {protocol} protocol stores float16 scores: rescale them or use --protocol fishyscapes"
        )


def check_finite_hist(
    hist: np.ndarray, scores: np.ndarray | None = None, codes: np.ndarray | None = None, protocol: str = "smiyc"
) -> None:
    """Raise if a key histogram counts any NaN or infinite score.

    Args:
        hist: (..., 65536) key counts.
        scores: The scores the histogram was made from, before the float16 cast (optional).
        codes: Their label codes (0 normal, 1 anomaly, 2 void), with ``scores``.
        protocol: Protocol name used in the float16 overflow message.

    Raises:
        ValueCheckError: If any count falls on a non-finite key; with ``scores`` and ``codes``, finite
            valid scores beyond float16's range get their own message (the largest one, the fix).
    """
    bad = int(hist[..., :_FIRST_FINITE_KEY].sum() + hist[..., _LAST_FINITE_KEY + 1 :].sum())
    if not bad:
        return
    if scores is not None and codes is not None and scores.dtype != np.float16:
        _check_float16_range(scores[codes <= 1], protocol)
    raise ValueCheckError(f"Expected `scores` to be finite on valid pixels, but got {bad} NaN or inf values")
