"""Parallel rendering: any worker count, thread count or executor gives the bytes of a serial run; resume,
kill -9, Ctrl-C and a dead worker behave as in ``oodforge synth``. Frames are 32x32 (48x48 where a run
must last long enough to be stopped), Cycles CPU, 4 samples.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import signal
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
import yaml

from _helpers import tree_hashes
from oodforge.errors import UsageError
from oodforge.render import plan_frames, render_config_from_dict, render_dataset
from oodforge.render._parallel_render import (
    STOP_NAME,
    GroupResult,
    RenderJob,
    default_threads,
    group_todo,
    render_group_task,
)  # fmt: skip

pytestmark = pytest.mark.skipif(find_spec("bpy") is None, reason="needs Blender: pip install 'oodforge[render]'")

#: 2 cameras x 3 days = 6 (camera, day) groups of 5 frames: 1 normal, 2 depths x (default, red) anomalous
SMALL: dict[str, Any] = {
    "seed": 11,
    "anomalies": ["cube", "drill"],
    "modes": {"depth": {"offsets": [0, 1]}, "colour": {"palette": ["red"]}, "scale": {}},
    "cameras": {"count": 4, "start": 1, "end": 2},
    "days": {"start": 1, "end": 3},
    "placement": {"distance": 4.0},
    "render": {"samples": 4, "resolution": [32, 32], "device": "CPU", "png_compression": 1},
}
#: long enough to stop midway: 2 cameras x 8 days x 5 frames = 80 frames at 48x48
LONG = {**SMALL, "days": {"start": 1, "end": 8}, "render": {**SMALL["render"], "resolution": [48, 48]}}


def _write(folder: Path, name: str, base: dict[str, Any]) -> Path:
    data = copy.deepcopy(base)
    data["output_root"] = str(folder / name)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _hashes(root: Path) -> dict[str, str]:
    """Every output file and the manifest (``tree_hashes`` includes both; the manifest is checked apart too)."""
    h = tree_hashes(root)
    assert "manifest.jsonl" in h and any("/images/" in k for k in h)
    return h


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Serial references (this process, Blender's automatic threads) of SMALL and LONG."""
    base = tmp_path_factory.mktemp("serial")
    out = {}
    for name, cfg in (("small", SMALL), ("long", LONG)):
        s = render_dataset(_write(base, name, cfg))
        assert s.workers == 1 and s.threads is None and not s.failed and s.processed == s.total
        out[name] = s.output_root
    return out


@pytest.mark.parametrize(
    ("workers", "threads"),
    [pytest.param(1, 1, id="1x1"), pytest.param(1, 3, id="1x3"), pytest.param(2, None, id="2xauto"),
     pytest.param(3, 2, id="3x2")],
)  # fmt: skip
def test_any_worker_and_thread_count_gives_the_serial_bytes(serial, tmp_path, workers, threads):
    s = render_dataset(_write(tmp_path, "par", SMALL), workers=workers, threads_per_worker=threads)
    assert s.processed == s.total == 30 and not s.failed and not s.interrupted
    assert s.workers == workers and s.worker_scenes == (0 if workers == 1 else workers)
    assert s.threads == (threads if threads is not None else default_threads(workers))  # the CPUs shared out
    assert _hashes(s.output_root) == _hashes(serial["small"])
    assert (s.output_root / "manifest.jsonl").read_bytes() == (serial["small"] / "manifest.jsonl").read_bytes()


def test_dask_executor_gives_the_serial_bytes_and_keeps_sessions(serial, tmp_path, caplog):
    distributed = pytest.importorskip("distributed")
    caplog.set_level(logging.INFO, logger="distributed.nanny")
    # 2 threads per Dask worker: two tasks may reach one Blender process at once and must take turns
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None) as cl:
        first = render_dataset(_write(tmp_path, "d1", SMALL), executor="dask", scheduler=cl.scheduler_address)
        again = render_dataset(_write(tmp_path, "d2", SMALL), executor="dask", scheduler=cl.scheduler_address)
    assert first.processed == again.processed == 30 and not first.failed and first.device == "CPU"
    assert first.workers == 0 and first.threads is None
    assert 1 <= first.worker_scenes <= 2 and again.worker_scenes == 0  # each worker built its scene once
    assert _hashes(first.output_root) == _hashes(again.output_root) == _hashes(serial["small"])
    # Blender ran in Dask's task threads: its exit handler would crash the workers (guard_exit_off_main_thread)
    assert "killed by signal" not in caplog.text


