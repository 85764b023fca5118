"""The (score, temperature) rows of ``oodforge benchmark``: what each computes, and its bounded metric state.

A row's score map is what ``oodforge score`` writes for the same logits: the registered score with
``temperature=T`` (per-pixel scaling: ``--temperature T``) or applied to per-pixel class scores computed with the
class-query logits divided by T (``target: class``: ``--class-temperature T``), then stored as float16 with the
same checks. Scores without a temperature parameter (``maxlogit``, ``sml``) give the same map at every per-pixel
temperature (``oodforge score`` refuses ``--temperature`` for them): such rows share one state.

State per distinct row and benchmark (:class:`PairState`): the pixel metric state of the protocol (constant
1 MiB for ``fishyscapes`` on float16 maps, <= 769 bins per frame for ``smiyc*``) and a 1 MiB float16 key
histogram; no per-frame array. Per frame and row, ONE ``bincount`` of the map's float16 keys by label class
feeds the metric, the score histogram and (primary row) the per-frame AP.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from oodforge.errors import OodforgeError, UsageError
from oodforge.eval._histogram import Float16Histogram
from oodforge.eval.bench_results import Temperature, row_key
from oodforge.eval.report import ScoreHistogram
from oodforge.metrics import PixelMetrics
from oodforge.metrics._f16 import NUM_KEYS, float16_keys
from oodforge.scores import SMLStats, create_score

__all__ = [
    "FrameLabel",
    "KeyHistogram",
    "PairSpec",
    "PairState",
    "float16_scores",
    "key_histogram",
    "make_scorer",
    "plan_rows",
    "takes_temperature",
]

_NEG_ZERO_KEY, _POS_ZERO_KEY = 0x7FFF, 0x8000  # keys of -0.0 and +0.0


@dataclass(frozen=True)
class PairSpec:
    """What one score map is: the score, the class-query temperature and the per-pixel temperature."""

    score: str
    class_t: float = 1.0
    pixel_t: float = 1.0

    @property
    def folder(self) -> str:
        """A folder name for its score maps: ``energy_T2``, ``rba_Tc1.5``."""
        parts = [self.score]
        if self.class_t != 1.0:
            parts.append(f"Tc{self.class_t:g}")
        parts.append(f"T{self.pixel_t:g}")
        return "_".join(parts)


def takes_temperature(score: str) -> bool:
    """Whether the registered score has a ``temperature`` parameter (``msp``, ``entropy``, ``energy``, ``rba``)."""
    fn = create_score(score, stats=None) if score == "sml" else create_score(score)
    return "temperature" in inspect.signature(fn).parameters


def plan_rows(
    scores: list[str], temperatures: list[Temperature], is_mask: bool, notes: list[str]
) -> tuple[list[str], dict[str, PairSpec]]:
    """The scores that apply and each row's :class:`PairSpec` (rows with equal specs share one state).

    Raises:
        UsageError: ``target: class`` for dense outputs; no score left.
    """
    kept = list(scores)
    if "rba" in kept and not is_mask:
        kept.remove("rba")
        notes.append("skipped score 'rba': it needs mask-classification outputs (class_logits + mask_logits)")
    if not kept:
        raise UsageError("no score applies to these outputs; add msp, maxlogit, entropy, energy or sml to the suite")
    rows: dict[str, PairSpec] = {}
    for t in temperatures:
        if t.target == "class" and not is_mask:
            raise UsageError(
                "temperatures.target 'class' scales the class-query logits of mask-classification models; these "
                "outputs are dense logits: use target 'logits'"
            )
    free = [s for s in kept if not takes_temperature(s)]
    for score in kept:
        for t in temperatures:
            if t.target == "class":
                rows[row_key(score, t)] = PairSpec(score, class_t=t.value)
            else:
                rows[row_key(score, t)] = PairSpec(score, pixel_t=t.value if score not in free else 1.0)
    if free and any(t.value != 1.0 and t.target != "class" for t in temperatures):
        verb = "takes" if len(free) == 1 else "take"
        notes.append(
            f"{', '.join(free)} {verb} no temperature (T would not change the ranking): the same score map "
            "at every per-pixel temperature"
        )
    return kept, rows


def make_scorer(spec: PairSpec, sml: SMLStats | None) -> Callable[[Any], Any]:
    """The registered score of ``spec`` with its per-pixel temperature and statistics bound."""
    kwargs: dict[str, Any] = {}
    if spec.pixel_t != 1.0:
        kwargs["temperature"] = spec.pixel_t
    if spec.score == "sml":
        kwargs["stats"] = sml
    return create_score(spec.score, **kwargs)


def float16_scores(scores: Any, hw: tuple[int, int], where: str, error: type[OodforgeError]) -> np.ndarray:
    """The (H, W) float16 map ``oodforge score`` would store, with its checks (finite, within ±65504).

    Raises:
        error: a wrong shape, NaN / inf, or a value that overflows float16 (one line naming ``where``).
    """
    arr = np.asarray(scores)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.shape != hw or arr.dtype.kind not in "fiu":
        raise error(f"{where}: score map has shape {arr.shape} {arr.dtype}; expected {hw} (H, W) like the label")
    with np.errstate(over="ignore", invalid="ignore"):
        out: np.ndarray = arr.astype(np.float16)
    if not np.isfinite(out).all():  # NaN / inf in the scores, or finite scores beyond float16's range
        if not np.isfinite(arr).all():
            raise error(f"{where}: expected finite scores, but got NaN or inf")
        raise error(
            f"{where}: expected scores within ±65504 for float16 storage, but got up to {np.abs(arr).max():.6g}"
        )
    return out


class FrameLabel:
    """One frame's label, prepared once for every row: the label and each pixel's key-histogram offset.

    Offsets: 0 normal, 65536 anomaly, 131072 void (every label value other than 0 and 1).
    """

    def __init__(self, label: np.ndarray) -> None:
        self.label = label
        self.offsets = np.minimum(label, 2).astype(np.intp) << 16


def key_histogram(s16: np.ndarray, frame: FrameLabel) -> np.ndarray:
    """(2, 65536) counts of the frame's normal / anomaly pixels per float16 key, -0.0 kept apart (one bincount)."""
    idx = np.bitwise_or(frame.offsets, float16_keys(s16))
    return np.bincount(idx.ravel(), minlength=3 * NUM_KEYS)[: 2 * NUM_KEYS].reshape(2, NUM_KEYS)


