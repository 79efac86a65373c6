"""The spec format as a JSON Schema (draft 2020-12), generated from the layer registry, so
editors (yaml-language-server) complete and check specs as they are typed. Add to a spec:
``# yaml-language-server: $schema=convcalc-spec.schema.json`` after ``convcalc schema > ...``."""

from __future__ import annotations

from typing import Any

from .budget import ALL_METRICS
from .layers import REGISTRY
from .layers.base import Layer
from .spec import BLOCKS
from .tree import BLOCKS as BLOCK_TYPES

_LIMIT = {
    "oneOf": [
        {"type": "integer", "minimum": 0},
        {
            "type": "string",
            "pattern": r"^\s*[0-9][0-9_]*(\.[0-9]+)?([eE][+-]?[0-9]+)?\s*"
            r"([kKMGTPB]|KiB|MiB|GiB|TiB|[kKMGTP]?B)?\s*$",
        },
    ]
}

# a latency limit: a time with its unit (0 alone needs none), as devices.parse_duration reads it
_LATENCY = {
    "oneOf": [
        {"const": 0},
        {"type": "string", "pattern": r"^\s*([0-9]+(\.[0-9]+)?\s*(s|ms|us|µs|μs|ns)|0+(\.0+)?)\s*$"},
    ],
    "description": "roofline latency limit on budget.device: 5ms, 250us",
}
_DEVICE = {
    "type": "string",
    "minLength": 1,
    "description": "the device of the latency limit: a built-in profile (convcalc devices) or a profile file",
}

_BLOCK_DOCS = {
    "sequential": "layers in order (a named group)",
    "residual": "output = body(x) + shortcut(x); no shortcut: identity",
    "concat": "channel concatenation of the branches' outputs; an empty branch is the identity",
    "repeat": "`times` copies of `layers` (the first copy is `first`, if given)",
}


_NAME = {"type": "string", "description": "names the output tensor (read it with from: / inputs:)"}
_FROM = {"type": "string", "description": "read this earlier tensor instead of the previous item's output"}
_INPUTS = {
    "type": "array",
    "items": {"type": "string"},
    "minItems": 2,
    "description": "the tensors to merge (names of earlier layers or blocks, or 'input')",
}


def _layer_schema(cls: type[Layer]) -> dict[str, Any]:
    props: dict = {"type": {"const": cls.type_name}, "name": _NAME}
    required = ["type"]
    if cls.arity == 0:
        props["inputs"] = _INPUTS
        required.append("inputs")
    else:
        props["from"] = _FROM
    for f in cls.fields:
        s = dict(f.kind.schema())
        if f.help:
            s["description"] = f.help
        if not f.required and f.default is not None:
            s["default"] = list(f.default) if isinstance(f.default, tuple) else f.default
        props[f.name] = s
        if f.required:
            required.append(f.name)
    return {
        "type": "object",
        "description": cls.summary,
        "properties": props,
        "required": required,
        "patternProperties": {"^x-": {}},
        "additionalProperties": False,
    }


def _block_schema(name: str) -> dict:
    ref = {"$ref": "#/$defs/layers"}
    props: dict = {"type": {"const": name}, "name": _NAME, "from": _FROM}
    if name in ("sequential", "repeat"):
        props["layers"] = ref
    if name == "repeat":
        props["times"] = {"type": "integer", "minimum": 1}
        props["first"] = {
            "oneOf": [ref, {"type": "null"}],
            "description": "the first copy's layers, if different",
        }
    if name == "residual":
        props["body"] = ref
        props["shortcut"] = {"oneOf": [ref, {"type": "null"}]}
    if name == "concat":
        props["branches"] = {"type": "array", "minItems": 1, "items": {"oneOf": [ref, {"type": "null"}]}}
    required = ["type", *BLOCK_TYPES[name].required]
    return {
        "type": "object",
        "description": _BLOCK_DOCS[name],
        "properties": props,
        "required": required,
        "patternProperties": {"^x-": {}},
        "additionalProperties": False,
    }


def spec_schema() -> dict:
    types = list(dict.fromkeys([*REGISTRY, *BLOCKS]))
    defs = {f"type_{cls.type_name}": _layer_schema(cls) for cls in REGISTRY.values()}
    for b in BLOCKS:  # a block and a layer may share a type (concat: branches, or inputs)
        block = _block_schema(b)
        defs[f"type_{b}"] = {"oneOf": [block, defs[f"type_{b}"]]} if f"type_{b}" in defs else block
    # Dispatch on `type` with if/then, so an editor reports the errors of the right type.
    layer = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": types}},
        "allOf": [
            {
                "if": {"properties": {"type": {"const": t}}, "required": ["type"]},
                "then": {"$ref": f"#/$defs/type_{t}"},
            }
            for t in types
        ],
    }
    defs["layer"] = layer
    # a list of layers; a single layer mapping is accepted where a list is expected
    # (a nested list of layers, e.g. an anchored list, splices in)
    defs["layers"] = {
        "oneOf": [{"type": "array", "items": {"$ref": "#/$defs/item"}}, {"$ref": "#/$defs/layer"}]
    }
    defs["item"] = {
        "oneOf": [{"$ref": "#/$defs/layer"}, {"type": "array", "items": {"$ref": "#/$defs/item"}}]
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://convcalc.dev/spec.schema.json",
        "title": "convcalc network spec",
        "type": "object",
        "required": ["input", "layers"],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "input": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "minItems": 1,
                "maxItems": 4,
                "description": "channels, then 0 to 3 spatial dims",
            },
            "budget": {
                "type": "object",
                "properties": {
                    **{m: _LIMIT for m in ALL_METRICS if m != "latency"},
                    "latency": _LATENCY,
                    "device": _DEVICE,
                },
                "patternProperties": {"^x-": {}},
                "additionalProperties": False,
            },
            "layers": {
                "oneOf": [
                    {"type": "array", "items": {"$ref": "#/$defs/item"}, "minItems": 1},
                    {"$ref": "#/$defs/layer"},
                ]
            },
            "outputs": {
                "oneOf": [{"type": "array", "items": {"type": "string"}, "minItems": 1}, {"type": "string"}],
                "description": "the network's output tensors (names of layers or blocks); default: the last",
            },
        },
        "patternProperties": {"^x-": {}},
        "additionalProperties": False,
        "$defs": defs,
    }


def types_table() -> list[tuple[str, str, list[tuple[str, str | None]]]]:
    """(type, summary, [(key, default or None if required)]) for every layer and block type."""
    rows: list[tuple[str, str, list[tuple[str, str | None]]]] = []
    for cls in REGISTRY.values():
        keys = [(f.name, None if f.required else _show(f.default)) for f in cls.fields]
        if cls.arity == 0:
            keys.insert(0, ("inputs", None))
        rows.append((cls.type_name, cls.summary, keys))
    for b in BLOCKS:
        required = BLOCK_TYPES[b].required
        rows.append((b, _BLOCK_DOCS[b], [(k, None if k in required else "null") for k in BLOCKS[b]]))
    return rows


def _show(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return "x".join(map(str, v))
    return str(v)
