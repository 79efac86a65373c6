"""The ONNX ops convcalc maps, one handler each: ``(converter, node, inputs) -> outputs``,
where inputs and outputs are ``Act`` (activations) or ``Const`` values. A handler builds
convcalc layers through the converter (``cv.emit``), counts the parameters of the constants
it reads as weights (``cv.expect``, ``cv.take``) and raises ``Unsupported`` for what it cannot
map. docs/onnx.md has the table."""

from __future__ import annotations

import dataclasses
import math
import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ..layers.base import Shape
from . import onnx_proto as P
from .onnx_fold import (
    FOLDERS,
    _axes_input,
    _clamped,
    _fold_concat,
    _fold_constant,
    _fold_expand,
    _fold_flatten,
    _fold_gather,
    _fold_reshape,
    _fold_shape,
    _fold_slice,
    _fold_split,
    _fold_transpose,
    _slice_params,
    _split_sizes,
)
from .onnx_values import (
    BATCH,
    INT64_MAX,
    Act,
    Const,
    Unsupported,
    Value,
    bcast,
    dims_text,
    dimval,
    ints,
    norm_axis,
)

if TYPE_CHECKING:
    from .onnx import _Converter

ACTIVATIONS = {
    "Relu": "relu",
    "LeakyRelu": "leaky_relu",
    "Elu": "elu",
    "Selu": "selu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "HardSigmoid": "hardsigmoid",
    "HardSwish": "hardswish",
    "Softplus": "softplus",
    "Mish": "mish",
    "Gelu": "gelu",
    "_Silu": "silu",
}
UNARY = {
    "Sqrt": "sqrt",
    "Exp": "exp",
    "Log": "log",
    "Neg": "neg",
    "Reciprocal": "reciprocal",
    "Abs": "abs",
    "Erf": "erf",
    "Sin": "sin",
    "Cos": "cos",
    "Floor": "floor",
    "Ceil": "ceil",
    "Round": "round",
    "Sign": "sign",
}
BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Max": "max", "Min": "min"}
REDUCE = {
    "ReduceMean": "mean",
    "ReduceSum": "sum",
    "ReduceMax": "max",
    "ReduceMin": "min",
    "ReduceProd": "prod",
}


Handler = Callable[["_Converter", P.Node, list[Value | None]], list[Value | None]]
HANDLERS: dict[str, Handler] = {}


