"""Steps shared by ``oodforge eval`` and ``oodforge benchmark``, so both give equal numbers by construction.

- :func:`resolve_protocol` / :func:`resolve_track`: the pixel protocol and the SMIYC component track of a split;
- :func:`load_label`: a label whose file is bad becomes a one-line :class:`~oodforge.errors.InputFileError`;
- :func:`check_classes`: a split without anomaly (or normal) pixels is refused (every metric undefined);
- :class:`ComponentPass`: component metrics at the pixel best-F1 threshold t, with the protocol's rule:
  ``smiyc`` / ``smiyc2021``: ``score > t`` in float16 (official); ``fishyscapes``: ``score >= t`` in float32,
  the prediction rule of the exact curve that produced t (t is the lowest anomaly score kept);
- :func:`assemble_report`: the :class:`~oodforge.eval.report.EvalReport` of one split.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oodforge.benchmarks import BenchmarkReader
from oodforge.errors import InputFileError, SampleError, ShapeError, UsageError, ValueCheckError
from oodforge.eval.report import EvalCurves, EvalReport, ScoreHistogram
from oodforge.metrics import ComponentMetrics, ComponentResult, PixelMetrics, PixelResult
from oodforge.metrics._component_inputs import strictly_above
from oodforge.metrics._components import FrameTruth

__all__ = [
    "PROTOCOLS",
    "ComponentPass",
    "assemble_report",
    "check_classes",
    "load_label",
    "resolve_protocol",
    "resolve_track",
]

#: Pixel protocols accepted by :func:`oodforge.eval.evaluate` and ``oodforge benchmark``.
PROTOCOLS = ("fishyscapes", "smiyc", "smiyc2021")


def resolve_protocol(protocol: str | None, reader: BenchmarkReader) -> str:
    """``protocol``, or the reader's ``default_protocol`` when None.

    Raises:
        UsageError: not one of :data:`PROTOCOLS`.
    """
    chosen = reader.default_protocol if protocol is None else protocol
    if chosen not in PROTOCOLS:
        raise UsageError(f"unknown protocol '{chosen}'; valid protocols: {', '.join(PROTOCOLS)}")
    return chosen


def resolve_track(components: bool | None, reader: BenchmarkReader) -> str | None:
    """The component track (``anomaly`` / ``obstacle``): None = where the benchmark has one, False = none.

    Raises:
        UsageError: ``components`` is True for a benchmark without component metrics.
    """
    if components is False:
        return None
    track = reader.component_track
    if components and track is None:
        raise UsageError(
            f"{reader.name} has no component metrics (only SMIYC-style benchmarks and synth datasets have them)"
        )
    return track


def load_label(reader: BenchmarkReader, image_id: str) -> np.ndarray:
    """The mapped label; reader errors about the label file become one-line :class:`InputFileError` s."""
    try:
        return reader.load_label(image_id)
    except (ValueCheckError, ShapeError, SampleError) as exc:
        raise InputFileError(str(exc)) from exc


def check_classes(num_positives: int, num_negatives: int, what: str, n_images: int) -> None:
    """Refuse a split whose valid pixels are all of one class (every metric would be undefined).

    Raises:
        UsageError: no anomaly (label 1) or no normal (label 0) pixel; the message counts both.
    """
    missing = []
    if num_positives == 0:
        missing.append("anomaly pixel (label 1)")
    if num_negatives == 0:
        missing.append("normal pixel (label 0)")
    if missing:
        raise UsageError(
            f"{what}: no {' and no '.join(missing)} in its {n_images} image(s) "
            f"({num_positives} anomaly, {num_negatives} normal valid pixels); AP, AUROC and FPR95 "
            "are undefined, so nothing was evaluated"
        )


class ComponentPass:
    """Component metrics of one split at a pixel threshold, with the protocol's prediction rule (module docstring).

    Args:
        track: ``"anomaly"`` or ``"obstacle"``.
        protocol: The pixel protocol that produced ``threshold``.
        threshold: The pixel best-F1 threshold.
    """

    def __init__(self, track: str, protocol: str, threshold: float) -> None:
        self.exact = protocol == "fishyscapes"
        self.threshold = threshold
        self._t32 = np.float32(threshold)
        self._metric = ComponentMetrics(track, threshold=None if self.exact else threshold)  # type: ignore[arg-type]

    def update(self, scores: np.ndarray, label: np.ndarray) -> None:
        """Add one frame: its (H, W) score map as stored and its mapped label."""
        pred: Any = scores.astype(np.float32, copy=False) >= self._t32 if self.exact else scores
        self._metric.update(pred, label)

    def update_truth(self, s16: np.ndarray, truth: FrameTruth) -> None:
        """:meth:`update` for a float16 map already checked finite, against the frame's precomputed truth."""
        self._metric.update_masks(self._at_least(s16) if self.exact else self._metric.predict(s16), truth)

    def _at_least(self, s16: np.ndarray) -> np.ndarray:
        """``float32(s16) >= threshold`` without the float32 copy: ``s16 > the float16 just below it``."""
        with np.errstate(over="ignore"):  # thresholds beyond ±65504 round to ±inf, which compares right
            t = np.float16(self._t32)
            if np.float32(t) < self._t32:
                t = np.nextafter(t, np.float16(np.inf))
            below = np.nextafter(t, np.float16(-np.inf)) + np.float16(0.0)
        return strictly_above(s16, below)

    def compute(self) -> ComponentResult:
        """Split-level component metrics."""
        return self._metric.compute()

    @property
    def note(self) -> str:
        """The report note naming the rule and the threshold."""
        rule = ">=" if self.exact else "> (float16, official)"
        return f"component predictions: score {rule} {self.threshold:.6g}, the pixel best-F1 threshold"


def assemble_report(
    reader: BenchmarkReader,
    protocol: str,
    pixel: PixelMetrics,
    result: PixelResult,
    histogram: ScoreHistogram,
    components: ComponentPass | None,
    track: str | None,
    *,
    root: str,
    scores_dir: str,
    curve_points: int,
) -> EvalReport:
    """The report of one split: the reader's notes, then the component rule note when components were computed."""
    notes = list(reader.notes)
    comp = None
    if components is not None:
        comp = components.compute()
        notes.append(components.note)
    return EvalReport(
        benchmark=reader.name,
        split=reader.split,
        protocol=protocol,
        n_images=len(reader),
        pixel=result,
        components=comp,
        component_track=track,
        component_threshold=None if components is None else components.threshold,
        curves=EvalCurves.from_pixel_curves(pixel.curves(curve_points)),
        histogram=histogram,
        notes=tuple(notes),
        root=root,
        scores_dir=scores_dir,
    )
