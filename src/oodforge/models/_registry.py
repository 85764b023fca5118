"""Name registry of segmentation models: ``@register_model``, ``create_model``, ``list_models``, ``is_model``.

A builder is a function taking keyword-only hyper-parameters, ``num_classes`` among them, and returning a
:class:`~oodforge.models.SegmentationModel`. ``create_model`` checks keywords against the builder's
signature, so a misspelt keyword fails with its name instead of being passed through (timm#2516).
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from oodforge._registry import unknown_name
from oodforge.errors import UsageError
from oodforge.models._base import SegmentationModel
from oodforge.models._weights import check_weights_path, load_model_weights, read_state_dict
from oodforge.models.convention import InputConvention

__all__ = ["create_model", "infer_num_classes", "is_model", "list_models", "model_convention", "register_model"]

F = TypeVar("F", bound=Callable[..., SegmentationModel])

_MODELS: dict[str, Callable[..., SegmentationModel]] = {}


def register_model(name: str) -> Callable[[F], F]:
    """Register a model builder under ``name`` (a decorator; the builder is returned unchanged).

    Args:
        name: Registry name, e.g. ``"erfnet"``; must be unused.

    Returns:
        The decorator.

    Raises:
        UsageError: If ``name`` is taken, or the builder takes ``*args`` / ``**kwargs`` or no ``num_classes``.

    Example:
        >>> register_model("erfnet")(lambda *, num_classes=19: None)
        Traceback (most recent call last):
        ...
        oodforge.errors.UsageError: Model `erfnet` is already registered (by erfnet)
    """

    def decorator(fn: F) -> F:
        if name in _MODELS:
            raise UsageError(f"Model `{name}` is already registered (by {_MODELS[name].__qualname__})")
        params = inspect.signature(fn).parameters
        variadic = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        if any(p.kind in variadic for p in params.values()):
            raise UsageError(f"Model builder `{name}` must declare its keywords explicitly (no *args / **kwargs)")
        if "num_classes" not in params:
            raise UsageError(f"Model builder `{name}` must accept a `num_classes` keyword")
        _MODELS[name] = fn
        return fn

    return decorator


def _lookup(name: str) -> Callable[..., SegmentationModel]:
    """Return the builder registered as ``name`` or raise with close matches and the available names."""
    try:
        return _MODELS[name]
    except KeyError:
        raise unknown_name("model", name, _MODELS) from None


def _class_axes(builder: Callable[..., SegmentationModel], kwargs: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Key -> (axis, extra outputs) of the tensors whose shape follows ``num_classes``.

    Two models are built on the meta device; extra is 1 for a C + 1 ("no object") axis.
    """
    with torch.device("meta"):
        a = builder(num_classes=3, **kwargs).state_dict()
        b = builder(num_classes=5, **kwargs).state_dict()
    axes: dict[str, tuple[int, int]] = {}
    for key, ta in a.items():
        # C outputs (3 vs 5), or C + 1 with a "no object" class (4 vs 6)
        diff = [i for i, (x, y) in enumerate(zip(ta.shape, b[key].shape, strict=False)) if y - x == 2 and x in (3, 4)]
        if diff:
            axes[key] = (diff[0], int(ta.shape[diff[0]]) - 3)
    return axes


def infer_num_classes(name: str, state: dict[str, torch.Tensor], **kwargs: Any) -> int | None:
    """The class count of a state dict for model ``name`` (None when no class-dependent key is in it)."""
    for key, (axis, extra) in _class_axes(_lookup(name), kwargs).items():
        if key in state and state[key].ndim > axis:
            return int(state[key].shape[axis]) - extra
    return None


