"""``oodforge verify``: re-hash every output against the manifest and check the dataset conventions.

Works on the output of ``oodforge synth`` (pasted anomalies) and of ``oodforge render`` (rendered frames,
records with ``"kind": "render"``; see :mod:`oodforge.inspect._verify_render`).

Read-only: nothing under the dataset root is created, changed or removed. Every problem is one line
``<split>/<image_id>: <what>`` (dataset-level problems name the file instead, e.g. ``config.yaml: ...``).
"""

from __future__ import annotations

from pathlib import Path

from oodforge.export.manifest import MANIFEST_SCHEMA, ManifestRecord
from oodforge.inspect._dataset import OUTPUT_KEYS, load_any, output_paths
from oodforge.inspect._verify_common import (
    Ctx,
    Progress,
    VerifyReport,
    check_order,
    check_orphans,
    config_sha,
    read_one,
)
from oodforge.inspect._verify_pixels import check_labels, check_pixels
from oodforge.inspect._verify_render import verify_render

__all__ = ["VerifyReport", "verify_dataset"]

#: output key -> the sub-folder of ``<split>/`` that holds its files
SUBDIRS = {"image": "images", "gt_pixel": "gt_pixel", "instances": "instances", "labels": "labels"}


def verify_dataset(root: Path, *, progress: Progress | None = None) -> VerifyReport:
    """Check a synthesized or rendered dataset against its manifest and the pixel conventions.

    The manifest's records are dispatched on their ``kind``: rendered frames are checked by
    :func:`oodforge.inspect._verify_render.verify_render`; synthesized images (no ``kind``) here.

    Synth checks: ``config.yaml`` exists and hashes to every record's ``config_sha256``; the manifest is sorted
    by (split, image_id) without duplicates; every output exists and re-hashes to its ``sha256``; GT is
    single-channel uint8 with values in {0, 1, 255} and the image's size; GT is 1 exactly where the
    instance map is > 0; instance ids 1..placed are present with their ``area_px``; ``has_anomaly``,
    ``placed_instances`` and the GT agree; clean records place nothing; the labels JSON lists ids 1..k;
    no file under ``<split>/{images,gt_pixel,instances,labels}`` is left unreferenced; failed records.

    Args:
        root: the output root of ``oodforge synth`` or ``oodforge render``.
        progress: called as ``progress(done, total)`` after each output file is hashed.

    Returns:
        The report; ``report.problems`` is empty for a valid dataset.

    Raises:
        InputFileError: ``root`` is missing, or the manifest has a malformed line or mixes record kinds.
        DataLayoutError: ``root`` is not a dataset folder (no ``manifest.jsonl``).
    """
    data = load_any(root)
    if data.kind == "render":
        return verify_render(data.layout, data.render, progress)
    layout, records = data.layout, data.synth
    report = VerifyReport(n_records=len(records))
    sha = config_sha(layout, report)
    report.problems.extend(check_order((rec.split, rec.image_id) for rec in records))
    total = sum(len(output_paths(rec, key)) for rec in records for key in OUTPUT_KEYS)
    ctx = Ctx(layout, sha, report, total, progress)
    ctx.start()
    for rec in records:
        where = f"{rec.split}/{rec.image_id}"
        report.problems.extend(f"{where}: {msg}" for msg in _check_record(rec, ctx))
    report.problems.extend(check_orphans(layout, {rec.split for rec in records}, ctx.referenced, SUBDIRS.values()))
    return report


def _check_record(rec: ManifestRecord, ctx: Ctx) -> list[str]:
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


def _read_outputs(rec: ManifestRecord, ctx: Ctx, problems: list[str]) -> dict[str, list[tuple[str, bytes]]]:
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
            expected = hashes[i] if i < len(hashes) else None
            blob = read_one(ctx, f"{rec.split}/{SUBDIRS[key]}/", key, rel, expected, problems)
            if blob is not None:
                files.append((rel, blob))
            ctx.tick()
        if len(files) == len(rels) == len(hashes):
            out[key] = files
    return out


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
