"""The output root of a run (``synth``, ``render``): check it, lock it, replace only oodforge's own files.

One mechanism for every command that writes a dataset:

- a folder that is neither empty nor an oodforge dataset is refused, ``--overwrite`` or not: oodforge
  never writes into, or deletes from, a folder it did not make;
- the root is locked for the whole run (:mod:`oodforge._runlock`); a second run is refused;
- ``--overwrite`` of a dataset made from another config deletes exactly the files its records and
  manifest list, the records, ``config.yaml`` and ``manifest.jsonl``, then the folders that became
  empty; anything else stays (and is counted);
- temporary files a killed run left behind are removed only where oodforge writes and only when
  their name is one :func:`oodforge._io.atomic_write_bytes` makes.

Whether a config is "the same" is decided by :func:`oodforge.config.identity.config_sha256`, so moving
the data or the cache folder keeps a dataset resumable; ``config.yaml`` is then rewritten with the
new paths.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oodforge._io import atomic_write_bytes
from oodforge._paths import relative_inside
from oodforge._runlock import LOCK_NAME, hold_lock
from oodforge.config.identity import config_sha256
from oodforge.errors import ConfigError, UsageError
from oodforge.export.layout import DatasetLayout
from oodforge.export.records import listed_outputs, read_record

__all__ = ["OutputRoot", "check_output_root", "open_output_root", "remove_stale_temp_files"]

#: ``.<name>.<8 random chars from mkstemp>.tmp``
_TMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


@dataclass(frozen=True)
class OutputRoot:
    """An opened (checked, locked) output root."""

    layout: DatasetLayout
    config_sha256: str
    same_config: bool  # it already held a dataset of this config (resume)
    cleared_files: int  # files deleted by --overwrite
    kept_files: int  # files found in the old dataset's folders that no record lists (left alone)


def _inside(root: Path, rel: str) -> Path | None:
    safe = relative_inside(rel)
    if safe is None or safe == ".":
        return None
    return root / safe


def _read_json_lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        fh = path.open(encoding="utf-8")
    except OSError:
        return
    with fh:
        for line in fh:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                yield obj


def _own_records(lay: DatasetLayout) -> Iterator[tuple[Path, dict[str, Any] | None]]:
    folder = lay.state_dir / "records"
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*/*.json")):
        yield path, read_record(path)


def _clear_own_files(lay: DatasetLayout) -> tuple[int, set[Path]]:
    """Delete what the old dataset's records and manifest list; return (files deleted, folders touched)."""
    deleted = 0
    folders: set[Path] = set()
    listed: list[dict[str, Any]] = list(_read_json_lines(lay.manifest_path))
    for path, rec in _own_records(lay):
        if rec is not None:
            listed.append(rec)
        path.unlink(missing_ok=True)
        folders.add(path.parent)
    for rec in listed:
        for rel, _sha in listed_outputs(rec):
            target = _inside(lay.root, rel)
            if target is not None and target.is_file():
                target.unlink()
                deleted += 1
                folders.add(target.parent)
    for p in (lay.config_path, lay.manifest_path):
        if p.is_file():
            p.unlink()
            deleted += 1
    return deleted, folders


def _remove_empty(folders: Iterable[Path], root: Path) -> None:
    """Remove each folder and its parents up to (not including) ``root`` while they are empty."""
    for folder in sorted(set(folders), key=lambda p: len(p.parts), reverse=True):
        p = folder
        while p != root and root in p.parents:
            try:
                p.rmdir()
            except OSError:
                break
            p = p.parent


def remove_stale_temp_files(lay: DatasetLayout, splits: Iterable[str], managed: Iterable[str]) -> int:
    """Delete ``atomic_write_bytes`` leftovers in the folders oodforge writes; return how many.

    Call only while holding the root's lock (no live run of this root can own them then).
    """
    folders = [lay.root] + [lay.root / s / m for s in splits for m in managed]
    n = 0
    for folder in folders:
        if folder.is_dir():
            for p in folder.iterdir():
                if _TMP_NAME.match(p.name) and p.is_file():
                    p.unlink(missing_ok=True)
                    n += 1
    if lay.state_dir.is_dir():
        for p in lay.state_dir.rglob(".*.tmp"):
            if _TMP_NAME.match(p.name) and p.is_file():
                p.unlink(missing_ok=True)
                n += 1
    return n


