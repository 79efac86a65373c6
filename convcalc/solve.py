"""Output-size arithmetic backwards: which (kernel, stride, padding, dilation[, output_padding])
take an input size to an output size. Pure integer math; the forward formulas are shapes.py's
(PyTorch's), and every solution is checked with them before it is returned.

One spatial dim at a time (``e = d(k-1) + 1`` is the dilated kernel's extent):

  conv        o = floor((i + P - e)/s) + 1, P = p_before + p_after, each side 0..d(k-1).
              o depends on the total P only, so each P is listed once: symmetric (P/2 a side)
              when P is even, else P//2 before and one more after (TensorFlow's 'same' split).
  transposed  o = (i-1)s - 2p + e + output_padding, p in 0..d(k-1), 0 <= output_padding < max(s, d)
  pool        PyTorch's pooling rule with ceil_mode (or floor), p in 0..k//2 (torch's limit)

Searched: kernel 1..max_kernel, stride 1..max_stride, dilation 1..max_dilation (dilation only
for kernels > 1: a one-tap kernel has no spacing). A value the user fixes (``kernel=3``) replaces
its range. Sorted by simplicity: smallest kernel, then dilation 1 (then larger), then symmetric
padding (no output_padding), then smallest stride, then smallest padding.

Several dims: dims with the same (input, output, constraints) share one geometry (a square
problem gets square kernels); different ones are solved apart and combined, simplest first
(the most complex dim of each combination compared first).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import product

from . import shapes
from .errors import ConvcalcError, LimitError

KINDS = ("conv", "transposed", "pool")
MAX_RANGE = 32  # --max-kernel / --max-stride / --max-dilation
MAX_SOLUTIONS = 100_000  # geometries (or per-dim combinations) one query may list


@dataclass(frozen=True)
class Geometry:
    """One spatial dim's layer parameters. ``padding`` is the padding before (per side when
    symmetric); ``padding_after`` differs from it only for a conv's odd total padding."""

    kernel: int
    stride: int
    padding: int
    dilation: int
    padding_after: int
    output_padding: int = 0

    @property
    def symmetric(self) -> bool:
        return self.padding == self.padding_after and self.output_padding == 0

    @property
    def extent(self) -> int:
        return shapes.effective_kernel(self.kernel, self.dilation)


@dataclass(frozen=True)
class Constraints:
    """Values the user fixed for one dim (None: searched)."""

    kernel: int | None = None
    stride: int | None = None
    padding: int | None = None
    dilation: int | None = None
    output_padding: int | None = None


@dataclass(frozen=True)
class Ranges:
    max_kernel: int = 7
    max_stride: int = 4
    max_dilation: int = 4

    def check(self) -> None:
        for name, v in (
            ("max_kernel", self.max_kernel),
            ("max_stride", self.max_stride),
            ("max_dilation", self.max_dilation),
        ):
            if not 1 <= v <= MAX_RANGE:
                raise ConvcalcError(f"{name.replace('_', ' ')} {v}: must be 1 to {MAX_RANGE}", field=name)


def forward(kind: str, i: int, g: Geometry, ceil_mode: bool = True) -> int:
    """The output size of this geometry on input size ``i`` (shapes.py's formulas)."""
    if kind == "conv":
        return shapes.conv_out(i, g.kernel, g.stride, g.padding, g.padding_after, g.dilation)
    if kind == "transposed":
        return shapes.transposed_out(i, g.kernel, g.stride, g.padding, g.dilation, g.output_padding)
    return shapes.pool_out(i, g.kernel, g.stride, g.padding, g.dilation, ceil_mode)


def simplicity(kind: str, g: Geometry) -> tuple[int, ...]:
    """Sort key: smallest kernel, dilation 1, symmetric padding, smallest stride, padding."""
    return (g.kernel, g.dilation, 0 if g.symmetric else 1, g.output_padding, g.stride, g.padding)


# -- one dim ------------------------------------------------------------------------------------------
def _values(fixed: int | None, top: int) -> range:
    return range(fixed, fixed + 1) if fixed is not None else range(1, top + 1)


def _kds(c: Constraints, r: Ranges) -> Iterator[tuple[int, int]]:
    """(kernel, dilation) pairs searched: dilation varies only for kernels > 1."""
    for k in _values(c.kernel, r.max_kernel):
        if c.dilation is not None:
            yield k, c.dilation
        elif k == 1:
            yield k, 1
        else:
            for d in range(1, r.max_dilation + 1):
                yield k, d


