"""Weights from local files: torchvision-format ResNet state dicts and DINOv2 checkpoints, written by the tests."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from oodforge.errors import InputFileError, UsageError  # noqa: E402
from oodforge.models import (  # noqa: E402
    ERFNet,
    ViTEncoder,
    create_model,
    load_backbone_weights,
    load_dinov2_weights,
)
from oodforge.models.resnet import ResNet, resnet50  # noqa: E402
from oodforge.models.vit import interpolate_pos_embed, resample_patch_kernel  # noqa: E402


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


# ---- DINOv2 -----------------------------------------------------------------------------------


def _dinov2_file(tmp_path, *, chunked: bool = False):
    """A fabricated DINOv2 ViT checkpoint: D=192, 4 blocks, 4 registers, patch 14, 8×8 position grid."""
    source = ViTEncoder(img_size=(112, 112), patch_size=14, embed_dim=192, depth=4, num_heads=3, num_register_tokens=4)
    state = _perturbed(source.state_dict(), seed=3)
    state["mask_token"] = torch.zeros(1, 192)
    if chunked:  # DINOv2 training checkpoints: block chunks, under "teacher" with a "backbone." prefix
        state = {
            "teacher": {
                "backbone." + (k.replace("blocks.", "blocks.0.", 1) if k.startswith("blocks.") else k): v
                for k, v in state.items()
            }
        }
    path = tmp_path / "dinov2_vitt14_reg4_pretrain.pth"
    torch.save(state, path)
    return path, _perturbed(source.state_dict(), seed=3)


@pytest.mark.parametrize("chunked", [False, True])
def test_dinov2_loading_maps_every_key(tmp_path, chunked: bool) -> None:
    path, state = _dinov2_file(tmp_path, chunked=chunked)
    model = create_model("eomt_vit_tiny", num_classes=4, img_size=(64, 128))  # patch 16, grid 4×8
    report = load_dinov2_weights(model, path, strict=True)
    assert report.ignored == ("mask_token",) and not report.missing and not report.unexpected
    enc = model.encoder.state_dict()
    for key, value in state.items():
        if key not in ("pos_embed", "patch_embed.proj.weight"):
            torch.testing.assert_close(enc[key], value, rtol=0, atol=0)
    # pos_embed: cls entry copied, the 8×8 grid interpolated to the model's 4×8 grid
    torch.testing.assert_close(enc["pos_embed"][:, :1], state["pos_embed"][:, :1], rtol=0, atol=0)
    expected = F.interpolate(
        state["pos_embed"][:, 1:].reshape(1, 8, 8, 192).permute(0, 3, 1, 2), size=(4, 8), mode="bicubic"
    )
    torch.testing.assert_close(enc["pos_embed"][:, 1:], expected.permute(0, 2, 3, 1).reshape(1, 32, 192))
    # patch kernel 14 → 16: a patch and its bilinear 16×16 resize give the same token
    kernel = enc["patch_embed.proj.weight"]
    assert kernel.shape == (192, 3, 16, 16)
    x = torch.randn(5, 3, 14, 14, dtype=torch.float64)
    x16 = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False)
    tokens14 = torch.einsum("bchw,dchw->bd", x, state["patch_embed.proj.weight"].double())
    tokens16 = torch.einsum("bchw,dchw->bd", x16, kernel.double())
    torch.testing.assert_close(tokens16, tokens14, rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 128))
    assert torch.isfinite(out["logits"]).all()


def test_dinov2_same_layout_reproduces_the_encoder(tmp_path) -> None:
    torch.manual_seed(0)
    source = ViTEncoder(img_size=(64, 128), patch_size=16, embed_dim=192, depth=4, num_heads=3, num_register_tokens=4)
    state = _perturbed(source.state_dict(), seed=4)
    source.load_state_dict(state)
    torch.save(state, tmp_path / "vit.pth")
    model = create_model("eomt_vit_tiny", num_classes=4, img_size=(64, 128), backbone_weights=tmp_path / "vit.pth")
    x = torch.randn(2, 3, 64, 128)
    with torch.no_grad():
        torch.testing.assert_close(model.encoder(x), source(x))


def test_dinov2_mismatch_errors(tmp_path) -> None:
    path, _ = _dinov2_file(tmp_path)
    wide = create_model("eomt_vit_small", num_classes=4, img_size=64)
    with pytest.raises(InputFileError, match="has shape"):
        load_dinov2_weights(wide, path)
    no_registers = create_model("eomt_vit_tiny", num_classes=4, num_register_tokens=0)
    with pytest.warns(UserWarning, match=r"unexpected \(register_tokens\)"):
        load_dinov2_weights(no_registers, path)
    with pytest.raises(UsageError, match="ViTEncoder"):
        load_dinov2_weights(ERFNet(), path)
    torch.save({"pos_embed": torch.zeros(1, 1 + 10, 192)}, tmp_path / "odd.pth")
    with pytest.raises(InputFileError, match="not a square grid"):
        load_dinov2_weights(no_registers, tmp_path / "odd.pth")


def test_resample_and_interpolate_identity() -> None:
    kernel = torch.randn(4, 3, 16, 16)
    torch.testing.assert_close(resample_patch_kernel(kernel, (16, 16)), kernel, rtol=1e-5, atol=1e-5)
    pos = torch.randn(1, 12, 8)
    assert interpolate_pos_embed(pos, (3, 4), (3, 4)) is pos
    assert interpolate_pos_embed(pos, (3, 4), (6, 2)).shape == (1, 12, 8)
