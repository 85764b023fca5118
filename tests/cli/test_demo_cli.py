import json

from typer.testing import CliRunner

from oodforge.cli.main import app


def test_demo_runs_end_to_end(tmp_path):
    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "demo" in res.output
    assert "verify: 24 records" in res.output and ": ok" in res.output
    assert (tmp_path / "d" / "dataset" / "preview.png").stat().st_size > 10_000
    assert (tmp_path / "d" / "dataset" / "manifest.jsonl").is_file()
    # stats on the result
    res = CliRunner().invoke(app, ["stats", str(tmp_path / "d" / "dataset"), "--json"])
    assert res.exit_code == 0 and '"splits"' in res.output
    # a re-run replaces only what the demo wrote: files put there since are kept
    d = tmp_path / "d"
    listed = set(json.loads((d / ".oodforge" / "files.json").read_text())["files"])
    assert {"demo.yaml", "dataset/preview.png"} <= listed and any(f.startswith("scores/rx_baseline/") for f in listed)
    mine = [d / "notes.txt", d / "scores" / "rx_baseline" / "mine.npy", d / "world" / "cityscapes" / "mine.txt"]
    for path in mine:
        path.write_text("mine")
    res = CliRunner().invoke(app, ["demo", "--out", str(d), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert all(path.read_text() == "mine" for path in mine)
    assert set(json.loads((d / ".oodforge" / "files.json").read_text())["files"]) == listed


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    """Was: --out DIR wrote over DIR/demo.yaml and the demo's Cityscapes names in DIR/world (real ones too)."""
    d = tmp_path / "mine"
    frame = d / "world" / "cityscapes" / "leftImg8bit" / "train" / "aachen" / "aachen_000000_000019_leftImg8bit.png"
    frame.parent.mkdir(parents=True)
    frame.write_bytes(b"a real frame")
    (d / "demo.yaml").write_text("my config\n")
    res = CliRunner().invoke(app, ["demo", "--out", str(d), "--workers", "1"])
    assert res.exit_code == 2, res.output
    assert "has no list of oodforge's files" in " ".join(res.output.split()) and "Traceback" not in res.output
    assert frame.read_bytes() == b"a real frame" and (d / "demo.yaml").read_text() == "my config\n"
    assert sorted(p.name for p in d.iterdir()) == ["demo.yaml", "world"]


def test_version_and_help():
    r = CliRunner().invoke(app, ["--help"])
    assert r.exit_code == 0
    for verb in ("synth", "demo", "verify", "stats", "preview"):
        assert verb in r.output
