"""Cityscapes semantic-segmentation training data: a torch Dataset over trainIds, class statistics.

:class:`CityscapesSegmentation` reads the official layout (through :mod:`oodforge.sources.cityscapes`),
maps ``*_gtFine_labelIds.png`` to train ids with the official look-up table (or reads
``*_gtFine_labelTrainIds.png`` directly) and applies random scale, pad, crop and flip
(:mod:`oodforge.learn._transforms`). The augmentation of a sample is a pure function of
``(seed, epoch, index)``: its generator is seeded with a stable hash of the three, never from
global state, so any number of DataLoader workers gives the same batches.

:func:`class_pixel_counts` gives per-image class pixel counts: their column sums feed
:func:`oodforge.learn.losses.class_weights_from_frequencies` (loss class weights) and the rows feed
:func:`class_balanced_sampler` (a sampler favouring images with rare classes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from oodforge._io import read_image_rgb, read_label_png
from oodforge._seeding import stable_uint64
from oodforge.errors import DataLayoutError, SampleError, ValueCheckError
from oodforge.learn._transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentParams,
    SharedEpoch,
    apply_augment,
    sample_augment,
    to_image_tensor,
)
from oodforge.sources.cityscapes import IMAGE_SUFFIX, frame_paths, list_image_ids, load_label_ids
from oodforge.sources.cityscapes_labels import label_id_to_train_id_lut

__all__ = [
    "CityscapesSegmentation",
    "class_balanced_sampler",
    "class_pixel_counts",
    "image_weights",
]

LabelSource = Literal["labelIds", "labelTrainIds"]
Progress = Callable[[int, int], None]
_TRAIN_ID_SUFFIX = "_gtFine_labelTrainIds.png"


def _read_train_ids(path: Path, label_source: LabelSource, lut: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    if label_source == "labelIds":
        return np.asarray(lut[load_label_ids(path)], dtype=np.uint8)
    return read_label_png(path, np.uint8)


class CityscapesSegmentation(Dataset[dict[str, torch.Tensor]]):
    """Cityscapes images with train-id targets and seeded random scale / crop / flip.

    Args:
        root: Cityscapes root (``leftImg8bit/``, ``gtFine/``).
        split: source split, e.g. ``"train"``.
        crop_size: ``(h, w)`` output size (padded when the scaled image is smaller: image 0,
            labels 255), or ``None`` for the whole scaled image.
        scale_range: random scale factor, uniform in ``[lo, hi]``; ``(1.0, 1.0)`` disables it.
        hflip: random horizontal flip with probability 0.5.
        seed: base seed of the augmentation streams.
        label_source: ``"labelIds"`` (mapped through the official LUT) or ``"labelTrainIds"``
            (``*_gtFine_labelTrainIds.png`` written by cityscapesScripts, read as is).
        mean: RGB mean on the [0, 1] scale for :meth:`__getitem__` (ImageNet by default).
        std: RGB std on the [0, 1] scale.
        ignore_index: label value of void and padded pixels.
        image_ids: restrict to these image ids (default: the whole split, sorted).
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        *,
        crop_size: tuple[int, int] | None = (512, 1024),
        scale_range: tuple[float, float] = (0.5, 2.0),
        hflip: bool = True,
        seed: int = 0,
        label_source: LabelSource = "labelIds",
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        ignore_index: int = 255,
        image_ids: Sequence[str] | None = None,
    ) -> None:
        if crop_size is not None and (len(crop_size) != 2 or min(crop_size) < 1):
            raise ValueCheckError(f"crop_size {crop_size}; expected (h, w) with h, w >= 1, or None")
        if not 0 < scale_range[0] <= scale_range[1]:
            raise ValueCheckError(f"scale_range {scale_range}; expected 0 < lo <= hi")
        if label_source not in ("labelIds", "labelTrainIds"):
            raise ValueCheckError(f"label_source {label_source!r}; expected 'labelIds' or 'labelTrainIds'")
        self.root, self.split = Path(root), split
        self.crop_size = None if crop_size is None else (int(crop_size[0]), int(crop_size[1]))
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.hflip, self.seed, self.label_source = hflip, int(seed), label_source
        self.mean, self.std, self.ignore_index = tuple(mean), tuple(std), int(ignore_index)
        if image_ids is not None:
            self.image_ids = list(image_ids)
        elif label_source == "labelIds":
            self.image_ids = list_image_ids(self.root, split)
        else:
            folder = self.root / "leftImg8bit" / split
            self.image_ids = sorted(p.name[: -len(IMAGE_SUFFIX)] for p in folder.glob(f"*/*{IMAGE_SUFFIX}"))
            if not self.image_ids:
                raise DataLayoutError(f"{folder}: no *{IMAGE_SUFFIX} images found")
        self._lut = label_id_to_train_id_lut()
        self._epoch = SharedEpoch(0)

    def __len__(self) -> int:
        return len(self.image_ids)

    @property
    def epoch(self) -> int:
        """The epoch the augmentation streams are seeded with."""
        return self._epoch.value

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` from now on; DataLoader workers (persistent ones too) see it."""
        self._epoch.set(epoch)

    def label_path(self, index: int) -> Path:
        """The label file of sample ``index`` (labelIds or labelTrainIds, per ``label_source``)."""
        frame = frame_paths(self.root, self.split, self.image_ids[index])
        if self.label_source == "labelIds":
            return frame.label_path
        return frame.label_path.with_name(f"{frame.image_id}{_TRAIN_ID_SUFFIX}")

    def load_train_ids(self, index: int) -> npt.NDArray[np.uint8]:
        """Un-augmented ``(H, W)`` uint8 train ids of sample ``index`` (255 = void)."""
        return _read_train_ids(self.label_path(index), self.label_source, self._lut)

    def load(self, index: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        """Un-augmented ``(H, W, 3)`` uint8 RGB image and ``(H, W)`` uint8 train ids.

        Raises:
            SampleError: a file is missing or unreadable, or image and labels differ in size.
        """
        image = read_image_rgb(frame_paths(self.root, self.split, self.image_ids[index]).image_path)
        train_ids = self.load_train_ids(index)
        if image.shape[:2] != train_ids.shape:
            raise SampleError(
                f"{self.image_ids[index]}: image is {image.shape[1]}x{image.shape[0]} but its labels are "
                f"{train_ids.shape[1]}x{train_ids.shape[0]}"
            )
        return image, train_ids

    def sample_params(self, index: int, source_hw: tuple[int, int], epoch: int | None = None) -> AugmentParams:
        """The augmentation of sample ``index`` at ``epoch`` (default: the current epoch)."""
        ep = self.epoch if epoch is None else int(epoch)
        rng = np.random.default_rng(stable_uint64("cityscapes_segmentation", self.seed, ep, index))
        return sample_augment(rng, source_hw, crop_size=self.crop_size, scale_range=self.scale_range, hflip=self.hflip)

    def get_pair(self, index: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        """Augmented sample as numpy: ``(h, w, 3)`` uint8 RGB and ``(h, w)`` uint8 train ids."""
        image, train_ids = self.load(index)
        params = self.sample_params(index, train_ids.shape)
        return apply_augment(image, train_ids, params, ignore_index=self.ignore_index)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """Augmented sample as tensors.

        Returns:
            ``image`` (3, h, w) float32 normalised with ``mean`` / ``std``; ``target`` (h, w) int64
            train ids (``ignore_index`` = void).
        """
        image, train_ids = self.get_pair(index)
        return {
            "image": to_image_tensor(image, self.mean, self.std),
            "target": torch.from_numpy(train_ids.astype(np.int64)),
        }


def class_pixel_counts(
    source: CityscapesSegmentation | Sequence[str | Path],
    num_classes: int = 19,
    *,
    label_source: LabelSource = "labelIds",
    progress: Progress | None = None,
) -> npt.NDArray[np.int64]:
    """Per-image pixel counts of each train id on the un-augmented labels.

    Args:
        source: a dataset (its label files are read, no augmentation) or label file paths.
        num_classes: train ids ``0 .. num_classes - 1`` are counted; others (255) are not.
        label_source: for paths, ``"labelIds"`` (mapped through the official LUT) or
            ``"labelTrainIds"``; a dataset uses its own.
        progress: called as ``progress(done, total)`` after each image.

    Returns:
        ``(N, num_classes)`` int64 counts, row ``i`` for image ``i``.
    """
    lut = label_id_to_train_id_lut()
    if isinstance(source, CityscapesSegmentation):
        paths = [source.label_path(i) for i in range(len(source))]
        label_source = source.label_source
    else:
        paths = [Path(p) for p in source]
    counts = np.zeros((len(paths), num_classes), dtype=np.int64)
    for i, path in enumerate(paths):
        hist = np.bincount(_read_train_ids(path, label_source, lut).ravel(), minlength=256)
        counts[i] = hist[:num_classes]
        if progress is not None:
            progress(i + 1, len(paths))
    return counts


def image_weights(counts: npt.ArrayLike, *, power: float = 0.5) -> npt.NDArray[np.float64]:
    """Per-image sampling weights favouring images that contain rare classes.

    ``w_i = sum over classes k present in image i of (1 / f_k) ** power``, with ``f_k`` the
    fraction of all labelled pixels (over the whole dataset) that belong to class ``k``; the
    weights are normalised to sum to 1. An image with no labelled pixel gets weight 0.

    Args:
        counts: ``(N, C)`` per-image pixel counts (:func:`class_pixel_counts`).
        power: 0 weighs images by their number of classes; 1 by summed inverse frequency.

    Returns:
        ``(N,)`` float64 weights summing to 1.
    """
    arr = np.asarray(counts, dtype=np.float64)
    if arr.ndim != 2 or (arr < 0).any() or arr.sum() <= 0:
        raise ValueCheckError(f"counts of shape {arr.shape}; expected non-negative (N, C) with a positive sum")
    freq = arr.sum(axis=0) / arr.sum()
    inv = np.zeros_like(freq)
    inv[freq > 0] = freq[freq > 0] ** -power
    w = (arr > 0).astype(np.float64) @ inv
    return np.asarray(w / w.sum(), dtype=np.float64)


def class_balanced_sampler(
    source: CityscapesSegmentation | npt.ArrayLike,
    *,
    num_samples: int | None = None,
    seed: int = 0,
    power: float = 0.5,
    num_classes: int = 19,
) -> WeightedRandomSampler:
    """A with-replacement sampler drawing images in proportion to :func:`image_weights`.

    Args:
        source: a dataset (its labels are counted with :func:`class_pixel_counts`) or ``(N, C)``
            per-image counts computed beforehand.
        num_samples: draws per epoch (default: the number of images).
        seed: seeds the sampler's own ``torch.Generator`` (never the global RNG); successive
            epochs continue the same stream, so a run is reproducible from its start.
        power: see :func:`image_weights`.
        num_classes: classes counted when ``source`` is a dataset.

    Returns:
        The sampler, with the weights as its ``weights`` attribute.
    """
    if isinstance(source, CityscapesSegmentation):
        counts = class_pixel_counts(source, num_classes)
    else:
        counts = np.asarray(source)
    weights = image_weights(counts, power=power)
    generator = torch.Generator().manual_seed(int(seed))
    n = len(weights) if num_samples is None else int(num_samples)
    return WeightedRandomSampler(weights.tolist(), n, replacement=True, generator=generator)
