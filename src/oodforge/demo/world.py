"""The demo world: a small procedural Cityscapes + COCO pair in the real on-disk layouts.

``write_demo_world(root)`` writes::

    root/cityscapes/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png
    root/cityscapes/gtFine/<split>/<city>/<stem>_gtFine_{labelIds,instanceIds,color}.png
    root/cityscapes/camera/<split>/<city>/<stem>_camera.json      (two val frames have none)
    root/coco/train2017/<image_id:012d>.jpg
    root/coco/annotations/instances_train2017.json
    root/demo_world.json                                          (what was written, with which arguments)

so that the synthesis pipeline reads it through exactly the code paths real data uses. About one
train/val frame in eight is a plaza with neither road nor sidewalk (nothing can be placed there with
the default target labels); the ``test`` split has empty
labels like the public Cityscapes test split. The bytes are a pure function of the arguments, and a
rewrite with other arguments removes the files the previous demo world wrote and this one does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from oodforge._io import atomic_write_bytes, encode_image, encode_png
from oodforge.demo.coco_world import build_coco
from oodforge.demo.scenes import Scene, empty_labels, render_scene
from oodforge.sources.cityscapes_labels import LABELS

__all__ = ["CITIES", "DemoWorld", "write_demo_world"]

#: Cities per split (frames are dealt to them round-robin).
CITIES: dict[str, tuple[str, ...]] = {
    "train": ("aachen", "bochum"),
    "val": ("frankfurt", "lindau", "munster"),
    "test": ("berlin", "bielefeld"),
}
_SPLIT_CODE = {"train": 1, "val": 2, "test": 3}
_MARKER = "demo_world.json"
_FRAME = 19  # gtFine frames of real Cityscapes sequences are mostly *_000019


@dataclass(frozen=True)
class DemoWorld:
    """Where the demo world lies and what it holds."""

    root: Path
    cityscapes_root: Path
    coco_root: Path
    seed: int
    size: tuple[int, int]
    n_train: int
    n_val: int
    n_test: int
    n_coco_images: int
    n_coco_annotations: int
    #: image ids (Cityscapes stems) per split, in frame order
    image_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: plaza frames: no road and no sidewalk pixel
    no_road: tuple[str, ...] = ()
    #: frames written without ``camera/*.json``
    no_camera: tuple[str, ...] = ()


class _Writer:
    """Writes files (skipping identical content) and remembers every path written."""

    def __init__(self) -> None:
        self.paths: set[Path] = set()

    def put(self, path: Path, data: bytes) -> None:
        self.paths.add(path)
        try:
            if path.read_bytes() == data:
                return
        except OSError:
            pass
        atomic_write_bytes(path, data)


def _color_png(labels: np.ndarray) -> bytes:
    """``*_gtFine_color.png`` as Cityscapes ships it: RGBA, label colours, alpha 255."""
    lut = np.zeros((256, 4), np.uint8)
    lut[:, 3] = 255
    for lab in LABELS:
        if lab.id >= 0:
            lut[lab.id, :3] = lab.color
    bgra = cv2.cvtColor(lut[labels], cv2.COLOR_RGBA2BGRA)
    ok, buf = cv2.imencode(".png", bgra, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:  # pragma: no cover - cv2 always encodes a small uint8 image
        raise RuntimeError("PNG encoding of the colour labels failed")
    return buf.tobytes()


def _frame_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_CODE[split], index]))


def _write_frame(out: _Writer, cs: Path, split: str, stem: str, scene: Scene, *, camera: bool) -> None:
    city = stem.split("_")[0]
    out.put(cs / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", encode_png(scene.rgb, 3))
    gt = cs / "gtFine" / split / city
    labels, inst = scene.label_ids, scene.instance_ids
    if split == "test":
        labels = empty_labels(labels)
        inst = labels.astype(np.uint16)
    out.put(gt / f"{stem}_gtFine_labelIds.png", encode_png(labels, 6))
    out.put(gt / f"{stem}_gtFine_instanceIds.png", encode_png(inst, 6))
    out.put(gt / f"{stem}_gtFine_color.png", _color_png(labels))
    if camera:
        text = json.dumps(scene.camera.to_json(), indent=4) + "\n"
        out.put(cs / "camera" / split / city / f"{stem}_camera.json", text.encode("utf-8"))


def _remove_stale(root: Path, keep: set[Path]) -> None:
    """Delete files a previous demo world wrote under ``cityscapes/`` and ``coco/`` that are not in ``keep``."""
    for sub in ("cityscapes", "coco"):
        base = root / sub
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*"), reverse=True):
            if path.is_file() and path not in keep:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()


def write_demo_world(
    root: Path,
    *,
    seed: int = 0,
    n_train: int = 12,
    n_val: int = 12,
    n_test: int = 3,
    size: tuple[int, int] = (512, 256),
    n_coco_images: int = 40,
) -> DemoWorld:
    """Write (or refresh) the demo world under ``root`` and describe it.

    Args:
        root: folder that receives ``cityscapes/``, ``coco/`` and ``demo_world.json``.
        seed: the only source of randomness; same arguments give byte-identical files.
        n_train: frames in Cityscapes ``train``.
        n_val: frames in Cityscapes ``val``.
        n_test: frames in Cityscapes ``test`` (empty labels, as the public test split).
        size: (width, height) of the frames; real Cityscapes is 2048 x 1024.
        n_coco_images: COCO images (1-4 objects each, including the filter traps).

    Returns:
        The :class:`DemoWorld` written.

    Raises:
        ValueError: a negative count, a negative seed, or a frame smaller than 64 x 32.
    """
    if min(n_train, n_val, n_test, n_coco_images) < 0 or seed < 0:
        raise ValueError("seed and counts must be >= 0")
    width, height = int(size[0]), int(size[1])
    if width < 64 or height < 32:
        raise ValueError(f"size {size} is too small; expected at least (64, 32)")
    root = Path(root)
    had_marker = (root / _MARKER).is_file()
    out = _Writer()
    cs, coco = root / "cityscapes", root / "coco"
    image_ids: dict[str, tuple[str, ...]] = {}
    no_road: list[str] = []
    no_camera: list[str] = []
    for split, count in (("train", n_train), ("val", n_val), ("test", n_test)):
        cities = CITIES[split]
        stems = []
        for i in range(count):
            stem = f"{cities[i % len(cities)]}_{i // len(cities):06d}_{_FRAME:06d}"
            has_road = split == "test" or i % 8 != 5
            camera = not (split == "val" and i in (2, 9))
            scene = render_scene(_frame_rng(seed, split, i), width, height, has_road=has_road)
            _write_frame(out, cs, split, stem, scene, camera=camera)
            stems.append(stem)
            no_road += [] if has_road else [stem]
            no_camera += [] if camera else [stem]
        image_ids[split] = tuple(stems)
    images, doc = build_coco(np.random.default_rng(np.random.SeedSequence([seed, 99])), n_coco_images)
    for im in images:
        out.put(coco / "train2017" / im.entry["file_name"], encode_image(im.rgb, "jpg", jpeg_quality=92))
    out.put(coco / "annotations" / "instances_train2017.json", (json.dumps(doc) + "\n").encode("utf-8"))
    if had_marker:
        _remove_stale(root, out.paths)
    world = DemoWorld(
        root=root, cityscapes_root=cs, coco_root=coco, seed=seed, size=(width, height), n_train=n_train,
        n_val=n_val, n_test=n_test, n_coco_images=len(images), n_coco_annotations=len(doc["annotations"]),
        image_ids=image_ids, no_road=tuple(no_road), no_camera=tuple(no_camera),
    )  # fmt: skip
    marker = {
        "generator": "oodforge.demo.write_demo_world",
        "seed": seed, "size": [width, height], "n_train": n_train, "n_val": n_val, "n_test": n_test,
        "n_coco_images": len(images), "n_coco_annotations": len(doc["annotations"]),
        "no_road": list(no_road), "no_camera": list(no_camera),
    }  # fmt: skip
    out.put(root / _MARKER, (json.dumps(marker, indent=2) + "\n").encode("utf-8"))
    return world
