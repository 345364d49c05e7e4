"""Model of the stochastic-rounding random generator: Marsaglia's xorshift32, one step per request.

The generator (docs/formats.md, "Stochastic rounding"):
  * state0 = seed, a 32-bit integer; seed 0 (which would lock xorshift32 at 0) is replaced by
    ``XORSHIFT_ZERO_SEED``.
  * For conversion i = 1, 2, ...: ``state = next_state(state)``, then
    ``r_i = state >> (32 - sr_bits)`` (the top ``sr_bits`` bits of the new state).
  * ``next_state`` is ``x ^= x << a; x ^= x >> b; x ^= x << c`` modulo 2**32, with
    ``(a, b, c) = XORSHIFT_SHIFTS``.
"""

import operator

import numpy as np

from hw.fp.formats import SR_BITS, XORSHIFT_SHIFTS, XORSHIFT_ZERO_SEED

__all__ = ["XorShift32", "next_state", "initial_state", "sr_randoms"]

_MASK32 = (1 << 32) - 1


def _int(value, what):
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer in 0..{_MASK32}, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer in 0..{_MASK32}, got {value!r}") from None
    if not 0 <= v <= _MASK32:
        raise ValueError(f"{what} must be an integer in 0..{_MASK32}, got {value!r}")
    return v


def _check_sr_bits(sr_bits):
    if isinstance(sr_bits, bool) or not isinstance(sr_bits, int) or not 1 <= sr_bits <= 32:
        raise ValueError(f"sr_bits must be an integer in 1..32, got {sr_bits!r}")
    return sr_bits


def initial_state(seed):
    """The generator state before the first request: ``seed``, or ``XORSHIFT_ZERO_SEED`` for 0.

    Raises ``ValueError`` unless ``seed`` is an integer in ``0..2**32 - 1``.
    """
    seed = _int(seed, "seed")
    return seed if seed else XORSHIFT_ZERO_SEED


def next_state(state):
    """One xorshift32 step of a 32-bit state (a pure function; 0 maps to 0)."""
    a, b, c = XORSHIFT_SHIFTS
    x = _int(state, "state")
    x ^= (x << a) & _MASK32
    x ^= x >> b
    x ^= (x << c) & _MASK32
    return x


class XorShift32:
    """The generator with its state; ``step`` advances it once (once per conversion request)."""

    def __init__(self, seed=0):
        self.state = initial_state(seed)

    def step(self):
        """Advance once and return the new state."""
        self.state = next_state(self.state)
        return self.state

    def randoms(self, n, sr_bits=SR_BITS):
        """Advance ``n`` times; return the ``n`` values ``state >> (32 - sr_bits)`` as uint32."""
        _check_sr_bits(sr_bits)
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        a, b, c = XORSHIFT_SHIFTS
        x = self.state
        out = [0] * n
        for i in range(n):  # sequential by nature; plain ints are fastest here
            x ^= (x << a) & _MASK32
            x ^= x >> b
            x ^= (x << c) & _MASK32
            out[i] = x
        self.state = x
        return np.asarray(out, dtype=np.uint32) >> np.uint32(32 - sr_bits)


def sr_randoms(seed, n, sr_bits=SR_BITS):
    """The random integers ``r_1 .. r_n`` of a generator started from ``seed`` (uint32 array)."""
    return XorShift32(seed).randoms(n, sr_bits)
