"""Model registry: names, patterns, helpful errors, keyword validation, whole-model weights from a local file."""

from __future__ import annotations

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from oodforge.errors import InputFileError, UsageError  # noqa: E402
from oodforge.models import ERFNet, create_model, is_model, list_models, register_model  # noqa: E402
from oodforge.models._registry import _MODELS  # noqa: E402


def test_list_and_is_model() -> None:
    names = list_models()
    assert names == sorted(names)
    assert list_models("deeplabv3plus_*") == ["deeplabv3plus_resnet101", "deeplabv3plus_resnet50"]
    assert list_models("*vit_t*") == ["eomt_vit_tiny"]
    assert list_models("nothing*") == []
    assert is_model("erfnet") and not is_model("erfnet2")


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UsageError, match=r"Unknown model 'deeplabv3_resnet05'; did you mean 'deeplabv3_resnet50'") as e:
        create_model("deeplabv3_resnet05")
    message = str(e.value)
    assert "\n" not in message
    for name in list_models():
        assert name in message


def test_unknown_keyword_is_named_with_the_accepted_ones() -> None:
    with pytest.raises(UsageError, match="Unknown keyword `outputstride` for model `deeplabv3_resnet50`") as e:
        create_model("deeplabv3_resnet50", outputstride=8)
    assert "`output_stride`" in str(e.value) and "`backbone_weights`" in str(e.value)
    with pytest.raises(UsageError, match="accepted keywords: none"):
        create_model("erfnet", pretrained=True)


def test_bad_values_are_usage_errors() -> None:
    for bad in (0, -3, 2.0, True):
        with pytest.raises(UsageError, match="num_classes"):
            create_model("erfnet", num_classes=bad)
    with pytest.raises(UsageError, match="output_stride"):
        create_model("deeplabv3_resnet50", output_stride=32)
    with pytest.raises(UsageError, match="num_blocks"):
        create_model("eomt_vit_tiny", num_blocks=5)


def test_keywords_reach_the_builder() -> None:
    model = create_model("eomt_vit_tiny", num_classes=3, num_queries=5, num_blocks=1, img_size=(64, 128))
    assert model.num_classes == 3 and model.network.q.weight.shape == (5, 192)
    assert model.backbone.pos_embed.shape == (1, 4 * 8, 192)  # timm layout with registers: no class entry


def test_duplicate_and_malformed_registration() -> None:
    with pytest.raises(UsageError, match="already registered"):
        register_model("erfnet")(lambda *, num_classes=19: ERFNet(num_classes))
    with pytest.raises(UsageError, match=r"no \*args / \*\*kwargs"):
        register_model("tmp_variadic")(lambda *, num_classes=19, **kw: ERFNet(num_classes))
    with pytest.raises(UsageError, match="num_classes"):
        register_model("tmp_no_classes")(lambda *, width=1: ERFNet())
    assert not is_model("tmp_variadic") and not is_model("tmp_no_classes")


def test_register_a_new_model() -> None:
    @register_model("tmp_erfnet_copy")
    def tmp_erfnet_copy(*, num_classes: int = 19) -> ERFNet:
        return ERFNet(num_classes)

    try:
        assert "tmp_erfnet_copy" in list_models("tmp_*")
        assert create_model("tmp_erfnet_copy", num_classes=2).num_classes == 2
    finally:
        del _MODELS["tmp_erfnet_copy"]


def test_pretrained_path_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    source = create_model("erfnet", num_classes=4)
    with torch.no_grad():
        for p in source.parameters():
            p.add_(torch.randn_like(p))
    path = tmp_path / "erfnet.pt"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    model = create_model("erfnet", num_classes=4, pretrained_path=path)
    for key, value in source.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)
    with pytest.raises(InputFileError, match=r"have 4 classes .*num_classes=5"):
        create_model("erfnet", num_classes=5, pretrained_path=path)
    assert create_model("erfnet", num_classes=None, pretrained_path=path).num_classes == 4


def test_missing_weights_files_are_one_line_errors(tmp_path) -> None:
    missing = tmp_path / "nope.pth"
    for name, kwargs in [
        ("erfnet", {"pretrained_path": missing}),
        ("deeplabv3plus_resnet50", {"backbone_weights": str(missing)}),
        ("eomt_vit_tiny", {"backbone_weights": missing}),
    ]:
        with pytest.raises(InputFileError, match="file not found") as e:
            create_model(name, **kwargs)
        assert "\n" not in str(e.value) and str(missing) in str(e.value)


def test_import_oodforge_does_not_import_torch() -> None:
    code = (
        "import sys, oodforge; assert 'torch' not in sys.modules; import oodforge.models; assert 'torch' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
