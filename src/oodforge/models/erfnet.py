"""ERFNet, the real-time factorised residual segmentation network, in plain PyTorch.

Romera et al., "ERFNet: Efficient Residual Factorized ConvNet for Real-Time Semantic Segmentation", IEEE T-ITS 2017.

Encoder: downsampler blocks (a strided 3×3 convolution concatenated with a 2×2 max-pool) and
non-bottleneck-1D residual blocks whose 3×3 convolutions are factorised into 3×1 and 1×3 pairs, the
second pair dilated (1 at 1/4 resolution; 2, 4, 8, 16 twice at 1/8). Decoder: transposed-convolution
upsamplers with non-bottleneck-1D blocks, and a final 2×2 transposed convolution to full resolution.
Module names follow the authors' public code (``encoder.initial_block``, ``encoder.layers.N``,
``decoder.layers.N``, ``decoder.output_conv``) to ease porting their checkpoints; the encoder-only
classifier of their ImageNet/encoder pretraining (``encoder.output_conv``) has no counterpart here.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from oodforge.models._base import SegmentationModel
from oodforge.models._registry import register_model
from oodforge.models.convention import InputConvention

__all__ = ["ERFNet", "erfnet"]

_BN_EPS = 1e-3


class DownsamplerBlock(nn.Module):
    """(B, C_in, H, W) → (B, C_out, ⌈H/2⌉, ⌈W/2⌉): [3×3/2 conv to C_out − C_in ‖ 2×2 max-pool] → BN → ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels - in_channels, 3, stride=2, padding=1, bias=True)
        self.pool = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.bn = nn.BatchNorm2d(out_channels, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(torch.cat([self.conv(x), self.pool(x)], dim=1)))


class NonBottleneck1D(nn.Module):
    """Residual block (B, C, H, W) → (B, C, H, W): 3×1, 1×3, BN, then dilated 3×1, 1×3, BN, dropout, + input."""

    def __init__(self, channels: int, dropout: float, dilation: int) -> None:
        super().__init__()
        d = dilation
        self.conv3x1_1 = nn.Conv2d(channels, channels, (3, 1), padding=(1, 0), bias=True)
        self.conv1x3_1 = nn.Conv2d(channels, channels, (1, 3), padding=(0, 1), bias=True)
        self.bn1 = nn.BatchNorm2d(channels, eps=_BN_EPS)
        self.conv3x1_2 = nn.Conv2d(channels, channels, (3, 1), padding=(d, 0), dilation=(d, 1), bias=True)
        self.conv1x3_2 = nn.Conv2d(channels, channels, (1, 3), padding=(0, d), dilation=(1, d), bias=True)
        self.bn2 = nn.BatchNorm2d(channels, eps=_BN_EPS)
        self.dropout: nn.Module = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv3x1_1(x))
        y = F.relu(self.bn1(self.conv1x3_1(y)))
        y = F.relu(self.conv3x1_2(y))
        y = self.dropout(self.bn2(self.conv1x3_2(y)))
        return F.relu(y + x)


class UpsamplerBlock(nn.Module):
    """(B, C_in, H, W) → (B, C_out, 2H, 2W): 3×3/2 transposed conv → BN → ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1)
        self.bn = nn.BatchNorm2d(out_channels, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class _Encoder(nn.Module):
    """(B, 3, H, W) → (B, 128, ⌈H/8⌉, ⌈W/8⌉)."""

    def __init__(self) -> None:
        super().__init__()
        self.initial_block = DownsamplerBlock(3, 16)
        layers: list[nn.Module] = [DownsamplerBlock(16, 64)]
        layers += [NonBottleneck1D(64, 0.03, 1) for _ in range(5)]
        layers.append(DownsamplerBlock(64, 128))
        for _ in range(2):
            layers += [NonBottleneck1D(128, 0.3, d) for d in (2, 4, 8, 16)]
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.initial_block(x)
        for layer in self.layers:
            x = layer(x)
        return x


class _Decoder(nn.Module):
    """(B, 128, h, w) → (B, num_classes, 8h, 8w)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [
                UpsamplerBlock(128, 64),
                NonBottleneck1D(64, 0.0, 1),
                NonBottleneck1D(64, 0.0, 1),
                UpsamplerBlock(64, 16),
                NonBottleneck1D(16, 0.0, 1),
                NonBottleneck1D(16, 0.0, 1),
            ]
        )
        self.output_conv = nn.ConvTranspose2d(16, num_classes, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.output_conv(x)


class ERFNet(SegmentationModel):
    """ERFNet: a real-time encoder–decoder of factorised residual blocks (about 2.1 M parameters).

    ``forward(x)`` with x (B, 3, H, W) returns ``{"logits": (B, C, H, W), "features": (B, 128, ⌈H/8⌉, ⌈W/8⌉)}``;
    any H, W ≥ 1 work (multiples of 8 avoid the final crop).

    Input convention (of the published Cityscapes weights): RGB scaled to [0, 1] without mean/std
    normalisation, the shorter side resized to 512 (512x1024 for a Cityscapes frame), logits upsampled
    bilinearly to the image.

    Args:
        num_classes: Number of classes C.

    Example:
        >>> import torch
        >>> out = ERFNet(num_classes=19).eval()(torch.zeros(1, 3, 64, 128))
        >>> tuple(out["logits"].shape), tuple(out["features"].shape)
        ((1, 19, 64, 128), (1, 128, 8, 16))
    """

    #: the encoder-only classifier of ERFNet's two-stage training (unused by the full model)
    auxiliary_weights: ClassVar[tuple[str, ...]] = ("encoder.output_conv.",)
    input_convention: ClassVar[InputConvention] = InputConvention(normalization="none", short_side=512, pad_multiple=8)

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_features = 128
        self.encoder = _Encoder()
        self.decoder = _Decoder(num_classes)

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) → ``{"out": (B, 128, ⌈H/8⌉, ⌈W/8⌉)}`` (the encoder output)."""
        return {"out": self.encoder(x)}

    def forward_head(self, features: dict[str, torch.Tensor], output_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Decode ``features["out"]`` to ``{"logits": (B, C, *output_size)}`` (cropped from ⌈H/8⌉·8)."""
        logits = self.decoder(features["out"])
        h, w = output_size
        if logits.shape[-2] < h or logits.shape[-1] < w:
            logits = F.interpolate(logits, size=output_size, mode="bilinear", align_corners=False)
        return {"logits": logits[..., :h, :w]}


@register_model("erfnet")
def erfnet(*, num_classes: int = 19) -> ERFNet:
    """ERFNet as published (encoder 16-64-128 channels, decoder 64-16).

    Args:
        num_classes: Number of classes C.

    Returns:
        The model.
    """
    return ERFNet(num_classes=num_classes)
