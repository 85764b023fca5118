"""Inference with a trained checkpoint: overlays, Cityscapes submission PNGs, anomaly score maps.

``predict_image``: one image → an overlay PNG (image | segmentation | anomaly heat map).
``predict_folder``: a folder of images → ``<id>.png`` Cityscapes labelIds (the submission format) and
``<id>.npy`` float16 anomaly scores that ``oodforge eval`` reads (id = file stem without ``_leftImg8bit``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from oodforge._io import atomic_write_bytes, encode_png, read_image_rgb
from oodforge.errors import InputFileError
from oodforge.eval.score_io import write_score_map
from oodforge.learn._transforms import IMAGENET_MEAN, IMAGENET_STD, to_image_tensor
from oodforge.sources.cityscapes_labels import LABELS, train_id_colors

__all__ = ["load_module", "predict_arrays", "predict_folder", "predict_image", "train_id_to_label_id_lut"]

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")


def train_id_to_label_id_lut() -> np.ndarray:
    """(256,) uint8: train id → Cityscapes label id (void → 0 ``unlabeled``)."""
    lut = np.zeros(256, dtype=np.uint8)
    for lab in LABELS:
        if 0 <= lab.train_id < 255 and lab.id >= 0:
            lut[lab.train_id] = lab.id
    return lut


def load_module(checkpoint: str | Path, device: str | None = None) -> torch.nn.Module:
    """Load an ``oodforge train`` checkpoint in eval mode (on CUDA when present unless ``device``)."""
    from oodforge.learn.lightning_module import OodforgeModule

    path = Path(checkpoint)
    if not path.is_file():
        raise InputFileError(f"{path}: checkpoint not found")
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    module = OodforgeModule.load_from_checkpoint(path, map_location=dev)
    module.eval()
    return module


@torch.no_grad()
def predict_arrays(module: torch.nn.Module, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB → (train ids (H, W) uint8, anomaly score (H, W) float32, higher = more anomalous)."""
    from oodforge.learn.lightning_module import anomaly_score

    x = to_image_tensor(image, IMAGENET_MEAN, IMAGENET_STD)[None].to(next(module.parameters()).device)
    h, w = image.shape[:2]
    pad_h, pad_w = (-h) % 32, (-w) % 32  # every model family accepts multiples of 32
    if pad_h or pad_w:
        x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h))
    out = module(x)
    pred = out["logits"][0, :, :h, :w].argmax(0).to(torch.uint8).cpu().numpy()
    score = anomaly_score(module, out)[0, :h, :w].float().cpu().numpy()  # type: ignore[arg-type]
    return pred, score


def _heat(score: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(score, [1, 99])
    norm = np.clip((score - lo) / max(hi - lo, 1e-12), 0, 1)
    return cv2.cvtColor(cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def predict_image(module: torch.nn.Module, image_path: Path, out_png: Path) -> Path:
    """Write ``image | segmentation overlay | anomaly heat map`` side by side as one PNG."""
    image = read_image_rgb(image_path)
    pred, score = predict_arrays(module, image)
    seg = (0.5 * image + 0.5 * train_id_colors()[pred]).astype(np.uint8)
    heat = (0.35 * image + 0.65 * _heat(score)).astype(np.uint8)
    atomic_write_bytes(out_png, encode_png(np.concatenate([image, seg, heat], axis=1), 3))
    return out_png


def predict_folder(
    module: torch.nn.Module, folder: Path, out_dir: Path, *, progress: Callable[[int, int], None] | None = None
) -> int:
    """Predict every image under ``folder`` (recursively); returns the number of images written."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise InputFileError(f"{folder}: no images ({', '.join(IMAGE_EXTS)}) found")
    lut = train_id_to_label_id_lut()
    for i, path in enumerate(files):
        image_id = path.stem.removesuffix("_leftImg8bit")
        pred, score = predict_arrays(module, read_image_rgb(path))
        atomic_write_bytes(out_dir / "labelIds" / f"{image_id}.png", encode_png(lut[pred], 3))
        write_score_map(out_dir / "scores" / f"{image_id}.npy", score)
        if progress:
            progress(i + 1, len(files))
    return len(files)
