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


def test_version_and_help():
    r = CliRunner().invoke(app, ["--help"])
    assert r.exit_code == 0
    for verb in ("synth", "demo", "verify", "stats", "preview"):
        assert verb in r.output
