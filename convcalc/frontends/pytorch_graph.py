"""The walk of a traced PyTorch model (``convcalc.frontends.pytorch``): the values of its fx
nodes (``T``: a tensor computed from the input, ``S``: a value known without it), the handler
tables that map modules, functions and tensor methods to convcalc layers (filled by
``pytorch_ops``), and ``_Importer``, which walks the fx graph, adds convcalc nodes and checks each
fx node's mapping against torch (output shape, parameters read, FlopCounterMode MACs).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConvcalcError
from ..graph import Graph, GraphInput, Node, input_ref
from ..layers import REGISTRY
from ..layers.base import Cost, Layer, Shape


# -- the result ------------------------------------------------------------------------------------------
@dataclass
class Imported:
    """A model as a convcalc graph, with its warnings (unsupported ops costed as zero, unused
    parameters) and torch's own totals for the record."""

    name: str
    graph: Graph
    warnings: list[str] = field(default_factory=list)
    torch_params: int = 0
    torch_macs: int = 0


def _op_text(n: Any) -> str:
    if n.op == "call_module":
        return f"module {n.target}"
    if n.op == "call_method":
        return f"Tensor.{n.target}"
    return getattr(n.target, "__name__", str(n.target))


# -- values while mapping ------------------------------------------------------------------------------------
@dataclass
class T:
    """A tensor computed from the model's input: convcalc tensor ``ref``, seen by torch with its
    dims in ``perm`` order (None: channels first, as convcalc; else a channels-last view), or in
    a state ``pending`` that only the next op can complete (``split``/``swapped``: the reshape
    and permute of a channel shuffle; ``scaled``: a multiply by a constant, awaiting its add)."""

    ref: int
    perm: tuple[int, ...] | None = None
    pending: str = ""
    groups: int = 0
    origin: str = ""  # the op that left it pending (for messages)
    constant: tuple[int, ...] = ()  # ``scaled``: the constant's shape per sample


@dataclass
class S:
    """A value known without the input: numbers, shapes, the model's tensors and what is
    computed from them. ``params``: the parameters it is made of; ``spatial_of``: it is exactly
    the spatial size of tensor ``spatial_of``; ``shape_of``: it is that tensor's ``.shape``."""

    value: Any
    params: frozenset[str] = frozenset()
    spatial_of: int | None = None
    shape_of: T | None = None


class _Unsupported(Exception):
    """An op (or a use of an op) convcalc has no layer for; ``key`` names it ("" : the op)."""

    def __init__(self, key: str = "") -> None:
        super().__init__(key)
        self.key = key


Handler = Callable[["_Importer", Any, list, dict], Any]
MODULES: dict[str, Handler] = {}  # by class name, resolved against torch.nn at import time
FUNCTIONS: dict[str, Handler] = {}  # by "torch.cat", "F.relu", "operator.add"
METHODS: dict[str, Handler] = {}  # Tensor methods by name


