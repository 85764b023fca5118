"""Checkpoints of ``oodforge train`` named by the user (``--checkpoint``, ``--resume``, ``model.init_checkpoint``).

Read before anything is built or written, so that a missing, foreign or damaged file, or one of another model, is
one error line naming the flag or key and the file, never a traceback from inside Lightning after a long setup.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from oodforge.errors import InputFileError
from oodforge.models._weights import describe_load_error

__all__ = ["check_state_fits", "read_checkpoint"]

_WHAT = "a checkpoint of `oodforge train`"


def read_checkpoint(path: str | Path, key: str, hint: str = "") -> dict[str, Any]:
    """The content of an ``oodforge train`` (Lightning) checkpoint, its tensors memory-mapped rather than read.

    Args:
        path: The checkpoint file.
        key: The flag or config key that named it, for the message (``--checkpoint``, ``model.init_checkpoint``).
        hint: Appended to the message of a file that is not such a checkpoint (``; for ... use ...``).

    Returns:
        The checkpoint dict; its ``state_dict`` maps names to tensors.

    Raises:
        InputFileError: ``{key}: {path} ...``: not found, a folder, unreadable, or no ``state_dict`` of tensors.
    """
    p = Path(path)
    if p.is_dir():
        raise InputFileError(f"{key}: {p} is a folder; expected {_WHAT} (a .ckpt file)")
    if not p.is_file():
        raise InputFileError(f"{key}: {p} not found; expected {_WHAT}")
    try:  # mmap: a large checkpoint costs no memory here (Lightning reads it again to resume)
        obj = torch.load(p, map_location="cpu", weights_only=False, mmap=zipfile.is_zipfile(p))
    except Exception as exc:  # torch / pickle raise many kinds for foreign and damaged files
        raise InputFileError(f"{key}: {p} is not {_WHAT} ({describe_load_error(exc)}){hint}") from None
    state = obj.get("state_dict") if isinstance(obj, dict) else None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        found = (
            f"a dict with keys {', '.join(map(str, list(obj)[:4]))}" if isinstance(obj, dict) else type(obj).__name__
        )
        raise InputFileError(f"{key}: {p} is not {_WHAT} (no state_dict of tensors; found {found}){hint}")
    return obj


def check_state_fits(
    module: nn.Module, state: Mapping[str, torch.Tensor], key: str, path: str | Path, what: str
) -> None:
    """Raise unless ``state`` holds exactly the tensors of ``module``, with their shapes.

    Args:
        module: The module the state is for.
        state: Name -> tensor, in ``module.state_dict()`` naming.
        key: The flag or config key that named the file.
        path: The file.
        what: The module in words, e.g. ``model 'erfnet' with 19 classes``.

    Raises:
        InputFileError: counts of the missing, unexpected and mis-shaped tensors and the first of them.
    """
    target = module.state_dict()
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    shaped = [k for k in target if k in state and tuple(state[k].shape) != tuple(target[k].shape)]
    if missing or unexpected or shaped:
        first = (shaped or missing or unexpected)[0]
        raise InputFileError(
            f"{key}: {path} does not fit {what} ({len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(shaped)} mis-shaped tensors; first: {first})"
        )
