"""The one model of a network: a DAG of layer nodes over tensors.

Every front end (YAML tree and graph specs, ONNX, torch) builds a ``Graph``; every analysis
(shapes and costs, receptive fields, liveness and peak memory, memory traffic) is a pass over
``Graph.nodes`` in order. Pure data: no YAML, no printing.

A tensor reference is an ``int``: ``r >= 0`` is the output of ``nodes[r]``; ``r < 0`` is the
graph input ``-1 - r``. Nodes are in topological order: a node refers only to earlier nodes
and to graph inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .layers.base import Layer, Shape

_NO_KEY_LINES: dict[str, int] = {}  # shared by every Loc without key lines; never written to


class Loc:
    """Where something was written: file, line, and the line of each of its keys."""

    __slots__ = ("file", "key_lines", "line")

    def __init__(self, file: str = "", line: int = 0, key_lines: dict[str, int] | None = None):
        self.file = file
        self.line = line
        self.key_lines = key_lines or _NO_KEY_LINES

    def at(self, key: str | None = None) -> str:
        """``file:line`` of the whole thing, or of one of its keys."""
        if not self.file:
            return ""
        line = self.key_lines.get(key, self.line) if key else self.line
        return f"{self.file}:{line}" if line else self.file


NOWHERE = Loc()


def input_ref(k: int) -> int:
    """The reference to graph input ``k``."""
    return -1 - k


@dataclass(slots=True)
class GraphInput:
    """A network input: its tensor name and shape (channels first, no batch)."""

    name: str
    shape: Shape


@dataclass(slots=True, eq=False)
class Node:
    """One layer applied to tensors.

    ``name`` is the unique display name (a dotted path: ``stage2.block1.conv2``); ``path``
    is where the spec wrote it (``layers[4].body[0]``), for messages; ``label`` is the spec's
    ``name:``. ``inputs`` are the data inputs in order; ``refs`` the tensors read only for
    their shape (``(field, ref)``, e.g. resize's ``like``). ``check`` (optional) validates the
    input shapes before the layer is costed, with a message in the front end's terms."""

    name: str
    layer: Layer
    inputs: tuple[int, ...]
    refs: tuple[tuple[str, int], ...] = ()
    label: str | None = None
    path: str = ""
    loc: Loc = NOWHERE
    depth: int = 0
    check: Callable[[tuple[Shape, ...]], None] | None = None


@dataclass(slots=True, eq=False)
class Block:
    """A display group: ``nodes[start:end]`` belong to it (blocks nest; outer ones first)."""

    name: str
    kind: str
    label: str | None
    depth: int
    start: int
    end: int = -1


@dataclass(slots=True, eq=False)
class Graph:
    """Nodes in topological order, the network inputs and outputs, and display groups."""

    name: str
    inputs: list[GraphInput]
    nodes: list[Node] = field(default_factory=list)
    outputs: list[tuple[str, int]] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    def tensor_name(self, ref: int) -> str:
        """The name of a tensor: its producer's name, or the input's."""
        return self.nodes[ref].name if ref >= 0 else self.inputs[-1 - ref].name

    def consumers(self) -> list[list[int]]:
        """For each node, the nodes that read its output (data inputs and refs)."""
        out: list[list[int]] = [[] for _ in self.nodes]
        for i, node in enumerate(self.nodes):
            for r in self.reads(node):
                if r >= 0:
                    out[r].append(i)
        return out

    @staticmethod
    def reads(node: Node) -> Iterator[int]:
        yield from node.inputs
        for _, r in node.refs:
            yield r

    def validate(self) -> None:
        """Check the graph's invariants (topological order, references in range).
        Front ends build valid graphs; this guards hand-built ones (and tests them)."""
        n_in = len(self.inputs)
        for i, node in enumerate(self.nodes):
            for r in self.reads(node):
                if not (-n_in <= r < i):
                    raise ValueError(f"node {i} ({node.name}) reads tensor {r}, which is not earlier")
        for name, r in self.outputs:
            if not (-n_in <= r < len(self.nodes)):
                raise ValueError(f"output {name!r} refers to tensor {r}, which does not exist")
