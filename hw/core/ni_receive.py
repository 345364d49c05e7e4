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
from .packets import LINE, MNOTIFY, NOTIFY, PULL, READ_DATA, WORDS, Notify, Pull

__all__ = ["NiReceive", "ERRORS_BITS"]

#: Width of the saturating count of refused lines and unknown packets.
ERRORS_BITS = 16
#: Bytes of a line (the ``rw`` port's width).
_LINE = 64

# Where a write's status goes when it is answered: its source core.
_Source = data.StructLayout({"x": COORD_BITS, "y": COORD_BITS})
# A PULL whose read is outstanding: what its answer needs.
_Pulled = data.StructLayout({"src": _Source, "here": _Source, "addr": 32, "tag": 8, "dst": 32})


def _refusal(m, status, name):
    """``(bad, code)`` of a port's answer ``status``: whether the access was refused or the
    line is uncorrectable, and its error code (``hw.core.packets.status_code``)."""
    bad = Signal(name=f"{name}_bad")
    code = Signal(Error, name=f"{name}_code")
    m.d.comb += [
        bad.eq((status == memport.Status.OUT_OF_RANGE) | (status == memport.Status.MISALIGNED)
               | (status == memport.Status.UNCORRECTABLE)),
        code.eq(Mux(status == memport.Status.OUT_OF_RANGE, Error.RANGE,
                Mux(status == memport.Status.MISALIGNED, Error.ALIGN, Error.FIELD))),
    ]
    return bad, code


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
    rd_req, rd_resp : the contract of the ``rr`` port (64-B reads), the same way: the PULLs'
        reads.
    signal : ``Out(stream.Signature(hw.core.isa.Signal, always_ready=True))``
        A NOTIFY's signal to add to the semaphores (when its ``enable`` is set).
    errors : ``Out(ERRORS_BITS)``
        Saturating count of line writes and PULL reads answered with a bad status and of
        request packets of an unknown opcode (dropped).

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
    code (which it clears), into the answer register. A PULL (``READ``) becomes one read of
    the line at its address, taken when the read register is free (or being taken), fewer than
    ``inflight`` reads are outstanding and every write taken before it has been answered (the
    two ports are not ordered against each other); a LINE likewise waits for the reads of the
    PULLs before it. Read answers, in order, go into the answer register:
    `hw.core.packets.read_data_packet` with the line, or `pull_error_packet` with the code of
    a refused read (counted). A NOTIFY also waits for every read taken before it, so its
    answer follows their READ_DATAs. An MNOTIFY (a multicast push's end) is a NOTIFY without
    the answer: taken once every write and read taken before it has been answered, whatever
    the answer register holds; its signal goes out and the source's record is cleared (its
    refused lines were counted). Any other opcode is dropped and counted.
    ``valid`` of ``wr_req``, ``rd_req``, ``answer`` and ``signal`` comes from registers.
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
        rd_req = memport.request_layout(addr_bits=addr_bits, tag_width=tag_width, width=_LINE,
                                        reads=True, writes=False)
        rd_resp = memport.response_layout(tag_width=tag_width, width=_LINE, reads=True)
        super().__init__({
            "req": In(stream.Signature(Flit)),
            "answer": Out(stream.Signature(Flit)),
            "wr_req": Out(stream.Signature(wr_req)),
            "wr_resp": In(stream.Signature(wr_resp)),
            "rd_req": Out(stream.Signature(rd_req)),
            "rd_resp": In(stream.Signature(rd_resp)),
            "signal": Out(stream.Signature(SignalLayout, always_ready=True)),
            "errors": Out(ERRORS_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        w, h = self.width, self.height
        m.submodules.sources = sources = SyncFIFO(width=_Source.size, depth=self.inflight)
        m.submodules.pulls = pulls = SyncFIFO(width=_Pulled.size, depth=self.inflight)
        codes = [Signal(Error, name=f"code_{x}_{y}") for y in range(h) for x in range(w)]

        hdr = self.req.payload.header
        op = hdr.op
        is_line, is_notify, is_pull = op == LINE, op == NOTIFY, op == PULL
        is_mnotify = op == MNOTIFY
        unknown = ~(is_line | is_notify | is_pull | is_mnotify)

        # --- LINE: the write register ---------------------------------------------------------
        w_free = ~self.wr_req.valid | self.wr_req.ready
        # `level`s count the accesses taken and not yet answered, the registered one included.
        take_line = self.req.valid & is_line & w_free & sources.w_rdy & (pulls.level == 0)
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
        refused, bad_code = _refusal(m, self.wr_resp.payload.status, "write")
        bad = answered & refused
        whose = data.View(_Source, sources.r_data)
        m.d.comb += sources.r_en.eq(answered)

        # --- PULL: the read register -----------------------------------------------------------
        r_free = ~self.rd_req.valid | self.rd_req.ready
        take_pull = self.req.valid & is_pull & r_free & pulls.w_rdy & (sources.level == 0)
        with m.If(r_free):
            m.d.sync += self.rd_req.valid.eq(take_pull)
        with m.If(take_pull):
            m.d.sync += self.rd_req.payload.addr.eq(hdr.addr[:self.addr_bits])
        pull_in, pulled = data.View(Pull, self.req.payload.data), data.View(_Pulled, pulls.w_data)
        m.d.comb += [pulls.w_en.eq(take_pull), pulled.src.x.eq(hdr.src_x),
                     pulled.src.y.eq(hdr.src_y), pulled.here.x.eq(hdr.dst_x),
                     pulled.here.y.eq(hdr.dst_y), pulled.addr.eq(hdr.addr),
                     pulled.tag.eq(hdr.tag), pulled.dst.eq(pull_in.dst)]

        # --- NOTIFY and the reads' answers: the answer register -------------------------------
        a_free = ~self.answer.valid | self.answer.ready
        take_notify = (self.req.valid & is_notify & a_free & (sources.level == 0)
                       & (pulls.level == 0))
        take_mnotify = (self.req.valid & is_mnotify & (sources.level == 0)
                        & (pulls.level == 0))
        # Either NOTIFY: its lines have landed; its signal goes out, its source's record clears.
        landed = take_notify | take_mnotify
        # A read answered while a NOTIFY waits for it: the two never meet in one cycle.
        read_back = self.rd_resp.valid & a_free
        m.d.comb += [self.rd_resp.ready.eq(a_free), pulls.r_en.eq(read_back)]
        read_refused, read_code = _refusal(m, self.rd_resp.payload.status, "read")
        read_bad = read_back & read_refused
        drop = self.req.valid & unknown
        m.d.comb += self.req.ready.eq(take_line | landed | take_pull | drop)

        mine = Signal(Error)        # the NOTIFY's source's recorded code
        for y in range(h):
            for x in range(w):
                code = codes[y * w + x]
                here = (hdr.src_x == x) & (hdr.src_y == y)
                with m.If(landed & here):
                    m.d.comb += mine.eq(code)
                    m.d.sync += code.eq(Error.NONE)
                # After the NOTIFY's clear: a NOTIFY waits for every answer, so the two never
                # meet in one cycle; the record keeps the first code.
                with m.If(bad & (whose.x == x) & (whose.y == y) & (code == Error.NONE)):
                    m.d.sync += code.eq(bad_code)
        payload = data.View(Notify, self.req.payload.data)
        a = self.answer.payload.header
        with m.If(a_free):
            m.d.sync += self.answer.valid.eq(take_notify | read_back)
        with m.If(take_notify):
            out = data.View(Notify, self.answer.payload.data)
            m.d.sync += [
                a.dst_x.eq(hdr.src_x), a.dst_y.eq(hdr.src_y),
                a.src_x.eq(hdr.dst_x), a.src_y.eq(hdr.dst_y),
                a.cls.eq(MsgClass.RESPONSE), a.addr.eq(hdr.addr), a.tag.eq(hdr.tag),
                a.op.eq(Mux(mine == Error.NONE, Opcode.WRITE_ACK, Opcode.ERROR)),
                out.eq(0), out.signal.eq(payload.signal), out.code.eq(mine),
            ]
        with m.Elif(read_back):
            e = data.View(_Pulled, pulls.r_data)
            m.d.sync += [
                a.dst_x.eq(e.src.x), a.dst_y.eq(e.src.y), a.src_x.eq(e.here.x),
                a.src_y.eq(e.here.y), a.cls.eq(MsgClass.RESPONSE), a.tag.eq(e.tag),
                a.op.eq(Mux(read_refused, Opcode.ERROR, READ_DATA)),
                a.addr.eq(Mux(read_refused, e.addr, e.dst)),
            ]
            with m.If(read_refused):
                out = data.View(Pull, self.answer.payload.data)
                m.d.sync += [out.eq(0), out.code.eq(read_code), out.dst.eq(e.dst)]
            with m.Else():
                m.d.sync += self.answer.payload.data.eq(self.rd_resp.payload.data)
        m.d.sync += [self.signal.valid.eq(landed & payload.signal.enable),
                     self.signal.payload.eq(payload.signal)]

        # --- The count of errors --------------------------------------------------------------
        count = self.errors
        top = (1 << ERRORS_BITS) - 1
        more = bad.as_unsigned() + read_bad + drop
        m.d.sync += count.eq(Mux(count > top - more, top, count + more))
        return m
