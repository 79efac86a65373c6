"""Input formats: what the SPEC argument of a command may be.

A format is one entry of ``FORMATS``: a name, a ``detect(ref, head)`` test (``head``: the
file's first bytes, empty for ``zoo:NAME``) and a ``load(ref, data, options)`` that returns a
``Network`` (``data``: the bytes already read from stdin, else None). The YAML spec is the
fallback. Adding a format touches this table and its own module; every command that loads a
spec (report, check, diff, import) goes through :func:`load`.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConvcalcError, SpecError

if TYPE_CHECKING:
    from ..network import Network

HEAD_BYTES = 64


@dataclass(frozen=True)
class Options:
    """What a command may say about loading: ``input_shape`` (``--input``, batch-less) sets or
    overrides the input; ``allow_unknown`` counts ops that convcalc cannot cost as zero."""

    input_shape: tuple[int, ...] | None = None
    allow_unknown: bool = False


@dataclass(frozen=True)
class InputFormat:
    name: str
    detect: Callable[[str, bytes], bool]
    load: Callable[[str, bytes | None, Options], Network]
    model: bool  # a model file (fixed channels, no tree of blocks), not a spec


# -- ONNX -----------------------------------------------------------------------------------------
def _looks_onnx(ref: str, head: bytes) -> bool:
    """By extension, or by content: a ModelProto starts with its ir_version field (tag 0x08,
    then a small number), which no YAML or JSON text can."""
    if ref.lower().endswith(".onnx"):
        return True
    return len(head) >= 2 and head[0] == 0x08 and head[1] < 0x80


def _load_onnx(ref: str, data: bytes | None, options: Options) -> Network:
    from . import onnx, onnx_proto

    where = "<stdin>" if ref == "-" else ref
    model = onnx_proto.parse_model(data, where) if data is not None else onnx_proto.read_model(ref)
    return onnx.network_of(model, where, options.input_shape, options.allow_unknown)


# -- the YAML spec (the fallback) -------------------------------------------------------------------
def _load_spec(ref: str, data: bytes | None, options: Options) -> Network:
    from .. import spec, yamlio

    if data is not None:
        net = spec.parse_text(yamlio.decode(data, "<stdin>"), "<stdin>")
    else:
        net = spec.load(ref)
    if options.input_shape is not None:
        net = copy.copy(net)
        net.input_shape = tuple(options.input_shape)
    return net


FORMATS: list[InputFormat] = [
    InputFormat("onnx", _looks_onnx, _load_onnx, model=True),
    InputFormat("spec", lambda ref, head: True, _load_spec, model=False),
]


def _head(ref: str) -> bytes:
    """The first bytes of a file, to tell its format by content. Not for a file larger than a
    spec may be (refused by the spec loader from its size alone, never opened: an ONNX model
    that large is named ``.onnx``), nor for anything but a regular file."""
    import os
    import stat

    if ref.startswith("zoo:") or ref.lower().endswith(".onnx"):
        return b""
    from ..yamlio import MAX_FILE_BYTES

    try:
        info = os.stat(ref)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return b""
        with open(ref, "rb") as fh:
            return fh.read(HEAD_BYTES)
    except (OSError, ValueError):
        return b""  # the format's own loader reports what is wrong with the file


def _stdin() -> bytes:
    """All of stdin, within the largest limit of a format that reads it."""
    from .. import yamlio
    from .onnx_proto import MAX_STREAM_BYTES

    limit = max(yamlio.MAX_FILE_BYTES, MAX_STREAM_BYTES)
    buf = sys.stdin.buffer
    chunks, size = [], 0
    while chunk := buf.read(min(1 << 20, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise SpecError(f"input is larger than {limit:,} bytes, the limit for stdin", where="<stdin>")
    return b"".join(chunks)


def format_of(ref: str, head: bytes | None = None) -> InputFormat:
    """The format of a SPEC argument (a path, ``-`` or ``zoo:NAME``)."""
    if head is None:
        head = _head(ref) if ref != "-" else b""
    return next(f for f in FORMATS if f.detect(ref, head))


def load(ref: str, options: Options | None = None) -> Network:
    """The network a SPEC argument names, in whatever format it is."""
    options = options or Options()
    if ref == "-":
        data = _stdin()
        return format_of(ref, data[:HEAD_BYTES]).load(ref, data, options)
    return format_of(ref).load(ref, None, options)


def is_model(ref: str) -> bool:
    """Whether a SPEC argument is a model file (ONNX), as opposed to a spec."""
    return ref != "-" and format_of(ref).model


def parse_input(text: str | None, option: str = "--input") -> tuple[int, ...] | None:
    """``3x224x224`` -> (3, 224, 224): channels, then 0 to 3 spatial sizes, each >= 1."""
    if text is None:
        return None
    parts = text.strip().lower().replace("×", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise ConvcalcError(
            f"{option} {text!r}: must be sizes like 3x224x224 (channels, then spatial sizes)"
        ) from None
    if not 1 <= len(dims) <= 4 or any(d < 1 for d in dims):
        raise ConvcalcError(
            f"{option} {text!r}: needs 1 to 4 sizes >= 1 (channels, then up to 3 spatial sizes)"
        )
    return dims