def handles(*ops: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for op in ops:
            HANDLERS[op] = fn
        return fn

    return deco


def _padding(
    size: Shape, k: Sequence[int], s: Sequence[int], d: Sequence[int], node: P.Node
) -> tuple[list[int], list[int]]:
    """(begin, end) padding per spatial dim from ``pads`` and ``auto_pad``."""
    n = len(k)
    auto = str(node.attrs.get("auto_pad", "NOTSET"))
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        from ..shapes import same_padding

        pairs = [same_padding(i, kk, ss, dd) for i, kk, ss, dd in zip(size, k, s, d)]
        if auto == "SAME_LOWER":
            pairs = [(hi, lo) for lo, hi in pairs]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if auto == "VALID":
        return [0] * n, [0] * n
    if auto not in ("NOTSET", ""):
        raise Unsupported(f"has auto_pad {auto!r}")
    pads = list(node.attrs.get("pads", [0] * (2 * n)))
    if len(pads) != 2 * n or any(p < 0 for p in pads):
        raise Unsupported(f"has pads {pads} for {n} spatial dims")
    return pads[:n], pads[n:]


def _spatial_attr(node: P.Node, name: str, n: int, default: int = 1) -> list[int]:
    v = list(node.attrs.get(name, [default] * n))
    if len(v) != n or any(x < 1 for x in v):
        raise Unsupported(f"has {name} {v} for {n} spatial dims")
    return v


def _conv_padding(
    cv: _Converter, node: P.Node, x: Act, k: list[int], s: list[int], d: list[int]
) -> tuple[Any, Act]:
    """The padding a convcalc conv takes, and its input: an explicit pad node first when the
    padding is neither symmetric nor TensorFlow's 'same'."""
    from ..shapes import same_padding

    begin, end = _padding(x.shape[1:], k, s, d, node)
    if begin == end:
        return dimval(begin) if begin else 0, x
    same = [same_padding(i, kk, ss, dd) for i, kk, ss, dd in zip(x.shape[1:], k, s, d)]
    if [p[0] for p in same] == begin and [p[1] for p in same] == end:
        return "same", x
    pad = cv.build(node, "pad", {"begin": dimval(begin), "end": dimval(end)})
    return 0, cv.emit(node, pad, [x], ".pad")


@handles("Conv")
def _conv(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    w = cv.const(ins[1] if len(ins) > 1 else None, "weight")
    b = ins[2] if len(ins) > 2 else None
    if b is not None and not isinstance(b, Const):
        raise Unsupported("its bias is computed by the network")
    n = len(x.shape) - 1
    if not 1 <= n <= 3:
        raise Unsupported(f"is a convolution over {n} spatial dims; convcalc has 1 to 3")
    if len(w.dims) != n + 2:
        raise Unsupported(f"has a weight of dims {dims_text(w.dims)} for an input of {n} spatial dims")
    m, cg, k = w.dims[0], w.dims[1], list(w.dims[2:])
    g = int(node.attrs.get("group", 1))
    c = x.shape[0]
    if g < 1 or cg * g != c:
        raise SpecError(
            f"{cv.label(node)}: its weight {dims_text(w.dims)} with group {g} takes {cg * g} input channels, "
            f"but its input {dims_text(x.shape)} has {c}",
            where=cv.where,
        )
    if "kernel_shape" in node.attrs and list(node.attrs["kernel_shape"]) != k:
        raise Unsupported(
            f"has kernel_shape {node.attrs['kernel_shape']} but a weight of dims {dims_text(w.dims)}"
        )
    s = _spatial_attr(node, "strides", n)
    d = _spatial_attr(node, "dilations", n)
    padding, x = _conv_padding(cv, node, x, k, s, d)
    # a bias whose values are counted elsewhere (shared) or are no parameters (a Constant)
    # comes after the layer as an element-wise add
    shared_bias = b is not None and (cv.shared(b, w) or not (isinstance(b, Const) and b.sources))
    bias = b is not None and not shared_bias
    if g == c and c > 1 and m % c == 0:
        values: dict[str, Any] = {"kernel": dimval(k), "stride": dimval(s), "padding": padding}
        values.update(dilation=dimval(d), multiplier=m // c, bias=bias)
        layer = cv.build(node, "depthwise", values)
    elif all(kk == 1 for kk in k) and padding in (0, "valid", "same"):
        layer = cv.build(
            node, "pointwise", {"out_channels": m, "stride": dimval(s), "groups": g, "bias": bias}
        )
    else:
        values = {"out_channels": m, "kernel": dimval(k), "stride": dimval(s), "padding": padding}
        values.update(dilation=dimval(d), groups=g, bias=bias)
        layer = cv.build(node, "conv", values)
    cv.expect([w, b if bias and isinstance(b, Const) else None], layer, x.shape, node)
    y = cv.emit(node, layer, [x])
    if shared_bias and isinstance(b, Const):
        y = cv.affine(node, y, [("add", b)])
    return [y]


@handles("ConvTranspose")
def _conv_transpose(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    w = cv.const(ins[1] if len(ins) > 1 else None, "weight")
    b = ins[2] if len(ins) > 2 else None
    if b is not None and not isinstance(b, Const):
        raise Unsupported("its bias is computed by the network")
    n = len(x.shape) - 1
    if not 1 <= n <= 3 or len(w.dims) != n + 2:
        raise Unsupported(f"has a weight of dims {dims_text(w.dims)} for an input of {n} spatial dims")
    g = int(node.attrs.get("group", 1))
    c, m, k = w.dims[0], w.dims[1] * g, list(w.dims[2:])
    if c != x.shape[0]:
        raise SpecError(
            f"{cv.label(node)}: its weight {dims_text(w.dims)} takes {c} input channels, but its input "
            f"{dims_text(x.shape)} has {x.shape[0]}",
            where=cv.where,
        )
    s = _spatial_attr(node, "strides", n)
    d = _spatial_attr(node, "dilations", n)
    op = list(node.attrs.get("output_padding", [0] * n))
    if len(op) != n or any(v < 0 for v in op):
        raise Unsupported(f"has output_padding {op}")
    auto = str(node.attrs.get("auto_pad", "NOTSET"))
    out_shape = node.attrs.get("output_shape")
    if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        want = list(out_shape)[-n:] if out_shape is not None else [i * ss for i, ss in zip(x.shape[1:], s)]
        begin, end = [], []
        for i, kk, ss, dd, oo, o in zip(x.shape[1:], k, s, d, op, want):
            total = ss * (i - 1) + oo + (kk - 1) * dd + 1 - o
            if total < 0:
                raise Unsupported(f"asks for an output of {want}, larger than its kernel and strides give")
            if auto == "SAME_UPPER":
                begin.append(total // 2)
                end.append(total - total // 2)
            else:
                begin.append(total - total // 2)
                end.append(total // 2)
    elif auto == "VALID" or auto in ("NOTSET", ""):
        pads = list(node.attrs.get("pads", [0] * (2 * n)))
        if len(pads) != 2 * n or any(p < 0 for p in pads) or (auto == "VALID" and any(pads)):
            raise Unsupported(f"has pads {pads}")
        begin, end = pads[:n], pads[n:]
    else:
        raise Unsupported(f"has auto_pad {auto!r}")
    p = [min(lo, hi) for lo, hi in zip(begin, end)]
    # a bias whose values are counted elsewhere (shared) or are no parameters (a Constant)
    # comes after the layer as an element-wise add
    shared_bias = b is not None and (cv.shared(b, w) or not (isinstance(b, Const) and b.sources))
    bias = b is not None and not shared_bias
    values = {"out_channels": m, "kernel": dimval(k), "stride": dimval(s), "padding": dimval(p)}
    values.update(output_padding=dimval(op), dilation=dimval(d), groups=g, bias=bias)
    layer = cv.build(node, "transposed", values)
    cv.expect([w, b if bias and isinstance(b, Const) else None], layer, x.shape, node)
    y = cv.emit(node, layer, [x])
    if shared_bias and isinstance(b, Const):
        y = cv.affine(node, y, [("add", b)])
    extra_b = [lo - q for lo, q in zip(begin, p)]
    extra_e = [hi - q for hi, q in zip(end, p)]
    if any(extra_b) or any(extra_e):
        crop = cv.build(node, "crop", {"begin": dimval(extra_b), "end": dimval(extra_e)})
        y = cv.emit(node, crop, [y], ".crop")
    return [y]


def _bias_after(cv: _Converter, node: P.Node, n_out: int) -> tuple[P.Node, Const] | None:
    """The Add right after ``node`` that adds a learned vector of ``n_out`` along the last
    axis: a Linear layer's bias."""
    out = node.outputs[0]
    add = cv.single(out, "Add")
    if add is None:
        return None
    b = cv.other(add, out)
    if not isinstance(b, Const) or b.numel != n_out or not b.dims or b.dims[-1] != n_out:
        return None
    if sum(b.sources.values()) != n_out or any(k in cv.counted for k in b.sources):
        return None
    return add, b


@handles("Gemm")
def _gemm(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    w = cv.const(ins[1] if len(ins) > 1 else None, "weight")
    c = ins[2] if len(ins) > 2 else None
    if node.attrs.get("transA", 0):
        raise Unsupported("transposes its input (transA), which would move the batch dim")
    if len(x.shape) != 1 or len(w.dims) != 2:
        raise Unsupported(f"multiplies an input {dims_text(x.shape)} by a weight {dims_text(w.dims)}")
    k, n = (w.dims[1], w.dims[0]) if node.attrs.get("transB", 0) else w.dims
    if k != x.shape[0]:
        raise SpecError(
            f"{cv.label(node)}: its weight {dims_text(w.dims)} takes {k} features, but its input has {x.shape[0]}",
            where=cv.where,
        )
    if c is None or (
        isinstance(c, Const) and c.numel == n and c.dims[-1:] == (n,) and c.sources and not cv.shared(c, w)
    ):
        layer = cv.build(node, "linear", {"out_features": n, "bias": c is not None})
        cv.expect([w, c if isinstance(c, Const) else None], layer, x.shape, node)
        return [cv.emit(node, layer, [x])]
    layer = cv.build(node, "linear", {"out_features": n, "bias": False})
    cv.expect([w], layer, x.shape, node)
    y = cv.emit(node, layer, [x])
    if isinstance(c, Const):
        if len(c.dims) == 2 and c.dims[0] != 1:
            raise Unsupported(f"adds a bias of dims {dims_text(c.dims)}, one per sample of a fixed batch")
        values = {
            "op": "add",
            "shape": list(c.dims[-1:]) if c.numel > 1 else [],
            "learned": cv.take([c], node, weights=False),
        }
        return [cv.emit(node, cv.build(node, "elementwise", values), [y], ".bias")]
    bias = cv.cf(cv.act(c, "its bias"))
    return [cv.emit(node, cv.build(node, "add", {}), [y, bias], ".bias")]


@handles("MatMul")
def _matmul(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    a, b = (ins + [None, None])[:2]
    if isinstance(a, Act) and isinstance(b, Const):
        if len(b.dims) != 2:
            raise Unsupported(
                f"multiplies by a constant of dims {dims_text(b.dims)} (convcalc maps a weight matrix)"
            )
        k, n = b.dims
        bias = _bias_after(cv, node, n)
        if a.cl:
            kind, values, x, cl = "pointwise", {"out_channels": n, "bias": bias is not None}, a, True
            if len(a.shape) < 2:
                raise Unsupported("is a channels-last product without spatial dims")
        else:
            kind, x, cl = ("linear" if len(a.shape) == 1 else "dense"), a, False
            values = {"out_features": n, "bias": bias is not None}
        if x.logical[-1] != k:
            raise SpecError(
                f"{cv.label(node)}: {dims_text(x.logical)} @ {dims_text(b.dims)}: the inner dims differ",
                where=cv.where,
            )
        layer = cv.build(node, kind, values)
        cv.expect([b, bias[1] if bias else None], layer, x.shape, node)
        y = cv.emit(node, layer, [x], cl=cl)
        if bias is not None:
            cv.absorb(bias[0], y)
        return [y]
    if isinstance(a, Act) and isinstance(b, Act):
        x, z = cv.cf(a), cv.cf(b)
        if len(x.shape) != len(z.shape) or len(x.shape) < 2:
            raise Unsupported(
                f"multiplies {dims_text(x.shape)} by {dims_text(z.shape)} (per sample): the batch dims would not line up"
            )
        return [cv.emit(node, cv.build(node, "matmul", {}), [x, z])]
    if isinstance(b, Act):
        raise Unsupported("multiplies a constant by an activation (W @ x)")
    raise Unsupported("has a missing input")


@handles("Add", "Sub", "Mul", "Div", "Pow")  # Max, Min: _variadic (two inputs come back here)
def _binary(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    present = [v for v in ins if v is not None]
    if all(isinstance(v, Const) for v in present):
        return list(FOLDERS[node.op_type](node, [v if isinstance(v, Const) else None for v in ins]))
    if len(ins) != 2 or len(present) != 2:
        raise Unsupported(f"has {len(present)} inputs; convcalc maps two")
    a, b = present
    op = BINARY[node.op_type]
    if isinstance(a, Act) and isinstance(b, Act):
        if a.cl and b.cl and len(a.shape) == len(b.shape):
            p, q, cl = a, b, True
        else:
            p, q, cl = cv.cf(a), cv.cf(b), False
        if len(p.shape) != len(q.shape):
            raise Unsupported(
                f"combines tensors of shapes {dims_text(p.logical)} and {dims_text(q.logical)} (and the batch): "
                "of different ranks, the batch dims would not line up"
            )
        kind, merge = (op, {}) if op in ("add", "mul") else ("binary", {"op": op})
        return [cv.emit(node, cv.build(node, kind, merge), [p, q], cl=cl)]
    act, c = (a, b) if isinstance(a, Act) else (b, a)
    assert isinstance(act, Act) and isinstance(c, Const)
    x: Act = act
    full = len(x.logical) + 1
    if len(c.dims) > full:
        raise Unsupported(f"combines a tensor of {full} dims with a constant of {len(c.dims)}")
    dims = c.dims
    if len(dims) == full:
        if dims[0] != 1:
            raise Unsupported(
                f"combines the input with a constant of dims {dims_text(dims)}: one per sample of a fixed batch"
            )
        dims = dims[1:]
    while (
        dims and dims[0] == 1 and len(dims) > 0 and math.prod(dims) == math.prod(dims[1:]) and len(dims) > 1
    ):
        dims = dims[1:]  # leading 1s change nothing (the rank is the input's or less)
    cl = False
    if x.cl:
        rank = len(x.shape)
        if math.prod(dims) == 1 and len(dims) <= rank:
            cs: tuple[int, ...] = ()
            cl = True
        elif dims and dims[-1] == x.shape[0] and math.prod(dims) == x.shape[0]:
            cs, cl = (x.shape[0],) + (1,) * (rank - 1), True
        else:
            x = cv.cf(x)
            cs = tuple(dims)
    else:
        cs = tuple(dims) if math.prod(dims) > 1 else ()
    if x.cl and not cl:
        x = cv.cf(x)
    c_in = x.shape[0]
    vector = cs == (c_in,) + (1,) * (len(x.shape) - 1) and len(x.shape) > 1
    learned = sum(v for k, v in c.sources.items() if k not in cv.counted and v > 1)
    if op == "mul" and vector and learned == c_in:
        bias = _scale_bias_after(cv, node, c_in, cs, x.cl, c)
        layer = cv.build(node, "scale", {"bias": bias is not None})
        cv.expect([c, bias[1] if bias else None], layer, x.shape, node)
        y = cv.emit(node, layer, [x], cl=cl)
        if bias is not None:
            cv.absorb(bias[0], y)
        return [y]
    values: dict[str, Any] = {"op": op}
    if cs:
        values["shape"] = list(cs)
    taken = cv.take([c], node, weights=False)
    if taken:
        values["learned"] = taken
    return [cv.emit(node, cv.build(node, "elementwise", values), [x], cl=cl)]


@handles("Sum", "Mean", "Max", "Min")
def _variadic(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    """Sum, Mean, Max, Min of any number of inputs: one input passes on; two are the binary op
    (constants included); more are one merge node, (n - 1) FLOPs per output element (Sum:
    ``add``; Max, Min: ``binary``), and Mean that sum then a divide by n (n per output)."""
    present = [v for v in ins if v is not None]
    if not present:
        raise Unsupported("has no inputs")
    if node.op_type in ("Max", "Min") and (len(present) == 2 or all(isinstance(v, Const) for v in present)):
        return _binary(cv, node, ins)
    if len(present) == 1:
        return [present[0]]
    if node.op_type == "Sum" and len(present) == 2:
        return _binary(cv, dataclasses.replace(node, op_type="Add"), ins)
    if not all(isinstance(v, Act) for v in present):
        raise Unsupported(
            f"combines {len(present)} inputs, some of them constants; convcalc maps activations"
        )
    acts = [v for v in present if isinstance(v, Act)]
    cl = all(a.cl for a in acts) and len({len(a.shape) for a in acts}) == 1
    if not cl:
        acts = [cv.cf(a) for a in acts]
    if len({len(a.shape) for a in acts}) != 1:
        raise Unsupported(
            f"combines tensors of shapes {', '.join(dims_text(a.logical) for a in acts)} (and the batch): "
            "of different ranks, the batch dims would not line up"
        )
    if node.op_type in ("Max", "Min"):
        layer = cv.build(node, "binary", {"op": BINARY[node.op_type]})
        return [cv.emit(node, layer, acts, cl=cl)]
    y = cv.emit(node, cv.build(node, "add", {}), acts, cl=cl)
    if node.op_type == "Mean":
        y = cv.emit(node, cv.build(node, "elementwise", {"op": "div"}), [y], ".div", cl=cl)
    return [y]


def _scale_bias_after(
    cv: _Converter, node: P.Node, c_in: int, cs: tuple[int, ...], cl: bool, scale: Const
) -> tuple[P.Node, Const] | None:
    """The Add after a layer-scale Mul that adds a learned vector of the same shape (not the
    scale's own values)."""
    out = node.outputs[0]
    add = cv.single(out, "Add")
    if add is None:
        return None
    b = cv.other(add, out)
    if not isinstance(b, Const) or b.numel != c_in:
        return None
    dims = tuple(b.dims)
    while len(dims) > 1 and dims[0] == 1:
        dims = dims[1:]
    if (cl and dims != (c_in,)) or (
        not cl and (len(dims) > len(cs) or dims != cs[len(cs) - len(dims) :] or dims[0] != c_in)
    ):
        return None
    if sum(b.sources.values()) != c_in or cv.shared(b, scale):
        return None
    return add, b


def _affine_after(cv: _Converter, out: str, c: int, rank: int) -> tuple[list[P.Node], list[Const]] | None:
    """Mul by a learned per-channel weight, then Add of a learned per-channel bias, right
    after a normalisation without its own: its affine step."""
    mul = cv.single(out, "Mul")
    if mul is None:
        return None
    w = cv.other(mul, out)
    add = cv.single(mul.outputs[0], "Add")
    if add is None:
        return None
    b = cv.other(add, mul.outputs[0])
    ok: list[Const] = []
    for t in (w, b):
        if not isinstance(t, Const) or t.numel != c:
            return None
        dims = tuple(t.dims)
        while len(dims) > 1 and dims[0] == 1:
            dims = dims[1:]
        if dims != (c,) + (1,) * (len(dims) - 1) or len(dims) > rank:
            return None
        if sum(t.sources.values()) != c or cv.shared(t, *ok):
            return None
        ok.append(t)
    return [mul, add], ok


def _norm(
    cv: _Converter, node: P.Node, x: Act, kind: str, values: dict[str, Any], scale: Const, bias: Const | None
) -> Act:
    """A normalisation whose affine step multiplies by ``scale`` and adds ``bias``: with its
    own affine parameters when they are the constants' (each counted once); without them when
    the constants hold none (an exporter's ones and zeros: torch's affine=False); otherwise
    without, followed by the multiply and add as element-wise layers (a weight shared with an
    earlier layer, counted there)."""
    consts = [c for c in (scale, bias) if c is not None]
    cl = x.cl
    if not any(c.sources for c in consts):
        return cv.emit(node, cv.build(node, kind, {**values, "affine": False}), [x], cl=cl)
    if all(c.sources for c in consts) and not any(cv.shared(c, *consts[:i]) for i, c in enumerate(consts)):
        extra = {"bias": bias is not None} if kind == "layernorm" else {}
        layer = cv.build(node, kind, {**values, "affine": True, **extra})
        cv.expect(consts, layer, x.shape, node)
        return cv.emit(node, layer, [x], cl=cl)
    if kind == "batchnorm":  # its multiply and add are all it does: 2 FLOPs per element, as batchnorm
        return cv.affine(node, x, [("mul", scale), ("add", bias)])
    y = cv.emit(node, cv.build(node, kind, {**values, "affine": False}), [x], cl=cl)
    return cv.affine(node, y, [("mul", scale), ("add", bias)])


@handles("BatchNormalization")
def _batchnorm(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    if any(cv.consumers.get(o) or o in cv.outputs_read for o in node.outputs[1:] if o):
        raise Unsupported("has its training outputs (running statistics) read")
    scale = cv.const(ins[1] if len(ins) > 1 else None, "scale")
    bias = cv.const(ins[2] if len(ins) > 2 else None, "bias")
    c = x.shape[0]
    if scale.numel != c or bias.numel != c:
        raise SpecError(
            f"{cv.label(node)}: scale {dims_text(scale.dims)} and bias {dims_text(bias.dims)} for {c} channels",
            where=cv.where,
        )
    return [_norm(cv, node, x, "batchnorm", {}, scale, bias)]


@handles("InstanceNormalization")
def _instancenorm(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    scale = cv.const(ins[1] if len(ins) > 1 else None, "scale")
    bias = cv.const(ins[2] if len(ins) > 2 else None, "bias")
    if scale.numel != x.shape[0] or bias.numel != x.shape[0]:
        raise SpecError(f"{cv.label(node)}: scale and bias do not have one value per channel", where=cv.where)
    return [_norm(cv, node, x, "instancenorm", {}, scale, bias)]


@handles("_GroupNorm")
def _groupnorm_parts(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    g = int(node.attrs["groups"])
    first = node.attrs.get("first")
    if not (first == 0 or cv.batch_ok(first)):
        raise Unsupported("reshapes the batch dim")
    back = ins[1]
    full = (cv.batch,) + x.shape
    if isinstance(back, Const) and back.values is not None:
        vals = list(back.values)
        ok = len(vals) == len(full) and all(
            v == f or (i == 0 and (cv.batch_ok(v) or v == 0 or v == -1)) or (v == 0 and i < len(full))
            for i, (v, f) in enumerate(zip(vals, full))
        )
        if not ok and vals.count(-1) == 1 and len(vals) == len(full):
            ok = all(
                v in (f, -1, 0) or (i == 0 and cv.batch_ok(v)) for i, (v, f) in enumerate(zip(vals, full))
            )
        if not ok:
            raise Unsupported(f"normalises groups and reshapes them to {vals}, not back to {dims_text(full)}")
    else:
        raise Unsupported("reshapes its groups back to a shape convcalc cannot fold")
    rank = len(x.shape)
    affine = _affine_after(cv, node.outputs[0], x.shape[0], rank + 1)
    layer = cv.build(node, "groupnorm", {"groups": g, "affine": affine is not None})
    if affine is not None:
        cv.expect(affine[1], layer, x.shape, node)
    y = cv.emit(node, layer, [x])
    if affine is not None:
        for n in affine[0]:
            cv.absorb(n, y)
    return [y]


@handles("GroupNormalization")
def _groupnorm(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    scale = cv.const(ins[1] if len(ins) > 1 else None, "scale")
    bias = cv.const(ins[2] if len(ins) > 2 else None, "bias")
    g = int(node.attrs.get("num_groups", 0))
    c = x.shape[0]
    if scale.numel == bias.numel == g != c and g >= 1:
        # opset 18: a scale and a bias per group, applied to each of its channels
        y = cv.emit(node, cv.build(node, "groupnorm", {"groups": g, "affine": False}), [x])
        return [cv.affine(node, y, [("mul", scale), ("add", bias)])]
    if scale.numel != c or bias.numel != c:
        raise Unsupported(
            f"has a scale of {scale.numel} values and a bias of {bias.numel} for {c} channels in {g} groups: "
            "neither one per channel nor one per group"
        )
    return [_norm(cv, node, x, "groupnorm", {"groups": g}, scale, bias)]


@handles("LayerNormalization")
def _layernorm(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.act(ins[0])
    scale = cv.const(ins[1] if len(ins) > 1 else None, "scale")
    b = ins[2] if len(ins) > 2 else None
    if b is not None and not isinstance(b, Const):
        raise Unsupported("its bias is computed by the network")
    if any(cv.consumers.get(o) or o in cv.outputs_read for o in node.outputs[1:] if o):
        raise Unsupported("has its mean or variance outputs read")
    full = len(x.logical) + 1
    axis = int(node.attrs.get("axis", -1))
    axis = axis + full if axis < 0 else axis
    if axis != full - 1 or not (x.cl or len(x.shape) == 1):
        raise Unsupported(
            f"normalises over dims {axis}..{full - 1} of {dims_text(x.logical)} (and the batch); convcalc's "
            "layernorm normalises the channels at each position"
        )
    c = x.shape[0]
    if scale.numel != c or (isinstance(b, Const) and b.numel != c):
        raise SpecError(f"{cv.label(node)}: scale and bias do not have one value per channel", where=cv.where)
    return [_norm(cv, node, x, "layernorm", {}, scale, b if isinstance(b, Const) else None)]


def _float32(v: Any) -> float:
    """A float attribute (stored as float32) as the shortest decimal that is the same float32:
    1e-4, not 9.999999747378752e-05."""
    x = float(v)
    want = struct.pack("<f", x)
    for digits in range(6, 10):
        short = float(f"{x:.{digits}g}")
        if struct.pack("<f", short) == want:
            return short
    return x


@handles("LRN")
def _lrn(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    if "size" not in node.attrs:
        raise Unsupported("has no size")
    values: dict[str, Any] = {"size": int(node.attrs["size"])}
    for key, attr, default in (("alpha", "alpha", 1e-4), ("beta", "beta", 0.75), ("k", "bias", 1.0)):
        values[key] = _float32(node.attrs[attr]) if attr in node.attrs else default
    return [cv.emit(node, cv.build(node, "lrn", values), [x])]


def _activation(cv: _Converter, node: P.Node, x: Act, fn: str, kind: str = "activation") -> Act:
    """An element-wise function: on a channels-last view too (it stays one)."""
    return cv.emit(node, cv.build(node, kind, {"fn": fn}), [x], cl=x.cl)


@handles(*ACTIVATIONS)
def _act(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    return [_activation(cv, node, cv.act(ins[0]), ACTIVATIONS[node.op_type])]


@handles("PRelu")
def _prelu(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    """One slope (per_channel false) or one per channel, placed to broadcast against the channel
    dim ([C, 1, 1] for [N, C, H, W]; [C] for [N, C] or a channels-last view); any other slope
    (per position, per row) is no convcalc layer."""
    x = cv.act(ins[0])
    slope = ins[1] if len(ins) > 1 else None
    if isinstance(slope, Act):
        raise Unsupported("its slope is computed by the network")
    a = cv.const(slope, "slope")
    logical = x.logical
    dims = tuple(a.dims)
    if len(dims) == len(logical) + 1 and dims[0] == 1:
        dims = dims[1:]  # the batch dim's 1
    channel = len(logical) - 1 if x.cl else 0
    per_channel = tuple(x.shape[0] if i == channel else 1 for i in range(len(logical)))
    padded = (1,) * (len(logical) - len(dims)) + dims
    if len(dims) > len(logical) or (a.numel != 1 and padded != per_channel):
        raise Unsupported(
            f"has a slope of dims {dims_text(a.dims)} for an input {dims_text((BATCH,) + logical)}: convcalc's "
            "prelu has one slope, or one per channel"
        )
    layer = cv.build(node, "prelu", {"per_channel": a.numel != 1})
    cv.expect([a], layer, x.shape, node)
    return [cv.emit(node, layer, [x], cl=x.cl)]


@handles(*UNARY)
def _unary(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        if node.op_type in FOLDERS:
            return list(FOLDERS[node.op_type](node, [ins[0]]))
        return [Const(ins[0].dims, None, ins[0].is_float, dict(ins[0].sources))]
    return [_activation(cv, node, cv.act(ins[0]), UNARY[node.op_type], "unary")]


@handles("Clip")
def _clip(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.act(ins[0])
    lo: Any = node.attrs.get("min")
    hi: Any = node.attrs.get("max")
    if len(ins) > 1 and ins[1] is not None:
        lo = cv.const(ins[1], "min").scalar()
    if len(ins) > 2 and ins[2] is not None:
        hi = cv.const(ins[2], "max").scalar()
    if lo == 0 and hi == 6:
        return [_activation(cv, node, x, "relu6")]
    if lo == 0 and hi is None:
        return [_activation(cv, node, x, "relu")]
    return [_activation(cv, node, x, "clamp", "unary")]


@handles("Softmax", "LogSoftmax")
def _softmax(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.act(ins[0])
    full = len(x.logical) + 1
    default = -1 if cv.opset >= 13 else 1
    axis = int(node.attrs.get("axis", default))
    axis = axis + full if axis < 0 else axis
    if not 0 <= axis < full:
        raise Unsupported(f"axis {axis} is out of range")
    if axis == 0:
        raise Unsupported("normalises over the batch dim")
    if cv.opset < 13 and axis != full - 1:
        raise Unsupported("normalises the flattened dims from its axis on (before opset 13)")
    log = node.op_type == "LogSoftmax"
    a = axis - 1
    if (x.cl and a == len(x.logical) - 1) or (not x.cl and a == 0):
        if not log:
            return [_activation(cv, node, x, "softmax")]
        return [cv.emit(node, cv.build(node, "softmax", {"axis": 0, "log": True}), [x], cl=x.cl)]
    x = cv.cf(x)
    return [cv.emit(node, cv.build(node, "softmax", {"axis": a, "log": log}), [x])]


def _pool_padding(
    cv: _Converter, node: P.Node, x: Act, k: list[int], s: list[int], d: list[int], ceil: bool
) -> tuple[int | list[int], Act]:
    begin, end = _padding(x.shape[1:], k, s, d, node)
    if begin == end and all(p <= kk // 2 for p, kk in zip(begin, k)):
        return dimval(begin) if any(begin) else 0, x
    if ceil:
        raise Unsupported(f"pads {begin}/{end} with ceil_mode, which torch's pooling cannot express")
    pad = cv.build(node, "pad", {"begin": dimval(begin), "end": dimval(end)})
    return 0, cv.emit(node, pad, [x], ".pad")


@handles("MaxPool", "AveragePool")
def _pool(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    if (
        len(node.outputs) > 1
        and node.outputs[1]
        and (cv.consumers.get(node.outputs[1]) or node.outputs[1] in cv.outputs_read)
    ):
        raise Unsupported("has its indices output read")
    n = len(x.shape) - 1
    if not 1 <= n <= 3:
        raise Unsupported(f"pools over {n} spatial dims; convcalc has 1 to 3")
    k = list(node.attrs.get("kernel_shape", []))
    if len(k) != n or any(v < 1 for v in k):
        raise Unsupported(f"has kernel_shape {k} for {n} spatial dims")
    s = _spatial_attr(node, "strides", n)
    d = _spatial_attr(node, "dilations", n)
    ceil = bool(node.attrs.get("ceil_mode", 0))
    mode = "max" if node.op_type == "MaxPool" else "avg"
    if mode == "avg" and any(v != 1 for v in d):
        raise Unsupported("is an average pooling with dilation")
    padding, x = _pool_padding(cv, node, x, k, s, d, ceil)
    values: dict[str, Any] = {"mode": mode, "kernel": dimval(k), "stride": dimval(s), "padding": padding}
    if mode == "max":
        values["dilation"] = dimval(d)
    values["ceil_mode"] = ceil
    return [cv.emit(node, cv.build(node, "pool", values), [x])]


@handles("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    mode = "avg" if node.op_type == "GlobalAveragePool" else "max"
    return [cv.emit(node, cv.build(node, "global_pool", {"mode": mode}), [x])]


@handles(*REDUCE)
def _reduce(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if not isinstance(ins[0], Act):
        return list(FOLDERS[node.op_type](node, [v if isinstance(v, Const) else None for v in ins]))
    x = cv.cf(ins[0])
    full = len(x.shape) + 1
    axes = _axes_input(node, [v if isinstance(v, Const) else None for v in ins], 1)
    if len(ins) > 1 and isinstance(ins[1], Act):
        raise Unsupported("its axes are computed by the network")
    if not axes:
        if node.attrs.get("noop_with_empty_axes", 0):
            return [x]
        raise Unsupported("reduces every dim, the batch's too")
    norm = sorted({norm_axis(a, full, "axes") for a in axes})
    if 0 in norm:
        raise Unsupported("reduces over the batch dim")
    keep = bool(node.attrs.get("keepdims", 1))
    bl = [a - 1 for a in norm]
    op = REDUCE[node.op_type]
    n = len(x.shape) - 1
    if op in ("mean", "max") and keep and 1 <= n <= 3 and bl == list(range(1, n + 1)):
        return [cv.emit(node, cv.build(node, "global_pool", {"mode": "avg" if op == "mean" else "max"}), [x])]
    return [cv.emit(node, cv.build(node, "reduce", {"op": op, "axes": bl, "keepdims": keep}), [x])]


@handles("ArgMax", "ArgMin")
def _argmax(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    """The index of the largest (smallest) value along one axis: ``reduce`` argmax / argmin
    (select_last_index changes which index, not the cost)."""
    if not isinstance(ins[0], Act):
        raise Unsupported("finds an index in a constant")
    x = cv.cf(ins[0])
    full = len(x.shape) + 1
    axis = norm_axis(int(node.attrs.get("axis", 0)), full)
    if axis == 0:
        raise Unsupported("finds the index along the batch dim")
    op = "argmax" if node.op_type == "ArgMax" else "argmin"
    values = {"op": op, "axes": [axis - 1], "keepdims": bool(node.attrs.get("keepdims", 1))}
    return [cv.emit(node, cv.build(node, "reduce", values), [x])]


@handles("Concat")
def _concat(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    present = [v for v in ins if v is not None]
    if all(isinstance(v, Const) for v in present):
        return _fold_concat(node, [v if isinstance(v, Const) else None for v in ins])  # type: ignore[return-value]
    if not all(isinstance(v, Act) for v in present):
        raise Unsupported("joins activations with a constant (a learned token?)")
    acts = [cv.cf(v) for v in present if isinstance(v, Act)]
    full = len(acts[0].shape) + 1
    if any(len(a.shape) + 1 != full for a in acts):
        raise Unsupported("joins tensors of different ranks")
    axis = int(node.attrs.get("axis", 0))
    axis = axis + full if axis < 0 else axis
    if axis == 0:
        raise Unsupported("concatenates along the batch dim")
    if len(acts) == 1:
        return [acts[0]]
    return [cv.emit(node, cv.build(node, "concat", {"axis": axis - 1}), acts)]


def _slice_node(
    cv: _Converter, node: P.Node, x: Act, parts: list[tuple[int, int, int, int]], suffix: str = ""
) -> Act:
    """Slice of ``x`` along batch-less axes: (axis, start, stop, step), concrete. A slice of
    spatial dims only, step 1, is a crop."""
    parts = [p for p in parts if not (p[1] == 0 and p[2] == x.shape[p[0]] and p[3] == 1)]
    if not parts:
        return x
    n = len(x.shape) - 1
    if all(a > 0 and st == 1 for a, _, _, st in parts) and 1 <= n <= 3:
        begin, end = [0] * n, [0] * n
        for a, lo, hi, _ in parts:
            begin[a - 1], end[a - 1] = lo, x.shape[a] - hi
        layer = cv.build(node, "crop", {"begin": dimval(begin), "end": dimval(end)})
    else:
        values: dict[str, Any] = {
            "axes": [p[0] for p in parts],
            "starts": [p[1] for p in parts],
            "ends": [p[2] for p in parts],
        }
        if any(p[3] != 1 for p in parts):
            values["steps"] = [p[3] for p in parts]
        layer = cv.build(node, "slice", values)
    return cv.emit(node, layer, [x], suffix)


@handles("Slice")
def _slice(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        return list(_fold_slice(node, [v if isinstance(v, Const) else None for v in ins]))
    x = cv.cf(cv.act(ins[0]))
    consts = [ins[0]] + [cv.const(v, "bounds") if v is not None else None for v in ins[1:]]
    full = len(x.shape) + 1
    parts = []
    for a, s, e, st in _slice_params(node, consts, full):
        if st < 1:
            raise Unsupported(f"has a step of {st} (a reversed slice)")
        if a == 0:
            if s not in (0, -(2**63)) or not (e >= INT64_MAX // 2 or cv.batch_ok(e)):
                raise Unsupported("slices the batch dim")
            continue
        r = _clamped(x.shape[a - 1], s, e, st)
        if len(r) < 1:
            raise Unsupported(f"gives an empty slice of dim {a}")
        parts.append((a - 1, r.start, r.stop if r.step == 1 else r.start + (len(r) - 1) * r.step + 1, r.step))
    return [_slice_node(cv, node, x, parts)]


@handles("Split")
def _split(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        return list(_fold_split(node, [v if isinstance(v, Const) else None for v in ins]))
    x = cv.cf(cv.act(ins[0]))
    full = len(x.shape) + 1
    axis = norm_axis(int(node.attrs.get("axis", 0)), full)
    if axis == 0:
        raise Unsupported("splits the batch dim")
    sizes = _split_sizes(
        node, [None] + [v if isinstance(v, Const) else None for v in ins[1:]], x.shape[axis - 1]
    )
    outs: list[Value | None] = []
    start = 0
    for k, (name, size) in enumerate(zip(node.outputs, sizes)):
        if name and (cv.consumers.get(name) or name in cv.outputs_read):
            outs.append(_slice_node(cv, node, x, [(axis - 1, start, start + size, 1)], f".{k}"))
        else:
            outs.append(None)
        start += size
    return outs


@handles("Gather")
def _gather(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    data, idx = (ins + [None, None])[:2]
    if isinstance(data, Const) and isinstance(idx, Const):
        return [_fold_gather(node, data, idx)]
    if not isinstance(data, Act) or not isinstance(idx, Const):
        raise Unsupported("looks up a table with indices computed by the network (an embedding)")
    x = cv.cf(data)
    full = len(x.shape) + 1
    axis = norm_axis(int(node.attrs.get("axis", 0)), full)
    if axis == 0:
        raise Unsupported("gathers along the batch dim")
    size = x.shape[axis - 1]
    indices = ints(idx, "indices")
    for i in indices:
        if not -size <= i < size:
            raise SpecError(
                f"{cv.label(node)}: index {i} is out of range for a dim of size {size}", where=cv.where
            )
    if idx.dims == ():
        layer = cv.build(node, "select", {"axis": axis - 1, "index": indices[0]})
        return [cv.emit(node, layer, [x])]
    norm = [i % size for i in indices]
    if len(idx.dims) == 1 and norm == list(range(norm[0], norm[0] + len(norm))):
        return [_slice_node(cv, node, x, [(axis - 1, norm[0], norm[0] + len(norm), 1)])]
    raise Unsupported(f"gathers indices {indices[:8]} (not one index or a contiguous range)")


def _reshape_act(cv: _Converter, node: P.Node, x: Act, target: Sequence[Any], allowzero: bool) -> Act:
    full = (BATCH,) + x.logical
    t = list(target)
    if not t:
        raise Unsupported("reshapes to a scalar")
    head = t[0]
    if (head == 0 and not allowzero) or cv.batch_ok(head):
        rest_t = t[1:]
    elif head == -1:
        rest = list(t[1:])
        if any(v is BATCH or v == -1 for v in rest):
            raise Unsupported("merges the batch dim into another")
        rest_t = rest
    elif head == 1 and not isinstance(cv.batch, int):
        rest_t = t[1:]  # an exporter's fixed batch of 1 in a model whose batch is symbolic
    else:
        raise Unsupported(f"reshapes to {list(target)}, whose first dim is not the batch")
    out: list[int] = []
    infer = None
    for i, v in enumerate(rest_t):
        if v is BATCH:
            raise Unsupported("moves the batch dim")
        if v == 0 and not allowzero:
            if i + 1 >= len(full):
                raise Unsupported(f"copies dim {i + 1}, which its input {dims_text(full)} does not have")
            out.append(x.logical[i])
        elif v == -1:
            if infer is not None:
                raise Unsupported("has two -1 entries in its shape")
            infer = i
            out.append(1)
        elif isinstance(v, int) and v > 0:
            out.append(v)
        else:
            raise Unsupported(f"has a size {v} in its shape")
    n = math.prod(x.shape)
    known = math.prod(out)
    if infer is not None:
        if n % known:
            raise Unsupported(f"cannot reshape {dims_text(full)} to {list(target)}")
        out[infer] = n // known
    if math.prod(out) != n:
        if head == -1 and n % math.prod(out) == 0:
            raise Unsupported(
                f"reshapes {dims_text(full)} to {list(target)}: the batch dim would absorb other dims"
            )
        raise Unsupported(f"cannot reshape {dims_text(full)} to {list(target)}: the element counts differ")
    if not out:
        raise Unsupported("leaves a single value per sample")
    shape = tuple(out)
    if shape == x.logical:
        return x
    x = cv.cf(x)
    if shape == (n,) and len(x.shape) > 1:
        return cv.emit(node, cv.build(node, "flatten", {}), [x])
    return cv.emit(node, cv.build(node, "reshape", {"shape": list(shape)}), [x])


@handles("Reshape")
def _reshape(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        return list(_fold_reshape(node, [ins[0], cv.const(ins[1] if len(ins) > 1 else None, "shape")]))
    x = cv.act(ins[0])
    shape = cv.const(ins[1] if len(ins) > 1 else None, "shape")
    if shape.values is None:
        raise Unsupported("its target shape is not a constant that convcalc can fold")
    vals = [v if v is BATCH else int(v) for v in shape.values]
    return [_reshape_act(cv, node, x, vals, bool(node.attrs.get("allowzero", 0)))]


@handles("Flatten")
def _flatten(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        return list(_fold_flatten(node, [ins[0]]))
    x = cv.act(ins[0])
    full = len(x.logical) + 1
    axis = int(node.attrs.get("axis", 1))
    axis = axis + full if axis < 0 else axis
    if axis != 1:
        raise Unsupported(f"flattens from axis {axis}, which merges the batch dim with others")
    if len(x.logical) == 1:
        return [x]
    return [cv.emit(node, cv.build(node, "flatten", {}), [cv.cf(x)])]


@handles("Squeeze", "Unsqueeze")
def _squeeze(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    consts = [v if isinstance(v, Const) else None for v in ins]
    if isinstance(ins[0], Const):
        return list(FOLDERS[node.op_type](node, consts))
    x = cv.act(ins[0])
    full = (BATCH,) + x.logical
    axes = _axes_input(node, consts, 1)
    if node.op_type == "Squeeze":
        if axes is None:
            dims = (BATCH,) + tuple(d for d in x.logical if d != 1)
        else:
            norm = {norm_axis(a, len(full), "axes") for a in axes}
            if 0 in norm:
                raise Unsupported("squeezes the batch dim")
            for a in norm:
                if full[a] != 1:
                    raise Unsupported(f"squeezes dim {a}, of size {full[a]}")
            dims = tuple(d for i, d in enumerate(full) if i not in norm)
    else:
        if axes is None:
            raise Unsupported("has no axes")
        rank = len(full) + len(axes)
        norm_u = sorted(norm_axis(a, rank, "axes") for a in axes)
        if 0 in norm_u:
            raise Unsupported("adds a dim before the batch")
        lst = list(full)
        for a in norm_u:
            lst.insert(a, 1)
        dims = tuple(lst)
    return [_reshape_act(cv, node, x, [0] + [d for d in dims[1:] if isinstance(d, int)], False)]


@handles("Transpose")
def _transpose(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        return list(_fold_transpose(node, [ins[0]]))
    x = cv.act(ins[0])
    full = len(x.logical) + 1
    perm = [int(p) for p in node.attrs.get("perm", range(full - 1, -1, -1))]
    if sorted(perm) != list(range(full)):
        raise Unsupported(f"perm {perm} is not a permutation of {full} dims")
    if perm[0] != 0:
        raise Unsupported(f"perm {perm} moves the batch dim")
    p = [q - 1 for q in perm[1:]]
    n = len(p) - 1
    if p == list(range(n + 1)):
        return [x]
    if not x.cl and n >= 1 and p == list(range(1, n + 1)) + [0]:
        return [Act(x.ref, x.shape, True, node.name or "transpose")]
    if x.cl and n >= 1 and p == [n] + list(range(n)):
        return [Act(x.ref, x.shape, False)]
    x = cv.cf(x)
    return [cv.emit(node, cv.build(node, "transpose", {"perm": p}), [x])]


def _on_axes(c: Const | None, axes: list[int], kept: list[Any], what: str) -> Const | None:
    """Resize's ``scales`` or ``sizes`` of some ``axes``, spread over every axis (``kept``
    for the others)."""
    if c is None or c.numel == 0:
        return c
    if c.values is None or len(c.values) != len(axes):
        raise Unsupported(f"its {what} are not constants of one value per axis in axes {axes}")
    vals = list(kept)
    for a, v in zip(axes, c.values):
        vals[a] = v
    return Const((len(vals),), tuple(vals), c.is_float)


@handles("Resize", "Upsample")
def _resize(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    full = len(x.shape) + 1
    n = full - 2
    if not 1 <= n <= 3:
        raise Unsupported(f"resizes {n} spatial dims; convcalc has 1 to 3")
    if node.attrs.get("antialias", 0):
        raise Unsupported("antialiases (a wider filter when downsampling)")
    if str(node.attrs.get("keep_aspect_ratio_policy", "stretch")) != "stretch":
        raise Unsupported("keeps the aspect ratio")
    scales: Const | None = None
    sizes: Const | None = None
    if node.op_type == "Upsample" or (node.op_type == "Resize" and cv.opset < 11):
        if "scales" in node.attrs:
            vals = tuple(node.attrs["scales"])
            scales = Const((len(vals),), vals, True)
        elif len(ins) > 1 and ins[1] is not None:
            scales = cv.const(ins[1], "scales")
    else:
        if len(ins) > 3 and ins[3] is not None:
            sizes = cv.const(ins[3], "sizes")
        elif len(ins) > 2 and ins[2] is not None:
            scales = cv.const(ins[2], "scales")
    if "axes" in node.attrs:  # opset 18: scales or sizes of these axes, the others kept
        axes = [norm_axis(int(a), full, "axes") for a in node.attrs["axes"]]
        if len(set(axes)) != len(axes):
            raise Unsupported(f"names an axis twice (axes {list(node.attrs['axes'])})")
        scales = _on_axes(scales, axes, [1] * full, "scales")
        sizes = _on_axes(sizes, axes, [cv.batch, *x.shape], "sizes")
    mode = str(node.attrs.get("mode", "nearest"))
    ctm = str(node.attrs.get("coordinate_transformation_mode", "half_pixel"))
    values: dict[str, Any] = {}
    if sizes is not None and sizes.numel > 0:
        if sizes.values is None or len(sizes.values) != full:
            raise Unsupported("its output sizes are not constants that convcalc can fold")
        if not cv.batch_ok(sizes.values[0]) or sizes.values[1] != x.shape[0]:
            raise Unsupported(f"resizes the batch or channel dims (sizes {list(sizes.values)})")
        values["size"] = dimval([int(v) for v in sizes.values[2:]])
    elif scales is not None and scales.numel > 0:
        if scales.values is None or len(scales.values) != full:
            raise Unsupported("its scales are not constants that convcalc can fold")
        if scales.values[0] != 1 or scales.values[1] != 1:
            raise Unsupported(f"scales the batch or channel dims (scales {list(scales.values)})")
        sc = [float(v) for v in scales.values[2:]]
        if any(not v > 0 or not math.isfinite(v) for v in sc):
            raise Unsupported(f"has scales {sc}")
        sc_vals: list[int | float] = [int(v) if v == int(v) else v for v in sc]
        values["scale"] = sc_vals[0] if len(set(sc_vals)) == 1 else sc_vals
    else:
        raise Unsupported("has neither scales nor sizes")
    if mode == "nearest":
        values["mode"] = "nearest"
    elif mode in ("linear", "bilinear", "trilinear"):
        values["mode"] = {1: "linear", 2: "bilinear", 3: "trilinear"}[n]
        if ctm == "align_corners":
            values["align_corners"] = True
    elif mode == "cubic":
        if n != 2:
            raise Unsupported("is a cubic resize of other than 2 spatial dims")
        values["mode"] = "bicubic"
        if ctm == "align_corners":
            values["align_corners"] = True
    else:
        raise Unsupported(f"has mode {mode!r}")
    return [cv.emit(node, cv.build(node, "resize", values), [x])]


@handles("DepthToSpace", "SpaceToDepth")
def _depth_to_space(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    """DepthToSpace is ``pixel_shuffle`` in either mode: DCR (the default) and CRD (torch's
    PixelShuffle) order the channels differently but move the same elements, at no cost;
    SpaceToDepth is ``pixel_unshuffle``."""
    x = cv.cf(cv.act(ins[0]))
    if "blocksize" not in node.attrs:
        raise Unsupported("has no blocksize")
    mode = str(node.attrs.get("mode", "DCR"))
    if node.op_type == "DepthToSpace" and mode not in ("DCR", "CRD"):
        raise Unsupported(f"has mode {mode!r}")
    kind = "pixel_shuffle" if node.op_type == "DepthToSpace" else "pixel_unshuffle"
    return [cv.emit(node, cv.build(node, kind, {"factor": int(node.attrs["blocksize"])}), [x])]


@handles("Pad")
def _pad(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    full = len(x.shape) + 1
    if "pads" in node.attrs:
        pads = list(node.attrs["pads"])
    else:
        pads = ints(cv.const(ins[1] if len(ins) > 1 else None, "pads"), "pads")
    axes = list(range(full))
    if len(ins) > 3 and ins[3] is not None:
        axes = [norm_axis(a, full, "axes") for a in ints(cv.const(ins[3], "axes"), "axes")]
    if len(pads) != 2 * len(axes):
        raise Unsupported(f"has {len(pads)} pads for {len(axes)} dims")
    begin = dict(zip(axes, pads[: len(axes)]))
    end = dict(zip(axes, pads[len(axes) :]))
    for a in (0, 1):
        if begin.get(a, 0) or end.get(a, 0):
            raise Unsupported("pads the " + ("batch" if a == 0 else "channel") + " dim")
    n = full - 2
    if not 1 <= n <= 3:
        raise Unsupported(f"pads {n} spatial dims; convcalc has 1 to 3")
    mode = str(node.attrs.get("mode", "constant"))
    kinds = {"constant": "zeros", "reflect": "reflect", "edge": "replicate"}
    if mode not in kinds:
        raise Unsupported(f"has mode {mode!r}")
    b = [begin.get(a, 0) for a in range(2, full)]
    e = [end.get(a, 0) for a in range(2, full)]
    y = x
    values: dict[str, Any]
    if any(v > 0 for v in b + e):
        values = {"begin": dimval([max(v, 0) for v in b]), "end": dimval([max(v, 0) for v in e])}
        values["mode"] = kinds[mode]
        y = cv.emit(node, cv.build(node, "pad", values), [y])
    if any(v < 0 for v in b + e):
        values = {"begin": dimval([max(-v, 0) for v in b]), "end": dimval([max(-v, 0) for v in e])}
        y = cv.emit(node, cv.build(node, "crop", values), [y], ".crop" if y is not x else "")
    return [y]


@handles("Identity", "Dropout", "Cast", "CastLike")
def _alias(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        folder = FOLDERS[node.op_type]
        return list(folder(node, [v if isinstance(v, Const) else None for v in ins]))
    x = cv.act(ins[0])
    if node.op_type == "Dropout":
        if (
            len(node.outputs) > 1
            and node.outputs[1]
            and (cv.consumers.get(node.outputs[1]) or node.outputs[1] in cv.outputs_read)
        ):
            raise Unsupported("has its mask output read")
        return [x, None]
    return [x]


@handles("Shape", "Size")
def _shape_of(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    v = ins[0]
    if isinstance(v, Const):
        dims: tuple[Any, ...] = v.dims
    else:
        x = cv.act(v)
        dims = (cv.batch,) + x.logical
    if node.op_type == "Size":
        if any(d is BATCH for d in dims):
            return [Const((), None, False)]
        return [Const((), (math.prod(dims),), False)]
    return [_fold_shape(dims, node)]


@handles("Expand")
def _expand(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        return list(_fold_expand(node, [ins[0], cv.const(ins[1] if len(ins) > 1 else None, "shape")]))
    x = cv.act(ins[0])
    target = cv.const(ins[1] if len(ins) > 1 else None, "shape")
    if target.values is None:
        raise Unsupported("its target shape is not a constant that convcalc can fold")
    full = (1,) + x.logical
    first = len(full) - len(target.values)  # the target is right-aligned: the batch is its first
    # value only when it has the input's rank
    t = []
    for i, v in enumerate(target.values):
        if i == first == 0 and cv.batch_ok(v):
            t.append(1)
        elif v is BATCH:
            raise Unsupported(f"expands dim {i + first} of {dims_text(x.logical)} to the batch size")
        else:
            t.append(int(v))
    if len(t) > len(full) or bcast(full, t) != full:
        raise Unsupported(f"expands {dims_text(x.logical)} to {list(target.values)}")
    return [x]


@handles("Constant")
def _constant(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    return list(_fold_constant(node, []))
