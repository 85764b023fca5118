"""``oodforge eval`` (score maps → metrics table, JSON, plots) and ``oodforge score`` (logits → score maps).

The library code is imported inside the command bodies so that ``oodforge --help`` stays light.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer
from rich.console import Console
from rich.table import Table

from oodforge._paths import check_output_file, check_output_folder
from oodforge.cli._common import console, handle_errors
from oodforge.cli._progress import staged_progress

if TYPE_CHECKING:
    from oodforge.eval.report import EvalReport

__all__ = ["eval_table", "print_eval_report", "register"]

F = TypeVar("F", bound=Callable[..., Any])


def _pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.2f}"


def eval_table(report: EvalReport, title: str | None = None) -> Table:
    """One-row rich table: AP, FPR95, AUROC, best F1 (+ sIoU, PPV, mean F1), in percent with 2 decimals."""
    r = report.pixel
    heading = title or f"{report.benchmark} / {report.split}: {report.n_images} images, protocol {report.protocol}"
    table = Table(title=heading, title_justify="left")
    cells = {"AP ↑": r.ap, "FPR95 ↓": r.fpr95, "AUROC ↑": r.auroc, "best F1 ↑": r.best_f1}
    if report.components is not None:
        c = report.components
        cells |= {"sIoU ↑": c.siou_gt, "PPV ↑": c.ppv, "mean F1 ↑": c.f1_mean}
    for name in cells:
        table.add_column(name, justify="right")
    table.add_row(*(_pct(v) for v in cells.values()))
    return table


def print_eval_report(report: EvalReport, out: Console | None = None, title: str | None = None) -> None:
    """Print the metrics table, pixel counts, the component setting and the reader's notes."""
    out = console if out is None else out
    out.print(eval_table(report, title))
    r = report.pixel
    line = (
        f"pixels: {r.num_positives} anomaly, {r.num_negatives} normal; best-F1 threshold {r.best_f1_threshold:.6g}; "
        "numbers in %"
    )
    if report.components is not None:
        c = report.components
        line += f"; components ({report.component_track} track): {c.num_gt} ground truth, {c.num_pred} predicted"
    out.print(line, highlight=False, soft_wrap=True)
    for note in report.notes:
        out.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)


def _benchmark_help() -> str:
    """Help of ``--benchmark``: every registered benchmark name (the registry costs ~15 ms more)."""
    from oodforge.benchmarks import list_benchmarks

    return f"Benchmark: {', '.join(list_benchmarks())} (synth for `oodforge synth` output)."


def register(app: typer.Typer) -> None:
    """Add ``eval`` and ``score`` to the app."""

    @app.command("eval")
    @handle_errors
    def eval_(
        benchmark: Annotated[str, typer.Option("--benchmark", "-b", help=_benchmark_help())],
        root: Annotated[Path, typer.Option("--root", help="Benchmark dataset root.")],
        scores: Annotated[Path, typer.Option("--scores", help="Folder of <image_id>.npy / .npz (H, W) score maps.")],
        split: Annotated[str | None, typer.Option("--split", help="Split (default: the benchmark's).")] = None,
        protocol: Annotated[
            str | None, typer.Option("--protocol", help="fishyscapes | smiyc | smiyc2021 (default: the benchmark's).")
        ] = None,
        components: Annotated[
            bool | None,
            typer.Option(
                "--components/--no-components", help="Component metrics (default: where the benchmark has them)."
            ),
        ] = None,
        out: Annotated[Path | None, typer.Option("--out", help="Write the results as JSON here.")] = None,
        plots: Annotated[
            Path | None, typer.Option("--plots", help="Write pr.png, roc.png, histogram.png here (needs matplotlib).")
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        """Evaluate per-image anomaly score maps on a benchmark split: AP, FPR95, AUROC, best F1, sIoU, PPV, mean F1."""
        from oodforge._io import atomic_write_json
        from oodforge.eval.evaluate import evaluate
        from oodforge.eval.plots import require_matplotlib, write_plots

        if out is not None:  # fail before the evaluation, not after it
            check_output_file(out, "--out")
        if plots is not None:
            check_output_folder(plots, "--plots")
            require_matplotlib()
        with staged_progress(not quiet) as bar:
            report = evaluate(
                benchmark, root, scores, split=split, protocol=protocol, components=components,
                progress=cast(Callable[[str, int, int], None], bar),
            )  # fmt: skip
        print_eval_report(report)
        if out is not None:
            atomic_write_json(out, report.to_dict(), indent=2)
            console.print(f"results: {out}", highlight=False, soft_wrap=True)
        if plots is not None:
            paths = write_plots(report, plots)
            console.print(f"plots: {', '.join(str(p) for p in paths)}", highlight=False, soft_wrap=True)

    @app.command()
    @handle_errors
    def score(
        logits_dir: Annotated[
            Path, typer.Argument(metavar="LOGITS_DIR", help="Folder of saved logits <image_id>.npy / .npz.")
        ],
        out_dir: Annotated[Path, typer.Argument(metavar="OUT_DIR", help="Folder for the <image_id>.npy score maps.")],
        method: Annotated[
            str, typer.Option("--method", "-m", help="Score name: msp, maxlogit, entropy, energy, sml, rba.")
        ],
        temperature: Annotated[
            float | None, typer.Option("--temperature", "-t", help="Per-pixel temperature T.")
        ] = None,
        class_temperature: Annotated[
            float | None, typer.Option("--class-temperature", help="rba only: temperature of the class-query logits.")
        ] = None,
        sml_stats: Annotated[
            Path | None, typer.Option("--sml-stats", help="sml only: .npz written by SMLStats.save.")
        ] = None,
        float32: Annotated[bool, typer.Option("--float32", help="Store float32 instead of float16.")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        """Turn saved logits (C, H, W), or RbA class + mask logits, into score maps that `oodforge eval` reads."""
        import numpy as np

        from oodforge.eval.scoring import score_logits_dir

        check_output_folder(out_dir, "OUT_DIR")
        with staged_progress(not quiet) as bar:
            update = cast(Callable[[str, int, int], None], bar)
            written = score_logits_dir(
                method, logits_dir, out_dir, temperature=temperature, class_temperature=class_temperature,
                sml_stats=sml_stats, dtype=np.float32 if float32 else np.float16,
                progress=lambda done, total: update(f"scoring ({method})", done, total),
            )  # fmt: skip
        console.print(f"{len(written)} score map(s) written to {out_dir}", highlight=False, soft_wrap=True)
