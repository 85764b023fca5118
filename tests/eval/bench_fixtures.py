"""A small benchmark world for ``oodforge benchmark`` tests, and the by-hand reference (``score`` + ``eval``).

- a demo world (Cityscapes + COCO layouts, 256 x 512 frames) and a synthesized ``test`` split made from its val
  frames by ``oodforge synth`` (benchmark ``synth``, components on the AnomalyTrack);
- SMIYC RoadAnomaly21 and RoadObstacle21 in the official layout (32 x 64 fixture frames, protocol ``smiyc``);
- saved logits for every frame (``logits/<entry>/<id>.npy``; float16 for synth and Cityscapes like
  ``oodforge predict --logits``, float32 for SMIYC) that rank anomaly pixels higher, with noise;
- SML statistics fitted on the Cityscapes logits.

Importable as ``bench_fixtures`` (loaded with importlib by the tests that use it).
"""

from __future__ import annotations

import importlib.util
import math
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from _helpers import demo_config_dict


def _load(name: str, path: Path) -> Any:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


bf = _load("benchmark_fixtures", Path(__file__).parents[1] / "benchmarks" / "fixtures.py")

C = 20  # classes of the saved logits (19 train ids + void), like the course ERFNet


@dataclass
class World:
    root: Path
    cityscapes: Path
    synth: Path
    smiyc: Path
    logits: Path
    sml_stats: Path
    ids: dict[str, list[str]] = field(default_factory=dict)

    def suite(self, path: Path, **overrides: Any) -> Path:
        """Write a suite over synth, ra21, ro21 (msp, maxlogit, entropy, energy, sml; T = 1 and 0.5)."""
        data: dict[str, Any] = {
            "name": "test_suite",
            "benchmarks": [
                {"name": "synth", "benchmark": "synth", "root": str(self.synth), "split": "test"},
                {"name": "ra21", "benchmark": "road_anomaly_21", "root": str(self.smiyc), "split": "validation"},
                {"name": "ro21", "benchmark": "road_obstacle_21", "root": str(self.smiyc), "split": "validation"},
            ],
            "scores": ["msp", "maxlogit", "entropy", "energy", "sml"],
            "sml_stats": str(self.sml_stats),
            "temperatures": {"values": [1.0, 0.5]},
        }
        data.update(overrides)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path


