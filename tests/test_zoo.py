"""The reference model zoo: every spec against its hand-written PyTorch twin (tests/zoo_twins.py,
transcribed from the reference code) and against the published figures.

The judges are torch (shapes, ``sum(p.numel())``, ``FlopCounterMode`` / 2) and the papers /
official model cards. Where a published figure and the exact count differ, the test asserts the
exact count (from torch) and the documented reason (the same reason is in the spec's header).
"""

from __future__ import annotations

import json
import os
import re

import pytest

torch = pytest.importorskip("torch")

import zoo_twins  # noqa: E402
from zoo_twins import TWINS, build, measure, weights  # noqa: E402

from convcalc import network, spec, zoo  # noqa: E402

M = 10**6
WEIGHTED = ("conv", "depthwise", "pointwise", "linear", "transposed")


def walk(name: str, **kw):
    return network.walk(spec.load(f"zoo:{name}"), **kw)


def twin(name: str, input_shape=None, **kw) -> dict:
    builder, shape = TWINS[name]
    return measure(build(lambda: builder(**kw)), input_shape or shape)


def weighted(report, field: str) -> int:
    """Conv + FC totals (no BN): what the papers count."""
    return sum(v[field] for t, v in report.by_type().items() if t in WEIGHTED)


# -- every spec ------------------------------------------------------------------------------
def test_every_zoo_model_has_a_twin():
    assert set(zoo.names()) == set(TWINS)
    assert {
        "mobilenet_v1",
        "vgg16",
        "resnet50",
        "alexnet",
        "googlenet",
        "squeezenet1_0",
        "dcgan_generator",
        "unet_small",
        "lecture_separable",
    } <= set(zoo.names())
    assert {f"shufflenet_v1_g{g}" for g in (1, 2, 3, 4, 8)} <= set(zoo.names())


@pytest.mark.parametrize("name", sorted(TWINS))
def test_zoo_model_equals_its_torch_twin(name):
    report = walk(name)
    t = twin(name)
    assert report.output_shape == t["output_shape"]
    assert report.params == t["params"]
    assert report.macs == t["macs"]


@pytest.mark.parametrize(
    "name", ["lecture_separable", "shufflenet_v1_0.5x_g3", "dcgan_generator", "unet_small"]
)
def test_meta_device_counts_equal_a_real_forward(name):
    """The twins run on the meta device; a real CPU forward counts the same."""
    builder, shape = TWINS[name]
    torch.manual_seed(0)
    assert measure(build(builder, "cpu"), shape, "cpu") == measure(build(builder), shape)


@pytest.mark.parametrize("name", sorted(TWINS))
def test_zoo_spec_has_a_citation_header(name):
    text = zoo.read(name)
    assert text.startswith("# title: ")
    h = zoo.info(name)
    for key in zoo.REQUIRED:
        assert h[key], f"{name}: header field {key!r} is empty"
    assert re.search(r"arXiv:\d{4}\.\d{4,5}|SEED\.md", h["source"]), h["source"]
    assert h["code"].startswith("https://") or h["code"].startswith("none"), h["code"]
    assert "Differences" in h["notes"], "the header must say how the count relates to the published one"
    net = spec.parse_text(text, name)
    assert net.name == name and net.description


def test_header_parser():
    text = (
        "# title: T\n# cite: C 2020\n# source: line one\n#   line two\n# published: 5 M\n#\n"
        "# A note.\n#   indented note\n# title: a second title is a note\n"
        "name: x\n# code: after the header\n"
    )
    h = zoo.parse_header(text)
    assert h["title"] == "T" and h["cite"] == "C 2020"
    assert h["source"] == "line one line two"
    assert h["published"] == "5 M"
    assert h["code"] == h["computed"] == ""
    assert h["notes"] == "A note.\n  indented note\ntitle: a second title is a note"


def test_unknown_zoo_model_suggests_a_name():
    from convcalc.errors import SpecError

    with pytest.raises(SpecError, match=r"did you mean 'mobilenet_v1'"):
        spec.load("zoo:mobilnet_v1")


