"""DeepLabV3 and DeepLabV3+ on a dilated ResNet-50/101, laid out like the public checkpoints.

DeepLabV3: Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation", 2017.
DeepLabV3+: Chen et al., "Encoder-Decoder with Atrous Separable Convolution", ECCV 2018.

Parameter names, shapes and forward semantics equal those of the public implementations, so their state
dicts load strictly through ``create_model(name, num_classes=C, pretrained_path=...)``:

- ``deeplabv3_resnet50/101``: torchvision's ``deeplabv3_resnet50/101``. ``backbone.*``, ``classifier.0`` (ASPP,
  dropout 0.5), ``classifier.1/2`` (3×3 conv, BN), ``classifier.4`` (1×1 conv), and with ``aux_classifier=True``
  ``aux_classifier.*`` (FCN head on ``layer3``). Output stride 8 by default, as torchvision.
- ``deeplabv3_resnet50/101_vainf``: VainF/DeepLabV3Plus-Pytorch's ``deeplabv3_resnet50/101``. The same head under
  ``classifier.classifier.*``, ASPP dropout 0.1, output stride 16 by default (:class:`VainFDeepLabV3`).
- ``deeplabv3plus_resnet50/101``: VainF's ``deeplabv3plus_resnet50/101`` (its Cityscapes checkpoints).
  ``backbone.*``, ``classifier.project`` (``layer1`` → 48), ``classifier.aspp``, ``classifier.classifier``
  (3×3 conv 304 → 256, BN, ReLU, 1×1 conv); output stride 16 by default.

ASPP rates follow the output stride: (12, 24, 36) at 8, (6, 12, 18) at 16. Every builder also takes
``backbone_weights``, a local torchvision-format ResNet state dict for the backbone alone (``fc.*`` ignored).
VainF checkpoints are saved as ``{"model_state": state_dict, ...}``; that entry is the state dict to load.
All these models expect RGB in [0, 1] normalised with the ImageNet mean and std (:data:`INPUT_NORMALIZATION`;
each class's ``input_convention`` adds torchvision's 520-pixel shorter side).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from oodforge.models._deeplab_heads import ASPP
from oodforge.models._deeplab_models import INPUT_NORMALIZATION, DeepLabV3, DeepLabV3Plus, VainFDeepLabV3, _DeepLab
from oodforge.models._registry import register_model
from oodforge.models._weights import check_weights_path
from oodforge.models.resnet import load_backbone_weights

__all__ = [
    "ASPP",
    "INPUT_NORMALIZATION",
    "DeepLabV3",
    "DeepLabV3Plus",
    "VainFDeepLabV3",
    "deeplabv3_resnet50",
    "deeplabv3_resnet50_vainf",
    "deeplabv3_resnet101",
    "deeplabv3_resnet101_vainf",
    "deeplabv3plus_resnet50",
    "deeplabv3plus_resnet101",
]

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
) -> VainFDeepLabV3:
    """VainF's ``deeplabv3_resnet50`` layout (head under ``classifier.classifier.*``)."""
    kw = {"output_stride": output_stride, "aspp_dropout": aspp_dropout}
    return _build(VainFDeepLabV3, backbone_weights, num_classes, **kw)


@register_model("deeplabv3_resnet101_vainf")
def deeplabv3_resnet101_vainf(
    *,
    num_classes: int = 19,
    output_stride: Literal[8, 16] = 16,
    backbone_weights: str | Path | None = None,
    aspp_dropout: float = 0.1,
) -> VainFDeepLabV3:
    """VainF's ``deeplabv3_resnet101`` layout (head under ``classifier.classifier.*``)."""
    kw = {"output_stride": output_stride, "aspp_dropout": aspp_dropout}
    return _build(VainFDeepLabV3, backbone_weights, num_classes, backbone="resnet101", **kw)


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
