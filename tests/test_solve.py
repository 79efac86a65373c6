"""convcalc solve: every geometry it lists is checked with the forward formula (written out
here from PyTorch's documentation, not imported from convcalc) and with torch's own layers
(F.conv*d after F.pad, F.conv_transpose*d, F.max_pool*d); a brute-force enumeration of the
searched range proves that none is missing, and that the nearest sizes offered when there is
no solution are the nearest reachable ones.

The searched range (convcalc/solve.py): kernel 1..K, stride 1..S, dilation 1..D (1 only for a
one-tap kernel), padding 0..d(k-1) a side (conv: both sides; transposed: p), output padding
0..max(s, d)-1, pooling padding 0..k//2 (torch's limit). A conv's output depends only on its
total padding, so conv solutions are compared as (kernel, stride, dilation, total padding).
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from convcalc.solve import Constraints, Ranges, reachable_near, solve, solve_dim

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: torch's thread pool costs more than the work (restored afterwards)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# -- the forward formulas, as PyTorch documents them ------------------------------------------------
def conv_formula(i: int, k: int, s: int, lo: int, hi: int, d: int) -> int:
    return (i + lo + hi - d * (k - 1) - 1) // s + 1


def transposed_formula(i: int, k: int, s: int, p: int, d: int, a: int) -> int:
    return (i - 1) * s - 2 * p + d * (k - 1) + a + 1


def pool_formula(i: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    # aten/src/ATen/native/Pool.h pooling_output_size
    num = i + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)
    o = num // s + 1
    if ceil and (o - 1) * s >= i + p:
        o -= 1
    return o


# -- torch as the judge ------------------------------------------------------------------------------------
def torch_out(kind: str, sizes, geoms, ceil: bool = True, device: str = "cpu") -> list[int]:
    """Output spatial size of torch's layer with these per-dim geometries."""
    n = len(sizes)
    x = torch.zeros((1, 1, *sizes), device=device)
    k = tuple(g.kernel for g in geoms)
    s = tuple(g.stride for g in geoms)
    d = tuple(g.dilation for g in geoms)
    if kind == "conv":
        pads = []
        for g in reversed(geoms):  # F.pad takes the last dim first
            pads += [g.padding, g.padding_after]
        w = torch.zeros((1, 1, *k), device=device)
        y = getattr(F, f"conv{n}d")(F.pad(x, pads), w, stride=s, dilation=d)
    elif kind == "transposed":
        w = torch.zeros((1, 1, *k), device=device)
        y = getattr(F, f"conv_transpose{n}d")(
            x,
            w,
            stride=s,
            padding=tuple(g.padding for g in geoms),
            output_padding=tuple(g.output_padding for g in geoms),
            dilation=d,
        )
    else:
        y = getattr(F, f"max_pool{n}d")(x, k, s, tuple(g.padding for g in geoms), d, ceil_mode=ceil)
    return list(y.shape[2:])


