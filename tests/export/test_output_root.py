"""The shared output-root mechanism: foreign folders refused, own files only, stale temp names, identity."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from oodforge.errors import UsageError
from oodforge.export.layout import DatasetLayout
from oodforge.export.output_root import check_output_root, open_output_root, remove_stale_temp_files

_CFG = b"dataset: {seed: 1, output_root: .}\nsources: {cityscapes: {root: /a}, coco: {root: /b, cache_dir: null}}\n"
_OTHER = _CFG.replace(b"seed: 1", b"seed: 2")
_MOVED = _CFG.replace(b"root: /a", b"root: /moved")


def _open(root: Path, resolved: bytes, overwrite: bool = False):
    return open_output_root(root, resolved, splits=["val"], managed=["images"], overwrite=overwrite, command="t")


def test_new_root_gets_config_and_same_config_resumes(tmp_path: Path) -> None:
    root = tmp_path / "out"
    with _open(root, _CFG) as out:
        assert not out.same_config
    with _open(root, _MOVED) as out:  # moved sources: same identity, config.yaml updated for information
        assert out.same_config
    assert (root / "config.yaml").read_bytes() == _MOVED
    with pytest.raises(UsageError, match="another config"):
        check_output_root(root, _OTHER, overwrite=False)


def test_overwrite_deletes_listed_files_only(tmp_path: Path) -> None:
    root = tmp_path / "out"
    with _open(root, _CFG) as out:
        lay = out.layout
        (root / "val" / "images").mkdir(parents=True)
        (root / "val" / "images" / "a.png").write_bytes(b"ours")
        (root / "val" / "images" / "user.png").write_bytes(b"theirs")
        rec = lay.record_path("val", "a")
        rec.parent.mkdir(parents=True)
        rec.write_text('{"split": "val", "image_id": "a", "outputs": {"image": "val/images/a.png"}}')
        (root / "manifest.jsonl").write_text('{"outputs": {"image": "../outside.png"}}\nnot json\n')
    (tmp_path / "outside.png").write_bytes(b"never")
    with _open(root, _OTHER, overwrite=True) as out:
        assert out.cleared_files == 3  # a.png, config.yaml, manifest.jsonl
        assert out.kept_files == 1
    assert (root / "val" / "images" / "user.png").read_bytes() == b"theirs"
    assert not (root / "val" / "images" / "a.png").exists()
    assert (tmp_path / "outside.png").exists()  # a path escaping the root is never followed


def test_only_mkstemp_leftovers_in_managed_folders_are_removed(tmp_path: Path) -> None:
    lay = DatasetLayout(tmp_path)
    images = tmp_path / "val" / "images"
    images.mkdir(parents=True)
    fd, ours = tempfile.mkstemp(dir=images, prefix=".a.png.", suffix=".tmp")
    os.close(fd)
    keep = [images / ".notes.tmp", tmp_path / "photos" / ".x.png.abcdefgh.tmp"]
    keep[1].parent.mkdir()
    for p in keep:
        p.write_bytes(b"user")
    assert remove_stale_temp_files(lay, ["val"], ["images"]) == 1
    assert not Path(ours).exists() and all(p.exists() for p in keep)


def test_file_as_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        check_output_root(tmp_path / "f", _CFG, overwrite=True)


def test_other_oodforge_outputs_are_not_dataset_roots(tmp_path: Path) -> None:
    export = tmp_path / "export"  # an anomalib export / preprocess output: lock and file list, no dataset
    (export / ".oodforge").mkdir(parents=True)
    (export / ".oodforge" / "lock").write_text("{}")
    (export / ".oodforge" / "files.json").write_text("[]")
    (export / "train").mkdir()
    with pytest.raises(UsageError, match="holds no oodforge dataset"):
        check_output_root(export, _CFG, overwrite=True)
    killed = tmp_path / "killed"  # a run locked the root and died before writing anything
    (killed / ".oodforge").mkdir(parents=True)
    (killed / ".oodforge" / "lock").write_text("{}")
    assert check_output_root(killed, _CFG, overwrite=False) is False
