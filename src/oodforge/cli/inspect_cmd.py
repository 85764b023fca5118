"""``oodforge verify``, ``oodforge stats`` and ``oodforge preview``: read-only views of a dataset.

Each works on the output of ``oodforge synth`` and of ``oodforge render`` (dispatched on the manifest's records).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, cast

import typer

from oodforge._paths import check_output_file
from oodforge.cli._common import EXIT_FAILED_SAMPLES, console, handle_errors
from oodforge.cli._progress import staged_progress
from oodforge.inspect.preview import write_preview
from oodforge.inspect.stats import dataset_stats, render_stats
from oodforge.inspect.verify import VerifyReport, verify_dataset

__all__ = ["MAX_PROBLEMS_SHOWN", "print_report", "register"]

MAX_PROBLEMS_SHOWN = 20

DirArg = Annotated[
    Path, typer.Argument(help="Output root of `oodforge synth` or `oodforge render` (holds manifest.jsonl).")
]


def print_report(report: VerifyReport) -> None:
    """Print the summary of a verification and up to :data:`MAX_PROBLEMS_SHOWN` problems."""
    summary = f"{report.n_records} record(s), {report.n_files_checked} file(s) re-hashed"
    if report.ok:
        console.print(f"[bold green]OK[/] {summary}: no problem found", highlight=False)
        return
    console.print(f"[bold red]{len(report.problems)} problem(s)[/] in {summary}:", highlight=False)
    for line in report.problems[:MAX_PROBLEMS_SHOWN]:
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
    if len(report.problems) > MAX_PROBLEMS_SHOWN:
        console.print(f"  ... and {len(report.problems) - MAX_PROBLEMS_SHOWN} more", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``verify``, ``stats`` and ``preview`` to the app."""

    @app.command()
    @handle_errors
    def verify(
        directory: DirArg,
        workers: Annotated[int, typer.Option("--workers", "-w", help="Local worker processes.")] = 1,
        executor: Annotated[str, typer.Option("--executor", help="local | dask")] = "local",
        scheduler: Annotated[
            str | None, typer.Option("--scheduler", help="Dask scheduler address (tcp://host:8786).")
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        """Re-hash every output against the manifest and check GT values and conventions (exit 1 on problems).

        Rendered datasets: also the foreground masks, pixel counts and the hidden-anomaly flags. The report is
        the same for any --workers / --executor; a malformed manifest line is one problem, the rest is checked.
        """
        with staged_progress(not quiet) as bar:
            update = cast(Callable[[str, int, int], None], bar)
            report = verify_dataset(
                directory,
                progress=lambda done, total: update("verify", done, total),
                workers=workers,
                executor=executor,
                scheduler=scheduler,
            )
        print_report(report)
        if not report.ok:
            raise typer.Exit(EXIT_FAILED_SAMPLES)

    @app.command()
    @handle_errors
    def stats(
        directory: DirArg,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON only (to stdout).")] = False,
        no_plausibility: Annotated[
            bool,
            typer.Option(
                "--no-plausibility",
                help="Skip the plausibility figures (no image, source label or COCO reads: much faster).",
            ),
        ] = False,
    ) -> None:
        """Counts per split, planned/placed instances, categories, object sizes, coverage and scale.

        Rendered datasets: frames per camera (normal, anomalous, visible, hidden, failed), anomaly pixel
        counts, mode values (sun strength, depth offset, scale, colour) and objects.

        Synthesized datasets: also the plausibility of the placed objects (size, wholeness, chroma shift,
        texture ratio, forbidden labels, visible fraction) unless ``--no-plausibility``.
        """
        result = dataset_stats(directory, plausibility=not no_plausibility)
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        else:
            render_stats(result, console)

    @app.command()
    @handle_errors
    def preview(
        directory: DirArg,
        n: Annotated[int, typer.Option("--n", help="Number of rows (images).")] = 8,
        split: Annotated[str | None, typer.Option("--split", help="Only this split (camera).")] = None,
        out: Annotated[Path | None, typer.Option("--out", help="Output PNG (default DIR/preview.png).")] = None,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the row choice.")] = 0,
    ) -> None:
        """Contact sheet PNG: image, GT overlay and instance outlines; images with anomalies first.

        Rendered datasets: image, GT overlay (anomaly orange, foreground blue) and the anomaly outline
        labelled with the object's name; anomalous frames first.
        """
        target = out if out is not None else directory / "preview.png"
        check_output_file(target, "--out")
        path = write_preview(directory, target, n=n, split=split, seed=seed)
        console.print(f"preview written to {path}", highlight=False, soft_wrap=True)
