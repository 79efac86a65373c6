"""Read an ONNX model file into small typed records, with nothing but the standard library.

An ONNX file is one protobuf message, ``ModelProto`` (onnx/onnx.proto, proto2). This module
is a reader of the protobuf wire format that knows the few ONNX messages a cost calculator
needs: the graph's nodes with their attributes, the initializers' names, dims and types, the
inputs' and outputs' shapes. Weights are never decoded: a tensor's bytes are skipped by their
length, so a 100 MB model costs about its headers in time and memory (the file is mapped,
not read). Why a hand-written reader rather than the ``protobuf`` runtime: docs/onnx.md.

Records::

    Model(ir_version, producer, opsets, graph)
    Graph(name, nodes, initializers, inputs, outputs, value_info)
    Node(op_type, name, domain, inputs, outputs, attrs)
    Tensor(name, dims, data_type, values, external)
    ValueInfo(name, elem_type, shape)

Safety: every length is checked against the bytes that remain before anything is read or
sliced, and nothing is ever allocated from a claimed length or count; messages nest only as
deep as the ONNX schema does (subgraphs of If/Loop/Scan are kept opaque, types other than
tensors are not descended into), so there is no recursion on the input; one budget of work
units (fields read, values decoded, records built) bounds time and memory on any input; a
tensor has at most MAX_RANK dims; files over MAX_FILE_BYTES are refused before reading.
Every problem is an :class:`OnnxError` (a ``SpecError``) with ``where`` = the file: one
line naming what is wrong and at which byte.

What this reader leaves to its caller: whether the graph is acyclic and every tensor a node
reads is defined (see :func:`dataflow_order`), and what each op means.
"""

from __future__ import annotations

import gc
import math
import mmap
import os
import stat
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush
from typing import Any, TypeAlias

from convcalc.errors import LimitError, SpecError

# Protobuf (and so ONNX) messages are limited to 2 GiB; bigger models keep their weights in
# external data files, which this reader never opens.
MAX_FILE_BYTES = 2 * 1024**3
# Work units for one file: 1 per field read or packed value decoded, more per name, span or
# record kept (see _COST: about 30 bytes a unit). ResNet-50 takes 9,000; a 24-layer
# transformer encoder (4,000 nodes) with inferred shapes 250,000. A hostile file stops here,
# after a few seconds and about 110 MiB at worst (docs/onnx.md).
MAX_UNITS = 4_000_000
MAX_STREAM_BYTES = 256 * 1024**2  # a pipe or device, which is read into memory (no mmap)
MAX_RANK = 64  # dims of one tensor or shape
MAX_INT_VALUES = 1024  # integer tensors up to this many elements have their values decoded
MAX_FLOAT_VALUES = 64  # floating-point ones up to this many (scales, scalars: never weights)
# The entries of a node's metadata_props that are kept (Node.metadata); the others (torch's
# stack traces, FX nodes...) are skipped by their length, undecoded. torch's dynamo exporter
# writes a node's module path in 'pkg.torch.onnx.name_scopes', and onnxscript's optimizer the
# rewrite rules that made a node in 'pkg.onnxscript.rewriter.rule_name'.
NODE_METADATA_KEYS = ("pkg.torch.onnx.name_scopes", "pkg.onnxscript.rewriter.rule_name")

# TensorProto.DataType
FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL = 1, 2, 3, 4, 5, 6, 7, 8, 9
FLOAT16, DOUBLE, UINT32, UINT64, COMPLEX64, COMPLEX128, BFLOAT16 = 10, 11, 12, 13, 14, 15, 16
DATA_TYPES = {
    0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32",
    7: "INT64", 8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64",
    14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16", 17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ",
    19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1",
    24: "FLOAT8E8M0", 25: "UINT2", 26: "INT2", 27: "FLOAT6E2M3", 28: "FLOAT6E3M2",
}  # fmt: skip
FLOAT_TYPES = frozenset({FLOAT, DOUBLE, FLOAT16, BFLOAT16})
INT_TYPES = frozenset({UINT8, INT8, UINT16, INT16, INT32, INT64, BOOL, UINT32, UINT64})
# Bits per element in raw_data (sub-byte types are packed; the total is rounded up to bytes).
_BITS = {
    1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64,
    14: 64, 15: 128, 16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8, 25: 2,
    26: 2, 27: 6, 28: 6,
}  # fmt: skip
_RAW_FORMAT = {
    INT64: "q", INT32: "i", INT16: "h", INT8: "b", UINT8: "B", UINT16: "H", UINT32: "I",
    UINT64: "Q", BOOL: "?", FLOAT: "f", DOUBLE: "d", FLOAT16: "e", BFLOAT16: "H",
}  # fmt: skip
# The typed field (TensorProto field number) that holds each decodable type's values.
_TYPED_FIELD = {
    FLOAT: 4, INT32: 5, INT16: 5, INT8: 5, UINT16: 5, UINT8: 5, BOOL: 5, FLOAT16: 5,
    BFLOAT16: 5, INT64: 7, DOUBLE: 10, UINT32: 11, UINT64: 11,
}  # fmt: skip
# Integer types narrower than their typed field: (bits, signed), wrapped as numpy would.
_NARROW = {INT16: (16, True), INT8: (8, True), UINT16: (16, False), UINT8: (8, False), UINT32: (32, False)}

# AttributeType -> (Opaque kind, AttributeProto field) for values kept opaque.
_OPAQUE_ONE = {5: ("graph", 6), 11: ("sparse_tensor", 22), 13: ("type_proto", 14)}
_OPAQUE_LIST = {10: ("graph", 11), 12: ("sparse_tensor", 23), 14: ("type_proto", 15)}

