"""The scalar core's completions: results that arrive after write-back, one a cycle."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .isa import MAX_THREADS, THREAD_BITS, XLEN, CoprocResponse, data_response_layout
from .stages import MulDivResult, access_fault, thread_bit

__all__ = ["Completion", "Done"]

#: A completion taken: the result ``data`` for ``thread``; ``error`` for an access fault (a load
#: or store) or an illegal instruction (a coprocessor instruction the coprocessor refused).
Done = data.StructLayout({"valid": 1, "thread": THREAD_BITS, "data": XLEN, "error": 1})


class Completion(wiring.Component):
    """Takes one result a cycle (loads, stores, coprocessor answers, quotients, products) into
    a register, in that priority.

    Parameters (keyword-only)
    -------------------------
    threads : int, 1..4
        Hardware threads.
    tag_width : int
        Of the data port's responses (``hw.scalar.isa.data_response_layout``).
    (The caller has checked the values.)

    Members
    -------
    data_resp : ``In(stream.Signature(data_response_layout(...)))``
        ``tag`` is the thread; a status other than ``OK`` and ``CORRECTED`` is an access
        fault.
    cop_resp : ``In(stream.Signature(CoprocResponse))``
        ``error`` makes the instruction illegal.
    div : ``In(stream.Signature(MulDivResult)).array(threads)``
        The results, taken (``ready``) when chosen.
    mul : ``In(stream.Signature(MulDivResult, always_ready=True))``
        Products: taken straight when nothing else is, else queued (a place for every thread).
    done : ``Out(Done)``
        The result taken in the previous cycle.
    release : ``Out(threads)``
        The thread of the result taken now, unless it is an error (a trap): it may issue again
        while its instruction retires.

    Contract
    --------
    Every thread has one result outstanding at most, so the product queue never overflows.
    ``data_resp.ready``, ``cop_resp.ready`` and ``div[i].ready`` depend on the valids of the
    streams before them in the priority order.
    """

    def __init__(self, *, threads, tag_width):
        self._threads = threads
        super().__init__({
            "data_resp": In(stream.Signature(data_response_layout(tag_width=tag_width))),
            "cop_resp": In(stream.Signature(CoprocResponse)),
            "div": In(stream.Signature(MulDivResult)).array(threads),
            "mul": In(stream.Signature(MulDivResult, always_ready=True)),
            "done": Out(Done), "release": Out(threads),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.mul_out = mul_out = SyncFIFO(width=MulDivResult.size, depth=MAX_THREADS)
        m.d.comb += mul_out.w_data.eq(self.mul.payload)
        mul_res = data.View(MulDivResult, mul_out.r_data)
        incoming = Signal(Done)  # what ``done`` takes this cycle
        mul_direct = Signal()
        m.d.sync += self.done.eq(incoming)
        with m.If(self.data_resp.valid):
            m.d.comb += self.data_resp.ready.eq(1)
            dresp = self.data_resp.payload
            m.d.comb += [incoming.valid.eq(1), incoming.thread.eq(dresp.tag),
                         incoming.data.eq(dresp.data),
                         incoming.error.eq(access_fault(dresp.status))]
        with m.Elif(self.cop_resp.valid):
            m.d.comb += self.cop_resp.ready.eq(1)
            m.d.comb += [incoming.valid.eq(1), incoming.thread.eq(self.cop_resp.payload.thread),
                         incoming.data.eq(self.cop_resp.payload.value),
                         incoming.error.eq(self.cop_resp.payload.error)]
        for div in self.div:
            with m.Elif(div.valid):
                m.d.comb += div.ready.eq(1)
                m.d.comb += [incoming.valid.eq(1), incoming.thread.eq(div.payload.thread),
                             incoming.data.eq(div.payload.value)]
        with m.Elif(mul_out.r_rdy):
            m.d.comb += mul_out.r_en.eq(1)
            m.d.comb += [incoming.valid.eq(1), incoming.thread.eq(mul_res.thread),
                         incoming.data.eq(mul_res.value)]
        with m.Elif(self.mul.valid):
            m.d.comb += [incoming.valid.eq(1), incoming.thread.eq(self.mul.payload.thread),
                         incoming.data.eq(self.mul.payload.value), mul_direct.eq(1)]
        m.d.comb += mul_out.w_en.eq(self.mul.valid & ~mul_direct)
        m.d.comb += self.release.eq(
            thread_bit(incoming.valid & ~incoming.error, incoming.thread, self._threads))
        return m
