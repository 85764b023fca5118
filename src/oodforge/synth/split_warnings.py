"""Warnings about the planned run that are not errors: a split that receives no image.

A config may carve a source split into ``part`` ranges; a range that no image id hashes into (a
narrow range on a small source, or ``[x, x]``) leaves its split silently empty while the other
splits are built. :func:`empty_split_warnings` names each such split so the CLI can say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from oodforge.config.schema import SynthConfig

__all__ = ["empty_split_warnings"]


def empty_split_warnings(cfg: SynthConfig, tasks: Iterable[tuple[str, str]], split: str | None = None) -> list[str]:
    """One line per selected split that the planned tasks leave without any image.

    Args:
        cfg: the resolved config.
        tasks: the planned ``(split, image_id)`` pairs (what :func:`oodforge.synth.runner.plan_tasks`
            returns).
        split: ``--split``: only this split was planned (the others are not warned about).

    Returns:
        Messages in config order, each naming the split, its source folder and its ``part`` range;
        empty when every selected split has images.
    """
    planned = {name for name, _ in tasks}
    root = Path(cfg.sources.cityscapes.root)
    out: list[str] = []
    for name, scfg in cfg.splits.items():
        if (split is not None and name != split) or name in planned:
            continue
        lo, hi = scfg.part
        folder = root / "leftImg8bit" / scfg.source
        if lo == hi:
            why, expected = f"part [{lo:g}, {hi:g}) of {folder} (source '{scfg.source}') is empty", "lo < hi"
        else:
            why = f"no image of {folder} (source '{scfg.source}') falls into part [{lo:g}, {hi:g})"
            expected = "a wider part (a part holds about (hi - lo) of the source's images)"
        out.append(f"splits.{name}: empty split, no images will be written: {why}; expected {expected}")
    return out
