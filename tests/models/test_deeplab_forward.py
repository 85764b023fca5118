"""DeepLab forward semantics against hand-written references built from the state dict (eval mode).

The references follow the public definitions: ASPP = [1×1, three atrous 3×3, image pooling (global average →
1×1 conv → BN → ReLU → upsample)] → concat → 1×1 projection; torchvision's head adds a 3×3 conv-BN-ReLU and
a 1×1 classifier; VainF's V3+ decoder concatenates [low-level 48, upsampled ASPP] before its 3×3 conv.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from oodforge.errors import UsageError  # noqa: E402
from oodforge.models import DeepLabV3, DeepLabV3Plus, create_model  # noqa: E402
from oodforge.models._deeplab_heads import ASPP  # noqa: E402

EPS = 1e-5  # BatchNorm2d default


def _randomize(module: torch.nn.Module, seed: int) -> dict:
    """Fill every parameter and batch-norm buffer with random values (scaled to stay finite); return the state."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in module.state_dict().items():
        shape = value.shape
        if key.endswith("num_batches_tracked"):
            state[key] = value
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        elif value.ndim == 4:
            state[key] = torch.randn(shape, generator=gen) / (shape[1] * shape[2] * shape[3]) ** 0.5
        elif key.endswith(".weight"):
            state[key] = 1 + 0.1 * torch.randn(shape, generator=gen)
        else:
            state[key] = 0.1 * torch.randn(shape, generator=gen)
    module.load_state_dict(state, strict=True)
    return state


def _bn(y: torch.Tensor, sd: dict, p: str) -> torch.Tensor:
    def v(name: str) -> torch.Tensor:
        return sd[f"{p}.{name}"].view(1, -1, 1, 1)

    return (y - v("running_mean")) / torch.sqrt(v("running_var") + EPS) * v("weight") + v("bias")


def _cbr(x: torch.Tensor, sd: dict, conv: str, bn: str, dilation: int = 1) -> torch.Tensor:
    w = sd[f"{conv}.weight"]
    pad = dilation * (w.shape[-1] // 2)
    return F.relu(_bn(F.conv2d(x, w, padding=pad, dilation=dilation), sd, bn))


def _pooling_branch(x: torch.Tensor, sd: dict, p: str) -> torch.Tensor:
    """Global average → 1×1 conv (as a matrix product, no bias) → BN → ReLU → constant over h×w."""
    pooled = x.mean(dim=(2, 3))  # (B, C_in)
    y = torch.einsum("oc,bc->bo", sd[f"{p}.1.weight"][:, :, 0, 0], pooled)[:, :, None, None]
    return F.relu(_bn(y, sd, f"{p}.2")).expand(-1, -1, *x.shape[-2:])


def _aspp(x: torch.Tensor, sd: dict, p: str, rates: tuple[int, ...]) -> torch.Tensor:
    outs = [_cbr(x, sd, f"{p}.convs.0.0", f"{p}.convs.0.1")]
    outs += [_cbr(x, sd, f"{p}.convs.{i}.0", f"{p}.convs.{i}.1", r) for i, r in enumerate(rates, start=1)]
    outs.append(_pooling_branch(x, sd, f"{p}.convs.4"))
    return _cbr(torch.cat(outs, dim=1), sd, f"{p}.project.0", f"{p}.project.1")


def _up(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))


