"""Lightning glue for the three training tasks (the models themselves are plain ``nn.Module``s).

``semantic``: class-weighted CE. ``oe``: CE + ``oe_weight`` × outlier loss on an anomaly score of the
pasted pixels. ``head``: BCE (optionally focal) of an anomaly head on the outlier mask, segmenter frozen
or fine-tuned. Validation streams mIoU (``oodforge.metrics.SemanticMetrics``) and, for ``oe`` / ``head``,
the pixel AP / AUROC of the anomaly score on pasted validation images (``PixelMetrics``).
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from oodforge.learn._loss_utils import OE_THRESHOLDS
from oodforge.learn.heads import HybridHead, StatisticsHead, head_score
from oodforge.learn.losses import (
    cross_entropy_loss,
    entropy_maximization_loss,
    oe_score,
    outlier_bce_loss,
    outlier_hinge_loss,
)
from oodforge.learn.train_config import TrainConfig
from oodforge.metrics import PixelMetrics, SemanticMetrics
from oodforge.models import InputConvention, create_model

__all__ = ["OodforgeModule", "anomaly_score"]


def anomaly_score(module: OodforgeModule, out: dict[str, torch.Tensor]) -> torch.Tensor:
    """The (B, H, W) anomaly score a trained module reports: the head's logit, or the OE score kind."""
    if module.head is not None:
        return head_score(module.head(out["logits"], out.get("features")))
    kind = module.cfg.loss.oe_score if module.cfg.task == "oe" else "energy"
    return oe_score(out if kind == "rba" else out["logits"], kind)


