"""``config_sha256``: the hash of what determines a dataset's bytes, not of where things live.

The resolved ``config.yaml`` keeps every path (absolute) for information. The hash leaves out the
machine-local ones (the output root, the source roots, the pool cache folder), so moving the data,
changing the cache folder or building the same dataset on another machine keeps the same
``config_sha256`` and a resume still recognises its own records. Paths whose *name* can reach the output
(a render mesh file: its stem names the anomaly) keep their file name and lose their folder.

One function serves both kinds of config; the kind is told apart by its top-level keys.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePath
from typing import Any

import yaml

from oodforge.errors import ConfigError

__all__ = ["LOCAL_KEYS", "config_identity", "config_sha256"]

#: dotted keys whose value is a machine-local path, per config kind: "drop" (hash None) or "name" (file name only)
LOCAL_KEYS: dict[str, dict[str, str]] = {
    "synth": {
        "dataset.output_root": "drop",
        "sources.cityscapes.root": "drop",
        "sources.coco.root": "drop",
        "sources.coco.cache_dir": "drop",
    },
    "render": {
        "output_root": "drop",
        "scene.blend_file": "name",
        "scene.ephemeris": "name",
        "scene.anomalies_dir": "drop",
        "anomalies": "name",
    },
}


def _kind(data: dict[str, Any]) -> str:
    return "synth" if "dataset" in data and "sources" in data else "render"


def _name_only(value: Any) -> Any:
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return PurePath(value).name
    if isinstance(value, list):
        return [_name_only(v) for v in value]
    return value


def config_identity(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a resolved config mapping with its machine-local paths removed (see :data:`LOCAL_KEYS`)."""
    out: dict[str, Any] = json.loads(json.dumps(data))
    for dotted, how in LOCAL_KEYS[_kind(data)].items():
        *parents, leaf = dotted.split(".")
        node: Any = out
        for p in parents:
            node = node.get(p) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node:
            node[leaf] = None if how == "drop" else _name_only(node[leaf])
    return out


def config_sha256(resolved: bytes, source: str = "config.yaml") -> str:
    """``config_sha256`` of resolved config bytes (as written to ``OUT/config.yaml``).

    Raises:
        ConfigError: the bytes are not a YAML mapping.
    """
    try:
        data = yaml.safe_load(resolved)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not a readable resolved config ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a YAML mapping, found {type(data).__name__}")
    text = json.dumps(config_identity(data), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
