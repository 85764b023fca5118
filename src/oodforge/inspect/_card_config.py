"""The config part of a dataset card: the resolved ``config.yaml`` read leniently and summarised.

:func:`read_config` never raises: a missing or unreadable config gives a :class:`ConfigView` with ``problem``
set (the card says so and shows the rest). :func:`config_summary` picks the settings a reader of the card
needs first (seed, sources, splits, key synthesis settings) and :func:`realism_steps` says which realism steps
were on, as ``(step, on, detail)`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from oodforge.config.identity import config_sha256
from oodforge.export.layout import DatasetLayout

__all__ = ["ConfigView", "config_summary", "read_config", "realism_steps", "split_rows"]


@dataclass
class ConfigView:
    """The resolved config of a dataset: text, parsed mapping, ``config_sha256``; ``problem`` when unreadable.

    ``sha256`` is :func:`oodforge.config.identity.config_sha256` of the file (the value the manifest records:
    machine-local paths left out), None when the file is missing or not a YAML mapping.
    """

    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    problem: str | None = None


def read_config(layout: DatasetLayout) -> ConfigView:
    """Read ``OUT/config.yaml`` (text, mapping, sha256 of its bytes); never raises."""
    path = layout.config_path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ConfigView(problem=f"{path}: not found")
    except OSError as exc:
        return ConfigView(problem=f"{path}: unreadable ({exc.strerror})")
    view = ConfigView(text=raw.decode("utf-8", errors="replace"))
    try:
        data = yaml.safe_load(view.text)
    except yaml.YAMLError as exc:
        view.problem = f"{path}: not valid YAML ({str(exc).splitlines()[0]})"
        return view
    if isinstance(data, dict):
        view.data = data
        view.sha256 = config_sha256(raw, str(path))
    else:
        view.problem = f"{path}: expected a mapping, got {type(data).__name__}"
    return view


def get(data: Any, dotted: str) -> Any:
    """``data[a][b]...`` for ``dotted`` = ``"a.b..."``; None where a level is missing or not a mapping."""
    for key in dotted.split("."):
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _flow(value: Any) -> str:
    """A short one-line text of a config value ("-" when missing)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flow(v)}" for k, v in value.items())
    return str(value)


#: (row label, dotted key) of the summary, in display order
_SUMMARY_KEYS = (
    ("name", "dataset.name"),
    ("seed", "dataset.seed"),
    ("Cityscapes root", "sources.cityscapes.root"),
    ("COCO root", "sources.coco.root"),
    ("COCO images", "sources.coco.images"),
    ("COCO annotations", "sources.coco.annotations"),
    ("p_has_anomaly", "synthesis.p_has_anomaly"),
    ("instances per image", "synthesis.instances_per_image"),
    ("category sampling", "synthesis.coco.sampling"),
    ("target labels", "synthesis.placement.target_labels"),
    ("min target coverage", "synthesis.placement.min_target_coverage"),
    ("coverage on", "synthesis.placement.coverage_on"),
    ("forbidden overlap", "synthesis.placement.forbidden_overlap_labels"),
    ("scale mode", "synthesis.geometry.scale_mode"),
    ("final area ratio", "synthesis.geometry.final_area_ratio"),
    ("feather (px)", "synthesis.blending.feather_px"),
    ("export", "export"),
)


def config_summary(view: ConfigView) -> list[tuple[str, str]]:
    """(label, value) rows of the key settings, plus the allowed categories (count and names)."""
    rows = [(label, _flow(get(view.data, key))) for label, key in _SUMMARY_KEYS]
    cats = get(view.data, "synthesis.coco.allowed_categories")
    if isinstance(cats, list):
        rows.insert(8, (f"allowed categories ({len(cats)})", ", ".join(map(str, cats))))
    return rows


def split_rows(view: ConfigView) -> list[tuple[str, str, str, str, str]]:
    """(split, source, part, clean_ratio, synth_ratio) per configured split."""
    splits = get(view.data, "splits")
    if not isinstance(splits, dict):
        return []
    keys = ("source", "part", "clean_ratio", "synth_ratio")
    return [
        (str(name), _flow(get(s, keys[0])), _flow(get(s, keys[1])), _flow(get(s, keys[2])), _flow(get(s, keys[3])))
        for name, s in splits.items()
    ]


def realism_steps(view: ConfigView) -> list[tuple[str, bool | None, str]]:
    """(step, on, detail) of each realism step; ``on`` is None when the config does not say."""
    blend = get(view.data, "synthesis.blending") or {}
    place = get(view.data, "synthesis.placement") or {}
    photo = get(blend, "photometric")
    strength = get(photo, "strength")
    photo_off = get(photo, "space") == "none" or (isinstance(strength, int | float) and strength <= 0)
    photo_on = None if photo is None else not photo_off
    motion_p = get(blend, "motion_blur.p")
    motion_on = motion_p > 0 if isinstance(motion_p, int | float) else _maybe(motion_p)
    return [
        ("photometric match", photo_on, _flow(photo)),
        ("sharpness match", _maybe(get(blend, "sharpness.enabled")), _flow(get(blend, "sharpness"))),
        ("sensor noise", _maybe(get(blend, "noise.enabled")), _flow(get(blend, "noise"))),
        ("motion blur", motion_on, _flow(get(blend, "motion_blur"))),
        ("contact shadow", _maybe(get(blend, "shadow.enabled")), _flow(get(blend, "shadow"))),
        (
            "occlusion by scene objects",
            _maybe(get(place, "occlusion")),
            f"min_visible: {_flow(get(place, 'min_visible'))}",
        ),
    ]


def _maybe(value: Any) -> bool | None:
    return None if value is None else bool(value)
