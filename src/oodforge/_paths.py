"""Output paths the user named, checked before any work: a path that can never be written fails in one line.

A command that computes for minutes and then cannot write its result wastes the run; these checks run first.
They never create anything. The write itself stays atomic (:mod:`oodforge._io`) and re-checks nothing: a path
that turns bad meanwhile fails there, as an ``OSError`` naming it.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from oodforge.errors import UsageError

__all__ = ["check_output_file", "check_output_folder", "relative_inside"]


def relative_inside(rel: str) -> str | None:
    """``rel`` as a normalised POSIX path that stays inside the folder it is relative to, else None.

    The one rule for paths read from manifests, records and file lists: absolute paths and any ``..`` are
    refused (they could name a file outside the dataset, to read or to delete).
    """
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts:
        return None
    return pure.as_posix()


def _blocking_file(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` when it is not a folder (so ``path`` cannot be made)."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def check_output_file(path: Path, key: str) -> None:
    """Raise unless ``path`` can become a file: it is no folder and no regular file stands where a folder must.

    Args:
        path: The file to write (it may exist: it is then replaced).
        key: The flag or config key that named it, e.g. ``--out``.

    Raises:
        UsageError: ``{key} {path}: is a folder; ...`` or ``{key} {path}: {file} is a file, not a folder``.
    """
    if path.is_dir():
        raise UsageError(f"{key} {path}: is a folder; expected the path of a file to write")
    blocking = _blocking_file(path)
    if blocking is not None:
        raise UsageError(f"{key} {path}: {blocking} is a file, not a folder")


def check_output_folder(path: Path, key: str) -> None:
    """Raise unless ``path`` is a folder or can become one.

    Raises:
        UsageError: ``{key} {path}: is a file; ...`` or ``{key} {path}: {file} is a file, not a folder``.
    """
    if path.exists() and not path.is_dir():
        raise UsageError(f"{key} {path}: is a file; expected a folder (new or existing)")
    blocking = _blocking_file(path)
    if blocking is not None:
        raise UsageError(f"{key} {path}: {blocking} is a file, not a folder")
