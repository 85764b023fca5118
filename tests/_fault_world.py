"""Every input of the CLI fault matrix (``tests/cli/test_fault_matrix.py``), good and broken, in one folder.

:func:`build_fault_world` writes, in about a second: the inspect fixture dataset (``ds``), an eval dataset with
score maps (``ev``, ``scores``), logits (``logits``), a two-frame Cityscapes root (``cs``), an ERFNet state dict
with random weights (``w.pth``), a hand-made render output (``rd``) and the broken variants named below; also a
regular file ``afile`` and an empty folder ``adir``. :func:`train_config` writes a training config on ``cs``;
:func:`break_disk` makes the output file system fail.
"""

from __future__ import annotations

import errno
import importlib.util
import io
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import yaml

from _helpers import ROOT
from oodforge import _io
from oodforge._io import encode_image, encode_png

__all__ = ["GARBAGE", "break_disk", "build_fault_world", "train_config"]

#: Bytes that are no image, no array, no pickle, no YAML and no UTF-8.
GARBAGE = b"\x00\xff\xfe\x89garbage\x01\x02" * 8
CS_IDS = ("aachen_000000_000019", "aachen_000001_000019")


def _load(name: str, path: Path) -> ModuleType:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses need the module registered while it executes
        spec.loader.exec_module(module)
    return sys.modules[name]


TESTS = Path(__file__).parent
inspect_fx = _load("_oodforge_inspect_fixtures", TESTS / "inspect" / "conftest.py")
eval_fx = _load("eval_fixtures", TESTS / "eval" / "eval_fixtures.py")


def _truncate(path: Path, keep: int = 60) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _cityscapes(root: Path, truncate: bool = False) -> None:
    """``leftImg8bit/val`` + ``gtFine/val`` labelIds of :data:`CS_IDS` (32 x 64, road below sky)."""
    label = np.full((32, 64), 7, np.uint8)  # road
    label[:10] = 23  # sky
    for k, image_id in enumerate(CS_IDS):
        image = np.random.default_rng(k).integers(0, 256, (32, 64, 3), dtype=np.uint8)
        city = image_id.split("_")[0]
        img = _write(root / "leftImg8bit" / "val" / city / f"{image_id}_leftImg8bit.png", encode_image(image, "png"))
        _write(root / "gtFine" / "val" / city / f"{image_id}_gtFine_labelIds.png", encode_png(label))
        if truncate:
            _truncate(img)


def _render(root: Path) -> None:
    """A render output written by hand (camera cam0, a normal and an anomalous 16 x 8 frame)."""
    import json

    _write(root / "config.yaml", b"output_root: .\nrender: {resolution: [16, 8]}\n")
    lines = []
    for k, (fid, anomalous) in enumerate((("n1", False), ("a1", True))):
        gt = np.zeros((8, 16), np.uint8)
        gt[2:5, 3:9] = int(anomalous)
        outputs = {"image": f"cam0/images/{fid}.png", "gt_pixel": f"cam0/gt/{fid}.png", "fb_mask": f"cam0/fb/{fid}.png"}
        _write(root / outputs["image"], encode_png(np.full((8, 16, 3), 40 * k, np.uint8)))
        _write(root / outputs["gt_pixel"], encode_png(gt))
        _write(root / outputs["fb_mask"], encode_png((gt == 0).astype(np.uint8)))
        rec = {"kind": "render", "camera": "cam0", "image_id": fid, "status": "ok", "is_anomalous": anomalous,
               "outputs": outputs}  # fmt: skip
        lines.append(json.dumps(rec) + "\n")
    _write(root / "manifest.jsonl", "".join(lines).encode())


def train_config(w: Path, out: Path, overrides: dict[str, Any] | None = None) -> Path:
    """``out/train.yaml``: ``configs/tiny_semantic.yaml`` on ``w/cs``, output ``out/run``, dotted-key overrides."""
    data = yaml.safe_load((ROOT / "configs" / "tiny_semantic.yaml").read_text())
    data["data"]["cityscapes_root"] = str(w / "cs")
    data["data"]["train_split"] = "val"
    data["output_dir"] = str(out / "run")
    data["trainer"]["progress_bar"] = False
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, last = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    path = out / "train.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def _eval_world(w: Path) -> None:
    labels = eval_fx.make_synth(w / "ev")
    scores = eval_fx.random_scores(labels, seed=2)
    eval_fx.write_scores(w / "scores", scores)
    first = eval_fx.IDS[0]
    for name, make in (
        ("scores_shape", lambda p: np.save(p, np.zeros((16, 64), np.float32))),
        ("scores_dtype", lambda p: np.save(p, np.zeros((32, 64), np.uint8))),
        ("scores_garbage", lambda p: p.write_bytes(GARBAGE)),
    ):
        shutil.copytree(w / "scores", w / name)
        make(w / name / f"{first}.npy")
    shutil.copytree(w / "scores", w / "scores_zip")
    (w / "scores_zip" / f"{first}.npy").rename(w / "scores_zip" / f"{first}.npz")
    _write(w / "scores_zip" / f"{first}.npz", b"PK\x03\x04" + GARBAGE)  # a truncated zip archive
    shutil.copytree(w / "ev", w / "ev_trunc")
    _truncate(w / "ev_trunc" / "test" / "gt_pixel" / f"{first}.png")