class OodforgeModule(L.LightningModule):
    """Training module built from a :class:`TrainConfig` (stored as hyper-parameters for checkpoints)."""

    def __init__(self, config: dict[str, Any], class_weights: list[float] | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.cfg = TrainConfig.model_validate(config)
        m = self.cfg.model
        self.model: nn.Module = create_model(
            m.name, num_classes=m.num_classes, pretrained_path=m.pretrained_path, **m.kwargs
        )
        self.head: nn.Module | None = None
        if self.cfg.task == "head":
            if self.cfg.head.type == "statistics":
                self.head = StatisticsHead(width=self.cfg.head.width)
            else:
                with torch.no_grad():
                    feats = self.model(torch.zeros(1, 3, 64, 64)).get("features")
                if feats is None:
                    raise ValueError(f"model '{m.name}' returns no 'features'; use head.type: statistics")
                self.head = HybridHead(feature_channels=int(feats.shape[1]), width=self.cfg.head.width)
            if self.cfg.head.freeze_segmenter:
                self.model.requires_grad_(False)
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.register_buffer("class_weights", weights, persistent=False)
        self._sem = SemanticMetrics(m.num_classes)
        from oodforge.learn.train import training_convention

        #: how images are prepared for this model (recorded in its checkpoints)
        self.input_convention: InputConvention = training_convention(self.cfg)
        self._pix = PixelMetrics(protocol="fishyscapes", single_class="nan")

    # ------------------------------------------------------------------ steps
    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Model outputs for a (B, 3, H, W) normalised image batch."""
        out: dict[str, torch.Tensor] = self.model(image)
        return out

    def _losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        cfg, lc = self.cfg, self.cfg.loss
        frozen = self.head is not None and cfg.head.freeze_segmenter
        if frozen:
            self.model.eval()
            with torch.no_grad():
                out = self(batch["image"])
        else:
            out = self(batch["image"])
        logits, target = out["logits"], batch["target"]
        if cfg.task == "head":
            assert self.head is not None
            a = head_score(self.head(logits.detach() if frozen else logits, out.get("features")))
            loss = outlier_bce_loss(a, batch["outlier_mask"], focal_gamma=lc.focal_gamma)
            return {"loss": loss, "head_bce": loss}
        cw = self.class_weights if isinstance(self.class_weights, torch.Tensor) else None
        seg = cross_entropy_loss(logits, target, class_weights=cw, label_smoothing=lc.label_smoothing)
        if cfg.task == "semantic":
            return {"loss": seg, "ce": seg}
        mask = batch["outlier_mask"]
        if lc.oe == "entropy":
            oe = entropy_maximization_loss(logits, mask, target, alpha=lc.entropy_alpha)
        else:
            score = oe_score(out if lc.oe_score == "rba" else logits, lc.oe_score)
            if lc.oe == "bce":
                oe = outlier_bce_loss(score, mask, focal_gamma=lc.focal_gamma)
            else:
                t_in, t_out = OE_THRESHOLDS[lc.oe_score]
                oe = outlier_hinge_loss(
                    score, mask,
                    inlier_threshold=t_in if lc.inlier_threshold is None else lc.inlier_threshold,
                    outlier_threshold=t_out if lc.outlier_threshold is None else lc.outlier_threshold,
                )  # fmt: skip
        return {"loss": seg + lc.oe_weight * oe, "ce": seg, "oe": oe}

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """One optimisation step; logs every loss term."""
        losses = self._losses(batch)
        bs = int(batch["image"].shape[0])
        self.log_dict({f"train/{k}": v.detach() for k, v in losses.items()}, prog_bar=True, batch_size=bs)
        return losses["loss"]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """Stream mIoU and, with outlier masks, anomaly AP / AUROC."""
        out = self(batch["image"])
        pred = out["logits"].argmax(1).cpu().numpy()
        target = batch["target"].cpu().numpy()
        self._sem.update(pred, target)
        if "outlier_mask" in batch:
            score = anomaly_score(self, out).float().cpu().numpy()
            self._pix.update(score, batch["outlier_mask"].cpu().numpy().astype(np.uint8))

    def on_validation_epoch_end(self) -> None:
        """Log val/mIoU, val/pixel_acc and (with outliers) val/ap, val/auroc, val/fpr95."""
        sem = self._sem.compute()
        metrics = {"val/mIoU": float(sem.miou), "val/pixel_acc": float(sem.pixel_accuracy)}
        if self._pix.state_nbytes > 0:
            try:
                pix = self._pix.compute()
                metrics.update({"val/ap": pix.ap, "val/auroc": pix.auroc, "val/fpr95": pix.fpr95})
            except ValueError:
                pass
        self.log_dict({k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)}, prog_bar=True)
        self._sem.reset()
        self._pix.reset()

    # -------------------------------------------------------------- optimiser
    def configure_optimizers(self) -> Any:
        """Optimiser and a per-step poly / cosine schedule with linear warm-up."""
        oc = self.cfg.optim
        params = [p for p in self.parameters() if p.requires_grad]
        opt: torch.optim.Optimizer
        if oc.optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=oc.lr, momentum=oc.momentum, weight_decay=oc.weight_decay)
        elif oc.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=oc.lr, weight_decay=oc.weight_decay)
        else:
            opt = torch.optim.AdamW(params, lr=oc.lr, weight_decay=oc.weight_decay)
        total = max(1, int(self.trainer.estimated_stepping_batches))

        def factor(step: int) -> float:
            if oc.warmup_steps and step < oc.warmup_steps:
                return (step + 1) / oc.warmup_steps
            t = min(1.0, step / total)
            if oc.schedule == "poly":
                return float((1 - t) ** oc.poly_power)
            if oc.schedule == "cosine":
                return 0.5 * (1 + math.cos(math.pi * t))
            return 1.0

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ------------------------------------------------------- exact resumption
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the torch RNG state (dropout) so a resumed run takes the same next step, and the input convention."""
        checkpoint["oodforge_rng"] = torch.get_rng_state()
        checkpoint["input_convention"] = self.input_convention.to_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the RNG state saved by :meth:`on_save_checkpoint` and the recorded input convention."""
        state = checkpoint.get("oodforge_rng")
        if state is not None:
            torch.set_rng_state(state)
        recorded = checkpoint.get("input_convention")
        # checkpoints from before conventions were recorded were trained on ImageNet-normalised input
        self.input_convention = (
            InputConvention.from_dict(recorded)
            if recorded is not None
            else InputConvention(normalization="imagenet", scale=self.cfg.data.val_scale, pad_multiple=32)
        )
