"""Evaluation metrics: pixel level (exact and SMIYC-binned), component level (SMIYC) and semantic.

Every metric is a small stateful class (``update`` / ``merge`` / ``compute`` / ``reset``, picklable)
with a functional twin sharing the same private stages.
"""

from oodforge.metrics.component import (
    SIOU_THRESHOLDS,
    TRACK_SIZES,
    ComponentMetrics,
    ComponentResult,
    component_metrics,
)
from oodforge.metrics.pixel import PixelCurves, PixelMetrics, PixelResult, pixel_curves, pixel_metrics
from oodforge.metrics.semantic import SemanticMetrics, SemanticResult, semantic_metrics

__all__ = [
    "SIOU_THRESHOLDS",
    "TRACK_SIZES",
    "ComponentMetrics",
    "ComponentResult",
    "PixelCurves",
    "PixelMetrics",
    "PixelResult",
    "SemanticMetrics",
    "SemanticResult",
    "component_metrics",
    "pixel_curves",
    "pixel_metrics",
    "semantic_metrics",
]
