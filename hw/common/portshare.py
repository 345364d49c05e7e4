"""Several requesters on one memory port: :class:`PortShare`.

The core's units share the scratchpad's ports (the GEMM and vector sequencers the vector ports,
the DMA and the host the router ports). A port answers in request order with the request's tag,
so the share puts the requester's number above the requester's own tag and sends each response
back by it: a request mux with the project's round-robin arbiter and a response demux, nothing
else.
"""

from amaranth.hdl import Cat, Const, Module, Shape
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .arbiter import RoundRobinArbiter
from .params import check_instance, check_int

__all__ = ["PortShare"]


def _with_tag(layout, tag_width):
    """``layout`` (a memport request or response) with its ``tag`` field ``tag_width`` wide."""
    fields = {name: f.shape for name, f in layout}
    fields["tag"] = tag_width
    return data.StructLayout(fields)


class PortShare(wiring.Component):
    """``n`` requesters on one port.

    Parameters (keyword-only)
    -------------------------
    request, response : ``data.StructLayout``
        The port's request and response layouts (``hw.common.memport``), each with a ``tag``.
    n : int, 1..64
        Requesters.

    Members
    -------
    req : ``In(stream.Signature(request with a tag of tag_width)).array(n)``
    resp : ``Out(stream.Signature(response with a tag of tag_width)).array(n)``
        Requester ``k``'s side, its tag ``tag_width`` = the port's tag width less the bits of
        the requester number.
    port_req : ``Out(stream.Signature(request))``, ``port_resp : In(stream.Signature(response))``
        The shared port's side.

    Contract
    --------
    Requests go in round-robin order among the requesters that offer one (``RoundRobinArbiter``:
    a grant that is not taken stays on its requester, so the port's payload holds while it is
    not ready); the port's tag is ``k << tag_width | tag``. A response goes to the requester its
    tag names, with the requester's tag; ``port_resp.ready`` is that requester's ``ready``. So
    each requester sees its own requests answered in order, as the port answers them, and the
    stream rules hold on every side (no valid depends on a ready).
    """

    def __init__(self, *, request, response, n):
        self.request = check_instance("request", request, data.StructLayout)
        self.response = check_instance("response", response, data.StructLayout)
        self.n = check_int("n", n, 1, 64)
        width = Shape.cast(request["tag"].shape).width
        other = Shape.cast(response["tag"].shape).width
        if other != width:
            raise ValueError(f"request and response tags must be as wide, not {width} and "
                             f"{other}")
        self.id_bits = (n - 1).bit_length()
        self.tag_width = width - self.id_bits
        if self.tag_width < 0:
            raise ValueError(f"a tag of {width} bits cannot name {n} requesters")
        super().__init__({
            "req": In(stream.Signature(_with_tag(request, self.tag_width))).array(n),
            "resp": Out(stream.Signature(_with_tag(response, self.tag_width))).array(n),
            "port_req": Out(stream.Signature(request)),
            "port_resp": In(stream.Signature(response)),
        })

    def elaborate(self, platform):
        m = Module()
        n, tw = self.n, self.tag_width
        m.submodules.arbiter = arb = RoundRobinArbiter(n=n)
        m.d.comb += [arb.requests.eq(Cat(r.valid for r in self.req)),
                     arb.advance.eq(self.port_req.ready),
                     self.port_req.valid.eq(arb.grant.any())]
        for k, r in enumerate(self.req):
            m.d.comb += r.ready.eq(arb.grant[k] & self.port_req.ready)
            with m.If(arb.grant[k]):
                for name, _ in self.request:
                    if name == "tag":
                        continue
                    m.d.comb += getattr(self.port_req.payload, name).eq(getattr(r.payload, name))
                m.d.comb += self.port_req.payload.tag.eq(r.payload.tag | (k << tw))
        tag = self.port_resp.payload.tag
        who = tag[tw:] if self.id_bits else Const(0, 1)
        for k, r in enumerate(self.resp):
            mine = who == k
            m.d.comb += r.valid.eq(self.port_resp.valid & mine)
            for name, _ in self.response:
                if name == "tag":
                    continue
                m.d.comb += getattr(r.payload, name).eq(getattr(self.port_resp.payload, name))
            m.d.comb += r.payload.tag.eq(tag[:tw])
            with m.If(mine):
                m.d.comb += self.port_resp.ready.eq(r.ready)
        return m
