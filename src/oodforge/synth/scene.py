"""Step 1 of the per-image chain: what the scene offers before anything is pasted.

Two facts, computed once per frame and shared by the search and the renderer:

* the **camera** that sizes objects physically: the frame's ``camera/*.json`` when present, else the
  configured standard Cityscapes camera scaled to the frame height (``source`` says which);
* the **contact rows** of nearer-object candidates (:func:`contact_rows`): for every pixel of an occluder
  (persons, riders, vehicles, poles, traffic lights and signs by default) the image row where that object
  meets the ground, i.e. its lowest pixel. On a flat ground plane a lower contact row is nearer to the
  camera, so an occluder whose contact row lies below a pasted object's foot row stands in front of it.

Persons, riders and vehicles are separated by the Cityscapes ``instanceIds`` (ids >= 1000); pixels of
occluder labels without an instance id (poles, signs, groups) are split into 8-connected components of
their union, so a sign on its pole takes the pole's contact row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from oodforge.config.schema import StandardCamera
from oodforge.errors import ShapeError
from oodforge.sources.cityscapes import read_camera

__all__ = ["NO_OCCLUDER", "SceneCamera", "SceneInfo", "contact_rows", "scene_camera"]

#: Contact-row value of pixels that hold no occluder.
NO_OCCLUDER = -1


@dataclass(frozen=True)
class SceneCamera:
    """The camera used to size objects on the ground plane of one frame.

    Attributes:
        horizon_row: image row of the horizon, ``v0 - fy * tan(pitch)``.
        height_m: camera height above the road (m).
        fy_px: vertical focal length in pixels (for the foreshortening of ground shapes).
        source: ``json`` (the frame's ``camera/*.json``) or ``standard`` (the configured standard camera).
    """

    horizon_row: float
    height_m: float
    fy_px: float
    source: Literal["json", "standard"]


def scene_camera(
    camera_path: Path | None, image_rows: int, standard: StandardCamera, *, image_cols: int | None = None
) -> SceneCamera:
    """The frame's camera from its json, else the standard camera with ``fy`` and ``v0`` scaled to the frame.

    Args:
        camera_path: the frame's ``*_camera.json``, or ``None`` for the standard camera.
        image_rows: frame height in pixels.
        standard: ``synthesis.geometry.standard_camera``.
        image_cols: frame width in pixels; with it, the json's principal point must lie in the frame.

    Raises:
        SampleError: the camera json exists but is unreadable, incomplete or physically impossible.
    """
    if camera_path is not None:
        size = (image_cols, image_rows) if image_cols is not None else None
        cam = read_camera(camera_path, image_size=size)
        return SceneCamera(float(cam.horizon_row), float(cam.height_m), float(cam.fy), "json")
    k = image_rows / standard.rows
    fy, v0 = standard.fy_px * k, standard.v0_px * k
    return SceneCamera(v0 - fy * math.tan(standard.pitch_rad), standard.height_m, fy, "standard")


@dataclass(frozen=True)
class SceneInfo:
    """Everything the search and the renderer read from the scene besides its pixels.

    Attributes:
        label_ids: ``(H, W)`` uint8 labels the rules are judged on (Cityscapes label ids, or train ids).
        contact: ``(H, W)`` int32 contact row of the occluder at each pixel (:data:`NO_OCCLUDER` where
            none), or ``None`` when occlusion is off.
        camera: the sizing camera, or ``None`` when no camera applies (non-metric modes without one).
    """

    label_ids: npt.NDArray[np.uint8]
    contact: npt.NDArray[np.int32] | None
    camera: SceneCamera | None

    def nearer(self, x0: int, y0: int, w: int, h: int, foot_row: int) -> npt.NDArray[np.bool_] | None:
        """``(h, w)`` bool: pixels of the window held by an occluder standing nearer than ``foot_row``."""
        if self.contact is None:
            return None
        return np.asarray(self.contact[y0 : y0 + h, x0 : x0 + w] > foot_row)


def contact_rows(
    label_ids: npt.NDArray[np.integer],
    occluder_lut: npt.NDArray[np.bool_],
    instance_ids: npt.NDArray[np.integer] | None = None,
) -> npt.NDArray[np.int32]:
    """Per pixel, the lowest row of the occluding object it belongs to; :data:`NO_OCCLUDER` elsewhere.

    Args:
        label_ids: ``(H, W)`` label ids (values < 256).
        occluder_lut: ``(256,)`` bool, True for occluder labels.
        instance_ids: ``(H, W)`` Cityscapes instance ids (``label * 1000 + k`` for countable objects), or
            ``None``; occluder pixels with an id >= 1000 form one object per id, the others are grouped
            into 8-connected components.

    Returns:
        ``(H, W)`` int32 contact rows.
    """
    if label_ids.ndim != 2 or occluder_lut.shape != (256,):
        raise ShapeError(f"contact_rows: labels {label_ids.shape}, lut {occluder_lut.shape}; expected (H, W), (256,)")
    if instance_ids is not None and instance_ids.shape != label_ids.shape:
        raise ShapeError(f"contact_rows: instance ids {instance_ids.shape}; expected {label_ids.shape} as the labels")
    height, width = label_ids.shape
    table = occluder_lut.astype(np.uint8)[None, :]
    occ = np.asarray(cv2.LUT(np.ascontiguousarray(label_ids, dtype=np.uint8), table), dtype=bool)
    out = np.full((height, width), NO_OCCLUDER, dtype=np.int32)
    if not occ.any():
        return out
    stuff = occ
    if instance_ids is not None:
        things = occ & (instance_ids >= 1000)
        stuff = occ & ~things
        flat = np.flatnonzero(things)
        if flat.size:
            ids = instance_ids.ravel()[flat]
            # flat indices grow with the row: the last occurrence of an id is on its lowest row
            uniq, first_rev = np.unique(ids[::-1], return_index=True)
            bottom = (flat[flat.size - 1 - first_rev] // width).astype(np.int32)
            out.ravel()[flat] = bottom[np.searchsorted(uniq, ids)]
    if stuff.any():
        _, comp, stats, _ = cv2.connectedComponentsWithStats(stuff.view(np.uint8), connectivity=8)
        bottom = (stats[:, cv2.CC_STAT_TOP] + stats[:, cv2.CC_STAT_HEIGHT] - 1).astype(np.int32)
        out[stuff] = bottom[comp[stuff]]
    return out
