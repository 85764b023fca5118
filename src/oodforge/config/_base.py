"""Shared pieces of the config schema: the strict base model and validated number types."""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Probability", "Ratio", "Strict", "ordered_pair"]

T = TypeVar("T", int, float)
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class Strict(BaseModel):
    """A frozen model that forbids unknown keys and validates its defaults."""

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)


def ordered_pair(v: tuple[T, T], what: str) -> tuple[T, T]:
    """``v`` when ``v[0] <= v[1]``; else a ValueError naming ``what``."""
    if v[0] > v[1]:
        raise ValueError(f"{what} min {v[0]} is greater than max {v[1]}; expected [min, max] with min <= max")
    return v
