"""A plain ViT encoder in the two public DINOv2 layouts (Oquab et al., 2023; registers: Darcet et al., ICLR 2024).

Both layouts share the blocks (:mod:`oodforge.models._vit_layers`) and the token order
``[cls, registers…, patches…]``; registers never get a position embedding. They differ in three names
and one shape, exactly as the released files do:

- ``layout="dinov2"``: facebookresearch/dinov2 (``dinov2_vit{s,b,l}14[_reg4]_pretrain.pth``):
  ``cls_token`` (1, 1, D), ``pos_embed`` (1, 1 + N, D) whose first entry belongs to ``cls``,
  ``register_tokens`` (1, R, D) and ``mask_token`` (1, D) (used only by DINOv2 training). Other input
  sizes interpolate the grid as DINOv2 does (bicubic, scale factor ``(n + 0.1) / N``, no antialiasing).
- ``layout="timm"``: timm's ``vit_*_patch14[_reg4]_dinov2`` (the backbone of EoMT): ``reg_token``
  (1, R, D) and, with registers (timm's ``no_embed_class=True``), ``pos_embed`` (1, N, D) over the
  patch grid only, the class entry being folded into ``cls_token``. Other input sizes interpolate the
  grid bicubically by size with antialiasing (timm's ``resample_abs_pos_embed``).

:func:`load_dinov2_weights` reads either layout (and DINOv2 training checkpoints) into either layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

import torch
from torch import nn

from oodforge.errors import UsageError
from oodforge.models._vit_layers import Block, PatchEmbed, interpolate_pos_embed, resample_patch_kernel
from oodforge.models._vit_weights import convert_dinov2_state
from oodforge.models._weights import LoadReport, apply_state_dict, read_state_dict

__all__ = ["Block", "ViTEncoder", "interpolate_pos_embed", "load_dinov2_weights", "resample_patch_kernel"]

Layout = Literal["dinov2", "timm"]
#: position-grid interpolation per layout: (offset, antialias): DINOv2's ``interpolate_offset`` of the hub
#: models without antialiasing, timm's size-based resampling with antialiasing
_INTERPOLATION: dict[str, tuple[float, bool]] = {"dinov2": (0.1, False), "timm": (0.0, True)}


class ViTEncoder(nn.Module):
    """DINOv2 ViT: patch embedding, ``cls`` + optional register tokens, pre-norm LayerScale blocks, final norm.

    Args:
        img_size: (H, W) the position embedding is laid out for; other sizes are interpolated.
        patch_size: Patch side p; inputs need H and W divisible by p.
        embed_dim: Token width D.
        depth: Number of blocks.
        num_heads: Attention heads (D must be divisible by it).
        mlp_ratio: MLP hidden width / D.
        num_register_tokens: Register tokens R (4 in the ``_reg4`` checkpoints).
        layer_scale_init: Initial LayerScale value.
        layout: ``"dinov2"`` or ``"timm"`` parameter layout (see the module docstring).

    Example:
        >>> enc = ViTEncoder(img_size=(28, 28), embed_dim=24, depth=1, num_heads=2, num_register_tokens=4)
        >>> sorted(k for k in enc.state_dict() if "blocks" not in k)[:5]
        ['cls_token', 'mask_token', 'norm.bias', 'norm.weight', 'patch_embed.proj.bias']
        >>> tuple(enc(torch.zeros(1, 3, 42, 28)).shape)
        (1, 24, 3, 2)
    """

    def __init__(
        self,
        *,
        img_size: tuple[int, int] = (518, 518),
        patch_size: int = 14,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        num_register_tokens: int = 0,
        layer_scale_init: float = 1e-5,
        layout: Layout = "dinov2",
    ) -> None:
        super().__init__()
        if embed_dim % num_heads or min(patch_size, depth, num_heads) < 1 or num_register_tokens < 0:
            raise UsageError(
                f"Expected positive `patch_size`, `depth`, `num_heads` dividing `embed_dim` and `num_register_tokens`"
                f" ≥ 0, but got {patch_size}, {depth}, {num_heads}, {embed_dim}, {num_register_tokens}"
            )
        if layout not in _INTERPOLATION:
            raise UsageError(f"Expected `layout` to be 'dinov2' or 'timm', but got {layout!r}")
        self.layout: Layout = layout
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.grid = (img_size[0] // patch_size, img_size[1] // patch_size)
        self.num_register_tokens = num_register_tokens
        self.num_prefix_tokens = 1 + num_register_tokens
        #: whether ``pos_embed`` starts with an entry for ``cls`` (all but timm's register models)
        self.class_pos_embed = layout == "dinov2" or num_register_tokens == 0
        self.register_key = "register_tokens" if layout == "dinov2" else "reg_token"
        self.patch_embed = PatchEmbed(patch_size, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        n_pos = self.grid[0] * self.grid[1] + int(self.class_pos_embed)
        self.pos_embed = nn.Parameter(torch.zeros(1, n_pos, embed_dim))
        if num_register_tokens:
            self.register_parameter(self.register_key, nn.Parameter(torch.zeros(1, num_register_tokens, embed_dim)))
        if layout == "dinov2":
            self.mask_token = nn.Parameter(torch.zeros(1, embed_dim))
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio, layer_scale_init) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self._init_weights()

    @property
    def registers(self) -> torch.Tensor | None:
        """The register tokens (1, R, D) (``register_tokens`` or ``reg_token``), None without registers."""
        return cast(torch.Tensor, getattr(self, self.register_key)) if self.num_register_tokens else None

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        if self.registers is not None:
            nn.init.normal_(self.registers, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def grid_pos_embed(self, grid: tuple[int, int]) -> torch.Tensor:
        """Patch position embeddings (1, h·w, D) for a (h, w) patch grid, interpolated as the layout's source does."""
        pos = self.pos_embed[:, 1:] if self.class_pos_embed else self.pos_embed
        offset, antialias = _INTERPOLATION[self.layout]
        return interpolate_pos_embed(pos, self.grid, grid, offset=offset, antialias=antialias)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) → tokens (B, 1 + R + N, D), N = (H/p)·(W/p), position embeddings added."""
        patches = self.patch_embed(x)
        grid = (int(patches.shape[-2]), int(patches.shape[-1]))
        patches = patches.flatten(2).transpose(1, 2) + self.grid_pos_embed(grid)
        cls = self.cls_token + self.pos_embed[:, :1] if self.class_pos_embed else self.cls_token
        b = x.shape[0]
        parts = [cls.expand(b, -1, -1)]
        if self.registers is not None:
            parts.append(self.registers.expand(b, -1, -1))
        return torch.cat([*parts, patches], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) → normalised patch features (B, D, H/p, W/p) (DINOv2's ``x_norm_patchtokens``)."""
        t = self.embed(x)
        for blk in self.blocks:
            t = blk(t)
        t = self.norm(t)[:, self.num_prefix_tokens :]
        return t.transpose(1, 2).reshape(x.shape[0], -1, x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size)


