"""Executors: run the per-image task in-process, on a local process pool, or on a Dask cluster.

All three call the same :func:`oodforge.synth.sample.process_image`; outputs are byte-identical
whichever is used, because each image's randomness is seeded from its identity alone.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from oodforge._procs import init_worker_process
from oodforge.errors import UsageError
from oodforge.synth.context import SynthContext
from oodforge.synth.sample import process_image

__all__ = ["run_tasks"]

Task = tuple[str, str]
_WORKER_CTX: dict[str, SynthContext] = {}


def _init_worker(ctx: SynthContext) -> None:
    init_worker_process()
    _WORKER_CTX["ctx"] = ctx


def _pool_task(split: str, image_id: str) -> dict[str, Any]:
    return process_image(_WORKER_CTX["ctx"], split, image_id)


def _dask_task(ctx: SynthContext, split: str, image_id: str) -> dict[str, Any]:
    # one opened context (COCO pool) per worker process and config
    cached = _WORKER_CTX.get(ctx.config_sha256)
    if cached is None:
        _WORKER_CTX[ctx.config_sha256] = cached = ctx
    return process_image(cached, split, image_id)


def _run_inline(ctx: SynthContext, tasks: Sequence[Task]) -> Iterator[dict[str, Any]]:
    for split, image_id in tasks:
        yield process_image(ctx, split, image_id)


def _run_pool(ctx: SynthContext, tasks: Sequence[Task], workers: int) -> Iterator[dict[str, Any]]:
    # bounded in-flight queue: memory stays flat and a stop (fail-fast, Ctrl-C) wastes little work
    max_inflight = workers * 4
    todo = iter(tasks)
    with ProcessPoolExecutor(
        workers, mp_context=mp.get_context("spawn"), initializer=_init_worker, initargs=(ctx,)
    ) as ex:
        inflight: set[Future[dict[str, Any]]] = set()
        try:
            while True:
                while len(inflight) < max_inflight:
                    nxt = next(todo, None)
                    if nxt is None:
                        break
                    inflight.add(ex.submit(_pool_task, *nxt))
                if not inflight:
                    return
                done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        finally:
            for fut in inflight:
                fut.cancel()


def _run_dask(ctx: SynthContext, tasks: Sequence[Task], scheduler: str | None) -> Iterator[dict[str, Any]]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError("--executor dask needs the dask extra: pip install 'oodforge[dask]'") from None
    if not scheduler:
        raise UsageError("--executor dask needs --scheduler ADDR (e.g. tcp://10.0.0.5:8786) of a running cluster")
    try:
        client = Client(scheduler, timeout="20s", set_as_default=False)
    except OSError as exc:
        raise UsageError(f"--scheduler {scheduler}: cannot connect to the Dask scheduler ({exc})") from None
    try:
        ctx_future = client.scatter(ctx, broadcast=True)
        futures = [
            client.submit(_dask_task, ctx_future, split, image_id, pure=False, key=f"oodforge-{split}-{image_id}")
            for split, image_id in tasks
        ]
        try:
            for fut in as_completed(futures, loop=client.loop):
                yield fut.result()
        finally:
            client.cancel(futures)
    finally:
        client.close()


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
    """Run every (split, image_id) task and collect the records (in completion order).

    Args:
        ctx: the run context.
        tasks: (split, image_id) pairs.
        workers: local worker processes (1 = in this process).
        executor: ``local`` or ``dask``.
        scheduler: Dask scheduler address for ``executor="dask"``.
        on_result: called with each record; returning False stops the run early (fail-fast).
        collect: keep and return the records (False: return an empty list, memory flat in the task count).
    """
    if executor == "dask":
        it = _run_dask(ctx, tasks, scheduler)
    elif executor == "local":
        it = _run_inline(ctx, tasks) if workers <= 1 or len(tasks) <= 1 else _run_pool(ctx, tasks, workers)
    else:
        raise UsageError(f"--executor: unknown executor '{executor}'; expected 'local' or 'dask'")
    records: list[dict[str, Any]] = []
    try:
        for rec in it:
            if collect:
                records.append(rec)
            if on_result is not None and on_result(rec) is False:
                break
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()
    return records
