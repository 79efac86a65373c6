"""Oracle tests for the tensor operations of imported models (convcalc/layers/tensor.py):
reshape, transpose, slice, select, dense, matmul, reduce, softmax, unary, binary, elementwise,
opaque, against their torch twins (tests/twin_layers.py).

For random valid configurations over shapes of any rank (1 to 5 dims without the batch)
convcalc's output shape, params and MACs (x batch) must equal torch's: a real forward pass,
sum(p.numel()) and FlopCounterMode / 2. For random configurations that may be invalid, convcalc
must refuse exactly what torch refuses. torch is the judge: no expected number below comes from
convcalc.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import pytest
import torch  # at top level: CI must fail, not skip, without torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from torch_twin import layer_module
from twin_layers import torch_counts_multi

from convcalc import receptive
from convcalc.errors import ConvcalcError, SpecError
from convcalc.layers import REGISTRY
from convcalc.layers.tensor import BINARY_OPS, ELEMENTWISE_OPS, REDUCE_OPS, UNARY_FLOPS, zero_cost_warnings

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Case(NamedTuple):
    values: dict
    shapes: tuple
    batch: int = 1


def build(case: Case):
    values = dict(case.values)
    return REGISTRY[values.pop("type")].build(values)


def assert_matches_torch(case: Case) -> None:
    layer = build(case)
    cost = layer.cost(*case.shapes)
    module = layer_module(layer, *case.shapes)
    out, params, macs = torch_counts_multi(module, case.shapes, case.batch)
    assert tuple(cost.output_shape) == out, f"output shape: convcalc {cost.output_shape}, torch {out}"
    assert cost.params == params, f"params: convcalc {cost.params}, torch {params}"
    assert cost.macs * case.batch == macs, f"MACs x batch: convcalc {cost.macs * case.batch}, torch {macs}"
    assert all(isinstance(v, int) for v in (cost.params, cost.macs, cost.flops, *cost.output_shape))


# -- strategies --------------------------------------------------------------------------------
BATCH = st.integers(1, 3)


@st.composite
def shapes(draw, lo_rank: int = 1, hi_rank: int = 5, lo: int = 1):
    rank = draw(st.integers(lo_rank, hi_rank))
    top = {1: 12, 2: 8, 3: 6, 4: 4, 5: 3}[rank]
    return tuple(draw(st.integers(lo, max(lo, top))) for _ in range(rank))


@st.composite
def reshape_cases(draw):
    shape = draw(shapes())
    n = math.prod(shape)
    # a random factorisation of the element count, maybe with one -1
    target, rest = [], n
    for _ in range(draw(st.integers(0, 3))):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = draw(st.sampled_from(divisors))
        target.append(d)
        rest //= d
    target.append(rest)
    target = draw(st.permutations(target))
    if draw(st.booleans()):
        target = list(target)
        target[draw(st.integers(0, len(target) - 1))] = -1
    return Case({"type": "reshape", "shape": list(target)}, (shape,), draw(BATCH))


@st.composite
def transpose_cases(draw):
    shape = draw(shapes())
    perm = draw(st.permutations(range(len(shape))))
    return Case({"type": "transpose", "perm": list(perm)}, (shape,), draw(BATCH))


@st.composite
def slice_cases(draw):
    shape = draw(shapes(lo=2))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    starts, ends, steps = [], [], []
    for a in axes:
        size = shape[a]
        lo = draw(st.integers(0, size - 1))
        hi = draw(st.integers(lo + 1, size))
        # written as a spec (or an exporter) might: negative from the end, or past the end
        starts.append(lo - size if draw(st.booleans()) else lo)
        ends.append(draw(st.sampled_from([hi, hi - size if hi < size else hi, 2**62 if hi == size else hi])))
        steps.append(draw(st.integers(1, 3)))
    values = {"type": "slice", "axes": [a - len(shape) if draw(st.booleans()) else a for a in axes]}
    values.update(starts=starts, ends=ends)
    if draw(st.booleans()):
        values["steps"] = steps
    return Case(values, (shape,), draw(BATCH))


@st.composite
def select_cases(draw):
    shape = draw(shapes(lo_rank=2))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    size = shape[axis]
    return Case(
        {"type": "select", "axis": axis, "index": draw(st.integers(-size, size - 1))}, (shape,), draw(BATCH)
    )


@st.composite
def dense_cases(draw):
    shape = draw(shapes(hi_rank=4))
    values = {"type": "dense", "out_features": draw(st.integers(1, 10))}
    if draw(st.booleans()):
        values["bias"] = draw(st.booleans())
    return Case(values, (shape,), draw(BATCH))


@st.composite
def matmul_cases(draw):
    m, k, n = (draw(st.integers(1, 6)) for _ in range(3))
    lead = draw(shapes(lo_rank=1, hi_rank=3)) if draw(st.booleans()) else ()
    a_lead = lead[draw(st.integers(0, len(lead))) :]
    b_lead = tuple(1 if draw(st.integers(0, 3)) == 0 else s for s in lead[draw(st.integers(0, len(lead))) :])
    return Case({"type": "matmul"}, (a_lead + (m, k), b_lead + (k, n)), draw(BATCH))


@st.composite
def reduce_cases(draw):
    shape = draw(shapes())
    op = draw(st.sampled_from(REDUCE_OPS))
    most = 1 if op in ("argmax", "argmin") else len(shape)  # torch.argmax takes one dim
    axes = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=most, unique=True))
    keep = draw(st.booleans()) if len(axes) < len(shape) else True
    values = {"type": "reduce", "op": op, "axes": axes, "keepdims": keep}
    return Case(values, (shape,), draw(BATCH))


@st.composite
def softmax_cases(draw):
    shape = draw(shapes())
    values = {"type": "softmax", "axis": draw(st.integers(-len(shape), len(shape) - 1))}
    if draw(st.booleans()):
        values["log"] = draw(st.booleans())
    return Case(values, (shape,), draw(BATCH))


@st.composite
def unary_cases(draw):
    return Case(
        {"type": "unary", "fn": draw(st.sampled_from(sorted(UNARY_FLOPS)))}, (draw(shapes()),), draw(BATCH)
    )


@st.composite
def broadcast_pair(draw):
    full = draw(shapes(hi_rank=4))
    out = []
    for _ in range(2):
        s = full[draw(st.integers(0, len(full) - 1)) :]
        out.append(tuple(1 if draw(st.integers(0, 3)) == 0 else x for x in s))
    return tuple(out)


@st.composite
def binary_cases(draw):
    op = draw(st.sampled_from(BINARY_OPS))
    ins = draw(broadcast_pair())
    if op in ("max", "min") and draw(st.booleans()):  # ONNX's variadic Max, Min: more tensors
        full = max(ins, key=len)
        for _ in range(draw(st.integers(1, 2))):
            s = full[draw(st.integers(0, len(full) - 1)) :]
            ins += (tuple(1 if draw(st.integers(0, 3)) == 0 else x for x in s),)
    return Case({"type": "binary", "op": op}, ins, draw(BATCH))


@st.composite
def elementwise_cases(draw):
    a, b = draw(broadcast_pair())
    values = {"type": "elementwise", "op": draw(st.sampled_from(ELEMENTWISE_OPS))}
    if draw(st.booleans()) or b != ():
        values["shape"] = list(b)
    if draw(st.booleans()):
        values["learned"] = draw(st.sampled_from([0, math.prod(b), draw(st.integers(1, 50))]))
    return Case(values, (a,), draw(BATCH))


@st.composite
def opaque_cases(draw):
    return Case(
        {
            "type": "opaque",
            "op": draw(st.sampled_from(["TopK", "NonMaxSuppression", "X"])),
            "shape": list(draw(shapes())),
        },
        (draw(shapes()),),
        draw(BATCH),
    )


TENSOR_VALID = {
    "reshape": reshape_cases(),
    "transpose": transpose_cases(),
    "slice": slice_cases(),
    "select": select_cases(),
    "dense": dense_cases(),
    "matmul": matmul_cases(),
    "reduce": reduce_cases(),
    "softmax": softmax_cases(),
    "unary": unary_cases(),
    "binary": binary_cases(),
    "elementwise": elementwise_cases(),
    "opaque": opaque_cases(),
}


# -- valid configurations: convcalc == torch ------------------------------------------------------
@pytest.mark.parametrize("t", sorted(TENSOR_VALID))
@settings(max_examples=25, **SETTINGS)
@given(data=st.data())
def test_each_tensor_type_matches_torch(t, data):
    case = data.draw(TENSOR_VALID[t])
    assert case.values["type"] == t
    assert_matches_torch(case)


@pytest.mark.parametrize(
    "case",
    [
        Case({"type": "dense", "out_features": 384}, ((7, 7, 96),), 2),  # ConvNeXt's pwconv, channels last
        Case({"type": "matmul"}, ((4, 49, 32), (4, 32, 49)), 2),  # attention scores: q @ k^T per head
        Case({"type": "matmul"}, ((49, 32), (3, 32, 8))),  # broadcast of the first over 3
        Case({"type": "reduce", "op": "mean", "axes": [1, 2], "keepdims": True}, ((32, 7, 9),)),
        Case({"type": "slice", "axes": [-1], "starts": [0], "ends": [-2]}, ((25, 784),)),  # TCN's chomp
        Case(
            {"type": "slice", "axes": [1, 2], "starts": [0, 1], "ends": [2**63 - 1] * 2, "steps": [2, 2]},
            ((3, 8, 8),),
        ),
        Case({"type": "select", "axis": -1, "index": -1}, ((25, 784),)),  # y[:, :, -1]
        Case({"type": "elementwise", "op": "mul", "shape": [8, 1, 1], "learned": 16}, ((8, 5, 5),)),
        Case({"type": "elementwise", "op": "add", "shape": [2, 1, 1, 1]}, ((3, 4, 4),)),  # grows the rank
    ],
)
def test_tensor_examples_match_torch(case):
    assert_matches_torch(case)


# -- refusals agree with torch ---------------------------------------------------------------------
def convcalc_outcome(case: Case):
    try:
        return tuple(build(case).cost(*case.shapes).output_shape)
    except ConvcalcError:
        return None


def torch_outcome(case: Case):
    """The twin's output shape, or None when torch refuses, gives an empty tensor or a single
    value per sample (convcalc's tensors keep at least one dim: the channels)."""
    layer = build(case)
    try:
        module = layer_module(layer, *case.shapes)
        with torch.no_grad():
            y = module(*(torch.zeros((1,) + tuple(s)) for s in case.shapes))
    except (RuntimeError, ValueError, IndexError):
        return None
    out = tuple(y.shape[1:])
    return out if out and all(out) else None


@st.composite
def loose_cases(draw):
    """Configurations that may be invalid: reshapes to a wrong element count, matmuls whose
    inner dims differ, slices that select nothing, axes out of range, shapes that do not
    broadcast."""
    t = draw(
        st.sampled_from(
            ["reshape", "matmul", "slice", "select", "reduce", "softmax", "binary", "elementwise"]
        )
    )
    shape = draw(shapes())
    rank = len(shape)
    if t == "reshape":
        n = math.prod(shape) + draw(st.sampled_from([0, 0, 1]))
        target = [n] if draw(st.booleans()) else [-1, draw(st.integers(1, 5))]
        return Case({"type": t, "shape": target}, (shape,))
    if t == "matmul":
        a = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
        b = (draw(st.sampled_from([a[1], a[1] + 1])), draw(st.integers(1, 4)))
        lead_a = shape[: draw(st.integers(0, min(2, rank)))]
        lead_b = tuple(draw(st.sampled_from([1, s, s + 1])) for s in lead_a)
        return Case({"type": t}, (lead_a + a, lead_b + b))
    if t == "slice":
        a = draw(st.integers(-rank - 1, rank))
        size = shape[a] if -rank <= a < rank else 3
        s, e = draw(st.integers(-size - 2, size + 2)), draw(st.integers(-size - 2, size + 2))
        return Case(
            {"type": t, "axes": [a], "starts": [s], "ends": [e], "steps": [draw(st.integers(1, 3))]}, (shape,)
        )
    if t == "select":
        a = draw(st.integers(-rank - 1, rank))
        return Case({"type": t, "axis": a, "index": draw(st.integers(-5, 5))}, (shape,))
    if t == "reduce":
        axes = draw(st.lists(st.integers(-rank - 1, rank), min_size=1, max_size=2))
        return Case({"type": t, "op": "sum", "axes": axes, "keepdims": draw(st.booleans())}, (shape,))
    if t == "softmax":
        return Case({"type": t, "axis": draw(st.integers(-rank - 1, rank))}, (shape,))
    other = tuple(draw(st.sampled_from([1, s, s + 1])) for s in shape)[draw(st.integers(0, rank - 1)) :]
    if t == "binary":
        return Case({"type": t, "op": "sub"}, (shape, other))
    return Case({"type": t, "op": "mul", "shape": list(other)}, (shape,))


@settings(max_examples=150, **SETTINGS)
@given(case=loose_cases())
@example(case=Case({"type": "select", "axis": 0, "index": 0}, ((4,),)))  # nothing would remain
@example(case=Case({"type": "reduce", "op": "sum", "axes": [0, 0], "keepdims": True}, ((4, 3),)))
def test_convcalc_refuses_exactly_what_torch_refuses(case):
    want = torch_outcome(case)
    got = convcalc_outcome(case)
    assert got == want, (
        f"torch {'rejects' if want is None else f'gives {want}'}, "
        f"convcalc {'rejects' if got is None else f'gives {got}'}"
    )


@pytest.mark.parametrize(
    "t,values,message",
    [
        ("reshape", {"shape": [-1, -1]}, "at most one -1"),
        ("reshape", {"shape": [0, 3]}, "sizes must be >= 1"),
        ("transpose", {"perm": [0, 0, 1]}, "must be a permutation of 0..2"),
        ("slice", {"axes": [0, 1], "starts": [0], "ends": [1, 2]}, "one value per sliced axis"),
        ("slice", {"axes": [0], "starts": [0], "ends": [1], "steps": [0]}, "must be >= 1"),
        ("unary", {"fn": "tan"}, "must be one of"),
        ("elementwise", {"op": "mul", "learned": -1}, "must be >= 0"),
        ("opaque", {"op": "X", "shape": []}, "needs 1 to 64 values"),
    ],
)
def test_bad_values_are_spec_errors(t, values, message):
    with pytest.raises(SpecError, match=message):
        REGISTRY[t].build(values)


def test_reduction_flops_follow_the_pooling_conventions():
    # mean: one add per input element plus one divide per output = window per output, like avg
    # pooling; max: window - 1 compares per output, like max pooling
    mean = REGISTRY["reduce"].build({"op": "mean", "axes": [1, 2]}).cost((8, 7, 7))
    pool = REGISTRY["global_pool"].build({"mode": "avg"}).cost((8, 7, 7))
    assert mean.flops == pool.flops and mean.output_shape == pool.output_shape
    top = REGISTRY["reduce"].build({"op": "max", "axes": [1, 2]}).cost((8, 7, 7))
    assert top.flops == REGISTRY["global_pool"].build({"mode": "max"}).cost((8, 7, 7)).flops


def test_receptive_fields_are_exact_or_dropped():
    def field(values, shape):
        cost = REGISTRY[values.pop("type")].build(values).cost(shape)
        return receptive.fields(receptive.apply(receptive.initial(len(shape) - 1), cost))

    # a strided slice of the spatial dims: each output reads one input pixel
    assert field(
        {"type": "slice", "axes": [1, 2], "starts": [1, 0], "ends": [9, 9], "steps": [2, 2]}, (3, 9, 9)
    ) == (1, 1)
    # reducing a spatial axis with keepdims: its window is the whole axis
    assert field({"type": "reduce", "axes": [2]}, (3, 9, 5)) == (1, 5)
    # over the channels, or element-wise: unchanged
    assert field({"type": "softmax", "axis": 0}, (3, 9, 5)) == (1, 1)
    assert field({"type": "unary", "fn": "exp"}, (3, 9, 5)) == (1, 1)
    # moving positions: none
    for values in (
        {"type": "reshape", "shape": [3, 45]},
        {"type": "transpose", "perm": [0, 2, 1]},
        {"type": "select", "axis": 1, "index": 0},
        {"type": "dense", "out_features": 4},
        {"type": "opaque", "op": "X", "shape": [2]},
    ):
        assert field(values, (3, 9, 5)) is None


def test_zero_cost_warnings_name_each_opaque_op():
    costs = [
        REGISTRY["opaque"].build({"op": op, "shape": [2]}).cost((3,))
        for op in ("TopK", "NonMaxSuppression", "TopK")
    ]
    costs.append(REGISTRY["unary"].build({"fn": "exp"}).cost((3,)))
    (line,) = zero_cost_warnings(costs)
    assert "3 operations" in line and "TopK x2" in line and "NonMaxSuppression x1" in line
    assert "counted as zero" in line
    assert zero_cost_warnings(costs[3:]) == []


def test_docs_have_a_section_per_tensor_type():
    import os

    with open(os.path.join(os.path.dirname(__file__), "..", "docs", "layers.md"), encoding="utf-8") as fh:
        headings = [line for line in fh.read().splitlines() if line.startswith("### ")]
    for t in TENSOR_VALID:
        assert any(f"`{t}`" in h for h in headings), t
