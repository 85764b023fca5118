"""`oodforge verify | stats | preview`: exit codes 0 / 1 / 2, --json, default preview path."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from oodforge.cli.main import app


def _load_fixtures():
    name = "_oodforge_inspect_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "inspect" / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses need the module registered while it executes
        spec.loader.exec_module(module)
    return sys.modules[name]


fixtures = _load_fixtures()
runner = CliRunner()


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return fixtures.build_dataset(tmp_path / "ds")


def test_verify_ok(dataset: Path) -> None:
    result = runner.invoke(app, ["verify", str(dataset), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    assert "4 record(s), 16 file(s) re-hashed" in result.output


def test_verify_with_progress_bar(dataset: Path) -> None:
    assert runner.invoke(app, ["verify", str(dataset)]).exit_code == 0


def test_verify_problems_exit_1_and_truncates(dataset: Path) -> None:
    for i in range(25):
        (dataset / "train" / "labels" / f"orphan_{i:02d}.json").write_text("[]")
    result = runner.invoke(app, ["verify", str(dataset), "-q"])
    assert result.exit_code == 1
    assert "25 problem(s)" in result.output
    assert "train/labels/orphan_00.json: orphan file" in result.output
    assert "orphan_19.json" in result.output
    assert "orphan_20.json" not in result.output
    assert "... and 5 more" in result.output


def test_verify_workers_give_the_same_report(dataset: Path) -> None:
    (dataset / "train/labels/aachen_000001_000019.json").unlink()
    one = runner.invoke(app, ["verify", str(dataset), "-q"])
    two = runner.invoke(app, ["verify", str(dataset), "-q", "--workers", "2"])
    assert one.exit_code == two.exit_code == 1
    assert two.output == one.output
    assert "missing file train/labels/aachen_000001_000019.json" in one.output


def test_verify_malformed_manifest_line_is_a_problem_not_a_traceback(dataset: Path) -> None:
    with (dataset / "manifest.jsonl").open("a") as fh:
        fh.write('{"split": "val"}\n')
    result = runner.invoke(app, ["verify", str(dataset), "-q"])
    assert result.exit_code == 1
    assert "1 problem(s) in 5 record(s), 16 file(s) re-hashed" in result.output
    assert "manifest.jsonl:5: malformed manifest record (" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--executor", "spark"], "--executor: unknown executor 'spark'; expected 'local' or 'dask'"),
        (["--executor", "dask"], "--executor dask needs --scheduler ADDR"),
        (["--workers", "0"], "--workers: 0; expected an integer >= 1"),
    ],
)
def test_verify_bad_parallel_options_exit_2(dataset: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["verify", str(dataset), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("verb", ["verify", "stats", "preview"])
def test_not_a_dataset_exit_2(tmp_path: Path, verb: str) -> None:
    missing = runner.invoke(app, [verb, str(tmp_path / "missing")])
    assert missing.exit_code == 2
    assert "dataset folder not found" in missing.output
    assert "Traceback" not in missing.output
    empty = runner.invoke(app, [verb, str(tmp_path)])
    assert empty.exit_code == 2
    assert "not an oodforge dataset" in empty.output


def test_stats_json_and_table(dataset: Path) -> None:
    result = runner.invoke(app, ["stats", str(dataset), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["totals"]["placed_instances"] == 3
    assert data["splits"]["train"]["n_clean"] == 1
    table = runner.invoke(app, ["stats", str(dataset)])
    assert table.exit_code == 0
    assert "placement_rate" in table.output


def test_stats_no_plausibility_leaves_the_block_out(dataset: Path) -> None:
    full = runner.invoke(app, ["stats", str(dataset), "--json"])
    assert full.exit_code == 0, full.output
    data = json.loads(full.stdout)
    assert "plausibility" in data["totals"]
    assert all("plausibility" in s for s in data["splits"].values())
    lean = runner.invoke(app, ["stats", str(dataset), "--json", "--no-plausibility"])
    assert lean.exit_code == 0, lean.output
    data = json.loads(lean.stdout)
    assert "plausibility" not in data["totals"]
    assert not any("plausibility" in s for s in data["splits"].values())
    assert data["totals"]["placed_instances"] == 3
    assert "plausibility of placed objects" in runner.invoke(app, ["stats", str(dataset)]).output
    table = runner.invoke(app, ["stats", str(dataset), "--no-plausibility"])
    assert table.exit_code == 0, table.output
    assert "plausibility of placed objects" not in table.output


def test_preview_default_and_custom_out(dataset: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["preview", str(dataset), "--n", "2"])
    assert result.exit_code == 0, result.output
    default = dataset / "preview.png"
    assert default.is_file()
    assert "preview.png" in result.output
    assert cv2.imread(str(default)).shape[1] == 3 * 512 + 2 * 4
    out = tmp_path / "sheet.png"
    result = runner.invoke(app, ["preview", str(dataset), "--split", "val", "--out", str(out)])
    assert result.exit_code == 0
    assert out.is_file()
    bad = runner.invoke(app, ["preview", str(dataset), "--split", "nope"])
    assert bad.exit_code == 2
    assert "--split 'nope': not in the manifest" in bad.output
    assert runner.invoke(app, ["verify", str(dataset), "-q"]).exit_code == 0  # preview.png is no orphan