def test_aspp_matches_reference_and_pooling_branch() -> None:
    aspp = ASPP(32, (1, 2, 3), out_channels=8, dropout=0.5)
    wrapped = torch.nn.Sequential(aspp).eval()  # state keys "0.convs...", "0.project..."
    sd = _randomize(wrapped, seed=0)
    x = torch.randn(2, 32, 6, 7, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        pooled = aspp.convs[4](x)
        _close(pooled, _pooling_branch(x, sd, "0.convs.4"))
        _close(aspp(x), _aspp(x, sd, "0", (1, 2, 3)))
    assert pooled.shape == (2, 8, 6, 7) and aspp.rates == (1, 2, 3)


def test_pooling_branch_needs_two_images_in_training() -> None:
    aspp = ASPP(16, (1, 2, 3), out_channels=4)
    assert aspp(torch.randn(2, 16, 5, 5)).shape == (2, 4, 5, 5)
    with pytest.raises(UsageError, match="at least 2 images in training mode"):
        aspp(torch.randn(1, 16, 5, 5))
    for m in aspp.modules():  # frozen batch norm: one image is fine
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    assert aspp(torch.randn(1, 16, 5, 5)).shape == (1, 4, 5, 5)


def test_torchvision_deeplabv3_matches_reference() -> None:
    model = create_model("deeplabv3_resnet50", num_classes=3, aux_classifier=True).eval()
    sd = _randomize(model, seed=2)
    x = torch.randn(1, 3, 33, 33, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = model(x)
        feats = model.backbone.forward_features(x)
        assert feats["layer4"].shape == (1, 2048, 5, 5)  # output stride 8
        aspp = _aspp(feats["layer4"], sd, "classifier.0", (12, 24, 36))
        head = _cbr(aspp, sd, "classifier.1", "classifier.2")
        logits = F.conv2d(head, sd["classifier.4.weight"], sd["classifier.4.bias"])
        aux = _cbr(feats["layer3"], sd, "aux_classifier.0", "aux_classifier.1")
        aux = F.conv2d(aux, sd["aux_classifier.4.weight"], sd["aux_classifier.4.bias"])
        again = model.forward_head(model.forward_features(x), (33, 33))
    _close(out["features"], aspp)
    _close(out["logits"], _up(logits, (33, 33)))
    _close(out["aux_logits"], _up(aux, (33, 33)))
    for key, value in again.items():
        torch.testing.assert_close(out[key], value)


def test_vainf_deeplabv3plus_matches_reference() -> None:
    model = create_model("deeplabv3plus_resnet50", num_classes=4).eval()
    sd = _randomize(model, seed=4)
    x = torch.randn(1, 3, 65, 65, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        out = model(x)
        feats = model.backbone.forward_features(x)
        aspp = _aspp(feats["layer4"], sd, "classifier.aspp", (6, 12, 18))
        low = _cbr(feats["layer1"], sd, "classifier.project.0", "classifier.project.1")
        fused = torch.cat([low, _up(aspp, tuple(low.shape[-2:]))], dim=1)  # low-level first, as VainF
        y = _cbr(fused, sd, "classifier.classifier.0", "classifier.classifier.1")
        logits = F.conv2d(y, sd["classifier.classifier.3.weight"], sd["classifier.classifier.3.bias"])
    assert low.shape == (1, 48, 17, 17) and aspp.shape == (1, 256, 5, 5)
    _close(out["features"], aspp)
    _close(out["logits"], _up(logits, (65, 65)))


def test_vainf_deeplabv3_differs_from_torchvision_only_by_nesting() -> None:
    vainf = create_model("deeplabv3_resnet50_vainf", num_classes=3).eval()
    sd = _randomize(vainf, seed=6)
    torchvision_layout = DeepLabV3(3, output_stride=16).eval()
    torchvision_layout.load_state_dict({k.replace("classifier.classifier.", "classifier."): v for k, v in sd.items()})
    x = torch.randn(1, 3, 33, 33, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        a, b = vainf(x), torchvision_layout(x)
    for key in ("logits", "features"):
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_training_mode_outputs() -> None:
    model = DeepLabV3(3, aux_classifier=True)
    out = model(torch.randn(2, 3, 32, 32))
    assert sorted(out) == ["aux_logits", "features", "logits"] and out["aux_logits"].shape == (2, 3, 32, 32)
    plus = DeepLabV3Plus(3)
    assert sorted(plus(torch.randn(2, 3, 32, 32))) == ["features", "logits"]