# -- MobileNet v1 (Howard et al. 2017) -----------------------------------------------------------
def test_mobilenet_v1_published_totals():
    r = walk("mobilenet_v1")
    t = twin("mobilenet_v1")
    paper_params = weights(build(zoo_twins.mobilenet_v1))  # conv + FC weights, as torch counts them
    assert weighted(r, "params") == paper_params == 4_209_088  # REFERENCE.md (FC without bias)
    assert weighted(r, "macs") == t["macs"] == 568_740_352
    assert round(weighted(r, "macs") / M) == 569  # paper: 569 M mult-adds
    assert round(weighted(r, "params") / M, 1) == 4.2  # paper: 4.2 M parameters
    # the FC has no bias: with one (torch's default), its share of the parameters would not be
    # Table 2's 24.33%
    biased = build(zoo_twins.mobilenet_v1)
    biased[-1] = torch.nn.Linear(1024, 1000)
    fc = sum(p.numel() for p in biased[-1].parameters())
    assert round(100 * fc / weights(biased), 2) == 24.35
    assert round(100 * r.by_type()["linear"]["params"] / weighted(r, "params"), 2) == 24.33
    # TF-slim's docstring: the body alone (no FC) is 3,185,088 params, 567,716,352 MACs
    by = r.by_type()
    assert weighted(r, "params") - by["linear"]["params"] == 3_185_088
    assert weighted(r, "macs") - by["linear"]["macs"] == 567_716_352


def test_mobilenet_v1_table2_shares():
    """Paper Table 2, resources per layer type: shares of the conv + FC mult-adds and params."""
    by = walk("mobilenet_v1").by_type()
    macs = sum(by[t]["macs"] for t in ("conv", "depthwise", "pointwise", "linear"))
    params = sum(by[t]["params"] for t in ("conv", "depthwise", "pointwise", "linear"))

    def share(t, field, total):
        return round(100 * by[t][field] / total, 2)

    assert (share("pointwise", "macs", macs), share("pointwise", "params", params)) == (94.86, 74.59)
    assert (share("depthwise", "macs", macs), share("depthwise", "params", params)) == (3.06, 1.06)
    assert (share("linear", "macs", macs), share("linear", "params", params)) == (0.18, 24.33)
    # the first (standard 3x3) conv: 0.02% of the params; its mult-add share is what the three
    # rows above leave, 100 - 94.86 - 3.06 - 0.18 = 1.90 (1.91 exactly; see the spec's header)
    assert share("conv", "params", params) == 0.02
    assert share("conv", "macs", macs) == 1.91
    assert abs(100 * by["conv"]["macs"] / macs - (100 - 94.86 - 3.06 - 0.18)) < 0.015


# paper Table 6 (width multiplier, 224): alpha -> (M mult-adds, M params)
TABLE6 = {1.0: (569, 4.2), 0.75: (325, 2.6), 0.5: (149, 1.3), 0.25: (41, 0.5)}
# paper Table 7 (resolution, alpha 1): resolution -> M mult-adds
TABLE7 = {224: 569, 192: 418, 160: 290, 128: 186}


@pytest.mark.parametrize("alpha", sorted(TABLE6))
def test_mobilenet_v1_table6_width_multiplier(alpha):
    r = walk("mobilenet_v1", width_mult=alpha)
    t = twin("mobilenet_v1", alpha=alpha)
    assert (r.macs, r.params) == (t["macs"], t["params"])  # torch's thinned MobileNet
    paper_params = weights(build(lambda: zoo_twins.mobilenet_v1(alpha)))
    assert weighted(r, "params") == paper_params
    macs, params = TABLE6[alpha]
    assert round(weighted(r, "macs") / M) == macs
    assert round(weighted(r, "params") / M, 1) == params


@pytest.mark.parametrize("res", sorted(TABLE7))
def test_mobilenet_v1_table7_resolution(res):
    net = spec.load("zoo:mobilenet_v1").with_resolution(res)
    r = network.walk(net)
    t = twin("mobilenet_v1", input_shape=(3, res, res))
    assert (r.macs, r.output_shape) == (t["macs"], t["output_shape"])
    exact = weighted(r, "macs")
    # The paper's column is the 224 total scaled by rho^2 = (res/224)^2: that rule gives all four.
    at224 = weighted(walk("mobilenet_v1"), "macs")
    assert round(at224 * (res / 224) ** 2 / M) == TABLE7[res]
    if res == 160:
        # ... but the exact count does not: the FC's 1.024 M MACs do not shrink with the input,
        # only the convolutions' 567,716,352 do (exactly by rho^2: 112/80 = 7/5 at every stage).
        assert exact == 290_675_200 == 567_716_352 * 25 // 49 + 1_024_000
        assert round(exact / M) == 291 != TABLE7[160]
    else:
        assert round(exact / M) == TABLE7[res]


