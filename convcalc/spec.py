"""YAML network specs -> ``Network``. Every error names the file and line of the offending
key or layer: ``net.yaml:12: layers[3]: unknown key 'strid' for type conv (did you mean 'stride'?)``.

Spec format (see the README and ``convcalc schema``)::

    name: tiny-net
    input: [3, 224, 224]                 # channels, then 0-3 spatial dims
    budget: {macs: 600M, params: 4.5M}   # optional, for `convcalc check`
    layers: [ {type: conv, out_channels: 32, kernel: 3}, ... ]

Keys starting with ``x-`` are ignored anywhere (a place to keep YAML anchors).
"""

from __future__ import annotations

from typing import Any

from . import yamlio
from .errors import ConvcalcError, SpecError
from .layers import REGISTRY
from .layers.fields import _show, _type_name, got
from .network import Concat, LayerNode, Loc, Network, Node, Repeat, Residual, Sequential

TOP_KEYS = ("name", "input", "budget", "layers", "description")
BLOCKS: dict[str, tuple[str, ...]] = {
    "sequential": ("layers",),
    "residual": ("body", "shortcut"),
    "concat": ("branches",),
    "repeat": ("times", "layers"),
}
BUDGET_KEYS = ("macs", "flops", "params", "activations", "memory")


def load(ref: str) -> Network:
    """Load a spec from a path, ``-`` (stdin) or ``zoo:NAME``."""
    text, where = read(ref)
    return parse_text(text, where)


def read(ref: str) -> tuple[str, str]:
    """(text, name used in messages) for a path, ``-`` or ``zoo:NAME``."""
    if ref.startswith("zoo:"):
        from . import zoo

        return zoo.read(ref[4:]), ref
    if ref == "-":
        import sys

        return yamlio.decode(sys.stdin.buffer.read(yamlio.MAX_FILE_BYTES + 1), "<stdin>"), "<stdin>"
    return yamlio.read_text(ref), ref


def parse_text(text: str, where: str = "<spec>") -> Network:
    if not text.strip():
        raise SpecError("is empty: a spec needs 'input' and 'layers'", where=where)
    return parse(yamlio.load(text, where), where)


def parse(doc: Any, where: str = "<spec>") -> Network:
    return _Parser(where).network(doc)


