"""A plain ViT encoder laid out as DINOv2 (Oquab et al., 2023; registers: Darcet et al., ICLR 2024).

Tokens are ``[cls, registers…, patches…]``; the learned position embedding covers ``cls`` and the patch
grid and is interpolated bicubically when the input grid differs. Blocks are pre-norm with LayerScale:
``x + ls1(attn(norm1(x)))``, ``x + ls2(mlp(norm2(x)))``. Module names equal DINOv2's (``patch_embed.proj``,
``cls_token``, ``register_tokens``, ``pos_embed``, ``blocks.N.{norm1,attn.qkv,attn.proj,ls1.gamma,norm2,
mlp.fc1,mlp.fc2,ls2.gamma}``, ``norm``), so :func:`load_dinov2_weights` needs no renaming beyond
resampling ``pos_embed`` and, for another patch size, the patch kernel.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from oodforge.errors import InputFileError, UsageError
from oodforge.models._weights import LoadReport, apply_state_dict, read_state_dict

__all__ = ["ViTEncoder", "interpolate_pos_embed", "load_dinov2_weights", "resample_patch_kernel"]


class _Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _LayerScale(nn.Module):
    def __init__(self, dim: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm transformer block with LayerScale: (B, N, D) → (B, N, D)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, layer_scale_init: float = 1e-5) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, num_heads)
        self.ls1 = _LayerScale(dim, layer_scale_init)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = _LayerScale(dim, layer_scale_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class _PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


def interpolate_pos_embed(grid_pos: torch.Tensor, src: tuple[int, int], dst: tuple[int, int]) -> torch.Tensor:
    """Resample patch position embeddings (1, h·w, D) on grid ``src`` = (h, w) to ``dst`` (bicubic)."""
    if tuple(src) == tuple(dst):
        return grid_pos
    d = grid_pos.shape[-1]
    grid = grid_pos.reshape(1, src[0], src[1], d).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=dst, mode="bicubic", align_corners=False).to(grid_pos.dtype)
    return grid.permute(0, 2, 3, 1).reshape(1, dst[0] * dst[1], d)


def resample_patch_kernel(weight: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resample a patch-embedding kernel (D, C, h, w) to (D, C, *size) by pseudo-inverse resizing (FlexiViT).

    The new kernel ``w'`` solves ``⟨resize(x), w'⟩ = ⟨x, w⟩`` for every h×w patch ``x`` in the least-norm
    sense (exactly when enlarging), where ``resize`` is bilinear, so tokens of a resized image match.
    """
    d, c, h, w = weight.shape
    basis = torch.eye(h * w, dtype=torch.float64).reshape(h * w, 1, h, w)
    resize = F.interpolate(basis, size=size, mode="bilinear", align_corners=False).reshape(h * w, -1)
    new = torch.linalg.pinv(resize) @ weight.reshape(d * c, h * w).double().T
    return new.T.reshape(d, c, *size).to(weight.dtype)


class ViTEncoder(nn.Module):
    """DINOv2-style ViT: patch embedding, ``cls`` + optional register tokens, pre-norm LayerScale blocks, final norm.

    Args:
        img_size: (H, W) the position embedding is laid out for; other sizes are interpolated.
        patch_size: Patch side p; inputs need H and W divisible by p.
        embed_dim: Token width D.
        depth: Number of blocks.
        num_heads: Attention heads (D must be divisible by it).
        mlp_ratio: MLP hidden width / D.
        num_register_tokens: Register tokens R (4 in DINOv2 "reg" checkpoints).
        layer_scale_init: Initial LayerScale value.
    """

    def __init__(
        self,
        *,
        img_size: tuple[int, int] = (640, 640),
        patch_size: int = 16,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        num_register_tokens: int = 0,
        layer_scale_init: float = 1e-5,
    ) -> None:
        super().__init__()
        if embed_dim % num_heads or min(patch_size, depth, num_heads) < 1 or num_register_tokens < 0:
            raise UsageError(
                f"Expected positive `patch_size`, `depth`, `num_heads` dividing `embed_dim` and `num_register_tokens`"
                f" ≥ 0, but got {patch_size}, {depth}, {num_heads}, {embed_dim}, {num_register_tokens}"
            )
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.grid = (img_size[0] // patch_size, img_size[1] // patch_size)
        self.num_prefix_tokens = 1 + num_register_tokens
        self.patch_embed = _PatchEmbed(patch_size, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.register_tokens = (
            nn.Parameter(torch.zeros(1, num_register_tokens, embed_dim)) if num_register_tokens else None
        )
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid[0] * self.grid[1], embed_dim))
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio, layer_scale_init) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        if self.register_tokens is not None:
            nn.init.normal_(self.register_tokens, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) → tokens (B, 1 + R + N, D), N = (H/p)·(W/p), position embeddings added."""
        patches = self.patch_embed(x)
        grid = (int(patches.shape[-2]), int(patches.shape[-1]))
        patches = patches.flatten(2).transpose(1, 2)
        patches = patches + interpolate_pos_embed(self.pos_embed[:, 1:], self.grid, grid)
        b = x.shape[0]
        parts = [(self.cls_token + self.pos_embed[:, :1]).expand(b, -1, -1)]
        if self.register_tokens is not None:
            parts.append(self.register_tokens.expand(b, -1, -1))
        return torch.cat([*parts, patches], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) → normalised patch features (B, D, H/p, W/p)."""
        t = self.embed(x)
        for blk in self.blocks:
            t = blk(t)
        t = self.norm(t)[:, self.num_prefix_tokens :]
        return t.transpose(1, 2).reshape(x.shape[0], -1, x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size)


