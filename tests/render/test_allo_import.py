"""`oodforge import-allo`: ALLO's render_config.yaml (its real text) to an oodforge render config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from oodforge.cli.main import app
from oodforge.errors import ConfigError, UsageError
from oodforge.render.allo_import import ALLO_KEYS, import_allo_config
from oodforge.render.config_io import render_config_from_dict

runner = CliRunner()

#: utiasSTARS/ALLO blender_render/python/render_config.yaml (MIT licence), as published
ALLO_RENDER_CONFIG = """\
### config parameters for render_binary.py script
end_day: 3
day_interval: 1
start_day: 1
sun_strength:
  - 1
  - 5
  - 10
depths:
  - 0
  - -1
  - 1
scales:
  - 0.3
  - 0.5
  - 0.7
colours:
  - red
  - blue
  - yellow
cams:
  start: 1
  end: 3
anomalies:
  - blanket
  - blanket2
  - blanket3
  - drill
  - ingenuity
  - cable
  - cable2
  - cable3
min_pixel: 2000
ephemeris_path: "/home/blender_render/render_data_csv"
cad_models_path: "/home/blender_render/cad_models/"
anomalies_path: "/home/blender_render/cad_models/anomalies"
output_dir: "/home/blender_render/renders"
"""


@pytest.fixture
def allo_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "render_config.yaml"
    path.write_text(ALLO_RENDER_CONFIG)
    return path


def test_every_key_of_alloS_config_has_a_row(allo_yaml: Path, tmp_path: Path) -> None:
    res = import_allo_config(allo_yaml, tmp_path / "oodforge_render.yaml")
    rows = {r.allo: r for r in res.rows}
    assert set(yaml.safe_load(ALLO_RENDER_CONFIG)) <= set(rows) and set(ALLO_KEYS) == set(
        yaml.safe_load(ALLO_RENDER_CONFIG)
    )
    assert rows["cad_models_path"].oodforge is None and "no equivalent" in rows["cad_models_path"].note
    assert rows["ephemeris_path"].oodforge == "scene.ephemeris" and rows["cams"].oodforge == "cameras"


def test_written_config_follows_alloS_values_and_validates(allo_yaml: Path, tmp_path: Path) -> None:
    out = tmp_path / "oodforge_render.yaml"
    import_allo_config(allo_yaml, out)
    data = yaml.safe_load(out.read_text())
    cfg = render_config_from_dict(data, str(out))  # the real schema
    assert (cfg.days.start, cfg.days.end, cfg.days.interval) == (1, 3, 1)
    assert cfg.modes.active() == ["illumination", "depth", "scale", "colour"]
    assert cfg.modes.illumination is not None and cfg.modes.illumination.sun_strengths == [1.0, 5.0, 10.0]
    assert cfg.modes.depth is not None and cfg.modes.depth.offsets == [0.0, -1.0, 1.0]
    assert cfg.modes.scale is not None and cfg.modes.scale.range == (0.3, 0.7)
    assert cfg.modes.colour is not None and cfg.modes.colour.palette == ["red", "blue", "yellow"]
    assert cfg.anomalies == ["blanket", "blanket2", "blanket3", "drill", "ingenuity", "cable", "cable2", "cable3"]
    assert cfg.min_pixel == 2000 and cfg.render.resolution == (1920, 1080) and cfg.render.samples == 256
    assert cfg.output_root == "/home/blender_render/renders" and cfg.scene.sun_strength == 10.0
    for dotted, value in (("scene.ephemeris", "/home/blender_render/render_data_csv"),
                          ("scene.anomalies_dir", "/home/blender_render/cad_models/anomalies"),
                          ("cameras.source", "allo"), ("cameras.start", 1), ("cameras.end", 3),
                          ("output.layout", "allo")):  # fmt: skip
        node: object = cfg
        for part in dotted.split("."):
            node = getattr(node, part)
        assert node == value, dotted


def test_modes_follow_alloS_mode_flag(allo_yaml: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.yaml"
    res = runner.invoke(app, ["import-allo", str(allo_yaml), "--out", str(out), "--mode", "illumination",
                              "--mode", "color", "--blend-file", "scene.blend"])  # fmt: skip
    assert res.exit_code == 0, res.output
    cfg = render_config_from_dict(yaml.safe_load(out.read_text()))
    assert cfg.modes.active() == ["illumination", "colour"]
    assert cfg.scene.blend_file == str((Path.cwd() / "scene.blend").resolve())
    assert "cad_models_path" in res.output and "mode depth off" in " ".join(res.output.split())


def test_bad_inputs_are_one_line(allo_yaml: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.yaml"
    out.write_text("mine\n")
    with pytest.raises(UsageError, match="exists; pass --overwrite"):
        import_allo_config(allo_yaml, out)
    assert out.read_text() == "mine\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text(ALLO_RENDER_CONFIG.replace("min_pixel: 2000", "min_pixel: lots"))
    with pytest.raises(ConfigError, match="min_pixel: expected an integer, got 'lots'"):
        import_allo_config(bad, tmp_path / "x.yaml")
    res = runner.invoke(app, ["import-allo", str(allo_yaml), "--out", str(tmp_path / "y.yaml"), "--mode", "fog"])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and "--mode 'fog': unknown" in lines[0], res.output
    assert not (tmp_path / "y.yaml").exists() and not (tmp_path / "x.yaml").exists()


def test_unknown_key_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "c.yaml"
    src.write_text(ALLO_RENDER_CONFIG + "fog: true\n")
    res = import_allo_config(src, tmp_path / "o.yaml")
    assert any(r.allo == "fog" and r.oodforge is None and "not an ALLO key" in r.note for r in res.rows)


def test_targets_missing_from_the_schema_are_left_out(allo_yaml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from oodforge.render import allo_import

    assert allo_import._schema_has("scene.ephemeris") and not allo_import._schema_has("scene.nope")
    monkeypatch.setattr(allo_import, "_schema_has", lambda dotted: not dotted.startswith("scene.ephemeris"))
    res = allo_import.allo_to_oodforge(yaml.safe_load(ALLO_RENDER_CONFIG), allo_yaml)
    row = next(r for r in res.rows if r.allo == "ephemeris_path")
    assert row.oodforge is None and "scene.ephemeris not in this oodforge's schema: left out" in row.note
    assert "ephemeris" not in res.config["scene"]
