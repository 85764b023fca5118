"""Strict types in every YAML config (synth, render, train): no silent coercion, one line naming the key."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from _helpers import demo_config_dict, tiny_train_config
from oodforge.config.loader import config_from_dict, load_config
from oodforge.errors import ConfigError
from oodforge.learn.train_config import load_train_config
from oodforge.render import render_config_from_dict

BASE: dict[str, Any] = {
    "dataset": {"name": "t", "seed": 1, "output_root": "out"},
    "sources": {"cityscapes": {"root": "cs"}, "coco": {"root": "coco"}},
}


def _synth(**sections: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(yaml.safe_dump(BASE))
    for dotted, value in sections.items():
        node = data
        *parents, last = dotted.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return data


def _synth_error(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, "cfg.yaml")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("cfg.yaml: ")
    return msg


@pytest.mark.parametrize(
    ("key", "value", "needles"),
    [
        ("dataset__seed", "123", ["'dataset.seed'", "(found '123')", "valid integer"]),
        ("dataset__seed", 1.5, ["'dataset.seed'", "(found 1.5)", "valid integer"]),
        ("dataset__seed", 1.0, ["'dataset.seed'", "(found 1.0)", "valid integer"]),
        ("dataset__seed", True, ["'dataset.seed'", "(found True)", "valid integer"]),
        ("dataset__name", 5, ["'dataset.name'", "(found 5)", "valid string"]),
        ("dataset__output_root", True, ["'dataset.output_root'", "(found True)", "valid string"]),
        ("synthesis__placement__reject_border", "yes", ["'synthesis.placement.reject_border'", "'yes'", "boolean"]),
        ("synthesis__placement__occlusion", 1, ["'synthesis.placement.occlusion'", "(found 1)", "boolean"]),
        ("synthesis__geometry__max_upscale", True, ["'synthesis.geometry.max_upscale'", "(found True)", "number"]),
        ("synthesis__geometry__max_upscale", "2", ["'synthesis.geometry.max_upscale'", "(found '2')", "number"]),
        ("synthesis__geometry__scale_range", ["0.3", 1], ["'synthesis.geometry.scale_range.0'", "'0.3'", "number"]),
        ("synthesis__blending__feather_px", 2.5, ["'synthesis.blending.feather_px'", "(found 2.5)", "integer"]),
        ("synthesis__blending__motion_blur__length_px", [3, 9.5], ["motion_blur.length_px.1", "(found 9.5)"]),
        ("synthesis__coco__allowed_categories", ["dog", 7], ["'synthesis.coco.allowed_categories.1'", "(found 7)"]),
        ("synthesis__placement__target_labels", {"road": "1"}, ["'synthesis.placement.target_labels.road'", "'1'"]),
        ("export__png_compression", "3", ["'export.png_compression'", "(found '3')", "integer"]),
    ],
)
def test_synth_rejects_loose_types(key: str, value: object, needles: list[str]) -> None:
    msg = _synth_error(_synth(**{key: value}))
    for needle in needles:
        assert needle in msg


def test_synth_accepts_yaml_natural_values(tmp_path: Path) -> None:
    text = """
dataset: {name: t, seed: 0, output_root: out}
sources: {cityscapes: {root: cs}, coco: {root: coco, cache_dir: null}}
splits: {train: {source: train, part: [0, 0.8], clean_ratio: 1, synth_ratio: 0}}
synthesis:
  p_has_anomaly: 1
  geometry: {max_upscale: 2, scale_range: [1, 2], scale_mode: perspective, category_heights_m: {dog: 1}}
  coco: {filters: {min_area_px: 500, truncation_margin_px: 0}, sampling: instance}
  placement: {target_labels: {road: 1}, reject_border: false}
  blending: {motion_blur: {p: 0, length_px: [3, 5]}}
