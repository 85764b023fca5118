"""`oodforge report`: default path, the written message, exit 2 with one line for every bad input."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oodforge.cli.main import app
from oodforge.inspect.card import GENERATOR_META


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


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output and lines and lines[0].startswith("error:")
    return " ".join(lines)  # rich may wrap the one line at the terminal width


def test_report_default_out_then_overwrite(dataset: Path) -> None:
    result = runner.invoke(app, ["report", str(dataset), "--n", "2"])
    assert result.exit_code == 0, result.output
    card = dataset / "report.html"
    assert "dataset card written to" in result.output and "report.html" in result.output
    text = card.read_text()
    assert GENERATOR_META in text and text.count('<article class="entry"') == 2
    assert "exists; use --overwrite" in _one_error_line(runner.invoke(app, ["report", str(dataset)]))
    result = runner.invoke(app, ["report", str(dataset), "--overwrite", "--n", "1", "--split", "val"])
    assert result.exit_code == 0, result.output
    text = card.read_text()
    assert text.count('<article class="entry"') == 1 and "val/frankfurt_000000_000294" in text
    verify = runner.invoke(app, ["verify", str(dataset)])
    assert verify.exit_code == 0, verify.output  # the card beside the manifest is not a dataset problem


def test_report_refuses_a_users_file(dataset: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.html"
    mine.write_text("<p>mine</p>")
    line = _one_error_line(runner.invoke(app, ["report", str(dataset), "--out", str(mine), "--overwrite"]))
    assert "not written by `oodforge report`" in line and mine.read_text() == "<p>mine</p>"
    assert "exists; use --overwrite" in _one_error_line(
        runner.invoke(app, ["report", str(dataset), "--out", str(mine)])
    )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing", "dataset folder not found"),
        ("plain", "not an oodforge dataset"),
        ("empty", "holds no records"),
        ("damaged", "malformed manifest record"),
    ],
)
def test_report_bad_dataset_exit_2(dataset: Path, tmp_path: Path, damage: str, message: str) -> None:
    root = dataset
    if damage == "missing":
        root = tmp_path / "nothing"
    elif damage == "plain":
        root = tmp_path / "plain"
        root.mkdir()
        (root / "a.txt").write_text("x")
    elif damage == "empty":
        (dataset / "manifest.jsonl").write_text("\n")
    else:
        (dataset / "manifest.jsonl").write_text("not json\n")
    out = tmp_path / "card.html"
    assert message in _one_error_line(runner.invoke(app, ["report", str(root), "--out", str(out)]))
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"), [(["--n", "0"], "--n 0"), (["--split", "test"], "--split 'test': not in the manifest")]
)
def test_report_bad_options_exit_2(dataset: Path, args: list[str], message: str) -> None:
    assert message in _one_error_line(runner.invoke(app, ["report", str(dataset), *args]))
    assert not (dataset / "report.html").exists()
