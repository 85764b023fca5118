"""A rich progress display driven by ``progress(stage, done, total)`` callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from oodforge.cli._common import err_console

__all__ = ["STAGE_LABELS", "staged_progress"]

STAGE_LABELS = {
    "pool": "COCO instance pool",
    "check": "re-hashing finished images",
    "synth": "synthesizing images",
    "verify": "verifying files",
    "predict": "predicting",
    "segeval": "evaluating segmentation",
}


@contextmanager
def staged_progress(enabled: bool = True) -> Iterator[object]:
    """Yield a ``progress(stage, done, total)`` callable that drives one bar per stage (to stderr)."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        disable=not enabled,
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(STAGE_LABELS.get(stage, stage), total=total)
        bar.update(tasks[stage], completed=done, total=total)

    with bar:
        yield update
