"""The host's edge port: a stream of request packets onto a link into the mesh, keeping the
link's credit rule (docs/mesh.md, "Ports and the host in a mesh")."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.params import check_pow2
from hw.noc.flit import Flit
from hw.noc.router import link_signature

__all__ = ["EdgePort"]


class EdgePort(wiring.Component):
    """A sender on one link into the mesh, for the host.

    Parameters (keyword-only)
    -------------------------
    vcs : int, 1, 2 or 4
        The routers' channels per class.
    depth : int, power of two 2..16
        The routers' buffer per channel: the credits the port starts with.

    Members
    -------
    i : ``In(stream.Signature(Flit))``
        The host's packets, REQUEST class only.
    link : ``Out(link_signature(vcs))``
        To a router's ``link_in`` (the mesh's edge link).

    Contract
    --------
    Every packet goes on channel 0 (the first of the REQUEST class: any channel of its class is
    deadlock-free, docs/noc.md "The check"), from a register, one a cycle while the port holds a
    credit; a credit comes back for each one the router frees. ``ready`` is "a credit is left",
    so it never depends on ``valid``.
    """

    def __init__(self, *, vcs=1, depth=4):
        if vcs not in (1, 2, 4):
            raise ValueError(f"vcs must be 1, 2 or 4, not {vcs!r}")
        self.vcs = vcs
        self.depth = check_pow2("depth", depth, 2, 16)
        super().__init__({"i": In(stream.Signature(Flit)), "link": Out(link_signature(vcs))})

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
        return m
