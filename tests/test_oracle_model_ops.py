"""Oracle tests for the layers real ONNX and PyTorch models still hit: ``prelu`` (nn.PReLU),
``lrn`` (nn.LocalResponseNorm), ``reduce`` with ``argmax`` / ``argmin`` and ``binary`` ``max`` /
``min`` of more than two tensors.

torch is the judge (twins in tests/twin_layers.py): for random configurations the output shape,
params and MACs (x batch) equal torch's forward pass, ``sum(p.numel())`` and FlopCounterMode / 2;
FLOPs follow the conventions written in docs/conventions.md (restated here as formulas, never
read from convcalc); receptive fields equal the support of the input gradient; convcalc refuses
exactly what torch refuses; bad values are one-line errors with exit code 2.
"""

from __future__ import annotations

import math

import pytest
import torch  # at top level: CI must fail, not skip, without torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_oracle_new_layers import Case, assert_matches_torch, convcalc_outcome, lrn_cases, prelu_cases
from test_oracle_new_layers import torch_outcome as torch_outcome_new
from torch import nn
from torch_twin import layer_module

from convcalc import receptive
from convcalc.layers import REGISTRY

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- prelu and lrn: shapes, params, MACs = torch's; FLOPs by the written convention -----------------
@settings(max_examples=40, **SETTINGS)
@given(case=prelu_cases())
@example(case=Case(dict(type="prelu"), ((64, 7, 7),), 2))  # nn.PReLU(): one slope
@example(case=Case(dict(type="prelu", per_channel=True), ((64, 7, 7),), 2))  # nn.PReLU(64)
@example(case=Case(dict(type="prelu", per_channel=True), ((5,),)))  # after a linear layer
@example(case=Case(dict(type="prelu", per_channel=True), ((3, 2, 2, 2),)))
def test_prelu_matches_torch(case):
    assert_matches_torch(case)
    cost = REGISTRY["prelu"].build({k: v for k, v in case.values.items() if k != "type"}).cost(*case.shapes)
    (shape,) = case.shapes
    assert cost.flops == 2 * math.prod(shape)  # compare, multiply (as leaky_relu)
    assert cost.params == (shape[0] if case.values.get("per_channel") else 1)


@settings(max_examples=40, **SETTINGS)
@given(case=lrn_cases())
@example(case=Case(dict(type="lrn", size=5, alpha=1e-4, beta=0.75, k=2.0), ((96, 13, 13),)))  # AlexNet
@example(case=Case(dict(type="lrn", size=5), ((3, 7),), 2))  # 1D: torch's 3D input
@example(case=Case(dict(type="lrn", size=9), ((4, 3, 2, 2),)))  # window wider than the channels
def test_lrn_matches_torch(case):
    assert_matches_torch(case)
    values = {k: v for k, v in case.values.items() if k != "type"}
    cost = REGISTRY["lrn"].build(values).cost(*case.shapes)
    # square 1, window sum size - 1, scale 1, + k 1, pow 1, divide 1
    assert cost.flops == (values["size"] + 4) * math.prod(case.shapes[0])
    assert cost.params == 0 and cost.macs == 0


def test_lrn_refuses_what_torch_refuses():
    """torch's local_response_norm needs 3 or more dims with the batch: a [C] vector is refused
    by both; a [C, L] sequence is accepted by both."""
    for shape in ((8,), (8, 5), (8, 1), (1, 1, 1, 1)):
        case = Case(dict(type="lrn", size=3), (shape,))
        assert convcalc_outcome(case) == torch_outcome_new(case), shape


def test_prelu_per_channel_is_torchs_num_parameters():
    for c in (1, 3, 16):
        assert REGISTRY["prelu"].build({"per_channel": True}).cost((c, 4, 4)).params == sum(
            p.numel() for p in nn.PReLU(c).parameters()
        )
        assert REGISTRY["prelu"].build({}).cost((c, 4, 4)).params == sum(
            p.numel() for p in nn.PReLU().parameters()
        )


# -- receptive fields: the support of the input gradient -----------------------------------------------
@pytest.mark.parametrize(
    "values,shape",
    [
        (dict(type="prelu"), (3, 9)),
        (dict(type="prelu", per_channel=True), (4, 7)),
        (dict(type="lrn", size=3), (6, 8)),
        (dict(type="lrn", size=7, k=2.0), (4, 5)),
        (dict(type="reduce", op="argmax", axes=[0], keepdims=True), (5, 6)),
        (dict(type="reduce", op="argmin", axes=[0]), (5, 6)),
    ],
)
def test_receptive_field_is_the_gradient_support(values, shape):
    """Each output position's field (convcalc's rf op) is exactly the input positions whose
    gradient is non-zero. argmax has no gradient: its field is that of max over the same axis
    (torch.amax), whose values argmax locates."""
    values = dict(values)
    layer = REGISTRY[values.pop("type")].build(values)
    cost = layer.cost(shape)
    state = receptive.apply(receptive.initial(shape), cost)
    if layer.type_name == "reduce":
        keep = layer.params["keepdims"]
        module = nn.Module()
        module.forward = lambda x: x.amax(dim=1, keepdim=keep)  # type: ignore[method-assign]
    else:
        module = layer_module(layer, shape)
    torch.manual_seed(0)
    for o in range(cost.output_shape[-1]):
        x = (torch.rand((1,) + shape) + 0.5).requires_grad_(True)  # positive and distinct
        y = module(x)
        y[..., o].sum().backward()
        hit = sorted({int(i) for i in torch.nonzero(x.grad[0].abs().sum(0))[:, 0]})
        assert (hit[0], hit[-1]) == receptive.span(state, 0, o), (o, hit)
    assert receptive.fields(state) == (1,)