# -- brute force over the searched range ----------------------------------------------------------------------
def brute(
    kind: str,
    i: int,
    K: int = 7,
    S: int = 4,
    D: int = 4,
    ceil: bool = True,
    kernel: int | None = None,
    stride: int | None = None,
    dilation: int | None = None,
    padding: int | None = None,
):
    """Every setting in range and its output: {(k, s, d, pad, a): output}; conv pad = total.
    A fixed value replaces its range (a fixed dilation applies to one-tap kernels too)."""
    out = {}
    for k in [kernel] if kernel else range(1, K + 1):
        for d in [dilation] if dilation else range(1, D + 1) if k > 1 else (1,):
            e = d * (k - 1) + 1
            pads = [padding] if padding is not None else range(e)
            for s in [stride] if stride else range(1, S + 1):
                if kind == "conv":
                    for lo in pads:
                        for hi in [padding] if padding is not None else range(e):
                            v = conv_formula(i, k, s, lo, hi, d)
                            if v >= 1:
                                out[(k, s, d, lo + hi, 0)] = v
                elif kind == "transposed":
                    for p in pads:
                        for a in range(max(s, d)):
                            v = transposed_formula(i, k, s, p, d, a)
                            if v >= 1:
                                out[(k, s, d, p, a)] = v
                else:
                    for p in [padding] if padding is not None else range(k // 2 + 1):
                        if p > k // 2:  # torch: pad at most half the kernel
                            continue
                        v = pool_formula(i, k, s, p, d, ceil)
                        if v >= 1:
                            out[(k, s, d, p, 0)] = v
    return out


def as_key(kind: str, g) -> tuple:
    pad = g.padding + g.padding_after if kind == "conv" else g.padding
    return (g.kernel, g.stride, g.dilation, pad, g.output_padding)


def simplicity(g) -> tuple:
    """The documented order: smallest kernel, dilation 1, symmetric padding, stride, padding."""
    return (
        g.kernel,
        g.dilation,
        g.padding != g.padding_after or g.output_padding != 0,
        g.output_padding,
        g.stride,
        g.padding,
    )


KIND = st.sampled_from(["conv", "transposed", "pool"])


@st.composite
def query(draw):
    """(kind, i, o, ceil, planted): o from a random geometry in range (solvable), or random."""
    kind = draw(KIND)
    ceil = draw(st.booleans()) if kind == "pool" else True
    i = draw(st.integers(1, 120))
    k = draw(st.integers(1, 7))
    s = draw(st.integers(1, 4))
    d = draw(st.integers(1, 4)) if k > 1 else 1
    e = d * (k - 1) + 1
    if kind == "conv":
        lo = draw(st.integers(0, e - 1))
        hi = draw(st.sampled_from([lo, lo + 1])) if lo + 1 <= e - 1 else lo
        planted = (k, s, d, lo + hi, 0)
        o = conv_formula(i, k, s, lo, hi, d)
    elif kind == "transposed":
        p = draw(st.integers(0, e - 1))
        a = draw(st.integers(0, max(s, d) - 1))
        planted = (k, s, d, p, a)
        o = transposed_formula(i, k, s, p, d, a)
    else:
        p = draw(st.integers(0, k // 2))
        planted = (k, s, d, p, 0)
        o = pool_formula(i, k, s, p, d, ceil)
    if o < 1 or draw(st.booleans()):
        o = draw(st.integers(1, 2 * i + 12))
        planted = None
    return kind, i, o, ceil, planted


@settings(max_examples=120, **SETTINGS)
@given(query())
@example(("conv", 224, 112, True, (3, 2, 1, 2, 0)))
@example(("transposed", 112, 224, True, (4, 2, 1, 1, 0)))
@example(("pool", 112, 56, True, (3, 2, 1, 0, 0)))
@example(("pool", 5, 3, True, None))
def test_one_dim_every_solution_is_right_and_none_is_missing(q):
    kind, i, o, ceil, planted = q
    sols = solve_dim(kind, i, o, ceil_mode=ceil)
    # every solution: the forward formula and torch agree on o
    for g in sols:
        e = g.dilation * (g.kernel - 1) + 1
        if kind == "conv":
            assert conv_formula(i, g.kernel, g.stride, g.padding, g.padding_after, g.dilation) == o
            assert 0 <= g.padding <= g.padding_after <= g.padding + 1 and g.padding_after <= e - 1
        elif kind == "transposed":
            assert transposed_formula(i, g.kernel, g.stride, g.padding, g.dilation, g.output_padding) == o
            assert g.padding == g.padding_after
        else:
            assert pool_formula(i, g.kernel, g.stride, g.padding, g.dilation, ceil) == o
        assert torch_out(kind, [i], [g], ceil) == [o], g
    # none missing, none twice
    keys = [as_key(kind, g) for g in sols]
    assert len(keys) == len(set(keys))
    everything = brute(kind, i, ceil=ceil)
    assert set(keys) == {key for key, v in everything.items() if v == o}
    if planted is not None:
        assert planted in keys
    # simplest first
    assert [simplicity(g) for g in sols] == sorted(simplicity(g) for g in sols)
    # the nearest reachable sizes are the nearest in the brute-force's reach
    below, above = reachable_near(kind, i, o, ceil_mode=ceil)
    reach = set(everything.values())
    assert below == max((v for v in reach if v < o), default=None)
    assert above == min((v for v in reach if v > o), default=None)


@settings(max_examples=60, **SETTINGS)
@given(
    KIND,
    st.integers(1, 60),
    st.integers(1, 130),
    st.integers(1, 5),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 4),
)
def test_constraints_select_exactly_the_matching_geometries(kind, i, o, k, s, d, p):
    """-k/-s/-d/-p fix a value, replacing its range: the result is exactly the brute force's
    solutions with that value (a fixed padding may lie outside the searched padding range)."""
    for fixed in (
        dict(kernel=k),
        dict(stride=s),
        dict(dilation=d),
        dict(kernel=k, stride=s, dilation=d),
        dict(kernel=k, stride=s, dilation=d, padding=p),
        dict(padding=p),
    ):
        sols = solve_dim(kind, i, o, Constraints(**fixed))
        keys = [as_key(kind, g) for g in sols]
        assert set(keys) == {key for key, v in brute(kind, i, **fixed).items() if v == o}
        assert len(keys) == len(set(keys))
        for g in sols:
            assert torch_out(kind, [i], [g]) == [o]
            if "padding" in fixed:
                assert g.padding == g.padding_after == p


@pytest.mark.parametrize(
    "kind,size_in,size_out,extra",
    [
        ("conv", (224, 160), (112, 80), {}),
        ("conv", (17, 9), (9, 3), {"max_kernel": 5, "max_dilation": 2}),
        ("transposed", (7, 14), (14, 28), {"max_dilation": 2}),
        ("pool", (15, 8), (8, 4), {}),
        ("conv", (16, 112, 112), (8, 56, 56), {"kernel": 3}),
    ],
)
def test_per_dim_sizes_every_combination_checked_by_torch(cli, kind, size_in, size_out, extra):
    args = ["solve", "--in", "x".join(map(str, size_in)), "--out", "x".join(map(str, size_out)), "-f", "json"]
    args += {"transposed": ["--transposed"], "pool": ["--pool"], "conv": []}[kind]
    for key, v in extra.items():
        args += [f"--{key.replace('_', '-')}", str(v)]
    r = cli(*args)
    assert r.code == 0, r
    objs = json.loads(r.out)
    # dims with the same problem share a geometry; the others combine every per-dim solution
    fixed = {k: v for k, v in extra.items() if not k.startswith("max_")}
    per_dim_counts = {}
    for i, o in zip(size_in, size_out):
        per_dim_counts[(i, o)] = len(
            {
                key
                for key, v in brute(
                    kind, i, K=extra.get("max_kernel", 7), D=extra.get("max_dilation", 4), **fixed
                ).items()
                if v == o
            }
        )
    expected = 1
    for n in per_dim_counts.values():
        expected *= n
    assert len(objs) == expected
    pairs = list(zip(size_in, size_out))
    seen = set()
    for obj in objs:
        n = len(size_in)

        def dims(key, obj=obj, n=n):
            v = obj.get(key, 0)
            return list(v) if isinstance(v, list) else [v] * n

        ks, ss, ps, ds = dims("kernel"), dims("stride"), dims("padding"), dims("dilation")
        pas = dims("padding_after") if kind == "conv" else ps
        ops = dims("output_padding")
        key = tuple(zip(ks, ss, ps, pas, ds, ops))
        assert key not in seen
        seen.add(key)
        assert obj["type"] == kind and obj["exact"] is True
        assert obj["input_size"] == list(size_in) and obj["output_size"] == list(size_out)
        for dim, pair in enumerate(pairs):
            assert key[dim] == key[pairs.index(pair)]  # the same problem gets the same geometry
        geoms = [_G(*t) for t in key]
        assert torch_out(kind, list(size_in), geoms, device="meta") == list(size_out)


class _G:
    def __init__(self, kernel, stride, padding, padding_after, dilation, output_padding):
        self.kernel, self.stride, self.padding, self.padding_after = kernel, stride, padding, padding_after
        self.dilation, self.output_padding = dilation, output_padding


def test_familiar_answers_are_listed(cli):
    """Designs everyone knows: 3x3/2 pad 1 halves 224; 4x4/2 pad 1 transposed doubles (DCGAN);
    3x3/2 max pool with ceil mode takes 112 to 56 (GoogLeNet)."""
    r = json.loads(cli("solve", "--in", "224", "--out", "112", "-f", "json").out)
    assert {"kernel": 3, "stride": 2, "padding": 1, "padding_after": 1, "dilation": 1}.items() <= next(
        o for o in r if o["kernel"] == 3
    ).items()
    assert r[0]["kernel"] == 1 and r[0]["stride"] == 2  # the simplest: a strided 1x1
    r = json.loads(cli("solve", "--in", "112", "--out", "224", "--transposed", "-k", "4", "-f", "json").out)
    assert r[0] == {
        "type": "transposed",
        "kernel": 4,
        "stride": 2,
        "padding": 1,
        "dilation": 1,
        "output_padding": 0,
        "input_size": [112],
        "output_size": [224],
        "exact": True,
    }
    r = json.loads(cli("solve", "--in", "112", "--out", "56", "--pool", "-k", "3", "-f", "json").out)
    assert r[0]["stride"] == 2 and r[0]["padding"] == 0 and r[0]["ceil_mode"] is True


def test_no_solution_exits_1_with_the_nearest_reachable_sizes(cli):
    r = cli("solve", "--in", "224", "--out", "110", "-k", "3", "-s", "2", "-d", "1", "-f", "json")
    assert r.code == 1
    objs = json.loads(r.out)
    reach = set(brute("conv", 224, kernel=3, stride=2, dilation=1).values())
    assert [o["output_size"][0] for o in objs] == [min(v for v in reach if v > 110)]
    for o in objs:
        assert o["exact"] is False
        assert (
            conv_formula(224, o["kernel"], o["stride"], o["padding"], o["padding_after"], o["dilation"])
            == o["output_size"][0]
        )
    r = cli("solve", "--in", "224", "--out", "110", "-k", "3", "-s", "2", "-d", "1")
    assert r.code == 1 and "no geometry" in r.out and "111" in r.out


def test_no_solution_per_dim_moves_only_the_failing_dim(cli):
    # dim 1 (224 -> 112) is solvable with k=2, s=2, p=0; dim 2 (225 -> 113) is not
    r = cli("solve", "--in", "224x225", "--out", "112x113", "-k", "2", "-s", "2", "-p", "0", "-f", "json")
    assert r.code == 1
    objs = json.loads(r.out)
    assert [o["output_size"] for o in objs] == [[112, 112]]
    geoms = [_G(2, 2, 0, 0, 1, 0)] * 2
    assert torch_out("conv", [224, 225], geoms, device="meta") == [112, 112]


def test_nothing_reachable_is_said(cli):
    r = cli("solve", "--in", "3", "--out", "5", "-k", "7", "-p", "0", "-s", "1", "-d", "1")
    assert r.code == 1
    assert "no output size at all is reachable" in r.out


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_formats(cli, fmt, tmp_path):
    r = cli("solve", "--in", "224", "--out", "112", "-k", "3", "-f", fmt)
    assert r.code == 0, r
    assert "3" in r.out and "112" in r.out
    out = tmp_path / f"solve.{fmt}"
    r2 = cli("solve", "--in", "224", "--out", "112", "-k", "3", "-f", fmt, "--output", str(out))
    with open(out, encoding="utf-8", newline="") as fh:  # CSV ends its lines with CRLF (RFC 4180)
        assert r2.code == 0 and fh.read() == r.out
    if fmt == "csv":
        head, *rows = r.out.splitlines()
        assert head.split(",")[:5] == ["n", "kernel", "stride", "padding", "dilation"]
        assert len(rows) == len(solve_dim("conv", 224, 112, Constraints(kernel=3)))


def test_limit_shows_the_simplest_n(cli):
    full = json.loads(cli("solve", "--in", "224x160", "--out", "112x80", "-f", "json").out)
    first = json.loads(cli("solve", "--in", "224x160", "--out", "112x80", "-f", "json", "--limit", "5").out)
    assert first == full[:5]


def test_ranges_widen_the_search():
    r = solve("conv", (64,), (32,), ranges=Ranges(max_kernel=11, max_stride=2, max_dilation=1))
    assert {g.kernel for (g,) in r.solutions} == set(range(1, 12))
    assert all(g.stride == 2 and g.dilation == 1 for (g,) in r.solutions)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--in", "0", "--out", "1"], "--in"),
        (["--in", "224", "--out", "112x80"], "has 1 dim"),
        (["--in", "224", "--out", "112", "--max-kernel", "100"], "--max-kernel 100"),
        (["--in", "224", "--out", "112", "-k", "0"], "--kernel"),
        (["--in", "224", "--out", "112", "-k", "3x3"], "2 values"),
        (["--in", "224", "--out", "112", "-p", "same"], "--padding"),
        (["--in", "224", "--out", "112", "--transposed", "--pool"], "choose one"),
        (["--in", "224", "--out", "112", "--no-ceil-mode"], "only with --pool"),
        (["--in", "224", "--out", "112", "--output-padding", "1"], "only with --transposed"),
        (["--in", "abc", "--out", "112"], "--in"),
        (["--in", "224", "--out", "112", "--limit", "0"], "--limit"),
        (
            ["--in", "1", "--out", "1", "--max-kernel", "32", "--max-stride", "32", "--max-dilation", "32"],
            "at most",
        ),
        (["--in", "1x2", "--out", "1x1", "--max-kernel", "32", "--max-stride", "32"], "at most"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli, args, needle):
    r = cli("solve", *args)
    assert r.code == 2, r
    assert needle in r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
