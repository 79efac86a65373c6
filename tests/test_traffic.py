"""Memory traffic and arithmetic intensity (convcalc.traffic), issue 14.

Hand-computed layers (every expected number is written out from the layer's shapes, not taken
from convcalc), ShuffleNet v2's memory access cost of a 1x1 conv, and an oracle: the bytes of
the tensors that torch's own kernels read and write (observed with a TorchDispatchMode while a
layer's torch twin runs on the meta device) for random conv-family and linear layers.
"""

from __future__ import annotations

from fractions import Fraction
from math import prod

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_oracle_networks import SETTINGS
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode
from torch_twin import layer_module

from convcalc.errors import ConvcalcError
from convcalc.layers import REGISTRY
from convcalc.layers.base import Cost
from convcalc.traffic import Traffic, layer_traffic, total


def cost(type_name: str, shape, **params):
    return REGISTRY[type_name].build(params).cost(tuple(shape))


# -- hand-computed layers ----------------------------------------------------------------------
def test_conv3x3_bytes_and_intensity():
    # 16x8x8 -> 32x8x8, 3x3, padding 1, bias: weights 32*16*9 + 32 = 4640
    t = layer_traffic(cost("conv", (16, 8, 8), out_channels=32, kernel=3, padding=1), "fp32")
    assert t.bytes_read == 4 * (16 * 8 * 8 + 4640)
    assert t.bytes_written == 4 * (32 * 8 * 8)
    assert t.memory_traffic == 4 * (16 * 64 + 4640 + 32 * 64)
    flops = 2 * (32 * 16 * 9 * 64) + 32 * 64  # 2 x MACs + one bias add per output element
    assert t.flops == flops
    assert t.arithmetic_intensity == Fraction(flops, 4 * (16 * 64 + 4640 + 32 * 64))
    assert t.as_dict() == {
        "bytes_read": 22656,
        "bytes_written": 8192,
        "memory_traffic": 30848,
        "arithmetic_intensity": 591872 / 30848,
    }


def test_depthwise3x3_is_about_2_flop_per_byte_in_fp32():
    # the example: a depthwise 3x3 conv is memory-bound (about 2 FLOP/byte in fp32)
    c, hw = 32, 56 * 56
    t = layer_traffic(cost("depthwise", (c, 56, 56), kernel=3, padding=1, bias=False), "fp32")
    assert t.bytes_read == 4 * (c * hw + c * 9)
    assert t.bytes_written == 4 * c * hw
    assert t.arithmetic_intensity == Fraction(2 * c * 9 * hw, 4 * (2 * c * hw + c * 9))
    assert 2.2 < float(t.arithmetic_intensity) < 2.25


def test_pointwise_traffic_is_shufflenet_v2_memory_access_cost():
    # Ma et al. 2018: a 1x1 conv's memory access cost MAC = hw(c1 + c2) + c1 c2 (elements)
    for h, w, c1, c2 in [(28, 28, 64, 128), (56, 56, 116, 116), (7, 7, 1024, 1000)]:
        t = layer_traffic(cost("pointwise", (c1, h, w), out_channels=c2, bias=False), "fp32")
        assert t.memory_traffic == 4 * (h * w * (c1 + c2) + c1 * c2)
        t16 = layer_traffic(cost("pointwise", (c1, h, w), out_channels=c2, bias=False), "fp16")
        assert t16.memory_traffic == 2 * (h * w * (c1 + c2) + c1 * c2)


def test_residual_add_reads_both_operands():
    shape = (64, 14, 14)
    add = Cost("add", shape, shape, flops=prod(shape), input_shapes=(shape, shape))
    t = layer_traffic(add, "fp32", batch=2)
    assert t.bytes_read == 2 * (2 * 64 * 14 * 14) * 4
    assert t.bytes_written == 2 * 64 * 14 * 14 * 4
    assert t.arithmetic_intensity == Fraction(2 * 64 * 196, 3 * 2 * 64 * 196 * 4)  # 1/12 FLOP per byte


def test_concat_reads_every_input():
    a, b, out = (24, 7, 7), (40, 7, 7), (64, 7, 7)
    cat = Cost("concat", a, out, input_shapes=(a, b))
    t = layer_traffic(cat, "int8")
    assert (t.bytes_read, t.bytes_written) == (64 * 49, 64 * 49)
    assert t.arithmetic_intensity == 0


