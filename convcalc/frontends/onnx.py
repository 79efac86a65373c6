"""ONNX models as convcalc graphs: ``report model.onnx``, ``import model.onnx``.

The reader (``onnx_proto``) gives the file's nodes and initializers; this module maps them onto
convcalc's layers, one graph node per layer, with exact counts:

* **Values.** Every ONNX tensor becomes either an *activation* (a tensor of the network: a
  graph node's output or the input, batch first in ONNX, batch-less in convcalc) or a
  *constant* (an initializer, a ``Constant``, or anything computed from constants and from the
  shapes of activations: ``Shape``, ``Gather``, ``Concat`` ...). Constants are folded here, with
  the batch size kept as a symbol, so that a ``Reshape`` or ``Resize`` fed by a shape
  computation gets static sizes. Their values are decoded only when small (the reader's rule);
  weights are never read, only their dims.
* **Parameters** are the floating-point initializers that a layer reads as its weights
  (whatever their size) or an arithmetic op as its constant (of more than one element), each
  counted once; a constant computed from several of them carries all of them. BatchNorm's
  running mean and variance, ``Constant`` nodes (an exporter's own ones and zeros) and every
  input that carries shapes, axes, indices, pads or scales are not parameters.
* **Layers.** Each op maps onto the convcalc type that computes exactly the same thing (a
  ``Conv`` with ``group`` equal to its channels is ``depthwise``, a 1x1 one ``pointwise``);
  tensor plumbing maps onto the generic types of ``layers/tensor.py``. Patterns that torch
  expands into several ops are folded back where that is exact: ``x * sigmoid(x)`` is
  ``silu``, ``x * 0.5 * (1 + erf(x / sqrt 2))`` is ``gelu``, a MatMul and its bias Add one
  ``dense``, a transpose to channels-last and back around a LayerNorm and Linear layers is
  ``layernorm`` and ``pointwise`` on the channels-first tensor, GroupNorm's
  reshape/InstanceNorm/reshape/scale/bias is ``groupnorm``, a squeeze-and-excitation block is
  ``squeeze_excite``. docs/onnx.md has the table.
* **Names** come from the model: ``/layer1/layer1.0/conv1/Conv`` is ``layer1.0.conv1``; a
  file of torch's dynamo exporter (``node_Conv_15``) gives the same from the module path in
  each node's metadata (``_metadata_origins``).

An op convcalc cannot cost is an error listing every such op type, how often it occurs and its
first node; with ``allow_unknown`` each is an ``opaque`` layer of zero cost (its output shape
from the file's shape information), which every report states.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import ConvcalcError, SpecError
from ..graph import Graph, GraphInput, Loc, Node
from ..layers import REGISTRY
from ..layers.base import Layer, Shape
from ..network import Network
from ..tree import MAX_LAYERS
from . import onnx_proto as P
from .onnx_fold import FOLDERS, _const_of_tensor
from .onnx_ops import HANDLERS
from .onnx_patterns import Patterns, collapse_permutations, collapse_squeeze_excite
from .onnx_values import BATCH, Act, Const, Pending, Unsupported, Value, dims_text

SUPPORTED_NOTE = "convcalc cannot cost it"
# what a handler raises on attributes or inputs of a kind its op never has (a hostile file)
MALFORMED = (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, OverflowError, AttributeError)


def input_spec(model: P.Model, where: str, override: Sequence[int] | None) -> tuple[str, Shape, Any]:
    """(name, batch-less shape, batch dim) of the model's one data input, with ``override``
    (``--input``) applied; an error names a symbolic or unknown dim that is not given."""
    inputs = model.graph.data_inputs
    if len(inputs) != 1:
        names = ", ".join(repr(v.name) for v in inputs[:4]) or "none"
        raise SpecError(
            f"the model has {len(inputs)} inputs ({names}); convcalc reads models with one", where=where
        )
    info = inputs[0]
    if info.shape is None:
        if override is None:
            raise SpecError(
                f"input {info.name!r} has no shape in the file: give it with --input, e.g. --input 3x224x224",
                where=where,
            )
        return info.name, tuple(override), BATCH
    dims = info.shape
    if len(dims) < 2:
        raise SpecError(
            f"input {info.name!r} has shape {dims_text(dims)}: convcalc needs a batch dim and at least one more",
            where=where,
        )
    batch = dims[0] if isinstance(dims[0], int) else BATCH
    rest = dims[1:]
    if override is not None:
        if len(override) != len(rest):
            raise SpecError(
                f"--input {'x'.join(map(str, override))} has {len(override)} dims, but input {info.name!r} "
                f"has {len(rest)} after the batch ({dims_text(dims)})",
                where=where,
            )
        return info.name, tuple(override), batch
    for k, d in enumerate(rest):
        if not isinstance(d, int) or d < 1:
            what = f"symbolic dim {d!r}" if isinstance(d, str) else "a dim of unknown size"
            raise SpecError(
                f"input {info.name!r} {dims_text(dims)} has {what} (dim {k + 1}): give the input's size "
                f"with --input, e.g. --input {'x'.join(str(x) if isinstance(x, int) else '224' for x in rest)}",
                where=where,
            )
    if len(rest) > 4:
        raise SpecError(
            f"input {info.name!r} has {len(rest)} dims after the batch; convcalc reads up to 4", where=where
        )
    return info.name, tuple(d for d in rest if isinstance(d, int)), batch


def check_ops(model: P.Model, where: str) -> list[tuple[str, int, str]]:
    """The op types of the model that convcalc has no mapping for: (op, count, first node)."""
    found: dict[str, list[Any]] = {}
    for k, node in enumerate(model.graph.nodes):
        key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        known = node.op_type in HANDLERS or node.op_type in FOLDERS
        if node.domain in ("", "ai.onnx") and known and not node.op_type.startswith("_"):
            continue
        entry = found.setdefault(key, [0, node.name or f"#{k}"])
        entry[0] += 1
    return [(op, n, first) for op, (n, first) in found.items()]


def unsupported_message(ops: list[tuple[str, int, str]]) -> str:
    listed = "; ".join(f"{op} x{n} (first: {first!r})" for op, n, first in ops)
    total = sum(n for _, n, _ in ops)
    return (
        f"{total} node{'s' if total > 1 else ''} of {len(ops)} op type{'s' if len(ops) > 1 else ''} "
        f"convcalc cannot cost: {listed}; --allow-unknown counts them as zero"
    )


def to_graph(
    model: P.Model, where: str, input_shape: Sequence[int] | None = None, allow_unknown: bool = False
) -> Graph:
    """The model as a convcalc graph, for an input of ``input_shape`` (batch-less; None: the
    file's). Raises SpecError (exit 2) naming the node for anything it cannot map."""
    if not allow_unknown:
        bad = check_ops(model, where)
        if bad:
            raise SpecError(unsupported_message(bad), where=where)
    _name, shape, batch = input_spec(model, where, input_shape)
    return _Converter(model, where, shape, batch, allow_unknown).run()


class OnnxNetwork(Network):
    """A network read from an ONNX file: its graph is built from the model for the current
    input shape (so ``--resolution`` re-folds the model's shape computations)."""

    def __init__(self, model: P.Model, where: str, input_shape: Shape, allow_unknown: bool, name: str):
        super().__init__(name, input_shape, [], source=where, loc=Loc(where), description=_describe(model))
        self.model = model
        self.allow_unknown = allow_unknown
        self._graphs: dict[Shape, Graph] = {}

    def graph(self, max_layers: int = MAX_LAYERS) -> Graph:
        got = self._graphs.get(self.input_shape)
        if got is None:
            got = self._graphs[self.input_shape] = to_graph(
                self.model, self.source, self.input_shape, self.allow_unknown
            )
        return got


def _describe(model: P.Model) -> str:
    opset = model.opset()
    bits = [model.producer or "unknown producer"]
    if opset is not None:
        bits.append(f"opset {opset}")
    return f"ONNX model ({', '.join(bits)})"


def load(path: str, input_shape: Sequence[int] | None = None, allow_unknown: bool = False) -> OnnxNetwork:
    """Read an ONNX file as a network: checked for unsupported ops and for its input shape
    here, its graph built (and every node checked) now."""
    model = P.read_model(path)
    return network_of(model, path, input_shape, allow_unknown)


def network_of(
    model: P.Model, where: str, input_shape: Sequence[int] | None = None, allow_unknown: bool = False
) -> OnnxNetwork:
    if not allow_unknown:
        bad = check_ops(model, where)
        if bad:
            raise SpecError(unsupported_message(bad), where=where)
    _, shape, _ = input_spec(model, where, input_shape)
    net = OnnxNetwork(model, where, shape, allow_unknown, _model_name(where))
    net.graph()  # map it now: every error surfaces at load time
    return net


def _model_name(where: str) -> str:
    import os

    base = os.path.basename(where)
    return base[:-5] if base.lower().endswith(".onnx") else base or "model"


class _Converter:
    def __init__(self, model: P.Model, where: str, shape: Shape, batch: Any, allow_unknown: bool):
        self.model = model
        self.g = model.graph
        self.where = where
        self.in_shape = tuple(shape)
        self.batch = batch
        self.allow_unknown = allow_unknown
        self.opset = model.opset() or 1
        self.values: dict[str, Value] = {}
        self.pending: list[Pending] = []
        self.shapes: list[Shape] = []
        self.counted: dict[str, str] = {}  # parameter source -> the node that counted it
        self.absorbed: set[int] = set()  # nodes folded into an earlier one
        self.cf_views: dict[int, Act] = {}  # channels-last views made explicit, by ref
        self.consumers: dict[str, list[P.Node]] = {}
        self.outputs_read: set[str] = {v.name for v in self.g.outputs}
        self.labels: dict[int, str] = {}  # ref -> a name for it taken from the graph's outputs
        self.opaque = False
        self.synthetic: set[int] = set()  # nodes made by folding patterns (private op types)
        # node name -> the name to use for it; the FX node names the dynamo exporter gave tensors
        self.origins, self.traced = _metadata_origins(self.g.nodes)

    # -- driving -----------------------------------------------------------------------------
    def run(self) -> Graph:
        order = P.dataflow_order(self.g, self.where)
        patterns = Patterns(self.g, order)
        order = patterns.run()
        self.synthetic = patterns.made
        for node in order:
            for name in node.inputs:
                if name:
                    self.consumers.setdefault(name, []).append(node)
        for name, t in self.g.initializers.items():
            self.values[name] = _const_of_tensor(t, name)
        in_name = self.g.data_inputs[0].name
        # constants first (weights reshaped or transposed by the exporter), so that a node can
        # look at the constants its consumers will combine it with
        rest = []
        for node in order:
            if not self._fold_static(node):
                rest.append(node)
        self.values[in_name] = Act(-1, self.in_shape)
        for node in rest:
            if id(node) in self.absorbed:
                continue
            self._visit(node)
        outputs = []
        for v in self.g.outputs:
            val = self.values.get(v.name)
            if not isinstance(val, Act):
                raise SpecError(
                    f"graph output {v.name!r} is a constant, not computed from the input", where=self.where
                )
            val = self.cf(val)
            if val.ref < 0:  # the input itself: a layer passes it on (a spec's outputs are layers)
                node = P.Node("Identity", v.name, "", [], [v.name], {})
                val = self.emit(node, REGISTRY["identity"].build({}), [val])
            outputs.append((v.name, val.ref))
            if (
                _readable(v.name)
                and v.name not in self.traced
                and val.ref >= 0
                and val.ref not in self.labels
            ):
                self.labels[val.ref] = v.name
        if self.opaque and self.in_shape != self._file_shape():
            raise SpecError(
                "the input size differs from the file's, but the output shapes of the operations counted "
                "as zero (--allow-unknown) are the file's: report this model at its own input size",
                where=self.where,
            )
        return self._build(outputs)

    def _file_shape(self) -> Shape | None:
        dims = self.g.data_inputs[0].shape
        if dims is None or not all(isinstance(d, int) for d in dims[1:]):
            return None
        return tuple(d for d in dims[1:] if isinstance(d, int))

    def _fold_static(self, node: P.Node) -> bool:
        """Fold a node whose inputs are all constants known before the input's shape."""
        folder = FOLDERS.get(node.op_type)
        if folder is None or node.domain not in ("", "ai.onnx"):
            return False
        ins: list[Const | None] = []
        for name in node.inputs:
            if not name:
                ins.append(None)
                continue
            v = self.values.get(name)
            if not isinstance(v, Const):
                return False
            ins.append(v)
        if not node.inputs and node.op_type != "Constant":
            return False
        try:
            outs = folder(node, ins)
        except (Unsupported, *MALFORMED):
            return False  # mapped (and any problem named) with the other nodes
        self._assign(node, outs)
        return True

    def _assign(self, node: P.Node, outs: Sequence[Value | None]) -> None:
        for name, v in zip(node.outputs, outs):
            if name and v is not None:
                self.values[name] = v

    def label(self, node: P.Node) -> str:
        return f"node {P._q(node.name)} ({node.op_type})" if node.name else f"a {node.op_type} node"

    def _visit(self, node: P.Node) -> None:
        ins: list[Value | None] = []
        for name in node.inputs:
            if not name:
                ins.append(None)
                continue
            v = self.values.get(name)
            if v is None:  # produced by a node that gave no value for it (an unused output)
                raise SpecError(
                    f"{self.label(node)} reads {name!r}, which its producer does not give", where=self.where
                )
            ins.append(v)
        try:
            if node.domain not in ("", "ai.onnx"):
                raise Unsupported(f"is an op of domain {node.domain!r}, which {SUPPORTED_NOTE}")
            if node.op_type.startswith("_") and id(node) not in self.synthetic:
                raise Unsupported(SUPPORTED_NOTE)  # the private names of folded patterns
            handler = HANDLERS.get(node.op_type)
            if handler is not None:
                outs = handler(self, node, ins)
            elif node.op_type in FOLDERS and all(v is None or isinstance(v, Const) for v in ins):
                outs = list(
                    FOLDERS[node.op_type](
                        node, [v if isinstance(v, Const) or v is None else None for v in ins]
                    )
                )
            elif node.op_type in FOLDERS:
                raise Unsupported(f"computes on activations, which {SUPPORTED_NOTE}")
            else:
                raise Unsupported(SUPPORTED_NOTE)
        except Unsupported as e:
            outs = self._unsupported(node, e.reason, ins)
        except MALFORMED as e:
            # attributes or inputs of a kind the op never has (a hostile or broken file)
            raise SpecError(
                f"{self.label(node)}: its attributes or inputs are not what a {node.op_type} takes "
                f"({type(e).__name__}: {str(e)[:80]})",
                where=self.where,
            ) from None
        self._assign(node, outs)

    def _unsupported(self, node: P.Node, reason: str, ins: list[Value | None]) -> list[Value | None]:
        if not self.allow_unknown:
            raise SpecError(
                f"{self.label(node)}: {reason} (--allow-unknown counts it as zero)", where=self.where
            )
        acts = [v for v in ins if isinstance(v, Act)]
        outs: list[Value | None] = []
        for k, out in enumerate(node.outputs):
            if not out or (out not in self.consumers and out not in self.outputs_read):
                outs.append(None)
                continue
            dims = self._recorded_shape(out)
            if dims is None:
                raise SpecError(
                    f"{self.label(node)}: {reason}; --allow-unknown would count it as zero, but the file does "
                    f"not record the shape of its output {out!r} (run ONNX shape inference on the model)",
                    where=self.where,
                )
            if not acts:  # computed from constants: a constant, with the parameters it is made of
                sources = {k: n for v in ins if isinstance(v, Const) for k, n in v.sources.items()}
                outs.append(Const(dims, None, True, sources))
                continue
            if len(dims) < 2:
                raise SpecError(
                    f"{self.label(node)}: {reason}; its output {out!r} has shape {dims_text(dims)}, without a batch "
                    "and a channel dim",
                    where=self.where,
                )
            x = self.cf(acts[0])
            layer = self.build(node, "opaque", {"op": node.op_type, "shape": list(dims[1:])})
            self.opaque = True
            outs.append(self.emit(node, layer, [x], f".{k}" if len(node.outputs) > 1 else ""))
        return outs

    def _recorded_shape(self, name: str) -> tuple[int, ...] | None:
        info = self.g.value_info.get(name)
        if info is None:
            info = next((v for v in self.g.outputs if v.name == name), None)
        if info is None or info.shape is None:
            return None
        dims = list(info.shape)
        if dims and not isinstance(dims[0], int):
            dims[0] = 1  # the batch
        out = tuple(d for d in dims if isinstance(d, int) and d >= 1)
        return out if len(out) == len(dims) else None

    # -- building blocks ---------------------------------------------------------------------
    def act(self, v: Value | None, what: str = "its input") -> Act:
        if isinstance(v, Act):
            return v
        raise Unsupported(
            f"{what} is {'missing' if v is None else 'a constant'}: it computes on constants only"
        )

    def const(self, v: Value | None, what: str) -> Const:
        if isinstance(v, Const):
            return v
        raise Unsupported(
            f"its {what} is {'missing' if v is None else 'computed by the network'}, not a constant"
        )

    def build(self, node: P.Node, type_name: str, values: dict[str, Any]) -> Layer:
        try:
            return REGISTRY[type_name].build(values)
        except ConvcalcError as e:
            raise SpecError(f"{self.label(node)}: {e.message}", where=self.where) from None

    def emit(
        self, node: P.Node, layer: Layer, inputs: Sequence[Act], suffix: str = "", cl: bool = False
    ) -> Act:
        """Add a graph node; ``inputs`` are channels-first activations."""
        shapes = tuple(a.shape for a in inputs)
        try:
            cost = layer.cost(*shapes)
        except ConvcalcError as e:
            raise SpecError(f"{self.label(node)}: {e.message}", where=self.where) from None
        self.pending.append(
            Pending(
                layer, tuple(a.ref for a in inputs), node.name or node.op_type, node.op_type, cost, suffix
            )
        )
        self.shapes.append(tuple(cost.output_shape))
        return Act(len(self.pending) - 1, tuple(cost.output_shape), cl, inputs[0].via if cl else "")

    def cf(self, x: Act) -> Act:
        """The channels-first tensor of an activation: a channels-last view becomes a
        transpose node (once per tensor)."""
        if not x.cl:
            return x
        got = self.cf_views.get(x.ref)
        if got is None:
            n = len(x.shape) - 1
            layer = REGISTRY["transpose"].build({"perm": list(range(1, n + 1)) + [0]})
            cost = layer.cost(x.shape)
            self.pending.append(Pending(layer, (x.ref,), x.via or "transpose", "Transpose", cost))
            self.shapes.append(tuple(cost.output_shape))
            got = self.cf_views[x.ref] = Act(len(self.pending) - 1, tuple(cost.output_shape))
        return got

    def take(self, consts: Iterable[Const | None], node: P.Node, weights: bool = True) -> int:
        """Count the parameters behind these constants that no layer has counted yet: all of
        them for a layer's weights (a conv of one weight has one parameter), those of more than
        one element for the constant of an arithmetic op (a scalar is not a parameter)."""
        total = 0
        for c in consts:
            if c is None:
                continue
            for key, n in c.sources.items():
                if key not in self.counted and (weights or n > 1):
                    self.counted[key] = node.name
                    total += n
        return total

    def shared(self, c: Value | None, *others: Value | None) -> bool:
        """Whether a constant holds parameters that a layer has counted already, or that one of
        ``others`` holds too (one initializer read twice, or merged by the exporter from equal
        values: counted once)."""
        if not isinstance(c, Const):
            return False
        seen = {k for o in others if isinstance(o, Const) for k in o.sources}
        return any(k in self.counted or k in seen for k in c.sources)

    def affine(
        self, node: P.Node, y: Act, parts: Sequence[tuple[str, Const | None]], suffix: str = ""
    ) -> Act:
        """Per-channel multiplies and adds by constants, as ``elementwise`` layers counting only
        the parameters not counted before (a bias or norm weight shared with another layer)."""
        shape = [y.shape[0]] + [1] * (len(y.shape) - 1)
        for k, (op, c) in enumerate(parts):
            if c is None:
                continue
            values: dict[str, Any] = {"op": op, "shape": shape}
            taken = self.take([c], node)
            if taken:
                values["learned"] = taken
            tag = ".bias" if op == "add" else ".scale"
            y = self.emit(
                node,
                self.build(node, "elementwise", values),
                [y],
                suffix + tag if k or suffix else tag,
                cl=y.cl,
            )
        return y

    def expect(self, consts: Sequence[Const | None], layer: Layer, shape: Shape, node: P.Node) -> None:
        """The parameters behind ``consts`` must be exactly the layer's. Weights kept in
        Constant nodes (no initializers behind them) are the layer's whatever they hold: a
        convolution's weight is a parameter wherever the file keeps it."""
        shared = [k for c in consts if c is not None for k in c.sources if k in self.counted]
        got = self.take(consts, node)
        want = layer.cost(shape).params
        if not any(c.sources for c in consts if c is not None):
            return
        if shared:
            raise SpecError(
                f"{self.label(node)}: its weights {shared[0]!r} were already counted for node "
                f"{self.counted[shared[0]]!r}: weights shared between layers are not supported",
                where=self.where,
            )
        if got != want:
            raise SpecError(
                f"{self.label(node)}: its weights are computed from {got:,} parameter values, but a "
                f"{layer.type_name} of this shape has {want:,} (fold the model's constants, e.g. export "
                "with do_constant_folding=True)",
                where=self.where,
            )

    def single(self, name: str, op: str | tuple[str, ...]) -> P.Node | None:
        """The one node reading ``name``, if it is an ``op`` node (and no output reads it)."""
        users = self.consumers.get(name, [])
        ops = (op,) if isinstance(op, str) else op
        if len(users) != 1 or name in self.outputs_read or users[0].op_type not in ops:
            return None
        return users[0]

    def other(self, node: P.Node, name: str) -> Value | None:
        """The operand of a two-input node that is not ``name``."""
        if len(node.inputs) != 2:
            return None
        a, b = node.inputs
        if a == name and b != name:
            return self.values.get(b)
        if b == name and a != name:
            return self.values.get(a)
        return None

    def absorb(self, node: P.Node, value: Act) -> None:
        self.absorbed.add(id(node))
        self._assign(node, [value])

    def batch_ok(self, v: Any) -> bool:
        """Whether a folded size is the batch dim."""
        return v is BATCH or (isinstance(self.batch, int) and v == self.batch)

    # -- building the graph --------------------------------------------------------------------
    def _build(self, outputs: list[tuple[str, int]]) -> Graph:
        pending, labels = self.pending, self.labels
        for collapse in (collapse_squeeze_excite, collapse_permutations):
            pending, remap = collapse(pending, {r for _, r in outputs})
            outputs = [(n, remap[r] if r >= 0 else r) for n, r in outputs]
            labels = {remap[r]: v for r, v in labels.items() if remap.get(r, -1) >= 0}
        names = _display_names(pending, labels, self.origins)
        graph = Graph(_model_name(self.where), [GraphInput("input", self.in_shape)])
        loc = Loc(self.where)
        for p, name in zip(pending, names):
            graph.nodes.append(Node(name, p.layer, p.inputs, (), None, p.origin, loc, 0))
        graph.outputs = [(graph.tensor_name(r), r) for _, r in outputs]
        return graph


def _readable(name: str) -> bool:
    return (
        bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", name))
        and "output_" not in name
        and not name.startswith("onnx")
    )


def _scope(origin: str) -> tuple[str, str]:
    """(module path, leaf) of an ONNX node name as torch's exporter writes it:
    '/layer1/layer1.0/conv1/Conv' is ('layer1.0.conv1', 'Conv'), '/features/features.1/block/
    block.0/Conv' is ('features.1.block.0', 'Conv')."""
    if not origin.startswith("/"):
        return "", origin
    parts = [p for p in origin.split("/") if p]
    if not parts:
        return "", origin
    path = prev = ""
    for p in parts[:-1]:
        # a child of a Sequential is named 'parent.k' after its parent's own name
        if prev and p.startswith(prev + "."):
            path += p[len(prev) :]
        else:
            path = f"{path}.{p}" if path else p
        prev = p
    return path, parts[-1]


_SCOPES_KEY, _RULES_KEY = P.NODE_METADATA_KEYS
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


def _scopes(node: P.Node) -> list[str]:
    """``pkg.torch.onnx.name_scopes`` (a Python list of str) as a list; [] when absent."""
    text = node.metadata.get(_SCOPES_KEY)
    return [a or b for a, b in _QUOTED.findall(text)] if text is not None else []


def _module_path(node: P.Node, scopes: list[str]) -> str | None:
    """The path of the module that ran ``node``, from the metadata torch's dynamo exporter
    writes: ``pkg.torch.onnx.name_scopes`` is ``['', 'layer1', 'layer1.0', 'layer1.0.conv1',
    'conv2d_1']``, the module paths from the root down, then the FX node. A Conv into which
    onnxscript's optimizer folded the BatchNorm after it carries the BatchNorm's path: its
    weight, the conv module's parameter (``layer1.0.conv1.weight``), names the conv. None
    when the node records no path."""
    if len(scopes) < 2:
        return None
    path = scopes[-2]
    if (
        "FuseBatchNormIntoConv" in node.metadata.get(_RULES_KEY, "")
        and node.op_type in ("Conv", "ConvTranspose")
        and len(node.inputs) > 1
        and node.inputs[1].endswith(".weight")
    ):
        path = node.inputs[1][: -len(".weight")]
    return path


def _metadata_origins(nodes: Sequence[P.Node]) -> tuple[dict[str, str], set[str]]:
    """(node name -> a name in the form torch's TorchScript exporter gives, for the nodes that
    record their module path (``_module_path``), so that both exporters' files name their
    layers alike: ``/layer1.0.conv1/Conv``; the k-th call of a module within one call of its
    parent gets ``_k`` as that exporter's scopes do (``layer1.0.relu_2``); a name taken twice
    gets ``_k`` too (``/layer1.0/Add_1``). A call ends where a node of another module runs
    (the file's order is the order of the trace). Also the names of the FX nodes, which the
    exporter gives the tensors (``mul_16``): a graph output so named does not name its layer
    as one named by the user does. Linear in the size of the paths."""
    out: dict[str, str] = {}
    traced: set[str] = set()
    calls: dict[tuple[int, str], int] = {}  # (the parent's call, module) -> calls so far
    taken: dict[str, int] = {}
    prev: list[tuple[str, str, int]] = []  # (module, its call's name, its call) of the last node
    made = 0  # calls seen: each gets a number (0 is the root's)
    for node in nodes:
        scopes = _scopes(node)
        if scopes:
            traced.add(scopes[-1])
        path = _module_path(node, scopes)
        if path is None or not node.name or node.name in out:
            continue
        level: list[tuple[str, str, int]] = []
        parent = 0
        same = True
        for k, part in enumerate(path.split(".") if path else ()):
            if same and k < len(prev) and prev[k][0] == part:
                _, name, call = prev[k]
            else:
                same = False
                n = calls.get((parent, part), 0)
                calls[parent, part] = n + 1
                name = f"{part}_{n}" if n else part
                made += 1
                call = made
            level.append((part, name, call))
            parent = call
        prev = level
        base = "/" + "/".join(x for x in (".".join(name for _, name, _ in level), node.op_type) if x)
        n = taken.get(base, 0)
        taken[base] = n + 1
        out[node.name] = f"{base}_{n}" if n else base
    return out, traced


def _clean(name: str) -> str:
    name = re.sub(r"\s+", "_", name.strip()).strip(".")
    return name or "node"


def _display_names(pending: list[Pending], labels: dict[int, str], origins: dict[str, str]) -> list[str]:
    """Unique names from the ONNX nodes' names (``origins``: the names that stand for them,
    from a dynamo file's metadata) or the graph outputs' (``labels``)."""
    scopes = [_scope(origins.get(p.origin, p.origin)) for p in pending]
    per: dict[str, set[str]] = {}
    for (scope, _), p in zip(scopes, pending):
        per.setdefault(scope, set()).add(p.origin)
    per_scope = {scope: len(o) for scope, o in per.items()}
    used: set[str] = {"input"}
    out = []
    for i, ((scope, leaf), p) in enumerate(zip(scopes, pending)):
        if i in labels:
            base = labels[i]
        elif scope and per_scope.get(scope, 0) == 1:
            base = scope
        elif scope:
            base = f"{scope}.{leaf.lower()}"
        else:
            base = leaf if not leaf[:1].isupper() else leaf.lower()
        base = _clean(base + p.suffix)
        name, k = base, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        out.append(name)
    return out
