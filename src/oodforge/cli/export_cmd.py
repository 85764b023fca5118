"""``oodforge export <target>``: write an oodforge dataset in another tool's format (``anomalib`` for now)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from oodforge.cli._common import console, handle_errors
from oodforge.cli._progress import staged_progress
from oodforge.export.anomalib import AnomalibExport, export_anomalib, folder_snippet

__all__ = ["print_anomalib_summary", "register"]

_COLS = ("train_good", "test_good", "test_anomaly", "failed")
_HEADERS = ("train/good", "test/good", "test/anomaly", "failed (skipped)")


def print_anomalib_summary(res: AnomalibExport) -> None:
    """Print the per-split table, the warnings and the ``Folder`` arguments as a Python snippet."""
    table = Table(title=f"anomalib export: {res.root}", title_justify="left")
    table.add_column("split")
    for header in _HEADERS:
        table.add_column(header, justify="right")
    for split, counts in sorted(res.per_split.items()):
        table.add_row(split, *(str(counts[c]) for c in _COLS))
    table.add_row("[bold]total[/]", *(f"[bold]{res.counts[c]}[/]" for c in _COLS))
    console.print(table)
    for line in res.warnings[:20]:
        console.print(f"[yellow]warning:[/] {line}", highlight=False, markup=True, soft_wrap=True)
    if len(res.warnings) > 20:
        console.print(f"[yellow]... and {len(res.warnings) - 20} more warnings[/]")
    if res.ordinal_prefix:
        console.print("abnormal files carry an ordinal prefix so that Anomalib pairs every mask with its image")
    console.print(f"Anomalib Folder datamodule (also in {res.root / 'anomalib_folder.yaml'}):")
    console.print(folder_snippet(res.folder_args), markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``export`` sub-app with its ``anomalib`` command to the app."""
    export_app = typer.Typer(
        help="Export an oodforge dataset to another tool's format.",
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.add_typer(export_app, name="export")

    @export_app.command("anomalib")
    @handle_errors
    def anomalib(
        dataset: Path = typer.Argument(..., help="Root of an oodforge dataset (synth or render)."),
        out: Path = typer.Argument(..., help="Export folder: new, empty, or a previous export (see --overwrite)."),
        split: list[str] | None = typer.Option(None, "--split", help="Only this split (repeatable)."),
        normal_test_ratio: float = typer.Option(
            0.2, "--normal-test-ratio", help="Share of train-split normal images moved to test/good."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the --normal-test-ratio share."),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="Replace a previous export in OUT (only the files it wrote are deleted)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Write DATASET in Anomalib's Folder layout (MVTec-like) under OUT and print the Folder arguments.

        train/good: normal train images; test/good: normal test/val images plus a seeded share of train
        normals; test/anomaly: images with >= 1 anomaly pixel; ground_truth/anomaly: their 0/255 masks
        (ignore becomes 0). OUT lists the files oodforge wrote (OUT/.oodforge/files.json): a folder without
        that list is refused, and --overwrite deletes only listed files.
        """
        with staged_progress(not quiet) as progress:
            res = export_anomalib(
                dataset, out, splits=split or None, normal_test_ratio=normal_test_ratio, seed=seed,
                overwrite=overwrite, progress=progress,  # type: ignore[arg-type]
            )  # fmt: skip
        print_anomalib_summary(res)
