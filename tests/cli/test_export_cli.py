"""`oodforge export anomalib`: exit codes, summary table, printed Folder snippet."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oodforge.cli.main import app


def _load_builder():
    name = "_oodforge_anomalib_export_tests"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "export" / "test_anomalib.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


builder = _load_builder()
runner = CliRunner()


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    builder.write_dataset(root, builder.SYNTH_SPECS)
    return root


def test_export_anomalib_ok(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = runner.invoke(app, ["export", "anomalib", str(dataset), str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert "Folder(" in r.output
    for arg in ("name='ds'", f"root={str(out)!r}", "normal_dir='train/good'", "abnormal_dir='test/anomaly'",
                "normal_test_dir='test/good'", "mask_dir='ground_truth/anomaly'", "extensions=('.jpg', '.png')"):  # fmt: skip
        assert arg in r.output
    assert "test/anomaly" in r.output and "total" in r.output
    assert len(list((out / "test/anomaly").iterdir())) == 4
    builder.anomalib_pairs(out, [".jpg", ".png"])


def test_export_options_and_progress(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["export", "anomalib", str(dataset), str(out), "--split", "train", "--split", "val",
            "--normal-test-ratio", "1", "--seed", "7"]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert not (out / "train/good").exists() or not any((out / "train/good").iterdir())
    assert "warning:" in r.output and "train/good: no image" in r.output
    assert {p.name.split("__")[0] for p in (out / "test/good").iterdir()} == {"train", "val"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--split", "nope"], "unknown split 'nope'"),
        (["--normal-test-ratio", "2"], "normal_test_ratio"),
    ],
)
def test_usage_errors_exit_2(dataset: Path, tmp_path: Path, args: list[str], message: str) -> None:
    r = runner.invoke(app, ["export", "anomalib", str(dataset), str(tmp_path / "out"), *args])
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output


def test_not_a_dataset_exit_2(tmp_path: Path) -> None:
    r = runner.invoke(app, ["export", "anomalib", str(tmp_path), str(tmp_path / "out")])
    assert r.exit_code == 2
    assert "not an oodforge dataset" in r.output and "Traceback" not in r.output


def test_out_not_empty_exit_2_then_overwrite(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert runner.invoke(app, ["export", "anomalib", str(dataset), str(out), "-q"]).exit_code == 0
    r = runner.invoke(app, ["export", "anomalib", str(dataset), str(out), "-q"])
    assert r.exit_code == 2 and "not empty" in r.output and "--overwrite" in r.output
    r = runner.invoke(app, ["export", "anomalib", str(dataset), str(out), "-q", "--overwrite"])
    assert r.exit_code == 0 and "Folder(" in r.output


def test_overwrite_keeps_user_files_and_refuses_foreign_folder(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert runner.invoke(app, ["export", "anomalib", str(dataset), str(out), "-q"]).exit_code == 0
    (out / "train/good/mine.png").write_bytes(b"my image")
    r = runner.invoke(app, ["export", "anomalib", str(dataset), str(out), "-q", "--overwrite"])
    assert r.exit_code == 0, r.output
    assert "kept 1 file(s) oodforge did not write" in " ".join(r.output.split())
    assert (out / "train/good/mine.png").read_bytes() == b"my image"
    mine = tmp_path / "mine"
    (mine / "test/good").mkdir(parents=True)
    (mine / "test/good/photo.png").write_bytes(b"photo")
    r = runner.invoke(app, ["export", "anomalib", str(dataset), str(mine), "-q", "--overwrite"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "has no list of oodforge's files" in " ".join(r.output.split())
    assert (mine / "test/good/photo.png").read_bytes() == b"photo"


def test_export_help_lists_anomalib() -> None:
    r = runner.invoke(app, ["export", "--help"])
    assert r.exit_code == 0 and "anomalib" in r.output
