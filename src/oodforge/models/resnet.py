"""ResNet-50/101 backbones (He et al., CVPR 2016; v1.5 with the stride on the 3×3 convolution) in plain PyTorch.

Parameter and buffer names match torchvision's ``ResNet`` state dicts exactly (``conv1``, ``bn1``,
``layer1``…``layer4`` of ``Bottleneck`` blocks with ``conv1/bn1/conv2/bn2/conv3/bn3`` and
``downsample.0/.1``, ``fc``), so :func:`load_backbone_weights` reads a torchvision-format file from a
local path. ``replace_stride_with_dilation`` turns the stride of ``layer2``–``layer4`` into dilation
(output stride 8 or 16) as DeepLab needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from oodforge.errors import UsageError
from oodforge.models._weights import LoadReport, apply_state_dict, read_state_dict

__all__ = ["Bottleneck", "ResNet", "load_backbone_weights", "resnet50", "resnet101"]


class Bottleneck(nn.Module):
    """Residual block (B, C_in, H, W) → (B, 4·planes, H/stride, W/stride): 1×1, 3×3 (stride, dilation), 1×1."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, dilation: int = 1
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """Bottleneck ResNet: stem (7×7/2 conv, 3×3/2 max-pool) and four stages of 256, 512, 1024, 2048 channels.

    Args:
        layers: Blocks per stage, ``(3, 4, 6, 3)`` for ResNet-50, ``(3, 4, 23, 3)`` for ResNet-101.
        num_classes: Size of the ``fc`` classifier; ``None`` builds a pure backbone (no pooling, no ``fc``).
        replace_stride_with_dilation: For ``layer2``–``layer4``, replace the stride 2 by dilation:
            ``(False, False, True)`` gives output stride 16, ``(False, True, True)`` output stride 8.

    Example:
        >>> import torch
        >>> net = resnet50(replace_stride_with_dilation=(False, False, True)).eval()
        >>> {k: tuple(v.shape) for k, v in net.forward_features(torch.zeros(1, 3, 64, 64)).items()}
        {'layer1': (1, 256, 16, 16), 'layer2': (1, 512, 8, 8), 'layer3': (1, 1024, 4, 4), 'layer4': (1, 2048, 4, 4)}
    """

    def __init__(
        self,
        layers: Sequence[int],
        *,
        num_classes: int | None = 1000,
        replace_stride_with_dilation: Sequence[bool] = (False, False, False),
    ) -> None:
        super().__init__()
        if len(layers) != 4 or len(replace_stride_with_dilation) != 3:
            raise UsageError(
                f"Expected 4 stage depths and 3 dilation flags, but got {list(layers)} and "
                f"{list(replace_stride_with_dilation)}"
            )
        self.inplanes = 64
        self.dilation = 1
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2, dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(256, layers[2], stride=2, dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(512, layers[3], stride=2, dilate=replace_stride_with_dilation[2])
        self.output_stride = 32 // 2 ** sum(bool(d) for d in replace_stride_with_dilation)
        self.fc: nn.Linear | None = None
        if num_classes is not None:
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512 * Bottleneck.expansion, num_classes)
        self._init_weights()

    def _make_layer(self, planes: int, blocks: int, stride: int = 1, dilate: bool = False) -> nn.Sequential:
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * Bottleneck.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * Bottleneck.expansion),
            )
        # the first block keeps the previous dilation, as in torchvision, so pretrained weights behave alike
        modules = [Bottleneck(self.inplanes, planes, stride, downsample, previous_dilation)]
        self.inplanes = planes * Bottleneck.expansion
        modules += [Bottleneck(self.inplanes, planes, dilation=self.dilation) for _ in range(1, blocks)]
        return nn.Sequential(*modules)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) → ``{"layer1": (B, 256, H/4, W/4), …, "layer4": (B, 2048, H/os, W/os)}``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out: dict[str, torch.Tensor] = {}
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
            out[name] = x
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) → (B, num_classes) class logits, or the (B, 2048, h, w) ``layer4`` map without ``fc``."""
        feats = self.forward_features(x)["layer4"]
        if self.fc is None:
            return feats
        return self.fc(torch.flatten(self.avgpool(feats), 1))


def resnet50(*, num_classes: int | None = None, replace_stride_with_dilation: Sequence[bool] = (False,) * 3) -> ResNet:
    """ResNet-50 (3, 4, 6, 3 blocks); a backbone without ``fc`` unless ``num_classes`` is given."""
    return ResNet((3, 4, 6, 3), num_classes=num_classes, replace_stride_with_dilation=replace_stride_with_dilation)


def resnet101(*, num_classes: int | None = None, replace_stride_with_dilation: Sequence[bool] = (False,) * 3) -> ResNet:
    """ResNet-101 (3, 4, 23, 3 blocks); a backbone without ``fc`` unless ``num_classes`` is given."""
    return ResNet((3, 4, 23, 3), num_classes=num_classes, replace_stride_with_dilation=replace_stride_with_dilation)


def load_backbone_weights(model: nn.Module, path: str | Path, *, strict: bool = False) -> LoadReport:
    """Load a torchvision-format ResNet state dict from a local file into ``model``'s ResNet.

    The file is read with ``torch.load(path, map_location="cpu", weights_only=True)``; ``fc.*`` is
    ignored when the target has no classifier. Missing or unexpected keys are reported (a
    :class:`UserWarning`, or an error with ``strict``); a shape mismatch (e.g. a basic-block ResNet-18
    file) is an error.

    Args:
        model: A :class:`ResNet`, or a model with a ``backbone`` attribute that is one (the DeepLab models).
        path: Local file, e.g. torchvision's ``resnet50-*.pth`` copied by the user.
        strict: Raise on any missing or unexpected key.

    Returns:
        The :class:`~oodforge.models.LoadReport`.

    Raises:
        UsageError: ``model`` holds no ResNet.
        InputFileError: The file is missing, unreadable or does not match.
    """
    backbone = model if isinstance(model, ResNet) else getattr(model, "backbone", None)
    if not isinstance(backbone, ResNet):
        raise UsageError(f"Expected a ResNet or a model with a ResNet `backbone`, but got {type(model).__name__}")
    state = read_state_dict(path, "ResNet weights")
    has_fc = backbone.fc is not None

    def ignore(key: str) -> bool:
        return key.startswith("fc.") and not has_fc

    return apply_state_dict(backbone, state, path=path, ignore=ignore, strict=strict, what="ResNet weights")
