"""Reading state-dict files from local paths given by the user, and loading them with a clear key report.

Weights are never downloaded: every loader takes a path. Files are read with
``torch.load(path, map_location="cpu", weights_only=True)``, so only tensors and plain containers are
accepted (no arbitrary pickled code).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from oodforge.errors import InputFileError

__all__ = ["LoadReport", "apply_state_dict", "check_weights_path", "load_model_weights", "read_state_dict"]

_CONTAINER_KEYS = ("state_dict", "model", "teacher")


@dataclass(frozen=True)
class LoadReport:
    """What a weights loader did: tensors loaded, model keys left missing, file keys unused or ignored.

    Attributes:
        path: The file that was read.
        loaded: Model keys that received a tensor from the file.
        missing: Model keys the file did not provide (they keep their initialisation).
        unexpected: File keys with no counterpart in the model.
        ignored: File keys deliberately skipped (e.g. a ResNet's ``fc.*``, DINOv2's ``mask_token``).
    """

    path: str
    loaded: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    ignored: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [f"loaded {len(self.loaded)} tensors from {self.path}"]
        for name, keys in (("missing", self.missing), ("unexpected", self.unexpected), ("ignored", self.ignored)):
            if keys:
                shown = ", ".join(keys[:5]) + (", …" if len(keys) > 5 else "")
                parts.append(f"{len(keys)} {name} ({shown})")
        return "; ".join(parts)


def check_weights_path(path: str | Path, what: str = "weights") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path`, raising a one-line error if it is not an existing file.

    Raises:
        InputFileError: The file does not exist or is a directory.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputFileError(f"{what} file not found: {p} (weights are only read from local files)")
    return p


def read_state_dict(path: str | Path, what: str = "weights") -> dict[str, torch.Tensor]:
    """Read a state dict of tensors from a local file (``torch.save`` format).

    A top-level ``"state_dict"``, ``"model"`` or ``"teacher"`` entry holding a dict is unwrapped
    (Lightning and training checkpoints), and a ``"module."`` prefix shared by every key (DDP) is removed.

    Args:
        path: Local file path.
        what: Words naming the file in error messages, e.g. ``"ResNet weights"``.

    Returns:
        Key → tensor (non-tensor entries dropped), on the CPU.

    Raises:
        InputFileError: Missing, unreadable, or holding no tensors.
    """
    p = check_weights_path(path, what)
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt / non-weights files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputFileError(f"cannot read {what} file {p}: {type(exc).__name__}: {first}") from None
    while isinstance(obj, Mapping):
        inner = next((obj[k] for k in _CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise InputFileError(f"expected {what} file {p} to hold a state dict, but got {type(obj).__name__}")
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise InputFileError(f"expected {what} file {p} to hold tensors, but found none")
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def apply_state_dict(
    module: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    path: str | Path,
    ignore: Callable[[str], bool] | None = None,
    strict: bool = False,
    what: str = "weights",
) -> LoadReport:
    """Copy the tensors of ``state`` whose names and shapes match into ``module`` and report the rest.

    Args:
        module: Target module.
        state: Key → tensor, keys in ``module.state_dict()`` naming.
        path: The file the state came from (for messages).
        ignore: Predicate on file keys to skip silently (reported under ``ignored``).
        strict: Raise if any model key is missing or any file key unexpected; otherwise warn.
        what: Words naming the file in messages.

    Returns:
        The :class:`LoadReport`.

    Raises:
        InputFileError: A shape mismatch, no matching key at all, or (``strict``) missing / unexpected keys.
    """
    target = module.state_dict()
    loadable: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    ignored: list[str] = []
    for key, tensor in state.items():
        if ignore is not None and ignore(key):
            ignored.append(key)
        elif key not in target:
            unexpected.append(key)
        elif tuple(tensor.shape) != tuple(target[key].shape):
            raise InputFileError(
                f"{what} file {path}: `{key}` has shape {tuple(tensor.shape)}, but the model expects "
                f"{tuple(target[key].shape)} (wrong variant?)"
            )
        else:
            loadable[key] = tensor
    if not loadable:
        raise InputFileError(
            f"no tensor of {what} file {path} matches the model (file keys: {', '.join(list(state)[:3])}, …; "
            f"model keys: {', '.join(list(target)[:3])}, …)"
        )
    missing = [k for k in target if k not in loadable and not k.endswith("num_batches_tracked")]
    report = LoadReport(str(path), tuple(loadable), tuple(missing), tuple(unexpected), tuple(ignored))
    if strict and (missing or unexpected):
        raise InputFileError(f"{what} do not match the model: {report}")
    module.load_state_dict(loadable, strict=False)
    if missing or unexpected:
        warnings.warn(f"{what}: {report}", UserWarning, stacklevel=3)
    return report


def load_model_weights(model: nn.Module, path: str | Path, *, strict: bool = True) -> LoadReport:
    """Load a full model state dict (as saved by ``torch.save(model.state_dict(), path)``) from a local file.

    Args:
        model: The model to fill in place.
        path: Local file path; checkpoints with a ``"state_dict"`` / ``"model"`` entry are unwrapped.
        strict: Require the file to cover every model key and nothing else.

    Returns:
        The :class:`LoadReport`.

    Raises:
        InputFileError: Missing or unreadable file, shape mismatch, or (``strict``) key mismatch.
    """
    return apply_state_dict(
        model, read_state_dict(path, "model weights"), path=path, strict=strict, what="model weights"
    )
