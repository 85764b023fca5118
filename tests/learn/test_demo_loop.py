"""The demo loop of the README end to end: tiny_semantic, then tiny_oe from its checkpoint, scored as a user would.

One module fixture writes the world of ``make demo``, runs ``configs/tiny_semantic.yaml`` and ``configs/tiny_oe.yaml``
on it as shipped (only paths changed), synthesizes a dataset of the same world with the demo config (its ``test``
split: every val frame, none of them trained on, with pasted COCO objects), and goes through the CLI: ``predict``,
``score`` and ``eval``. The OE model must beat the best post-hoc score of the plain model and keep its segmentation.

Shorter runs (fewer epochs, or the 6-frame ``demo_world`` fixture) are cheaper but leave a segmenter too weak for
the comparison to be stable across seeds, so this module runs the configs' own budget (about 90 s on 2 cores).
"""

from __future__ import annotations

import csv
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from _helpers import demo_config_dict, tiny_train_config
from oodforge.cli.main import app
from oodforge.learn.predict import load_predictor
from oodforge.learn.segeval import segment_evaluate
from oodforge.learn.train import TrainResult, train
from oodforge.learn.train_config import TrainConfig, load_train_config
from oodforge.synth.runner import synthesize_dataset

ROOT = Path(__file__).resolve().parents[2]
POST_HOC = ("msp", "maxlogit", "entropy", "energy")
N_TRAIN = 12  # training frames of the demo world (write_demo_world's default, as `make demo`)


_config = tiny_train_config


def _shipped(name: str) -> TrainConfig:
    return load_train_config(ROOT / "configs" / f"tiny_{name}.yaml")


def _logged(result: TrainResult, key: str) -> list[float]:
    with (result.log_dir / "metrics.csv").open() as fh:
        return [float(r[key]) for r in csv.DictReader(fh) if r.get(key)]


def _cli(*args: str | Path) -> None:
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output


def _clean_val_miou(checkpoint: Path, cityscapes: Path) -> float:
    """mIoU of a checkpoint on every val frame, without pastes (what `oodforge segeval` reports)."""
    return segment_evaluate(load_predictor(checkpoint=checkpoint, device="cpu"), cityscapes, "val").miou


