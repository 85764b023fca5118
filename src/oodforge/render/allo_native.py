"""Read ALLO's native render layout (``render_binary.py``'s output) with ALLO's rules made explicit.

One experiment (``exp_<n>``) holds one folder per camera::

    exp_<n>/Camera<k>/normal/<day>_normal_<illum>.png                           normal run: frames
    exp_<n>/Camera<k>/fb_mask/<same name>.png                                   foreground masks (both runs)
    exp_<n>/Camera<k>/anomaly/<day>_<anomaly>_<illum>_<scale>_<depth>_<colour>.png   anomalous run: frames
    exp_<n>/Camera<k>/anomaly_mask/<same name>.png                              anomaly masks

Masks are 8-bit with three equal channels (one channel is accepted too; an alpha channel is ignored), 255 on
the object; any other value is off the object, as ALLO compares with ``== 255``. The rules, per frame:

- the image and each mask must be ``expect_size`` (ALLO: 1920×1080); ALLO checks anomalous frames only and
  resizes normal frames without a word: here every frame is checked, and resizing normal frames is an option;
- an anomalous frame needs *more than* ``min_pixel`` anomaly pixels (ALLO: ``count <= min_pixel`` is skipped);
- a missing or unreadable image or mask rejects the frame with its reason (ALLO lets a missing
  foreground mask through unnoticed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from oodforge._io import encode_png
from oodforge.errors import DataLayoutError, SampleError

__all__ = [
    "ALLO_MIN_PIXEL",
    "ALLO_SIZE",
    "AlloName",
    "CheckedFrame",
    "Experiment",
    "FrameSkipped",
    "NativeFrame",
    "allo_render_defaults",
    "check_native_frame",
    "find_experiments",
    "is_native_layout",
    "list_native_frames",
    "parse_allo_name",
    "read_native_mask",
]

#: ALLO's frame size (width, height): ``utils/setup.py``
ALLO_SIZE = (1920, 1080)
#: ``min_pixel`` of ALLO's ``render_config.yaml`` and ``preprocess.py``
ALLO_MIN_PIXEL = 2000
_CAMERA = re.compile(r"^Camera\d+$")
_RUN_DIRS = ("normal", "anomaly", "anomaly_mask", "fb_mask")
_NUM = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_NORMAL_NAME = re.compile(rf"^(\d+)_normal_({_NUM})$")
_ANOMALY_NAME = re.compile(rf"^(\d+)_(.+)_({_NUM})_({_NUM})_({_NUM})_([A-Za-z]+)$")


class FrameSkipped(SampleError):
    """A frame left out by a rule (``min_pixel``), not because it is damaged."""


@dataclass(frozen=True)
class AlloName:
    """The fields of an ALLO frame name ``<day>_<prefix>``; ``anomaly`` is None for a normal frame."""

    day: int
    illumination: float
    anomaly: str | None = None
    scale: float | None = None  # -1 when the scale mode was off
    depth: float | None = None
    colour: str | None = None


def parse_allo_name(stem: str) -> AlloName | None:
    """Parse ``<day>_normal_<illum>`` or ``<day>_<anomaly>_<illum>_<scale>_<depth>_<colour>``; None if neither.

    Example:
        >>> parse_allo_name("12_normal_10")
        AlloName(day=12, illumination=10.0, anomaly=None, scale=None, depth=None, colour=None)
        >>> parse_allo_name("3_drill_5_0.3_-1_default").colour
        'default'
    """
    m = _NORMAL_NAME.match(stem)
    if m:
        return AlloName(int(m[1]), float(m[2]))
    m = _ANOMALY_NAME.match(stem)
    if m and m[2] != "normal":
        return AlloName(int(m[1]), float(m[3]), m[2], float(m[4]), float(m[5]), m[6])
    return None


@dataclass(frozen=True)
class Experiment:
    """One ``exp_<n>`` folder; ``name`` is its folder name."""

    name: str
    path: Path


def _cameras(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and _CAMERA.match(p.name)), key=lambda p: int(p.name[6:]))


def allo_render_defaults(root: Path) -> tuple[tuple[int, int], int] | None:
    """For an ``oodforge render`` output written with ``output.layout: allo``: its (resolution, min_pixel); else None.

    Such an output is read as ALLO's layout (its ``exp_<n>/`` folders), with its config's size and ``min_pixel``.
    """
    import yaml

    from oodforge.render.config_io import render_config_from_dict

    path = root / "config.yaml"
    if not (root / "manifest.jsonl").is_file() or not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or (data.get("output") or {}).get("layout") != "allo":
            return None
        cfg = render_config_from_dict(data, str(path))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
        return None
    w, h = cfg.render.resolution
    return (int(w), int(h)), cfg.min_pixel


def is_native_layout(root: Path) -> bool:
    """True when ``root`` is an experiment (has ``Camera<k>/``) or a folder of experiments."""
    try:
        return bool(find_experiments(root))
    except DataLayoutError:
        return False


def find_experiments(root: Path) -> list[Experiment]:
    """The experiments under ``root``: ``root`` itself when it has ``Camera<k>/`` folders, else its sub-folders that do.

    Raises:
        DataLayoutError: ``root`` is not a folder or holds no experiment.
    """
    if not root.is_dir():
        raise DataLayoutError(f"{root}: not a folder; expected an ALLO experiment (exp_<n>/Camera<k>/...)")
    if _cameras(root):
        return [Experiment(root.resolve().name, root)]
    found = [Experiment(p.name, p) for p in sorted(root.iterdir()) if p.is_dir() and _cameras(p)]
    if not found:
        raise DataLayoutError(f"{root}: no Camera<k>/ folder here or one level down; expected exp_<n>/Camera<k>/...")
    return found


@dataclass(frozen=True)
class NativeFrame:
    """One frame of the native layout; paths are relative to the folder that was read (POSIX)."""

    experiment: str
    camera: str
    name: str  # the file name, <day>_<prefix>.png
    anomalous: bool
    image_rel: str
    fb_rel: str
    anomaly_rel: str | None = None  # the anomaly mask (anomalous frames)

    @property
    def where(self) -> str:
        """How messages name the frame: ``<experiment>/<camera>/<name>``."""
        return f"{self.experiment}/{self.camera}/{self.name}"


def _pngs(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.suffix == ".png"} if folder.is_dir() else set()


def list_native_frames(root: Path) -> tuple[list[Experiment], list[NativeFrame]]:
    """Every frame of every experiment under ``root``, sorted (experiment, camera number, name).

    A frame is named by its image (``normal/``, ``anomaly/``) or by its anomaly mask: an anomaly mask
    without its image is listed too, so that the check reports it. Files not ending in ``.png`` are not frames.

    Raises:
        DataLayoutError: no experiment, or an experiment with no frame at all.
    """
    experiments = find_experiments(root)
    frames: list[NativeFrame] = []
    for exp in experiments:
        base = exp.path.relative_to(root).as_posix() if exp.path != root else ""
        n = len(frames)
        for cam in _cameras(exp.path):
            pre = f"{base}/{cam.name}" if base else cam.name
            fb = f"{pre}/fb_mask"
            for name in sorted(_pngs(cam / "normal")):
                frames.append(NativeFrame(exp.name, cam.name, name, False, f"{pre}/normal/{name}", f"{fb}/{name}"))
            for name in sorted(_pngs(cam / "anomaly") | _pngs(cam / "anomaly_mask")):
                anomaly_rel = f"{pre}/anomaly_mask/{name}"
                frames.append(
                    NativeFrame(exp.name, cam.name, name, True, f"{pre}/anomaly/{name}", f"{fb}/{name}", anomaly_rel)
                )
        if len(frames) == n:
            raise DataLayoutError(
                f"{exp.path}: no frame in {', '.join(_RUN_DIRS[:2])}/ or anomaly_mask/ of any Camera<k>/"
            )
    return experiments, frames


def _decode(path: Path) -> tuple[bytes, np.ndarray]:
    """The file's bytes and pixels (as stored: BGR order, alpha kept), checked to be 8-bit."""
    name = f"{path.parent.name}/{path.name}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SampleError(f"{name} missing") from None
    except OSError as exc:
        raise SampleError(f"{name} cannot be read ({exc.strerror})") from None
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise SampleError(f"{name} unreadable ({len(data)} bytes, not an image)")
    if arr.dtype != np.uint8:
        raise SampleError(f"{name} is {arr.dtype}; expected 8-bit")
    return data, arr


