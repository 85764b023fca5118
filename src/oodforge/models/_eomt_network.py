"""The EoMT network with the module layout of the official code (tue-mps/eomt, ``models/eomt.py``).

Facts carried over from the public sources (``models/eomt.py``, ``models/vit.py``,
``models/scale_block.py`` of tue-mps/eomt, timm's ViT): the network holds ``encoder`` (a wrapper with
the timm ViT as ``backbone`` and the ImageNet ``pixel_mean`` / ``pixel_std`` buffers, (1, 3, 1, 1)), the
``attn_mask_probs`` buffer (one probability per query block), the queries ``q`` (an embedding), a
linear ``class_head`` (C + 1 outputs), a 3-layer ``mask_head`` (Linear, GELU, Linear, GELU, Linear,
hence indices 0 / 2 / 4) and ``upscale``: ``max(1, ⌊log2 p⌋ − 2)`` scale blocks (ConvTranspose 2×2/2
``conv1``, GELU, depthwise 3×3 ``conv2`` without bias, channel LayerNorm ``norm``), 2 for p = 16.
Queries are prepended before the last ``num_blocks`` blocks; before each of these blocks the tokens are
normalised with the backbone's final ``norm`` and the heads predict; with probability
``attn_mask_probs[j]`` per query, that prediction masks the query's attention to the patches it does not
cover (bilinear to the patch grid, logit > 0). Training anneals the probabilities to 0, so released
models attend without masks; a nonzero value in a loaded file is honoured.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from oodforge.models.vit import ViTEncoder

__all__ = ["EoMTNetwork", "LayerNorm2d", "ScaleBlock", "num_upscale_blocks", "upsampled_pixel_scores"]

#: the ``pixel_mean`` / ``pixel_std`` of the official wrapper (ImageNet, RGB on the [0, 1] scale)
_PIXEL_MEAN = (0.485, 0.456, 0.406)
_PIXEL_STD = (0.229, 0.224, 0.225)


def num_upscale_blocks(patch_size: int) -> int:
    """Scale blocks (×2 each) of the official EoMT for patch side p: ``max(1, ⌊log2 p⌋ − 2)`` (2 for 16, 1 for 14)."""
    return max(1, int(math.log2(patch_size)) - 2)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) map (timm's ``LayerNorm2d``, ε = 1e-6)."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ScaleBlock(nn.Module):
    """(B, D, h, w) → (B, D, 2h, 2w): ``conv1`` 2×2/2 transposed conv → GELU → depthwise 3×3 ``conv2`` → ``norm``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv1 = nn.ConvTranspose2d(dim, dim, kernel_size=2, stride=2)
        self.act = nn.GELU()
        self.conv2 = nn.Conv2d(dim, dim, kernel_size=3, padding=1, groups=dim, bias=False)
        self.norm = LayerNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv2(self.act(self.conv1(x))))


class _Encoder(nn.Module):
    """The official ``models/vit.py`` wrapper: ``backbone`` and the ImageNet statistics it was trained with.

    The statistics are kept for the state-dict layout only: oodforge feeds already normalised images.
    """

    def __init__(self, backbone: ViTEncoder) -> None:
        super().__init__()
        self.backbone = backbone
        self.register_buffer("pixel_mean", torch.tensor(_PIXEL_MEAN).reshape(1, 3, 1, 1))
        self.register_buffer("pixel_std", torch.tensor(_PIXEL_STD).reshape(1, 3, 1, 1))


