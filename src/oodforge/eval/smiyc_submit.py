"""A SegmentMeIfYouCan submission from a model or saved logits: one float16 HDF5 score map per frame.

The frames of one split of ``road_anomaly_21`` or ``road_obstacle_21`` are read for their images only (the test
labels are hidden: :meth:`~oodforge.benchmarks.BenchmarkReader.open_images`). Each frame's output comes from the
sources of ``oodforge benchmark`` (:mod:`oodforge.eval._bench_source`): one forward pass of a model, or the saved
logits ``<logits>/<benchmark name>/<image_id>.npy|npz``. The score is the one ``oodforge score`` computes
(:mod:`oodforge.eval.scoring`, same options and checks; a saved ``class_logits`` + ``mask_logits`` pair is scored
as that command scores it), and :func:`~oodforge.eval.smiyc_submission.write_smiyc_submission` stores it where the
official toolkit reads it: ``<method dir>/<AnomalyTrack-all|ObstacleTrack-all>/<image_id>.hdf5``.

That ``AnomalyTrack-all`` / ``ObstacleTrack-all`` folder is an owned output folder
(:mod:`oodforge.export.owned_folder`): its list of files sits in its ``.oodforge/``, a folder with files oodforge
did not write is refused, a previous export is replaced only with ``overwrite``. The method folder itself may
hold the other track.

Official dataset names (``SegmentMeIfYouCan/road-anomaly-benchmark``, ``datasets/tracks.py``,
``tracks_extra.py``): :data:`SMIYC_SPLITS`. Its README: run inference on ``AnomalyTrack-all`` and
``ObstacleTrack-all`` (the other splits are subsets); ``python -m road_anomaly_benchmark metric
PixBinaryClass,SegEval-AnomalyTrack <methods> AnomalyTrack-validation`` computes the metrics where labels are
public, ``--only-frame-vis`` draws the score maps without ground truth.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oodforge.benchmarks import BenchmarkReader, benchmark_class
from oodforge.errors import InputFileError, OodforgeError, SampleError, ShapeError, UsageError, ValueCheckError
from oodforge.eval._bench_source import FrameOutput, LogitsSource, MaskPairOutput, Source
from oodforge.eval.scoring import _make_scorer
from oodforge.eval.smiyc_submission import require_h5py, smiyc_dataset_name, write_smiyc_submission
from oodforge.export.owned_folder import check_owned_folder, open_owned_folder

__all__ = ["SMIYC_SPLITS", "SubmissionPlan", "SubmissionResult", "plan_submission", "submit_smiyc", "write_submission"]

Progress = Callable[[str, int, int], None]

#: oodforge benchmark -> split -> the official toolkit's dataset name of the same frames.
SMIYC_SPLITS: dict[str, dict[str, str]] = {
    "road_anomaly_21": {
        "all": "AnomalyTrack-all",
        "test": "AnomalyTrack-test",
        "validation": "AnomalyTrack-validation",
    },
    "road_obstacle_21": {
        "all": "ObstacleTrack-all",
        "test": "ObstacleTrack-test",
        "validation": "ObstacleTrack-validation",
        "night": "ObstacleTrack-night",
        "snowstorm": "ObstacleTrack-snowstorm",
        "noNight": "ObstacleTrack-noNight",
    },
}
#: Component metric of each track in the toolkit (``metric SegEval-<track>``).
_SEGEVAL = {"road_anomaly_21": "SegEval-AnomalyTrack", "road_obstacle_21": "SegEval-ObstacleTrack"}
_COMMAND = "oodforge submit-smiyc"


@dataclass
class SubmissionPlan:
    """A checked submission, before any output: the frames, the scorer and the target folder."""

    benchmark: str
    reader: BenchmarkReader
    dataset: str
    folder: Path
    score: str
    scorer: Callable[[Any], Any]
    class_temperature: float
    overwrite: bool
    notes: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        """The frame ids, sorted."""
        return self.reader.image_ids()


@dataclass(frozen=True)
class SubmissionResult:
    """What was written: ``files`` (one ``.hdf5`` per frame) in ``folder`` (``<method dir>/<persisted name>``)."""

    benchmark: str
    split: str
    dataset: str
    folder: Path
    files: list[Path]
    replaced: int
    notes: list[str]

    def toolkit_command(self) -> str:
        """The official toolkit's command that reads these files (metrics where labels are public, else drawings)."""
        method, parent = shlex.quote(self.folder.parent.name), self.folder.parent.parent
        outputs = shlex.quote(str(parent.parent.resolve())) if parent.name == "anomaly_p" else "<folder of anomaly_p>"
        if self.split == "validation":
            metrics = f"PixBinaryClass,{_SEGEVAL[self.benchmark]}"
            return f"DIR_OUTPUTS={outputs} python -m road_anomaly_benchmark metric {metrics} {method} {self.dataset}"
        return (
            f"DIR_OUTPUTS={outputs} python -m road_anomaly_benchmark metric PixBinaryClass {method} "
            f"{self.dataset} --only-frame-vis"
        )