export: {image_format: jpg, jpeg_quality: 90}
"""
    (tmp_path / "cfg.yaml").write_text(text)
    cfg = load_config(tmp_path / "cfg.yaml")
    assert cfg.splits["train"].part == (0.0, 0.8)
    assert cfg.synthesis.geometry.max_upscale == 2.0 and isinstance(cfg.synthesis.geometry.max_upscale, float)
    assert cfg.synthesis.geometry.scale_range == (1.0, 2.0)
    assert cfg.synthesis.blending.motion_blur.length_px == (3, 5)
    assert cfg.synthesis.placement.reject_border is False
    assert cfg.export.image_format == "jpg"


def test_python_objects_still_work_in_dicts(tmp_path: Path) -> None:
    # a Python caller may hand over Path objects and tuples
    data = _synth(dataset__output_root=tmp_path / "out", synthesis__geometry__scale_range=(0.5, 1.0))
    cfg = config_from_dict(data)
    assert cfg.dataset.output_root == str(tmp_path / "out")
    assert cfg.synthesis.geometry.scale_range == (0.5, 1.0)


def test_yaml_only_values_are_rejected_with_the_key(tmp_path: Path) -> None:
    msg = _synth_error(_synth(dataset__name=datetime.date(2024, 1, 2)))
    assert "'dataset.name'" in msg and "2024" in msg and "quote it" in msg
    msg = _synth_error(_synth(synthesis__placement__target_labels={1: 0.5}))
    assert "'synthesis.placement.target_labels.1'" in msg and "key" in msg
    (tmp_path / "cfg.yaml").write_text("dataset: {name: 2024-01-02, seed: 1, output_root: out}\n")
    with pytest.raises(ConfigError, match=r"'dataset\.name'.*quote it"):
        load_config(tmp_path / "cfg.yaml")


def test_shipped_configs_still_load() -> None:
    root = Path(__file__).resolve().parents[2]
    assert load_config(root / "configs" / "cityscapes_coco.yaml").schema_version == 1
    assert load_config(root / "src" / "oodforge" / "configs" / "demo.yaml").schema_version == 1
    data = yaml.safe_load((root / "configs" / "render_demo.yaml").read_text())
    assert render_config_from_dict(data).render.samples >= 1


# --- render -----------------------------------------------------------------------------------------------


def _render_error(**extra: Any) -> str:
    with pytest.raises(ConfigError) as info:
        render_config_from_dict({"output_root": "out", **extra}, "r.yaml")
    msg = str(info.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        ({"seed": "7"}, ["'seed'", "(found '7')", "integer"]),
        ({"render": {"samples": 16.0}}, ["'render.samples'", "(found 16.0)", "integer"]),
        ({"render": {"resolution": ["64", 64]}}, ["'render.resolution.0'", "(found '64')"]),
        ({"placement": {"require_visible": "no"}}, ["'placement.require_visible'", "'no'", "boolean"]),
        ({"placement": {"distance": True}}, ["'placement.distance'", "(found True)", "number"]),
        ({"scene": {"blend_file": 3}}, ["'scene.blend_file'", "(found 3)", "string"]),
        ({"modes": {"colour": {"palette": [5]}}}, ["'modes.colour.palette.0'", "(found 5)", "string", "tuple"]),
    ],
)
def test_render_rejects_loose_types(extra: dict[str, Any], needles: list[str]) -> None:
    msg = _render_error(**extra)
    for needle in needles:
        assert needle in msg


def test_render_accepts_yaml_natural_values() -> None:
    cfg = render_config_from_dict({
        "output_root": "out", "modes": {"illumination": {"sun_strengths": [5, 10]}, "colour": {"palette": [[1, 0, 0]]},
        "scale": {"range": [0.5, 1]}}, "render": {"resolution": [64, 32]}, "cameras": {"target": [0, 0, 1]},
    })  # fmt: skip
    assert cfg.modes.colour is not None and cfg.modes.colour.palette == [(1.0, 0.0, 0.0)]
    assert cfg.render.resolution == (64, 32) and cfg.cameras.target == (0.0, 0.0, 1.0)


# --- train ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        ({"seed": "0"}, ["'seed'", "(found '0')", "integer"]),
        ({"data.batch_size": 2.5}, ["'data.batch_size'", "(found 2.5)", "integer"]),
        ({"data.hflip": "yes"}, ["'data.hflip'", "'yes'", "boolean"]),
        ({"optim.lr": "1e-3"}, ["'optim.lr'", "(found '1e-3')", "number"]),
        ({"trainer.devices": "2"}, ["'trainer.devices'", "(found '2')", "integer", "'auto'"]),
        ({"paste.config.p": True}, ["'paste.config.p'", "(found True)", "number"]),
    ],
)
def test_train_rejects_loose_types(tmp_path: Path, overrides: dict[str, Any], needles: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_train_config(tiny_train_config(tmp_path, tmp_path, "oe", overrides))
    msg = str(info.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg


def test_train_accepts_yaml_natural_values(tmp_path: Path) -> None:
    over = {"optim.lr": 1, "data.val_scale": 1, "trainer.devices": 1, "paste.config.p": 1}
    cfg = load_train_config(tiny_train_config(tmp_path, tmp_path, "oe", over))
    assert cfg.optim.lr == 1.0 and cfg.trainer.devices == 1 and cfg.data.crop_size == (128, 256)
    assert cfg.paste is not None and cfg.paste.config.p == 1.0
    for name in ("semantic", "head"):
        assert load_train_config(tiny_train_config(tmp_path, tmp_path, name)).task == name


def test_models_built_in_python_keep_ordinary_rules() -> None:
    from oodforge.config.schema import GeometryConfig, SplitConfig

    split = SplitConfig(source="train", part=[0, 1], clean_ratio=1, synth_ratio=0)  # type: ignore[arg-type]
    assert split.part == (0.0, 1.0)
    assert GeometryConfig(scale_range=(1, 2), final_area_ratio=(0.002, 0.08)).scale_range == (1.0, 2.0)


@pytest.mark.parametrize("name", ["config.yaml", "manifest.jsonl", "Preview.png", "a\\b"])
def test_split_named_like_a_root_file_is_refused(name: str) -> None:
    data = demo_config_dict()
    data["splits"] = {name: data["splits"]["test"]}
    with pytest.raises(ConfigError, match="splits"):
        config_from_dict(data)
