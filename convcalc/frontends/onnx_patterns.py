"""Patterns the ONNX mapping folds back into one layer: before mapping, ONNX nodes that
compute one activation (``x * sigmoid(x)``, torch's exact GELU ...) or torch's GroupNorm
before opset 18; after mapping, a squeeze-and-excitation block, and a reshape, transpose,
reshape that moves the elements as pixel_unshuffle, pixel_shuffle or channel_shuffle does.
Each only when nothing else reads the pattern's inside, so that the counts are exactly those
of its parts."""

from __future__ import annotations

import math
from typing import Any

from ..errors import ConvcalcError
from ..layers import REGISTRY
from ..layers.base import Cost, Layer
from . import onnx_proto as P
from .onnx_values import Pending


def _static_scalar(graph: P.Graph, producers: dict[str, P.Node], name: str) -> Any:
    """The value of a one-element initializer or Constant, or None."""
    t = graph.initializers.get(name)
    if t is None:
        node = producers.get(name)
        if node is None or node.op_type != "Constant":
            return None
        t = node.attrs.get("value")
        if not isinstance(t, P.Tensor):
            v = node.attrs.get("value_float", node.attrs.get("value_int"))
            return v
    if t.values is not None and len(t.values) == 1:
        return t.values[0]
    return None


def _static_values(graph: P.Graph, producers: dict[str, P.Node], name: str) -> tuple[Any, ...] | None:
    t = graph.initializers.get(name)
    if t is None:
        node = producers.get(name)
        if node is None or node.op_type != "Constant":
            return None
        t = node.attrs.get("value")
        if not isinstance(t, P.Tensor):
            return None
    return t.values


def _close(v: Any, want: float, tol: float = 1e-5) -> bool:
    return (
        isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v - want) <= tol * max(1.0, abs(want))
    )


