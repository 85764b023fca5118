"""Faults around a synth run: overwrite keeps what oodforge did not write, locks, moved data, repair, Ctrl-C."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from _helpers import tree_hashes
from oodforge._runlock import hold_lock
from oodforge.errors import UsageError
from oodforge.synth import runner as runner_mod
from oodforge.synth.runner import synthesize_dataset


def _limit_cfg(write_config, out: str, **overrides: object) -> Path:
    return write_config(out, {"splits.test.part": [0.0, 1.0], **overrides})


def test_overwrite_deletes_only_files_oodforge_wrote(write_config):
    cfg = write_config("ow")
    first = synthesize_dataset(cfg, limit=2)
    root = first.output_root
    user_files = {
        root / "photos" / "images" / "a.jpg": b"holiday",  # looks like a split folder; is not oodforge's
        root / "test" / "images" / "mine.png": b"user file in an oodforge folder",
        root / "photos" / ".draft.tmp": b"user temp file",
        root / "notes.txt": b"notes",
    }
    for path, data in user_files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    written = [root / r for rec in _records(root) for r in _outputs(rec)]
    assert written
    other = write_config("ow", {"dataset.seed": 99})
    with pytest.raises(UsageError, match="another config"):
        synthesize_dataset(other, limit=1)
    summary = synthesize_dataset(other, limit=1, split="test", overwrite=True)
    assert summary.cleared_files >= len(written)
    assert summary.kept_files >= 1  # test/images/mine.png
    for path, data in user_files.items():
        assert path.read_bytes() == data, f"{path} was touched"
    for path in written:  # old outputs are gone unless the new run wrote the same name again
        new = {root / r for rec in _records(root) for r in _outputs(rec)}
        assert not path.exists() or path in new


def test_non_empty_foreign_folder_refused_even_with_overwrite(write_config, tmp_path):
    cfg = write_config("foreign")
    root = tmp_path / "foreign"
    (root / "val" / "images").mkdir(parents=True)
    (root / "val" / "images" / "a.png").write_bytes(b"user")
    with pytest.raises(UsageError, match="holds no oodforge dataset"):
        synthesize_dataset(cfg, limit=1, overwrite=True)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["val", "val/images", "val/images/a.png"]


def test_second_run_on_a_locked_root_is_refused(write_config, tmp_path):
    cfg = write_config("locked")
    root = tmp_path / "locked"
    with hold_lock(root / ".oodforge", "oodforge synth"), pytest.raises(UsageError, match="in use by pid"):
        synthesize_dataset(cfg, limit=1)
    assert not (root / "manifest.jsonl").exists()
    assert synthesize_dataset(cfg, limit=1).processed > 0  # the lock died with its holder


def test_moved_sources_and_cache_resume_with_the_same_hash(write_config, demo_world, tmp_path):
    cfg = write_config("moved")
    first = synthesize_dataset(cfg, limit=2)
    ref = tree_hashes(first.output_root, skip=("config.yaml",))
    moved = tmp_path / "elsewhere"
    shutil.copytree(demo_world / "world", moved)
    data = yaml.safe_load(cfg.read_text())
    data["sources"]["cityscapes"]["root"] = str(moved / "cityscapes")
    data["sources"]["coco"]["root"] = str(moved / "coco")
    data["sources"]["coco"]["cache_dir"] = str(tmp_path / "other_cache")
    cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    again = synthesize_dataset(cfg, limit=2)
    assert again.processed == 0 and again.skipped == again.total
    assert tree_hashes(first.output_root, skip=("config.yaml",)) == ref
    assert str(moved / "cityscapes") in (first.output_root / "config.yaml").read_text()  # paths kept for information


def test_repair_redoes_a_flipped_byte_and_resume_treats_bad_records_as_not_done(write_config):
    cfg = _limit_cfg(write_config, "rep")
    first = synthesize_dataset(cfg, limit=2)
    root = first.output_root
    ref = tree_hashes(root)
    victim = sorted((root / "test" / "gt_pixel").iterdir())[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert synthesize_dataset(cfg, limit=2).processed == 0  # plain resume checks presence only
    fixed = synthesize_dataset(cfg, limit=2, repair=True)
    assert fixed.repaired == 1 and fixed.processed == 1
    assert tree_hashes(root) == ref
    record = sorted((root / ".oodforge" / "records" / "test").iterdir())[0]
    record.write_text('{"split": "test", "truncated')
    healed = synthesize_dataset(cfg, limit=2)
    assert healed.processed == 1
    assert tree_hashes(root) == ref


def test_ctrl_c_keeps_finished_images_and_the_manifest(write_config, monkeypatch):
    cfg = _limit_cfg(write_config, "intr")
    real = runner_mod.run_tasks

    def interrupted(ctx, todo, **kw):
        real(ctx, todo[:1], **kw)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner_mod, "run_tasks", interrupted)
    summary = synthesize_dataset(cfg, limit=3)
    assert summary.interrupted and summary.processed == 1
    lines = (summary.output_root / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 1
    monkeypatch.setattr(runner_mod, "run_tasks", real)
    rest = synthesize_dataset(cfg, limit=3)
    assert rest.skipped == 1 and not rest.interrupted


def test_empty_split_is_warned(write_config):
    cfg = write_config("empty", {"splits.test.part": [0.0, 0.000001]})
    summary = synthesize_dataset(cfg, limit=1)
    assert any("splits.test" in w and "empty" in w for w in summary.warnings)


def _records(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


def _outputs(rec: dict) -> list[str]:
    out: list[str] = []
    for rel in rec["outputs"].values():
        out.extend([rel] if isinstance(rel, str) else rel)
    return out


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.extend(int(t) for t in text)
    return out


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to list child processes")
def test_kill9_of_synth_ends_its_workers(write_config):
    import os
    import signal
    import subprocess
    import sys
    import time

    cfg = write_config("orphans")
    cmd = [sys.executable, "-m", "oodforge.cli.main", "synth", str(cfg), "--quiet", "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = cfg.parent / "orphans" / ".oodforge" / "records"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if records.is_dir() and any(records.rglob("*.json")):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed"
    workers = _children(proc.pid)
    assert len(workers) >= 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(_gone(w) for w in workers):
        time.sleep(0.05)
    alive = [w for w in workers if not _gone(w)]
    for w in alive:
        os.kill(w, signal.SIGKILL)
    assert alive == []
