"""Budgets: parsing limits like ``600M`` and judging totals against them. Pure; no I/O.

Quantities are integers, or a number with an SI suffix (powers of 1000): ``800k``, ``4.5M``,
``1.2G``, ``2T``, ``1P``. Memory and memory traffic (bytes) also take binary suffixes
``KiB``, ``MiB``, ``GiB``, ``TiB`` (powers of 1024) and an optional ``B`` (``16MB``). Values
are exact: ``4.5M`` is 4,500,000; a value that is not a whole number (``1.0000001k``) is an
error. A latency limit is a time (``5ms``, ``250us``): an exact ``Fraction`` of a second,
judged against the roofline estimate on a device (convcalc.perf).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .errors import BudgetInputError
from .numbers import MAX_DECIMAL_DIGITS, exact, non_ascii_digit
from .numbers import MAX_EXPONENT as NUMBERS_MAX_EXPONENT

METRICS = ("macs", "flops", "params", "activations", "memory")  # counts, named as in report totals
PERF_METRICS = ("traffic", "latency")  # memory traffic (bytes) and roofline latency (seconds)
ALL_METRICS = METRICS + PERF_METRICS  # every metric a budget may limit
BYTE_METRICS = ("memory", "traffic")  # limits in bytes: binary suffixes too
# metric -> its key in a report's JSON totals, where the two differ
TOTAL_KEYS = {"traffic": "memory_traffic", "latency": "latency_s"}
SI = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "B": 10**9, "T": 10**12, "P": 10**15}
BINARY = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
_NUMBER = re.compile(r"^\s*([0-9]+(?:_[0-9]+)*(?:\.[0-9]+)?)(?:[eE]([+-]?[0-9]+))?\s*([A-Za-z]*)\s*$")
# Digits and exponent of a quantity: the rule of every decimal (convcalc.numbers).
MAX_DIGITS = MAX_DECIMAL_DIGITS
MAX_EXPONENT = NUMBERS_MAX_EXPONENT


def parse_quantity(value: Any, metric: str = "") -> int:
    """An exact non-negative integer from an int, a whole number written as a float (YAML's
    ``4.5e+22``: read from its text, never through a binary float), or a string like ``4.5M``."""
    if isinstance(value, bool):
        raise BudgetInputError(f"must be a number like 600M, got {_written(value)}")
    if isinstance(value, int):
        if value < 0:
            raise BudgetInputError(f"must be >= 0, got {value}")
        return value
    if isinstance(value, float):
        try:
            number = exact(value)
        except ValueError as e:
            raise BudgetInputError(f"must be a whole number >= 0: {e}") from None
        if number < 0:
            raise BudgetInputError(f"must be >= 0, got {_written(value)}")
        if number.denominator != 1:
            raise BudgetInputError(f"must be a whole number, got {_written(value)}")
        return int(number)
    if not isinstance(value, str):
        raise BudgetInputError(f"must be a number like 600M, got {_written(value)}")
    bad_digit = non_ascii_digit(value)
    if bad_digit is not None:
        raise BudgetInputError(
            f"{_short(value)} has the non-ASCII digit {bad_digit!r} (U+{ord(bad_digit):04X}): "
            "write numbers with the digits 0-9"
        )
    if value.strip().startswith("-") and _NUMBER.match(value.strip()[1:]):
        raise BudgetInputError(f"{_short(value)} must be >= 0")
    m = _NUMBER.match(value)
    if not m:
        raise BudgetInputError(f"{_short(value)} is not a number like 600M, 4.5M, 1.2G or 800k")
    digits, exponent, suffix = m.group(1).replace("_", ""), m.group(2), m.group(3)
    if len(digits) > MAX_DIGITS or (exponent is not None and abs(int(exponent)) > MAX_EXPONENT):
        raise BudgetInputError(
            f"{_short(value)} is out of range (at most {MAX_DIGITS} digits and an "
            f"exponent within +-{MAX_EXPONENT})"
        )
    number = Fraction(digits) * Fraction(10) ** int(exponent or 0)
    scale = _scale(suffix, metric)
    if scale is None:
        allowed = "k, M, G, T, KiB, MiB, GiB" if metric == "memory" else "k, M, G, T"
        raise BudgetInputError(f"{_short(value)}: unknown suffix {suffix!r} (use {allowed})")
    total = number * scale
    if total.denominator != 1:
        raise BudgetInputError(f"{_short(value)} is not a whole number ({_decimal_text(total)})")
    return int(total)


def _written(value: Any) -> str:
    """A spec value as the spec writes it: ``null``, ``true``, ``a list [1]``, ``4.5e+22``."""
    from .layers.fields import got

    return got(value)


def _decimal_text(x: Fraction, places: int = 12) -> str:
    """A fraction as a decimal, exact when it ends within ``places`` digits, else cut with '...'."""
    whole, rest = divmod(x.numerator, x.denominator)
    digits = []
    for _ in range(places):
        if not rest:
            break
        whole_digit, rest = divmod(rest * 10, x.denominator)
        digits.append(str(whole_digit))
    return f"{whole}." + "".join(digits) + ("..." if rest else "")


def _scale(suffix: str, metric: str) -> int | None:
    if suffix in SI and suffix != "B":
        return SI[suffix]
    if metric == "memory":
        if suffix in BINARY:
            return BINARY[suffix]
        if suffix.endswith("B") and suffix[:-1] in SI and suffix != "BB":
            return SI[suffix[:-1]]
        if suffix == "B":
            return 1
    else:
        if suffix in ("B", "b"):  # "1.2B" (billion) reads naturally for MACs and params
            return 10**9
    return None


def parse_limit(value: Any, metric: str) -> int | Fraction:
    """A limit on ``metric``: an exact count of ops, elements or bytes, or (latency) seconds."""
    if metric not in ALL_METRICS:
        raise BudgetInputError(f"unknown metric {metric!r} (use {', '.join(ALL_METRICS)})")
    if metric == "latency":
        return parse_latency(value)
    return parse_quantity(value, "memory" if metric in BYTE_METRICS else metric)


def limit_flags(texts: dict[str, str | None]) -> dict[str, int | Fraction]:
    """The limits given as ``--max-METRIC`` options (metric -> its text, or None when not
    given), parsed; an error names its option."""
    flags: dict[str, int | Fraction] = {}
    for metric, text in texts.items():
        if text is not None:
            try:
                flags[metric] = parse_limit(text, metric)
            except BudgetInputError as e:
                raise BudgetInputError(f"--max-{metric} {e.message}") from None
    return flags


def parse_latency(value: Any) -> Fraction:
    """``5ms`` -> Fraction(1, 200) seconds, exactly (units s, ms, us or µs, ns)."""
    from .devices import parse_duration

    try:
        return parse_duration(value)
    except ValueError as e:
        raise BudgetInputError(str(e)) from None


def _short(value: Any, limit: int = 40) -> str:
    """``repr`` of a user's value, cut short: error messages stay one readable line."""
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 4] + "...'"


