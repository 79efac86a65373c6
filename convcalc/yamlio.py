"""Safe YAML loading that keeps line numbers, for ``FILE:LINE: message`` errors.

Two readers give the same values and lines. Plain machine-written YAML (block mappings and
lists, one-line flow collections of plain words and numbers, comments: what big generated
specs are made of) is read line by line by ``_Fast``, about twice as fast as libyaml's event
stream can be turned into Python values. Anything else, and every error, goes to libyaml
(PyYAML's C parser): we build plain Python values from its event stream ourselves, in one
pass with an explicit stack (no node tree, no recursion), so that:
  * only plain data tags are accepted: a ``!!python/...`` tag is an error, never executed;
  * each mapping and list remembers its line and the line of each key / item;
  * aliases are shared, never expanded: an alias "billion laughs" costs nothing here, and
    callers that expand (``repeat``) count before they do; recursive aliases are refused;
  * duplicate keys are an error (PyYAML would silently keep the last one);
  * merge keys (``<<: *base``) work as in YAML 1.1;
  * nesting deeper than MAX_DEPTH is refused, also when aliases nest (libyaml stops at 1000).

Plain scalars are resolved exactly as PyYAML's SafeLoader resolves them (YAML 1.1: ``yes``
is true, ``1_000`` is 1000), with one cache per document: a spec repeats the same few
values (``conv``, ``3``, ``true``) thousands of times. The cyclic garbage collector is paused
while a document is built: everything built here is acyclic, and a 100,000-layer file
otherwise spends most of its time in collections that free nothing.
"""

from __future__ import annotations

import re as _re
from typing import Any

from .errors import LimitError, SpecError

MAX_FILE_BYTES = 32 * 1024 * 1024
# Nesting of YAML collections (through aliases too). Deep enough for network.MAX_NESTING (100)
# blocks, each a mapping and a list; shallow enough that whatever consumes the values may
# recurse over them.
MAX_DEPTH = 256


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
    except ValueError as e:  # e.g. a NUL byte in the path (library callers)
        raise SpecError(f"cannot read: {e}", where=repr(path)) from None
    if len(data) > MAX_FILE_BYTES:  # a device or a file that grew: never read past the limit
        raise LimitError(f"file is larger than the limit of {MAX_FILE_BYTES:,} bytes", where=path)
    return decode(data, path)


