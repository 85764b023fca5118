"""The input convention of a segmentation model: how an image must be prepared and the logits restored.

Weights only give the published numbers when the image is prepared exactly as during training: pixel
range and normalisation, channel order, input size or scale, and a size multiple. Each model class owns a
default (:attr:`oodforge.models.SegmentationModel.input_convention`, the published convention of the
weights it is usually loaded with, e.g. ERFNet: RGB in [0, 1] at 512×1024); a checkpoint written by
``oodforge train`` records the convention it was trained with; command-line flags override either.

:func:`prepare_input` turns a ``(H, W, 3)`` uint8 RGB image into the model's input tensor and a
:class:`Prepared` record; :func:`restore_logits` crops the padding and resizes logits back to ``(H, W)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from oodforge.errors import ConfigError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "InputConvention", "Prepared", "prepare_input", "restore_logits"]

#: ImageNet RGB mean and std on the [0, 1] scale.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

Normalization = Literal["none", "imagenet", "custom"]


@dataclass(frozen=True)
class InputConvention:
    """How a model expects its input.

    Attributes:
        normalization: ``none`` (RGB in [0, 1]), ``imagenet`` (``(x - mean) / std`` with ImageNet statistics)
            or ``custom`` (``mean`` and ``std`` given, on the [0, 1] scale).
        mean: Per-channel mean for ``custom``.
        std: Per-channel std for ``custom``.
        channel_order: ``rgb`` or ``bgr`` (the order of the channels fed to the model).
        size: Resize the image to this ``(height, width)`` before inference.
        short_side: Else resize so that the shorter side has this many pixels (aspect kept; e.g. 512 gives
            512x1024 for a Cityscapes frame, like ``Resize(512)`` in the Cityscapes training scripts).
        scale: Else resize by this factor (``None`` or 1: native size).
        pad_multiple: Pad bottom/right with zeros up to a multiple of this (the model's stride).
        upsample: Interpolation of the logits back to the image size: ``bilinear`` or ``nearest``.
    """

    normalization: Normalization = "imagenet"
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    channel_order: Literal["rgb", "bgr"] = "rgb"
    size: tuple[int, int] | None = None
    short_side: int | None = None
    scale: float | None = None
    pad_multiple: int = 1
    upsample: Literal["bilinear", "nearest"] = "bilinear"

    def __post_init__(self) -> None:
        if self.normalization not in ("none", "imagenet", "custom"):
            raise ConfigError(f"input normalization {self.normalization!r}; expected none, imagenet or custom")
        if self.normalization == "custom" and (self.mean is None or self.std is None):
            raise ConfigError("input normalization 'custom' needs a mean and a std (3 values each, [0, 1] scale)")
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ConfigError(f"input std {self.std}; expected positive values")
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 1):
            raise ConfigError(f"input size {self.size}; expected (height, width) >= 1")
        if self.short_side is not None and self.short_side < 1:
            raise ConfigError(f"input short side {self.short_side}; expected >= 1")
        if self.scale is not None and self.scale <= 0:
            raise ConfigError(f"input scale {self.scale}; expected > 0")
        if self.pad_multiple < 1:
            raise ConfigError(f"input pad multiple {self.pad_multiple}; expected >= 1")
        if self.channel_order not in ("rgb", "bgr") or self.upsample not in ("bilinear", "nearest"):
            raise ConfigError(f"input channel order {self.channel_order!r} / upsample {self.upsample!r}")

    def mean_std(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """The effective per-channel mean and std on the [0, 1] scale (0 and 1 for ``none``)."""
        if self.normalization == "imagenet":
            return IMAGENET_MEAN, IMAGENET_STD
        if self.normalization == "custom":
            if self.mean is None or self.std is None:  # excluded by __post_init__
                raise ConfigError("input normalization 'custom' needs a mean and a std")
            return self.mean, self.std
        return (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-ready values."""
        d = asdict(self)
        for key in ("mean", "std", "size"):
            if d[key] is not None:
                d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputConvention:
        """Build from :meth:`to_dict` output (unknown keys are a :class:`ConfigError`)."""
        known = set(cls.__dataclass_fields__)
        extra = sorted(set(data) - known)
        if extra:
            raise ConfigError(f"input convention: unknown key {extra[0]!r}; expected one of {', '.join(sorted(known))}")
        d = dict(data)
        for key in ("mean", "std", "size"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**d)

    def override(self, **changes: Any) -> InputConvention:
        """A copy with ``changes`` applied (flags over defaults; pass only the fields to change)."""
        return replace(self, **changes)

    def describe(self) -> str:
        """One line for logs and reports."""
        norm = self.normalization if self.normalization != "custom" else f"mean {self.mean} std {self.std}"
        if self.size:
            where = f"resized to {self.size[0]}x{self.size[1]}"
        elif self.short_side:
            where = f"shorter side {self.short_side}"
        else:
            where = f"scale {self.scale:g}" if self.scale else "native size"
        return f"{self.channel_order.upper()} [0, 1], normalization {norm}, {where}, pad x{self.pad_multiple}"


@dataclass(frozen=True)
class Prepared:
    """Where a prepared input came from: the image size and the resized size before padding."""

    image_hw: tuple[int, int]
    resized_hw: tuple[int, int]


def _target_hw(h: int, w: int, conv: InputConvention) -> tuple[int, int]:
    if conv.size is not None:
        return int(conv.size[0]), int(conv.size[1])
    if conv.short_side is not None:
        k = conv.short_side / min(h, w)
        return max(1, round(h * k)), max(1, round(w * k))
    if conv.scale is not None and conv.scale != 1:
        return max(1, round(h * conv.scale)), max(1, round(w * conv.scale))
    return h, w


def prepare_input(
    image: npt.NDArray[np.uint8], conv: InputConvention, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, Prepared]:
    """``(H, W, 3)`` uint8 RGB → ``(1, 3, h, w)`` float32 input of the model, and what was done.

    Resizing is bilinear on the [0, 1] image (area-like antialiasing when shrinking), then normalisation,
    channel order, and zero padding (after normalisation) up to ``pad_multiple``.
    """
    h, w = image.shape[:2]
    x = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None].float().div_(255.0)
    th, tw = _target_hw(h, w, conv)
    if (th, tw) != (h, w):
        x = F.interpolate(x, size=(th, tw), mode="bilinear", align_corners=False, antialias=th < h or tw < w)
    mean, std = conv.mean_std()
    x = (x - torch.tensor(mean, device=x.device).view(1, 3, 1, 1)) / torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    if conv.channel_order == "bgr":
        x = x.flip(1)
    m = conv.pad_multiple
    pad_h, pad_w = (-th) % m, (-tw) % m
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h))
    return x.contiguous(), Prepared((h, w), (th, tw))


def restore_logits(logits: torch.Tensor, prepared: Prepared, conv: InputConvention) -> torch.Tensor:
    """``(B, C, h', w')`` model logits → ``(B, C, H, W)`` at the image size (padding cropped, then resized).

    Logits at a coarser stride than the input are first brought to the padded input size.
    """
    rh, rw = prepared.resized_hw
    m = conv.pad_multiple
    padded = (rh + (-rh) % m, rw + (-rw) % m)
    out = logits
    if tuple(out.shape[-2:]) != padded:
        out = F.interpolate(out, size=padded, mode="bilinear", align_corners=False)
    out = out[..., :rh, :rw]
    if (rh, rw) != prepared.image_hw:
        mode = conv.upsample
        kwargs = {"align_corners": False} if mode == "bilinear" else {}
        out = F.interpolate(out, size=prepared.image_hw, mode=mode, **kwargs)
    return out