def _dinov2_state(encoder: ViTEncoder, state: dict[str, torch.Tensor], path: str | Path) -> dict[str, torch.Tensor]:
    """Rename DINOv2 keys (training ``backbone.`` prefix, chunked ``blocks.c.N``) and resample shapes."""
    if all(k.startswith("backbone.") for k in state):
        state = {k.removeprefix("backbone."): v for k, v in state.items()}
    state = {re.sub(r"^blocks\.\d+\.(\d+)\.", r"blocks.\1.", k): v for k, v in state.items()}
    pos = state.get("pos_embed")
    if pos is not None and pos.ndim == 3 and pos.shape[1] != encoder.pos_embed.shape[1]:
        n = pos.shape[1] - 1
        side = math.isqrt(n)
        if side * side != n:
            raise InputFileError(f"DINOv2 weights file {path}: `pos_embed` has {n} patch positions, not a square grid")
        grid = interpolate_pos_embed(pos[:, 1:], (side, side), encoder.grid)
        state["pos_embed"] = torch.cat([pos[:, :1], grid], dim=1)
    kernel = state.get("patch_embed.proj.weight")
    want = encoder.patch_embed.proj.weight.shape
    if kernel is not None and kernel.ndim == 4 and kernel.shape[:2] == want[:2] and kernel.shape[2:] != want[2:]:
        state["patch_embed.proj.weight"] = resample_patch_kernel(kernel, (want[2], want[3]))
    return state


def load_dinov2_weights(model: nn.Module, path: str | Path, *, strict: bool = False) -> LoadReport:
    """Load a DINOv2 checkpoint (``dinov2_vit*14[_reg4]_pretrain.pth`` format) from a local file into a ViT.

    Keys map one to one onto :class:`ViTEncoder`; ``pos_embed`` is interpolated to the model's grid, a
    patch kernel of another size (DINOv2's 14 for a 16-pixel model) is resampled with
    :func:`resample_patch_kernel`, and ``mask_token`` is ignored. Missing / unexpected keys are reported
    (a :class:`UserWarning`, or an error with ``strict``); a width or register-count mismatch is an error.

    Args:
        model: A :class:`ViTEncoder` or a model with an ``encoder`` attribute that is one (EoMT).
        path: Local checkpoint file, read with ``torch.load(..., weights_only=True)``.
        strict: Raise on any missing or unexpected key.

    Returns:
        The :class:`~oodforge.models.LoadReport` (keys in the encoder's naming).

    Raises:
        UsageError: ``model`` holds no ViT encoder.
        InputFileError: Missing or unreadable file, or mismatching shapes.
    """
    encoder = model if isinstance(model, ViTEncoder) else getattr(model, "encoder", None)
    if not isinstance(encoder, ViTEncoder):
        raise UsageError(
            f"Expected a ViTEncoder or a model with a ViTEncoder `encoder`, but got {type(model).__name__}"
        )
    state = _dinov2_state(encoder, read_state_dict(path, "DINOv2 weights"), path)
    return apply_state_dict(
        encoder, state, path=path, ignore=lambda k: k == "mask_token", strict=strict, what="DINOv2 weights"
    )
