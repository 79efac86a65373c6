"""Design under a budget: the largest width, input resolution or compound-scaling step of a
network whose exact counts meet every limit. Pure: no I/O, no printing.

What is varied, on a grid anchored at the spec as written (every setting is ``base + n * step``
for an integer n, so the spec itself is always on the grid):

  width       the width multiplier (MobileNet's alpha): walk(width_mult=A); base 1, step 0.05
  resolution  every spatial input dim set to R (Network.with_resolution); base the spec's, step 8
  compound    EfficientNet's phi: depth alpha^phi (each ``repeat`` runs ceil(d * times), as
              EfficientNet's round_repeats), width beta^phi, resolution round(R0 * gamma^phi);
              base 0, step 0.1; alpha = 1.2, beta = 1.1, gamma = 1.15 unless given

``divisor`` rounds every scaled channel count as torchvision's ``_make_divisible`` (MobileNetV2,
EfficientNet) instead of MobileNet's int(c * alpha).

The search uses the exact counts of ``network.walk`` (never the alpha^2 rule). Counts do not
fall as a setting grows (int() and rounding to multiples are monotone, and so are the output-size
formulas), so it gallops from the spec's own setting to bracket the boundary and bisects: about
2 log2(settings) walks. Settings where the network is invalid (a group that no longer divides
its channels, an input too small) are skipped: the nearest valid neighbours are used instead.
The answer (``best``) and the next valid setting up the grid (``next``) are both evaluated
exactly; ``best`` meets every limit and ``next`` breaks at least one.

Limits are metric -> maximum. Each metric is computed by an evaluator in ``EVALUATORS``: a
function of the walked report and a ``Context`` (dtype, batch, device). Memory traffic and the
roofline latency on a device (convcalc.perf) are two such entries: a latency is an exact
``Fraction`` of a second (a float in JSON), its limit too. Both grow with the width and the
resolution (bytes and FLOPs do), so the search below holds for them as well.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from . import export
from .errors import ConvcalcError, LimitError
from .network import Network, Report, walk
from .tree import Item as Node
from .tree import Repeat

VARY = ("width", "resolution", "compound")
SETTING_KEY = {"width": "width_mult", "resolution": "resolution", "compound": "phi"}
DEFAULT_STEP = {"width": Fraction(1, 20), "resolution": Fraction(8), "compound": Fraction(1, 10)}
ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15  # EfficientNet (Tan & Le 2019): depth, width, resolution

# Bounds: every search ends, whatever the limits and options.
MAX_WIDTH = 1000
MAX_RESOLUTION = 1_000_000
MAX_PHI = 20
MAX_SETTINGS = 10_000_000  # grid points in the range
MAX_EVALS = 200  # walks per search (a normal search takes 10 to 30)
PROBE = 3  # neighbours tried on each side of a setting where the network is invalid
FRONTIER = 2  # valid settings shown below best and above next


# -- metrics ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Context:
    """What an evaluator may need besides the report. ``device``: a ``devices.Profile`` for
    latency estimates (None: no latency)."""

    dtype: str = "fp32"
    batch: int = 1
    device: Any = None


Value = int | Fraction  # a count, or (latency) exact seconds
Evaluator = Callable[[Report, Context], Value]


def _traffic(r: Report, ctx: Context) -> int:
    perf = export.perf_of(r, ctx.dtype)
    return export.report_tally(r, perf).memory_traffic


def _latency(r: Report, ctx: Context) -> Fraction:
    if ctx.device is None:
        raise ConvcalcError(
            "a latency limit needs a device: give --device DEVICE (or budget.device in the spec)"
        )
    perf = export.perf_of(r, ctx.dtype, ctx.device)
    latency = perf.latency(export.report_tally(r, perf))
    assert latency is not None
    return latency


EVALUATORS: dict[str, Evaluator] = {
    "macs": lambda r, ctx: r.macs,
    "flops": lambda r, ctx: r.flops,
    "params": lambda r, ctx: r.params,
    "activations": lambda r, ctx: r.activations,
    "memory": lambda r, ctx: export.memory(r, ctx.dtype)["memory"],
    "traffic": _traffic,  # bytes read and written, unfused (convcalc.perf)
    "latency": _latency,  # the roofline estimate on ctx.device, exact seconds
}


def json_value(v: Any) -> Any:
    """A total as JSON holds it: exact counts, times as floats."""
    return float(v) if isinstance(v, Fraction) else v


# -- depth scaling: the one traversal of the spec tree ------------------------------------------------
def scale_depth(network: Network, depth_mult: float) -> tuple[Network, int]:
    """A copy of ``network`` in which every ``repeat`` runs ``ceil(depth_mult * times)`` times
    (EfficientNet's round_repeats), and how many repeat blocks it has. Subtrees the spec shares
    (YAML anchors) stay shared; the original is not changed."""
    memo: dict[int, Node] = {}
    repeats = 0

    def nodes(items: list[Node]) -> list[Node]:
        return [node(n) for n in items]

    def node(n: Node) -> Node:
        nonlocal repeats
        done = memo.get(id(n))
        if done is not None:
            return done
        kids = n.children()
        out = n.with_children([nodes(k) for k in kids]) if kids else n
        if isinstance(out, Repeat):
            repeats += 1
            try:
                times = math.ceil(depth_mult * out.times)
            except OverflowError:
                raise LimitError(f"repeat times {out.times} x depth {depth_mult} is out of range") from None
            out.times = max(1, times)
        memo[id(n)] = out
        return out

    scaled = copy.copy(network)
    scaled.layers = nodes(network.layers)
    return scaled, repeats


# -- settings ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grid:
    """Settings ``base + n * step`` for n_lo <= n <= n_hi."""

    base: Fraction
    step: Fraction
    n_lo: int
    n_hi: int

    def value(self, n: int) -> Fraction:
        return self.base + n * self.step

    def __len__(self) -> int:
        return max(0, self.n_hi - self.n_lo + 1)


@dataclass
class Point:
    """One evaluated setting. ``totals`` is None when the network is invalid there."""

    index: int
    setting: dict[str, Any]
    input_shape: tuple[int, ...] | None = None
    totals: dict[str, Any] | None = None
    exceeded: tuple[str, ...] = ()
    error: str | None = None

    @property
    def valid(self) -> bool:
        return self.totals is not None

    @property
    def fits(self) -> bool:
        return self.totals is not None and not self.exceeded

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = dict(self.setting)
        d["input_shape"] = list(self.input_shape) if self.input_shape else None
        d.update({k: json_value(v) for k, v in (self.totals or {}).items()})
        d["fits"] = self.fits
        d["exceeded"] = list(self.exceeded)
        return d


@dataclass
class FitResult:
    vary: str
    limits: dict[str, Value]
    grid: Grid
    best: Point | None  # None: even the smallest valid setting breaks a limit
    next: Point | None  # the next valid setting up the grid (it breaks a limit)
    frontier: list[Point]
    evaluations: int
    options: dict[str, Any] = field(default_factory=dict)  # divisor, alpha.., fixed width/resolution
    notes: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.best is not None

    def as_dict(self) -> dict[str, Any]:
        g = self.grid
        return {
            "vary": self.vary,
            "limits": {m: json_value(v) for m, v in self.limits.items()},
            "step": as_number(g.step),
            "range": [as_number(g.value(g.n_lo)), as_number(g.value(g.n_hi))],
            **self.options,
            "fits": self.fits,
            "best": self.best.as_dict() if self.best else None,
            "next": self.next.as_dict() if self.next else None,
            "frontier": [p.as_dict() for p in self.frontier],
            "evaluations": self.evaluations,
            "notes": list(self.notes),
        }


def _value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def as_number(x: Fraction) -> int | float:
    return int(x) if x.denominator == 1 else float(x)


# -- the problem -----------------------------------------------------------------------------------------
def fit(
    network: Network,
    limits: Mapping[str, Value],
    vary: str = "width",
    *,
    step: Fraction | None = None,
    lo: Fraction | None = None,
    hi: Fraction | None = None,
    divisor: int | None = None,
    alpha: float = ALPHA,
    beta: float = BETA,
    gamma: float = GAMMA,
    width_mult: float = 1.0,
    resolution: int | None = None,
    context: Context = Context(),
    evaluators: Mapping[str, Evaluator] = EVALUATORS,
) -> FitResult:
    """The largest setting on the grid whose counts meet every limit (see the module doc).

    Raises ConvcalcError for bad options, for a range in which no setting gives a valid
    network, and when every setting up to the top of the range meets the limits (no limit
    binds: the answer would only be the end of the range)."""
    if vary not in VARY:
        raise ConvcalcError(f"--vary {vary!r}: use {', '.join(VARY)}", field="vary")
    if not limits:
        raise ConvcalcError(
            "no limits: give --max-macs, --max-flops, --max-params, --max-activations, --max-memory, "
            "--max-traffic or --max-latency, or a budget: section in the spec"
        )
    for m, v in limits.items():
        if m not in evaluators:
            raise ConvcalcError(f"unknown metric {m!r} (use {', '.join(evaluators)})", field=m)
        kinds = (int, Fraction) if m == "latency" else (int,)
        if isinstance(v, bool) or not isinstance(v, kinds) or v < 0:
            raise ConvcalcError(f"limit {m}: must be an integer >= 0, got {v!r}", field=m)
    if "latency" in limits and context.device is None:
        raise ConvcalcError(
            "a latency limit needs a device: give --device DEVICE (or budget.device in the spec)",
            field="latency",
        )
    if divisor is not None and divisor < 1:
        raise ConvcalcError(f"--divisor {divisor}: must be >= 1", field="divisor")
    problem = _Problem(
        network, dict(limits), vary, divisor, alpha, beta, gamma, width_mult, resolution, context, evaluators
    )
    grid = problem.grid(step, lo, hi)
    search = _Search(grid, problem.evaluate, problem.limits)
    best, nxt = search.run()
    frontier = search.frontier(best, nxt)
    return FitResult(
        vary, dict(limits), grid, best, nxt, frontier, search.evaluations, problem.options(), problem.notes
    )


class _Problem:
    """How a grid value becomes a network and its counts."""

    def __init__(
        self,
        network: Network,
        limits: dict[str, Value],
        vary: str,
        divisor: int | None,
        alpha: float,
        beta: float,
        gamma: float,
        width_mult: float,
        resolution: int | None,
        context: Context,
        evaluators: Mapping[str, Evaluator],
    ):
        self.limits, self.vary, self.divisor = limits, vary, divisor
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self.width_mult, self.context, self.evaluators = width_mult, context, evaluators
        self.notes: list[str] = []
        spatial = network.input_shape[1:]
        if vary == "width":
            if resolution is not None:
                network = self._with_resolution(network, resolution, "--resolution")
        else:
            if not spatial:
                raise ConvcalcError(
                    f"--vary {vary}: the spec's input {_shape(network.input_shape)} has no spatial dims"
                )
            if len(set(spatial)) != 1:
                raise ConvcalcError(
                    f"--vary {vary}: the spec's input {_shape(network.input_shape)} is not square (every "
                    "spatial dim would become one resolution); write a square input in the spec"
                )
            if resolution is not None:
                raise ConvcalcError(f"--resolution: not with --vary {vary}, which sets the resolution")
        if vary == "compound":
            if width_mult != 1:
                raise ConvcalcError("--width-mult: not with --vary compound, which sets the width")
            for name, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
                if not (1 <= v <= 10):  # also refuses nan
                    raise ConvcalcError(
                        f"--{name} {v}: must be 1 to 10 (the scaling must not shrink the network "
                        "as phi grows)",
                        field=name,
                    )
            _, n_repeats = scale_depth(network, 1.0)
            if not n_repeats:
                self.notes.append("the spec has no repeat blocks: depth scaling changes nothing")
        elif not (width_mult > 0 and math.isfinite(width_mult)):
            raise ConvcalcError(f"--width-mult {width_mult}: must be a number > 0")
        self.network = network
        self.r0 = spatial[0] if spatial else 0

    @staticmethod
    def _with_resolution(network: Network, r: int, option: str) -> Network:
        if len(network.input_shape) < 2:
            raise ConvcalcError(
                f"{option}: the spec's input {_shape(network.input_shape)} has no spatial dims"
            )
        if r < 1:
            raise ConvcalcError(f"{option} {r}: must be >= 1")
        return network.with_resolution(r)

    def grid(self, step: Fraction | None, lo: Fraction | None, hi: Fraction | None) -> Grid:
        """The settings searched: base + n * step within [lo, hi] (defaults per vary)."""
        vary, key = self.vary, SETTING_KEY[self.vary]
        step = DEFAULT_STEP[vary] if step is None else step
        if step <= 0:
            raise ConvcalcError(f"--step {as_number(step)}: must be > 0", field="step")
        # base, lowest allowed (strictly above it for a width), default top, highest allowed
        if vary == "width":
            base, floor_, strict, top, cap = Fraction(1), Fraction(0), True, Fraction(4), Fraction(MAX_WIDTH)
        elif vary == "resolution":
            if step.denominator != 1:
                raise ConvcalcError(f"--step {float(step)}: a resolution step is a whole number of pixels")
            base, floor_, strict = Fraction(self.r0), Fraction(1), False
            top, cap = Fraction(max(4096, 4 * self.r0)), Fraction(max(MAX_RESOLUTION, self.r0))
        else:
            base, floor_, strict, top, cap = (
                Fraction(0),
                Fraction(-MAX_PHI),
                False,
                Fraction(10),
                Fraction(MAX_PHI),
            )
        if lo is not None and (lo < floor_ or (strict and lo == floor_)):
            raise ConvcalcError(
                f"--from {as_number(lo)}: a {key} must be {'>' if strict else '>='} {as_number(floor_)}",
                field="from",
            )
        if hi is not None and hi > cap:
            raise ConvcalcError(f"--to {as_number(hi)}: a {key} must be <= {as_number(cap)}", field="to")
        if lo is None:
            lo = Fraction(-4) if vary == "compound" else floor_
        if hi is None:
            hi = top
        n_lo = math.ceil((lo - base) / step)
        if strict and base + n_lo * step <= floor_:
            n_lo += 1
        grid = Grid(base, step, n_lo, math.floor((hi - base) / step))
        if len(grid) < 1:
            raise ConvcalcError(
                f"no {key} of the grid {as_number(base)} + n x {as_number(step)} lies in "
                f"[{as_number(lo)}, {as_number(hi)}]"
            )
        if len(grid) > MAX_SETTINGS:
            raise ConvcalcError(
                f"--step {as_number(step)}: {len(grid):,} settings in the range (at most {MAX_SETTINGS:,}); "
                "use a larger step or a narrower --from/--to"
            )
        return grid

    def options(self) -> dict[str, Any]:
        d: dict[str, Any] = {"divisor": self.divisor}
        if self.vary == "compound":
            d.update(alpha=self.alpha, beta=self.beta, gamma=self.gamma, base_resolution=self.r0)
        elif self.vary == "resolution":
            d["width_mult"] = self.width_mult
        d.update(batch=self.context.batch, dtype=self.context.dtype)
        return d

    def evaluate(self, n: int, value: Fraction) -> Point:
        net, w, setting = self.network, self.width_mult, {}
        if self.vary == "width":
            w = float(value)
            setting = {"width_mult": w}
        elif self.vary == "resolution":
            r = int(value)
            net = net.with_resolution(r)
            setting = {"resolution": r}
        else:
            phi = float(value)
            d, w = self.alpha**phi, self.beta**phi
            r = max(1, math.floor(self.r0 * self.gamma**phi + 0.5))
            net = scale_depth(net, d)[0].with_resolution(r)
            setting = {"phi": phi, "depth_mult": d, "width_mult": w, "resolution": r}
        point = Point(n, setting, tuple(net.input_shape))
        try:
            report = walk(net, batch=self.context.batch, width_mult=w, width_divisor=self.divisor)
        except LimitError as e:
            shown = ", ".join(f"{k} {_value(v)}" for k, v in setting.items())
            raise LimitError(f"at {shown}: {e.message}", where=e.where) from None
        except ConvcalcError as e:
            point.error = str(e)
            return point
        totals: dict[str, Any] = export.totals(report, self.context.dtype)
        for m in self.limits:
            if m not in totals:
                totals[m] = self.evaluators[m](report, self.context)
        if self.context.device is not None and "latency" not in totals and "latency" in self.evaluators:
            totals["latency"] = self.evaluators["latency"](report, self.context)
        point.totals = totals
        point.exceeded = tuple(m for m, limit in self.limits.items() if totals[m] > limit)
        return point


# -- the search ----------------------------------------------------------------------------------------
class _Search:
    def __init__(self, grid: Grid, evaluate: Callable[[int, Fraction], Point], limits: dict[str, Value]):
        self.grid = grid
        self._evaluate = evaluate
        self.limits = limits
        self.memo: dict[int, Point] = {}
        self._lowest: Point | None = None  # the smallest valid setting, when none fits

    @property
    def evaluations(self) -> int:
        return len(self.memo)

    def at(self, n: int) -> Point:
        p = self.memo.get(n)
        if p is None:
            if len(self.memo) >= MAX_EVALS:
                bad = [q for q in self.memo.values() if not q.valid]
                why = f"; {len(bad)} gave invalid networks, e.g. {bad[0].error}" if bad else ""
                raise LimitError(
                    f"gave up after {MAX_EVALS} settings{why}: narrow --from/--to or change --step"
                )
            p = self.memo[n] = self._evaluate(n, self.grid.value(n))
        return p

    def near(self, n: int, lo: int, hi: int) -> Point | None:
        """The first valid setting among n, n+1, n-1, ... n±PROBE that lies in [lo, hi]."""
        for off in range(PROBE + 1):
            for m in (n + off, n - off) if off else (n,):
                if lo <= m <= hi and self.at(m).valid:
                    return self.memo[m]
        return None

    def scan(self, lo: int, hi: int, start: int) -> Point | None:
        """Every setting in [lo, hi], outward from ``start``, until one is valid."""
        for off in range(max(start - lo, hi - start) + 1):
            for m in (start + off, start - off) if off else (start,):
                if lo <= m <= hi and self.at(m).valid:
                    return self.memo[m]
        return None

    def run(self) -> tuple[Point | None, Point | None]:
        g = self.grid
        n0 = min(max(0, g.n_lo), g.n_hi)
        start = self.near(n0, g.n_lo, g.n_hi) or self.scan(g.n_lo, g.n_hi, n0)
        if start is None:
            raise ConvcalcError(f"no setting in the range gives a valid network: {self.memo[n0].error}")
        if start.fits:
            lo, hi = start, self._up(start)
        else:
            below = self._down(start)
            if below is None:
                return None, self._lowest
            lo, hi = below, start
        return self._bisect(lo, hi)

    def _up(self, lo: Point) -> Point:
        """Gallop up from a fitting setting to one that breaks a limit."""
        g, jump = self.grid, 1
        while True:
            if lo.index >= g.n_hi:
                raise self._not_binding(lo)
            n = min(lo.index + jump, g.n_hi)
            p = self.near(n, lo.index + 1, g.n_hi)
            if p is None and n == g.n_hi:
                p = self.scan(lo.index + 1, g.n_hi, n)
                if p is None:
                    raise self._not_binding(lo)
            if p is not None:
                if not p.fits:
                    return p
                lo = p
            jump *= 2

    def _down(self, hi: Point) -> Point | None:
        """Gallop down from a setting that breaks a limit to one that fits (None: none does;
        ``self._lowest`` is then the smallest valid setting found)."""
        g, jump = self.grid, 1
        while True:
            if hi.index <= g.n_lo:
                self._lowest = hi
                return None
            n = max(hi.index - jump, g.n_lo)
            p = self.near(n, g.n_lo, hi.index - 1)
            if p is None:  # below the valid range (an input too small): find where it starts
                p = self._lowest_valid(n, hi)
                if not p.fits:
                    self._lowest = p
                    return None
            if p.fits:
                return p
            hi = p
            jump *= 2

    def _lowest_valid(self, bad: int, good: Point) -> Point:
        while good.index - bad > 1:
            mid = (bad + good.index) // 2
            p = self.near(mid, bad + 1, good.index - 1)
            if p is None:
                bad = mid
            else:
                good = p
        return good

    def _bisect(self, lo: Point, hi: Point) -> tuple[Point, Point]:
        while hi.index - lo.index > 1:
            mid = (lo.index + hi.index) // 2
            p = self.near(mid, lo.index + 1, hi.index - 1) or self.scan(lo.index + 1, hi.index - 1, mid)
            if p is None:  # every setting between is invalid: lo and hi are neighbours
                break
            if p.fits:
                lo = p
            else:
                hi = p
        return lo, hi

    def _not_binding(self, top: Point) -> ConvcalcError:
        g = self.grid
        key = next(iter(top.setting))
        totals = top.totals or {}
        shown = ", ".join(
            f"{m} {value_text(totals[m])} <= {value_text(limit)}" for m, limit in self.limits.items()
        )
        return ConvcalcError(
            f"every valid {key} up to {as_number(g.value(top.index))} (the top of the range) meets the "
            f"limits ({shown} there): no limit binds; raise --to or lower the limits"
        )

    def frontier(self, best: Point | None, nxt: Point | None) -> list[Point]:
        """Up to FRONTIER valid settings below best, best, next, and up to FRONTIER above."""
        g = self.grid
        below: list[Point] = []
        if best is not None:
            n = best.index - 1
            while len(below) < FRONTIER and n >= g.n_lo and best.index - n <= FRONTIER * (PROBE + 1):
                if self.at(n).valid:
                    below.insert(0, self.memo[n])
                n -= 1
        above: list[Point] = []
        if nxt is not None:
            n = nxt.index + 1
            while len(above) < FRONTIER and n <= g.n_hi and n - nxt.index <= FRONTIER * (PROBE + 1):
                if self.at(n).valid:
                    above.append(self.memo[n])
                n += 1
        return below + [p for p in (best, nxt) if p is not None] + above


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def value_text(v: Any) -> str:
    """A total or a limit for a message: ``1,234`` (a latency: ``4.213 ms``)."""
    if isinstance(v, Fraction):
        from .render.doc import seconds_text

        return seconds_text(v)
    return f"{v:,}"
