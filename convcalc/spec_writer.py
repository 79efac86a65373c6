"""A graph as an editable spec: the graph form of docs/graphs.md, one layer per line.

``graph_spec(graph, ...)`` writes YAML that ``convcalc.spec`` reads back to the same graph: the
same layers with the same parameters, names, wiring and outputs, so ``convcalc report`` of the
written spec gives exactly the numbers of the graph. Each layer is a flow mapping on one line
(``- {type: conv, name: layer1.0.conv1, out_channels: 64, kernel: 1, bias: false}``) with only
the keys that differ from their defaults; ``from:`` when a layer does not read the previous
one's output, ``inputs:`` for merges, ``outputs:`` when the network's outputs are not simply the
last layer. Scalars are written by hand (no emitter quirks): plain where YAML 1.1 reads them
back as the same string, double-quoted otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from .errors import ConvcalcError
from .graph import Graph
from .layers.fields import MISSING
from .tree import INPUT_NAME

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")
# words YAML 1.1 reads as booleans or null (PyYAML's resolver), in any of their spellings
_RESERVED = {
    w
    for base in ("y", "yes", "n", "no", "true", "false", "on", "off", "null", "~")
    for w in (base, base.capitalize(), base.upper())
}


def scalar(v: Any) -> str:
    """A YAML scalar that reads back as ``v`` (bool, int, float, str, None)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ConvcalcError(f"cannot write the number {v} in a spec")
        text = repr(v)
        if "." not in text and "e" in text:  # YAML 1.1 wants a dot: 1e-06 -> 1.0e-06
            mantissa, exp = text.split("e")
            text = f"{mantissa}.0e{exp if exp[0] in '+-' else '+' + exp}"
        elif "e" in text and text.split("e")[1][0] not in "+-":
            mantissa, exp = text.split("e")
            text = f"{mantissa}e+{exp}"
        return text
    if isinstance(v, str):
        if _PLAIN.match(v) and v not in _RESERVED and not _looks_numeric(v):
            return v
        return _quoted(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(scalar(x) for x in v) + "]"
    raise ConvcalcError(f"cannot write a {type(v).__name__} value in a spec")


def _looks_numeric(v: str) -> bool:
    try:
        float(v.replace("_", ""))
    except ValueError:
        return v.startswith(("0x", "0o", "0b", ".")) or ":" in v
    return True


def _quoted(v: str) -> str:
    out = ['"']
    for c in v:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c.isprintable():
            out.append(c)
        else:
            code = ord(c)
            out.append(
                f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
            )
    out.append('"')
    return "".join(out)


def layer_values(layer: Any) -> dict[str, Any]:
    """A layer's keys as a spec writes them: only those that differ from their defaults."""
    out: dict[str, Any] = {}
    fields = {f.name: f for f in layer.fields}
    for k, v in layer.params.items():
        f = fields.get(k)
        if f is None:
            raise ConvcalcError(f"layer type {layer.type_name}: {k!r} is not one of its keys")
        if f.default is not MISSING and v == f.default and type(v) is type(f.default):
            continue
        if v is None:
            continue
        out[k] = list(v) if isinstance(v, tuple) else v
    return out


def graph_spec(
    graph: Graph,
    name: str | None = None,
    description: str = "",
    comments: list[str] | None = None,
) -> str:
    """The spec text of ``graph`` (see the module docstring)."""
    return "".join(_lines(graph, name or graph.name, description, comments or []))


def _lines(graph: Graph, name: str, description: str, comments: list[str]) -> Iterator[str]:
    from .layers import REGISTRY

    if len(graph.inputs) != 1:
        raise ConvcalcError(f"{name}: a spec has one input; this graph has {len(graph.inputs)}")
    labels = _labels(graph)

    def ref_name(r: int) -> str:
        return labels[r] if r >= 0 else INPUT_NAME

    for c in comments:
        yield f"# {c}\n" if c else "#\n"
    yield f"name: {scalar(name)}\n"
    if description:
        yield f"description: {scalar(description)}\n"
    yield f"input: {scalar(list(graph.inputs[0].shape))}\n"
    last = len(graph.nodes) - 1
    outputs = [r for _, r in graph.outputs]
    if outputs != [last]:
        yield f"outputs: {scalar([ref_name(r) for r in outputs])}\n"
    yield "layers:\n"
    for i, node in enumerate(graph.nodes):
        layer = node.layer
        if REGISTRY.get(layer.type_name) is not type(layer):
            raise ConvcalcError(
                f"{node.name}: {layer.type_name} is not a layer type a spec can hold "
                f"({(layer.params or {}).get('op', '')}); see --allow-unknown in docs/torch.md"
            )
        items: list[tuple[str, Any]] = [("type", layer.type_name), ("name", labels[i])]
        if layer.arity == 0:
            items.append(("inputs", [ref_name(r) for r in node.inputs]))
        elif node.inputs[0] != i - 1:
            items.append(("from", ref_name(node.inputs[0])))
        values = layer_values(layer)
        for f, r in node.refs:
            values[f] = ref_name(r)
        items += list(values.items())
        yield "  - {" + ", ".join(f"{k}: {scalar(v)}" for k, v in items) + "}\n"


def _labels(graph: Graph) -> list[str]:
    """Each node's name in the spec: its graph name, unique, never the input's."""
    used = {INPUT_NAME}
    out = []
    for node in graph.nodes:
        base = node.name or node.layer.type_name
        label, k = base, 2
        while label in used:
            label, k = f"{base}_{k}", k + 1
        used.add(label)
        out.append(label)
    return out
