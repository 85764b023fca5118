"""``oodforge train``, ``oodforge predict`` and ``oodforge segeval`` (need the ``learn`` extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from oodforge._paths import check_output_file, check_output_folder
from oodforge.cli._common import EXIT_FAILED_SAMPLES, console, err_console, handle_errors
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
    build_predictor,
)
from oodforge.cli._progress import staged_progress
from oodforge.errors import UsageError

__all__ = ["register"]


def _require_learn() -> None:
    for mod in ("torch", "lightning"):
        if importlib.util.find_spec(mod) is None:
            raise UsageError(f"this command needs {mod}: pip install 'oodforge[learn]'")


def register(app: typer.Typer) -> None:
    """Add ``train``, ``predict`` and ``segeval``."""

    @app.command()
    @handle_errors
    def train(
        config: Path = typer.Argument(..., help="Training YAML (see configs/tiny_*.yaml)."),
        resume: bool = typer.Option(False, "--resume", help="Continue from output_dir/checkpoints/last.ckpt."),
        checkpoint: Path | None = typer.Option(None, "--checkpoint", help="Continue from this checkpoint."),
    ) -> None:
        """Train a segmentation model (semantic), fine-tune with outlier exposure (oe) or train an anomaly head."""
        _require_learn()
        from oodforge.learn.train import train as run

        result = run(config, resume=checkpoint if checkpoint is not None else resume)
        table = Table(title=f"run: {result.output_dir}", title_justify="left")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for k, v in sorted(result.metrics.items()):
            table.add_row(k, f"{v:.4f}")
        console.print(table)
        console.print(f"last checkpoint: {result.last_checkpoint}")
        if result.best_checkpoint:
            console.print(f"best checkpoint (val/mIoU): {result.best_checkpoint}")
        console.print(f"logs: {result.log_dir / 'metrics.csv'} and {result.output_dir / 'tensorboard'}")

    @app.command()
    @handle_errors
    def predict(
        source: Path = typer.Argument(..., help="An image, or a folder of images (searched recursively)."),
        out: Path = typer.Argument(..., help="Overlay PNG (for one image) or output folder (for a folder)."),
        checkpoint: CheckpointOpt = None,
        model: ModelOpt = None,
        weights: WeightsOpt = None,
        num_classes: NumClassesOpt = None,
        logits: bool = typer.Option(False, "--logits", help="Folder: also write float16 (C, H, W) logits."),
        device: DeviceOpt = None,
        normalization: NormalizationOpt = None,
        input_size: InputSizeOpt = None,
        short_side: ShortSideOpt = None,
        input_scale: InputScaleOpt = None,
        channel_order: ChannelOrderOpt = None,
    ) -> None:
        """One image -> overlay PNG; a folder -> Cityscapes labelIds PNGs, anomaly score maps (and logits)."""
        _require_learn()
        from oodforge.learn.predict import predict_folder, predict_image

        if not source.exists():
            raise UsageError(f"{source}: not found; expected an image or a folder of images")
        if source.is_file():
            check_output_file(out, "OUT")
        else:
            check_output_folder(out, "OUT")
        pred = build_predictor(
            checkpoint, model, weights, num_classes, device, normalization=normalization, input_size=input_size,
            short_side=short_side, input_scale=input_scale, channel_order=channel_order,
        )  # fmt: skip
        console.print(f"model: {pred.description}; input: {pred.convention.describe()}", highlight=False)
        if source.is_file():
            console.print(f"overlay: {predict_image(pred, source, out)}")
            return
        failures: list[tuple[Path, str]] = []
        with staged_progress() as progress:
            n = predict_folder(
                pred, source, out, logits=logits, failures=failures,
                progress=lambda d, t: progress("predict", d, t),  # type: ignore[operator]
            )  # fmt: skip
        extra = f", logits in {out / 'logits'}" if logits else ""
        console.print(f"{n} image(s): labelIds in {out / 'labelIds'}, anomaly scores in {out / 'scores'}{extra}")
        for _path, reason in failures[:20]:
            err_console.print(f"[red]failed[/] {escape(reason)}", highlight=False, soft_wrap=True)
        if failures:
            more = " (first 20 shown)" if len(failures) > 20 else ""
            err_console.print(f"{len(failures)} image(s) could not be read and were skipped{more}", highlight=False)
            raise typer.Exit(EXIT_FAILED_SAMPLES)

    @app.command()
    @handle_errors
    def segeval(
        root: Path = typer.Option(..., "--root", help="Cityscapes root."),
        checkpoint: CheckpointOpt = None,
        model: ModelOpt = None,
        weights: WeightsOpt = None,
        num_classes: NumClassesOpt = None,
        split: str = typer.Option("val", "--split", help="Cityscapes split with labels."),
        limit: int | None = typer.Option(None, "--limit", help="Only the first N images."),
        vis: Path | None = typer.Option(None, "--vis", help="Write image | prediction | ground truth PNGs here."),
        n_vis: int = typer.Option(8, "--n-vis", help="How many visualisations."),
        device: DeviceOpt = None,
        normalization: NormalizationOpt = None,
        input_size: InputSizeOpt = None,
        short_side: ShortSideOpt = None,
        input_scale: InputScaleOpt = None,
        channel_order: ChannelOrderOpt = None,
    ) -> None:
        """Pixel accuracy, per-class IoU and mIoU (19 evaluation classes) of a model on a Cityscapes split."""
        _require_learn()
        from oodforge.learn.segeval import N_EVAL_CLASSES, segment_evaluate
        from oodforge.sources.cityscapes_labels import TRAIN_ID_NAMES

        if vis is not None:
            check_output_folder(vis, "--vis")
        pred = build_predictor(
            checkpoint, model, weights, num_classes, device, normalization=normalization, input_size=input_size,
            short_side=short_side, input_scale=input_scale, channel_order=channel_order,
        )  # fmt: skip
        console.print(f"model: {pred.description}; input: {pred.convention.describe()}", highlight=False)
        with staged_progress() as progress:
            res = segment_evaluate(
                pred, root, split, limit=limit, vis_dir=vis, n_vis=n_vis,
                progress=lambda d, t: progress("segeval", d, t),  # type: ignore[operator]
            )  # fmt: skip
        table = Table(title=f"{pred.description} on {split}", title_justify="left")
        table.add_column("class")
        table.add_column("IoU %", justify="right")
        for name, iou in zip(TRAIN_ID_NAMES, res.iou[:N_EVAL_CLASSES], strict=False):
            table.add_row(name, "n/a" if iou != iou else f"{100 * iou:.2f}")
        table.add_row("[bold]mIoU[/] (19 classes)", f"{100 * res.miou:.2f}")
        table.add_row("[bold]pixel accuracy[/]", f"{100 * res.pixel_accuracy:.2f}")
        console.print(table)
        if pred.num_classes > N_EVAL_CLASSES:
            console.print(
                f"note: the model has {pred.num_classes} outputs; outputs {N_EVAL_CLASSES}.. (void) are not evaluation "
                f"classes: they were predicted on {100 * res.extra_prediction_share:.2f} % of the labelled pixels, "
                "counted as misses"
            )
