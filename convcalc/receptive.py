"""Receptive fields, by the recurrence of Araujo et al. (Distill 2019), one spatial dim at a time.

State per dim: (r, j) = (receptive field in input pixels, jump = input pixels between two
neighbouring outputs). A conv or pool with effective kernel k_e = d(k-1)+1 and stride s:
    r_out = r_in + (k_e - 1) * j_in,    j_out = j_in * s
A transposed conv (or upsampling) with stride s divides the jump, j_out = j_in / s, and an
output pixel sees ``span + 1`` neighbouring input pixels, so r_out = r_in + span * j_in; with
kernel k and dilation d, span = (ceil(k / (s/gcd(d,s))) - 1) * d/gcd(d,s). Jumps may become
fractions after upsampling; they are kept exact (Fraction) and reported fields are rounded up.
Branches (residual, concat, the ShuffleNet unit's shortcut) take the larger field and jump.
"""

from __future__ import annotations

State = tuple  # ((r, j), ...) per spatial dim, or None once the spatial dims are gone


def initial(n_spatial: int) -> State | None:
    return ((1, 1),) * n_spatial if n_spatial else None


def apply(state: State | None, cost) -> State | None:
    """The state after a layer (a Cost), given the state before it."""
    if cost.parts:
        return fold_parts(state, cost.parts)[-1]
    op = cost.rf
    if op is None or state is None:
        return state
    kind = op[0]
    if kind == "window":
        return tuple((r + (k - 1) * j, j * s) for (r, j), k, s in zip(state, op[1], op[2]))
    if kind == "up":
        return tuple((r + span * j, _div(j, s)) for (r, j), span, s in zip(state, op[1], op[2]))
    if kind == "drop":
        return None
    raise ValueError(f"unknown receptive-field op {kind!r}")  # a programming error


def fold_parts(state: State | None, parts) -> list:
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


def merge(a: State | None, b: State | None) -> State | None:
    if a is None or b is None:
        return a if b is None else b
    return tuple((max(ra, rb), max(ja, jb)) for (ra, ja), (rb, jb) in zip(a, b))


def _div(j, s):
    if isinstance(j, int) and j % s == 0:
        return j // s
    from fractions import Fraction  # only after upsampling: keep start-up light

    q = Fraction(j) / s
    return q.numerator if q.denominator == 1 else q


def fields(state: State | None) -> tuple[int, ...] | None:
    """Receptive field per dim, in input pixels (rounded up), or None."""
    if state is None:
        return None
    return tuple(r if isinstance(r, int) else -(-r.numerator // r.denominator) for r, _ in state)
