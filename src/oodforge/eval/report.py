"""Result containers of :func:`oodforge.eval.evaluate`: metrics, plot curves, score histogram; JSON-safe dicts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oodforge.metrics import ComponentResult, PixelCurves, PixelResult

__all__ = ["EvalCurves", "EvalReport", "ScoreHistogram", "json_safe"]


def json_safe(value: Any) -> Any:
    """Plain-Python, strict-JSON version of ``value``: NaN and ±inf become None, arrays become lists.

    Example:
        >>> json_safe({"a": np.float64("nan"), "b": (1, np.int64(2)), "c": np.array([0.5, np.inf])})
        {'a': None, 'b': [1, 2], 'c': [0.5, None]}
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True, eq=False)
class EvalCurves:
    """PR and ROC points for plotting (subsampled exact or official binned curve), descending thresholds.

    Attributes:
        thresholds: (K,) float64; prediction = score >= threshold (the first point may be +inf).
        precision: (K,) TP / (TP + FP), 1 where nothing is predicted.
        recall: (K,) TP / P (= TPR).
        fpr: (K,) FP / N.
    """

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    fpr: np.ndarray

    @property
    def tpr(self) -> np.ndarray:
        """TP / P, the same as :attr:`recall`."""
        return self.recall

    @classmethod
    def from_pixel_curves(cls, curves: PixelCurves) -> EvalCurves:
        """Precision, recall and FPR of :class:`oodforge.metrics.PixelCurves` points."""
        return cls(curves.thresholds, curves.precision, curves.recall, curves.fpr)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of lists (an infinite threshold becomes None)."""
        return json_safe(
            {"thresholds": self.thresholds, "precision": self.precision, "recall": self.recall, "fpr": self.fpr}
        )


@dataclass(frozen=True, eq=False)
class ScoreHistogram:
    """Score distribution of the valid pixels, per class, over fixed bins spanning the observed range.

    Attributes:
        edges: (B + 1,) float64 bin edges, ``edges[0]`` = lowest score, ``edges[-1]`` = highest.
        anomaly: (B,) int64 anomaly-pixel (label 1) counts per bin.
        normal: (B,) int64 normal-pixel (label 0) counts per bin.
    """

    edges: np.ndarray
    anomaly: np.ndarray
    normal: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of lists."""
        return json_safe({"edges": self.edges, "anomaly": self.anomaly, "normal": self.normal})


@dataclass(frozen=True, eq=False)
class EvalReport:
    """Everything :func:`oodforge.eval.evaluate` measured on one split of one benchmark.

    Attributes:
        benchmark: Registry name of the benchmark reader, e.g. ``"road_anomaly_21"`` or ``"synth"``.
        split: The evaluated split.
        protocol: Pixel protocol: ``"fishyscapes"``, ``"smiyc"`` or ``"smiyc2021"``.
        n_images: Number of images evaluated.
        pixel: Pooled AP, AUROC, FPR95, best F1 and its threshold, P and N.
        components: SMIYC component metrics (sIoU, PPV, mean F1), or None when not computed.
        component_track: ``"anomaly"`` / ``"obstacle"`` size filters used, or None.
        component_threshold: Score threshold of the component predictions (the pixel best-F1 threshold).
        curves: PR / ROC points for plotting.
        histogram: Per-class score histogram of the valid pixels.
        notes: Remarks from the benchmark reader and the evaluator (skipped records, threshold rule).
        root: Benchmark root as given.
        scores_dir: Score folder as given.
    """

    benchmark: str
    split: str
    protocol: str
    n_images: int
    pixel: PixelResult
    components: ComponentResult | None
    component_track: str | None
    component_threshold: float | None
    curves: EvalCurves
    histogram: ScoreHistogram
    notes: tuple[str, ...] = field(default=())
    root: str = ""
    scores_dir: str = ""

    def to_dict(self, *, include_curves: bool = True) -> dict[str, Any]:
        """Strict-JSON dict (NaN / inf → None); ``include_curves=False`` drops curves and histogram."""
        from oodforge import __version__

        out: dict[str, Any] = {
            "oodforge_version": __version__,
            "benchmark": self.benchmark,
            "split": self.split,
            "protocol": self.protocol,
            "n_images": self.n_images,
            "root": self.root,
            "scores_dir": self.scores_dir,
            "pixel": self.pixel.to_dict(),
            "components": None if self.components is None else self.components.to_dict(),
            "component_track": self.component_track,
            "component_threshold": self.component_threshold,
            "notes": list(self.notes),
        }
        if include_curves:
            out["curves"] = self.curves.to_dict()
            out["histogram"] = self.histogram.to_dict()
        return json_safe(out)
