"""`oodforge submit-smiyc`: the maps equal `oodforge score` cast to float16 (saved logits and a model), the
official layout and toolkit command, one-line refusals with exit code 2."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from oodforge.cli.main import app
from oodforge.eval.smiyc_submission import read_smiyc_submission

if "smiyc_submit_world" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "smiyc_submit_world", Path(__file__).parents[1] / "eval" / "test_smiyc_submit.py"
    )
    assert _spec is not None and _spec.loader is not None
    sys.modules["smiyc_submit_world"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["smiyc_submit_world"])
sw = sys.modules["smiyc_submit_world"]  # build(): the SMIYC world of the library tests

runner = CliRunner()


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    return sw.build(tmp_path)


def _cli(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def _one_line_exit_2(res: Result, needle: str) -> None:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert needle in lines[0], res.output
    assert "Traceback" not in res.output


def _equal_to_score(files: list[Path], logits_dir: Path, ref: Path, *score_args: object) -> None:
    assert _cli("score", logits_dir, ref, *score_args, "-q").exit_code == 0
    assert files
    for path in files:
        got = read_smiyc_submission(path)
        assert got.dtype == np.float16
        np.testing.assert_array_equal(got, np.load(ref / f"{path.stem}.npy"))


def test_logits_test_split(world: tuple[Path, Path], tmp_path: Path) -> None:
    root, logits = world
    out = tmp_path / "outputs" / "anomaly_p" / "MyMethod"
    res = _cli("submit-smiyc", "--benchmark", "road_anomaly_21", "--root", root, "--out", out, "--score", "energy",
               "--temperature", "2", "--logits", logits, "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    folder = out / "AnomalyTrack-all"
    assert f"2 SMIYC score map(s) (AnomalyTrack-test, float16 HDF5) written to {folder}" in res.output
    assert "official toolkit (test labels are hidden: this draws the maps):" in res.output
    outputs = (tmp_path / "outputs").resolve()
    want = f"DIR_OUTPUTS={outputs} python -m road_anomaly_benchmark metric PixBinaryClass MyMethod AnomalyTrack-test"
    assert f"{want} --only-frame-vis" in res.output
    assert "note:" not in res.output
    files = sorted(folder.glob("*.hdf5"))
    assert [p.stem for p in files] == sorted(sw.RA_TEST)
    _equal_to_score(files, logits / "road_anomaly_21", tmp_path / "ref", "--method", "energy", "--temperature", "2")


def test_logits_validation_split_and_overwrite(world: tuple[Path, Path], tmp_path: Path) -> None:
    root, logits = world
    out = tmp_path / "outputs" / "anomaly_p" / "M2"
    args = ("submit-smiyc", "-b", "road_obstacle_21", "--root", root, "--out", out, "--logits", logits, "-q")
    res = _cli(*args, "--split", "validation", "-m", "msp")
    assert res.exit_code == 0, res.output
    assert "metric PixBinaryClass,SegEval-ObstacleTrack M2 ObstacleTrack-validation" in res.output
    assert [p.stem for p in (out / "ObstacleTrack-all").glob("*.hdf5")] == list(sw.RO_VAL)
    _one_line_exit_2(_cli(*args, "-m", "msp"), "holds a previous SMIYC submission (1 files); pass --overwrite")
    res = _cli(*args, "-m", "msp", "--overwrite")
    assert res.exit_code == 0, res.output
    assert "(the previous export of 1 file(s) replaced)" in res.output
    files = sorted((out / "ObstacleTrack-all").glob("*.hdf5"))
    assert [p.stem for p in files] == sorted(sw.RO_TEST)
    _equal_to_score(files, logits / "road_obstacle_21", tmp_path / "ref", "--method", "msp")


def test_model_test_split(world: tuple[Path, Path], tmp_path: Path) -> None:
    import torch

    from oodforge._io import read_image_rgb
    from oodforge.benchmarks import benchmark_class
    from oodforge.cli._model_options import build_predictor
    from oodforge.models import create_model

    root, _ = world
    torch.manual_seed(0)
    torch.save(create_model("erfnet", num_classes=sw.C).state_dict(), tmp_path / "w.pth")
    out = tmp_path / "elsewhere" / "Erf"
    res = _cli("submit-smiyc", "-b", "road_obstacle_21", "--root", root, "--out", out, "--score", "msp",
               "--model", "erfnet", "--weights", tmp_path / "w.pth", "--device", "cpu", "--input-scale", "1", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "model: erfnet with w.pth" in res.output
    assert "note: the official toolkit reads $DIR_OUTPUTS/anomaly_p/<MethodName>" in res.output
    assert "DIR_OUTPUTS=<folder of anomaly_p> python -m road_anomaly_benchmark" in res.output
    pred = build_predictor(None, "erfnet", tmp_path / "w.pth", None, "cpu", input_scale=1.0)
    reader = benchmark_class("road_obstacle_21").open_images(root, "test")
    (tmp_path / "model_logits").mkdir()
    for image_id in reader.image_ids():
        logits, _ = pred.run(read_image_rgb(reader.frame_files(image_id).image_path))
        np.save(tmp_path / "model_logits" / f"{image_id}.npy", logits.numpy())
    files = sorted((out / "ObstacleTrack-all").glob("*.hdf5"))
    assert [p.stem for p in files] == sorted(sw.RO_TEST)
    _equal_to_score(files, tmp_path / "model_logits", tmp_path / "ref", "--method", "msp")


@pytest.mark.parametrize(("extra", "needle"), [
    (["-b", "fishyscapes_static"], "--benchmark 'fishyscapes_static': SegmentMeIfYouCan submissions exist for"),
    (["-b", "road_anomaly_21", "--score", "nope"], "unknown score method 'nope'; available methods:"),
    (["-b", "road_anomaly_21", "--score", "sml"], "method 'sml' needs --sml-stats FILE"),
    (["-b", "road_anomaly_21", "--split", "train"], "road_anomaly_21: unknown split 'train'"),
    (["-b", "road_anomaly_21", "--model", "erfnet"], "--logits DIR takes the saved outputs as they are; --model"),
])  # fmt: skip
def test_refusals(world: tuple[Path, Path], tmp_path: Path, extra: list[str], needle: str) -> None:
    root, logits = world
    out = tmp_path / "outputs" / "anomaly_p" / "M"
    args = ["--root", root, "--out", out, "--logits", logits, "-q"]
    if "--score" not in extra:
        args += ["--score", "msp"]
    _one_line_exit_2(_cli("submit-smiyc", *extra, *args), needle)
    assert not out.exists()


def test_refusals_of_folders_and_missing_options(world: tuple[Path, Path], tmp_path: Path) -> None:
    root, logits = world
    out = tmp_path / "outputs" / "anomaly_p" / "M"
    (out / "AnomalyTrack-all").mkdir(parents=True)
    (out / "AnomalyTrack-all" / "theirs.hdf5").write_bytes(b"x")
    base: list[Any] = ["submit-smiyc", "-b", "road_anomaly_21", "--score", "msp", "-q"]
    _one_line_exit_2(_cli(*base, "--root", root, "--out", out, "--logits", logits), "not empty (found 'theirs.hdf5')")
    assert (out / "AnomalyTrack-all" / "theirs.hdf5").read_bytes() == b"x"
    _one_line_exit_2(_cli(*base, "--out", out, "--logits", logits), "--root DIR: required")
    _one_line_exit_2(_cli(*base, "--root", root, "--out", tmp_path / "o"), "no model: give -c CKPT")
    _one_line_exit_2(
        _cli(*base, "--root", tmp_path / "nowhere", "--out", tmp_path / "o", "--logits", logits), "not a folder"
    )
