"""Cityscapes index over the official on-disk layout.

Layout (``<stem>`` = image id, e.g. ``frankfurt_000000_000294``)::

    <root>/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png
    <root>/gtFine/<split>/<city>/<stem>_gtFine_labelIds.png
    <root>/gtFine/<split>/<city>/<stem>_gtFine_instanceIds.png
    <root>/camera/<split>/<city>/<stem>_camera.json          (optional)

:func:`list_image_ids` lists a split once (in the parent process); :func:`frame_paths` derives the
paths of one image from its id without touching the directory tree, so workers can call it per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oodforge._io import read_label_png
from oodforge.errors import DataLayoutError, SampleError
from oodforge.sources.cityscapes_camera import CameraParams, read_camera
from oodforge.sources.cityscapes_labels import VOID_TRAIN_ID, label_id_to_train_id_lut

__all__ = [
    "CameraParams",
    "CityscapesFrame",
    "check_split_has_labels",
    "frame_paths",
    "horizon_from_road",
    "list_image_ids",
    "load_label_ids",
    "read_camera",
]

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
INSTANCE_SUFFIX = "_gtFine_instanceIds.png"
CAMERA_SUFFIX = "_camera.json"


def _expected(root: Path, split: str) -> str:
    return f"expected {root}/leftImg8bit/{split}/<city>/<city>_<seq>_<frame>{IMAGE_SUFFIX}"


@dataclass(frozen=True)
class CityscapesFrame:
    """Paths of one Cityscapes frame.

    Attributes:
        image_id: the stem ``<city>_<seq>_<frame>``.
        city: the city folder name.
        split: the Cityscapes split (``train``, ``val``, ...).
        image_path: the RGB ``*_leftImg8bit.png``.
        label_path: the ``*_gtFine_labelIds.png`` (uint8 label ids).
        instance_path: the ``*_gtFine_instanceIds.png`` (may not exist; not checked here).
        camera_path: the ``*_camera.json``, or ``None`` when that file does not exist.
    """

    image_id: str
    city: str
    split: str
    image_path: Path
    label_path: Path
    instance_path: Path
    camera_path: Path | None


def _city_of(image_id: str) -> str | None:
    parts = image_id.rsplit("_", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0]


def frame_paths(root: Path, split: str, image_id: str) -> CityscapesFrame:
    """Derive the paths of one frame from its image id (no directory listing).

    Raises:
        DataLayoutError: ``image_id`` is not of the form ``<city>_<seq>_<frame>``.
    """
    city = _city_of(image_id)
    if city is None:
        raise DataLayoutError(f"Cityscapes image id '{image_id}': expected the form <city>_<seq>_<frame>")
    gt_dir = root / "gtFine" / split / city
    camera = root / "camera" / split / city / f"{image_id}{CAMERA_SUFFIX}"
    return CityscapesFrame(
        image_id=image_id,
        city=city,
        split=split,
        image_path=root / "leftImg8bit" / split / city / f"{image_id}{IMAGE_SUFFIX}",
        label_path=gt_dir / f"{image_id}{LABEL_SUFFIX}",
        instance_path=gt_dir / f"{image_id}{INSTANCE_SUFFIX}",
        camera_path=camera if camera.is_file() else None,
    )


def list_image_ids(root: Path, split: str) -> list[str]:
    """Sorted image ids of a split, after checking the layout.

    Raises:
        DataLayoutError: ``root`` is no folder, ``leftImg8bit/<split>`` is missing or holds no image,
            ``gtFine/<split>`` is missing, an image lies in a city folder its name does not start with, or
            images lack their ``*_gtFine_labelIds.png``.
    """
    if not root.is_dir():
        found = "not a folder" if root.exists() else "Cityscapes root not found"
        raise DataLayoutError(f"{root}: {found}; {_expected(root, split)}")
    img_dir = root / "leftImg8bit" / split
    if not img_dir.is_dir():
        raise DataLayoutError(f"{img_dir}: Cityscapes image folder not found; {_expected(root, split)}")
    ids: list[str] = []
    for path in sorted(img_dir.glob(f"*/*{IMAGE_SUFFIX}")):
        image_id = path.name[: -len(IMAGE_SUFFIX)]
        if _city_of(image_id) != path.parent.name:
            raise DataLayoutError(
                f"{path}: image name does not match its city folder '{path.parent.name}'; {_expected(root, split)}"
            )
        ids.append(image_id)
    if not ids:
        raise DataLayoutError(f"{img_dir}: no *{IMAGE_SUFFIX} images found; {_expected(root, split)}")
    gt_dir = root / "gtFine" / split
    if not gt_dir.is_dir():
        raise DataLayoutError(
            f"{gt_dir}: Cityscapes label folder not found; expected {gt_dir}/<city>/<city>_<seq>_<frame>{LABEL_SUFFIX}"
        )
    present = {p.name for p in gt_dir.glob(f"*/*{LABEL_SUFFIX}")}
    missing = [i for i in ids if f"{i}{LABEL_SUFFIX}" not in present]
    if missing:
        first = frame_paths(root, split, missing[0]).label_path
        raise DataLayoutError(
            f"{first}: label file not found ({len(missing)} of {len(ids)} images in split '{split}' lack their "
            f"*{LABEL_SUFFIX}); expected one next to each image under {gt_dir}/<city>/"
        )
    return sorted(ids)


def load_label_ids(path: Path) -> np.ndarray:
    """Read a ``*_gtFine_labelIds.png`` as an (H, W) ``uint8`` array of Cityscapes label ids.

    Raises:
        SampleError: the file is missing, unreadable, truncated or not single-channel.
    """
    return read_label_png(path, np.uint8)


def check_split_has_labels(root: Path, split: str, image_ids: list[str], sample: int = 3) -> None:
    """Refuse a split whose labels are empty (all train ids 255), like the public Cityscapes test split.

    Decodes the labels of up to ``sample`` images, the first ones in sorted order **that decode**;
    passes as soon as one of them has a pixel with a train id other than 255. A label file that cannot
    be read is skipped here: it is that image's own failure (:func:`load_label_ids` raises a
    :class:`SampleError` when the image is processed), never the run's.

    Raises:
        DataLayoutError: every sampled label image that decodes holds only void pixels.
    """
    lut = label_id_to_train_id_lut()
    judged: list[str] = []
    for image_id in sorted(image_ids):
        if len(judged) >= max(sample, 1):
            break
        try:
            labels = load_label_ids(frame_paths(root, split, image_id).label_path)
        except SampleError:
            continue
        if np.any(lut[labels] != VOID_TRAIN_ID):
            return
        judged.append(image_id)
    if judged:
        raise DataLayoutError(
            f"{root}/gtFine/{split}: the labels of the first {len(judged)} readable images hold only void pixels "
            f"(train id 255), so split '{split}' has empty labels and cannot be a source; expected a labelled "
            "split: use train or val; oodforge's `part` carves test from val"
        )


def horizon_from_road(label_ids: np.ndarray, road_ids: Sequence[int]) -> int | None:
    """Top image row that holds a road pixel: a horizon estimate when no camera file exists.

    Args:
        label_ids: (H, W) integer label ids.
        road_ids: the label ids counted as road.

    Returns:
        The smallest row index containing any of ``road_ids``, or ``None`` when there is none.
    """
    rows = np.flatnonzero(np.isin(label_ids, np.asarray(list(road_ids))).any(axis=1))
    return int(rows[0]) if rows.size else None