# Work units charged per thing kept, on top of the fields it is read from: what is kept costs
# at most about 30 bytes of memory a unit (measured: benchmarks/onnx_read.py --hostile).
_COST = {"node": 10, "attribute": 5, "tensor": 6, "value_info": 6, "string": 2, "span": 4}

_METADATA_KEYS = {k.encode(): k for k in NODE_METADATA_KEYS}
_LONGEST_METADATA_KEY = max(map(len, _METADATA_KEYS))
_METADATA_KEY_LENGTHS = frozenset(map(len, _METADATA_KEYS))

# Wire types.
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_U64 = (1 << 64) - 1

# The messages read here: field number -> (name, allowed wire types). Repeated scalars may
# come packed (one length-delimited field) or not (one field per value): both are valid.
# Fields not listed are skipped, as protobuf does with fields it does not know.
_L, _V, _VL, _F32, _F64 = (_LEN,), (_VARINT,), (_VARINT, _LEN), (_I32, _LEN), (_I64, _LEN)
_SCHEMA: dict[str, dict[int, tuple[str, tuple[int, ...]]]] = {
    "ModelProto": {
        1: ("ir_version", _V), 2: ("producer_name", _L), 3: ("producer_version", _L),
        4: ("domain", _L), 5: ("model_version", _V), 6: ("doc_string", _L), 7: ("graph", _L),
        8: ("opset_import", _L), 14: ("metadata_props", _L), 20: ("training_info", _L),
        25: ("functions", _L), 26: ("configuration", _L),
    },
    "OperatorSetIdProto": {1: ("domain", _L), 2: ("version", _V)},
    "GraphProto": {
        1: ("node", _L), 2: ("name", _L), 5: ("initializer", _L), 15: ("sparse_initializer", _L),
        10: ("doc_string", _L), 11: ("input", _L), 12: ("output", _L), 13: ("value_info", _L),
        14: ("quantization_annotation", _L), 16: ("metadata_props", _L),
    },
    "NodeProto": {
        1: ("input", _L), 2: ("output", _L), 3: ("name", _L), 4: ("op_type", _L), 5: ("attribute", _L),
        6: ("doc_string", _L), 7: ("domain", _L), 8: ("overload", _L), 9: ("metadata_props", _L),
        10: ("device_configurations", _L),
    },
    "AttributeProto": {
        1: ("name", _L), 2: ("f", (_I32,)), 3: ("i", _V), 4: ("s", _L), 5: ("t", _L), 6: ("g", _L),
        7: ("floats", _F32), 8: ("ints", _VL), 9: ("strings", _L), 10: ("tensors", _L),
        11: ("graphs", _L), 13: ("doc_string", _L), 14: ("tp", _L), 15: ("type_protos", _L),
        20: ("type", _V), 21: ("ref_attr_name", _L), 22: ("sparse_tensor", _L),
        23: ("sparse_tensors", _L),
    },
    "TensorProto": {
        1: ("dims", _VL), 2: ("data_type", _V), 3: ("segment", _L), 4: ("float_data", _F32),
        5: ("int32_data", _VL), 6: ("string_data", _L), 7: ("int64_data", _VL), 8: ("name", _L),
        9: ("raw_data", _L), 10: ("double_data", _F64), 11: ("uint64_data", _VL),
        12: ("doc_string", _L), 13: ("external_data", _L), 14: ("data_location", _V),
        16: ("metadata_props", _L),
    },
    "SparseTensorProto": {1: ("values", _L), 2: ("indices", _L), 3: ("dims", _VL)},
    "ValueInfoProto": {1: ("name", _L), 2: ("type", _L), 3: ("doc_string", _L), 4: ("metadata_props", _L)},
    "StringStringEntryProto": {1: ("key", _L), 2: ("value", _L)},
    "TypeProto": {
        1: ("tensor_type", _L), 4: ("sequence_type", _L), 5: ("map_type", _L), 6: ("denotation", _L),
        7: ("opaque_type", _L), 8: ("sparse_tensor_type", _L), 9: ("optional_type", _L),
    },
    "TypeProto.Tensor": {1: ("elem_type", _V), 2: ("shape", _L)},
    "TensorShapeProto": {1: ("dim", _L)},
    "TensorShapeProto.Dimension": {1: ("dim_value", _V), 2: ("dim_param", _L), 3: ("denotation", _L)},
}  # fmt: skip

Buffer: TypeAlias = bytes | bytearray | memoryview | mmap.mmap
Span: TypeAlias = tuple[int, int]  # [start, end) of a message's bytes


# -- errors ------------------------------------------------------------------------------------
class OnnxError(SpecError):
    """An ONNX file that cannot be read: not ONNX, truncated, corrupt or inconsistent."""


class OnnxLimitError(OnnxError, LimitError):
    """An ONNX file beyond a safety limit (file size, work units, dims of a tensor)."""


# -- records -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Tensor:
    """A tensor's name, dims and ONNX data type (see DATA_TYPES). ``values`` (row-major, flat)
    is decoded only for small integer tensors (up to MAX_INT_VALUES elements: shapes, axes,
    pads, indices; BOOL as bool) and tiny floating-point ones (up to MAX_FLOAT_VALUES: scales,
    scalars), when the file holds them; else None: weights are never decoded. ``external``:
    the data lives in an external file (never opened)."""

    name: str
    dims: tuple[int, ...]
    data_type: int
    values: tuple[Any, ...] | None
    external: bool

    @property
    def numel(self) -> int:
        """Number of elements (exact; 1 for a scalar)."""
        return math.prod(self.dims)

    @property
    def type_name(self) -> str:
        return DATA_TYPES.get(self.data_type, f"type {self.data_type}")


