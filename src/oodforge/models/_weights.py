"""Reading state-dict files from local paths given by the user, and loading them with a clear key report.

Weights are never downloaded: every loader takes a path. Files are read with
``torch.load(path, map_location="cpu", weights_only=True)``, so only tensors and plain containers are
accepted (no arbitrary pickled code).

What a file may hold, as the field publishes it: a bare state dict, or one wrapped in a ``state_dict``
(Lightning), ``model_state`` (DeepLabV3+ training scripts), ``model`` or ``teacher`` entry; keys
prefixed ``module.`` (DataParallel / DDP); eager-mode quantised weights. Quantised tensors are
dequantised (``(q - zero_point) * scale``, exactly) and the quantisation bookkeeping of the file
(``*.scale`` / ``*.zero_point`` of quantised modules, ``quant.*``, ``dequant.*``, ``ff.*``) is ignored.

The ``strict`` policy of :func:`load_model_weights`: every model tensor must be provided with its exact
shape, and every file tensor must be used, except keys the model declares auxiliary
(:attr:`~oodforge.models.SegmentationModel.auxiliary_weights`, e.g. ERFNet's encoder-only classifier
``encoder.output_conv.*``), which are ignored with a note. Anything else is one error line naming the
counts and the first keys.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from oodforge.errors import InputFileError

__all__ = [
    "LoadReport",
    "apply_state_dict",
    "check_weights_path",
    "describe_load_error",
    "load_model_weights",
    "read_state_dict",
]

_CONTAINER_KEYS = ("state_dict", "model_state", "model", "teacher")
#: Module names of eager-mode quantisation bookkeeping (QuantStub, DeQuantStub, FloatFunctional).
_QUANT_MODULES = ("quant", "dequant", "ff")
#: The reason inside torch's weights-only unpickling message (the rest is boilerplate about ``weights_only``).
_WEIGHTS_ONLY_REASON = re.compile(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\s*\n|$)", re.S)


def describe_load_error(exc: BaseException) -> str:
    """``Type: reason`` of a failed ``torch.load`` (or Lightning load), on one line of at most ~200 characters.

    Example:
        >>> describe_load_error(EOFError("Ran out of input"))
        'EOFError: Ran out of input'
    """
    text = str(exc).strip()
    match = _WEIGHTS_ONLY_REASON.search(text)
    reason = (match.group(1) if match else text).strip()
    first = (reason.splitlines() or [""])[0]
    if len(first) > 160:
        first = first[:157] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


@dataclass(frozen=True)
class LoadReport:
    """What a weights loader did: tensors loaded, model keys left missing, file keys unused or ignored.

    Attributes:
        path: The file that was read.
        loaded: Model keys that received a tensor from the file.
        missing: Model keys the file did not provide (they keep their initialisation).
        unexpected: File keys with no counterpart in the model.
        ignored: File keys deliberately skipped (e.g. a ResNet's ``fc.*``, DINOv2's ``mask_token``).
        notes: What was done besides copying (dequantised tensors, ignored auxiliary keys).
    """

    path: str
    loaded: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    ignored: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [f"loaded {len(self.loaded)} tensors from {self.path}", *self.notes]
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
    if p.is_dir():
        raise InputFileError(f"{what} file {p} is a folder; expected a state-dict file (torch.save format)")
    if not p.is_file():
        raise InputFileError(f"{what} file not found: {p} (weights are only read from local files)")
    return p


def read_state_dict(path: str | Path, what: str = "weights") -> dict[str, torch.Tensor]:
    """Read a state dict of tensors from a local file (``torch.save`` format).

    A top-level ``"state_dict"``, ``"model_state"``, ``"model"`` or ``"teacher"`` entry holding a dict is
    unwrapped (training checkpoints), a ``"module."`` prefix shared by every key (DDP) is removed, and
    quantised tensors are dequantised.

    Args:
        path: Local file path.
        what: Words naming the file in error messages, e.g. ``"ResNet weights"``.

    Returns:
        Key → float tensor (non-tensor entries dropped), on the CPU.

    Raises:
        InputFileError: Missing, unreadable, or holding no tensors.
    """
    return _read(path, what)[0]


def _read(path: str | Path, what: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """:func:`read_state_dict` and the keys of the tensors that were quantised in the file."""
    p = check_weights_path(path, what)
    try:
        with warnings.catch_warnings():  # quantised files trigger torch's deprecation notices on load
            warnings.filterwarnings("ignore", message=".*(TypedStorage|quantize_per_tensor).*")
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt / non-weights files
        raise InputFileError(f"cannot read {what} file {p}: {describe_load_error(exc)}") from None
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
    quantized = [k for k, v in state.items() if v.is_quantized]
    for key in quantized:
        state[key] = state[key].dequantize()
    return state, quantized


def _quant_bookkeeping(key: str, modules: set[str]) -> bool:
    """Whether ``key`` is quantisation state of a quantised file rather than a weight of the float model.

    ``modules``: the module names of the model. Quantised modules (convolutions, batch norms, linear
    layers) store their output ``scale`` / ``zero_point`` beside their weights; QuantStub, DeQuantStub
    and FloatFunctional modules (``quant``, ``dequant``, ``ff``) exist only in the quantised model.
    """
    module, _, leaf = key.rpartition(".")
    if leaf in ("scale", "zero_point") and module in modules:
        return True
    return any(part in _QUANT_MODULES for part in module.split("."))


def apply_state_dict(
    module: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    path: str | Path,
    ignore: Callable[[str], bool] | None = None,
    strict: bool = False,
    what: str = "weights",
    notes: tuple[str, ...] = (),
    shape_hint: Callable[[str, tuple[int, ...]], str | None] | None = None,
) -> LoadReport:
    """Copy the tensors of ``state`` whose names and shapes match into ``module`` and report the rest.

    Args:
        module: Target module.
        state: Key → tensor, keys in ``module.state_dict()`` naming.
        path: The file the state came from (for messages).
        ignore: Predicate on file keys to skip silently (reported under ``ignored``).
        strict: Raise if any model key is missing or any file key unexpected; otherwise warn.
        what: Words naming the file in messages.
        notes: Notes for the report (what the reader did, e.g. dequantised tensors).
        shape_hint: ``(key, file shape) -> message or None``: explains a shape mismatch (e.g. a class count).

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
            hint = shape_hint(key, tuple(tensor.shape)) if shape_hint is not None else None
            raise InputFileError(
                hint
                or f"{what} file {path}: `{key}` has shape {tuple(tensor.shape)}, but the model expects "
                f"{tuple(target[key].shape)} (another architecture or variant)"
            )
        else:
            loadable[key] = tensor
    if not loadable:
        raise InputFileError(
            f"no tensor of {what} file {path} matches the model (file keys: {', '.join(list(state)[:3])}, …; "
            f"model keys: {', '.join(list(target)[:3])}, …)"
        )
    missing = [k for k in target if k not in loadable and not k.endswith("num_batches_tracked")]
    report = LoadReport(str(path), tuple(loadable), tuple(missing), tuple(unexpected), tuple(ignored), notes)
    if strict and (missing or unexpected):
        raise InputFileError(f"{what} do not match the model: {report}")
    module.load_state_dict(loadable, strict=False)
    if missing or unexpected:
        warnings.warn(f"{what}: {report}", UserWarning, stacklevel=3)
    return report


