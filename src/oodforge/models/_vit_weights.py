"""Conversion of DINOv2 state dicts between the public layouts (see :mod:`oodforge.models.vit`).

Facts carried over: DINOv2 training checkpoints keep the backbone under ``teacher`` with a ``backbone.``
prefix and, with ``block_chunks`` > 0, name blocks ``blocks.<chunk>.<index>`` (the index is global); the
hub files use flat ``blocks.<index>``. timm converts a DINOv2 register model by renaming
``register_tokens`` → ``reg_token``, adding ``pos_embed[:, 0]`` to ``cls_token`` and keeping
``pos_embed[:, 1:]``; files without registers keep the class entry in ``pos_embed``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch

from oodforge.errors import InputFileError
from oodforge.models._vit_layers import interpolate_pos_embed, resample_patch_kernel

__all__ = ["convert_dinov2_state"]


def _split_pos_embed(pos: torch.Tensor, path: str | Path) -> tuple[torch.Tensor | None, torch.Tensor, int]:
    """``pos_embed`` (1, [1 +] s², D) → class entry (1, 1, D) or None, grid part (1, s², D), side s."""
    n = pos.shape[1]
    side = math.isqrt(n)
    if side * side == n:
        return None, pos, side
    side = math.isqrt(n - 1)
    if side * side == n - 1:
        return pos[:, :1], pos[:, 1:], side
    raise InputFileError(f"DINOv2 weights file {path}: `pos_embed` has {n} positions, not a square grid (+ cls)")


def convert_dinov2_state(
    state: dict[str, torch.Tensor],
    *,
    class_pos_embed: bool,
    register_key: str,
    grid: tuple[int, int],
    patch_size: int,
    path: str | Path,
    offset: float = 0.0,
    antialias: bool = False,
) -> dict[str, torch.Tensor]:
    """Map a DINOv2 state dict (hub, timm or training layout) onto a ViT encoder's layout.

    Args:
        state: The file's tensors.
        class_pos_embed: Whether the target ``pos_embed`` has a class entry (else it is folded into ``cls_token``).
        register_key: Target name of the register tokens (``register_tokens`` or ``reg_token``).
        grid: Target patch grid (rows, columns) of ``pos_embed``.
        patch_size: Target patch side (the kernel is resampled when it differs).
        path: The file (for messages).
        offset: Position-grid interpolation offset of the target layout (see ``interpolate_pos_embed``).
        antialias: Position-grid interpolation antialiasing of the target layout.

    Returns:
        The renamed and resampled tensors (``mask_token`` kept; the caller decides whether to use it).

    Raises:
        InputFileError: A ``pos_embed`` that is not a square grid (with or without a class entry).
    """
    if state and all(k.startswith("backbone.") for k in state):
        state = {k.removeprefix("backbone."): v for k, v in state.items()}
    state = {re.sub(r"^blocks\.\d+\.(\d+)\.", r"blocks.\1.", k): v for k, v in state.items()}
    registers = state.pop("register_tokens", None)
    if registers is None:
        registers = state.pop("reg_token", None)
    if registers is not None:
        state[register_key] = registers
    pos = state.get("pos_embed")
    if pos is not None and pos.ndim == 3:
        cls_pos, grid_pos, side = _split_pos_embed(pos, path)
        grid_pos = interpolate_pos_embed(grid_pos, (side, side), grid, offset=offset, antialias=antialias)
        if class_pos_embed:  # a file without class entry has it in cls_token already: a zero entry is exact
            cls_pos = torch.zeros_like(grid_pos[:, :1]) if cls_pos is None else cls_pos
            state["pos_embed"] = torch.cat([cls_pos, grid_pos], dim=1)
        else:  # timm's no_embed_class: fold the class entry into cls_token
            if cls_pos is not None and "cls_token" in state:
                state["cls_token"] = state["cls_token"] + cls_pos
            state["pos_embed"] = grid_pos
    kernel = state.get("patch_embed.proj.weight")
    if kernel is not None and kernel.ndim == 4 and tuple(kernel.shape[2:]) != (patch_size, patch_size):
        state["patch_embed.proj.weight"] = resample_patch_kernel(kernel, (patch_size, patch_size))
    return state
