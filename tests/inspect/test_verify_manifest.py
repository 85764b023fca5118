"""verify streams manifest.jsonl: a malformed line is one problem and the rest is checked; memory stays flat."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import pytest

import oodforge.inspect.verify as verify_mod
from oodforge.inspect.verify import verify_dataset

SYN = "train/aachen_000001_000019"


def _write_lines(root: Path, lines: list[bytes]) -> None:
    (root / "manifest.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


def _dump(rec: dict) -> bytes:
    return json.dumps(rec).encode()


def test_malformed_lines_are_problems_and_the_rest_is_checked(dataset: Path, helpers: SimpleNamespace) -> None:
    recs = helpers.read_records(dataset)
    no_city = {k: v for k, v in recs[1].items() if k != "city"}
    (dataset / "val/labels/frankfurt_000000_000294.json").unlink()  # a later record is still checked
    _write_lines(
        dataset,
        [
            _dump(recs[0]),
            b"{not json",
            _dump(no_city),
            b"[1, 2]",
            _dump({**recs[2], "kind": "paste"}),
            b'{"a": "\xff"}',
            _dump(recs[2]),
            b"   ",
            _dump({"kind": "render", "split": "zz", "image_id": "x", "outputs": {"image": "zz/images/x.png"}}),
            _dump(recs[3]),
        ],
    )
    report = verify_dataset(dataset)
    bad = "manifest.jsonl:{}: malformed manifest record ({})"
    assert report.problems == [
        bad.format(2, "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        bad.format(3, f"{SYN}: 1 validation error for ManifestRecord; first: city: Field required"),
        bad.format(4, "expected a JSON object, got list"),
        bad.format(5, "unknown record kind 'paste'; expected 'render' or none (synth)"),
        bad.format(6, "'utf-8' codec can't decode byte 0xff in position 7: invalid start byte"),
        "manifest.jsonl:9: render record in a manifest whose line 1 is a synth record; "
        "a manifest holds records of one kind",
        "val/frankfurt_000000_000294: missing file val/labels/frankfurt_000000_000294.json",
    ]  # the files of the malformed line 3 are no orphans
    assert report.n_records == 9
    assert report.n_files_checked == 11
    assert report.damaged == [("val", "frankfurt_000000_000294")]


def test_progress_total_counts_only_records_of_the_manifests_kind(dataset: Path, helpers: SimpleNamespace) -> None:
    recs = helpers.read_records(dataset)
    _write_lines(
        dataset, [b"{", *map(_dump, recs), _dump({"kind": "render", "outputs": {"image": "a", "fb_mask": "b"}})]
    )
    calls: list[tuple[int, int]] = []
    verify_dataset(dataset, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 16) and calls[-1] == (16, 16)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_a_check_that_crashes_is_one_problem_line(
    dataset: Path, helpers: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(rec: object, job: object, out: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(verify_mod, "check_synth", boom)
    problems = verify_dataset(dataset).problems
    ids = [f"{r['split']}/{r['image_id']}" for r in helpers.read_records(dataset)]
    assert problems[:4] == [f"{where}: could not be checked (RuntimeError: boom)" for where in ids]


def _peak_bytes(root: Path) -> int:
    tracemalloc.start()
    try:
        report = verify_dataset(root)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        assert report.n_records > 0


def _many(root: Path, helpers: SimpleNamespace, n: int) -> None:
    """``n`` valid records (each ~10 kB of JSON) that share the files of the clean record."""
    base = helpers.read_records(root)[0]
    labels = ["road"] * 1000
    recs = [{**base, "image_id": f"aachen_{i:06d}_000019", "target_labels": labels} for i in range(n)]
    helpers.write_records(root, recs)


def test_memory_is_flat_in_the_number_of_records(dataset: Path, helpers: SimpleNamespace) -> None:
    _many(dataset, helpers, 50)
    small = _peak_bytes(dataset)
    _many(dataset, helpers, 400)
    large = _peak_bytes(dataset)
    # holding the records would cost ~350 x 1000 strings (> 20 MB); the keys of the order check are ~100 kB
    assert large - small < 2_000_000, (small, large)
