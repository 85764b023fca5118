"""`oodforge synth` bad inputs: one clear line, exit 2 (usage) or 1 (failed samples), nothing lost."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from _helpers import tree_hashes
from oodforge.cli.main import app

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["synth", *map(str, args), "--quiet"])


def test_synth_ok_and_help(write_config):
    res = _run(write_config("ok"), "--split", "test", "--limit", "2")
    assert res.exit_code == 0, res.output
    assert "manifest" in res.output
    help_text = runner.invoke(app, ["synth", "--help"]).output
    for opt in ("--workers", "--executor", "--scheduler", "--split", "--limit", "--overwrite", "--fail-fast"):
        assert opt in help_text


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"synthesis.p_hash_anomaly": 0.5}, "did you mean 'p_has_anomaly'"),
        ({"synthesis.coco.allowed_categories": ["dog", "sofa"]}, "'sofa'"),
        ({"synthesis.placement.target_labels": {"roads": 1.0}}, "did you mean 'road'"),
        ({"synthesis.placement.forbidden_overlap_labels": ["pedestrian"]}, "'pedestrian' is not a Cityscapes label"),
        ({"sources.cityscapes.root": "/nonexistent/cs"}, "/nonexistent/cs"),
        ({"sources.coco.annotations": "annotations/missing.json"}, "missing.json"),
        ({"sources.coco.images": "val2017"}, "sources.coco.images"),
        ({"splits": {"t": {"source": "test", "clean_ratio": 0, "synth_ratio": 1}}}, "empty labels"),
        ({"splits": {"t": {"source": "val", "clean_ratio": 0.2, "synth_ratio": 0.2}}}, "sum to 1"),
    ],
)
def test_usage_errors_exit_2_with_one_line(write_config, overrides, needle):
    res = _run(write_config("bad", overrides))
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert needle in res.output
    assert "Traceback" not in res.output


def test_malformed_coco_json(write_config, tmp_path, demo_world):
    coco = tmp_path / "coco"
    shutil.copytree(demo_world / "world" / "coco" / "annotations", coco / "annotations")
    (coco / "train2017").mkdir()
    (coco / "annotations" / "instances_train2017.json").write_text('{"images": [], "annotations": [')
    res = _run(write_config("badjson", {"sources.coco.root": str(coco)}))
    assert res.exit_code == 2
    assert "instances_train2017.json" in res.output


def test_other_config_refused_without_overwrite(write_config):
    cfg = write_config("ds")
    assert _run(cfg, "--limit", "1").exit_code == 0
    root = cfg.parent / "ds"
    before = tree_hashes(root)
    other = write_config("ds", {"dataset.seed": 99})
    res = _run(other, "--limit", "1")
    assert res.exit_code == 2
    assert "another config" in res.output and "--overwrite" in res.output
    assert tree_hashes(root) == before  # nothing lost or changed
    assert _run(other, "--limit", "1", "--overwrite").exit_code == 0
    assert tree_hashes(root) != before


def test_non_dataset_folder_refused(write_config, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("precious")
    res = _run(write_config("busy"))
    assert res.exit_code == 2
    assert (tmp_path / "busy" / "thesis.tex").read_text() == "precious"


def test_truncated_image_is_recorded_failed_and_run_goes_on(write_config, tmp_path, demo_world):
    cs = tmp_path / "cs"
    shutil.copytree(demo_world / "world" / "cityscapes", cs)
    victim = sorted((cs / "leftImg8bit" / "val").rglob("*.png"))[0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    res = _run(write_config("trunc", {"sources.cityscapes.root": str(cs)}))
    assert res.exit_code == 1, res.output
    stem = victim.name.replace("_leftImg8bit.png", "")
    recs = [json.loads(x) for x in (tmp_path / "trunc" / "manifest.jsonl").read_text().splitlines()]
    failed = [r for r in recs if r["status"] == "failed"]
    assert failed and all(r["image_id"] == stem for r in failed)
    assert "truncated" in failed[0]["error"] and victim.name in failed[0]["error"]
    assert sum(r["status"] == "ok" for r in recs) == len(recs) - len(failed)
    # fail-fast stops at the first failure and also exits 1
    res = _run(write_config("trunc2", {"sources.cityscapes.root": str(cs)}), "--fail-fast")
    assert res.exit_code == 1
