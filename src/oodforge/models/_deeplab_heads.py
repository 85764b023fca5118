"""DeepLab heads laid out like the public implementations, so their checkpoints load with a plain strict load.

Module names and tensor shapes follow torchvision (``models/segmentation/deeplabv3.py``, ``fcn.py``) and
VainF/DeepLabV3Plus-Pytorch (``network/_deeplab.py``); the code is written here.

- :class:`ASPP`: ``convs.0`` (1×1 conv-BN-ReLU), ``convs.1..3`` (3×3 atrous conv-BN-ReLU), ``convs.4``
  (:class:`ASPPPooling`: global average → 1×1 conv → BN → ReLU → bilinear upsample), concatenated and
  projected by ``project`` (1×1 conv 256 → BN → ReLU → Dropout). Every convolution has no bias.
- :class:`DeepLabHead` (torchvision ``classifier``; VainF ``classifier.classifier``): ASPP, 3×3 conv 256 → 256
  (no bias), BN, ReLU, 1×1 conv 256 → C (with bias), as indices ``0``…``4``.
- :class:`FCNHead` (torchvision ``aux_classifier`` on ``layer3``): 3×3 conv C_in → C_in/4, BN, ReLU,
  Dropout(0.1), 1×1 conv → C.
- :class:`DeepLabHeadV3Plus` (VainF ``classifier``): ``project`` (low-level 1×1 conv 256 → 48, BN, ReLU),
  ``aspp``, ``classifier`` (3×3 conv 304 → 256, BN, ReLU, 1×1 conv → C) applied to ``cat([low, upsampled ASPP])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from oodforge.errors import UsageError

__all__ = [
    "ASPP",
    "ASPPPooling",
    "DeepLabHead",
    "DeepLabHeadV3Plus",
    "FCNHead",
    "NestedDeepLabHead",
    "aspp_rates",
    "kaiming_init",
]

_RATES = {8: (12, 24, 36), 16: (6, 12, 18)}


def aspp_rates(output_stride: int) -> tuple[int, int, int]:
    """ASPP dilation rates for an output stride: (12, 24, 36) at 8 (torchvision, VainF), (6, 12, 18) at 16 (VainF)."""
    if output_stride not in _RATES:
        raise UsageError(f"Expected `output_stride` to be 8 or 16, but got {output_stride!r}")
    return _RATES[output_stride]


def _conv_bn_relu(in_channels: int, out_channels: int, kernel: int, dilation: int = 1) -> list[nn.Module]:
    """[conv (no bias), BN, ReLU] with "same" padding: the ``0``/``1``/``2`` entries of the public heads."""
    pad = dilation * (kernel // 2)
    return [
        nn.Conv2d(in_channels, out_channels, kernel, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


def kaiming_init(module: nn.Module) -> None:
    """VainF's head initialisation: ``kaiming_normal_`` (fan-in) convolutions, batch norm weight 1 and bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ASPPPooling(nn.Sequential):
    """Image-pooling branch (B, C_in, h, w) → (B, C_out, h, w): average pool, 1×1 conv, BN, ReLU, upsample.

    Its batch norm sees one value per image and channel, so in training mode it needs B ≥ 2 (a
    :class:`~oodforge.errors.UsageError` otherwise; evaluate with ``model.eval()`` or freeze batch norm).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.AdaptiveAvgPool2d(1), *_conv_bn_relu(in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self[2].training and x.shape[0] < 2:
            raise UsageError(
                f"Expected a batch of at least 2 images in training mode (the batch norm of the ASPP image-pooling "
                f"branch sees one value per image), but got {x.shape[0]}; use model.eval() or freeze batch norm"
            )
        return F.interpolate(super().forward(x), size=x.shape[-2:], mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: (B, C_in, h, w) → (B, C_out, h, w).

    Args:
        in_channels: Input channels (2048 for a ResNet-50/101 ``layer4``).
        rates: Dilation rates of the three 3×3 branches.
        out_channels: Channels of every branch and of the output.
        dropout: Dropout after the projection (0.5 in torchvision, 0.1 in VainF).
    """

    def __init__(self, in_channels: int, rates: Sequence[int], out_channels: int = 256, dropout: float = 0.5) -> None:
        super().__init__()
        branches: list[nn.Module] = [nn.Sequential(*_conv_bn_relu(in_channels, out_channels, 1))]
        branches += [nn.Sequential(*_conv_bn_relu(in_channels, out_channels, 3, r)) for r in rates]
        branches.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(*_conv_bn_relu(len(branches) * out_channels, out_channels, 1), nn.Dropout(dropout))

    @property
    def rates(self) -> tuple[int, ...]:
        """Dilation rates of the 3×3 branches."""
        convs = [cast(nn.Conv2d, cast(nn.Sequential, branch)[0]) for branch in list(self.convs)[1:-1]]
        return tuple(int(conv.dilation[0]) for conv in convs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.convs], dim=1))


