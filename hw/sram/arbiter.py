"""A round-robin arbiter: one grant per cycle among ``n`` requesters, none starved.

Policy (shared with the model, ``verif/sram/model.py``): the winner is the lowest-numbered
requester at or after the priority pointer, wrapping around; after a grant the pointer moves to
the requester after the winner. A requester that keeps requesting is therefore granted within
``n`` grants of the arbiter, whatever the others do.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.common.params import check_int

__all__ = ["RoundRobinArbiter", "round_robin"]


def round_robin(requests, pointer, n):
    """The winner among the requester numbers ``requests`` (a set) with the priority pointer
    ``pointer``, and the next pointer: ``(winner, next_pointer)``, or ``(None, pointer)``."""
    if not requests:
        return None, pointer
    winner = min(requests, key=lambda p: (p - pointer) % n)
    return winner, (winner + 1) % n


def _lowest(value, n):
    """One-hot of the lowest set bit of the ``n``-bit ``value`` (0 if none)."""
    return value & ~(value - 1)[:n]


class RoundRobinArbiter(wiring.Component):
    """``n`` requesters (2..16), one grant per cycle, combinational from ``requests`` to
    ``grant``; the pointer (a register) moves when there is a grant.

    Members
    -------
    requests : ``In(n)``
        One bit per requester.
    grant : ``Out(n)``
        One-hot winner, or 0 when nobody requests.
    """

    def __init__(self, *, n):
        self.n = check_int("n", n, 2, 16)
        super().__init__({"requests": In(n), "grant": Out(n)})

    def elaborate(self, platform):
        m = Module()
        n = self.n
        # The pointer as a mask: bit i set when requester i is at or after the pointer.
        at_or_after = Signal(n, init=(1 << n) - 1)
        high = Signal(n)
        m.d.comb += high.eq(self.requests & at_or_after)
        with m.If(high.any()):
            m.d.comb += self.grant.eq(_lowest(high, n))
        with m.Else():
            m.d.comb += self.grant.eq(_lowest(self.requests, n))
        with m.If(self.grant.any()):
            # Requesters after the winner: every bit above the one-hot grant.
            m.d.sync += at_or_after.eq(~((self.grant << 1) - 1)[:n])
        return m
