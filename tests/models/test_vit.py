"""DINOv2 ViT layouts: the released hub files' keys and shapes, timm's variant, loading, interpolation, blocks.

The expected layouts are written from the public architecture (facebookresearch/dinov2
``dinov2/models/vision_transformer.py`` + ``dinov2/layers``, hub files built with ``block_chunks=0`` at
518 px, patch 14; timm ``vit_*_patch14_reg4_dinov2`` with ``no_embed_class=True``); no real weights.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from oodforge.errors import InputFileError, UsageError  # noqa: E402
from oodforge.models import ERFNet, ViTEncoder, create_model, load_dinov2_weights  # noqa: E402
from oodforge.models.vit import Block, interpolate_pos_embed, resample_patch_kernel  # noqa: E402

#: (D, depth, heads) of dinov2_vits14 / vitb14 / vitl14
ARCHS = {"s": (384, 12, 6), "b": (768, 12, 12), "l": (1024, 24, 16)}


def hub_layout(dim: int, depth: int, registers: int = 0, grid: int = 37) -> dict[str, tuple[int, ...]]:
    """Key → shape of ``dinov2_vit*14[_reg4]_pretrain.pth`` (518 px: 37×37 patches)."""
    keys: dict[str, tuple[int, ...]] = {"cls_token": (1, 1, dim), "pos_embed": (1, 1 + grid * grid, dim)}
    if registers:
        keys["register_tokens"] = (1, registers, dim)
    keys |= {"mask_token": (1, dim), "patch_embed.proj.weight": (dim, 3, 14, 14), "patch_embed.proj.bias": (dim,)}
    for i in range(depth):
        for name, shape in [
            ("norm1.weight", (dim,)), ("norm1.bias", (dim,)),
            ("attn.qkv.weight", (3 * dim, dim)), ("attn.qkv.bias", (3 * dim,)),
            ("attn.proj.weight", (dim, dim)), ("attn.proj.bias", (dim,)),
            ("ls1.gamma", (dim,)),
            ("norm2.weight", (dim,)), ("norm2.bias", (dim,)),
            ("mlp.fc1.weight", (4 * dim, dim)), ("mlp.fc1.bias", (4 * dim,)),
            ("mlp.fc2.weight", (dim, 4 * dim)), ("mlp.fc2.bias", (dim,)),
            ("ls2.gamma", (dim,)),
        ]:  # fmt: skip
            keys[f"blocks.{i}.{name}"] = shape
    return keys | {"norm.weight": (dim,), "norm.bias": (dim,)}


def random_state(layout: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=gen) * 0.5 for k, shape in layout.items()}


def shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def dinov2_encoder(arch: str, registers: int, **kwargs: object) -> ViTEncoder:
    dim, depth, heads = ARCHS[arch]
    return ViTEncoder(embed_dim=dim, depth=depth, num_heads=heads, num_register_tokens=registers, **kwargs)


@pytest.fixture(scope="module")
def vits14_reg4(tmp_path_factory: pytest.TempPathFactory):
    """A fabricated ``dinov2_vits14_reg4_pretrain.pth`` with the full ViT-S layout."""
    state = random_state(hub_layout(384, 12, registers=4), seed=0)
    path = tmp_path_factory.mktemp("dinov2") / "dinov2_vits14_reg4_pretrain.pth"
    torch.save(state, path)
    return path, state


@pytest.mark.parametrize("registers", [0, 4])
def test_vits14_hub_layout_is_exact(registers: int) -> None:
    expected = hub_layout(384, 12, registers)
    assert len(expected) == 175 + (registers > 0)  # 5 + 12 × 14 + 2 (+ register_tokens)
    with torch.device("meta"):
        enc = dinov2_encoder("s", registers)
    assert shapes(enc) == expected
    assert sum(math.prod(s) for s in expected.values()) == 22_056_576 + 1536 * (registers > 0)


@pytest.mark.parametrize("arch", ["b", "l"])
def test_vitb_vitl_hub_layouts(arch: str) -> None:
    dim, depth, _ = ARCHS[arch]
    with torch.device("meta"):
        enc = dinov2_encoder(arch, 4)
    assert shapes(enc) == hub_layout(dim, depth, 4)  # flat blocks.0 … blocks.{depth-1} (block_chunks=0)
    params = sum(math.prod(s) for s in hub_layout(dim, depth).values())
    assert params == {"b": 86_580_480, "l": 304_368_640}[arch]


def test_vits14_file_loads_strictly_and_runs(vits14_reg4) -> None:
    path, state = vits14_reg4
    enc = dinov2_encoder("s", 4)
    report = load_dinov2_weights(enc, path, strict=True)
    assert not report.missing and not report.unexpected and not report.ignored and len(report.loaded) == 176
    for key, value in enc.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    torch.testing.assert_close(enc.grid_pos_embed((37, 37)), state["pos_embed"][:, 1:], rtol=0, atol=0)
    enc.eval()
    with torch.no_grad():
        out = enc(torch.randn(1, 3, 28, 42))
    assert out.shape == (1, 384, 2, 3) and torch.isfinite(out).all()


def test_vits14_file_into_eomt_backbone_as_timm_does(vits14_reg4) -> None:
    path, state = vits14_reg4
    model = create_model("eomt_vit_small", num_classes=3, img_size=64, num_queries=4, num_blocks=1)
    report = load_dinov2_weights(model, path, strict=True)
    assert report.ignored == ("mask_token",) and not report.missing and not report.unexpected
    enc = model.backbone.state_dict()
    assert "reg_token" in enc and "register_tokens" not in enc and enc["pos_embed"].shape == (1, 16, 384)
    torch.testing.assert_close(enc["reg_token"], state["register_tokens"], rtol=0, atol=0)
    torch.testing.assert_close(enc["cls_token"], state["cls_token"] + state["pos_embed"][:, :1], rtol=0, atol=0)
    grid = state["pos_embed"][:, 1:].reshape(1, 37, 37, 384).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, size=(4, 4), mode="bicubic", antialias=True).permute(0, 2, 3, 1)
    torch.testing.assert_close(enc["pos_embed"], expected.reshape(1, 16, 384))
    assert enc["patch_embed.proj.weight"].shape == (384, 3, 16, 16)
    torch.testing.assert_close(enc["blocks.11.mlp.fc2.weight"], state["blocks.11.mlp.fc2.weight"], rtol=0, atol=0)
    with torch.no_grad():
        assert torch.isfinite(model.eval()(torch.randn(1, 3, 32, 32))["logits"]).all()


def _tiny(layout: str, registers: int = 4, **kwargs: object) -> ViTEncoder:
    return ViTEncoder(
        img_size=(56, 56), patch_size=14, embed_dim=32, depth=2, num_heads=2, num_register_tokens=registers,
        layout=layout, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize("registers", [0, 4])
def test_layout_conversion_is_exact(tmp_path, registers: int) -> None:
    """dinov2 ↔ timm (cls folding, register names) keeps the features at the native size."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 56, 56)
    for src_layout, dst_layout in [("dinov2", "timm"), ("timm", "dinov2")]:
        src = _tiny(src_layout, registers)
        src.load_state_dict(random_state(shapes(src), seed=1))
        torch.save(src.state_dict(), tmp_path / "w.pth")
        dst = _tiny(dst_layout, registers)
        report = load_dinov2_weights(dst, tmp_path / "w.pth", strict=True)
        assert not report.missing and not report.unexpected
        with torch.no_grad():
            torch.testing.assert_close(dst(x), src(x), rtol=1e-5, atol=1e-5)
    timm = shapes(_tiny("timm", registers))
    assert "register_tokens" not in timm and "mask_token" not in timm and ("reg_token" in timm) == (registers > 0)
    assert timm["pos_embed"] == (1, 16 + (registers == 0), 32)  # no class entry with registers (no_embed_class)


