"""Bounded one-pass score histogram: exact float16 bit-pattern counts, re-binned over the observed range.

The range of the scores is only known after the last image, so each image adds its valid pixels to
two 65536-bin histograms of their float16 bit patterns (anomaly, normal; 1 MiB in all, whatever the
number of pixels) and the exact float64 minimum and maximum. :meth:`Float16Histogram.finalize` then
assigns every float16 value to one of B equal bins over [min, max]. A pixel thus lands in the bin of
its float16-rounded score: exact for float16 score files, and off by at most one bin for a float32
score within half a float16 ulp of a bin edge (invisible in a plot). Scores beyond ±65504 round to
±inf and fall into the outermost bins.
"""

from __future__ import annotations

import numpy as np

from oodforge.eval.report import ScoreHistogram

__all__ = ["Float16Histogram"]

_NKEYS = 1 << 16


class Float16Histogram:
    """Accumulate per-class float16 histograms of valid pixels; see the module docstring.

    Example:
        >>> h = Float16Histogram()
        >>> h.update(np.array([[0.0, 0.25], [0.75, 1.0]]), np.array([[0, 0], [1, 255]], np.uint8))
        >>> r = h.finalize(bins=3)
        >>> r.edges.tolist(), r.normal.tolist(), r.anomaly.tolist()
        ([0.0, 0.25, 0.5, 0.75], [1, 1, 0], [0, 0, 1])
    """

    def __init__(self) -> None:
        self.counts = np.zeros((2, _NKEYS), np.int64)
        self.lo = float("inf")
        self.hi = float("-inf")

    def update(self, scores: np.ndarray, labels: np.ndarray) -> None:
        """Add the pixels with label 0 (normal) or 1 (anomaly); every other label is ignored.

        Args:
            scores: (H, W) finite float scores.
            labels: (H, W) integer labels of the same shape.
        """
        for cls in (0, 1):
            part = scores[labels == cls]
            if not part.size:
                continue
            self.lo = min(self.lo, float(part.min()))
            self.hi = max(self.hi, float(part.max()))
            with np.errstate(over="ignore"):
                bits = part.astype(np.float16).view(np.uint16)
            self.counts[cls] += np.bincount(bits.ravel(), minlength=_NKEYS)

    def finalize(self, bins: int = 100) -> ScoreHistogram:
        """Re-bin the counts into ``bins`` equal bins over [min, max] (a unit range around a constant score).

        Args:
            bins: Number of bins B >= 1.

        Returns:
            The histogram; all-zero counts over [-0.5, 0.5] when nothing was added.
        """
        lo, hi = (self.lo, self.hi) if self.lo <= self.hi else (0.0, 0.0)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        values = np.arange(_NKEYS, dtype=np.uint16).view(np.float16).astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            pos = np.floor((values - lo) / (hi - lo) * bins)
        pos = np.nan_to_num(pos, nan=0.0, posinf=bins - 1, neginf=0.0)
        idx = np.clip(pos, 0, bins - 1).astype(np.intp)
        normal, anomaly = (np.bincount(idx, weights=c, minlength=bins).round().astype(np.int64) for c in self.counts)
        return ScoreHistogram(edges, anomaly, normal)
