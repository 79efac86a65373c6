"""How each PyTorch module, function and tensor method becomes convcalc layers: the handlers of
the tables in ``pytorch_graph`` (``MODULES`` by torch.nn class name, ``FUNCTIONS`` by
``torch.cat`` / ``F.relu`` / ``operator.add``, ``METHODS`` by tensor method name). A handler
reads its fx node's arguments (``T`` tensors from the input, ``S`` values known without it) and
adds layers with ``imp.add``; raising ``_Unsupported`` makes the op unsupported (an error, or
with ``--allow-unknown`` an ``opaque`` layer). ``_Importer`` checks every mapping against torch.
"""

from __future__ import annotations

from math import prod
from typing import Any

from .pytorch_graph import (
    FUNCTIONS,
    METHODS,
    MODULES,
    Handler,
    S,
    T,
    _function_key,
    _Importer,
    _leaves,
    _on,
    _Unsupported,
)


# -- the mappings -----------------------------------------------------------------------------------------
def _v(x: Any) -> Any:
    """A handler argument's plain value (S unwrapped, also inside lists)."""
    if isinstance(x, S):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_v(y) for y in x) if not hasattr(x, "_fields") else type(x)(*(_v(y) for y in x))
    if isinstance(x, slice):
        return slice(_v(x.start), _v(x.stop), _v(x.step))
    return x


def _bind(args: list, kwargs: dict, names: tuple[str, ...], defaults: dict[str, Any]) -> dict[str, Any]:
    """Positional and keyword arguments by name (``names``: the signature's order)."""
    out = dict(defaults)
    for name, a in zip(names, args):
        out[name] = a
    for k, a in kwargs.items():
        if k not in names:
            raise _Unsupported(f"keyword {k}")
        out[k] = a
    missing = [k for k in names if k not in out]
    if missing:
        raise _Unsupported()
    return out


def _compact(t: tuple[int, ...]) -> int | list[int]:
    """A per-dim tuple as a spec writes it: one int when all agree."""
    return t[0] if len(set(t)) == 1 else list(t)


def _per_dim(v: Any, n: int) -> tuple[int, ...]:
    v = _v(v)
    if isinstance(v, (list, tuple)):
        if len(v) != n:
            raise _Unsupported()
        return tuple(int(x) for x in v)
    return (int(v),) * n


def _cf(imp: _Importer, x: Any) -> T:
    """``x`` as a tensor whose torch dims are convcalc's (a channels-last view or a pending
    pattern made real first), or the op is unsupported here (``x`` is not from the input)."""
    if not isinstance(x, T):
        raise _Unsupported()
    return imp.materialize(x) if x.perm is not None or x.pending else x


def _spatial(imp: _Importer, x: T, lo: int = 1) -> int:
    n = len(imp.shape(x.ref)) - 1
    if not lo <= n <= 3:
        raise _Unsupported()
    return n


def _channels_last(rank: int) -> tuple[int, ...]:
    return (0, *range(2, rank), 1)


def _torch_shape(imp: _Importer, x: T) -> tuple[int, ...]:
    shape = (1, *imp.shape(x.ref))
    return tuple(shape[d] for d in x.perm) if x.perm is not None else shape


def conv_like(
    imp: _Importer,
    x: Any,
    *,
    c_out: int,
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    bias: bool,
    padding_mode: str = "zeros",
    transposed: bool = False,
    output_padding: Any = 0,
) -> T:
    """A torch convolution as conv, depthwise (groups = C_in > 1), pointwise (1x1, no padding)
    or transposed; a non-zero padding mode is a pad layer before it."""
    x = _cf(imp, x)
    n = _spatial(imp, x)
    c_in = imp.shape(x.ref)[0]
    k, s, d = _per_dim(kernel, n), _per_dim(stride, n), _per_dim(dilation, n)
    if transposed:
        return imp.add(
            "transposed",
            [x],
            dict(
                out_channels=c_out,
                kernel=_compact(k),
                stride=_compact(s),
                padding=_compact(_per_dim(padding, n)),
                output_padding=_compact(_per_dim(output_padding, n)),
                dilation=_compact(d),
                groups=groups,
                bias=bias,
            ),
        )
    pad: Any = _v(padding)
    if isinstance(pad, str):
        if padding_mode != "zeros" and pad != "valid":
            raise _Unsupported(f"padding_mode {padding_mode} with padding={pad!r}")
    else:
        p = _per_dim(pad, n)
        if padding_mode != "zeros" and any(p):
            if padding_mode not in ("reflect", "replicate"):
                raise _Unsupported(f"padding_mode {padding_mode}")
            x = imp.add(
                "pad", [x], {"begin": _compact(p), "end": _compact(p), "mode": padding_mode}, suffix="pad"
            )
            p = (0,) * n
        pad = _compact(p)
    if groups == c_in and groups > 1 and c_out % c_in == 0:
        return imp.add(
            "depthwise",
            [x],
            dict(
                kernel=_compact(k),
                stride=_compact(s),
                padding=pad,
                dilation=_compact(d),
                multiplier=c_out // c_in,
                bias=bias,
            ),
        )
    if all(kk == 1 for kk in k) and pad in (0, "valid", "same"):
        return imp.add(
            "pointwise", [x], dict(out_channels=c_out, stride=_compact(s), groups=groups, bias=bias)
        )
    return imp.add(
        "conv",
        [x],
        dict(
            out_channels=c_out,
            kernel=_compact(k),
            stride=_compact(s),
            padding=pad,
            dilation=_compact(d),
            groups=groups,
            bias=bias,
        ),
    )


def linear_like(imp: _Importer, x: Any, in_features: int, out_features: int, bias: bool) -> T:
    """nn.Linear: convcalc's linear on a flat (B, F) input; a pointwise conv on the channels of a
    channels-last tensor (ConvNeXt's block)."""
    if not isinstance(x, T):
        raise _Unsupported()
    if x.pending:
        x = imp.materialize(x)
    shape = imp.shape(x.ref)
    if x.perm is None and len(shape) == 1:
        return imp.add("linear", [x], {"out_features": out_features, "bias": bias})
    if x.perm is not None and x.perm == _channels_last(len(shape) + 1) and shape[0] == in_features:
        return imp.add("pointwise", [x], {"out_channels": out_features, "bias": bias})
    x = imp.materialize(x)  # torch's Linear on its last dim: dense
    return imp.add("dense", [x], {"out_features": out_features, "bias": bias})


