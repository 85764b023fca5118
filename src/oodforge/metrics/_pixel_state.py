"""Private accumulation states of the pixel metrics (one per protocol family).

``ExactState`` (``fishyscapes``)
    float32 scores: the anomaly and normal scores of each update are kept apart as float32 arrays
    (4 bytes per valid pixel, no labels, no float64) and sorted once at compute (consolidated into
    one sorted array per class, so a later compute only sorts what came after). This is the O(N)
    exact choice: an exact float32 curve needs every distinct score, and a sort-split keeps the
    bytes per pixel at the minimum. Consolidation briefly holds two copies (8 bytes per pixel).
    float16 scores: two exact 65536-bin key histograms (1 MiB, constant in N); float16 -> float32
    is exact, so both kinds of update combine into the same exact curve.

``BinnedState`` (``smiyc``, ``smiyc2021``)
    Per frame, only the SMIYC bins (<= 769 (threshold, TP, FP) triples, ~18 KiB), in update order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oodforge.errors import UsageError, ValueCheckError
from oodforge.metrics._checks import (
    as_array,
    check_choice,
    check_finite_pair,
    check_frames,
    check_label_dtype,
    check_same_shape,
    label_codes,
)
from oodforge.metrics._curve import CurveStats, Multiset, exact_curve_points, exact_stats
from oodforge.metrics._f16 import check_finite_hist, float16_keys, histogram_by_code, key_values32
from oodforge.metrics.smiyc import (
    EdgeRule,
    FrameBins,
    anchored_2023,
    binned_curve,
    bins_from_histogram,
    stats_2021,
    stats_2023,
    trimmed_2021,
)

__all__ = [
    "BinnedState",
    "ExactState",
    "PixelState",
    "check_args",
    "check_classes",
    "check_inputs",
    "new_state",
]


def _consolidate(chunks: list[np.ndarray], is_sorted: bool) -> list[np.ndarray]:
    if len(chunks) > 1:
        merged = np.concatenate(chunks)
        chunks.clear()  # drop the per-update copies before sorting
        merged.sort()
        return [merged]
    if chunks and not is_sorted:
        chunks[0].sort()
    return chunks


class ExactState:
    """Exact pooled state: sorted float32 score arrays and float16 key histograms."""

    def __init__(self) -> None:
        self.pos: list[np.ndarray] = []
        self.neg: list[np.ndarray] = []
        self.hist: np.ndarray | None = None
        self.is_sorted = True

    @property
    def counts(self) -> tuple[int, int]:
        """(positives, negatives) seen so far."""
        p = sum(len(a) for a in self.pos)
        n = sum(len(a) for a in self.neg)
        if self.hist is not None:
            n, p = n + int(self.hist[0].sum()), p + int(self.hist[1].sum())
        return p, n

    @property
    def nbytes(self) -> int:
        """Bytes held by the state arrays."""
        total = sum(a.nbytes for a in self.pos + self.neg)
        return total + (0 if self.hist is None else self.hist.nbytes)

    def update(self, scores: np.ndarray, labels: np.ndarray) -> None:
        """Add pixels; ``labels`` 0 normal, 1 anomaly, anything else void."""
        if scores.dtype == np.float16:
            hist = histogram_by_code(float16_keys(scores), label_codes(labels))
            check_finite_hist(hist)
            self.hist = hist if self.hist is None else self.hist + hist
            return
        s32 = scores.astype(np.float32, copy=False)
        for dest, value in ((self.pos, 1), (self.neg, 0)):
            part = s32[labels == value]
            if part.size:
                check_finite_pair(part.min(), part.max())
                dest.append(part)
                self.is_sorted = False

    def add_histogram(self, hist: np.ndarray) -> None:
        """Add a checked (2, 65536) float16 key histogram (row 0 normal, row 1 anomaly, -0 folded into +0)."""
        self.hist = hist.copy() if self.hist is None else self.hist + hist

    def merge(self, other: ExactState) -> None:
        """Absorb another state (arrays are shared, never modified in a way that changes them as sets)."""
        self.pos.extend(other.pos)
        self.neg.extend(other.neg)
        self.is_sorted = self.is_sorted and not (other.pos or other.neg)
        if other.hist is not None:
            self.hist = other.hist.copy() if self.hist is None else self.hist + other.hist

    def multisets(self) -> tuple[list[Multiset], list[Multiset]]:
        """Sorted multisets of the anomaly and the normal scores (consolidates the arrays)."""
        self.pos = _consolidate(self.pos, self.is_sorted)
        self.neg = _consolidate(self.neg, self.is_sorted)
        self.is_sorted = True
        pos = [Multiset(a) for a in self.pos]
        neg = [Multiset(a) for a in self.neg]
        if self.hist is not None:
            values = key_values32()
            pos.append(Multiset.from_histogram(self.hist[1], values))
            neg.append(Multiset.from_histogram(self.hist[0], values))
        return pos, neg

    def stats(self) -> CurveStats:
        """Exact statistics of everything seen."""
        return exact_stats(*self.multisets())

    def curve(self, max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact curve points at about ``max_points`` thresholds: (thresholds, tp, fp), descending."""
        thr, tp, fp = exact_curve_points(*self.multisets(), max_points)
        return thr, tp.astype(np.float64), fp.astype(np.float64)


