"""One benchmark of a ``oodforge benchmark`` run: pass 1 (model outputs → every row's pixel state), pass 2
(component metrics from the float16 maps kept on disk), the reports.

Pass 1, per frame: the label (and the image when the source or a thumbnail needs it), ONE source output, then
per distinct row its float16 score map → :class:`~oodforge.eval._bench_pairs.PairState`; the primary row's
per-frame AP feeds the worst-frame heap. Maps are written (float16 ``.npy``) only where asked
(``score_maps_dir``) or where pass 2 needs them (``component_dir``). Pass 2 reads them back, one label per
frame, and applies :class:`~oodforge.eval._eval_steps.ComponentPass` exactly as ``oodforge eval`` does.
"""  # noqa: D205

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from oodforge._io import atomic_write_bytes
from oodforge.benchmarks import BenchmarkReader
from oodforge.errors import InputFileError, OodforgeError, SampleError, ShapeError, ValueCheckError
from oodforge.eval._bench_frames import WorstFrames, frame_ap
from oodforge.eval._bench_pairs import FrameLabel, PairSpec, PairState, float16_scores
from oodforge.eval._bench_source import FrameOutput, LogitsSource, Source, check_output_kind
from oodforge.eval._eval_steps import ComponentPass, assemble_report, check_classes, load_label
from oodforge.eval.report import EvalReport
from oodforge.metrics import ComponentMetrics, PixelResult
from oodforge.metrics._components import FrameTruth
from oodforge.scores.pixel import SOFTMAX_FAMILY, softmax_family_scores

__all__ = ["EntryPlan", "EntryRunner", "save_npy"]

Progress = Callable[[str, int, int], None]
_LABELS = ".labels"  # pass 2's copy of the labels in the temporary folder (no score folder starts with a dot)
T = TypeVar("T")
K = TypeVar("K")


def save_npy(path: Path, arr: np.ndarray) -> int:
    """Atomically write ``arr`` as ``.npy``; return the bytes written."""
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    return len(data)


@dataclass
class EntryPlan:
    """A benchmark as opened: suite name, reader, protocol, component track, frame ids."""

    name: str
    reader: BenchmarkReader
    protocol: str
    track: str | None
    ids: list[str]

    @property
    def what(self) -> str:
        """How messages name it."""
        return f"benchmark '{self.name}': {self.reader.name} (split '{self.reader.split}')"

    def check_labels(self, progress: Progress | None) -> None:
        """Read every label once; refuse a split without anomaly or normal pixels before the model runs."""
        pos = neg = 0
        for k, image_id in enumerate(self.ids, start=1):
            label = load_label(self.reader, image_id)
            pos += int(np.count_nonzero(label == 1))
            neg += int(np.count_nonzero(label == 0))
            if progress is not None:
                progress(f"{self.name}: labels", k, len(self.ids))
        check_classes(pos, neg, self.what, len(self.ids))


