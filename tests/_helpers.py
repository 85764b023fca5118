"""Test helpers importable from every test module (tests/ is on pythonpath)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from oodforge.demo.run import demo_config_bytes

ROOT = Path(__file__).resolve().parents[1]


def demo_config_dict() -> dict[str, Any]:
    return yaml.safe_load(demo_config_bytes())


def tree_hashes(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under root (relative path -> hex), skipping resume state and ``skip`` names."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".oodforge" not in p.parts and p.name not in skip
    }


def tiny_train_config(tmp: Path, world: Path, name: str, overrides: dict[str, Any] | None = None) -> Path:
    """``configs/tiny_<name>.yaml`` pointed at ``world`` (a folder holding ``world/``), output under ``tmp``.

    ``overrides`` maps dotted keys (``"optim.lr"``) to values; the written YAML's path is returned.
    """
    data = yaml.safe_load((ROOT / "configs" / f"tiny_{name}.yaml").read_text())
    data["data"]["cityscapes_root"] = str(world / "world" / "cityscapes")
    if "paste" in data:
        data["paste"]["coco_root"] = str(world / "world" / "coco")
        data["paste"]["cache_dir"] = str(world / "cache")
    data["output_dir"] = str(tmp / f"run_{name}")
    data["trainer"]["progress_bar"] = False
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, last = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
