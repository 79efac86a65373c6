"""Ten modern architectures (issue 9's proof): each spec in ``examples/`` against its
hand-written PyTorch twin (tests/arch_twins.py, transcribed from torchvision and locuslab/TCN),
and the twins against torchvision's published figures.

The judges are torch and the model cards: a spec's report must give the twin's output
shape(s), ``sum(p.numel())`` and FlopCounterMode MACs exactly; the twin must give
torchvision's published parameter count exactly and its "GFLOPS" (MACs) to the printed
precision. The twins run on the meta device (torch's shape functions and FLOP formulas without
the arithmetic); one test checks that a real CPU forward counts the same.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import arch_twins as A
import pytest
import torch
from arch_twins import ARCHITECTURES, build, measure

from convcalc import fit, network, spec, zoo
from convcalc.network import Report

NAMES = sorted(ARCHITECTURES)

# torchvision's model cards (the Weights enums of torchvision/models/*.py): num_params, and
# "_ops" = GFLOPS, which are G MACs at the card's input size, printed to this precision.
PUBLISHED: dict[str, tuple[int, str]] = {
    "mobilenet_v2": (3_504_872, "0.301"),
    "resnext50_32x4d": (25_028_904, "4.23"),
    "densenet121": (7_978_856, "2.834"),
    "efficientnet_b0": (5_288_548, "0.386"),
    "convnext_tiny": (28_589_128, "4.456"),
    "inception_v3": (27_161_264, "5.713"),  # params with the auxiliary head
    "regnet_y_400mf": (4_344_144, "0.402"),
    "deeplabv3_resnet50": (42_004_074, "178.722"),  # with the auxiliary head, at 520x520
}
FASTERRCNN_RESNET50_FPN_PARAMS = 41_755_286  # FasterRCNN_ResNet50_FPN_Weights.COCO_V1


def report_of(path: Path, resolution: int | None = None) -> Report:
    net = spec.load(str(path))
    if resolution is not None:
        net = net.with_resolution(resolution)
    return network.walk(net)


@functools.cache
def twin(name: str, input_shape: tuple[int, ...] | None = None) -> dict:
    """The twin's measurement (cached: several tests read it; never mutate the result)."""
    factory, shape, _ = ARCHITECTURES[name]
    return measure(build(factory), input_shape or shape)


