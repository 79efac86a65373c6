"""Output-size arithmetic against conv_arithmetic (Dumoulin & Visin) and the lecture."""

from hypothesis import given
from hypothesis import strategies as st

from convcalc import shapes


def test_conv_arithmetic_examples():
    # Dumoulin & Visin, "A guide to convolution arithmetic", relationships 5-6 and 15.
    assert shapes.conv_out(5, 3, 2, 1) == 3
    assert shapes.conv_out(6, 3, 2, 1) == 3
    assert shapes.conv_out(7, 3, 1, 0, d=2) == 3


def test_lecture_formulas():
    # The lecture: o = (i + 2p - k)/s + 1 (floor), and transposed o = (i - 1)s + k - 2p.
    for i, k, s, p in [(224, 3, 2, 1), (12, 5, 1, 0), (7, 3, 3, 0), (32, 4, 2, 1)]:
        assert shapes.conv_out(i, k, s, p) == (i + 2 * p - k) // s + 1
        assert shapes.transposed_out(i, k, s, p) == (i - 1) * s + k - 2 * p


@given(i=st.integers(1, 64), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 3))
def test_transposed_inverts_conv(i, k, s, p):
    # conv_arithmetic relationship 14: a transposed conv with output padding
    # a = (i + 2p - k) mod s maps the conv's output size back to its input size.
    if i + 2 * p < k:
        return
    o = shapes.conv_out(i, k, s, p)
    a = (i + 2 * p - k) % s
    assert shapes.transposed_out(o, k, s, p, 1, a) == i


@given(i=st.integers(1, 300), k=st.integers(1, 9), s=st.integers(1, 5), d=st.integers(1, 4))
def test_same_padding_gives_ceil(i, k, s, d):
    lo, hi = shapes.same_padding(i, k, s, d)
    assert 0 <= hi - lo <= 1  # the odd pixel goes after, as in TensorFlow and torch
    assert shapes.conv_out(i, k, s, lo, hi, d) == -(-i // s)


def test_zero_insertion_view_matches_transposed_size():
    # The lecture's recipe: z = s-1 zeros, p' = k-p-1, stride 1, gives the same size.
    for i, k, s, p, a in [(4, 4, 2, 1, 0), (5, 3, 2, 1, 1), (2, 3, 1, 0, 0), (7, 5, 3, 2, 2)]:
        z = shapes.zero_insertion(i, k, s, p, 1, a)
        assert z["z"] == s - 1 and z["p_prime"] == k - p - 1
        assert z["out"] == shapes.transposed_out(i, k, s, p, 1, a)


def test_pool_ceil_mode_drops_window_in_padding():
    # torch: with ceil_mode a window may not start in the right padding.
    assert shapes.pool_out(5, 2, 2, 1, 1, ceil_mode=True) == 3
    assert shapes.pool_out(56, 3, 2, 0, 1, ceil_mode=True) == 28
    assert shapes.pool_out(112, 3, 2, 0, 1, ceil_mode=True) == 56
    assert shapes.pool_out(112, 3, 2, 0, 1, ceil_mode=False) == 55
