"""DeepLab model classes (registered by :mod:`oodforge.models.deeplab`): torchvision and VainF layouts.

Each class owns the published input convention of the weights it mirrors: ImageNet-normalised RGB for all,
the shorter side resized to 520 for torchvision (its ``SemanticSegmentation(resize_size=520)`` preset),
native size for VainF (its Cityscapes validation runs on full 1024×2048 frames); no padding, since any
input size works (logits are resized bilinearly to the input).
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

import torch
import torch.nn.functional as F

from oodforge.errors import UsageError
from oodforge.models._base import SegmentationModel
from oodforge.models._deeplab_heads import (
    ASPP,
    DeepLabHead,
    DeepLabHeadV3Plus,
    FCNHead,
    NestedDeepLabHead,
    aspp_rates,
    kaiming_init,
)
from oodforge.models.convention import InputConvention
from oodforge.models.resnet import ResNet

__all__ = ["INPUT_NORMALIZATION", "DeepLabV3", "DeepLabV3Plus", "VainFDeepLabV3"]

INPUT_NORMALIZATION: Final = "imagenet"
"""Normalisation of torchvision's and VainF's DeepLab weights: RGB in [0, 1], ImageNet mean/std."""

TORCHVISION_CONVENTION = InputConvention(normalization=INPUT_NORMALIZATION, short_side=520)
VAINF_CONVENTION = InputConvention(normalization=INPUT_NORMALIZATION)

Backbone = Literal["resnet50", "resnet101"]
_DEPTHS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3)}


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class _DeepLab(SegmentationModel):
    """Shared part: argument checks and the dilated ResNet ``backbone`` (torchvision key names, no ``fc``)."""

    INPUT_NORMALIZATION: ClassVar[str] = INPUT_NORMALIZATION

    def __init__(self, num_classes: int, backbone: Backbone, output_stride: Literal[8, 16]) -> None:
        super().__init__()
        if backbone not in _DEPTHS:
            raise UsageError(f"Expected `backbone` to be one of {sorted(_DEPTHS)}, but got {backbone!r}")
        self.rates = aspp_rates(output_stride)  # validates output_stride
        self.num_classes = num_classes
        self.num_features = 256
        self.output_stride = output_stride
        dilate = (False, output_stride == 8, True)
        self.backbone = ResNet(_DEPTHS[backbone], num_classes=None, replace_stride_with_dilation=dilate)


class DeepLabV3(_DeepLab):
    """DeepLabV3 as torchvision: dilated ResNet + :class:`DeepLabHead` (ASPP, 3×3 conv-BN-ReLU, 1×1 classifier).

    ``forward(x)`` with x (B, 3, H, W) returns ``{"logits": (B, C, H, W), "features": (B, 256, H/os, W/os)}``
    (``features`` is the ASPP output), plus ``"aux_logits"`` (B, C, H, W) from the ``layer3`` FCN head when
    built with ``aux_classifier``. In training mode the ASPP image-pooling batch norm needs B ≥ 2. A
    weights file's ``aux_classifier.*`` is ignored by a model built without that head.

    Args:
        num_classes: Number of classes C.
        backbone: ``"resnet50"`` or ``"resnet101"``.
        output_stride: 8 (``layer3`` and ``layer4`` dilated, ASPP rates 12/24/36, as torchvision) or 16
            (``layer4`` dilated, rates 6/12/18).
        aux_classifier: Add torchvision's auxiliary FCN head on ``layer3`` (``aux_classifier.*``).
        aspp_dropout: Dropout after the ASPP projection (torchvision: 0.5).

    Example:
        >>> import torch
        >>> model = DeepLabV3(num_classes=21, aux_classifier=True).eval()
        >>> {k: tuple(v.shape) for k, v in model(torch.zeros(1, 3, 64, 96)).items()}
        {'logits': (1, 21, 64, 96), 'aux_logits': (1, 21, 64, 96), 'features': (1, 256, 8, 12)}
    """

    auxiliary_weights: ClassVar[tuple[str, ...]] = ("aux_classifier.",)
    input_convention: ClassVar[InputConvention] = TORCHVISION_CONVENTION

    def __init__(
        self,
        num_classes: int = 19,
        *,
        backbone: Backbone = "resnet50",
        output_stride: Literal[8, 16] = 8,
        aux_classifier: bool = False,
        aspp_dropout: float = 0.5,
    ) -> None:
        super().__init__(num_classes, backbone, output_stride)
        self.classifier: DeepLabHead | NestedDeepLabHead = self._wrap_head(
            DeepLabHead(2048, num_classes, self.rates, aspp_dropout)
        )
        self.aux_classifier: FCNHead | None = FCNHead(1024, num_classes) if aux_classifier else None

    def _wrap_head(self, head: DeepLabHead) -> DeepLabHead | NestedDeepLabHead:
        """The torchvision layout keeps the head as ``classifier`` itself (default PyTorch initialisation)."""
        return head

    @property
    def head(self) -> DeepLabHead:
        """The :class:`DeepLabHead`, wherever the layout keeps it."""
        return self.classifier.classifier if isinstance(self.classifier, NestedDeepLabHead) else self.classifier

    @property
    def aspp(self) -> ASPP:
        """The ASPP module of the head."""
        return self.head.aspp

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) → ``{"out": ASPP output (B, 256, h, w)}``, plus ``"aux"`` (``layer3``) with the aux head."""
        feats = self.backbone.forward_features(x)
        out = {"out": self.aspp(feats["layer4"])}
        if self.aux_classifier is not None:
            out["aux"] = feats["layer3"]
        return out

    def forward_head(self, features: dict[str, torch.Tensor], output_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Classify ``features["out"]`` and resize bilinearly: ``{"logits"}`` (and ``{"aux_logits"}``)."""
        result = {"logits": _resize(self.head.classify(features["out"]), output_size)}
        if self.aux_classifier is not None and "aux" in features:
            result["aux_logits"] = _resize(self.aux_classifier(features["aux"]), output_size)
        return result


class VainFDeepLabV3(DeepLabV3):
    """DeepLabV3 as VainF/DeepLabV3Plus-Pytorch: :class:`DeepLabV3`'s network, head under ``classifier.classifier``.

    Same forward as :class:`DeepLabV3` (no auxiliary head); Kaiming-initialised head, ASPP dropout 0.1 and
    output stride 16 by default, as VainF's training script.

    Args:
        num_classes: Number of classes C.
        backbone: ``"resnet50"`` or ``"resnet101"``.
        output_stride: 16 (ASPP rates 6/12/18) or 8 (rates 12/24/36).
        aspp_dropout: Dropout after the ASPP projection.
    """

    input_convention: ClassVar[InputConvention] = VAINF_CONVENTION

    def __init__(
        self,
        num_classes: int = 19,
        *,
        backbone: Backbone = "resnet50",
        output_stride: Literal[8, 16] = 16,
        aspp_dropout: float = 0.1,
    ) -> None:
        super().__init__(num_classes, backbone=backbone, output_stride=output_stride, aspp_dropout=aspp_dropout)

    def _wrap_head(self, head: DeepLabHead) -> DeepLabHead | NestedDeepLabHead:
        """VainF nests the head one level deeper and initialises it with Kaiming normal."""
        kaiming_init(head)
        return NestedDeepLabHead(head)


class DeepLabV3Plus(_DeepLab):
    """DeepLabV3+ as VainF/DeepLabV3Plus-Pytorch: dilated ResNet + :class:`DeepLabHeadV3Plus` on ``layer1``.

    ``forward_features(x)`` returns ``{"out": ASPP output (B, 256, H/os, W/os), "low": layer1 (B, 256, H/4, W/4)}``;
    the head projects ``low`` to 48 channels, concatenates it with the upsampled ASPP output, applies a 3×3
    conv-BN-ReLU and the 1×1 classifier, and the logits are resized bilinearly to the input size.

    Args:
        num_classes: Number of classes C.
        backbone: ``"resnet50"`` or ``"resnet101"``.
        output_stride: 16 (VainF's Cityscapes checkpoints; rates 6/12/18) or 8 (rates 12/24/36).
        aspp_dropout: Dropout after the ASPP projection (VainF 0.1).

    Example:
        >>> import torch
        >>> model = DeepLabV3Plus(num_classes=19).eval()
        >>> tuple(model(torch.zeros(1, 3, 64, 96))["logits"].shape)
        (1, 19, 64, 96)
    """

    input_convention: ClassVar[InputConvention] = VAINF_CONVENTION

    def __init__(
        self,
        num_classes: int = 19,
        *,
        backbone: Backbone = "resnet50",
        output_stride: Literal[8, 16] = 16,
        aspp_dropout: float = 0.1,
    ) -> None:
        super().__init__(num_classes, backbone, output_stride)
        self.classifier = DeepLabHeadV3Plus(2048, 256, num_classes, self.rates, aspp_dropout)

    @property
    def aspp(self) -> ASPP:
        """The ASPP module of the head."""
        return self.classifier.aspp

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) → ``{"out": ASPP output (B, 256, H/os, W/os), "low": layer1 (B, 256, H/4, W/4)}``."""
        feats = self.backbone.forward_features(x)
        return {"out": self.aspp(feats["layer4"]), "low": feats["layer1"]}

    def forward_head(self, features: dict[str, torch.Tensor], output_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Decode with the low-level features and resize: ``{"logits": (B, C, *output_size)}``."""
        return {"logits": _resize(self.classifier.decode(features["out"], features["low"]), output_size)}