class EntryRunner:
    """Runs one benchmark for every distinct row (module docstring).

    Args:
        plan: the opened benchmark.
        source: model or saved logits.
        scorers: distinct row → score function of its input.
        primary: the spec of the first row (worst frames).
        is_mask: whether the outputs are mask-classification outputs.
        score_maps_dir: write every row's maps under ``<dir>/<spec.folder>/<id>.npy`` (None: not asked).
        component_dir: where pass 2 keeps the maps when they are not written anyway.
        logits_dir: write float16 (C, H, W) per-pixel class scores here (model sources only).
        worst: the worst-frame heap of this benchmark.
    """

    def __init__(
        self,
        plan: EntryPlan,
        source: Source,
        scorers: dict[PairSpec, Callable[[Any], Any]],
        primary: PairSpec,
        *,
        is_mask: bool,
        score_maps_dir: Path | None,
        component_dir: Path | None,
        logits_dir: Path | None,
        worst: WorstFrames,
    ) -> None:
        self.plan = plan
        self.source = source
        self.scorers = scorers
        self.primary = primary
        self.is_mask = is_mask
        self.maps_dir = score_maps_dir if score_maps_dir is not None else component_dir if plan.track else None
        if plan.track is not None and self.maps_dir is None:
            raise ValueError(f"{plan.what}: component metrics need a folder for the float16 maps of pass 2")
        self.logits_dir = logits_dir
        self.worst = worst
        self.states = {spec: PairState(plan.protocol) for spec in scorers}
        self._written = dict.fromkeys(scorers, 0)
        self._pool: ThreadPoolExecutor | None = None
        self._error: type[OodforgeError] = InputFileError if isinstance(source, LogitsSource) else ValueCheckError
        self._temp = score_maps_dir is None

    @property
    def temp_bytes(self) -> int:
        """Bytes of the float16 maps kept in the temporary folder (0 when they were asked for as outputs)."""
        return sum(self._written.values()) if self._temp else 0

    def _softmax_family(self, inputs: dict[float, Any], where: str) -> dict[PairSpec, Any]:
        """Msp / entropy / energy maps of each (class T, pixel T) from one shared log-sum-exp (bit-identical)."""
        groups: dict[tuple[float, float], list[PairSpec]] = {}
        for spec in self.scorers:
            if spec.score in SOFTMAX_FAMILY:
                groups.setdefault((spec.class_t, spec.pixel_t), []).append(spec)

        def family(key: tuple[float, float]) -> dict[PairSpec, Any]:
            specs = groups[key]
            try:
                maps = softmax_family_scores(inputs[key[0]], [s.score for s in specs], temperature=key[1])
            except (ShapeError, ValueCheckError) as exc:
                raise self._error(f"{where}: score '{specs[0].score}': {exc}") from None
            return {s: maps[s.score] for s in specs}

        shared: dict[PairSpec, Any] = {}
        for maps in self._map(family, list(groups)):
            shared.update(maps)
        return shared

    def _map(self, fn: Callable[[K], T], specs: list[K]) -> list[T]:
        """``fn`` over the rows, on the thread pool of :meth:`run` (numpy releases the GIL), else in turn."""
        if self._pool is None or len(specs) < 2:
            return [fn(s) for s in specs]
        return list(self._pool.map(fn, specs))

    @property
    def nbytes(self) -> int:
        """Bytes held by the metric states and the worst-frame thumbnails (nothing per frame)."""
        return sum(s.nbytes for s in self.states.values()) + self.worst.nbytes

    def _sample(self, image_id: str) -> tuple[np.ndarray, Callable[[], np.ndarray]]:
        reader = self.plan.reader
        if isinstance(self.source, LogitsSource):
            return load_label(reader, image_id), lambda: _load(reader, image_id).image
        sample = _load(reader, image_id)
        return sample.label, lambda: sample.image

    def update(self, image_id: str, label: np.ndarray, output: FrameOutput, image: Callable[[], np.ndarray]) -> None:
        """Pass 1 for one frame: every row's map from the one output."""
        where = self.source.where(self.plan.name, image_id)
        check_output_kind(output, self.is_mask, where)
        if output.hw != label.shape:
            raise self._error(
                f"{where}: output is {output.hw[1]}x{output.hw[0]}, the label {label.shape[1]}x{label.shape[0]} "
                "(width x height); expected outputs at the image size"
            )
        frame = FrameLabel(label)
        if self._temp and self.maps_dir is not None:  # pass 2 reads it back instead of decoding the PNG again
            _scratch_save(self._map_path(_LABELS, image_id), label)
        inputs: dict[float, Any] = {}
        for spec in self.scorers:
            if spec.class_t not in inputs:
                inputs[spec.class_t] = output.pixel_scores(spec.class_t)

        shared = self._softmax_family(inputs, where)

        def one(spec: PairSpec) -> tuple[np.ndarray, np.ndarray] | None:
            try:
                raw = shared[spec] if spec in shared else self.scorers[spec](inputs[spec.class_t])
            except (ShapeError, ValueCheckError) as exc:
                raise self._error(f"{where}: score '{spec.score}': {exc}") from None
            s16 = float16_scores(raw, label.shape, f"{where} (score '{spec.score}')", self._error)
            hist = self.states[spec].update(s16, frame)
            if self.maps_dir is not None:
                self._written[spec] += self._save_map(spec, image_id, s16)
            return (s16, hist) if spec == self.primary else None  # the other maps are dropped with the frame

        primary, hist = next(m for m in self._map(one, list(self.scorers)) if m is not None)
        if self.logits_dir is not None:
            dense = np.clip(output.pixel_scores(1.0), -65504, 65504).astype(np.float16)
            save_npy(self.logits_dir / f"{image_id}.npy", dense)
        self.worst.offer(image_id, frame_ap(hist), image, primary, label)

    def _save_map(self, spec: PairSpec, image_id: str, s16: np.ndarray) -> int:
        """Keep one float16 map for pass 2: plainly in the temporary folder, atomically where it was asked for."""
        path = self._map_path(spec.folder, image_id)
        if not self._temp:
            return save_npy(path, s16)
        _scratch_save(path, s16)
        return int(s16.nbytes)

    def _map_path(self, folder: str, image_id: str) -> Path:
        assert self.maps_dir is not None
        return self.maps_dir / folder / f"{image_id}.npy"

    def load_map(self, spec: PairSpec, image_id: str) -> np.ndarray:
        """One float16 map kept by pass 1."""
        return np.load(self._map_path(spec.folder, image_id))

    def _pass2_label(self, image_id: str) -> np.ndarray:
        """The frame's label for pass 2: the copy pass 1 kept in the temporary folder, else decoded again."""
        if self._temp:
            return np.load(self._map_path(_LABELS, image_id))
        return load_label(self.plan.reader, image_id)

    def run(
        self, progress: Progress | None, curve_points: int, bins: int, workers: int = 1
    ) -> dict[PairSpec, EvalReport]:
        """Both passes over the benchmark, the rows of a frame on ``workers`` threads; every distinct row's report."""
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="oodforge-benchmark") as pool:
            self._pool = pool if workers > 1 else None
            try:
                return self._run(progress, curve_points, bins)
            finally:
                self._pool = None

    def _run(self, progress: Progress | None, curve_points: int, bins: int) -> dict[PairSpec, EvalReport]:
        ids = self.plan.ids
        for k, image_id in enumerate(ids, start=1):
            label, image = self._sample(image_id)
            self.update(image_id, label, self.source.output(self.plan.name, image_id, image), image)
            if progress is not None:
                progress(f"{self.plan.name}: pixel metrics", k, len(ids))
        results = {spec: state.pixel.compute() for spec, state in self.states.items()}
        for r in results.values():
            check_classes(r.num_positives, r.num_negatives, self.plan.what, len(ids))
        comps: dict[PairSpec, ComponentPass] = {}
        if self.plan.track is not None and self.maps_dir is not None:
            track, protocol = self.plan.track, self.plan.protocol
            comps = {s: ComponentPass(track, protocol, r.best_f1_threshold) for s, r in results.items()}
            for k, image_id in enumerate(ids, start=1):
                truth = ComponentMetrics.truth(self._pass2_label(image_id))  # the label side, once for every row

                def one(spec: PairSpec, image_id: str = image_id, truth: FrameTruth = truth) -> None:
                    comps[spec].update_truth(self.load_map(spec, image_id), truth)

                self._map(one, list(comps))
                if progress is not None:
                    progress(f"{self.plan.name}: component metrics", k, len(ids))
        return {
            spec: self._report(spec, state, results[spec], comps.get(spec), curve_points, bins)
            for spec, state in self.states.items()
        }

    def _report(
        self, spec: PairSpec, state: PairState, result: PixelResult, comp: ComponentPass | None, points: int, bins: int
    ) -> EvalReport:
        scores_dir = "" if self._temp or self.maps_dir is None else str(self.maps_dir / spec.folder)
        reader = self.plan.reader
        return assemble_report(
            reader, self.plan.protocol, state.pixel, result, state.hist.finalize(bins), comp, self.plan.track,
            root=str(reader.root), scores_dir=scores_dir, curve_points=points,
        )  # fmt: skip


def _scratch_save(path: Path, arr: np.ndarray) -> None:
    """``np.save`` into the run's temporary folder: no atomic rename (the folder goes when the run ends)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, arr, allow_pickle=False)


def _load(reader: BenchmarkReader, image_id: str) -> Any:
    """The decoded sample; a bad image or label file is one line (exit 2), like the labels in ``oodforge eval``."""
    try:
        return reader.load(image_id)
    except (ValueCheckError, ShapeError, SampleError) as exc:
        raise InputFileError(str(exc)) from exc