class BinnedState:
    """SMIYC state: per-frame bins in update order."""

    def __init__(self, rule: EdgeRule) -> None:
        self.rule: EdgeRule = rule
        self.frames: list[FrameBins] = []

    @property
    def counts(self) -> tuple[int, int]:
        """(positives, negatives) seen so far."""
        return sum(f.num_positives for f in self.frames), sum(f.num_negatives for f in self.frames)

    @property
    def nbytes(self) -> int:
        """Bytes held by the state arrays."""
        return sum(f.thresholds.nbytes + f.tp.nbytes + f.fp.nbytes for f in self.frames)

    def update(self, scores: np.ndarray, labels: np.ndarray) -> None:
        """Add (B, H, W) frames; scores are cast to float16 like the official submission files.

        Raises:
            ValueCheckError: NaN or inf on valid pixels, or finite scores beyond float16's +-65504.
        """
        with np.errstate(over="ignore"):
            keys = float16_keys(scores.astype(np.float16, copy=False))
        codes = label_codes(labels)
        protocol = "smiyc" if self.rule == "2023" else "smiyc2021"
        for b in range(keys.shape[0]):
            hist = histogram_by_code(keys[b], codes[b])
            check_finite_hist(hist, scores[b], codes[b], protocol)
            if hist.any():  # a frame without ROI pixels contributes nothing
                self.frames.append(bins_from_histogram(hist, self.rule))

    def add_histogram(self, hist: np.ndarray) -> None:
        """Add one frame as a checked (2, 65536) float16 key histogram (what :meth:`update` makes per frame)."""
        if hist.any():
            self.frames.append(bins_from_histogram(hist, self.rule))

    def merge(self, other: BinnedState) -> None:
        """Append another state's frames after this one's."""
        self.frames.extend(other.frames)

    def _pooled(self, quirk: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return binned_curve(self.frames, collapse=self.rule == "2023", keep_first=quirk)

    def stats(self, quirk: bool) -> CurveStats:
        """Official statistics of the pooled bins."""
        p, n = self.counts
        thr, tp, fp = self._pooled(quirk)
        return stats_2023(thr, tp, fp, p, n) if self.rule == "2023" else stats_2021(thr, tp, fp, p, n)

    def curve(self, quirk: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The official curve points: (thresholds, tp, fp), descending."""
        p, n = self.counts
        thr, tp, fp = self._pooled(quirk)
        return anchored_2023(thr, tp, fp, p, n) if self.rule == "2023" else trimmed_2021(thr, tp, fp)


PixelState = ExactState | BinnedState


def check_args(protocol: str, fpr_mode: str, single_class: str, index0_quirk: bool) -> None:
    """Validate the pixel-metric arguments.

    Raises:
        ValueCheckError: An unknown protocol, FPR mode or single-class policy.
        UsageError: ``index0_quirk=True`` with a protocol other than ``smiyc`` (it has no such point).
    """
    check_choice(protocol, "protocol", ("fishyscapes", "smiyc", "smiyc2021"))
    check_choice(fpr_mode, "fpr_mode", ("first", "interpolated"))
    check_choice(single_class, "single_class", ("raise", "nan"))
    if index0_quirk and protocol != "smiyc":
        raise UsageError(
            "Expected protocol 'smiyc' with `index0_quirk=True` (a point of its collapsed binned curve), "
            f"but got {protocol!r}"
        )


def check_inputs(scores: Any, labels: Any, protocol: str) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels as numpy arrays of one shape ((B, H, W) frames for the ``smiyc*`` protocols)."""
    s = as_array(scores, "scores")
    lab = as_array(labels, "labels")
    check_label_dtype(lab)
    check_same_shape(s, lab, "scores", "labels")
    if protocol != "fishyscapes":
        s, lab = check_frames(s, "scores"), check_frames(lab, "labels")
    return s, lab


def new_state(protocol: str) -> PixelState:
    """An empty state of the protocol's family."""
    if protocol == "fishyscapes":
        return ExactState()
    return BinnedState("2023" if protocol == "smiyc" else "2021")


def check_classes(state: PixelState, single_class: str) -> bool:
    """True if both classes were seen; False (``single_class="nan"``) or raise otherwise."""
    p, n = state.counts
    if p and n:
        return True
    if single_class == "nan":
        return False
    raise ValueCheckError(
        f"Expected at least one anomaly (label 1) and one normal (label 0) pixel, but got {p} and {n}"
    )
