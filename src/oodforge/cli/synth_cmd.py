"""``oodforge synth`` and ``oodforge demo``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from oodforge.cli._common import EXIT_FAILED_SAMPLES, EXIT_INTERRUPTED, console, handle_errors
from oodforge.cli._progress import staged_progress
from oodforge.synth.runner import RunSummary, synthesize_dataset

__all__ = ["print_summary", "register"]


def print_summary(summary: RunSummary) -> None:
    """Print the COCO pool line, a per-split table and the failures of a run."""
    if summary.pool_summary:
        console.print(summary.pool_summary, highlight=False)
    for line in summary.warnings:
        console.print(f"[yellow]warning:[/] {line}", highlight=False)
    if summary.cleared_files or summary.kept_files:
        console.print(
            f"--overwrite: deleted {summary.cleared_files} file(s) of the previous dataset; "
            f"kept {summary.kept_files} file(s) in its folders that oodforge did not write",
            highlight=False,
        )
    table = Table(title=f"dataset: {summary.output_root}", title_justify="left")
    for col in ("split", "images", "synthetic", "with anomaly", "failed"):
        table.add_column(col, justify="right" if col != "split" else "left")
    for split, s in sorted(summary.per_split.items()):
        table.add_row(split, str(s["images"]), str(s["synthetic"]), str(s["with_anomaly"]), str(s["failed"]))
    console.print(table)
    repaired = f", {summary.repaired} redone because their files no longer matched" if summary.repaired else ""
    console.print(
        f"{summary.processed} image(s) processed, {summary.skipped} already complete (resumed), "
        f"{len(summary.failed)} failed{repaired}; manifest: {summary.output_root / 'manifest.jsonl'}"
    )
    for split, image_id, err in summary.failed[:20]:
        console.print(f"[red]failed[/] {split}/{image_id}: {err}", highlight=False)
    if len(summary.failed) > 20:
        console.print(f"... and {len(summary.failed) - 20} more failures (see manifest.jsonl, status 'failed')")
    if summary.interrupted:
        done = summary.skipped + summary.processed
        console.print(
            f"[yellow]interrupted: {done} of {summary.total} image(s) are finished and kept; "
            "run the same command again to resume[/]"
        )
    elif summary.stopped_early:
        console.print("[yellow]stopped early (--fail-fast); run the same command again to resume[/]")


def register(app: typer.Typer) -> None:
    """Add ``synth`` and ``demo`` to the app."""

    @app.command()
    @handle_errors
    def synth(
        config: Path = typer.Argument(..., help="YAML config (see configs/cityscapes_coco.yaml)."),
        workers: int = typer.Option(1, "--workers", "-w", help="Local worker processes."),
        executor: str = typer.Option("local", "--executor", help="local | dask"),
        scheduler: str | None = typer.Option(None, "--scheduler", help="Dask scheduler address (tcp://host:8786)."),
        split: str | None = typer.Option(None, "--split", help="Only this split of the config."),
        limit: int | None = typer.Option(None, "--limit", help="Only the first N images (sorted ids) of each split."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace a dataset made from another config."),
        fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first failed image."),
        repair: bool = typer.Option(
            False, "--repair", help="Re-hash every finished image's files; redo those that no longer match."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Build a dataset from CONFIG, or resume an interrupted build (completed images are kept)."""
        with staged_progress(not quiet) as progress:
            summary = synthesize_dataset(
                config, workers=workers, executor=executor, scheduler=scheduler, split=split, limit=limit,
                overwrite=overwrite, fail_fast=fail_fast, repair=repair, progress=progress,  # type: ignore[arg-type]
            )  # fmt: skip
        print_summary(summary)
        if summary.interrupted:
            raise typer.Exit(EXIT_INTERRUPTED)
        if summary.failed:
            raise typer.Exit(EXIT_FAILED_SAMPLES)

    @app.command()
    @handle_errors
    def demo(
        out: Path = typer.Option(
            Path("demo_out"),
            "--out",
            help="Folder for the demo world, dataset and previews (new, empty, or a previous demo).",
        ),
        workers: int = typer.Option(2, "--workers", "-w", help="Local worker processes."),
    ) -> None:
        """Run the whole pipeline on a small procedural demo world (no dataset needed)."""
        from oodforge.demo.run import run_demo

        run_demo(out, workers=workers)
