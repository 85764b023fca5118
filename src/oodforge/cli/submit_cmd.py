"""``oodforge submit-smiyc``: a SegmentMeIfYouCan submission (float16 HDF5 score maps) from a model or saved logits.

The library side is :mod:`oodforge.eval.smiyc_submit`; the file format and its source,
:mod:`oodforge.eval.smiyc_submission`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, cast

import typer

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

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``submit-smiyc``."""

    @app.command("submit-smiyc")
    @handle_errors
    def submit_smiyc(
        benchmark: Annotated[
            str | None, typer.Option("--benchmark", "-b", help="road_anomaly_21 (AnomalyTrack) or road_obstacle_21.")
        ] = None,
        root: Annotated[
            Path | None, typer.Option("--root", help="The benchmark root (official or redistributed layout).")
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", "-o", help="The method folder $DIR_OUTPUTS/anomaly_p/<MethodName> of the official toolkit."
            ),
        ] = None,
        score: Annotated[
            str | None,
            typer.Option("--score", "--method", "-m", help="Score name: msp, maxlogit, entropy, energy, sml, rba."),
        ] = None,
        split: Annotated[
            str, typer.Option("--split", help="test (labels hidden), all, validation (RO21: night, snowstorm, …).")
        ] = "test",
        temperature: Annotated[
            float | None, typer.Option("--temperature", "-t", help="Per-pixel temperature T (as `oodforge score`).")
        ] = None,
        class_temperature: Annotated[
            float | None, typer.Option("--class-temperature", help="rba only: temperature of the class-query logits.")
        ] = None,
        sml_stats: Annotated[
            Path | None, typer.Option("--sml-stats", help="sml only: .npz written by SMLStats.save.")
        ] = None,
        checkpoint: CheckpointOpt = None,
        model: ModelOpt = None,
        weights: WeightsOpt = None,
        num_classes: NumClassesOpt = None,
        logits: Annotated[
            Path | None,
            typer.Option("--logits", help="Saved logits (any framework): DIR/<benchmark>/<image_id>.npy|npz."),
        ] = None,
        device: DeviceOpt = None,
        normalization: NormalizationOpt = None,
        input_size: InputSizeOpt = None,
        short_side: ShortSideOpt = None,
        input_scale: InputScaleOpt = None,
        channel_order: ChannelOrderOpt = None,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace a previous export of this track in --out (its own files).")
        ] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        """Write one split's score maps where and how the SegmentMeIfYouCan toolkit reads them (no labels needed)."""
        from oodforge.eval.smiyc_submit import plan_submission, write_submission

        if benchmark is None or root is None or out is None or score is None:
            given = {"--benchmark NAME": benchmark, "--root DIR": root, "--out DIR": out, "--score NAME": score}
            missing = [flag for flag, value in given.items() if value is None]
            raise UsageError(f"{', '.join(missing)}: required (see oodforge submit-smiyc --help)")
        flags = {
            "--num-classes": num_classes, "--device": device, "--normalization": normalization,
            "--input-size": input_size, "--short-side": short_side, "--input-scale": input_scale,
            "--channel-order": channel_order,
        }  # fmt: skip
        load_source = output_source(logits, checkpoint, model, weights, flags)
        plan = plan_submission(
            benchmark, root, out, score, split=split, temperature=temperature,
            class_temperature=class_temperature, sml_stats=sml_stats, overwrite=overwrite,
        )  # fmt: skip
        source = load_source()
        console.print(f"model: {source.description}", highlight=False, soft_wrap=True)
        with staged_progress(not quiet) as bar:
            result = write_submission(plan, source, cast(Callable[[str, int, int], None], bar))
        for note in result.notes:
            console.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)
        replaced = f" (the previous export of {result.replaced} file(s) replaced)" if result.replaced else ""
        console.print(
            f"{len(result.files)} SMIYC score map(s) ({result.dataset}, float16 HDF5) written to "
            f"{result.folder}{replaced}",
            highlight=False, markup=False, soft_wrap=True,
        )  # fmt: skip
        hidden = "" if result.split == "validation" else " (test labels are hidden: this draws the maps)"
        console.print(f"official toolkit{hidden}:", highlight=False, markup=False, soft_wrap=True)
        console.print(f"  {result.toolkit_command()}", highlight=False, markup=False, soft_wrap=True)