def logits_for(key: str, label: np.ndarray, dtype: type, classes: int = C) -> np.ndarray:
    """Noisy logits, a confident class on normal pixels (ids 0..18 of ``label % 19``), flatter on anomalies."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    z = rng.standard_normal((classes, *label.shape)) * 1.5
    cls = np.where(label < 19, label, 0).astype(np.intp)
    rows, cols = np.indices(label.shape)
    z[cls, rows, cols] += np.where(label == 1, 0.5, 3.0)
    return z.astype(dtype)


def build_world(tmp: Path) -> World:
    from oodforge.benchmarks import open_benchmark
    from oodforge.demo.world import write_demo_world
    from oodforge.scores import fit_sml_stats
    from oodforge.sources.cityscapes import frame_paths, list_image_ids, load_label_ids
    from oodforge.sources.cityscapes_labels import label_id_to_train_id_lut
    from oodforge.synth.runner import synthesize_dataset

    write_demo_world(tmp / "world", n_train=1, n_val=4, n_test=1, n_coco_images=12)
    data = demo_config_dict()
    data["sources"]["cityscapes"]["root"] = str(tmp / "world" / "cityscapes")
    data["sources"]["coco"]["root"] = str(tmp / "world" / "coco")
    data["sources"]["coco"]["cache_dir"] = str(tmp / "cache")
    data["dataset"]["output_root"] = str(tmp / "dataset")
    data["splits"] = {"test": {"source": "val", "part": [0.0, 1.0], "clean_ratio": 0.0, "synth_ratio": 1.0}}
    (tmp / "demo.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    assert not synthesize_dataset(tmp / "demo.yaml", workers=1).failed
    smiyc = tmp / "smiyc"
    bf.write_road_anomaly_21(smiyc)
    bf.write_road_obstacle_21(smiyc)
    world = World(tmp, tmp / "world" / "cityscapes", tmp / "dataset", smiyc, tmp / "logits", tmp / "sml.npz")
    for name, bench, root, split, dtype in (
        ("synth", "synth", world.synth, "test", np.float16),
        ("ra21", "road_anomaly_21", smiyc, "validation", np.float32),
        ("ro21", "road_obstacle_21", smiyc, "validation", np.float32),
    ):
        reader = open_benchmark(bench, root, split)
        world.ids[name] = reader.image_ids()
        (world.logits / name).mkdir(parents=True)
        for image_id in reader.image_ids():
            np.save(world.logits / name / f"{image_id}.npy", logits_for(image_id, reader.load_label(image_id), dtype))
    lut = label_id_to_train_id_lut()
    (world.logits / "cityscapes").mkdir()
    cs_logits = []
    world.ids["cityscapes"] = list_image_ids(world.cityscapes, "val")
    for image_id in world.ids["cityscapes"]:
        target = lut[load_label_ids(frame_paths(world.cityscapes, "val", image_id).label_path)]
        z = logits_for("cs" + image_id, np.where(target == 255, 0, target).astype(np.uint8), np.float16)
        np.save(world.logits / "cityscapes" / f"{image_id}.npy", z)
        cs_logits.append(z)
    fit_sml_stats(cs_logits).save(world.sml_stats)
    return world


def hand_report(world: World, entry: dict[str, Any], logits_dir: Path, score: str, t: float, out: Path) -> Any:
    """What a user gets with ``oodforge score`` (float16, ``--temperature`` where the score takes one) + ``eval``."""
    from oodforge.eval import evaluate, score_logits_dir

    takes_t = score in ("msp", "entropy", "energy", "rba")
    score_logits_dir(
        score, logits_dir, out, temperature=t if takes_t and t != 1.0 else None,
        sml_stats=world.sml_stats if score == "sml" else None,
    )  # fmt: skip
    return evaluate(entry["benchmark"], entry["root"], out, split=entry["split"])


def same_report(mine: Any, ref: Any) -> None:
    """Every number of two EvalReports is equal (NaN equal to NaN), curves and histogram included."""
    from oodforge.eval.report import json_safe

    assert json_safe(mine.pixel.to_dict()) == json_safe(ref.pixel.to_dict())
    got = None if mine.components is None else json_safe(mine.components.to_dict())
    want = None if ref.components is None else json_safe(ref.components.to_dict())
    assert got == want
    assert (mine.component_threshold, mine.component_track) == (ref.component_threshold, ref.component_track)
    assert mine.curves.to_dict() == ref.curves.to_dict()
    assert mine.histogram.to_dict() == ref.histogram.to_dict()
    assert (mine.n_images, mine.protocol, mine.split, mine.notes) == (ref.n_images, ref.protocol, ref.split, ref.notes)
    assert math.isfinite(mine.pixel.ap)


def tiny_erfnet(path: Path, classes: int = C) -> Path:
    """A random-init ERFNet state dict (seed 0), as a published weights file."""
    import torch

    from oodforge.models import create_model

    torch.manual_seed(0)
    torch.save(create_model("erfnet", num_classes=classes).state_dict(), path)
    return path


def counting_predictor(weights: Path) -> Any:
    """A predictor of :func:`tiny_erfnet` at native size whose model counts its forward calls (``.model.calls``)."""
    import torch

    from oodforge.learn.predict import load_predictor

    class Counting(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner
            self.calls = 0

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            self.calls += 1
            return self.inner(x)

    pred = load_predictor(
        model="erfnet", weights=weights, device="cpu", overrides={"short_side": None, "size": None, "scale": None}
    )
    pred.model = Counting(pred.model).eval()
    return pred
