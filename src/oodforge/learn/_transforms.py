"""Training-time geometric augmentation (random scale, pad, crop, flip) and normalisation.

House style: parameters are *sampled* from an injected generator by :func:`sample_augment`
(plain values, recorded in :class:`AugmentParams`) and *applied* by the pure
:func:`apply_augment`, so the same parameters always give the same arrays.

Order: scale (image bilinear, labels ``INTER_NEAREST_EXACT``, which is pixel-centre aligned like
bilinear, so image and labels stay registered) -> pad bottom/right up to the crop size (image 0,
labels ``ignore_index``) -> crop -> horizontal flip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import torch

from oodforge.errors import ShapeError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AugmentParams",
    "SharedEpoch",
    "apply_augment",
    "sample_augment",
    "to_image_tensor",
]

#: ImageNet RGB mean and std on the [0, 1] scale.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class AugmentParams:
    """What :func:`apply_augment` does to one sample.

    Attributes:
        scaled_hw: ``(h, w)`` after resizing (the source size when the scale is 1).
        crop_yx: top-left ``(y, x)`` of the crop in the scaled-and-padded frame.
        crop_hw: ``(h, w)`` of the output; ``None``: no pad and no crop.
        flip: mirror left-right after cropping.
    """

    scaled_hw: tuple[int, int]
    crop_yx: tuple[int, int]
    crop_hw: tuple[int, int] | None
    flip: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)


def sample_augment(
    rng: np.random.Generator,
    source_hw: tuple[int, int],
    *,
    crop_size: tuple[int, int] | None,
    scale_range: tuple[float, float],
    hflip: bool,
) -> AugmentParams:
    """Draw scale, crop position and flip (in that order, from ``rng``).

    Args:
        rng: the sample's generator.
        source_hw: ``(H, W)`` of the decoded sample.
        crop_size: ``(h, w)`` output size, or ``None`` for no crop.
        scale_range: the scale factor is uniform in ``[lo, hi]`` (``(1, 1)``: no resize).
        hflip: flip with probability 0.5 when True.

    Returns:
        The parameters.
    """
    h, w = source_hw
    lo, hi = scale_range
    s = float(rng.uniform(lo, hi)) if hi > lo else float(lo)
    sh, sw = max(1, round(h * s)), max(1, round(w * s))
    y0 = x0 = 0
    if crop_size is not None:
        ch, cw = crop_size
        y0 = int(rng.integers(max(sh - ch, 0) + 1))
        x0 = int(rng.integers(max(sw - cw, 0) + 1))
    flip = bool(rng.random() < 0.5) if hflip else False
    crop_hw = None if crop_size is None else (int(crop_size[0]), int(crop_size[1]))
    return AugmentParams((sh, sw), (y0, x0), crop_hw, flip)


def apply_augment(
    image: npt.NDArray[np.uint8],
    labels: npt.NDArray[np.uint8],
    params: AugmentParams,
    *,
    ignore_index: int = 255,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Apply :class:`AugmentParams` to an image and its label map.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        labels: ``(H, W)`` uint8 label map (train ids).
        params: from :func:`sample_augment`.
        ignore_index: label value of padded pixels.

    Returns:
        ``(h, w, 3)`` uint8 image and ``(h, w)`` uint8 labels (new, C-contiguous arrays).
    """
    if image.ndim != 3 or image.shape[2] != 3 or labels.shape != image.shape[:2]:
        raise ShapeError(f"apply_augment: image {image.shape}, labels {labels.shape}; expected (H, W, 3) and (H, W)")
    return _geometry(image, params, cv2.INTER_LINEAR, (0, 0, 0)), apply_augment_labels(labels, params, ignore_index)


def apply_augment_labels(
    labels: npt.NDArray[np.uint8], params: AugmentParams, ignore_index: int = 255
) -> npt.NDArray[np.uint8]:
    """The label side of :func:`apply_augment` alone: a second label map of the same sample (e.g. an outlier mask)."""
    return _geometry(labels, params, cv2.INTER_NEAREST_EXACT, ignore_index)


def _geometry(a: np.ndarray, params: AugmentParams, interpolation: int, fill: Any) -> npt.NDArray[np.uint8]:
    sh, sw = params.scaled_hw
    if (sh, sw) != a.shape[:2]:
        a = cv2.resize(a, (sw, sh), interpolation=interpolation)
    if params.crop_hw is not None:
        ch, cw = params.crop_hw
        pad_h, pad_w = max(ch - sh, 0), max(cw - sw, 0)
        if pad_h or pad_w:
            a = cv2.copyMakeBorder(a, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=fill)
        y0, x0 = params.crop_yx
        a = a[y0 : y0 + ch, x0 : x0 + cw]
    if params.flip:
        a = a[:, ::-1]
    return np.ascontiguousarray(a, dtype=np.uint8)


def to_image_tensor(image: npt.NDArray[np.uint8], mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(H, W, 3)`` uint8 RGB -> ``(3, H, W)`` float32 tensor ``(x / 255 - mean) / std``."""
    t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).to(torch.float32).div_(255.0)
    m = torch.tensor(list(mean), dtype=torch.float32).view(3, 1, 1)
    s = torch.tensor(list(std), dtype=torch.float32).view(3, 1, 1)
    return t.sub_(m).div_(s)


class SharedEpoch:
    """An epoch number that DataLoader workers see, persistent workers included.

    Held in a 0-d int64 tensor in shared memory: forked workers share its pages and torch's
    multiprocessing pickler passes spawned workers a handle to the same memory, so
    :meth:`set` in the main process reaches every worker. A plain ``pickle`` copies the value.
    """

    def __init__(self, epoch: int = 0) -> None:
        self._value = torch.full((), int(epoch), dtype=torch.int64).share_memory_()

    @property
    def value(self) -> int:
        """The current epoch."""
        return int(self._value.item())

    def set(self, epoch: int) -> None:
        """Set the epoch (call between epochs, before iterating the loader)."""
        if int(epoch) < 0:
            raise ValueError(f"epoch {epoch}; expected >= 0")
        self._value.fill_(int(epoch))
