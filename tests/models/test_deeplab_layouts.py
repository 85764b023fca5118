"""DeepLab state dicts equal the public layouts (torchvision, VainF/DeepLabV3Plus-Pytorch) and load strictly.

The expected key → shape tables are written here from the documented architectures (no real weights):
torchvision ``deeplabv3_resnet50/101`` (``classifier.0..4``, optional ``aux_classifier``) and VainF's
``deeplabv3plus_resnet50/101`` / ``deeplabv3_resnet50/101`` (``classifier.project/aspp/classifier`` and
``classifier.classifier.0..4``), whose checkpoints wrap the state dict as ``{"model_state": ...}``.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from oodforge.errors import UsageError  # noqa: E402
from oodforge.models import (  # noqa: E402
    DeepLabV3,
    DeepLabV3Plus,
    create_model,
    infer_num_classes,
    list_models,
    model_convention,
)
from oodforge.models import deeplab as deeplab_module  # noqa: E402
from oodforge.models.resnet import ResNet  # noqa: E402

Layout = dict[str, tuple[int, ...]]
R50, R101 = (3, 4, 6, 3), (3, 4, 23, 3)


def _bn(prefix: str, c: int) -> Layout:
    stats = {f"{prefix}.{n}": (c,) for n in ("weight", "bias", "running_mean", "running_var")}
    return {**stats, f"{prefix}.num_batches_tracked": ()}


def _resnet(depths: tuple[int, ...]) -> Layout:
    """torchvision ResNet (Bottleneck, expansion 4) without ``fc``, as ``backbone.*``."""
    out: Layout = {"backbone.conv1.weight": (64, 3, 7, 7), **_bn("backbone.bn1", 64)}
    inplanes = 64
    for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), depths, strict=True), start=1):
        for b in range(blocks):
            p = f"backbone.layer{stage}.{b}"
            out[f"{p}.conv1.weight"] = (planes, inplanes, 1, 1)
            out.update(_bn(f"{p}.bn1", planes))
            out[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            out.update(_bn(f"{p}.bn2", planes))
            out[f"{p}.conv3.weight"] = (planes * 4, planes, 1, 1)
            out.update(_bn(f"{p}.bn3", planes * 4))
            if b == 0:
                out[f"{p}.downsample.0.weight"] = (planes * 4, inplanes, 1, 1)
                out.update(_bn(f"{p}.downsample.1", planes * 4))
            inplanes = planes * 4
    return out


def _aspp(p: str) -> Layout:
    out: Layout = {f"{p}.convs.0.0.weight": (256, 2048, 1, 1), **_bn(f"{p}.convs.0.1", 256)}
    for i in (1, 2, 3):
        out |= {f"{p}.convs.{i}.0.weight": (256, 2048, 3, 3), **_bn(f"{p}.convs.{i}.1", 256)}
    out |= {f"{p}.convs.4.1.weight": (256, 2048, 1, 1), **_bn(f"{p}.convs.4.2", 256)}
    return out | {f"{p}.project.0.weight": (256, 1280, 1, 1), **_bn(f"{p}.project.1", 256)}


def _deeplab_head(p: str, c: int) -> Layout:
    """ASPP, 3×3 conv 256→256 (no bias), BN, ReLU, 1×1 conv 256→C: indices 0, 1, 2, (3), 4."""
    out = _aspp(f"{p}.0") | {f"{p}.1.weight": (256, 256, 3, 3), **_bn(f"{p}.2", 256)}
    return out | {f"{p}.4.weight": (c, 256, 1, 1), f"{p}.4.bias": (c,)}


def torchvision_deeplabv3(depths: tuple[int, ...], c: int, aux: bool) -> Layout:
    out = _resnet(depths) | _deeplab_head("classifier", c)
    if aux:  # FCNHead(1024, C): 3×3 conv 1024→256, BN, ReLU, Dropout, 1×1 conv 256→C
        out |= {"aux_classifier.0.weight": (256, 1024, 3, 3), **_bn("aux_classifier.1", 256)}
        out |= {"aux_classifier.4.weight": (c, 256, 1, 1), "aux_classifier.4.bias": (c,)}
    return out


def vainf_deeplabv3(depths: tuple[int, ...], c: int) -> Layout:
    return _resnet(depths) | _deeplab_head("classifier.classifier", c)


def vainf_deeplabv3plus(depths: tuple[int, ...], c: int) -> Layout:
    out = _resnet(depths) | {"classifier.project.0.weight": (48, 256, 1, 1), **_bn("classifier.project.1", 48)}
    out |= _aspp("classifier.aspp")
    out |= {"classifier.classifier.0.weight": (256, 304, 3, 3), **_bn("classifier.classifier.1", 256)}
    return out | {"classifier.classifier.3.weight": (c, 256, 1, 1), "classifier.classifier.3.bias": (c,)}


def random_state(layout: Layout, seed: int) -> dict:
    """Random tensors of the layout's shapes, scaled so a forward pass stays finite."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in layout.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        elif len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            state[key] = torch.randn(shape, generator=gen) / fan_in**0.5
        elif key.endswith(".weight"):  # batch norm scale
            state[key] = 1 + 0.1 * torch.randn(shape, generator=gen)
        else:
            state[key] = 0.1 * torch.randn(shape, generator=gen)
    return state


