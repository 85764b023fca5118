"""A torch ``Dataset`` wrapper that applies :class:`~oodforge.learn.outlier_paste.OutlierPaste` per sample."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Dataset

from oodforge.errors import ShapeError
from oodforge.learn._transforms import IMAGENET_MEAN, IMAGENET_STD, SharedEpoch, to_image_tensor
from oodforge.learn.outlier_paste import OutlierPaste, PasteParams

__all__ = ["OutlierPasteDataset"]

U8 = npt.NDArray[np.uint8]


class OutlierPasteDataset(Dataset[dict[str, torch.Tensor]]):
    """Wrap a dataset of numpy ``(image, train_ids)`` samples with an :class:`OutlierPaste`.

    The base sample comes from ``base.get_pair(index)`` when the base has it (e.g.
    :class:`oodforge.learn.data.CityscapesSegmentation`), else ``base[index]``: a pair, or a dict with
    ``image`` and one of ``target`` / ``train_ids`` / ``label``. :meth:`set_epoch` reaches the base
    too and, through shared memory, every DataLoader worker (persistent ones included). An index
    drawn twice in one epoch (sampling with replacement) gets the same paste.

    Args:
        base: the wrapped dataset.
        paste: the paste transform.
        mean: RGB mean on the [0, 1] scale for the image tensor (ImageNet by default).
        std: RGB std on the [0, 1] scale.
    """

    def __init__(
        self,
        base: Any,
        paste: OutlierPaste,
        *,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        self.base, self.paste = base, paste
        self.mean, self.std = tuple(mean), tuple(std)
        self._epoch = SharedEpoch(0)

    def __len__(self) -> int:
        return len(self.base)

    @property
    def epoch(self) -> int:
        """The epoch pastes are seeded with."""
        return self._epoch.value

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` from now on (also calls ``base.set_epoch`` when the base has it)."""
        self._epoch.set(epoch)
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(epoch)

    def get_pair(self, index: int) -> tuple[U8, U8]:
        """The base sample as ``(H, W, 3)`` uint8 RGB and ``(H, W)`` uint8 train ids."""
        item = self.base.get_pair(index) if hasattr(self.base, "get_pair") else self.base[index]
        if isinstance(item, Mapping):
            key = next((k for k in ("target", "train_ids", "label") if k in item), None)
            if "image" not in item or key is None:
                raise ShapeError(f"base sample keys {sorted(item)}; expected 'image' and 'target' (or 'train_ids')")
            item = (item["image"], item[key])
        image, train_ids = (np.asarray(a) for a in item)
        return image, train_ids

    def get_sample(self, index: int) -> tuple[U8, U8, U8, PasteParams]:
        """Numpy ``(image, target, outlier_mask, params)`` of sample ``index`` at the current epoch."""
        image, train_ids = self.get_pair(index)
        return self.paste(image, train_ids, index=index, epoch=self.epoch)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """Tensors: ``image`` (3, H, W) float32 normalised, ``target`` (H, W) int64, ``outlier_mask`` (H, W) uint8."""
        image, target, mask, _ = self.get_sample(index)
        return {
            "image": to_image_tensor(image, self.mean, self.std),
            "target": torch.from_numpy(target.astype(np.int64)),
            "outlier_mask": torch.from_numpy(mask.copy()),
        }
