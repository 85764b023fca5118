"""Standardized Max Logit (SML, Jung et al., ICCV 2021): fitting per-class statistics and scoring.

The maximum logit of a pixel is standardised with the mean and standard deviation of the maximum
logits of in-distribution pixels that the model assigned to the same (argmax) class.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oodforge._array_files import load_array_file
from oodforge.errors import InputFileError, ShapeError, ValueCheckError
from oodforge.scores._backend import get_backend, is_tensor, prepare_logits
from oodforge.scores._registry import register_score

__all__ = ["SMLStats", "fit_sml_stats", "sml_score"]

_AXIS = -3
_KEYS = ("means", "stds", "counts")


@dataclass(frozen=True, eq=False)
class SMLStats:
    """Per-class statistics of the maximum logit, as fitted by :func:`fit_sml_stats`.

    Attributes:
        means: (K,) float64 mean max logit per predicted class; 0 for classes never predicted.
        stds: (K,) float64 population standard deviation (ddof=0), all > 0; 1 for classes never
            predicted and for degenerate classes (a single pixel or a constant max logit).
        counts: (K,) int64 number of fitted pixels per predicted class (0 marks the fallback).
    """

    means: np.ndarray
    stds: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        means = np.asarray(self.means, dtype=np.float64)
        stds = np.asarray(self.stds, dtype=np.float64)
        counts = np.asarray(self.counts, dtype=np.int64)
        if means.ndim != 1 or means.size < 1 or stds.shape != means.shape or counts.shape != means.shape:
            raise ShapeError(
                "Expected `means`, `stds` and `counts` to be 1-D of the same length K ≥ 1, but got shapes "
                f"{means.shape}, {stds.shape}, {counts.shape}"
            )
        if not (np.all(np.isfinite(means)) and np.all(np.isfinite(stds)) and np.all(stds > 0)):
            raise ValueCheckError("Expected finite `means` and finite `stds` > 0, but got NaN, inf or a std ≤ 0")
        if np.any(counts < 0):
            raise ValueCheckError(f"Expected `counts` ≥ 0, but got minimum {counts.min()}")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "stds", stds)
        object.__setattr__(self, "counts", counts)

    @property
    def num_classes(self) -> int:
        """Number of classes K."""
        return int(self.means.size)

    def to_dict(self) -> dict[str, list[float] | list[int]]:
        """Return plain lists under ``means``, ``stds``, ``counts`` (JSON / YAML friendly)."""
        return {"means": self.means.tolist(), "stds": self.stds.tolist(), "counts": self.counts.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SMLStats:
        """Build from :meth:`to_dict` output; unknown or missing keys are errors."""
        keys = set(data)
        if keys != set(_KEYS):
            raise ValueCheckError(f"Expected keys {sorted(_KEYS)}, but got {sorted(keys)}")
        return cls(means=np.asarray(data["means"]), stds=np.asarray(data["stds"]), counts=np.asarray(data["counts"]))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the three arrays to ``path`` as an ``.npz`` archive, atomically (the path is used as given)."""
        from oodforge._io import atomic_writer

        with atomic_writer(Path(path)) as fh:
            np.savez(fh, means=self.means, stds=self.stds, counts=self.counts)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SMLStats:
        """Read an archive written by :meth:`save`."""
        what = "SML statistics .npz"
        data = load_array_file(Path(path), what)
        if not isinstance(data, dict):
            raise InputFileError(
                f"{path}: not a readable {what} (found one array of shape {data.shape}; expected the entries "
                f"{', '.join(_KEYS)} written by SMLStats.save)"
            )
        try:
            return cls.from_dict(data)
        except ValueError as exc:  # ShapeError / ValueCheckError: wrong keys, shapes or values
            raise InputFileError(f"{path}: not a readable {what} ({exc})") from None


def _pairs(logits: Any, labels: Any) -> Iterator[tuple[Any, Any]]:
    """Yield (logits, labels-or-None) pairs from one array or from iterables."""
    if is_tensor(logits) or isinstance(logits, np.ndarray):
        yield logits, labels
        return
    label_iter = None if labels is None else iter(labels)
    for x in logits:
        y = None if label_iter is None else next(label_iter, None)
        if label_iter is not None and y is None:
            raise ShapeError("Expected as many `labels` arrays as `logits` arrays, but `labels` ran out first")
        yield x, y
    if label_iter is not None and next(label_iter, None) is not None:
        raise ShapeError("Expected as many `labels` arrays as `logits` arrays, but `labels` has more")