def _score_world(w: Path) -> None:
    logits = np.random.default_rng(0).standard_normal((4, 8, 16)).astype(np.float32)
    (w / "logits").mkdir()
    np.save(w / "logits" / "a.npy", logits)
    _write(w / "logits_garbage" / "a.npy", GARBAGE)
    _write(w / "logits_zip" / "a.npz", b"PK\x03\x04" + GARBAGE)
    (w / "logits_2d").mkdir()
    np.save(w / "logits_2d" / "a.npy", logits[0])
    _write(w / "sml_garbage.npz", GARBAGE)
    np.save(w / "sml_array.npy", logits)


def build_fault_world(w: Path) -> Path:
    """Write every input of the fault matrix under ``w`` and return ``w``."""
    import torch

    from oodforge.models import create_model

    inspect_fx.build_dataset(w / "ds")
    shutil.copytree(w / "ds", w / "ds_trunc")
    _truncate(w / "ds_trunc" / "train" / "images" / "aachen_000001_000019.png")
    _truncate(w / "ds_trunc" / "train" / "gt_pixel" / "aachen_000000_000019.png")
    shutil.copytree(w / "ds", w / "ds_badmanifest")
    (w / "ds_badmanifest" / "manifest.jsonl").write_bytes(GARBAGE)
    (w / "ds_manifestdir" / "manifest.jsonl").mkdir(parents=True)
    _eval_world(w)
    _score_world(w)
    _cityscapes(w / "cs")
    _cityscapes(w / "cs_trunc", truncate=True)
    torch.manual_seed(0)
    torch.save(create_model("erfnet", num_classes=19).state_dict(), w / "w.pth")
    torch.save({"x": torch.zeros(3)}, w / "foreign.pth")
    torch.save({"state_dict": {"model.other.weight": torch.zeros(2)}}, w / "other.ckpt")  # another model's run
    _write(w / "junk.ckpt", GARBAGE)
    _write(w / "junk.pth", GARBAGE)
    image = np.random.default_rng(3).integers(0, 256, (32, 64, 3), dtype=np.uint8)
    _write(w / "img.png", encode_image(image, "png"))
    _write(w / "imgs" / "x_leftImg8bit.png", encode_image(image, "png"))
    _write(w / "trunc.png", encode_image(image, "png")[:60])
    _write(w / "imgs_trunc" / "y.png", encode_image(image, "png")[:60])
    _write(w / "imgs_trunc" / "z_leftImg8bit.png", encode_image(image, "png"))
    _render(w / "rd")
    _write(w / "empty.yaml", b"")
    _write(w / "garbage.yaml", GARBAGE)
    _write(w / "syntax.yaml", b"task: [semantic\n")
    _write(w / "afile", b"a regular file\n")
    (w / "adir").mkdir()
    return w


class _FullDisk(io.RawIOBase):
    """A file whose writes fail like a full disk's: ``OSError(code)`` without a file name."""

    def __init__(self, fd: int, code: int) -> None:
        self.fd, self.code = fd, code

    def fileno(self) -> int:
        return self.fd

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise OSError(self.code, os.strerror(self.code))

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


def break_disk(monkeypatch: pytest.MonkeyPatch, disk: str) -> None:
    """``rename:ERRNO``: the atomic rename of every write fails; ``write:ERRNO``: every write fails, unnamed."""
    where, name = disk.split(":")
    code = getattr(errno, name)
    if where == "write":
        monkeypatch.setattr(_io.os, "fdopen", lambda fd, mode="r": _FullDisk(fd, code))
        return

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        raise OSError(code, os.strerror(code), os.fspath(src), None, os.fspath(dst))

    monkeypatch.setattr(_io.os, "replace", replace)
