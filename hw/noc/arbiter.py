"""A round-robin arbiter: the allocator's building block (docs/noc.md, section "Router")."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RoundRobinArbiter"]


class RoundRobinArbiter(wiring.Component):
    """Grant one of ``n`` requesters, round robin.

    ``grant`` is one-hot (or zero when nothing requests) and combinational in ``requests``: the
    first requester at or after the one following the last *taken* grant, cyclically. A grant is
    taken when ``advance`` is high in its cycle; only then does the priority move past it, so a
    grant that was not taken is offered again. A requester that keeps requesting is granted
    within ``n`` taken grants: no starvation.
    """

    def __init__(self, *, n):
        if type(n) is not int or not 1 <= n <= 64:
            raise ValueError(f"arbiter size n must be an int from 1 to 64, not {n!r}")
        self.n = n
        super().__init__({"requests": In(n), "advance": In(1), "grant": Out(n)})
        #: The priority state: the bits after the last taken grant (all ones at reset). Not a
        #: port; the formal properties (``verif/noc/formal.py``) state its invariant.
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
        with m.If(self.advance & self.grant.any()):
            m.d.sync += after.eq(Cat(self.grant[:i].any() for i in range(n)))
        return m
