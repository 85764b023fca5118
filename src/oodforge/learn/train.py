"""``oodforge train``: build datasets, the module and a Lightning ``Trainer`` from a :class:`TrainConfig`.

Outputs under ``output_dir``: ``config.resolved.yaml``, ``checkpoints/`` (``last.ckpt`` and the best by
``val/mIoU``), ``csv/`` (``metrics.csv``) and ``tensorboard/`` logs. ``resume`` continues from
``last.ckpt`` (or a given checkpoint) with the same data order, schedule and RNG state.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader, Dataset, Sampler

from oodforge._io import atomic_write_text
from oodforge._paths import check_output_folder
from oodforge._seeding import stable_uint64
from oodforge.errors import UsageError
from oodforge.learn._checkpoint import check_state_fits, read_checkpoint
from oodforge.learn.train_config import TrainConfig, load_train_config
from oodforge.models import InputConvention, is_model, list_models, model_convention

__all__ = ["EpochSeededSampler", "TrainResult", "build_datasets", "check_run_inputs", "train", "training_convention"]


class EpochSeededSampler(Sampler[int]):
    """A shuffling sampler whose order is a pure function of (seed, epoch): resumable exactly.

    Lightning calls :meth:`set_epoch` at each epoch start. With ``weights`` it draws with replacement in
    proportion to them (the class-balanced sampler's weights), else it permutes.
    """

    def __init__(self, n: int, seed: int, weights: np.ndarray | None = None) -> None:
        self.n, self.seed, self.epoch = n, seed, 0
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64) / np.sum(weights)

    def set_epoch(self, epoch: int) -> None:
        """Select the order of ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng(stable_uint64("sampler", self.seed, self.epoch))
        order = rng.choice(self.n, self.n, p=self.weights) if self.weights is not None else rng.permutation(self.n)
        return iter(order.tolist())


@dataclass
class TrainResult:
    """Where a run wrote its outputs, and its last logged metrics."""

    output_dir: Path
    log_dir: Path  # csv/version_N of this run (a resumed run gets a new version, earlier logs are kept)
    last_checkpoint: Path
    best_checkpoint: Path | None
    metrics: dict[str, float]


def _paste(cfg: TrainConfig) -> Any:
    from oodforge.learn.outlier_paste import OutlierPaste

    assert cfg.paste is not None
    src = cfg.paste
    return OutlierPaste.from_coco(
        src.config, src.coco_root, images=src.images, annotations=src.annotations, cache_dir=src.cache_dir
    )


def training_convention(cfg: TrainConfig) -> InputConvention:
    """The input convention a run trains (and so predicts) with: the model's normalisation at ``val_scale``."""
    base = model_convention(cfg.model.name, **cfg.model.kwargs)
    return InputConvention(
        normalization=base.normalization, mean=base.mean, std=base.std, channel_order=base.channel_order,
        scale=cfg.data.val_scale, pad_multiple=max(base.pad_multiple, 32),
    )  # fmt: skip


def check_run_inputs(cfg: TrainConfig) -> None:
    """Fail early, in one line, on a model name, an initial checkpoint or an output folder that cannot work."""
    if not is_model(cfg.model.name):
        raise UsageError(f"model.name: {cfg.model.name!r} is not a registered model; expected one of "
                         f"{', '.join(list_models())}")  # fmt: skip
    init = cfg.model.init_checkpoint
    if init is not None and not Path(init).is_file():
        raise UsageError(f"model.init_checkpoint: {init} not found; expected a checkpoint of `oodforge train`")
    check_output_folder(Path(cfg.output_dir), "output_dir")


def _init_state(path: str) -> dict[str, torch.Tensor]:
    """The model weights of an ``oodforge train`` checkpoint (``model.*`` entries of its state dict)."""
    hint = "; for published weights use model.pretrained_path"
    state = read_checkpoint(path, "model.init_checkpoint", hint)["state_dict"]
    return {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}


def build_datasets(cfg: TrainConfig) -> tuple[Dataset[Any], Dataset[Any]]:
    """Training and validation datasets of a config (validation pastes are fixed: epoch 0)."""
    from oodforge.learn.data import CityscapesSegmentation
    from oodforge.learn.outlier_dataset import OutlierPasteDataset
    from oodforge.sources.cityscapes import list_image_ids

    d = cfg.data
    root = Path(d.cityscapes_root)
    train_ids = list_image_ids(root, d.train_split)[: d.max_train_images]
    val_ids = list_image_ids(root, d.val_split)[: d.max_val_images]
    mean, std = training_convention(cfg).mean_std()  # the model's own normalisation
    train: Dataset[Any] = CityscapesSegmentation(
        root, d.train_split, crop_size=d.crop_size, scale_range=d.scale_range, hflip=d.hflip, seed=cfg.seed,
        image_ids=train_ids, mean=mean, std=std,
    )  # fmt: skip
    val: Dataset[Any] = CityscapesSegmentation(
        root, d.val_split, crop_size=None, scale_range=(d.val_scale, d.val_scale), hflip=False, seed=cfg.seed,
        image_ids=val_ids, mean=mean, std=std,
    )  # fmt: skip
    if cfg.offline is not None:
        return _offline_datasets(cfg, train, val)
    if cfg.task in ("oe", "head"):
        paste = _paste(cfg)
        train = OutlierPasteDataset(train, paste, mean=mean, std=std)
        val_paste = type(paste)(paste.config.model_copy(update={"p": 1.0}), paste.pool_path, paste.images_root)
        val = OutlierPasteDataset(val, val_paste, mean=mean, std=std)
    return train, val


def _offline_datasets(
    cfg: TrainConfig, cityscapes_train: Dataset[Any], cityscapes_val: Dataset[Any]
) -> tuple[Dataset[Any], Dataset[Any]]:
    """Offline outlier exposure: the synthesized dataset's splits (validation: clean Cityscapes without a split)."""
    from oodforge.learn.synth_data import SynthSegmentation

    d, off = cfg.data, cfg.offline
    assert off is not None
    mean, std = training_convention(cfg).mean_std()
    common: dict[str, Any] = {"seed": cfg.seed, "ood_label": off.ood_label, "mean": mean, "std": std}
    train = SynthSegmentation(
        off.dataset, off.train_split, d.cityscapes_root, crop_size=d.crop_size, scale_range=d.scale_range,
        hflip=d.hflip, max_images=d.max_train_images, **common,
    )  # fmt: skip
    if off.val_split is None:
        return train, cityscapes_val
    val = SynthSegmentation(
        off.dataset, off.val_split, d.cityscapes_root, crop_size=None, scale_range=(d.val_scale, d.val_scale),
        hflip=False, max_images=d.max_val_images, **common,
    )  # fmt: skip
    return train, val


def _label_source(train: Dataset[Any]) -> Any:
    """What the class statistics count: the Cityscapes dataset, or the scene label files of a synthesized split."""
    from oodforge.learn.synth_data import SynthSegmentation

    base: Any = getattr(train, "base", train)
    return base.label_paths if isinstance(base, SynthSegmentation) else base


def _class_weights(cfg: TrainConfig, train: Dataset[Any]) -> list[float] | None:
    if cfg.loss.class_weights == "none":
        return None
    from oodforge.learn.data import class_pixel_counts
    from oodforge.learn.losses import class_weights_from_frequencies

    counts = np.asarray(class_pixel_counts(_label_source(train), num_classes=cfg.model.num_classes)).sum(axis=0)
    w = class_weights_from_frequencies(torch.as_tensor(counts, dtype=torch.float64), method=cfg.loss.class_weights)
    return [float(x) for x in w]


def train(config: str | Path | TrainConfig, *, resume: str | Path | bool = False) -> TrainResult:
    """Run a training task (the library function behind ``oodforge train``).

    Args:
        config: a config file or a validated :class:`TrainConfig`.
        resume: ``True`` to continue from ``output_dir/checkpoints/last.ckpt``, or a checkpoint path.
    """
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from oodforge.learn.lightning_module import OodforgeModule

    cfg = config if isinstance(config, TrainConfig) else load_train_config(config)
    out = Path(cfg.output_dir)
    check_run_inputs(cfg)
    ckpt_path: str | None = None
    resume_state: dict[str, torch.Tensor] | None = None
    flag = "--resume" if resume is True else "--checkpoint"
    if resume:
        ckpt = out / "checkpoints" / "last.ckpt" if resume is True else Path(resume)
        resume_state = read_checkpoint(ckpt, flag)["state_dict"]
        ckpt_path = str(ckpt)
    init = cfg.model.init_checkpoint if ckpt_path is None else None
    init_state = _init_state(init) if init else None
    torch.manual_seed(cfg.seed)
    train_ds, val_ds = build_datasets(cfg)
    weights = None
    if cfg.data.weighted_sampler:
        from oodforge.learn.data import class_balanced_sampler, class_pixel_counts

        source = _label_source(train_ds)
        counts = source if not isinstance(source, list) else class_pixel_counts(source, cfg.model.num_classes)
        weights = np.asarray(class_balanced_sampler(counts, seed=cfg.seed).weights)
    sampler = EpochSeededSampler(len(train_ds), cfg.seed, weights)  # type: ignore[arg-type]
    d = cfg.data
    loader_kw: dict[str, Any] = {"num_workers": d.num_workers, "persistent_workers": d.num_workers > 0}
    train_dl = DataLoader(train_ds, batch_size=d.batch_size, sampler=sampler, drop_last=True, **loader_kw)
    val_dl = DataLoader(val_ds, batch_size=d.val_batch_size, shuffle=False, **loader_kw)
    module = OodforgeModule(cfg.model_dump(mode="json"), _class_weights(cfg, train_ds))
    what = f"model {cfg.model.name!r} with {cfg.model.num_classes} classes"
    if init_state is not None:
        check_state_fits(module.model, init_state, "model.init_checkpoint", str(init), what)
        module.model.load_state_dict(init_state)
    if resume_state is not None:
        check_state_fits(module, resume_state, flag, str(ckpt_path), f"the run of this config ({what})")
        del resume_state  # Lightning reads the checkpoint itself
    # written only now: a run that fails on its inputs leaves an earlier run's files as they were
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.resolved.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    oc, tc = cfg.optim, cfg.trainer
    csv_logger = CSVLogger(out, name="csv")
    checkpoints = ModelCheckpoint(
        dirpath=out / "checkpoints", filename="epoch{epoch:03d}-step{step:06d}", auto_insert_metric_name=False,
        save_last=True, monitor="val/mIoU", mode="max", save_top_k=1, every_n_train_steps=tc.checkpoint_every_n_steps,
        enable_version_counter=False,  # a new run in the same output_dir replaces last.ckpt, never last-v1.ckpt
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        trainer = L.Trainer(
            default_root_dir=out, accelerator=tc.accelerator, devices=tc.devices, precision=oc.precision,
            max_epochs=oc.max_epochs if oc.max_epochs is not None else -1, max_steps=oc.max_steps or -1,
            accumulate_grad_batches=oc.accumulate_grad_batches, gradient_clip_val=oc.gradient_clip_val,
            check_val_every_n_epoch=tc.val_every_n_epochs, log_every_n_steps=tc.log_every_n_steps,
            logger=[csv_logger, TensorBoardLogger(out, name="tensorboard")],
            callbacks=[checkpoints], enable_progress_bar=tc.progress_bar, enable_model_summary=False,
            use_distributed_sampler=True, deterministic=False,
        )  # fmt: skip
        trainer.fit(module, train_dl, val_dl, ckpt_path=ckpt_path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if torch.as_tensor(v).numel() == 1}
    best = checkpoints.best_model_path or None
    return TrainResult(
        out, Path(csv_logger.log_dir), out / "checkpoints" / "last.ckpt", Path(best) if best else None, metrics
    )
