"""Safe YAML loading that keeps line numbers, for ``FILE:LINE: message`` errors.

libyaml (PyYAML's C parser, when present) composes the node tree; we build plain Python
values from it ourselves, so that:
  * only plain data tags are accepted: a ``!!python/...`` tag is an error, never executed;
  * each mapping and list remembers its line and the line of each key / item;
  * aliases are shared, never expanded: an alias "billion laughs" costs nothing here, and
    callers that expand (``repeat``) count before they do; recursive aliases are refused;
  * duplicate keys are an error (PyYAML would silently keep the last one);
  * merge keys (``<<: *base``) work as in YAML 1.1.
"""

from __future__ import annotations

from typing import Any

from .errors import LimitError, SpecError

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 200


class YMap(dict):
    """A mapping with ``line`` (1-based) and ``key_lines`` (key -> line)."""

    __slots__ = ("line", "key_lines")

    def key_line(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class YList(list):
    """A list with ``line`` and ``item_lines`` (index -> line)."""

    __slots__ = ("line", "item_lines")

    def item_line(self, i: int) -> int:
        return self.item_lines[i] if i < len(self.item_lines) else self.line


def line_of(obj: Any, default: int = 0) -> int:
    return getattr(obj, "line", default)


def read_text(path: str) -> str:
    """Read a spec file as UTF-8 text, with clear errors for missing, huge or binary files."""
    import os

    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise LimitError(f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}", where=path)
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SpecError("no such file", where=path) from None
    except IsADirectoryError:
        raise SpecError("is a directory, not a spec file", where=path) from None
    except OSError as e:
        raise SpecError(f"cannot read: {e.strerror or e}", where=path) from None
    return decode(data, path)


def decode(data: bytes, where: str) -> str:
    if b"\x00" in data:
        raise SpecError("is a binary file (it contains NUL bytes), not a YAML spec", where=where)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise SpecError(f"is not UTF-8 text (byte 0x{data[e.start]:02x} on this line)",
                        where=f"{where}:{line}") from None


def load(text: str, where: str = "<spec>") -> Any:
    """Parse one YAML document into YMap / YList / scalars."""
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader_cls)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        msg = (e.problem or e.context or "invalid YAML").strip()
        if "nesting depth" in msg:
            raise LimitError(f"YAML {msg}", where=f"{where}:{line}") from None
        raise SpecError(f"invalid YAML: {msg}", where=f"{where}:{line}") from None
    except yaml.YAMLError as e:  # e.g. more than one document, reader errors
        raise SpecError(f"invalid YAML: {str(e).splitlines()[0]}", where=where) from None
    if node is None:
        return None
    return _Builder(where).build(node)


_TAG = "tag:yaml.org,2002:"


class _Builder:
    def __init__(self, where: str):
        import yaml.constructor

        self.where = where
        self.memo: dict[int, Any] = {}
        self.active: set[int] = set()
        self.ctor = yaml.constructor.SafeConstructor()

    def fail(self, node, message: str) -> SpecError:
        return SpecError(message, where=f"{self.where}:{node.start_mark.line + 1}")

    def build(self, node, depth: int = 0) -> Any:
        key = id(node)
        if key in self.memo:
            return self.memo[key]
        if key in self.active:
            raise self.fail(node, "recursive alias: a node contains itself")
        if depth > MAX_DEPTH:
            raise LimitError(f"nesting deeper than {MAX_DEPTH} levels",
                             where=f"{self.where}:{node.start_mark.line + 1}")
        tag = node.tag
        kind = node.id
        if kind == "scalar":
            value = self.scalar(node, tag)
        elif kind == "sequence":
            if tag != _TAG + "seq":
                raise self.fail(node, f"tag {tag!r} is not allowed (specs are plain data)")
            self.active.add(key)
            value = YList(self.build(n, depth + 1) for n in node.value)
            value.line = node.start_mark.line + 1
            value.item_lines = [n.start_mark.line + 1 for n in node.value]
            self.active.discard(key)
        else:
            if tag != _TAG + "map":
                raise self.fail(node, f"tag {tag!r} is not allowed (specs are plain data)")
            self.active.add(key)
            value = self.mapping(node, depth)
            self.active.discard(key)
        self.memo[key] = value
        return value

    def scalar(self, node, tag: str) -> Any:
        short = tag[len(_TAG):] if tag.startswith(_TAG) else None
        if short == "str":
            return node.value
        if short == "int":
            return self.ctor.construct_yaml_int(node)
        if short == "float":
            return self.ctor.construct_yaml_float(node)
        if short == "bool":
            return self.ctor.construct_yaml_bool(node)
        if short == "null":
            return None
        if short == "timestamp":  # a date-like value: keep its text; type checks will judge it
            return node.value
        raise self.fail(node, f"tag {tag!r} is not allowed (specs are plain data)")

    def mapping(self, node, depth: int) -> YMap:
        out = YMap()
        out.line = node.start_mark.line + 1
        lines: dict = {}
        merged: list[YMap] = []
        for knode, vnode in node.value:
            if knode.tag == _TAG + "merge":
                src = self.build(vnode, depth + 1)
                srcs = src if isinstance(src, list) else [src]
                for m in srcs:
                    if not isinstance(m, YMap):
                        raise self.fail(vnode, "a merge key (<<) needs a mapping or a list of mappings")
                merged.extend(srcs)
                continue
            if knode.id != "scalar":
                raise self.fail(knode, "mapping keys must be plain strings")
            k = self.scalar(knode, knode.tag)
            if not isinstance(k, (str, int, bool, float)) and k is not None:
                raise self.fail(knode, "mapping keys must be plain strings")
            k = str(k) if not isinstance(k, str) else k
            if k in lines:
                raise self.fail(knode, f"duplicate key {k!r} (first on line {lines[k]})")
            lines[k] = knode.start_mark.line + 1
            out[k] = self.build(vnode, depth + 1)
        for m in merged:  # explicit keys win over merged ones; earlier merges win over later
            for k, v in m.items():
                if k not in out:
                    out[k] = v
                    lines[k] = m.key_line(k)
        out.key_lines = lines
        return out
