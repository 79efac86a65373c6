"""The tree form of a spec (what YAML specs are written as) and how it compiles to a graph.

A spec is a list of items; an item is a layer or a block. This module is the one place that
decides what a block kind means: each block class below says how it counts (for the limits,
before anything is expanded) and how it compiles into graph nodes.

  sequential  items in order
  residual    output = add(body(x), shortcut(x)); no shortcut: the identity
  concat      channel concatenation of branches (an empty branch is the identity)
  repeat      ``times`` copies of ``layers``

Graph form: any item may carry ``name:`` (a block's name names its output tensor) and
``from: NAME`` (read tensor NAME instead of the previous item's output); merge layers (add,
mul, concat) take ``inputs: [A, B, ...]``. A reference resolves to the most recent earlier
item of that name in the same block, then in the enclosing ones, like a variable in a program
(inside a repeat, the same copy first, then the copies before it). ``input`` is the network's
input. ``A.B`` looks up B among the names inside the named block A.

Display names: an item's name, or ``{type}{k}`` (``conv1``, ``relu2``, ``residual1``) for
unnamed ones, joined with dots (``stage2.block1.conv2``); a repeat's copies are ``NAME.0``,
``NAME.1`` ... (a copy of several items is a group of them).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from .errors import GeometryError, LimitError, SpecError
from .graph import NOWHERE, Block, Graph, GraphInput, Loc, Node

if TYPE_CHECKING:
    from .layers.base import Layer, Shape

MAX_LAYERS = 2_000_000  # layers (graph nodes) a network may expand to
MAX_GROUPS = 2_000_000  # blocks, repeat copies and branches a network may expand to
MAX_NESTING = 100  # block nesting depth
INPUT_NAME = "input"


# -- the tree ------------------------------------------------------------------------------------
class Item:
    """A layer or a block of a spec."""

    __slots__ = ("from_", "label", "loc")
    kind: ClassVar[str] = "item"
    label: str | None
    loc: Loc
    from_: str | None

    def count(self, memo: dict[int, tuple[int, int]], limit: int | None) -> tuple[int, int]:
        """(layers, groups) this item expands to, without expanding it."""
        raise NotImplementedError

    def children(self) -> list[list[Item]]:
        """The lists of items inside this one (a residual: body and shortcut)."""
        return []

    def with_children(self, lists: list[list[Item]]) -> Item:
        """A copy holding these lists instead of ``children()`` (same order)."""
        return self

    def compile(self, cx: _Compiler, scope: _Scope, x: int, path: str, name: str | None = None) -> int:
        """Add this item's nodes to the graph; return the reference of its output tensor.
        ``x`` is the previous item's output, ``path`` the spec path, ``name`` a forced
        display name (a repeat's copy)."""
        raise NotImplementedError


class LayerNode(Item):
    """A layer as written in a spec. ``inputs``: a merge's operands (names); ``refs``: fields
    naming tensors used for their shape (resize's ``like``)."""

    __slots__ = ("inputs", "layer", "refs")
    kind = "layer"

    def __init__(
        self,
        layer: Layer,
        label: str | None = None,
        loc: Loc = NOWHERE,
        from_: str | None = None,
        inputs: tuple[str, ...] | None = None,
        refs: tuple[tuple[str, str], ...] = (),
    ):
        self.layer, self.label, self.loc, self.from_ = layer, label, loc, from_
        self.inputs, self.refs = inputs, refs

    def count(self, memo: dict[int, tuple[int, int]], limit: int | None) -> tuple[int, int]:
        return 1, 0

    def compile(self, cx: _Compiler, scope: _Scope, x: int, path: str, name: str | None = None) -> int:
        layer = self.layer
        if self.inputs is not None:
            inputs = tuple(scope.resolve(n, self.loc, "inputs", path) for n in self.inputs)
            if layer.arity == 1 and len(inputs) != 1:
                raise SpecError(
                    f"{path}: {layer.type_name} reads one tensor; use 'from:' (got {len(inputs)} inputs)",
                    where=self.loc.at("inputs"),
                )
        elif self.from_ is not None:
            inputs = (scope.resolve(self.from_, self.loc, "from", path),)
        else:
            inputs = (x,)
        if layer.arity == 0 and self.inputs is None:
            raise SpecError(
                f"{path}: {layer.type_name} needs 'inputs: [A, B, ...]' naming the tensors it merges",
                where=self.loc.at(),
            )
        if layer.arity == 0 and len(inputs) < 2:
            raise SpecError(f"{path}: {layer.type_name} needs at least 2 inputs", where=self.loc.at("inputs"))
        refs = tuple((f, scope.resolve(n, self.loc, f, path)) for f, n in self.refs)
        display = name or scope.child_name(self.label, _kind_of(layer))
        ref = cx.add(Node(display, layer, inputs, refs, self.label, path, self.loc, cx.depth))
        scope.define(self.label, ref)
        return ref


class BlockItem(Item):
    """A block of items. Subclasses set ``kind`` and ``keys`` (their YAML keys besides type,
    name and from)."""

    __slots__ = ()
    keys: ClassVar[tuple[str, ...]] = ()
    required: ClassVar[tuple[str, ...]] = ()

    def _input(self, scope: _Scope, x: int, path: str) -> int:
        return scope.resolve(self.from_, self.loc, "from", path) if self.from_ is not None else x

    def _finish(self, scope: _Scope, inner: _Scope | None, out: int) -> int:
        scope.define(self.label, out, inner)
        return out


def _items_count(items: list[Item], memo: dict[int, tuple[int, int]], limit: int | None) -> tuple[int, int]:
    layers = groups = 0
    for item in items:
        key = id(item)
        got = memo.get(key)
        if got is None:
            got = memo[key] = item.count(memo, limit)
        layers += got[0]
        groups += got[1]
    return layers, groups


def _items_compile(cx: _Compiler, scope: _Scope, items: list[Item], x: int, path: str) -> int:
    for i, item in enumerate(items):
        x = item.compile(cx, scope, x, f"{path}[{i}]")
    return x


class Sequential(BlockItem):
    """Items in order. ``inline``: written as a nested list (an anchored list spliced into
    another): its items join the enclosing block (no group, no name)."""

    __slots__ = ("inline", "layers")
    kind = "sequential"
    keys = ("layers",)
    required = ("layers",)

    def __init__(
        self,
        layers: list[Item],
        label: str | None = None,
        loc: Loc = NOWHERE,
        inline: bool = False,
        from_: str | None = None,
    ):
        self.layers, self.label, self.loc, self.inline, self.from_ = layers, label, loc, inline, from_

    def children(self) -> list[list[Item]]:
        return [self.layers]

    def with_children(self, lists: list[list[Item]]) -> Item:
        other = copy.copy(self)
        (other.layers,) = lists
        return other

    def count(self, memo: dict[int, tuple[int, int]], limit: int | None) -> tuple[int, int]:
        layers, groups = _items_count(self.layers, memo, limit)
        return layers, groups + (0 if self.inline else 1)

    def compile(self, cx: _Compiler, scope: _Scope, x: int, path: str, name: str | None = None) -> int:
        x = self._input(scope, x, path)
        if self.inline and name is None:
            return _items_compile(cx, scope, self.layers, x, path)
        display = name or scope.child_name(self.label, "sequential")
        inner = scope.child(display)
        with cx.block(display, self.kind, self.label, self.loc):
            out = _items_compile(cx, inner, self.layers, x, path if self.inline else f"{path}.layers")
        return self._finish(scope, inner, out)


class Residual(BlockItem):
    __slots__ = ("body", "shortcut")
    kind = "residual"
    keys = ("body", "shortcut")
    required = ("body",)

    def __init__(
        self,
        body: list[Item],
        shortcut: list[Item] | None = None,
        label: str | None = None,
        loc: Loc = NOWHERE,
        from_: str | None = None,
    ):
        self.body, self.shortcut, self.label, self.loc, self.from_ = body, shortcut, label, loc, from_

    def children(self) -> list[list[Item]]:
        return [self.body, self.shortcut or []]

    def with_children(self, lists: list[list[Item]]) -> Item:
        other = copy.copy(self)
        other.body, shortcut = lists
        other.shortcut = shortcut if self.shortcut is not None else None
        return other

    def count(self, memo: dict[int, tuple[int, int]], limit: int | None) -> tuple[int, int]:
        b = _items_count(self.body, memo, limit)
        s = _items_count(self.shortcut or [], memo, limit)
        return b[0] + s[0] + 1, b[1] + s[1] + 1 + (1 if self.shortcut else 0)

    def compile(self, cx: _Compiler, scope: _Scope, x: int, path: str, name: str | None = None) -> int:
        from .layers import REGISTRY

        x = self._input(scope, x, path)
        display = name or scope.child_name(self.label, "residual")
        inner = scope.child(display)
        with cx.block(display, self.kind, self.label, self.loc):
            body = x
            for j, item in enumerate(self.body):
                body = item.compile(cx, inner, body, f"{path}.body[{j}]")
            short = x
            if self.shortcut:
                sc_name = inner.child_name("shortcut", "sequential")
                sc_scope = scope.child(sc_name)  # a parallel branch: it does not see the body's names
                with cx.block(sc_name, "sequential", None, self.loc):
                    for j, item in enumerate(self.shortcut):
                        short = item.compile(cx, sc_scope, short, f"{path}.shortcut[{j}]")
            add_name = inner.child_name("add", "add")
            out = cx.add(
                Node(add_name, REGISTRY["add"].build({}), (body, short), (), None, f"{path}.add", self.loc, cx.depth,
                     check=_same_shapes(f"residual at {path}", ("body", "shortcut")))
            )  # fmt: skip
        return self._finish(scope, inner, out)


class Concat(BlockItem):
    __slots__ = ("branches",)
    kind = "concat"
    keys = ("branches",)
    required = ("branches",)

    def __init__(
        self,
        branches: list[list[Item]],
        label: str | None = None,
        loc: Loc = NOWHERE,
        from_: str | None = None,
    ):
        self.branches, self.label, self.loc, self.from_ = branches, label, loc, from_

    def children(self) -> list[list[Item]]:
        return list(self.branches)

    def with_children(self, lists: list[list[Item]]) -> Item:
        other = copy.copy(self)
        other.branches = list(lists)
        return other

    def count(self, memo: dict[int, tuple[int, int]], limit: int | None) -> tuple[int, int]:
        layers, groups = 1, 1
        for branch in self.branches:
            a, b = _items_count(branch, memo, limit)
            layers += a
            groups += b + 1  # each branch is an operand of the concat, empty or not
        return layers, groups

    def compile(self, cx: _Compiler, scope: _Scope, x: int, path: str, name: str | None = None) -> int:
        from .layers import REGISTRY

        x = self._input(scope, x, path)
        display = name or scope.child_name(self.label, "concat")
        inner = scope.child(display)
        outs = []
        with cx.block(display, self.kind, self.label, self.loc):
            for b, branch in enumerate(self.branches):
                y = x
                if branch:
                    br_name = inner.child_name(f"branch{b + 1}", "branch")
                    br_scope = scope.child(br_name)
                    with cx.block(br_name, "sequential", None, self.loc):
                        for j, item in enumerate(branch):
                            y = item.compile(cx, br_scope, y, f"{path}.branches[{b}][{j}]")
                outs.append(y)
            cat_name = inner.child_name("concat", "concat")
            out = cx.add(
                Node(cat_name, REGISTRY["concat"].build({"axis": 0}), tuple(outs), (), None, f"{path}.concat", self.loc, cx.depth,
                     check=_concat_shapes(f"concat at {path}"))
            )  # fmt: skip
        return self._finish(scope, inner, out)


class Repeat(BlockItem):
    """``times`` copies of ``layers``; with ``first``, copy 0 is ``first`` instead (a stage
    whose first block differs: a stride, a projection shortcut)."""

    __slots__ = ("first", "layers", "times")
    kind = "repeat"
    keys = ("times", "layers", "first")
    required = ("times", "layers")

    def __init__(
        self,
        times: int,
        layers: list[Item],
        label: str | None = None,
        loc: Loc = NOWHERE,
        from_: str | None = None,
        first: list[Item] | None = None,
    ):
        self.times, self.layers, self.label, self.loc, self.from_ = times, layers, label, loc, from_
        self.first = first

    def children(self) -> list[list[Item]]:
        return [self.layers] if self.first is None else [self.layers, self.first]

    def with_children(self, lists: list[list[Item]]) -> Item:
        other = copy.copy(self)
        other.layers = lists[0]
        if self.first is not None:
            other.first = lists[1]
        return other

    def _body(self, t: int) -> list[Item]:
        return self.first if t == 0 and self.first is not None else self.layers

    def _copy_group(self) -> bool:
        def several(items: list[Item]) -> bool:
            return len(items) > 1 or (
                len(items) == 1 and isinstance(items[0], Sequential) and items[0].inline
            )

        return several(self.layers) or (self.first is not None and several(self.first))

    def count(self, memo: dict[int, tuple[int, int]], limit: int | None) -> tuple[int, int]:
        layers, groups = _items_count(self.layers, memo, limit)
        f_layers, f_groups = (
            _items_count(self.first, memo, limit) if self.first is not None else (layers, groups)
        )
        if layers == groups == f_layers == f_groups == 0:
            return 0, 1  # an empty body: the repeat is the identity, expanded once
        extra = 1 if self._copy_group() else 0
        total_layers = f_layers + (self.times - 1) * layers
        total_groups = f_groups + extra + (self.times - 1) * (groups + extra) + 1
        if limit is not None:  # the repeat whose times crosses a limit is the one to blame
            for n, inner, what in (
                (total_layers, max(layers, f_layers), "layers"),
                (total_groups, max(groups, f_groups) + extra, "blocks and copies"),
            ):
                if n > limit >= inner:
                    raise LimitError(
                        f"this repeat expands to {n:,} {what}; the limit is {limit:,}",
                        where=self.loc.at("times"),
                    )
        return total_layers, total_groups

    def compile(self, cx: _Compiler, scope: _Scope, x: int, path: str, name: str | None = None) -> int:
        x = self._input(scope, x, path)
        display = name or scope.child_name(self.label, "repeat")
        inner = scope.child(display)
        names: dict[str, tuple[int, _Scope | None]] = {}  # shared by the copies: a loop's variables
        if cx.count(self) == (0, 1):
            with cx.block(display, self.kind, self.label, self.loc):
                pass
            return self._finish(scope, inner, x)
        group = self._copy_group()
        with cx.block(display, self.kind, self.label, self.loc):
            for t in range(self.times):
                cname = f"{display}.{t}"
                cscope = scope.child(cname, names)
                body = self._body(t)
                cpath = f"{path}.first" if body is not self.layers else f"{path}[{t}].layers"
                if group:
                    with cx.block(cname, "copy", None, self.loc):  # display: a repeat's copy
                        x = _items_compile(cx, cscope, body, x, cpath)
                elif body:
                    x = body[0].compile(cx, cscope, x, f"{cpath}[0]", name=cname)
                inner = cscope
        return self._finish(scope, inner, x)


BLOCKS: dict[str, type[BlockItem]] = {cls.kind: cls for cls in (Sequential, Residual, Concat, Repeat)}


def _kind_of(layer: Layer) -> str:
    """The stem of an unnamed layer's display name: its type (an activation: its function)."""
    if layer.type_name == "activation":
        return str(layer.params.get("fn", "activation"))
    return layer.type_name


def _same_shapes(where: str, what: tuple[str, str]) -> Callable[[tuple[Shape, ...]], None]:
    def check(shapes: tuple[Shape, ...]) -> None:
        a, b = shapes
        if a != b:
            raise GeometryError(f"{where}: {what[0]} gives {list(a)}, {what[1]} gives {list(b)}")

    return check


def _concat_shapes(where: str) -> Callable[[tuple[Shape, ...]], None]:
    def check(shapes: tuple[Shape, ...]) -> None:
        first = shapes[0]
        for b, s in enumerate(shapes[1:], 1):
            if s[1:] != first[1:]:
                raise GeometryError(
                    f"{where}: branches[{b}] gives {list(s)}, but branches[0] gives {list(first)}: "
                    "all but the channel dim must match"
                )

    return check


# -- compiling -------------------------------------------------------------------------------------
class _Scope:
    """Names visible at a point of a spec (``names``: name -> (tensor, inner scope of a named
    block)) and the display names given so far in one group."""

    __slots__ = ("counts", "names", "parent", "prefix", "used")

    def __init__(self, parent: _Scope | None, prefix: str, names: dict | None = None):
        self.parent = parent
        self.prefix = prefix
        self.names: dict[str, tuple[int, _Scope | None]] = {} if names is None else names
        self.counts: dict[str, int] = {}
        self.used: set[str] = set()

    def child(self, display: str, names: dict | None = None) -> _Scope:
        return _Scope(self, display + ".", names)

    def child_name(self, label: str | None, kind: str) -> str:
        """A display name unique in this group: the label, or ``{kind}{k}``."""
        if label:
            base = label
        else:
            k = self.counts[kind] = self.counts.get(kind, 0) + 1
            base = f"{kind}_{k}" if kind[-1:].isdigit() else f"{kind}{k}"
        name, k = base, 2
        while name in self.used:
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        return self.prefix + name

    def define(self, label: str | None, ref: int, inner: _Scope | None = None) -> None:
        if label:
            self.names[label] = (ref, inner)

    def resolve(self, name: str, loc: Loc, key: str, path: str) -> int:
        scope: _Scope | None = self
        head, _, rest = name.partition(".")
        while scope is not None:
            got = scope.names.get(name)
            if got is not None:
                return got[0]
            if rest:
                got = scope.names.get(head)
                if got is not None:
                    return _descend(got, rest, name, loc, key, path)
            scope = scope.parent
        if name == INPUT_NAME:
            return -1
        raise SpecError(
            f"{_at(path, key)}: no earlier layer or block is named {name!r}{self._suggest(name)}",
            where=loc.at(key),
        )

    def _suggest(self, name: str) -> str:
        from ._suggest import did_you_mean

        seen: list[str] = [INPUT_NAME]
        scope: _Scope | None = self
        while scope is not None:
            seen.extend(scope.names)
            scope = scope.parent
        return did_you_mean(name, seen)


def _at(path: str, key: str) -> str:
    return key if path == key else f"{path}: {key}"


def _descend(got: tuple[int, _Scope | None], rest: str, name: str, loc: Loc, key: str, path: str) -> int:
    ref, inner = got
    for part in rest.split("."):
        entry = inner.names.get(part) if inner is not None else None
        if entry is None:
            raise SpecError(f"{_at(path, key)}: {name!r}: no {part!r} inside it", where=loc.at(key))
        ref, inner = entry
    return ref


class _Compiler:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.depth = 0
        self.memo: dict[int, tuple[int, int]] = {}

    def count(self, item: Item) -> tuple[int, int]:
        got = self.memo.get(id(item))
        return got if got is not None else item.count(self.memo, None)

    def add(self, node: Node) -> int:
        self.graph.nodes.append(node)
        return len(self.graph.nodes) - 1

    def block(self, name: str, kind: str, label: str | None, loc: Loc) -> _Group:
        return _Group(self, name, kind, label, loc)


class _Group:
    __slots__ = ("block", "cx", "loc")

    def __init__(self, cx: _Compiler, name: str, kind: str, label: str | None, loc: Loc):
        self.cx, self.loc = cx, loc
        self.block = Block(name, kind, label, cx.depth, len(cx.graph.nodes))

    def __enter__(self) -> None:
        if self.cx.depth >= MAX_NESTING:
            raise LimitError(f"blocks nested deeper than {MAX_NESTING} levels", where=self.loc.at())
        self.cx.graph.blocks.append(self.block)
        self.cx.depth += 1

    def __exit__(self, *exc: object) -> None:
        self.cx.depth -= 1
        self.block.end = len(self.cx.graph.nodes)


def compile_tree(
    name: str,
    input_shape: Shape,
    items: list[Item],
    outputs: list[tuple[str, Loc]] | None = None,
    loc: Loc = NOWHERE,
    max_layers: int = MAX_LAYERS,
) -> Graph:
    """Compile a spec's items into a graph, after checking the limits without expanding."""
    cx = _Compiler(Graph(name, [GraphInput(INPUT_NAME, tuple(input_shape))]))
    layers, groups = _items_count(items, cx.memo, max_layers)
    if layers > max_layers:
        raise LimitError(
            f"the network expands to {layers:,} layers; the limit is {max_layers:,}", where=loc.at("layers")
        )
    if groups > MAX_GROUPS:
        raise LimitError(
            f"the network expands to {groups:,} blocks, copies and branches; the limit is {MAX_GROUPS:,}",
            where=loc.at("layers"),
        )
    top = _Scope(None, "")
    out = _items_compile(cx, top, items, -1, "layers")
    graph = cx.graph
    if outputs:
        for out_name, out_loc in outputs:
            graph.outputs.append((out_name, top.resolve(out_name, out_loc, "outputs", "outputs")))
    else:
        graph.outputs.append((graph.tensor_name(out), out))
    _check_dangling(graph)
    return graph


def _check_dangling(graph: Graph) -> None:
    used = [False] * len(graph.nodes)
    for node in graph.nodes:
        for r in Graph.reads(node):
            if r >= 0:
                used[r] = True
    for _, r in graph.outputs:
        if r >= 0:
            used[r] = True
    for i, node in enumerate(graph.nodes):
        if not used[i]:
            raise SpecError(
                f"{node.path}: the output of {node.name} is never used: read it (from:, inputs:) or list it "
                "in the spec's outputs:",
                where=node.loc.at(),
            )
