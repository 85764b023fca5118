"""The official Cityscapes label table (as in cityscapesScripts ``helpers/labels.py``), one source of truth.

``tests/sources/test_cityscapes_labels.py`` checks this copy field by field against cityscapesscripts.
Label ids index the ``*_gtFine_labelIds.png`` files; train ids are the 19 evaluation classes, with
255 = void (ignored).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from oodforge.errors import ConfigError

__all__ = [
    "LABELS",
    "TRAIN_ID_NAMES",
    "VOID_TRAIN_ID",
    "Label",
    "id2label",
    "label_id_to_train_id_lut",
    "label_ids_for_names",
    "name2label",
    "train_id_colors",
    "trainid2label",
]

VOID_TRAIN_ID = 255


@dataclass(frozen=True)
class Label:
    """One Cityscapes label: name, label id, train id (255 = void), category and colour (RGB)."""

    name: str
    id: int
    train_id: int
    category: str
    category_id: int
    has_instances: bool
    ignore_in_eval: bool
    color: tuple[int, int, int]


# fmt: off
LABELS: tuple[Label, ...] = (
    Label("unlabeled",             0, 255, "void",         0, False, True,  (0, 0, 0)),
    Label("ego vehicle",           1, 255, "void",         0, False, True,  (0, 0, 0)),
    Label("rectification border",  2, 255, "void",         0, False, True,  (0, 0, 0)),
    Label("out of roi",            3, 255, "void",         0, False, True,  (0, 0, 0)),
    Label("static",                4, 255, "void",         0, False, True,  (0, 0, 0)),
    Label("dynamic",               5, 255, "void",         0, False, True,  (111, 74, 0)),
    Label("ground",                6, 255, "void",         0, False, True,  (81, 0, 81)),
    Label("road",                  7,   0, "flat",         1, False, False, (128, 64, 128)),
    Label("sidewalk",              8,   1, "flat",         1, False, False, (244, 35, 232)),
    Label("parking",               9, 255, "flat",         1, False, True,  (250, 170, 160)),
    Label("rail track",           10, 255, "flat",         1, False, True,  (230, 150, 140)),
    Label("building",             11,   2, "construction", 2, False, False, (70, 70, 70)),
    Label("wall",                 12,   3, "construction", 2, False, False, (102, 102, 156)),
    Label("fence",                13,   4, "construction", 2, False, False, (190, 153, 153)),
    Label("guard rail",           14, 255, "construction", 2, False, True,  (180, 165, 180)),
    Label("bridge",               15, 255, "construction", 2, False, True,  (150, 100, 100)),
    Label("tunnel",               16, 255, "construction", 2, False, True,  (150, 120, 90)),
    Label("pole",                 17,   5, "object",       3, False, False, (153, 153, 153)),
    Label("polegroup",            18, 255, "object",       3, False, True,  (153, 153, 153)),
    Label("traffic light",        19,   6, "object",       3, False, False, (250, 170, 30)),
    Label("traffic sign",         20,   7, "object",       3, False, False, (220, 220, 0)),
    Label("vegetation",           21,   8, "nature",       4, False, False, (107, 142, 35)),
    Label("terrain",              22,   9, "nature",       4, False, False, (152, 251, 152)),
    Label("sky",                  23,  10, "sky",          5, False, False, (70, 130, 180)),
    Label("person",               24,  11, "human",        6, True,  False, (220, 20, 60)),
    Label("rider",                25,  12, "human",        6, True,  False, (255, 0, 0)),
    Label("car",                  26,  13, "vehicle",      7, True,  False, (0, 0, 142)),
    Label("truck",                27,  14, "vehicle",      7, True,  False, (0, 0, 70)),
    Label("bus",                  28,  15, "vehicle",      7, True,  False, (0, 60, 100)),
    Label("caravan",              29, 255, "vehicle",      7, True,  True,  (0, 0, 90)),
    Label("trailer",              30, 255, "vehicle",      7, True,  True,  (0, 0, 110)),
    Label("train",                31,  16, "vehicle",      7, True,  False, (0, 80, 100)),
    Label("motorcycle",           32,  17, "vehicle",      7, True,  False, (0, 0, 230)),
    Label("bicycle",              33,  18, "vehicle",      7, True,  False, (119, 11, 32)),
    Label("license plate",        -1,  -1, "vehicle",      7, False, True,  (0, 0, 142)),
)
# fmt: on

name2label: dict[str, Label] = {lab.name: lab for lab in LABELS}
id2label: dict[int, Label] = {lab.id: lab for lab in LABELS}
trainid2label: dict[int, Label] = {}
for _lab in reversed(LABELS):
    trainid2label[_lab.train_id] = _lab

#: The 19 evaluation class names, index = train id.
TRAIN_ID_NAMES: tuple[str, ...] = tuple(
    sorted((lab for lab in LABELS if 0 <= lab.train_id < 255), key=lambda lab: lab.train_id)[i].name for i in range(19)
)


def label_id_to_train_id_lut() -> np.ndarray:
    """A (256,) uint8 look-up table from label id to train id; ids outside the table map to 255.

    Example:
        >>> lut = label_id_to_train_id_lut()
        >>> int(lut[7]), int(lut[1]), int(lut[26]), int(lut[250])
        (0, 255, 13, 255)
    """
    lut = np.full(256, VOID_TRAIN_ID, dtype=np.uint8)
    for lab in LABELS:
        if lab.id >= 0 and 0 <= lab.train_id < 255:
            lut[lab.id] = lab.train_id
    return lut


def train_id_colors() -> np.ndarray:
    """A (256, 3) uint8 RGB palette indexed by train id (void = black)."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    for tid, name in enumerate(TRAIN_ID_NAMES):
        pal[tid] = name2label[name].color
    return pal


def label_ids_for_names(names: Iterable[str], key: str) -> list[int]:
    """Label ids of Cityscapes label names; ``key`` names the config key in the error message.

    Raises:
        ConfigError: a name is not a Cityscapes label (the message suggests the closest one).
    """
    ids = []
    valid = [lab.name for lab in LABELS if lab.id >= 0]
    for name in names:
        lab = name2label.get(name)
        if lab is None or lab.id < 0:
            close = difflib.get_close_matches(name.replace("_", " "), valid, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"{key}: '{name}' is not a Cityscapes label name{hint} Expected one of: {', '.join(valid)}"
            )
        ids.append(lab.id)
    return ids
