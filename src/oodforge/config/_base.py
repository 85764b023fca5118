"""Shared pieces of the config schemas: the base model, validated number types, strict YAML validation.

Every config read from a file (synth, render, train) goes through :func:`validate_strict`: pydantic's
strict mode, so ``seed: "123"``, ``seed: 1.5``, ``reject_border: "yes"`` or ``max_upscale: true`` are
errors, while what YAML naturally writes still loads: an int for a float, a string for a path or a
``Literal``, and a list for a tuple (:class:`Strict` turns YAML lists into tuples where its fields
expect one, as JSON-mode validation would; JSON mode itself cannot be used, as a ``before`` validator
hands Python objects on). Models built from Python objects (``SynthConfig(...)``) keep pydantic's
ordinary rules.
"""

from __future__ import annotations

import datetime
import os
import types
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["Probability", "Ratio", "Strict", "field_loc", "ordered_pair", "validate_strict"]

T = TypeVar("T", int, float)
M = TypeVar("M", bound=BaseModel)
Loc = tuple[int | str, ...]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
_YAML = "oodforge_yaml"  # validation context flag set by validate_strict


def _unwrap(tp: Any) -> Any:
    """``tp`` without ``Annotated`` and without ``| None`` (pydantic adds no location step for either)."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return tp


def _as_tuples(tp: Any, value: Any) -> Any:
    """``value`` with its lists turned into tuples wherever type ``tp`` expects a tuple (models do their own)."""
    tp = _unwrap(tp)
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType) and isinstance(value, list):
        member = next((m for m in args if get_origin(_unwrap(m)) is tuple), None)
        return value if member is None else _as_tuples(member, value)
    if origin is tuple and isinstance(value, list):
        if args and args[-1] is Ellipsis:
            return tuple(_as_tuples(args[0], v) for v in value)
        return tuple(_as_tuples(args[i], v) if i < len(args) else v for i, v in enumerate(value))
    if origin is list and args and isinstance(value, list):
        return [_as_tuples(args[0], v) for v in value]
    if origin is dict and args and isinstance(value, dict):
        return {k: _as_tuples(args[1], v) for k, v in value.items()}
    return value


class Strict(BaseModel):
    """A frozen model that forbids unknown keys and validates its defaults (base of every config model)."""

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _yaml_tuples(cls, data: Any, info: ValidationInfo) -> Any:
        """Under :func:`validate_strict`: YAML lists become tuples where a field expects a tuple."""
        if not isinstance(data, dict) or not (isinstance(info.context, dict) and info.context.get(_YAML)):
            return data
        fields = cls.model_fields
        return {k: _as_tuples(fields[k].annotation, v) if k in fields else v for k, v in data.items()}


def ordered_pair(v: tuple[T, T], what: str) -> tuple[T, T]:
    """``v`` when ``v[0] <= v[1]``; else a ValueError naming ``what``."""
    if v[0] > v[1]:
        raise ValueError(f"{what} min {v[0]} is greater than max {v[1]}; expected [min, max] with min <= max")
    return v


def _json_like(value: Any, loc: Loc, errors: list[InitErrorDetails]) -> Any:
    """``value`` as plain YAML data (paths as strings, tuples as lists); other values are recorded in ``errors``."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, list | tuple):
        return [_json_like(v, (*loc, i), errors) for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                msg = "a mapping key of type {what}; expected a string key (quote it)"
                err = PydanticCustomError("key_type", msg, {"what": type(k).__name__})
                errors.append(InitErrorDetails(type=err, loc=(*loc, str(k)), input=k))
                continue
            out[k] = _json_like(v, (*loc, k), errors)
        return out
    kind = "date/time" if isinstance(value, datetime.date | datetime.time) else type(value).__name__
    msg = "a YAML {what}, not a string, number, boolean, list or mapping (quote it if it is text)"
    errors.append(InitErrorDetails(type=PydanticCustomError("yaml_type", msg, {"what": kind}), loc=loc, input=value))
    return None


def validate_strict(model: type[M], data: Any) -> M:
    """Validate parsed YAML ``data`` into ``model`` with strict types (no string-to-number or number-to-bool).

    Raises:
        ValidationError: the first problems, located by key (``loc``), as pydantic reports them.
    """
    errors: list[InitErrorDetails] = []
    plain = _json_like(data, (), errors)
    if errors:
        raise ValidationError.from_exception_data(model.__name__, errors)
    return model.model_validate(plain, strict=True, context={_YAML: True})


def field_loc(root: type[BaseModel], loc: Loc) -> Loc:
    """The key path of an error location: ``loc`` less the union-member tags pydantic puts in it.

    ``trainer.devices.int`` (``devices: int | Literal["auto"]``) becomes ``trainer.devices``.
    """
    out: list[int | str] = []
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if get_origin(tp) in (Union, types.UnionType):  # ``part`` names the union member, not a key
            tp = next((m for m in get_args(tp) if getattr(m, "__name__", None) == part), None)
            continue
        out.append(part)
        args = get_args(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            tp = field.annotation if field else None
        elif get_origin(tp) is dict and args:
            tp = args[1]
        elif get_origin(tp) is list and args:
            tp = args[0]
        elif get_origin(tp) is tuple and args:
            index = part if isinstance(part, int) else 0
            tp = args[0] if args[-1] is Ellipsis else args[index] if index < len(args) else None
        else:
            tp = None
    return tuple(out)