def read_native_mask(path: Path) -> np.ndarray:
    """An ALLO mask as (H, W) uint8: one channel, or three equal ones (a fourth, alpha, is ignored).

    Raises:
        SampleError: missing, unreadable, not 8-bit, or channels that differ.
    """
    _, arr = _decode(path)
    if arr.ndim == 3:
        name = f"{path.parent.name}/{path.name}"
        if arr.shape[2] not in (3, 4):
            raise SampleError(f"{name} has {arr.shape[2]} channels; expected 1 or 3 equal ones")
        rgb = arr[..., :3]
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise SampleError(f"{name}: its channels differ; expected 3 equal channels")
        arr = np.ascontiguousarray(rgb[..., 0])
    return arr


@dataclass
class CheckedFrame:
    """A frame that passed the checks: the image to write and its masks (``on`` = 255 in ALLO's masks)."""

    image: bytes  # PNG bytes: the file as it is, or re-encoded (alpha dropped, or resized)
    fb: np.ndarray  # (H, W) bool
    anomaly: np.ndarray | None  # (H, W) bool, anomalous frames
    pixels: int  # anomaly pixels (0 for a normal frame)
    note: str = ""  # e.g. "resized from 64x32"


def _size_text(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]}"


def check_native_frame(
    root: Path, frame: NativeFrame, *, size: tuple[int, int], min_pixel: int, resize_normal: bool = False
) -> CheckedFrame:
    """Read and check one frame under ``root`` (see the module docstring for the rules).

    Args:
        root: the folder :func:`list_native_frames` read.
        frame: the frame.
        size: expected (width, height) of the image and of each mask.
        min_pixel: an anomalous frame needs more than this many anomaly pixels (255).
        resize_normal: resize a normal frame of another size (image: area interpolation, as ALLO; mask:
            nearest neighbour, so it stays 0/255) instead of rejecting it.

    Raises:
        FrameSkipped: an anomalous frame with ``<= min_pixel`` anomaly pixels.
        SampleError: anything missing, unreadable or of the wrong size (the reason in the message).
    """
    w, h = size
    raw, img = _decode(root / frame.image_rel)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise SampleError(f"image has shape {img.shape}; expected colour (H, W, 3)")
    fb = read_native_mask(root / frame.fb_rel)
    anomaly = read_native_mask(root / frame.anomaly_rel) if frame.anomaly_rel else None
    note = ""
    if img.shape[:2] != (h, w) or fb.shape != (h, w):
        if frame.anomalous or not resize_normal:
            what, bad = ("image", img.shape) if img.shape[:2] != (h, w) else ("fb_mask", fb.shape)
            raise SampleError(f"{what} is {_size_text(bad)}, expected {w}x{h}")
        note = f"resized from {_size_text(img.shape)}"
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        fb = cv2.resize(fb, (w, h), interpolation=cv2.INTER_NEAREST)
    if anomaly is not None and anomaly.shape != (h, w):
        raise SampleError(f"anomaly_mask is {_size_text(anomaly.shape)}, expected {w}x{h}")
    pixels = int(np.count_nonzero(anomaly == 255)) if anomaly is not None else 0
    if anomaly is not None and pixels <= min_pixel:
        raise FrameSkipped(f"{pixels} anomaly pixels <= min_pixel {min_pixel}: skipped (ALLO's rule)")
    data = encode_png(cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB)) if note or img.shape[2] == 4 else raw
    return CheckedFrame(data, fb == 255, None if anomaly is None else anomaly == 255, pixels, note)
