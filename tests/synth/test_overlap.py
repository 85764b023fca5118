"""allow_anomaly_overlap: the manifest counts and describes what is visible in the final image."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from oodforge._io import read_image_rgb, read_label_png
from oodforge.config.schema import BlendingConfig
from oodforge.inspect.verify import verify_dataset
from oodforge.sources.cityscapes import frame_paths
from oodforge.synth.apply import render_placements, render_visible
from oodforge.synth.search import Placement
from oodforge.synth.shadow import ShadowParams, shadow_factor
from oodforge.synth.write import instance_records

H, W = 60, 80


def _square(x0: int, y0: int, size: int) -> tuple[Placement, tuple[np.ndarray, np.ndarray]]:
    rgb = np.random.default_rng(size).integers(0, 256, (size, size, 3), dtype=np.uint8)
    pl = Placement(0, "road", x0, y0, size, size, 1.0, False, 1.0, (x0, y0, size, size))
    return pl, (rgb, np.ones((size, size), bool))


def _scene() -> tuple[np.ndarray, np.ndarray]:
    return np.full((H, W, 3), 90, np.uint8), np.zeros((H, W), np.uint8)


def test_a_completely_hidden_object_is_dropped_and_the_rest_renumbered() -> None:
    small, big, apart = _square(22, 22, 8), _square(12, 12, 28), _square(50, 20, 12)
    placements = [small[0], big[0], apart[0]]
    sources = [small[1], big[1], apart[1]]
    blending = BlendingConfig(feather_px=2)
    scene, gt = _scene()
    everything = render_placements(scene, gt, placements, sources, blending)
    assert everything.areas[0] == 0  # the big square covers every visible pixel of the small one
    kept, rendered = render_visible(scene, gt, placements, sources, blending)
    assert kept == [big[0], apart[0]]
    assert sorted(np.unique(rendered.id_map).tolist()) == [0, 1, 2]
    assert rendered.areas == everything.areas[1:] and all(a > 0 for a in rendered.areas)
    np.testing.assert_array_equal(rendered.id_map, np.where(everything.id_map > 0, everything.id_map - 1, 0))
    # exactly as if the hidden object had never been placed: no rim, shadow or ring effect of it remains
    alone = render_placements(scene, gt, kept, sources[1:], blending)
    np.testing.assert_array_equal(rendered.image, alone.image)
    np.testing.assert_array_equal(rendered.gt, alone.gt)
    # nothing hidden: the plain rendering
    kept2, same = render_visible(scene, gt, placements[1:], sources[1:], blending)
    assert kept2 == placements[1:]
    np.testing.assert_array_equal(same.image, alone.image)


def test_visible_fraction_counts_later_objects() -> None:
    first, second = _square(10, 10, 20), _square(20, 10, 20)  # the second hides the right half of the first
    blending = BlendingConfig(feather_px=0)
    scene, gt = _scene()
    kept, rendered = render_visible(scene, gt, [first[0], second[0]], [first[1], second[1]], blending)
    pool = SimpleNamespace(category_ids=[18], ann_ids=[7], image_ids=[3], category_names={18: "dog"})
    recs = instance_records(pool, kept, rendered)  # type: ignore[arg-type]
    assert [r.area_px for r in recs] == [200, 400]
    assert [r.visible_fraction for r in recs] == [0.5, 1.0]
    assert recs[0].bbox == [10, 10, 10, 20]


def _records(root: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (root / "manifest.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def overlapping(tmp_path_factory: pytest.TempPathFactory, demo_world: Path) -> tuple[Path, Path]:
    """Six objects per val frame, road only, overlap allowed: some objects end completely hidden."""
    import yaml

    from _helpers import demo_config_dict
    from oodforge.synth.runner import synthesize_dataset

    tmp = tmp_path_factory.mktemp("overlap")
    data = demo_config_dict()
    data["sources"]["cityscapes"]["root"] = str(demo_world / "world" / "cityscapes")
    data["sources"]["coco"]["root"] = str(demo_world / "world" / "coco")
    data["sources"]["coco"]["cache_dir"] = str(demo_world / "cache")
    data["dataset"]["output_root"] = str(tmp / "ds")
    data["splits"] = {"t": {"source": "val", "part": [0.0, 1.0], "clean_ratio": 0.0, "synth_ratio": 1.0}}
    data["synthesis"]["instances_per_image"] = {"min": 6, "max": 6}
    data["synthesis"]["placement"]["allow_anomaly_overlap"] = True
    data["synthesis"]["placement"]["target_labels"] = {"road": 1.0}
    cfg = tmp / "c.yaml"
    cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    summary = synthesize_dataset(cfg)
    assert not summary.failed
    return summary.output_root, demo_world / "world" / "cityscapes"


def test_hidden_objects_are_not_counted(overlapping: tuple[Path, Path]) -> None:
    root, _ = overlapping
    records = _records(root)
    notes = [r["placement_note"] or "" for r in records]
    assert any("hidden completely by later objects" in n for n in notes)  # the case is exercised
    for r in records:
        ids = read_label_png(root / r["outputs"]["instances"], np.uint16)
        assert r["placed_instances"] == len(r["instances"]) == len(r["coco_ann_ids"]) == int(ids.max())
        assert r["placed_instances"] <= r["planned_instances"]
        for k, inst in enumerate(r["instances"], start=1):
            yy, xx = np.nonzero(ids == k)
            assert inst["area_px"] == yy.size > 0
            assert inst["bbox"] == [int(xx.min()), int(yy.min()), int(np.ptp(xx)) + 1, int(np.ptp(yy)) + 1]
            assert 0 < inst["visible_fraction"] <= 1
        labels = json.loads((root / r["outputs"]["labels"]).read_text())
        assert [e["area_px"] for e in labels] == [i["area_px"] for i in r["instances"]]
    assert not verify_dataset(root).problems


def test_no_trace_of_dropped_objects(overlapping: tuple[Path, Path]) -> None:
    """Every changed pixel is anomaly, ignore (a listed object's rim) or a listed object's shadow."""
    root, cs_root = overlapping
    for r in _records(root):
        if not r["placed_instances"]:
            continue
        out = read_image_rgb(root / r["outputs"]["image"])
        src = read_image_rgb(frame_paths(cs_root, "val", r["image_id"]).image_path)
        gt = read_label_png(root / r["outputs"]["gt_pixel"])
        allowed = gt != 0
        for inst in r["instances"]:
            if inst["shadow"] is not None:
                params = ShadowParams(**inst["shadow"])
                x0, y0, x1, y1 = win = params.window(*gt.shape)
                allowed[y0:y1, x0:x1] |= shadow_factor(params, win) < 1.0
        assert not ((out != src).any(axis=2) & ~allowed).any(), r["image_id"]
