"""Weights from local files: torchvision-format ResNet state dicts, written by the tests (DINOv2: test_vit.py)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from oodforge.errors import InputFileError, UsageError  # noqa: E402
from oodforge.models import ERFNet, create_model, load_backbone_weights  # noqa: E402
from oodforge.models.resnet import ResNet, resnet50  # noqa: E402


def _perturbed(state: dict, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in state.items():
        if value.is_floating_point():
            out[key] = torch.randn(value.shape, generator=gen)
        else:
            out[key] = value + 7
    return out


# ---- ResNet (torchvision format) ---------------------------------------------------------------


def test_resnet50_state_dict_is_torchvision_format() -> None:
    keys = list(resnet50(num_classes=1000).state_dict())
    assert len(keys) == 320  # torchvision resnet50: 161 parameters + 159 batch-norm buffers
    for key in (
        "conv1.weight",
        "bn1.running_var",
        "bn1.num_batches_tracked",
        "layer1.0.downsample.0.weight",
        "layer1.0.downsample.1.running_mean",
        "layer2.3.conv2.weight",
        "layer3.5.bn3.bias",
        "layer4.2.conv3.weight",
        "fc.weight",
        "fc.bias",
    ):
        assert key in keys, key
    shapes = dict(resnet50(num_classes=1000).state_dict().items())
    assert tuple(shapes["layer4.0.downsample.0.weight"].shape) == (2048, 1024, 1, 1)
    assert tuple(shapes["layer2.0.conv2.weight"].shape) == (128, 128, 3, 3)


def test_deeplab_loads_torchvision_resnet_file(tmp_path) -> None:
    file_state = _perturbed(resnet50(num_classes=1000).state_dict(), seed=1)  # includes fc.*
    path = tmp_path / "resnet50.pth"
    torch.save(file_state, path)
    model = create_model("deeplabv3plus_resnet50", num_classes=3, backbone_weights=path)
    loaded = model.backbone.state_dict()
    for key, value in file_state.items():
        if not key.startswith("fc."):
            torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)
    # the report: fc ignored, nothing missing, nothing unexpected
    report = load_backbone_weights(model, path)
    assert report.ignored == ("fc.weight", "fc.bias") and not report.missing and not report.unexpected
    assert len(report.loaded) == 318


def test_resnet_report_missing_and_unexpected(tmp_path) -> None:
    backbone = ResNet((1, 1, 1, 1), num_classes=None)
    state = _perturbed(backbone.state_dict(), seed=2)
    del state["layer2.0.conv1.weight"]
    state["layer9.extra"] = torch.zeros(1)
    path = tmp_path / "r.pt"
    torch.save(state, path)
    with pytest.warns(UserWarning, match=r"1 missing \(layer2.0.conv1.weight\); 1 unexpected \(layer9.extra\)"):
        report = load_backbone_weights(backbone, path)
    assert report.missing == ("layer2.0.conv1.weight",) and report.unexpected == ("layer9.extra",)
    torch.testing.assert_close(backbone.layer3[0].conv2.weight, state["layer3.0.conv2.weight"], rtol=0, atol=0)
    with pytest.raises(InputFileError, match="do not match"):
        load_backbone_weights(backbone, path, strict=True)


def test_resnet_bad_files(tmp_path) -> None:
    backbone = ResNet((1, 1, 1, 1), num_classes=None)
    wrong = {k: v for k, v in backbone.state_dict().items()}
    wrong["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    torch.save(wrong, tmp_path / "wrong.pt")
    with pytest.raises(InputFileError, match=r"`conv1.weight` has shape \(64, 3, 3, 3\)"):
        load_backbone_weights(backbone, tmp_path / "wrong.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(InputFileError, match="cannot read ResNet weights file"):
        load_backbone_weights(backbone, tmp_path / "text.pt")
    torch.save({"a.b": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(InputFileError, match="no tensor of ResNet weights file"):
        load_backbone_weights(backbone, tmp_path / "other.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(InputFileError, match="state dict"):
        load_backbone_weights(backbone, tmp_path / "list.pt")
    with pytest.raises(UsageError, match="ResNet"):
        load_backbone_weights(ERFNet(), tmp_path / "other.pt")


def test_dilated_resnet_matches_strided_weights_shapes() -> None:
    plain = ResNet((1, 1, 1, 1), num_classes=None)
    dilated = ResNet((1, 1, 1, 1), num_classes=None, replace_stride_with_dilation=(False, True, True))
    assert {k: v.shape for k, v in plain.state_dict().items()} == {k: v.shape for k, v in dilated.state_dict().items()}
    assert dilated.output_stride == 8
    assert dilated.layer4[0].conv2.dilation == (2, 2) and dilated.layer4[0].conv2.stride == (1, 1)
