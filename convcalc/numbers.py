"""Numbers as the user wrote them: exact, ASCII, and within documented limits. Pure; no I/O.

* **Integers** (sizes, channels, counts) have at most ``MAX_INT_DIGITS`` digits, in specs and
  on the command line alike: far beyond any real network (10**100 is a googol), far below the
  point where products of a dozen such numbers reach Python's 4,300-digit limit on printing
  an integer.
* **Non-integers** (multipliers, limits like ``4.5M``) are read as exact decimals, never
  through a binary float: ``0.1`` is 1/10. A ``float`` given by a library caller is read as
  the shortest decimal that prints as it (``repr``), so ``0.7`` is 7/10, not
  0.6999999999999999555910790149937.
* Only the ASCII digits 0-9 are digits: ``２２４`` (full-width) or ``٣`` (Arabic-Indic) is
  refused with a message that says so, wherever a number is read.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: start-up time matters, and most runs need neither
    from decimal import Decimal
    from fractions import Fraction

MAX_INT_DIGITS = 100
MAX_DECIMAL_DIGITS = 40  # significant digits of a decimal (multipliers, limits)
MAX_EXPONENT = 30  # 1e30 at most; Fraction("1e99999999") would build a 400 MB integer

_INT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*\Z")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:_[0-9]+)*(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?\Z")


def non_ascii_digit(text: str) -> str | None:
    """The first character of ``text`` that Python counts as a digit but is not 0-9."""
    for c in text:
        if c.isdigit() and not "0" <= c <= "9":
            return c
    return None


def refuse_non_ascii_digits(text: str) -> None:
    """ValueError for ``２２４`` and the like: one rule everywhere (int() would accept them,
    our own parsers would not, so they are refused up front, with a message saying why)."""
    c = non_ascii_digit(text)
    if c is not None:
        raise ValueError(
            f"{text!r} has the non-ASCII digit {c!r} (U+{ord(c):04X}): write numbers with the digits 0-9"
        )


def check_int_size(value: int) -> int:
    """ValueError when an integer has more than MAX_INT_DIGITS digits (cheap: no str())."""
    if not -_INT_LIMIT < value < _INT_LIMIT:
        raise ValueError(too_many_digits(None))
    return value


_INT_LIMIT = 10**MAX_INT_DIGITS


def too_many_digits(n: int | None) -> str:
    count = f"{n:,} digits" if n is not None else f"more than {MAX_INT_DIGITS} digits"
    return f"a number of {count} is too long (the limit is {MAX_INT_DIGITS} digits)"


def parse_int(text: str) -> int:
    """A decimal integer from text: ASCII digits, an optional sign, ``_`` between digits, at
    most MAX_INT_DIGITS digits. ValueError (with a message) otherwise."""
    s = text.strip()
    refuse_non_ascii_digits(s)
    if not _INT.match(s):
        raise ValueError(f"must be an integer, got {text!r}")
    digits = len(s.lstrip("+-").replace("_", ""))
    if digits > MAX_INT_DIGITS:
        raise ValueError(too_many_digits(digits))
    return int(s.replace("_", ""))


def parse_decimal(text: str) -> Fraction:
    """An exact decimal from text (``0.75``, ``1e-3``, ``4.5E+22``): never through a float.
    ValueError for anything else, non-ASCII digits, or more digits / exponent than allowed."""
    s = text.strip()
    refuse_non_ascii_digits(s)
    m = _DECIMAL.match(s)
    if not m:
        raise ValueError(f"must be a number, got {text!r}")
    mantissa = s[: m.start(1) - 1] if m.group(1) is not None else s
    digits = len(mantissa.lstrip("+-").replace("_", "").replace(".", "").lstrip("0"))
    if digits > MAX_DECIMAL_DIGITS:
        raise ValueError(f"{text.strip()!r} has more than {MAX_DECIMAL_DIGITS} significant digits")
    if m.group(1) is not None and abs(int(m.group(1))) > MAX_EXPONENT:
        raise ValueError(f"{text.strip()!r} is out of range (an exponent within +-{MAX_EXPONENT})")
    from fractions import Fraction

    return Fraction(s.replace("_", ""))


def exact(value: int | float | Fraction | Decimal | str) -> Fraction:
    """The exact value of a number: a float is the decimal its ``repr`` shows."""
    from decimal import Decimal, InvalidOperation
    from fractions import Fraction

    if isinstance(value, Fraction):
        return value
    if isinstance(value, ExactFloat):
        return value.exact
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{getattr(value, 'text', None) or value} is not a finite number")
        text = getattr(value, "text", None)  # a YAML float (yamlio.YFloat): as written
        return parse_decimal(text.replace("_", "")) if text else Fraction(repr(value))
    if isinstance(value, Decimal):
        try:
            return Fraction(value)
        except (ValueError, OverflowError, InvalidOperation) as e:
            raise ValueError(f"{value} is not a finite number") from e
    return parse_decimal(value)


class ExactFloat(float):
    """A float that remembers the exact decimal it was written as (``exact``), so that
    arithmetic that matters (``int(c * alpha)``) is done on the exact value, while display,
    JSON and comparisons see an ordinary float."""

    __slots__ = ("exact",)
    exact: Fraction

    def __new__(cls, value: Fraction | str) -> ExactFloat:
        frac = parse_decimal(value) if isinstance(value, str) else value
        self = super().__new__(cls, float(frac))
        self.exact = frac
        return self

    def __reduce__(self) -> tuple:
        return (ExactFloat, (self.exact,))


def floor_times(n: int, factor: int | float | Fraction | Decimal | str) -> int:
    """``floor(n * factor)`` exactly (ints only once ``factor`` is known)."""
    if isinstance(factor, ExactFloat):
        f = factor.exact
    elif type(factor) is float or type(factor) is int:
        cached = _fraction_cache.get(factor)
        if cached is None:
            cached = exact(factor)
            if len(_fraction_cache) < 64:
                _fraction_cache[factor] = cached
        f = cached
    else:
        f = exact(factor)
    return n * f.numerator // f.denominator


# float -> Fraction for the few multipliers of a run (``exact`` costs microseconds; a
# 100,000-layer network scales every conv). Plain floats and ints only: an ExactFloat equals
# (and hashes as) its float but may carry more digits, so it never shares an entry.
_fraction_cache: dict[float | int, Fraction] = {}


def human(n: int, unit: str = "") -> str:
    """1234567 -> '1.23M' (SI, powers of 1000, up to P); memory in binary units (up to TiB)
    with unit='B'. Exact: two decimals rounded (half to even) from the integer itself, never
    through a float; a value beyond the largest suffix (1000P, 1024 TiB) is printed whole."""
    if unit == "B":
        return _with_suffix(
            n, (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)), 1024, " ", f"{n} B"
        )
    return _with_suffix(n, _SI_DOWN, 1000, "", str(n))


_SI_DOWN = (("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))


def _hundredths(a: int, scale: int) -> int:
    """a / scale in hundredths, rounded half to even (as Python formats a float: 3.125 is
    3.12), from the integers: exact for any size."""
    q, r = divmod(a * 100, scale)
    return q + 1 if 2 * r > scale or (2 * r == scale and q % 2) else q


def _with_suffix(n: int, suffixes: tuple[tuple[str, int], ...], base: int, sep: str, plain: str) -> str:
    sign, a = ("-", -n) if n < 0 else ("", n)
    for i, (suffix, scale) in enumerate(suffixes):
        if a < scale:
            continue
        hundredths = _hundredths(a, scale)
        if hundredths >= base * 100:  # 999.995k rounds to 1000.00k: one suffix up, or none
            if i == 0:
                return plain
            suffix, scale = suffixes[i - 1]
            hundredths = _hundredths(a, scale)
        return f"{sign}{hundredths // 100}.{hundredths % 100:02d}{sep}{suffix}"
    return plain
