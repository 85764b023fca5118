"""Shared interface of the segmentation models: ``forward_features`` → ``forward_head`` → output dict."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from oodforge.errors import ShapeError, ValueCheckError
from oodforge.models.convention import InputConvention

__all__ = ["SegmentationModel", "check_images"]


def check_images(x: torch.Tensor, *, multiple_of: int = 1) -> None:
    """Raise a one-line error unless ``x`` is a (B, 3, H, W) floating batch with H, W divisible by ``multiple_of``.

    Args:
        x: The model input.
        multiple_of: Required divisor of H and W (the patch size of a ViT, 1 otherwise).

    Raises:
        ShapeError: Wrong rank, channel count or spatial size.
        ValueCheckError: Not a floating tensor.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ShapeError(f"Expected `x` to be a (B, 3, H, W) tensor, but got {shape}")
    if not x.is_floating_point():
        raise ValueCheckError(f"Expected `x` to be a floating tensor (normalised image), but got dtype {x.dtype}")
    h, w = x.shape[-2:]
    if h < 1 or w < 1 or h % multiple_of or w % multiple_of:
        raise ShapeError(f"Expected `x` to have H and W divisible by {multiple_of}, but got H={h}, W={w}")


class SegmentationModel(nn.Module):
    """Base class of every registered model; subclasses implement ``forward_features`` and ``forward_head``.

    ``forward(x)`` takes a (B, 3, H, W) float batch (normalised RGB) and returns a dict with at least

    - ``"logits"``: (B, C, H, W) per-pixel class scores at input resolution, ready for the dense
      scores of :mod:`oodforge.scores` (MSP, MaxLogit, Energy, …);
    - ``"features"``: (B, num_features, h, w) the encoder feature map (``forward_features(x)["out"]``),
      e.g. for a hybrid anomaly head.

    Mask-classification models (``is_mask_classification``) add ``"class_logits"`` (B, Q, C+1),
    ``"mask_logits"`` (B, Q, H', W') and ``"pixel_scores"`` (B, C, H', W'), the input of
    :func:`oodforge.scores.rba_score`.

    Attributes:
        num_classes: Number of semantic classes C.
        num_features: Channels of ``forward_features(x)["out"]``.
        input_multiple: H and W of the input must be multiples of this.
        input_convention: How images must be prepared for this model when nothing else is known (weights
            from outside): the published convention of its usual weights (ImageNet-normalised RGB by
            default); a checkpoint of ``oodforge train`` records its own.
    """

    is_mask_classification: ClassVar[bool] = False
    #: key prefixes of published weight files that this model has no use for (loaded files may carry them)
    auxiliary_weights: ClassVar[tuple[str, ...]] = ()
    input_convention: ClassVar[InputConvention] = InputConvention(pad_multiple=32)
    num_classes: int
    num_features: int
    input_multiple: int = 1

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encoder pass: (B, 3, H, W) → named feature maps, ``"out"`` being (B, num_features, h, w)."""
        raise NotImplementedError

    def forward_head(self, features: dict[str, torch.Tensor], output_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Decoder / head pass: the output of :meth:`forward_features` → the output dict at ``output_size``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the model on a (B, 3, H, W) float batch; see the class docstring for the returned keys."""
        check_images(x, multiple_of=self.input_multiple)
        features = self.forward_features(x)
        out = self.forward_head(features, (int(x.shape[-2]), int(x.shape[-1])))
        out["features"] = features["out"]
        return out
