"""The worst frames of a benchmark (lowest per-frame AP of the primary row), kept small and rendered as PNGs.

Per frame, the exact AP (``fishyscapes`` rule) of the primary row's float16 map; frames without an anomaly or
a normal pixel have no AP and are not ranked. A bounded heap keeps the ``k`` lowest with thumbnails ``width`` px
wide (image, score, label): a few hundred KiB whatever the number of frames.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from oodforge._io import encode_png
from oodforge.eval.bench_results import WorstFrame
from oodforge.metrics import PixelMetrics

__all__ = ["WorstFrames", "frame_ap"]


def frame_ap(hist: np.ndarray) -> float:
    """Exact AP of one frame from its (2, 65536) float16 key histogram (NaN without an anomaly or a normal pixel)."""
    metric = PixelMetrics("fishyscapes", single_class="nan")
    metric.update_histogram(hist)
    return float(metric.compute().ap)


@dataclass
class _Thumb:
    image_id: str
    ap: float
    image: np.ndarray
    score: np.ndarray
    label: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.image.nbytes + self.score.nbytes + self.label.nbytes)


def _small(image: np.ndarray, score: np.ndarray, label: np.ndarray, width: int) -> tuple[np.ndarray, ...]:
    h, w = label.shape
    if w <= width:
        return image.copy(), score.astype(np.float32), label.copy()
    size = (width, max(1, round(h * width / w)))
    return (
        _area(image, size),
        _area(score[::2, ::2].astype(np.float32) if w >= 2 * width else score.astype(np.float32), size),
        cv2.resize(label, size, interpolation=cv2.INTER_NEAREST),
    )


def _area(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Shrink ``a`` to ``size``: exact 2x area halvings (OpenCV's fast path), then bilinear for the last < 2x."""
    while a.shape[1] >= 2 * size[0] and a.shape[0] >= 2 * size[1]:
        h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2  # an even crop keeps the halving exact (fast)
        a = cv2.resize(a[:h, :w], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(a, size, interpolation=cv2.INTER_LINEAR)  # OpenCV's general INTER_AREA costs ~1 ms here


def _heat(score: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(score, [1, 99])
    norm = np.clip((score - lo) / max(float(hi - lo), 1e-12), 0, 1)
    bgr = cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _overlay(image: np.ndarray, label: np.ndarray) -> np.ndarray:
    out = image.astype(np.float32)
    out[label == 1] = 0.4 * out[label == 1] + 0.6 * np.array([255.0, 0.0, 0.0])
    out[label > 1] *= 0.35
    return out.astype(np.uint8)


class WorstFrames:
    """Keep the ``k`` frames with the lowest AP (ties: the earlier frame ranks worse); see the module docstring."""

    def __init__(self, entry: str, k: int = 5, width: int = 320) -> None:
        self.entry = entry
        self.k = k
        self.width = width
        self.unranked = 0
        self._heap: list[tuple[float, int, _Thumb]] = []  # (-ap, -order, thumb): the root is the best kept
        self._order = itertools.count()

    def offer(
        self, image_id: str, ap: float, image: Callable[[], np.ndarray], s16: np.ndarray, label: np.ndarray
    ) -> bool:
        """Consider one frame; ``image()`` is called only when the frame enters the heap. Returns whether it did."""
        if math.isnan(ap):
            self.unranked += 1
            return False
        order = next(self._order)
        if not self.wants(ap):
            return False
        thumb = _Thumb(image_id, ap, *_small(image(), s16, label, self.width))
        item = (-ap, -order, thumb)
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, item)
        else:
            heapq.heapreplace(self._heap, item)
        return True

    def wants(self, ap: float) -> bool:
        """Whether a frame with this AP would enter the heap."""
        return not math.isnan(ap) and (len(self._heap) < self.k or -self._heap[0][0] > ap)

    @property
    def nbytes(self) -> int:
        """Bytes held by the thumbnails."""
        return sum(t.nbytes for _, _, t in self._heap)

    def frames(self) -> list[WorstFrame]:
        """The kept frames, worst first, rendered: image, score heat map (1-99 % range), GT overlay (red, void dark)."""
        kept = sorted(self._heap, key=lambda item: (-item[0], -item[1]))
        return [
            WorstFrame(
                entry=self.entry,
                image_id=t.image_id,
                frame_ap=t.ap,
                image_png=encode_png(t.image, 3),
                score_png=encode_png(_heat(t.score), 3),
                label_png=encode_png(_overlay(t.image, t.label), 3),
            )
            for _, _, t in kept
        ]
