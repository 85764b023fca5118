"""config_sha256 hashes what determines the bytes, not where files live."""

from __future__ import annotations

from _helpers import demo_config_dict
from oodforge.config.identity import config_sha256
from oodforge.config.loader import config_from_dict, dump_resolved


def _sha(**edits: str) -> str:
    data = demo_config_dict()
    data["dataset"]["output_root"] = edits.get("out", "/x/out")
    data["sources"]["cityscapes"]["root"] = edits.get("cs", "/data/cityscapes")
    data["sources"]["coco"]["root"] = edits.get("coco", "/data/coco")
    data["sources"]["coco"]["cache_dir"] = edits.get("cache", "/cache")
    if "seed" in edits:
        data["dataset"]["seed"] = int(edits["seed"])
    return config_sha256(dump_resolved(config_from_dict(data)))


def test_paths_do_not_change_the_hash() -> None:
    ref = _sha()
    assert _sha(cs="/mnt/other/cityscapes", coco="/mnt/coco", cache="/tmp/c", out="/y") == ref


def test_settings_change_the_hash() -> None:
    assert _sha(seed="12345") != _sha()


def test_render_mesh_keeps_its_name_not_its_folder() -> None:
    base = b"output_root: .\nscene: {blend_file: null}\nanomalies: [/a/drill.obj, cube]\n"
    assert config_sha256(base) == config_sha256(base.replace(b"/a/", b"/elsewhere/"))
    assert config_sha256(base) != config_sha256(base.replace(b"drill", b"sofa"))