@dataclass(frozen=True, slots=True)
class Opaque:
    """An attribute value that is kept but not decoded: ``kind`` is ``graph`` (the body of
    an If/Loop/Scan), ``sparse_tensor``, ``type_proto`` or ``unknown``; ``nbytes`` its size
    in the file."""

    kind: str
    nbytes: int


@dataclass(frozen=True, slots=True)
class ValueInfo:
    """A named value's element type (a DATA_TYPES code; 0 when unknown or not a tensor) and
    shape: one entry per dim, an int (dim_value), a str (dim_param, symbolic) or None
    (unknown, also for a negative dim_value, which old converters wrote for "unknown").
    ``shape`` is None when the rank is unknown or the value is not a tensor."""

    name: str
    elem_type: int
    shape: tuple[int | str | None, ...] | None


@dataclass(frozen=True, slots=True)
class Node:
    """One node. ``inputs`` keeps empty names (an omitted optional input) in place.
    ``attrs``: name -> int, float, str, Tensor, Opaque, or a list of one of those.
    ``metadata``: the node's metadata_props of the keys in NODE_METADATA_KEYS."""

    op_type: str
    name: str
    domain: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Graph:
    """The main graph. ``initializers`` also holds sparse initializers (with their dense
    dims, values None). ``inputs`` may list initializers too (files before IR version 4
    did): :attr:`data_inputs` are the others."""

    name: str
    nodes: list[Node]
    initializers: dict[str, Tensor]
    inputs: list[ValueInfo]
    outputs: list[ValueInfo]
    value_info: dict[str, ValueInfo]

    @property
    def data_inputs(self) -> list[ValueInfo]:
        """Graph inputs that are not initializers: what a caller feeds."""
        return [v for v in self.inputs if v.name not in self.initializers]


@dataclass(frozen=True, slots=True)
class Model:
    """``producer`` is producer_name and producer_version (``pytorch 2.13.0``); ``opsets``
    maps an operator-set domain ("" is the default ONNX domain) to its version."""

    ir_version: int
    producer: str
    opsets: dict[str, int]
    graph: Graph

    def opset(self, domain: str = "") -> int | None:
        """The version of an operator set; "" and "ai.onnx" both name the default one."""
        if domain in ("", "ai.onnx"):
            return self.opsets.get("", self.opsets.get("ai.onnx"))
        return self.opsets.get(domain)


# -- entry points ------------------------------------------------------------------------------
def read_model(path: str) -> Model:
    """Read an ONNX file. The file is memory-mapped where possible (weights are skipped, never
    copied) and refused before reading when larger than MAX_FILE_BYTES."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed below; mmap needs the descriptor)
    except FileNotFoundError:
        raise OnnxError("no such file", where=path) from None
    except IsADirectoryError:
        raise OnnxError("is a directory, not an ONNX file", where=path) from None
    except OSError as e:
        raise OnnxError(f"cannot read: {e.strerror or e}", where=path) from None
    except ValueError as e:  # a NUL byte in the path
        raise OnnxError(f"cannot read: {e}", where=repr(path)) from None
    with fh:
        try:
            info = os.fstat(fh.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise OnnxError("is a directory, not an ONNX file", where=path)
            if stat.S_ISREG(info.st_mode):
                if info.st_size > MAX_FILE_BYTES:
                    raise OnnxLimitError(_too_big(info.st_size), where=path)
                if info.st_size == 0:
                    raise OnnxError("not an ONNX model: the file is empty", where=path)
                try:
                    mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                except (OSError, ValueError):
                    mapped = None
                if mapped is not None:
                    # Parsing keeps no view of the map (strings are decoded to copies), so
                    # it can be closed even while an error's traceback is alive.
                    with mapped:
                        return parse_model(mapped, path)
                data = _read_limited(fh, MAX_FILE_BYTES, path)
            else:  # a pipe or a device: read into memory, so a lower limit
                data = _read_limited(fh, MAX_STREAM_BYTES, path)
        except OSError as e:
            raise OnnxError(f"cannot read: {e.strerror or e}", where=path) from None
    return parse_model(data, path)


def _read_limited(fh: Any, limit: int, where: str) -> bytearray:
    """Everything ``fh`` holds, in chunks (never one allocation of the limit's size)."""
    data = bytearray()
    while chunk := fh.read(min(1 << 20, limit + 1 - len(data))):
        data += chunk
        if len(data) > limit:
            if limit == MAX_FILE_BYTES:
                raise OnnxLimitError(_too_big(len(data)), where=where)
            raise OnnxLimitError(
                f"input is larger than {limit:,} bytes, the limit for a stream (a pipe or a device "
                "is read into memory); give the path of a file instead",
                where=where,
            )
    return data


def parse_model(data: Buffer, where: str) -> Model:
    """Parse the bytes of an ONNX file (``bytes``, ``memoryview`` or ``mmap``); ``where``
    names it in errors."""
    if isinstance(data, memoryview) and (data.ndim != 1 or data.itemsize != 1):
        data = data.cast("B")
    if len(data) > MAX_FILE_BYTES:
        raise OnnxLimitError(_too_big(len(data)), where=where)
    if len(data) == 0:
        raise OnnxError("not an ONNX model: the file is empty", where=where)
    # Everything built here is acyclic: the cyclic collector would only scan it again and
    # again (a file of a million names spends most of its time there) and free nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Parser(data, where).model()
    except OnnxError as e:
        looks = _looks_like(data)
        if looks is None or isinstance(e, LimitError):
            raise
        raise OnnxError(f"not an ONNX model: it looks like {looks}", where=where) from None
    finally:
        if collecting:
            gc.enable()


def _too_big(size: int) -> str:
    return (
        f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,} (protobuf's own limit: "
        "bigger models keep their weights in external data files)"
    )


def _looks_like(data: Buffer) -> str | None:
    """What a file that is not ONNX seems to be, from its first bytes (None: no idea)."""
    head = bytes(data[:512])
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if head[4:8] == b"TFL3":
        return "a TensorFlow Lite model"
    text = head.decode("utf-8", "ignore")
    if head and len(text) >= len(head) - 3 and all(c.isprintable() or c in "\t\r\n" for c in text):
        return "text (a YAML spec or JSON?), but an ONNX file is binary protobuf"
    return None


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (a PyTorch .pt/.pth checkpoint is one: export it to ONNX first)"),
    (b"\x1f\x8b", "gzip-compressed data (decompress it first)"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a Keras .h5 model?)"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "an executable"),
    (b"\x80\x02", "a Python pickle"),
    (b"\x80\x03", "a Python pickle"),
    (b"\x80\x04", "a Python pickle"),
    (b"\x80\x05", "a Python pickle"),
)