def test_resume_across_workers_with_partial_groups(serial, tmp_path):
    s = render_dataset(_write(tmp_path, "res", SMALL), workers=2)
    root = s.output_root
    recs = {r["image_id"] + "@" + r["camera"]: r for r in map(json.loads, (root / "manifest.jsonl").open())}
    by_group: dict[tuple[str, int], list[dict]] = {}
    for r in sorted(recs.values(), key=lambda r: (r["camera"], r["image_id"])):
        by_group.setdefault((r["camera"], r["day"]), []).append(r)
    groups = list(by_group.values())
    gone = groups[0]  # a whole group lost
    gone += [r for r in groups[1] if r["is_anomalous"]][1:]  # a group that resumes after its first anomalous frame
    for r in gone:
        (root / ".oodforge" / "records" / r["camera"] / f"{r['image_id']}.json").unlink()
    lost = groups[2][-1]  # an output lost after its record was written
    (root / lost["outputs"]["image"]).unlink()
    (root / "manifest.jsonl").write_text("garbage\n")
    again = render_dataset(_write(tmp_path, "res", SMALL), workers=2)
    assert again.processed == len(gone) + 1 and again.skipped == 30 - len(gone) - 1 and not again.failed
    assert _hashes(root) == _hashes(serial["small"])


def test_ctrl_c_in_process_keeps_the_frames_of_an_unfinished_group(serial, tmp_path, monkeypatch):
    import oodforge.render.runner as runner_mod

    real = runner_mod.render_group
    calls = 0

    def interrupted(session, lay, frames, config_sha, **kw):
        nonlocal calls
        calls += 1
        if calls == 2:  # the second group: two of its frames, then Ctrl-C
            real(session, lay, frames[:2], config_sha, **kw)
            raise KeyboardInterrupt
        return real(session, lay, frames, config_sha, **kw)

    monkeypatch.setattr(runner_mod, "render_group", interrupted)
    cfg = _write(tmp_path, "intr_here", SMALL)
    s = render_dataset(cfg)
    assert s.interrupted and s.processed == 5 + 2 and not s.failed
    assert len((s.output_root / "manifest.jsonl").read_text().splitlines()) == 7
    monkeypatch.setattr(runner_mod, "render_group", real)
    rest = render_dataset(cfg, workers=2)
    assert rest.skipped == 7 and rest.processed == 23 and not rest.interrupted
    assert _hashes(s.output_root) == _hashes(serial["small"])


def test_bad_options_write_nothing(tmp_path):
    cfg = _write(tmp_path, "bad", SMALL)
    with pytest.raises(UsageError, match="--workers"):
        render_dataset(cfg, workers=0)
    with pytest.raises(UsageError, match="--threads-per-worker"):
        render_dataset(cfg, workers=2, threads_per_worker=0)
    with pytest.raises(UsageError, match="--scheduler"):
        render_dataset(cfg, executor="dask")
    with pytest.raises(UsageError, match="--executor"):
        render_dataset(cfg, executor="ray")
    assert not (tmp_path / "bad").exists()


def test_groups_keep_their_frames_together():
    cfg = render_config_from_dict({**SMALL, "output_root": "unused"})
    frames = plan_frames(cfg)
    groups = group_todo(frames)
    assert len(groups) == 6 and all(len(g) == 5 for g in groups)
    assert all(len({f.group for f in g}) == 1 for g in groups)
    assert [f for g in groups for f in g] == frames


def test_a_raised_stop_flag_renders_nothing(tmp_path):
    cfg = render_config_from_dict({**SMALL, "output_root": str(tmp_path / "o")})
    stop = tmp_path / STOP_NAME
    stop.touch()
    job = RenderJob(cfg, "sha", "key", str(tmp_path / "o"), 1, str(stop))
    res = render_group_task(job, group_todo(plan_frames(cfg))[0])
    assert res == GroupResult(stopped=True)
    assert not (tmp_path / "o").exists()


