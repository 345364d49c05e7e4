"""The receive side of a core's network interface: request packets from the router into the
scratchpad's router-write port and the semaphores, answers back (docs/mesh.md, "The receive
side")."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from hw.common import memport
from hw.common.params import check_int
from hw.noc.flit import COORD_BITS, Flit, MsgClass, Opcode
from hw.noc.routing import MAX_SIDE

from .isa import Error
from .isa import Signal as SignalLayout
from .packets import LINE, NOTIFY, PULL, WORDS, Notify

__all__ = ["NiReceive", "ERRORS_BITS"]

#: Width of the saturating count of refused lines and unknown packets.
ERRORS_BITS = 16
#: Bytes of a line (the ``rw`` port's width).
_LINE = 64

# Where a write's status goes when it is answered: its source core.
_Source = data.StructLayout({"x": COORD_BITS, "y": COORD_BITS})


class NiReceive(wiring.Component):
    """The receive side of the network interface of a core of a ``width`` × ``height`` mesh.

    Parameters (keyword-only)
    -------------------------
    width, height : int, 1..16
        The mesh: a source core ``(x, y)`` outside it is never recorded (the router delivers
        none).
    addr_bits : int, 8..32
        Width of the scratchpad's byte addresses (of ``wr_req``); a LINE's address is cut to it.
    tag_width : int, 0..16
        Width of the ``wr_req``/``wr_resp`` tags (sent as 0: a port share between uses them).
    inflight : int, 1..64
        Line writes outstanding at most (taken and not yet answered by the port).

    Members
    -------
    req : ``In(stream.Signature(Flit))``
        The router's ``eject[REQUEST]``.
    answer : ``Out(stream.Signature(Flit))``
        To the router's ``inject[RESPONSE]``: the answers to NOTIFYs and PULLs.
    wr_req, wr_resp : the memory-port contract of the scratchpad's ``rw`` port (64-B writes
        with a byte mask), at ``addr_bits`` and ``tag_width``. Responses in request order.
    signal : ``Out(stream.Signature(hw.core.isa.Signal, always_ready=True))``
        A NOTIFY's signal to add to the semaphores (when its ``enable`` is set).
    errors : ``Out(ERRORS_BITS)``
        Saturating count of line writes answered with a bad status and of request packets of
        an unknown opcode (dropped).

    Contract
    --------
    Packets are taken in arrival order. A LINE (``POST``) becomes one write: the header's
    ``addr``, the payload, the byte mask of the tag's word mask (`hw.core.packets.byte_mask`);
    it is taken when the write register is free (or being taken) and fewer than ``inflight``
    writes are outstanding, so a ready port takes a line a cycle. A write answered
    ``OUT_OF_RANGE``, ``MISALIGNED`` or ``UNCORRECTABLE`` records, for its source, the first
    such code (`hw.core.packets.status_code`) until the source's next NOTIFY. A NOTIFY
    (``WRITE``) is taken once every write taken before it has been answered and the answer
    register is free (or being taken); in that cycle its signal goes out on ``signal`` (the
    cycle after) and its answer, `hw.core.packets.answer_packet` with the source's recorded
    code (which it clears), into the answer register. A PULL (``READ``) is answered ERROR,
    code ``FIELD`` (pulls are a later milestone). Any other opcode is dropped and counted.
    ``valid`` of ``wr_req``, ``answer`` and ``signal`` comes from registers.
    """

    def __init__(self, *, width, height, addr_bits=32, tag_width=0, inflight=8):
        self.width = check_int("width", width, 1, MAX_SIDE)
        self.height = check_int("height", height, 1, MAX_SIDE)
        self.addr_bits = check_int("addr_bits", addr_bits, 8, 32)
        self.tag_width = check_int("tag_width", tag_width, 0, 16)
        self.inflight = check_int("inflight", inflight, 1, 64)
        wr_req = memport.request_layout(addr_bits=addr_bits, tag_width=tag_width, width=_LINE,
                                        reads=False, writes=True)
        wr_resp = memport.response_layout(tag_width=tag_width, width=_LINE, reads=False)
        super().__init__({
            "req": In(stream.Signature(Flit)),
            "answer": Out(stream.Signature(Flit)),
            "wr_req": Out(stream.Signature(wr_req)),
            "wr_resp": In(stream.Signature(wr_resp)),
            "signal": Out(stream.Signature(SignalLayout, always_ready=True)),
            "errors": Out(ERRORS_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        w, h = self.width, self.height
        m.submodules.sources = sources = SyncFIFO(width=_Source.size, depth=self.inflight)
        codes = [Signal(Error, name=f"code_{x}_{y}") for y in range(h) for x in range(w)]

        hdr = self.req.payload.header
        op = hdr.op
        is_line, is_notify, is_pull = op == LINE, op == NOTIFY, op == PULL
        unknown = ~(is_line | is_notify | is_pull)

        # --- LINE: the write register ---------------------------------------------------------
        w_free = ~self.wr_req.valid | self.wr_req.ready
        take_line = self.req.valid & is_line & w_free & sources.w_rdy
        with m.If(w_free):
            m.d.sync += self.wr_req.valid.eq(take_line)
        with m.If(take_line):
            m.d.sync += [
                self.wr_req.payload.addr.eq(hdr.addr[:self.addr_bits]),
                self.wr_req.payload.data.eq(self.req.payload.data),
                self.wr_req.payload.mask.eq(Cat(hdr.tag[i].replicate(8) for i in range(WORDS))),
            ]
        src = data.View(_Source, sources.w_data)
        m.d.comb += [sources.w_en.eq(take_line), src.x.eq(hdr.src_x), src.y.eq(hdr.src_y)]

        # --- Write answers: record a refused line for its source -----------------------------
        m.d.comb += self.wr_resp.ready.eq(1)
        answered = self.wr_resp.valid
        status = self.wr_resp.payload.status
        bad_code = Mux(status == memport.Status.OUT_OF_RANGE, Error.RANGE,
                   Mux(status == memport.Status.MISALIGNED, Error.ALIGN, Error.FIELD))
        bad = answered & ((status == memport.Status.OUT_OF_RANGE)
                          | (status == memport.Status.MISALIGNED)
                          | (status == memport.Status.UNCORRECTABLE))
        whose = data.View(_Source, sources.r_data)
        m.d.comb += sources.r_en.eq(answered)

        # --- NOTIFY and PULL: the answer register ---------------------------------------------
        a_free = ~self.answer.valid | self.answer.ready
        # `level` counts the lines taken and not yet answered, the one in the register included.
        take_notify = self.req.valid & is_notify & a_free & (sources.level == 0)
        take_pull = self.req.valid & is_pull & a_free
        drop = self.req.valid & unknown
        m.d.comb += self.req.ready.eq(take_line | take_notify | take_pull | drop)

        mine = Signal(Error)        # the NOTIFY's source's recorded code
        for y in range(h):
            for x in range(w):
                code = codes[y * w + x]
                here = (hdr.src_x == x) & (hdr.src_y == y)
                with m.If(take_notify & here):
                    m.d.comb += mine.eq(code)
                    m.d.sync += code.eq(Error.NONE)
                # After the NOTIFY's clear: a NOTIFY waits for every answer, so the two never
                # meet in one cycle; the record keeps the first code.
                with m.If(bad & (whose.x == x) & (whose.y == y) & (code == Error.NONE)):
                    m.d.sync += code.eq(bad_code)
        answer_code = Mux(take_pull, Error.FIELD, mine)
        payload = data.View(Notify, self.req.payload.data)
        with m.If(a_free):
            m.d.sync += self.answer.valid.eq(take_notify | take_pull)
        with m.If(take_notify | take_pull):
            a, out = self.answer.payload.header, data.View(Notify, self.answer.payload.data)
            m.d.sync += [
                a.dst_x.eq(hdr.src_x), a.dst_y.eq(hdr.src_y),
                a.src_x.eq(hdr.dst_x), a.src_y.eq(hdr.dst_y),
                a.cls.eq(MsgClass.RESPONSE), a.addr.eq(hdr.addr), a.tag.eq(hdr.tag),
                a.op.eq(Mux(answer_code == Error.NONE, Opcode.WRITE_ACK, Opcode.ERROR)),
                out.eq(0), out.signal.eq(payload.signal), out.code.eq(answer_code),
            ]
        m.d.sync += [self.signal.valid.eq(take_notify & payload.signal.enable),
                     self.signal.payload.eq(payload.signal)]

        # --- The count of errors --------------------------------------------------------------
        count = self.errors
        top = (1 << ERRORS_BITS) - 1
        more = bad.as_unsigned() + drop
        m.d.sync += count.eq(Mux(count > top - more, top, count + more))
        return m
