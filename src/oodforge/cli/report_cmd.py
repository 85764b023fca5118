"""``oodforge report``: write a dataset card, one self-contained HTML page (:mod:`oodforge.inspect.card`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oodforge.cli._common import console, handle_errors
from oodforge.inspect.card import write_card

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``report`` to the app."""

    @app.command()
    @handle_errors
    def report(
        directory: Annotated[Path, typer.Argument(help="Output root of `oodforge synth` (holds manifest.jsonl).")],
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Output HTML file (default DIR/report.html, inside the dataset root)."),
        ] = None,
        n: Annotated[int, typer.Option("--n", help="Number of images in the gallery.")] = 12,
        split: Annotated[str | None, typer.Option("--split", help="Gallery from this split only.")] = None,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the gallery choice.")] = 0,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace --out if it is a card oodforge wrote (never other files).")
        ] = False,
    ) -> None:
        """Dataset card: one self-contained HTML page (no server, no network) describing a dataset.

        The page holds the config (summary, realism steps, the resolved config.yaml), counts per split,
        category and size histograms, the plausibility figures of `oodforge stats`, and a gallery of images
        with GT overlays, instance outlines and their manifest provenance (click a picture for full size).

        The gallery holds --n images chosen with --seed: synthetic images with anomalies first, then synthetic
        images without, then clean ones, taking the splits in turn; the same dataset and seed give the same
        page. The default DIR/report.html sits beside manifest.jsonl: `oodforge verify` ignores it and
        `oodforge synth` neither lists nor deletes it, so after re-synthesizing run `oodforge report --overwrite`.
        An existing --out is replaced only with --overwrite and only if it is a card oodforge wrote.
        """
        path = write_card(directory, out, n=n, split=split, seed=seed, overwrite=overwrite)
        size = path.stat().st_size / 1e6
        console.print(f"dataset card written to {path} ({size:.1f} MB)", highlight=False, soft_wrap=True)
