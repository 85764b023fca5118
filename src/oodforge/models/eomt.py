"""EoMT (Kerssies et al., "Your ViT is Secretly an Image Segmentation Model", CVPR 2025), official layout.

The module layout is that of the official code (tue-mps/eomt).

``EoMT.state_dict()`` has exactly the keys and shapes of the official checkpoints
(``https://huggingface.co/tue-mps/<name>/resolve/main/pytorch_model.bin``: the Lightning module's state
dict, keys ``network.*`` plus the loss's ``criterion.empty_weight``, which is ignored as auxiliary), so
``create_model("eomt_vit_large", pretrained_path=...)`` loads the Cityscapes model strictly. The
backbone is timm's DINOv2 register ViT with patch 16 (``network.encoder.backbone.*``, see
:mod:`oodforge.models.vit`); the network is :class:`~oodforge.models._eomt_network.EoMTNetwork`.

Inputs are ImageNet-normalised RGB (the official wrapper normalises inside; oodforge normalises before
the model), H and W multiples of the patch size. The official models run at their training size
(e.g. 1024×1024 crops for Cityscapes); other sizes interpolate the position embeddings.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch

from oodforge.errors import UsageError
from oodforge.models._base import SegmentationModel
from oodforge.models._eomt_network import EoMTNetwork, upsampled_pixel_scores
from oodforge.models._registry import register_model
from oodforge.models._weights import check_weights_path
from oodforge.models.convention import InputConvention
from oodforge.models.vit import ViTEncoder, load_dinov2_weights
from oodforge.scores.rba import mask_class_pixel_scores

__all__ = ["EoMT", "eomt_vit_base", "eomt_vit_large", "eomt_vit_small", "eomt_vit_tiny", "load_dinov2_weights"]


class EoMT(SegmentationModel):
    """Encoder-only mask transformer: a ViT whose last ``num_blocks`` blocks also process Q queries.

    ``forward(x)`` with x (B, 3, H, W), H and W multiples of ``patch_size``, returns

    - ``"class_logits"`` (B, Q, C+1), last column = no object;
    - ``"mask_logits"`` (B, Q, H', W'), H' = (H/p)·2^k (k upscale blocks: H/4 for p = 16);
    - ``"pixel_scores"`` (B, C, H', W'), Σ_q softmax(class)_c · sigmoid(mask) at mask resolution;
    - ``"logits"`` (B, C, H, W): the same sum with the mask logits first resized to the input (the
      official semantic inference), values in [0, Q]; the input of MSP / MaxLogit / RbA at full size;
    - ``"features"`` (B, D, H/p, W/p): normalised patch tokens;
    - with ``aux_outputs``: ``"aux_class_logits"`` (L, B, Q, C+1) and ``"aux_mask_logits"`` (L, B, Q, H', W'),
      the official intermediate predictions, made before each of the L = ``num_blocks`` query blocks.

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
        aux_outputs: Also return the intermediate predictions.
        layer_scale_init: Initial LayerScale value.

    Example:
        >>> import torch
        >>> model = EoMT(num_classes=19, embed_dim=64, depth=2, num_heads=2, num_queries=10, num_blocks=1).eval()
        >>> out = model(torch.zeros(1, 3, 32, 64))
        >>> [tuple(out[k].shape) for k in ("class_logits", "mask_logits", "pixel_scores", "logits")]
        [(1, 10, 20), (1, 10, 8, 16), (1, 19, 8, 16), (1, 19, 32, 64)]
    """

    is_mask_classification = True
    #: the official Lightning checkpoints also hold the loss's class weights
    auxiliary_weights: ClassVar[tuple[str, ...]] = ("criterion.",)
    #: DINOv2 / EoMT expect RGB normalised with the ImageNet mean and std
    INPUT_NORMALIZATION: ClassVar[str] = "imagenet"
    #: the official Cityscapes evaluation: ImageNet-normalised RGB, shorter side 1024, patch multiple 16 (the
    #: official sliding 1024x1024 windows are not reproduced: the whole resized frame is one window)
    input_convention: ClassVar[InputConvention] = InputConvention(short_side=1024, pad_multiple=16)

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
        self.aux_outputs = aux_outputs
        backbone = ViTEncoder(
            img_size=size,
            patch_size=patch_size,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            num_register_tokens=num_register_tokens,
            layer_scale_init=layer_scale_init,
            layout="timm",
        )
        self.network = EoMTNetwork(backbone, num_classes, num_queries, num_blocks)

    @property
    def backbone(self) -> ViTEncoder:
        """The ViT (``network.encoder.backbone``)."""
        return self.network.backbone

    @property
    def num_queries(self) -> int:
        """Queries Q."""
        return self.network.num_q

    @property
    def num_blocks(self) -> int:
        """Query blocks L."""
        return self.network.num_blocks

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) → ``{"out": (B, D, H/p, W/p), "queries": (B, Q, D)}`` (+ ``aux_out``, ``aux_queries``)."""
        grid = (x.shape[-2] // self.backbone.patch_size, x.shape[-1] // self.backbone.patch_size)
        normed, before = self.network(x, collect=self.aux_outputs)
        queries, patches = self.network.split(normed, grid)
        out = {"out": patches, "queries": queries}
        if before:
            splits = [self.network.split(t, grid) for t in before]
            out["aux_queries"] = torch.stack([q for q, _ in splits])
            out["aux_out"] = torch.stack([m for _, m in splits])
        return out

    def predict_masks(self, queries: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Heads: queries (B, Q, D), patch map (B, D, h, w) → class logits (B, Q, C+1), mask logits (B, Q, h', w')."""
        return self.network.heads(queries, patches)

    def forward_head(self, features: dict[str, torch.Tensor], output_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Class and mask predictions, per-pixel class scores at mask resolution and at ``output_size``."""
        class_logits, mask_logits = self.predict_masks(features["queries"], features["out"])
        out = {
            "class_logits": class_logits,
            "mask_logits": mask_logits,
            "pixel_scores": mask_class_pixel_scores(class_logits, mask_logits),
            "logits": upsampled_pixel_scores(class_logits, mask_logits, output_size),
        }
        if "aux_queries" in features:
            preds = [
                self.predict_masks(q, m) for q, m in zip(features["aux_queries"], features["aux_out"], strict=True)
            ]
            out["aux_class_logits"] = torch.stack([c for c, _ in preds])
            out["aux_mask_logits"] = torch.stack([m for _, m in preds])
        return out


#: ViT widths: (D, depth, heads), as timm's vit_{small,base,large}_patch14_reg4_dinov2 (tiny: oodforge's own)
_VARIANTS = {
    "tiny": (192, 4, 3),
    "small": (384, 12, 6),
    "base": (768, 12, 12),
    "large": (1024, 24, 16),
}


def _create(
    variant: str,
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
    dim, depth, heads = _VARIANTS[variant]
    model = EoMT(
        num_classes,
        img_size=img_size,
        patch_size=patch_size,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
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
    args = (num_classes, num_queries, num_blocks, img_size, patch_size, num_register_tokens, aux_outputs)
    return _create("tiny", *args, backbone_weights)


@register_model("eomt_vit_small")
def eomt_vit_small(
    *,
    num_classes: int = 19,
    num_queries: int = 200,
    num_blocks: int = 3,
    img_size: int | tuple[int, int] = 640,
    patch_size: int = 16,
    num_register_tokens: int = 4,
    aux_outputs: bool = False,
    backbone_weights: str | Path | None = None,
) -> EoMT:
    """EoMT-S as the official COCO panoptic 640 model ``coco_panoptic_eomt_small_640_2x``.

    ViT-S/16 from DINOv2 reg4, 200 queries in the last 3 blocks (133 classes there);
    ``backbone_weights``: a local DINOv2 ViT-S/14 file.
    """
    args = (num_classes, num_queries, num_blocks, img_size, patch_size, num_register_tokens, aux_outputs)
    return _create("small", *args, backbone_weights)


@register_model("eomt_vit_base")
def eomt_vit_base(
    *,
    num_classes: int = 19,
    num_queries: int = 200,
    num_blocks: int = 3,
    img_size: int | tuple[int, int] = 640,
    patch_size: int = 16,
    num_register_tokens: int = 4,
    aux_outputs: bool = False,
    backbone_weights: str | Path | None = None,
) -> EoMT:
    """EoMT-B as the official COCO panoptic 640 model ``coco_panoptic_eomt_base_640_2x``.

    ViT-B/16 from DINOv2 reg4, 200 queries in the last 3 blocks (133 classes there);
    ``backbone_weights``: a local DINOv2 ViT-B/14 file.
    """
    args = (num_classes, num_queries, num_blocks, img_size, patch_size, num_register_tokens, aux_outputs)
    return _create("base", *args, backbone_weights)


@register_model("eomt_vit_large")
def eomt_vit_large(
    *,
    num_classes: int = 19,
    num_queries: int = 100,
    num_blocks: int = 4,
    img_size: int | tuple[int, int] = 1024,
    patch_size: int = 16,
    num_register_tokens: int = 4,
    aux_outputs: bool = False,
    backbone_weights: str | Path | None = None,
) -> EoMT:
    """EoMT-L as the official Cityscapes semantic model ``cityscapes_semantic_eomt_large_1024``.

    ViT-L/16 from DINOv2 reg4 at 1024×1024, 100 queries in the last 4 blocks, 19 classes;
    ``backbone_weights``: a local DINOv2 ViT-L/14 file.
    """
    args = (num_classes, num_queries, num_blocks, img_size, patch_size, num_register_tokens, aux_outputs)
    return _create("large", *args, backbone_weights)