class _Parser:
    def __init__(self, where: str):
        self.where = where
        self.memo: dict[int, Node] = {}
        # Layers written alike are built once and shared: big specs repeat themselves, and
        # the walker then costs each distinct (layer, input shape) once.
        self.layers: dict[tuple, object] = {}

    def err(self, obj: Any, message: str, key: str | None = None) -> SpecError:
        line = 0
        if isinstance(obj, yamlio.YMap):
            line = obj.key_line(key) if key else obj.line
        else:
            line = yamlio.line_of(obj)
        return SpecError(message, where=f"{self.where}:{line}" if line else self.where)

    def loc(self, m: yamlio.YMap) -> Loc:
        # A mapping on one line (a flow-style layer) needs no key lines: Loc.at falls back to
        # the mapping's line. Not keeping them frees ~30 MiB per 100,000 layers.
        line, kl = m.line, m.key_lines
        for v in kl.values():
            if v != line:
                return Loc(self.where, line, kl)
        return Loc(self.where, line)

    def check_keys(self, m: yamlio.YMap, allowed, path: str, what: str) -> None:
        from ._suggest import did_you_mean

        for k in m:
            if k not in allowed and not k.startswith("x-"):
                prefix = f"{path}: " if path else ""
                raise self.err(m, f"{prefix}unknown key {k!r} for {what}{did_you_mean(k, allowed)}", k)

    # -- top level ---------------------------------------------------------------------------
    def network(self, doc: Any) -> Network:
        if not isinstance(doc, yamlio.YMap):
            what = "empty" if doc is None else _type_name(doc)
            raise SpecError(
                f"a spec must be a mapping with 'input' and 'layers', got {what}",
                where=f"{self.where}:{yamlio.line_of(doc, 1)}",
            )
        self.check_keys(doc, TOP_KEYS, "", "a spec")
        for key in ("input", "layers"):
            if key not in doc:
                raise self.err(doc, f"missing required key {key!r}")
        name = doc.get("name")
        if name is None:
            name = _default_name(self.where)
        elif not isinstance(name, (str, int, float)) or isinstance(name, bool):
            raise self.err(doc, f"name: must be a string, got {_type_name(name)}", "name")
        description = doc.get("description") or ""
        if not isinstance(description, str):
            raise self.err(doc, "description: must be a string", "description")
        shape = self.input_shape(doc)
        budget, budget_lines = self.budget(doc)
        layers = self.layer_list(doc["layers"], "layers", doc, "layers", allow_empty=False)
        return Network(str(name), shape, layers, budget, self.where, self.loc(doc), description, budget_lines)

    def input_shape(self, doc: yamlio.YMap) -> tuple:
        v = doc["input"]
        if not isinstance(v, list) or not 1 <= len(v) <= 4:
            raise self.err(
                doc,
                "input: must be a list [channels, *spatial] with 0 to 3 spatial dims, "
                f"got {_show(v) if not isinstance(v, list) else f'{len(v)} values'}",
                "input",
            )
        for x in v:
            if isinstance(x, bool) or not isinstance(x, int) or x < 1:
                raise self.err(doc, f"input: every size must be an integer >= 1, got {_show(x)}", "input")
        return tuple(v)

    def budget(self, doc: yamlio.YMap) -> tuple[dict, dict]:
        """The limits and the line of each (key ``""``: the ``budget:`` line itself)."""
        b = doc.get("budget")
        if b is None:
            return {}, {}
        if not isinstance(b, yamlio.YMap):
            raise self.err(
                doc, f"budget: must be a mapping like {{macs: 600M}}, got {_type_name(b)}", "budget"
            )
        self.check_keys(b, BUDGET_KEYS, "budget", "a budget")
        from .budget import parse_limit

        out = {}
        for k, v in b.items():
            if k.startswith("x-"):
                continue
            try:
                out[k] = parse_limit(v, k)
            except ConvcalcError as e:
                raise self.err(b, f"budget.{k}: {e.message}", k) from None
        return out, {"": doc.key_line("budget"), **b.key_lines}

    # -- layers ------------------------------------------------------------------------------
    def layer_list(
        self, v: Any, path: str, parent: yamlio.YMap, key: str, allow_empty: bool = True
    ) -> list[Node]:
        if isinstance(v, yamlio.YMap):  # a single layer where a list is expected
            return [self.node(v, f"{path}[0]")]
        if not isinstance(v, list):
            raise self.err(parent, f"{path}: must be a list of layers, got {got(v)}", key)
        if not v and not allow_empty:
            raise self.err(parent, f"{path}: needs at least one layer", key)
        out = []
        for i, item in enumerate(v):
            if isinstance(item, list):  # a nested list (e.g. an anchored list of layers) splices in
                out.append(self.inline(item, f"{path}[{i}]", v, i))
                continue
            if not isinstance(item, yamlio.YMap):
                line = v.item_line(i) if isinstance(v, yamlio.YList) else 0
                raise SpecError(
                    f"{path}[{i}]: a layer must be a mapping with a 'type', got {got(item)}",
                    where=f"{self.where}:{line}" if line else self.where,
                )
            out.append(self.node(item, f"{path}[{i}]"))
        return out

    def inline(self, items: list, path: str, parent: list, i: int) -> Node:
        cached = self.memo.get(id(items))
        if cached is not None:
            return cached
        line = parent.item_line(i) if isinstance(parent, yamlio.YList) else 0
        node = Sequential([], None, Loc(self.where, line), inline=True)
        self.memo[id(items)] = node  # before recursing: a list that contains itself is refused by yamlio
        where = yamlio.YMap()
        where.line, where.key_lines = line, {}
        node.layers = self.layer_list(items, path, where, "")
        return node

    def node(self, m: yamlio.YMap, path: str) -> Node:
        cached = self.memo.get(id(m))
        if cached is not None:
            return cached
        if "type" not in m:
            raise self.err(m, f"{path}: a layer needs a 'type' (one of {', '.join(all_types())})")
        t = m["type"]
        if not isinstance(t, str):
            raise self.err(m, f"{path}: type: must be a string, got {got(t)}", "type")
        label = m.get("name")
        if label is not None and not isinstance(label, str):
            label = str(label)
        loc = self.loc(m)
        if t in BLOCKS:
            node = self.block(t, m, path, label, loc)
        else:
            cls = REGISTRY.get(t)
            if cls is None:
                from ._suggest import did_you_mean

                raise self.err(m, f"{path}: unknown layer type {t!r}{did_you_mean(t, all_types())}", "type")
            values = {k: v for k, v in m.items() if k not in ("type", "name") and not k.startswith("x-")}
            key = _freeze(t, values)
            layer = self.layers.get(key) if key is not None else None
            if layer is None:
                try:
                    layer = cls.build(values)
                except ConvcalcError as e:
                    raise self.err(m, f"{path}: {e.message}", e.field) from None
                if key is not None:
                    self.layers[key] = layer
            node = LayerNode(layer, label, loc)
        self.memo[id(m)] = node
        return node

    def block(self, t: str, m: yamlio.YMap, path: str, label, loc: Loc) -> Node:
        self.check_keys(m, ("type", "name") + BLOCKS[t], path, f"type {t}")
        for key in BLOCKS[t]:
            if key not in m and key != "shortcut":
                raise self.err(m, f"{path}: {t} needs {key!r}")
        if t == "sequential":
            return Sequential(self.layer_list(m["layers"], f"{path}.layers", m, "layers"), label, loc)
        if t == "repeat":
            times = m["times"]
            if isinstance(times, bool) or not isinstance(times, int) or times < 1:
                raise self.err(m, f"{path}: times: must be an integer >= 1, got {_show(times)}", "times")
            return Repeat(times, self.layer_list(m["layers"], f"{path}.layers", m, "layers"), label, loc)
        if t == "residual":
            body = self.layer_list(m["body"], f"{path}.body", m, "body")
            sc = m.get("shortcut")
            shortcut = None if sc is None else self.layer_list(sc, f"{path}.shortcut", m, "shortcut")
            return Residual(body, shortcut, label, loc)
        branches = m["branches"]
        if not isinstance(branches, list) or not branches:
            raise self.err(m, f"{path}: branches: must be a non-empty list of layer lists", "branches")
        out = []
        for b, br in enumerate(branches):
            if br is None:
                br = []
            out.append(self.layer_list(br, f"{path}.branches[{b}]", m, "branches"))
        return Concat(out, label, loc)


def _freeze(t: str, values: dict):
    """A hashable key for a layer's values (None if a value is not plain). Every value, also
    inside lists, is keyed with its type: True == 1 == 1.0 in Python, but ``kernel: [3, true]``
    must be refused even after ``kernel: [3, 1]`` was accepted."""
    try:
        return (t, tuple(sorted((k, _frozen(v)) for k, v in values.items())))
    except TypeError:
        return None


def _frozen(v):
    if isinstance(v, list):
        return ("list", tuple(_frozen(x) for x in v))
    if isinstance(v, dict):
        raise TypeError("not plain")
    hash(v)
    return (type(v).__name__, v)


def all_types() -> list[str]:
    return list(REGISTRY) + list(BLOCKS)


def _default_name(where: str) -> str:
    import os

    base = os.path.basename(where)
    for ext in (".yaml", ".yml"):
        if base.endswith(ext):
            return base[: -len(ext)]
    return base or "network"
