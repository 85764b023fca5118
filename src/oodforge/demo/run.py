"""``oodforge demo``: demo world → dataset → verify → preview, through the same code paths as real data."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from oodforge._io import atomic_write_bytes
from oodforge.cli._common import console
from oodforge.cli._progress import staged_progress

__all__ = ["DEMO_CONFIG_NAME", "demo_config_bytes", "run_demo"]

DEMO_CONFIG_NAME = "demo.yaml"


def demo_config_bytes() -> bytes:
    """The packaged demo config (``oodforge/configs/demo.yaml``)."""
    return resources.files("oodforge").joinpath("configs", DEMO_CONFIG_NAME).read_bytes()


def run_demo(out: Path, *, workers: int = 2) -> Path:
    """Write the demo world under ``out/world``, synthesize ``out/dataset`` and write previews.

    Returns:
        The dataset folder.
    """
    from oodforge.cli.synth_cmd import print_summary
    from oodforge.demo.world import write_demo_world
    from oodforge.inspect.preview import write_preview
    from oodforge.inspect.verify import verify_dataset
    from oodforge.synth.runner import synthesize_dataset

    t0 = time.perf_counter()
    console.rule("[bold]oodforge demo[/]")
    console.print(
        "This is a [bold]demo[/]: a small procedural world written in the real Cityscapes and COCO layouts, "
        "processed by exactly the code real data goes through."
    )
    out.mkdir(parents=True, exist_ok=True)
    world = write_demo_world(out / "world")
    console.print(f"demo world: Cityscapes layout in {world.cityscapes_root}, COCO layout in {world.coco_root}")
    config_path = out / DEMO_CONFIG_NAME
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
    preview = summary.output_root / "preview.png"
    write_preview(summary.output_root, preview, n=8, split="test")
    console.print(f"preview: {preview}")
    console.print(f"config: {config_path}  (edit it and run `oodforge synth {config_path}`)")
    console.print(f"done in {time.perf_counter() - t0:.1f} s")
    return summary.output_root
