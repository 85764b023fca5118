"""Tiny array-backend shim so that every score is written once for numpy arrays and torch tensors.

torch is never imported at module import: a tensor is recognised by the module of its type
(``type(x).__module__.startswith("torch")``) and torch is imported lazily, only when such an
input arrives. Every operation keeps the input's kind (numpy in, numpy out; torch in, torch out on
the same device, differentiable).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from oodforge.errors import ShapeError, ValueCheckError

__all__ = [
    "LOGITS_LAYOUTS",
    "Backend",
    "as_float",
    "check_ndim",
    "check_temperature",
    "get_backend",
    "is_tensor",
    "prepare_logits",
]


def is_tensor(x: Any) -> bool:
    """Return whether ``x`` is a torch tensor (or subclass, e.g. ``nn.Parameter``) without importing torch."""
    module = type(x).__module__
    return module == "torch" or module.startswith("torch.")


class Backend:
    """Array operations for one kind of array (``numpy`` or ``torch``).

    Reductions take an explicit ``axis`` (negative axes allowed) and drop it unless ``keepdims``.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._torch: Any = None
        if name == "torch":
            import torch

            self._torch = torch

    # --- conversion -------------------------------------------------------------------------
    def to_float(self, x: Any, name: str) -> Any:
        """Return ``x`` as a floating array; float16 / bfloat16 / integers become float32."""
        if self._torch is not None:
            torch = self._torch
            if x.dtype.is_complex or x.dtype == torch.bool:
                raise ValueCheckError(f"Expected `{name}` to be a real floating tensor, but got dtype {x.dtype}")
            return x if x.dtype in (torch.float32, torch.float64) else x.to(torch.float32)
        arr = np.asarray(x)
        if arr.dtype.kind not in "iuf":
            raise ValueCheckError(f"Expected `{name}` to be a real floating array, but got dtype {arr.dtype}")
        return arr if arr.dtype.kind == "f" and arr.dtype.itemsize >= 4 else arr.astype(np.float32)

    def like(self, values: np.ndarray, ref: Any) -> Any:
        """Return the numpy array ``values`` as the kind, dtype (for floats) and device of ``ref``."""
        if self._torch is None:
            return values.astype(ref.dtype) if values.dtype.kind == "f" else values
        dtype = ref.dtype if values.dtype.kind == "f" else None
        return self._torch.as_tensor(values, dtype=dtype, device=ref.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        """Return ``x`` as a numpy array (tensors are detached and copied to the CPU)."""
        if self._torch is not None:
            return x.detach().cpu().numpy()
        return np.asarray(x)

    def promote(self, a: Any, b: Any) -> tuple[Any, Any]:
        """Cast two float arrays to their common dtype (einsum in torch needs equal dtypes)."""
        if self._torch is None or a.dtype == b.dtype:
            return a, b
        dtype = self._torch.promote_types(a.dtype, b.dtype)
        return a.to(dtype), b.to(dtype)

    # --- reductions -------------------------------------------------------------------------
    def amax(self, x: Any, axis: int, keepdims: bool = False) -> Any:
        """Maximum along ``axis``."""
        if self._torch is not None:
            return self._torch.amax(x, dim=axis, keepdim=keepdims)
        return np.max(x, axis=axis, keepdims=keepdims)

    def argmax(self, x: Any, axis: int) -> Any:
        """Index of the maximum along ``axis`` (first one on ties), int64."""
        if self._torch is not None:
            return self._torch.argmax(x, dim=axis)
        return np.argmax(x, axis=axis)

    def sum(self, x: Any, axis: int, keepdims: bool = False) -> Any:
        """Sum along ``axis``."""
        if self._torch is not None:
            return self._torch.sum(x, dim=axis, keepdim=keepdims)
        return np.sum(x, axis=axis, keepdims=keepdims)

    def logsumexp(self, x: Any, axis: int, keepdims: bool = False) -> Any:
        """Stable ``log Σ exp(x)`` along ``axis`` (the maximum is subtracted first)."""
        if self._torch is not None:
            return self._torch.logsumexp(x, dim=axis, keepdim=keepdims)
        m = np.max(x, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis=axis)

    def log_softmax(self, x: Any, axis: int) -> Any:
        """Stable ``log softmax(x)`` along ``axis``."""
        return x - self.logsumexp(x, axis, keepdims=True)

    def softmax(self, x: Any, axis: int) -> Any:
        """Stable ``softmax(x)`` along ``axis``."""
        return self.exp(self.log_softmax(x, axis))

    # --- element-wise -----------------------------------------------------------------------
    def exp(self, x: Any) -> Any:
        """``exp(x)``."""
        return self._torch.exp(x) if self._torch is not None else np.exp(x)

    def expm1(self, x: Any) -> Any:
        """``exp(x) - 1``, accurate near 0."""
        return self._torch.expm1(x) if self._torch is not None else np.expm1(x)

    def tanh(self, x: Any) -> Any:
        """``tanh(x)``."""
        return self._torch.tanh(x) if self._torch is not None else np.tanh(x)

    def relu(self, x: Any) -> Any:
        """``max(x, 0)``."""
        return self._torch.relu(x) if self._torch is not None else np.maximum(x, 0)

    def sigmoid(self, x: Any) -> Any:
        """Logistic sigmoid, stable for large ``|x|`` (computed as ``(1 + tanh(x / 2)) / 2`` in numpy)."""
        if self._torch is not None:
            return self._torch.sigmoid(x)
        return 0.5 * (1.0 + np.tanh(0.5 * x))

    def einsum(self, spec: str, *operands: Any) -> Any:
        """Einstein summation."""
        if self._torch is not None:
            return self._torch.einsum(spec, *operands)
        return np.einsum(spec, *operands, optimize=True)


_BACKENDS: dict[str, Backend] = {}


def get_backend(x: Any) -> Backend:
    """Return the backend for ``x``: torch for torch tensors, numpy for anything else."""
    name = "torch" if is_tensor(x) else "numpy"
    if name not in _BACKENDS:
        _BACKENDS[name] = Backend(name)
    return _BACKENDS[name]


def as_float(x: Any, name: str) -> tuple[Backend, Any]:
    """Return ``(backend, x as a float array)``: float16 / bfloat16 / integer inputs are computed in float32."""
    backend = get_backend(x)
    return backend, backend.to_float(x, name)


def check_temperature(temperature: Any, name: str = "temperature") -> float:
    """Return ``temperature`` as a float, raising if it is not a finite number > 0.

    Args:
        temperature: The value to check.
        name: Argument name used in the message.

    Returns:
        The temperature as a Python float.

    Raises:
        ValueCheckError: If it is not a finite positive real number.
    """
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise ValueCheckError(f"Expected `{name}` to be a positive number, but got {temperature!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueCheckError(f"Expected `{name}` to be a finite number > 0, but got {temperature!r}")
    return value


def check_ndim(x: Any, name: str, allowed: dict[int, str]) -> None:
    """Raise a one-line :class:`~oodforge.errors.ShapeError` if ``x.ndim`` is not a key of ``allowed``.

    Args:
        x: Array or tensor.
        name: Argument name used in the message.
        allowed: Maps each accepted ``ndim`` to its named layout, e.g. ``{3: "(C, H, W)", 4: "(B, C, H, W)"}``.

    Raises:
        ShapeError: If the number of dimensions is not accepted.
    """
    if x.ndim not in allowed:
        layouts = " or ".join(allowed.values())
        raise ShapeError(f"Expected `{name}` to be {layouts}, but got shape {tuple(x.shape)}")


#: Accepted layouts of dense logits (class axis = -3).
LOGITS_LAYOUTS = {3: "(C, H, W)", 4: "(B, C, H, W)"}


def prepare_logits(logits: Any, temperature: Any = 1.0, name: str = "logits") -> tuple[Backend, Any]:
    """Check dense logits (C, H, W) / (B, C, H, W), cast to float and divide by the temperature.

    Args:
        logits: numpy array or torch tensor, class axis -3.
        temperature: Finite number > 0; 1 leaves the logits untouched.
        name: Argument name used in messages.

    Returns:
        ``(backend, z)`` with ``z`` float32 / float64 (float16, bfloat16 and integers become float32).

    Raises:
        ShapeError: If the logits are not 3-D or 4-D, or have no class.
        ValueCheckError: If the dtype is not real or the temperature is not a finite number > 0.
    """
    t = check_temperature(temperature)
    backend = get_backend(logits)
    if not hasattr(logits, "ndim"):
        logits = np.asarray(logits)
    check_ndim(logits, name, LOGITS_LAYOUTS)
    if logits.shape[-3] < 1:
        raise ShapeError(
            f"Expected `{name}` to have a class axis (-3) of size ≥ 1, but got shape {tuple(logits.shape)}"
        )
    z = backend.to_float(logits, name)
    return backend, (z if t == 1.0 else z / t)
