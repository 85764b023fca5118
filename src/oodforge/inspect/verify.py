"""``oodforge verify``: re-hash every output against the manifest and check the dataset conventions.

Read-only: nothing under the dataset root is created, changed or removed. Every problem is one line
``<split>/<image_id>: <what>`` (dataset-level problems name the file instead, e.g. ``config.yaml: ...``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from oodforge._io import sha256_bytes, sha256_file
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import MANIFEST_SCHEMA, ManifestRecord
from oodforge.inspect._dataset import OUTPUT_KEYS, load_dataset, output_paths
from oodforge.inspect._verify_pixels import check_labels, check_pixels

__all__ = ["VerifyReport", "verify_dataset"]

#: output key -> the sub-folder of ``<split>/`` that holds its files
SUBDIRS = {"image": "images", "gt_pixel": "gt_pixel", "instances": "instances", "labels": "labels"}

Progress = Callable[[int, int], None]


@dataclass
class VerifyReport:
    """Outcome of :func:`verify_dataset`.

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
class _Ctx:
    """State shared by the per-record checks."""

    layout: DatasetLayout
    config_sha: str | None
    report: VerifyReport
    total: int
    progress: Progress | None
    done: int = 0
    referenced: set[str] = field(default_factory=set)

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def verify_dataset(root: Path, *, progress: Progress | None = None) -> VerifyReport:
    """Check a synthesized dataset against its manifest and the pixel conventions.

    Checks: ``config.yaml`` exists and hashes to every record's ``config_sha256``; the manifest is sorted
    by (split, image_id) without duplicates; every output exists and re-hashes to its ``sha256``; GT is
    single-channel uint8 with values in {0, 1, 255} and the image's size; GT is 1 exactly where the
    instance map is > 0; instance ids 1..placed are present with their ``area_px``; ``has_anomaly``,
    ``placed_instances`` and the GT agree; clean records place nothing; the labels JSON lists ids 1..k;
    no file under ``<split>/{images,gt_pixel,instances,labels}`` is left unreferenced; failed records.

    Args:
        root: the output root of ``oodforge synth``.
        progress: called as ``progress(done, total)`` after each output file is hashed.

    Returns:
        The report; ``report.problems`` is empty for a valid dataset.

    Raises:
        InputFileError: ``root`` is missing or the manifest has a malformed line.
        DataLayoutError: ``root`` is not a dataset folder (no ``manifest.jsonl``).
    """
    layout, records = load_dataset(root)
    report = VerifyReport(n_records=len(records))
    config_sha: str | None = None
    if layout.config_path.is_file():
        config_sha = sha256_file(layout.config_path)
    else:
        report.problems.append("config.yaml: missing (the resolved config must lie next to the manifest)")
    report.problems.extend(_check_order(records))
    total = sum(len(output_paths(rec, key)) for rec in records for key in OUTPUT_KEYS)
    ctx = _Ctx(layout, config_sha, report, total, progress)
    if progress is not None:
        progress(0, total)
    for rec in records:
        where = f"{rec.split}/{rec.image_id}"
        report.problems.extend(f"{where}: {msg}" for msg in _check_record(rec, ctx))
    report.problems.extend(_check_orphans(layout, {rec.split for rec in records}, ctx.referenced))
    return report


def _check_order(records: list[ManifestRecord]) -> list[str]:
    """Records sorted by (split, image_id) in plain string order, each key once."""
    problems = []
    seen: set[tuple[str, str]] = set()
    prev: tuple[str, str] | None = None
    for rec in records:
        key = (rec.split, rec.image_id)
        if key in seen:
            problems.append(f"{rec.split}/{rec.image_id}: duplicate manifest record")
        elif prev is not None and key < prev:
            problems.append(f"{rec.split}/{rec.image_id}: manifest out of order (after {prev[0]}/{prev[1]})")
        seen.add(key)
        prev = key
    return problems


