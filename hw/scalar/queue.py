"""A request queue of the scalar core: one place for every thread, in front of a port."""

from amaranth.hdl import Module, Mux
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .isa import MAX_THREADS

__all__ = ["RequestQueue"]


class RequestQueue(wiring.Component):
    """A FIFO with a place for every thread in front of a request port.

    Parameters (keyword-only)
    -------------------------
    layout : data layout
        The request payload.

    Members
    -------
    i : ``In(stream.Signature(layout, always_ready=True))``
        Requests from the core; never refused.
    o : ``Out(stream.Signature(layout))``
        The port.

    Contract
    --------
    Requests leave in order. A request that meets an empty queue goes straight out in the cycle
    it comes (``o.valid`` and ``o.payload`` follow ``i`` combinationally) and is stored only if
    ``o`` does not take it at once. The queue holds ``MAX_THREADS`` requests: the core never has
    more than one request per thread outstanding on a port, so ``i`` needs no ready; more
    would be lost.
    """

    def __init__(self, *, layout):
        self._layout = layout
        super().__init__({
            "i": In(stream.Signature(layout, always_ready=True)),
            "o": Out(stream.Signature(layout)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFO(width=self._layout.size, depth=MAX_THREADS)
        bypass = ~fifo.r_rdy
        m.d.comb += [self.o.valid.eq(fifo.r_rdy | self.i.valid),
                     self.o.payload.eq(Mux(bypass, self.i.payload, fifo.r_data)),
                     fifo.r_en.eq(self.o.ready), fifo.w_data.eq(self.i.payload),
                     fifo.w_en.eq(self.i.valid & ~(bypass & self.o.ready))]
        return m
