"""A split that receives no image is named, with its source folder and part range."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from oodforge.config.loader import load_config
from oodforge.synth.runner import plan_tasks
from oodforge.synth.split_warnings import empty_split_warnings

SPLITS = {
    "train": {"source": "train", "part": [0.0, 1.0], "clean_ratio": 0.5, "synth_ratio": 0.5},
    "none": {"source": "val", "part": [0.5, 0.5], "clean_ratio": 1.0, "synth_ratio": 0.0},
    "sliver": {"source": "val", "part": [0.0, 0.0001], "clean_ratio": 0.0, "synth_ratio": 1.0},
}


def test_empty_splits_are_named(write_config: Callable[..., Path], demo_world: Path) -> None:
    cfg = load_config(write_config("w", {"splits": SPLITS}))
    tasks = plan_tasks(cfg)
    assert {s for s, _ in tasks} == {"train"}  # the demo's 10 val ids miss both narrow parts
    warnings = empty_split_warnings(cfg, tasks)
    assert len(warnings) == 2
    none, sliver = warnings
    folder = str(demo_world / "world" / "cityscapes" / "leftImg8bit" / "val")
    assert none.startswith("splits.none: empty split, no images will be written") and "part [0.5, 0.5) of" in none
    assert folder in none and "expected lo < hi" in none
    assert sliver.startswith("splits.sliver:") and "part [0, 0.0001)" in sliver and folder in sliver
    assert "source 'val'" in sliver and "expected a wider part" in sliver
    assert all("\n" not in w for w in warnings)


def test_only_the_selected_split_and_none_when_all_have_images(write_config: Callable[..., Path]) -> None:
    cfg = load_config(write_config("w", {"splits": SPLITS}))
    assert empty_split_warnings(cfg, plan_tasks(cfg, split="train"), "train") == []
    assert [w.split(":")[0] for w in empty_split_warnings(cfg, [], "sliver")] == ["splits.sliver"]
    full = load_config(write_config("full"))
    assert empty_split_warnings(full, plan_tasks(full)) == []