def create_model(
    name: str, *, num_classes: int | None = 19, pretrained_path: str | Path | None = None, **kwargs: Any
) -> SegmentationModel:
    """Build the registered model ``name``, optionally loading its full weights from a local file.

    Args:
        name: A registered name (see :func:`list_models`).
        num_classes: Number of semantic classes C (19 for Cityscapes trainIds); ``None`` with
            ``pretrained_path``: read from the weights (e.g. 20 for a 19 + void Cityscapes model).
        pretrained_path: Local file holding a state dict of this very model (``torch.save(model.state_dict())``,
            a training checkpoint with a ``state_dict`` / ``model_state`` / ``model`` entry, ``module.``
            prefixes, quantised tensors); loaded strictly (see :func:`~oodforge.models.load_model_weights`).
            Nothing is ever downloaded.
        **kwargs: Builder hyper-parameters, checked by name against its signature (e.g. ``output_stride``,
            ``backbone_weights`` for the DeepLab models).

    Returns:
        The model, in training mode.

    Raises:
        UsageError: Unknown name (close matches and every available name listed), unknown keyword
            (named, with the accepted ones), or a bad ``num_classes``.
        InputFileError: ``pretrained_path`` missing, unreadable or not matching the model (a class count
            that differs from ``num_classes`` is named as such).

    Example:
        >>> model = create_model("erfnet", num_classes=19)
        >>> model.num_classes
        19
        >>> create_model("erfnet", widht=2)
        Traceback (most recent call last):
        ...
        oodforge.errors.UsageError: Unknown keyword `widht` for model `erfnet`; accepted keywords: none
    """
    builder = _lookup(name)
    accepted = [k for k in inspect.signature(builder).parameters if k != "num_classes"]
    for key in kwargs:
        if key not in accepted:
            names = ", ".join(f"`{k}`" for k in accepted) or "none"
            raise UsageError(f"Unknown keyword `{key}` for model `{name}`; accepted keywords: {names}")
    axes: dict[str, tuple[int, int]] = {}
    if pretrained_path is not None:
        path = check_weights_path(pretrained_path, "model weights")
        axes = _class_axes(builder, kwargs)
        if num_classes is None:
            state = read_state_dict(path, "model weights")
            num_classes = next(
                (int(state[k].shape[a]) - e for k, (a, e) in axes.items() if k in state and state[k].ndim > a), None
            )
            if num_classes is None:
                raise UsageError(
                    f"cannot tell the class count of {path} for model `{name}`; pass num_classes (--num-classes)"
                )
    if num_classes is None:
        num_classes = 19
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise UsageError(f"Expected `num_classes` to be an integer ≥ 1, but got {num_classes!r}")
    model = builder(num_classes=num_classes, **kwargs)
    if pretrained_path is not None:
        built = num_classes

        def hint(key: str, shape: tuple[int, ...]) -> str | None:
            if key not in axes or len(shape) <= axes[key][0]:
                return None
            found = shape[axes[key][0]] - axes[key][1]
            return (
                f"model weights {pretrained_path} have {found} classes (`{key}` {shape}) but the model was built "
                f"with num_classes={built}; use --num-classes {found} (or num_classes={found})"
            )

        load_model_weights(model, pretrained_path, strict=True, shape_hint=hint)
    return model


def model_convention(name: str, **kwargs: Any) -> InputConvention:
    """The published input convention of model ``name`` (built on the meta device: no memory, no weights)."""
    with torch.device("meta"):
        model = _lookup(name)(num_classes=3, **kwargs)
    return type(model).input_convention


def list_models(pattern: str | None = None) -> list[str]:
    """Return the sorted registered names, optionally filtered by a shell-style ``pattern``.

    Args:
        pattern: An :mod:`fnmatch` pattern, e.g. ``"deeplab*"`` (case-sensitive); ``None`` lists all.

    Returns:
        The matching names, sorted.

    Example:
        >>> list_models("deeplabv3plus_*")
        ['deeplabv3plus_resnet101', 'deeplabv3plus_resnet50']
    """
    names = sorted(_MODELS)
    return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def is_model(name: str) -> bool:
    """Return whether ``name`` is a registered model."""
    return name in _MODELS
