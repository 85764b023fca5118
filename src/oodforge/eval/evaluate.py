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

from oodforge.benchmarks import BenchmarkReader, open_benchmark
from oodforge.errors import InputFileError, ValueCheckError
from oodforge.eval._eval_steps import (
    PROTOCOLS,
    ComponentPass,
    assemble_report,
    check_classes,
    load_label,
    resolve_protocol,
    resolve_track,
)
from oodforge.eval._histogram import Float16Histogram
from oodforge.eval.report import EvalReport
from oodforge.eval.score_io import find_score_files, read_score_map
from oodforge.metrics import PixelMetrics

__all__ = ["PROTOCOLS", "STAGE_COMPONENTS", "STAGE_PIXELS", "Progress", "evaluate"]

#: Stage names passed to the ``progress`` callback.
STAGE_PIXELS = "pixel metrics"
STAGE_COMPONENTS = "component metrics"

Progress = Callable[[str, int, int], None]


def _components(
    reader: BenchmarkReader, files: dict[str, Path], components: ComponentPass, progress: Progress | None
) -> None:
    for k, (image_id, path) in enumerate(files.items(), start=1):
        label = load_label(reader, image_id)
        components.update(read_score_map(path, label.shape), label)
        if progress is not None:
            progress(STAGE_COMPONENTS, k, len(files))


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
        InputFileError: a missing, unreadable or invalid score file (dtype, shape, NaN / inf; under
            ``smiyc*`` also finite scores beyond float16's +-65504), or a label file that is unreadable
            or holds values outside the benchmark's encoding.

    Example:
        >>> report = evaluate("synth", "demo_out/dataset", "demo_out/scores/rx_baseline")  # doctest: +SKIP
        >>> report.pixel.ap, report.components.f1_mean  # doctest: +SKIP
    """
    reader = open_benchmark(benchmark, root, split)
    chosen = resolve_protocol(protocol, reader)
    track = resolve_track(components, reader)
    ids = reader.image_ids()
    what = f"{reader.name} (split '{reader.split}')"
    files = find_score_files(Path(scores_dir), ids, what)

    pixel = PixelMetrics(chosen, single_class="nan")  # type: ignore[arg-type]
    hist = Float16Histogram()
    for k, image_id in enumerate(ids, start=1):
        label = load_label(reader, image_id)
        scores = read_score_map(files[image_id], label.shape)
        try:
            pixel.update(scores, label)
        except ValueCheckError as exc:  # e.g. float32 scores beyond float16's range under smiyc*
            raise InputFileError(f"{files[image_id]}: {exc}") from None
        hist.update(scores, label)
        if progress is not None:
            progress(STAGE_PIXELS, k, len(ids))
    result = pixel.compute()
    check_classes(result.num_positives, result.num_negatives, what, len(ids))

    comp = None
    if track is not None:
        comp = ComponentPass(track, chosen, result.best_f1_threshold)
        _components(reader, files, comp, progress)
    return assemble_report(
        reader, chosen, pixel, result, hist.finalize(histogram_bins), comp, track,
        root=str(root), scores_dir=str(scores_dir), curve_points=curve_points,
    )  # fmt: skip
