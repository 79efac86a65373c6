"""YAML network specs -> ``Network``. Every error names the file and line of the offending
key or layer: ``net.yaml:12: layers[3]: unknown key 'strid' for type conv (did you mean 'stride'?)``.

Spec format (see the README and ``convcalc schema``)::

    name: tiny-net
    input: [3, 224, 224]                 # channels, then 0-3 spatial dims
    budget: {macs: 600M, params: 4.5M}   # optional, for `convcalc check` (also memory,
                                         # traffic, and latency: 5ms with device: orin)
    layers: [ {type: conv, out_channels: 32, kernel: 3}, ... ]

Keys starting with ``x-`` are ignored anywhere (a place to keep YAML anchors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import yamlio
from .errors import ConvcalcError, SpecError
from .graph import Loc
from .layers import REGISTRY
from .layers.base import Layer
from .layers.fields import _show, _type_name, got
from .network import Network
from .tree import BLOCKS as BLOCK_TYPES
from .tree import Concat, Item, LayerNode, Repeat, Residual, Sequential

TOP_KEYS = ("name", "input", "budget", "layers", "outputs", "description")
BLOCKS: dict[str, tuple[str, ...]] = {name: cls.keys for name, cls in BLOCK_TYPES.items()}
ITEM_KEYS = ("type", "name", "from")  # every item's keys besides its own
MERGE_KEY = "inputs"  # a merge layer's operands
BUDGET_KEYS = ("macs", "flops", "params", "activations", "memory", "traffic", "latency", "device")


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
        self.memo: dict[int, Item] = {}
        # Layers written alike are built once and shared: big specs repeat themselves, and
        # the walker then costs each distinct (layer, input shape) once.
        self.layers: dict[tuple, Layer] = {}

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

    def check_keys(self, m: yamlio.YMap, allowed: Sequence[str], path: str, what: str) -> None:
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
        outputs = self.outputs(doc)
        return Network(
            str(name), shape, layers, budget, self.where, self.loc(doc), description, budget_lines, outputs
        )

    def outputs(self, doc: yamlio.YMap) -> list[tuple[str, Loc]] | None:
        v = doc.get("outputs")
        if v is None:
            return None
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not v:
            raise self.err(
                doc, f"outputs: must be a list of tensor names, got {_type_name(v)} {_show(v)}", "outputs"
            )
        out = []
        for i, item in enumerate(v):
            if not isinstance(item, str) or not item:
                raise self.err(
                    doc, f"outputs[{i}]: must be a layer or block name, got {_show(item)}", "outputs"
                )
            line = v.item_line(i) if isinstance(v, yamlio.YList) else doc.key_line("outputs")
            out.append((item, Loc(self.where, line)))
        return out

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

        out: dict[str, Any] = {}
        for k, v in b.items():
            if k.startswith("x-"):
                continue
            if k == "device":  # the device of the latency limit: a name or a profile file
                if not isinstance(v, str) or not v.strip():
                    raise self.err(
                        b, f"budget.device: must be a device name or a profile file, got {_show(v)}", k
                    )
                out[k] = v.strip()
                continue
            try:
                out[k] = parse_limit(v, k)
            except ConvcalcError as e:
                raise self.err(b, f"budget.{k}: {e.message}", k) from None
        return out, {"": doc.key_line("budget"), **b.key_lines}

    # -- layers ------------------------------------------------------------------------------
    def layer_list(
        self, v: Any, path: str, parent: yamlio.YMap, key: str, allow_empty: bool = True
    ) -> list[Item]:
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

    def inline(self, items: list, path: str, parent: list, i: int) -> Item:
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

    def node(self, m: yamlio.YMap, path: str) -> Item:
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
        from_ = self.reference(m, "from", path) if "from" in m else None
        if t in BLOCKS and not (t == "concat" and MERGE_KEY in m and "branches" not in m):
            node = self.block(t, m, path, label, loc)
            node.from_ = from_
        else:
            cls = REGISTRY.get(t)
            if cls is None:
                from ._suggest import did_you_mean

                raise self.err(m, f"{path}: unknown layer type {t!r}{did_you_mean(t, all_types())}", "type")
            inputs = None
            if MERGE_KEY in m:
                if cls.arity != 0 and from_ is not None:
                    raise self.err(m, f"{path}: give 'from' or 'inputs', not both", MERGE_KEY)
                inputs = self.references(m, path)
            skip = (*ITEM_KEYS, MERGE_KEY)
            values = {k: v for k, v in m.items() if k not in skip and not k.startswith("x-")}
            key = _freeze(t, values)
            layer = self.layers.get(key) if key is not None else None
            if layer is None:
                try:
                    layer = cls.build(values)
                except ConvcalcError as e:
                    raise self.err(m, f"{path}: {e.message}", e.field) from None
                if key is not None:
                    self.layers[key] = layer
            refs = tuple((f, self.reference(m, f, path)) for f in cls.ref_fields if m.get(f) is not None)
            node = LayerNode(layer, label, loc, from_, inputs, refs)
        self.memo[id(m)] = node
        return node

    def reference(self, m: yamlio.YMap, key: str, path: str) -> str:
        v = m[key]
        if not isinstance(v, str) or not v.strip():
            raise self.err(
                m, f"{path}: {key}: must be the name of an earlier layer or block, got {_show(v)}", key
            )
        return v.strip()

    def references(self, m: yamlio.YMap, path: str) -> tuple[str, ...]:
        v = m[MERGE_KEY]
        if not isinstance(v, list) or not v:
            raise self.err(
                m, f"{path}: {MERGE_KEY}: must be a list of layer or block names, got {_show(v)}", MERGE_KEY
            )
        out = []
        for i, item in enumerate(v):
            if not isinstance(item, str) or not item.strip():
                raise self.err(
                    m,
                    f"{path}: {MERGE_KEY}[{i}]: must be a layer or block name, got {_show(item)}",
                    MERGE_KEY,
                )
            out.append(item.strip())
        return tuple(out)

    def block(self, t: str, m: yamlio.YMap, path: str, label: str | None, loc: Loc) -> Item:
        self.check_keys(m, ITEM_KEYS + BLOCKS[t], path, f"type {t}")
        for key in BLOCK_TYPES[t].required:
            if key not in m:
                raise self.err(m, f"{path}: {t} needs {key!r}")
        if t == "sequential":
            return Sequential(self.layer_list(m["layers"], f"{path}.layers", m, "layers"), label, loc)
        if t == "repeat":
            times = m["times"]
            if isinstance(times, bool) or not isinstance(times, int) or times < 1:
                raise self.err(m, f"{path}: times: must be an integer >= 1, got {_show(times)}", "times")
            first = None
            if m.get("first") is not None:
                first = self.layer_list(m["first"], f"{path}.first", m, "first")
            return Repeat(
                times, self.layer_list(m["layers"], f"{path}.layers", m, "layers"), label, loc, first=first
            )
        if t == "residual":
            body = self.layer_list(m["body"], f"{path}.body", m, "body")
            sc = m.get("shortcut")
            shortcut = None if sc is None else self.layer_list(sc, f"{path}.shortcut", m, "shortcut")
            return Residual(body, shortcut, label, loc)
        branches = m["branches"]
        if not isinstance(branches, list) or not branches:
            raise self.err(m, f"{path}: branches: must be a non-empty list of layer lists", "branches")
        out = []
        for b, br in enumerate(_spliced_branches(branches)):
            if br is None:
                br = []
            out.append(self.layer_list(br, f"{path}.branches[{b}]", m, "branches"))
        return Concat(out, label, loc)


def _spliced_branches(branches: list) -> list:
    """A branch that is a list of lists (an anchored list of branches aliased into
    ``branches: [*them]``) stands for those branches."""
    out: list = []
    for br in branches:
        if isinstance(br, list) and br and all(isinstance(x, list) for x in br):
            out.extend(br)
        else:
            out.append(br)
    return out


def _freeze(t: str, values: dict[str, Any]) -> tuple | None:
    """A hashable key for a layer's values (None if a value is not plain). Every value, also
    inside lists, is keyed with its type: True == 1 == 1.0 in Python, but ``kernel: [3, true]``
    must be refused even after ``kernel: [3, 1]`` was accepted."""
    try:
        return (t, tuple(sorted((k, _frozen(v)) for k, v in values.items())))
    except TypeError:
        return None


def _frozen(v: Any) -> tuple:
    if isinstance(v, list):
        return ("list", tuple(_frozen(x) for x in v))
    if isinstance(v, dict):
        raise TypeError("not plain")
    hash(v)
    return (type(v).__name__, v)


def all_types() -> list[str]:
    return list(dict.fromkeys([*REGISTRY, *BLOCKS]))


def _default_name(where: str) -> str:
    import os

    base = os.path.basename(where)
    for ext in (".yaml", ".yml"):
        if base.endswith(ext):
            return base[: -len(ext)]
    return base or "network"
