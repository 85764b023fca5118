"""``oodforge verify``: re-hash every output against the manifest and check the dataset conventions.

Works on the output of ``oodforge synth`` (pasted anomalies, checks in :mod:`oodforge.inspect._verify_synth`)
and of ``oodforge render`` (rendered frames, records with ``"kind": "render"``, checks in
:mod:`oodforge.inspect._verify_render`).

Read-only: nothing under the dataset root is created, changed or removed. Every problem is one line
``<split>/<image_id>: <what>`` (dataset-level problems name the file instead, e.g. ``config.yaml: ...`` or
``manifest.jsonl:7: malformed manifest record (...)``); a malformed line never stops the run.

Scale: the manifest is streamed twice (a cheap first pass for the record kind, the key order and the
progress total; then the checks), records are checked in parallel (``workers`` local processes or a Dask
cluster) and their results gathered in manifest order, so the report is the same for any worker count or
executor and memory holds the problem lines and 8-byte digests of the keys and referenced paths, never
the records.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from oodforge._parallel import check_options, run_tasks
from oodforge.errors import DataLayoutError, InputFileError
from oodforge.export.layout import DatasetLayout
from oodforge.export.manifest import ManifestRecord
from oodforge.inspect._digests import DigestSet
from oodforge.inspect._verify_common import Checked, Progress, VerifyJob, VerifyReport, check_orphans, config_shas
from oodforge.inspect._verify_manifest import MANIFEST, Line, iter_lines, parse_line, scan_manifest
from oodforge.inspect._verify_render import RENDER_SUBDIRS, check_render
from oodforge.inspect._verify_synth import SUBDIRS, check_synth

__all__ = ["VerifyReport", "check_line", "damaged_images", "verify_dataset"]

_PRODUCERS = "`oodforge synth` or `oodforge render`"


def verify_dataset(
    root: Path,
    *,
    progress: Progress | None = None,
    workers: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
    hashes_only: bool = False,
) -> VerifyReport:
    """Check a synthesized or rendered dataset against its manifest and the pixel conventions.

    Dataset-level checks: ``config.yaml`` exists and hashes to every record's ``config_sha256``; the
    manifest is sorted by (split, image_id) without duplicates and holds records of one kind; no file under
    the managed sub-folders of a split is left unreferenced. Per-record checks: see
    :mod:`oodforge.inspect._verify_synth` and :mod:`oodforge.inspect._verify_render`.

    Args:
        root: the output root of ``oodforge synth`` or ``oodforge render``.
        progress: called as ``progress(done, total)`` in output files, after each record.
        workers: local worker processes (1 = in this process).
        executor: ``local`` or ``dask``.
        scheduler: Dask scheduler address (``executor="dask"``).
        hashes_only: only re-hash the outputs (fills ``damaged``; skips pixel, label and counter checks).

    Returns:
        The report; ``report.problems`` is empty for a valid dataset. Identical for any ``workers``/``executor``.

    Raises:
        InputFileError: ``root`` is missing.
        DataLayoutError: ``root`` is not a dataset folder (no ``manifest.jsonl``).
        UsageError: bad ``workers`` / ``executor`` / ``scheduler`` (see :func:`oodforge._parallel.check_options`).
    """
    check_options(workers, executor, scheduler)
    layout = _open(root)
    scan = scan_manifest(layout.manifest_path)
    report = VerifyReport(n_records=scan.n_records)
    job = VerifyJob(layout.root, scan.kind, scan.first_line, config_shas(layout, report), hashes_only)
    report.problems.extend(scan.problems)
    referenced = DigestSet()  # 8 bytes per referenced path
    splits: set[str] = set()
    done = 0
    if progress is not None:
        progress(0, scan.units)
    lines = iter_lines(layout.manifest_path)
    n_workers = workers if scan.n_records > 1 else 1
    results = run_tasks(check_line, job, lines, workers=n_workers, executor=executor, scheduler=scheduler, ordered=True)
    with closing(results):  # Ctrl-C: cancel the queued records at once
        for out in results:
            report.problems.extend(out.lines())
            report.n_files_checked += out.n_files
            referenced.update(out.referenced)
            if out.key is not None:
                splits.add(out.key[0])
                if out.damaged:
                    report.damaged.append(out.key)
            done += out.units
            if progress is not None:
                progress(done, scan.units)
    subdirs = RENDER_SUBDIRS if scan.kind == "render" else SUBDIRS
    report.problems.extend(check_orphans(layout, splits, referenced, subdirs.values()))
    return report


def damaged_images(
    root: Path,
    *,
    progress: Progress | None = None,
    workers: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
) -> list[tuple[str, str]]:
    """(split, image_id) of every record whose output files are missing, unreadable or altered.

    Only re-hashes (no pixel checks), in manifest order; ``oodforge synth --repair`` redoes exactly these.
    Failed records (no outputs) and malformed manifest lines are not listed. Arguments and errors as
    :func:`verify_dataset`.
    """
    report = verify_dataset(
        root, progress=progress, workers=workers, executor=executor, scheduler=scheduler, hashes_only=True
    )
    return report.damaged


def check_line(job: VerifyJob, line: Line) -> Checked:
    """Check one manifest line (runs in a worker); never raises: an unexpected error is a problem line."""
    out = Checked()
    try:
        rec, out = parse_line(job, line)
        if isinstance(rec, ManifestRecord):
            check_synth(rec, job, out)
        elif rec is not None:
            check_render(rec, job, out)
    except Exception as exc:  # a verifier reports what it cannot check, it does not stop
        msg = f"could not be checked ({type(exc).__name__}: {exc})"
        out.problems.append(msg if out.key is not None else f"{MANIFEST}:{line[0]}: {msg}")
    return out


def _open(root: Path) -> DatasetLayout:
    """The layout of a dataset root that holds a ``manifest.jsonl``."""
    if not root.exists():
        raise InputFileError(f"{root}: dataset folder not found")
    if not root.is_dir():
        raise DataLayoutError(f"{root}: not a folder; expected the output root of {_PRODUCERS}")
    layout = DatasetLayout(root)
    if not layout.manifest_path.is_file():
        raise DataLayoutError(
            f"{root}: not an oodforge dataset (no manifest.jsonl); expected the output root of {_PRODUCERS}"
        )
    return layout
