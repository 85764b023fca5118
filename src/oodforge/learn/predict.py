"""Inference with a trained checkpoint or published weights: overlays, Cityscapes PNGs, score maps, logits.

Every image goes through the model's input convention (:mod:`oodforge.models.convention`): the one an
``oodforge train`` checkpoint recorded, or the published one of a registered model loaded from a weights
file, with flags overriding either.

``predict_image``: one image → an overlay PNG (image | segmentation | anomaly heat map).
``predict_folder``: a folder of images → ``<id>.png`` Cityscapes labelIds (the submission format) and
``<id>.npy`` float16 anomaly scores that ``oodforge eval`` reads (id = file stem without ``_leftImg8bit``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from oodforge._io import atomic_write_bytes, encode_png, read_image_rgb
from oodforge.errors import InputFileError, SampleError, UsageError, every_sample_needed
from oodforge.eval.score_io import write_score_map
from oodforge.models._weights import describe_load_error
from oodforge.models.convention import InputConvention, prepare_input, restore_logits
from oodforge.sources.cityscapes_labels import LABELS, train_id_colors

__all__ = [
    "Predictor",
    "checkpoint_convention",
    "load_module",
    "load_predictor",
    "predict_arrays",
    "predict_folder",
    "predict_image",
    "resolve_device",
    "train_id_to_label_id_lut",
]

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")


def train_id_to_label_id_lut() -> np.ndarray:
    """(256,) uint8: train id → Cityscapes label id (void → 0 ``unlabeled``)."""
    lut = np.zeros(256, dtype=np.uint8)
    for lab in LABELS:
        if 0 <= lab.train_id < 255 and lab.id >= 0:
            lut[lab.train_id] = lab.id
    return lut


@dataclass
class Predictor:
    """A segmentation model ready for images: its input convention, class count and anomaly score.

    Attributes:
        model: returns the output dict of :class:`~oodforge.models.SegmentationModel` for a batch.
        convention: how images are prepared and logits restored (:mod:`oodforge.models.convention`).
        num_classes: outputs of the model (e.g. 20 for 19 Cityscapes classes + void).
        score: ``(model, outputs) -> (B, h, w)`` anomaly score at the model's resolution, higher = more
            anomalous.
        description: what was loaded, for messages.
    """

    model: torch.nn.Module
    convention: InputConvention
    num_classes: int
    score: Callable[[torch.nn.Module, dict[str, torch.Tensor]], torch.Tensor]
    description: str

    @property
    def device(self) -> torch.device:
        """Where the model's parameters live."""
        return next(self.model.parameters()).device

    @torch.no_grad()
    def run(self, image: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(H, W, 3) uint8 RGB → (logits (C, H, W) float32, anomaly score (H, W) float32) at the image size."""
        x, prepared = prepare_input(image, self.convention, self.device)
        out = self.model(x)
        logits = restore_logits(out["logits"].float(), prepared, self.convention)[0]
        score = self.score(self.model, out).float()[:, None]
        score = restore_logits(score, prepared, self.convention)[0, 0]
        return logits, score


def _energy(_model: torch.nn.Module, out: dict[str, torch.Tensor]) -> torch.Tensor:
    return -torch.logsumexp(out["logits"].float(), dim=1)


def resolve_device(device: str | None) -> str:
    """``device``, or ``cuda`` when present else ``cpu``; checked here, before any file is read.

    Raises:
        UsageError: not a torch device name, or a device this machine does not have (e.g. ``cuda:3``).
    """
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        dev = torch.device("meta")
    if dev.type == "meta":  # holds no data: not a device to run on
        raise UsageError(f"--device {device!r}: not a torch device to run on; expected cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {device!r}: no CUDA device on this machine; use --device cpu")
    try:
        torch.empty(0, device=dev)  # a device index out of range, a backend not built in or not present
    except Exception as exc:  # backends raise RuntimeError, AssertionError, ...
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        raise UsageError(f"--device {device!r}: not usable here ({type(exc).__name__}: {first})") from None
    return device


def load_module(checkpoint: str | Path, device: str | None = None) -> torch.nn.Module:
    """Load an ``oodforge train`` checkpoint in eval mode (on CUDA when present unless ``device``).

    Raises:
        InputFileError: missing file, or a file that is not an ``oodforge train`` checkpoint.
    """
    path = Path(checkpoint)
    dev = resolve_device(device)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "not found"
        raise InputFileError(f"{path}: checkpoint {what}; expected a checkpoint file written by `oodforge train`")
    from oodforge.learn.lightning_module import OodforgeModule  # Lightning: imported once the file is there

    try:
        module = OodforgeModule.load_from_checkpoint(path, map_location=dev)
    except Exception as exc:  # Lightning/torch raise many kinds for foreign files
        raise InputFileError(
            f"{path}: not a checkpoint written by `oodforge train` ({describe_load_error(exc)}); for a plain "
            "state dict use --model NAME --weights PATH"
        ) from None
    module.eval()
    return module


def checkpoint_convention(module: torch.nn.Module) -> InputConvention:
    """The input convention an ``oodforge train`` checkpoint recorded (older ones: ImageNet at ``val_scale``)."""
    recorded = getattr(module, "input_convention", None)
    if isinstance(recorded, InputConvention):
        return recorded
    cfg: Any = module.cfg
    return InputConvention(normalization="imagenet", scale=float(cfg.data.val_scale), pad_multiple=32)


def load_predictor(
    *,
    checkpoint: str | Path | None = None,
    model: str | None = None,
    weights: str | Path | None = None,
    num_classes: int | None = None,
    device: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Predictor:
    """A :class:`Predictor` from an ``oodforge train`` checkpoint, or a registered model and a weights file.

    Args:
        checkpoint: an ``oodforge train`` checkpoint (records its model, classes and input convention).
        model: a registered model name (with ``weights``: any published state dict of that architecture).
        weights: the weights file for ``model``.
        num_classes: class count of ``weights`` (default: read from the file).
        device: ``cpu`` / ``cuda`` (default: cuda when present).
        overrides: input-convention fields to override (flags), e.g. ``{"normalization": "imagenet"}``.

    Raises:
        UsageError: neither or both of ``checkpoint`` and ``model`` + ``weights``.
        InputFileError: unreadable or mismatching files (one line).
    """
    from oodforge.models import create_model

    if (checkpoint is None) == (model is None and weights is None):
        raise UsageError("give either a checkpoint of `oodforge train` or --model NAME --weights PATH")
    if checkpoint is not None:
        module = load_module(checkpoint, device)
        from oodforge.learn.lightning_module import anomaly_score

        conv = checkpoint_convention(module).override(**(overrides or {}))
        cfg: Any = module.cfg
        return Predictor(
            module,
            conv,
            int(cfg.model.num_classes),
            lambda m, o: anomaly_score(m, o),  # type: ignore[arg-type]
            f"{Path(checkpoint).name}",
        )
    if model is None or weights is None:
        raise UsageError("--model and --weights go together: a registered model name and its weights file")
    dev = resolve_device(device)
    net = create_model(model, num_classes=num_classes, pretrained_path=weights).eval().to(dev)
    conv = type(net).input_convention.override(**(overrides or {}))
    return Predictor(net, conv, int(net.num_classes), _energy, f"{model} with {Path(weights).name}")


@torch.no_grad()
def predict_arrays(predictor: Predictor, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB → (train ids (H, W) uint8, anomaly score (H, W) float32, higher = more anomalous)."""
    logits, score = predictor.run(image)
    return logits.argmax(0).to(torch.uint8).cpu().numpy(), score.cpu().numpy()


def _heat(score: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(score, [1, 99])
    norm = np.clip((score - lo) / max(hi - lo, 1e-12), 0, 1)
    return cv2.cvtColor(cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def predict_image(predictor: Predictor, image_path: Path, out_png: Path) -> Path:
    """Write ``image | segmentation overlay | anomaly heat map`` side by side as one PNG."""
    with every_sample_needed():
        image = read_image_rgb(image_path)
    pred, score = predict_arrays(predictor, image)
    pred = np.where(pred < 19, pred, 255).astype(np.uint8)
    seg = (0.5 * image + 0.5 * train_id_colors()[pred]).astype(np.uint8)
    heat = (0.35 * image + 0.65 * _heat(score)).astype(np.uint8)
    atomic_write_bytes(out_png, encode_png(np.concatenate([image, seg, heat], axis=1), 3))
    return out_png


def predict_folder(
    predictor: Predictor,
    folder: Path,
    out_dir: Path,
    *,
    logits: bool = False,
    progress: Callable[[int, int], None] | None = None,
    failures: list[tuple[Path, str]] | None = None,
) -> int:
    """Predict every image under ``folder`` (recursively); returns the number of images written.

    Writes ``labelIds/<id>.png`` (Cityscapes label ids; a void output class becomes 0 ``unlabeled``),
    ``scores/<id>.npy`` (float16 anomaly score) and, with ``logits``, ``logits/<id>.npy`` (float16
    (C, H, W) logits at the image size, for ``oodforge score`` with any method).

    An image that cannot be read is skipped and appended to ``failures`` as (path, reason) when a list is
    given (the other images are still predicted); without a list its :class:`SampleError` propagates.
    """
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise InputFileError(f"{folder}: no images ({', '.join(IMAGE_EXTS)}) found")
    lut = train_id_to_label_id_lut()
    written = 0
    for i, path in enumerate(files):
        image_id = path.stem.removesuffix("_leftImg8bit")
        try:
            image = read_image_rgb(path)
        except SampleError as exc:
            if failures is None:
                raise
            failures.append((path, str(exc)))
            if progress:
                progress(i + 1, len(files))
            continue
        out, score_t = predictor.run(image)
        pred = out.argmax(0).to(torch.uint8).cpu().numpy()
        atomic_write_bytes(out_dir / "labelIds" / f"{image_id}.png", encode_png(lut[pred], 3))
        write_score_map(out_dir / "scores" / f"{image_id}.npy", score_t.cpu().numpy())
        if logits:
            buf = io.BytesIO()
            np.save(buf, np.clip(out.cpu().numpy(), -65504, 65504).astype(np.float16), allow_pickle=False)
            atomic_write_bytes(out_dir / "logits" / f"{image_id}.npy", buf.getvalue())
        written += 1
        if progress:
            progress(i + 1, len(files))
    return written
