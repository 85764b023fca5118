"""``oodforge train``, ``oodforge predict`` and ``oodforge segeval`` (need the ``learn`` extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer
from rich.table import Table

from oodforge.cli._common import console, handle_errors
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
        checkpoint: Path = typer.Argument(..., help="Checkpoint written by `oodforge train`."),
        source: Path = typer.Argument(..., help="An image, or a folder of images (searched recursively)."),
        out: Path = typer.Argument(..., help="Overlay PNG (for one image) or output folder (for a folder)."),
        device: str | None = typer.Option(None, "--device", help="cpu or cuda (default: cuda when present)."),
    ) -> None:
        """One image -> overlay PNG; a folder -> Cityscapes labelIds PNGs and anomaly score maps for `oodforge eval`."""
        _require_learn()
        from oodforge.learn.predict import load_module, predict_folder, predict_image

        if not source.exists():
            raise UsageError(f"{source}: not found; expected an image or a folder of images")
        module = load_module(checkpoint, device)
        if source.is_file():
            console.print(f"overlay: {predict_image(module, source, out)}")
            return
        with staged_progress() as progress:
            n = predict_folder(module, source, out, progress=lambda d, t: progress("predict", d, t))  # type: ignore[operator]
        console.print(f"{n} image(s): labelIds in {out / 'labelIds'}, anomaly scores in {out / 'scores'}")

    @app.command()
    @handle_errors
    def segeval(
        checkpoint: Path = typer.Argument(..., help="Checkpoint written by `oodforge train`."),
        root: Path = typer.Option(..., "--root", help="Cityscapes root."),
        split: str = typer.Option("val", "--split", help="Cityscapes split with labels."),
        limit: int | None = typer.Option(None, "--limit", help="Only the first N images."),
        vis: Path | None = typer.Option(None, "--vis", help="Write image | prediction | ground truth PNGs here."),
        n_vis: int = typer.Option(8, "--n-vis", help="How many visualisations."),
        device: str | None = typer.Option(None, "--device", help="cpu or cuda."),
    ) -> None:
        """Pixel accuracy, per-class IoU and mIoU of a checkpoint on a Cityscapes split."""
        _require_learn()
        from oodforge.learn.predict import load_module
        from oodforge.learn.segeval import segment_evaluate
        from oodforge.sources.cityscapes_labels import TRAIN_ID_NAMES

        module = load_module(checkpoint, device)
        with staged_progress() as progress:
            res = segment_evaluate(
                module, root, split, limit=limit, vis_dir=vis, n_vis=n_vis,
                progress=lambda d, t: progress("segeval", d, t),  # type: ignore[operator]
            )  # fmt: skip
        table = Table(title=f"{checkpoint.name} on {split}", title_justify="left")
        table.add_column("class")
        table.add_column("IoU %", justify="right")
        for name, iou in zip(TRAIN_ID_NAMES, res.iou, strict=False):
            table.add_row(name, "n/a" if iou != iou else f"{100 * iou:.2f}")
        table.add_row("[bold]mIoU[/]", f"{100 * res.miou:.2f}")
        table.add_row("[bold]pixel accuracy[/]", f"{100 * res.pixel_accuracy:.2f}")
        console.print(table)
