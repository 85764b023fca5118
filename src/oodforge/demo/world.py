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
labels like the public Cityscapes test split. The bytes are a pure function of the arguments.

``root`` carries the list of the files oodforge wrote there (:mod:`oodforge.export.owned_folder`): a
non-empty folder without it (say, a real Cityscapes download) is refused, and a rewrite with other
arguments removes only listed files this world no longer has; files oodforge did not write stay.
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
from oodforge.export.owned_folder import open_owned_folder
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
_COCO_JSON = "coco/annotations/instances_train2017.json"
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


def _put(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` unless it already holds exactly that (a rewrite keeps mtimes)."""
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


def _frame_files(split: str, stem: str, *, camera: bool) -> dict[str, str]:
    """The files of one frame, relative to the world root, by kind."""
    city = stem.split("_")[0]
    gt = f"cityscapes/gtFine/{split}/{city}/{stem}_gtFine"
    files = {
        "image": f"cityscapes/leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png",
        "labels": f"{gt}_labelIds.png",
        "instances": f"{gt}_instanceIds.png",
        "color": f"{gt}_color.png",
    }
    if camera:
        files["camera"] = f"cityscapes/camera/{split}/{city}/{stem}_camera.json"
    return files


def _write_frame(root: Path, files: dict[str, str], split: str, scene: Scene) -> None:
    _put(root / files["image"], encode_png(scene.rgb, 3))
    labels, inst = scene.label_ids, scene.instance_ids
    if split == "test":
        labels = empty_labels(labels)
        inst = labels.astype(np.uint16)
    _put(root / files["labels"], encode_png(labels, 6))
    _put(root / files["instances"], encode_png(inst, 6))
    _put(root / files["color"], _color_png(labels))
    if "camera" in files:
        text = json.dumps(scene.camera.to_json(), indent=4) + "\n"
        _put(root / files["camera"], text.encode("utf-8"))


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
        root: folder that receives ``cityscapes/``, ``coco/`` and ``demo_world.json``: new, empty, or a demo world.
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
        UsageError: ``root`` is not empty and not a demo world (no list of oodforge's files), or holds a file
            oodforge did not write where the world has one.
    """
    if min(n_train, n_val, n_test, n_coco_images) < 0 or seed < 0:
        raise ValueError("seed and counts must be >= 0")
    width, height = int(size[0]), int(size[1])
    if width < 64 or height < 32:
        raise ValueError(f"size {size} is too small; expected at least (64, 32)")
    root = Path(root)
    frames = []  # (split, index, stem, has_road, camera)
    for split, count in (("train", n_train), ("val", n_val), ("test", n_test)):
        cities = CITIES[split]
        for i in range(count):
            stem = f"{cities[i % len(cities)]}_{i // len(cities):06d}_{_FRAME:06d}"
            frames.append((split, i, stem, split == "test" or i % 8 != 5, not (split == "val" and i in (2, 9))))
    images, doc = build_coco(np.random.default_rng(np.random.SeedSequence([seed, 99])), n_coco_images)
    files = [_frame_files(split, stem, camera=camera) for split, _, stem, _, camera in frames]
    coco_files = [f"coco/train2017/{im.entry['file_name']}" for im in images]
    with open_owned_folder(root, command="oodforge demo (world)", overwrite=True, key="demo world folder") as owned:
        owned.claim([*(f for ff in files for f in ff.values()), *coco_files, _COCO_JSON, _MARKER])
        for (split, i, _, has_road, _), ff in zip(frames, files, strict=True):
            _write_frame(root, ff, split, render_scene(_frame_rng(seed, split, i), width, height, has_road=has_road))
        for im, rel in zip(images, coco_files, strict=True):
            _put(root / rel, encode_image(im.rgb, "jpg", jpeg_quality=92))
        _put(root / _COCO_JSON, (json.dumps(doc) + "\n").encode("utf-8"))
        no_road = [stem for _, _, stem, has_road, _ in frames if not has_road]
        no_camera = [stem for _, _, stem, _, camera in frames if not camera]
        marker = {
            "generator": "oodforge.demo.write_demo_world",
            "seed": seed, "size": [width, height], "n_train": n_train, "n_val": n_val, "n_test": n_test,
            "n_coco_images": len(images), "n_coco_annotations": len(doc["annotations"]),
            "no_road": no_road, "no_camera": no_camera,
        }  # fmt: skip
        _put(root / _MARKER, (json.dumps(marker, indent=2) + "\n").encode("utf-8"))
    image_ids = {split: tuple(f[2] for f in frames if f[0] == split) for split in ("train", "val", "test")}
    return DemoWorld(
        root=root, cityscapes_root=root / "cityscapes", coco_root=root / "coco", seed=seed, size=(width, height),
        n_train=n_train, n_val=n_val, n_test=n_test, n_coco_images=len(images),
        n_coco_annotations=len(doc["annotations"]), image_ids=image_ids, no_road=tuple(no_road),
        no_camera=tuple(no_camera),
    )  # fmt: skip
