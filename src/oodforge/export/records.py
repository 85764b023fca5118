"""Per-image records (the resume state of ``synth`` and ``render``) and the manifest built from them.

Each finished image writes ``OUT/.oodforge/records/<split>/<id>.json`` after its files. A record is
"done" only if it parses, says ``ok``, carries this config's ``config_sha256`` and every file it lists
exists (and, with ``check_hashes``, still has the SHA-256 it lists: ``synth --repair``). An unreadable
record is "not done", never an error. ``manifest.jsonl`` is rebuilt by streaming the records one at a
time in (split, image_id) order, so memory stays flat in the number of images.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from oodforge._io import atomic_writer, sha256_file
from oodforge.export.layout import DatasetLayout

__all__ = ["iter_records", "listed_outputs", "read_record", "rebuild_manifest", "record_complete"]


def read_record(path: Path) -> dict[str, Any] | None:
    """A record file's content, or None when it is missing, unreadable or not a JSON object with an id."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or not isinstance(rec.get("split"), str) or not isinstance(rec.get("image_id"), str):
        return None
    return rec


def listed_outputs(rec: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    """(relative path, listed sha256 or None) of every output a record (or manifest line) lists."""
    outputs, hashes = rec.get("outputs"), rec.get("sha256")
    if not isinstance(outputs, dict):
        return
    hashes = hashes if isinstance(hashes, dict) else {}
    for key, rel in outputs.items():
        rels = [rel] if isinstance(rel, str) else rel if isinstance(rel, list) else []
        shas = hashes.get(key)
        shas = [shas] if isinstance(shas, str) else shas if isinstance(shas, list) else []
        for i, r in enumerate(rels):
            if isinstance(r, str):
                yield r, (str(shas[i]) if i < len(shas) else None)


def record_complete(
    lay: DatasetLayout, split: str, image_id: str, config_sha: str, *, check_hashes: bool = False
) -> bool:
    """True when the image's record is ``ok`` for this config and its files are all there (and intact)."""
    rec = read_record(lay.record_path(split, image_id))
    if rec is None or rec.get("status") != "ok" or rec.get("config_sha256") != config_sha:
        return False
    if rec["split"] != split or rec["image_id"] != image_id:
        return False
    for rel, sha in listed_outputs(rec):
        path = lay.abs(rel)
        if not path.is_file():
            return False
        if check_hashes:
            if sha is None:
                return False
            try:
                if sha256_file(path) != sha:
                    return False
            except OSError:
                return False
    return True


def iter_records(lay: DatasetLayout, splits: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Readable records of ``splits`` in (split, image_id) order, one at a time (unreadable ones skipped)."""
    for split in sorted(set(splits)):
        folder = lay.state_dir / "records" / split
        if not folder.is_dir():
            continue
        names = sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))
        for image_id in names:
            rec = read_record(folder / f"{image_id}.json")
            if rec is not None and rec["split"] == split and rec["image_id"] == image_id:
                yield rec


def rebuild_manifest(
    lay: DatasetLayout, splits: Iterable[str], on_record: Callable[[dict[str, Any]], None] | None = None
) -> int:
    """Rewrite ``manifest.jsonl`` from the records, sorted by (split, image_id), atomically; return the count.

    ``on_record`` sees every record written (for per-split counts) so callers never hold them all.
    """
    n = 0
    with atomic_writer(lay.manifest_path) as fh:
        for rec in iter_records(lay, splits):
            fh.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
            if on_record is not None:
                on_record(rec)
            n += 1
    return n
