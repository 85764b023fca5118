"""``oodforge benchmark``: one model over a suite of benchmarks × scores × temperatures → leaderboard and report.

The output folder carries the list of the files oodforge wrote (:mod:`oodforge.export.owned_folder`): a
non-empty folder without it is refused, a previous benchmark is replaced only with ``--overwrite``. The
leaderboard and HTML writers (:mod:`oodforge.eval.leaderboard`, :mod:`oodforge.eval.html_report`) write into a
staging folder first; their files are listed, then moved in.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.table import Table

from oodforge.cli._common import console, handle_errors
from oodforge.cli._model_options import (
    ChannelOrderOpt,
    CheckpointOpt,
    DeviceOpt,
    InputScaleOpt,
    InputSizeOpt,
    ModelOpt,
    NormalizationOpt,
    NumClassesOpt,
    ShortSideOpt,
    WeightsOpt,
    output_source,
)
from oodforge.cli._progress import staged_progress
from oodforge.errors import UsageError

if TYPE_CHECKING:
    from oodforge.eval.bench_results import BenchmarkRun
    from oodforge.export.owned_folder import OwnedFolder

__all__ = ["leaderboard_table", "register"]

_TMP_PREFIX = "oodforge-benchmark-"


def _pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.2f}"


def leaderboard_table(run: BenchmarkRun) -> Table:
    """Rows = score × temperature; per benchmark AP ↑ and FPR95 ↓ (+ mean component F1 ↑); mIoU; in percent."""
    table = Table(title=f"oodforge benchmark: {run.model} (suite {run.suite_name})", title_justify="left")
    table.add_column("score @ T")
    for entry in run.entries:
        table.add_column(f"{entry.name}\nAP ↑", justify="right")
        table.add_column(f"{entry.name}\nFPR95 ↓", justify="right")
        if entry.components:
            table.add_column(f"{entry.name}\nF1 ↑", justify="right")
    show_miou = any(v is not None for v in run.miou.values())
    if show_miou:
        table.add_column("mIoU ↑", justify="right")
    for score in run.scores:
        for t in run.temperatures:
            row = f"{score} @ {t.label}"
            cells = [row]
            for entry in run.entries:
                rep = run.reports[entry.name][row]
                cells += [_pct(rep.pixel.ap), _pct(rep.pixel.fpr95)]
                if entry.components:
                    cells.append(_pct(None if rep.components is None else rep.components.f1_mean))
            if show_miou:
                cells.append(_pct(run.miou.get(t.label)))
            table.add_row(*cells)
    return table


def _plots(run: BenchmarkRun) -> dict[str, dict[str, bytes]] | None:
    """PR/ROC PNGs per benchmark, rendered once for the files and the HTML report; None without matplotlib."""
    from oodforge.eval.bench_plots import render_benchmark_plots

    try:
        return render_benchmark_plots(run)
    except UsageError:
        run.notes.append("no PR/ROC plots: matplotlib is not installed (pip install 'oodforge[plots]')")
        return None


def _write_reports(run: BenchmarkRun, owned: OwnedFolder, stage_parent: Path) -> list[Path]:
    """Run the writers in a staging folder, list their files in the ledger, move them in; return the final paths."""
    from oodforge.eval.html_report import write_html_report
    from oodforge.eval.leaderboard import write_leaderboard

    stage = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX + "writers-", dir=stage_parent))
    try:
        write_leaderboard(run, stage)
        plots = _plots(run)
        if plots is not None:
            from oodforge.eval.bench_plots import write_benchmark_plots

            write_benchmark_plots(run, stage, plots)
        write_html_report(run, stage, plots=plots)
        rels = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
        owned.claim(rels)
        for rel in rels:
            target = owned.path(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return [owned.path(rel) for rel in rels]


def register(app: typer.Typer) -> None:
    """Add ``benchmark``."""

    @app.command()
    @handle_errors
    def benchmark(
        suite: Annotated[
            Path | None,
            typer.Argument(metavar="SUITE", help="Suite YAML (default: the packaged suite, roots via --root)."),
        ] = None,
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="Output folder (new, empty or a previous run).")
        ] = None,
        checkpoint: CheckpointOpt = None,
        model: ModelOpt = None,
        weights: WeightsOpt = None,
        num_classes: NumClassesOpt = None,
        logits: Annotated[
            Path | None,
            typer.Option(
                "--logits",
                help="Saved logits (any framework): DIR/<benchmark>/<image_id>.npy|npz, DIR/cityscapes/ for fit, mIoU.",
            ),
        ] = None,
        root: Annotated[
            list[str] | None,
            typer.Option(
                "--root",
                metavar="NAME=PATH",
                help="The root of benchmark NAME of the suite (cityscapes: fit and mIoU); repeatable.",
            ),
        ] = None,
        device: DeviceOpt = None,
        normalization: NormalizationOpt = None,
        input_size: InputSizeOpt = None,
        short_side: ShortSideOpt = None,
        input_scale: InputScaleOpt = None,
        channel_order: ChannelOrderOpt = None,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace a previous benchmark in --out (only its own files).")
        ] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        """Run one model once per frame over every benchmark of a suite: every score × temperature, a leaderboard."""
        from oodforge.eval.bench_engine import open_benchmarks, run_benchmark
        from oodforge.eval.suite import load_suite, parse_roots
        from oodforge.export.owned_folder import STATE_DIR, check_owned_folder, open_owned_folder

        if out is None:
            raise UsageError("--out DIR is required: the folder for the leaderboard, the plots and the report")
        loaded = load_suite(suite, parse_roots(root or []))
        check_owned_folder(out, overwrite=overwrite, key="--out", what="benchmark")
        flags = {
            "--num-classes": num_classes, "--device": device, "--normalization": normalization,
            "--input-size": input_size, "--short-side": short_side, "--input-scale": input_scale,
            "--channel-order": channel_order,
        }  # fmt: skip
        load_source = output_source(logits, checkpoint, model, weights, flags)
        with staged_progress(not quiet) as bar:  # every label is read before the model is loaded
            plans = open_benchmarks(loaded.config, cast(Callable[[str, int, int], None], bar))
        source = load_source()
        console.print(f"model: {source.description}", highlight=False, soft_wrap=True)
        with open_owned_folder(
            out, command="oodforge benchmark", overwrite=overwrite, key="--out", what="benchmark"
        ) as owned:
            state = out / STATE_DIR
            for stale in state.glob(_TMP_PREFIX + "*"):  # left by a killed run (the folder is locked now)
                shutil.rmtree(stale, ignore_errors=True)

            def claim(rels: list[str]) -> None:
                owned.claim([*rels, "suite.yaml"], replace=True)

            with staged_progress(not quiet) as bar:
                run = run_benchmark(
                    loaded, source, out, claim=claim, plans=plans, work_dir=state,
                    progress=cast(Callable[[str, int, int], None], bar),
                )  # fmt: skip
            from oodforge._io import atomic_write_text

            atomic_write_text(owned.path("suite.yaml"), f"# oodforge benchmark: resolved suite\n{loaded.text}")
            written = _write_reports(run, owned, state)
        console.print(leaderboard_table(run))
        for note in run.notes:
            console.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)
        console.print(f"{len(written) + 1} file(s) written to {out}", highlight=False, soft_wrap=True)
