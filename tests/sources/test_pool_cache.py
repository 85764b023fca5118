"""The COCO pool cache folder: damaged files are found and rebuilt, permissions follow the umask."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from oodforge import _io
from oodforge._io import current_umask
from oodforge.config.schema import CocoFilters
from oodforge.errors import InputFileError
from oodforge.sources import _pool_cache, coco_pool
from oodforge.sources._pool_cache import POOL_FILES, DamagedPoolError
from oodforge.sources.coco_pool import CocoPool, load_or_build_pool

W, H = 120, 100
FILTERS = CocoFilters(min_area_px=50, area_ratio=(0.0, 1.0), aspect_ratio=(0.05, 20.0), min_solidity=0.0)


def square_ann(ann_id: int, x: int, size: int) -> dict[str, Any]:
    poly = [x, 30, x + size, 30, x + size, 30 + size, x, 30 + size]
    return {"id": ann_id, "image_id": 1, "category_id": 18, "segmentation": [poly], "area": float(size * size),
            "bbox": [float(x), 30.0, float(size), float(size)], "iscrowd": 0}  # fmt: skip


@pytest.fixture
def coco(tmp_path: Path) -> Path:
    data = {
        "images": [{"id": 1, "file_name": "000000000001.png", "width": W, "height": H}],
        "annotations": [square_ann(1, 10, 20), square_ann(2, 50, 25), square_ann(3, 85, 15)],
        "categories": [{"id": 18, "name": "dog"}],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    return path


def load(path: Path, tmp_path: Path) -> CocoPool:
    return load_or_build_pool(path, ["dog"], FILTERS, tmp_path / "cache")


def masks_of(pool: CocoPool) -> list[np.ndarray]:
    return [pool.mask(i) for i in range(len(pool))]


def truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[:-3])


def flip_last_byte(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[-1] ^= 0xFF
    p.write_bytes(bytes(data))


def edit_info(p: Path) -> None:
    info = json.loads(p.read_text())
    info["rejections"]["category"] = 5
    p.write_text(json.dumps(info))


DAMAGE: list[tuple[str, str, Callable[[Path], None], str]] = [
    ("masks truncated", "masks.bin", truncate, "masks.bin: {cut} bytes; expected {size} as recorded in info.json"),
    ("masks altered", "masks.bin", flip_last_byte, "masks.bin: SHA-256 "),
    ("meta altered", "meta.npz", flip_last_byte, "meta.npz: SHA-256 "),
    ("meta truncated", "meta.npz", truncate, "meta.npz: "),
    ("info edited", "info.json", edit_info, "info.json: content does not match its recorded info_sha256"),
    ("info not JSON", "info.json", truncate, "info.json: unreadable"),
    ("info removed", "info.json", Path.unlink, "info.json: missing"),
    ("masks removed", "masks.bin", Path.unlink, "masks.bin: cannot read (No such file or directory)"),
]


@pytest.mark.parametrize(("name", "damage", "found"), [d[1:] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_damaged_cache_is_rebuilt_with_a_note(
    coco: Path, tmp_path: Path, name: str, damage: Callable[[Path], None], found: str
) -> None:
    first = load(coco, tmp_path)
    good = masks_of(first)
    size = (first.path / "masks.bin").stat().st_size
    found = found.format(cut=size - 3, size=size)
    assert first.notes == []
    (first.path / "README.txt").write_text("a colleague's file")  # not oodforge's: must survive the rebuild
    damage(first.path / name)
    again = load(coco, tmp_path)
    assert again.path == first.path
    assert len(again.notes) == 1
    note = again.notes[0]
    assert note.startswith(f"COCO pool cache rebuilt, it was damaged: {first.path / name}")
    assert found in note
    assert again.summary().endswith("; " + note)
    assert "\n" not in again.summary()
    for a, b in zip(masks_of(again), good, strict=True):
        np.testing.assert_array_equal(a, b)
    assert (first.path / "README.txt").read_text() == "a colleague's file"
    assert sorted(p.name for p in first.path.iterdir()) == sorted([*POOL_FILES, "README.txt"])
    assert [p.name for p in first.path.parent.iterdir()] == [first.path.name]  # no temp folder left
    assert load(coco, tmp_path).notes == []  # sound again


def test_worker_reopen_checks_sizes_but_hashes_nothing(
    coco: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = load(coco, tmp_path)
    blob = pickle.dumps(pool)

    def no_hashing(p: Path) -> dict[str, Any]:
        raise AssertionError(f"hashed {p}")

    monkeypatch.setattr(_pool_cache, "file_record", no_hashing)
    back = pickle.loads(blob)
    np.testing.assert_array_equal(back.mask(2), pool.mask(2))
    size = (pool.path / "masks.bin").stat().st_size
    truncate(pool.path / "masks.bin")
    with pytest.raises(InputFileError) as info:
        pickle.loads(blob)
    assert isinstance(info.value, DamagedPoolError)
    assert str(info.value) == f"{pool.path / 'masks.bin'}: {size - 3} bytes; expected {size} as recorded in info.json"


def test_layout_checked_even_when_sizes_were_rewritten(coco: Path, tmp_path: Path) -> None:
    pool = load(coco, tmp_path)
    masks = pool.path / "masks.bin"
    size = masks.stat().st_size
    truncate(masks)  # and reseal info.json to the truncated file: only the layout check is left to notice
    info_path = pool.path / "info.json"
    info = json.loads(info_path.read_text())
    info_path.write_text(json.dumps(_pool_cache.seal(pool.path, {k: v for k, v in info.items() if k != "files"})))
    with pytest.raises(DamagedPoolError) as exc:
        CocoPool.open(pool.path, verify_digests=True)
    assert str(exc.value) == f"{masks}: {size - 3} bytes; expected {size} (the end of the last mask)"


def test_damaged_cache_that_cannot_be_rebuilt_is_one_line(
    coco: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = load(coco, tmp_path)
    size = (pool.path / "masks.bin").stat().st_size
    truncate(pool.path / "masks.bin")

    def read_only(*args: Any, **kwargs: Any) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    with pytest.raises(InputFileError) as info:
        load(coco, tmp_path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg == (
        f"{pool.path / 'masks.bin'}: {size - 3} bytes; expected {size} as recorded in info.json; cannot rebuild it "
        f"({pool.path.parent}: Permission denied); delete {pool.path} or make {pool.path.parent} writable"
    )


def test_open_of_a_folder_that_is_no_pool(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"info\.json: missing; expected a COCO pool cache folder"):
        CocoPool.open(tmp_path)


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    old = os.umask(0o022)

    def set_umask(mask: int) -> None:
        os.umask(mask)

    yield set_umask
    os.umask(old)


@pytest.mark.parametrize(("mask", "folder_mode", "file_mode"), [(0o022, 0o755, 0o644), (0o007, 0o770, 0o660)])
def test_pool_folder_follows_the_umask(
    coco: Path, tmp_path: Path, umask: Callable[[int], None], mask: int, folder_mode: int, file_mode: int
) -> None:
    umask(mask)
    assert current_umask() == mask
    pool = load(coco, tmp_path)
    assert stat.S_IMODE(pool.path.stat().st_mode) == folder_mode
    assert stat.S_IMODE(pool.path.parent.stat().st_mode) == folder_mode  # coco_pools/
    for name in POOL_FILES:
        assert stat.S_IMODE((pool.path / name).stat().st_mode) == file_mode, name
    truncate(pool.path / "masks.bin")
    rebuilt = load(coco, tmp_path)
    assert rebuilt.notes
    for name in POOL_FILES:
        assert stat.S_IMODE((pool.path / name).stat().st_mode) == file_mode, name


def test_umask_without_proc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, umask: Callable[[int], None]) -> None:
    umask(0o027)
    monkeypatch.setattr(_io, "_PROC_STATUS", tmp_path / "absent")
    assert current_umask() == 0o027
    assert os.umask(0o027) == 0o027  # left as it was


def test_format_version_in_the_cache_key(coco: Path) -> None:
    assert coco_pool.POOL_FORMAT_VERSION == 3


def test_meta_arrays_of_the_wrong_shape(coco: Path, tmp_path: Path) -> None:
    pool = load(coco, tmp_path)
    meta = pool.path / "meta.npz"
    with np.load(meta) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["bboxes"] = arrays["bboxes"][:, :3]
    np.savez(meta, **arrays)
    info_path = pool.path / "info.json"
    info = json.loads(info_path.read_text())
    info_path.write_text(json.dumps(_pool_cache.seal(pool.path, {k: v for k, v in info.items() if k != "files"})))
    with pytest.raises(DamagedPoolError) as exc:
        CocoPool.open(pool.path)
    assert str(exc.value) == f"{meta}: array 'bboxes' has shape (3, 3); expected (3, 4) as info.json records"


def test_killed_build_folders_are_removed_when_stale(coco: Path, tmp_path: Path) -> None:
    pool = load(coco, tmp_path)
    parent = pool.path.parent
    key = pool.path.name
    stale, fresh, other = parent / f".tmp-{key}-dead1234", parent / f".tmp-{key}-live5678", parent / "mine"
    for d in (stale, fresh, other):
        d.mkdir()
        (d / "masks.bin").write_bytes(b"x")
    old = time.time() - coco_pool.STALE_BUILD_S - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    shutil.rmtree(pool.path)  # force a build
    load(coco, tmp_path)
    assert not stale.exists() and fresh.exists() and other.exists()
