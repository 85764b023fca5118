"""``oodforge synth`` and ``oodforge demo``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from oodforge.cli._common import EXIT_FAILED_SAMPLES, console, handle_errors
from oodforge.cli._progress import staged_progress
from oodforge.synth.runner import RunSummary, synthesize_dataset

__all__ = ["print_summary", "register"]


def print_summary(summary: RunSummary) -> None:
    """Print the COCO pool line, a per-split table and the failures of a run."""
    if summary.pool_summary:
        console.print(summary.pool_summary, highlight=False)
    table = Table(title=f"dataset: {summary.output_root}", title_justify="left")
    for col in ("split", "images", "synthetic", "with anomaly", "failed"):
        table.add_column(col, justify="right" if col != "split" else "left")
    for split, s in sorted(summary.per_split.items()):
        table.add_row(split, str(s["images"]), str(s["synthetic"]), str(s["with_anomaly"]), str(s["failed"]))
    console.print(table)
    console.print(
        f"{summary.processed} image(s) processed, {summary.skipped} already complete (resumed), "
        f"{len(summary.failed)} failed; manifest: {summary.output_root / 'manifest.jsonl'}"
    )
    for split, image_id, err in summary.failed[:20]:
        console.print(f"[red]failed[/] {split}/{image_id}: {err}", highlight=False)
    if len(summary.failed) > 20:
        console.print(f"... and {len(summary.failed) - 20} more failures (see manifest.jsonl, status 'failed')")
    if summary.stopped_early:
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
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Build a dataset from CONFIG, or resume an interrupted build (completed images are kept)."""
        with staged_progress(not quiet) as progress:
            summary = synthesize_dataset(
                config, workers=workers, executor=executor, scheduler=scheduler, split=split, limit=limit,
                overwrite=overwrite, fail_fast=fail_fast, progress=progress,  # type: ignore[arg-type]
            )  # fmt: skip
        print_summary(summary)
        if summary.failed:
            raise typer.Exit(EXIT_FAILED_SAMPLES)

    @app.command()
    @handle_errors
    def demo(
        out: Path = typer.Option(Path("demo_out"), "--out", help="Folder for the demo world, dataset and previews."),
        workers: int = typer.Option(2, "--workers", "-w", help="Local worker processes."),
    ) -> None:
        """Run the whole pipeline on a small procedural demo world (no dataset needed)."""
        from oodforge.demo.run import run_demo

        run_demo(out, workers=workers)