@cache
def _key_bits() -> np.ndarray:
    """The float16 bit pattern of every key (inverse of :func:`~oodforge.metrics._f16.float16_keys`)."""
    keys = np.arange(NUM_KEYS, dtype=np.uint32)
    return np.where(keys & 0x8000, keys ^ 0x8000, 0xFFFF - keys).astype(np.intp)


class KeyHistogram:
    """:class:`~oodforge.eval._histogram.Float16Histogram` from the frames' key histograms (same result)."""

    def __init__(self) -> None:
        self.counts = np.zeros((2, NUM_KEYS), np.int64)  # per key, -0.0 and +0.0 apart

    def add(self, hist: np.ndarray) -> None:
        """Add one frame's :func:`key_histogram` (before -0.0 is folded)."""
        self.counts += hist

    def finalize(self, bins: int) -> ScoreHistogram:
        """The histogram :class:`Float16Histogram` would give for the same maps."""
        hist = Float16Histogram()
        hist.counts[:, _key_bits()] = self.counts
        seen = hist.counts.sum(axis=0) > 0
        if seen.any():
            values = np.arange(NUM_KEYS, dtype=np.uint16).view(np.float16).astype(np.float64)[seen]
            hist.lo, hist.hi = float(values.min()), float(values.max())
        return hist.finalize(bins)

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return int(self.counts.nbytes)


class PairState:
    """Pixel metrics and score histogram of one row on one benchmark (bounded: module docstring)."""

    def __init__(self, protocol: str) -> None:
        self.pixel = PixelMetrics(protocol, single_class="nan")  # type: ignore[arg-type]
        self.hist = KeyHistogram()

    def update(self, s16: np.ndarray, frame: FrameLabel) -> np.ndarray:
        """Add one frame's float16 map; return its key histogram with -0.0 folded (the metric's input)."""
        hist = key_histogram(s16, frame)
        self.hist.add(hist)
        hist[:, _POS_ZERO_KEY] += hist[:, _NEG_ZERO_KEY]
        hist[:, _NEG_ZERO_KEY] = 0
        self.pixel.update_histogram(hist)
        return hist

    @property
    def nbytes(self) -> int:
        """Bytes held by the metric state and the histogram."""
        return self.pixel.state_nbytes + self.hist.nbytes
