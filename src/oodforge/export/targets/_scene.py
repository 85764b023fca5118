"""The Cityscapes scene under a composite: its label ids and instance ids, from the source Cityscapes root.

The root is the dataset's ``config.yaml`` ``sources.cityscapes.root`` (a relative path resolves against
the dataset folder, where that resolved config lives, as the config loader does), unless the caller
passes one. The scene is checked against the composite's GT: a pixel the GT calls normal (0) must have a
non-void train id (a void scene pixel is ignore, 255, unless an object covers it). A mismatch means the
root is not the dataset's source, or its files changed since the dataset was built.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oodforge._io import read_label_png
from oodforge.config.loader import read_yaml, resolve_path
from oodforge.errors import ConfigError, DataLayoutError, InputFileError, SampleError
from oodforge.export.targets._dataset import Composite
from oodforge.sources.cityscapes import frame_paths
from oodforge.sources.cityscapes_labels import VOID_TRAIN_ID, label_id_to_train_id_lut

__all__ = ["check_scene", "cityscapes_root_of", "scene_instance_ids", "scene_label_ids"]

_LUT = label_id_to_train_id_lut()


def cityscapes_root_of(dataset: Path, override: Path | None = None) -> Path:
    """The Cityscapes root of a dataset: ``override``, else its ``config.yaml`` ``sources.cityscapes.root``.

    Raises:
        ConfigError: no override and the config is missing, unreadable or lacks the key.
        DataLayoutError: the root is not a folder.
    """
    if override is not None:
        root, origin = override.expanduser(), "--cityscapes-root"
    else:
        config = dataset / "config.yaml"
        if not config.is_file():
            raise ConfigError(f"{config}: dataset config not found; pass --cityscapes-root with the Cityscapes root")
        data = read_yaml(config)
        value = None
        if isinstance(data, dict) and isinstance(data.get("sources"), dict):
            cs = data["sources"].get("cityscapes")
            value = cs.get("root") if isinstance(cs, dict) else None
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"{config}: missing key 'sources.cityscapes.root'; pass --cityscapes-root with the Cityscapes root"
            )
        root, origin = Path(resolve_path(value, dataset.resolve())), f"{config} sources.cityscapes.root"
    if not root.is_dir():
        raise DataLayoutError(
            f"{root} (from {origin}): Cityscapes root not found; expected a folder holding gtFine/<split>/<city>/ "
            "(pass --cityscapes-root where the Cityscapes data lives now)"
        )
    return root


def _read(path: Path, dtype: type, what: str, shape: tuple[int, ...]) -> np.ndarray:
    if not path.is_file():
        raise InputFileError(f"{path}: Cityscapes {what} not found; expected it for the scene of this dataset image")
    try:
        arr = read_label_png(path, dtype)
    except SampleError as exc:
        raise InputFileError(str(exc)) from None
    if arr.shape != shape:
        raise DataLayoutError(
            f"{path}: {what} is {arr.shape[1]}x{arr.shape[0]}; the dataset image is {shape[1]}x{shape[0]}"
        )
    return arr


def scene_label_ids(root: Path, comp: Composite) -> np.ndarray:
    """The scene's ``*_gtFine_labelIds.png`` as (H, W) uint8 label ids, checked with :func:`check_scene`.

    Raises:
        InputFileError: the file is missing or unreadable (the message names it).
        DataLayoutError: another size than the composite, or labels that contradict its GT.
    """
    path = frame_paths(root, comp.source_split, comp.image_id).label_path
    label_ids = _read(path, np.uint8, "label ids", comp.gt.shape)
    check_scene(comp.gt, _LUT[label_ids], str(path))
    return label_ids


def scene_instance_ids(root: Path, comp: Composite) -> np.ndarray:
    """The scene's ``*_gtFine_instanceIds.png`` as (H, W) int32 (``labelId * 1000 + k`` or a plain label id).

    Raises:
        InputFileError: the file is missing or unreadable (the message names it).
        DataLayoutError: another size than the composite.
    """
    path = frame_paths(root, comp.source_split, comp.image_id).instance_path
    return _read(path, np.int32, "instance ids", comp.gt.shape)


def check_scene(gt: np.ndarray, train_ids: np.ndarray, where: str) -> None:
    """Check that the scene's train ids fit the composite's GT (see the module docstring).

    Args:
        gt: (H, W) uint8 0/1/255 of the composite.
        train_ids: (H, W) uint8 scene train ids (255 void).
        where: how messages name the scene labels (their file).

    Raises:
        DataLayoutError: GT 0 on a void scene pixel.

    Example:
        >>> check_scene(np.array([[0, 1, 255]], np.uint8), np.array([[7, 255, 255]], np.uint8), "s.png")
        >>> check_scene(np.array([[0, 0]], np.uint8), np.array([[7, 255]], np.uint8), "s.png")
        Traceback (most recent call last):
        ...
        oodforge.errors.DataLayoutError: s.png: 1 pixel(s) are void in the scene but normal (GT 0) in the dataset (e.g. row 0, col 1); is this Cityscapes root the dataset's source?
    """  # noqa: E501
    wrong = (gt == 0) & (train_ids == VOID_TRAIN_ID)
    n = int(np.count_nonzero(wrong))
    if n:
        r, c = (int(v[0]) for v in np.nonzero(wrong))
        raise DataLayoutError(
            f"{where}: {n} pixel(s) are void in the scene but normal (GT 0) in the dataset (e.g. row {r}, col {c}); "
            "is this Cityscapes root the dataset's source?"
        )
