"""Leaderboard: columns, values, best-per-column bolding, Markdown / CSV / JSON consistency and provenance."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from eval_fixtures import load_module

from oodforge.eval.leaderboard import (
    LEADERBOARD_FILES,
    best_cells,
    leaderboard_columns,
    leaderboard_table,
    leaderboard_values,
    write_leaderboard,
)

bf = load_module("bench_run_fixtures", Path(__file__).with_name("bench_run_fixtures.py"))


def _expected(row: str, key: str) -> float | None:
    if key == "miou":
        return bf.MIOU[row.split(" @ ", 1)[1]]
    entry, metric = key.split("/")
    idx = ("ap", "fpr95", "auroc", "siou", "ppv", "f1_mean").index(metric)
    values = (bf.RA21 if entry == "RA21" else bf.FSLAF).get(row)
    if values is None or math.isnan(values[idx]):
        return None
    return values[idx]


def _md_table(text: str, first: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first} |"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split(" | ")])
    return rows


def _read_csv(path: Path) -> tuple[list[str], list[str], list[list[str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    comments = [line for line in lines if line.startswith("#")]
    data = [line for line in lines if not line.startswith("#")]
    assert lines[: len(comments)] == comments  # comments only at the top
    # pandas.read_csv(comment="#") cuts a line at a '#' outside quotes: every text field is quoted
    assert all(line.startswith('"') for line in data)
    table = list(csv.reader(data))
    return comments, table[0], table[1:]


def test_columns_and_values() -> None:
    run = bf.make_run()
    cols = leaderboard_columns(run)
    assert [c.key for c in cols] == bf.COLUMNS
    assert [c.title for c in cols][:3] == ["RA21 AP ↑", "RA21 FPR95 ↓", "RA21 AUROC ↑"]
    assert [c.higher_is_better for c in cols].count(False) == 2  # the two FPR95 columns
    values = leaderboard_values(run)
    assert len(values) == len(bf.ROWS) == len(run.rows())
    for row, vals in zip(bf.ROWS, values, strict=True):
        assert vals == [_expected(row, k) for k in bf.COLUMNS]
    assert {(i, cols[j].key) for i, j in best_cells(cols, values)} == bf.BEST


def test_table_strings() -> None:
    table = leaderboard_table(bf.make_run())
    assert table[0][0] == "score @ temperature" and table[0][-1] == "mIoU ↑" and len(table[0]) == 11
    assert [r[0] for r in table[1:]] == bf.ROWS
    assert table[1][1:4] == ["40.00", "30.00", "90.00"]
    assert table[4][3] == "93.46"  # 0.9345678912345, 2 decimals
    assert table[3][6] == "n/a"  # NaN mean F1
    assert table[4][7:10] == ["n/a", "n/a", "n/a"]  # FS L&F energy @ T=1.5 not measured
    assert table[2][7] == "12.35"


def test_no_miou_column_and_single_row_has_no_bold(tmp_path: Path) -> None:
    run = bf.make_run(miou=False, n_rows=1)
    assert "miou" not in [c.key for c in leaderboard_columns(run)]
    md = write_leaderboard(run, tmp_path)[0].read_text(encoding="utf-8")
    results = md.split("## Results", 1)[1]
    assert "**" not in results and "| msp @ T=1 | 40.00 | 30.00 |" in results


def test_markdown_bold_and_header(tmp_path: Path) -> None:
    run = bf.make_run()
    paths = write_leaderboard(run, tmp_path)
    assert [p.name for p in paths] == list(LEADERBOARD_FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(LEADERBOARD_FILES)  # no temporary files left
    md = paths[0].read_text(encoding="utf-8")
    assert md.startswith("# oodforge benchmark: erfnet & \\<weights\\|v2\\>.pth\n")
    for line in (
        "- git_commit: abc1234",
        "- oodforge_version: 0.1.0",
        "- versions.numpy: 2.4.6",
        "- machine: unknown",
        "- date: 2026-01-02T03:04:05+00:00",
        "| RA21 | road_anomaly_21 | validation | smiyc | 10 | anomaly |",
        "| FS L&F | fishyscapes_lost_and_found | val | fishyscapes | 100 | no |",
        "- T=1.5 (fitted): fitted, on logits, calibration NLL 0.25",
        "- component pass used 1.2 MB & \\<no\\> warnings",
    ):
        assert line in md.splitlines(), line
    table = _md_table(md, "score @ temperature")
    assert table[0][1:] == [c.title for c in leaderboard_columns(run)]
    bold = {(i, bf.COLUMNS[j]) for i, row in enumerate(table[2:]) for j, cell in enumerate(row[1:]) if "**" in cell}
    assert bold == bf.BEST
    assert table[2 + 2][1] == "**60.00**" and table[2 + 1][7] == "**12.35**"
    assert "```yaml\nbenchmarks:\n" in md


def test_csv_json_consistent(tmp_path: Path) -> None:
    run = bf.make_run()
    _, csv_path, json_path = write_leaderboard(run, tmp_path)
    comments, header, rows = _read_csv(csv_path)
    assert header == ["row", "score", "temperature", "T", *bf.COLUMNS]
    assert "# model: erfnet & <weights|v2>.pth" in comments and "# git_commit: abc1234" in comments
    assert (
        "# entry RA21: benchmark=road_anomaly_21 split=validation protocol=smiyc images=10 components=anomaly"
        in comments
    )
    assert [r[:4] for r in rows] == [
        ["msp @ T=1", "msp", "T=1", "1.0"],
        ["msp @ T=1.5 (fitted)", "msp", "T=1.5 (fitted)", "1.5"],
        ["energy @ T=1", "energy", "T=1", "1.0"],
        ["energy @ T=1.5 (fitted)", "energy", "T=1.5 (fitted)", "1.5"],
    ]
    csv_values = [[float(c) if c else None for c in r[4:]] for r in rows]
    assert csv_values == [[_expected(row, k) for k in bf.COLUMNS] for row in bf.ROWS]  # full precision
    assert rows[3][4 + 2] == "0.9345678912345"

    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert {k: data[k] for k in run.to_dict()} == run.to_dict()
    assert data["suite_yaml"] == run.suite_text
    lb = data["leaderboard"]
    assert lb["rows"] == bf.ROWS and [c["key"] for c in lb["columns"]] == bf.COLUMNS
    assert lb["values"] == csv_values
    ra = data["results"]["RA21"]["energy @ T=1"]
    assert ra["pixel"]["ap"] == csv_values[2][0] and ra["components"]["f1_mean"] is None
    assert data["header"]["git_commit"] == "abc1234" and data["entries"][0]["protocol"] == "smiyc"


def test_csv_names_with_hash_stay_readable(tmp_path: Path) -> None:
    run = bf.make_run()
    run.scores = ["msp#2", "energy"]
    run.reports = {e: {r.replace("msp", "msp#2"): rep for r, rep in rows.items()} for e, rows in run.reports.items()}
    _, _, rows = _read_csv(write_leaderboard(run, tmp_path)[1])
    assert rows[0][:2] == ["msp#2 @ T=1", "msp#2"] and rows[0][4] == "0.4"


@pytest.mark.parametrize("missing", ["RA21", "FS L&F"])
def test_entry_without_reports(tmp_path: Path, missing: str) -> None:
    run = bf.make_run()
    del run.reports[missing]
    table = leaderboard_table(run)
    cols = [j for j, c in enumerate(leaderboard_columns(run), start=1) if c.entry == missing]
    assert all(row[j] == "n/a" for row in table[1:] for j in cols)
    assert write_leaderboard(run, tmp_path)[2].is_file()
