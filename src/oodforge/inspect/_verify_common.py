"""Checks shared by the verification of synthesized and rendered datasets (see :mod:`oodforge.inspect.verify`).

The per-record checks run in worker processes: they get a :class:`VerifyJob` (picklable, sent once per
worker) and one manifest line, and fill a :class:`Checked` that travels back to the main process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oodforge._io import sha256_bytes
from oodforge._paths import relative_inside
from oodforge.config.identity import config_sha256
from oodforge.errors import ConfigError, SampleError
from oodforge.export.layout import DatasetLayout
from oodforge.inspect._dataset import decode_unchanged
from oodforge.inspect._digests import DigestSet, digest64

__all__ = [
    "Checked",
    "OrderCheck",
    "Progress",
    "VerifyJob",
    "VerifyReport",
    "check_config_sha",
    "check_orphans",
    "config_shas",
    "decode_map",
    "read_one",
]

Progress = Callable[[int, int], None]


@dataclass
class VerifyReport:
    """Outcome of :func:`oodforge.inspect.verify.verify_dataset`.

    Attributes:
        n_records: manifest records (non-empty lines) read, malformed ones included.
        n_files_checked: output files found and re-hashed.
        problems: one line per problem, ``<split>/<image_id>: <what>``; empty when the dataset is valid.
        damaged: (split, image_id) of the records with an output file that is missing, unreadable or
            whose bytes no longer match the manifest's sha256, in manifest order.
    """

    n_records: int = 0
    n_files_checked: int = 0
    problems: list[str] = field(default_factory=list)
    damaged: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


@dataclass(frozen=True)
class VerifyJob:
    """What every per-record check needs to know about the dataset (sent once to each worker).

    Attributes:
        root: the dataset root.
        kind: ``synth`` or ``render``: the kind of the manifest's first record.
        first_line: the line number of that record.
        config_shas: the accepted ``config_sha256`` values (see :func:`config_shas`; empty: not checked).
        hashes_only: only re-hash the outputs (no pixel, label or counter checks).
    """

    root: Path
    kind: str
    first_line: int
    config_shas: tuple[str, ...]
    hashes_only: bool = False

    @property
    def layout(self) -> DatasetLayout:
        """The dataset's layout."""
        return DatasetLayout(self.root)


@dataclass
class Checked:
    """The outcome of one manifest line, filled by the worker that checked it.

    Attributes:
        key: (split, image_id) when the record was valid; None for a malformed line.
        problems: messages without the ``<split>/<id>:`` prefix (malformed lines: the whole line).
        units: progress units of the line (its output files).
        n_files: output files found and re-hashed.
        referenced: the safe relative paths the record names (not orphans, even when missing).
        damaged: an output file is missing, unreadable or has the wrong sha256.
    """

    key: tuple[str, str] | None = None
    problems: list[str] = field(default_factory=list)
    units: int = 0
    n_files: int = 0
    referenced: list[str] = field(default_factory=list)
    damaged: bool = False

    def lines(self) -> list[str]:
        """The problem lines, prefixed with ``<split>/<image_id>:`` when the record is known."""
        if self.key is None:
            return list(self.problems)
        where = f"{self.key[0]}/{self.key[1]}"
        return [f"{where}: {msg}" for msg in self.problems]


def config_shas(layout: DatasetLayout, report: VerifyReport) -> tuple[str, ...]:
    """The ``config_sha256`` values a record may carry; empty (and a problem) when ``config.yaml`` is missing.

    First the identity hash of ``config.yaml`` (:func:`oodforge.config.identity.config_sha256`, what
    ``synth`` and ``render`` write), then the sha256 of its bytes (what older versions wrote).
    """
    path = layout.config_path
    if not path.is_file():
        report.problems.append("config.yaml: missing (the resolved config must lie next to the manifest)")
        return ()
    try:
        blob = path.read_bytes()
    except OSError as exc:
        report.problems.append(f"config.yaml: cannot read ({exc.strerror or exc})")
        return ()
    try:
        return (config_sha256(blob), sha256_bytes(blob))
    except ConfigError as exc:
        report.problems.append(str(exc))
        return (sha256_bytes(blob),)


def check_config_sha(job: VerifyJob, found: str, problems: list[str]) -> None:
    """A record's ``config_sha256`` is one of the job's accepted values."""
    if job.config_shas and found not in job.config_shas:
        problems.append(f"config_sha256 {found[:12]}… != sha256 of config.yaml {job.config_shas[0][:12]}…")


class OrderCheck:
    """(split, image_id) keys sorted in plain string order, each once; fed one key at a time.

    While the keys come sorted a duplicate can only follow its twin, so 8 bytes per key are kept (their
    digests); after the first key out of order, membership switches to an exact set of those digests.
    """

    def __init__(self) -> None:
        self._digests = DigestSet()
        self._seen: set[int] | None = None
        self.prev: tuple[str, str] | None = None
        self.problems: list[str] = []

    def add(self, key: tuple[str, str]) -> None:
        """Check the next key of the manifest."""
        split, image_id = key
        text = f"{split}\0{image_id}"
        if self._seen is None and self.prev is not None and key < self.prev:
            self._seen = self._digests.digests()
        duplicate = key == self.prev if self._seen is None else digest64(text) in self._seen
        if duplicate:
            self.problems.append(f"{split}/{image_id}: duplicate manifest record")
        elif self.prev is not None and key < self.prev:
            self.problems.append(f"{split}/{image_id}: manifest out of order (after {self.prev[0]}/{self.prev[1]})")
        self._digests.add(text)
        if self._seen is not None:
            self._seen.add(digest64(text))
        self.prev = key


safe_rel = relative_inside  # a path inside the dataset root, or None


def read_one(job: VerifyJob, out: Checked, prefix: str, key: str, rel: str, expected: str | None) -> bytes | None:
    """Read one output file (expected under ``prefix``) and compare its sha256; None when it cannot be trusted."""
    safe = safe_rel(rel)
    if safe is None:
        out.problems.append(f"outputs[{key!r}] {rel!r} is not a path inside the dataset root")
        return None
    out.referenced.append(safe)
    if not rel.startswith(prefix):
        out.problems.append(f"outputs[{key!r}] {rel!r} is not under {prefix}")
    path = job.layout.abs(rel)
    if not path.is_file():
        out.problems.append(f"missing file {rel}")
        out.damaged = True
        return None
    try:
        blob = path.read_bytes()
    except OSError as exc:
        out.problems.append(f"cannot read {rel} ({exc.strerror or exc})")
        out.damaged = True
        return None
    out.n_files += 1
    actual = sha256_bytes(blob)
    if expected is not None and actual != expected:
        out.problems.append(f"sha256 mismatch for {rel}: manifest {expected[:12]}…, file {actual[:12]}…")
        out.damaged = True
        return None
    return blob


def check_orphans(
    layout: DatasetLayout, splits: set[str], referenced: DigestSet | set[str], subdirs: Iterable[str]
) -> list[str]:
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