def _shapes(model: torch.nn.Module) -> Layout:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _assert_loaded(model: torch.nn.Module, state: dict) -> None:
    loaded = model.state_dict()
    for key, value in state.items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)


def test_registered_names() -> None:
    assert list_models("deeplab*") == [
        "deeplabv3_resnet101",
        "deeplabv3_resnet101_vainf",
        "deeplabv3_resnet50",
        "deeplabv3_resnet50_vainf",
        "deeplabv3plus_resnet101",
        "deeplabv3plus_resnet50",
    ]


@pytest.mark.parametrize("aux", [False, True])
def test_torchvision_deeplabv3_resnet50_loads_strictly(tmp_path, aux: bool) -> None:
    layout = torchvision_deeplabv3(R50, 21, aux)
    state = random_state(layout, seed=1)
    if aux:  # through the file loader of create_model, as a user would
        torch.save(state, tmp_path / "deeplabv3_resnet50_coco.pth")
        path = tmp_path / "deeplabv3_resnet50_coco.pth"
        model = create_model("deeplabv3_resnet50", num_classes=21, aux_classifier=True, pretrained_path=path)
    else:
        model = create_model("deeplabv3_resnet50", num_classes=21)
        model.load_state_dict(state, strict=True)
    assert _shapes(model) == layout
    _assert_loaded(model, state)
    if aux:  # torchvision's DeepLabV3_ResNet50_Weights meta: num_params 42004074 (21 classes, aux head)
        assert sum(p.numel() for p in model.parameters()) == 42_004_074
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 65, 65))
    assert out["logits"].shape == (1, 21, 65, 65)
    assert out["features"].shape == (1, 256, 9, 9)  # output stride 8
    assert ("aux_logits" in out) == aux
    if aux:
        assert out["aux_logits"].shape == (1, 21, 65, 65)
        # torchvision's published files carry the aux head: a model without it ignores those keys
        plain = create_model("deeplabv3_resnet50", num_classes=None, pretrained_path=path)
        assert plain.aux_classifier is None and plain.num_classes == 21  # class count read from the file
        _assert_loaded(plain, {k: v for k, v in state.items() if not k.startswith("aux_classifier.")})
    assert all(torch.isfinite(v).all() for v in out.values())


def test_torchvision_deeplabv3_resnet101_loads_strictly() -> None:
    layout = torchvision_deeplabv3(R101, 21, aux=True)
    state = random_state(layout, seed=2)
    model = create_model("deeplabv3_resnet101", num_classes=21, aux_classifier=True)
    assert _shapes(model) == layout
    model.load_state_dict(state, strict=True)
    _assert_loaded(model, state)
    assert sum(p.numel() for p in model.parameters()) == 60_996_202  # torchvision's meta num_params
    assert model.aspp.rates == (12, 24, 36) and model.backbone.output_stride == 8
    without_aux = {k: v for k, v in state.items() if not k.startswith("aux_classifier.")}
    assert _shapes(create_model("deeplabv3_resnet101", num_classes=21)) == {
        k: tuple(v.shape) for k, v in without_aux.items()
    }