class DeepLabHead(nn.Sequential):
    """ASPP → 3×3 conv-BN-ReLU → 1×1 classifier: (B, C_in, h, w) → (B, num_classes, h, w).

    Args:
        in_channels: Backbone channels (2048).
        num_classes: Number of classes C.
        rates: ASPP dilation rates.
        dropout: ASPP dropout.
    """

    def __init__(self, in_channels: int, num_classes: int, rates: Sequence[int], dropout: float = 0.5) -> None:
        super().__init__(
            ASPP(in_channels, rates, 256, dropout), *_conv_bn_relu(256, 256, 3), nn.Conv2d(256, num_classes, 1)
        )

    @property
    def aspp(self) -> ASPP:
        """The ASPP module (index ``0``)."""
        return cast(ASPP, self[0])

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Apply everything after the ASPP: (B, 256, h, w) → (B, num_classes, h, w)."""
        for layer in list(self)[1:]:
            x = layer(x)
        return x


class NestedDeepLabHead(nn.Module):
    """VainF's DeepLabV3 head: a :class:`DeepLabHead` held as ``classifier`` (keys ``classifier.classifier.*``)."""

    def __init__(self, head: DeepLabHead) -> None:
        super().__init__()
        self.classifier = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x)


class FCNHead(nn.Sequential):
    """torchvision's auxiliary head: 3×3 conv C_in → C_in/4, BN, ReLU, Dropout(0.1), 1×1 conv → num_classes."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        inter = in_channels // 4
        super().__init__(*_conv_bn_relu(in_channels, inter, 3), nn.Dropout(0.1), nn.Conv2d(inter, num_classes, 1))


class DeepLabHeadV3Plus(nn.Module):
    """VainF's DeepLabV3+ decoder: ASPP on the high-level map, fused with the projected low-level map.

    ``forward(high, low)``: ``low`` (B, low_channels, H/4, W/4) → 48 channels; the ASPP output is upsampled
    bilinearly to its size, ``cat([low, aspp])`` (304 channels) goes through a 3×3 conv-BN-ReLU and a 1×1
    classifier: → (B, num_classes, H/4, W/4).

    Args:
        in_channels: High-level channels (2048).
        low_channels: Low-level channels (256 for ``layer1``).
        num_classes: Number of classes C.
        rates: ASPP dilation rates.
        dropout: ASPP dropout (0.1 in VainF).
    """

    def __init__(
        self, in_channels: int, low_channels: int, num_classes: int, rates: Sequence[int], dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.project = nn.Sequential(*_conv_bn_relu(low_channels, 48, 1))
        self.aspp = ASPP(in_channels, rates, 256, dropout)
        self.classifier = nn.Sequential(*_conv_bn_relu(48 + 256, 256, 3), nn.Conv2d(256, num_classes, 1))
        kaiming_init(self)

    def decode(self, aspp_out: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        """Fuse an ASPP output (B, 256, h, w) with the raw low-level map: → (B, num_classes, *low.shape[-2:])."""
        low = self.project(low)
        up = F.interpolate(aspp_out, size=low.shape[-2:], mode="bilinear", align_corners=False)
        return self.classifier(torch.cat([low, up], dim=1))

    def forward(self, high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        return self.decode(self.aspp(high), low)
