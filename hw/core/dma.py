"""The DMA engine: a 2D gather engine that walks lists of :data:`hw.core.isa.DmaDescriptor` on
the scratchpad's router read and write ports (docs/core.md, "DMA engine").
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from hw.common import memport
from hw.common.arith import prefix_add, prefix_sub
from hw.common.params import check_bool, check_int
from hw.core.isa import (
    DESCRIPTOR_BYTES,
    THREAD_BITS,
    DmaCommand,
    DmaDescriptor,
    Done,
    Error,
    ErrorRecord,
    StallCause,
)
from hw.core.isa import (
    Signal as SignalLayout,
)
from hw.sram.config import D1 as SRAM_D1

from .packets import SEQ_BITS, NetAnswer, NetLine, Place

__all__ = ["DmaEngine", "INFLIGHT", "LINE"]

#: Bytes per scratchpad line (the ports' width).
LINE = 64
WORDS = LINE // 8
#: Data reads the engine keeps outstanding (the scratchpad answers after 5 cycles or more).
INFLIGHT = 16
#: Descriptors started and not yet acknowledged.
DONE_DEPTH = 4



def _entry_layout(network):
    """A descriptor's bookkeeping entry, in order with the started ones; with a network,
    whether it is remote and its transfer number (a lone engine's layout is unchanged)."""
    fields = {"signal": SignalLayout, "thread": THREAD_BITS, "last": 1, "refused": 1,
              "code": Error, "addr": 32}
    if network:
        fields.update({"remote": 1, "seq": SEQ_BITS})
    return data.StructLayout(fields)


# A remote descriptor's destination for its lines, from its handoff to its last line.
_Remote = data.StructLayout({"x": 4, "y": 4, "signal": SignalLayout, "seq": SEQ_BITS,
                             "mcast": 1, "rect_x": 4, "rect_y": 4})


def _add(m, x, y, width, name):
    """``x + y`` mod 2**width with a kept Kogge-Stone carry tree (``hw.common.arith``: Yosys's
    own ``+`` and comparisons end up as ripple chains of two gate levels per bit)."""
    return prefix_add(m, x, y, width=width, name=name)[0]


def _ge(m, x, y, width, name):
    """``x >= y`` (unsigned, ``width`` bits) from a prefix subtractor's carry."""
    return prefix_sub(m, x, y, width=width, name=name)[1]


def _lg_words(code):
    """log2 of the element's 8-B words for elem_bytes code 0 (8 B), 1 (16 B), 2 (64 B)."""
    return Mux(code == 2, 3, code[0])


class DmaEngine(wiring.Component):
    """The DMA engine of one core.

    Parameters
    ----------
    addr_bits : int
        Width of the scratchpad byte addresses, 8..32.
    tag_width : int
        Width of the tags of the engine's port requests, 1..16 (bit 0 is the engine's; the others
        are sent as 0 for an arbiter in between to use).
    base, size : int
        The scratchpad's byte range ``[base, base + size)``: multiples of 64, ``size`` >= 64, the
        range within ``addr_bits``. Default: the D1 scratchpad, ``[0, 1.25 MB)``.
    x, y : int
        This core's mesh coordinates, 0..15, without a network (a descriptor with ``local`` = 0
        and other ``dst_x``/``dst_y`` is remote); with one, they come from ``here``.
    network : bool
        Whether the core has a network interface: remote descriptors are refused
        (``Error.REMOTE``) without one, and sent on ``net`` with one (docs/mesh.md).

    Members
    -------
    cmd : In(stream(DmaCommand))
        A list to run: the address of its first descriptor and the issuing thread. Taken when the
        list parser is free (one list at a time; the next list's descriptors follow the last one's).
    rd_req, rd_resp : the memory-port contract of the scratchpad's ``rr`` port (64-B reads)
        Descriptor reads carry tag bit 0 = 1, data reads 0. Responses must come in request order.
    wr_req, wr_resp : the contract of the ``rw`` port (64-B writes with a byte mask)
        Tag bit 0 = 1 on a descriptor's last write. Every write's mask covers whole 8-B words.
    done : Out(stream(Done, always_ready))
        One per descriptor, once its last write has been acknowledged (a refused one: once every
        earlier write has), with its signal and thread; ``last`` on the list's final descriptor and
        on a refused one (which ends its list).
    error : Out(stream(ErrorRecord, always_ready))
        One per refused descriptor, in the cycle of its ``done``: the code and the address of the
        descriptor (:class:`hw.core.isa.Error`).
    here : In(hw.core.packets.Place), only with ``network``
        This core's coordinates (wired by the mesh: every core is the same module).
    net : Out(stream(hw.core.packets.NetLine)), only with ``network``
        A remote descriptor's destination lines, each once, in order, ``end`` on its last.
    net_ans : In(stream(hw.core.packets.NetAnswer, always_ready)), only with ``network``
        The answer to a remote descriptor's NOTIFY: the descriptor's ``Done`` (without signal:
        its signal was added at the destination) and, if ``code`` is not ``NONE``, its
        ``ErrorRecord``, in list order.
    stall : Out(StallCause)
        What this cycle is (``hw.core.isa.StallCause``, exactly one bit per cycle): ``busy`` a
        write was taken; ``PORT`` a request offered and not taken; ``OPERAND`` the read side at
        work (a read issued or awaited, a descriptor being checked); ``BACKPRESSURE`` only waiting
        for write acknowledgements (the end of a list, or a source that overlaps earlier
        destinations); ``IDLE`` no list and nothing in flight.

    Contract
    --------
    Semantics, checks and their order: docs/core.md. Rates: a group (the run of one descriptor's
    consecutive elements that lie in one source line and one destination line) is read per cycle
    and each destination line written once, so contiguous aligned copies move a line per cycle and
    gathers an element per cycle, with up to ``INFLIGHT`` reads outstanding. The next descriptor is
    read and checked while the current one moves; a descriptor whose source overlaps the
    destination of a descriptor with writes still unacknowledged waits for them (read after write
    through two ports is otherwise unordered).
    """
    def __init__(self, *, addr_bits=32, tag_width=4, base=0, size=SRAM_D1.size, x=0, y=0,
                 network=False):
        self.addr_bits = check_int("addr_bits", addr_bits, 8, 32)
        self.tag_width = check_int("tag_width", tag_width, 1, 16)
        self.base = check_int("base", base, 0, (1 << addr_bits) - LINE)
        self.size = check_int("size", size, LINE, (1 << addr_bits) - base)
        if base % LINE:
            raise ValueError(f"base must be a multiple of {LINE}, not {base!r}")
        if size % LINE:
            raise ValueError(f"size must be a multiple of {LINE}, not {size!r}")
        self.x = check_int("x", x, 0, 15)
        self.y = check_int("y", y, 0, 15)
        self.network = check_bool("network", network)
        rd_req = memport.request_layout(addr_bits=addr_bits, tag_width=tag_width, width=LINE,
                                        reads=True, writes=False)
        rd_resp = memport.response_layout(tag_width=tag_width, width=LINE, reads=True)
        wr_req = memport.request_layout(addr_bits=addr_bits, tag_width=tag_width, width=LINE,
                                        reads=False, writes=True)
        wr_resp = memport.response_layout(tag_width=tag_width, width=LINE, reads=False)
        net = {"here": In(Place), "net": Out(stream.Signature(NetLine)),
               "net_ans": In(stream.Signature(NetAnswer, always_ready=True))} if network else {}
        super().__init__({
            **net,
            "cmd": In(stream.Signature(DmaCommand)),
            "rd_req": Out(stream.Signature(rd_req)),
            "rd_resp": In(stream.Signature(rd_resp)),
            "wr_req": Out(stream.Signature(wr_req)),
            "wr_resp": In(stream.Signature(wr_resp)),
            "done": Out(stream.Signature(Done, always_ready=True)),
            "error": Out(stream.Signature(ErrorRecord, always_ready=True)),
            "stall": Out(StallCause),
        })

    def elaborate(self, platform):
        m = Module()
        ab = self.addr_bits
        m.submodules.inflight = inflight = SyncFIFOBuffered(
            width=self._group_layout().size, depth=INFLIGHT)
        entry_layout = _entry_layout(self.network)
        m.submodules.pending = pending = SyncFIFOBuffered(width=entry_layout.size,
                                                          depth=DONE_DEPTH)
        s = _State(ab)
        if self.network:
            # At most DONE_DEPTH entries: one per started descriptor not yet done (`pending`).
            m.submodules.remotes = s.remotes = SyncFIFOBuffered(width=_Remote.size,
                                                                depth=DONE_DEPTH)
        self._parser(m, s)
        self._generator(m, s, inflight)
        # After the generator: a handoff in the cycle of the last group wins its register updates.
        self._handoff(m, s, pending)
        self._assembler(m, s, inflight)
        self._completion(m, s, pending)

        # The cause of this cycle (docs/core.md, the counters).
        busy = self.wr_req.valid & self.wr_req.ready
        port = (self.rd_req.valid & ~self.rd_req.ready) | (self.wr_req.valid & ~self.wr_req.ready)
        if self.network:
            busy |= self.net.valid & self.net.ready
            port |= self.net.valid & ~self.net.ready
        reading = (s.active | self.rd_req.valid | (inflight.level != 0) | self.cmd.valid
                   | ~s.p_idle & ~s.p_slot | s.handoff)
        anything = reading | self.wr_req.valid | (pending.level != 0) | self.cmd.valid | s.p_slot
        st = self.stall
        with m.If(busy):
            m.d.comb += st.busy.eq(1)
        with m.Elif(port):
            m.d.comb += st.port.eq(1)
        with m.Elif(reading):
            m.d.comb += st.operand.eq(1)
        with m.Elif(anything):
            m.d.comb += st.backpressure.eq(1)
        with m.Else():
            m.d.comb += st.idle.eq(1)
        return m

    def _group_layout(self):
        """A group in flight: its destination line, first word and word count there, the word
        rotation from source to destination, whether it ends its destination line and its
        descriptor."""
        fields = {"line": self.addr_bits - 6, "word": 3, "words": 4, "rot": 3, "last": 1,
                  "end": 1}
        if self.network:
            fields["remote"] = 1
        return data.StructLayout(fields)

    # --- The list parser: read a descriptor, check it, hold it for the mover ----------------------
    def _parser(self, m, s):
        base, end = self.base, self.base + self.size
        d = s.dsc
        # Descriptor address check (a command's first address; `next` was checked with its
        # descriptor).
        addr_bad_align = s.addr[:6] != 0
        addr_bad_range = (~_ge(m, s.addr, base, 33, "addr_lo")
                          | ~_ge(m, end - DESCRIPTOR_BYTES, s.addr, 33, "addr_hi"))
        lg = _lg_words(d.elem_bytes)
        eb_bytes = Const(8, 7) << lg
        align_mask = (eb_bytes - 1)[:6]
        misaligned = ((d.src | d.dst | d.src_stride | d.dst_stride | d.src_elem_stride)[:6]
                      & align_mask) != 0
        next_bad_align = d.next[:6] != 0
        field = (d.elem_bytes == 3) | (d.rows == 0) | (d.elems == 0) | s.reserved_set
        x, y = (self.here.x, self.here.y) if self.network else (self.x, self.y)
        remote = ~d.local & ((d.dst_x != x) | (d.dst_y != y))
        refuse_remote = remote
        if self.network:
            # A multicast push goes out even to a rectangle of this core alone.
            remote = ~d.local & (d.mcast | (d.dst_x != x) | (d.dst_y != y))
            m.d.comb += s.is_remote.eq(remote)
            refuse_remote = Const(0)
        w = len(s.src_end)
        # The range comparisons, registered in CMP (each is a prefix subtractor's carry).
        in_range = (_ge(m, d.src, base, w, "src_lo") & _ge(m, end, s.src_end, w, "src_hi")
                    & _ge(m, d.dst, base, w, "dst_lo") & _ge(m, end, s.dst_end, w, "dst_hi"))
        next_ok = (d.next == 0) | (_ge(m, d.next, base, 33, "next_lo")
                                   & _ge(m, end - DESCRIPTOR_BYTES, d.next, 33, "next_hi"))
        ab = self.addr_bits
        dst_end = s.dst_end[:ab + 1]
        # Every adder outside the FSM: its kept levels must not be gated by the state.
        incoming = data.View(DmaDescriptor, self.rd_resp.payload.data)
        rows_m1 = _add(m, incoming.rows, 0xFFFF, 16, "rows_m1")
        elems_m1 = _add(m, incoming.elems, 0xFFFF, 16, "elems_m1")
        mul_s = _add(m, s.p_src, Mux(s.mr[0], s.sh_src, 0), 48, "mul_s")
        mul_d = _add(m, s.p_dst, Mux(s.mr[0], s.sh_dst, 0), 48, "mul_d")
        mul_e = _add(m, s.p_elem, Mux(s.me[0], s.sh_elem, 0), 48, "mul_e")
        s1 = _add(m, d.src, s.p_src, 49, "s1")
        s3 = _add(m, s.p_elem, eb_bytes, 49, "s3")
        d1 = _add(m, d.dst, s.p_dst, 49, "d1")
        srn0 = _add(m, d.src, d.src_stride, 32, "srn0")
        drn0 = _add(m, d.dst, d.dst_stride, 32, "drn0")
        src_end = _add(m, s.s1, s.s3, len(s.src_end), "src_end")
        # d3 = elems·eb has 25 bits: add those, then increment the rest on a carry (a kept
        # adder whose upper operand bits are all zero is rebuilt by ABC as a ripple chain).
        lo_w = 26
        dst_lo, dst_carry = prefix_add(m, s.d1[:lo_w], s.d3[:lo_w], width=lo_w, name="dst_end")
        dst_hi_inc = _add(m, s.d1[lo_w:], 1, len(s.dst_end) - lo_w, "dst_end_inc")
        dst_end_sum = Cat(dst_lo, Mux(dst_carry, dst_hi_inc, s.d1[lo_w:]))
        overlap = (~_ge(m, d.src, s.hull_hi, ab + 1, "ov_lo")
                   & ~_ge(m, s.hull_lo, s.src_end[:ab + 1], ab + 1, "ov_hi"))
        keep_lo = ~_ge(m, s.hull_lo, d.dst, ab + 1, "keep_lo")
        keep_hi = ~_ge(m, dst_end, s.hull_hi, ab + 1, "keep_hi")
        status = s.dsc_status

        # The multicast fields are a network engine's; a lone engine refuses them as reserved
        # bits (FIELD), as before they existed.
        reserved_set = incoming.reserved != 0
        if not self.network:
            reserved_set = (Cat(incoming.reserved, incoming.mcast, incoming.rect_x, incoming.rect_y)
                            != 0)
        with m.FSM(name="parser"):
            with m.State("IDLE"):
                m.d.comb += [self.cmd.ready.eq(1), s.p_idle.eq(1)]
                with m.If(self.cmd.valid):
                    m.d.sync += [s.addr.eq(self.cmd.payload.desc),
                                 s.thread.eq(self.cmd.payload.thread)]
                    m.next = "ADDR"
            with m.State("ADDR"):
                with m.If(addr_bad_align | addr_bad_range):
                    m.d.sync += [s.v_refused.eq(1), s.v_signal.eq(0), s.v_last.eq(1),
                                 s.v_code.eq(Mux(addr_bad_align, Error.ALIGN, Error.RANGE))]
                    m.next = "SLOT"
                with m.Else():
                    m.next = "READ"
            with m.State("READ"):
                m.d.comb += s.p_read.eq(1)
                with m.If(s.p_read_taken):
                    m.next = "WAIT"
            with m.State("WAIT"):
                m.d.comb += s.p_wait.eq(1)
                with m.If(self.rd_resp.valid & self.rd_resp.payload.tag[0]):
                    m.d.sync += [d.eq(self.rd_resp.payload.data),
                                 s.dsc_status.eq(self.rd_resp.payload.status),
                                 # a flag, not 256 bits kept for one comparison
                                 s.reserved_set.eq(reserved_set),
                                 s.mr.eq(rows_m1), s.me.eq(elems_m1),
                                 s.p_src.eq(0), s.p_dst.eq(0), s.p_elem.eq(0),
                                 s.sh_src.eq(incoming.src_stride),
                                 s.sh_dst.eq(incoming.dst_stride),
                                 s.sh_elem.eq(incoming.src_elem_stride)]
                    m.next = "MUL"
            with m.State("MUL"):
                # Radix-2 shift-and-add of (rows-1)·strides and (elems-1)·elem stride, one
                # 48-bit add per cycle, max(1, b) cycles: it ends with the last multiplier bit.
                m.d.sync += [
                    s.p_src.eq(mul_s), s.p_dst.eq(mul_d), s.p_elem.eq(mul_e),
                    s.sh_src.eq(s.sh_src << 1), s.sh_dst.eq(s.sh_dst << 1),
                    s.sh_elem.eq(s.sh_elem << 1), s.mr.eq(s.mr >> 1), s.me.eq(s.me >> 1),
                ]
                with m.If((s.mr[1:] == 0) & (s.me[1:] == 0)):
                    m.next = "SUM1"
            with m.State("SUM1"):
                m.d.sync += [s.s1.eq(s1), s.s3.eq(s3), s.d1.eq(d1),
                             s.d3.eq(d.elems << (lg + 3)), s.srn0.eq(srn0), s.drn0.eq(drn0)]
                m.next = "SUM2"
            with m.State("SUM2"):
                m.d.sync += [s.src_end.eq(src_end), s.dst_end.eq(dst_end_sum)]
                m.next = "CMP"
            with m.State("CMP"):
                # The hull of the destinations with writes outstanding changes only at a handoff
                # (never while this descriptor waits for its own), so its comparisons are made
                # here, once: overlap with this source, and the hull's new bounds.
                m.d.sync += [
                    s.in_range.eq(in_range), s.next_ok.eq(next_ok), s.overlap.eq(overlap),
                    s.keep_lo.eq(keep_lo), s.keep_hi.eq(keep_hi),
                ]
                m.next = "JUDGE"
            with m.State("JUDGE"):
                code = Mux(status == memport.Status.OUT_OF_RANGE, Error.RANGE,
                       Mux(status == memport.Status.MISALIGNED, Error.ALIGN,
                       Mux(status == memport.Status.UNCORRECTABLE, Error.FIELD,
                       Mux(field, Error.FIELD,
                       Mux(refuse_remote, Error.REMOTE,
                       Mux(misaligned | next_bad_align, Error.ALIGN,
                       Mux(~s.in_range | ~s.next_ok, Error.RANGE, Error.NONE)))))))
                m.d.sync += [s.v_code.eq(code), s.v_refused.eq(code != Error.NONE),
                             s.v_signal.eq(d.signal),
                             s.v_last.eq((code != Error.NONE) | (d.next == 0))]
                m.next = "SLOT"
            with m.State("SLOT"):
                m.d.comb += s.p_slot.eq(1)
                with m.If(s.handoff):
                    with m.If(s.v_last):
                        m.next = "IDLE"
                    with m.Else():
                        # `next` was checked with its descriptor: read it at once.
                        m.d.sync += s.addr.eq(d.next)
                        m.next = "READ"

    # --- Handing a checked descriptor to the mover (or refusing it), in list order ------------
    def _handoff(self, m, s, pending):
        d = s.dsc
        ab = self.addr_bits
        entry = data.View(_entry_layout(self.network), pending.w_data)
        outstanding = pending.level != 0
        m.d.comb += s.hazard.eq(~s.v_refused & outstanding & s.overlap)
        mover_free = ~s.active | s.gen_go & s.g_end
        m.d.comb += [
            s.handoff.eq(s.p_slot & mover_free & pending.w_rdy & ~s.hazard),
            pending.w_en.eq(s.handoff),
            entry.signal.eq(s.v_signal), entry.thread.eq(s.thread), entry.last.eq(s.v_last),
            entry.refused.eq(s.v_refused), entry.code.eq(s.v_code), entry.addr.eq(s.addr),
        ]
        if self.network:
            # A remote descriptor's signal is the destination's; its Done here carries none.
            remote = ~s.v_refused & s.is_remote
            dest = data.View(_Remote, s.remotes.w_data)
            m.d.comb += [
                entry.remote.eq(remote), entry.seq.eq(s.seq),
                s.remotes.w_en.eq(s.handoff & remote),
                dest.x.eq(d.dst_x), dest.y.eq(d.dst_y), dest.signal.eq(d.signal),
                dest.seq.eq(s.seq), dest.mcast.eq(d.mcast), dest.rect_x.eq(d.rect_x),
                dest.rect_y.eq(d.rect_y),
            ]
            with m.If(remote):
                m.d.comb += entry.signal.eq(0)
            with m.If(s.handoff & remote):
                m.d.sync += s.seq.eq(s.seq + 1)
            with m.If(s.handoff & ~s.v_refused):
                m.d.sync += s.remote.eq(remote)
        with m.If(s.handoff & ~s.v_refused):
            dst_end = s.dst_end[:ab + 1]
            m.d.sync += [
                s.s.eq(d.src), s.d.eq(d.dst), s.srn.eq(s.srn0), s.drn.eq(s.drn0),
                s.e_rem.eq(d.elems), s.r_rem.eq(d.rows), s.elems.eq(d.elems),
                s.code.eq(d.elem_bytes), s.src_stride.eq(d.src_stride),
                s.dst_stride.eq(d.dst_stride), s.src_es.eq(d.src_elem_stride),
                s.contig.eq(d.src_elem_stride == (Const(8, 7) << _lg_words(d.elem_bytes))),
                s.active.eq(1),
                s.hull_lo.eq(Mux(outstanding & s.keep_lo, s.hull_lo, d.dst)),
                s.hull_hi.eq(Mux(outstanding & s.keep_hi, s.hull_hi, dst_end)),
            ]

    # --- The group generator and the read request register ------------------------------------
    def _generator(self, m, s, inflight):
        lg = _lg_words(s.code)
        s_w, d_w = s.s[3:6], s.d[3:6]
        # The group's length in words, as thermometer codes (bit k: word k of the group fits),
        # so that it and the decisions that follow are a few gate levels (this is the loop of
        # the generator: the next addresses depend on it). Room in the destination line; in
        # the source line (contiguous) or one element; what is left of the row.
        e_big = s.e_rem[3:] != 0
        room_d = Cat(*(k <= ~d_w for k in range(WORDS)))
        room_s = Cat(*(Mux(s.contig, k <= ~s_w, (k >> lg) == 0) for k in range(WORDS)))
        rem = Cat(*(e_big | ((k >> lg) < s.e_rem[:3]) for k in range(WORDS)))
        therm = Signal(WORDS)
        m.d.comb += therm.eq(room_d & room_s & rem)
        nw = Signal(4)          # the thermometer's count
        m.d.comb += nw.eq(Cat(therm[0] & ~therm[1] | therm[2] & ~therm[3] | therm[4] & ~therm[5]
                              | therm[6] & ~therm[7],
                              therm[1] & ~therm[3] | therm[5] & ~therm[7],
                              therm[3] & ~therm[7], therm[7]))
        n = Signal(4)           # elements in the group
        m.d.comb += n.eq(nw >> lg)
        # The row ends with this group when all of it fits: at most 8 words left, all in it.
        fits = Mux(lg == 0, (s.e_rem[4:] == 0) & (~s.e_rem[3] | (s.e_rem[:3] == 0)),
                   ~e_big & Mux(lg == 1, s.e_rem[:3] <= 4, s.e_rem[:3] <= 1))
        row_end = fits & ((rem & ~(room_d & room_s)) == 0)
        g_end = row_end & (s.r_rem == 1)
        m.d.comb += s.g_end.eq(g_end)
        end_of_line = therm.bit_select(~d_w, 1)
        last = g_end | Mux(row_end, s.drn[6:] != s.d[6:], end_of_line)

        # Within a row the next group starts nw words on (contiguous source, and always at the
        # destination): in this line, or at word 0 of the next; the line increments are made
        # from the registers, in parallel with the group length.
        s_line_inc = _add(m, s.s[6:], 1, 26, "s_line_inc")
        d_line_inc = _add(m, s.d[6:], 1, 26, "d_line_inc")
        s_contig = Mux(therm.bit_select(~s_w, 1), Cat(s.s[:3], Const(0, 3), s_line_inc),
                       Cat(s.s[:3], (s_w + nw)[:3], s.s[6:]))
        s_next = Mux(s.contig, s_contig, _add(m, s.s, s.src_es, 32, "s_plus_es"))
        d_next = Mux(end_of_line, Cat(s.d[:3], Const(0, 3), d_line_inc),
                     Cat(s.d[:3], (d_w + nw)[:3], s.d[6:]))
        # e_rem - n: the low 4 bits subtract, the rest takes a borrow prepared in parallel.
        low = s.e_rem[:4] - n
        high_dec = _add(m, s.e_rem[4:], 0xFFF, 12, "e_rem_dec")
        e_rem_next = Cat(low[:4], Mux(low[4], high_dec, s.e_rem[4:]))
        srn_next = _add(m, s.srn, s.src_stride, 32, "srn_next")
        drn_next = _add(m, s.drn, s.dst_stride, 32, "drn_next")
        r_rem_next = _add(m, s.r_rem, 0xFFFF, 16, "r_rem_next")

        group = data.View(self._group_layout(), inflight.w_data)
        # The read request register: a descriptor read (the parser's) goes first.
        r_free = ~self.rd_req.valid | self.rd_req.ready
        m.d.comb += [
            s.p_read_taken.eq(s.p_read & r_free),
            s.gen_go.eq(s.active & r_free & ~s.p_read & inflight.w_rdy),
            inflight.w_en.eq(s.gen_go),
            group.line.eq(s.d[6:]), group.word.eq(d_w), group.words.eq(nw),
            group.rot.eq(d_w - s_w), group.last.eq(last), group.end.eq(g_end),
        ]
        if self.network:
            m.d.comb += group.remote.eq(s.remote)
        with m.If(r_free):
            m.d.sync += self.rd_req.valid.eq(s.p_read_taken | s.gen_go)
        with m.If(s.p_read_taken):
            m.d.sync += [self.rd_req.payload.addr.eq(s.addr), self.rd_req.payload.tag.eq(1)]
        with m.Elif(s.gen_go):
            m.d.sync += [self.rd_req.payload.addr.eq(Cat(Const(0, 6), s.s[6:])),
                         self.rd_req.payload.tag.eq(0)]
        with m.If(s.gen_go):
            with m.If(row_end):
                m.d.sync += [s.s.eq(s.srn), s.srn.eq(srn_next), s.d.eq(s.drn),
                             s.drn.eq(drn_next), s.e_rem.eq(s.elems), s.r_rem.eq(r_rem_next)]
                with m.If(g_end):
                    m.d.sync += s.active.eq(0)
            with m.Else():
                m.d.sync += [s.s.eq(s_next), s.d.eq(d_next), s.e_rem.eq(e_rem_next)]

    # --- The write assembler: place each group's words, one masked write per line --------------
    def _assembler(self, m, s, inflight):
        g = data.View(self._group_layout(), inflight.r_data)
        w_free = ~self.wr_req.valid | self.wr_req.ready
        if self.network:
            w_free &= ~self.net.valid | self.net.ready
        is_desc = self.rd_resp.payload.tag[0]
        m.d.comb += self.rd_resp.ready.eq(Mux(is_desc, s.p_wait, inflight.r_rdy & w_free))
        take = self.rd_resp.valid & ~is_desc & inflight.r_rdy & w_free
        m.d.comb += inflight.r_en.eq(take)

        src = Array(self.rd_resp.payload.data.word_select(i, 64) for i in range(WORDS))
        gmask = Signal(WORDS)
        m.d.comb += gmask.eq(((Const(1, 9) << g.words) - 1) << g.word)
        acc = Signal(LINE * 8)
        acc_mask = Signal(WORDS)
        fresh = Signal(init=1)
        merged = Signal(LINE * 8)
        merged_mask = Signal(WORDS)
        m.d.comb += merged_mask.eq(Mux(fresh, 0, acc_mask) | gmask)
        for j in range(WORDS):
            old = Mux(fresh, 0, acc.word_select(j, 64))
            m.d.comb += merged.word_select(j, 64).eq(
                Mux(gmask[j], src[(j - g.rot)[:3]], old))
        with m.If(w_free):
            m.d.sync += self.wr_req.valid.eq(0)
            if self.network:
                m.d.sync += self.net.valid.eq(0)
        if self.network:
            dest = data.View(_Remote, s.remotes.r_data)
            m.d.comb += s.remotes.r_en.eq(take & g.last & g.end & g.remote)
            with m.If(take & g.last & g.remote):
                net = self.net.payload
                m.d.sync += [
                    self.net.valid.eq(1),
                    net.x.eq(dest.x), net.y.eq(dest.y), net.signal.eq(dest.signal),
                    net.seq.eq(dest.seq), net.addr.eq(Cat(Const(0, 6), g.line)),
                    net.data.eq(merged), net.words.eq(merged_mask), net.end.eq(g.end),
                    net.mcast.eq(dest.mcast), net.rect_x.eq(dest.rect_x),
                    net.rect_y.eq(dest.rect_y), fresh.eq(1),
                ]
        with m.If(take):
            # (A lone engine's conditions as before the network: its Verilog is unchanged.)
            with m.If(g.last & ~g.remote) if self.network else m.If(g.last):
                byte_mask = Cat(*(bit.replicate(8) for bit in merged_mask))
                m.d.sync += [
                    self.wr_req.valid.eq(1),
                    self.wr_req.payload.addr.eq(Cat(Const(0, 6), g.line)),
                    self.wr_req.payload.data.eq(merged),
                    self.wr_req.payload.mask.eq(byte_mask),
                    self.wr_req.payload.tag.eq(g.end),
                    fresh.eq(1),
                ]
            with m.Elif(~g.last) if self.network else m.Else():
                m.d.sync += [acc.eq(merged), acc_mask.eq(merged_mask), fresh.eq(0)]

    # --- Completion: Done (and ErrorRecord) in list order -------------------------------------
    def _completion(self, m, s, pending):
        head = data.View(_entry_layout(self.network), pending.r_data)
        head_refused = pending.r_rdy & head.refused
        # A refused entry at the head has no write to wait for; acknowledgements then belong to
        # later entries and wait a cycle.
        m.d.comb += self.wr_resp.ready.eq(~head_refused)
        acked = self.wr_resp.valid & self.wr_resp.ready & self.wr_resp.payload.tag[0]
        code = head.code
        if self.network:
            pop, failed, code = self._remote_completion(m, pending, head, acked)
        else:
            pop = head_refused | acked & pending.r_rdy
            failed = head.refused
        m.d.comb += pending.r_en.eq(pop)
        m.d.sync += [self.done.valid.eq(pop), self.error.valid.eq(pop & failed)]
        with m.If(pop):
            m.d.sync += [self.done.payload.signal.eq(head.signal),
                         self.done.payload.thread.eq(head.thread),
                         self.done.payload.last.eq(head.last),
                         self.error.payload.code.eq(code),
                         self.error.payload.addr.eq(head.addr)]

    def _remote_completion(self, m, pending, head, acked):
        """With a network, the head of the started descriptors completes by its kind: refused
        at once; local on its last write's acknowledgement; remote on its answer. Answers come
        in any order (from different cores), so each marks its transfer number answered; local
        acknowledgements come in the order of the local descriptors, so those that arrive while
        a remote descriptor is at the head are counted and used in order. (Holding them back
        instead would hold the shared ``rw`` port's answers, the NI's among them: a cycle of
        cores each waiting for the other's answer.) Returns ``(pop, failed, code)``."""
        n = 1 << SEQ_BITS
        answered = Signal(n)
        codes = Array(Signal(Error, name=f"answer_code{i}") for i in range(n))
        early = Signal(range(DONE_DEPTH + 1))          # local acks not yet used
        ans = self.net_ans
        head_local = pending.r_rdy & ~head.refused & ~head.remote
        use_early = head_local & (early != 0)
        use_now = head_local & (early == 0) & acked
        pop_remote = pending.r_rdy & head.remote & answered.bit_select(head.seq, 1)
        pop = (pending.r_rdy & head.refused) | use_early | use_now | pop_remote
        m.d.sync += early.eq(early + (acked & ~use_now) - use_early)
        clear = Mux(pop_remote, 1 << head.seq, 0)
        mark = Mux(ans.valid, 1 << ans.payload.seq, 0)
        m.d.sync += answered.eq(answered & ~clear | mark)
        with m.If(ans.valid):
            m.d.sync += codes[ans.payload.seq].eq(ans.payload.code)
        code = Mux(head.refused, head.code, codes[head.seq])
        failed = head.refused | head.remote & (codes[head.seq] != Error.NONE)
        return pop, failed, code


class _State:
    """The engine's registers and the control wires between its parts."""
    def __init__(self, ab):
        wide = 50
        # parser
        self.addr = Signal(32)
        self.thread = Signal(THREAD_BITS)
        self.dsc = Signal(DmaDescriptor)
        self.dsc_status = Signal(memport.Status)
        self.reserved_set = Signal()
        self.mr, self.me = Signal(16), Signal(16)
        self.p_src, self.p_dst, self.p_elem = Signal(48), Signal(48), Signal(48)
        self.sh_src, self.sh_dst, self.sh_elem = Signal(48), Signal(48), Signal(48)
        self.s1, self.s3, self.d1, self.d3 = (Signal(wide) for _ in range(4))
        self.src_end, self.dst_end = Signal(wide), Signal(wide)
        self.srn0, self.drn0 = Signal(32), Signal(32)
        self.v_refused, self.v_last = Signal(), Signal()
        self.v_code = Signal(Error)
        self.v_signal = Signal(SignalLayout)
        self.p_idle, self.p_read, self.p_read_taken = Signal(), Signal(), Signal()
        self.p_wait, self.p_slot = Signal(), Signal()
        self.handoff, self.hazard = Signal(), Signal()
        self.in_range, self.next_ok, self.overlap = Signal(), Signal(), Signal()
        self.keep_lo, self.keep_hi = Signal(), Signal()
        self.hull_lo, self.hull_hi = Signal(ab + 1), Signal(ab + 1)
        # mover
        self.active = Signal()
        self.s, self.d, self.srn, self.drn = Signal(32), Signal(32), Signal(32), Signal(32)
        self.e_rem, self.r_rem, self.elems = Signal(16), Signal(16), Signal(16)
        self.code = Signal(2)
        self.contig = Signal()
        self.src_stride, self.dst_stride, self.src_es = Signal(32), Signal(32), Signal(32)
        self.gen_go, self.g_end = Signal(), Signal()
        # remote descriptors (with a network): the checked one is remote; the mover's is; the
        # next transfer number; the destinations of those handed off and not yet all written
        self.is_remote, self.remote = Signal(), Signal()
        self.seq = Signal(SEQ_BITS)
        self.remotes = None
