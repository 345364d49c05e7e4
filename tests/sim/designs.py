"""Tiny designs that test the flow itself (harness, runner, synthesis), not the core."""

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class PlusOne(wiring.Component):
    """Two-stage pipeline, o = i + 1, stalling as a whole under backpressure.

    ``defect`` injects a bug for the harness to catch: "drop-valid" lowers valid while waiting for
    ready (a stream-rule violation); "silent" never produces output (a hang).
    """

    def __init__(self, *, width=32, defect=None):
        if defect not in (None, "drop-valid", "silent"):
            raise ValueError(f"unknown defect {defect!r}")
        self._defect = defect
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        v1 = Signal()
        d1 = Signal.like(self.i.payload)
        advance = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(advance)
        with m.If(advance):
            m.d.sync += [v1.eq(self.i.valid), d1.eq(self.i.payload + 1),
                         self.o.valid.eq(v1), self.o.payload.eq(d1)]
        if self._defect == "drop-valid":
            toggle = Signal()
            m.d.sync += toggle.eq(~toggle)
            with m.If(self.o.valid & ~self.o.ready & toggle):
                m.d.sync += self.o.valid.eq(0)
        if self._defect == "silent":
            m.d.comb += self.i.ready.eq(1)
            m.d.sync += self.o.valid.eq(0)
        return m
