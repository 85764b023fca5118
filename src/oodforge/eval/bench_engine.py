"""``oodforge benchmark``: one model, once per frame, over every benchmark of a suite × scores × temperatures.

Order of work (:func:`run_benchmark`):

1. Open every benchmark (hidden labels are refused by the readers, pointing at the labelled split), check that
   the source has an output for every frame (saved logits), and read every label once: a split without an
   anomaly or a normal pixel is refused **before** the model runs (AP, AUROC, FPR95 would be undefined).
2. Cityscapes (optional): one pass fits the temperature by pixel NLL and / or computes the mIoU.
3. Per benchmark: pass 1 runs the source once per frame and feeds every distinct (score, T) row's bounded
   metric state (:mod:`oodforge.eval._bench_entry`); pass 2 computes the component metrics at each row's pixel
   best-F1 threshold from float16 maps kept in a temporary folder (deleted at the end). The states of a
   benchmark are dropped once its reports are made.

Every row's report equals ``oodforge score`` (float16 maps, the same temperature) + ``oodforge eval`` on the
same logits: the same score functions, the same float16 storage, the same metric classes and the same
component rule (:mod:`oodforge.eval._eval_steps`).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from oodforge import __version__
from oodforge.benchmarks import open_benchmark
from oodforge.eval._bench_calib import CalibrationResult, cityscapes_pass
from oodforge.eval._bench_entry import EntryPlan, EntryRunner
from oodforge.eval._bench_frames import WorstFrames
from oodforge.eval._bench_pairs import PairSpec, make_scorer, plan_rows
from oodforge.eval._bench_source import LogitsSource, ModelSource, Source
from oodforge.eval._eval_steps import resolve_protocol, resolve_track
from oodforge.eval.bench_results import BenchmarkRun, EntryInfo, Temperature, row_key
from oodforge.eval.suite import LoadedSuite, SuiteConfig
from oodforge.scores import SMLStats

__all__ = [
    "SMIYC_BENCHMARKS",
    "EntryPlan",
    "LogitsSource",
    "ModelSource",
    "open_benchmarks",
    "provenance",
    "run_benchmark",
]

Progress = Callable[[str, int, int], None]
#: Benchmarks whose score maps ``outputs.smiyc_submission`` writes.
SMIYC_BENCHMARKS = ("road_anomaly_21", "road_obstacle_21")


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=40"],
            cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def provenance(source: Source) -> dict[str, Any]:
    """Header of every output: oodforge version, git commit when known, date, machine, library versions."""

    def version(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    header: dict[str, Any] = {
        "oodforge_version": __version__,
        "git_commit": _git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.platform()} ({platform.machine()})",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": version("torch"),
    }
    if isinstance(source, ModelSource):
        header["device"] = str(source.predictor.device)
        header["input_convention"] = source.predictor.convention.describe()
    return header


def open_benchmarks(cfg: SuiteConfig, progress: Progress | None = None) -> list[EntryPlan]:
    """Open every benchmark of the suite and read every label once (before any model is loaded or run).

    Raises:
        UsageError: unknown split or protocol, components where there are none; a split without anomaly or
            normal pixels; DataLayoutError: a wrong root, or frames without a label file (hidden labels).
        InputFileError: an unreadable label file or values outside the benchmark's encoding.
    """
    plans = []
    for b in cfg.benchmarks:
        reader = open_benchmark(b.benchmark, b.root, b.split)
        protocol, track = resolve_protocol(b.protocol, reader), resolve_track(b.components, reader)
        plans.append(EntryPlan(b.name, reader, protocol, track, reader.image_ids()))
    for plan in plans:
        plan.check_labels(progress)
    return plans


def _temperatures(
    cfg: SuiteConfig, source: Source, is_mask: bool, notes: list[str], progress: Progress | None
) -> tuple[list[Temperature], dict[float, float]]:
    """Fixed and fitted temperatures, and the mIoU per class temperature (empty when not asked)."""
    tc = cfg.temperatures
    temps = [Temperature(v, "fixed", tc.target) for v in tc.values]
    per_class = is_mask and tc.target == "class"
    miou_ts = [t.value for t in temps] if per_class else [1.0]
    fit, miou = tc.fit, cfg.miou
    same = (
        fit is not None and miou is not None and (fit.root, fit.split, fit.limit) == (miou.root, miou.split, miou.limit)
    )
    result = CalibrationResult()
    if fit is not None:
        result = cityscapes_pass(source, fit, fit=True, miou_temperatures=miou_ts if same else None, progress=progress)
        assert result.temperature is not None
        assert result.nll is not None
        temps.append(Temperature(result.temperature, "fitted", tc.target, result.nll))
        notes.append(
            f"temperature fitted by pixel NLL on {result.n_pixels} pixels of Cityscapes '{fit.split}' ({fit.root}): "
            f"T = {result.temperature:.4g}, NLL {result.nll_at_1:.4f} at T = 1, {result.nll:.4f} at the fit"
        )
    if miou is not None and not same:
        result.miou = cityscapes_pass(source, miou, fit=False, miou_temperatures=miou_ts, progress=progress).miou
    if miou is not None and not per_class:
        notes.append("mIoU: the argmax does not change with a per-pixel temperature; computed once, shown per row")
    return temps, result.miou


def _writes_maps(cfg: SuiteConfig, plan: EntryPlan) -> bool:
    out = cfg.outputs
    return out.score_maps or (out.smiyc_submission and plan.reader.name in SMIYC_BENCHMARKS)


def _claims(cfg: SuiteConfig, plans: list[EntryPlan], specs: list[PairSpec], is_model: bool) -> list[str]:
    rels = []
    for plan in plans:
        if _writes_maps(cfg, plan):
            rels += [f"score_maps/{plan.name}/{s.folder}/{i}.npy" for s in specs for i in plan.ids]
        if cfg.outputs.logits and is_model:
            rels += [f"logits/{plan.name}/{i}.npy" for i in plan.ids]
    return rels


def run_benchmark(
    suite: LoadedSuite,
    source: Source,
    out_dir: Path | None = None,
    *,
    claim: Callable[[list[str]], Any] | None = None,
    plans: list[EntryPlan] | None = None,
    work_dir: Path | None = None,
    progress: Progress | None = None,
    worst_frames: int = 5,
    thumbnail_width: int = 320,
    curve_points: int = 500,
    histogram_bins: int = 100,
    workers: int | None = None,
) -> BenchmarkRun:
    """Run a suite (module docstring) and return everything it measured.

    Args:
        suite: the loaded suite (:func:`oodforge.eval.suite.load_suite`).
        source: :class:`ModelSource` (a loaded predictor) or :class:`LogitsSource` (``--logits DIR``).
        out_dir: where ``outputs.score_maps`` / ``logits`` / ``smiyc_submission`` files go (None: nothing written).
        claim: called once with every relative path the run will write under ``out_dir``, before writing
            (the CLI lists them in the output folder's ledger).
        plans: the benchmarks as :func:`open_benchmarks` opened them (None: opened here).
        work_dir: parent of the temporary folder of the component pass (default: the system's).
        progress: ``progress(stage, done, total)``; stages ``<name>: labels``, ``cityscapes``,
            ``<name>: pixel metrics``, ``<name>: component metrics``.
        worst_frames: frames kept per benchmark for the report.
        thumbnail_width: width of their thumbnails in pixels.
        curve_points: about how many PR / ROC points to keep per row.
        histogram_bins: score-histogram bins.
        workers: threads that compute the rows of a frame (numpy releases the GIL); default min(4, CPUs).

    Raises:
        UsageError: see :mod:`oodforge.eval.suite`; a benchmark without anomaly or normal pixels; a split with
            hidden labels (DataLayoutError); a missing or bad logits file (InputFileError); suite options the
            outputs do not support (``target: class`` for dense logits, only ``rba`` for dense logits).
    """
    cfg = suite.config
    notes = list(suite.notes)
    plans = open_benchmarks(cfg, progress) if plans is None else plans
    for plan in plans:
        source.check(plan.name, plan.ids)
    is_mask = source.is_mask_classification(plans[0].name, plans[0].ids)
    fixed = [Temperature(v, "fixed", cfg.temperatures.target) for v in cfg.temperatures.values]
    plan_rows(list(cfg.scores), fixed, is_mask, [])  # refuse what the outputs cannot do before the Cityscapes pass
    temps, miou = _temperatures(cfg, source, is_mask, notes, progress)
    scores, rows = plan_rows(list(cfg.scores), temps, is_mask, notes)
    specs = list(dict.fromkeys(rows.values()))
    sml = SMLStats.load(cfg.sml_stats) if "sml" in scores and cfg.sml_stats is not None else None
    scorers = {spec: make_scorer(spec, sml) for spec in specs}
    is_model = isinstance(source, ModelSource)
    rels = _claims(cfg, plans, specs, is_model) if out_dir is not None else []
    if cfg.outputs.logits and not is_model:
        notes.append("outputs.logits: not written for saved logits (they are the input)")
    elif cfg.outputs.logits and is_mask:
        notes.append("outputs.logits: the per-pixel class scores (C, H, W) at class temperature 1, float16")
    if claim is not None:
        claim(rels)
    run = BenchmarkRun(
        model=source.description, suite_name=cfg.name, suite_text=suite.text, header=provenance(source),
        entries=[], scores=scores, temperatures=temps,
    )  # fmt: skip
    run.miou = {
        t.label: (miou.get(t.value if is_mask and t.target == "class" else 1.0) if miou else None) for t in temps
    }
    primary = rows[row_key(scores[0], temps[0])]
    threads = workers if workers is not None else min(4, os.cpu_count() or 1)
    temp_bytes = temp_files = 0
    with tempfile.TemporaryDirectory(prefix="oodforge-benchmark-", dir=work_dir) as tmp:
        for plan in plans:
            maps = f"score_maps/{plan.name}"
            maps_dir = out_dir / maps if out_dir is not None and _writes_maps(cfg, plan) else None
            logits_dir = out_dir / "logits" / plan.name if out_dir is not None and cfg.outputs.logits else None
            runner = EntryRunner(
                plan, source, scorers, primary, is_mask=is_mask, score_maps_dir=maps_dir,
                component_dir=Path(tmp) / plan.name, logits_dir=logits_dir if is_model else None,
                worst=WorstFrames(plan.name, worst_frames, thumbnail_width),
            )  # fmt: skip
            by_spec = runner.run(progress, curve_points, histogram_bins, threads)
            run.reports[plan.name] = {row: by_spec[spec] for row, spec in rows.items()}
            if maps_dir is not None:
                run.score_dirs[plan.name] = {row: f"{maps}/{spec.folder}" for row, spec in rows.items()}
            run.worst[plan.name] = runner.worst.frames()
            if runner.worst.unranked:
                notes.append(f"{plan.name}: {runner.worst.unranked} frame(s) without anomaly pixels have no frame AP")
            temp_bytes += runner.temp_bytes
            temp_files += len(plan.ids) * len(specs) if runner.temp_bytes else 0
            run.entries.append(_info(plan))
    if temp_bytes:
        notes.append(
            f"component pass: {temp_files} float16 score maps ({temp_bytes / 2**20:.1f} MiB) kept in a temporary "
            "folder between the two passes, then deleted"
        )
    run.notes = notes
    return run


def _info(plan: EntryPlan) -> EntryInfo:
    r = plan.reader
    return EntryInfo(plan.name, r.name, str(r.root), r.split, plan.protocol, len(plan.ids), plan.track is not None)