# -- argmax / argmin -----------------------------------------------------------------------------------
@st.composite
def argmax_cases(draw):
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 6)) for _ in range(rank))
    axis = draw(st.integers(-rank, rank - 1))
    keep = draw(st.booleans()) if rank > 1 else True
    values = {"type": "reduce", "op": draw(st.sampled_from(["argmax", "argmin"])), "axes": [axis]}
    values["keepdims"] = keep
    return Case(values, (shape,), draw(st.integers(1, 3)))


@settings(max_examples=40, **SETTINGS)
@given(case=argmax_cases())
@example(case=Case({"type": "reduce", "op": "argmax", "axes": [0], "keepdims": False}, ((21, 8, 8),)))
def test_argmax_matches_torch_and_counts_the_compares_of_max(case):
    assert_matches_torch(case)
    values = {k: v for k, v in case.values.items() if k != "type"}
    cost = REGISTRY["reduce"].build(values).cost(*case.shapes)
    (shape,) = case.shapes
    window = shape[values["axes"][0]]
    assert cost.flops == (window - 1) * (math.prod(shape) // window)  # window - 1 compares per output
    as_max = REGISTRY["reduce"].build({**values, "op": "max"}).cost(shape)
    assert (cost.output_shape, cost.flops) == (as_max.output_shape, as_max.flops)


def test_argmax_output_holds_indices():
    """The twin's output is torch's int64 indices (the docs say so): the layer computes where,
    not what."""
    layer = REGISTRY["reduce"].build({"op": "argmax", "axes": [0], "keepdims": False})
    y = layer_module(layer, (4, 3, 3))(torch.randn(2, 4, 3, 3))
    assert y.dtype == torch.int64 and tuple(y.shape[1:]) == layer.cost((4, 3, 3)).output_shape


# -- max / min of more than two tensors ------------------------------------------------------------------
@settings(max_examples=30, **SETTINGS)
@given(data=st.data())
def test_variadic_max_min_match_torch_and_cost_n_minus_1_per_output(data):
    rank = data.draw(st.integers(1, 4))
    full = tuple(data.draw(st.integers(1, 5)) for _ in range(rank))
    k = data.draw(st.integers(2, 5))
    shapes = tuple(
        tuple(
            1 if data.draw(st.integers(0, 3)) == 0 else s for s in full[data.draw(st.integers(0, rank - 1)) :]
        )
        for _ in range(k)
    )
    op = data.draw(st.sampled_from(["max", "min"]))
    case = Case({"type": "binary", "op": op}, shapes, data.draw(st.integers(1, 2)))
    assert_matches_torch(case)
    cost = REGISTRY["binary"].build({"op": op}).cost(*shapes)
    assert cost.flops == (k - 1) * math.prod(cost.output_shape)


def test_sub_div_pow_stay_binary():
    for op in ("sub", "div", "pow"):
        with pytest.raises(Exception, match="exactly 2 tensors, got 3"):
            REGISTRY["binary"].build({"op": op}).cost((3, 4), (3, 4), (3, 4))


# -- bad values: one line, exit code 2 ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "layer,fragment",
    [
        ("{type: lrn, size: 0}", "size: must be >= 1, got 0"),
        ("{type: lrn}", "lrn needs 'size'"),
        ("{type: lrn, size: 3, beta: -1}", "beta: must be >= 0"),
        ("{type: reduce, op: argmax, axes: [0, 1]}", "argmax reduces exactly one axis"),
        ("{type: prelu, per_channel: 3}", "per_channel"),
        ("{type: reduce, op: argmin, axes: [3]}", "axes 3 is out of range"),
    ],
)
def test_bad_values_are_one_line_errors(layer, fragment, cli, spec_file):
    path = spec_file(f"input: [4, 6, 6]\nlayers:\n  - {layer}\n")
    r = cli("report", path)
    assert r.code == 2, (r.code, r.out, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.err, r.err
    assert fragment in lines[0], lines[0]


def test_lrn_on_a_vector_is_a_one_line_error(cli, spec_file):
    path = spec_file(
        "input: [3, 8, 8]\nlayers:\n  - {type: global_pool}\n  - {type: flatten}\n  - {type: lrn, size: 3}\n"
    )
    r = cli("report", path)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
    assert "lrn needs an input of channels and at least one more dim" in r.err
