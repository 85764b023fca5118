"""EoMT-style encoder-only mask transformer on the DINOv2-style :class:`~oodforge.models.vit.ViTEncoder`.

After Kerssies et al., "Your ViT is Secretly an Image Segmentation Model", CVPR 2025.

Q learnable queries are concatenated to the tokens before the last ``num_blocks`` ViT blocks, so the
encoder itself refines them jointly with the patch tokens. After the final norm, a linear class head maps
each query to C+1 logits (last = no object); a 3-layer MLP maps it to a mask embedding whose dot
product with the patch features, upscaled ×2 per step by transposed-conv blocks (to about H/4), gives Q
mask logits. Per-pixel class scores combine both (:func:`oodforge.scores.mask_class_pixel_scores`) and
feed RbA. Masked attention (annealed away by the end of EoMT training) is not implemented: inference
is the same.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from oodforge.errors import UsageError
from oodforge.models._base import SegmentationModel
from oodforge.models._registry import register_model
from oodforge.models._weights import check_weights_path
from oodforge.models.vit import ViTEncoder, load_dinov2_weights
from oodforge.scores.rba import mask_class_pixel_scores

__all__ = ["EoMT", "eomt_vit_base", "eomt_vit_small", "eomt_vit_tiny", "load_dinov2_weights"]


class _ScaleBlock(nn.Module):
    """(B, D, h, w) → (B, D, 2h, 2w): 2×2/2 transposed conv → GELU → depthwise 3×3 conv → channel LayerNorm."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(dim, dim, 2, stride=2)
        self.act = nn.GELU()
        self.dw = nn.Conv2d(dim, dim, 3, padding=1, groups=dim, bias=False)
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dw(self.act(self.up(x)))
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class EoMT(SegmentationModel):
    """Encoder-only mask transformer: a ViT whose last ``num_blocks`` blocks also process Q queries.

    ``forward(x)`` with x (B, 3, H, W), H and W multiples of ``patch_size``, returns

    - ``"class_logits"`` (B, Q, C+1), last column = no object;
    - ``"mask_logits"`` (B, Q, H', W') with H' = (H/p)·2^k ≈ H/4 (k = ``num_upscale``);
    - ``"pixel_scores"`` (B, C, H', W'), Σ_q softmax(class)_c · sigmoid(mask), values in [0, Q]: the input
      of :func:`oodforge.scores.rba_score`;
    - ``"logits"`` (B, C, H, W): ``pixel_scores`` bilinearly resized to the input (for MSP / MaxLogit / …);
    - ``"features"`` (B, D, H/p, W/p): normalised patch tokens;
    - with ``aux_outputs``: ``"aux_class_logits"`` (L−1, B, Q, C+1) and ``"aux_mask_logits"``
      (L−1, B, Q, H', W'), predictions after each earlier query block (L = ``num_blocks``), for deep supervision.

    Args:
        num_classes: Number of classes C.
        img_size: Input size the position embedding is laid out for (others are interpolated).
        patch_size: Patch side p.
        embed_dim: Token width D.
        depth: ViT blocks.
        num_heads: Attention heads.
        num_register_tokens: Register tokens R.
        num_queries: Queries Q.
        num_blocks: Last blocks that process the queries (1 ≤ L ≤ depth).
        aux_outputs: Also return the predictions of the earlier query blocks.
        layer_scale_init: Initial LayerScale value.

    Example:
        >>> import torch
        >>> model = EoMT(num_classes=19, embed_dim=64, depth=2, num_heads=2, num_queries=10, num_blocks=1).eval()
        >>> out = model(torch.zeros(1, 3, 32, 64))
        >>> [tuple(out[k].shape) for k in ("class_logits", "mask_logits", "pixel_scores", "logits")]
        [(1, 10, 20), (1, 10, 8, 16), (1, 19, 8, 16), (1, 19, 32, 64)]
    """

    is_mask_classification = True

    def __init__(
        self,
        num_classes: int = 19,
        *,
        img_size: int | tuple[int, int] = 640,
        patch_size: int = 16,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        num_register_tokens: int = 4,
        num_queries: int = 100,
        num_blocks: int = 4,
        aux_outputs: bool = False,
        layer_scale_init: float = 1e-5,
    ) -> None:
        super().__init__()
        if not 1 <= num_blocks <= depth or num_queries < 1:
            raise UsageError(
                f"Expected 1 ≤ `num_blocks` ≤ depth={depth} and `num_queries` ≥ 1, but got {num_blocks}, {num_queries}"
            )
        size = (img_size, img_size) if isinstance(img_size, int) else (int(img_size[0]), int(img_size[1]))
        self.num_classes = num_classes
        self.num_features = embed_dim
        self.input_multiple = patch_size
        self.num_queries = num_queries
        self.num_blocks = num_blocks
        self.aux_outputs = aux_outputs
        self.encoder = ViTEncoder(
            img_size=size,
            patch_size=patch_size,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            num_register_tokens=num_register_tokens,
            layer_scale_init=layer_scale_init,
        )
        self.queries = nn.Embedding(num_queries, embed_dim)
        self.class_head = nn.Linear(embed_dim, num_classes + 1)
        self.mask_head = nn.Sequential(
            nn.Linear(embed_dim, embed_dim),
            nn.GELU(),
            nn.Linear(embed_dim, embed_dim),
            nn.GELU(),
            nn.Linear(embed_dim, embed_dim),
        )
        self.num_upscale = max(1, round(math.log2(patch_size / 4)))
        self.upscale = nn.Sequential(*[_ScaleBlock(embed_dim) for _ in range(self.num_upscale)])

    def _split(self, tokens: torch.Tensor, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised tokens (B, Q + 1 + R + N, D) → queries (B, Q, D) and patch map (B, D, h, w)."""
        patches = tokens[:, self.num_queries + self.encoder.num_prefix_tokens :]
        return tokens[:, : self.num_queries], patches.transpose(1, 2).reshape(tokens.shape[0], -1, *grid)

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) → ``{"out": (B, D, H/p, W/p), "queries": (B, Q, D)}`` (+ ``aux_out``, ``aux_queries``)."""
        p = self.encoder.patch_size
        grid = (x.shape[-2] // p, x.shape[-1] // p)
        tokens = self.encoder.embed(x)
        start = len(self.encoder.blocks) - self.num_blocks
        aux: list[tuple[torch.Tensor, torch.Tensor]] = []
        for i, block in enumerate(self.encoder.blocks):
            if i == start:
                queries = self.queries.weight.unsqueeze(0).expand(x.shape[0], -1, -1)
                tokens = torch.cat([queries, tokens], dim=1)
            tokens = block(tokens)
            if self.aux_outputs and start <= i < len(self.encoder.blocks) - 1:
                aux.append(self._split(self.encoder.norm(tokens), grid))
        queries, patches = self._split(self.encoder.norm(tokens), grid)
        out = {"out": patches, "queries": queries}
        if aux:
            out["aux_queries"] = torch.stack([q for q, _ in aux])
            out["aux_out"] = torch.stack([m for _, m in aux])
        return out

    def predict_masks(self, queries: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Heads: queries (B, Q, D), patch map (B, D, h, w) → class logits (B, Q, C+1), mask logits (B, Q, h', w')."""
        features = self.upscale(patches)
        mask_logits = torch.einsum("bqd,bdhw->bqhw", self.mask_head(queries), features)
        return self.class_head(queries), mask_logits

    def forward_head(self, features: dict[str, torch.Tensor], output_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Class and mask predictions, per-pixel class scores, and their resize to ``output_size``."""
        class_logits, mask_logits = self.predict_masks(features["queries"], features["out"])
        pixel_scores = mask_class_pixel_scores(class_logits, mask_logits)
        logits = F.interpolate(pixel_scores, size=output_size, mode="bilinear", align_corners=False)
        out = {"class_logits": class_logits, "mask_logits": mask_logits, "pixel_scores": pixel_scores, "logits": logits}
        if "aux_queries" in features:
            preds = [
                self.predict_masks(q, m) for q, m in zip(features["aux_queries"], features["aux_out"], strict=True)
            ]
            out["aux_class_logits"] = torch.stack([c for c, _ in preds])
            out["aux_mask_logits"] = torch.stack([m for _, m in preds])
        return out


_VARIANTS = {
    "tiny": {"embed_dim": 192, "depth": 4, "num_heads": 3},
    "small": {"embed_dim": 384, "depth": 12, "num_heads": 6},
    "base": {"embed_dim": 768, "depth": 12, "num_heads": 12},
}


def _create(
    variant: str,
    *,
    num_classes: int,
    num_queries: int,
    num_blocks: int,
    img_size: int | tuple[int, int],
    patch_size: int,
    num_register_tokens: int,
    aux_outputs: bool,
    backbone_weights: str | Path | None,
) -> EoMT:
    if backbone_weights is not None:
        check_weights_path(backbone_weights, "DINOv2 weights")
    dims = _VARIANTS[variant]
    model = EoMT(
        num_classes,
        img_size=img_size,
        patch_size=patch_size,
        embed_dim=dims["embed_dim"],
        depth=dims["depth"],
        num_heads=dims["num_heads"],
        num_register_tokens=num_register_tokens,
        num_queries=num_queries,
        num_blocks=num_blocks,
        aux_outputs=aux_outputs,
    )
    if backbone_weights is not None:
        load_dinov2_weights(model, backbone_weights)
    return model


@register_model("eomt_vit_tiny")
def eomt_vit_tiny(
    *,
    num_classes: int = 19,
    num_queries: int = 16,
    num_blocks: int = 2,
    img_size: int | tuple[int, int] = 224,
    patch_size: int = 16,
    num_register_tokens: int = 4,
    aux_outputs: bool = False,
    backbone_weights: str | Path | None = None,
) -> EoMT:
    """EoMT on a 4-block ViT-Ti (D=192, 3 heads), 16 queries in the last 2 blocks: for tests and smoke runs."""
    return _create(
        "tiny",
        num_classes=num_classes,
        num_queries=num_queries,
        num_blocks=num_blocks,
        img_size=img_size,
        patch_size=patch_size,
        num_register_tokens=num_register_tokens,
        aux_outputs=aux_outputs,
        backbone_weights=backbone_weights,
    )


@register_model("eomt_vit_small")
def eomt_vit_small(
    *,
    num_classes: int = 19,
    num_queries: int = 100,
    num_blocks: int = 4,
    img_size: int | tuple[int, int] = 640,
    patch_size: int = 16,
    num_register_tokens: int = 4,
    aux_outputs: bool = False,
    backbone_weights: str | Path | None = None,
) -> EoMT:
    """EoMT on ViT-S (D=384, 12 blocks, 6 heads); ``backbone_weights``: a local DINOv2 ViT-S/14 (reg4) file."""
    return _create(
        "small",
        num_classes=num_classes,
        num_queries=num_queries,
        num_blocks=num_blocks,
        img_size=img_size,
        patch_size=patch_size,
        num_register_tokens=num_register_tokens,
        aux_outputs=aux_outputs,
        backbone_weights=backbone_weights,
    )


@register_model("eomt_vit_base")
def eomt_vit_base(
    *,
    num_classes: int = 19,
    num_queries: int = 100,
    num_blocks: int = 4,
    img_size: int | tuple[int, int] = 640,
    patch_size: int = 16,
    num_register_tokens: int = 4,
    aux_outputs: bool = False,
    backbone_weights: str | Path | None = None,
) -> EoMT:
    """EoMT on ViT-B (D=768, 12 blocks, 12 heads); ``backbone_weights``: a local DINOv2 ViT-B/14 (reg4) file."""
    return _create(
        "base",
        num_classes=num_classes,
        num_queries=num_queries,
        num_blocks=num_blocks,
        img_size=img_size,
        patch_size=patch_size,
        num_register_tokens=num_register_tokens,
        aux_outputs=aux_outputs,
        backbone_weights=backbone_weights,
    )