_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")


def parse_allowance(text: str) -> tuple[str, Fraction]:
    """``5%`` -> ("percent", 5); ``2M`` -> ("absolute", 2000000). Exact, never negative."""
    s = str(text).strip()
    if s.endswith("%"):
        m = _PERCENT.match(s)
        if not m:
            if s.startswith("-"):
                raise BudgetInputError(f"{_short(text)} must be >= 0%")
            raise BudgetInputError(f"{_short(text)} is not a percentage like 5% or an amount like 2M")
        if len(m.group(1)) > MAX_DIGITS:
            raise BudgetInputError(f"{_short(text)} is out of range")
        return "percent", Fraction(m.group(1))
    try:
        return "absolute", Fraction(parse_quantity(s))
    except BudgetInputError as e:
        if "not a number" in e.message:
            raise BudgetInputError(
                f"{_short(text)} is not a percentage like 5% or an amount like 2M"
            ) from None
        raise


def allowance_text(allowance: tuple[str, Fraction]) -> str:
    kind, amount = allowance
    if kind == "percent":
        return f"{_fraction_text(amount)}%"
    return f"{int(amount):,}"


def _fraction_text(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{float(x):g}"


def percent(part: int | float | Fraction, whole: int | float | Fraction) -> float | None:
    """100 * part / whole, or None when whole is 0 or the ratio is beyond a float's range.
    (``100.0 * part`` would first turn a huge exact int into a float, and overflow.)"""
    if not whole:
        return None
    try:
        return float(100 * part / whole)
    except OverflowError:
        return None


METRIC_LABELS = {
    "macs": "MACs",
    "flops": "FLOPs",
    "params": "params",
    "activations": "activations",
    "memory": "memory",
    "traffic": "traffic",
    "latency": "latency",
}


def json_number(x: int | Fraction | None) -> int | float | None:
    """A value as JSON holds it: counts exact, times (Fractions of a second) as floats."""
    return float(x) if isinstance(x, Fraction) else x


@dataclass(slots=True)
class Verdict:
    """One metric of one spec against one limit (or a baseline allowance).

    ``line``: the spec line of the limit's key in ``budget:`` (0: none). ``allowed``: for a
    baseline verdict, the allowance as written (``5%``, ``2,000,000``). ``name``: the
    network's name (default: ``spec``). A latency verdict's values are exact Fractions of a
    second, estimated on ``device`` (its name)."""

    spec: str
    metric: str
    value: int | Fraction
    limit: int | Fraction
    source: str
    baseline: int | Fraction | None = None
    line: int = 0
    allowed: str | None = None
    name: str | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        if self.name is None:
            self.name = self.spec

    @property
    def passed(self) -> bool:
        return self.value <= self.limit

    @property
    def excess(self) -> int | Fraction:
        return self.value - self.limit

    @property
    def excess_percent(self) -> float | None:
        return percent(self.excess, self.limit)

    @property
    def used_percent(self) -> float | None:
        return percent(self.value, self.limit)

    @property
    def change(self) -> int | Fraction | None:
        return None if self.baseline is None else self.value - self.baseline

    @property
    def change_percent(self) -> float | None:
        if self.baseline is None:
            return None
        return percent(self.value - self.baseline, self.baseline)

    def as_dict(self) -> dict:
        j = json_number
        d = {
            "spec": self.spec,
            "name": self.name,
            "metric": self.metric,
            "value": j(self.value),
            "limit": j(self.limit),
            "passed": self.passed,
            "excess": j(max(self.excess, 0)),
            "excess_percent": (self.excess_percent if self.excess > 0 else 0.0) if self.limit else None,
            "used_percent": self.used_percent,
            "source": self.source,
            "line": self.line or None,
        }
        if self.metric == "latency":
            d["unit"] = "s"
            d["device"] = self.device
        if self.baseline is not None:
            d["baseline"] = j(self.baseline)
            d["change"] = j(self.change)
            d["change_percent"] = self.change_percent
            d["allowed_increase"] = j(self.limit - self.baseline)
        return d


def judge(
    spec: str,
    totals: dict[str, Any],
    limits: dict[str, Any],
    sources: dict[str, str],
    lines: dict[str, int] | None = None,
    name: str | None = None,
    device: str | None = None,
) -> list[Verdict]:
    """A verdict per limit. ``totals`` must hold every limited metric (``latency``: exact
    seconds on ``device``). A value equal to its limit passes."""
    lines = lines or {}
    return [
        Verdict(
            spec,
            m,
            totals[m],
            limits[m],
            sources.get(m, "flag"),
            line=lines.get(m, 0),
            name=name,
            device=device if m == "latency" else None,
        )
        for m in ALL_METRICS
        if m in limits
    ]


def judge_baseline(
    spec: str,
    totals: dict[str, Any],
    baseline: dict[str, Any],
    allowance: tuple[str, Fraction],
    metrics: tuple[str, ...] = ("params", "macs", "flops", "activations"),
    name: str | None = None,
    device: str | None = None,
) -> list[Verdict]:
    """Each total may grow by at most the allowance over the baseline report's total
    (a baseline of 0 with a percentage allowance allows no growth). ``metrics``: those
    compared, where both carry them. A latency (exact seconds) is compared with a percentage
    allowance only: an amount like 2M is not a time."""
    kind, amount = allowance
    allowed = allowance_text(allowance)
    out = []
    for m in metrics:
        if m not in baseline or m not in totals:
            continue
        old, new = baseline[m], totals[m]
        if m == "latency":
            if kind != "percent":
                continue
            # a saved latency is a float: compare this one at the same precision, so that an
            # unchanged network is unchanged
            new = Fraction(float(new))
            limit: int | Fraction = old + old * amount / 100  # exact
        else:
            extra = old * amount / 100 if kind == "percent" else amount
            limit = old + int(extra)  # floor: growing by more than the allowance fails
        out.append(
            Verdict(
                spec,
                m,
                new,
                limit,
                "baseline",
                baseline=old,
                allowed=allowed,
                name=name,
                device=device if m == "latency" else None,
            )
        )
    return out


# -- limits from flags and the spec's budget --------------------------------------------------------
def merge_limits(budget: dict[str, Any], flags: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(limits, sources): the spec's ``budget:`` with each flag overriding its key (the
    budget's ``device`` is not a limit: see ``merge_device``)."""
    limits = {m: budget[m] for m in ALL_METRICS if m in budget}
    sources = dict.fromkeys(limits, "budget")
    for m, v in flags.items():
        limits[m] = v
        sources[m] = "flag"
    return limits, sources


def annotation_line(metric: str, budget_lines: dict[str, int], source: str = "budget") -> int:
    """The spec line a CI annotation points at: the limit's key in ``budget:``, else the
    ``budget:`` line, else 1. A baseline verdict has no key of its own: ``budget:`` or 1."""
    if source != "baseline" and budget_lines.get(metric):
        return budget_lines[metric]
    return budget_lines.get("") or 1


# -- baselines: reports saved by `convcalc report --format json` ----------------------------------
@dataclass(slots=True)
class BaselineEntry:
    """One saved report's totals and the settings it was computed with."""

    name: str
    source: str | None
    totals: dict[str, Any]
    settings: dict


SETTINGS = ("batch", "width_mult", "dtype", "input_shape", "device")


def baseline_entries(doc: Any, where: str) -> list[BaselineEntry]:
    """The reports of a saved ``convcalc report --format json`` (one report, or
    ``{"reports": [...]}``), validated by ``convcalc.saved``: a clear error, never a KeyError."""
    from . import saved

    try:
        found = saved.reports(doc, where)
    except saved.SavedReportError as e:
        raise BudgetInputError(e.message) from None
    summary = doc.get("summary")
    sources = (
        [s.get("source") if isinstance(s, dict) else None for s in summary]
        if isinstance(summary, list) and len(summary) == len(found)
        else [None] * len(found)
    )
    out = []
    for (at, r), source in zip(found, sources):
        totals: dict[str, Any] = {m: r["totals"][m] for m in METRICS if m in r["totals"]}
        for m, key in TOTAL_KEYS.items():  # saved as memory_traffic and latency_s (checked by saved)
            v = r["totals"].get(key)
            if v is not None:
                totals[m] = Fraction(v) if m == "latency" else v  # a float of seconds, exactly
        if not totals:
            place = f"{at}: " if at else ""
            raise BudgetInputError(
                f"{where}: {place}'totals' has none of {', '.join(METRICS)}, "
                f"{', '.join(TOTAL_KEYS.values())} ({saved.HINT})"
            )
        settings = {k: r[k] for k in SETTINGS if k in r}
        if isinstance(settings.get("device"), dict):  # the device a saved report estimated for
            settings["device"] = settings["device"].get("name")
        out.append(
            BaselineEntry(r.get("name") or "", source if isinstance(source, str) else None, totals, settings)
        )
    return out


def find_baseline(
    entries: list[BaselineEntry], name: str, source: str, n_specs: int, where: str
) -> tuple[BaselineEntry | None, str]:
    """The saved report for spec ``source`` (network ``name``) and a note ("" if none).

    Matched by name; several reports of that name are told apart by the saved source path.
    A baseline holding one report, checked against one spec, is compared whatever its name.
    No match: ``None`` and a note (a spec new in this change has no baseline yet)."""
    hits = [e for e in entries if e.name == name]
    if len(hits) > 1:
        narrowed = [e for e in hits if e.source == source]
        if len(narrowed) != 1:
            raise BudgetInputError(
                f"{where}: {len(hits)} reports are named {name!r}; cannot tell which one "
                f"is the baseline of {source}"
            )
        hits = narrowed
    if hits:
        return hits[0], ""
    if len(entries) == 1 and n_specs == 1:
        e = entries[0]
        return e, f"compared with the baseline report {e.name!r} although the network is named {name!r}"
    names = ", ".join(repr(e.name) for e in entries[:8]) + (", ..." if len(entries) > 8 else "")
    return None, f"no report named {name!r} in the baseline {where} (it holds {names}): not compared"


def settings_mismatch(entry: BaselineEntry, current: dict) -> list[str]:
    """Settings that differ between the baseline and this run (batch 8 vs 1 ...)."""
    out = []
    for k in SETTINGS:
        if k in entry.settings and k in current:
            old, new = entry.settings[k], current[k]
            if k == "device" and (old is None or new is None):
                continue  # only latencies depend on it: they are compared when both have one
            if k == "input_shape":
                old, new = list(old) if isinstance(old, (list, tuple)) else old, list(new)
            if old != new:
                show = lambda v: "x".join(map(str, v)) if isinstance(v, list) else str(v)
                out.append(f"{k.replace('_', ' ')} {show(old)} in the baseline vs {show(new)} now")
    return out


# -- a whole check run ---------------------------------------------------------------------------
@dataclass(slots=True)
class Note:
    """Something a reader must see that is not a verdict. ``kind``: no_limits,
    baseline_missing, baseline_settings, baseline_name."""

    spec: str
    kind: str
    message: str
    name: str | None = None
    line: int = 1

    def __post_init__(self) -> None:
        if self.name is None:
            self.name = self.spec

    def as_dict(self) -> dict:
        return {"spec": self.spec, "name": self.name, "kind": self.kind, "message": self.message}


@dataclass(slots=True)
class CheckRun:
    """Every verdict and note of ``convcalc check``; ``passed`` iff no verdict failed.
    ``specs``: (spec, name) in order."""

    verdicts: list[Verdict]
    notes: list[Note]
    specs: list[tuple[str, str]]
    baseline: str | None = None
    allowance: tuple[str, Fraction] | None = None
    dtype: str = "fp32"

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.passed]

    def as_dict(self) -> dict:
        specs = []
        for spec, name in self.specs:
            mine = [v for v in self.verdicts if v.spec == spec]
            specs.append(
                {
                    "spec": spec,
                    "name": name,
                    "passed": all(v.passed for v in mine),
                    "checked": len(mine),
                    "failed": sum(not v.passed for v in mine),
                }
            )
        d = {
            "passed": self.passed,
            "checked": len(self.verdicts),
            "failed": len(self.failures),
            "dtype": self.dtype,
            "results": [v.as_dict() for v in self.verdicts],
            "notes": [n.as_dict() for n in self.notes],
            "specs": specs,
        }
        if self.baseline is not None:
            kind, amount = self.allowance or ("percent", Fraction(0))
            d["baseline"] = {
                "file": self.baseline,
                "max_increase": {
                    "kind": kind,
                    "amount": float(amount) if kind == "percent" else int(amount),
                    "text": allowance_text((kind, amount)),
                },
            }
        return d
