"""Name registry of anomaly scores: ``@register_score``, ``create_score``, ``list_scores``, ``is_score``.

A registered score is a function whose first positional parameter is the model output; every
later parameter is a hyper-parameter bound by keyword. ``create_score`` binds hyper-parameters by name and checks them
against the signature, so a misspelt keyword fails at creation instead of being passed through.
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from oodforge._registry import unknown_name
from oodforge.errors import UsageError

__all__ = ["create_score", "is_score", "list_scores", "register_score"]

F = TypeVar("F", bound=Callable[..., Any])

_SCORES: dict[str, Callable[..., Any]] = {}


def _hyper_params(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """Return the parameters of ``fn`` after its first (the input) that can be passed by keyword."""
    params = list(inspect.signature(fn).parameters.values())[1:]
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name: p for p in params if p.kind in kinds}


def register_score(name: str) -> Callable[[F], F]:
    """Register a score function under ``name`` (a decorator; the function is returned unchanged).

    Args:
        name: Registry name, e.g. ``"energy"``; must be unused.

    Returns:
        The decorator.

    Raises:
        UsageError: If ``name`` is already registered or the function takes no positional input.

    Example:
        >>> register_score("msp")(lambda logits: 1 - logits)
        Traceback (most recent call last):
        ...
        oodforge.errors.UsageError: Score `msp` is already registered (by msp_score)
    """

    def decorator(fn: F) -> F:
        if name in _SCORES:
            raise UsageError(f"Score `{name}` is already registered (by {_SCORES[name].__qualname__})")
        params = list(inspect.signature(fn).parameters.values())
        first_kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        if not params or params[0].kind not in first_kinds:
            raise UsageError(f"Expected score `{name}` to take its input as first positional parameter")
        _SCORES[name] = fn
        return fn

    return decorator


def _lookup(name: str) -> Callable[..., Any]:
    """Return the function registered as ``name`` or raise with close matches and the available names."""
    try:
        return _SCORES[name]
    except KeyError:
        raise unknown_name("score", name, _SCORES) from None


def create_score(name: str, **kwargs: Any) -> Callable[..., Any]:
    """Return the score ``name`` with its hyper-parameters bound (a :func:`functools.partial`).

    Args:
        name: A registered name (see :func:`list_scores`).
        **kwargs: Hyper-parameters, checked by name against the function's signature.

    Returns:
        A callable taking the model output, e.g. logits (C, H, W) / (B, C, H, W), and returning the
        score map (H, W) / (B, H, W), higher = more anomalous.

    Raises:
        UsageError: Unknown name (the message lists close matches and every available name),
            unknown keyword (named, with the accepted ones), or a required keyword missing.

    Example:
        >>> import numpy as np
        >>> score = create_score("energy", temperature=2.0)
        >>> score(np.zeros((4, 1, 1))).round(4).tolist()
        [[-2.7726]]
    """
    fn = _lookup(name)
    accepted = _hyper_params(fn)
    for key in kwargs:
        if key not in accepted:
            names = ", ".join(f"`{k}`" for k in accepted) or "none"
            raise UsageError(f"Unknown keyword `{key}` for score `{name}`; accepted keywords: {names}")
    missing = [k for k, p in accepted.items() if p.default is inspect.Parameter.empty and k not in kwargs]
    if missing:
        raise UsageError(f"Score `{name}` requires keyword `{missing[0]}`: create_score({name!r}, {missing[0]}=...)")
    return functools.partial(fn, **kwargs)


def list_scores(pattern: str | None = None) -> list[str]:
    """Return the sorted registered names, optionally filtered by a shell-style ``pattern``.

    Args:
        pattern: An :mod:`fnmatch` pattern, e.g. ``"*logit*"`` (case-sensitive); ``None`` lists all.

    Returns:
        The matching names, sorted.

    Example:
        >>> list_scores("*logit*")
        ['maxlogit']
    """
    names = sorted(_SCORES)
    return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def is_score(name: str) -> bool:
    """Return whether ``name`` is a registered score."""
    return name in _SCORES