class Patterns:
    """Rewrites of the node list: several ONNX nodes that compute one activation (or one
    GroupNorm) become one node of a private op type, when nothing else reads their insides."""

    def __init__(self, graph: P.Graph, nodes: list[P.Node]):
        self.graph = graph
        self.nodes = nodes
        self.producers: dict[str, P.Node] = {}
        self.uses: dict[str, int] = {}
        for node in nodes:
            for out in node.outputs:
                if out:
                    self.producers[out] = node
            for name in node.inputs:
                if name:
                    self.uses[name] = self.uses.get(name, 0) + 1
        for v in graph.outputs:
            self.uses[v.name] = self.uses.get(v.name, 0) + 1
        self.made: set[int] = set()

    def only(self, name: str, op: str) -> P.Node | None:
        """The producer of ``name`` if it is an ``op`` node read only here."""
        node = self.producers.get(name)
        if node is None or node.op_type != op or self.uses.get(name, 0) != 1:
            return None
        return node

    def scalar(self, name: str) -> Any:
        return _static_scalar(self.graph, self.producers, name)

    def run(self) -> list[P.Node]:
        """The nodes with each pattern replaced by one node (``made`` holds their ids)."""
        removed: set[int] = set()
        replaced: dict[int, P.Node] = {}
        for node in self.nodes:
            if id(node) in removed:
                continue
            got = None
            try:
                if node.op_type == "Mul":
                    got = self.silu_like(node) or self.gelu(node)
                elif node.op_type == "Reshape":
                    got = self.group_norm(node)
            except IndexError:  # a node without the inputs its op has: not the pattern
                got = None
            if got is not None:
                fused, inner = got
                self.made.add(id(fused))
                for n in inner:
                    removed.add(id(n))
                replaced[id(node)] = fused
        return [replaced.get(id(n), n) for n in self.nodes if id(n) not in removed or id(n) in replaced]

    def silu_like(self, node: P.Node) -> tuple[P.Node, list[P.Node]] | None:
        """x * sigmoid(x) (SiLU), x * hardsigmoid(x) (hardswish), x * tanh(softplus(x)) (mish)."""
        if len(node.inputs) != 2:
            return None
        for x, g in (node.inputs, node.inputs[::-1]):
            sig = self.only(g, "Sigmoid")
            if sig is not None and sig.inputs[0] == x:
                return self._fused("_Silu", node, x, [sig])
            hs = self.only(g, "HardSigmoid")
            if (
                hs is not None
                and hs.inputs[0] == x
                and _close(hs.attrs.get("alpha", 0.2), 1 / 6)
                and _close(hs.attrs.get("beta", 0.5), 0.5)
            ):
                return self._fused("HardSwish", node, x, [hs])
            tanh = self.only(g, "Tanh")
            if tanh is not None:
                sp = self.only(tanh.inputs[0], "Softplus")
                if sp is not None and sp.inputs[0] == x:
                    return self._fused("Mish", node, x, [tanh, sp])
        return None

    def _fused(
        self, op: str, root: P.Node, x: str, inner: list[P.Node], attrs: dict | None = None
    ) -> tuple[P.Node, list[P.Node]]:
        return P.Node(op, root.name, "", [x], list(root.outputs), attrs or {}), inner

    def gelu(self, root: P.Node) -> tuple[P.Node, list[P.Node]] | None:
        """x * 0.5 * (1 + erf(x / sqrt 2)), its products in any order (torch's exact GELU)."""
        factors: list[str] = []
        inner: list[P.Node] = []
        stack = list(root.inputs)
        while stack:
            name = stack.pop()
            mul = self.only(name, "Mul")
            if mul is not None and len(inner) < 4:
                inner.append(mul)
                stack.extend(mul.inputs)
            else:
                factors.append(name)
        consts: list[tuple[str, Any]] = []
        others: list[tuple[str, Any]] = []
        for f in factors:
            v = self.scalar(f)
            (consts if v is not None else others).append((f, v))
        if len(others) != 2:
            return None
        product = 1.0
        for _, v in consts:
            product *= v
        if not _close(product, 0.5):
            return None
        for (x, _), (a, _) in (others, others[::-1]):
            add = self.only(a, "Add")
            if add is None or len(add.inputs) != 2:
                continue
            for e, one in (add.inputs, add.inputs[::-1]):
                erf = self.only(e, "Erf")
                if erf is None or not _close(self.scalar(one), 1.0):
                    continue
                div = self.only(erf.inputs[0], "Div")
                ok = (
                    div is not None
                    and div.inputs[0] == x
                    and _close(self.scalar(div.inputs[1]), math.sqrt(2))
                )
                if not ok:
                    div = self.only(erf.inputs[0], "Mul")
                    ok = (
                        div is not None
                        and x in div.inputs
                        and _close(
                            self.scalar(div.inputs[1] if div.inputs[0] == x else div.inputs[0]),
                            1 / math.sqrt(2),
                        )
                    )
                if ok and div is not None:
                    return self._fused("Gelu", root, x, [*inner, add, erf, div])
        return None

    def group_norm(self, last: P.Node) -> tuple[P.Node, list[P.Node]] | None:
        """torch's GroupNorm before opset 18: Reshape(x, [0, G, -1]), InstanceNormalization
        with a scale of ones and a bias of zeros, Reshape back (then its weight and bias,
        mapped afterwards)."""
        inst = self.only(last.inputs[0], "InstanceNormalization")
        if inst is None or len(inst.inputs) < 3:
            return None
        first = self.only(inst.inputs[0], "Reshape")
        if first is None:
            return None
        ones = _static_values(self.graph, self.producers, inst.inputs[1])
        zeros = _static_values(self.graph, self.producers, inst.inputs[2])
        target = _static_values(self.graph, self.producers, first.inputs[1])
        if ones is None or zeros is None or target is None or len(target) != 3:
            return None
        if (
            any(v != 1 for v in ones)
            or any(v != 0 for v in zeros)
            or target[2] != -1
            or len(ones) != target[1]
        ):
            return None
        attrs = {"groups": int(target[1]), "first": target[0]}
        return (
            P.Node("_GroupNorm", inst.name, "", [first.inputs[0], last.inputs[1]], list(last.outputs), attrs),
            [first, inst],
        )


# -- mapping -------------------------------------------------------------------------------------
def _readers(pending: list[Pending]) -> list[list[int]]:
    """The layers reading each layer's output, by index."""
    readers: list[list[int]] = [[] for _ in pending]
    for i, p in enumerate(pending):
        for r in p.inputs:
            if r >= 0:
                readers[r].append(i)
    return readers


