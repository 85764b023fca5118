"""run_tasks: same results in this process, on a spawn pool and on Dask; bounded queue; one-line errors."""

from __future__ import annotations

import operator
import os
from collections.abc import Iterator
from contextlib import closing

import pytest

from _parallel_tasks import die, sleep_then, worker_pid
from oodforge._parallel import _CONTEXTS, check_options, run_tasks
from oodforge.errors import OodforgeError, UsageError


def _counting(n: int, pulled: list[int]) -> Iterator[int]:
    for i in range(n):
        pulled.append(i)
        yield i


def test_inline_is_lazy_and_ordered() -> None:
    pulled: list[int] = []
    it = run_tasks(operator.mul, 3, _counting(5, pulled))
    assert pulled == []  # nothing runs before the first next()
    assert next(it) == 0
    assert pulled == [0]
    assert list(it) == [3, 6, 9, 12]


def test_pool_ordered_matches_inline_and_uses_other_processes() -> None:
    tasks = [(0.02 * (5 - i % 5), i) for i in range(12)]  # early tasks finish last
    assert list(run_tasks(sleep_then, 1.0, tasks, workers=2, ordered=True)) == list(range(12))
    pids = set(run_tasks(worker_pid, None, range(8), workers=2))
    assert os.getpid() not in pids


def test_pool_unordered_yields_in_completion_order() -> None:
    tasks = [(10.0, 0), (0.0, 1), (0.0, 2)]
    out = list(run_tasks(sleep_then, 0.1, tasks, workers=2, ordered=False))
    assert sorted(out) == [0, 1, 2]
    assert out[0] != 0  # the slow first task does not hold back the others


def test_pool_queue_is_bounded() -> None:
    pulled: list[int] = []
    it = run_tasks(sleep_then, 0.0, ((0.0, i) for i in _counting(100, pulled)), workers=2, max_inflight=3)
    next(it)
    assert len(pulled) <= 4  # 3 in flight, one refill after the first result
    assert len(list(it)) == 99
    assert len(pulled) == 100


def test_closing_early_stops_pulling_tasks() -> None:
    pulled: list[int] = []
    gen = run_tasks(sleep_then, 0.0, ((0.0, i) for i in _counting(100, pulled)), workers=2, max_inflight=3)
    with closing(gen):
        next(gen)
    assert len(pulled) <= 4
    with pytest.raises(StopIteration):
        next(gen)


def test_task_error_is_reraised() -> None:
    with pytest.raises(ZeroDivisionError):
        list(run_tasks(operator.truediv, 1, [1, 0, 2], workers=2, ordered=True))
    with pytest.raises(ZeroDivisionError):
        list(run_tasks(operator.truediv, 1, [1, 0, 2]))


def test_dead_worker_is_one_oodforge_error() -> None:
    with pytest.raises(OodforgeError, match=r"a worker process died .* fewer --workers than 2"):
        list(run_tasks(die, None, range(6), workers=2))


@pytest.mark.parametrize(
    ("workers", "executor", "scheduler", "match"),
    [
        (1, "spark", None, "--executor: unknown executor 'spark'; expected 'local' or 'dask'"),
        (0, "local", None, "--workers: 0; expected an integer >= 1"),
        (1, "dask", None, "--executor dask needs --scheduler ADDR"),
    ],
)
def test_bad_options_fail_before_any_work(workers: int, executor: str, scheduler: str | None, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        check_options(workers, executor, scheduler)
    pulled: list[int] = []
    with pytest.raises(UsageError, match=match):
        run_tasks(operator.mul, 1, _counting(3, pulled), workers=workers, executor=executor, scheduler=scheduler)
    assert pulled == []


def test_dask_localcluster_matches_inline() -> None:
    distributed = pytest.importorskip("distributed")
    tasks = [(0.02 * (4 - i % 4), i) for i in range(10)]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        ordered = list(run_tasks(sleep_then, 1.0, tasks, executor="dask", scheduler=c.scheduler_address, ordered=True))
        opts = {"executor": "dask", "scheduler": c.scheduler_address, "max_inflight": 2, "context_key": "test-k"}
        try:
            assert sorted(run_tasks(operator.mul, 5, range(6), **opts)) == [0, 5, 10, 15, 20, 25]
            # same key: the workers keep the context of the first run
            assert sorted(run_tasks(operator.mul, 7, range(3), **opts)) == [0, 5, 10]
        finally:
            _CONTEXTS.pop("test-k", None)  # processes=False: the workers share this process
    assert ordered == list(range(10))