class EoMTNetwork(nn.Module):
    """EoMT's modules under their official names, and the query-block pass (see the module docstring).

    Args:
        backbone: The ViT (timm layout, as in the official checkpoints).
        num_classes: Classes C (the class head has C + 1 outputs, the last = no object).
        num_q: Queries Q.
        num_blocks: Last blocks that also process the queries (L).
    """

    attn_mask_probs: torch.Tensor

    def __init__(self, backbone: ViTEncoder, num_classes: int, num_q: int, num_blocks: int) -> None:
        super().__init__()
        dim = backbone.embed_dim
        self.num_q = num_q
        self.num_blocks = num_blocks
        self.encoder = _Encoder(backbone)
        # official training starts at 1 and anneals to 0; oodforge does not anneal, so masks start off
        self.register_buffer("attn_mask_probs", torch.zeros(num_blocks))
        self.q = nn.Embedding(num_q, dim)
        self.class_head = nn.Linear(dim, num_classes + 1)
        self.mask_head = nn.Sequential(
            nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim)
        )  # fmt: skip
        self.upscale = nn.Sequential(*[ScaleBlock(dim) for _ in range(num_upscale_blocks(backbone.patch_size))])

    @property
    def backbone(self) -> ViTEncoder:
        """The ViT (``encoder.backbone``)."""
        return self.encoder.backbone

    def split(self, normed: torch.Tensor, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised tokens (B, Q + 1 + R + N, D) → queries (B, Q, D) and patch map (B, D, h, w)."""
        patches = normed[:, self.num_q + self.backbone.num_prefix_tokens :]
        return normed[:, : self.num_q], patches.transpose(1, 2).reshape(normed.shape[0], -1, *grid)

    def heads(self, queries: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries (B, Q, D), patch map (B, D, h, w) → class logits (B, Q, C+1), mask logits (B, Q, h·2^k, w·2^k)."""
        mask_logits = torch.einsum("bqd,bdhw->bqhw", self.mask_head(queries), self.upscale(patches))
        return self.class_head(queries), mask_logits

    def _attn_mask(self, normed: torch.Tensor, grid: tuple[int, int], prob: float) -> torch.Tensor:
        """Boolean attention mask (B, 1, N, N) from the prediction on ``normed``; True = may attend."""
        _, mask_logits = self.heads(*self.split(normed, grid))
        covered = F.interpolate(mask_logits, size=grid, mode="bilinear", align_corners=False).flatten(2) > 0
        b, n = normed.shape[:2]
        start = self.num_q + self.backbone.num_prefix_tokens
        mask = torch.ones(b, n, n, dtype=torch.bool, device=normed.device)
        mask[:, : self.num_q, start:] = covered
        if prob < 1:  # each query keeps its mask with probability `prob`
            unmasked = torch.rand(b, self.num_q, device=normed.device) > prob
            rows = mask[:, : self.num_q, start:]
            rows[unmasked] = True
        return mask[:, None]

    def forward(self, x: torch.Tensor, *, collect: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Normalised image (B, 3, H, W) → final normalised tokens (B, Q + 1 + R + N, D) and a list.

        With ``collect`` the list holds the normalised tokens entering each query block (the input of the
        official intermediate predictions), else it is empty.
        """
        backbone = self.backbone
        grid = (x.shape[-2] // backbone.patch_size, x.shape[-1] // backbone.patch_size)
        tokens = backbone.embed(x)
        start = len(backbone.blocks) - self.num_blocks
        before: list[torch.Tensor] = []
        probs = [float(p) for p in self.attn_mask_probs.tolist()]  # one device sync, not one per block
        for i, block in enumerate(backbone.blocks):
            mask = None
            if i == start:
                tokens = torch.cat([self.q.weight[None].expand(x.shape[0], -1, -1), tokens], dim=1)
            if i >= start:
                prob = probs[i - start]
                if collect or prob > 0:
                    normed = backbone.norm(tokens)
                    if collect:
                        before.append(normed)
                    if prob > 0:
                        mask = self._attn_mask(normed, grid, prob)
            tokens = block(tokens, mask)
        return backbone.norm(tokens), before


#: queries per chunk when per-pixel scores are computed at full resolution (bounds the memory)
_QUERY_CHUNK = 16


def upsampled_pixel_scores(
    class_logits: torch.Tensor, mask_logits: torch.Tensor, size: tuple[int, int]
) -> torch.Tensor:
    """Official EoMT semantic inference: per-pixel class scores (B, C, *size) (float32 or wider).

    The mask logits are bilinearly resized to ``size`` first, then ``Σ_q softmax(class_q)[:C] · sigmoid(mask_q)``
    is summed over chunks of queries.
    """
    dtype = torch.promote_types(class_logits.dtype, torch.float32)
    probs = class_logits.to(dtype).softmax(-1)[..., :-1]
    out = torch.zeros(0)
    for s in range(0, probs.shape[1], _QUERY_CHUNK):
        masks = F.interpolate(mask_logits[:, s : s + _QUERY_CHUNK], size=size, mode="bilinear", align_corners=False)
        part = torch.einsum("bqhw,bqc->bchw", masks.to(dtype).sigmoid(), probs[:, s : s + _QUERY_CHUNK])
        out = part if s == 0 else out + part
    return out
