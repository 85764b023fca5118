"""dataset_stats: numbers hand-checked on the fixture dataset; render_stats prints tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from oodforge.inspect.stats import dataset_stats, render_stats

AREA = 32 * 64


def test_split_counts(dataset: Path) -> None:
    stats = dataset_stats(dataset)
    assert list(stats["splits"]) == ["train", "val"]
    train = stats["splits"]["train"]
    assert {k: train[k] for k in ("n_images", "n_clean", "n_synth", "n_with_anomaly")} == {
        "n_images": 3,
        "n_clean": 1,
        "n_synth": 2,
        "n_with_anomaly": 1,
    }
    assert train["n_synth_without_anomaly"] == 1
    assert train["n_failed"] == 0
    assert (train["planned_instances"], train["placed_instances"]) == (4, 2)
    assert train["placement_rate"] == pytest.approx(0.5)
    assert train["image_size"] == [32, 64]
    assert list(train["categories"].items()) == [("cat", 1), ("dog", 1)]
    assert train["target_labels"] == {"road": 1, "sidewalk": 1}
    assert train["flip_rate"] == pytest.approx(0.5)


def test_split_distributions(dataset: Path) -> None:
    train = dataset_stats(dataset)["splits"]["train"]
    area = train["area_px"]  # areas 24 and 40
    assert (area["min"], area["p25"], area["median"], area["p75"], area["max"]) == (24, 28, 32, 36, 40)
    assert area["p5"] == pytest.approx(24.8)
    assert train["area_frac"]["median"] == pytest.approx(32 / AREA)
    assert train["coverage"]["median"] == pytest.approx(0.95)
    assert train["scale"]["min"] == pytest.approx(0.5)
    assert train["scale"]["max"] == pytest.approx(1.0)


def test_totals(dataset: Path) -> None:
    totals = dataset_stats(dataset)["totals"]
    assert totals["n_images"] == 4
    assert (totals["planned_instances"], totals["placed_instances"]) == (5, 3)
    assert totals["placement_rate"] == pytest.approx(0.6)
    assert list(totals["categories"].items()) == [("dog", 2), ("cat", 1)]
    assert list(totals["target_labels"].items()) == [("road", 2), ("sidewalk", 1)]
    assert totals["flip_rate"] == pytest.approx(1 / 3)
    assert (totals["area_px"]["min"], totals["area_px"]["median"], totals["area_px"]["max"]) == (24, 40, 50)
    assert totals["area_frac"]["max"] == pytest.approx(50 / AREA)
    assert totals["image_size"] is None


def test_no_instances_and_failed(dataset: Path, helpers) -> None:
    records = helpers.read_records(dataset)
    failed = dict(records[3], status="failed", error="boom", instances=[], coco_ann_ids=[], placed_instances=0)
    failed.update(has_anomaly=False, outputs={}, sha256={})
    helpers.write_records(dataset, [*records[:3], failed])
    val = dataset_stats(dataset)["splits"]["val"]
    assert val["n_failed"] == 1
    assert val["n_synth_without_anomaly"] == 0
    assert val["placement_rate"] == 0.0
    assert val["area_px"] is None
    assert val["flip_rate"] is None
    assert val["image_size"] is None


def test_json_serialisable_and_rendered(dataset: Path) -> None:
    stats = dataset_stats(dataset)
    assert json.loads(json.dumps(stats)) == stats
    console = Console(record=True, width=160)
    render_stats(stats, console)
    text = console.export_text()
    for needle in ("n_synth_without_anomaly", "placement_rate", "50.0%", "train: placed objects", "dog", "median"):
        assert needle in text
