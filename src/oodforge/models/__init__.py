"""Segmentation models in plain PyTorch, registered by name: ERFNet, DeepLabV3/V3+ (ResNet-50/101), EoMT (ViT).

Needs torch (``pip install 'oodforge[torch]'``); ``import oodforge`` does not import this package.
Every model maps a (B, 3, H, W) float batch to a dict with ``"logits"`` (B, C, H, W) and ``"features"``;
mask-classification models (EoMT) add ``"class_logits"``, ``"mask_logits"`` and ``"pixel_scores"`` for
RbA (see :class:`SegmentationModel`). Each model class owns its published input convention
(:class:`InputConvention`: normalisation, channel order, input size, stride multiple). Pretrained
weights are only read from local paths given by the user: ``create_model(name, pretrained_path=...)``
for a whole model (published containers, prefixes and quantised files included; the class count can be
read from the file), ``backbone_weights=...`` (or
:func:`load_backbone_weights` / :func:`load_dinov2_weights`) for torchvision ResNet and DINOv2 files.

Example:
    >>> import torch
    >>> from oodforge.models import create_model, list_models
    >>> list_models("eomt_*")
    ['eomt_vit_base', 'eomt_vit_large', 'eomt_vit_small', 'eomt_vit_tiny']
    >>> model = create_model("eomt_vit_tiny", num_classes=19).eval()
    >>> sorted(model(torch.zeros(1, 3, 64, 128)))
    ['class_logits', 'features', 'logits', 'mask_logits', 'pixel_scores']
"""

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError("oodforge.models needs torch: pip install 'oodforge[torch]'") from exc

from oodforge.models._base import SegmentationModel
from oodforge.models._registry import (
    create_model,
    infer_num_classes,
    is_model,
    list_models,
    model_convention,
    register_model,
)
from oodforge.models._weights import LoadReport, load_model_weights
from oodforge.models.convention import InputConvention
from oodforge.models.deeplab import DeepLabV3, DeepLabV3Plus
from oodforge.models.eomt import EoMT
from oodforge.models.erfnet import ERFNet
from oodforge.models.resnet import ResNet, load_backbone_weights
from oodforge.models.vit import ViTEncoder, load_dinov2_weights

__all__ = [
    "DeepLabV3",
    "DeepLabV3Plus",
    "ERFNet",
    "EoMT",
    "InputConvention",
    "LoadReport",
    "ResNet",
    "SegmentationModel",
    "ViTEncoder",
    "create_model",
    "infer_num_classes",
    "is_model",
    "list_models",
    "load_backbone_weights",
    "load_dinov2_weights",
    "load_model_weights",
    "model_convention",
    "register_model",
]
