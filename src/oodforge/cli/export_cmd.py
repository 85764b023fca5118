"""``oodforge export <target>``: write an oodforge dataset in another tool's format.

``anomalib`` (Anomalib's Folder layout) and the targets derived from the final composite
(:mod:`oodforge.export.targets`): ``trainids``, ``outlier-mask``, ``coco``, ``cityscapes-instances``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from oodforge.cli._common import console, handle_errors
from oodforge.cli._progress import staged_progress
from oodforge.export.anomalib import AnomalibExport, export_anomalib, folder_snippet

if TYPE_CHECKING:
    from oodforge.export.targets import TargetExport

__all__ = ["print_anomalib_summary", "print_target_summary", "register"]

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


_TARGET_COLS = ("images", "with_anomaly", "instances", "hidden_instances", "anomaly_pixels", "ignore_pixels", "failed")
_TARGET_HEADERS = ("images", "anomalous", "objects", "hidden", "anomaly px", "ignore px", "failed")


def print_target_summary(res: TargetExport) -> None:
    """Print the per-split counts of a composite-derived export and where its ``exports.json`` is."""
    table = Table(title=f"{res.target} export: {res.root}", title_justify="left")
    table.add_column("split")
    for header in _TARGET_HEADERS:
        table.add_column(header, justify="right")
    for split, counts in sorted(res.per_split.items()):
        table.add_row(split, *(str(counts[c]) for c in _TARGET_COLS))
    totals = res.totals
    table.add_row("[bold]total[/]", *(f"[bold]{totals[c]}[/]" for c in _TARGET_COLS))
    console.print(table)
    options = ", ".join(f"{k}={v}" for k, v in res.options.items())
    console.print(f"options: {options}", markup=False, highlight=False, soft_wrap=True)
    if res.kept_files:
        console.print(f"[yellow]warning:[/] kept {res.kept_files} file(s) in {res.root} that oodforge did not write")
    console.print(f"every file was read back and checked; listed in {res.root / 'exports.json'}", markup=False)


_OUT_HELP = "Export folder: new, empty, or a previous export (see --overwrite)."
_ROOT_HELP = "Cityscapes root holding gtFine/ (default: the dataset config's sources.cityscapes.root)."
_OVERWRITE_HELP = "Replace a previous export in --out (only the files oodforge wrote are deleted)."


def _register_targets(export_app: typer.Typer) -> None:
    """The composite-derived targets: ``trainids``, ``outlier-mask``, ``coco``, ``cityscapes-instances``."""

    @export_app.command("trainids")
    @handle_errors
    def trainids(
        dataset: Path = typer.Argument(..., help="Root of an oodforge synth dataset."),
        out: Path = typer.Option(..., "--out", "-o", help=_OUT_HELP),
        anomaly_value: int = typer.Option(
            254,
            "--anomaly-value",
            help="Train id of anomaly pixels: 254 (Meta-OoD, Mask2Anomaly), 255 (ignore), "
            "or an extra class id such as 19; 19..255.",
        ),
        cityscapes_root: Path | None = typer.Option(None, "--cityscapes-root", help=_ROOT_HELP),
        split: list[str] | None = typer.Option(None, "--split", help="Only this split (repeatable)."),
        overwrite: bool = typer.Option(False, "--overwrite", help=_OVERWRITE_HELP),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Cityscapes train-id PNGs (uint8) of every image, anomalies set to --anomaly-value.

        OUT/<split>/<image_id>.png holds the scene's train ids (from the source gtFine labelIds, 255 void),
        anomaly pixels (GT 1) = --anomaly-value and soft-edge pixels (GT 255) = 255. Clean images too.
        For RbA / Mask2Former-semantic (use 255 with the outlier-mask export) and Mask2Anomaly / Meta-OoD (254).
        """
        from oodforge.export.targets import export_trainids

        with staged_progress(not quiet) as progress:
            res = export_trainids(
                dataset, out, anomaly_value=anomaly_value, cityscapes_root=cityscapes_root, splits=split or None,
                overwrite=overwrite, progress=progress,  # type: ignore[arg-type]
            )  # fmt: skip
        print_target_summary(res)

    @export_app.command("outlier-mask")
    @handle_errors
    def outlier_mask(
        dataset: Path = typer.Argument(..., help="Root of an oodforge synth dataset."),
        out: Path = typer.Option(..., "--out", "-o", help=_OUT_HELP),
        split: list[str] | None = typer.Option(None, "--split", help="Only this split (repeatable)."),
        overwrite: bool = typer.Option(False, "--overwrite", help=_OVERWRITE_HELP),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Binary outlier masks (uint8 0 normal / 1 anomaly / 255 ignore) of every image.

        OUT/<split>/<image_id>.png is re-derived from the instance id map (1 where an object is visible)
        and the GT's ignore pixels, and checked to equal the dataset's gt_pixel. Pair with trainids.
        """
        from oodforge.export.targets import export_outlier_mask

        with staged_progress(not quiet) as progress:
            res = export_outlier_mask(dataset, out, splits=split or None, overwrite=overwrite, progress=progress)  # type: ignore[arg-type]
        print_target_summary(res)

    @export_app.command("coco")
    @handle_errors
    def coco(
        dataset: Path = typer.Argument(..., help="Root of an oodforge synth dataset."),
        out: Path = typer.Option(..., "--out", "-o", help=_OUT_HELP),
        categories: str = typer.Option(
            "anomaly",
            "--categories",
            help="anomaly: one category 'anomaly' (id 1), the COCO name kept on each "
            "annotation as coco_category; coco: one category per COCO name (COCO's ids).",
        ),
        split: list[str] | None = typer.Option(None, "--split", help="Only this split (repeatable)."),
        overwrite: bool = typer.Option(False, "--overwrite", help=_OVERWRITE_HELP),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """COCO instance JSON per split (OUT/instances_<split>.json) for the visible pasted anomalies.

        One annotation per object visible in the instance id map: RLE segmentation (pycocotools), area, bbox,
        iscrowd 0, coco_category and coco_ann_id. file_name is relative to DATASET. For EoMT / Mask2Former-instance.
        """
        from oodforge.export.targets import export_coco

        with staged_progress(not quiet) as progress:
            res = export_coco(
                dataset, out, categories=categories, splits=split or None, overwrite=overwrite,  # type: ignore[arg-type]
                progress=progress,  # type: ignore[arg-type]
            )  # fmt: skip
        print_target_summary(res)

    @export_app.command("cityscapes-instances")
    @handle_errors
    def cityscapes_instances(
        dataset: Path = typer.Argument(..., help="Root of an oodforge synth dataset."),
        out: Path = typer.Option(..., "--out", "-o", help=_OUT_HELP),
        cityscapes_root: Path | None = typer.Option(None, "--cityscapes-root", help=_ROOT_HELP),
        split: list[str] | None = typer.Option(None, "--split", help="Only this split (repeatable)."),
        overwrite: bool = typer.Option(False, "--overwrite", help=_OVERWRITE_HELP),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Cityscapes instanceIds-style PNGs (uint16) with the anomalies as label id 50 (values 50000 + k).

        OUT/<split>/<image_id>.png keeps the scene's gtFine_instanceIds (labelId*1000+instance for persons and
        vehicles, the plain labelId elsewhere); the dataset's instance k becomes 50000 + k; soft-edge pixels 0.
        """
        from oodforge.export.targets import export_cityscapes_instances

        with staged_progress(not quiet) as progress:
            res = export_cityscapes_instances(
                dataset, out, cityscapes_root=cityscapes_root, splits=split or None, overwrite=overwrite,
                progress=progress,  # type: ignore[arg-type]
            )  # fmt: skip
        print_target_summary(res)


def register(app: typer.Typer) -> None:
    """Add the ``export`` sub-app with its ``anomalib`` command and the composite-derived targets to the app."""
    export_app = typer.Typer(
        help="Export an oodforge dataset to another tool's format.",
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.add_typer(export_app, name="export")

    @export_app.command("anomalib")
    @handle_errors
    def anomalib(
        dataset: Path = typer.Argument(
            ..., help="Root of an oodforge dataset (synth or render), or ALLO's exp_<n> folder or a folder of them."
        ),
        out: Path = typer.Argument(..., help="Export folder: new, empty, or a previous export (see --overwrite)."),
        split: list[str] | None = typer.Option(None, "--split", help="Only this split (repeatable)."),
        normal_test_ratio: float = typer.Option(
            0.2, "--normal-test-ratio", help="Share of train-split normal images moved to test/good."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the --normal-test-ratio share."),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="Replace a previous export in OUT (only the files it wrote are deleted)."
        ),
        min_pixel: int | None = typer.Option(
            None,
            "--min-pixel",
            help="ALLO's layout: anomalous frames with <= this many pixels left out (default 2000).",
        ),
        expect_size: str | None = typer.Option(
            None, "--expect-size", help="ALLO's layout: WxH of every image and mask (default 1920x1080)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Write DATASET in Anomalib's Folder layout (MVTec-like) under OUT and print the Folder arguments.

        train/good: normal train images; test/good: normal test/val images plus a seeded share of train
        normals; test/anomaly: images with >= 1 anomaly pixel; ground_truth/anomaly: their 0/255 masks
        (ignore becomes 0). OUT lists the files oodforge wrote (OUT/.oodforge/files.json): a folder without
        that list is refused, and --overwrite deletes only listed files. From ALLO's layout: split = experiment,
        frames checked as `oodforge preprocess` checks them (this, not preprocess's ALLO format, feeds Anomalib).
        """
        from oodforge.render.preprocess import parse_size

        size = parse_size(expect_size) if expect_size is not None else None
        with staged_progress(not quiet) as progress:
            res = export_anomalib(
                dataset, out, splits=split or None, normal_test_ratio=normal_test_ratio, seed=seed,
                overwrite=overwrite, min_pixel=min_pixel, expect_size=size, progress=progress,  # type: ignore[arg-type]
            )  # fmt: skip
        print_anomalib_summary(res)

    _register_targets(export_app)
