"""DeepLabV3 and DeepLabV3+ on a dilated ResNet-50/101, laid out like the public checkpoints.

DeepLabV3: Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation", 2017.
DeepLabV3+: Chen et al., "Encoder-Decoder with Atrous Separable Convolution", ECCV 2018.

Parameter names, shapes and forward semantics equal those of the public implementations, so their state
dicts load strictly through ``create_model(name, num_classes=C, pretrained_path=...)``:

- ``deeplabv3_resnet50/101``: torchvision's ``deeplabv3_resnet50/101``. ``backbone.*``, ``classifier.0`` (ASPP,
  dropout 0.5), ``classifier.1/2`` (3×3 conv, BN), ``classifier.4`` (1×1 conv), and with ``aux_classifier=True``
  ``aux_classifier.*`` (FCN head on ``layer3``). Output stride 8 by default, as torchvision.
- ``deeplabv3_resnet50/101_vainf``: VainF/DeepLabV3Plus-Pytorch's ``deeplabv3_resnet50/101``. The same head under
  ``classifier.classifier.*``, ASPP dropout 0.1, output stride 16 by default.
- ``deeplabv3plus_resnet50/101``: VainF's ``deeplabv3plus_resnet50/101`` (its Cityscapes checkpoints).
  ``backbone.*``, ``classifier.project`` (``layer1`` → 48), ``classifier.aspp``, ``classifier.classifier``
  (3×3 conv 304 → 256, BN, ReLU, 1×1 conv); output stride 16 by default.

ASPP rates follow the output stride: (12, 24, 36) at 8, (6, 12, 18) at 16. Every builder also takes
``backbone_weights``, a local torchvision-format ResNet state dict for the backbone alone (``fc.*`` ignored).
VainF checkpoints are saved as ``{"model_state": state_dict, ...}``; that entry is the state dict to load.
All these models expect RGB in [0, 1] normalised with the ImageNet mean and std (:data:`INPUT_NORMALIZATION`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

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
from oodforge.models._registry import register_model
from oodforge.models._weights import check_weights_path
from oodforge.models.resnet import ResNet, load_backbone_weights

__all__ = [
    "ASPP",
    "INPUT_NORMALIZATION",
    "DeepLabV3",
    "DeepLabV3Plus",
    "deeplabv3_resnet50",
    "deeplabv3_resnet50_vainf",
    "deeplabv3_resnet101",
    "deeplabv3_resnet101_vainf",
    "deeplabv3plus_resnet50",
    "deeplabv3plus_resnet101",
]

INPUT_NORMALIZATION = "imagenet"
"""Input convention of torchvision's and VainF's DeepLab weights: RGB in [0, 1], ImageNet mean/std normalised."""

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
    """DeepLabV3: dilated ResNet + :class:`DeepLabHead` (ASPP, 3×3 conv-BN-ReLU, 1×1 classifier).

    ``forward(x)`` with x (B, 3, H, W) returns ``{"logits": (B, C, H, W), "features": (B, 256, H/os, W/os)}``
    (``features`` is the ASPP output), plus ``"aux_logits"`` (B, C, H, W) from the ``layer3`` FCN head when
    built with ``aux_classifier``. In training mode the ASPP image-pooling batch norm needs B ≥ 2.

    Args:
        num_classes: Number of classes C.
        backbone: ``"resnet50"`` or ``"resnet101"``.
        output_stride: 8 (``layer3`` and ``layer4`` dilated, ASPP rates 12/24/36) or 16 (``layer4`` dilated,
            rates 6/12/18).
        aux_classifier: Add torchvision's auxiliary FCN head on ``layer3`` (``aux_classifier.*``).
        aspp_dropout: Dropout after the ASPP projection (torchvision 0.5, VainF 0.1).
        layout: ``"torchvision"`` (head under ``classifier.*``, default init) or ``"vainf"`` (head under
            ``classifier.classifier.*``, Kaiming init; no auxiliary head).

    Example:
        >>> import torch
        >>> model = DeepLabV3(num_classes=21, aux_classifier=True).eval()
        >>> {k: tuple(v.shape) for k, v in model(torch.zeros(1, 3, 64, 96)).items()}
        {'logits': (1, 21, 64, 96), 'aux_logits': (1, 21, 64, 96), 'features': (1, 256, 8, 12)}
    """

    def __init__(
        self,
        num_classes: int = 19,
        *,
        backbone: Backbone = "resnet50",
        output_stride: Literal[8, 16] = 8,
        aux_classifier: bool = False,
        aspp_dropout: float = 0.5,
        layout: Literal["torchvision", "vainf"] = "torchvision",
    ) -> None:
        if layout not in ("torchvision", "vainf"):
            raise UsageError(f"Expected `layout` to be 'torchvision' or 'vainf', but got {layout!r}")
        if layout == "vainf" and aux_classifier:
            raise UsageError("Expected `aux_classifier=False` with layout 'vainf' (VainF has no auxiliary head)")
        super().__init__(num_classes, backbone, output_stride)
        head = DeepLabHead(2048, num_classes, self.rates, aspp_dropout)
        self.classifier: DeepLabHead | NestedDeepLabHead = head
        if layout == "vainf":
            kaiming_init(head)
            self.classifier = NestedDeepLabHead(head)
        self.aux_classifier: FCNHead | None = FCNHead(1024, num_classes) if aux_classifier else None

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


M = TypeVar("M", bound=_DeepLab)


def _build(cls: type[M], backbone_weights: str | Path | None, num_classes: int, **kwargs: Any) -> M:
    """Check the backbone file, build ``cls`` and load the torchvision-format ResNet weights into its backbone."""
    if backbone_weights is not None:
        check_weights_path(backbone_weights, "ResNet weights")
    model = cls(num_classes, **kwargs)
    if backbone_weights is not None:
        load_backbone_weights(model, backbone_weights)
    return model


@register_model("deeplabv3_resnet50")
def deeplabv3_resnet50(
    *,
    num_classes: int = 19,
    output_stride: Literal[8, 16] = 8,
    aux_classifier: bool = False,
    backbone_weights: str | Path | None = None,
    aspp_dropout: float = 0.5,
) -> DeepLabV3:
    """The torchvision ``deeplabv3_resnet50`` layout (``aux_classifier=True`` adds its ``aux_classifier.*``)."""
    kw = {"output_stride": output_stride, "aux_classifier": aux_classifier, "aspp_dropout": aspp_dropout}
    return _build(DeepLabV3, backbone_weights, num_classes, **kw)


@register_model("deeplabv3_resnet101")
def deeplabv3_resnet101(
    *,
    num_classes: int = 19,
    output_stride: Literal[8, 16] = 8,
    aux_classifier: bool = False,
    backbone_weights: str | Path | None = None,
    aspp_dropout: float = 0.5,
) -> DeepLabV3:
    """The torchvision ``deeplabv3_resnet101`` layout (``aux_classifier=True`` adds its ``aux_classifier.*``)."""
    kw = {"output_stride": output_stride, "aux_classifier": aux_classifier, "aspp_dropout": aspp_dropout}
    return _build(DeepLabV3, backbone_weights, num_classes, backbone="resnet101", **kw)


@register_model("deeplabv3_resnet50_vainf")
def deeplabv3_resnet50_vainf(
    *,
    num_classes: int = 19,
    output_stride: Literal[8, 16] = 16,
    backbone_weights: str | Path | None = None,
    aspp_dropout: float = 0.1,
) -> DeepLabV3:
    """VainF's ``deeplabv3_resnet50`` layout (head under ``classifier.classifier.*``)."""
    kw = {"output_stride": output_stride, "aspp_dropout": aspp_dropout, "layout": "vainf"}
    return _build(DeepLabV3, backbone_weights, num_classes, **kw)


