"""Resume: a run killed with SIGKILL and started again ends byte-identical to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

from _helpers import tree_hashes
from oodforge.synth.runner import synthesize_dataset


def test_kill9_then_resume_is_byte_identical(write_config):
    ref = synthesize_dataset(write_config("ref"), workers=1)
    cfg = write_config("killed")
    out = ref.output_root.parent / "killed"
    records = out / ".oodforge" / "records"
    cmd = [sys.executable, "-m", "oodforge.cli.main", "synth", str(cfg), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if records.is_dir() and sum(1 for _ in records.rglob("*.json")) >= 2:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = sum(1 for _ in records.rglob("*.json"))
    assert 0 < done_before < ref.total
    resumed = synthesize_dataset(cfg, workers=2)
    assert resumed.skipped >= done_before - 1  # the record being written at the kill may be lost
    assert resumed.processed == ref.total - resumed.skipped
    assert tree_hashes(out) == tree_hashes(ref.output_root)
    assert not list(out.rglob(".*.tmp"))


def test_resume_repairs_missing_outputs_and_stale_temp_files(write_config):
    cfg = write_config("repair")
    first = synthesize_dataset(cfg)
    ref = tree_hashes(first.output_root)
    root = first.output_root
    victim = sorted((root / "test" / "gt_pixel").iterdir())[0]
    victim.unlink()  # an output lost after its record was written
    fd, _ = tempfile.mkstemp(dir=root / "test" / "images", prefix=".half.png.", suffix=".tmp")
    os.write(fd, b"partial")  # what a killed atomic write leaves behind
    os.close(fd)
    (root / "manifest.jsonl").write_text("garbage\n")
    again = synthesize_dataset(cfg)
    assert again.processed == 1
    assert tree_hashes(root) == ref