def _count_unlisted(lay: DatasetLayout, folders: Iterable[Path]) -> int:
    return sum(1 for f in set(folders) if f.is_dir() for p in f.iterdir() if p.is_file())


def _stored_sha(lay: DatasetLayout) -> str | None:
    if not lay.config_path.is_file():
        return None
    try:
        return config_sha256(lay.config_path.read_bytes(), str(lay.config_path))
    except ConfigError:
        return None


def _is_oodforge_root(lay: DatasetLayout) -> bool:
    """A dataset root (its config or records), or a root a run locked and left before writing anything."""
    if lay.config_path.is_file() or (lay.state_dir / "records").is_dir():
        return True
    entries = {p.name for p in lay.root.iterdir()}
    return entries == {lay.state_dir.name} and {p.name for p in lay.state_dir.iterdir()} <= {LOCK_NAME}


def check_output_root(root: Path, resolved: bytes, *, overwrite: bool, key: str = "output_root") -> bool:
    """Check ``root`` without writing anything; return True when it holds a dataset of this config.

    Raises:
        UsageError: ``root`` is a file, a non-empty folder oodforge did not make, or a dataset of another
            config while ``overwrite`` is False.
    """
    lay = DatasetLayout(root)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{key} {root}: exists and is not a folder")
    if not root.is_dir():
        return False
    if any(root.iterdir()) and not _is_oodforge_root(lay):
        first = sorted(p.name for p in root.iterdir())[0]
        raise UsageError(
            f"{key} {root}: folder is not empty (found '{first}') and holds no oodforge dataset; oodforge writes "
            "only into an empty folder or one of its own datasets: choose another folder"
        )
    stored = _stored_sha(lay)
    if stored == config_sha256(resolved):
        return True
    if not overwrite and (stored is not None or any(True for _ in _own_records(lay))):
        what = "another config" if stored is not None else "an unknown config (config.yaml missing)"
        raise UsageError(
            f"{root}: holds a dataset made from {what} ({lay.config_path}); use --overwrite to replace "
            f"it (only files oodforge wrote are deleted) or choose another {key}"
        )
    return False


@contextmanager
def open_output_root(
    root: Path,
    resolved: bytes,
    *,
    splits: Iterable[str],
    managed: Iterable[str],
    overwrite: bool,
    command: str,
    key: str = "output_root",
) -> Iterator[OutputRoot]:
    """Check, create and lock ``root`` for a run of ``command``; yields the opened root.

    Args:
        root: the output folder.
        resolved: the resolved config bytes (written to ``config.yaml``).
        splits: the split (or camera) folders of this config.
        managed: the sub-folders oodforge writes in each split (``images``, ``gt_pixel``, ...).
        overwrite: replace a dataset made from another config (only its own files are deleted).
        command: the command name for the lock holder line (``oodforge synth``).
        key: the config key naming the root, for messages.

    Raises:
        UsageError: see :func:`check_output_root`; also when another run holds the root's lock.
    """
    lay = DatasetLayout(root)
    managed = tuple(managed)
    splits = tuple(splits)
    sha = config_sha256(resolved)
    check_output_root(root, resolved, overwrite=overwrite, key=key)
    with hold_lock(lay.state_dir, command):
        same = check_output_root(root, resolved, overwrite=overwrite, key=key)  # again, now that we hold it
        has_data = lay.config_path.is_file() or any(True for _ in _own_records(lay))
        cleared = kept = 0
        if has_data and not same:
            cleared, folders = _clear_own_files(lay)
            folders |= {root / s / m for s in splits for m in managed}
            kept = _count_unlisted(lay, folders)
            _remove_empty(folders, root)
        remove_stale_temp_files(lay, splits, managed)
        if not lay.config_path.is_file() or lay.config_path.read_bytes() != resolved:
            atomic_write_bytes(lay.config_path, resolved)
        yield OutputRoot(lay, sha, same, cleared, kept)
