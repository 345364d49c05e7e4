"""The host's edge port: a stream of request packets onto a link into the mesh, and the
packets for the host out of the link back, each keeping the link's credit rule (docs/mesh.md,
"Ports and the host in a mesh" and "The host's reads")."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.arbiter import RoundRobinArbiter
from hw.common.params import check_pow2
from hw.noc.flit import Flit
from hw.noc.input_buffer import InputBuffer
from hw.noc.router import CLASSES, link_signature, vc_bits

__all__ = ["EdgePort"]


class EdgePort(wiring.Component):
    """The host's end of one link of the mesh: a sender into the mesh and a receiver out of it.

    Parameters (keyword-only)
    -------------------------
    vcs : int, 1, 2 or 4
        The routers' channels per class.
    depth : int, power of two 2..16
        The routers' buffer per channel: the credits the port starts with, and its own buffer
        per channel on the way back (the router's credits for its link to the host).

    Members
    -------
    i : ``In(stream.Signature(Flit))``
        The host's packets, REQUEST class only.
    link : ``Out(link_signature(vcs))``
        To a router's ``link_in`` (the mesh's edge link).
    back : ``In(link_signature(vcs))``
        From the same router's ``link_out`` (the packets for the host, `hw.noc.routing.HOST`).
    o : ``Out(stream.Signature(Flit))``
        The packets for the host: the answers to its requests (RESPONSE class), and whatever
        else a core sends to the host's address.

    Contract
    --------
    Sending: every packet goes on channel 0 (the first of the REQUEST class: any channel of
    its class is deadlock-free, docs/noc.md "The check"), from a register, one a cycle while the
    port holds a credit; a credit comes back for each one the router frees. ``ready`` is "a
    credit is left", so it never depends on ``valid``.

    Receiving: a FIFO of ``depth`` flits per channel, as a router's link input (the router
    sends only with a credit, so it never overflows); ``o`` offers the head of one non-empty
    FIFO (round robin between channels: the flits of one channel, among them all the answers
    of one core, leave in the order they came) and holds it until taken; each flit taken frees
    its entry, and its credit goes back to the router the next cycle. Taken at once, the port
    passes a flit a cycle (the router's credit loop is shorter than ``depth``, as between
    routers), so a host that always takes never holds up the mesh's responses.
    """

    def __init__(self, *, vcs=1, depth=4):
        if vcs not in (1, 2, 4):
            raise ValueError(f"vcs must be 1, 2 or 4, not {vcs!r}")
        self.vcs = vcs
        self.depth = check_pow2("depth", depth, 2, 16)
        super().__init__({"i": In(stream.Signature(Flit)), "link": Out(link_signature(vcs)),
                          "back": In(link_signature(vcs)), "o": Out(stream.Signature(Flit))})

    def elaborate(self, platform):
        m = Module()
        credits = Signal(range(self.depth + 1), init=self.depth)
        back = self.link.credit_valid & (self.link.credit_vc == 0)
        has = credits != 0
        take = self.i.valid & has
        m.d.comb += self.i.ready.eq(has)
        m.d.sync += [credits.eq(credits - take + back), self.link.valid.eq(take),
                     self.link.vc.eq(0)]
        with m.If(take):
            m.d.sync += self.link.flit.eq(self.i.payload)

        # The way back: the router's link input buffer, read by one round-robin arbiter.
        nvc = CLASSES * self.vcs
        vcb = vc_bits(self.vcs)
        m.submodules.buffer = buf = InputBuffer(fifos=nvc, depth=self.depth, vc_bits=vcb)
        m.submodules.arbiter = arb = RoundRobinArbiter(n=nvc)
        rx = self.back
        popped = self.o.valid & self.o.ready
        index = Signal(vcb)
        for f in range(nvc):
            with m.If(arb.grant[f]):
                m.d.comb += index.eq(f)
        m.d.comb += [
            buf.w_valid.eq(rx.valid), buf.w_fifo.eq(rx.vc), buf.w_flit.eq(rx.flit),
            buf.w_out.eq(1), buf.w_vc.eq(0),
            arb.requests.eq(buf.nonempty), arb.advance.eq(popped),
            buf.r_sel.eq(arb.grant), buf.r_pop.eq(popped),
            self.o.valid.eq(Cat(buf.nonempty).any()), self.o.payload.eq(buf.r_flit),
        ]
        m.d.sync += [rx.credit_valid.eq(popped), rx.credit_vc.eq(index)]
        return m