def _check_record(rec: ManifestRecord, ctx: _Ctx) -> list[str]:
    """All checks of one record; messages without the ``<split>/<id>:`` prefix."""
    problems: list[str] = []
    if rec.schema_ != MANIFEST_SCHEMA:
        problems.append(f"schema {rec.schema_}; expected {MANIFEST_SCHEMA}")
    if ctx.config_sha is not None and rec.config_sha256 != ctx.config_sha:
        problems.append(f"config_sha256 {rec.config_sha256[:12]}… != sha256 of config.yaml {ctx.config_sha[:12]}…")
    if rec.status == "failed":
        problems.append(f"failed: {rec.error or 'no reason recorded'}")
    data = _read_outputs(rec, ctx, problems)
    if rec.status != "ok":
        return problems
    problems.extend(_check_counts(rec))
    if all(key in data for key in OUTPUT_KEYS) and data["image"] and data["gt_pixel"] and data["labels"]:
        problems.extend(check_pixels(rec, data))
        problems.extend(check_labels(rec, data["labels"][0][0], data["labels"][0][1]))
    return problems


def _read_outputs(rec: ManifestRecord, ctx: _Ctx, problems: list[str]) -> dict[str, list[tuple[str, bytes]]]:
    """Read and re-hash every output of ``rec``; return key -> [(rel, bytes)] of the files that hash right.

    A key is left out of the result when any of its files is missing, unsafe or has the wrong hash.
    """
    out: dict[str, list[tuple[str, bytes]]] = {}
    for key in OUTPUT_KEYS:
        rels = output_paths(rec, key)
        value = rec.sha256.get(key)
        hashes = [] if value is None else [value] if isinstance(value, str) else list(value)
        if key not in rec.outputs:
            if rec.status == "ok":
                problems.append(f"outputs has no {key!r}")
            continue
        if key != "instances" and len(rels) != 1:
            problems.append(f"outputs[{key!r}] names {len(rels)} files; expected one")
        if len(hashes) != len(rels):
            problems.append(f"outputs[{key!r}] lists {len(rels)} file(s) but sha256[{key!r}] {len(hashes)}")
        files: list[tuple[str, bytes]] = []
        for i, rel in enumerate(rels):
            blob = _read_one(rec, key, rel, hashes[i] if i < len(hashes) else None, ctx, problems)
            if blob is not None:
                files.append((rel, blob))
            ctx.tick()
        if len(files) == len(rels) == len(hashes):
            out[key] = files
    return out


def _read_one(
    rec: ManifestRecord, key: str, rel: str, expected: str | None, ctx: _Ctx, problems: list[str]
) -> bytes | None:
    """Read one output file and compare its sha256; None when it cannot be trusted."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts:
        problems.append(f"outputs[{key!r}] {rel!r} is not a path inside the dataset root")
        return None
    ctx.referenced.add(pure.as_posix())
    prefix = f"{rec.split}/{SUBDIRS[key]}/"
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


def _check_counts(rec: ManifestRecord) -> list[str]:
    """Counters and flags that must agree without looking at pixels."""
    problems = []
    planned, placed = rec.planned_instances, rec.placed_instances
    if not rec.is_synth and (planned != 0 or placed != 0):
        problems.append(f"clean record plans/places instances ({planned}/{placed}); expected 0/0")
    if placed > planned:
        problems.append(f"placed_instances {placed} > planned_instances {planned}")
    if rec.has_anomaly != (placed > 0):
        problems.append(f"has_anomaly is {rec.has_anomaly} but placed_instances is {placed}")
    if len(rec.instances) != placed:
        problems.append(f"{len(rec.instances)} instance record(s) but placed_instances is {placed}")
    if rec.coco_ann_ids != [inst.coco_ann_id for inst in rec.instances]:
        problems.append("coco_ann_ids do not match the coco_ann_id of the instances (in id order)")
    return problems


def _check_orphans(layout: DatasetLayout, splits: set[str], referenced: set[str]) -> list[str]:
    """Files under ``<split>/{images,gt_pixel,instances,labels}`` that no record references."""
    root = layout.root
    split_dirs = set(splits)
    split_dirs.update(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    problems = []
    for split in sorted(split_dirs):
        for sub in SUBDIRS.values():
            folder = root / split / sub
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                rel = path.relative_to(root).as_posix()
                if path.is_file() and rel not in referenced:
                    problems.append(f"{rel}: orphan file (no manifest record references it)")
    return problems