def test_mobilenet_v1_table3_one_layer():
    """Paper Table 3: 14x14x512 -> 512 with a 3x3 kernel, standard vs depthwise separable."""
    std = measure(torch.nn.Conv2d(512, 512, 3, padding=1, bias=False), (512, 14, 14))
    sep = measure(
        torch.nn.Sequential(
            torch.nn.Conv2d(512, 512, 3, padding=1, groups=512, bias=False),
            torch.nn.Conv2d(512, 512, 1, bias=False),
        ),
        (512, 14, 14),
    )
    net = spec.parse_text(
        "input: [512, 14, 14]\nlayers:\n"
        "  - {type: separable, out_channels: 512, kernel: 3, padding: 1, bias: false}\n"
    )
    r = network.walk(net)
    assert (r.macs, r.params) == (sep["macs"], sep["params"])
    assert r.rows[0].cost.extra["standard_macs"] == std["macs"]
    assert (round(std["macs"] / M), round(std["params"] / M, 2)) == (462, 2.36)
    assert (round(sep["macs"] / M, 1), round(sep["params"] / M, 2)) == (52.3, 0.27)


# -- VGG-16, ResNet-50, AlexNet, GoogLeNet, SqueezeNet -----------------------------------------
def test_vgg16_published():
    r = walk("vgg16")
    by = r.by_type()
    assert (r.macs, r.params) == (15_470_264_320, 138_357_544)  # torchvision: 15.47 G, 138,357,544
    assert round(r.macs / 10**7) / 100 == 15.47
    assert by["conv"]["macs"] == 15_346_630_656 and by["linear"]["macs"] == 123_633_664
    # MobileNet's "15300": the convs alone round to it at 3 significant digits, the total does not
    assert round(by["conv"]["macs"] / 10**8) * 100 == 15300
    assert round(r.macs / 10**8) * 100 == 15500
    assert round(r.params / M) == 138


def test_resnet50_published():
    r = walk("resnet50")
    assert r.params == 25_557_032  # torchvision
    assert round(r.macs / 10**6) / 1000 == 4.089  # torchvision _ops 4.089
    assert round(r.macs / 10**7) / 100 == 4.09
    # the paper's 3.8 G is v1 (stride on the first 1x1): build that in torch and in convcalc
    v1 = measure(build(lambda: zoo_twins.resnet50(v1=True)), (3, 224, 224))
    text = zoo.read("resnet50")
    for m in (128, 256, 512):
        a = (
            f"{{<<: *conv, out_channels: {m}, kernel: 1}}, *bn, *relu,\n"
            f"               {{<<: *conv, out_channels: {m}, kernel: 3, stride: 2, padding: 1}}"
        )
        b = (
            f"{{<<: *conv, out_channels: {m}, kernel: 1, stride: 2}}, *bn, *relu,\n"
            f"               {{<<: *conv, out_channels: {m}, kernel: 3, padding: 1}}"
        )
        assert text.count(a) == 1
        text = text.replace(a, b)
    r1 = network.walk(spec.parse_text(text))
    assert (r1.macs, r1.params) == (v1["macs"], v1["params"]) == (3_857_973_248, 25_557_032)
    assert int(r1.macs / 10**8) / 10 == 3.8  # "3.8 x 10^9": truncated (3.86)


def test_alexnet_published():
    r = walk("alexnet")
    assert (r.macs, r.params) == (714_188_480, 61_100_840)  # torchvision: 0.714 G, 61,100,840
    assert round(r.macs / M) / 1000 == 0.714
    # ShuffleNet's 720 M: the original two-tower AlexNet on 227x227 (torch is the judge)
    orig = measure(build(zoo_twins.alexnet_original), (3, 227, 227))
    assert orig["macs"] == 724_406_816
    assert round(orig["macs"], -7) == 720 * M
    net = spec.parse_text("""input: [3, 227, 227]
layers:
  - {type: conv, out_channels: 96, kernel: 11, stride: 4}
  - {type: pool, kernel: 3, stride: 2}
  - {type: conv, out_channels: 256, kernel: 5, padding: 2, groups: 2}
  - {type: pool, kernel: 3, stride: 2}
  - {type: conv, out_channels: 384, kernel: 3, padding: 1}
  - {type: conv, out_channels: 384, kernel: 3, padding: 1, groups: 2}
  - {type: conv, out_channels: 256, kernel: 3, padding: 1, groups: 2}
  - {type: pool, kernel: 3, stride: 2}
  - {type: linear, out_features: 4096}
  - {type: linear, out_features: 4096}
  - {type: linear, out_features: 1000}
""")
    ro = network.walk(net)
    assert (ro.macs, ro.params) == (orig["macs"], orig["params"])


