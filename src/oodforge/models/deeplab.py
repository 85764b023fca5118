"""DeepLabV3 and DeepLabV3+ on a dilated ResNet-50/101, in plain PyTorch.

DeepLabV3: Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation", 2017.
DeepLabV3+: Chen et al., "Encoder-Decoder with Atrous Separable Convolution", ECCV 2018.

The encoder is a ResNet-50/101 with output stride 16 (or 8) followed by atrous spatial pyramid pooling:
a 1×1 branch, three 3×3 branches with rates 6/12/18 at output stride 16 (doubled at 8) and an
image-pooling branch, concatenated and projected to 256 channels. DeepLabV3 classifies that map; V3+
upsamples it ×4, concatenates the ``layer1`` features reduced to 48 channels and refines with two 3×3
convolutions before classifying. Logits are bilinearly resized to the input size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from oodforge.errors import UsageError
from oodforge.models._base import SegmentationModel
from oodforge.models._registry import register_model
from oodforge.models._weights import check_weights_path
from oodforge.models.resnet import ResNet, load_backbone_weights

__all__ = [
    "ASPP",
    "DeepLabV3",
    "DeepLabV3Plus",
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
    "deeplabv3plus_resnet50",
    "deeplabv3plus_resnet101",
]

_DEPTHS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3)}


def _conv_bn_relu(in_channels: int, out_channels: int, kernel: int, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: (B, C_in, h, w) → (B, C_out, h, w).

    The image-pooling branch (global average → 1×1 conv → ReLU, broadcast back to h×w) has a bias
    instead of batch norm, so training with one image per batch works.

    Args:
        in_channels: Input channels (2048 for a ResNet-50/101 ``layer4``).
        out_channels: Channels of every branch and of the output.
        rates: Dilation rates of the 3×3 branches.
        dropout: Dropout probability after the projection.
    """

    def __init__(
        self, in_channels: int, out_channels: int = 256, rates: Sequence[int] = (6, 12, 18), dropout: float = 0.1
    ) -> None:
        super().__init__()
        branches = [_conv_bn_relu(in_channels, out_channels, 1)]
        branches += [_conv_bn_relu(in_channels, out_channels, 3, r) for r in rates]
        self.convs = nn.ModuleList(branches)
        self.pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, out_channels, 1), nn.ReLU(inplace=True)
        )
        self.project = nn.Sequential(
            _conv_bn_relu(out_channels * (len(rates) + 2), out_channels, 1), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        outs = [conv(x) for conv in self.convs]
        outs.append(self.pool(x).expand(-1, -1, x.shape[-2], x.shape[-1]))
        return self.project(torch.cat(outs, dim=1))


class DeepLabV3(SegmentationModel):
    """DeepLabV3: dilated ResNet + ASPP + 1×1 classifier.

    ``forward(x)`` with x (B, 3, H, W) returns ``{"logits": (B, C, H, W), "features": (B, 256, H/os, W/os)}``
    (``features`` is the ASPP output). Batch norm in training mode needs B·h·w > 1 per channel.

    Args:
        num_classes: Number of classes C.
        backbone: ``"resnet50"`` or ``"resnet101"``.
        output_stride: 16 (layer4 dilated) or 8 (layer3 and layer4 dilated; 4× the compute).
        aspp_dropout: Dropout after the ASPP projection.

    Example:
        >>> import torch
        >>> model = DeepLabV3(num_classes=19).eval()
        >>> tuple(model(torch.zeros(1, 3, 64, 96))["logits"].shape)
        (1, 19, 64, 96)
    """

    def __init__(
        self,
        num_classes: int = 19,
        *,
        backbone: Literal["resnet50", "resnet101"] = "resnet50",
        output_stride: Literal[8, 16] = 16,
        aspp_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if backbone not in _DEPTHS:
            raise UsageError(f"Expected `backbone` to be one of {sorted(_DEPTHS)}, but got {backbone!r}")
        if output_stride not in (8, 16):
            raise UsageError(f"Expected `output_stride` to be 8 or 16, but got {output_stride!r}")
        self.num_classes = num_classes
        self.num_features = 256
        self.output_stride = output_stride
        dilate = (False, output_stride == 8, True)
        self.backbone = ResNet(_DEPTHS[backbone], num_classes=None, replace_stride_with_dilation=dilate)
        rates = (6, 12, 18) if output_stride == 16 else (12, 24, 36)
        self.aspp = ASPP(2048, 256, rates, dropout=aspp_dropout)
        self._build_decoder(num_classes)
        for m in [self.aspp, *self._head_modules()]:
            for sub in m.modules():
                if isinstance(sub, nn.Conv2d):
                    nn.init.kaiming_normal_(sub.weight, mode="fan_out", nonlinearity="relu")

    def _build_decoder(self, num_classes: int) -> None:
        self.classifier = nn.Conv2d(256, num_classes, 1)

    def _head_modules(self) -> list[nn.Module]:
        return [self.classifier]

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) → ``{"out": (B, 256, H/os, W/os)}`` (ASPP output)."""
        return {"out": self.aspp(self.backbone.forward_features(x)["layer4"])}

    def forward_head(self, features: dict[str, torch.Tensor], output_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Classify ``features["out"]`` and resize bilinearly: ``{"logits": (B, C, *output_size)}``."""
        logits = self.classifier(features["out"])
        return {"logits": F.interpolate(logits, size=output_size, mode="bilinear", align_corners=False)}


class DeepLabV3Plus(DeepLabV3):
    """DeepLabV3+: DeepLabV3's encoder plus a decoder fusing the ``layer1`` (stride 4) features.

    ``forward_features(x)`` returns ``{"out": (B, 256, H/os, W/os), "low": (B, 256, H/4, W/4)}``; the head
    upsamples ``out`` to ``low``'s size, concatenates ``low`` reduced to 48 channels, applies two 3×3
    conv-BN-ReLU layers of 256 channels and the 1×1 classifier. Arguments as :class:`DeepLabV3`.

    Example:
        >>> import torch
        >>> model = DeepLabV3Plus(num_classes=19).eval()
        >>> tuple(model(torch.zeros(1, 3, 64, 96))["logits"].shape)
        (1, 19, 64, 96)
    """

    def _build_decoder(self, num_classes: int) -> None:
        self.low_proj = _conv_bn_relu(256, 48, 1)
        self.decoder = nn.Sequential(_conv_bn_relu(256 + 48, 256, 3), _conv_bn_relu(256, 256, 3))
        self.classifier = nn.Conv2d(256, num_classes, 1)

    def _head_modules(self) -> list[nn.Module]:
        return [self.low_proj, self.decoder, self.classifier]

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) → ``{"out": ASPP output (B, 256, H/os, W/os), "low": layer1 (B, 256, H/4, W/4)}``."""
        feats = self.backbone.forward_features(x)
        return {"out": self.aspp(feats["layer4"]), "low": feats["layer1"]}

    def forward_head(self, features: dict[str, torch.Tensor], output_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Decode with the low-level features and resize: ``{"logits": (B, C, *output_size)}``."""
        low = features["low"]
        up = F.interpolate(features["out"], size=low.shape[-2:], mode="bilinear", align_corners=False)
        logits = self.classifier(self.decoder(torch.cat([up, self.low_proj(low)], dim=1)))
        return {"logits": F.interpolate(logits, size=output_size, mode="bilinear", align_corners=False)}


