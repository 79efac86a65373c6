"""Typed layer fields. One declaration serves the YAML spec (key and value check), the
command line (option and text parsing), the JSON Schema and the README's key list.

A field's ``parse`` takes a YAML value, ``parse_text`` a command-line string; both return
the canonical value or raise ``ValueError`` with a message that completes
"<field>: <message>"."""

from __future__ import annotations

from typing import Any

from ..numbers import ExactFloat, check_int_size, parse_int, refuse_non_ascii_digits

_MISSING = object()


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, float):
        return "a float"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, (list, tuple)):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    if v is None:
        return "null"
    return "a value"


def _show(v: Any) -> str:
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, float):
        return getattr(v, "text", None) or repr(v)  # as written in a spec (yamlio.YFloat)
    return str(v)


def got(v: Any) -> str:
    """What a value is, for "must be ..., got X": ``a string 'eight'``, ``a boolean true``,
    ``null`` (as a spec writes it, never a Python type name)."""
    return "null" if v is None else f"{_type_name(v)} {_show(v)}"


_got = got


class Kind:
    """How a field's values are checked and parsed."""

    metavar = "VALUE"

    def parse(self, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def parse_text(self, text: str) -> Any:
        return self.parse(text)

    def schema(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError


class Int(Kind):
    metavar = "N"

    def __init__(self, minimum: int = 1):
        self.minimum = minimum

    def parse(self, value: Any) -> int:
        if not _is_int(value):
            raise ValueError(f"must be an integer, got {_got(value)}")
        check_int_size(value)
        if value < self.minimum:
            raise ValueError(f"must be >= {self.minimum}, got {value}")
        return value

    def parse_text(self, text: str) -> int:
        return self.parse(parse_int(text))

    def schema(self) -> dict:
        return {"type": "integer", "minimum": self.minimum}


class Dims(Kind):
    """An int, or one int per spatial dim (list in YAML, ``3x5`` on the command line)."""

    metavar = "K|KxK"

    def __init__(self, minimum: int = 1):
        self.minimum = minimum

    def _one(self, v: Any) -> int:
        if not _is_int(v):
            raise ValueError(f"must be an integer or a list of integers, got {_got(v)}")
        check_int_size(v)
        if v < self.minimum:
            raise ValueError(f"must be >= {self.minimum}, got {v}")
        return v

    def parse(self, value: Any) -> int | tuple[int, ...]:
        if isinstance(value, (list, tuple)):
            if not 1 <= len(value) <= 3:
                raise ValueError(f"needs 1 to 3 values (one per spatial dim), got {len(value)}")
            return tuple(self._one(v) for v in value)
        return self._one(value)

    def parse_text(self, text: str) -> int | tuple[int, ...]:
        refuse_non_ascii_digits(text)
        parts = text.strip().lower().split("x")
        try:
            values = [parse_int(p) for p in parts]
        except ValueError as e:
            if "too long" in str(e):
                raise
            raise ValueError(f"must be an integer or one per dim like 3x5, got {text!r}") from None
        return self.parse(values[0] if len(values) == 1 else values)

    def schema(self) -> dict:
        one = {"type": "integer", "minimum": self.minimum}
        return {"oneOf": [one, {"type": "array", "items": one, "minItems": 1, "maxItems": 3}]}


class Padding(Dims):
    """Dims >= 0, or 'same' / 'valid'."""

    metavar = "P|PxP|same|valid"
    WORDS = ("same", "valid")

    def __init__(self, words: bool = True):
        super().__init__(minimum=0)
        self.words = words
        if not words:
            self.metavar = "P|PxP"

    def parse(self, value: Any) -> Any:  # an int, one per dim, or a word
        if isinstance(value, str):
            word = value.strip().lower()
            if self.words and word in self.WORDS:
                return word
            allowed = (
                "an integer, one per dim, 'same' or 'valid'" if self.words else "an integer or one per dim"
            )
            raise ValueError(f"must be {allowed}, got {value!r}")
        return super().parse(value)

    def parse_text(self, text: str) -> Any:
        if text.strip().lower() in self.WORDS:
            return self.parse(text)
        return super().parse_text(text)

    def schema(self) -> dict:
        base = super().schema()
        if self.words:
            base["oneOf"].append({"enum": list(self.WORDS)})
        return base


class Bool(Kind):
    metavar = "BOOL"

    def parse(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {_got(value)}")
        return value

    def parse_text(self, text: str) -> bool:
        word = text.strip().lower()
        if word in ("true", "yes", "on", "1"):
            return True
        if word in ("false", "no", "off", "0"):
            return False
        raise ValueError(f"must be true or false, got {text!r}")

    def schema(self) -> dict:
        return {"type": "boolean"}


class Choice(Kind):
    def __init__(self, *options: str, aliases: dict[str, str] | None = None):
        self.options = options
        self.aliases = aliases or {}
        self.metavar = "|".join(options)

    def parse(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"must be one of {', '.join(self.options)}, got {_got(value)}")
        word = value.strip().lower()
        word = self.aliases.get(word, word)
        if word not in self.options:
            from .._suggest import did_you_mean

            raise ValueError(
                f"must be one of {', '.join(self.options)}, got {value!r}{did_you_mean(word, self.options)}"
            )
        return word

    def schema(self) -> dict:
        return {"enum": list(self.options) + sorted(self.aliases)}


class Float(Kind):
    metavar = "X"

    def __init__(self, minimum: float = 0.0, maximum: float | None = None):
        self.minimum = minimum
        self.maximum = maximum

    def parse(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be a number, got {_got(value)}")
        if isinstance(value, int):
            check_int_size(value)
        elif value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"must be a finite number, got {_show(value)}")
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            top = f" and <= {self.maximum}" if self.maximum is not None else ""
            raise ValueError(f"must be >= {self.minimum}{top}, got {value}")
        return value

    def parse_text(self, text: str) -> float:
        """Read exactly (``0.1`` is 1/10; see convcalc.numbers); the value is a float that
        remembers its decimal."""
        return self.parse(ExactFloat(text))

    def schema(self) -> dict:
        s: dict = {"type": "number", "minimum": self.minimum}
        if self.maximum is not None:
            s["maximum"] = self.maximum
        return s


class Text(Kind):
    metavar = "TEXT"

    def parse(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"must be a string, got {_got(value)}")
        return value

    def schema(self) -> dict:
        return {"type": "string"}


class Field:
    """One key of a layer type: its name (YAML key; ``--name-with-dashes`` option), kind,
    default (``_MISSING`` = required), help text and optional short option."""

    __slots__ = ("name", "kind", "default", "help", "short", "cli")

    def __init__(
        self,
        name: str,
        kind: Kind,
        default: Any = _MISSING,
        help: str = "",
        short: str | None = None,
        cli: bool = True,
    ):
        self.name = name
        self.kind = kind
        self.default = default
        self.help = help
        self.short = short
        self.cli = cli

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def with_default(self, default: Any) -> Field:
        return Field(self.name, self.kind, default, self.help, self.short, self.cli)


MISSING = _MISSING

# The fields shared by the convolution family, declared once.
OUT_CHANNELS = Field("out_channels", Int(1), help="output channels", short="-o")
KERNEL = Field("kernel", Dims(1), help="kernel size: an int or one per spatial dim", short="-k")
STRIDE = Field("stride", Dims(1), 1, help="stride", short="-s")
PADDING = Field("padding", Padding(), 0, help="zero padding per side, or same / valid", short="-p")
DILATION = Field("dilation", Dims(1), 1, help="dilation (spacing of the kernel taps)", short="-d")
GROUPS = Field("groups", Int(1), 1, help="groups: each sees in/g channels, makes out/g", short="-g")
BIAS = Field("bias", Bool(), True, help="learnable bias (torch.nn's default: on)")
KEEP_CHANNELS = Field(
    "keep_channels",
    Bool(),
    False,
    cli=False,
    help="--width-mult leaves this layer's out_channels alone (an output layer: class scores, RGB)",
)