def test_vainf_deeplabv3plus_checkpoint_loads_strictly(tmp_path) -> None:
    layout = vainf_deeplabv3plus(R50, 19)
    checkpoint = {
        "cur_itrs": 30000,
        "model_state": random_state(layout, seed=3),
        "optimizer_state": {"state": {}, "param_groups": []},
        "scheduler_state": {"last_epoch": 30000},
        "best_score": 0.75,
    }
    path = tmp_path / "best_deeplabv3plus_resnet50_cityscapes_os16.pth"
    torch.save(checkpoint, path)
    state = torch.load(path, weights_only=True)["model_state"]
    model = create_model("deeplabv3plus_resnet50", num_classes=19)
    assert _shapes(model) == layout
    model.load_state_dict(state, strict=True)
    _assert_loaded(model, checkpoint["model_state"])
    # the loader of create_model unwraps the container itself
    model = create_model("deeplabv3plus_resnet50", num_classes=None, pretrained_path=path)
    _assert_loaded(model, checkpoint["model_state"])
    assert model.aspp.rates == (6, 12, 18) and model.backbone.output_stride == 16
    assert infer_num_classes("deeplabv3plus_resnet50", state) == 19
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 65, 65))
    assert out["logits"].shape == (1, 19, 65, 65) and out["features"].shape == (1, 256, 5, 5)
    assert torch.isfinite(out["logits"]).all()


def test_vainf_deeplabv3plus_resnet101_layout() -> None:
    assert _shapes(create_model("deeplabv3plus_resnet101", num_classes=19)) == vainf_deeplabv3plus(R101, 19)


def test_vainf_deeplabv3_loads_strictly() -> None:
    layout = vainf_deeplabv3(R50, 21)
    model = create_model("deeplabv3_resnet50_vainf", num_classes=21)
    assert _shapes(model) == layout
    state = random_state(layout, seed=4)
    model.load_state_dict(state, strict=True)
    assert model.aspp.rates == (6, 12, 18) and model.backbone.output_stride == 16
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 33, 33))["logits"].shape == (1, 21, 33, 33)
    torchvision_model = DeepLabV3(21, output_stride=16)
    assert model_convention("deeplabv3_resnet50_vainf") != model_convention("deeplabv3_resnet50")
    with pytest.raises(RuntimeError, match=r"classifier\.classifier\.0\.convs"):
        torchvision_model.load_state_dict(state, strict=True)  # the two layouts differ only by the nesting


@pytest.mark.parametrize(("flags", "expected"), [((False, False, True), 16), ((False, True, True), 8)])
def test_dilation_replaces_stride_like_torchvision(flags: tuple[bool, ...], expected: int) -> None:
    net = ResNet((2, 2, 2, 2), num_classes=None, replace_stride_with_dilation=flags)
    assert net.output_stride == expected
    dilation = 1
    for stage, dilate in zip((2, 3, 4), flags, strict=True):
        layer = getattr(net, f"layer{stage}")
        first = layer[0]
        # the first block keeps the previous dilation and strides unless dilated; the others use the new one
        assert first.conv2.dilation == (dilation, dilation) and first.conv2.padding == (dilation, dilation)
        assert first.conv2.stride == first.downsample[0].stride == ((1, 1) if dilate else (2, 2))
        dilation *= 2 if dilate else 1
        assert layer[1].conv2.dilation == (dilation, dilation) and layer[1].conv2.stride == (1, 1)


def test_input_conventions_and_argument_errors() -> None:
    assert deeplab_module.INPUT_NORMALIZATION == "imagenet"
    assert DeepLabV3.INPUT_NORMALIZATION == DeepLabV3Plus.INPUT_NORMALIZATION == "imagenet"
    for name in list_models("deeplab*"):
        conv = model_convention(name)
        assert (conv.normalization, conv.channel_order, conv.pad_multiple) == ("imagenet", "rgb", 1)
        torchvision = not name.endswith("_vainf") and "plus" not in name
        # torchvision's preset resizes the shorter side to 520; VainF evaluates Cityscapes at full size
        assert (conv.short_side, conv.size, conv.scale) == (520 if torchvision else None, None, None)
    with pytest.raises(UsageError, match="aux_classifier"):
        create_model("deeplabv3_resnet50_vainf", aux_classifier=True)
    with pytest.raises(UsageError, match="backbone"):
        DeepLabV3Plus(5, backbone="resnet18")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="output_stride"):
        DeepLabV3Plus(5, output_stride=32)  # type: ignore[arg-type]