def _pad_bounds(c: Constraints, e: int) -> tuple[int, int]:
    """Padding per side: fixed, or 0..d(k-1) (e - 1)."""
    return (c.padding, c.padding) if c.padding is not None else (0, e - 1)


def _conv_p_interval(i: int, o: int, s: int, e: int, p_lo: int, p_hi: int) -> tuple[int, int]:
    """Total paddings P (p_lo <= P <= p_hi) with floor((i + P - e)/s) + 1 == o."""
    base = s * (o - 1) + e - i
    return max(base, p_lo), min(base + s - 1, p_hi)


def _conv_geometries(i: int, o: int, c: Constraints, r: Ranges) -> Iterator[Geometry]:
    for k, d in _kds(c, r):
        e = shapes.effective_kernel(k, d)
        lo, hi = _pad_bounds(c, e)
        for s in _values(c.stride, r.max_stride):
            if c.padding is not None:
                if shapes.conv_out(i, k, s, lo, lo, d) == o:
                    yield Geometry(k, s, lo, d, lo)
                continue
            a, b = _conv_p_interval(i, o, s, e, 0, 2 * hi)
            for total in range(a, b + 1):
                yield Geometry(k, s, total // 2, d, total - total // 2)


def _conv_count(i: int, o: int, c: Constraints, r: Ranges) -> int:
    """How many geometries _conv_geometries yields, without building them."""
    if c.padding is not None:
        return sum(1 for _ in _conv_geometries(i, o, c, r))
    n = 0
    for k, d in _kds(c, r):
        e = shapes.effective_kernel(k, d)
        for s in _values(c.stride, r.max_stride):
            a, b = _conv_p_interval(i, o, s, e, 0, 2 * (e - 1))
            n += max(0, b - a + 1)
    return n


def _opad_values(c: Constraints, s: int, d: int) -> range:
    top = max(s, d)
    if c.output_padding is not None:
        return range(c.output_padding, c.output_padding + 1) if c.output_padding < top else range(0)
    return range(top)


def _transposed_geometries(i: int, o: int, c: Constraints, r: Ranges) -> Iterator[Geometry]:
    for k, d in _kds(c, r):
        e = shapes.effective_kernel(k, d)
        lo, hi = _pad_bounds(c, e)
        for s in _values(c.stride, r.max_stride):
            for a in _opad_values(c, s, d):
                twice_p = (i - 1) * s + e + a - o  # o = (i-1)s - 2p + e + a
                if twice_p % 2 == 0 and lo <= twice_p // 2 <= hi:
                    p = twice_p // 2
                    yield Geometry(k, s, p, d, p, a)


def _pool_pads(c: Constraints, k: int) -> range:
    if c.padding is not None:
        return range(c.padding, c.padding + 1) if c.padding <= k // 2 else range(0)
    return range(k // 2 + 1)


def _pool_geometries(i: int, o: int, c: Constraints, r: Ranges, ceil_mode: bool) -> Iterator[Geometry]:
    for k, d in _kds(c, r):
        for s in _values(c.stride, r.max_stride):
            for p in _pool_pads(c, k):
                if shapes.pool_out(i, k, s, p, d, ceil_mode) == o:
                    yield Geometry(k, s, p, d, p)


def solve_dim(
    kind: str,
    i: int,
    o: int,
    constraints: Constraints = Constraints(),
    ranges: Ranges = Ranges(),
    ceil_mode: bool = True,
) -> list[Geometry]:
    """Every geometry in range that maps ``i`` to ``o`` in one dim, simplest first."""
    _check_kind(kind)
    if i < 1 or o < 1:
        return []
    if kind == "conv":
        n = _conv_count(i, o, constraints, ranges)
        if n > MAX_SOLUTIONS:
            raise _too_many(f"{n:,} geometries map {i} to {o} in this range")
        found: Iterator[Geometry] = _conv_geometries(i, o, constraints, ranges)
    elif kind == "transposed":
        found = _transposed_geometries(i, o, constraints, ranges)
    else:
        found = _pool_geometries(i, o, constraints, ranges, ceil_mode)
    out = []
    for g in found:
        if forward(kind, i, g, ceil_mode) != o:  # pragma: no cover - the algebra above is exact
            raise AssertionError(f"solve: {g} gives {forward(kind, i, g, ceil_mode)}, not {o}")
        out.append(g)
        if len(out) > MAX_SOLUTIONS:
            raise _too_many(f"more than {MAX_SOLUTIONS:,} geometries map {i} to {o} in this range")
    out.sort(key=lambda g: simplicity(kind, g))
    return out


def reachable_near(
    kind: str,
    i: int,
    o: int,
    constraints: Constraints = Constraints(),
    ranges: Ranges = Ranges(),
    ceil_mode: bool = True,
) -> tuple[int | None, int | None]:
    """The nearest output sizes below and above ``o`` that some geometry in range reaches
    from ``i`` (None: none on that side). Closed forms per (kernel, dilation, stride)."""
    _check_kind(kind)
    below: int | None = None
    above: int | None = None

    def consider(lo_o: int, hi_o: int, step: int = 1) -> None:
        """Outputs hi_o, hi_o - step, ..., down to lo_o (and only those >= 1)."""
        nonlocal below, above
        if hi_o < 1:
            return
        lo_o = max(lo_o, hi_o - (hi_o - 1) // step * step)  # the smallest member >= 1
        if lo_o > hi_o:
            return
        if lo_o < o:  # largest member < o
            b = min(hi_o, o - 1)
            b -= (hi_o - b) % step
            if b >= lo_o and (below is None or b > below):
                below = b
        if hi_o > o:  # smallest member > o
            a = max(lo_o, o + 1)
            a += (hi_o - a) % step
            if a <= hi_o and (above is None or a < above):
                above = a

    c = constraints
    for k, d in _kds(c, ranges):
        e = shapes.effective_kernel(k, d)
        lo, hi = _pad_bounds(c, e)
        for s in _values(c.stride, ranges.max_stride):
            if kind == "conv":
                x_lo, x_hi = i + 2 * lo - e, i + 2 * hi - e  # i + P - e, P = 2lo .. 2hi
                if x_hi >= 0:
                    consider(max(x_lo, 0) // s + 1, x_hi // s + 1)
            elif kind == "transposed":
                for a in _opad_values(c, s, d):
                    top = (i - 1) * s + e + a
                    consider(top - 2 * hi, top - 2 * lo, 2)
            else:
                for p in _pool_pads(c, k):
                    v = shapes.pool_out(i, k, s, p, d, ceil_mode)
                    consider(v, v)
    return below, above


# -- several dims ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One distinct (input, output, constraints) of a query and the dims that share it."""

    i: int
    o: int
    constraints: Constraints
    dims: tuple[int, ...]


@dataclass
class Nearest:
    """A size reachable instead: per dim, and the simplest geometry reaching it."""

    side: str  # "below" or "above"
    output_size: tuple[int, ...]
    geometry: tuple[Geometry, ...]


@dataclass
class Solution:
    kind: str
    input_size: tuple[int, ...]
    output_size: tuple[int, ...]
    ceil_mode: bool
    solutions: list[tuple[Geometry, ...]]  # one Geometry per dim
    total: int  # == len(solutions) unless a limit cut the list
    nearest: list[Nearest] = field(default_factory=list)
    unreachable: list[int] = field(default_factory=list)  # dims (0-based) with nothing near

    @property
    def found(self) -> bool:
        return self.total > 0


def problems(
    input_size: Sequence[int], output_size: Sequence[int], constraints: Sequence[Constraints]
) -> list[Problem]:
    groups: dict[tuple, list[int]] = {}
    for dim, key in enumerate(zip(input_size, output_size, constraints)):
        groups.setdefault(key, []).append(dim)
    return [Problem(i, o, c, tuple(dims)) for (i, o, c), dims in groups.items()]


def solve(
    kind: str,
    input_size: Sequence[int],
    output_size: Sequence[int],
    constraints: Sequence[Constraints] | None = None,
    ranges: Ranges = Ranges(),
    ceil_mode: bool = True,
    limit: int | None = None,
) -> Solution:
    """Every geometry (per dim) mapping ``input_size`` to ``output_size``; with none, the
    nearest reachable output sizes (each failing dim moved down, or up, to its nearest)."""
    _check_kind(kind)
    ranges.check()
    n = len(input_size)
    if len(output_size) != n:
        raise ConvcalcError(
            f"the input has {n} spatial dim{'s' if n != 1 else ''} and the output {len(output_size)}"
        )
    cons = list(constraints) if constraints is not None else [Constraints()] * n
    if len(cons) != n:
        raise ConvcalcError(f"constraints for {len(cons)} dims, but the sizes have {n}")
    probs = problems(input_size, output_size, cons)
    per = [solve_dim(kind, p.i, p.o, p.constraints, ranges, ceil_mode) for p in probs]
    total = 1
    for sols in per:
        total *= len(sols)
    result = Solution(kind, tuple(input_size), tuple(output_size), ceil_mode, [], total)
    if total:
        if total > MAX_SOLUTIONS:
            raise _too_many(
                f"{total:,} combinations of per-dim geometries map {_size(input_size)} to "
                f"{_size(output_size)} in this range"
            )
        result.solutions = _combine(kind, probs, per, n, limit)
        return result
    # No solution: move each failing dim to its nearest reachable size, below and above.
    near = {}
    for p, sols in zip(probs, per):
        if not sols:
            near[p] = reachable_near(kind, p.i, p.o, p.constraints, ranges, ceil_mode)
            if near[p] == (None, None):
                result.unreachable.extend(p.dims)
    for side, pick in (("below", 0), ("above", 1)):
        targets = {p: (near[p][pick] if p in near else p.o) for p in probs}
        if any(t is None for t in targets.values()):
            continue
        geoms: dict[int, Geometry] = {}
        out = list(output_size)
        for p in probs:
            t = targets[p]
            assert t is not None
            first = solve_dim(kind, p.i, t, p.constraints, ranges, ceil_mode)[0]
            for dim in p.dims:
                geoms[dim] = first
                out[dim] = t
        result.nearest.append(Nearest(side, tuple(out), tuple(geoms[d] for d in range(n))))
    return result


def _combine(
    kind: str, probs: list[Problem], per: list[list[Geometry]], n: int, limit: int | None
) -> list[tuple[Geometry, ...]]:
    if len(probs) == 1:
        return [tuple([g] * n) for g in per[0][:limit]]

    def key(combo: tuple[Geometry, ...]) -> tuple:
        return tuple(sorted((simplicity(kind, g) for g in combo), reverse=True))

    best = sorted(product(*per), key=key)[:limit]
    out = []
    for combo in best:
        dims: list[Geometry | None] = [None] * n
        for p, g in zip(probs, combo):
            for dim in p.dims:
                dims[dim] = g
        out.append(tuple(g for g in dims if g is not None))
    return out


def _too_many(what: str) -> LimitError:
    return LimitError(
        f"{what} (at most {MAX_SOLUTIONS:,} are listed): fix the kernel, stride or dilation "
        "(-k 3, -s 2, or one per dim: -k 3x5), or lower --max-kernel/--max-stride/--max-dilation"
    )


def _size(size: Sequence[int]) -> str:
    return "x".join(map(str, size))


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConvcalcError(f"unknown layer kind {kind!r} (use {', '.join(KINDS)})")


# -- results as plain dicts (the JSON of `convcalc solve`) ----------------------------------------------
def _per_dim(values: Sequence[int]) -> int | list[int]:
    """One value when every dim has it (as the layer commands take it), else one per dim."""
    return values[0] if len(set(values)) == 1 else list(values)


def geometry_dict(
    kind: str, geoms: Sequence[Geometry], input_size: Sequence[int], ceil_mode: bool, exact: bool = True
) -> dict:
    """A solution with the keys of the single-layer commands (kernel, stride, padding,
    dilation; output_padding for transposed, ceil_mode for pool; padding_after for conv)."""
    d: dict = {
        "type": kind,
        "kernel": _per_dim([g.kernel for g in geoms]),
        "stride": _per_dim([g.stride for g in geoms]),
        "padding": _per_dim([g.padding for g in geoms]),
    }
    if kind == "conv":
        d["padding_after"] = _per_dim([g.padding_after for g in geoms])
    d["dilation"] = _per_dim([g.dilation for g in geoms])
    if kind == "transposed":
        d["output_padding"] = _per_dim([g.output_padding for g in geoms])
    if kind == "pool":
        d["ceil_mode"] = ceil_mode
    d["input_size"] = list(input_size)
    d["output_size"] = [forward(kind, i, g, ceil_mode) for i, g in zip(input_size, geoms)]
    d["exact"] = exact
    return d


def solution_dicts(result: Solution) -> list[dict]:
    """The solutions, or (none found) the nearest reachable settings with ``exact: false``."""
    if result.found:
        return [
            geometry_dict(result.kind, combo, result.input_size, result.ceil_mode)
            for combo in result.solutions
        ]
    return [
        geometry_dict(result.kind, near.geometry, result.input_size, result.ceil_mode, exact=False)
        for near in result.nearest
    ]