def _open_reader(benchmark: str, root: str | Path, split: str) -> BenchmarkReader:
    name = benchmark.strip().lower().replace("-", "_")
    if name not in SMIYC_SPLITS:
        raise UsageError(
            f"--benchmark {benchmark!r}: SegmentMeIfYouCan submissions exist for {' and '.join(SMIYC_SPLITS)} only"
        )
    return benchmark_class(name).open_images(root, split)


def plan_submission(
    benchmark: str,
    root: str | Path,
    out_dir: str | Path,
    score: str,
    *,
    split: str = "test",
    temperature: float | None = None,
    class_temperature: float | None = None,
    sml_stats: str | Path | None = None,
    overwrite: bool = False,
) -> SubmissionPlan:
    """Check everything that needs no model output: the score and its options, the frames, the target folder.

    Args:
        benchmark: ``road_anomaly_21`` or ``road_obstacle_21``.
        root: The benchmark root (any layout its reader accepts).
        out_dir: The method folder, ``$DIR_OUTPUTS/anomaly_p/<MethodName>`` for the official toolkit.
        score: A registered score (``oodforge score --method``).
        split: A split of the benchmark (``test``: labels hidden, not read).
        temperature: Per-pixel temperature of the score (``--temperature``).
        class_temperature: ``rba`` only: temperature of the class-query logits (``--class-temperature``).
        sml_stats: ``sml`` only (required): statistics written by :meth:`oodforge.scores.SMLStats.save`.
        overwrite: Replace a previous export of the same track in ``out_dir`` (only its own files).

    Raises:
        UsageError: another benchmark, unknown split or score, an option the score does not take, h5py
            missing, ``out_dir`` a file, or its track folder not empty and not oodforge's (or a previous export
            without ``overwrite``); DataLayoutError: a wrong root.
    """
    scorer = _make_scorer(score, temperature, class_temperature, None if sml_stats is None else Path(sml_stats))
    require_h5py()
    reader = _open_reader(benchmark, root, split)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder; expected the method folder anomaly_p/<MethodName>")
    folder = out / smiyc_dataset_name(reader.name)
    check_owned_folder(folder, overwrite=overwrite, key="--out", what="SMIYC submission")
    notes: list[str] = []
    if "," in out.name:
        notes.append(f"the toolkit splits method names at commas: rename {out.name!r} before running it")
    if out.parent.name != "anomaly_p":
        notes.append(f"the official toolkit reads $DIR_OUTPUTS/anomaly_p/<MethodName>: move {out} there to use it")
    layout = getattr(reader, "layout", None)
    if layout is not None and layout.kind != "official":
        notes.append(
            "frames read from a redistributed layout: files are named by its file stems, which must be the "
            "official frame ids for the toolkit to find them"
        )
    ct = 1.0 if class_temperature is None else class_temperature
    dataset = SMIYC_SPLITS[reader.name][reader.split]
    return SubmissionPlan(reader.name, reader, dataset, folder, score, scorer, ct, overwrite, notes)