def load_dinov2_weights(model: nn.Module, path: str | Path, *, strict: bool = False) -> LoadReport:
    """Load DINOv2 weights from a local file into a :class:`ViTEncoder` (alone or inside a model, e.g. EoMT).

    Reads the hub files ``dinov2_vit{s,b,l}14[_reg4]_pretrain.pth`` (``layout="dinov2"``), timm's
    ``vit_*_patch14[_reg4]_dinov2`` state dicts (``layout="timm"``) and DINOv2 training checkpoints
    (``teacher`` entry, ``backbone.`` prefix, chunked ``blocks.c.N``), and converts them to the encoder's
    layout as timm does: the class position entry is folded into ``cls_token`` for timm register models
    (or set to zero when the file has none), registers are renamed, the patch grid of ``pos_embed`` is
    interpolated to the encoder's ``img_size`` with the encoder layout's convention, and a patch kernel of
    another size (14 → 16 for EoMT) is resampled with :func:`resample_patch_kernel`. ``mask_token`` (used
    only by DINOv2 training) is ignored by a ``timm`` encoder and set to zero in a ``dinov2`` one when the
    file has none.

    Args:
        model: A :class:`ViTEncoder`, or a module holding exactly one (EoMT).
        path: Local checkpoint file, read with ``torch.load(..., weights_only=True)``.
        strict: Raise on any missing or unexpected key (otherwise a :class:`UserWarning`).

    Returns:
        The :class:`~oodforge.models.LoadReport` (keys in the encoder's naming).

    Raises:
        UsageError: ``model`` holds no ViT encoder, or several.
        InputFileError: Missing or unreadable file, a non-square position grid, or mismatching shapes
            (another width or depth).
    """
    encoders = [model] if isinstance(model, ViTEncoder) else [m for m in model.modules() if isinstance(m, ViTEncoder)]
    if len(encoders) != 1:
        raise UsageError(
            f"Expected a ViTEncoder or a model holding exactly one, but got {type(model).__name__} ({len(encoders)})"
        )
    encoder = encoders[0]
    state = convert_dinov2_state(
        read_state_dict(path, "DINOv2 weights"),
        class_pos_embed=encoder.class_pos_embed,
        register_key=encoder.register_key,
        grid=encoder.grid,
        patch_size=encoder.patch_size,
        path=path,
        offset=_INTERPOLATION[encoder.layout][0],
        antialias=_INTERPOLATION[encoder.layout][1],
    )
    drop_mask_token = encoder.layout == "timm"
    if not drop_mask_token and "mask_token" not in state:  # timm files drop it; DINOv2 initialises it to zero
        state["mask_token"] = torch.zeros_like(encoder.mask_token)
    return apply_state_dict(
        encoder,
        state,
        path=path,
        ignore=lambda k: drop_mask_token and k == "mask_token",
        strict=strict,
        what="DINOv2 weights",
    )