def test_googlenet_published():
    r = walk("googlenet")
    assert (r.macs, r.params) == (1_498_376_192, 6_624_904)  # torchvision: 1.498 G, 6,624,904
    assert round(r.macs / M) / 1000 == 1.498
    # the paper's 5x5 branch: convcalc (spec edited) and torch agree; 2% / 3% above MobileNet's
    # 1550 M and 6.8 M, a difference documented in the header, not explained
    text = zoo.read("googlenet")
    five = re.sub(
        r"(- \[\{<<: \*c1, out_channels: \d+\}, \*bn, \*relu, )\{<<: \*c3, (out_channels: \d+)\}"
        r"(, \*bn, \*relu\]\n      - \[\*branch_pool)",
        r"\1{type: conv, kernel: 5, padding: 2, bias: false, \2}\3",
        text,
    )
    assert five.count("kernel: 5") == 9
    r5 = network.walk(spec.parse_text(five))
    model5 = build(lambda: zoo_twins.googlenet(paper_5x5=True))
    t5 = measure(model5, (3, 224, 224))
    assert (r5.macs, r5.params) == (t5["macs"], t5["params"])
    assert r5.macs == 1_582_671_872 and weights(model5) == weighted(r5, "params") == 6_991_272
    assert 0.02 < r5.macs / (1550 * M) - 1 < 0.025
    assert 0.02 < weights(model5) / (6.8 * M) - 1 < 0.03


def test_squeezenet1_0_published():
    r = walk("squeezenet1_0")
    assert (r.macs, r.params) == (818_924_576, 1_248_424)  # torchvision: 0.819 G, 1,248,424
    assert round(r.macs / M) / 1000 == 0.819
    # ShuffleNet's 833 M: the same network at the Caffe release's 227x227 input
    r227 = network.walk(spec.load("zoo:squeezenet1_0").with_resolution(227))
    t227 = twin("squeezenet1_0", input_shape=(3, 227, 227))
    assert r227.macs == t227["macs"] == 832_667_936
    assert round(r227.macs / M) == 833
    assert round(r.macs / M) != 833


# -- ShuffleNet v1 (Zhang et al. 2018; megvii ShuffleNet-Series) ---------------------------------
TABLE1 = {1: 143, 2: 140, 3: 137, 4: 133, 8: 137}  # paper Table 1, MFLOPs (mult-adds), no FC
README = {  # official README: M FLOPs (with the FC), M params
    "shufflenet_v1_2x_g3": (524, 5.4),
    "shufflenet_v1_2x_g8": (522, 6.5),
    "shufflenet_v1_1.5x_g3": (292, 3.4),
    "shufflenet_v1_1.5x_g8": (290, 4.3),
    "shufflenet_v1_g3": (138, 1.9),
    "shufflenet_v1_g8": (138, 2.4),
    "shufflenet_v1_0.5x_g3": (38, 0.7),
    "shufflenet_v1_0.5x_g8": (40, 1.0),
}


@pytest.mark.parametrize("g", sorted(TABLE1))
def test_shufflenet_v1_table1(g):
    r = walk(f"shufflenet_v1_g{g}")
    fc = r.by_type()["linear"]["macs"]
    assert round((r.macs - fc) / M) == TABLE1[g]


def test_shufflenet_v1_1x_g3_is_the_lectures_140_class():
    r = walk("shufflenet_v1_g3")
    assert 137 * M < r.macs < 140 * M
    assert r.macs == twin("shufflenet_v1_g3")["macs"] == 137_460_672


@pytest.mark.parametrize("name", sorted(README))
def test_shufflenet_v1_official_readme(name):
    r = walk(name)
    macs, params = README[name]
    assert round(r.params / M, 1) == params
    if name == "shufflenet_v1_g3":
        # unexplained: 137.46 M with the FC (136.50 M without) does not round to the README's 138
        assert round(r.macs / M) == 137 and round((r.macs - 960_000) / M) == 137
    else:
        assert round(r.macs / M) == macs


@pytest.mark.parametrize("alpha, scaled", [(0.5, "shufflenet_v1_0.5x_g3"), (2, "shufflenet_v1_2x_g3")])
def test_shufflenet_v1_scale_is_the_width_multiplier(alpha, scaled):
    """The official 0.5x and 2x (g = 3) halve / double every channel of 1x, stem included."""
    r = walk("shufflenet_v1_g3", width_mult=alpha)
    t = twin(scaled)
    assert (r.macs, r.params, r.output_shape) == (t["macs"], t["params"], t["output_shape"])


# -- DCGAN generator, the lecture's example ------------------------------------------------------
def test_dcgan_generator_published():
    r = walk("dcgan_generator")
    model = build(zoo_twins.dcgan_generator)
    assert (r.macs, r.params, r.output_shape) == (104_628_224, 3_576_704, (3, 64, 64))
    assert weights(model) == weighted(r, "params") == 3_574_784
    # the zero-insertion view costs more: s^2 = 4x for the stride-2 layers
    dense = sum(row.cost.extra["zero_insertion_macs"] for row in r.rows if row.type == "transposed")
    assert dense > 3 * r.macs


