"""Receptive fields, exactly: which pixels of the network's input can influence one output pixel.

For a chain of convolutions and poolings this is the recurrence of Araujo et al. (Distill
2019): with effective kernel k_e = d(k-1)+1 and stride s, r_out = r_in + (k_e - 1) * j_in and
j_out = j_in * s. That recurrence is exact only while every output pixel sees the same number
of input pixels. After a transposed convolution or an upsampling, neighbouring output pixels
see different numbers of input pixels (their "phase" differs), and residual/concat branches
can be offset from each other (a 'same'-padded 2-tap conv looks right, a 3-tap one both ways).

So the state of each spatial dim is the exact map from an output index ``o`` to the interval
[lo(o), hi(o)] of network-input pixels that influence it. The map is periodic: with period P
and advance J, lo(o + P) = lo(o) + J (likewise hi); it is stored as (P, J, lo[0..P-1],
hi[0..P-1]). For plain conv nets P = 1 and this is Araujo's recurrence with its start offset.
Each layer says which of its input indices an output index reads (its "taps"); composing a
layer takes the min/max of the previous intervals over those taps. An interval is None when
no input reaches that output (a transposed conv with kernel < stride). The receptive field
reported is max over o of hi(o) - lo(o) + 1: the extent, gaps included, of the theoretical
field (not clipped at the image border), in input pixels.
"""

from __future__ import annotations

from math import gcd

State = tuple  # one (P, J, lo, hi) per spatial dim, or None once the spatial dims are gone
_IDENTITY = (1, 1, (0,), (0,))


def initial(n_spatial: int):
    return (_IDENTITY,) * n_spatial if n_spatial else None


def apply(state, cost):
    """The state after a layer (a Cost), given the state before it."""
    if cost.parts:
        return fold_parts(state, cost.parts)[-1]
    op = cost.rf
    if op is None or state is None:
        return state
    kind = op[0]
    if kind == "drop":
        return None
    if kind == "window":
        return tuple(_window(dim_state, op, i) for i, dim_state in enumerate(state))
    return tuple(_compose(dim_state, *_taps(kind, op, i)) for i, dim_state in enumerate(state))


def _window(prev: tuple, op: tuple, i: int) -> tuple:
    """A conv or pooling; with period 1 (every output alike) this is Araujo's recurrence with
    its start offset, in closed form: the common case, kept fast for long networks."""
    period, advance, lo, hi = prev
    if period == 1 and lo[0] is not None:
        k, s = op[1][i], op[2][i]
        p = op[3][i] if len(op) > 3 else 0
        return (1, advance * s, (lo[0] - p * advance,), (hi[0] + (k - 1 - p) * advance,))
    return _compose(prev, *_taps("window", op, i))


def fold_parts(state, parts) -> list:
    """The state after each part of a composite (see layers/base.py for the roles)."""
    out = []
    cur, shortcut = state, state
    for p in parts:
        role = p.extra.get("role") if p.extra else None
        if role == "shortcut":
            shortcut = apply(state, p)
            out.append(shortcut)
            continue
        cur = merge(cur, shortcut) if role == "merge" else apply(cur, p)
        out.append(cur)
    return out


def merge(a, b):
    """Branches joined by add or concat: each output pixel sees the union of both fields."""
    if a is None or b is None:
        return a if b is None else b
    return tuple(_merge_dim(x, y) for x, y in zip(a, b))


def fields(state) -> tuple[int, ...] | None:
    """Receptive field per spatial dim, in input pixels, or None once spatial dims are gone."""
    if state is None:
        return None
    return tuple(
        (hi[0] - lo[0] + 1 if lo[0] is not None else 0)
        if period == 1
        else max((h - lo_ + 1 for lo_, h in zip(lo, hi) if lo_ is not None), default=0)
        for period, _, lo, hi in state
    )


