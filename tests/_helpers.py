"""Test helpers importable from every test module (tests/ is on pythonpath)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from oodforge.demo.run import demo_config_bytes


def demo_config_dict() -> dict[str, Any]:
    return yaml.safe_load(demo_config_bytes())


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root (relative path -> hex), skipping resume state."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".oodforge" not in p.parts
    }
