"""``oodforge render`` (Blender scenes with anomaly objects) and ``oodforge preprocess`` (Anomalib layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from oodforge.cli._common import EXIT_FAILED_SAMPLES, console, handle_errors
from oodforge.cli._progress import staged_progress

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``render`` and ``preprocess`` to the app."""

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
    ) -> None:
        """Render normal and anomalous frames with exact masks from Blender's object-index pass (resumable)."""
        from oodforge.render.runner import render_dataset

        with staged_progress(not quiet) as progress:
            s = render_dataset(config, limit=limit, overwrite=overwrite, progress=progress)  # type: ignore[arg-type]
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
        if s.failed:
            raise typer.Exit(EXIT_FAILED_SAMPLES)

    @app.command()
    @handle_errors
    def preprocess(
        directory: Annotated[Path, typer.Argument(help="Output root of `oodforge render`.")],
        out: Annotated[
            Path,
            typer.Argument(
                help="Destination of the Anomalib layout (<camera>/train, <camera>/test): new, empty, or a previous "
                "preprocess output (only the files it lists are replaced)."
            ),
        ],
        min_pixel: Annotated[
            int | None, typer.Option("--min-pixel", help="Least anomaly pixels (default: the config's min_pixel).")
        ] = None,
        normal_test_share: Annotated[
            float, typer.Option("--normal-test-share", help="Share of normal frames put in test (0..1).")
        ] = 0.0,
        log: Annotated[Path | None, typer.Option("--log", help="Log file (default OUT/preprocess.log).")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        """Verify rendered frames (shape, min_pixel), merge masks into 3 classes, lay out train/test per camera."""
        from oodforge.render.preprocess import preprocess_renders

        with staged_progress(not quiet) as progress:
            s = preprocess_renders(
                directory, out, min_pixel=min_pixel, normal_test_share=normal_test_share, log_file=log,
                progress=progress,  # type: ignore[arg-type]
            )  # fmt: skip
        table = Table(title=f"preprocess: {s.output_root} (min_pixel {s.min_pixel})", title_justify="left")
        for col in ("camera", "train", "test anomalous", "test normal", "skipped"):
            table.add_column(col, justify="left" if col == "camera" else "right")
        for cam, c in sorted(s.per_camera.items()):
            table.add_row(cam, *(str(c[k]) for k in ("train", "test_anomalous", "test_normal", "skipped")))
        console.print(table)
        console.print(f"{len(s.problems)} problem(s) logged to {s.log_path}", highlight=False)
        if s.kept_files:
            console.print(
                f"kept {s.kept_files} file(s) in {s.output_root} that oodforge did not write", highlight=False
            )