# -- taps of each kind of layer: (taps(o) -> input indices, Q, X) with taps(o+Q) = taps(o)+X --
def _taps(kind: str, op: tuple, i: int):
    if kind == "window":  # conv, pooling: ("window", k_eff, stride, pad_before[, dil])
        k, s = op[1][i], op[2][i]
        p = op[3][i] if len(op) > 3 else 0
        d = op[4][i] if len(op) > 4 else 1
        taps = (k - 1) // d + 1 if d > 1 else k
        return (lambda o: [o * s - p + t * d for t in range(taps)]), 1, s
    if kind == "transposed":  # ("transposed", kernel, stride, padding, dilation)
        k, s, p, d = op[1][i], op[2][i], op[3][i], op[4][i]

        def t_taps(o: int):  # input x reaches output o = x*s - p + t*d for a tap t
            return [(o + p - t * d) // s for t in range(k) if (o + p - t * d) % s == 0]

        return t_taps, s, 1
    if kind == "upsample":  # ("upsample", mode, scale)
        mode, f = op[1], op[2][i]
        if mode == "nearest":
            return (lambda o: [o // f]), f, 1

        def lin_taps(o: int):  # torch, align_corners=False: src = (o + 0.5)/f - 0.5
            num, den = 2 * o + 1 - f, 2 * f
            x0, frac = num // den, num % den
            return [x0] if frac == 0 else [x0, x0 + 1]

        return lin_taps, f, 1
    if kind == "adaptive":  # ("adaptive", in_size, out_size): torch's windows
        n_in, n_out = op[1][i], op[2][i]
        g = gcd(n_in, n_out)
        return (lambda o: list(range(o * n_in // n_out, -(-(o + 1) * n_in // n_out)))), n_out // g, n_in // g
    raise ValueError(f"unknown receptive-field op {kind!r}")  # a programming error


def _compose(prev: tuple, taps, q: int, x: int) -> tuple:
    period, advance, lo, hi = prev
    new_period = q * period // gcd(period, x)
    new_advance = advance * (x * (new_period // q)) // period
    new_lo, new_hi = [], []
    for o in range(new_period):
        best_lo = best_hi = None
        for t in taps(o):
            q_, r_ = divmod(t, period)
            low = lo[r_]
            if low is None:
                continue
            low += q_ * advance
            h = hi[r_] + q_ * advance
            if best_lo is None or low < best_lo:
                best_lo = low
            if best_hi is None or h > best_hi:
                best_hi = h
        new_lo.append(best_lo)
        new_hi.append(best_hi)
    return _normalise(new_period, new_advance, new_lo, new_hi)


def _normalise(period: int, advance: int, lo: list, hi: list) -> tuple:
    """The same map with its smallest period (keeps the state small for long networks)."""
    if period > 1:
        for d in range(1, period):
            if period % d or (advance * d) % period:
                continue
            step = advance * d // period
            if all(
                _shifted(lo, o, d, period, advance) == _add(lo[o], step)
                and _shifted(hi, o, d, period, advance) == _add(hi[o], step)
                for o in range(period)
            ):
                return (d, step, tuple(lo[:d]), tuple(hi[:d]))
    return (period, advance, tuple(lo), tuple(hi))


def _shifted(vals, o, d, period, advance):
    q, r = divmod(o + d, period)
    v = vals[r]
    return None if v is None else v + q * advance


def _add(v, step):
    return None if v is None else v + step


def _merge_dim(a: tuple, b: tuple) -> tuple:
    pa, ja, loa, hia = a
    pb, jb, lob, hib = b
    period = pa * pb // gcd(pa, pb)
    advance = ja * (period // pa)
    if jb * (period // pb) != advance:  # different grids (cannot happen when shapes match)
        return a if fields((a,))[0] >= fields((b,))[0] else b
    lo, hi = [], []
    for o in range(period):
        la, ha = _at(loa, hia, o, pa, ja)
        lb, hb = _at(lob, hib, o, pb, jb)
        lo.append(la if lb is None else lb if la is None else min(la, lb))
        hi.append(ha if hb is None else hb if ha is None else max(ha, hb))
    return _normalise(period, advance, lo, hi)


def _at(lo, hi, o, period, advance):
    q, r = divmod(o, period)
    if lo[r] is None:
        return None, None
    return lo[r] + q * advance, hi[r] + q * advance