def test_transposed_conv():
    # DCGAN-like: 64x8x8 -> 32x16x16, k4 s2 p1, no bias: weight (C_in, C_out, 4, 4)
    t = layer_traffic(
        cost("transposed", (64, 8, 8), out_channels=32, kernel=4, stride=2, padding=1, bias=False), "fp32"
    )
    assert t.bytes_read == 4 * (64 * 8 * 8 + 64 * 32 * 16)
    assert t.bytes_written == 4 * (32 * 16 * 16)
    macs = 64 * 32 * 16 * 8 * 8  # per input element, the useful work
    assert t.arithmetic_intensity == Fraction(2 * macs, 4 * (64 * 64 + 64 * 32 * 16 + 32 * 256))


def test_batch_scales_activations_not_weights():
    c1 = cost("conv", (3, 32, 32), out_channels=8, kernel=3, bias=False)
    one, eight = layer_traffic(c1, "fp32", 1), layer_traffic(c1, "fp32", 8)
    weights = 4 * 8 * 3 * 9
    assert one.bytes_read - weights == 4 * 3 * 32 * 32
    assert eight.bytes_read - weights == 8 * 4 * 3 * 32 * 32
    assert eight.bytes_written == 8 * one.bytes_written
    assert eight.flops == 8 * one.flops
    assert eight.arithmetic_intensity > one.arithmetic_intensity  # weights amortised


@pytest.mark.parametrize("dtype,b", [("fp64", 8), ("fp32", 4), ("fp16", 2), ("bf16", 2), ("int8", 1)])
def test_dtype_bytes(dtype, b):
    t = layer_traffic(cost("pointwise", (10, 3, 3), out_channels=5, bias=True), dtype)
    assert t.bytes_read == b * (90 + 55) and t.bytes_written == b * 45


def test_unknown_dtype_and_bad_batch():
    c = cost("activation", (4, 4))
    with pytest.raises(ConvcalcError, match=r"unknown dtype 'fp17' \(did you mean 'fp16'\?\)"):
        layer_traffic(c, "fp17")
    with pytest.raises(ConvcalcError, match="batch must be >= 1"):
        layer_traffic(c, "fp32", 0)


def test_elementwise_pool_and_norm_count_reads_and_writes():
    bn = layer_traffic(cost("batchnorm", (16, 10, 10)), "fp32")
    assert bn.bytes_read == 4 * (1600 + 2 * 16) and bn.bytes_written == 4 * 1600  # folded scale, shift
    relu = layer_traffic(cost("activation", (16, 10, 10), fn="relu"), "fp16")
    assert (relu.bytes_read, relu.bytes_written) == (3200, 3200)
    pool = layer_traffic(cost("pool", (16, 10, 10), kernel=2), "fp32")
    assert (pool.bytes_read, pool.bytes_written) == (4 * 1600, 4 * 400)
    gp = layer_traffic(cost("global_pool", (16, 10, 10)), "fp32")
    assert (gp.bytes_read, gp.bytes_written) == (4 * 1600, 4 * 16)
    shuffle = layer_traffic(cost("channel_shuffle", (16, 10, 10), groups=4), "fp32")
    assert (shuffle.bytes_read, shuffle.bytes_written) == (6400, 6400)  # a permutation copies


@pytest.mark.parametrize("t,params", [("flatten", {}), ("dropout", {}), ("identity", {})])
def test_views_move_nothing(t, params):
    tr = layer_traffic(cost(t, (8, 4, 4), **params), "fp32", batch=4)
    assert (tr.bytes_read, tr.bytes_written, tr.memory_traffic) == (0, 0, 0)
    assert tr.arithmetic_intensity is None and tr.as_dict()["arithmetic_intensity"] is None


def test_separable_is_the_sum_of_its_parts_unfused():
    # depthwise 3x3 (32x28x28) then pointwise to 64: the 32x28x28 intermediate is written
    # by the first kernel and read by the second
    c = cost("separable", (32, 28, 28), out_channels=64, kernel=3, padding=1, bias=False)
    t = layer_traffic(c, "fp32")
    mid, out = 32 * 784, 64 * 784
    assert t.bytes_read == 4 * ((32 * 784 + 32 * 9) + (mid + 32 * 64))
    assert t.bytes_written == 4 * (mid + out)
    assert len(t.parts) == 2 and t.parts[0] + t.parts[1] == Traffic(t.bytes_read, t.bytes_written, t.flops)


