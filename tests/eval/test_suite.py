"""The ``oodforge benchmark`` suite: strict YAML, one-line errors naming the key, paths, --root, the default suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from oodforge.errors import ConfigError, UsageError
from oodforge.eval.suite import SuiteConfig, load_suite, parse_roots


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _suite(tmp_path: Path, **overrides: Any) -> Path:
    (tmp_path / "data" / "synth").mkdir(parents=True, exist_ok=True)
    data = {"name": "s", "benchmarks": [{"name": "synth", "benchmark": "synth", "root": "data/synth", "split": "test"}]}
    data.update(overrides)
    return _write(tmp_path / "suite.yaml", data)


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "stats.npz").write_bytes(b"")
    loaded = load_suite(_suite(tmp_path, scores=["msp", "sml"], sml_stats="stats.npz"))
    cfg = loaded.config
    assert cfg.benchmarks[0].root == str(tmp_path / "data" / "synth")
    assert cfg.sml_stats == str(tmp_path / "stats.npz")
    assert cfg.temperatures.values == (1.0,)
    assert cfg.temperatures.target == "logits"
    assert (cfg.miou, cfg.temperatures.fit) == (None, None)
    assert not cfg.outputs.score_maps
    again = SuiteConfig.model_validate(yaml.safe_load(loaded.text))  # the resolved text is a valid suite
    assert again == cfg


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"scorez": ["msp"]}, "unknown key 'scorez'; did you mean 'scores'?"),
        ({"scores": ["msp", "mahalanobis"]}, "unknown score 'mahalanobis'"),
        ({"scores": ["msp", "msp"]}, "repeated score"),
        ({"scores": ["sml"]}, "score 'sml' needs sml_stats"),
        ({"temperatures": {"values": [1.0, -2.0]}}, "temperature -2.0; expected finite numbers > 0"),
        ({"temperatures": {"values": []}}, "no temperature"),
        ({"temperatures": {"values": [1], "target": "query"}}, "temperatures.target"),
        ({"temperatures": {"values": [1.0], "fit": {"root": "x"}, "target": "class"}}, "target 'class'"),
        ({"temperatures": {"values": ["2"]}}, "temperatures.values.0"),
        ({"miou": {"root": "cs", "limit": 0}}, "miou.limit"),
        ({"outputs": {"score_maps": "yes"}}, "outputs.score_maps"),
        ({"benchmarks": []}, "benchmarks"),
    ],
)
def test_config_errors_are_one_line_naming_the_key(tmp_path: Path, overrides: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_suite(_suite(tmp_path, **overrides))
    msg = str(info.value)
    assert needle in msg
    assert "\n" not in msg
    assert msg.startswith(str(tmp_path / "suite.yaml"))


def test_benchmark_entry_errors(tmp_path: Path) -> None:
    bad = [{"name": "x", "benchmark": "road_anomaly_2021", "root": "r"}]
    with pytest.raises(ConfigError, match="unknown benchmark 'road_anomaly_2021'"):
        load_suite(_suite(tmp_path, benchmarks=bad))
    twice = [{"name": "a", "benchmark": "synth", "root": "r"}] * 2
    with pytest.raises(ConfigError, match="benchmark name 'a' is used twice"):
        load_suite(_suite(tmp_path, benchmarks=twice))
    with pytest.raises(ConfigError, match="reserved"):
        load_suite(_suite(tmp_path, benchmarks=[{"name": "cityscapes", "benchmark": "synth", "root": "r"}]))
    with pytest.raises(ConfigError, match=r"benchmarks\.0\.name"):
        load_suite(_suite(tmp_path, benchmarks=[{"name": "a/b", "benchmark": "synth", "root": "r"}]))


def test_missing_roots_and_root_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    two = [
        {"name": "synth", "benchmark": "synth", "root": "data/synth"},
        {"name": "ra21", "benchmark": "road_anomaly_21", "root": "nowhere", "split": "validation"},
    ]
    with pytest.raises(UsageError, match=r"benchmark 'ra21': root .*nowhere is not a folder"):
        load_suite(_suite(tmp_path, benchmarks=two))  # a suite of one's own: every root must exist
    loaded = load_suite(_suite(tmp_path, benchmarks=two, skip_missing=True))
    assert [b.name for b in loaded.config.benchmarks] == ["synth"]
    assert loaded.notes == [f"skipped benchmark 'ra21': no folder {tmp_path / 'nowhere'} (give --root ra21=PATH)"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "real").mkdir()
    loaded = load_suite(_suite(tmp_path, benchmarks=two, skip_missing=True), {"ra21": "real"})
    assert [b.root for b in loaded.config.benchmarks] == [str(tmp_path / "data" / "synth"), str(tmp_path / "real")]
    with pytest.raises(UsageError, match="benchmark 'ra21': root"):  # named by the user: never skipped
        load_suite(_suite(tmp_path, benchmarks=two, skip_missing=True), {"ra21": "gone"})
    with pytest.raises(
        UsageError,
        match=r"--root fs=\.\.\.: no benchmark of that name in the suite; expected one of synth, ra21, cityscapes",
    ):
        load_suite(_suite(tmp_path, benchmarks=two), {"fs": "x"})


def test_cityscapes_root_override_and_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cs = {"root": "cs", "split": "val"}
    overrides = {"skip_missing": True, "miou": cs, "temperatures": {"values": [], "fit": cs}}
    loaded = load_suite(_suite(tmp_path, **overrides))
    assert loaded.config.miou is None
    assert loaded.config.temperatures.fit is None
    assert loaded.config.temperatures.values == (1.0,)  # nothing left to fit: T = 1
    assert len(loaded.notes) == 2
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mycs").mkdir()
    loaded = load_suite(_suite(tmp_path, **overrides), {"cityscapes": "mycs"})
    assert loaded.config.miou is not None
    assert loaded.config.temperatures.fit is not None
    assert loaded.config.miou.root == loaded.config.temperatures.fit.root == str(tmp_path / "mycs")
    with pytest.raises(UsageError, match="miou: Cityscapes root"):
        load_suite(_suite(tmp_path, miou=cs))


def test_default_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"no benchmark to run.*ra21, ro21, fs_laf, road_anomaly, synth"):
        load_suite(None)
    (tmp_path / "datasets" / "synth").mkdir(parents=True)  # the default suite's roots resolve against the cwd
    loaded = load_suite(None)
    cfg = loaded.config
    assert loaded.source is None
    assert [b.name for b in cfg.benchmarks] == ["synth"]
    assert len(loaded.notes) == 4
    assert cfg.scores == ("msp", "maxlogit", "entropy", "energy")
    assert cfg.temperatures.values == (1.0, 2.0)
    (tmp_path / "smiyc").mkdir()
    loaded = load_suite(None, {"ra21": "smiyc"})
    assert [(b.name, b.benchmark, b.split) for b in loaded.config.benchmarks] == [
        ("ra21", "road_anomaly_21", "validation"),
        ("synth", "synth", "test"),
    ]


def test_parse_roots() -> None:
    assert parse_roots(["ra21=/a", "synth = b/c"]) == {"ra21": "/a", "synth": "b/c"}
    for bad in (["ra21"], ["=x"], ["ra21="]):
        with pytest.raises(UsageError, match="expected NAME=PATH"):
            parse_roots(bad)
    with pytest.raises(UsageError, match="given twice"):
        parse_roots(["a=1", "a=2"])


def test_unreadable_suite_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_suite(tmp_path / "none.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a YAML mapping at the top level, found list"):
        load_suite(tmp_path / "list.yaml")
