"""Safe YAML loading that keeps line numbers, for ``FILE:LINE: message`` errors.

One reader: libyaml (PyYAML's C parser) makes the event stream, and we build plain Python
values from it ourselves, in one pass with an explicit stack (no node tree, no recursion),
so that:
  * only plain data tags are accepted: a ``!!python/...`` tag is an error, never executed;
  * each mapping and list remembers its line and the line of each key / item;
  * aliases are shared, never expanded: an alias "billion laughs" costs nothing here, and
    callers that expand (``repeat``) count before they do; recursive aliases are refused;
  * duplicate keys are an error (PyYAML would silently keep the last one);
  * merge keys (``<<: *base``) work as in YAML 1.1;
  * nesting deeper than MAX_DEPTH is refused, also when aliases nest (libyaml stops at 1000).

Plain scalars are resolved as PyYAML's SafeLoader resolves them (YAML 1.1: ``1_000`` is
1000, ``0x1F`` is 31), with one cache per document: a spec repeats the same few values
(``conv``, ``3``, ``true``) thousands of times. Except:
  * keys are text as written: ``on: 1`` has the key ``on`` (YAML 1.1 would make it ``True``);
  * YAML 1.1's surprises are errors naming the line, not silent conversions: ``010`` (octal:
    8), ``1:30`` (base 60: 90), and ``yes``/``no``/``on``/``off`` (booleans) as values;
    write what you mean (``10``, ``'1:30'``, ``true``);
  * integers have at most ``numbers.MAX_INT_DIGITS`` digits (a LimitError, not Python's
    4,300-digit error);
  * a float remembers its text (``YFloat.text``), so that limits are read exactly
    (``4.5e+22`` is 45 followed by 21 zeros, not the nearest binary float).
The cyclic garbage collector is paused while a document is built: everything built here is
acyclic, and a 100,000-layer file otherwise spends most of its time in collections that free
nothing.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import LimitError, SpecError
from .numbers import MAX_INT_DIGITS, too_many_digits

MAX_FILE_BYTES = 32 * 1024 * 1024
# Nesting of YAML collections (through aliases too). Deep enough for tree.MAX_NESTING (100)
# blocks, each a mapping and a list; shallow enough that whatever consumes the values may
# recurse over them.
MAX_DEPTH = 256


class YMap(dict):
    """A mapping with ``line`` (1-based) and ``key_lines`` (key -> line)."""

    __slots__ = ("line", "key_lines")
    line: int
    key_lines: dict[str, int]

    def key_line(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class YList(list):
    """A list with ``line`` and ``item_lines`` (index -> line)."""

    __slots__ = ("line", "item_lines")
    line: int
    item_lines: list[int]

    def item_line(self, i: int) -> int:
        return self.item_lines[i] if i < len(self.item_lines) else self.line


class YFloat(float):
    """A float with the ``text`` it was written as (``4.5e+22``, ``.inf``): exact readers
    (budget limits) and messages use the text."""

    __slots__ = ("text",)
    text: str


def line_of(obj: Any, default: int = 0) -> int:
    return getattr(obj, "line", default)


def read_text(path: str) -> str:
    """Read a spec file as UTF-8 text, with clear errors for missing, huge or binary files."""
    import os

    if path == "":
        raise SpecError("'': an empty file name (give a spec file, '-' for stdin, or zoo:NAME)")
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

    def __init__(self, obj: Any, lines: Any, anchor: str | None, is_map: bool):
        self.obj, self.lines, self.anchor, self.is_map = obj, lines, anchor, is_map
        self.key = _NOKEY
        self.key_line = 0
        self.merged: list[YMap] | None = None
        self.height = 0  # levels of collections inside, counting through aliases


class _Builder:
    def __init__(self, where: str, loader: Any):
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
                if stack and stack[-1].is_map and stack[-1].key is _NOKEY:
                    value = self.key(ev)
                else:
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
                obj: Any
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

    def attach(self, stack: list, value: Any, ev: Any, root: Any, line: int = 0) -> Any:
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
            elif value is None or isinstance(value, (str, int, float)):  # (an alias: its value)
                k = value if isinstance(value, str) else "null" if value is None else _text(value)
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
        for m in frame.merged or ():
            for k, v in m.items():
                if k not in out:
                    out[k] = v
                    lines[k] = m.key_line(k)

    # -- scalars -----------------------------------------------------------------------------
    def key(self, ev: Any) -> Any:
        """A mapping key: its text as written (``on``, ``1``, ``null``), or the merge key."""
        tag = ev.tag
        if tag is not None and tag != "!":
            self.construct(tag, ev.value, ev)  # refuses a tag that is not plain data
        elif ev.implicit[0] and ev.value == "<<":
            return _MERGE_KEY
        return ev.value

    def scalar(self, ev: Any) -> Any:
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

    def resolve(self, text: str, ev: Any) -> Any:
        tag = _resolver().resolve(self.yaml.ScalarNode, text, (True, False))
        if tag == _MERGE:
            return _MERGE_KEY
        if tag == _TAG + "value":  # a lone '=' (YAML 1.1's value key): just text here
            return text
        value = self.construct(tag, text, ev)
        surprise = _yaml11_surprise(tag, text, value) or (
            _foreign_digits(text) if tag == _STR and not text.isascii() else None
        )
        if surprise:
            raise self.fail(ev.start_mark.line + 1, surprise)
        return value

    def construct(self, tag: str, text: str, ev: Any) -> Any:
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
            line = ev.start_mark.line + 1
            if short == "int":
                digits = sum(c.isdigit() for c in text)
                if digits > MAX_INT_DIGITS:
                    raise LimitError(too_many_digits(digits), where=f"{self.where}:{line}")
            try:
                if short == "int":
                    value = ctor.construct_yaml_int(node)
                    if not -_INT_LIMIT < value < _INT_LIMIT:  # 0x... or base 60: as many digits
                        raise LimitError(too_many_digits(None), where=f"{self.where}:{line}")
                    return value
                if short == "float":
                    f = YFloat(ctor.construct_yaml_float(node))
                    f.text = text
                    return f
                return ctor.construct_yaml_bool(node)
            except (ValueError, KeyError, OverflowError):
                shown = text if len(text) <= 40 else text[:37] + "..."
                raise self.fail(line, f"{shown!r} is not a valid {short}") from None
        raise self.fail(ev.start_mark.line + 1, _bad_tag(tag))


_INT_LIMIT = 10**MAX_INT_DIGITS
_OCTAL = re.compile(r"[-+]?0[0-7_]+\Z")  # YAML 1.1: a leading zero means octal
_BOOL_WORDS = ("yes", "no", "on", "off")


def _yaml11_surprise(tag: str, text: str, value: Any) -> str | None:
    """A message when YAML 1.1 reads ``text`` as something its writer hardly meant."""
    short = tag[len(_TAG) :]
    if short in ("int", "float") and ":" in text:
        return (
            f"YAML 1.1 reads {text} as the base-60 number {_text(value)}: write the number "
            f"itself, or quote '{text}' if it is text"
        )
    if short == "int" and _OCTAL.match(text) and text.strip("+-0_"):
        return (
            f"YAML 1.1 reads {text} as an octal number ({value}): write it without the leading "
            f"zero ({text[: len(text) - len(text.lstrip('+-'))]}{text.lstrip('+-0_')}), or quote '{text}' if it "
            "is text"
        )
    if short == "bool" and text.lower() in _BOOL_WORDS:
        return (
            f"YAML 1.1 reads {text} as {'true' if value else 'false'}: write "
            f"{'true' if value else 'false'}, or quote '{text}' if it is text"
        )
    return None


def _foreign_digits(text: str) -> str | None:
    """A message for a number written with non-ASCII digits (``２２４``): YAML reads it as
    text, the command line refuses it; both say why. Words that contain such digits stay text."""
    import unicodedata

    from .numbers import non_ascii_digit

    c = non_ascii_digit(text)
    if c is None:
        return None
    folded = "".join(str(unicodedata.digit(x, "")) if x.isdigit() else x for x in text)
    tag = _resolver().resolve(_scalar_node(), folded, (True, False))
    if tag not in (_TAG + "int", _TAG + "float"):
        return None
    return (
        f"{text!r} has the non-ASCII digit {c!r} (U+{ord(c):04X}): write numbers with the digits "
        "0-9 (or quote it if it is text)"
    )


def _scalar_node() -> Any:
    import yaml

    return yaml.ScalarNode


def _text(value: Any) -> str:
    """A scalar as a spec would write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, YFloat):
        return value.text
    return str(value)


def _bad_tag(tag: str) -> str:
    shown = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
    return f"tag {shown!r} is not allowed (specs are plain data)"


_CACHE: dict[str, Any] = {}


def _resolver() -> Any:
    r = _CACHE.get("resolver")
    if r is None:
        import yaml.resolver

        r = _CACHE["resolver"] = yaml.resolver.Resolver()
    return r


def _constructor() -> Any:
    c = _CACHE.get("constructor")
    if c is None:
        import yaml.constructor

        c = _CACHE["constructor"] = yaml.constructor.SafeConstructor()
    return c
