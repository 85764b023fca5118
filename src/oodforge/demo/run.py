"""``oodforge demo``: demo world → dataset → verify → preview, through the same code paths as real data.

Everything goes under ``--out``, which carries the list of the files the demo wrote there
(:mod:`oodforge.export.owned_folder`): a non-empty folder that is not a demo output is refused, and a
re-run replaces only listed files. ``world/`` (:func:`oodforge.demo.world.write_demo_world`) and
``dataset/`` (``oodforge synth``'s output root) keep their own lists.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import cast

from oodforge._io import atomic_write_bytes
from oodforge.cli._common import console
from oodforge.cli._progress import staged_progress
from oodforge.errors import UsageError
from oodforge.export.owned_folder import OwnedFolder, open_owned_folder

__all__ = ["DEMO_CONFIG_NAME", "demo_config_bytes", "run_demo"]

DEMO_CONFIG_NAME = "demo.yaml"
_SCORES = "scores/rx_baseline"


def demo_config_bytes() -> bytes:
    """The packaged demo config (``oodforge/configs/demo.yaml``)."""
    return resources.files("oodforge").joinpath("configs", DEMO_CONFIG_NAME).read_bytes()


def _baseline_eval(dataset: Path, owned: OwnedFolder) -> None:
    """Score the ``test`` split with the model-free RX baseline and print the ``oodforge eval`` table."""
    from oodforge.benchmarks import open_benchmark
    from oodforge.cli.eval_cmd import print_eval_report
    from oodforge.eval.baseline import score_dataset_images
    from oodforge.eval.evaluate import evaluate

    scores_dir = owned.path(_SCORES)
    reader = open_benchmark("synth", dataset, "test")
    owned.claim(f"{_SCORES}/{image_id}.npy" for image_id in reader.image_ids())
    with staged_progress() as progress:
        update = cast(Callable[[str, int, int], None], progress)
        score_dataset_images(
            ((s.image_id, s.image) for s in reader),
            scores_dir,
            progress=lambda done: update("scoring (RX baseline)", done, len(reader)),
        )
        report = evaluate("synth", dataset, scores_dir, split="test", progress=update)
    console.print(
        "[bold]model-free baseline[/]: RX colour detector (Mahalanobis distance of each pixel's Lab colour from "
        "the image's colours), no model involved; the pasted objects are lit like their surroundings and shadowed, "
        "so expect numbers near chance: a real model should beat them by far."
    )
    print_eval_report(report, title=f"eval: RX baseline on {dataset} (test split)")
    console.print(
        f"scores: {scores_dir}  (evaluate your own: `oodforge eval --benchmark synth --root {dataset} "
        "--scores DIR --split test`)",
        highlight=False,
    )


def run_demo(out: Path, *, workers: int = 2) -> Path:
    """Write the demo world under ``out/world``, synthesize ``out/dataset``, write previews, evaluate a baseline.

    The last step scores the ``test`` split with the model-free RX baseline into ``out/scores/rx_baseline``
    and prints the ``oodforge eval`` table.

    Raises:
        UsageError: ``out`` is not empty and not a demo output (it has no list of oodforge's files).

    Returns:
        The dataset folder.
    """
    from oodforge.cli.synth_cmd import print_summary
    from oodforge.demo.world import write_demo_world
    from oodforge.inspect.preview import write_preview
    from oodforge.inspect.verify import verify_dataset
    from oodforge.synth.runner import synthesize_dataset

    if workers < 1:  # before anything is written
        raise UsageError(f"--workers: expected at least 1, got {workers}")
    t0 = time.perf_counter()
    console.rule("[bold]oodforge demo[/]")
    console.print(
        "This is a [bold]demo[/]: a small procedural world written in the real Cityscapes and COCO layouts, "
        "processed by exactly the code real data goes through."
    )
    with open_owned_folder(out, command="oodforge demo", overwrite=True, key="--out", what="demo output") as owned:
        owned.claim([DEMO_CONFIG_NAME])
        world = write_demo_world(out / "world")
        console.print(f"demo world: Cityscapes layout in {world.cityscapes_root}, COCO layout in {world.coco_root}")
        config_path = owned.path(DEMO_CONFIG_NAME)
        atomic_write_bytes(config_path, demo_config_bytes())
        with staged_progress() as progress:
            summary = synthesize_dataset(
                config_path,
                workers=workers,
                overwrite=True,
                progress=progress,  # type: ignore[arg-type]
            )
        print_summary(summary)
        report = verify_dataset(summary.output_root)
        status = "[green]ok[/]" if not report.problems else f"[red]{len(report.problems)} problem(s)[/]"
        console.print(f"verify: {report.n_records} records, {report.n_files_checked} files re-hashed: {status}")
        preview_rel = (summary.output_root / "preview.png").resolve().relative_to(out.resolve()).as_posix()
        owned.claim([preview_rel])  # dataset/preview.png: the demo config's output_root is DIR/dataset
        preview = owned.path(preview_rel)
        write_preview(summary.output_root, preview, n=8, split="test")
        console.print(f"preview: {preview}")
        _baseline_eval(summary.output_root, owned)
    console.print(f"config: {config_path}  (edit it and run `oodforge synth {config_path}`)")
    console.print(f"done in {time.perf_counter() - t0:.1f} s")
    return summary.output_root
