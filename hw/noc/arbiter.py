"""A round-robin arbiter: the allocator's building block (docs/noc.md, section "Router")."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RoundRobinArbiter"]


class RoundRobinArbiter(wiring.Component):
    """Grant one of ``n`` requesters, round robin.

    ``grant`` is one-hot (or zero when nothing requests) and combinational in ``requests``: the
    first requester at or after the priority pointer, cyclically. A grant is taken when
    ``advance`` is high in its cycle: the pointer then moves past it. A grant that is not taken
    keeps its place: the pointer moves onto it, so the same requester is granted again as long
    as it requests, even if a requester before it in the order starts requesting meanwhile.

    Guarantees (proved with requests free, ``verif/noc/formal.py``): a grant offered and not
    taken stays on its requester until that requester drops its request; a requester that keeps
    requesting is passed over by at most ``n - 1`` taken grants and sees at most ``n - 1``
    *turns* of others (a turn: the grant moves to another requester and stays there until taken
    or dropped), however the others' requests come and go. Together they keep the router's
    allocation from starving a flit whose output stays free: an input keeps offering one FIFO
    per turn, so the output's arbiter sees a request that stays up (docs/noc.md, "Allocation").
    """

    def __init__(self, *, n):
        if type(n) is not int or not 1 <= n <= 64:
            raise ValueError(f"arbiter size n must be an int from 1 to 64, not {n!r}")
        self.n = n
        super().__init__({"requests": In(n), "advance": In(1), "grant": Out(n)})
        #: The priority pointer as a mask: the bits from the front of the order up (all ones at
        #: reset). Not a port; the formal properties (``verif/noc/formal.py``) state its
        #: invariant.
        self.after = Signal(n, init=(1 << n) - 1)

    def elaborate(self, platform):
        m = Module()
        n = self.n
        after = self.after
        high = Signal(n)
        # Lowest set bit and "bits above the grant" as OR trees over the lower bits rather than
        # x & -x and ~(g | g - 1), whose carry chains would add a level per requester to the
        # allocation stage. The lowest requester after the last grant and the lowest of all
        # are found side by side and chosen between last, not one after the other.
        def lowest(x):
            return Cat(x[i] & ~x[:i].any() for i in range(n))

        m.d.comb += [
            high.eq(self.requests & after),
            self.grant.eq(Mux(high.any(), lowest(high), lowest(self.requests))),
        ]
        with m.If(self.grant.any()):
            # Taken: the front moves past the grant; not taken: onto it.
            m.d.sync += after.eq(Mux(self.advance, Cat(self.grant[:i].any() for i in range(n)),
                                     Cat(self.grant[:i + 1].any() for i in range(n))))
        return m