def test_training_checkpoint_layout(tmp_path) -> None:
    """DINOv2 training checkpoints: ``teacher`` entry, ``backbone.`` prefix, chunked ``blocks.<chunk>.<index>``."""
    enc = _tiny("dinov2")
    state = random_state(shapes(enc), seed=2)
    chunked = {"backbone." + (k.replace("blocks.", "blocks.0.", 1) if k.startswith("blocks.") else k): v
               for k, v in state.items()}  # fmt: skip
    torch.save({"teacher": chunked, "iteration": 5}, tmp_path / "ckpt.pth")
    report = load_dinov2_weights(enc, tmp_path / "ckpt.pth", strict=True)
    assert len(report.loaded) == len(state)
    torch.testing.assert_close(enc.state_dict()["blocks.1.attn.qkv.weight"], state["blocks.1.attn.qkv.weight"])


def test_dinov2_pos_interpolation_convention() -> None:
    torch.manual_seed(0)
    grid = torch.randn(1, 37 * 37, 8)
    assert interpolate_pos_embed(grid, (37, 37), (37, 37), offset=0.1) is grid
    # DINOv2 passes the scale factor (n + 0.1) / 37 (interpolate_offset), no antialiasing
    ref = F.interpolate(
        grid.reshape(1, 37, 37, 8).permute(0, 3, 1, 2), scale_factor=(2.1 / 37, 3.1 / 37), mode="bicubic"
    )
    got = interpolate_pos_embed(grid, (37, 37), (2, 3), offset=0.1)
    torch.testing.assert_close(got, ref.permute(0, 2, 3, 1).reshape(1, 6, 8))
    assert not torch.allclose(got, interpolate_pos_embed(grid, (37, 37), (2, 3)))  # the offset matters
    const = torch.full((1, 16, 8), 0.25)
    for kwargs in ({"offset": 0.1}, {"antialias": True}, {}):
        torch.testing.assert_close(interpolate_pos_embed(const, (4, 4), (7, 3), **kwargs), torch.full((1, 21, 8), 0.25))