def test_lecture_separable():
    r = walk("lecture_separable")
    dw, pw = r.rows[0].cost.parts
    assert (dw.macs, pw.macs, r.macs) == (4_800, 49_152, 53_952)
    assert r.macs != 52_952  # the slide's typo
    std = measure(zoo_twins.lecture_standard(), (3, 12, 12))
    assert std["macs"] == r.rows[0].cost.extra["standard_macs"] == 1_228_800
    assert std["output_shape"] == r.output_shape == (256, 8, 8)


def test_unet_small_skips_and_dilation():
    r = walk("unet_small")
    concats = [row for row in r.rows if row.type == "concat"]
    assert [c.output_shape for c in concats] == [(128, 64, 64), (64, 128, 128)]
    dilated = [row for row in r.rows if row.type == "conv" and row.cost.output_shape == (128, 32, 32)]
    assert len(dilated) == 2
    assert sum(row.type == "transposed" for row in r.rows) == 2


# -- the CLI -------------------------------------------------------------------------------------
def test_cli_zoo_lists_every_model(cli):
    res = cli("zoo")
    assert res.code == 0, res.err
    for name in zoo.names():
        assert name in res.out
    assert "138,357,544" in res.out and "568,740,352" in res.out


def test_cli_zoo_json(cli):
    res = cli("zoo", "--format", "json")
    assert res.code == 0, res.err
    models = {m["name"]: m for m in json.loads(res.out)["models"]}
    assert set(models) == set(zoo.names())
    vgg = models["vgg16"]
    assert (vgg["params"], vgg["macs"], vgg["input_shape"]) == (138_357_544, 15_470_264_320, [3, 224, 224])
    assert "arXiv:1409.1556" in vgg["source"] and vgg["cite"]


def test_cli_zoo_csv_and_markdown(cli, tmp_path):
    res = cli("zoo", "-f", "csv")
    assert res.code == 0, res.err
    lines = res.out.strip().splitlines()
    assert len(lines) == 1 + len(zoo.names())
    assert any(line.startswith("resnet50,") and ",25557032," in line for line in lines)
    md = cli("zoo", "-f", "markdown")
    assert md.code == 0 and "| resnet50 |" in md.out
    out = tmp_path / "zoo.md"
    res = cli("zoo", "-f", "markdown", "--output", str(out))
    assert res.code == 0 and res.out == "" and out.read_text() == md.out


def test_cli_zoo_show(cli, tmp_path):
    res = cli("zoo", "show", "mobilenet_v1")
    assert res.code == 0, res.err
    with open(zoo.path("mobilenet_v1"), encoding="utf-8") as fh:
        assert res.out == fh.read()
    assert cli("zoo", "show", "zoo:mobilenet_v1").out == res.out
    out = tmp_path / "mine.yaml"
    res = cli("zoo", "show", "resnet50", "--output", str(out))
    assert res.code == 0 and res.out == ""
    edited = out.read_text().replace("out_features: 1000", "out_features: 10")
    r = network.walk(spec.parse_text(edited))
    assert r.output_shape == (10,) and r.params == 25_557_032 - 2048 * 990 - 990


def test_cli_zoo_show_unknown_name(cli):
    res = cli("zoo", "show", "resnet51")
    assert res.code == 2
    assert res.out == ""
    assert res.err.count("\n") == 1
    assert res.err.startswith("convcalc: error: ") and "did you mean 'resnet50'?" in res.err


def test_cli_report_zoo_model(cli):
    res = cli("report", "zoo:shufflenet_v1_g3", "--format", "json")
    assert res.code == 0, res.err
    d = json.loads(res.out)
    assert d["totals"]["macs"] == 137_460_672 and d["output_shape"] == [1000]
    res = cli("report", "zoo:mobilenet_v1", "--width-mult", "0.5", "-f", "json")
    assert json.loads(res.out)["totals"]["macs"] == twin("mobilenet_v1", alpha=0.5)["macs"]
    res = cli("report", "zoo:vgg17")
    assert res.code == 2 and "did you mean 'vgg16'?" in res.err


def test_zoo_specs_are_package_data():
    import convcalc

    here = os.path.join(os.path.dirname(convcalc.__file__), "zoo")
    assert sorted(f[:-5] for f in os.listdir(here) if f.endswith(".yaml")) == zoo.names()
