"""``oodforge preprocess`` (rendered frames → ALLO's format) and ``oodforge import-allo`` (ALLO's config)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from oodforge.cli._common import EXIT_FAILED_SAMPLES, console, handle_errors
from oodforge.cli._progress import staged_progress

__all__ = ["register"]

_COLS = ("normal", "normal_test", "anomalous", "skipped", "rejected")
_HEADERS = ("normal", "normal in test", "anomalous", "skipped (<= min_pixel)", "rejected")


def register(app: typer.Typer) -> None:
    """Add ``preprocess`` and ``import-allo`` to the app."""

    @app.command()
    @handle_errors
    def preprocess(
        directory: Annotated[
            Path, typer.Argument(help="An `oodforge render` output, or ALLO's exp_<n> folder, or a folder of them.")
        ],
        out: Annotated[
            Path,
            typer.Argument(
                help="Destination in ALLO's format (Camera<k>/{images,masks}; train/ and test/ for a render "
                "output): new, empty, or a previous preprocess output (see --overwrite)."
            ),
        ],
        min_pixel: Annotated[
            int | None,
            typer.Option(
                "--min-pixel",
                help="Anomalous frames with <= this many anomaly pixels are skipped (ALLO's rule); default: the "
                "render config's min_pixel, 2000 for ALLO's layout.",
            ),
        ] = None,
        expect_size: Annotated[
            str | None,
            typer.Option(
                "--expect-size",
                help="WxH every image and mask must have; default: the render resolution, 1920x1080 for ALLO's layout.",
            ),
        ] = None,
        resize_normal: Annotated[
            bool,
            typer.Option(
                "--resize-normal", help="Resize normal frames of another size (as ALLO does) instead of rejecting them."
            ),
        ] = False,
        normal_test_share: Annotated[
            float,
            typer.Option("--normal-test-share", help="Render output: share of normal frames put in test/ (0..1)."),
        ] = 0.0,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace a previous preprocess output (only files it wrote).")
        ] = False,
        log: Annotated[Path | None, typer.Option("--log", help="Log file (default OUT/preprocess.log).")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        """Check rendered frames (size, min_pixel, every mask) and write them in ALLO's format, 3-class masks.

        ALLO's format, not an Anomalib input (Anomalib reads mask values > 0 as anomalous): for Anomalib use
        `oodforge export anomalib` on the render output or ALLO folder. Every rejected frame is named with its
        reason (log and summary); exit 1 when a frame was rejected.
        """
        from oodforge.render.preprocess import parse_size, preprocess_renders

        size = parse_size(expect_size) if expect_size is not None else None
        with staged_progress(not quiet) as progress:
            s = preprocess_renders(
                directory, out, min_pixel=min_pixel, expect_size=size, resize_normal=resize_normal,
                normal_test_share=normal_test_share, overwrite=overwrite, log_file=log,
                progress=progress,  # type: ignore[arg-type]
            )  # fmt: skip
        w, h = s.expect_size
        where = "ALLO layout" if s.input_kind == "allo" else "render output"
        table = Table(title=f"preprocess ({where}): {s.output_root} (min_pixel {s.min_pixel}, {w}x{h})",
                      title_justify="left")  # fmt: skip
        for col in ("camera", *_HEADERS):
            table.add_column(col, justify="left" if col == "camera" else "right")
        for cam, c in sorted(s.per_camera.items()):
            table.add_row(cam, *(str(c[k]) for k in _COLS))
        console.print(table)
        for line in s.rejected[:10]:
            console.print(line, highlight=False, markup=False, soft_wrap=True)
        if len(s.rejected) > 10:
            console.print(f"... and {len(s.rejected) - 10} more rejected frame(s)", highlight=False)
        console.print(f"{len(s.problems)} line(s) logged to {s.log_path}", highlight=False)
        console.print("ALLO's format (3-class masks); for Anomalib: oodforge export anomalib", highlight=False)
        if s.kept_files:
            console.print(
                f"kept {s.kept_files} file(s) in {s.output_root} that oodforge did not write", highlight=False
            )
        if s.rejected:
            raise typer.Exit(EXIT_FAILED_SAMPLES)

    @app.command("import-allo")
    @handle_errors
    def import_allo(
        allo_config: Annotated[Path, typer.Argument(help="ALLO's render_config.yaml.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="oodforge render config to write (YAML).")],
        mode: Annotated[
            list[str] | None,
            typer.Option(
                "--mode",
                help="ALLO's --mode values to turn on (illumination, depth, scale, colour; repeatable); "
                "default: every mode the config gives values for.",
            ),
        ] = None,
        blend_file: Annotated[
            Path | None, typer.Option("--blend-file", help="ALLO's scene .blend (scene.blend_file).")
        ] = None,
        seed: Annotated[int, typer.Option("--seed", help="ALLO's --seed (render_binary.py default 0).")] = 0,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out file.")] = False,
    ) -> None:
        """Write an oodforge render config from ALLO's render_config.yaml and show where each key went."""
        from oodforge.render.allo_import import import_allo_config

        res = import_allo_config(
            allo_config, out, modes=mode or None, blend_file=blend_file, seed=seed, overwrite=overwrite
        )
        table = Table(title=f"import-allo: {allo_config} -> {out}", title_justify="left")
        for col in ("ALLO key", "oodforge key", "note"):
            table.add_column(col)
        for row in res.rows:
            table.add_row(escape(row.allo), escape(row.oodforge or "-"), escape(row.note))
        console.print(table)
        console.print(f"wrote {out}; validated against oodforge's render schema", highlight=False)
