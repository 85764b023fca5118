"""Pool workers end when the process that started them is killed (no orphans holding memory)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

_PARENT = """
import multiprocessing as mp, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from oodforge._procs import init_worker_process

def pid():
    return os.getpid()

if __name__ == "__main__":
    init = init_worker_process if sys.argv[1] == "guarded" else None
    ex = ProcessPoolExecutor(2, mp_context=mp.get_context("spawn"), initializer=init)
    pids = sorted({ex.submit(pid).result() for _ in range(8)})
    print(" ".join(map(str, pids)), flush=True)
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie counts as gone
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True


def _worker_pids_after_kill(mode: str, tmp_path, wait_s: float) -> list[int]:
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    proc = subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert pids
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    alive = [p for p in pids if _alive(p)]
    for p in alive:
        os.kill(p, signal.SIGKILL)
    return alive


def test_guarded_workers_exit_when_parent_is_killed(tmp_path) -> None:
    assert _worker_pids_after_kill("guarded", tmp_path, 10.0) == []


def test_unguarded_workers_would_stay(tmp_path) -> None:
    # the fault the guard fixes: without it the workers outlive a killed parent
    assert _worker_pids_after_kill("plain", tmp_path, 1.5) != []
