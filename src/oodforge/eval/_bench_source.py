"""Where ``oodforge benchmark`` gets one frame's model output: a model (one forward pass) or saved logits.

A frame's output is dense per-pixel class scores (C, H, W) at the image size (:class:`DenseOutput`), or a
mask-classification output whose per-pixel class scores depend on the class-query temperature
(:class:`MaskPairOutput` from ``class_logits`` + ``mask_logits`` files, :class:`ModelMaskOutput` from EoMT-like
models). :meth:`pixel_scores` gives the (C, H, W) input of the dense scores, exactly as ``oodforge score`` and
``Predictor.run`` compute it.

Saved logits (``--logits DIR``): ``DIR/<benchmark name>/<image_id>.npy|npz`` in the formats ``oodforge score``
reads (:mod:`oodforge.eval.scoring`), and ``DIR/cityscapes/<image_id>.npy|npz`` for the temperature fit and the
mIoU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from oodforge.errors import InputFileError, UsageError
from oodforge.eval.scoring import find_logit_files, load_logits
from oodforge.scores import mask_class_pixel_scores

__all__ = [
    "CITYSCAPES_GROUP",
    "DenseOutput",
    "FrameOutput",
    "LogitsSource",
    "MaskPairOutput",
    "ModelMaskOutput",
    "ModelSource",
    "Source",
]

#: Sub-folder of ``--logits`` holding the Cityscapes frames of the temperature fit and the mIoU.
CITYSCAPES_GROUP = "cityscapes"


class FrameOutput(Protocol):
    """One frame's model output at the image size."""

    is_mask: bool

    @property
    def hw(self) -> tuple[int, int]:
        """(H, W) of the output."""

    def pixel_scores(self, class_temperature: float = 1.0) -> np.ndarray:
        """(C, H, W) per-pixel class scores (dense: the logits), the class-query logits divided by T first."""


@dataclass
class DenseOutput:
    """Dense logits (C, H, W), as stored (float16 files stay float16, as ``oodforge score`` reads them)."""

    logits: np.ndarray
    is_mask: bool = False

    @property
    def hw(self) -> tuple[int, int]:
        """(H, W)."""
        return int(self.logits.shape[-2]), int(self.logits.shape[-1])

    def pixel_scores(self, class_temperature: float = 1.0) -> np.ndarray:
        """The logits (a class temperature does not apply to dense outputs)."""
        return self.logits


@dataclass
class MaskPairOutput:
    """``class_logits`` (Q, K+1) and ``mask_logits`` (Q, H, W) of a saved mask-classification output."""

    class_logits: np.ndarray
    mask_logits: np.ndarray
    is_mask: bool = True

    @property
    def hw(self) -> tuple[int, int]:
        """(H, W)."""
        return int(self.mask_logits.shape[-2]), int(self.mask_logits.shape[-1])

    def pixel_scores(self, class_temperature: float = 1.0) -> np.ndarray:
        """``Σ_q softmax(ℓ_q / T)[:K] · sigmoid(m_q)`` (what ``oodforge score --class-temperature T`` computes)."""
        out: np.ndarray = mask_class_pixel_scores(self.class_logits, self.mask_logits, temperature=class_temperature)
        return out


@dataclass
class ModelMaskOutput:
    """A mask-classification model's output: its T = 1 scores restored to the image, and what recomputes them."""

    dense: np.ndarray
    recompute: Callable[[float], np.ndarray]
    is_mask: bool = True

    @property
    def hw(self) -> tuple[int, int]:
        """(H, W)."""
        return int(self.dense.shape[-2]), int(self.dense.shape[-1])

    def pixel_scores(self, class_temperature: float = 1.0) -> np.ndarray:
        """The model's per-pixel class scores (T = 1), or recomputed from the class logits divided by T."""
        return self.dense if class_temperature == 1.0 else self.recompute(class_temperature)


class Source(Protocol):
    """What the engine reads frame outputs from."""

    description: str
    num_classes: int | None
    forward_calls: int

    def check(self, group: str, image_ids: Sequence[str]) -> None:
        """Refuse before any work when an output of ``group`` (a benchmark name or ``cityscapes``) is missing."""

    def output(self, group: str, image_id: str, image: Callable[[], np.ndarray]) -> FrameOutput:
        """The output of one frame (``image()`` decodes the RGB frame when the source needs it)."""

    def where(self, group: str, image_id: str) -> str:
        """How messages name the frame's output."""

    def is_mask_classification(self, group: str, image_ids: Sequence[str]) -> bool:
        """Whether the outputs are mask-classification outputs (RbA applies)."""