@dataclass
class Loop:
    semantic: TrainResult
    oe: TrainResult
    stale_step: int  # global step of a shorter semantic run written to the same output_dir before
    plain: dict[str, dict[str, float]]  # post-hoc method on the plain model's logits -> `oodforge eval` pixel metrics
    oe_scores: dict[str, float]  # pixel metrics of the OE checkpoint's own score (`predict` scores/)
    offline_scores: dict[str, float]  # the same for offline OE (tiny_offline_oe on the dataset's train split)
    offline: TrainResult
    clean_miou: tuple[float, float]  # (semantic, oe) on the clean val frames
    tmp: Path  # the module's folder: world/, dataset/, plain/logits/ (predict's float16 logits)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Loop:
    from oodforge.demo.world import write_demo_world

    tmp = tmp_path_factory.mktemp("loop")
    write_demo_world(tmp / "world", n_train=N_TRAIN)
    # a user who re-runs tiny_semantic: the second run must replace last.ckpt (tiny_oe starts from that path)
    short = {
        "optim.max_epochs": 1,
        "data.max_train_images": 2,
        "data.max_val_images": 1,
        "trainer.log_every_n_steps": 1,
    }
    stale = train(_config(tmp, tmp, "semantic", short))
    stale_step = int(torch.load(stale.last_checkpoint, map_location="cpu", weights_only=False)["global_step"])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
        semantic = train(_config(tmp, tmp, "semantic"))
    oe = train(_config(tmp, tmp, "oe", {"model.init_checkpoint": str(semantic.last_checkpoint)}))

    data = demo_config_dict()
    data["sources"]["cityscapes"]["root"] = str(tmp / "world" / "cityscapes")
    data["sources"]["coco"]["root"] = str(tmp / "world" / "coco")
    data["sources"]["coco"]["cache_dir"] = str(tmp / "cache")
    data["dataset"]["output_root"] = str(tmp / "dataset")
    # every val frame (none is trained on; the runs validate on 4 of them) gets 1-3 objects: more anomaly pixels;
    # the train split is the demo's (the 12 train frames, half with objects): offline OE trains on it
    data["splits"] = {
        "train": {"source": "train", "part": [0.0, 1.0], "clean_ratio": 0.5, "synth_ratio": 0.5},
        "test": {"source": "val", "part": [0.0, 1.0], "clean_ratio": 0.0, "synth_ratio": 1.0},
    }
    (tmp / "demo.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    summary = synthesize_dataset(tmp / "demo.yaml", workers=1)
    assert not summary.failed
    dataset, images = tmp / "dataset", tmp / "dataset" / "test" / "images"
    offline = train(
        _config(tmp, tmp, "offline_oe", {"model.init_checkpoint": str(semantic.last_checkpoint),
                                         "offline.dataset": str(dataset)})
    )  # fmt: skip

    def evaluate(scores: Path) -> dict[str, float]:
        out = scores.parent / f"{scores.name}.json"
        _cli("eval", "--benchmark", "synth", "--root", dataset, "--scores", scores, "--split", "test", "-q",
             "--out", out)  # fmt: skip
        pixel: dict[str, float] = json.loads(out.read_text())["pixel"]
        return pixel

    _cli("predict", images, tmp / "plain", "-c", semantic.last_checkpoint, "--logits")
    plain = {}
    for method in POST_HOC:
        _cli("score", "--method", method, "-q", tmp / "plain" / "logits", tmp / method)
        plain[method] = evaluate(tmp / method)
    _cli("predict", images, tmp / "oe", "-c", oe.last_checkpoint)
    _cli("predict", images, tmp / "offline", "-c", offline.last_checkpoint)
    cityscapes = tmp / "world" / "cityscapes"
    clean = (_clean_val_miou(semantic.last_checkpoint, cityscapes), _clean_val_miou(oe.last_checkpoint, cityscapes))
    oe_scores, offline_scores = evaluate(tmp / "oe" / "scores"), evaluate(tmp / "offline" / "scores")
    return Loop(semantic, oe, stale_step, plain, oe_scores, offline_scores, offline, clean, tmp)


def test_oe_beats_every_post_hoc_score_of_the_plain_model(loop: Loop) -> None:
    best_ap = max(m["ap"] for m in loop.plain.values())
    best_auroc = max(m["auroc"] for m in loop.plain.values())
    figures = {"oe": loop.oe_scores, **loop.plain}
    assert loop.oe_scores["ap"] > best_ap, figures
    assert loop.oe_scores["auroc"] > best_auroc, figures


def test_offline_oe_on_a_synthesized_split_also_beats_the_plain_model(loop: Loop) -> None:
    """tiny_offline_oe: the same fine-tuning with the outliers of `oodforge synth`'s train split, not pasted live."""
    best_ap = max(m["ap"] for m in loop.plain.values())
    best_auroc = max(m["auroc"] for m in loop.plain.values())
    figures = {"offline": loop.offline_scores, "oe": loop.oe_scores, **loop.plain}
    assert loop.offline_scores["ap"] > 1.2 * best_ap, figures
    assert loop.offline_scores["auroc"] > best_auroc + 0.05, figures
    clean_semantic, _ = loop.clean_miou
    offline_miou = _clean_val_miou(loop.offline.last_checkpoint, loop.tmp / "world" / "cityscapes")
    assert offline_miou >= 0.85 * clean_semantic, (offline_miou, clean_semantic)


def test_oe_fine_tuning_keeps_the_segmentation(loop: Loop) -> None:
    semantic, oe = _logged(loop.semantic, "val/mIoU"), _logged(loop.oe, "val/mIoU")
    # logged: the OE run validates on the same 4 frames with objects pasted (their pixels ignored), a harder view
    assert oe[-1] >= 0.8 * semantic[-1], (semantic, oe)
    assert oe[0] >= 0.8 * semantic[-1], (semantic, oe)  # it started from the segmenter, not from scratch
    clean_semantic, clean_oe = loop.clean_miou
    assert clean_oe >= 0.85 * clean_semantic, loop.clean_miou


def test_a_rerun_replaces_last_ckpt(loop: Loop) -> None:
    ckpts = loop.semantic.output_dir / "checkpoints"
    assert not list(ckpts.glob("last-v*.ckpt"))
    cfg = _shipped("semantic")
    assert cfg.optim.max_epochs is not None
    step = torch.load(ckpts / "last.ckpt", map_location="cpu", weights_only=False)["global_step"]
    assert step == N_TRAIN // cfg.data.batch_size * cfg.optim.max_epochs > loop.stale_step


def test_the_tiny_configs_chain_from_the_semantic_run() -> None:
    semantic = _shipped("semantic")
    expected = str(Path(semantic.output_dir) / "checkpoints" / "last.ckpt")
    for name in ("oe", "head", "offline_oe"):
        cfg = _shipped(name)
        assert cfg.model.init_checkpoint == expected, name
    assert _shipped("oe").optim.lr <= semantic.optim.lr / 5  # a fine-tuning rate
    assert _shipped("head").head.freeze_segmenter


def test_benchmark_with_the_tiny_model_equals_score_then_eval(loop: Loop) -> None:
    """`oodforge benchmark`: every score at two temperatures in one run; the T=1 rows equal the by-hand loop above."""
    tmp = loop.tmp
    suite = {
        "name": "demo",
        "benchmarks": [{"name": "synth_test", "benchmark": "synth", "root": str(tmp / "dataset"), "split": "test"}],
        "scores": list(POST_HOC),
        "temperatures": {"values": [1.0, 2.0]},
        "miou": {"root": str(tmp / "world" / "cityscapes"), "split": "val"},
    }
    (tmp / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    (tmp / "suite_logits.yaml").write_text(yaml.safe_dump({**suite, "miou": None}, sort_keys=False))
    (tmp / "bench_logits").mkdir()
    (tmp / "bench_logits" / "synth_test").symlink_to(tmp / "plain" / "logits")
    _cli("benchmark", tmp / "suite_logits.yaml", "--out", tmp / "bench_from_logits", "--logits",
         tmp / "bench_logits", "-q")  # fmt: skip
    _cli("benchmark", tmp / "suite.yaml", "--out", tmp / "bench", "-c", loop.semantic.last_checkpoint, "-q")
    from_logits = json.loads((tmp / "bench_from_logits" / "leaderboard.json").read_text())["results"]["synth_test"]
    from_model = json.loads((tmp / "bench" / "leaderboard.json").read_text())
    for method in POST_HOC:
        same = from_logits[f"{method} @ T=1"]["pixel"]
        assert same == loop.plain[method]  # identical inputs (predict's logits): identical numbers
        model = from_model["results"]["synth_test"][f"{method} @ T=1"]["pixel"]
        # the model path scores float32 logits, predict saved float16 ones: equal to the rounding of the logits
        assert abs(model["ap"] - same["ap"]) < 2e-3 and abs(model["auroc"] - same["auroc"]) < 2e-3
        assert f"{method} @ T=2" in from_model["results"]["synth_test"]
    assert from_model["miou"]["T=1"] == from_model["miou"]["T=2"] > 0
    for name in ("leaderboard.md", "leaderboard.csv", "report.html", "plots/synth_test_pr.png"):
        assert (tmp / "bench" / name).is_file(), name
