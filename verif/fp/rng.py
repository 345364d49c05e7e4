"""Model of the stochastic-rounding random generator: Marsaglia's xorshift32, one step per request.

The generator (docs/formats.md, "Stochastic rounding"):
  * state0 = seed, a 32-bit integer; seed 0 (which would lock xorshift32 at 0) is replaced by
    ``XORSHIFT_ZERO_SEED``.
  * For conversion i = 1, 2, ...: ``state = next_state(state)``, then
    ``r_i = state >> (32 - sr_bits)`` (the top ``sr_bits`` bits of the new state).
  * ``next_state`` is ``x ^= x << a; x ^= x >> b; x ^= x << c`` modulo 2**32, with
    ``(a, b, c) = XORSHIFT_SHIFTS``.
"""


import numpy as np

from hw.common.params import check_int
from hw.fp.convert import SR_BITS_MAX
from hw.fp.formats import SR_BITS, XORSHIFT_SHIFTS, XORSHIFT_ZERO_SEED
from verif.params import check_at_least, check_index

__all__ = ["XorShift32", "next_state", "initial_state", "sr_randoms"]

_MASK32 = (1 << 32) - 1


def initial_state(seed):
    """The generator state before the first request: ``seed``, or ``XORSHIFT_ZERO_SEED`` for 0.

    Raises ``TypeError`` unless ``seed`` is an integer (Python or numpy), ``ValueError`` unless
    it is in ``0..2**32 - 1``.
    """
    seed = check_index("seed", seed, 0, _MASK32)
    return seed if seed else XORSHIFT_ZERO_SEED


def next_state(state):
    """One xorshift32 step of a 32-bit state (a pure function; 0 maps to 0)."""
    a, b, c = XORSHIFT_SHIFTS
    x = check_index("state", state, 0, _MASK32)
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
        check_int("sr_bits", sr_bits, 1, SR_BITS_MAX)
        n = check_at_least("n", n, 0)
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
