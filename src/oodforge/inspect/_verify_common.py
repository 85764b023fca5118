"""Checks shared by the verification of synthesized and rendered datasets (see :mod:`oodforge.inspect.verify`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from oodforge._io import sha256_bytes, sha256_file
from oodforge.errors import SampleError
from oodforge.export.layout import DatasetLayout
from oodforge.inspect._dataset import decode_unchanged

__all__ = ["Ctx", "Progress", "VerifyReport", "check_order", "check_orphans", "config_sha", "decode_map", "read_one"]

Progress = Callable[[int, int], None]


@dataclass
class VerifyReport:
    """Outcome of :func:`oodforge.inspect.verify.verify_dataset`.

    Attributes:
        n_records: manifest records read.
        n_files_checked: output files found and re-hashed.
        problems: one line per problem, ``<split>/<image_id>: <what>``; empty when the dataset is valid.
    """

    n_records: int = 0
    n_files_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


@dataclass
class Ctx:
    """State shared by the per-record checks."""

    layout: DatasetLayout
    config_sha: str | None
    report: VerifyReport
    total: int
    progress: Progress | None
    done: int = 0
    referenced: set[str] = field(default_factory=set)

    def start(self) -> None:
        """Report ``progress(0, total)``."""
        if self.progress is not None:
            self.progress(0, self.total)

    def tick(self) -> None:
        """One more output file handled."""
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def config_sha(layout: DatasetLayout, report: VerifyReport) -> str | None:
    """sha256 of ``config.yaml``; None (and a problem) when it is missing."""
    if layout.config_path.is_file():
        return sha256_file(layout.config_path)
    report.problems.append("config.yaml: missing (the resolved config must lie next to the manifest)")
    return None


def check_order(keys: Iterable[tuple[str, str]]) -> list[str]:
    """(split, image_id) keys sorted in plain string order, each once."""
    problems = []
    seen: set[tuple[str, str]] = set()
    prev: tuple[str, str] | None = None
    for key in keys:
        split, image_id = key
        if key in seen:
            problems.append(f"{split}/{image_id}: duplicate manifest record")
        elif prev is not None and key < prev:
            problems.append(f"{split}/{image_id}: manifest out of order (after {prev[0]}/{prev[1]})")
        seen.add(key)
        prev = key
    return problems


def read_one(ctx: Ctx, prefix: str, key: str, rel: str, expected: str | None, problems: list[str]) -> bytes | None:
    """Read one output file (expected under ``prefix``) and compare its sha256; None when it cannot be trusted."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts:
        problems.append(f"outputs[{key!r}] {rel!r} is not a path inside the dataset root")
        return None
    ctx.referenced.add(pure.as_posix())
    if not rel.startswith(prefix):
        problems.append(f"outputs[{key!r}] {rel!r} is not under {prefix}")
    path = ctx.layout.abs(rel)
    if not path.is_file():
        problems.append(f"missing file {rel}")
        return None
    blob = path.read_bytes()
    ctx.report.n_files_checked += 1
    actual = sha256_bytes(blob)
    if expected is not None and actual != expected:
        problems.append(f"sha256 mismatch for {rel}: manifest {expected[:12]}…, file {actual[:12]}…")
        return None
    return blob


def check_orphans(layout: DatasetLayout, splits: set[str], referenced: set[str], subdirs: Iterable[str]) -> list[str]:
    """Files under ``<split>/<subdir>`` (for every split folder) that no record references."""
    root = layout.root
    split_dirs = set(splits)
    split_dirs.update(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    subs = list(subdirs)
    problems = []
    for split in sorted(split_dirs):
        for sub in subs:
            folder = root / split / sub
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                rel = path.relative_to(root).as_posix()
                if path.is_file() and rel not in referenced:
                    problems.append(f"{rel}: orphan file (no manifest record references it)")
    return problems


def decode_map(file: tuple[str, bytes], dtype: type, problems: list[str]) -> np.ndarray | None:
    """Decode a single-channel label PNG of ``dtype``; None (and a problem line) when it is not one."""
    rel, blob = file
    try:
        arr = decode_unchanged(blob, rel)
    except SampleError as exc:
        problems.append(str(exc))
        return None
    if arr.ndim != 2 or arr.dtype != dtype:
        name = np.dtype(dtype).name
        problems.append(f"{rel}: expected a single-channel {name} PNG, got shape {arr.shape} and dtype {arr.dtype}")
        return None
    return arr
