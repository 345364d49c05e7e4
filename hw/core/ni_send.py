"""The send side of a core's network interface: the DMA engine's remote lines into request
packets, the answers back to the DMA engine (docs/mesh.md, "The send side")."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.noc.flit import Flit, MsgClass, Opcode

from .isa import Error
from .packets import (
    DIRECT,
    LINE,
    MNOTIFY,
    NOTIFY,
    DirectAnswer,
    NetAnswer,
    NetLine,
    Notify,
    Place,
    RemoteAdd,
)

__all__ = ["NiSend", "STRAY_BITS"]

#: Width of the saturating counts of responses that answer nothing of ours, and of ERRORs.
STRAY_BITS = 16


class NiSend(wiring.Component):
    """The send side of the network interface of a core.

    Members
    -------
    here : ``In(hw.core.packets.Place)``
        This core's coordinates (the packets' source).
    net : ``In(stream.Signature(hw.core.packets.NetLine))``
        The DMA engine's remote lines.
    req : ``Out(stream.Signature(Flit))``
        To the router's ``inject[REQUEST]``.
    resp : ``In(stream.Signature(Flit))``
        The router's ``eject[RESPONSE]``; always ready.
    answer : ``Out(stream.Signature(hw.core.packets.NetAnswer, always_ready=True))``
        Each transfer's NOTIFY's answer, to the DMA engine.
    notify : ``In(stream.Signature(hw.core.packets.RemoteAdd))``
        The dispatcher's direct adds (``d1.snotify``).
    direct : ``Out(stream.Signature(hw.core.packets.DirectAnswer, always_ready=True))``
        Each direct add's answer, to the dispatcher.
    stray : ``Out(STRAY_BITS)``
        Saturating count of responses that are neither ``WRITE_ACK`` nor ``ERROR``.
    failed : ``Out(STRAY_BITS)``
        Saturating count of ``ERROR`` answers (transfers and direct adds that failed).

    Contract
    --------
    Each ``net`` line becomes a LINE (`hw.core.packets.line_packet`: ``POST`` from ``here``
    to ``(x, y)`` of the line, its address, word mask as the tag, its data); after a line with
    ``end``, a NOTIFY (`hw.core.packets.notify_packet`: ``WRITE``, tag ``seq``, payload the
    line's ``signal``), so a line takes one cycle and a descriptor's last two. Packets leave
    from one register, in the order of the lines (one inject stream: the router keeps them in
    order per destination). A direct add becomes a NOTIFY alone (tag ``DIRECT | thread``,
    payload its signal); it goes before the next line (not between a descriptor's last line
    and its NOTIFY), so it is not ordered against pushes (docs/mesh.md). A ``WRITE_ACK``
    response becomes ``{seq: tag, code: NONE}`` on ``answer`` the cycle after; an ``ERROR``,
    ``{seq: tag, code}`` with the payload's code, or ``REMOTE`` when that is 0 (the router's
    answer: no such core); the answer to a direct add (tag bit ``DIRECT``) goes on ``direct``
    instead, ``{thread, code, x, y}`` with the answering core's coordinates (the response's
    source). ``valid`` of ``req``, ``answer`` and ``direct`` comes from registers.

    A multicast line (``mcast``) becomes a LINE to the rectangle from (``rect_x``,
    ``rect_y``) to ``(x, y)``; its descriptor's end, an MNOTIFY to the same rectangle, which
    no core answers: NiSend answers it itself, ``{seq, code: NONE}`` on ``answer`` in the first
    cycle after it entered the packet register (its lines have all left) in which no response
    is answered there (an MNOTIFY waits while such an answer of its own is still owed).
    """

    def __init__(self):
        super().__init__({
            "here": In(Place),
            "net": In(stream.Signature(NetLine)),
            "req": Out(stream.Signature(Flit)),
            "resp": In(stream.Signature(Flit)),
            "answer": Out(stream.Signature(NetAnswer, always_ready=True)),
            "notify": In(stream.Signature(RemoteAdd)),
            "direct": Out(stream.Signature(DirectAnswer, always_ready=True)),
            "stray": Out(STRAY_BITS),
            "failed": Out(STRAY_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        line = self.net.payload
        out = self.req.payload
        hdr = out.header

        # The NOTIFY owed after a descriptor's last line: where, its number and its signal.
        owed = Signal()
        owed_x, owed_y, owed_seq = Signal(4), Signal(4), Signal.like(line.seq)
        owed_signal = Signal.like(line.signal)
        owed_mcast, owed_rx, owed_ry = Signal(), Signal(4), Signal(4)
        # A multicast push's own answer, owed to the DMA engine after its MNOTIFY left.
        self_ack, self_seq = Signal(), Signal.like(line.seq)
        notify_ok = ~owed_mcast | ~self_ack

        free = ~self.req.valid | self.req.ready
        # A descriptor's NOTIFY first, then a direct add, then the next line.
        add = self.notify.payload
        take_add = self.notify.valid & free & ~owed
        take = self.net.valid & free & ~owed & ~self.notify.valid
        m.d.comb += [self.notify.ready.eq(free & ~owed),
                     self.net.ready.eq(free & ~owed & ~self.notify.valid)]
        with m.If(free):
            m.d.sync += self.req.valid.eq(take | take_add | owed & notify_ok)
        m.d.sync += [hdr.src_x.eq(self.here.x), hdr.src_y.eq(self.here.y),
                     hdr.cls.eq(MsgClass.REQUEST)]
        notify = data.View(Notify, out.data)
        with m.If(free & owed):
            with m.If(notify_ok):
                m.d.sync += [
                    owed.eq(0),
                    hdr.dst_x.eq(owed_x), hdr.dst_y.eq(owed_y),
                    hdr.op.eq(Mux(owed_mcast, MNOTIFY, NOTIFY)), hdr.addr.eq(0),
                    hdr.tag.eq(owed_seq), notify.eq(0), notify.signal.eq(owed_signal),
                    hdr.mcast.eq(owed_mcast), hdr.rect_x.eq(owed_rx), hdr.rect_y.eq(owed_ry),
                ]
        with m.Elif(take_add):
            m.d.sync += [
                hdr.dst_x.eq(add.x), hdr.dst_y.eq(add.y), hdr.op.eq(NOTIFY), hdr.addr.eq(0),
                hdr.tag.eq(DIRECT | add.thread), notify.eq(0), notify.signal.eq(add.signal),
                hdr.mcast.eq(0), hdr.rect_x.eq(0), hdr.rect_y.eq(0),
            ]
        with m.Elif(take):
            m.d.sync += [
                hdr.dst_x.eq(line.x), hdr.dst_y.eq(line.y), hdr.op.eq(LINE),
                hdr.addr.eq(line.addr), hdr.tag.eq(line.words), out.data.eq(line.data),
                hdr.mcast.eq(line.mcast), hdr.rect_x.eq(line.rect_x),
                hdr.rect_y.eq(line.rect_y),
                owed.eq(line.end), owed_x.eq(line.x), owed_y.eq(line.y),
                owed_seq.eq(line.seq), owed_signal.eq(line.signal),
                owed_mcast.eq(line.mcast), owed_rx.eq(line.rect_x), owed_ry.eq(line.rect_y),
            ]

        # --- Answers -------------------------------------------------------------------------
        r = self.resp.payload.header
        got = data.View(Notify, self.resp.payload.data)
        ack, error = r.op == Opcode.WRITE_ACK, r.op == Opcode.ERROR
        code = Mux(ack, Error.NONE, Mux(got.code == Error.NONE, Error.REMOTE, got.code))
        direct = (r.tag & DIRECT) != 0
        m.d.comb += self.resp.ready.eq(1)
        answered = self.resp.valid & (ack | error) & ~direct
        # A multicast push's own answer goes in a cycle without a response's.
        with m.If(free & owed & notify_ok & owed_mcast):
            m.d.sync += [self_ack.eq(1), self_seq.eq(owed_seq)]
        with m.Elif(~answered):
            m.d.sync += self_ack.eq(0)
        m.d.sync += [
            self.answer.valid.eq(answered | self_ack),
            self.answer.payload.seq.eq(Mux(answered, r.tag, self_seq)),
            self.answer.payload.code.eq(Mux(answered, code, Error.NONE)),
            self.direct.valid.eq(self.resp.valid & (ack | error) & direct),
            self.direct.payload.thread.eq(r.tag), self.direct.payload.code.eq(code),
            self.direct.payload.x.eq(r.src_x), self.direct.payload.y.eq(r.src_y),
        ]
        top = (1 << STRAY_BITS) - 1
        for count, event in ((self.stray, self.resp.valid & ~(ack | error)),
                             (self.failed, self.resp.valid & error)):
            with m.If(event & (count != top)):
                m.d.sync += count.eq(count + 1)
        return m
