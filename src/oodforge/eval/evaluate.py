"""Evaluate per-image score maps on one split of a benchmark: pooled pixel metrics and SMIYC component metrics.

Streaming, image by image; only one label and one score map are in memory at a time. What the
metric states hold (``oodforge.metrics``): ``smiyc*`` protocols keep <= 769 bins per frame;
``fishyscapes`` keeps a constant 1 MiB histogram for float16 score files and 4 bytes per valid pixel
for float32 ones (the exact mode's documented cost). The score histogram is bounded (1 MiB).

Order of work:

1. Open the benchmark (a wrong root shows the expected layout) and find the score file of **every**
   image id before reading any pixel: a missing file names itself and counts the others.
2. Pass 1: per image, read the label (values outside the benchmark's encoding raise), read and check
   the score map (dtype, shape equal to the label, finite), update the pixel metrics and histogram.
   A split without anomaly (or without normal) pixels stops here with a one-line error.
3. Pass 2 (benchmarks with components): predictions at the pixel best-F1 threshold t. Under
   ``smiyc`` / ``smiyc2021`` the official rule, ``score > t`` in float16; under ``fishyscapes``
   ``score >= t``, the prediction rule of the exact curve that produced t (t is then the lowest anomaly
   score kept, so strict ``>`` would drop it: binary 0/1 scores would predict nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from oodforge.benchmarks import BenchmarkReader, open_benchmark
from oodforge.errors import InputFileError, SampleError, ShapeError, UsageError, ValueCheckError
from oodforge.eval._histogram import Float16Histogram
from oodforge.eval.report import EvalCurves, EvalReport
from oodforge.eval.score_io import find_score_files, read_score_map
from oodforge.metrics import ComponentMetrics, ComponentResult, PixelMetrics, PixelResult

__all__ = ["PROTOCOLS", "STAGE_COMPONENTS", "STAGE_PIXELS", "Progress", "evaluate"]

#: Pixel protocols accepted by :func:`evaluate`.
PROTOCOLS = ("fishyscapes", "smiyc", "smiyc2021")
#: Stage names passed to the ``progress`` callback.
STAGE_PIXELS = "pixel metrics"
STAGE_COMPONENTS = "component metrics"

Progress = Callable[[str, int, int], None]


def _resolve_protocol(protocol: str | None, reader: BenchmarkReader) -> str:
    chosen = reader.default_protocol if protocol is None else protocol
    if chosen not in PROTOCOLS:
        raise UsageError(f"unknown protocol '{chosen}'; valid protocols: {', '.join(PROTOCOLS)}")
    return chosen


def _resolve_track(components: bool | None, reader: BenchmarkReader) -> str | None:
    if components is False:
        return None
    track = reader.component_track
    if components and track is None:
        raise UsageError(
            f"{reader.name} has no component metrics (only SMIYC-style benchmarks and synth datasets have them)"
        )
    return track


def _load_label(reader: BenchmarkReader, image_id: str) -> np.ndarray:
    """The mapped label; reader errors about the label file become one-line :class:`InputFileError` s."""
    try:
        return reader.load_label(image_id)
    except (ValueCheckError, ShapeError, SampleError) as exc:
        raise InputFileError(str(exc)) from exc


def _check_classes(result: PixelResult, what: str, n_images: int) -> None:
    """Refuse a split whose valid pixels are all of one class (every metric would be undefined)."""
    missing = []
    if result.num_positives == 0:
        missing.append("anomaly pixel (label 1)")
    if result.num_negatives == 0:
        missing.append("normal pixel (label 0)")
    if missing:
        raise UsageError(
            f"{what}: no {' and no '.join(missing)} in its {n_images} image(s) "
            f"({result.num_positives} anomaly, {result.num_negatives} normal valid pixels); AP, AUROC and FPR95 "
            "are undefined, so nothing was evaluated"
        )


def _components(
    reader: BenchmarkReader,
    files: dict[str, Path],
    track: str,
    protocol: str,
    threshold: float,
    progress: Progress | None,
) -> ComponentResult:
    exact = protocol == "fishyscapes"
    metric = ComponentMetrics(track, threshold=None if exact else threshold)  # type: ignore[arg-type]
    t32 = np.float32(threshold)
    for k, (image_id, path) in enumerate(files.items(), start=1):
        label = _load_label(reader, image_id)
        scores = read_score_map(path, label.shape)
        metric.update(scores.astype(np.float32, copy=False) >= t32 if exact else scores, label)
        if progress is not None:
            progress(STAGE_COMPONENTS, k, len(files))
    return metric.compute()


def evaluate(
    benchmark: str,
    root: str | Path,
    scores_dir: str | Path,
    *,
    split: str | None = None,
    protocol: str | None = None,
    components: bool | None = None,
    progress: Progress | None = None,
    curve_points: int = 500,
    histogram_bins: int = 100,
) -> EvalReport:
    """Evaluate the score maps in ``scores_dir`` on one split of a benchmark.

    Args:
        benchmark: Registry name (see :func:`oodforge.benchmarks.list_benchmarks`), e.g. ``"synth"``
            for a dataset made by ``oodforge synth``.
        root: The benchmark's dataset root.
        scores_dir: Folder of ``<image_id>.npy`` / ``.npz`` (H, W) float16 / float32 score maps,
            higher = more anomalous (see :mod:`oodforge.eval.score_io`).
        split: Split name; None for the reader's default.
        protocol: ``"fishyscapes"`` (exact), ``"smiyc"`` or ``"smiyc2021"``; None for the reader's
            ``default_protocol``.
        components: Compute component metrics (sIoU, PPV, mean F1): None = when the benchmark has them,
            False = never, True = required (an error for benchmarks without them).
        progress: Optional ``progress(stage, done, total)`` callback (stages :data:`STAGE_PIXELS`,
            :data:`STAGE_COMPONENTS`).
        curve_points: About how many PR / ROC points to keep for plotting.
        histogram_bins: Number of score-histogram bins.

    Returns:
        The report (metrics, curves, histogram, reader notes).

    Raises:
        UsageError: unknown benchmark, split or protocol; components requested where there are none;
            no anomaly or no normal pixel in the split.
        DataLayoutError: ``root`` does not have the benchmark's layout.
        InputFileError: a missing, unreadable or invalid score file (dtype, shape, NaN / inf), or a
            label file that is unreadable or holds values outside the benchmark's encoding.

    Example:
        >>> report = evaluate("synth", "demo_out/dataset", "demo_out/scores/rx_baseline")  # doctest: +SKIP
        >>> report.pixel.ap, report.components.f1_mean  # doctest: +SKIP
    """
    reader = open_benchmark(benchmark, root, split)
    chosen = _resolve_protocol(protocol, reader)
    track = _resolve_track(components, reader)
    ids = reader.image_ids()
    what = f"{reader.name} (split '{reader.split}')"
    files = find_score_files(Path(scores_dir), ids, what)

    pixel = PixelMetrics(chosen, single_class="nan")  # type: ignore[arg-type]
    hist = Float16Histogram()
    for k, image_id in enumerate(ids, start=1):
        label = _load_label(reader, image_id)
        scores = read_score_map(files[image_id], label.shape)
        pixel.update(scores, label)
        hist.update(scores, label)
        if progress is not None:
            progress(STAGE_PIXELS, k, len(ids))
    result = pixel.compute()
    _check_classes(result, what, len(ids))

    notes = list(reader.notes)
    comp = None
    threshold = None
    if track is not None:
        threshold = result.best_f1_threshold
        comp = _components(reader, files, track, chosen, threshold, progress)
        rule = ">=" if chosen == "fishyscapes" else "> (float16, official)"
        notes.append(f"component predictions: score {rule} {threshold:.6g}, the pixel best-F1 threshold")
    return EvalReport(
        benchmark=reader.name,
        split=reader.split,
        protocol=chosen,
        n_images=len(ids),
        pixel=result,
        components=comp,
        component_track=track,
        component_threshold=threshold,
        curves=EvalCurves.from_pixel_curves(pixel.curves(curve_points)),
        histogram=hist.finalize(histogram_bins),
        notes=tuple(notes),
        root=str(root),
        scores_dir=str(scores_dir),
    )
