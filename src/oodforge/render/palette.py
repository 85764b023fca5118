"""Named anomaly colours (linear RGB base colours, as Blender's Principled BSDF takes them)."""

from __future__ import annotations

__all__ = ["NAMED_COLOURS", "colour_entry"]

NAMED_COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.8, 0.02, 0.02),
    "green": (0.03, 0.6, 0.05),
    "blue": (0.02, 0.08, 0.8),
    "yellow": (0.85, 0.7, 0.02),
    "orange": (0.9, 0.3, 0.02),
    "purple": (0.35, 0.05, 0.6),
    "cyan": (0.02, 0.6, 0.7),
    "magenta": (0.75, 0.03, 0.5),
    "white": (0.85, 0.85, 0.85),
    "black": (0.02, 0.02, 0.02),
    "grey": (0.3, 0.3, 0.3),
    "gold": (0.8, 0.55, 0.15),
}


def colour_entry(item: str | tuple[float, float, float] | list[float]) -> tuple[str, tuple[float, float, float]]:
    """The (name, rgb) of a palette item: a known name, or an RGB triple named by its hex code.

    Example:
        >>> colour_entry("red")[0]
        'red'
        >>> colour_entry((1.0, 0.5, 0.0))
        ('ff8000', (1.0, 0.5, 0.0))
    """
    if isinstance(item, str):
        return item, NAMED_COLOURS[item]
    r, g, b = (float(x) for x in item)
    name = "".join(f"{round(x * 255):02x}" for x in (r, g, b))
    return name, (r, g, b)
