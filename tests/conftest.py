"""Shared fixtures: the demo world (written once per session) and configs pointing at it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from _helpers import demo_config_dict


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo world (Cityscapes + COCO layouts); returns the folder holding `world/`."""
    from oodforge.demo.world import write_demo_world

    base = tmp_path_factory.mktemp("demo")
    write_demo_world(base / "world", n_train=6, n_val=10, n_test=2)
    return base


@pytest.fixture
def write_config(demo_world: Path, tmp_path: Path):
    """Write a demo-world config with overrides; returns its path. Output goes to tmp_path/<out>."""

    def make(out: str = "ds", overrides: dict[str, Any] | None = None) -> Path:
        data = copy.deepcopy(demo_config_dict())
        data["sources"]["cityscapes"]["root"] = str(demo_world / "world" / "cityscapes")
        data["sources"]["coco"]["root"] = str(demo_world / "world" / "coco")
        data["sources"]["coco"]["cache_dir"] = str(demo_world / "cache")
        data["dataset"]["output_root"] = str(tmp_path / out)
        for dotted, value in (overrides or {}).items():
            node = data
            *parents, last = dotted.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = value
        path = tmp_path / f"{out}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return make