# ---- the CLI stopped midway: kill -9, Ctrl-C, a dead worker ------------------------------------------
def _start(cfg: Path, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "oodforge.cli.main", "render", str(cfg), "--quiet", *args]
    tmp = cfg.parent / "tmp"  # a killed run cannot remove its scratch folder: keep it inside the test's folder
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, env=env
    )


def _wait_for_records(proc: subprocess.Popen, records: Path, n: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if records.is_dir() and sum(1 for _ in records.rglob("*.json")) >= n:
            return
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before it could be stopped"


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out.extend(int(t) for t in (task / "children").read_text().split())
    return out


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def _all_gone(pids: list[int], wait_s: float = 20.0) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.05)
    alive = [p for p in pids if not _gone(p)]
    for p in alive:
        os.kill(p, signal.SIGKILL)
    return not alive


linux_only = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc for child processes")


def _workers_of(proc: subprocess.Popen, n: int) -> list[int]:
    """The pool's worker pids (spawned ``spawn_main`` children; not the resource tracker)."""
    kids = [k for k in _children(proc.pid) if "spawn_main" in Path(f"/proc/{k}/cmdline").read_text()]
    assert len(kids) == n
    return kids


@linux_only
def test_kill9_of_a_parallel_run_ends_its_workers_and_resumes_byte_identical(serial, tmp_path):
    cfg = _write(tmp_path, "killed", LONG)
    records = tmp_path / "killed" / ".oodforge" / "records"
    proc = _start(cfg, "--workers", "2")
    _wait_for_records(proc, records, 3)
    workers = _workers_of(proc, 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert _all_gone(workers)
    done_before = sum(1 for _ in records.rglob("*.json"))
    assert 0 < done_before < 80
    resumed = render_dataset(cfg, workers=3)
    assert resumed.skipped >= done_before - 2  # a record being written at the kill may be lost
    assert resumed.processed == 80 - resumed.skipped and not resumed.failed
    assert _hashes(tmp_path / "killed") == _hashes(serial["long"])
    assert not list((tmp_path / "killed").rglob(".*.tmp"))


@linux_only
def test_ctrl_c_stops_the_workers_keeps_finished_frames_and_exits_130(serial, tmp_path):
    cfg = _write(tmp_path, "intr", LONG)
    root = tmp_path / "intr"
    proc = _start(cfg, "--workers", "2")
    _wait_for_records(proc, root / ".oodforge" / "records", 2)
    workers = _workers_of(proc, 2)
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does: the whole process group
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 15  # running groups stop after their current frame
    assert proc.returncode == 130, err
    assert _all_gone(workers, 5.0)
    assert not (root / ".oodforge" / STOP_NAME).exists()
    n_records = sum(1 for _ in (root / ".oodforge" / "records").rglob("*.json"))
    assert f"interrupted: {n_records} of 80 frame(s) are finished and kept; run the same command again to resume" in (
        " ".join(out.split())
    )
    assert len((root / "manifest.jsonl").read_text().splitlines()) == n_records < 80
    rest = render_dataset(cfg, workers=2)
    assert rest.skipped == n_records and rest.processed == 80 - n_records and not rest.interrupted
    assert _hashes(root) == _hashes(serial["long"])


@linux_only
def test_a_dead_worker_is_one_line_and_the_run_resumes(serial, tmp_path):
    cfg = _write(tmp_path, "dead", LONG)
    root = tmp_path / "dead"
    proc = _start(cfg, "--workers", "2")
    _wait_for_records(proc, root / ".oodforge" / "records", 2)
    victim = _workers_of(proc, 2)[0]
    os.kill(victim, signal.SIGKILL)  # e.g. the OOM killer
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "a worker process died" in err and "Traceback" not in err
    assert (root / "manifest.jsonl").is_file()
    rest = render_dataset(cfg, workers=2)
    assert rest.processed + rest.skipped == 80 and not rest.failed
    assert _hashes(root) == _hashes(serial["long"])
