"""Executors for ``oodforge synth``: the per-image task in-process, on a local process pool, or on Dask.

All three call the same :func:`oodforge.synth.sample.process_image` through the shared
:func:`oodforge._parallel.run_tasks` (bounded queue, workers that exit with their parent, one opened
context per worker); outputs are byte-identical whichever is used, because each image's randomness
is seeded from its identity alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from typing import Any

from oodforge import _parallel
from oodforge.synth.context import SynthContext
from oodforge.synth.sample import process_image

__all__ = ["run_tasks"]

Task = tuple[str, str]


def _task(ctx: SynthContext, task: Task) -> dict[str, Any]:
    return process_image(ctx, *task)


def run_tasks(
    ctx: SynthContext,
    tasks: Sequence[Task],
    *,
    workers: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
    on_result: Callable[[dict[str, Any]], bool] | None = None,
    collect: bool = True,
) -> list[dict[str, Any]]:
    """Run every (split, image_id) task; return the records in completion order when ``collect``.

    Args:
        ctx: the run context.
        tasks: (split, image_id) pairs.
        workers: local worker processes (1 = in this process).
        executor: ``local`` or ``dask``.
        scheduler: Dask scheduler address for ``executor="dask"``.
        on_result: called with each record; returning False stops the run early (fail-fast).
        collect: keep and return the records (False: return an empty list, memory flat in the task count).

    Raises:
        UsageError: bad executor options, Dask missing or its scheduler unreachable.
    """
    if executor == "local" and len(tasks) <= 1:
        workers = 1  # no pool start-up for a single image
    records: list[dict[str, Any]] = []
    results = _parallel.run_tasks(
        _task, ctx, tasks, workers=workers, executor=executor, scheduler=scheduler, context_key=ctx.config_sha256
    )
    with closing(results):
        for rec in results:
            if collect:
                records.append(rec)
            if on_result is not None and on_result(rec) is False:
                break
    return records