def _rebuild(
    pending: list[Pending], drop: set[int], replace: dict[int, Pending]
) -> tuple[list[Pending], dict[int, int]]:
    """The layers without ``drop``, each of ``replace`` in its place, inputs renumbered; and
    the map from old indices to new ones (kept layers only)."""
    if not replace:
        return pending, {i: i for i in range(len(pending))}
    out: list[Pending] = []
    remap: dict[int, int] = {}
    for i, p in enumerate(pending):
        if i in drop:
            continue
        q = replace.get(i, p)
        q.inputs = tuple(remap[r] if r >= 0 else r for r in q.inputs)
        remap[i] = len(out)
        out.append(q)
    return out, remap


def collapse_squeeze_excite(pending: list[Pending], keep: set[int]) -> tuple[list[Pending], dict[int, int]]:
    """global_pool avg -> pointwise (bias) -> activation -> pointwise (bias) -> sigmoid or
    hardsigmoid -> mul with the pool's input, nothing else reading the inside (nor the graph's
    outputs, ``keep``): one squeeze_excite, which computes exactly that."""
    readers = _readers(pending)
    drop: set[int] = set()
    replace: dict[int, Pending] = {}
    for i, p in enumerate(pending):
        if p.layer.type_name != "mul" or len(p.inputs) != 2:
            continue
        for x, g in (p.inputs, p.inputs[::-1]):
            chain = _se_chain(pending, readers, g, x, i)
            if chain is None or keep.intersection(chain):
                continue
            pool, fc1, act, _fc2, gate = (pending[k] for k in chain)
            shape = pool.cost.input_shape
            s = fc1.cost.output_shape[0]
            layer = REGISTRY["squeeze_excite"].build(
                {"squeeze_channels": s, "activation": act.layer.params["fn"], "gate": gate.layer.params["fn"]}
            )
            try:
                cost = layer.cost(shape)
            except ConvcalcError:
                continue
            parts = [pending[k].cost for k in chain] + [p.cost]
            if (
                cost.params != sum(c.params for c in parts)
                or cost.macs != sum(c.macs for c in parts)
                or cost.flops != sum(c.flops for c in parts)
                or cost.output_shape != p.cost.output_shape
            ):
                continue
            drop.update(chain)
            replace[i] = Pending(layer, (x,), p.origin, p.op, cost, p.suffix)
            break
    return _rebuild(pending, drop, replace)


def _se_chain(pending: list[Pending], readers: list[list[int]], g: int, x: int, mul: int) -> list[int] | None:
    if g < 0:
        return None
    want = [
        ("activation", ("sigmoid", "hardsigmoid")),
        ("pointwise", None),
        ("activation", None),
        ("pointwise", None),
        ("global_pool", None),
    ]
    chain: list[int] = []
    k = g
    for t, fns in want:
        if k < 0:
            return None
        p = pending[k]
        if p.layer.type_name != t or len(p.inputs) != 1:
            return None
        if readers[k] != [chain[-1] if chain else mul]:
            return None
        if fns is not None and p.layer.params.get("fn") not in fns:
            return None
        if t == "pointwise" and (
            not p.layer.params["bias"] or p.layer.params["groups"] != 1 or p.layer.params["stride"] != 1
        ):
            return None
        if t == "global_pool" and (p.layer.params["mode"] != "avg" or p.inputs[0] != x):
            return None
        chain.append(k)
        k = p.inputs[0]
    chain.reverse()  # pool, fc1, act, fc2, gate
    pool, fc2 = pending[chain[0]], pending[chain[3]]
    if fc2.cost.output_shape[0] != pool.cost.input_shape[0]:
        return None
    return chain