def load_model_weights(
    model: nn.Module,
    path: str | Path,
    *,
    strict: bool = True,
    shape_hint: Callable[[str, tuple[int, ...]], str | None] | None = None,
) -> LoadReport:
    """Load a full model state dict from a local file, with the policy of the module docstring.

    Args:
        model: The model to fill in place.
        path: Local file path (containers, ``module.`` prefixes and quantised tensors handled).
        strict: Require the file to cover every model key and nothing else (auxiliary keys aside).
        shape_hint: Explains a shape mismatch (see :func:`apply_state_dict`).

    Returns:
        The :class:`LoadReport`.

    Raises:
        InputFileError: Missing or unreadable file, shape mismatch, or (``strict``) key mismatch.
    """
    state, quantized = _read(path, "model weights")
    modules = {name for name, _ in model.named_modules()}
    aux = tuple(getattr(model, "auxiliary_weights", ()))
    target = model.state_dict()
    notes: list[str] = []
    if quantized:
        notes.append(f"{len(quantized)} quantised tensors dequantised")

    def ignore(key: str) -> bool:
        if key in target:
            return False
        return key.startswith(aux) or (bool(quantized) and _quant_bookkeeping(key, modules))

    skipped = [k for k in state if ignore(k)]
    aux_modules = sorted({k.rsplit(".", 1)[0] for k in skipped if k.startswith(aux)})
    if aux_modules:
        notes.append(f"auxiliary weights ignored ({', '.join(aux_modules)})")
    if quantized and any(not k.startswith(aux) for k in skipped):
        notes.append("quantisation entries ignored")
    return apply_state_dict(
        model, state, path=path, ignore=ignore, strict=strict, what="model weights", notes=tuple(notes),
        shape_hint=shape_hint,
    )  # fmt: skip
