"""Layers of the plain ViT shared by DINOv2 and timm: pre-norm LayerScale blocks, patch embedding, resampling.

Module and parameter names follow both public implementations (they agree): ``patch_embed.proj``,
``blocks.N.{norm1, attn.qkv, attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2, ls2.gamma}``; layer norms
use ε = 1e-6 and the MLP an exact GELU. The two resampling helpers carry the public conventions as facts:
DINOv2 interpolates position embeddings bicubically with a scale factor of ``(new + 0.1) / old`` and no
antialiasing (``interpolate_offset=0.1``), timm by target size with antialiasing; timm resizes a patch
kernel by the pseudo-inverse of a bicubic, antialiased resize (FlexiViT).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Block", "PatchEmbed", "interpolate_pos_embed", "resample_patch_kernel"]


class _Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
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
    """Pre-norm transformer block with LayerScale: ``x + ls1(attn(norm1(x)))``, then ``x + ls2(mlp(norm2(x)))``.

    ``forward(x, attn_mask)``: x (B, N, D); ``attn_mask`` None or boolean (B, 1, N, N), True = may attend.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, layer_scale_init: float = 1e-5) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, num_heads)
        self.ls1 = _LayerScale(dim, layer_scale_init)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = _LayerScale(dim, layer_scale_init)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x), attn_mask))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    """(B, 3, H, W) → (B, D, H/p, W/p) by a p×p convolution of stride p (``proj``)."""

    def __init__(self, patch_size: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


def interpolate_pos_embed(
    grid_pos: torch.Tensor,
    src: tuple[int, int],
    dst: tuple[int, int],
    *,
    antialias: bool = False,
    offset: float = 0.0,
) -> torch.Tensor:
    """Resample patch position embeddings (1, h·w, D) laid out on grid ``src`` = (h, w) to grid ``dst`` (bicubic).

    Args:
        grid_pos: Row-major grid embeddings (no class entry).
        src: Their grid (rows, columns).
        dst: The wanted grid.
        antialias: Antialias when shrinking (timm's convention).
        offset: With ``offset`` > 0 the scale factor ``(dst + offset) / src`` is passed to the interpolation
            instead of the size (DINOv2's convention, ``offset`` = 0.1); the output still has ``dst`` cells.

    Returns:
        (1, dst_h·dst_w, D), ``grid_pos`` itself when ``src == dst``; computed in float32, input dtype kept.
    """
    if tuple(src) == tuple(dst):
        return grid_pos
    d = grid_pos.shape[-1]
    grid = grid_pos.reshape(1, src[0], src[1], d).permute(0, 3, 1, 2).float()
    if offset:
        scale = ((dst[0] + offset) / src[0], (dst[1] + offset) / src[1])
        grid = F.interpolate(grid, scale_factor=scale, mode="bicubic", antialias=antialias)
    else:
        grid = F.interpolate(grid, size=dst, mode="bicubic", antialias=antialias, align_corners=False)
    if tuple(grid.shape[-2:]) != tuple(dst):  # pragma: no cover - only for offsets ≥ 1
        raise ValueError(f"position grid {src} resampled to {tuple(grid.shape[-2:])}, expected {dst}")
    return grid.permute(0, 2, 3, 1).reshape(1, dst[0] * dst[1], d).to(grid_pos.dtype)


def resample_patch_kernel(weight: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resample a patch-embedding kernel (D, C, h, w) to (D, C, *size) by pseudo-inverse resizing (FlexiViT).

    The new kernel ``w'`` solves ``⟨resize(x), w'⟩ = ⟨x, w⟩`` for every h×w patch ``x`` in the least-norm
    sense (exactly when enlarging), ``resize`` being bicubic with antialiasing as in timm, so the tokens
    of an image resized by ``resize`` match those of the original. Computed in float64, dtype kept.
    """
    d, c, h, w = weight.shape
    if (h, w) == tuple(size):
        return weight
    basis = torch.eye(h * w, dtype=torch.float64).reshape(h * w, 1, h, w)
    resize = F.interpolate(basis, size=size, mode="bicubic", antialias=True, align_corners=False)
    resize = resize.reshape(h * w, -1)  # row i: the resized i-th basis patch
    new = torch.linalg.pinv(resize) @ weight.reshape(d * c, h * w).double().T
    return new.T.reshape(d, c, *size).to(weight.dtype)