def _scorer_input(output: FrameOutput, class_temperature: float) -> np.ndarray | dict[str, np.ndarray]:
    """What ``oodforge score`` scores: a saved mask pair as read (the scorer applies the class temperature)."""
    if isinstance(output, MaskPairOutput):
        return {"class_logits": output.class_logits, "mask_logits": output.mask_logits}
    return output.pixel_scores(class_temperature)


def _frame_scores(plan: SubmissionPlan, source: Source, image_id: str, error: type[OodforgeError]) -> np.ndarray:
    """One frame: its image, one source output, the score map at the image size (checked)."""
    where = source.where(plan.benchmark, image_id)
    try:
        image = plan.reader.load_image(image_id)
    except SampleError as exc:
        raise InputFileError(str(exc)) from exc
    hw = (int(image.shape[0]), int(image.shape[1]))
    output = source.output(plan.benchmark, image_id, lambda: image)
    if output.hw != hw:
        raise error(
            f"{where}: output is {output.hw[1]}x{output.hw[0]}, the image {hw[1]}x{hw[0]} (width x height); "
            "expected outputs at the image size"
        )
    try:
        scores = np.asarray(plan.scorer(_scorer_input(output, plan.class_temperature)))
    except (ShapeError, ValueCheckError) as exc:
        raise error(f"{where}: score '{plan.score}': {exc}") from None
    if scores.ndim == 3 and scores.shape[0] == 1:
        scores = scores[0]
    if scores.shape != hw:
        raise error(f"{where}: score '{plan.score}' has shape {scores.shape}; expected {hw} (H, W) like the image")
    return scores


def write_submission(plan: SubmissionPlan, source: Source, progress: Progress | None = None) -> SubmissionResult:
    """Write every frame of ``plan`` from ``source`` (one output per frame); see the module docstring.

    Raises:
        InputFileError: a missing or bad logits file or image, or scores a saved file makes that SMIYC cannot
            store (NaN, inf, beyond ±65504); ValueCheckError: the same from a model's output.
        UsageError: the folder became foreign or locked since :func:`plan_submission`.
    """
    ids = plan.ids
    source.check(plan.benchmark, ids)
    error: type[OodforgeError] = InputFileError if isinstance(source, LogitsSource) else ValueCheckError
    files: list[Path] = []
    with open_owned_folder(
        plan.folder, command=_COMMAND, overwrite=plan.overwrite, key="--out", what="SMIYC submission"
    ) as owned:
        replaced = owned.claim([f"{image_id}.hdf5" for image_id in ids], replace=True)
        for k, image_id in enumerate(ids, start=1):
            scores = _frame_scores(plan, source, image_id, error)
            try:  # writes owned.path(f"{image_id}.hdf5"): <method dir>/<persisted name>/<image_id>.hdf5
                files.append(write_smiyc_submission(plan.folder.parent, plan.benchmark, image_id, scores))
            except (ShapeError, ValueCheckError) as exc:
                raise error(f"{source.where(plan.benchmark, image_id)}: score '{plan.score}': {exc}") from None
            if progress is not None:
                progress(f"{plan.benchmark}: SMIYC submission", k, len(ids))
    return SubmissionResult(
        plan.benchmark, plan.reader.split, plan.dataset, plan.folder, files, replaced, list(plan.notes)
    )


def submit_smiyc(
    benchmark: str,
    root: str | Path,
    out_dir: str | Path,
    score: str,
    source: Source,
    *,
    split: str = "test",
    temperature: float | None = None,
    class_temperature: float | None = None,
    sml_stats: str | Path | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> SubmissionResult:
    """:func:`plan_submission` then :func:`write_submission` (the arguments of both).

    Example (saved logits ``logits/road_anomaly_21/<image_id>.npy``)::

        submit_smiyc("road_anomaly_21", "datasets", "outputs/anomaly_p/MyMethod", "msp",
                     LogitsSource(Path("logits")))
    """
    plan = plan_submission(
        benchmark, root, out_dir, score, split=split, temperature=temperature,
        class_temperature=class_temperature, sml_stats=sml_stats, overwrite=overwrite,
    )  # fmt: skip
    return write_submission(plan, source, progress)
