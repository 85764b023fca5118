"""``oodforge verify`` for one record of a synthesized dataset (the output of ``oodforge synth``).

Checks: ``schema``; ``config_sha256`` is the sha256 of ``config.yaml``; every output exists under
``<split>/{images,gt_pixel,instances,labels}/`` and re-hashes to its ``sha256``; GT is single-channel uint8
with values in {0, 1, 255} and the image's size; GT is 1 exactly where the instance map is > 0; instance ids
1..placed are present with their ``area_px``; ``has_anomaly``, ``placed_instances`` and the GT agree; clean
records place nothing; the labels JSON lists ids 1..k; failed records are listed.
"""

from __future__ import annotations

from oodforge.export.manifest import MANIFEST_SCHEMA, ManifestRecord
from oodforge.inspect._dataset import OUTPUT_KEYS, output_paths
from oodforge.inspect._verify_common import Checked, VerifyJob, check_config_sha, read_one
from oodforge.inspect._verify_pixels import check_labels, check_pixels

__all__ = ["SUBDIRS", "check_synth"]

#: output key -> the sub-folder of ``<split>/`` that holds its files
SUBDIRS = {"image": "images", "gt_pixel": "gt_pixel", "instances": "instances", "labels": "labels"}


def check_synth(rec: ManifestRecord, job: VerifyJob, out: Checked) -> None:
    """All checks of one record; problems (without the ``<split>/<id>:`` prefix) go to ``out``."""
    problems = out.problems
    if rec.schema_ != MANIFEST_SCHEMA:
        problems.append(f"schema {rec.schema_}; expected {MANIFEST_SCHEMA}")
    check_config_sha(job, rec.config_sha256, problems)
    if rec.status == "failed":
        problems.append(f"failed: {rec.error or 'no reason recorded'}")
    data = _read_outputs(rec, job, out)
    if rec.status != "ok" or job.hashes_only:
        return
    problems.extend(_check_counts(rec))
    if all(key in data for key in OUTPUT_KEYS) and data["image"] and data["gt_pixel"] and data["labels"]:
        problems.extend(check_pixels(rec, data))
        problems.extend(check_labels(rec, data["labels"][0][0], data["labels"][0][1]))


def _read_outputs(rec: ManifestRecord, job: VerifyJob, out: Checked) -> dict[str, list[tuple[str, bytes]]]:
    """Read and re-hash every output of ``rec``; return key -> [(rel, bytes)] of the files that hash right.

    A key is left out of the result when any of its files is missing, unsafe or has the wrong hash.
    """
    problems = out.problems
    data: dict[str, list[tuple[str, bytes]]] = {}
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
            blob = read_one(job, out, f"{rec.split}/{SUBDIRS[key]}/", key, rel, expected)
            if blob is not None:
                files.append((rel, blob))
        if len(files) == len(rels) == len(hashes):
            data[key] = files
    return data


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
