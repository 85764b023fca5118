"""Run picklable tasks in this process, on a local process pool or on a Dask cluster, with a bounded queue.

One function, :func:`run_tasks`, serves every command that fans work out per image (``synth``, ``verify``):
``fn(context, task)`` is called once per task; ``context`` travels to each worker once (pool initializer,
or scattered to every Dask worker), tasks travel one by one. At most ``max_inflight`` tasks are submitted
and not yet handed back, so memory stays flat however many tasks the iterable yields, and a stop (an
exception, Ctrl-C, the consumer closing the iterator) cancels the queued rest and wastes little work.

``fn`` must be a module-level function and ``context``, tasks and results picklable (the local pool uses
the ``spawn`` start method: workers import ``fn``'s module afresh).
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, Protocol, TypeVar, cast

from oodforge._procs import init_worker_process
from oodforge.errors import OodforgeError, UsageError

__all__ = ["EXECUTORS", "check_options", "run_tasks"]

#: the values of ``--executor``
EXECUTORS = ("local", "dask")
#: tasks in flight per local worker process
INFLIGHT_PER_WORKER = 4

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

_CONTEXTS: dict[str, Any] = {}  # worker side: the context of the pool, or of each Dask context_key
_POOL = "\0pool"


class _Future(Protocol[R_co]):  # the part of concurrent.futures.Future and distributed.Future used here
    def result(self) -> R_co: ...  # pragma: no cover - protocol
    def cancel(self) -> Any: ...  # pragma: no cover - protocol
    def done(self) -> bool: ...  # pragma: no cover - protocol


def check_options(workers: int, executor: str, scheduler: str | None) -> None:
    """Validate ``--workers``, ``--executor`` and ``--scheduler`` before any work starts.

    Raises:
        UsageError: ``workers`` < 1, an unknown executor, or ``dask`` without a scheduler address.
    """
    if executor not in EXECUTORS:
        raise UsageError(f"--executor: unknown executor {executor!r}; expected 'local' or 'dask'")
    if workers < 1:
        raise UsageError(f"--workers: {workers}; expected an integer >= 1")
    if executor == "dask" and not scheduler:
        raise UsageError("--executor dask needs --scheduler ADDR (e.g. tcp://10.0.0.5:8786) of a running cluster")


def run_tasks(
    fn: Callable[[C, T], R],
    context: C,
    tasks: Iterable[T],
    *,
    workers: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
    ordered: bool = False,
    max_inflight: int | None = None,
    context_key: str | None = None,
) -> Generator[R, None, None]:
    """Yield ``fn(context, task)`` for every task; options are checked now, work starts on the first ``next``.

    Close the generator (``contextlib.closing``) to stop early: queued tasks are cancelled, running ones finish.

    Args:
        fn: a module-level function ``fn(context, task) -> result``.
        context: shared read-only state, sent once to each worker.
        tasks: consumed lazily, at most ``max_inflight`` ahead of the consumer.
        workers: local worker processes (1 = in this process, no pickling); ignored by ``dask``.
        executor: ``local`` or ``dask``.
        scheduler: address of a running Dask scheduler (``executor="dask"``).
        ordered: yield results in task order (else in completion order).
        max_inflight: tasks submitted and not yet yielded; default 4 per local worker or Dask thread.
        context_key: Dask only: workers keep one context per key across runs (e.g. a config hash),
            so state that ``fn`` builds lazily on it is built once per worker.

    Raises:
        UsageError: as :func:`check_options`; ``dask`` not installed or the scheduler unreachable.
        Exception: whatever ``fn`` raises, re-raised here (the queued rest is cancelled).
    """
    check_options(workers, executor, scheduler)
    if executor == "dask":
        assert scheduler is not None  # checked above
        return _run_dask(fn, context, tasks, scheduler, ordered, max_inflight, context_key)
    if workers == 1:
        return (fn(context, task) for task in tasks)
    return _run_pool(fn, context, tasks, workers, ordered, max_inflight or workers * INFLIGHT_PER_WORKER)


class _Queue(Generic[T, R]):
    """Submit from ``tasks`` while fewer than ``limit`` futures are pending; hand results back."""

    def __init__(self, submit: Callable[[T], _Future[R]], tasks: Iterable[T], limit: int) -> None:
        self.submit, self.todo, self.limit = submit, iter(tasks), max(1, limit)
        self.pending: deque[_Future[R]] = deque()

    def fill(self) -> None:
        while len(self.pending) < self.limit:
            try:
                task = next(self.todo)
            except StopIteration:
                return
            self.pending.append(self.submit(task))

    def drain(self, ordered: bool, wait_any: Callable[[list[_Future[R]]], None]) -> Iterator[R]:
        try:
            self.fill()
            while self.pending:
                if ordered or len(self.pending) == 1:
                    fut = self.pending.popleft()
                else:
                    wait_any(list(self.pending))
                    fut = next(f for f in self.pending if f.done())
                    self.pending.remove(fut)
                result = fut.result()
                self.fill()  # keep the workers busy while the consumer handles the result
                yield result
        finally:
            for fut in self.pending:
                fut.cancel()


def _nothing(_: object) -> None:
    """Drop what a wait returns: the queue asks each future ``done()``."""


def _wait_pool(futures: list[_Future[Any]]) -> None:
    """Block until one of the pool's futures is done."""
    wait(cast("list[Future[Any]]", futures), return_when=FIRST_COMPLETED)


def _init_pool(context: object) -> None:
    init_worker_process()  # ends with its parent, leaves Ctrl-C to it
    _CONTEXTS[_POOL] = context


def _pool_call(fn: Callable[[Any, T], R], task: T) -> R:
    return fn(_CONTEXTS[_POOL], task)


def _run_pool(
    fn: Callable[[C, T], R], context: C, tasks: Iterable[T], workers: int, ordered: bool, limit: int
) -> Generator[R, None, None]:
    ex = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_pool, initargs=(context,))
    try:
        queue: _Queue[T, R] = _Queue(lambda task: ex.submit(_pool_call, fn, task), tasks, limit)
        yield from queue.drain(ordered, _wait_pool)
    except BrokenProcessPool:
        raise OodforgeError(
            f"a worker process died (killed, out of memory, or it could not start); run again with fewer --workers "
            f"than {workers}"
        ) from None
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def _dask_call(fn: Callable[[Any, T], R], context_key: str | None, context: object, task: T) -> R:
    if context_key is not None:
        context = _CONTEXTS.setdefault(context_key, context)
    return fn(context, task)


def _run_dask(
    fn: Callable[[C, T], R],
    context: C,
    tasks: Iterable[T],
    scheduler: str,
    ordered: bool,
    max_inflight: int | None,
    context_key: str | None,
) -> Generator[R, None, None]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError("--executor dask needs the dask extra: pip install 'oodforge[dask]'") from None
    try:
        client = Client(scheduler, timeout="20s", set_as_default=False)
    except OSError as exc:
        raise UsageError(f"--scheduler {scheduler}: cannot connect to the Dask scheduler ({exc})") from None
    try:
        shared = client.scatter(context, broadcast=True, hash=False)
        limit = max_inflight or INFLIGHT_PER_WORKER * (sum(client.nthreads().values()) or 16)
        queue: _Queue[T, R] = _Queue(
            lambda task: client.submit(_dask_call, fn, context_key, shared, task, pure=False), tasks, limit
        )
        yield from queue.drain(ordered, lambda futures: _nothing(next(as_completed(futures, loop=client.loop))))
    finally:
        client.close()
