"""The spec format as a JSON Schema (draft 2020-12), generated from the layer registry, so
editors (yaml-language-server) complete and check specs as they are typed. Add to a spec:
``# yaml-language-server: $schema=convcalc-spec.schema.json`` after ``convcalc schema > ...``."""

from __future__ import annotations

from .budget import METRICS
from .layers import REGISTRY
from .spec import BLOCKS

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

_BLOCK_DOCS = {
    "sequential": "layers in order (a named group)",
    "residual": "output = body(x) + shortcut(x); no shortcut: identity",
    "concat": "channel concatenation of the branches' outputs; an empty branch is the identity",
    "repeat": "`times` copies of `layers`",
}


def _layer_schema(cls) -> dict:
    props: dict = {"type": {"const": cls.type_name}, "name": {"type": "string"}}
    required = ["type"]
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
    props: dict = {"type": {"const": name}, "name": {"type": "string"}}
    if name in ("sequential", "repeat"):
        props["layers"] = ref
    if name == "repeat":
        props["times"] = {"type": "integer", "minimum": 1}
    if name == "residual":
        props["body"] = ref
        props["shortcut"] = {"oneOf": [ref, {"type": "null"}]}
    if name == "concat":
        props["branches"] = {"type": "array", "minItems": 1, "items": {"oneOf": [ref, {"type": "null"}]}}
    required = ["type"] + [k for k in BLOCKS[name] if k != "shortcut"]
    return {
        "type": "object",
        "description": _BLOCK_DOCS[name],
        "properties": props,
        "required": required,
        "patternProperties": {"^x-": {}},
        "additionalProperties": False,
    }


def spec_schema() -> dict:
    types = list(dict.fromkeys(list(REGISTRY) + list(BLOCKS)))
    defs = {f"type_{cls.type_name}": _layer_schema(cls) for cls in REGISTRY.values()}
    for b in BLOCKS:  # a name that is both (concat: a layer with inputs, a block with branches)
        block = _block_schema(b)
        defs[f"type_{b}"] = {"anyOf": [defs[f"type_{b}"], block]} if b in REGISTRY else block
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
                "properties": dict.fromkeys(METRICS, _LIMIT),
                "patternProperties": {"^x-": {}},
                "additionalProperties": False,
            },
            "layers": {
                "oneOf": [
                    {"type": "array", "items": {"$ref": "#/$defs/item"}, "minItems": 1},
                    {"$ref": "#/$defs/layer"},
                ]
            },
        },
        "patternProperties": {"^x-": {}},
        "additionalProperties": False,
        "$defs": defs,
    }


def types_table() -> list[tuple[str, str, list[tuple[str, object]]]]:
    """(type, summary, [(key, default or None if required)]) for every layer and block type."""
    rows = []
    for cls in REGISTRY.values():
        keys = [(f.name, None if f.required else _show(f.default)) for f in cls.fields]
        rows.append((cls.type_name, cls.summary, keys))
    for b in BLOCKS:
        rows.append((b, _BLOCK_DOCS[b], [(k, "null" if k == "shortcut" else None) for k in BLOCKS[b]]))
    return rows


def _show(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return "x".join(map(str, v))
    return str(v)
