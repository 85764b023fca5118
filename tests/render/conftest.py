"""Tiny render configs: 64x64, Cycles CPU, few samples."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

#: One camera looking along -Y at the station's broadside; the anomaly straight ahead (no jitter).
TINY: dict[str, Any] = {
    "seed": 7,
    "output_root": "out",
    "anomalies": ["cube"],
    "modes": [],
    "cameras": {"count": 4, "start": 2, "end": 2},
    "days": {"start": 1, "end": 1},
    "placement": {"distance": 4.0, "jitter": 0.0, "max_tries": 5},
    "render": {"samples": 4, "resolution": [64, 64], "device": "CPU", "png_compression": 1},
}


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    *parents, last = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value


@pytest.fixture
def tiny_config(tmp_path: Path):
    """Write TINY with dotted overrides to tmp_path/<name>.yaml (output tmp_path/<name>); returns the path."""

    def make(name: str = "r", overrides: dict[str, Any] | None = None) -> Path:
        data = copy.deepcopy(TINY)
        data["output_root"] = name
        for dotted, value in (overrides or {}).items():
            set_dotted(data, dotted, value)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return make
