"""Offline outlier exposure: one split of a synthesized oodforge dataset as training data.

Each sample is a finished image of the split (``status: ok``; clean images too, as crops without objects are in
on-the-fly OE): the written image, the scene's train ids and the outlier mask, made by
:func:`oodforge.export.scene_targets.outlier_exposure_targets` exactly as
:class:`~oodforge.learn.outlier_paste.OutlierPaste` makes them on the fly, so the OE losses see the same targets
either way. The random scale / crop / flip is :mod:`oodforge.learn._transforms`' (the same streams as
:class:`~oodforge.learn.data.CityscapesSegmentation`: a pure function of ``(seed, epoch, index)``), applied to the
image, the target and the mask alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Dataset

from oodforge._io import read_image_rgb, read_label_png
from oodforge._seeding import stable_uint64
from oodforge.errors import DataLayoutError, SampleError, ValueCheckError
from oodforge.export.manifest import ManifestRecord
from oodforge.export.scene_targets import outlier_exposure_targets, scene_train_ids
from oodforge.inspect._dataset import load_any
from oodforge.learn._transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentParams,
    SharedEpoch,
    apply_augment,
    apply_augment_labels,
    sample_augment,
    to_image_tensor,
)
from oodforge.sources.cityscapes import frame_paths

__all__ = ["SynthSegmentation"]

U8 = npt.NDArray[np.uint8]


class SynthSegmentation(Dataset[dict[str, torch.Tensor]]):
    """A split of a synthesized dataset: images, train-id targets and outlier masks, with seeded augmentation.

    Args:
        dataset_root: the folder ``oodforge synth`` wrote (``manifest.jsonl``).
        split: a split of it, e.g. ``"train"``.
        cityscapes_root: the Cityscapes root the dataset was synthesized from (the scenes' labels).
        crop_size: ``(h, w)`` output size (padding: image 0, target and mask 255), or None for the whole image.
        scale_range: random scale factor, uniform in ``[lo, hi]``.
        hflip: random horizontal flip with probability 0.5.
        seed: base seed of the augmentation streams.
        ood_label: train id of covered pixels in the target (None: 255, ignored by the segmentation loss).
        mean: RGB mean on the [0, 1] scale.
        std: RGB std on the [0, 1] scale.
        max_images: keep the first N images of the split (manifest order), None for all.

    Raises:
        DataLayoutError: not a synthesized dataset, or the split has no finished image.
    """

    def __init__(
        self,
        dataset_root: str | Path,
        split: str,
        cityscapes_root: str | Path,
        *,
        crop_size: tuple[int, int] | None = (512, 1024),
        scale_range: tuple[float, float] = (0.5, 2.0),
        hflip: bool = True,
        seed: int = 0,
        ood_label: int | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        max_images: int | None = None,
    ) -> None:
        if not 0 < scale_range[0] <= scale_range[1]:
            raise ValueCheckError(f"scale_range {scale_range}; expected 0 < lo <= hi")
        self.root, self.split, self.cityscapes_root = Path(dataset_root), split, Path(cityscapes_root)
        ds = load_any(self.root)
        if ds.kind != "synth":
            raise DataLayoutError(f"{self.root}: a dataset of `oodforge {ds.kind}`; expected one of `oodforge synth`")
        self.records: list[ManifestRecord] = [r for r in ds.synth if r.split == split and r.status == "ok"]
        self.records = self.records[:max_images]
        if not self.records:
            splits = sorted({r.split for r in ds.synth})
            raise DataLayoutError(
                f"{self.root}: split {split!r} has no finished image; the dataset's splits: "
                f"{', '.join(splits) or 'none'}"
            )
        self.crop_size = crop_size
        self.scale_range, self.hflip, self.seed, self.ood_label = scale_range, hflip, int(seed), ood_label
        self.mean, self.std = tuple(mean), tuple(std)
        self._epoch = SharedEpoch(0)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def image_ids(self) -> list[str]:
        """The image ids of the samples, in order."""
        return [r.image_id for r in self.records]

    @property
    def label_paths(self) -> list[Path]:
        """The scenes' Cityscapes ``labelIds`` files (class statistics: weights, balanced sampling)."""
        return [frame_paths(self.cityscapes_root, r.source_split, r.image_id).label_path for r in self.records]

    @property
    def epoch(self) -> int:
        """The epoch the augmentation streams are seeded with."""
        return self._epoch.value

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` from now on; DataLoader workers (persistent ones too) see it."""
        self._epoch.set(epoch)

    def _path(self, rec: ManifestRecord, key: str) -> Path:
        rel = rec.outputs.get(key)
        if not isinstance(rel, str):
            raise SampleError(f"{self.root / 'manifest.jsonl'}: {rec.split}/{rec.image_id} lists no '{key}' file")
        return self.root / rel

    def load(self, index: int) -> tuple[U8, U8, U8]:
        """Un-augmented ``(image, target, outlier_mask)`` of sample ``index``.

        Raises:
            SampleError: a file is missing or unreadable, or the image, GT and scene labels differ in size.
        """
        rec = self.records[index]
        where = f"{self.root.name}/{rec.split}/{rec.image_id}"
        image = read_image_rgb(self._path(rec, "image"))
        gt = read_label_png(self._path(rec, "gt_pixel"), np.uint8)
        if image.shape[:2] != gt.shape:
            raise SampleError(
                f"{where}: image is {image.shape[1]}x{image.shape[0]}, its GT {gt.shape[1]}x{gt.shape[0]}"
            )
        scene = scene_train_ids(self.cityscapes_root, rec.source_split, rec.image_id)
        target, mask = outlier_exposure_targets(scene, gt, self.ood_label, where=where)
        return image, target, mask

    def sample_params(self, index: int, source_hw: tuple[int, int], epoch: int | None = None) -> AugmentParams:
        """The augmentation of sample ``index`` at ``epoch`` (default: the current epoch)."""
        ep = self.epoch if epoch is None else int(epoch)
        rng = np.random.default_rng(stable_uint64("synth_segmentation", self.seed, ep, index))
        return sample_augment(rng, source_hw, crop_size=self.crop_size, scale_range=self.scale_range, hflip=self.hflip)

    def get_sample(self, index: int) -> tuple[U8, U8, U8]:
        """Augmented numpy ``(image, target, outlier_mask)`` of sample ``index`` at the current epoch."""
        image, target, mask = self.load(index)
        params = self.sample_params(index, target.shape)
        image, target = apply_augment(image, target, params)
        return image, target, apply_augment_labels(mask, params)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """Tensors: ``image`` (3, h, w) float32 normalised, ``target`` (h, w) int64, ``outlier_mask`` (h, w) uint8."""
        image, target, mask = self.get_sample(index)
        return {
            "image": to_image_tensor(image, self.mean, self.std),
            "target": torch.from_numpy(target.astype(np.int64)),
            "outlier_mask": torch.from_numpy(mask),
        }