def test_shuffle_unit_merges_read_both_branches():
    # stride 1: the add reads the main branch and the unit's input (identity shortcut)
    c = cost("shuffle", (240, 28, 28), out_channels=240, groups=3)
    t = layer_traffic(c, "fp32")
    labels = [p.label for p in c.parts]
    add = t.parts[labels.index("add")]
    assert add.bytes_read == 4 * 2 * 240 * 784 and add.bytes_written == 4 * 240 * 784
    assert t.bytes_read == sum(p.bytes_read for p in t.parts)
    # stride 2: the concat reads the main branch (480-240 channels) and the pooled input (240)
    c2 = cost("shuffle", (240, 28, 28), out_channels=480, groups=3, stride=2)
    t2 = layer_traffic(c2, "fp32")
    labels = [p.label for p in c2.parts]
    cat = t2.parts[labels.index("concat")]
    assert cat.bytes_read == 4 * (240 + 240) * 196 and cat.bytes_written == 4 * 480 * 196
    pool = t2.parts[labels.index("shortcut_pool")]
    assert pool.bytes_read == 4 * 240 * 784 and pool.bytes_written == 4 * 240 * 196


def test_totals_are_sums():
    ts = [layer_traffic(cost("conv", (3, 16, 16), out_channels=c, kernel=3), "fp32") for c in (4, 8)]
    s = total(ts)
    assert s.bytes_read == ts[0].bytes_read + ts[1].bytes_read
    assert s.memory_traffic == ts[0].memory_traffic + ts[1].memory_traffic
    assert total([]).memory_traffic == 0 and total([]).arithmetic_intensity is None


def test_huge_counts_stay_exact():
    c = cost("conv", (2**20, 2**12, 2**12), out_channels=2**20, kernel=1, bias=False)
    t = layer_traffic(c, "fp64", batch=10**6)
    assert t.bytes_written == 8 * 2**20 * 2**24 * 10**6
    assert isinstance(t.as_dict()["arithmetic_intensity"], float)


# -- oracle: the bytes torch's kernels read and write ------------------------------------------
class KernelBytes(TorchDispatchMode):
    """Sums, over every aten op that is not a view, the bytes of its tensor inputs and outputs."""

    def __init__(self):
        super().__init__()
        self.read = self.written = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not any(r.alias_info is not None for r in func._schema.returns):
            ins = [a for a in pytree.tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor)]
            outs = [o for o in pytree.tree_leaves(out) if isinstance(o, torch.Tensor)]
            self.read += sum(a.numel() * a.element_size() for a in ins)
            self.written += sum(o.numel() * o.element_size() for o in outs)
        return out


def torch_bytes(layer, shape, batch: int, dtype=torch.float32) -> tuple[int, int]:
    with torch.device("meta"):
        module = layer_module(layer, shape).to(dtype).eval()
        x = torch.empty(batch, *shape, dtype=dtype)
    with torch.no_grad(), KernelBytes() as mode:
        module(x)
    return mode.read, mode.written


@st.composite
def conv_layers(draw):
    t = draw(st.sampled_from(["conv", "depthwise", "pointwise", "transposed", "separable", "linear"]))
    n = draw(st.integers(1, 3))
    size = tuple(draw(st.integers(3, 9)) for _ in range(n))
    g = draw(st.sampled_from([1, 2, 3]))
    c_in = g * draw(st.integers(1, 4))
    c_out = g * draw(st.integers(1, 4))
    k = draw(st.integers(1, 3))
    s = draw(st.integers(1, 2))
    bias = draw(st.booleans())
    if t == "conv":
        p = dict(out_channels=c_out, kernel=k, stride=s, padding=draw(st.integers(0, 1)), groups=g, bias=bias)
    elif t == "depthwise":
        p = dict(
            kernel=k, stride=s, padding=draw(st.integers(0, 1)), multiplier=draw(st.integers(1, 2)), bias=bias
        )
    elif t == "pointwise":
        p = dict(out_channels=c_out, stride=s, groups=g, bias=bias)
    elif t == "transposed":
        p = dict(out_channels=c_out, kernel=k, stride=s, padding=0, groups=g, bias=bias)
    elif t == "separable":
        p = dict(out_channels=c_out, kernel=k, stride=s, padding=draw(st.integers(0, 1)), bias=bias)
    else:
        p = dict(out_features=c_out, bias=bias)
    return REGISTRY[t].build(p), (c_in, *size)


@settings(max_examples=60, **SETTINGS)
@given(conv_layers(), st.integers(1, 3), st.sampled_from(["fp32", "fp16", "fp64"]))
def test_traffic_matches_torch_kernels(layer_shape, batch, dtype):
    layer, shape = layer_shape
    t = layer_traffic(layer.cost(shape), dtype, batch)
    dt = {"fp32": torch.float32, "fp16": torch.float16, "fp64": torch.float64}[dtype]
    assert (t.bytes_read, t.bytes_written) == torch_bytes(layer, shape, batch, dt)