def _merge(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Merge per-class (count, mean, M2) triples with Chan et al.'s parallel update (float64)."""
    n_a, mean_a, m2_a = a
    n_b, mean_b, m2_b = b
    n = n_a + n_b
    safe = np.maximum(n, 1)
    delta = mean_b - mean_a
    return n, mean_a + delta * n_b / safe, m2_a + m2_b + delta**2 * n_a * n_b / safe


def fit_sml_stats(
    logits: Any,
    labels: Any = None,
    num_classes: int | None = None,
    *,
    ignore_index: int = 255,
) -> SMLStats:
    """Fit per-class mean / std of the max logit over in-distribution pixels, grouped by argmax class.

    Streaming and memory-bounded: each array contributes per-class (count, mean, M2) in float64,
    merged with Chan et al.'s update (numerically safer than raw sums of squares).

    Args:
        logits: One array (C, H, W) / (B, C, H, W) (numpy or torch), or an iterable of such arrays
            (e.g. a generator over a validation set).
        labels: ``None`` (every pixel is used), or labels matching ``logits`` (one array, or an
            iterable of the same length) shaped like the logits without the class axis; pixels equal to
            ``ignore_index`` are excluded. Other label values are not used.
        num_classes: K; inferred from the first array if ``None``, otherwise every C must equal it.
        ignore_index: Label value excluded from fitting.

    Returns:
        The fitted :class:`SMLStats`. Fallback: a class never predicted gets μ = 0, σ = 1 (so its
        SML equals − max logit); a class with σ = 0 (one pixel, or a constant max logit) gets σ = 1.

    Raises:
        ShapeError: Bad logits / labels shapes, a class count differing from ``num_classes``, or a
            labels iterable of another length.
        ValueCheckError: If no logits array is given at all.

    Example:
        >>> import numpy as np
        >>> logits = np.array([[[3.0, 1.0, 0.0]], [[0.0, 2.0, 5.0]]])  # argmax classes 0, 1, 1
        >>> stats = fit_sml_stats(logits)
        >>> stats.means.tolist(), stats.stds.tolist(), stats.counts.tolist()
        ([3.0, 3.5], [1.0, 1.5], [1, 2])
    """
    state: tuple[np.ndarray, ...] | None = None
    k = num_classes
    for x, y in _pairs(logits, labels):
        b, z = prepare_logits(x)
        if k is None:
            k = int(z.shape[_AXIS])
        if z.shape[_AXIS] != k:
            raise ShapeError(f"Expected `logits` to have num_classes={k} on axis -3, but got shape {tuple(z.shape)}")
        peak = b.to_numpy(b.amax(z, _AXIS)).astype(np.float64)
        cls = b.to_numpy(b.argmax(z, _AXIS))
        if y is not None:
            lab = get_backend(y).to_numpy(y)
            if lab.shape != peak.shape:
                raise ShapeError(f"Expected `labels` to have shape {peak.shape}, but got {lab.shape}")
            keep = lab != ignore_index
            peak, cls = peak[keep], cls[keep]
        peak, cls = peak.ravel(), cls.ravel()
        n = np.bincount(cls, minlength=k).astype(np.float64)
        mean = np.bincount(cls, weights=peak, minlength=k) / np.maximum(n, 1)
        m2 = np.bincount(cls, weights=(peak - mean[cls]) ** 2, minlength=k)
        state = (n, mean, m2) if state is None else _merge(state, (n, mean, m2))
    if state is None or k is None:
        raise ValueCheckError("Expected at least one `logits` array to fit SML statistics, but got none")
    n, mean, m2 = state
    seen = n > 0
    std = np.sqrt(m2 / np.maximum(n, 1))
    std = np.where(seen & (std > 0), std, 1.0)
    return SMLStats(means=np.where(seen, mean, 0.0), stds=std, counts=n.astype(np.int64))


@register_score("sml")
def sml_score(logits: Any, stats: SMLStats) -> Any:
    r"""Standardized Max Logit score, ``− (max_c z_c − μ_ĉ) / σ_ĉ`` with ``ĉ = argmax_c z_c``.

    Args:
        logits: (C, H, W) or (B, C, H, W) float logits (numpy or torch), class axis -3, C = K.
        stats: Per-class statistics from :func:`fit_sml_stats` (or :meth:`SMLStats.load`).

    Returns:
        (H, W) or (B, H, W) scores, the input's kind; higher = more anomalous.

    Raises:
        ShapeError: If the logits are not 3-D / 4-D or C differs from ``stats.num_classes``.

    Example:
        >>> import numpy as np
        >>> stats = SMLStats(means=np.array([3.0, 3.5]), stds=np.array([1.0, 1.5]), counts=np.array([1, 2]))
        >>> sml_score(np.array([[[3.0, 1.0]], [[0.0, 5.0]]]), stats).tolist()
        [[-0.0, -1.0]]
    """
    if not isinstance(stats, SMLStats):
        raise ValueCheckError(f"Expected `stats` to be SMLStats, but got {type(stats).__name__}")
    b, z = prepare_logits(logits)
    if z.shape[_AXIS] != stats.num_classes:
        raise ShapeError(
            f"Expected `logits` to have {stats.num_classes} classes on axis -3 like `stats`, but got {tuple(z.shape)}"
        )
    cls = b.argmax(z, _AXIS)
    mu = b.like(stats.means, z)[cls]
    sigma = b.like(stats.stds, z)[cls]
    return -(b.amax(z, _AXIS) - mu) / sigma
