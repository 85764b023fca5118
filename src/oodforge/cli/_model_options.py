"""The model options shared by ``predict``, ``segeval`` (and any command that runs a model).

Either ``--checkpoint`` (a run of ``oodforge train``, which records its input convention) or ``--model NAME
--weights PATH`` (a registered architecture with published weights, prepared by that model's published
convention). The input-convention flags override whichever applies. ``benchmark`` and ``submit-smiyc`` also take
``--logits DIR`` instead of a model (:func:`output_source`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from oodforge.errors import UsageError

if TYPE_CHECKING:
    from oodforge.learn.predict import Predictor

__all__ = [
    "ChannelOrderOpt",
    "CheckpointOpt",
    "DeviceOpt",
    "InputScaleOpt",
    "InputSizeOpt",
    "ModelOpt",
    "NormalizationOpt",
    "NumClassesOpt",
    "ShortSideOpt",
    "WeightsOpt",
    "build_predictor",
    "output_source",
]

CheckpointOpt = Annotated[
    Path | None, typer.Option("--checkpoint", "-c", help="A checkpoint written by `oodforge train`.")
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="A registered model (oodforge.models.list_models()), with --weights.")
]
WeightsOpt = Annotated[
    Path | None, typer.Option("--weights", help="A state-dict file of --model (published weights; local file).")
]
NumClassesOpt = Annotated[
    int | None, typer.Option("--num-classes", help="Outputs of --weights, >= 1 (default: read from the file).")
]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="cpu or cuda (default: cuda when present).")]
NormalizationOpt = Annotated[
    str | None,
    typer.Option(
        "--normalization", help="Override the input normalization: none | imagenet | MEAN,MEAN,MEAN/STD,STD,STD."
    ),
]
InputSizeOpt = Annotated[
    str | None, typer.Option("--input-size", help="Override: resize inputs to HxW, e.g. 512x1024.")
]
ShortSideOpt = Annotated[int | None, typer.Option("--short-side", help="Override: resize the shorter side to N >= 1.")]
InputScaleOpt = Annotated[
    float | None, typer.Option("--input-scale", help="Override: resize inputs by this factor (> 0).")
]
ChannelOrderOpt = Annotated[str | None, typer.Option("--channel-order", help="Override: rgb | bgr.")]


def _check_values(num_classes: int | None, short_side: int | None, scale: float | None, order: str | None) -> None:
    """The numeric and named flags, checked before any file is read (click's ``min=`` prints a usage box)."""
    for flag, value in (("--num-classes", num_classes), ("--short-side", short_side)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} {value}; expected an integer >= 1")
    if scale is not None and not scale > 0:
        raise UsageError(f"--input-scale {scale:g}; expected a factor > 0 (1: native size)")
    if order is not None and order not in ("rgb", "bgr"):
        raise UsageError(f"--channel-order {order!r}; expected rgb or bgr")


def _overrides(
    normalization: str | None, input_size: str | None, short_side: int | None, scale: float | None, order: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"channel_order": order}
    if normalization is not None:
        if normalization in ("none", "imagenet"):
            out["normalization"] = normalization
        else:
            try:
                mean, std = (tuple(float(v) for v in part.split(",")) for part in normalization.split("/"))
            except ValueError:
                mean = std = ()
            if len(mean) != 3 or len(std) != 3:
                raise UsageError(
                    f"--normalization {normalization!r}; expected none, imagenet or MEAN,MEAN,MEAN/STD,STD,STD "
                    "on the [0, 1] scale"
                )
            out.update(normalization="custom", mean=mean, std=std)
    if input_size is not None:
        try:
            h, w = (int(v) for v in input_size.lower().split("x"))
        except ValueError:
            h = w = 0
        if min(h, w) < 1:
            raise UsageError(f"--input-size {input_size!r}; expected HEIGHTxWIDTH >= 1, e.g. 512x1024")
        out["size"] = (h, w)
    if short_side is not None or scale is not None or input_size is not None:  # one resize rule at a time
        out.setdefault("size", None)
        out["short_side"], out["scale"] = short_side, scale
        return {k: v for k, v in out.items() if v is not None or k in ("size", "short_side", "scale")}
    return {k: v for k, v in out.items() if v is not None}


def build_predictor(
    checkpoint: Path | None,
    model: str | None,
    weights: Path | None,
    num_classes: int | None,
    device: str | None,
    *,
    normalization: str | None = None,
    input_size: str | None = None,
    short_side: int | None = None,
    input_scale: float | None = None,
    channel_order: str | None = None,
) -> Predictor:
    """Load the model the options name (one line on any error)."""
    from oodforge.learn.predict import load_predictor

    if checkpoint is not None and (model is not None or weights is not None):
        raise UsageError("give --checkpoint or --model with --weights, not both")
    if checkpoint is None and (model is None or weights is None):
        raise UsageError("no model: give --checkpoint CKPT (from `oodforge train`) or --model NAME --weights PATH")
    _check_values(num_classes, short_side, input_scale, channel_order)
    if model is not None:
        from oodforge.models import is_model, list_models

        if not is_model(model):
            raise UsageError(f"--model {model!r} is not a registered model; expected one of {', '.join(list_models())}")
    changes = _overrides(normalization, input_size, short_side, input_scale, channel_order)
    return load_predictor(
        checkpoint=checkpoint, model=model, weights=weights, num_classes=num_classes, device=device, overrides=changes
    )


def output_source(
    logits: Path | None, checkpoint: Path | None, model: str | None, weights: Path | None, model_flags: dict[str, Any]
) -> Callable[[], Any]:
    """The model outputs of ``benchmark`` and ``submit-smiyc``: saved logits or a model, checked now (one line).

    Returns what loads the source, called once the benchmarks are opened (their labels checked) so a bad split
    fails before the model loads.
    """
    from oodforge.eval.bench_engine import LogitsSource, ModelSource

    if logits is not None:
        given = [k for k, v in {"--checkpoint": checkpoint, "--model": model, "--weights": weights}.items() if v]
        given += [k for k, v in model_flags.items() if v is not None]
        if given:
            raise UsageError(f"--logits DIR takes the saved outputs as they are; {given[0]} does not apply with it")
        source = LogitsSource(logits)
        return lambda: source
    if checkpoint is None and model is None and weights is None:
        raise UsageError("no model: give -c CKPT (from `oodforge train`), --model NAME --weights PATH, or --logits DIR")
    flags = dict(model_flags)
    num_classes, device = flags.pop("--num-classes"), flags.pop("--device")
    options = {k[2:].replace("-", "_"): v for k, v in flags.items()}
    return lambda: ModelSource(build_predictor(checkpoint, model, weights, num_classes, device, **options))
