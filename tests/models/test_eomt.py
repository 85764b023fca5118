"""EoMT against the official layout and semantics (tue-mps/eomt ``models/eomt.py``, ``models/vit.py``,
``models/scale_block.py``, ``training/lightning_module.py``; timm ``vit_*_patch14_reg4_dinov2``).

The checkpoint layout is written from the public sources: the released ``pytorch_model.bin`` is the
Lightning module's state dict (``network.*`` + ``criterion.empty_weight``), as listed by transformers'
``convert_eomt_to_hf.py``. No real weights: files are fabricated with those names and shapes.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from oodforge.models import EoMT, create_model, load_model_weights  # noqa: E402
from oodforge.models._eomt_network import num_upscale_blocks  # noqa: E402


def official_layout(
    dim: int, depth: int, grid: tuple[int, int], num_q: int, num_classes: int, num_blocks: int, patch: int = 16
) -> dict[str, tuple[int, ...]]:
    """Key → shape of an official EoMT checkpoint (DINOv2 reg4 backbone, timm naming)."""
    b = "network.encoder.backbone."
    keys: dict[str, tuple[int, ...]] = {
        "network.attn_mask_probs": (num_blocks,),
        "network.encoder.pixel_mean": (1, 3, 1, 1),
        "network.encoder.pixel_std": (1, 3, 1, 1),
        b + "cls_token": (1, 1, dim),
        b + "reg_token": (1, 4, dim),
        b + "pos_embed": (1, grid[0] * grid[1], dim),  # no_embed_class: no class entry
        b + "patch_embed.proj.weight": (dim, 3, patch, patch),
        b + "patch_embed.proj.bias": (dim,),
    }
    for i in range(depth):
        for name, shape in [
            ("norm1.weight", (dim,)), ("norm1.bias", (dim,)),
            ("attn.qkv.weight", (3 * dim, dim)), ("attn.qkv.bias", (3 * dim,)),
            ("attn.proj.weight", (dim, dim)), ("attn.proj.bias", (dim,)), ("ls1.gamma", (dim,)),
            ("norm2.weight", (dim,)), ("norm2.bias", (dim,)),
            ("mlp.fc1.weight", (4 * dim, dim)), ("mlp.fc1.bias", (4 * dim,)),
            ("mlp.fc2.weight", (dim, 4 * dim)), ("mlp.fc2.bias", (dim,)), ("ls2.gamma", (dim,)),
        ]:  # fmt: skip
            keys[f"{b}blocks.{i}.{name}"] = shape
    keys |= {b + "norm.weight": (dim,), b + "norm.bias": (dim,), "network.q.weight": (num_q, dim)}
    keys |= {"network.class_head.weight": (num_classes + 1, dim), "network.class_head.bias": (num_classes + 1,)}
    for j in (0, 2, 4):
        keys |= {f"network.mask_head.{j}.weight": (dim, dim), f"network.mask_head.{j}.bias": (dim,)}
    for j in range(max(1, int(math.log2(patch)) - 2)):
        u = f"network.upscale.{j}."
        keys |= {u + "conv1.weight": (dim, dim, 2, 2), u + "conv1.bias": (dim,), u + "conv2.weight": (dim, 1, 3, 3)}
        keys |= {u + "norm.weight": (dim,), u + "norm.bias": (dim,)}
    return keys | {"criterion.empty_weight": (num_classes + 1,)}


def official_file(layout: dict[str, tuple[int, ...]], seed: int, probs: float = 0.0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(s, generator=gen) / math.sqrt(s[-1] if len(s) > 1 else 4) for k, s in layout.items()}
    state["network.attn_mask_probs"] = torch.full_like(state["network.attn_mask_probs"], probs)
    state["network.encoder.pixel_mean"] = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    state["network.encoder.pixel_std"] = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    state["criterion.empty_weight"] = torch.ones(layout["criterion.empty_weight"])
    return state


@pytest.mark.parametrize(
    ("name", "dim", "depth", "grid", "num_q", "num_classes", "num_blocks"),
    [
        ("eomt_vit_large", 1024, 24, (64, 64), 100, 19, 4),  # cityscapes_semantic_eomt_large_1024
        ("eomt_vit_base", 768, 12, (40, 40), 200, 133, 3),  # coco_panoptic_eomt_base_640(_2x)
        ("eomt_vit_small", 384, 12, (40, 40), 200, 133, 3),  # coco_panoptic_eomt_small_640_2x
    ],
)
def test_registered_variants_have_the_official_layout(
    name: str, dim: int, depth: int, grid: tuple[int, int], num_q: int, num_classes: int, num_blocks: int
) -> None:
    with torch.device("meta"):
        model = create_model(name, num_classes=num_classes)
    expected = official_layout(dim, depth, grid, num_q, num_classes, num_blocks)
    expected.pop("criterion.empty_weight")  # the loss's weights: ignored as auxiliary
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected
    assert model.INPUT_NORMALIZATION == "imagenet" and model.input_multiple == 16
    assert model.auxiliary_weights == ("criterion.",)


@pytest.mark.parametrize("wrapped", [False, True])
def test_official_checkpoint_loads_strictly(tmp_path, wrapped: bool) -> None:
    state = official_file(official_layout(192, 4, (2, 3), 16, 3, 2), seed=0)
    torch.save({"state_dict": state, "epoch": 106} if wrapped else state, tmp_path / "pytorch_model.bin")
    model = create_model(
        "eomt_vit_tiny", num_classes=3, img_size=(32, 48), pretrained_path=tmp_path / "pytorch_model.bin"
    )
    ours = model.state_dict()
    for key, value in state.items():
        if key != "criterion.empty_weight":
            torch.testing.assert_close(ours[key], value, rtol=0, atol=0)
    report = load_model_weights(model, tmp_path / "pytorch_model.bin")
    assert not report.missing and not report.unexpected and report.ignored == ("criterion.empty_weight",)
    with torch.no_grad():
        out = model.eval()(torch.randn(1, 3, 32, 48))
    assert out["logits"].shape == (1, 3, 32, 48) and torch.isfinite(out["logits"]).all()


def reference(sd: dict, x: torch.Tensor, heads: int, num_q: int, num_blocks: int) -> tuple[list, torch.Tensor]:
    """The official forward (eval) and semantic inference, written out from an official state dict."""
    b, n = "network.encoder.backbone.", x.shape[0]
    dim = sd[b + "cls_token"].shape[-1]
    depth = len({k.split(".")[4] for k in sd if k.startswith(b + "blocks.")})
    patches = F.conv2d(x, sd[b + "patch_embed.proj.weight"], sd[b + "patch_embed.proj.bias"], stride=16)
    grid = tuple(patches.shape[-2:])
    t = patches.flatten(2).transpose(1, 2) + sd[b + "pos_embed"]
    t = torch.cat([sd[b + "cls_token"].expand(n, -1, -1), sd[b + "reg_token"].expand(n, -1, -1), t], 1)

    def ln(v: torch.Tensor, key: str) -> torch.Tensor:
        return F.layer_norm(v, (dim,), sd[key + ".weight"], sd[key + ".bias"], eps=1e-6)

    def lin(v: torch.Tensor, key: str) -> torch.Tensor:
        return F.linear(v, sd[key + ".weight"], sd[key + ".bias"])

    def predict(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = ln(v, b + "norm")
        q, pm = v[:, :num_q], v[:, num_q + 5 :].transpose(1, 2).reshape(n, dim, *grid)
        for j in range(2):
            u = f"network.upscale.{j}."
            pm = F.conv_transpose2d(pm, sd[u + "conv1.weight"], sd[u + "conv1.bias"], stride=2)
            pm = F.conv2d(F.gelu(pm), sd[u + "conv2.weight"], padding=1, groups=dim).permute(0, 2, 3, 1)
            pm = ln(pm, u + "norm").permute(0, 3, 1, 2)
        m = lin(F.gelu(lin(F.gelu(lin(q, "network.mask_head.0")), "network.mask_head.2")), "network.mask_head.4")
        return lin(q, "network.class_head"), torch.einsum("bqc,bchw->bqhw", m, pm)

    preds = []
    for i in range(depth):
        mask = None
        if i == depth - num_blocks:
            t = torch.cat([sd["network.q.weight"].expand(n, -1, -1), t], 1)
        if i >= depth - num_blocks:
            preds.append(predict(t))
            if sd["network.attn_mask_probs"][i - depth + num_blocks] == 1:
                mask = torch.ones(n, t.shape[1], t.shape[1], dtype=torch.bool)
                mask[:, :num_q, num_q + 5 :] = F.interpolate(preds[-1][1], grid, mode="bilinear").flatten(2) > 0
        k, hd = f"{b}blocks.{i}.", dim // heads
        qkv = lin(ln(t, k + "norm1"), k + "attn.qkv").reshape(n, -1, 3, heads, hd).permute(2, 0, 3, 1, 4)
        att = (qkv[0] @ qkv[1].transpose(-1, -2)) * hd**-0.5
        if mask is not None:
            att = att.masked_fill(~mask[:, None], float("-inf"))
        att = (att.softmax(-1) @ qkv[2]).transpose(1, 2).reshape(n, -1, dim)
        t = t + sd[k + "ls1.gamma"] * lin(att, k + "attn.proj")
        t = t + sd[k + "ls2.gamma"] * lin(F.gelu(lin(ln(t, k + "norm2"), k + "mlp.fc1")), k + "mlp.fc2")
    preds.append(predict(t))
    cls, masks = preds[-1]
    up = F.interpolate(masks, x.shape[-2:], mode="bilinear")  # to_per_pixel_logits_semantic on the crop
    return preds, torch.einsum("bqhw,bqc->bchw", up.sigmoid(), cls.softmax(-1)[..., :-1])


@pytest.mark.parametrize("probs", [0.0, 1.0])
def test_forward_matches_the_official_computation(tmp_path, probs: float) -> None:
    """Token order, no_embed_class, query blocks, masked attention, heads, upscale, semantic inference."""
    state = official_file(official_layout(32, 3, (2, 3), 20, 4, 2), seed=1, probs=probs)
    torch.save(state, tmp_path / "w.bin")
    model = EoMT(
        4, img_size=(32, 48), embed_dim=32, depth=3, num_heads=2, num_queries=20, num_blocks=2, aux_outputs=True
    )
    load_model_weights(model, tmp_path / "w.bin")
    x = torch.randn(2, 3, 32, 48, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = model.eval()(x)
        preds, logits = reference(state, x, heads=2, num_q=20, num_blocks=2)
    torch.testing.assert_close(out["class_logits"], preds[-1][0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out["mask_logits"], preds[-1][1], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out["logits"], logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out["aux_class_logits"], torch.stack([c for c, _ in preds[:-1]]), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out["aux_mask_logits"], torch.stack([m for _, m in preds[:-1]]), rtol=1e-4, atol=1e-4)
    if probs == 1.0:  # the masks change the result
        model.network.attn_mask_probs.zero_()
        with torch.no_grad():
            assert not torch.allclose(model(x)["class_logits"], out["class_logits"], atol=1e-3)


def test_partial_mask_probability_keeps_masks_per_query() -> None:
    model = EoMT(3, img_size=(32, 32), embed_dim=32, depth=2, num_heads=2, num_queries=6, num_blocks=1).eval()
    normed = torch.randn(2, 6 + 5 + 4, 32)
    with torch.no_grad():
        full = model.network._attn_mask(normed, (2, 2), 1.0)
        nearly_off = model.network._attn_mask(normed, (2, 2), 1e-9)
    assert full.shape == (2, 1, 15, 15) and full[:, :, 6:].all() and full[:, :, :, :11].all()
    assert nearly_off.all()


def test_upscale_blocks_follow_the_patch_size() -> None:
    assert [num_upscale_blocks(p) for p in (8, 14, 16, 32)] == [1, 1, 2, 3]
    model = EoMT(3, img_size=(28, 42), patch_size=14, embed_dim=32, depth=2, num_heads=2, num_queries=4, num_blocks=1)
    assert len(model.network.upscale) == 1
    with torch.no_grad():
        out = model.eval()(torch.randn(1, 3, 28, 42))
    assert out["mask_logits"].shape == (1, 4, 4, 6) and out["logits"].shape == (1, 3, 28, 42)


def test_other_input_sizes_interpolate_the_position_grid() -> None:
    model = create_model("eomt_vit_tiny", num_classes=3, img_size=(32, 48)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 32))
    assert out["mask_logits"].shape == (1, 16, 16, 8) and torch.isfinite(out["logits"]).all()