def decode(data: bytes, where: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise LimitError(f"input is larger than the limit of {MAX_FILE_BYTES:,} bytes", where=where)
    if b"\x00" in data:
        raise SpecError("is a binary file (it contains NUL bytes), not a YAML spec", where=where)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise SpecError(
            f"is not UTF-8 text (byte 0x{data[e.start]:02x} on this line)", where=f"{where}:{line}"
        ) from None


def load(text: str, where: str = "<spec>") -> Any:
    """Parse one YAML document into YMap / YList / scalars (None for an empty document)."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        value = _Fast(text).document()
    except Exception:  # _NotSimple: not plain enough (and, defensively, anything else): libyaml
        value = _NotSimple
    finally:
        if was_enabled:
            gc.enable()
    if value is not _NotSimple:
        return value
    return _load_libyaml(text, where)


def _load_libyaml(text: str, where: str) -> Any:
    import gc

    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    loader = loader_cls(text)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Builder(where, loader).document()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        msg = " ".join((e.problem or e.context or "invalid YAML").split())
        ctx = e.context_mark
        if e.problem and e.context and ctx is not None and mark is not None and ctx.line != mark.line:
            msg += f" ({' '.join(e.context.split())} on line {ctx.line + 1})"
        if "nesting depth" in msg:
            raise LimitError(f"YAML {msg}", where=f"{where}:{line}") from None
        raise SpecError(f"invalid YAML: {msg}", where=f"{where}:{line}" if line else where) from None
    except yaml.YAMLError as e:  # reader errors (e.g. control characters)
        first = (str(e).splitlines() or ["invalid YAML"])[0]
        raise SpecError(f"invalid YAML: {first}", where=where) from None
    finally:
        if was_enabled:
            gc.enable()
        dispose = getattr(loader, "dispose", None)
        if dispose is not None:
            dispose()


_TAG = "tag:yaml.org,2002:"
_MAP, _SEQ, _STR, _MERGE = _TAG + "map", _TAG + "seq", _TAG + "str", _TAG + "merge"
_NOKEY = object()  # a mapping frame waiting for its next key
_MERGE_KEY = object()


class _Frame:
    """An open mapping or sequence while its events arrive."""

    __slots__ = ("obj", "lines", "anchor", "key", "key_line", "merged", "is_map", "height")

    def __init__(self, obj, lines, anchor, is_map):
        self.obj, self.lines, self.anchor, self.is_map = obj, lines, anchor, is_map
        self.key = _NOKEY
        self.key_line = 0
        self.merged = None
        self.height = 0  # levels of collections inside, counting through aliases


class _Builder:
    def __init__(self, where: str, loader):
        import yaml

        self.where = where
        self.loader = loader
        self.yaml = yaml
        self.anchors: dict[str, Any] = {}
        self.open_anchors: set[str] = set()
        self.heights: dict[int, int] = {}  # id(anchored collection) -> its height
        self.plain: dict[str, Any] = {}  # plain scalar text -> value (or _MERGE_KEY)
        # One int object per line number: key_lines and item_lines of a 100,000-layer file
        # hold hundreds of thousands of them, and they outlive the document (in spec locations).
        self.line_ints: dict[int, int] = {}

    def fail(self, line: int, message: str) -> SpecError:
        return SpecError(message, where=f"{self.where}:{line}")

    # -- the event loop --------------------------------------------------------------------------
    def document(self) -> Any:
        y = self.yaml
        get = self.loader.get_event
        ev = get()  # StreamStartEvent
        ev = get()
        if isinstance(ev, y.StreamEndEvent):
            return None  # no document at all (empty, or only comments)
        Scalar, Alias = y.ScalarEvent, y.AliasEvent
        MapStart, MapEnd = y.MappingStartEvent, y.MappingEndEvent
        SeqStart, SeqEnd = y.SequenceStartEvent, y.SequenceEndEvent
        DocEnd = y.DocumentEndEvent
        stack: list[_Frame] = []
        root = None
        attach = self.attach
        while True:
            ev = get()
            cls = type(ev)
            if cls is Scalar:
                value = self.scalar(ev)
                if ev.anchor is not None:
                    self.anchors[ev.anchor] = value
                root = attach(stack, value, ev, root)
            elif cls is MapStart or cls is SeqStart:
                line = ev.start_mark.line + 1
                line = self.line_ints.setdefault(line, line)
                if len(stack) >= MAX_DEPTH:
                    raise LimitError(f"nesting deeper than {MAX_DEPTH} levels", where=f"{self.where}:{line}")
                tag = ev.tag
                is_map = cls is MapStart
                if tag is not None and tag != "!" and tag != (_MAP if is_map else _SEQ):
                    raise self.fail(line, _bad_tag(tag))
                if stack and stack[-1].is_map and stack[-1].key is _NOKEY:
                    raise self.fail(line, "mapping keys must be plain strings")
                if is_map:
                    obj = YMap()
                    lines: Any = {}
                else:
                    obj = YList()
                    lines = []
                obj.line = line
                frame = _Frame(obj, lines, ev.anchor, is_map)
                if ev.anchor is not None:
                    self.anchors[ev.anchor] = obj
                    self.open_anchors.add(ev.anchor)
                stack.append(frame)
            elif cls is MapEnd or cls is SeqEnd:
                frame = stack.pop()
                obj = frame.obj
                if frame.is_map:
                    if frame.merged:
                        self.merge(frame)
                    obj.key_lines = frame.lines
                else:
                    obj.item_lines = frame.lines
                if frame.anchor is not None:
                    self.open_anchors.discard(frame.anchor)
                    self.heights[id(obj)] = frame.height + 1
                if stack and stack[-1].height <= frame.height:
                    stack[-1].height = frame.height + 1
                root = attach(stack, obj, None, root, obj.line)
            elif cls is Alias:
                line = ev.start_mark.line + 1
                name = ev.anchor
                if name in self.open_anchors:
                    raise self.fail(line, f"recursive alias *{name}: a node contains itself")
                if name not in self.anchors:
                    raise self.fail(line, f"alias *{name} refers to no anchor (define &{name} before it)")
                value = self.anchors[name]
                if isinstance(value, (YMap, YList)) and stack:
                    if stack[-1].is_map and stack[-1].key is _NOKEY:
                        raise self.fail(line, "mapping keys must be plain strings")
                    # Aliases share, so a chain of them nests without nesting the text:
                    # count the levels they bring, or consumers would recurse without end.
                    height = self.heights[id(value)]
                    if len(stack) + height > MAX_DEPTH:
                        raise LimitError(
                            f"nesting deeper than {MAX_DEPTH} levels (through aliases: "
                            f"*{name} holds {height} levels)",
                            where=f"{self.where}:{line}",
                        )
                    if stack[-1].height < height:
                        stack[-1].height = height
                root = attach(stack, value, None, root, line)
            elif cls is DocEnd:
                break
            else:  # pragma: no cover - libyaml emits nothing else inside a document
                raise self.fail(ev.start_mark.line + 1, f"unexpected YAML event {cls.__name__}")
        ev = get()
        if not isinstance(ev, y.StreamEndEvent):
            raise self.fail(
                ev.start_mark.line + 1,
                "more than one YAML document (a '---' line starts another): a spec is one",
            )
        return root

    def attach(self, stack: list, value: Any, ev, root: Any, line: int = 0) -> Any:
        """Put a finished value in its parent; returns the (possibly new) root."""
        if not stack:
            return value
        frame = stack[-1]
        if ev is not None:
            line = ev.start_mark.line + 1
            line = self.line_ints.setdefault(line, line)
        if not frame.is_map:
            frame.obj.append(value)
            frame.lines.append(line)
            return root
        key = frame.key
        if key is _NOKEY:  # this value is a key
            if value is _MERGE_KEY:
                frame.key = _MERGE_KEY
            elif value is None or isinstance(value, (str, int, float)):
                k = value if isinstance(value, str) else str(value)
                if k in frame.lines:
                    raise self.fail(line, f"duplicate key {k!r} (first on line {frame.lines[k]})")
                frame.key = k
                frame.lines[k] = line
            else:
                raise self.fail(line, "mapping keys must be plain strings")
            frame.key_line = line
            return root
        frame.key = _NOKEY
        if key is _MERGE_KEY:
            srcs = value if isinstance(value, list) else [value]
            for m in srcs:
                if not isinstance(m, YMap):
                    raise self.fail(frame.key_line, "a merge key (<<) needs a mapping or a list of mappings")
            if frame.merged is None:
                frame.merged = []
            frame.merged.extend(srcs)
            return root
        if value is _MERGE_KEY:
            value = "<<"
        frame.obj[key] = value
        return root

    @staticmethod
    def merge(frame: _Frame) -> None:
        """Explicit keys win over merged ones; earlier merges win over later ones."""
        out, lines = frame.obj, frame.lines
        for m in frame.merged:
            for k, v in m.items():
                if k not in out:
                    out[k] = v
                    lines[k] = m.key_line(k)

    # -- scalars -----------------------------------------------------------------------------
    def scalar(self, ev) -> Any:
        tag = ev.tag
        if tag is None or tag == "!":
            if not ev.implicit[0] or tag == "!":  # quoted, block or '!'-tagged: a string
                return ev.value
            text = ev.value
            try:
                return self.plain[text]
            except KeyError:
                pass
            value = self.plain[text] = self.resolve(text, ev)
            return value
        return self.construct(tag, ev.value, ev)

    def resolve(self, text: str, ev) -> Any:
        tag = _resolver().resolve(self.yaml.ScalarNode, text, (True, False))
        if tag == _MERGE:
            return _MERGE_KEY
        if tag == _TAG + "value":  # a lone '=' (YAML 1.1's value key): just text here
            return text
        return self.construct(tag, text, ev)

    def construct(self, tag: str, text: str, ev) -> Any:
        short = tag[len(_TAG) :] if tag.startswith(_TAG) else None
        if short == "str":
            return text
        if short == "null":
            return None
        if short == "timestamp":  # a date-like value: keep its text; type checks will judge it
            return text
        if short in ("int", "float", "bool"):
            ctor = _constructor()
            node = self.yaml.ScalarNode(tag, text)
            try:
                if short == "int":
                    return ctor.construct_yaml_int(node)
                if short == "float":
                    return ctor.construct_yaml_float(node)
                return ctor.construct_yaml_bool(node)
            except (ValueError, KeyError, OverflowError) as e:
                line = ev.start_mark.line + 1
                if "digits" in str(e):  # Python refuses int(str) past 4,300 digits
                    raise self.fail(line, f"a number of {len(text):,} characters is too long") from None
                shown = text if len(text) <= 40 else text[:37] + "..."
                raise self.fail(line, f"{shown!r} is not a valid {short}") from None
        raise self.fail(ev.start_mark.line + 1, _bad_tag(tag))


def _bad_tag(tag: str) -> str:
    shown = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
    return f"tag {shown!r} is not allowed (specs are plain data)"


_CACHE: dict[str, Any] = {}


def _resolver():
    r = _CACHE.get("resolver")
    if r is None:
        import yaml.resolver

        r = _CACHE["resolver"] = yaml.resolver.Resolver()
    return r


def _constructor():
    c = _CACHE.get("constructor")
    if c is None:
        import yaml.constructor

        c = _CACHE["constructor"] = yaml.constructor.SafeConstructor()
    return c


# -- the fast path -------------------------------------------------------------------------------
# Big specs are machine-written: block mappings and lists of one-line flow mappings of plain
# words and numbers. libyaml spends most of its time making Python objects for every event
# and its two marks; this reads that plain subset of YAML directly, line by line, and gives
# the same values, lines and errors by giving up (raising _NotSimple) at anything else:
# quotes, anchors, aliases, tags, block scalars, tabs, multi-line scalars, documents markers,
# duplicate keys, odd indentation, deep nesting. libyaml then reads the file (and reports its
# errors). tests/test_fuzz.py checks that both paths agree on every input the fast one takes.


class _NotSimple(Exception):
    """The text is outside the fast path's subset: use libyaml."""


_BAD_CHARS = _re.compile("[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|\ufeff")
_INDICATORS = _re.compile(r"""[&*!|>"'%@`?\\]|^(?:---|\.\.\.)""", _re.M)
_COMMENT = _re.compile(r"(?:^|[ ])#.*$")
_MAP_LINE = _re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?: +(.*))?$")
_SEQ_LINE = _re.compile(r"- +(.*)$")
_PLAIN = _re.compile(r"(?:[A-Za-z0-9_.~+/(]|-(?=[0-9.]))[^:]*$")
_WORD = r"(?:[A-Za-z0-9_.~+/(]|-(?=[0-9.]))[^\[\]{},: ]*"  # a plain scalar inside [...] or {...}
_FLOW_TOKEN = _re.compile(r" *(?:([\[\]{},])|(:)(?= )|(" + _WORD + "))")
_FLOW_ALL = _re.compile(r"(?: *(?:[\[\]{},]|:(?= )|" + _WORD + "))* *")
# the common case, a flow mapping of plain keys and plain values: {type: conv, kernel: 3}
_KEY = r"[A-Za-z_][A-Za-z0-9_-]*"
_FLAT_MAP = _re.compile(r"\{ *(?:" + _KEY + ": +" + _WORD + " *, *)*" + _KEY + ": +" + _WORD + r" *\}")
_FLAT_PAIR = _re.compile("(" + _KEY + "): +(" + _WORD + ")")
_FAST_MAX_DEPTH = 64


