"""``oodforge export trainids|outlier-mask|coco|cityscapes-instances``: options, summary, exit codes, one-line errors."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import cv2
import pytest
from typer.testing import CliRunner

from oodforge.cli.main import app
from oodforge.sources.cityscapes import frame_paths

runner = CliRunner()


def _targets_tests() -> ModuleType:
    name = "_oodforge_export_targets_tests"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("test_targets.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


helpers = _targets_tests()


@pytest.fixture(scope="module")
def ds(demo_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return helpers.synth_dataset(demo_world, tmp_path_factory.mktemp("targets_cli") / "ds")


def one_line(output: str) -> str:
    return " ".join(output.split())


@pytest.mark.parametrize(
    ("target", "args", "option"),
    [
        ("trainids", ["--anomaly-value", "19"], ("anomaly_value", 19)),
        ("outlier-mask", [], None),
        ("coco", ["--categories", "coco"], ("categories", "coco")),
        ("cityscapes-instances", [], ("anomaly_label_id", 50)),
    ],
)
def test_each_target_runs_and_prints_its_summary(
    ds: Path, tmp_path: Path, target: str, args: list[str], option: tuple[str, object] | None
) -> None:
    out = tmp_path / "out"
    r = runner.invoke(app, ["export", target, str(ds), "--out", str(out), "-q", "--split", "test", *args])
    assert r.exit_code == 0, r.output
    text = one_line(r.output)
    assert f"{target} export" in text and "total" in text and "exports.json" in text
    doc = json.loads((out / "exports.json").read_text())
    assert doc["target"] == target and list(doc["splits"]) == ["test"]
    if option:
        assert doc["options"][option[0]] == option[1]
    if target == "coco":
        assert {c["name"] for c in json.loads((out / "instances_test.json").read_text())["categories"]} != {"anomaly"}
    else:
        written = sorted(p.name for p in (out / "test").glob("*.png"))
        assert written == sorted(f"{r['image_id']}.png" for r in helpers.records(ds) if r["split"] == "test")


def test_cityscapes_root_option(ds: Path, tmp_path: Path) -> None:
    root = tmp_path / "cs"
    shutil.copytree(helpers.cs_root(ds), root)
    out = tmp_path / "out"
    r = runner.invoke(app, ["export", "trainids", str(ds), "-o", str(out), "--cityscapes-root", str(root), "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "exports.json").read_text())["options"]["cityscapes_root"] == str(root)


def test_missing_scene_label_is_one_line_naming_the_file(ds: Path, tmp_path: Path) -> None:
    root = tmp_path / "cs"
    shutil.copytree(helpers.cs_root(ds), root)
    rec = next(r for r in helpers.records(ds) if r["split"] == "val")
    instance = frame_paths(root, rec["source_split"], rec["image_id"]).instance_path
    instance.unlink()
    args = ["export", "cityscapes-instances", str(ds), "-o", str(tmp_path / "out"), "--cityscapes-root", str(root)]
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "Traceback" not in r.output
    text = one_line(r.output)
    assert text.startswith("error:") and str(instance) in text and "file not found" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trainids", "--anomaly-value", "3"], "--anomaly-value: 3 given; expected an integer in 19..255"),
        (["coco", "--categories", "dogs"], "--categories: 'dogs' given; expected one of: anomaly, coco"),
        (["outlier-mask", "--split", "nope"], "unknown split 'nope'"),
    ],
)
def test_usage_errors_exit_2(ds: Path, tmp_path: Path, args: list[str], message: str) -> None:
    target, *rest = args
    r = runner.invoke(app, ["export", target, str(ds), "--out", str(tmp_path / "out"), *rest])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert message in one_line(r.output)
    assert not (tmp_path / "out").exists()


def test_second_run_needs_overwrite(ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = ["export", "outlier-mask", str(ds), "--out", str(out), "-q", "--split", "val"]
    assert runner.invoke(app, base).exit_code == 0
    r = runner.invoke(app, base)
    assert r.exit_code == 2 and "--overwrite" in one_line(r.output)
    png = next((out / "val").glob("*.png"))
    cv2.imwrite(str(png), cv2.imread(str(png), cv2.IMREAD_UNCHANGED) * 0 + 9)
    assert runner.invoke(app, [*base, "--overwrite"]).exit_code == 0
    assert set(cv2.imread(str(png), cv2.IMREAD_UNCHANGED).ravel().tolist()) <= {0, 1, 255}


def test_help_texts() -> None:
    r = runner.invoke(app, ["export", "--help"])
    assert r.exit_code == 0
    for target in ("anomalib", "trainids", "outlier-mask", "coco", "cityscapes-instances"):
        assert target in r.output
    for target, flag in (("trainids", "--anomaly-value"), ("coco", "--categories"),
                         ("cityscapes-instances", "--cityscapes-root")):  # fmt: skip
        r = runner.invoke(app, ["export", target, "--help"])
        assert r.exit_code == 0 and flag in r.output and "--out" in r.output and "--overwrite" in r.output
