"""Temperature scaling (Guo et al., 2017): applying a temperature and fitting it by NLL on validation pixels."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.scores._backend import check_temperature, get_backend, is_tensor, prepare_logits

__all__ = ["fit_temperature", "temperature_scale"]

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_CHUNK = 1 << 16


def temperature_scale(logits: Any, temperature: float) -> Any:
    """Divide logits by a temperature T > 0, keeping their kind (numpy / torch) and shape.

    Works for any layout: class-query logits (Q, K+1) / (B, Q, K+1) of mask-classification models
    (the seed's ``_cl`` variant; or pass ``temperature`` to
    :func:`~oodforge.scores.mask_class_pixel_scores`) and dense logits or per-pixel class scores
    (C, H, W) / (B, C, H, W) (``_pl``; the dense scores also take ``temperature`` directly).

    Args:
        logits: Array or tensor of any shape; float16 / bfloat16 / integers become float32.
        temperature: Finite T > 0; T > 1 softens, T < 1 sharpens the softmax.

    Returns:
        ``logits / T``.

    Raises:
        ValueCheckError: If ``temperature`` is not a finite number > 0 or the dtype is not real.

    Example:
        >>> import numpy as np
        >>> temperature_scale(np.array([[2.0, -1.0, 0.5]]), 2.0).tolist()
        [[1.0, -0.5, 0.25]]
    """
    t = check_temperature(temperature)
    backend = get_backend(logits)
    return backend.to_float(logits, "logits") / t


def _pixel_rows(logits: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return (N, C) logits rows and (N,) labels of one (logits, labels) pair, ignore pixels kept."""
    b, z = prepare_logits(logits)
    z = b.to_numpy(z)
    lab = get_backend(labels).to_numpy(labels)
    if lab.shape != z.shape[:-3] + z.shape[-2:]:
        raise ShapeError(f"Expected `labels` to have shape {z.shape[:-3] + z.shape[-2:]}, but got {lab.shape}")
    return np.moveaxis(z, -3, -1).reshape(-1, z.shape[-3]), lab.reshape(-1)


def _pairs(logits: Any, labels: Any) -> Iterator[tuple[Any, Any]]:
    """Yield (logits, labels) pairs from one array + labels, or from an iterable of pairs."""
    if is_tensor(logits) or isinstance(logits, np.ndarray):
        if labels is None:
            raise ValueCheckError("Expected `labels` with a single `logits` array, but got None")
        yield logits, labels
        return
    if labels is not None:
        raise ValueCheckError("Expected `labels=None` when `logits` is an iterable of (logits, labels) pairs")
    for pair in logits:
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueCheckError(f"Expected (logits, labels) pairs, but got an item of type {type(pair).__name__}")
        yield pair[0], pair[1]


