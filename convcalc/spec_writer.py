"""A graph as an editable YAML spec in graph form (docs/graphs.md): the inverse of spec.py.

One flow mapping per layer, in the graph's order::

    - {type: conv, name: layer1.0.conv1, out_channels: 64, kernel: 3, padding: 1, bias: false}
    - {type: add, name: layer1.0.add, inputs: [layer1.0.bn3, layer1.0.downsample.1]}

Every layer gets ``name:`` (the graph node's name, so that a report of the spec names its rows
as the graph does); ``from:`` only where a layer does not read the previous one's output; keys
only where they differ from the layer type's default. Written by hand rather than by PyYAML's
emitter, so that the layout is stable and every scalar is quoted exactly when YAML needs it
(names like ``1`` or ``yes``, floats that YAML 1.1 would read as strings).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from .errors import ConvcalcError
from .graph import Graph, Node

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*\Z")
# YAML 1.1 words that a plain scalar would turn into a boolean or null
_WORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf"}


def scalar(v: Any) -> str:
    """One YAML value, in flow style."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _float(v)
    if isinstance(v, str):
        return v if _PLAIN.match(v) and v.lower() not in _WORDS else _quoted(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(scalar(x) for x in v) + "]"
    if v is None:
        return "null"
    raise TypeError(f"cannot write {type(v).__name__} as YAML")


def _quoted(s: str) -> str:
    """A YAML double-quoted scalar: printable characters as they are, the others escaped."""
    out = ['"']
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif c.isprintable() and c not in "\u2028\u2029\ufeff":
            out.append(c)
        elif ord(c) < 0x100:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return "".join(out) + '"'


def _float(v: float) -> str:
    if math.isnan(v):
        return ".nan"
    if math.isinf(v):
        return ".inf" if v > 0 else "-.inf"
    text = repr(v)
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:  # YAML 1.1 reads 1e-06 as a string, 1.0e-06 as a float
        mantissa += ".0"
    if e and exponent[:1] not in "+-":
        exponent = "+" + exponent
    return mantissa + (f"e{exponent}" if e else "")


def layer_values(node: Node) -> dict[str, Any]:
    """The keys a spec needs for this node's layer: the fields that differ from their default
    (a field naming another tensor is written by the caller)."""
    layer = node.layer
    out: dict[str, Any] = {}
    refs = set(type(layer).ref_fields)
    for f in type(layer).fields:
        if f.name in refs:
            continue
        v = layer.params.get(f.name, f.default)
        if not f.required and _same(v, f.default):
            continue
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return type(a) is type(b) and a == b


def graph_spec(
    graph: Graph,
    *,
    name: str | None = None,
    description: str = "",
    header: Iterable[str] = (),
) -> str:
    """The YAML text of a graph-form spec equal to ``graph`` (one input). Raises
    ConvcalcError for a graph that a spec cannot express (several inputs, a layer whose output
    nothing reads)."""
    if len(graph.inputs) != 1:
        raise ConvcalcError(f"a spec has one input; the graph has {len(graph.inputs)}")
    names = {i: node.name for i, node in enumerate(graph.nodes)}
    if "input" in names.values():
        raise ConvcalcError("a layer is named 'input', the name of the network's input in a spec")

    def tensor(r: int) -> str:
        return names[r] if r >= 0 else "input"

    read = [False] * len(graph.nodes)
    for node in graph.nodes:
        for r in Graph.reads(node):
            if r >= 0:
                read[r] = True
    for _, r in graph.outputs:
        if r >= 0:
            read[r] = True
    for i, node in enumerate(graph.nodes):
        if not read[i]:
            raise ConvcalcError(
                f"the output of layer {node.name!r} is never used (only its shape is read, or nothing): "
                "a spec cannot express it"
            )
    lines = [f"# {h}" if h else "#" for h in header]
    lines.append(f"name: {scalar(name if name is not None else graph.name)}")
    if description:
        lines.append(f"description: {scalar(description)}")
    lines.append(f"input: {scalar(list(graph.inputs[0].shape))}")
    last = len(graph.nodes) - 1
    if [r for _, r in graph.outputs] != [last] or graph.outputs[0][0] != tensor(last):
        lines.append(f"outputs: {scalar([tensor(r) for _, r in graph.outputs])}")
    lines.append("layers:")
    for i, node in enumerate(graph.nodes):
        items: list[tuple[str, Any]] = [("type", node.layer.type_name), ("name", node.name)]
        if node.layer.arity == 0:
            items.append(("inputs", [tensor(r) for r in node.inputs]))
        elif node.inputs[0] != i - 1:
            items.append(("from", tensor(node.inputs[0])))
        items += [(f, tensor(r)) for f, r in node.refs]
        items += list(layer_values(node).items())
        lines.append("  - {" + ", ".join(f"{k}: {scalar(v)}" for k, v in items) + "}")
    return "\n".join(lines) + "\n"
