"""SMIYC submission from saved logits or a model: hidden-label splits read for images only, maps equal to
`oodforge score` cast to float16, the official layout, owned output folder, refusals."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from oodforge.benchmarks import BenchmarkReader, benchmark_class, open_benchmark
from oodforge.errors import DataLayoutError, InputFileError, SampleError, UsageError
from oodforge.eval._bench_source import LogitsSource, ModelSource
from oodforge.eval.scoring import score_logits_dir
from oodforge.eval.smiyc_submission import read_smiyc_submission
from oodforge.eval.smiyc_submit import SMIYC_SPLITS, plan_submission, submit_smiyc

if "benchmark_fixtures" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "benchmark_fixtures", Path(__file__).parents[1] / "benchmarks" / "fixtures.py"
    )
    assert _spec is not None and _spec.loader is not None
    sys.modules["benchmark_fixtures"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["benchmark_fixtures"])
bf = sys.modules["benchmark_fixtures"]

RA_VAL = ("validation0000", "validation0001")
RA_TEST = ("cow0003", "road0002")  # labels hidden: no label file
RO_VAL = ("validation_1",)
RO_TEST = ("curvy-street_box_2", "gravel_axe_1")
C = 5
IDS = {"road_anomaly_21": RA_VAL + RA_TEST, "road_obstacle_21": RO_VAL + RO_TEST}


def build(tmp: Path) -> tuple[Path, Path]:
    """SMIYC official layout (test frames without label files) and random float32 logits for every frame."""
    root = tmp / "datasets"
    bf.write_road_anomaly_21(root, fids=IDS["road_anomaly_21"], without_label=RA_TEST)
    d = "dataset_ObstacleTrack"
    bf.write_pairs(root, f"{d}/images", f"{d}/labels_masks", IDS["road_obstacle_21"], "webp",
                   "_labels_semantic.png", bf.SMIYC_RAW, RO_TEST)  # fmt: skip
    logits = tmp / "logits"
    rng = np.random.default_rng(0)
    for bench, ids in IDS.items():
        (logits / bench).mkdir(parents=True)
        for image_id in ids:
            np.save(logits / bench / f"{image_id}.npy", (rng.standard_normal((C, bf.H, bf.W)) * 3).astype(np.float32))
    return root, logits


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    return build(tmp_path)


def _method(tmp: Path, name: str = "MyMethod") -> Path:
    return tmp / "outputs" / "anomaly_p" / name


def _same_as_score(files: list[Path], ref_dir: Path) -> None:
    assert files
    for path in files:
        got = read_smiyc_submission(path)
        want = np.load(ref_dir / f"{path.stem}.npy")
        assert got.dtype == np.float16 and want.dtype == np.float16
        np.testing.assert_array_equal(got, want)


def test_open_images_keeps_frames_without_labels(world: tuple[Path, Path]) -> None:
    root, _ = world
    with pytest.raises(DataLayoutError, match="have no label file"):
        open_benchmark("road_anomaly_21", root, "test")
    reader = benchmark_class("road_anomaly_21").open_images(root, "test")
    assert reader.images_only and reader.image_ids() == sorted(RA_TEST)
    image = reader.load_image("road0002")
    assert image.shape == (bf.H, bf.W, 3) and image.dtype == np.uint8
    assert np.abs(image.astype(int) - bf.frame_image(IDS["road_anomaly_21"].index("road0002"))).max() <= 2  # jpg
    with pytest.raises(SampleError):
        reader.load("road0002")
    assert not open_benchmark("road_anomaly_21", root, "validation").images_only


@pytest.mark.parametrize(("bench", "score", "temperature"), [
    ("road_anomaly_21", "msp", None), ("road_anomaly_21", "energy", 2.0), ("road_obstacle_21", "entropy", 0.5),
    ("road_obstacle_21", "maxlogit", None),
])  # fmt: skip
def test_test_split_from_logits_equals_score(
    world: tuple[Path, Path], tmp_path: Path, bench: str, score: str, temperature: float | None
) -> None:
    root, logits = world
    out = _method(tmp_path)
    steps: list[tuple[str, int, int]] = []
    res = submit_smiyc(bench, root, out, score, LogitsSource(logits), temperature=temperature,
                       progress=lambda *a: steps.append(a))  # fmt: skip
    persist = "AnomalyTrack-all" if bench == "road_anomaly_21" else "ObstacleTrack-all"
    test_ids = RA_TEST if bench == "road_anomaly_21" else RO_TEST
    assert res.folder == out / persist and res.dataset == SMIYC_SPLITS[bench]["test"] and res.split == "test"
    assert res.files == [out / persist / f"{i}.hdf5" for i in sorted(test_ids)]
    assert sorted(p.name for p in (out / persist).iterdir()) == sorted([".oodforge", *(f"{i}.hdf5" for i in test_ids)])
    assert json.loads((out / persist / ".oodforge" / "files.json").read_text())["files"] == sorted(
        f"{i}.hdf5" for i in test_ids
    )
    assert steps[-1][1:] == (len(test_ids), len(test_ids))
    score_logits_dir(score, logits / bench, tmp_path / "ref", temperature=temperature)
    _same_as_score(res.files, tmp_path / "ref")
    assert res.notes == []
    assert "--only-frame-vis" in res.toolkit_command()
    assert res.toolkit_command().startswith(f"DIR_OUTPUTS={(tmp_path / 'outputs').resolve()} python -m ")


def test_validation_split_reads_no_label(
    world: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, logits = world

    def no_label(*_: Any) -> Any:
        raise AssertionError("a label was read")

    monkeypatch.setattr(BenchmarkReader, "load_label", no_label)
    res = submit_smiyc("road_anomaly_21", root, _method(tmp_path), "energy", LogitsSource(logits), split="validation")
    assert [p.stem for p in res.files] == list(RA_VAL)
    score_logits_dir("energy", logits / "road_anomaly_21", tmp_path / "ref")
    _same_as_score(res.files, tmp_path / "ref")
    assert res.toolkit_command().endswith("metric PixBinaryClass,SegEval-AnomalyTrack MyMethod AnomalyTrack-validation")


def test_sml_and_rba_pairs_as_score(world: tuple[Path, Path], tmp_path: Path) -> None:
    from oodforge.scores import fit_sml_stats

    root, logits = world
    stats = tmp_path / "sml.npz"
    fit_sml_stats([np.load(p) for p in sorted((logits / "road_obstacle_21").glob("*.npy"))]).save(stats)
    res = submit_smiyc("road_obstacle_21", root, _method(tmp_path), "sml", LogitsSource(logits), sml_stats=stats)
    score_logits_dir("sml", logits / "road_obstacle_21", tmp_path / "ref_sml", sml_stats=stats)
    _same_as_score(res.files, tmp_path / "ref_sml")

    pairs = tmp_path / "pairs"
    (pairs / "road_anomaly_21").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for image_id in IDS["road_anomaly_21"]:
        np.savez(pairs / "road_anomaly_21" / f"{image_id}.npz", class_logits=rng.standard_normal((3, C + 1)),
                 mask_logits=rng.standard_normal((3, bf.H, bf.W)).astype(np.float32))  # fmt: skip
    res = submit_smiyc("road_anomaly_21", root, _method(tmp_path, "Rba"), "rba", LogitsSource(pairs),
                       class_temperature=2.0)  # fmt: skip
    score_logits_dir("rba", pairs / "road_anomaly_21", tmp_path / "ref_rba", class_temperature=2.0)
    _same_as_score(res.files, tmp_path / "ref_rba")
    with pytest.raises(InputFileError, match=r"cow0003\.npz: score 'msp': mask-classification logits .* need method"):
        submit_smiyc("road_anomaly_21", root, _method(tmp_path, "Msp"), "msp", LogitsSource(pairs))


def test_model_runs_once_per_frame_and_equals_score(world: tuple[Path, Path], tmp_path: Path) -> None:
    import torch

    from oodforge._io import read_image_rgb
    from oodforge.learn.predict import load_predictor
    from oodforge.models import create_model

    root, _ = world
    torch.manual_seed(0)
    torch.save(create_model("erfnet", num_classes=C).state_dict(), tmp_path / "w.pth")
    pred = load_predictor(model="erfnet", weights=tmp_path / "w.pth", device="cpu",
                          overrides={"short_side": None, "size": None, "scale": None})  # fmt: skip
    source = ModelSource(pred)
    res = submit_smiyc("road_obstacle_21", root, _method(tmp_path), "msp", source)
    assert source.forward_calls == len(RO_TEST)
    reader = benchmark_class("road_obstacle_21").open_images(root, "test")
    (tmp_path / "model_logits").mkdir()
    for image_id in RO_TEST:
        logits, _ = pred.run(read_image_rgb(reader.frame_files(image_id).image_path))
        np.save(tmp_path / "model_logits" / f"{image_id}.npy", logits.numpy())
    score_logits_dir("msp", tmp_path / "model_logits", tmp_path / "ref")
    _same_as_score(res.files, tmp_path / "ref")
    assert len({read_smiyc_submission(p).tobytes() for p in res.files}) == len(RO_TEST)  # not one constant map


def test_refusals_before_any_output(world: tuple[Path, Path], tmp_path: Path) -> None:
    root, logits = world
    out = _method(tmp_path)
    with pytest.raises(UsageError, match="submissions exist for road_anomaly_21 and road_obstacle_21 only"):
        plan_submission("fishyscapes_static", root, out, "msp")
    with pytest.raises(UsageError, match="submissions exist for"):
        plan_submission("no_such_benchmark", root, out, "msp")
    with pytest.raises(UsageError, match=r"unknown score method 'nope'; available methods: .*msp"):
        plan_submission("road_anomaly_21", root, out, "nope")
    with pytest.raises(UsageError, match="--temperature does not apply to method 'maxlogit'"):
        plan_submission("road_anomaly_21", root, out, "maxlogit", temperature=2.0)
    with pytest.raises(UsageError, match="unknown split 'train'"):
        plan_submission("road_anomaly_21", root, out, "msp", split="train")
    (logits / "road_anomaly_21" / "road0002.npy").unlink()
    with pytest.raises(InputFileError, match=r"road0002\.npy: missing logits file"):
        submit_smiyc("road_anomaly_21", root, out, "msp", LogitsSource(logits))
    assert not out.exists()


def test_foreign_folder_refused_previous_export_replaced_other_track_kept(
    world: tuple[Path, Path], tmp_path: Path
) -> None:
    root, logits = world
    out = _method(tmp_path)
    (out / "AnomalyTrack-all").mkdir(parents=True)
    (out / "AnomalyTrack-all" / "mine.hdf5").write_bytes(b"user")
    with pytest.raises(UsageError, match=r"--out .*AnomalyTrack-all: not empty \(found 'mine.hdf5'\)"):
        plan_submission("road_anomaly_21", root, out, "msp")
    assert (out / "AnomalyTrack-all" / "mine.hdf5").read_bytes() == b"user"
    (out / "AnomalyTrack-all" / "mine.hdf5").unlink()

    first = submit_smiyc("road_anomaly_21", root, out, "msp", LogitsSource(logits), split="all")
    assert len(first.files) == 4
    obstacle = submit_smiyc("road_obstacle_21", root, out, "msp", LogitsSource(logits))  # same method folder
    with pytest.raises(UsageError, match=r"holds a previous SMIYC submission .*--overwrite"):
        submit_smiyc("road_anomaly_21", root, out, "energy", LogitsSource(logits))
    again = submit_smiyc("road_anomaly_21", root, out, "energy", LogitsSource(logits), overwrite=True)
    assert again.replaced == 4
    assert sorted(p.name for p in (out / "AnomalyTrack-all").glob("*.hdf5")) == [f"{i}.hdf5" for i in sorted(RA_TEST)]
    score_logits_dir("energy", logits / "road_anomaly_21", tmp_path / "ref")
    _same_as_score(again.files, tmp_path / "ref")
    assert all(p.is_file() for p in obstacle.files)


def test_bad_outputs_one_line_naming_the_file(world: tuple[Path, Path], tmp_path: Path) -> None:
    root, logits = world
    np.save(logits / "road_anomaly_21" / "cow0003.npy", np.zeros((C, bf.H, bf.W + 1), np.float32))
    with pytest.raises(InputFileError, match=r"cow0003\.npy: output is 65x32, the image 64x32"):
        submit_smiyc("road_anomaly_21", root, _method(tmp_path), "msp", LogitsSource(logits))
    np.save(logits / "road_anomaly_21" / "cow0003.npy", np.full((C, bf.H, bf.W), 1e5, np.float32))
    with pytest.raises(InputFileError, match=r"cow0003\.npy: score 'maxlogit': .*exceeds float16's maximum 65504"):
        submit_smiyc("road_anomaly_21", root, _method(tmp_path, "B"), "maxlogit", LogitsSource(logits))


def test_notes_outside_anomaly_p(world: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = world
    plan = plan_submission("road_anomaly_21", root, tmp_path / "elsewhere" / "a,b", "msp")
    assert any("$DIR_OUTPUTS/anomaly_p/<MethodName>" in n for n in plan.notes)
    assert any("commas" in n for n in plan.notes)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="exists and is not a folder"):
        plan_submission("road_anomaly_21", root, tmp_path / "file", "msp")


def test_toolkit_command_quotes_paths(tmp_path: Path) -> None:
    from oodforge.eval.smiyc_submit import SubmissionResult

    folder = tmp_path / "my outputs" / "anomaly_p" / "My Method" / "ObstacleTrack-all"
    res = SubmissionResult("road_obstacle_21", "validation", "ObstacleTrack-validation", folder, [], 0, [])
    outputs = (tmp_path / "my outputs").resolve()
    assert res.toolkit_command() == (
        f"DIR_OUTPUTS='{outputs}' python -m road_anomaly_benchmark metric PixBinaryClass,SegEval-ObstacleTrack "
        "'My Method' ObstacleTrack-validation"
    )
