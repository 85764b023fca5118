"""Typed config of ``oodforge train`` (strict: unknown keys are errors with a suggestion).

Three tasks share one file format:

- ``semantic``: segmentation training on Cityscapes train ids (class-weighted CE, optional weighted sampler);
- ``oe``: outlier-exposure fine-tuning: :class:`~oodforge.learn.outlier_paste.OutlierPaste` on the fly plus an
  OE loss on an anomaly score (``hinge``, ``bce`` or ``entropy``) next to the segmentation loss;
- ``head``: training an anomaly head (statistics or hybrid) on pasted outlier masks, segmenter frozen or not.

The outliers of ``oe`` and ``head`` come from ``paste`` (COCO objects pasted on the fly) or ``offline`` (a dataset
of ``oodforge synth``: offline outlier exposure, the same targets and losses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from oodforge.config._base import Strict as _Strict
from oodforge.config._base import validate_strict
from oodforge.config.loader import _format_error, read_yaml, resolve_path
from oodforge.errors import ConfigError
from oodforge.learn.outlier_paste import OutlierPasteConfig

__all__ = ["TrainConfig", "load_train_config"]


class DataConfig(_Strict):
    """``data``: Cityscapes root and loader settings."""

    cityscapes_root: str
    train_split: str = "train"
    val_split: str = "val"
    crop_size: tuple[int, int] | None = (512, 1024)
    scale_range: tuple[float, float] = (0.5, 2.0)
    hflip: bool = True
    val_scale: float = Field(default=1.0, gt=0, le=1)  # validation images resized by this factor
    batch_size: int = Field(default=8, ge=1)
    val_batch_size: int = Field(default=1, ge=1)
    num_workers: int = Field(default=4, ge=0)
    weighted_sampler: bool = False
    max_train_images: int | None = Field(default=None, ge=1)
    max_val_images: int | None = Field(default=None, ge=1)


class ModelConfig(_Strict):
    """``model``: a registered model (``oodforge.models.list_models()``) and its arguments."""

    name: str = "erfnet"
    num_classes: int = Field(default=19, ge=1)
    pretrained_path: str | None = None  # a checkpoint (state dict) of this model, read from a local file
    kwargs: dict[str, Any] = Field(default_factory=dict)
    init_checkpoint: str | None = None  # an oodforge training checkpoint to start from (e.g. a semantic run)


class LossConfig(_Strict):
    """``loss``: segmentation loss and, for ``oe``, the outlier loss."""

    class_weights: Literal["none", "enet", "inverse", "median"] = "none"
    label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.0
    oe: Literal["hinge", "bce", "entropy"] = "hinge"
    oe_score: Literal["energy", "nls", "rba", "maxlogit"] = "energy"
    inlier_threshold: float | None = None  # None = default of the score kind
    outlier_threshold: float | None = None
    oe_weight: float = Field(default=1.0, ge=0)
    entropy_alpha: Annotated[float, Field(ge=0, le=1)] = 0.9
    focal_gamma: float = Field(default=0.0, ge=0)


class PasteSource(_Strict):
    """``paste``: COCO source of the outliers and the :class:`OutlierPasteConfig` settings."""

    coco_root: str
    images: str = "train2017"
    annotations: str = "annotations/instances_train2017.json"
    cache_dir: str | None = None
    config: OutlierPasteConfig = OutlierPasteConfig()


class OfflineSource(_Strict):
    """``offline``: a synthesized dataset (``oodforge synth``) whose images already carry the outliers.

    Trains on its ``train_split`` (images, the scenes' train ids from ``data.cityscapes_root``, the outlier masks
    of its GT) instead of pasting on the fly; validates on its ``val_split`` (objects included) or, when None,
    on the clean Cityscapes ``data.val_split``.
    """

    dataset: str
    train_split: str = "train"
    val_split: str | None = None
    ood_label: Annotated[int, Field(ge=0, le=255)] | None = None  # None: covered pixels are ignored by the CE


class HeadConfig(_Strict):
    """``head``: anomaly head trained by the ``head`` task."""

    type: Literal["statistics", "hybrid"] = "statistics"
    width: int = Field(default=32, ge=1)
    freeze_segmenter: bool = True


class OptimConfig(_Strict):
    """``optim``: optimiser, schedule and trainer settings."""

    optimizer: Literal["adamw", "sgd", "adam"] = "adamw"
    lr: float = Field(default=5e-4, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    schedule: Literal["poly", "cosine", "none"] = "poly"
    poly_power: float = Field(default=0.9, gt=0)
    warmup_steps: int = Field(default=0, ge=0)
    max_epochs: int | None = Field(default=None, ge=1)
    max_steps: int | None = Field(default=None, ge=1)
    accumulate_grad_batches: int = Field(default=1, ge=1)
    precision: Literal["32", "16-mixed", "bf16-mixed"] = "32"
    gradient_clip_val: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _length(self) -> OptimConfig:
        if self.max_epochs is None and self.max_steps is None:
            raise ValueError("set max_epochs or max_steps (how long to train)")
        return self


class TrainerConfig(_Strict):
    """``trainer``: hardware and logging (Lightning)."""

    accelerator: Literal["auto", "cpu", "gpu"] = "auto"
    devices: int | Literal["auto"] = "auto"  # several GPUs -> DDP, no code change
    val_every_n_epochs: int = Field(default=1, ge=1)
    log_every_n_steps: int = Field(default=10, ge=1)
    checkpoint_every_n_steps: int | None = Field(default=None, ge=1)
    progress_bar: bool = True


class TrainConfig(_Strict):
    """The whole ``oodforge train`` config."""

    task: Literal["semantic", "oe", "head"]
    seed: int = Field(default=0, ge=0)
    output_dir: str
    data: DataConfig
    model: ModelConfig = ModelConfig()
    loss: LossConfig = LossConfig()
    paste: PasteSource | None = None
    offline: OfflineSource | None = None
    head: HeadConfig = HeadConfig()
    optim: OptimConfig
    trainer: TrainerConfig = TrainerConfig()

    @model_validator(mode="after")
    def _task_needs(self) -> TrainConfig:
        if self.paste is not None and self.offline is not None:
            raise ValueError("give 'paste' (outliers pasted on the fly) or 'offline' (a synthesized dataset), not both")
        if self.task in ("oe", "head") and self.paste is None and self.offline is None:
            raise ValueError(
                f"task '{self.task}' needs a 'paste' section (COCO objects pasted on the fly) or an 'offline' section "
                "(a dataset of `oodforge synth`)"
            )
        return self


def _resolve(value: str | None, base: Path) -> str | None:
    return None if value is None else resolve_path(value, base)


def load_train_config(path: str | Path) -> TrainConfig:
    """Read and validate a training config; relative paths resolve against the file's folder.

    Raises:
        ConfigError: one line naming the key, the value found and what was expected.
    """
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a YAML mapping at the top level, found {type(data).__name__}")
    try:
        cfg = validate_strict(TrainConfig, data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, str(path), TrainConfig)) from None
    base = path.resolve().parent
    d = cfg.model_dump(mode="python")
    d["output_dir"] = _resolve(d["output_dir"], base)
    d["data"]["cityscapes_root"] = _resolve(d["data"]["cityscapes_root"], base)
    for key in ("pretrained_path", "init_checkpoint"):
        d["model"][key] = _resolve(d["model"][key], base)
    if d["offline"] is not None:
        d["offline"]["dataset"] = _resolve(d["offline"]["dataset"], base)
    if d["paste"] is not None:
        d["paste"]["coco_root"] = _resolve(d["paste"]["coco_root"], base)
        d["paste"]["cache_dir"] = _resolve(d["paste"]["cache_dir"], base)
    return TrainConfig.model_validate(d)