@register_model("deeplabv3_resnet101_vainf")
def deeplabv3_resnet101_vainf(
    *,
    num_classes: int = 19,
    output_stride: Literal[8, 16] = 16,
    backbone_weights: str | Path | None = None,
    aspp_dropout: float = 0.1,
) -> DeepLabV3:
    """VainF's ``deeplabv3_resnet101`` layout (head under ``classifier.classifier.*``)."""
    kw = {"output_stride": output_stride, "aspp_dropout": aspp_dropout, "layout": "vainf"}
    return _build(DeepLabV3, backbone_weights, num_classes, backbone="resnet101", **kw)


@register_model("deeplabv3plus_resnet50")
def deeplabv3plus_resnet50(
    *,
    num_classes: int = 19,
    output_stride: Literal[8, 16] = 16,
    backbone_weights: str | Path | None = None,
    aspp_dropout: float = 0.1,
) -> DeepLabV3Plus:
    """VainF's ``deeplabv3plus_resnet50`` layout (output stride 16, as its Cityscapes checkpoints)."""
    kw = {"output_stride": output_stride, "aspp_dropout": aspp_dropout}
    return _build(DeepLabV3Plus, backbone_weights, num_classes, **kw)


@register_model("deeplabv3plus_resnet101")
def deeplabv3plus_resnet101(
    *,
    num_classes: int = 19,
    output_stride: Literal[8, 16] = 16,
    backbone_weights: str | Path | None = None,
    aspp_dropout: float = 0.1,
) -> DeepLabV3Plus:
    """VainF's ``deeplabv3plus_resnet101`` layout (output stride 16, as its Cityscapes checkpoints)."""
    kw = {"output_stride": output_stride, "aspp_dropout": aspp_dropout}
    return _build(DeepLabV3Plus, backbone_weights, num_classes, backbone="resnet101", **kw)
