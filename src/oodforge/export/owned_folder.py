"""An output folder that knows which files oodforge wrote in it: never delete a user's file.

Used by the commands that write a folder of files that is not a dataset (``export anomalib``,
``preprocess``, ``demo`` and its world); datasets (``synth``, ``render``) use
:mod:`oodforge.export.output_root`, whose records already list every file.

The folder carries a ledger, ``.oodforge/files.json``: the paths (relative, POSIX) of the files oodforge
wrote there. The rules:

- a folder that is neither empty nor carries a ledger is refused, with or without ``--overwrite``
  (a ``.oodforge/`` holding only the run lock counts as empty: a run killed before its first write);
- the folder is locked for the run (:func:`oodforge._runlock.hold_lock` on ``.oodforge/lock``);
- a path is added to the ledger (written atomically) *before* the file is written (:meth:`OwnedFolder.claim`),
  so a run killed at any point still lists every file it may have left; a path that exists but is not
  listed is a user's file and is never written over;
- replacing a previous output (``claim(paths, replace=True)``, once every new path is checked) deletes
  only listed files (a path with ``..``, an absolute path, a symlink or a path leading out of the folder
  through a symlinked parent is never touched), then the folders that became empty; everything else
  stays and is counted;
- temp files a killed run left are removed only beside a listed file and only when named like
  :func:`oodforge._io.atomic_writer`'s (``.<listed name>.<8 chars>.tmp``);
- when the run ends without error, listed files this run did not claim are deleted (a refresh drops
  stale files) and the ledger is rewritten with the files that exist.

A file a user put at a listed path after oodforge wrote it cannot be told apart from oodforge's own.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from oodforge._io import atomic_write_json
from oodforge._paths import relative_inside
from oodforge._runlock import LOCK_NAME, hold_lock
from oodforge.errors import UsageError

__all__ = ["LEDGER", "STATE_DIR", "OwnedFolder", "check_owned_folder", "open_owned_folder"]

STATE_DIR = ".oodforge"
LEDGER = f"{STATE_DIR}/files.json"
_FORMAT = "oodforge-files/1"
#: ``.<name>.<8 random chars from mkstemp>.tmp``
_TMP_NAME = re.compile(r"^\.(.+)\.[a-z0-9_]{8}\.tmp$")


def _clean_rel(rel: str) -> str | None:
    """``rel`` as a normalised relative POSIX path inside the folder (not the state folder), or None."""
    safe = relative_inside(rel) if rel and "\\" not in rel else None
    if safe is None or safe == "." or safe.split("/", 1)[0] == STATE_DIR:
        return None
    return safe


def _state_only(folder: Path) -> bool:
    """True when ``folder`` holds nothing but a ``.oodforge/`` with the lock (and temp files) in it."""
    for entry in folder.iterdir():
        if entry.name != STATE_DIR or not entry.is_dir() or entry.is_symlink():
            return False
        if any(p.name != LOCK_NAME and not _TMP_NAME.match(p.name) for p in entry.iterdir()):
            return False
    return True


def _read_ledger(folder: Path, key: str) -> list[str] | None:
    """The listed paths, or None when there is no ledger."""
    path = folder / LEDGER
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        files = doc["files"]
        if doc.get("format") != _FORMAT or not isinstance(files, list):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(
            f"{key} {folder}: unreadable file list {path}; oodforge cannot tell its files from others: "
            "empty the folder yourself or choose another"
        ) from None
    return [r for r in (_clean_rel(f) for f in files if isinstance(f, str)) if r is not None]


def check_owned_folder(folder: Path, *, overwrite: bool, key: str, what: str) -> list[str]:
    """Check ``folder`` without writing anything; return the paths its ledger lists (empty if none).

    Args:
        folder: the output folder (may not exist yet).
        overwrite: a previous output may be replaced; else listed files that still exist are refused.
        key: how messages name the folder (``export folder``).
        what: how messages name a previous output (``export``).

    Raises:
        UsageError: ``folder`` is a file, a non-empty folder without a ledger, a previous output while
            ``overwrite`` is False, or carries an unreadable ledger.
    """
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{key} {folder}: exists and is not a folder; expected a new or empty folder")
    if not folder.is_dir():
        return []
    listed = _read_ledger(folder, key)
    if listed is None:
        if _state_only(folder):
            return []
        first = sorted(p.name for p in folder.iterdir())[0]
        raise UsageError(
            f"{key} {folder}: not empty (found '{first}') and has no list of oodforge's files ({LEDGER}); oodforge "
            "writes only into an empty folder or one it made (an older oodforge made none): choose another folder"
        )
    n = sum(1 for rel in listed if (folder / rel).is_file())
    if n and not overwrite:
        raise UsageError(
            f"{key} {folder}: not empty, holds a previous {what} ({n} files); pass --overwrite to replace it "
            "(only files oodforge wrote are deleted) or choose another folder"
        )
    return listed


class OwnedFolder:
    """An opened (checked, locked) output folder; see the module docstring."""

    def __init__(self, root: Path, listed: Iterable[str], *, key: str, command: str) -> None:
        self.root = root
        self.key = key
        self.command = command
        self.kept = 0  # files oodforge did not write, counted by claim(..., replace=True)
        self._real = root.resolve()
        self._listed: set[str] = set(listed)
        self._claimed: set[str] = set()

    def _own_file(self, rel: str) -> Path | None:
        """``root/rel`` when it is a regular file (not a symlink) really inside the folder, else None."""
        path = self.root / rel
        try:
            if not stat.S_ISREG(path.lstat().st_mode):
                return None
            parent = path.parent.resolve()
        except OSError:
            return None
        return path if parent == self._real or self._real in parent.parents else None

    def _save(self) -> None:
        doc = {"format": _FORMAT, "command": self.command, "files": sorted(self._listed)}
        atomic_write_json(self.root / LEDGER, doc, indent=0)

    def _delete(self, rels: Iterable[str]) -> int:
        """Delete these listed files, then the folders that became empty; return how many files (unsaved)."""
        n = 0
        parents: set[Path] = set()
        for rel in sorted(rels):
            path = self._own_file(rel)
            if path is not None:
                path.unlink(missing_ok=True)
                n += 1
                parents.add(path.parent)
            self._listed.discard(rel)
        for folder in sorted(parents, key=lambda p: len(p.parts), reverse=True):
            p = folder
            while p != self.root and self.root in p.parents:
                try:
                    p.rmdir()
                except OSError:
                    break
                p = p.parent
        return n

    def remove_temp_leftovers(self) -> int:
        """Delete ``atomic_writer`` temp files beside listed files (and the ledger); return how many."""
        names: dict[Path, set[str]] = {self.root / STATE_DIR: {Path(LEDGER).name}}
        for rel in self._listed:
            path = self.root / rel
            names.setdefault(path.parent, set()).add(path.name)
        n = 0
        for folder, own in names.items():
            try:
                real = folder.resolve()
                entries = list(os.scandir(folder)) if real == self._real or self._real in real.parents else []
            except OSError:
                continue
            for entry in entries:
                m = _TMP_NAME.match(entry.name)
                if m and m.group(1) in own and entry.is_file(follow_symlinks=False):
                    Path(entry.path).unlink(missing_ok=True)
                    n += 1
        return n

    def foreign(self, sub: str = "") -> list[str]:
        """Regular files under ``root/sub`` that the ledger does not list (``.oodforge/`` left out)."""
        base = self.root / sub if sub else self.root
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            here = Path(dirpath)
            if here == self.root:
                dirnames[:] = [d for d in dirnames if d != STATE_DIR]
            for name in filenames:
                rel = (here / name).relative_to(self.root).as_posix()
                if rel not in self._listed and (here / name).is_file():
                    found.append(rel)
        return sorted(found)

    def claim(self, rels: Iterable[str], *, replace: bool = False) -> int:
        """List these paths in the ledger before writing them (the ledger is saved when it changes).

        Args:
            rels: paths relative to the folder that this run is about to write.
            replace: first delete every file the previous output listed (then the folders that became
                empty), after checking all of ``rels``: a refused run deletes nothing. Files oodforge did not
                write stay; their number is in :attr:`kept` afterwards.

        Returns:
            The number of files deleted (``replace``).

        Raises:
            UsageError: a path leaves the folder, or exists and is not listed (a file oodforge did not write).
        """
        clean: list[str] = []
        for rel in rels:
            c = _clean_rel(rel)
            if c is None:
                raise UsageError(f"{self.key} {self.root}: {rel!r} is not a path inside the folder")
            if c not in self._listed and os.path.lexists(self.root / c):
                raise UsageError(
                    f"{self.key} {self.root}: {c} exists and oodforge did not write it; move it away or "
                    "choose another folder"
                )
            clean.append(c)
        deleted = self._delete(self._listed - self._claimed) if replace else 0
        if replace:
            self.kept = len(self.foreign())
        new = set(clean) - self._listed
        self._claimed.update(clean)
        self._listed.update(new)
        if new or replace:
            self._save()
        return deleted

    def path(self, rel: str) -> Path:
        """``root/rel`` for a claimed path."""
        return self.root / rel

    def finish(self) -> int:
        """Delete listed files this run did not claim, list only files that exist; return how many deleted."""
        n = self._delete(self._listed - self._claimed)
        self._listed = {rel for rel in self._listed if self._own_file(rel) is not None}
        self._save()
        return n


@contextmanager
def open_owned_folder(
    folder: Path, *, command: str, overwrite: bool, key: str = "output folder", what: str = "output"
) -> Iterator[OwnedFolder]:
    """Check, create and lock ``folder`` for a run of ``command``; yield it; :meth:`~OwnedFolder.finish` on success.

    Args:
        folder: the output folder.
        command: the command name for the lock holder line and the ledger (``oodforge preprocess``).
        overwrite: a previous output may be replaced (see :func:`check_owned_folder`).
        key: how messages name the folder.
        what: how messages name a previous output.

    Raises:
        UsageError: see :func:`check_owned_folder`; also when another run holds the folder's lock.
    """
    check_owned_folder(folder, overwrite=overwrite, key=key, what=what)
    folder.mkdir(parents=True, exist_ok=True)
    with hold_lock(folder / STATE_DIR, command):
        listed = check_owned_folder(folder, overwrite=overwrite, key=key, what=what)  # again, now that we hold it
        owned = OwnedFolder(folder, listed, key=key, command=command)
        owned.remove_temp_leftovers()
        owned._save()  # from now on the folder is recognisably oodforge's
        yield owned
        owned.finish()
