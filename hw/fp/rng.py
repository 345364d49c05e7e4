"""The stochastic-rounding random generator: Marsaglia's xorshift32."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.params import check_int

from .formats import XORSHIFT_SHIFTS, XORSHIFT_ZERO_SEED

__all__ = ["XorShift32", "xorshift32_next"]

_STATE_BITS = 32


def xorshift32_next(x):
    """One xorshift32 step on a 32-bit value (shifts ``XORSHIFT_SHIFTS``: left, right, left)."""
    left1, right, left2 = XORSHIFT_SHIFTS
    x = (x ^ (x << left1))[:_STATE_BITS]
    x = x ^ (x >> right)
    return (x ^ (x << left2))[:_STATE_BITS]


class XorShift32(wiring.Component):
    """A 32-bit xorshift generator that steps once per use.

    Members
    -------
    seed : ``In(stream.Signature(32))``
        A software register write, always ready. Writing ``s`` sets the state to ``s``, or to
        ``XORSHIFT_ZERO_SEED`` when ``s`` is 0 (a zero state would stay zero).
    advance : ``In(1)``
        Step the state this cycle.
    random : ``Out(32)``
        The state after one step, combinationally: the number an ``advance`` in this cycle uses.
        So the first use after a write of ``s`` sees ``xorshift32(s)``.

    Parameters (keyword-only)
    -------------------------
    init : int, 1..2**32 - 1, default ``XORSHIFT_ZERO_SEED``
        The reset state.

    The state resets to ``init`` (by default as if 0 had been written). A seed write in the same
    cycle as an ``advance`` wins for the state: that cycle's ``random`` still comes from the old
    state, and the next use sees ``xorshift32(s)``.
    """

    def __init__(self, *, init=XORSHIFT_ZERO_SEED):
        self.init = check_int("init", init, 1, (1 << _STATE_BITS) - 1)
        super().__init__({
            "seed": In(stream.Signature(_STATE_BITS)),
            "advance": In(1),
            "random": Out(_STATE_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        state = Signal(_STATE_BITS, init=self.init)
        m.d.comb += [
            self.seed.ready.eq(1),
            self.random.eq(xorshift32_next(state)),
        ]
        with m.If(self.seed.valid):
            m.d.sync += state.eq(Mux(self.seed.payload == 0, XORSHIFT_ZERO_SEED, self.seed.payload))
        with m.Elif(self.advance):
            m.d.sync += state.eq(self.random)
        return m
