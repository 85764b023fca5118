"""Published weight files: containers, prefixes, quantised tensors, auxiliary keys, class counts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from oodforge.errors import InputFileError, UsageError
from oodforge.models import create_model, infer_num_classes, model_convention
from oodforge.models.convention import InputConvention


def _erfnet_state(num_classes: int = 20) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return create_model("erfnet", num_classes=num_classes).state_dict()


def _quantised_file(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An eager-mode int8 export of ``state`` as the course projects distribute ERFNet (documented layout):
    ``module.`` prefix, qint8 conv weights with the module's output ``scale`` / ``zero_point``, quantised
    batch norms' ``scale`` / ``zero_point``, FloatFunctional ``ff.*`` and QuantStub ``quant.*`` entries, and
    the encoder-only classifier ``encoder.output_conv.*``."""
    out: dict[str, torch.Tensor] = {}
    for key, t in state.items():
        module = key.rpartition(".")[0]
        if key.endswith(".weight") and t.ndim == 4 and "output_conv" not in key:
            scale = float(t.abs().max()) / 127 or 1.0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch deprecates creating quantised tensors
                out["module." + key] = torch.quantize_per_tensor(t, scale, 0, torch.qint8)
            out[f"module.{module}.scale"] = torch.tensor(0.05)
            out[f"module.{module}.zero_point"] = torch.tensor(64)
        else:
            out["module." + key] = t
        if key.endswith("running_var"):
            out[f"module.{module}.scale"] = torch.tensor([0.1])
            out[f"module.{module}.zero_point"] = torch.tensor([0], dtype=torch.int32)
    out["module.encoder.initial_block.ff.scale"] = torch.tensor(1.0)
    out["module.encoder.initial_block.ff.zero_point"] = torch.tensor(0)
    out["module.quant.scale"] = torch.tensor([0.02])
    out["module.quant.zero_point"] = torch.tensor([0])
    out["module.encoder.output_conv.weight"] = torch.zeros(20, 128, 1, 1)
    out["module.encoder.output_conv.bias"] = torch.zeros(20)
    return out


def test_quantised_file_loads_dequantised_exactly(tmp_path) -> None:
    state = _erfnet_state()
    qfile = _quantised_file(state)
    torch.save(qfile, tmp_path / "q.pth")
    model = create_model("erfnet", num_classes=None, pretrained_path=tmp_path / "q.pth")
    assert model.num_classes == 20  # read from the file
    got = model.state_dict()
    for key, t in state.items():
        expected = qfile["module." + key].dequantize() if qfile["module." + key].is_quantized else t
        torch.testing.assert_close(got[key], expected, rtol=0, atol=0, msg=key)
    assert infer_num_classes("erfnet", state) == 20


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "model_state", "model", "module."])
def test_containers_and_prefixes(tmp_path, wrap: str) -> None:
    state = _erfnet_state(19)
    obj: object = {
        "plain": state,
        "state_dict": {"state_dict": state, "epoch": 3},
        "model_state": {"model_state": state, "optimizer_state": {}, "best_score": 0.7},
        "model": {"model": state},
        "module.": {"module." + k: v for k, v in state.items()},
    }[wrap]
    torch.save(obj, tmp_path / "w.pth")
    model = create_model("erfnet", num_classes=19, pretrained_path=tmp_path / "w.pth")
    torch.testing.assert_close(model.state_dict()["decoder.output_conv.bias"], state["decoder.output_conv.bias"])


def test_strict_policy_names_what_is_wrong(tmp_path) -> None:
    state = _erfnet_state(19)
    extra = {**state, "encoder.output_conv.weight": torch.zeros(19, 128, 1, 1), "head.extra": torch.zeros(3)}
    torch.save(extra, tmp_path / "extra.pth")
    with pytest.raises(InputFileError, match=r"1 unexpected \(head\.extra\)") as err:
        create_model("erfnet", num_classes=19, pretrained_path=tmp_path / "extra.pth")
    assert "\n" not in str(err.value) and "auxiliary weights ignored (encoder.output_conv)" in str(err.value)
    missing = {k: v for k, v in state.items() if not k.startswith("decoder.layers.0.")}
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(InputFileError, match="missing"):
        create_model("erfnet", num_classes=19, pretrained_path=tmp_path / "missing.pth")
    torch.save(_erfnet_state(20), tmp_path / "c20.pth")
    with pytest.raises(InputFileError, match=r"have 20 classes .* num_classes=19; use --num-classes 20"):
        create_model("erfnet", num_classes=19, pretrained_path=tmp_path / "c20.pth")
    torch.save({"x": torch.zeros(2)}, tmp_path / "alien.pth")
    with pytest.raises(UsageError, match="cannot tell the class count"):
        create_model("erfnet", num_classes=None, pretrained_path=tmp_path / "alien.pth")


def test_model_conventions() -> None:
    erf = model_convention("erfnet")
    assert (erf.normalization, erf.short_side, erf.size) == ("none", 512, None)
    assert model_convention("deeplabv3_resnet50").normalization == "imagenet"
    conv = InputConvention(normalization="custom", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), size=(4, 8))
    assert InputConvention.from_dict(conv.to_dict()) == conv
    with pytest.raises(Exception, match="unknown key"):
        InputConvention.from_dict({"normalisation": "none"})
    with pytest.raises(Exception, match="needs a mean and a std"):
        InputConvention(normalization="custom")


def test_prepare_and_restore_by_hand() -> None:
    from oodforge.models.convention import prepare_input, restore_logits

    image = np.zeros((100, 200, 3), np.uint8)
    image[..., 0] = 255  # pure red
    conv = InputConvention(normalization="imagenet", short_side=50, pad_multiple=32, channel_order="bgr")
    x, prep = prepare_input(image, conv)
    assert prep.resized_hw == (50, 100) and tuple(x.shape) == (1, 3, 64, 128)
    # bgr: channel 2 holds red; ImageNet-normalised; padding is zero after normalisation
    assert float(x[0, 2, 10, 10]) == pytest.approx((1 - 0.485) / 0.229, rel=1e-5)
    assert float(x[0, 0, 10, 10]) == pytest.approx((0 - 0.406) / 0.225, rel=1e-5)
    assert float(x[0, :, 60, 120].abs().sum()) == 0.0
    logits = torch.arange(64 * 128, dtype=torch.float32).view(1, 1, 64, 128)
    back = restore_logits(logits, prep, conv)
    assert tuple(back.shape) == (1, 1, 100, 200)
    plain, prep2 = prepare_input(image, InputConvention(normalization="none"))
    assert prep2.resized_hw == (100, 200) and float(plain.max()) == 1.0 and float(plain.min()) == 0.0


def test_class_count_of_a_mask_classification_file(tmp_path) -> None:
    """EoMT's class head has C + 1 rows (no-object): the count read from the file is C."""
    torch.manual_seed(0)
    state = create_model("eomt_vit_tiny", num_classes=7).state_dict()
    assert infer_num_classes("eomt_vit_tiny", state) == 7
    torch.save({"state_dict": state}, tmp_path / "eomt.pth")
    assert create_model("eomt_vit_tiny", num_classes=None, pretrained_path=tmp_path / "eomt.pth").num_classes == 7