class _Fast:
    __slots__ = ("lines", "pos", "plain", "keys", "depth")

    def __init__(self, text: str):
        if _BAD_CHARS.search(text):  # tabs, CR, control characters, BOM: libyaml's business
            raise _NotSimple
        lines = []
        sub = _COMMENT.sub
        # indicators (quotes, anchors, tags...) may still sit in comments: look line by line
        # only when the text has any
        indicator = _INDICATORS.search if _INDICATORS.search(text) or "\n---" in text else None
        for n, raw in enumerate(text.split("\n"), 1):
            if "#" in raw:
                raw = sub("", raw)
            content = raw.strip(" ")
            if content:
                if indicator is not None and indicator(raw):
                    raise _NotSimple
                lines.append((len(raw) - len(raw.lstrip(" ")), content, n))
        self.lines = lines
        self.pos = 0
        self.plain: dict[str, Any] = {}
        self.keys: dict[str, str] = {}
        self.depth = 0

    def document(self) -> Any:
        if not self.lines or self.lines[0][0] != 0:
            raise _NotSimple
        value = self.block(0)
        if self.pos != len(self.lines):
            raise _NotSimple
        return value

    def block(self, indent: int) -> Any:
        self.depth += 1
        if self.depth > _FAST_MAX_DEPTH:
            raise _NotSimple
        _, content, _ = self.lines[self.pos]
        value = self.seq(indent) if content[:1] == "-" else self.map(indent)
        self.depth -= 1
        return value

    def seq(self, indent: int) -> YList:
        lines, n = self.lines, len(self.lines)
        out = YList()
        out.line = lines[self.pos][2]
        item_lines = []
        while self.pos < n:
            ind, content, line = lines[self.pos]
            if ind != indent:
                if ind > indent:
                    raise _NotSimple
                break
            m = _SEQ_LINE.match(content)
            if m is None:
                if content[:1] == "-":
                    raise _NotSimple
                break
            rest = m.group(1)
            if rest[0] not in "[{" and _MAP_LINE.match(rest):  # "- key: v": keys start at this column
                col = ind + len(content) - len(rest)
                lines[self.pos] = (col, rest, line)
                self.depth += 1
                value = self.map(col)
                self.depth -= 1
            else:
                value = self.inline(rest, line)
                self.pos += 1
            out.append(value)
            item_lines.append(line)
        out.item_lines = item_lines
        return out

    def map(self, indent: int) -> YMap:
        lines, n = self.lines, len(self.lines)
        out = YMap()
        out.line = lines[self.pos][2]
        key_lines: dict = {}
        while self.pos < n:
            ind, content, line = lines[self.pos]
            if ind != indent:
                if ind > indent:
                    raise _NotSimple
                break
            m = _MAP_LINE.match(content)
            if m is None:
                if content[:1] == "-":
                    break  # a sequence at this indent belongs to an outer key
                raise _NotSimple
            key = self.key(m.group(1))
            if key in key_lines:
                raise _NotSimple  # duplicate: libyaml's path reports it
            key_lines[key] = line
            rest = m.group(2)
            self.pos += 1
            if rest:
                out[key] = self.inline(rest, line)
                continue
            if self.pos < n:
                nind, ncontent, _ = lines[self.pos]
                if nind > indent or (nind == indent and ncontent[:1] == "-"):
                    out[key] = self.block(nind)
                    continue
            raise _NotSimple  # an empty value (null): rare in specs, leave it to libyaml
        out.key_lines = key_lines
        return out

    def key(self, text: str) -> str:
        try:
            return self.keys[text]
        except KeyError:
            pass
        value = self.scalar(text)
        key = self.keys[text] = value if isinstance(value, str) else str(value)
        return key

    def scalar(self, text: str) -> Any:
        try:
            return self.plain[text]
        except KeyError:
            pass
        tag = _resolver().resolve(_scalar_node_class(), text, (True, False))
        short = tag[len(_TAG) :]
        if short == "str":
            value = text
        elif short == "null":
            value = None
        elif short == "timestamp":
            value = text
        elif short in ("int", "float", "bool"):
            node = _scalar_node_class()(tag, text)
            ctor = _constructor()
            try:
                value = (
                    ctor.construct_yaml_int(node)
                    if short == "int"
                    else ctor.construct_yaml_float(node)
                    if short == "float"
                    else ctor.construct_yaml_bool(node)
                )
            except (ValueError, KeyError, OverflowError):
                raise _NotSimple from None
        else:
            raise _NotSimple
        self.plain[text] = value
        return value

    def inline(self, text: str, line: int) -> Any:
        """A value written on one line: a plain scalar or a flow collection."""
        first = text[0]
        if first != "[" and first != "{":
            if not _PLAIN.match(text) or text[-1] == ":":
                raise _NotSimple
            return self.scalar(text)
        if first == "{" and _FLAT_MAP.fullmatch(text):
            out = YMap()
            out.line = line
            keys, plain = self.keys, self.plain
            for k, w in _FLAT_PAIR.findall(text):
                k = keys.get(k) or self.key(k)
                if k in out:
                    raise _NotSimple  # duplicate: libyaml's path reports it
                v = plain.get(w, _NotSimple)
                out[k] = self.scalar(w) if v is _NotSimple else v
            out.key_lines = dict.fromkeys(out, line)
            return out
        if not _FLOW_ALL.fullmatch(text):
            raise _NotSimple  # something that is not a flow token
        tokens = _FLOW_TOKEN.findall(text)
        value, i = self.flow(tokens, 0, line)
        if i != len(tokens):
            raise _NotSimple
        return value

    def flow(self, tokens: list, i: int, line: int) -> tuple:
        self.depth += 1
        if self.depth > _FAST_MAX_DEPTH:
            raise _NotSimple
        punct = tokens[i][0]
        n = len(tokens)
        if punct == "[":
            out = YList()
            out.line = line
            i += 1
            if i < n and tokens[i][0] == "]":
                out.item_lines = []
                self.depth -= 1
                return out, i + 1
            while True:
                if i >= n:
                    raise _NotSimple
                p, _colon, word = tokens[i]
                if word:
                    out.append(self.scalar(word))
                    i += 1
                elif p == "[" or p == "{":
                    v, i = self.flow(tokens, i, line)
                    out.append(v)
                else:
                    raise _NotSimple
                if i >= n:
                    raise _NotSimple
                p = tokens[i][0]
                if p == "]":
                    i += 1
                    break
                if p != "," or i + 1 >= n or tokens[i + 1][0] == "]":
                    raise _NotSimple  # also a trailing comma: leave it to libyaml
                i += 1
            out.item_lines = [line] * len(out)
            self.depth -= 1
            return out, i
        if punct != "{":
            raise _NotSimple
        out = YMap()
        out.line = line
        key_lines: dict = {}
        i += 1
        if i < n and tokens[i][0] == "}":
            out.key_lines = key_lines
            self.depth -= 1
            return out, i + 1
        while True:
            if i + 2 >= n:
                raise _NotSimple
            _, _, word = tokens[i]
            if not word or not tokens[i + 1][1]:
                raise _NotSimple
            key = self.key(word)
            if key in key_lines:
                raise _NotSimple
            key_lines[key] = line
            i += 2
            p, _, word = tokens[i]
            if word:
                out[key] = self.scalar(word)
                i += 1
            elif p == "[" or p == "{":
                out[key], i = self.flow(tokens, i, line)
            else:
                raise _NotSimple  # {a: } or {a: ,}: a null value, left to libyaml
            if i >= n:
                raise _NotSimple
            p = tokens[i][0]
            if p == "}":
                i += 1
                break
            if p != "," or i + 1 >= n or tokens[i + 1][0] == "}":
                raise _NotSimple
            i += 1
        out.key_lines = key_lines
        self.depth -= 1
        return out, i


def _scalar_node_class():
    c = _CACHE.get("ScalarNode")
    if c is None:
        from yaml.nodes import ScalarNode

        c = _CACHE["ScalarNode"] = ScalarNode
    return c
