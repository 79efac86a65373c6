"""Every worked example of the lecture (../shared/SEED.md) and MobileNet's Table 3, each
checked against the lecture's own operation-count formulas, written out here."""

import pytest

from convcalc import layer


def lecture_standard(kw, kh, ci, w, h, co):
    return kw * kh * ci * w * h * co  # "K_w * K_h * C_i * W * H * C_o"


def lecture_separable(kw, kh, ci, w, h, co):
    return kw * kh * ci * w * h + ci * w * h * co  # depthwise step + pointwise step


def test_lecture_separable_example():
    # Input 12x12x3, 5x5 kernel, no padding, 256 outputs (8x8).
    std = layer("conv", out_channels=256, kernel=5).cost((3, 12, 12))
    sep = layer("separable", out_channels=256, kernel=5).cost((3, 12, 12))
    assert std.output_shape == sep.output_shape == (256, 8, 8)
    assert std.macs == lecture_standard(5, 5, 3, 8, 8, 256) == 1_228_800
    dw, pw = sep.parts
    assert (dw.label, dw.macs) == ("depthwise", 4_800)
    assert (pw.label, pw.macs) == ("pointwise", 49_152)
    # The slide says 52,952; 4,800 + 49,152 is 53,952: the slide has a typo.
    assert sep.macs == lecture_separable(5, 5, 3, 8, 8, 256) == 53_952


def test_separable_ratio_is_mobilenets():
    # MobileNet: separable / standard = 1/C_out + 1/k^2 when output sizes match.
    std = layer("conv", out_channels=512, kernel=3, padding=1, bias=False).cost((512, 14, 14))
    sep = layer("separable", out_channels=512, kernel=3, padding=1, bias=False).cost((512, 14, 14))
    assert sep.macs * 512 * 9 == std.macs * (9 + 512)


def test_mobilenet_table3():
    # Table 3: one 3x3 layer, 14x14x512 -> 512: standard 462M mult-adds and 2.36M params,
    # depthwise separable 52.3M and 0.27M.
    std = layer("conv", out_channels=512, kernel=3, padding=1, bias=False).cost((512, 14, 14))
    sep = layer("separable", out_channels=512, kernel=3, padding=1, bias=False).cost((512, 14, 14))
    assert round(std.macs / 1e6) == 462 and round(std.params / 1e6, 2) == 2.36
    assert round(sep.macs / 1e6, 1) == 52.3 and round(sep.params / 1e6, 2) == 0.27
    assert std.macs == lecture_standard(3, 3, 512, 14, 14, 512)
    assert sep.macs == lecture_separable(3, 3, 512, 14, 14, 512)


def test_dilation_keeps_params_and_macs_but_widens_the_field():
    from convcalc import receptive

    costs = {
        d: layer("conv", out_channels=16, kernel=3, dilation=d, padding=d).cost((16, 32, 32))
        for d in (1, 2, 4)
    }
    assert len({(c.params, c.macs, c.output_shape) for c in costs.values()}) == 1
    fields = {d: receptive.fields(receptive.apply(receptive.initial(2), c)) for d, c in costs.items()}
    assert fields == {1: (3, 3), 2: (5, 5), 4: (9, 9)}


def test_3d_conv_slides_along_depth():
    # A 3D conv's kernel also spans the third axis: 3x3x3 over 16x112x112 (video, C3D-like).
    c = layer("conv", out_channels=64, kernel=3, padding=1).cost((3, 16, 112, 112))
    assert c.output_shape == (64, 16, 112, 112)
    assert c.macs == 64 * 3 * 27 * 16 * 112 * 112
    c2 = layer("conv", out_channels=64, kernel=3, padding=1).cost((3 * 16, 112, 112))
    assert c2.output_shape == (64, 112, 112)  # a 2D conv over stacked frames keeps no depth


@pytest.mark.parametrize("i,k,s,p", [(4, 4, 2, 1), (2, 3, 2, 0), (8, 4, 2, 1)])
def test_transposed_lecture_recipe(i, k, s, p):
    # z = s-1 zeros between pixels, p' = k-p-1, s' = 1: the direct conv's output size
    # equals the transposed conv's (i-1)s + k - 2p.
    t = layer("transposed", out_channels=1, kernel=k, stride=s, padding=p).cost((1, i))
    stretched = (i - 1) * s + 1 + 2 * (k - p - 1)
    assert t.output_shape[1] == stretched - k + 1 == (i - 1) * s + k - 2 * p
    # MACs counted per input element (the useful work); the zero-insertion view counts
    # every output position's full window.
    assert t.macs == i * k
    assert t.extra["zero_insertion_macs"] == t.output_shape[1] * k
