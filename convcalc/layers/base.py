"""The layer protocol, its per-input result (``Cost``) and the one registry of layer types.

A layer type is a class with ``type_name``, ``fields`` and a ``cost(*shapes)`` method; the
``@register`` decorator makes it a YAML ``type:``, a JSON-Schema entry and (with ``command``)
a command of the CLI. Shapes are channels-first tuples without the batch: ``(C, *spatial)``.
Costs are per sample; the graph passes multiply by the batch.

Inputs. Most layers read one tensor (``arity = 1``) and implement ``cost(self, shape)``.
Merges (add, mul, concat) read two or more (``arity = 0``: variadic, at least 2) and
implement ``cost(self, *shapes)``. A layer may also *refer* to other tensors only for their
shape (resize's ``like: NAME``): such fields are listed in ``ref_fields``; the graph resolves
each to a tensor, and ``resolve_refs({field: shape})`` returns the concrete layer (for example
a resize to that size) whose ``cost`` is then called. Referenced tensors are not data inputs:
they add no memory traffic and no receptive field.

Receptive-field operations (``Cost.rf``; receptive.py applies them; None: unchanged, every
output element reads the input element at the same position):
  ("window", k_eff, stride, pad_before, dilation)   conv, pooling, pixel_unshuffle, pad/crop
        per spatial dim (tuples); output o reads inputs o*s - p + t*d for t in taps;
        pad/crop are k_eff = 1, stride 1 and pad_before = +begin (pad) or -begin (crop)
  ("transposed", kernel, stride, padding, dilation) transposed conv (tuples per dim)
  ("upsample", mode, scale)           integer nearest/linear upsampling (scale per dim);
                                      pixel_shuffle is ("upsample", "nearest", factor)
  ("resize", mode, in_size, out_size, align_corners, scale)
        general resizing (tuples per dim; ``scale`` is the user's per-dim scale factor or
        None when a size was given: torch's source index uses 1/scale when it is given)
  ("adaptive", in_size, out_size)     adaptive pooling (torch's windows)
  ("whole",)                          every output element depends on every input element
                                      (global pooling, instance/group norm, attention)
  ("drop",)                           the spatial dims are gone (flatten, linear)
  ("merge",)                          a multi-input layer (add, mul, concat): the union of
                                      its inputs' fields (size-1 dims broadcast)
A composite's field comes from its parts; a part whose extra["role"] is "shortcut" reads
the composite's input, and a "merge" part takes the union of the two branches.
"""

from __future__ import annotations

from math import prod
from typing import Any, ClassVar

from ..errors import GeometryError, SpecError
from .fields import Field

Shape = tuple[int, ...]  # (C, *spatial)


class Cost:
    """What one layer does to one input: the output shape and the counts, per sample.

    ``parts`` holds the parts of a composite layer (separable, shuffle unit), each a Cost
    with its ``label``; the composite's counts are the sums of its parts'. ``extra`` holds
    type-specific facts shown by reports (e.g. a transposed conv's zero-insertion MACs)."""

    __slots__ = (
        "type",
        "label",
        "input_shape",
        "input_shapes",
        "output_shape",
        "params",
        "macs",
        "flops",
        "rf",
        "parts",
        "extra",
    )

    def __init__(
        self,
        type: str,
        input_shape: Shape,
        output_shape: Shape,
        params: int = 0,
        macs: int = 0,
        flops: int = 0,
        rf: Any = None,
        parts: tuple = (),
        extra: dict | None = None,
        label: str | None = None,
        input_shapes: tuple[Shape, ...] | None = None,
    ):
        self.type = type
        self.label = label
        self.input_shape = input_shape
        # every data input (merges have several); input_shape is the first
        self.input_shapes = input_shapes if input_shapes is not None else (input_shape,)
        self.output_shape = output_shape
        self.params = params
        self.macs = macs
        self.flops = flops
        self.rf = rf
        self.parts = parts
        self.extra = extra

    @property
    def activations(self) -> int:
        return prod(self.output_shape)

    def info(self, key: str) -> Any:
        """A type-specific fact from ``extra`` that this type always records (KeyError if not)."""
        if self.extra is None:
            raise KeyError(key)
        return self.extra[key]

    def __repr__(self) -> str:
        return (
            f"Cost({self.type}, {list(self.input_shape)} -> {list(self.output_shape)}, "
            f"params={self.params}, macs={self.macs}, flops={self.flops})"
        )