def _on(table: dict[str, Handler], *keys: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for k in keys:
            table[k] = fn
        return fn

    return deco


class _Importer:
    def __init__(
        self,
        torch: Any,
        gm: Any,
        values: dict,
        flops: dict,
        name: str,
        input_shape: Shape,
        allow_unknown: bool,
        model: Any,
    ) -> None:
        self.torch = torch
        self.model = model  # the traced module holds only what forward uses; the model holds all
        self.gm = gm
        self.values = values
        self.flops = flops
        self.allow_unknown = allow_unknown
        self.graph = Graph(name, [GraphInput("input", tuple(input_shape))])
        self.shapes: list[Shape] = []
        self.costs: list[Cost] = []
        self.env: dict[Any, Any] = {}
        self.unsupported: dict[str, list] = {}  # key -> [count, first node]
        self.used_params: dict[str, str] = {}  # parameter -> the node that counted it
        self.param_sizes = {k: p.numel() for k, p in model.named_parameters(remove_duplicate=False)}
        self.param_alias = _param_aliases(model)
        self.names: list[tuple[str, str, bool]] = []  # per graph node: (scope, base, from a module)
        self.modules = dict(gm.named_modules(remove_duplicate=False))
        self.module_handlers = _resolve_modules(torch)
        self.function_handlers = _resolve_functions(torch)
        self.warnings: list[str] = []
        self.node: Any = None
        self.unknown_params = 0  # parameters read by unsupported ops (not counted)
        self.fx_of: list[Any] = []  # per graph node: the fx node it maps
        self.absorbed = 0  # params an fx node added to an earlier node (layer scale's shift)

    # -- the walk -----------------------------------------------------------------------------
    def run(self) -> Imported:
        output = None
        first = True
        for n in self.gm.graph.nodes:
            self.node = n
            if n.op == "placeholder":
                if first:  # the input; further arguments keep their defaults
                    self.env[n] = T(input_ref(0))
                    first = False
                elif n.args:
                    self.env[n] = S(n.args[0])
                else:
                    raise ConvcalcError(
                        f"{self.graph.name}: forward takes more than one input ({n.target!r} has no "
                        "default); convcalc reads models of one input"
                    )
            elif n.op == "get_attr":
                self.env[n] = self.get_attr(n)
            elif n.op == "output":
                output = self.arg(n.args[0])
            else:
                self.env[n] = self.call(n)
        self.finish(output)
        self.check_unsupported()
        self.name_nodes()
        torch_params = sum(p.numel() for p in self.model.parameters())
        unused = torch_params - sum(self.param_sizes[k] for k in self.used_params)
        unused_names = self.unused_params()
        if unused:
            self.warnings.append(
                f"{unused:,} parameters are not used by forward (for an input of this shape) and not counted: "
                + ", ".join(unused_names[:3])
                + (f" and {len(unused_names) - 3} more" if len(unused_names) > 3 else "")
            )
        macs = sum(self.flops.values()) // 2
        return Imported(self.graph.name, self.graph, self.warnings, torch_params, macs)

    def unused_params(self) -> list[str]:
        return sorted({v for v in self.param_alias.values() if v not in self.used_params})

    def arg(self, a: Any) -> Any:
        """An fx argument with its nodes replaced by their values (T or S)."""
        import torch.fx as fx

        if isinstance(a, fx.Node):
            return self.env[a]
        if isinstance(a, (list, tuple)):
            return (
                type(a)(self.arg(x) for x in a)
                if not hasattr(a, "_fields")
                else type(a)(*(self.arg(x) for x in a))
            )
        if isinstance(a, dict):
            return {k: self.arg(v) for k, v in a.items()}
        if isinstance(a, slice):
            return slice(self.arg(a.start), self.arg(a.stop), self.arg(a.step))
        return a

    def get_attr(self, n: Any) -> S:
        value = self.values[n]
        params = frozenset({self.param_alias[n.target]}) if n.target in self.param_alias else frozenset()
        return S(value, params)

    def call(self, n: Any) -> Any:
        args = [self.arg(a) for a in n.args]
        kwargs = {k: self.arg(v) for k, v in n.kwargs.items()}
        data = [v for v in _leaves((args, kwargs)) if isinstance(v, T)]
        if not data:  # computed without the input: a constant
            if self.flops.get(n):
                self.warnings.append(
                    f"{n.name}: {self.flops[n] // 2:,} MACs computed from the weights alone (not from the input) "
                    "are not counted"
                )
            params = frozenset().union(*(v.params for v in _leaves((args, kwargs)) if isinstance(v, S)))
            return self.constant(n, args, kwargs, params)
        handler, key = self.handler(n)
        start = len(self.graph.nodes)
        try:
            if handler is None:
                raise _Unsupported(key)
            if not getattr(handler, "completes", False) and any(t.pending for t in data):
                args, kwargs = self.settled((args, kwargs))
            result = handler(self, n, args, kwargs)
        except _Unsupported as e:
            del self.graph.nodes[start:], self.shapes[start:], self.costs[start:], self.names[start:]
            del self.fx_of[start:]
            return self.unknown(n, e.key or key, data)
        self.check(n, start, result, key)
        return result

    def settled(self, x: Any) -> Any:
        """``x`` with every pending tensor made real (see ``materialize``)."""
        if isinstance(x, T):
            return self.materialize(x) if x.pending else x
        if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
            return type(x)(self.settled(v) for v in x)
        if isinstance(x, dict):
            return {k: self.settled(v) for k, v in x.items()}
        return x

    def materialize(self, t: T) -> T:
        """A tensor as torch holds it, channels first in convcalc's terms: a pending pattern that
        did not complete becomes the layers it is (a reshape, a transpose, a multiply by a
        constant), and a channels-last view becomes a transpose (torch's last dim is then, as
        for torch, an ordinary dim)."""
        shape = self.shape(t.ref)
        split = [t.groups, shape[0] // t.groups, *shape[1:]] if t.groups else []
        if t.pending == "split":
            return self.add("reshape", [T(t.ref)], {"shape": split}, suffix="reshape")
        if t.pending == "swapped":
            y = self.add("reshape", [T(t.ref)], {"shape": split}, suffix="reshape")
            return self.add("transpose", [y], {"perm": [1, 0, *range(2, len(shape) + 1)]}, suffix="transpose")
        if t.pending == "scaled":
            t = self.add("elementwise", [T(t.ref)], {"op": "mul", "shape": list(t.constant)}, suffix="mul")
        if t.perm is not None:
            return self.add(
                "transpose", [T(t.ref)], {"perm": [p - 1 for p in t.perm[1:]]}, suffix="transpose"
            )
        return T(t.ref)

    def handler(self, n: Any) -> tuple[Handler | None, str]:
        if n.op == "call_module":
            cls = type(self.modules[n.target])
            torch_nn = cls.__module__.startswith("torch.nn")
            key = f"nn.{cls.__name__}" if torch_nn else f"{cls.__module__}.{cls.__qualname__}"
            return self.module_handlers.get(cls), key
        if n.op == "call_method":
            return METHODS.get(n.target), f"Tensor.{n.target}"
        fn = n.target
        key = _function_key(fn)
        return self.function_handlers.get(fn), key

    def constant(self, n: Any, args: list, kwargs: dict, params: frozenset[str]) -> S:
        value = self.values[n]
        shape_src = next(
            (v for v in _leaves((args, kwargs)) if isinstance(v, S) and v.shape_of is not None), None
        )
        out = S(value, params)
        # [2:] or [-n:] of a tensor's shape is its spatial size (DeepLab's F.interpolate(..., size=x.shape[-2:]))
        if shape_src is not None and n.op == "call_function" and n.target is operator.getitem:
            src = shape_src.shape_of
            rank = len(shape_src.value)
            index = args[1]
            if (
                src is not None
                and src.perm is None
                and not src.pending
                and isinstance(index, slice)
                and index.step in (None, 1)
                and index.stop is None
                and index.start is not None
                and index.start % rank == 2 % rank
                and rank > 2
            ):
                out.spatial_of = src.ref
        return out

    # -- adding convcalc nodes ------------------------------------------------------------------------
    def add(
        self,
        type_name: str,
        inputs: list[T] | tuple[T, ...],
        params: dict | None = None,
        suffix: str = "",
        refs: tuple[tuple[str, int], ...] = (),
        layer: Layer | None = None,
    ) -> T:
        """Append a node of ``type_name`` built from ``params`` (convcalc's own validation)
        reading ``inputs``; returns its output tensor (channels first)."""
        if layer is None:
            try:
                layer = REGISTRY[type_name].build(params or {})
            except ConvcalcError as e:
                raise self.mapping_error(f"convcalc refuses {type_name} {params}: {e.message}") from None
        refs_in = tuple(t.ref for t in inputs)
        shapes = tuple(self.shape(r) for r in refs_in)
        concrete = layer
        if refs:
            concrete = layer.resolve_refs({f: self.shape(r) for f, r in refs})
        try:
            cost = concrete.cost(*shapes)
        except ConvcalcError as e:
            raise self.mapping_error(
                f"convcalc's {type_name} refuses inputs {[list(s) for s in shapes]}: {e.message}"
            ) from None
        self.graph.nodes.append(Node("", layer, refs_in, refs))
        self.fx_of.append(self.node)
        self.shapes.append(cost.output_shape)
        self.costs.append(cost)
        self.names.append((*self.scope(), suffix))  # type: ignore[arg-type]
        return T(len(self.graph.nodes) - 1, inputs[0].perm if inputs else None)

    def shape(self, r: int) -> Shape:
        return self.shapes[r] if r >= 0 else self.graph.inputs[-1 - r].shape

    def scope(self) -> tuple[str, str]:
        """(where the current fx node is, its op's short name) for naming."""
        n = self.node
        if n.op == "call_module":
            return str(n.target), ""
        stack = n.meta.get("nn_module_stack") or {}
        scope = ""
        if stack:
            last = list(stack.values())[-1]
            scope = last[0] if isinstance(last, tuple) else str(last)
        base = n.target if n.op == "call_method" else getattr(n.target, "__name__", n.name)
        return scope, str(base).strip("_") or n.name

    def mapping_error(self, message: str) -> ConvcalcError:
        return ConvcalcError(f"{self.graph.name}: {self.node.name} ({_op_text(self.node)}): {message}")

    def learned_shift(self, t: T, s: S) -> T | None:
        """``t + beta`` where ``t`` is the output of layer scale (nothing else reads it) and beta
        a learned per-channel parameter: that scale with its shift (``scale`` with ``bias``)."""
        i = t.ref
        if i < 0 or i != len(self.graph.nodes) - 1 or t.perm is not None:
            return None
        node, fx_node = self.graph.nodes[i], self.fx_of[i]
        if node.layer.type_name != "scale" or node.layer.params["bias"] or len(fx_node.users) != 1:
            return None
        if self.names[i][0] != self.scope()[0]:
            return None
        node.layer = node.layer.replace(bias=True)
        cost = node.layer.cost(self.shape(node.inputs[0]))
        self.absorbed += cost.params - self.costs[i].params
        self.costs[i] = cost
        self.fx_of[i] = self.node
        return T(i)

    def extend(self, t: T, more: T) -> T | None:
        """A merge of ``t`` (a merge's output read by nothing else) and ``more`` as one merge
        of one more input (``a + b + c`` is one add of three): the node, or None if it cannot."""
        i = t.ref
        if i < 0 or i != len(self.graph.nodes) - 1 or t.pending or more.pending or t.perm != more.perm:
            return None
        node, fx_node = self.graph.nodes[i], self.fx_of[i]
        if (
            node.layer.type_name not in ("add", "mul")
            or len(fx_node.users) != 1
            or self.names[i][0] != self.scope()[0]
        ):
            return None
        inputs = (*node.inputs, more.ref)
        cost = node.layer.cost(*(self.shape(r) for r in inputs))
        node.inputs = inputs
        self.costs[i], self.shapes[i] = cost, cost.output_shape
        self.fx_of[i] = self.node
        return T(i, t.perm)

    def unknown(self, n: Any, key: str, data: list[T]) -> Any:
        entry = self.unsupported.setdefault(key, [0, n.target if n.op == "call_module" else n.name])
        entry[0] += 1
        for k in self.params_read(n):  # read by an op costed as zero: said in its warning
            if k not in self.used_params:
                self.used_params[k] = n.name
                self.unknown_params += self.param_sizes[k]
        inputs: list[T] = []
        for t in data:
            if t.ref not in [x.ref for x in inputs]:
                inputs.append(T(t.ref))

        def make(value: Any) -> Any:
            if isinstance(value, self.torch.Tensor) and value.dim() >= 2:
                return self.add("opaque", inputs[:1], {"op": key, "shape": list(value.shape[1:])})
            if isinstance(value, (list, tuple)):
                return type(value)(make(v) for v in value)
            return S(value)

        return make(self.values[n])

    def check(self, n: Any, start: int, result: Any, key: str) -> None:
        """The mapping of fx node ``n`` (graph nodes ``start:``) against torch: params read,
        MACs counted and the output shape."""
        added = range(start, len(self.graph.nodes))
        params = sum(self.costs[i].params for i in added) + self.absorbed
        self.absorbed = 0
        macs = sum(self.costs[i].macs for i in added)
        expect = self.params_read(n)
        if params != sum(self.param_sizes[k] for k in expect):
            raise self.mapping_error(
                f"convcalc counts {params:,} parameters, torch's module holds {sum(self.param_sizes[k] for k in expect):,}"
            )
        for k in sorted(expect):
            if k in self.used_params:
                raise self.mapping_error(
                    f"parameter {k} is also used by {self.used_params[k]}: shared weights cannot be written in a "
                    "spec (convcalc would count them twice)"
                )
            self.used_params[k] = n.name
        torch_flops = self.flops.get(n, 0)
        if torch_flops != 2 * macs:
            raise self.mapping_error(f"convcalc counts {macs:,} MACs, torch {torch_flops / 2:,.0f}")
        value = self.values[n]
        if isinstance(result, T) and isinstance(value, self.torch.Tensor) and not result.pending:
            ours = (1, *self.shape(result.ref))
            if result.perm is not None:
                ours = tuple(ours[d] for d in result.perm)
            if tuple(value.shape) != ours:
                raise self.mapping_error(
                    f"convcalc's shape {list(ours[1:])} differs from torch's {list(value.shape[1:])}"
                )

    def params_read(self, n: Any) -> set[str]:
        """The (canonical) parameters fx node ``n`` reads."""
        if n.op == "call_module":
            prefix = f"{n.target}."
            return {self.param_alias[k] for k in self.param_sizes if k.startswith(prefix)}
        out: set[str] = set()
        for v in _leaves(([self.arg(a) for a in n.args], {k: self.arg(v) for k, v in n.kwargs.items()})):
            if isinstance(v, S):
                out |= v.params
        return out

    # -- the end --------------------------------------------------------------------------------------
    def finish(self, output: Any) -> None:
        outs = [v for v in _leaves(output) if isinstance(v, T)]
        if not outs:
            raise ConvcalcError(f"{self.graph.name}: forward returns no tensor computed from its input")
        outs = [self.materialize(t) if t.pending or t.perm is not None else t for t in outs]
        # an output that is the input itself (forward did nothing to it): an identity layer
        outs = [self.add("identity", [t], suffix="identity") if t.ref < 0 else t for t in outs]
        self.graph.outputs = [("", t.ref) for t in outs]
        self.prune()

    def prune(self) -> None:
        """Drop the layers whose results reach no output (work forward does and throws away:
        a spec cannot hold it), saying what they cost."""
        nodes = self.graph.nodes
        keep = [False] * len(nodes)
        stack = [r for _, r in self.graph.outputs if r >= 0]
        while stack:
            i = stack.pop()
            if not keep[i]:
                keep[i] = True
                stack += [r for r in Graph.reads(nodes[i]) if r >= 0]
        if all(keep):
            return
        dropped = [i for i, k in enumerate(keep) if not k]
        macs = sum(self.costs[i].macs for i in dropped)
        params = sum(self.costs[i].params for i in dropped)
        self.warnings.append(
            f"{len(dropped)} layer{'s' if len(dropped) > 1 else ''} whose results forward never uses "
            f"{'are' if len(dropped) > 1 else 'is'} not counted ({macs:,} MACs, {params:,} parameters)"
        )
        new_ref: dict[int, int] = {}
        for i, k in enumerate(keep):
            if k:
                new_ref[i] = len(new_ref)

        def remap(r: int) -> int:
            return new_ref[r] if r >= 0 else r

        for i in new_ref:
            node = nodes[i]
            node.inputs = tuple(remap(r) for r in node.inputs)
            node.refs = tuple((f, remap(r)) for f, r in node.refs)
        for name in ("shapes", "costs", "names", "fx_of"):
            setattr(self, name, [v for v, k in zip(getattr(self, name), keep) if k])
        self.graph.nodes = [n for n, k in zip(nodes, keep) if k]
        self.graph.outputs = [(name, remap(r)) for name, r in self.graph.outputs]

    def check_unsupported(self) -> None:
        if not self.unsupported:
            return
        listed = ", ".join(f"{k} ({c}, first: {first})" for k, (c, first) in self.unsupported.items())
        if not self.allow_unknown:
            raise ConvcalcError(
                f"{self.graph.name}: unsupported ops: {listed}; --allow-unknown counts them as zero (with a warning)"
            )
        if self.unknown_params:  # the opaque layers' own warning says they count as zero
            self.warnings.append(
                f"the {self.unknown_params:,} parameters of operations counted as zero are not counted either"
            )

    def name_nodes(self) -> None:
        """Display names: a module's path (``layer1.0.conv1``); an op inside a module, the
        module's path and the op (``layer1.0.add``), or the module's path alone when it is
        the module's only layer; unique (``_2`` ...)."""
        scopes: dict[str, int] = {}
        for scope, base, _ in self.names:
            if base:  # a function or method in a module
                scopes[scope] = scopes.get(scope, 0) + 1
        module_nodes = {scope for scope, base, _ in self.names if not base}
        used: set[str] = {"input"}  # a spec's name for the network's input
        for node, (scope, base, suffix) in zip(self.graph.nodes, self.names):
            if not base or (
                scope
                and scopes.get(scope) == 1
                and scope not in module_nodes
                and not any(m.startswith(scope + ".") for m in module_nodes)
            ):
                name = scope
            else:
                name = f"{scope}.{base}" if scope else base
            if suffix:
                name = f"{name}.{suffix}"
            final, k = name, 2
            while final in used:
                final, k = f"{name}_{k}", k + 1
            used.add(final)
            node.name = final
        for node in self.graph.nodes:
            if node.refs and "like" in node.layer.params:
                node.layer = node.layer.replace(like=self.graph.tensor_name(node.refs[0][1]))
        self.graph.outputs = [(self.graph.tensor_name(r), r) for _, r in self.graph.outputs]


def _leaves(x: Any) -> Iterator[Any]:
    if isinstance(x, (list, tuple)):
        for v in x:
            yield from _leaves(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from _leaves(v)
    elif isinstance(x, slice):
        yield from _leaves((x.start, x.stop, x.step))
    else:
        yield x


def _param_aliases(gm: Any) -> dict[str, str]:
    """Every parameter name (with duplicates: a parameter reachable by two paths) -> one
    canonical name per tensor."""
    first: dict[int, str] = {}
    out: dict[str, str] = {}
    for k, p in gm.named_parameters(remove_duplicate=False):
        out[k] = first.setdefault(id(p), k)
    return out


def _function_key(fn: Any) -> str:
    mod = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__name__", repr(fn))
    if mod == "_operator":
        return f"operator.{name}"
    if mod.startswith("torch.nn.functional"):
        return f"F.{name}"
    if mod.startswith("torch") or (mod == "" and "built-in method" in repr(fn)):
        return f"torch.{name}"
    return f"{mod}.{name}" if mod else name


# -- resolving the tables against the installed torch --------------------------------------------------------
_RESOLVED: dict[str, dict] = {}


def _resolve_modules(torch: Any) -> dict[Any, Handler]:
    got = _RESOLVED.get("modules")
    if got is None:
        from . import pytorch_ops  # noqa: F401  (fills the tables)

        got = {getattr(torch.nn, k): h for k, h in MODULES.items() if hasattr(torch.nn, k)}
        _RESOLVED["modules"] = got
    return got


def _resolve_functions(torch: Any) -> dict[Any, Handler]:
    got = _RESOLVED.get("functions")
    if got is None:
        import builtins

        from . import pytorch_ops  # noqa: F401  (fills the tables)

        roots = {"torch": torch, "F": torch.nn.functional, "operator": operator, "builtins": builtins}
        got = {}
        for k, h in FUNCTIONS.items():
            root, _, name = k.partition(".")
            fn = getattr(roots[root], name, None)
            if fn is not None:
                got[fn] = h
        _RESOLVED["functions"] = got
    return got