def _create(
    cls: type[DeepLabV3],
    backbone: Literal["resnet50", "resnet101"],
    num_classes: int,
    output_stride: Literal[8, 16],
    backbone_weights: str | Path | None,
    aspp_dropout: float,
) -> DeepLabV3:
    if backbone_weights is not None:
        check_weights_path(backbone_weights, "ResNet weights")
    model = cls(num_classes, backbone=backbone, output_stride=output_stride, aspp_dropout=aspp_dropout)
    if backbone_weights is not None:
        load_backbone_weights(model, backbone_weights)
    return model


@register_model("deeplabv3_resnet50")
def deeplabv3_resnet50(
    *,
    num_classes: int = 19,
    output_stride: Literal[8, 16] = 16,
    backbone_weights: str | Path | None = None,
    aspp_dropout: float = 0.1,
) -> DeepLabV3:
    """DeepLabV3 on ResNet-50; ``backbone_weights`` is a local torchvision-format ResNet-50 state dict."""
    return _create(DeepLabV3, "resnet50", num_classes, output_stride, backbone_weights, aspp_dropout)


@register_model("deeplabv3_resnet101")
def deeplabv3_resnet101(
    *,
    num_classes: int = 19,
    output_stride: Literal[8, 16] = 16,
    backbone_weights: str | Path | None = None,
    aspp_dropout: float = 0.1,
) -> DeepLabV3:
    """DeepLabV3 on ResNet-101; ``backbone_weights`` is a local torchvision-format ResNet-101 state dict."""
    return _create(DeepLabV3, "resnet101", num_classes, output_stride, backbone_weights, aspp_dropout)


@register_model("deeplabv3plus_resnet50")
def deeplabv3plus_resnet50(
    *,
    num_classes: int = 19,
    output_stride: Literal[8, 16] = 16,
    backbone_weights: str | Path | None = None,
    aspp_dropout: float = 0.1,
) -> DeepLabV3:
    """DeepLabV3+ on ResNet-50; ``backbone_weights`` is a local torchvision-format ResNet-50 state dict."""
    return _create(DeepLabV3Plus, "resnet50", num_classes, output_stride, backbone_weights, aspp_dropout)


@register_model("deeplabv3plus_resnet101")
def deeplabv3plus_resnet101(
    *,
    num_classes: int = 19,
    output_stride: Literal[8, 16] = 16,
    backbone_weights: str | Path | None = None,
    aspp_dropout: float = 0.1,
) -> DeepLabV3:
    """DeepLabV3+ on ResNet-101; ``backbone_weights`` is a local torchvision-format ResNet-101 state dict."""
    return _create(DeepLabV3Plus, "resnet101", num_classes, output_stride, backbone_weights, aspp_dropout)