# -- the parser --------------------------------------------------------------------------------
def _q(name: str, limit: int = 60) -> str:
    """A name for a message: quoted, escaped (one line), cut if long."""
    return repr(name if len(name) <= limit else name[:limit] + "...")


def _s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _dims_text(dims: tuple[int, ...] | list[int]) -> str:
    return "x".join(map(str, dims)) if dims else "() (a scalar)"


class _Parser:
    __slots__ = ("buf", "size", "units", "where")

    def __init__(self, buf: Buffer, where: str):
        self.buf = buf
        self.size = len(buf)
        self.where = where
        self.units = 0

    # -- low level ---------------------------------------------------------------------------
    def error(self, message: str) -> OnnxError:
        return OnnxError(message, where=self.where)

    def charge(self, units: int, pos: int) -> None:
        self.units += units
        if self.units > MAX_UNITS:
            raise OnnxLimitError(
                f"more than {MAX_UNITS:,} work units (fields, values, records) by byte {pos:,}: "
                "far beyond any real model; refusing to go on",
                where=self.where,
            )

    def keep(self, spans: list[Span], a: int, b: int, units: int = _COST["span"]) -> None:
        """Store a span for later, charged (a stored span costs about 120 bytes)."""
        self.charge(units, a)
        spans.append((a, b))

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        buf = self.buf
        if pos >= end:
            raise self.error(f"truncated at byte {pos:,} (a number runs past the end of its message)")
        b = buf[pos]
        if b < 0x80:
            return b, pos + 1
        start = pos
        result = b & 0x7F
        shift = 7
        pos += 1
        while True:
            if pos >= end:
                raise self.error(f"truncated at byte {pos:,} (a number runs past the end of its message)")
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result & _U64, pos
            shift += 7
            if shift >= 70:
                raise self.error(f"a number at byte {start:,} is longer than 10 bytes (corrupt file)")

    def fields(self, spans: list[Span], msg: str) -> Iterator[tuple[int, int, int, int]]:
        """Walk the fields of a message (several spans: protobuf merges repeated occurrences
        of a singular message field). Yields (number, wire type, a, b) for known fields only:
        varint: a = value, b = position of the tag; length-delimited: [a, b) the payload;
        fixed32/64: a = position of the value, b = a + 4 or 8."""
        schema = _SCHEMA[msg]
        buf = self.buf
        for start, end in spans:
            pos = start
            while pos < end:
                tag_pos = pos
                tag = buf[pos]
                if tag < 0x80:
                    pos += 1
                else:
                    tag, pos = self.varint(pos, end)
                num, wt = tag >> 3, tag & 7
                self.charge(1, tag_pos)
                if num == 0 or num >= 1 << 29:
                    raise self.error(
                        f"invalid field number {num} in {msg} at byte {tag_pos:,} (corrupt file)"
                    )
                if wt == _VARINT:
                    a, pos = self.varint(pos, end)
                    b = tag_pos
                elif wt == _LEN:
                    n, pos = self.varint(pos, end)
                    if n > end - pos:
                        raise self.error(
                            f"field {msg}.{self.field_name(msg, num)} claims {n:,} bytes but only "
                            f"{end - pos:,} remain (at byte {tag_pos:,}; truncated or corrupt file)"
                        )
                    a, b = pos, pos + n
                    pos = b
                elif wt in (_I32, _I64):
                    n = 4 if wt == _I32 else 8
                    if n > end - pos:
                        raise self.error(f"truncated at byte {end:,} (in {msg}.{self.field_name(msg, num)})")
                    a, b = pos, pos + n
                    pos = b
                else:
                    raise self.error(
                        f"invalid wire type {wt} for {msg}.{self.field_name(msg, num)} at byte "
                        f"{tag_pos:,} (corrupt file, or protobuf groups, which ONNX never uses)"
                    )
                known = schema.get(num)
                if known is None:
                    continue
                if wt not in known[1]:
                    raise self.error(
                        f"field {msg}.{known[0]} at byte {tag_pos:,} has wire type {wt}, "
                        f"expected {' or '.join(map(str, known[1]))} (corrupt file)"
                    )
                yield num, wt, a, b

    @staticmethod
    def field_name(msg: str, num: int) -> str:
        known = _SCHEMA[msg].get(num)
        return known[0] if known else f"<field {num}>"

    def text(self, a: int, b: int) -> str:
        self.charge(_COST["string"], a)
        return str(self.buf[a:b], "utf-8", "replace")

    def name(self, a: int, b: int) -> str:
        """A tensor or node name: interned, as each is read several times."""
        return sys.intern(self.text(a, b))

    def packed_varints(self, a: int, b: int, limit: int = MAX_FILE_BYTES) -> list[int] | None:
        """The varints in [a, b), or None when there are more than ``limit``."""
        out: list[int] = []
        buf = self.buf
        pos = a
        while pos < b:
            if len(out) >= limit:
                return None
            self.charge(1, pos)
            v = buf[pos]
            if v < 0x80:
                pos += 1
            else:
                v, pos = self.varint(pos, b)
            out.append(v)
        return out

    def floats(
        self, wt: int, a: int, b: int, fmt: str, what: str, limit: int = MAX_FILE_BYTES
    ) -> list[float] | None:
        """Fixed-size floats ('f' or 'd') of one field occurrence, or None when more than
        ``limit``."""
        size = 4 if fmt == "f" else 8
        if wt != _LEN:
            return [struct.unpack_from("<" + fmt, self.buf, a)[0]] if limit > 0 else None
        if (b - a) % size:
            raise self.error(
                f"{what}: packed values of {b - a:,} bytes, not a multiple of {size} (at byte {a:,})"
            )
        n = (b - a) // size
        if n > limit:
            return None
        self.charge(n, a)
        return list(struct.unpack_from(f"<{n}{fmt}", self.buf, a))

    # -- messages ----------------------------------------------------------------------------
    def model(self) -> Model:
        ir_version, producer, version = 0, "", ""
        opsets: list[Span] = []
        graph: list[Span] = []
        seen = False
        try:
            for num, _wt, a, b in self.fields([(0, self.size)], "ModelProto"):
                seen = True
                if num == 1:
                    ir_version = _s64(a)
                elif num == 2:
                    producer = self.text(a, b)
                elif num == 3:
                    version = self.text(a, b)
                elif num == 7:
                    self.keep(graph, a, b)
                elif num == 8:
                    self.keep(opsets, a, b)
        except OnnxError as e:
            if seen or isinstance(e, LimitError):
                raise
            raise self.error(f"not an ONNX model: {e.message}") from None
        if not graph:
            raise self.error("not an ONNX model: it has no graph (ModelProto.graph is missing)")
        domains: dict[str, int] = {}
        for span in opsets:
            domain, opset_version = "", 0
            for num, _wt, a, b in self.fields([span], "OperatorSetIdProto"):
                if num == 1:
                    domain = self.text(a, b)
                else:
                    opset_version = _s64(a)
            domains[domain] = opset_version
        return Model(
            ir_version=ir_version,
            producer=" ".join(p for p in (producer, version) if p),
            opsets=domains,
            graph=self.graph(graph),
        )

    def graph(self, spans: list[Span]) -> Graph:
        name = ""
        nodes: list[Span] = []
        tensors: list[Span] = []
        sparse: list[Span] = []
        inputs: list[Span] = []
        outputs: list[Span] = []
        infos: list[Span] = []
        lists = {1: nodes, 5: tensors, 15: sparse, 11: inputs, 12: outputs, 13: infos}
        costs = {1: _COST["node"], 5: _COST["tensor"], 15: 2 * _COST["tensor"]}
        for num, _wt, a, b in self.fields(spans, "GraphProto"):
            if num == 2:
                name = self.text(a, b)
            else:
                target = lists.get(num)
                if target is not None:
                    self.keep(target, a, b, costs.get(num, _COST["value_info"]))
        initializers: dict[str, Tensor] = {}
        for k, span in enumerate(tensors):
            self.add_initializer(initializers, self.tensor([span], f"initializer {k}"), span)
        for k, span in enumerate(sparse):
            self.add_initializer(initializers, self.sparse_tensor(span, f"sparse initializer {k}"), span)
        value_info: dict[str, ValueInfo] = {}
        for span in infos:
            info = self.value_info(span)
            value_info[info.name] = info
        return Graph(
            name=name,
            nodes=[self.node(span, k) for k, span in enumerate(nodes)],
            initializers=initializers,
            inputs=[self.value_info(span) for span in inputs],
            outputs=[self.value_info(span) for span in outputs],
            value_info=value_info,
        )

    def add_initializer(self, table: dict[str, Tensor], tensor: Tensor, span: Span) -> None:
        if tensor.name in table:
            raise self.error(f"two initializers are named {_q(tensor.name)} (the second at byte {span[0]:,})")
        table[tensor.name] = tensor

    def node(self, span: Span, index: int) -> Node:
        inputs: list[str] = []
        outputs: list[str] = []
        name = op_type = domain = ""
        attributes: list[Span] = []
        entries: list[Span] = []
        buf = self.buf
        for num, _wt, a, b in self.fields([span], "NodeProto"):
            if num == 1:
                inputs.append(self.name(a, b))
            elif num == 2:
                outputs.append(self.name(a, b))
            elif num == 3:
                name = self.name(a, b)
            elif num == 4:
                op_type = self.name(a, b)
            elif num == 5:
                self.keep(attributes, a, b, _COST["attribute"])
            elif num == 7:
                domain = self.name(a, b)
            elif num == 9:
                # an entry starts with its key as writers write it (tag 0x0A, a one-byte
                # length): one whose key has no kept key's length is skipped unread
                n = buf[a + 1] if b - a > 2 and buf[a] == 0x0A else 0x80
                if n >= 0x80 or n in _METADATA_KEY_LENGTHS:
                    self.keep(entries, a, b)
        where = f"node {index} ({_q(name)}, {op_type or '?'})" if name else f"node {index} ({op_type or '?'})"
        attrs: dict[str, Any] = {}
        for attr_span in attributes:
            key, value = self.attribute(attr_span, where)
            attrs[key] = value
        metadata: dict[str, str] = {}
        for entry in entries:
            self.metadata_entry(entry, metadata)
        return Node(
            op_type=op_type,
            name=name,
            domain=domain,
            inputs=inputs,
            outputs=outputs,
            attrs=attrs,
            metadata=metadata,
        )

    def metadata_entry(self, span: Span, out: dict[str, str]) -> None:
        """A StringStringEntryProto: kept when its key is one of NODE_METADATA_KEYS (compared
        as bytes: the others, large stack traces among them, are never decoded)."""
        key: str | None = None
        value: Span | None = None
        for num, _wt, a, b in self.fields([span], "StringStringEntryProto"):
            if num == 1:
                raw = bytes(self.buf[a:b]) if b - a <= _LONGEST_METADATA_KEY else b""
                key = _METADATA_KEYS.get(raw)
            else:
                value = (a, b)
        if key is not None:
            out[key] = self.text(*value) if value is not None else ""

    def attribute(self, span: Span, where: str) -> tuple[str, Any]:
        name = ""
        atype = 0
        scalar: dict[int, tuple[int, int]] = {}  # f, i, s: the last occurrence (a, b)
        tensor_spans: list[Span] = []  # t: occurrences are merged
        sizes: dict[int, int] = {}  # g, sparse_tensor, tp: kept opaque, total size
        floats: list[float] = []
        ints: list[int] = []
        strings: list[str] = []
        tensors: list[Span] = []
        opaque: dict[int, list[int]] = {}  # graphs, sparse_tensors, type_protos: sizes
        for num, wt, a, b in self.fields([span], "AttributeProto"):
            if num == 1:
                name = self.text(a, b)
            elif num == 20:
                atype = _s32(a)
            elif num in (2, 3, 4):
                scalar[num] = (a, b)
            elif num == 5:
                self.keep(tensor_spans, a, b, _COST["span"] if tensor_spans else _COST["tensor"])
            elif num in (6, 22, 14):
                sizes[num] = sizes.get(num, 0) + b - a
            elif num == 7:
                floats.extend(self.floats(wt, a, b, "f", f"{where}: attribute {_q(name)}") or ())
            elif num == 8:
                if wt == _VARINT:
                    ints.append(_s64(a))
                else:
                    ints.extend(_s64(v) for v in self.packed_varints(a, b) or ())
            elif num == 9:
                strings.append(self.text(a, b))
            elif num == 10:
                self.keep(tensors, a, b, _COST["tensor"])
            elif num in (11, 23, 15):
                self.charge(_COST["string"], a)
                opaque.setdefault(num, []).append(b - a)
        label = f"{where}: attribute {_q(name)}"
        if atype == 0:  # IR version 1 files had no type: take the field that is there
            present = [
                (2 in scalar, 1), (3 in scalar, 2), (4 in scalar, 3), (bool(tensor_spans), 4),
                (6 in sizes, 5), (22 in sizes, 11), (14 in sizes, 13), (bool(floats), 6),
                (bool(ints), 7), (bool(strings), 8), (bool(tensors), 9), (11 in opaque, 10),
                (23 in opaque, 12), (15 in opaque, 14),
            ]  # fmt: skip
            atype = next((t for there, t in present if there), 0)
            if not atype:
                raise self.error(f"{label} has no value")
        value: Any
        if atype == 1:
            value = struct.unpack_from("<f", self.buf, scalar[2][0])[0] if 2 in scalar else 0.0
        elif atype == 2:
            value = _s64(scalar[3][0]) if 3 in scalar else 0
        elif atype == 3:
            value = self.text(*scalar[4]) if 4 in scalar else ""
        elif atype == 4:
            value = self.tensor(tensor_spans, label)
        elif atype == 6:
            value = floats
        elif atype == 7:
            value = ints
        elif atype == 8:
            value = strings
        elif atype == 9:
            value = [self.tensor([s], f"{label}[{k}]") for k, s in enumerate(tensors)]
        elif atype in _OPAQUE_ONE:
            kind, field = _OPAQUE_ONE[atype]
            value = Opaque(kind, sizes.get(field, 0))
        elif atype in _OPAQUE_LIST:
            kind, field = _OPAQUE_LIST[atype]
            value = [Opaque(kind, n) for n in opaque.get(field, [])]
        else:  # a type from a later ONNX
            value = Opaque("unknown", span[1] - span[0])
        return name, value

    def tensor(self, spans: list[Span], where: str) -> Tensor:
        """A TensorProto: dims and type; values only when small (see Tensor)."""
        dims: list[int] = []
        data_type = location = 0
        name = ""
        raw: Span | None = None
        segmented = False
        typed: dict[int, list[tuple[int, int, int]]] = {}  # field -> occurrences (capped)
        for num, wt, a, b in self.fields(spans, "TensorProto"):
            if num == 1:
                self.add_dims(dims, wt, a, b, where)
            elif num == 2:
                data_type = _s32(a)
            elif num == 8:
                name = self.name(a, b)
            elif num == 9:
                raw = (a, b)
            elif num == 14:
                location = _s32(a)
            elif num == 3:
                segmented = True
            elif num in (4, 5, 7, 10, 11):
                occurrences = typed.setdefault(num, [])
                if len(occurrences) <= MAX_INT_VALUES:  # enough to see there are too many
                    self.charge(_COST["span"], a)
                    occurrences.append((wt, a, b))
        what = f"{where}: tensor {_q(name)}" if name else f"{where}: tensor"
        if any(d < 0 for d in dims):
            raise self.error(f"{what} has a negative dim ({_dims_text(dims)})")
        shape = tuple(dims)
        external = location == 1
        values: tuple[Any, ...] | None = None
        if not external and not segmented:
            values = self.tensor_values(shape, data_type, raw, typed, what)
        return Tensor(name=name, dims=shape, data_type=data_type, values=values, external=external)

    def add_dims(self, dims: list[int], wt: int, a: int, b: int, what: str) -> None:
        if wt == _VARINT:
            dims.append(_s64(a))
        else:
            got = self.packed_varints(a, b, MAX_RANK - len(dims))
            if got is None:
                raise OnnxLimitError(f"{what} has more than {MAX_RANK} dims", where=self.where)
            dims.extend(_s64(v) for v in got)
        if len(dims) > MAX_RANK:
            raise OnnxLimitError(f"{what} has more than {MAX_RANK} dims", where=self.where)

    def tensor_values(
        self,
        dims: tuple[int, ...],
        data_type: int,
        raw: Span | None,
        typed: dict[int, list[tuple[int, int, int]]],
        what: str,
    ) -> tuple[Any, ...] | None:
        numel = math.prod(dims)
        kind = DATA_TYPES.get(data_type, f"type {data_type}")
        if data_type in INT_TYPES:
            decode = numel <= MAX_INT_VALUES
        else:
            decode = data_type in FLOAT_TYPES and numel <= MAX_FLOAT_VALUES
        bits = _BITS.get(data_type)
        if raw is not None:
            a, b = raw
            if bits is not None:
                need = (numel * bits + 7) // 8
                if b - a != need:
                    raise self.error(
                        f"{what}: raw_data holds {b - a:,} bytes but dims {_dims_text(dims)} of "
                        f"{kind} need {need:,}"
                    )
            if not decode:
                return None
            self.charge(numel, a)
            out = struct.unpack_from(f"<{numel}{_RAW_FORMAT[data_type]}", self.buf, a)
            return tuple(_bf16(v) for v in out) if data_type == BFLOAT16 else out
        field = _TYPED_FIELD.get(data_type)
        occurrences = typed.get(field) if field is not None else None
        if not occurrences:
            return () if decode and numel == 0 else None  # no data in the file: weight-free
        if not decode:
            if field in (4, 10):  # fixed-size: the count is known without decoding
                size = 4 if field == 4 else 8
                count = sum((b - a) // size if wt == _LEN else 1 for wt, a, b in occurrences)
                if len(occurrences) <= MAX_INT_VALUES and count != numel:
                    raise self.error(
                        f"{what} holds {count:,} values but dims {_dims_text(dims)} need {numel:,}"
                    )
            return None
        found: list[Any] = []
        for wt, a, b in occurrences:
            room = numel - len(found)
            got: list[Any] | None
            if field in (4, 10):
                got = self.floats(wt, a, b, "f" if field == 4 else "d", what, room)
            elif wt == _VARINT:
                got = [a] if room > 0 else None
            else:
                got = self.packed_varints(a, b, room)
            if got is None:
                raise self.error(
                    f"{what} holds more values than its dims {_dims_text(dims)} need ({numel:,})"
                )
            found.extend(got)
        if len(found) != numel:
            raise self.error(f"{what} holds {len(found):,} values but dims {_dims_text(dims)} need {numel:,}")
        return tuple(_typed_value(data_type, v) for v in found)

    def sparse_tensor(self, span: Span, where: str) -> Tensor:
        """A SparseTensorProto as a Tensor: its values' name and type, its dense dims."""
        dims: list[int] = []
        values: list[Span] = []
        for num, wt, a, b in self.fields([span], "SparseTensorProto"):
            if num == 1:
                self.keep(values, a, b)
            elif num == 3:
                self.add_dims(dims, wt, a, b, where)
        inner = self.tensor(values, where)
        if any(d < 0 for d in dims):
            raise self.error(
                f"{where}: sparse tensor {_q(inner.name)} has a negative dim ({_dims_text(dims)})"
            )
        return Tensor(
            name=inner.name, dims=tuple(dims), data_type=inner.data_type, values=None, external=inner.external
        )

    def value_info(self, span: Span) -> ValueInfo:
        name = ""
        types: list[Span] = []
        for num, _wt, a, b in self.fields([span], "ValueInfoProto"):
            if num == 1:
                name = self.name(a, b)
            elif num == 2:
                self.keep(types, a, b)
        # TypeProto's value is a oneof: the last member set wins; only tensors are read.
        member: int = 0
        member_spans: list[Span] = []
        for num, _wt, a, b in self.fields(types, "TypeProto"):
            if num == 6:
                continue
            if num != member:
                member, member_spans = num, []
            self.keep(member_spans, a, b)
        elem_type = 0
        shape: tuple[int | str | None, ...] | None = None
        if member in (1, 8):  # tensor_type, sparse_tensor_type
            shape_spans: list[Span] = []
            for num, _wt, a, b in self.fields(member_spans, "TypeProto.Tensor"):
                if num == 1:
                    elem_type = _s32(a)
                else:
                    self.keep(shape_spans, a, b)
            if shape_spans:
                shape = self.shape(shape_spans, f"value {_q(name)}")
        return ValueInfo(name=name, elem_type=elem_type, shape=shape)

    def shape(self, spans: list[Span], what: str) -> tuple[int | str | None, ...]:
        out: list[int | str | None] = []
        for _num, _wt, a, b in self.fields(spans, "TensorShapeProto"):
            if len(out) >= MAX_RANK:
                raise OnnxLimitError(f"{what} has more than {MAX_RANK} dims", where=self.where)
            dim: int | str | None = None
            for num, _wt2, c, d in self.fields([(a, b)], "TensorShapeProto.Dimension"):
                if num == 1:
                    value = _s64(c)
                    dim = value if value >= 0 else None
                elif num == 2:
                    dim = self.name(c, d)
            out.append(dim)
        return tuple(out)


def _bf16(bits: int) -> float:
    return float(struct.unpack("<f", struct.pack("<I", (bits & 0xFFFF) << 16))[0])


def _typed_value(data_type: int, v: Any) -> Any:
    """One element of a typed field, as numpy.asarray(field).astype(dtype) would give it."""
    if data_type in (FLOAT, DOUBLE):
        return v
    if data_type == INT64:
        return _s64(v)
    if data_type == UINT64:
        return v
    if data_type == BOOL:
        return _s32(v) != 0
    if data_type == FLOAT16:
        return float(struct.unpack("<e", struct.pack("<H", v & 0xFFFF))[0])
    if data_type == BFLOAT16:
        return _bf16(v)
    narrow = _NARROW.get(data_type)
    if narrow is None:  # INT32
        return _s32(v)
    bits, signed = narrow
    v &= (1 << bits) - 1
    return v - (1 << bits) if signed and v >> (bits - 1) else v


# -- data flow ---------------------------------------------------------------------------------
def dataflow_order(graph: Graph, where: str = "") -> list[Node]:
    """The nodes in an order where each comes after the producers of what it reads: the
    file's order when it is one (ONNX requires it), else a stable topological sort.

    Raises OnnxError, naming the node and tensor, for a tensor defined twice (by two nodes,
    or by a node and an initializer or graph input), a node reading a tensor that nothing
    defines, a graph output that nothing defines, or a cycle. Empty input names (omitted
    optional inputs) are not reads."""
    defined: set[str] = set(graph.initializers)
    defined.update(v.name for v in graph.inputs)
    producer: dict[str, int] = {}
    for k, node in enumerate(graph.nodes):
        for out in node.outputs:
            if not out:
                continue
            if out in producer:
                first = graph.nodes[producer[out]]
                raise OnnxError(
                    f"tensor {_q(out)} is produced twice: by {_node_label(first, producer[out])} "
                    f"and by {_node_label(node, k)}",
                    where=where,
                )
            if out in defined:
                raise OnnxError(
                    f"{_node_label(node, k)} writes {_q(out)}, which is already an initializer or graph input",
                    where=where,
                )
            producer[out] = k
    for k, node in enumerate(graph.nodes):
        for name in node.inputs:
            if name and name not in defined and name not in producer:
                raise OnnxError(
                    f"{_node_label(node, k)} reads {_q(name)}, which no node, initializer or graph input defines",
                    where=where,
                )
    for value in graph.outputs:
        if value.name not in defined and value.name not in producer:
            raise OnnxError(f"graph output {_q(value.name)} is not produced by any node", where=where)

    n = len(graph.nodes)
    deps = [sorted({producer[x] for x in node.inputs if x in producer}) for node in graph.nodes]
    if all(d < k for k, ds in enumerate(deps) for d in ds):
        return list(graph.nodes)
    waiting = [len(ds) for ds in deps]
    users: list[list[int]] = [[] for _ in range(n)]
    for k, ds in enumerate(deps):
        for d in ds:
            users[d].append(k)
    ready = [k for k in range(n) if not waiting[k]]
    heapify(ready)
    order: list[int] = []
    while ready:
        k = heappop(ready)
        order.append(k)
        for u in users[k]:
            waiting[u] -= 1
            if not waiting[u]:
                heappush(ready, u)
    if len(order) < n:
        raise OnnxError(f"the graph has a cycle: {_cycle(graph, deps, set(order))}", where=where)
    return [graph.nodes[k] for k in order]


def _node_label(node: Node, index: int) -> str:
    return f"node {_q(node.name)} ({node.op_type})" if node.name else f"node {index} ({node.op_type})"


def _cycle(graph: Graph, deps: list[list[int]], done: set[int]) -> str:
    """One cycle among the nodes not in ``done``, as 'a (Relu) -> b (Add) -> a (Relu)'."""
    start = next(k for k in range(len(graph.nodes)) if k not in done)
    seen: dict[int, int] = {}
    path: list[int] = []
    k = start
    while k not in seen:  # every unsorted node depends on another unsorted one
        seen[k] = len(path)
        path.append(k)
        k = next(d for d in deps[k] if d not in done)
    loop = path[seen[k] :][::-1]  # dependencies first: producer -> consumer
    loop.append(loop[0])
    shown = [_node_label(graph.nodes[i], i).removeprefix("node ") for i in loop]
    if len(shown) > 8:
        shown = shown[:4] + ["..."] + shown[-3:]
    return " -> ".join(shown)
