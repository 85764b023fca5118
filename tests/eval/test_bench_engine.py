"""The ``oodforge benchmark`` engine: every (score, T) row equals ``score`` + ``eval`` by hand, one forward pass per
frame, fitted temperatures and mIoU equal their library twins, refusals before the model runs, bounded state."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from oodforge._io import read_image_rgb, read_label_png
from oodforge.errors import DataLayoutError, InputFileError, UsageError
from oodforge.eval import evaluate, score_logits_dir
from oodforge.eval._bench_entry import EntryPlan, EntryRunner
from oodforge.eval._bench_frames import WorstFrames
from oodforge.eval._bench_pairs import PairSpec, make_scorer
from oodforge.eval._bench_source import LogitsSource, ModelSource
from oodforge.eval.bench_engine import run_benchmark
from oodforge.eval.suite import load_suite
from oodforge.metrics import pixel_metrics

if "bench_fixtures" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("bench_fixtures", Path(__file__).with_name("bench_fixtures.py"))
    assert _spec is not None and _spec.loader is not None
    sys.modules["bench_fixtures"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["bench_fixtures"])
bfx = sys.modules["bench_fixtures"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return bfx.build_world(tmp_path_factory.mktemp("bench"))


def _entries(suite_path: Path) -> dict[str, dict]:
    return {b["name"]: b for b in yaml.safe_load(suite_path.read_text())["benchmarks"]}


def test_every_row_equals_score_then_eval(world: Any, tmp_path: Path) -> None:
    suite_path = world.suite(tmp_path / "suite.yaml", outputs={"score_maps": True})
    run = run_benchmark(load_suite(suite_path), LogitsSource(world.logits), tmp_path / "out")
    assert [e.name for e in run.entries] == ["synth", "ra21", "ro21"]
    assert [(e.protocol, e.components) for e in run.entries] == [
        ("fishyscapes", True),
        ("smiyc", True),
        ("smiyc", True),
    ]
    assert run.rows() == [f"{s} @ T={t}" for s in ("msp", "maxlogit", "entropy", "energy", "sml") for t in ("1", "0.5")]
    entries = _entries(suite_path)
    for name, rows in run.reports.items():
        for row, mine in rows.items():
            score, t = row.split(" @ T=")
            hand = tmp_path / "hand" / name / row.replace(" ", "")
            ref = bfx.hand_report(world, entries[name], world.logits / name, score, float(t), hand)
            bfx.same_report(mine, ref)
            folder = tmp_path / "out" / run.score_dirs[name][row]  # the written maps are the by-hand files
            for f in hand.iterdir():
                assert (folder / f.name).read_bytes() == f.read_bytes()
    synth = run.reports["synth"]
    assert synth["msp @ T=1"].pixel.ap != synth["msp @ T=0.5"].pixel.ap  # temperatures do differ
    assert synth["maxlogit @ T=1"] is synth["maxlogit @ T=0.5"]  # no temperature parameter: one state
    assert any("maxlogit, sml take no temperature" in n for n in run.notes)
    assert not any("component pass" in n for n in run.notes)  # the maps were written as outputs: no temporary copy
    assert run.miou == {"T=1": None, "T=0.5": None}
    assert len(run.worst["synth"]) == len(world.ids["synth"]) == 4


def test_component_maps_are_temporary(world: Any, tmp_path: Path) -> None:
    suite_path = world.suite(tmp_path / "suite.yaml", benchmarks=_benchmarks(world, "synth"), scores=["energy"])
    work = tmp_path / "work"
    work.mkdir()
    calls: list[tuple[str, int, int]] = []
    run = run_benchmark(
        load_suite(suite_path), LogitsSource(world.logits), None, work_dir=work, progress=lambda *a: calls.append(a)
    )
    assert list(work.iterdir()) == []
    n = len(world.ids["synth"])
    for stage in ("synth: labels", "synth: pixel metrics", "synth: component metrics"):
        assert [c[1:] for c in calls if c[0] == stage] == [(k, n) for k in range(1, n + 1)]
    assert any("component pass: 8 float16 score maps" in n for n in run.notes)
    assert run.score_dirs == {}
    mine = run.reports["synth"]["energy @ T=1"]
    assert mine.components is not None
    entry = _entries(suite_path)["synth"]  # the raw temporary maps give what `score` + `eval` give
    bfx.same_report(mine, bfx.hand_report(world, entry, world.logits / "synth", "energy", 1.0, tmp_path / "hand"))


def _benchmarks(world: Any, *names: str) -> list[dict]:
    all_ = {
        "synth": {"name": "synth", "benchmark": "synth", "root": str(world.synth), "split": "test"},
        "ra21": {"name": "ra21", "benchmark": "road_anomaly_21", "root": str(world.smiyc), "split": "validation"},
    }
    return [all_[n] for n in names]


def test_model_path_one_forward_per_frame(world: Any, tmp_path: Path) -> None:
    from oodforge.learn.segeval import segment_evaluate
    from oodforge.scores import fit_temperature
    from oodforge.sources.cityscapes import frame_paths, load_label_ids
    from oodforge.sources.cityscapes_labels import label_id_to_train_id_lut

    pred = bfx.counting_predictor(bfx.tiny_erfnet(tmp_path / "erfnet.pth"))
    cs = {"root": str(world.cityscapes), "split": "val", "limit": 2}
    suite_path = world.suite(
        tmp_path / "suite.yaml", benchmarks=_benchmarks(world, "synth", "ra21"), scores=["msp", "maxlogit", "energy"],
        temperatures={"values": [1.0, 2.0], "fit": cs, "target": "logits"}, miou=cs, outputs={"logits": True},
    )  # fmt: skip
    run = run_benchmark(load_suite(suite_path), ModelSource(pred), tmp_path / "out")
    n_frames = len(world.ids["synth"]) + len(world.ids["ra21"])
    assert pred.model.calls == n_frames + 2  # once per frame; the fit and the mIoU share one Cityscapes pass
    assert [t.label for t in run.temperatures][:2] == ["T=1", "T=2"]
    fitted = run.temperatures[2]
    assert fitted.source == "fitted"
    assert fitted.nll is not None

    # by hand: Predictor.run's logits saved as float32, then score + eval; the fit and the mIoU by their library twins
    entries = _entries(suite_path)
    lut = label_id_to_train_id_lut()
    pairs = []
    for image_id in world.ids["cityscapes"][:2]:
        frame = frame_paths(world.cityscapes, "val", image_id)
        logits, _ = pred.run(read_image_rgb(frame.image_path))
        pairs.append((logits.numpy(), lut[load_label_ids(frame.label_path)]))
    assert fitted.value == fit_temperature(pairs)
    miou = segment_evaluate(pred, world.cityscapes, "val", limit=2).miou
    assert run.miou == {t.label: miou for t in run.temperatures}
    for name in ("synth", "ra21"):
        from oodforge.benchmarks import open_benchmark

        reader = open_benchmark(entries[name]["benchmark"], entries[name]["root"], entries[name]["split"])
        folder = tmp_path / "logits" / name
        folder.mkdir(parents=True)
        for sample in reader:
            logits, _ = pred.run(sample.image)
            np.save(folder / f"{sample.image_id}.npy", logits.numpy())
            written = np.load(tmp_path / "out" / "logits" / name / f"{sample.image_id}.npy")
            assert written.dtype == np.float16
            assert np.array_equal(written, logits.numpy().astype(np.float16))
        for row, mine in run.reports[name].items():
            score, t = row.split(" @ T=")
            t_value = fitted.value if t.endswith("(fitted)") else float(t)
            ref = bfx.hand_report(world, entries[name], folder, score, t_value, tmp_path / "hand" / name / row)
            bfx.same_report(mine, ref)


def test_fitted_temperature_and_miou_from_saved_logits(world: Any, tmp_path: Path) -> None:
    from oodforge.metrics import SemanticMetrics
    from oodforge.scores import fit_temperature
    from oodforge.sources.cityscapes import frame_paths, load_label_ids
    from oodforge.sources.cityscapes_labels import label_id_to_train_id_lut

    fit = {"root": str(world.cityscapes), "split": "val", "limit": 3}
    miou = {"root": str(world.cityscapes), "split": "val"}
    suite_path = world.suite(
        tmp_path / "suite.yaml", benchmarks=_benchmarks(world, "ra21"), scores=["msp"],
        temperatures={"values": [], "fit": fit, "target": "pixel"}, miou=miou,
    )  # fmt: skip
    run = run_benchmark(load_suite(suite_path), LogitsSource(world.logits))
    lut = label_id_to_train_id_lut()
    pairs, metric = [], SemanticMetrics(20, eval_classes=19)
    for k, image_id in enumerate(world.ids["cityscapes"]):
        z = np.load(world.logits / "cityscapes" / f"{image_id}.npy")
        target = lut[load_label_ids(frame_paths(world.cityscapes, "val", image_id).label_path)]
        metric.update(np.argmax(z, axis=0), target)
        if k < 3:
            pairs.append((z, target))
    (t,) = run.temperatures
    assert (t.label, t.target) == (f"T={t.value:g} (fitted)", "pixel")
    assert t.value == fit_temperature(pairs)
    assert run.miou == {t.label: metric.compute().miou}
    assert any("NLL" in n and "at T = 1" in n for n in run.notes)
    ref = bfx.hand_report(world, _benchmarks(world, "ra21")[0], world.logits / "ra21", "msp", t.value, tmp_path / "h")
    bfx.same_report(run.reports["ra21"][f"msp @ {t.label}"], ref)


def _mask_world(world: Any, tmp_path: Path) -> Path:
    """RA21 as mask-classification outputs: class_logits (4, 4) + mask_logits (4, H, W) per frame."""
    from oodforge.benchmarks import open_benchmark

    reader = open_benchmark("road_anomaly_21", world.smiyc, "validation")
    out = tmp_path / "mask_logits" / "ra21"
    out.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for image_id in reader.image_ids():
        label = reader.load_label(image_id)
        masks = rng.standard_normal((4, *label.shape)).astype(np.float32)
        masks[0] += 4.0 * (label != 1)
        classes = rng.standard_normal((4, 4)).astype(np.float32) * 2
        np.savez(out / f"{image_id}.npz", class_logits=classes, mask_logits=masks)
    return out.parent


@pytest.mark.parametrize("target", ["class", "pixel"])
def test_mask_classification_rows_equal_score_then_eval(world: Any, tmp_path: Path, target: str) -> None:
    from oodforge.scores import mask_class_pixel_scores

    logits = _mask_world(world, tmp_path)
    suite_path = world.suite(
        tmp_path / "suite.yaml", benchmarks=_benchmarks(world, "ra21"), scores=["rba", "msp"],
        temperatures={"values": [1.0, 2.0], "target": target},
    )  # fmt: skip
    run = run_benchmark(load_suite(suite_path), LogitsSource(logits))
    assert run.scores == ["rba", "msp"]
    entry = _benchmarks(world, "ra21")[0]
    for t in (1.0, 2.0):
        out = tmp_path / f"rba{t}"
        class_t, pixel_t = (t, None) if target == "class" else (None, t)
        score_logits_dir("rba", logits / "ra21", out, class_temperature=class_t, temperature=pixel_t)
        bfx.same_report(
            run.reports["ra21"][f"rba @ T={t:g}"], evaluate("road_anomaly_21", world.smiyc, out, split="validation")
        )
        dense = tmp_path / f"dense{t}"  # msp on the per-pixel class scores, as the library computes them
        dense.mkdir()
        for f in (logits / "ra21").iterdir():
            pair = np.load(f)
            ct = t if target == "class" else 1.0
            np.save(
                dense / f"{f.stem}.npy",
                mask_class_pixel_scores(pair["class_logits"], pair["mask_logits"], temperature=ct),
            )
        ref = bfx.hand_report(world, entry, dense, "msp", 1.0 if target == "class" else t, tmp_path / f"msp{t}")
        bfx.same_report(run.reports["ra21"][f"msp @ T={t:g}"], ref)
    assert run.reports["ra21"]["rba @ T=1"].pixel.ap != run.reports["ra21"]["rba @ T=2"].pixel.ap


def test_dense_outputs_refuse_class_target_and_skip_rba(world: Any, tmp_path: Path) -> None:
    base = {"benchmarks": _benchmarks(world, "ra21")}
    miou = {"root": str(world.cityscapes), "split": "val"}
    suite = world.suite(tmp_path / "a.yaml", **base, temperatures={"values": [2.0], "target": "class"}, miou=miou)
    stages: list[str] = []
    with pytest.raises(UsageError, match="target 'class'"):
        run_benchmark(load_suite(suite), LogitsSource(world.logits), progress=lambda s, *_: stages.append(s))
    assert "cityscapes" not in stages  # refused before the Cityscapes pass
    with pytest.raises(UsageError, match="no score applies"):
        run_benchmark(load_suite(world.suite(tmp_path / "b.yaml", **base, scores=["rba"])), LogitsSource(world.logits))
    run = run_benchmark(
        load_suite(world.suite(tmp_path / "c.yaml", **base, scores=["rba", "energy"])), LogitsSource(world.logits)
    )
    assert run.scores == ["energy"]
    assert any("skipped score 'rba'" in n for n in run.notes)


def test_hidden_or_empty_labels_are_refused_before_the_model_runs(world: Any, tmp_path: Path) -> None:
    pred = bfx.counting_predictor(bfx.tiny_erfnet(tmp_path / "erfnet.pth"))
    hidden = tmp_path / "hidden"
    bfx.bf.write_road_anomaly_21(hidden, without_label=("road0002",))
    entry = {"name": "ra21", "benchmark": "road_anomaly_21", "root": str(hidden), "split": "all"}
    with pytest.raises(DataLayoutError, match="split='validation'"):
        run_benchmark(load_suite(world.suite(tmp_path / "a.yaml", benchmarks=[entry])), ModelSource(pred))
    empty = tmp_path / "empty"
    shutil.copytree(world.synth, empty)
    for png in (empty / "test" / "gt_pixel").iterdir():
        label = read_label_png(png)
        cv2.imwrite(str(png), np.where(label == 1, 0, label).astype(np.uint8))  # the test split holds no anomaly
    entries = [
        *_benchmarks(world, "ra21"),
        {"name": "empty", "benchmark": "synth", "root": str(empty), "split": "test"},
    ]
    with pytest.raises(UsageError, match=r"benchmark 'empty'.*no anomaly pixel \(label 1\)"):
        run_benchmark(load_suite(world.suite(tmp_path / "b.yaml", benchmarks=entries)), ModelSource(pred))
    assert pred.model.calls == 0


def test_missing_logits_file_is_one_line(world: Any, tmp_path: Path) -> None:
    logits = tmp_path / "logits"
    shutil.copytree(world.logits / "ra21", logits / "ra21")
    first = sorted((logits / "ra21").iterdir())[0]
    first.unlink()
    suite = world.suite(tmp_path / "s.yaml", benchmarks=_benchmarks(world, "ra21"))
    with pytest.raises(InputFileError, match=f"{first.stem}.npy: missing logits file"):
        run_benchmark(load_suite(suite), LogitsSource(logits))


def test_state_is_bounded_and_worst_frames_kept_small(world: Any) -> None:
    from oodforge.benchmarks import open_benchmark

    reader = open_benchmark("synth", world.synth, "test")
    image_id = reader.image_ids()[0]
    sample = reader.load(image_id)
    source = LogitsSource(world.logits)
    source.check("synth", reader.image_ids())
    output = source.output("synth", image_id, lambda: sample.image)
    specs = [PairSpec("msp"), PairSpec("energy", pixel_t=2.0)]
    sizes = {}
    for protocol in ("fishyscapes", "smiyc"):
        plan = EntryPlan("synth", reader, protocol, None, reader.image_ids())
        worst = WorstFrames("synth", k=2, width=64)
        runner = EntryRunner(
            plan, source, {s: make_scorer(s, None) for s in specs}, specs[0], is_mask=False,
            score_maps_dir=None, component_dir=None, logits_dir=None, worst=worst,
        )  # fmt: skip
        seen = []
        for _ in range(30):
            runner.update(image_id, sample.label, output, lambda: sample.image)
            seen.append(runner.nbytes)
        sizes[protocol] = seen
        assert len(worst.frames()) == 2
        assert worst.nbytes <= 2 * (64 * 32 * 3 + 64 * 32 * 4 + 64 * 32)  # thumbnails only, 64 px wide
    pixels = sample.label.size
    assert len(set(sizes["fishyscapes"][1:])) == 1  # constant in the number of frames
    growth = (sizes["smiyc"][-1] - sizes["smiyc"][0]) / 29
    assert growth <= 2 * 769 * 24 < 2 * pixels  # official per-frame bins of 2 rows, never the pixels


def test_worst_frames_are_the_lowest_frame_ap(world: Any, tmp_path: Path) -> None:
    suite = world.suite(tmp_path / "s.yaml", benchmarks=_benchmarks(world, "synth"), scores=["entropy", "msp"])
    run = run_benchmark(load_suite(suite), LogitsSource(world.logits), worst_frames=2, thumbnail_width=128)
    from oodforge.benchmarks import open_benchmark
    from oodforge.scores import entropy_score

    reader = open_benchmark("synth", world.synth, "test")
    aps = {}
    for image_id in reader.image_ids():
        z = np.load(world.logits / "synth" / f"{image_id}.npy")
        s16, label = entropy_score(z).astype(np.float16), reader.load_label(image_id)
        aps[image_id] = float(pixel_metrics(s16, label, "fishyscapes", single_class="nan").ap)
    expected = sorted(aps, key=aps.__getitem__)[:2]
    worst = run.worst["synth"]
    assert [w.image_id for w in worst] == expected
    assert [w.frame_ap for w in worst] == [aps[i] for i in expected]
    for w in worst:
        for png in (w.image_png, w.score_png, w.label_png):
            img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
            assert img is not None
            assert img.shape == (64, 128, 3)


def test_mask_classification_model_class_temperature(world: Any, tmp_path: Path) -> None:
    import torch

    from oodforge.benchmarks import open_benchmark
    from oodforge.learn.predict import load_predictor
    from oodforge.models import create_model
    from oodforge.models.convention import prepare_input
    from oodforge.scores import mask_class_pixel_scores

    torch.manual_seed(0)
    torch.save(create_model("eomt_vit_tiny", num_classes=4).state_dict(), tmp_path / "eomt.pth")
    native = {"short_side": None, "size": None, "scale": None}
    pred = load_predictor(model="eomt_vit_tiny", weights=tmp_path / "eomt.pth", device="cpu", overrides=native)
    source = ModelSource(pred)
    assert source.is_mask_classification("ra21", [])
    reader = open_benchmark("road_anomaly_21", world.smiyc, "validation")
    sample = reader.load(reader.image_ids()[0])
    output = source.output("ra21", sample.image_id, lambda: sample.image)
    assert output.is_mask
    assert np.array_equal(output.pixel_scores(1.0), pred.run(sample.image)[0].numpy())  # = Predictor.run's logits
    with torch.no_grad():  # class temperature 2: the softmax of the class logits / 2, at the (unpadded) image size
        out = pred.model(prepare_input(sample.image, pred.convention)[0])
        masks = torch.nn.functional.interpolate(out["mask_logits"], size=(32, 64), mode="bilinear")
        expected = mask_class_pixel_scores(out["class_logits"] / 2, masks)[0].numpy()
    np.testing.assert_allclose(output.pixel_scores(2.0), expected, atol=1e-5)
    suite = world.suite(
        tmp_path / "s.yaml", benchmarks=_benchmarks(world, "ra21"), scores=["rba", "maxlogit"],
        temperatures={"values": [1.0, 2.0], "target": "class"},
    )  # fmt: skip
    run = run_benchmark(load_suite(suite), source)
    assert run.scores == ["rba", "maxlogit"]
    assert [t.target for t in run.temperatures] == ["class", "class"]
    assert not any("take no temperature" in n or "takes no temperature" in n for n in run.notes)
    reps = run.reports["ra21"]
    assert reps["maxlogit @ T=1"] is not reps["maxlogit @ T=2"]  # the class temperature changes every score
    assert reps["rba @ T=1"].pixel.ap != reps["rba @ T=2"].pixel.ap


def test_threads_do_not_change_numbers(world: Any, tmp_path: Path) -> None:
    suite = load_suite(world.suite(tmp_path / "s.yaml", benchmarks=_benchmarks(world, "ra21", "synth")))
    serial = run_benchmark(suite, LogitsSource(world.logits), workers=1)
    threaded = run_benchmark(suite, LogitsSource(world.logits), workers=3)
    drop = ("header",)
    a, b = ({k: v for k, v in r.to_dict().items() if k not in drop} for r in (serial, threaded))
    assert a == b
    assert [w.frame_ap for w in serial.worst["synth"]] == [w.frame_ap for w in threaded.worst["synth"]]


def test_scores_beyond_float16_name_the_file(world: Any, tmp_path: Path) -> None:
    logits = tmp_path / "logits" / "ra21"
    shutil.copytree(world.logits / "ra21", logits)
    victim = sorted(logits.iterdir())[1]
    z = np.load(victim)
    z[:, 3, 3] = (
        9e4  # energy -(9e4 + log 20) at one pixel: finite, but not storable in float16 like `oodforge score` stores
    )
    np.save(victim, z)
    suite = world.suite(tmp_path / "s.yaml", benchmarks=_benchmarks(world, "ra21"), scores=["msp", "energy"])
    with pytest.raises(InputFileError) as info:
        run_benchmark(load_suite(suite), LogitsSource(tmp_path / "logits"), workers=2)
    assert str(info.value) == (
        f"{victim} (score 'energy'): expected scores within ±65504 for float16 storage, but got up to 90003"
    )
