"""``oodforge render`` (Blender scenes with anomaly objects); ``preprocess``, ``import-allo``: preprocess_cmd."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from oodforge.cli._common import EXIT_FAILED_SAMPLES, EXIT_INTERRUPTED, console, handle_errors
from oodforge.cli._progress import staged_progress
from oodforge.cli.preprocess_cmd import register as register_preprocess

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``render``, ``preprocess`` and ``import-allo`` to the app."""

    @app.command()
    @handle_errors
    def render(
        config: Annotated[Path, typer.Argument(help="YAML render config (scene, anomalies, modes, cameras, days).")],
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace a dataset made from another config.")
        ] = False,
        limit: Annotated[
            int | None, typer.Option("--limit", help="Only the first N frames (sorted names) per camera.")
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
        layout: Annotated[
            str | None,
            typer.Option(
                "--layout",
                help="Output layout: oodforge (<camera>/images|gt_pixel|fb_mask) or allo (ALLO's "
                "exp_<n>/Camera<k>/... folders and file names); default: the config's output.layout.",
            ),
        ] = None,
        workers: Annotated[
            int, typer.Option("--workers", "-w", help="Blender processes; (camera, day) groups are spread over them.")
        ] = 1,
        threads_per_worker: Annotated[
            int | None,
            typer.Option(
                "--threads-per-worker",
                help="Cycles threads per Blender process (default: the CPUs divided by --workers; Dask: all).",
            ),
        ] = None,
        executor: Annotated[str, typer.Option("--executor", help="local | dask")] = "local",
        scheduler: Annotated[
            str | None, typer.Option("--scheduler", help="Dask scheduler address (tcp://host:8786).")
        ] = None,
    ) -> None:
        """Render normal and anomalous frames with exact masks from Blender's object-index pass (resumable)."""
        from oodforge.render.config_io import load_render_config, with_layout
        from oodforge.render.runner import render_dataset

        source = config if layout is None else with_layout(load_render_config(config), layout)
        with staged_progress(not quiet) as progress:
            s = render_dataset(
                source, limit=limit, overwrite=overwrite, workers=workers, threads_per_worker=threads_per_worker,
                executor=executor, scheduler=scheduler, progress=progress,  # type: ignore[arg-type]
            )  # fmt: skip
        table = Table(title=f"render: {s.output_root} ({s.device or 'nothing rendered'})", title_justify="left")
        for col in ("camera", "frames", "normal", "anomalous", "hidden", "failed"):
            table.add_column(col, justify="left" if col == "camera" else "right")
        for cam, c in sorted(s.per_camera.items()):
            table.add_row(cam, *(str(c[k]) for k in ("frames", "normal", "anomalous", "hidden", "failed")))
        console.print(table)
        console.print(
            f"{s.processed} frame(s) rendered, {s.skipped} already complete (resumed), {len(s.failed)} failed; "
            f"manifest: {s.output_root / 'manifest.jsonl'}",
            highlight=False,
        )
        for cam, fid, err in s.failed[:20]:
            console.print(f"[red]failed[/] {cam}/{fid}: {err}", highlight=False, markup=True)
        if s.interrupted:
            console.print(
                f"[yellow]interrupted: {s.skipped + s.processed} of {s.total} frame(s) are finished and kept; "
                "run the same command again to resume[/]"
            )
            raise typer.Exit(EXIT_INTERRUPTED)
        if s.failed:
            raise typer.Exit(EXIT_FAILED_SAMPLES)

    register_preprocess(app)  # preprocess and import-allo: cli/preprocess_cmd.py