def composite(type_name: str, input_shape: Shape, parts: list[Cost], extra: dict | None = None) -> Cost:
    """A composite's Cost: its parts' sums; its output is the last part's."""
    return Cost(
        type_name,
        input_shape,
        parts[-1].output_shape,
        params=sum(p.params for p in parts),
        macs=sum(p.macs for p in parts),
        flops=sum(p.flops for p in parts),
        parts=tuple(parts),
        extra=extra,
    )


def labelled(cost: Cost, label: str, role: str | None = None) -> Cost:
    """Name a part of a composite; ``role`` is "shortcut" or "merge" (see above)."""
    cost.label = label
    if role:
        cost.extra = {**(cost.extra or {}), "role": role}
    return cost


REGISTRY: dict[str, type[Layer]] = {}


def register(cls: type[Layer]) -> type[Layer]:
    """Add a layer type to the registry (a name may be registered once)."""
    name = cls.type_name
    if name in REGISTRY:
        raise RuntimeError(f"layer type {name!r} registered twice")
    names = [f.name for f in cls.fields]
    if len(set(names)) != len(names):
        raise RuntimeError(f"layer type {name!r} declares a field twice")
    REGISTRY[name] = cls
    return cls


class Layer:
    """Base of all layer types. Subclasses declare ``type_name``, ``fields``, ``summary`` and
    implement ``cost``; ``explain`` is optional. Instances are immutable parameter holders."""

    type_name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    fields: ClassVar[tuple[Field, ...]] = ()
    # True for the single-layer CLI commands (convcalc conv|depthwise|...)
    command: ClassVar[bool] = False
    # Field that --width-mult scales (None: not a conv-like layer)
    width_field: ClassVar[str | None] = None
    # Needs spatial dims (1 to 3) in its input
    spatial: ClassVar[bool] = False
    # Data inputs: 1, or 0 for "two or more" (merges: add, mul, concat); see the module doc
    arity: ClassVar[int] = 1
    # Fields whose value names another tensor, used only for its shape (resize's like)
    ref_fields: ClassVar[tuple[str, ...]] = ()

    __slots__ = ("params",)

    def __init__(self, **params: Any):
        self.params = params

    def __getattr__(self, name: str) -> Any:
        if name == "params":
            raise AttributeError(name)
        try:
            return self.params[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.type_name}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.params == other.params

    def __hash__(self) -> int:
        return hash((self.type_name, tuple(sorted(self.params.items(), key=lambda kv: kv[0]))))

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def field_map(cls) -> dict[str, Field]:
        fm = cls.__dict__.get("_field_map")
        if fm is None:
            fm = {f.name: f for f in cls.fields}
            cls._field_map = fm  # type: ignore[attr-defined]
        return fm

    @classmethod
    def build(cls, values: dict[str, Any], *, text: bool = False) -> Layer:
        """Check and parse raw values (YAML values, or command-line strings with ``text``),
        fill defaults, and validate. Raises SpecError(field=...) naming the key."""
        fm = cls.field_map()
        params: dict[str, Any] = {}
        for key, raw in values.items():
            f = fm.get(key)
            if f is None:
                from .._suggest import did_you_mean

                raise SpecError(
                    f"unknown key {key!r} for type {cls.type_name}{did_you_mean(key, fm)}", field=key
                )
            if raw is None and not f.required:
                continue
            try:
                params[key] = f.kind.parse_text(raw) if text and isinstance(raw, str) else f.kind.parse(raw)
            except ValueError as e:
                raise SpecError(f"{key}: {e}", field=key) from None
        for f in cls.fields:
            if f.name not in params:
                if f.required:
                    raise SpecError(f"{cls.type_name} needs {f.name!r}", field=f.name)
                params[f.name] = f.default
        layer = cls(**params)
        layer.validate()
        return layer

    def validate(self) -> None:
        """Checks that need no input shape (e.g. a kernel of 0). Raise SpecError(field=...)."""

    def replace(self, **changes: Any) -> Layer:
        return type(self)(**{**self.params, **changes})

    def scaled(self, width_mult: float, divisor: int | None = None) -> Layer:
        """The layer under MobileNet's width multiplier: floor(c * alpha), at least 1, exactly
        (``alpha`` as the decimal it is written as: a float 0.7 is 7/10; see convcalc.numbers).
        With ``divisor``: torchvision's ``_make_divisible(c * alpha, divisor)`` (MobileNetV2,
        EfficientNet), applied at alpha = 1 too."""
        if (
            self.width_field is None
            or (width_mult == 1 and divisor is None)
            or self.params.get("keep_channels")
        ):
            return self
        c = self.params.get(self.width_field)
        if c is None:
            return self
        if divisor is not None:
            return self.replace(**{self.width_field: make_divisible(c, width_mult, divisor)})
        from ..numbers import floor_times

        return self.replace(**{self.width_field: max(1, floor_times(c, width_mult))})

    # -- what it does ----------------------------------------------------------------------
    def cost(self, shape: Shape) -> Cost:  # pragma: no cover - abstract
        """Output shape and counts for this input shape. Merges (``arity == 0``) override it
        as ``cost(self, *shapes)``; the graph always calls ``layer.cost(*input_shapes)``."""
        raise NotImplementedError

    def resolve_refs(self, shapes: dict[str, Shape]) -> Layer:
        """The concrete layer once the tensors named by ``ref_fields`` have shapes."""
        return self

    def explain(self, shape: Shape) -> list[str]:
        """Formulas with the numbers substituted, one step per line."""
        c = self.cost(shape)
        return [
            f"{self.type_name}: {list(c.input_shape)} -> {list(c.output_shape)}, no learnable "
            f"parameters, {c.flops} FLOPs"
        ]

    def require_spatial(self, shape: Shape, lo: int = 1) -> int:
        n = len(shape) - 1
        if not lo <= n <= 3:
            shown = "[" + ", ".join(map(str, shape)) + "]"
            raise GeometryError(
                f"{self.type_name} needs an input with {lo} to 3 spatial dims, got shape {shown}"
            )
        return n


def make_divisible(c: int, width_mult: float, divisor: int) -> int:
    """torchvision's ``_make_divisible(c * width_mult, divisor)``: the nearest multiple of
    ``divisor``, at least ``divisor``, and never more than 10% below ``c * width_mult``."""
    try:
        v = c * width_mult
        new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
        return new_v + divisor if new_v < 0.9 * v else new_v
    except OverflowError:  # c is an exact int beyond a float's range
        from fractions import Fraction

        x = Fraction(c) * Fraction(width_mult)
        new_x = max(divisor, int(x + Fraction(divisor, 2)) // divisor * divisor)
        return new_x + divisor if new_x < Fraction(9, 10) * x else new_x


def per_dim(layer: Layer, name: str, n: int) -> tuple[int, ...]:
    """A Dims field broadcast to ``n`` spatial dims; a list of the wrong length is an error."""
    v = layer.params[name]
    if isinstance(v, tuple):
        if len(v) != n:
            raise GeometryError(
                f"{{{name}}} has {len(v)} values but the input has {n} spatial dims",
                field=name,
                **dict[str, Any]({name: v}),
            )
        return v
    return (v,) * n