@_on(MODULES, "Conv1d", "Conv2d", "Conv3d")
def _m_conv(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    return conv_like(
        imp,
        args[0],
        c_out=m.out_channels,
        kernel=m.kernel_size,
        stride=m.stride,
        padding=m.padding,
        dilation=m.dilation,
        groups=m.groups,
        bias=m.bias is not None,
        padding_mode=m.padding_mode,
    )


@_on(MODULES, "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def _m_convt(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    if len(args) > 1 or kwargs or m.padding_mode != "zeros":
        raise _Unsupported("ConvTranspose with output_size")
    return conv_like(
        imp,
        args[0],
        c_out=m.out_channels,
        kernel=m.kernel_size,
        stride=m.stride,
        padding=m.padding,
        dilation=m.dilation,
        groups=m.groups,
        bias=m.bias is not None,
        transposed=True,
        output_padding=m.output_padding,
    )


def _f_conv(transposed: bool) -> Handler:
    names: tuple[str, ...] = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
    if transposed:
        names = ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation")

    def handler(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
        a = _bind(
            args, kwargs, names, dict(bias=None, stride=1, padding=0, dilation=1, groups=1, output_padding=0)
        )
        w = _v(a["weight"])
        if not isinstance(a["weight"], S) or isinstance(a["bias"], T):
            raise _Unsupported("a convolution whose weights are computed from the input")
        groups = int(_v(a["groups"]))
        c_out = w.shape[1] * groups if transposed else w.shape[0]
        return conv_like(
            imp,
            a["input"],
            c_out=c_out,
            kernel=tuple(w.shape[2:]),
            stride=a["stride"],
            padding=a["padding"],
            dilation=a["dilation"],
            groups=groups,
            bias=a["bias"] is not None,
            transposed=transposed,
            output_padding=a["output_padding"],
        )

    return handler


for _k in (1, 2, 3):
    FUNCTIONS[f"F.conv{_k}d"] = _f_conv(False)
    FUNCTIONS[f"F.conv_transpose{_k}d"] = _f_conv(True)


@_on(MODULES, "Linear")
def _m_linear(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    return linear_like(imp, args[0], m.in_features, m.out_features, m.bias is not None)


@_on(FUNCTIONS, "F.linear")
def _f_linear(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(args, kwargs, ("input", "weight", "bias"), {"bias": None})
    if not isinstance(a["weight"], S) or isinstance(a["bias"], T):
        raise _Unsupported("a linear layer whose weights are computed from the input")
    w = _v(a["weight"])
    return linear_like(imp, a["input"], w.shape[1], w.shape[0], a["bias"] is not None)


# -- normalisation --------------------------------------------------------------------------------------
@_on(MODULES, "BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def _m_batchnorm(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    return imp.add("batchnorm", [_cf(imp, args[0])], {"affine": m.affine})


@_on(FUNCTIONS, "F.batch_norm")
def _f_batchnorm(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    names = ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps")
    a = _bind(args, kwargs, names, dict(weight=None, bias=None, training=False, momentum=0.1, eps=1e-5))
    if (a["weight"] is None) != (a["bias"] is None) or _v(a["training"]):
        raise _Unsupported("batch_norm with a weight but no bias, or in training mode")
    return imp.add("batchnorm", [_cf(imp, a["input"])], {"affine": a["weight"] is not None})


def _layernorm(imp: _Importer, x: Any, normalized_shape: Any, weight: bool, bias: bool) -> T:
    if not isinstance(x, T) or x.pending:
        raise _Unsupported()
    shape = imp.shape(x.ref)
    ns = (
        tuple(_per_dim(normalized_shape, 1))
        if isinstance(_v(normalized_shape), int)
        else tuple(_v(normalized_shape))
    )
    channels_last = x.perm is not None and x.perm == _channels_last(len(shape) + 1)
    if ns != (shape[0],) or not (channels_last or (x.perm is None and len(shape) == 1)):
        raise _Unsupported("LayerNorm over other dims than the channels")
    if bias and not weight:
        raise _Unsupported("LayerNorm with a bias but no weight")
    return imp.add("layernorm", [x], {"affine": weight, "bias": bias or not weight})


@_on(MODULES, "LayerNorm")
def _m_layernorm(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    return _layernorm(imp, args[0], m.normalized_shape, m.weight is not None, m.bias is not None)


@_on(FUNCTIONS, "F.layer_norm")
def _f_layernorm(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(
        args,
        kwargs,
        ("input", "normalized_shape", "weight", "bias", "eps"),
        dict(weight=None, bias=None, eps=1e-5),
    )
    if isinstance(a["weight"], T) or isinstance(a["bias"], T):
        raise _Unsupported("layer_norm with weights computed from the input")
    return _layernorm(imp, a["input"], a["normalized_shape"], a["weight"] is not None, a["bias"] is not None)


@_on(MODULES, "GroupNorm")
def _m_groupnorm(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    return imp.add("groupnorm", [_cf(imp, args[0])], {"groups": m.num_groups, "affine": m.affine})


@_on(FUNCTIONS, "F.group_norm")
def _f_groupnorm(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(
        args, kwargs, ("input", "num_groups", "weight", "bias", "eps"), dict(weight=None, bias=None, eps=1e-5)
    )
    if (a["weight"] is None) != (a["bias"] is None):
        raise _Unsupported("group_norm with a weight but no bias")
    return imp.add(
        "groupnorm",
        [_cf(imp, a["input"])],
        {"groups": int(_v(a["num_groups"])), "affine": a["weight"] is not None},
    )


@_on(MODULES, "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def _m_instancenorm(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    return imp.add("instancenorm", [_cf(imp, args[0])], {"affine": m.affine})


# -- activations, dropout, identity ------------------------------------------------------------------------
ACTIVATION_MODULES = {
    "ReLU": "relu",
    "ReLU6": "relu6",
    "LeakyReLU": "leaky_relu",
    "ELU": "elu",
    "SELU": "selu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Hardsigmoid": "hardsigmoid",
    "SiLU": "silu",
    "Hardswish": "hardswish",
    "GELU": "gelu",
    "Mish": "mish",
    "Softplus": "softplus",
}
ACTIVATION_FUNCTIONS = {
    "relu": "relu",
    "relu_": "relu",
    "relu6": "relu6",
    "leaky_relu": "leaky_relu",
    "leaky_relu_": "leaky_relu",
    "elu": "elu",
    "elu_": "elu",
    "selu": "selu",
    "selu_": "selu",
    "sigmoid": "sigmoid",
    "sigmoid_": "sigmoid",
    "tanh": "tanh",
    "tanh_": "tanh",
    "hardsigmoid": "hardsigmoid",
    "silu": "silu",
    "hardswish": "hardswish",
    "gelu": "gelu",
    "mish": "mish",
    "softplus": "softplus",
}


def _activation(fn: str) -> Handler:
    def handler(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
        x = args[0] if args else kwargs.get("input")
        if (
            not isinstance(x, T)
            or x.pending
            or len([a for a in _leaves((args, kwargs)) if isinstance(a, T)]) != 1
        ):
            raise _Unsupported()
        return imp.add("activation", [x], {"fn": fn})

    return handler


for _name, _fn in ACTIVATION_MODULES.items():
    MODULES[_name] = _activation(_fn)
for _name, _fn in ACTIVATION_FUNCTIONS.items():
    for _prefix in ("F", "torch"):
        FUNCTIONS[f"{_prefix}.{_name}"] = _activation(_fn)
    METHODS[_name] = _activation(_fn)


@_on(MODULES, "Hardtanh")
def _m_hardtanh(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    if (m.min_val, m.max_val) != (0.0, 6.0):
        raise _Unsupported("Hardtanh other than ReLU6")
    return imp.add("activation", [_cf_or_any(args[0])], {"fn": "relu6"})


@_on(FUNCTIONS, "F.hardtanh")
def _f_hardtanh(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(
        args,
        kwargs,
        ("input", "min_val", "max_val", "inplace"),
        dict(min_val=-1.0, max_val=1.0, inplace=False),
    )
    if (_v(a["min_val"]), _v(a["max_val"])) != (0, 6):
        raise _Unsupported("hardtanh other than ReLU6")
    return imp.add("activation", [_cf_or_any(a["input"])], {"fn": "relu6"})


def _cf_or_any(x: Any) -> T:
    if not isinstance(x, T) or x.pending:
        raise _Unsupported()
    return x


def _softmax(imp: _Importer, x: Any, dim: Any, log: bool = False) -> T:
    """Softmax over the channels is the activation (log-softmax: ``softmax`` with ``log``), on a
    channels-last view too; over another dim, ``softmax`` along that axis."""
    x = _cf_or_any(x)
    rank = len(imp.shape(x.ref)) + 1
    if _v(dim) is None:
        raise _Unsupported("softmax without dim")
    d = int(_v(dim)) % rank
    channel = x.perm.index(1) if x.perm is not None else 1
    if d == channel:
        if not log:
            return imp.add("activation", [x], {"fn": "softmax"})
        return imp.add("softmax", [x], {"axis": 0, "log": True})
    if d == 0:
        raise _Unsupported("softmax over the batch")
    x = imp.materialize(x)
    return imp.add("softmax", [x], {"axis": d - 1, "log": log})


@_on(MODULES, "Softmax")
def _m_softmax(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    return _softmax(imp, args[0], imp.modules[n.target].dim)


@_on(MODULES, "LogSoftmax")
def _m_log_softmax(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    return _softmax(imp, args[0], imp.modules[n.target].dim, log=True)


@_on(FUNCTIONS, "F.softmax", "torch.softmax")
@_on(METHODS, "softmax")
def _f_softmax(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(
        args, kwargs, ("input", "dim", "_stacklevel", "dtype"), dict(dim=None, _stacklevel=3, dtype=None)
    )
    return _softmax(imp, a["input"], a["dim"])


@_on(FUNCTIONS, "F.log_softmax", "torch.log_softmax")
@_on(METHODS, "log_softmax")
def _f_log_softmax(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(
        args, kwargs, ("input", "dim", "_stacklevel", "dtype"), dict(dim=None, _stacklevel=3, dtype=None)
    )
    return _softmax(imp, a["input"], a["dim"], log=True)


@_on(MODULES, "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")
def _m_dropout(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    return imp.add("dropout", [_cf_or_any(args[0])], {"p": float(imp.modules[n.target].p)})


@_on(FUNCTIONS, "F.dropout", "F.dropout1d", "F.dropout2d", "F.dropout3d", "F.alpha_dropout", "torch.dropout")
def _f_dropout(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(args, kwargs, ("input", "p", "training", "inplace"), dict(p=0.5, training=False, inplace=False))
    return imp.add("dropout", [_cf_or_any(a["input"])], {"p": float(_v(a["p"]))})


@_on(MODULES, "Identity")
def _m_identity(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    return imp.add("identity", [_cf_or_any(args[0])])


# -- pooling -------------------------------------------------------------------------------------------------
def _pool(
    imp: _Importer, x: Any, mode: str, kernel: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: Any
) -> T:
    x = _cf(imp, x)
    nd = _spatial(imp, x)
    k = _per_dim(kernel, nd)
    st = _v(stride)
    s = k if st is None or (isinstance(st, (list, tuple)) and not st) else _per_dim(st, nd)
    params: dict[str, Any] = {
        "mode": mode,
        "kernel": _compact(k),
        "stride": _compact(s),
        "padding": _compact(_per_dim(padding, nd)),
        "ceil_mode": bool(_v(ceil_mode)),
    }
    if mode == "max":
        params["dilation"] = _compact(_per_dim(dilation, nd))
    return imp.add("pool", [x], params)


@_on(MODULES, "MaxPool1d", "MaxPool2d", "MaxPool3d")
def _m_maxpool(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    if m.return_indices:
        raise _Unsupported("MaxPool with return_indices")
    return _pool(imp, args[0], "max", m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)


@_on(MODULES, "AvgPool1d", "AvgPool2d", "AvgPool3d")
def _m_avgpool(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    return _pool(imp, args[0], "avg", m.kernel_size, m.stride, m.padding, 1, m.ceil_mode)


def _f_maxpool(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
    a = _bind(
        args, kwargs, names, dict(stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False)
    )
    if _v(a["return_indices"]):
        raise _Unsupported("max_pool with return_indices")
    return _pool(
        imp, a["input"], "max", a["kernel_size"], a["stride"], a["padding"], a["dilation"], a["ceil_mode"]
    )


def _f_avgpool(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    names = (
        "input",
        "kernel_size",
        "stride",
        "padding",
        "ceil_mode",
        "count_include_pad",
        "divisor_override",
    )
    a = _bind(
        args,
        kwargs,
        names,
        dict(stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None),
    )
    return _pool(imp, a["input"], "avg", a["kernel_size"], a["stride"], a["padding"], 1, a["ceil_mode"])


def _adaptive(imp: _Importer, x: Any, mode: str, output_size: Any) -> T:
    x = _cf(imp, x)
    nd = _spatial(imp, x)
    size = imp.shape(x.ref)[1:]
    out = _v(output_size)
    outs = tuple(out) if isinstance(out, (list, tuple)) else (out,) * nd
    if len(outs) != nd:
        raise _Unsupported()
    outs = tuple(i if o is None else int(o) for i, o in zip(size, outs))
    if all(o == 1 for o in outs):
        return imp.add("global_pool", [x], {"mode": mode})
    return imp.add("adaptive_pool", [x], {"mode": mode, "output_size": _compact(outs)})


@_on(MODULES, "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d")
def _m_adaptive_avg(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    return _adaptive(imp, args[0], "avg", imp.modules[n.target].output_size)


@_on(MODULES, "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d")
def _m_adaptive_max(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    if m.return_indices:
        raise _Unsupported("AdaptiveMaxPool with return_indices")
    return _adaptive(imp, args[0], "max", m.output_size)


def _f_adaptive(mode: str) -> Handler:
    def handler(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
        a = _bind(args, kwargs, ("input", "output_size", "return_indices"), {"return_indices": False})
        if _v(a["return_indices"]):
            raise _Unsupported("adaptive pooling with return_indices")
        return _adaptive(imp, a["input"], mode, a["output_size"])

    return handler


for _k in (1, 2, 3):
    FUNCTIONS[f"F.max_pool{_k}d"] = _f_maxpool
    FUNCTIONS[f"F.avg_pool{_k}d"] = _f_avgpool
    FUNCTIONS[f"torch.max_pool{_k}d"] = _f_maxpool
    FUNCTIONS[f"torch.avg_pool{_k}d"] = _f_avgpool
    FUNCTIONS[f"F.adaptive_avg_pool{_k}d"] = _f_adaptive("avg")
    FUNCTIONS[f"F.adaptive_max_pool{_k}d"] = _f_adaptive("max")


# -- merges ------------------------------------------------------------------------------------------------
def _per_channel(imp: _Importer, s: S, x: T) -> bool:
    """Whether constant ``s`` broadcasts as one value per channel of ``x``."""
    value = s.value
    if not hasattr(value, "shape"):
        return False
    shape = (1, *imp.shape(x.ref))
    torch_shape = tuple(shape[d] for d in x.perm) if x.perm is not None else shape
    channel = x.perm.index(1) if x.perm is not None else 1
    cs = tuple(value.shape)
    if len(cs) > len(torch_shape):
        return False
    aligned = (1,) * (len(torch_shape) - len(cs)) + cs
    return all((v == shape[1]) if d == channel else v == 1 for d, v in enumerate(aligned))


def _constant_shape(imp: _Importer, s: S, t: T) -> list[int]:
    """A constant operand's shape per sample (PyTorch broadcasting against the batched ``t``:
    a leading 1 that meets the batch dim goes), or unsupported when it depends on the batch."""
    value = s.value
    if isinstance(value, (bool, int, float)):
        return []
    if not hasattr(value, "shape"):
        raise _Unsupported()
    cs = list(value.shape)
    rank = len(imp.shape(t.ref)) + 1
    if len(cs) > rank or (len(cs) == rank and cs[0] != 1):
        raise _Unsupported("a constant with a batch dim of its own")
    return cs[1:] if len(cs) == rank else cs


def _op_key(n: Any) -> str:
    return f"Tensor.{n.target}" if n.op == "call_method" else _function_key(n.target)


MERGES = ("add", "mul")  # convcalc's merges of any number of inputs; the other ops are binary


def _arith(kind: str) -> Handler:
    """An element-wise operation of two operands: tensors from the input (add, mul: convcalc's
    merges, several in a row one merge; sub, div, pow, max, min: binary), or one of them a
    constant: a learned per-channel multiply is layer ``scale``, ``x * a + b`` with fixed
    per-channel ``a`` and ``b`` a frozen ``batchnorm``, the rest ``elementwise``."""

    def handler(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
        if _v(kwargs.get("alpha", 1)) != 1 or len(args) != 2 or set(kwargs) - {"alpha", "out"}:
            raise _Unsupported()
        a, b = args
        if isinstance(a, T) and isinstance(b, T):
            if a.pending or b.pending or a.perm != b.perm:
                a, b = imp.materialize(a), imp.materialize(b)
            if kind not in MERGES:
                return imp.add("binary", [a, b], {"op": kind})
            if imp.graph.nodes and a.ref >= 0 and imp.graph.nodes[a.ref].layer.type_name == kind:
                longer = imp.extend(a, b)
                if longer is not None:
                    return longer
            return imp.add(kind, [a, b])
        t, s = (a, b) if isinstance(a, T) else (b, a)
        if isinstance(s, (bool, int, float)):  # a number written in forward
            s = S(s)
        if not isinstance(s, S) or not isinstance(t, T):
            raise _Unsupported()
        if (
            kind == "mul"
            and not t.pending
            and isinstance(s.value, imp.torch.Tensor)
            and _per_channel(imp, s, t)
        ):
            if s.params:  # a learned per-channel multiply: layer scale
                return imp.add("scale", [t])
            if t.perm is None:
                shape = tuple(_constant_shape(imp, s, t))
                return T(t.ref, None, "scaled", origin=f"{_op_key(n)} by a constant", constant=shape)
        if kind == "add" and t.pending == "scaled" and not s.params and _per_channel(imp, s, t):
            # x * a + b with constant per-channel a, b: inference batch norm (frozen statistics)
            return imp.add("batchnorm", [T(t.ref)], {"affine": False})
        if kind == "add" and s.params and not t.pending and _per_channel(imp, s, t):
            fused = imp.learned_shift(t, s)  # layer scale with a shift: x * gamma + beta
            if fused is not None:
                return fused
        t = imp.materialize(t)
        learned = sum(imp.param_sizes[k] for k in s.params)
        return imp.add(
            "elementwise", [t], {"op": kind, "shape": _constant_shape(imp, s, t), "learned": learned}
        )

    handler.completes = True  # type: ignore[attr-defined]
    return handler


for _kind, _names in {
    "add": ("operator.add", "operator.iadd", "torch.add"),
    "mul": ("operator.mul", "operator.imul", "torch.mul", "torch.multiply"),
    "sub": ("operator.sub", "operator.isub", "torch.sub", "torch.subtract"),
    "div": ("operator.truediv", "operator.itruediv", "torch.div", "torch.divide", "torch.true_divide"),
    "pow": ("operator.pow", "torch.pow"),
    "max": ("torch.maximum",),
    "min": ("torch.minimum",),
}.items():
    for _name in _names:
        FUNCTIONS[_name] = _arith(_kind)
for _kind, _names in {
    "add": ("add", "add_", "__add__", "__radd__", "__iadd__"),
    "mul": ("mul", "mul_", "__mul__", "__rmul__", "__imul__", "multiply"),
    "sub": ("sub", "sub_", "__sub__", "__isub__", "subtract", "__rsub__"),
    "div": ("div", "div_", "__truediv__", "__itruediv__", "divide", "true_divide", "__rtruediv__"),
    "pow": ("pow", "pow_", "__pow__"),
    "max": ("maximum",),
    "min": ("minimum",),
}.items():
    for _name in _names:
        METHODS[_name] = _arith(_kind)


@_on(FUNCTIONS, "torch.cat", "torch.concat", "torch.concatenate")
def _cat(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(args, kwargs, ("tensors", "dim"), {"dim": 0})
    xs = list(a["tensors"])
    if not xs or not all(isinstance(x, T) for x in xs):
        raise _Unsupported("cat of tensors not all computed from the input")
    xs = [imp.materialize(x) if x.perm is not None or x.pending else x for x in xs]
    rank = len(imp.shape(xs[0].ref)) + 1
    d = int(_v(a["dim"])) % rank
    if d == 0:
        raise _Unsupported("cat along the batch dim")
    if len(xs) == 1:  # a copy (DenseNet's first layer concatenates its one input)
        return imp.add("identity", xs)
    return imp.add("concat", xs, {"axis": d - 1})


# -- shapes and views ---------------------------------------------------------------------------------------
@_on(FUNCTIONS, "builtins.getattr")
def _getattr(imp: _Importer, n: Any, args: list, kwargs: dict) -> S:
    x, attr = args[0], args[1]
    if attr == "shape" and isinstance(x, T):
        return S(imp.values[n], shape_of=x)
    if attr in ("dtype", "device", "ndim", "is_cuda", "requires_grad"):
        return S(imp.values[n])
    raise _Unsupported(f"Tensor.{attr}")


@_on(METHODS, "size")
def _size(imp: _Importer, n: Any, args: list, kwargs: dict) -> S:
    x = args[0]
    if len(args) == 1 and not kwargs and isinstance(x, T):
        return S(imp.values[n], shape_of=x)
    return S(imp.values[n])


@_on(METHODS, "dim", "ndimension", "numel")
def _static(imp: _Importer, n: Any, args: list, kwargs: dict) -> S:
    return S(imp.values[n])


@_on(METHODS, "contiguous", "clone", "detach", "float", "to", "type", "cpu", "requires_grad_")
def _alias(imp: _Importer, n: Any, args: list, kwargs: dict) -> Any:
    """No cost and the same values: the input tensor itself."""
    x = args[0]
    value, before = imp.values[n], imp.values[n.args[0]]
    if not isinstance(x, T) or tuple(value.shape) != tuple(before.shape):
        raise _Unsupported()
    return x


_alias.completes = True  # type: ignore[attr-defined]


@_on(MODULES, "Flatten")
def _m_flatten(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    return _flatten(imp, n, args[0], m.start_dim, m.end_dim)


@_on(FUNCTIONS, "torch.flatten")
@_on(METHODS, "flatten")
def _f_flatten(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(args, kwargs, ("input", "start_dim", "end_dim"), dict(start_dim=0, end_dim=-1))
    return _flatten(imp, n, a["input"], a["start_dim"], a["end_dim"])


def _flatten(imp: _Importer, n: Any, x: Any, start: Any, end: Any) -> T:
    """Flattening all but the batch is ``flatten``; some of the other dims, ``reshape``."""
    x = _cf(imp, x)
    rank = len(imp.shape(x.ref)) + 1
    first, last = int(_v(start)) % rank, int(_v(end)) % rank
    if first == 0:
        raise _Unsupported("flatten of the batch dim")
    if (first, last) == (1, rank - 1):
        return imp.add("flatten", [x])
    return imp.add("reshape", [x], {"shape": list(imp.values[n].shape[1:])})


@_on(METHODS, "view", "reshape", "unsqueeze", "squeeze", "unflatten")
@_on(FUNCTIONS, "torch.reshape", "torch.unsqueeze", "torch.squeeze", "torch.unflatten")
def _reshape(imp: _Importer, n: Any, args: list, kwargs: dict) -> Any:
    """A view that keeps the shape (nothing), flattens (flatten), splits the channels for a
    shuffle, or ends one (the reshape back after the permute: channel_shuffle); any other new
    shape per sample is ``reshape`` (the batch dim must stay)."""
    x = args[0]
    if not isinstance(x, T):
        raise _Unsupported()
    out = tuple(imp.values[n].shape)
    shape = imp.shape(x.ref)
    if x.pending == "swapped" and out == (1, *shape):
        return imp.add("channel_shuffle", [T(x.ref)], {"groups": x.groups})
    if x.pending:
        x = imp.materialize(x)
    if out == _torch_shape(imp, x):
        return x
    if x.perm is not None:
        x = imp.materialize(x)
    shape, before = imp.shape(x.ref), _torch_shape(imp, x)
    if len(out) < 2 or out[0] != 1:
        raise _Unsupported("a reshape of the batch dim")
    if len(out) == 2 and out[1] == prod(shape):
        return imp.add("flatten", [x])
    if len(out) == len(before) + 1 and out[3:] == before[2:] and out[1] * out[2] == shape[0] and out[1] > 1:
        return T(x.ref, None, "split", out[1], origin=f"{_op_key(n)} (not a channel shuffle)")
    return imp.add("reshape", [x], {"shape": list(out[1:])})


_reshape.completes = True  # type: ignore[attr-defined]


def _permuted(imp: _Importer, n: Any, x: Any, perm: tuple[int, ...]) -> T:
    if not isinstance(x, T):
        raise _Unsupported()
    if x.pending == "split" and perm == (0, 2, 1, *range(3, len(imp.shape(x.ref)) + 2)):
        return T(x.ref, None, "swapped", x.groups, x.origin)
    if x.pending:
        x = imp.materialize(x)
    rank = len(imp.shape(x.ref)) + 1
    current = x.perm if x.perm is not None else tuple(range(rank))
    new = tuple(current[p] for p in perm)
    if new == tuple(range(rank)):
        return T(x.ref)
    if new == _channels_last(rank):  # a view: followed, no layer (see materialize)
        return T(x.ref, new)
    if perm[0] != 0:
        raise _Unsupported("a permute of the batch dim")
    x = imp.materialize(x)
    return imp.add("transpose", [x], {"perm": [p - 1 for p in perm[1:]]})


@_on(METHODS, "permute")
@_on(FUNCTIONS, "torch.permute")
def _permute(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    x = args[0]
    dims = (
        args[1:]
        if len(args) > 2 or (len(args) == 2 and isinstance(_v(args[1]), int))
        else _v(args[1] if len(args) > 1 else kwargs.get("dims"))
    )
    rank = len(imp.values[n].shape)
    perm = tuple(int(_v(d)) % rank for d in dims)
    return _permuted(imp, n, x, perm)


@_on(METHODS, "transpose")
@_on(FUNCTIONS, "torch.transpose")
def _transpose(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(args, kwargs, ("input", "dim0", "dim1"), {})
    rank = len(imp.values[n].shape)
    d0, d1 = int(_v(a["dim0"])) % rank, int(_v(a["dim1"])) % rank
    perm = list(range(rank))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return _permuted(imp, n, a["input"], tuple(perm))


@_on(METHODS, "movedim")
@_on(FUNCTIONS, "torch.movedim")
def _movedim(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(args, kwargs, ("input", "source", "destination"), {})
    rank = len(imp.values[n].shape)
    src, dst = _v(a["source"]), _v(a["destination"])
    if not isinstance(src, int) or not isinstance(dst, int):
        raise _Unsupported()
    order = [d for d in range(rank) if d != src % rank]
    order.insert(dst % rank, src % rank)
    return _permuted(imp, n, a["input"], tuple(order))


for _f in (_permute, _transpose, _movedim):
    _f.completes = True  # type: ignore[attr-defined]


@_on(FUNCTIONS, "operator.getitem")
def _getitem(imp: _Importer, n: Any, args: list, kwargs: dict) -> Any:
    """Indexing: an element of a tuple of tensors (a split) is that tensor; slices of the
    spatial dims (step 1) are ``crop``; other slices ``slice``; an integer index ``select``."""
    x, index = args
    if isinstance(x, (list, tuple)):
        return x[_v(index)]
    if not isinstance(x, T):
        raise _Unsupported()
    x = _cf(imp, x)
    shape = imp.shape(x.ref)
    rank = len(shape) + 1
    idx = list(_v(index)) if isinstance(index, tuple) else [_v(index)]
    if Ellipsis in idx:
        k = idx.index(Ellipsis)
        idx = idx[:k] + [slice(None)] * (rank - len(idx) + 1) + idx[k + 1 :]
    idx += [slice(None)] * (rank - len(idx))
    if len(idx) != rank or idx[0] != slice(None):
        raise _Unsupported("indexing the batch dim")
    if not all(isinstance(i, slice) or (isinstance(i, int) and not isinstance(i, bool)) for i in idx):
        raise _Unsupported("advanced indexing")
    slices = [(d, i) for d, i in enumerate(idx[1:]) if isinstance(i, slice) and i != slice(None)]
    ints = [(d, i) for d, i in enumerate(idx[1:]) if isinstance(i, int)]
    y = x
    if slices:
        steps = [i.indices(shape[d])[2] for d, i in slices]
        if all(d > 0 for d, _ in slices) and all(st == 1 for st in steps):  # a crop of the map
            begin, end = [0] * (len(shape) - 1), [0] * (len(shape) - 1)
            for d, i in slices:
                start, stop, _ = i.indices(shape[d])
                begin[d - 1], end[d - 1] = start, shape[d] - max(stop, start)
            y = imp.add("crop", [y], {"begin": _compact(tuple(begin)), "end": _compact(tuple(end))})
        else:
            starts, ends = [], []
            for d, i in slices:
                start, stop, _ = i.indices(shape[d])
                starts.append(start)
                ends.append(stop)
            params: dict[str, Any] = {"axes": [d for d, _ in slices], "starts": starts, "ends": ends}
            if any(st != 1 for st in steps):
                params["steps"] = steps
            y = imp.add("slice", [y], params)
    for d, at in sorted(ints, reverse=True):  # the last dim first: the others keep their numbers
        y = imp.add("select", [y], {"axis": d, "index": at}, suffix="select" if y is not x else "")
    return y


@_on(FUNCTIONS, "torch.select")
@_on(METHODS, "select")
def _select(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(args, kwargs, ("input", "dim", "index"), {})
    x = _cf(imp, a["input"])
    rank = len(imp.shape(x.ref)) + 1
    d = int(_v(a["dim"])) % rank
    if d == 0:
        raise _Unsupported("select of the batch dim")
    return imp.add("select", [x], {"axis": d - 1, "index": int(_v(a["index"]))})


@_on(FUNCTIONS, "torch.split", "torch.chunk", "torch.tensor_split")
@_on(METHODS, "split", "chunk")
def _split(imp: _Importer, n: Any, args: list, kwargs: dict) -> Any:
    """A split into pieces along a dim: one ``slice`` per piece (a tuple of tensors)."""
    x = _cf(imp, args[0])
    pieces = imp.values[n]
    if not isinstance(pieces, (list, tuple)):
        raise _Unsupported()
    dim = kwargs.get("dim", args[2] if len(args) > 2 else 0)
    rank = len(imp.shape(x.ref)) + 1
    d = int(_v(dim)) % rank
    if d == 0:
        raise _Unsupported("a split of the batch")
    out, start = [], 0
    for k, piece in enumerate(pieces):
        size = piece.shape[d]
        out.append(
            imp.add("slice", [x], {"axes": [d - 1], "starts": [start], "ends": [start + size]}, suffix=str(k))
        )
        start += size
    return tuple(out)


# -- resizing, padding, rearranging -------------------------------------------------------------------------
def _interpolate(
    imp: _Importer, x: Any, size: Any, scale: Any, mode: str, align: Any, antialias: Any = False
) -> T:
    x = _cf(imp, x)
    nd = _spatial(imp, x)
    if _v(antialias):
        raise _Unsupported("interpolate with antialias")
    if mode == "area":
        out = tuple(imp.values[imp.node].shape[2:])
        return _adaptive(imp, x, "avg", out)
    if mode not in ("nearest", "linear", "bilinear", "bicubic", "trilinear"):
        raise _Unsupported(f"interpolate mode {mode}")
    align = _v(align)
    params: dict[str, Any] = {"mode": mode}
    if align is not None and mode != "nearest":
        params["align_corners"] = bool(align)
    if size is not None and _v(size) is not None:
        if isinstance(size, S) and size.spatial_of is not None:
            return imp.add("resize", [x], {**params, "like": "_"}, refs=(("like", size.spatial_of),))
        return imp.add("resize", [x], {**params, "size": _compact(_per_dim(size, nd))})
    sv = _v(scale)
    scales = tuple(sv) if isinstance(sv, (list, tuple)) else (sv,) * nd
    if len(scales) != nd:
        raise _Unsupported()
    if all(float(s).is_integer() and s >= 1 for s in scales) and mode != "bicubic" and not align:
        up = "nearest" if mode == "nearest" else "linear"
        if mode == "linear" or mode == "nearest" or {1: "linear", 2: "bilinear", 3: "trilinear"}[nd] == mode:
            return imp.add("upsample", [x], {"scale": _compact(tuple(int(s) for s in scales)), "mode": up})
    return imp.add("resize", [x], {**params, "scale": scales[0] if len(set(scales)) == 1 else list(scales)})


@_on(FUNCTIONS, "F.interpolate", "F.upsample")
def _f_interpolate(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    names = ("input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias")
    a = _bind(
        args,
        kwargs,
        names,
        dict(
            size=None,
            scale_factor=None,
            mode="nearest",
            align_corners=None,
            recompute_scale_factor=None,
            antialias=False,
        ),
    )
    return _interpolate(
        imp, a["input"], a["size"], a["scale_factor"], _v(a["mode"]), a["align_corners"], a["antialias"]
    )


@_on(MODULES, "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d")
def _m_upsample(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    return _interpolate(imp, args[0], m.size, m.scale_factor, m.mode, m.align_corners)


def _pad(imp: _Importer, x: Any, pad: Any, mode: str, value: Any) -> T:
    x = _cf(imp, x)
    nd = _spatial(imp, x)
    flat = [int(p) for p in _v(pad)]
    if len(flat) % 2 or len(flat) > 2 * nd:
        raise _Unsupported("padding the batch or channel dims")
    begin, end = [0] * nd, [0] * nd
    for i in range(len(flat) // 2):  # torch's order: the last dim first
        begin[nd - 1 - i], end[nd - 1 - i] = flat[2 * i], flat[2 * i + 1]
    value = _v(value)
    if mode == "constant" and value not in (None, 0, 0.0):
        raise _Unsupported("padding with a value other than 0")
    if all(p <= 0 for p in flat) and any(flat) and mode == "constant":
        return imp.add(
            "crop",
            [x],
            {"begin": _compact(tuple(-b for b in begin)), "end": _compact(tuple(-e for e in end))},
        )
    if any(p < 0 for p in flat):
        raise _Unsupported("negative padding mixed with padding")
    modes = {"constant": "zeros", "zeros": "zeros", "reflect": "reflect", "replicate": "replicate"}
    if mode not in modes:
        raise _Unsupported(f"pad mode {mode}")
    return imp.add(
        "pad", [x], {"begin": _compact(tuple(begin)), "end": _compact(tuple(end)), "mode": modes[mode]}
    )


@_on(FUNCTIONS, "F.pad", "torch.constant_pad_nd")
def _f_pad(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(args, kwargs, ("input", "pad", "mode", "value"), dict(mode="constant", value=None))
    return _pad(imp, a["input"], a["pad"], _v(a["mode"]), a["value"])


@_on(MODULES, "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d")
def _m_constant_pad(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    m = imp.modules[n.target]
    return _pad(imp, args[0], m.padding, "constant", m.value)


@_on(MODULES, "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d")
def _m_reflection_pad(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    return _pad(imp, args[0], imp.modules[n.target].padding, "reflect", None)


@_on(MODULES, "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d")
def _m_replication_pad(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    return _pad(imp, args[0], imp.modules[n.target].padding, "replicate", None)


@_on(MODULES, "PixelShuffle")
def _m_pixel_shuffle(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    return imp.add("pixel_shuffle", [_cf(imp, args[0])], {"factor": imp.modules[n.target].upscale_factor})


@_on(MODULES, "PixelUnshuffle")
def _m_pixel_unshuffle(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    return imp.add("pixel_unshuffle", [_cf(imp, args[0])], {"factor": imp.modules[n.target].downscale_factor})


@_on(FUNCTIONS, "F.pixel_shuffle", "torch.pixel_shuffle")
def _f_pixel_shuffle(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(args, kwargs, ("input", "upscale_factor"), {})
    return imp.add("pixel_shuffle", [_cf(imp, a["input"])], {"factor": int(_v(a["upscale_factor"]))})


@_on(FUNCTIONS, "F.pixel_unshuffle", "torch.pixel_unshuffle")
def _f_pixel_unshuffle(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(args, kwargs, ("input", "downscale_factor"), {})
    return imp.add("pixel_unshuffle", [_cf(imp, a["input"])], {"factor": int(_v(a["downscale_factor"]))})


@_on(MODULES, "ChannelShuffle")
def _m_channel_shuffle(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    return imp.add("channel_shuffle", [_cf(imp, args[0])], {"groups": imp.modules[n.target].groups})


@_on(
    FUNCTIONS,
    "F.channel_shuffle",
    "F.native_channel_shuffle",
    "torch.channel_shuffle",
    "torch.native_channel_shuffle",
)
def _f_channel_shuffle(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    a = _bind(args, kwargs, ("input", "groups"), {})
    return imp.add("channel_shuffle", [_cf(imp, a["input"])], {"groups": int(_v(a["groups"]))})


# -- tensor operations: matrix products, reductions, element-wise functions ---------------------------------
UNARY: tuple[str, ...] = ("sqrt", "rsqrt", "exp", "log", "neg", "reciprocal", "abs", "erf", "sin", "cos")
UNARY += ("floor", "ceil", "round", "sign", "square")


def _unary(fn: str) -> Handler:
    def handler(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
        x = _cf_or_any(args[0])
        return imp.add("unary", [x], {"fn": fn})

    return handler


for _fn in UNARY:
    FUNCTIONS[f"torch.{_fn}"] = _unary(_fn)
    METHODS[_fn] = _unary(_fn)
    METHODS[f"{_fn}_"] = _unary(_fn)
FUNCTIONS["operator.neg"] = _unary("neg")
METHODS["__neg__"] = _unary("neg")
for _name in ("torch.clamp", "torch.clip"):
    FUNCTIONS[_name] = _unary("clamp")
for _name in ("clamp", "clamp_", "clip", "clip_"):
    METHODS[_name] = _unary("clamp")


@_on(FUNCTIONS, "torch.matmul", "operator.matmul", "torch.bmm", "torch.mm")
@_on(METHODS, "matmul", "__matmul__", "bmm", "mm")
def _matmul(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
    """A product of two tensors from the input is ``matmul``; a tensor times a weight matrix
    (``x @ W``, W of (K, N)) is ``dense`` without a bias."""
    a, b = args[0], args[1]
    if isinstance(a, T) and isinstance(b, T):
        return imp.add("matmul", [imp.materialize(a), imp.materialize(b)])
    if isinstance(a, T) and isinstance(b, S) and hasattr(b.value, "shape") and b.value.dim() == 2:
        x = imp.materialize(a)
        if imp.shape(x.ref)[-1] != b.value.shape[0]:
            raise _Unsupported()
        return imp.add("dense", [x], {"out_features": int(b.value.shape[1]), "bias": False})
    raise _Unsupported("a matrix product with a constant on the left")


REDUCTIONS = {"sum": "sum", "mean": "mean", "amax": "max", "amin": "min", "prod": "prod"}


def _reduce(op: str) -> Handler:
    """A reduction over dims of each sample: the mean over every spatial dim is global average
    pooling (then flatten, without keepdim); any other, ``reduce``."""

    def handler(imp: _Importer, n: Any, args: list, kwargs: dict) -> T:
        a = _bind(
            args, kwargs, ("input", "dim", "keepdim", "dtype"), dict(dim=None, keepdim=False, dtype=None)
        )
        x = _cf(imp, a["input"])
        rank = len(imp.shape(x.ref)) + 1
        dims = _v(a["dim"])
        if dims is None:
            raise _Unsupported(f"{op} over every dim (the batch too)")
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        axes = sorted(int(d) % rank for d in dims)
        if 0 in axes or not axes:
            raise _Unsupported(f"{op} over the batch dim")
        if op == "mean" and axes == list(range(2, rank)) and rank >= 3:
            y = imp.add("global_pool", [x], {"mode": "avg"})
            return y if _v(a["keepdim"]) else imp.add("flatten", [y], suffix="flatten")
        keep = bool(_v(a["keepdim"]))
        if not keep and len(axes) == rank - 1:
            raise _Unsupported(f"{op} over every dim of a sample")
        return imp.add("reduce", [x], {"op": REDUCTIONS[op], "axes": [d - 1 for d in axes], "keepdims": keep})

    return handler


for _op in REDUCTIONS:
    FUNCTIONS[f"torch.{_op}"] = _reduce(_op)
    METHODS[_op] = _reduce(_op)