def _collect(
    pairs: Iterable[tuple[Any, Any]], ignore_index: int, max_pixels: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Gather valid pixels; beyond ``max_pixels`` keep a uniform sample (the smallest random keys)."""
    rows: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    total = 0
    num_classes: int | None = None

    def compact(limit: int) -> None:
        z, y, k = np.concatenate(rows), np.concatenate(ys), np.concatenate(keys)
        if len(k) > limit:
            keep = np.sort(np.argpartition(k, limit - 1)[:limit])
            z, y, k = z[keep], y[keep], k[keep]
        rows[:], ys[:], keys[:] = [z], [y], [k]

    for logits, labels in pairs:
        z, y = _pixel_rows(logits, labels)
        if num_classes is None:
            num_classes = z.shape[1]
        if z.shape[1] != num_classes:
            raise ShapeError(f"Expected every `logits` array to have {num_classes} classes, but got {z.shape[1]}")
        valid = y != ignore_index
        z, y = z[valid], y[valid].astype(np.int64)
        bad = (y < 0) | (y >= num_classes)
        if bad.any():
            values = np.unique(y[bad])[:5].tolist()
            raise ValueCheckError(
                f"Expected `labels` in [0, {num_classes}) or ignore_index={ignore_index}, but got values {values}"
            )
        rows.append(z)
        ys.append(y)
        keys.append(rng.random(len(y)))
        total += len(y)
        if total > 2 * max_pixels:
            compact(max_pixels)
            total = max_pixels
    if total == 0:
        raise ValueCheckError("Expected at least one labelled (non-ignored) pixel to fit the temperature, but got none")
    compact(max_pixels)
    return rows[0], ys[0]


def _nll(z: np.ndarray, z_true: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of softmax(z / T) at the true classes, computed in float64 chunks."""
    total = 0.0
    for start in range(0, len(z), _CHUNK):
        s = z[start : start + _CHUNK].astype(np.float64) / temperature
        m = s.max(axis=1)
        lse = np.log(np.exp(s - m[:, None]).sum(axis=1)) + m
        total += float(np.sum(lse - z_true[start : start + _CHUNK] / temperature))
    return total / len(z)


def fit_temperature(
    logits: Any,
    labels: Any = None,
    *,
    ignore_index: int = 255,
    grid: Sequence[float] | None = None,
    bounds: tuple[float, float] = (0.05, 20.0),
    max_pixels: int = 2_000_000,
    seed: int = 0,
    tol: float = 1e-4,
) -> float:
    r"""Fit a softmax temperature T by minimising the pixel NLL on validation data.

    .. math:: T^* = \arg\min_T \frac{1}{N} \sum_i \left[\operatorname{LSE}(z_i / T) - z_{i, y_i} / T\right]

    The NLL is convex in 1/T, hence unimodal in log T, so a golden-section search on log T over
    ``bounds`` finds the minimum (no scipy needed); with ``grid`` the best listed T is returned
    instead (the seed projects used a grid). A result at a bound means the optimum lies beyond it.

    Args:
        logits: One array (C, H, W) / (B, C, H, W) (numpy or torch) with ``labels``, or an iterable
            of (logits, labels) pairs (``labels=None``), e.g. a generator over a validation set.
        labels: (H, W) / (B, H, W) integer class ids in [0, C), ``ignore_index`` excluded.
        ignore_index: Label value excluded from the fit.
        grid: Candidate temperatures (each > 0); ``None`` runs the continuous search.
        bounds: (low, high) search interval for T, 0 < low < high.
        max_pixels: Memory bound: beyond this many valid pixels, a uniform random subsample of this
            size is used (peak memory ≈ 2 × max_pixels rows plus one input array).
        seed: Seed of the ``numpy.random.Generator`` drawing the subsample.
        tol: Stopping width of the search interval on log T (relative precision of T).

    Returns:
        The fitted temperature as a float.

    Raises:
        ShapeError: Bad logits / labels shapes, or class counts differing between arrays.
        ValueCheckError: Labels outside [0, C), no valid pixel, or bad ``grid`` / ``bounds`` / ``max_pixels``.

    Example:
        >>> import numpy as np
        >>> logits = np.array([[[4.0, 4.0, 0.0]], [[0.0, 0.0, 4.0]]])  # 3 confident pixels, 1 wrong
        >>> round(fit_temperature(logits, np.array([[0, 0, 0]])), 3)  # optimum 4 / log 2
        5.771
    """
    lo, hi = (check_temperature(v, "bounds") for v in bounds)
    if not lo < hi:
        raise ValueCheckError(f"Expected `bounds` (low, high) with low < high, but got {bounds}")
    candidates = None if grid is None else [check_temperature(v, "grid") for v in grid]
    if candidates is not None and not candidates:
        raise ValueCheckError("Expected `grid` to hold at least one temperature, but got an empty sequence")
    if int(max_pixels) < 1:
        raise ValueCheckError(f"Expected `max_pixels` ≥ 1, but got {max_pixels}")
    z, y = _collect(_pairs(logits, labels), ignore_index, int(max_pixels), np.random.default_rng(seed))
    z_true = np.take_along_axis(z, y[:, None], axis=1)[:, 0].astype(np.float64)

    if candidates is not None:
        losses = [_nll(z, z_true, t) for t in candidates]
        return candidates[int(np.argmin(losses))]

    def loss(u: float) -> float:
        return _nll(z, z_true, math.exp(u))

    a, b = math.log(lo), math.log(hi)
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = loss(c), loss(d)
    while b - a > tol:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = loss(d)
    return math.exp((a + b) / 2.0)
