from pathlib import Path

import pytest
import yaml

from oodforge.config import dump_resolved, load_config
from oodforge.config.loader import config_from_dict
from oodforge.errors import ConfigError

BASE = {
    "dataset": {"name": "t", "seed": 1, "output_root": "out"},
    "sources": {"cityscapes": {"root": "cs"}, "coco": {"root": "coco"}},
}


def _write(tmp_path: Path, data: object) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_defaults_match_spec():
    cfg = config_from_dict(BASE)
    syn = cfg.synthesis
    assert syn.p_has_anomaly == 1.0
    assert (syn.instances_per_image.min, syn.instances_per_image.max) == (1, 3)
    assert (syn.max_instance_attempts, syn.max_location_attempts) == (30, 50)
    assert len(syn.coco.allowed_categories) == 18
    assert syn.coco.filters.area_ratio == (0.002, 0.20)
    assert syn.placement.target_labels == {"road": 0.7, "sidewalk": 0.3}
    assert syn.placement.min_target_coverage == 0.8
    assert syn.geometry.scale_range == (0.35, 1.25)
    assert syn.geometry.final_area_ratio == (0.001, 0.05)
    assert syn.blending.feather_px == 4
    assert syn.blending.photometric.match_std is False
    assert cfg.splits["test"].part == (0.5, 1.0)
    assert cfg.export.image_format == "png"


def test_relative_paths_resolve_against_config_folder(tmp_path, monkeypatch):
    sub = tmp_path / "conf"
    sub.mkdir()
    monkeypatch.chdir(tmp_path)
    cfg = load_config(_write(sub, BASE))
    assert cfg.dataset.output_root == str(sub / "out")
    assert cfg.sources.cityscapes.root == str(sub / "cs")


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        (
            {"synthesis": {"p_hash_anomaly": 0.7}},
            "unknown key 'synthesis.p_hash_anomaly'; did you mean 'p_has_anomaly'?",
        ),
        ({"synthesis": {"instances_per_image": {"min": 3, "max": 1}}}, "min 3 is greater than max 1"),
        ({"synthesis": {"p_has_anomaly": 1.5}}, "'synthesis.p_has_anomaly' (found 1.5)"),
        ({"synthesis": {"geometry": {"scale_range": [2.0, 1.0]}}}, "min 2.0 is greater than max 1.0"),
        ({"splits": {"tr": {"source": "train", "clean_ratio": 0.5, "synth_ratio": 0.6}}}, "expected them to sum to 1"),
        (
            {"splits": {"tr": {"source": "train", "clean_ratio": 1, "synth_ratio": 0, "prt": [0, 1]}}},
            "did you mean 'part'",
        ),
        ({"export": {"image_format": "webp"}}, "'export.image_format'"),
        ({"dataset": {"name": "t", "seed": 1}}, "missing required key 'dataset.output_root'"),
    ],
)
def test_bad_values_give_one_line(tmp_path, patch, needle):
    data = {**BASE, **patch}
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, data))
    msg = str(exc.value)
    assert needle in msg
    assert "\n" not in msg
    assert str(tmp_path / "cfg.yaml") in msg


def test_yaml_syntax_error_and_missing_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("dataset: {name: x\n  seed: [1,\n")
    with pytest.raises(ConfigError, match="YAML syntax error at line"):
        load_config(p)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_resolved_dump_round_trips_and_is_location_independent(tmp_path):
    a = load_config(_write(tmp_path, BASE))
    other = dict(BASE, dataset={"name": "t", "seed": 1, "output_root": "elsewhere/deeper"})
    b = load_config(_write(tmp_path, other))
    assert dump_resolved(a) == dump_resolved(b)  # output_root is written as "."
    again = config_from_dict(yaml.safe_load(dump_resolved(a)))
    assert again.synthesis == a.synthesis
    assert again.sources == a.sources


def test_shipped_configs_load():
    root = Path(__file__).resolve().parents[2]
    for p in [root / "configs" / "cityscapes_coco.yaml", root / "src" / "oodforge" / "configs" / "demo.yaml"]:
        assert load_config(p).schema_version == 1
