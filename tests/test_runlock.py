"""The output-root lock: a second holder is refused with who holds it; a dead holder frees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oodforge._runlock import RootLockedError, hold_lock


def test_second_holder_refused_with_holder_line(tmp_path: Path) -> None:
    state = tmp_path / "out" / ".oodforge"
    with (
        hold_lock(state, "oodforge synth"),
        pytest.raises(RootLockedError, match=rf"in use by pid {os.getpid()} on .*oodforge synth"),
        hold_lock(state, "oodforge render"),
    ):
        pass
    with hold_lock(state, "oodforge render"):  # released at the end of the block
        pass
    assert (state / "lock").is_file()


def test_lock_of_a_killed_process_is_free(tmp_path: Path) -> None:
    state = tmp_path / ".oodforge"
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom oodforge._runlock import hold_lock\n"
        f"with hold_lock(Path({str(state)!r}), 'holder'):\n    print('held', flush=True)\n    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    with pytest.raises(RootLockedError, match="holder"), hold_lock(state, "second"):
        pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            with hold_lock(state, "second"):
                break
        except RootLockedError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