def test_dinov2_embed_matches_a_reference() -> None:
    """Tokens: [cls + pos₀, registers, patches + interpolated grid], as DINOv2's prepare_tokens_with_masks."""
    enc = _tiny("dinov2")
    enc.load_state_dict(random_state(shapes(enc), seed=3))
    x = torch.randn(1, 3, 28, 70)
    with torch.no_grad():
        tokens = enc.embed(x)
        pos = enc.pos_embed
        grid = pos[:, 1:].reshape(1, 4, 4, 32).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, scale_factor=(2.1 / 4, 5.1 / 4), mode="bicubic").flatten(2).transpose(1, 2)
        patches = F.conv2d(x, enc.patch_embed.proj.weight, enc.patch_embed.proj.bias, stride=14)
        ref = torch.cat([enc.cls_token + pos[:, :1], enc.register_tokens, patches.flatten(2).transpose(1, 2) + grid], 1)
    torch.testing.assert_close(tokens, ref)


def test_block_matches_a_reference() -> None:
    torch.manual_seed(0)
    block = Block(16, 2, layer_scale_init=0.0)
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        torch.testing.assert_close(block(x), x)  # LayerScale 0: identity
        for p in block.parameters():
            p.copy_(torch.randn_like(p))
        y = F.layer_norm(x, (16,), block.norm1.weight, block.norm1.bias, eps=1e-6)
        q, k, v = (y @ block.attn.qkv.weight.T + block.attn.qkv.bias).reshape(2, 5, 3, 2, 8).permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-1, -2)) / math.sqrt(8)).softmax(-1) @ v
        h = x + block.ls1.gamma * (
            attn.transpose(1, 2).reshape(2, 5, 16) @ block.attn.proj.weight.T + block.attn.proj.bias
        )
        z = F.layer_norm(h, (16,), block.norm2.weight, block.norm2.bias, eps=1e-6)
        mlp = F.linear(
            F.gelu(F.linear(z, block.mlp.fc1.weight, block.mlp.fc1.bias)), block.mlp.fc2.weight, block.mlp.fc2.bias
        )
        torch.testing.assert_close(block(x), h + block.ls2.gamma * mlp, rtol=1e-5, atol=1e-5)


def test_patch_kernel_resampling() -> None:
    kernel = torch.randn(4, 3, 14, 14)
    assert resample_patch_kernel(kernel, (14, 14)) is kernel
    new = resample_patch_kernel(kernel, (16, 16))
    # timm's FlexiViT resize: a patch and its bicubic (antialiased) 16×16 resize give the same token
    x = torch.randn(5, 3, 14, 14, dtype=torch.float64)
    x16 = F.interpolate(x, size=(16, 16), mode="bicubic", antialias=True, align_corners=False)
    torch.testing.assert_close(
        torch.einsum("bchw,dchw->bd", x16, new.double()), torch.einsum("bchw,dchw->bd", x, kernel.double()),
        rtol=1e-4, atol=1e-4,
    )  # fmt: skip


def test_loading_errors(tmp_path) -> None:
    small = _tiny("dinov2")
    torch.save(small.state_dict(), tmp_path / "w.pth")
    wide = ViTEncoder(img_size=(56, 56), patch_size=14, embed_dim=64, depth=2, num_heads=2)
    with pytest.raises(InputFileError, match="has shape"):
        load_dinov2_weights(wide, tmp_path / "w.pth")
    no_registers = _tiny("timm", registers=0)
    with pytest.warns(UserWarning, match=r"unexpected \(reg_token\)"):
        load_dinov2_weights(no_registers, tmp_path / "w.pth")
    with pytest.raises(UsageError, match="ViTEncoder"):
        load_dinov2_weights(ERFNet(), tmp_path / "w.pth")
    torch.save({"pos_embed": torch.zeros(1, 1 + 10, 32)}, tmp_path / "odd.pth")
    with pytest.raises(InputFileError, match="not a square grid"):
        load_dinov2_weights(small, tmp_path / "odd.pth")
    with pytest.raises(UsageError, match="layout"):
        ViTEncoder(layout="jax")  # type: ignore[arg-type]
