"""The roofline latency estimate (convcalc.roofline) on a small profile, worked by hand:
latency = max(FLOPs / peak, bytes / bandwidth) + launch overhead, exactly."""

from __future__ import annotations

from fractions import Fraction

import pytest

from convcalc.devices import Profile, load_profile, parse_text
from convcalc.errors import ConvcalcError
from convcalc.layers import REGISTRY
from convcalc.roofline import layer_estimate, summed

# 1 GFLOP/s at fp32, 4 GFLOP/s at fp16, 100 MB/s (ridge point: 10 FLOP/byte), 5 us per kernel
BOARD = parse_text(
    "name: board\npeak: {fp32: 1G, fp16: 4G}\nbandwidth: 100M\nlaunch_overhead: 5us\n", "board.yaml"
)
US = Fraction(1, 10**6)


def cost(type_name: str, shape, **params):
    return REGISTRY[type_name].build(params).cost(tuple(shape))


def test_compute_bound_conv():
    # 16x8x8 -> 32x8x8, 3x3, bias: 591,872 FLOPs, 30,848 bytes in fp32
    e = layer_estimate(cost("conv", (16, 8, 8), out_channels=32, kernel=3, padding=1), BOARD, "fp32")
    assert e.compute_s == Fraction(591872, 10**9)
    assert e.memory_s == Fraction(30848, 10**8)
    assert e.bound == "compute"
    assert e.latency_s == Fraction(591872, 10**9) + 5 * US
    assert e.memory_bound_s == 0 and e.kernels == 1
    assert e.as_dict()["latency_s"] == pytest.approx(596.872e-6, rel=1e-15)


def test_memory_bound_depthwise():
    # 32x56x56 depthwise 3x3, no bias: 1,806,336 FLOPs; 4 * (2 * 100,352 + 288) bytes
    e = layer_estimate(cost("depthwise", (32, 56, 56), kernel=3, padding=1, bias=False), BOARD, "fp32")
    bytes_ = 4 * (2 * 32 * 3136 + 32 * 9)
    assert e.compute_s == Fraction(2 * 32 * 9 * 3136, 10**9)
    assert e.memory_s == Fraction(bytes_, 10**8)
    assert e.bound == "memory"
    assert e.latency_s == Fraction(bytes_, 10**8) + 5 * US
    assert e.memory_bound_s == e.latency_s and e.memory_bound_share == 1


def test_dtype_changes_peak_and_bytes():
    c = cost("conv", (16, 8, 8), out_channels=32, kernel=3, padding=1)
    e = layer_estimate(c, BOARD, "fp16")
    assert e.compute_s == Fraction(591872, 4 * 10**9)
    assert e.memory_s == Fraction(30848 // 2, 10**8)


def test_views_take_no_time_and_no_overhead():
    e = layer_estimate(cost("flatten", (8, 4, 4)), BOARD, "fp32")
    assert e.latency_s == 0 and e.kernels == 0 and e.bound is None
    assert e.memory_bound_share is None


def test_composite_is_one_kernel_per_part():
    # separable: depthwise (memory-bound) then pointwise 32 -> 64 at 28x28
    c = cost("separable", (32, 28, 28), out_channels=64, kernel=3, padding=1, bias=False)
    e = layer_estimate(c, BOARD, "fp32")
    dw_bytes = 4 * (32 * 784 + 288 + 32 * 784)
    pw_bytes = 4 * (32 * 784 + 32 * 64 + 64 * 784)
    dw_flops, pw_flops = 2 * 32 * 9 * 784, 2 * 32 * 64 * 784
    dw = max(Fraction(dw_bytes, 10**8), Fraction(dw_flops, 10**9)) + 5 * US
    pw = max(Fraction(pw_bytes, 10**8), Fraction(pw_flops, 10**9)) + 5 * US
    assert [p.bound for p in e.parts] == ["memory", "compute"]
    assert e.latency_s == dw + pw and e.kernels == 2 and e.overhead_s == 10 * US
    assert e.memory_bound_s == dw
    assert e.bound == ("memory" if dw > pw else "compute")


def test_totals_sum_and_memory_bound_share():
    a = layer_estimate(cost("conv", (16, 8, 8), out_channels=32, kernel=3, padding=1), BOARD, "fp32")
    b = layer_estimate(cost("depthwise", (32, 56, 56), kernel=3, padding=1, bias=False), BOARD, "fp32")
    s = summed([a, b])
    assert s.latency_s == a.latency_s + b.latency_s
    assert s.memory_bound_share == b.latency_s / (a.latency_s + b.latency_s)
    assert s.bound == ("memory" if b.latency_s > a.latency_s else "compute")
    assert s.as_dict()["memory_bound_share"] == pytest.approx(float(s.memory_bound_share))
    assert summed([]).latency_s == 0 and summed([]).bound is None


def test_batch_raises_traffic_and_flops():
    c = cost("pointwise", (64, 14, 14), out_channels=64, bias=False)
    one, four = (layer_estimate(c, BOARD, "fp32", b) for b in (1, 4))
    assert four.compute_s == 4 * one.compute_s
    assert four.memory_s < 4 * one.memory_s  # the weights are read once


def test_missing_dtype_is_a_clear_error():
    c = cost("conv", (3, 8, 8), out_channels=4, kernel=3)
    with pytest.raises(ConvcalcError, match=r"device 'board' has no int8 peak \(it lists fp32, fp16\)"):
        layer_estimate(c, BOARD, "int8")
    with pytest.raises(ConvcalcError, match="has no bf16 peak"):
        layer_estimate(c, load_profile("t4"), "bf16")


def test_missing_bandwidth_is_a_clear_error():
    c = cost("conv", (3, 8, 8), out_channels=4, kernel=3)
    with pytest.raises(ConvcalcError, match="no memory bandwidth figure \\(none is published\\)"):
        layer_estimate(c, load_profile("edge-tpu"), "int8")
    p = Profile(name="x", peak={"fp32": 10**9}, bandwidth=None)
    with pytest.raises(ConvcalcError, match="give a profile file with bandwidth"):
        layer_estimate(c, p, "fp32")


def test_builtin_a100_depthwise_is_memory_bound_pointwise_compute_bound():
    # the story: on an A100, a depthwise 3x3 is memory-bound in every dtype while a
    # large 1x1 conv at batch 32 is compute-bound in fp32
    a100 = load_profile("a100-40gb")
    dw = cost("depthwise", (256, 56, 56), kernel=3, padding=1, bias=False)
    for dtype in ("fp32", "fp16", "int8"):
        assert layer_estimate(dw, a100, dtype).bound == "memory"
    pw = cost("pointwise", (512, 28, 28), out_channels=512, bias=False)
    assert layer_estimate(pw, a100, "fp32", batch=32).bound == "compute"