# -- permutations written as Reshape -> Transpose -> Reshape ---------------------------------------
def _canonical(dims: tuple[int, ...], perm: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The simplest form of the element permutation "view as ``dims``, transpose by ``perm``
    (output axis k is input axis perm[k]), view flat": axes of size 1 dropped, axes that stay
    side by side and in order merged. Two forms equal here move every element alike."""
    kept = [a for a in range(len(dims)) if dims[a] != 1]
    index = {a: i for i, a in enumerate(kept)}
    d = [dims[a] for a in kept]
    p = [index[a] for a in perm if dims[a] != 1]
    runs: list[list[int]] = []  # runs of input axes, in output order
    for a in p:
        if runs and runs[-1][-1] + 1 == a:
            runs[-1].append(a)
        else:
            runs.append([a])
    by_input = sorted(range(len(runs)), key=lambda k: runs[k][0])
    merged = tuple(math.prod(d[a] for a in runs[k]) for k in by_input)
    rank = {k: i for i, k in enumerate(by_input)}
    return merged, tuple(rank[k] for k in range(len(runs)))


def _permutation_layer(
    shape: tuple[int, ...], out: tuple[int, ...], form: tuple[tuple[int, ...], tuple[int, ...]]
) -> tuple[Layer, Cost] | None:
    """The layer (pixel_unshuffle, pixel_shuffle or channel_shuffle) that maps ``shape`` to
    ``out`` moving each element as ``form`` (canonical) does, or None."""
    c, size = shape[0], shape[1:]
    n = len(size)
    candidates: list[tuple[str, dict[str, int], tuple[int, ...], tuple[int, ...]]] = []
    if len(out) == len(shape) and 1 <= n <= 3 and out[1] > 0:
        if size[0] % out[1] == 0 and size[0] // out[1] > 1:  # torch's PixelUnshuffle order
            r = size[0] // out[1]
            dims = (c,) + tuple(v for i in size for v in (i // r, r))
            perm = (0,) + tuple(2 + 2 * k for k in range(n)) + tuple(1 + 2 * k for k in range(n))
            candidates.append(("pixel_unshuffle", {"factor": r}, dims, perm))
        if out[1] % size[0] == 0 and out[1] // size[0] > 1 and c % (out[1] // size[0]) ** n == 0:
            r = out[1] // size[0]  # torch's PixelShuffle order (DepthToSpace's CRD)
            dims = (c // r**n,) + (r,) * n + tuple(size)
            perm = (0,) + tuple(a for k in range(n) for a in (1 + n + k, 1 + k))
            candidates.append(("pixel_shuffle", {"factor": r}, dims, perm))
    g = form[0][0] if form[0] else 1
    if out == shape and 1 < g < c and c % g == 0:  # ShuffleNet's view(g, C/g) and transpose
        dims = (g, c // g) + tuple(size)
        candidates.append(("channel_shuffle", {"groups": g}, dims, (1, 0) + tuple(range(2, n + 2))))
    for type_name, values, dims, perm in candidates:
        if _canonical(dims, perm) != form:
            continue
        layer = REGISTRY[type_name].build(values)
        try:
            cost = layer.cost(shape)
        except ConvcalcError:
            continue
        if tuple(cost.output_shape) == out:
            return layer, cost
    return None


def collapse_permutations(pending: list[Pending], keep: set[int]) -> tuple[list[Pending], dict[int, int]]:
    """reshape -> transpose -> reshape (or flatten), nothing else reading the inside (nor the
    graph's outputs, ``keep``): one pixel_unshuffle, pixel_shuffle or channel_shuffle where
    that moves every element exactly as the three do (torch's PixelUnshuffle, its
    PixelShuffle before opset 11, ShuffleNet's channel shuffle)."""
    readers = _readers(pending)
    drop: set[int] = set()
    replace: dict[int, Pending] = {}
    for i, p in enumerate(pending):
        if p.layer.type_name not in ("reshape", "flatten") or len(p.inputs) != 1 or p.inputs[0] < 0:
            continue
        t = p.inputs[0]
        tr = pending[t]
        if tr.layer.type_name != "transpose" or len(tr.inputs) != 1 or tr.inputs[0] < 0:
            continue
        f = tr.inputs[0]
        first = pending[f]
        if first.layer.type_name != "reshape" or len(first.inputs) != 1 or f in replace:
            continue
        if readers[t] != [i] or readers[f] != [t] or t in keep or f in keep:
            continue
        form = _canonical(tuple(tr.cost.input_shape), tuple(tr.layer.params["perm"]))
        got = _permutation_layer(tuple(first.cost.input_shape), tuple(p.cost.output_shape), form)
        if got is None:
            continue
        layer, cost = got
        drop.update((f, t))
        replace[i] = Pending(layer, first.inputs, p.origin, p.op, cost, p.suffix)
    return _rebuild(pending, drop, replace)
