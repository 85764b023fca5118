"""Streaming reads of ``manifest.jsonl`` for ``oodforge verify``: one line at a time, never the whole file.

A line that is not valid JSON, not an object, of an unknown kind, of the other kind than the manifest's first
record, or that fails the record's validation is one problem line ``manifest.jsonl:<n>: ...``; the rest of
the manifest is still checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from oodforge.errors import InputFileError
from oodforge.export.manifest import ManifestRecord
from oodforge.inspect._dataset import OUTPUT_KEYS
from oodforge.inspect._render_record import RENDER_KIND, RENDER_OUTPUT_KEYS, RenderRecord
from oodforge.inspect._verify_common import Checked, OrderCheck, VerifyJob, safe_rel

__all__ = ["Line", "Scan", "iter_lines", "parse_line", "scan_manifest"]

#: (line number, raw bytes) of one non-empty manifest line
Line = tuple[int, bytes]
MANIFEST = "manifest.jsonl"


@dataclass
class Scan:
    """What a first, cheap pass over the manifest learns (no record is kept).

    Attributes:
        kind: ``synth`` or ``render``, the kind of the first record of a known kind (``synth`` if none).
        first_line: that record's line number (0 if none).
        n_records: non-empty lines.
        units: output files named by the records of the manifest's kind (the progress total).
        problems: order and duplicate problems of the (split, image_id) keys.
    """

    kind: str = "synth"
    first_line: int = 0
    n_records: int = 0
    units: int = 0
    problems: list[str] = field(default_factory=list)


def iter_lines(path: Path) -> Iterator[Line]:
    """The non-empty lines of ``path`` with their 1-based line numbers, read lazily."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if raw.strip():
                yield lineno, raw


def line_kind(obj: object) -> str | None:
    """``synth`` (no ``kind`` key) or ``render`` for a record object; None for anything else."""
    if not isinstance(obj, dict):
        return None
    if "kind" not in obj:
        return "synth"
    return RENDER_KIND if obj["kind"] == RENDER_KIND else None


def raw_paths(obj: dict[str, Any], kind: str) -> list[str]:
    """The relative paths under the record's ``outputs`` (as written, before validation)."""
    outputs = obj.get("outputs")
    if not isinstance(outputs, dict):
        return []
    paths: list[str] = []
    for key in RENDER_OUTPUT_KEYS if kind == RENDER_KIND else OUTPUT_KEYS:
        value = outputs.get(key)
        if isinstance(value, str):
            paths.append(value)
        elif isinstance(value, list):
            paths.extend(v for v in value if isinstance(v, str))
    return paths


def scan_manifest(path: Path) -> Scan:
    """First pass: record kind, counts and key order (memory: the set of keys only).

    Raises:
        InputFileError: the manifest cannot be read.
    """
    scan = Scan()
    order = OrderCheck()
    try:
        for line in iter_lines(path):
            _scan_line(scan, order, line)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the manifest ({exc.strerror or exc})") from None
    scan.problems = order.problems
    return scan


def _scan_line(scan: Scan, order: OrderCheck, line: Line) -> None:
    lineno, raw = line
    scan.n_records += 1
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return
    kind = line_kind(obj)
    if kind is None:
        return
    if not scan.first_line:
        scan.kind, scan.first_line = kind, lineno
    if kind != scan.kind:
        return
    scan.units += len(raw_paths(obj, kind))
    split, image_id = obj.get("split"), obj.get("image_id")
    if isinstance(split, str) and isinstance(image_id, str):
        order.add((split, image_id))


def parse_line(job: VerifyJob, line: Line) -> tuple[ManifestRecord | RenderRecord | None, Checked]:
    """Parse one line into its record (None and one problem line when it is not a valid record of the kind)."""
    lineno, raw = line
    out = Checked()
    where = f"{MANIFEST}:{lineno}"
    try:
        obj = json.loads(raw)
    except ValueError as exc:  # json.JSONDecodeError, UnicodeDecodeError
        out.problems.append(f"{where}: malformed manifest record ({_first_line(exc)})")
        return None, out
    kind = line_kind(obj)
    if kind is None:
        if isinstance(obj, dict):
            detail = f"unknown record kind {obj['kind']!r}; expected {RENDER_KIND!r} or none (synth)"
        else:
            detail = f"expected a JSON object, got {type(obj).__name__}"
        out.problems.append(f"{where}: malformed manifest record ({detail})")
        return None, out
    out.referenced = [rel for rel in map(safe_rel, raw_paths(obj, kind)) if rel is not None]
    if kind != job.kind:
        out.problems.append(
            f"{where}: {kind} record in a manifest whose line {job.first_line} is a {job.kind} record; "
            "a manifest holds records of one kind"
        )
        return None, out
    out.units = len(raw_paths(obj, kind))
    try:
        rec = RenderRecord.from_json_dict(obj) if kind == RENDER_KIND else ManifestRecord.from_json_dict(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(part) for part in err["loc"]) or "record"
        split, image_id = obj.get("split"), obj.get("image_id")
        who = f"{split}/{image_id}: " if isinstance(split, str) and isinstance(image_id, str) else ""
        detail = f"{who}{_first_line(exc)}; first: {loc}: {err['msg']}"
        out.problems.append(f"{where}: malformed manifest record ({detail})")
        return None, out
    out.referenced = []  # the record's checks list what it references
    out.key = (rec.split, rec.image_id)
    return rec, out


def _first_line(exc: Exception) -> str:
    text = str(exc).splitlines()
    return text[0] if text else type(exc).__name__
