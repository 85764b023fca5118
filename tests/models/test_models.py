"""Every registered model: output contract, shapes, finite values, gradients, eval determinism, input checks."""

from __future__ import annotations

import fnmatch

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from oodforge.errors import ShapeError, UsageError, ValueCheckError  # noqa: E402
from oodforge.models import DeepLabV3, DeepLabV3Plus, SegmentationModel, create_model, list_models  # noqa: E402
from oodforge.scores import mask_class_pixel_scores, maxlogit_score, rba_score  # noqa: E402

# big models: construct, count parameters and run one no-grad forward at 32×32 only
HEAVY = ("*resnet101*", "*_vainf", "eomt_vit_base")
# huge models: parameters counted on the meta device only (their layers are those of the smaller variants)
META_ONLY = ("eomt_vit_large",)
PARAMS_M = {  # parameter counts (millions) with NUM_CLASSES = 5
    "erfnet": 2.06,
    "deeplabv3_resnet50": 39.63,
    "deeplabv3_resnet101": 58.63,
    "deeplabv3_resnet50_vainf": 39.63,
    "deeplabv3_resnet101_vainf": 58.63,
    "deeplabv3plus_resnet50": 39.76,
    "deeplabv3plus_resnet101": 58.75,
    "eomt_vit_tiny": 2.38,
    "eomt_vit_small": 23.93,
    "eomt_vit_base": 93.56,
    "eomt_vit_large": 319.02,
}
NUM_CLASSES = 5


def _heavy(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in HEAVY)


def _build(name: str, **kwargs: object) -> SegmentationModel:
    torch.manual_seed(0)
    return create_model(name, num_classes=NUM_CLASSES, **kwargs)


def _check_outputs(model: SegmentationModel, out: dict, b: int, h: int, w: int) -> None:
    assert out["logits"].shape == (b, NUM_CLASSES, h, w)
    assert out["features"].shape[:2] == (b, model.num_features)
    for key, value in out.items():
        assert torch.isfinite(value).all(), key
    if model.is_mask_classification:
        q = out["class_logits"].shape[1]
        assert out["class_logits"].shape == (b, q, NUM_CLASSES + 1)
        assert out["mask_logits"].shape[:2] == (b, q)
        hm, wm = out["mask_logits"].shape[-2:]
        assert (hm, wm) == (h // 4, w // 4)
        assert out["pixel_scores"].shape == (b, NUM_CLASSES, hm, wm)
        torch.testing.assert_close(
            out["pixel_scores"], mask_class_pixel_scores(out["class_logits"], out["mask_logits"])
        )
        rba = rba_score(out["pixel_scores"])
        assert rba.shape == (b, hm, wm) and torch.isfinite(rba).all()
    assert maxlogit_score(out["logits"]).shape == (b, h, w)


def test_registry_lists_every_family() -> None:
    assert set(list_models()) == set(PARAMS_M)


@pytest.mark.parametrize("name", list_models())
def test_model_contract(name: str) -> None:
    if name in META_ONLY:
        with torch.device("meta"):
            meta = create_model(name, num_classes=NUM_CLASSES)
        assert sum(p.numel() for p in meta.parameters()) / 1e6 == pytest.approx(PARAMS_M[name], abs=0.02)
        return
    model = _build(name)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params / 1e6 == pytest.approx(PARAMS_M[name], abs=0.02)
    assert model.num_classes == NUM_CLASSES
    if _heavy(name):
        model.eval()
        with torch.no_grad():
            out = model(torch.randn(1, 3, 32, 32))
        _check_outputs(model, out, 1, 32, 32)
        return
    deeplab = isinstance(model, (DeepLabV3, DeepLabV3Plus))
    if deeplab:  # torchvision's DeepLabV3 runs at output stride 8, VainF's DeepLabV3+ at 16
        assert (model.aspp.rates, model.backbone.output_stride) in [((12, 24, 36), 8), ((6, 12, 18), 16)]
    h, w = (64, 64) if deeplab else (64, 128)  # keep the ResNet-50 backward cheap
    x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(1))
    out = model(x)
    _check_outputs(model, out, 2, h, w)
    loss = out["logits"].square().mean() + out["features"].mean()
    if model.is_mask_classification:
        loss = loss + out["class_logits"].mean() + out["mask_logits"].mean()
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.requires_grad
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} has an all-zero gradient"
    model.eval()
    with torch.no_grad():
        first, second = model(x), model(x)
    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=0, atol=0)


@pytest.mark.parametrize("name", ["erfnet", "eomt_vit_tiny"])
def test_forward_is_features_then_head(name: str) -> None:
    model = _build(name).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out = model(x)
        again = model.forward_head(model.forward_features(x), (64, 64))
    for key, value in again.items():
        torch.testing.assert_close(out[key], value)


def test_erfnet_any_size_and_features() -> None:
    model = _build("erfnet").eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 36, 50))
    assert out["logits"].shape == (1, NUM_CLASSES, 36, 50)
    assert out["features"].shape == (1, 128, 5, 7)


def test_deeplab_output_stride_8_and_batch_of_one() -> None:
    model = DeepLabV3Plus(NUM_CLASSES, output_stride=8)
    assert model.backbone.output_stride == 8 and model.aspp.rates == (12, 24, 36)
    out = model(torch.randn(2, 3, 32, 32))
    assert out["features"].shape == (2, 256, 4, 4)
    assert out["logits"].shape == (2, NUM_CLASSES, 32, 32)
    out["logits"].mean().backward()
    # the image-pooling branch has batch norm (as the public models): one image trains only with frozen BN
    with pytest.raises(UsageError, match="at least 2 images in training mode"):
        model(torch.randn(1, 3, 32, 32))
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32))["logits"].shape == (1, NUM_CLASSES, 32, 32)


def test_eomt_aux_outputs() -> None:
    model = _build("eomt_vit_tiny", aux_outputs=True, num_blocks=3, num_queries=7)
    out = model(torch.randn(2, 3, 32, 48))  # one prediction before each of the 3 query blocks, as the official
    assert out["aux_class_logits"].shape == (3, 2, 7, NUM_CLASSES + 1)
    assert out["aux_mask_logits"].shape == (3, 2, 7, 8, 12)
    assert out["class_logits"].shape == (2, 7, NUM_CLASSES + 1)


@pytest.mark.parametrize("num_blocks", [1, 4])
def test_eomt_queries_enter_the_last_blocks(num_blocks: int) -> None:
    model = _build("eomt_vit_tiny", num_blocks=num_blocks, num_queries=7).eval()
    seen: list[int] = []
    for block in model.backbone.blocks:
        block.register_forward_hook(lambda _m, args, _out: seen.append(args[0].shape[1]))
    with torch.no_grad():
        model(torch.randn(1, 3, 32, 48))
    tokens = 1 + 4 + 2 * 3  # cls + registers + patches
    assert seen == [tokens] * (4 - num_blocks) + [7 + tokens] * num_blocks


@pytest.mark.parametrize("name", ["erfnet", "eomt_vit_tiny"])
def test_input_checks(name: str) -> None:
    model = _build(name)
    with pytest.raises(ShapeError, match=r"\(B, 3, H, W\)"):
        model(torch.randn(1, 1, 32, 32))
    with pytest.raises(ShapeError):
        model(torch.randn(3, 32, 32))
    with pytest.raises(ValueCheckError, match="floating"):
        model(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))


def test_eomt_needs_patch_multiple() -> None:
    model = _build("eomt_vit_tiny")
    with pytest.raises(ShapeError, match="divisible by 16"):
        model(torch.randn(1, 3, 40, 32))
