"""Typical real-world heights of the 80 COCO categories, for metric (ground-plane) scaling.

Each value is the vertical extent in metres of a typical specimen in its usual resting pose
on the ground (an animal standing, a chair upright, food and tools lying on a surface). Thin
objects that usually lie flat (cutlery, phones, pizza) therefore get small heights and are
pasted small under ``scale_mode: metric``; the final-area clamp
(``synthesis.geometry.final_area_ratio``) bounds the result either way. Values are rounded
ballpark figures, not measurements; override any of them with
``synthesis.geometry.category_heights_m``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["CATEGORY_HEIGHTS_M"]

_HEIGHTS: dict[str, float] = {
    # people and vehicles
    "person": 1.70,  # adult standing
    "bicycle": 1.00,  # to the handlebar / saddle
    "car": 1.50,  # passenger car
    "motorcycle": 1.10,
    "airplane": 12.0,  # narrow-body airliner to the tail fin (COCO airplanes are mostly airliners)
    "bus": 3.20,
    "train": 4.00,
    "truck": 3.00,
    "boat": 2.00,  # small motor or sailing boat hull + cabin
    # street furniture (COCO masks cover the head / plate, not the pole)
    "traffic light": 0.90,  # signal head
    "fire hydrant": 0.75,
    "stop sign": 0.75,  # the octagonal plate
    "parking meter": 1.40,  # meter on its post
    "bench": 0.85,
    # animals, standing
    "bird": 0.25,  # pigeon-sized
    "cat": 0.30,
    "dog": 0.60,
    "horse": 1.60,
    "sheep": 0.90,
    "cow": 1.40,
    "elephant": 3.00,
    "bear": 1.20,  # on all fours
    "zebra": 1.40,
    "giraffe": 4.50,
    # accessories
    "backpack": 0.45,
    "umbrella": 1.00,  # open
    "handbag": 0.30,
    "tie": 0.50,  # hanging length
    "suitcase": 0.65,  # upright
    # sports gear (lying, except balls and gloves)
    "frisbee": 0.03,
    "skis": 0.10,
    "snowboard": 0.10,
    "sports ball": 0.22,
    "kite": 0.80,
    "baseball bat": 0.07,
    "baseball glove": 0.25,
    "skateboard": 0.12,
    "surfboard": 0.10,
    "tennis racket": 0.05,
    # kitchen and tableware
    "bottle": 0.30,
    "wine glass": 0.20,
    "cup": 0.10,
    "fork": 0.02,
    "knife": 0.02,
    "spoon": 0.02,
    "bowl": 0.08,
    # food
    "banana": 0.05,
    "apple": 0.08,
    "sandwich": 0.08,
    "orange": 0.08,
    "broccoli": 0.15,
    "carrot": 0.05,
    "hot dog": 0.06,
    "pizza": 0.04,
    "donut": 0.05,
    "cake": 0.12,
    # furniture
    "chair": 0.90,
    "couch": 0.85,
    "potted plant": 0.60,
    "bed": 0.60,
    "dining table": 0.75,
    "toilet": 0.75,
    # electronics and appliances
    "tv": 0.60,  # ~40-inch screen
    "laptop": 0.25,  # open
    "mouse": 0.04,
    "remote": 0.03,
    "keyboard": 0.03,
    "cell phone": 0.01,
    "microwave": 0.30,
    "oven": 0.90,  # free-standing range
    "toaster": 0.20,
    "sink": 0.25,  # basin
    "refrigerator": 1.75,
    # household
    "book": 0.25,  # upright
    "clock": 0.30,
    "vase": 0.30,
    "scissors": 0.02,
    "teddy bear": 0.35,
    "hair drier": 0.25,
    "toothbrush": 0.02,
}

#: Typical height in metres of each COCO category (official COCO names), read-only.
CATEGORY_HEIGHTS_M: Mapping[str, float] = MappingProxyType(_HEIGHTS)