def gmacs_as_printed(macs: int, printed: str) -> str:
    """``macs`` in G, rounded half up (exact integer arithmetic) to the decimals of ``printed``."""
    decimals = len(printed.split(".")[1])
    q = 10 ** (9 - decimals)
    n = (macs + q // 2) // q
    return f"{n // 10**decimals}.{n % 10**decimals:0{decimals}d}"


# -- every spec equals its twin ---------------------------------------------------------------------
def test_the_ten_architectures_are_all_there() -> None:
    assert set(ARCHITECTURES) == {
        "mobilenet_v2",
        "resnext50_32x4d",
        "densenet121",
        "efficientnet_b0",
        "convnext_tiny",
        "inception_v3",
        "regnet_y_400mf",
        "deeplabv3_resnet50",
        "fpn_resnet50",
        "tcn",
    }
    for name, (_, shape, path) in ARCHITECTURES.items():
        assert path.is_file(), path
        net = spec.load(str(path))
        assert net.name == name
        assert tuple(net.input_shape) == shape


@pytest.mark.parametrize("name", NAMES)
def test_spec_equals_its_torch_twin(name: str) -> None:
    _, _, path = ARCHITECTURES[name]
    report = report_of(path)
    t = twin(name)
    assert list(report.outputs.values()) == t["outputs"]
    assert report.output_shape == t["outputs"][0]
    assert report.params == t["params"]
    assert report.macs == t["macs"]


@pytest.mark.parametrize("name", NAMES)
def test_spec_header_cites_its_source_and_states_the_twins_counts(name: str) -> None:
    _, _, path = ARCHITECTURES[name]
    text = path.read_text(encoding="utf-8")
    h = zoo.parse_header(text)
    for key in zoo.REQUIRED + ("code", "computed"):
        assert h[key], f"{path.name}: header field {key!r} is empty"
    assert "arXiv:" in h["source"]
    assert h["code"].startswith("https://github.com/")
    assert "Differences" in h["notes"]
    t = twin(name)  # the header's computed figures are torch's, not copied from convcalc
    assert f"{t['params']:,} params" in h["computed"]
    assert f"{t['macs']:,} MACs" in h["computed"]


@pytest.mark.parametrize(
    ("name", "shape"), [("tcn", (1, 784)), ("fpn_resnet50", (3, 35, 35)), ("efficientnet_b0", (3, 32, 32))]
)
def test_meta_device_counts_equal_a_real_forward(name: str, shape: tuple[int, ...]) -> None:
    factory = ARCHITECTURES[name][0]
    real = build(factory).to_empty(device="cpu")  # real tensors; their values do not matter
    assert measure(real, shape, "cpu") == measure(build(factory), shape)


# -- the twins against torchvision's published figures ----------------------------------------------
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_twin_has_torchvisions_published_params_and_gflops(name: str) -> None:
    params, gflops = PUBLISHED[name]
    t = twin(name)
    if name == "inception_v3":  # torchvision's module holds the aux head; it runs in training only
        with_aux = measure(build(lambda: A.inception_v3(aux_logits=True)), (3, 299, 299))
        assert with_aux["macs"] == t["macs"]
        assert with_aux["params"] == params
    else:
        assert t["params"] == params
    assert gmacs_as_printed(t["macs"], gflops) == gflops


def test_gmacs_as_printed_rounds_half_up_exactly() -> None:
    assert gmacs_as_printed(4_455_531_264, "4.456") == "4.456"
    assert gmacs_as_printed(4_455_500_000, "4.456") == "4.456"
    assert gmacs_as_printed(4_455_499_999, "4.456") == "4.455"
    assert gmacs_as_printed(300_774_272, "0.301") == "0.301"
    assert gmacs_as_printed(178_721_945_088, "178.722") == "178.722"


def test_inception_v3_spec_is_the_main_path_the_aux_head_is_the_difference() -> None:
    report = report_of(ARCHITECTURES["inception_v3"][2])
    aux = build(lambda: A.InceptionAux(768, 1000))
    aux_params = sum(p.numel() for p in aux.parameters())
    assert aux_params == 3_326_696
    assert report.params + aux_params == PUBLISHED["inception_v3"][0]
    # in training mode the twin also runs the aux head (on Mixed_6e's 768 x 17 x 17): its MACs
    # come on top of the spec's, the logits are the same
    aux_macs = measure(aux, (768, 17, 17))["macs"]
    assert aux_macs == 5_683_200
    model = build(lambda: A.inception_v3(aux_logits=True)).train()
    counter = torch.utils.flop_counter.FlopCounterMode(display=False)
    with torch.no_grad(), counter:  # a batch of 2: training-mode BN needs more than one value
        logits, aux_logits = model(torch.zeros((2, 3, 299, 299), device="meta"))
    assert tuple(logits.shape) == tuple(aux_logits.shape) == (2, 1000)
    assert counter.get_total_flops() == 2 * 2 * (report.macs + aux_macs)


def test_deeplabv3_without_the_aux_head() -> None:
    report = report_of(ARCHITECTURES["deeplabv3_resnet50"][2])
    names = [r.name for r in report.rows]
    aux_rows = report.rows[names.index("out") + 1 :]
    assert (aux_rows[0].name, aux_rows[-1].name) == ("aux_conv", "aux")
    main = measure(build(lambda: A.deeplabv3_resnet50(aux=False)), (3, 520, 520))
    assert main["outputs"] == [(21, 520, 520)]
    assert report.params - sum(r.cost.params for r in aux_rows) == main["params"] == 39_638_869
    assert report.macs - sum(r.cost.macs for r in aux_rows) == main["macs"] == 168_731_205_888


def test_fpn_plus_faster_rcnn_heads_is_torchvisions_detector() -> None:
    report = report_of(ARCHITECTURES["fpn_resnet50"][2])
    heads = build(A.FasterRCNNHeads)
    head_params = sum(p.numel() for p in heads.parameters())
    assert head_params == 14_955_990
    assert report.params + head_params == FASTERRCNN_RESNET50_FPN_PARAMS
    # FrozenBatchNorm2d holds buffers, not parameters: trainable BN would add 2 x C per norm
    trainable = measure(build(lambda: A.ResNet50FPN(norm=torch.nn.BatchNorm2d)), (3, 64, 64))
    assert trainable["params"] - report.params == 53_120


def test_tcn_weight_norm_adds_one_gain_per_output_channel_and_no_macs() -> None:
    report = report_of(ARCHITECTURES["tcn"][2])
    plain = twin("tcn")
    normed = measure(build(lambda: A.tcn_seq_mnist(weight_norm=True)), (1, 784))
    assert normed["params"] == plain["params"] + 16 * 25 == report.params + 400
    assert normed["macs"] == plain["macs"] == report.macs


def test_efficientnet_b0_spec_scaled_in_depth_is_b1() -> None:
    """Compound scaling: B1 is B0 with depth 1.1 at 240 px (same widths). Each stage of the spec
    is a `repeat`, so depth scaling gives torchvision's efficientnet_b1 exactly."""
    net, repeats = fit.scale_depth(spec.load(str(ARCHITECTURES["efficientnet_b0"][2])), 1.1)
    assert repeats == 7
    report = network.walk(net.with_resolution(240))
    assert sum(r.type == "squeeze_excite" for r in report.rows) == 2 + 3 + 3 + 4 + 4 + 5 + 2
    b1 = measure(build(lambda: A.EfficientNet(depth_mult=1.1)), (3, 240, 240))
    assert (report.params, report.macs) == (b1["params"], b1["macs"])
    assert report.output_shape == b1["outputs"][0]
    assert b1["params"] == 7_794_184  # torchvision, EfficientNet_B1_Weights
    assert gmacs_as_printed(b1["macs"], "0.687") == "0.687"


def test_regnet_stage_widths_as_torchvision_computes_them() -> None:
    stages = A.regnet_stages(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8)
    assert [(w, d, g) for w, _, d, g, _ in stages] == [(48, 1, 8), (104, 3, 8), (208, 6, 8), (440, 6, 8)]


def test_specs_use_the_new_layer_types() -> None:
    """What each spec needs (issue 9): a regression guard against falling back on tricks."""

    def types(name: str) -> set[str]:
        return set(report_of(ARCHITECTURES[name][2]).by_type())

    assert {"squeeze_excite"} <= {r.type for r in report_of(ARCHITECTURES["efficientnet_b0"][2]).rows}
    assert {"squeeze_excite"} <= {r.type for r in report_of(ARCHITECTURES["regnet_y_400mf"][2]).rows}
    assert {"layernorm", "scale"} <= types("convnext_tiny")
    assert {"resize", "concat"} <= types("deeplabv3_resnet50")
    assert {"resize", "add"} <= types("fpn_resnet50")
    assert {"crop"} <= types("tcn")
    assert len(report_of(ARCHITECTURES["fpn_resnet50"][2]).outputs) == 5


# -- --resolution: the sizes follow PyTorch's -----------------------------------------------------------
@pytest.mark.parametrize("name", ["deeplabv3_resnet50", "fpn_resnet50"])
@pytest.mark.parametrize("size", [250, 333, 97])
def test_resolution_changes_the_outputs_as_pytorch_does(name: str, size: int) -> None:
    report = report_of(ARCHITECTURES[name][2], size)
    t = twin(name, (3, size, size))
    assert list(report.outputs.values()) == t["outputs"]
    assert (report.params, report.macs) == (t["params"], t["macs"])


def test_deeplab_at_250_gives_250x250_outputs(cli: Callable[..., Any]) -> None:
    r = cli("report", str(ARCHITECTURES["deeplabv3_resnet50"][2]), "--resolution", "250", "-f", "json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["input_shape"] == [3, 250, 250]
    assert d["outputs"] == {"out": [21, 250, 250], "aux": [21, 250, 250]}


def test_fpn_levels_follow_the_backbones_rounding(cli: Callable[..., Any]) -> None:
    # 250 -> conv1 125 -> maxpool 63 -> layer2 32 -> layer3 16 -> layer4 8 -> P6 4: P2 is the
    # maxpool's 63 (floor((125 + 2 - 3) / 2) + 1), every level above rounds up (odd sizes)
    r = cli("report", str(ARCHITECTURES["fpn_resnet50"][2]), "--resolution", "250", "-f", "json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    sizes = {k: v[1:] for k, v in d["outputs"].items()}
    assert sizes == {"p2": [63, 63], "p3": [32, 32], "p4": [16, 16], "p5": [8, 8], "p6": [4, 4]}
    assert [v[1:] for v in map(list, twin("fpn_resnet50", (3, 250, 250))["outputs"])] == list(sizes.values())
