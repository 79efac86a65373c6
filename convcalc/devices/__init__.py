"""Hardware profiles for the roofline latency estimate: the built-in ones (one YAML file per
device in this package) and users' profile files. Pure apart from reading those files.

A profile file::

    name: my-board
    peak: {fp32: 1.2T, fp16: 2.4T, int8: 9.6T}   # dense FLOP/s (int8: OP/s), SI suffixes
    bandwidth: 51.2G                             # bytes/s (51.2GB, 100GiB and /s also read)
    launch_overhead: 5us                         # optional, added per kernel: s, ms, us, ns
    source: {document: ..., url: ..., figures: [...], unconfirmed: [...]}   # optional
    notes: free text                             # optional

``peak`` keys: fp64, fp32, tf32, fp16, bf16, int8 (tf32 is informative: ``--dtype`` has no
tf32, see docs/latency.md). ``bandwidth`` may be left out where none is published; the
latency estimate then refuses the profile with a clear message. Values are exact: ``51.2G``
is 51,200,000,000 bytes/s and ``5us`` is Fraction(5, 10**6) seconds. Keys starting with
``x-`` are ignored. Every error names the file and line: ``board.yaml:3: peak.fp16: ...``.

``load_profile(ref)`` takes a built-in name (case-insensitive; its file name, display name or
an alias such as ``orin``) or a path to a profile file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from typing import Any

from ..errors import ConvcalcError, SpecError

HERE = os.path.dirname(os.path.abspath(__file__))

PEAK_DTYPES = ("fp64", "fp32", "tf32", "fp16", "bf16", "int8")
TOP_KEYS = ("name", "aliases", "peak", "bandwidth", "launch_overhead", "source", "notes")
SOURCE_KEYS = ("document", "url", "figures", "unconfirmed")
TIME_UNITS = {"s": 1, "ms": 10**3, "us": 10**6, "µs": 10**6, "μs": 10**6, "ns": 10**9}
_TIME = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zµμ]*)\s*$")
MAX_DIGITS = 40


@dataclass(frozen=True)
class Source:
    """Where a profile's figures come from: the document, its URL, the figures taken from it
    (as printed), and the figures that could not be confirmed from a source."""

    document: str
    url: str = ""
    figures: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "url": self.url or None,
            "figures": list(self.figures),
            "unconfirmed": list(self.unconfirmed),
        }


@dataclass(frozen=True)
class Profile:
    """A device: dense peak operations per second per dtype, memory bandwidth in bytes per
    second (None: not published) and a per-kernel launch overhead in seconds (exact)."""

    name: str
    peak: dict[str, int]
    bandwidth: int | None
    launch_overhead: Fraction = Fraction(0)
    source: Source | None = None
    notes: str = ""
    key: str = ""  # the built-in's id (its file name); "" for a user's file
    aliases: tuple[str, ...] = ()
    origin: str = field(default="", compare=False)  # where it was read from, for messages

    def peak_for(self, dtype: str) -> int:
        """Peak at ``dtype``; a dtype the profile has no figure for is a clear error."""
        try:
            return self.peak[dtype]
        except KeyError:
            have = ", ".join(self.peak) or "none"
            raise ConvcalcError(
                f"device {self.name!r} has no {dtype} peak (it lists {have}); "
                f"choose another --dtype or give a profile file with peak.{dtype}"
            ) from None

    def require_bandwidth(self) -> int:
        if self.bandwidth is None:
            raise ConvcalcError(
                f"device {self.name!r} has no memory bandwidth figure"
                + (" (none is published)" if self.key else "")
                + ": the latency estimate needs one; give a profile file with bandwidth:"
            )
        return self.bandwidth

    def as_dict(self) -> dict[str, Any]:
        """JSON: exact integers for peaks (ops/s) and bandwidth (bytes/s); the launch
        overhead in seconds (a float) and as written."""
        return {
            "id": self.key or None,
            "name": self.name,
            "aliases": list(self.aliases),
            "peak": dict(self.peak),
            "bandwidth": self.bandwidth,
            "launch_overhead_s": float(self.launch_overhead),
            "launch_overhead": duration_text(self.launch_overhead),
            "source": self.source.as_dict() if self.source else None,
            "notes": self.notes or None,
        }


# -- finding profiles ----------------------------------------------------------------------------
def builtin_ids() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(HERE) if f.endswith(".yaml"))


@cache
def builtins() -> tuple[Profile, ...]:
    """Every built-in profile, in id order."""
    return tuple(builtin(k) for k in builtin_ids())


@cache
def builtin(key: str) -> Profile:
    """One built-in profile by its id (its file name)."""
    return _read(os.path.join(HERE, f"{key}.yaml"), key=key)


_TOP = re.compile(r"^(name|aliases):[ \t]*(.*?)[ \t]*$")


@cache
def _index() -> dict[str, str]:
    """Normalised id, display name and aliases -> id, from a scan of the built-in files' top-level
    ``name:`` and ``aliases: [...]`` lines: finding one profile parses only its own file (a test
    checks that this scan agrees with the full parse)."""
    out: dict[str, str] = {}
    for key in builtin_ids():
        out.setdefault(normalise(key), key)
        with open(os.path.join(HERE, f"{key}.yaml"), encoding="utf-8") as fh:
            for line in fh:
                m = _TOP.match(line)
                if not m:
                    continue
                value = m.group(2)
                if m.group(1) == "name":
                    out.setdefault(normalise(value.strip("\"'")), key)
                elif value.startswith("[") and value.endswith("]"):
                    for alias in value[1:-1].split(","):
                        if alias.strip():
                            out.setdefault(normalise(alias.strip().strip("\"'")), key)
    return out


def profile_path(p: Profile) -> str:
    """The file a profile was read from (a built-in's file in this package)."""
    return os.path.join(HERE, f"{p.key}.yaml") if p.key else p.origin


def normalise(name: str) -> str:
    """``NVIDIA H100 SXM`` -> ``nvidia-h100-sxm``: case, spaces and underscores do not matter."""
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def load_profile(ref: str) -> Profile:
    """A built-in profile by name or alias, or a profile file by path."""
    if not isinstance(ref, str) or not ref.strip():
        raise ConvcalcError("--device needs a device name (convcalc devices lists them) or a YAML file")
    looks_like_path = ref.endswith((".yaml", ".yml")) or "/" in ref or os.sep in ref
    if not looks_like_path:
        key = _index().get(normalise(ref))
        if key is not None:
            return builtin(key)
        if not os.path.exists(ref):
            from .._suggest import did_you_mean

            names = [p.key for p in builtins()] + [a for p in builtins() for a in p.aliases]
            raise ConvcalcError(
                f"unknown device {ref!r}{did_you_mean(normalise(ref), names)}: "
                "`convcalc devices` lists the built-in ones; or give a profile file (FILE.yaml)"
            )
    return _read(ref)


def _read(path: str, key: str = "") -> Profile:
    from .. import yamlio

    text = yamlio.read_text(path)
    where = f"convcalc/devices/{key}.yaml" if key else path  # a built-in: its file in the package
    return parse_text(text, where, key=key)


def parse_text(text: str, where: str = "<profile>", key: str = "") -> Profile:
    """A profile from YAML text; ``where`` names it in messages (``FILE`` of ``FILE:LINE``)."""
    from .. import yamlio

    if not text.strip():
        raise SpecError("is empty: a device profile needs 'peak' and 'bandwidth'", where=where)
    return _Parser(where).profile(yamlio.load(text, where), key)


# -- parsing ------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, where: str):
        self.where = where

    def err(self, obj: Any, message: str, key: str | None = None) -> SpecError:
        from .. import yamlio

        if isinstance(obj, yamlio.YMap) and key:
            line = obj.key_line(key)
        else:
            line = yamlio.line_of(obj)
        return SpecError(message, where=f"{self.where}:{line}" if line else self.where)

    def check_keys(self, m: Any, allowed: tuple[str, ...], what: str, prefix: str = "") -> None:
        from .._suggest import did_you_mean

        for k in m:
            if not isinstance(k, str):
                raise self.err(m, f"{prefix}keys must be strings, got {k!r}")
            if k not in allowed and not k.startswith("x-"):
                raise self.err(m, f"{prefix}unknown key {k!r} for {what}{did_you_mean(k, allowed)}", k)

    def profile(self, doc: Any, key: str) -> Profile:
        from .. import yamlio
        from ..layers.fields import _type_name

        if not isinstance(doc, yamlio.YMap):
            raise SpecError(
                "a device profile must be a mapping with 'peak' and 'bandwidth', got "
                + ("nothing" if doc is None else _type_name(doc)),
                where=f"{self.where}:{yamlio.line_of(doc, 1)}",
            )
        self.check_keys(doc, TOP_KEYS, "a device profile")
        if "peak" not in doc:
            raise self.err(doc, "missing required key 'peak' (dense FLOP/s per dtype, e.g. {fp32: 1.2T})")
        name = doc.get("name")
        if name is None:
            name = key or _default_name(self.where)
        elif not isinstance(name, str) or not name.strip():
            raise self.err(doc, f"name: must be a non-empty string, got {_show(name)}", "name")
        peak = self.peak(doc)
        bandwidth = None
        if doc.get("bandwidth") is not None:
            bandwidth = self.rate(doc, "bandwidth", "memory", "a bandwidth in bytes/s like 51.2G")
        overhead = Fraction(0)
        if doc.get("launch_overhead") is not None:
            try:
                overhead = parse_duration(doc["launch_overhead"])
            except ValueError as e:
                raise self.err(doc, f"launch_overhead: {e}", "launch_overhead") from None
        return Profile(
            name=name.strip(),
            peak=peak,
            bandwidth=bandwidth,
            launch_overhead=overhead,
            source=self.source(doc),
            notes=self.text(doc, "notes"),
            key=key,
            aliases=self.strings(doc, "aliases"),
            origin=self.where,
        )

    def peak(self, doc: Any) -> dict[str, int]:
        from .. import yamlio
        from ..layers.fields import _type_name

        m = doc["peak"]
        if not isinstance(m, yamlio.YMap) or not m:
            what = "an empty mapping" if isinstance(m, dict) else _type_name(m)
            raise self.err(
                doc, f"peak: must be a mapping of dtype to FLOP/s like {{fp32: 1.2T}}, got {what}", "peak"
            )
        self.check_keys(m, PEAK_DTYPES, "peak (dtypes)", "peak: ")
        out = {}
        for dtype in PEAK_DTYPES:  # in a fixed order, whatever the file's
            if dtype in m:
                out[dtype] = self.rate(m, dtype, "", "a number of operations per second like 1.2T", "peak.")
        if not out:
            raise self.err(doc, f"peak: needs at least one of {', '.join(PEAK_DTYPES)}", "peak")
        return out

    def rate(self, m: Any, k: str, metric: str, like: str, prefix: str = "") -> int:
        from ..budget import parse_quantity
        from ..errors import BudgetInputError

        v = m[k]
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            from ..layers.fields import _type_name

            raise self.err(m, f"{prefix}{k}: must be {like}, got {_type_name(v)}", k)
        if isinstance(v, str) and metric == "memory" and v.rstrip().endswith("/s"):
            v = v.rstrip()[:-2]
        if isinstance(v, float):  # a YAML float: its shortest decimal text, read exactly
            v = repr(v) if v == v and v not in (float("inf"), float("-inf")) else v
        try:
            n = parse_quantity(v, metric)
        except BudgetInputError as e:
            msg = e.message.replace("a number like 600M, 4.5M, 1.2G or 800k", like)
            raise self.err(m, f"{prefix}{k}: {msg}", k) from None
        if n <= 0:
            raise self.err(m, f"{prefix}{k}: must be > 0, got {_show(m[k])}", k)
        return n

    def source(self, doc: Any) -> Source | None:
        from .. import yamlio
        from ..layers.fields import _type_name

        s = doc.get("source")
        if s is None:
            return None
        if isinstance(s, str):
            return Source(document=s.strip())
        if not isinstance(s, yamlio.YMap):
            raise self.err(doc, f"source: must be a string or a mapping, got {_type_name(s)}", "source")
        self.check_keys(s, SOURCE_KEYS, "source", "source: ")
        if not isinstance(s.get("document"), str) or not s["document"].strip():
            raise self.err(s, "source: needs 'document' (the datasheet's name)", "document")
        return Source(
            document=s["document"].strip(),
            url=self.text(s, "url", "source."),
            figures=self.strings(s, "figures", "source."),
            unconfirmed=self.strings(s, "unconfirmed", "source."),
        )

    def text(self, m: Any, k: str, prefix: str = "") -> str:
        v = m.get(k)
        if v is None:
            return ""
        if not isinstance(v, str):
            raise self.err(m, f"{prefix}{k}: must be a string, got {_show(v)}", k)
        return v.strip()

    def strings(self, m: Any, k: str, prefix: str = "") -> tuple[str, ...]:
        v = m.get(k)
        if v is None:
            return ()
        if isinstance(v, str):
            return (v.strip(),)
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.err(m, f"{prefix}{k}: must be a string or a list of strings, got {_show(v)}", k)
        return tuple(x.strip() for x in v)


def parse_duration(value: Any) -> Fraction:
    """``5us`` -> Fraction(1, 200000) seconds, exactly; units s, ms, us (µs), ns; 0 alone
    needs none. Raises ValueError with the reason."""
    if isinstance(value, bool):
        raise ValueError(f"must be a time like 5us or 0.5ms, got {value!r}")
    if isinstance(value, int) and value == 0:
        return Fraction(0)
    if not isinstance(value, str):
        raise ValueError(f"needs a unit: a time like 5us or 0.5ms, got {_show(value)}")
    m = _TIME.match(value)
    if not m:
        if value.strip().startswith("-"):
            raise ValueError(f"must be >= 0, got {_show(value)}")
        raise ValueError(f"{_show(value)} is not a time like 5us or 0.5ms")
    digits, unit = m.group(1), m.group(2)
    if len(digits) > MAX_DIGITS:
        raise ValueError(f"{_show(value)} is out of range")
    if unit not in TIME_UNITS:
        if not unit and Fraction(digits) == 0:
            return Fraction(0)
        raise ValueError(
            f"{_show(value)}: "
            + (f"unknown unit {unit!r}" if unit else "needs a unit")
            + " (use s, ms, us, ns)"
        )
    return Fraction(digits) / TIME_UNITS[unit]


def duration_text(seconds: Fraction) -> str:
    """Fraction(1, 200000) -> ``5us``: the largest unit that shows it as a short exact decimal."""
    if seconds == 0:
        return "0"
    for unit, scale in (("s", 1), ("ms", 10**3), ("us", 10**6), ("ns", 10**9)):
        v = seconds * scale
        if v >= 1 or unit == "ns":
            return exact_decimal(v) + unit
    raise AssertionError("unreachable")  # pragma: no cover


def si_text(n: int) -> str:
    """19500000000000 -> ``19.5T``, 17068000000 -> ``17.068G``: exact, never rounded."""
    for suffix, scale in (("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if abs(n) >= scale:
            return exact_decimal(Fraction(n, scale)) + suffix
    return str(n)


def exact_decimal(x: Fraction) -> str:
    """A Fraction as an exact decimal when it has one (denominator 2^a 5^b), else 6 significant
    digits with a ``~`` in front: a number that is not exact says so."""
    d = x.denominator
    k = 0
    while d % 2 == 0:
        d //= 2
        k += 1
    j = 0
    while d % 5 == 0:
        d //= 5
        j += 1
    if d == 1:
        places = max(k, j)
        scaled = x * 10**places
        s = str(scaled.numerator).rjust(places + 1, "0") if places else str(scaled.numerator)
        if places:
            s = s[:-places] + "." + s[-places:]
            s = s.rstrip("0").rstrip(".")
        return s
    return f"~{float(x):.6g}"


def _show(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 40 else r[:36] + "...'"


def _default_name(where: str) -> str:
    base = os.path.basename(where)
    for ext in (".yaml", ".yml"):
        if base.endswith(ext):
            return base[: -len(ext)]
    return base or "device"