class LogitsSource:
    """Saved logits: ``root/<group>/<image_id>.npy|npz`` (module docstring)."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise InputFileError(f"{root}: --logits is not a folder; expected <benchmark name>/<image_id>.npy files")
        self.root = root
        self.description = f"saved logits {root}"
        self.num_classes: int | None = None
        self.forward_calls = 0
        self._files: dict[str, dict[str, Path]] = {}

    def check(self, group: str, image_ids: Sequence[str]) -> None:
        """Every id of ``group`` has a logits file (the message names the first missing one and counts)."""
        folder = self.root / group
        found = find_logit_files(folder)
        missing = [i for i in image_ids if i not in found]
        if missing:
            others = f" and {len(missing) - 1} more of {len(image_ids)}" if len(missing) > 1 else ""
            raise InputFileError(
                f"{folder / missing[0]}.npy: missing logits file{others}; expected <image_id>.npy or .npz "
                f"for every frame of '{group}'"
            )
        self._files[group] = found

    def where(self, group: str, image_id: str) -> str:
        """The logits file."""
        return str(self._files[group][image_id])

    def output(self, group: str, image_id: str, image: Callable[[], np.ndarray]) -> FrameOutput:
        """Load the file: (C, H, W) logits or the ``class_logits`` + ``mask_logits`` pair."""
        data = load_logits(self._files[group][image_id])
        if isinstance(data, dict):
            return MaskPairOutput(data["class_logits"], data["mask_logits"])
        return DenseOutput(data)

    def is_mask_classification(self, group: str, image_ids: Sequence[str]) -> bool:
        """From the first file of ``group``."""
        return isinstance(load_logits(self._files[group][image_ids[0]]), dict)


class ModelSource:
    """A loaded :class:`~oodforge.learn.predict.Predictor`: one forward pass per frame, its input convention."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        self.description = str(predictor.description)
        self.num_classes: int | None = int(predictor.num_classes)
        self.forward_calls = 0

    def check(self, group: str, image_ids: Sequence[str]) -> None:
        """Nothing to check: the model makes every output."""
        return None

    def where(self, group: str, image_id: str) -> str:
        """The frame."""
        return f"{group} frame {image_id} (model output)"

    def is_mask_classification(self, group: str, image_ids: Sequence[str]) -> bool:
        """The model's (or a training module's inner model's) ``is_mask_classification`` flag."""
        model = self.predictor.model
        inner = getattr(model, "model", model)
        return bool(getattr(model, "is_mask_classification", False) or getattr(inner, "is_mask_classification", False))

    def output(self, group: str, image_id: str, image: Callable[[], np.ndarray]) -> FrameOutput:
        """Prepare the image by the model's convention, run the model once, restore the logits to the image size."""
        import torch

        from oodforge.models.convention import prepare_input, restore_logits

        pred = self.predictor
        conv = pred.convention
        with torch.no_grad():
            x, prepared = prepare_input(image(), conv, pred.device)
            out = pred.model(x)
            self.forward_calls += 1
            dense = restore_logits(out["logits"].float(), prepared, conv)[0].cpu().numpy()
        if not ("class_logits" in out and "mask_logits" in out):
            return DenseOutput(dense)
        from oodforge.models._eomt_network import upsampled_pixel_scores

        class_logits, mask_logits = out["class_logits"], out["mask_logits"]
        size = (int(x.shape[-2]), int(x.shape[-1]))

        def recompute(t: float) -> np.ndarray:
            with torch.no_grad():
                scores = upsampled_pixel_scores(class_logits.float() / t, mask_logits, size)
                result: np.ndarray = restore_logits(scores.float(), prepared, conv)[0].cpu().numpy()
            return result

        return ModelMaskOutput(dense, recompute)


def check_output_kind(output: FrameOutput, is_mask: bool, where: str) -> None:
    """Every frame of a run must be the same kind of output as the first one.

    Raises:
        UsageError: a dense output in a mask-classification run or the reverse.
    """
    if output.is_mask != is_mask:
        kinds = ("dense logits (C, H, W)", "class_logits + mask_logits")
        raise UsageError(f"{where}: holds {kinds[output.is_mask]}, but the run's outputs are {kinds[is_mask]}")
