"""A ``width`` × ``height`` mesh of routers (docs/noc.md, section "Mesh")."""

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.params import check_bool, check_int
from hw.common.shared import shared

from .flit import PAYLOAD_BITS, flit_layout
from .router import CLASSES, DIRECTIONS, DROPPED_BITS, Router, link_signature
from .routing import MAX_SIDE, Mesh, Port, Turn, next_hop

__all__ = ["NoCMesh", "mesh_table_write_layout", "EDGES"]

#: The mesh's edge ports: side name, the router port facing out, and which routers have one
#: (indexed by x for north and south, by y for east and west).
EDGES = (("north", Port.NORTH), ("east", Port.EAST), ("south", Port.SOUTH), ("west", Port.WEST))

_OPPOSITE = {Port.NORTH: Port.SOUTH, Port.SOUTH: Port.NORTH, Port.EAST: Port.WEST,
             Port.WEST: Port.EAST}


def mesh_table_write_layout(nodes):
    """A route-table write into the mesh: router ``node`` (an id), entry ``dst`` (a node id, or
    ``nodes``: the host entry, `hw.noc.router.Router`), route ``port`` and lookahead ``turn``."""
    return data.StructLayout({"node": range(nodes), "dst": range(nodes + 1), "port": Port,
                              "turn": Turn})


class NoCMesh(wiring.Component):
    """A ``width`` × ``height`` mesh of `Router` (docs/noc.md, "Mesh").

    Parameters (keyword-only)
    -------------------------
    width, height, vcs, depth, payload_bits
        As `Router`'s, and checked by it: every router of the mesh has them.
    watch : bool
        Bring out ``traffic`` (for a bench that counts the flits on each link; without it the
        mesh's Verilog is as before, so the NoC's benches keep their builds).

    Members
    -------
    Node ``n = y * width + x``:

    inject, eject : ``In(stream.Signature(flit)).array(nodes, CLASSES)``; ``Out(...)`` likewise
        The local streams of node ``n``, class ``c`` (`MsgClass`), of
        `hw.noc.flit.flit_layout` ``(payload_bits)``.
    cfg : ``In(stream.Signature(mesh_table_write_layout(nodes)))``
        Route-table writes, one per cycle (always ready), to router ``node``; the words are
        those of `hw.noc.routing.table_words` and `hw.noc.routing.turn_words`.
    dropped : ``Out(DROPPED_BITS).array(nodes)``; overrun : ``Out(1).array(nodes)``
        Router ``n``'s count of removed packets and its sticky credit-fault flag.
    <side>_in, <side>_out : ``In(link_signature(vcs, payload_bits)).array(k)``; ``Out(...)``
        For side north, east, south, west: the links of the edge routers that face out of the
        mesh (``i`` is x for north and south, y for east and west; ``k`` routers on that side),
        for links beyond the die; ``_in`` carries flits into the mesh and returns credits.
    traffic : ``Out(data.ArrayLayout(CLASSES, 4)).array(nodes)``, only with ``watch``
        Bit ``[d][c]``: a flit of class ``c`` leaves router ``n`` on its output link ``d``
        (``DIRECTIONS``' order: north, east, south, west) this cycle, to a neighbour or out of
        the mesh. Wiring only (a compare of the channel number): the counting is the bench's.

    Contract
    --------
    Every router is the same module (`shared`): its place comes in on ``here`` (tied to
    constants), for multicast trees; unicast packets go where its table says; the routers'
    contract (`Router`) holds hop by hop. A
    disabled node is a router that is never configured (its table stays DROP) and that no table
    routes to. Unused edge links are tied off: an ``_in`` link without valid, an ``_out`` link
    without credits.
    """

    def __init__(self, *, width, height, vcs=1, depth=4, payload_bits=PAYLOAD_BITS,
                 watch=False):
        check_int("width", width, 1, MAX_SIDE)
        check_int("height", height, 1, MAX_SIDE)
        self.width, self.height, self.vcs, self.depth = width, height, vcs, depth
        self.watch = check_bool("watch", watch)
        self.router_params = dict(width=width, height=height, vcs=vcs, depth=depth,
                                  payload_bits=payload_bits)
        Router(**self.router_params)._MustUse__silence = True  # check the parameters now
        nodes = width * height
        flits = stream.Signature(flit_layout(payload_bits))
        link = link_signature(vcs, payload_bits)
        members = {
            "inject": In(flits).array(nodes, CLASSES),
            "eject": Out(flits).array(nodes, CLASSES),
            "cfg": In(stream.Signature(mesh_table_write_layout(nodes))),
            "dropped": Out(DROPPED_BITS).array(nodes),
            "overrun": Out(1).array(nodes),
        }
        for side, port in EDGES:
            count = width if port in (Port.NORTH, Port.SOUTH) else height
            members[f"{side}_in"] = In(link).array(count)
            members[f"{side}_out"] = Out(link).array(count)
        if watch:
            members["traffic"] = Out(data.ArrayLayout(CLASSES, len(DIRECTIONS))).array(nodes)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        w, h = self.width, self.height
        routers = {}
        for y in range(h):
            for x in range(w):
                n = y * w + x
                r = routers[(x, y)] = shared(Router, **self.router_params)
                m.submodules[f"router_{x}_{y}"] = r
                for c in range(CLASSES):
                    wiring.connect(m, wiring.flipped(self.inject[n][c]), r.inject[c])
                    wiring.connect(m, wiring.flipped(self.eject[n][c]), r.eject[c])
                m.d.comb += [
                    r.cfg.valid.eq(self.cfg.valid & (self.cfg.payload.node == n)),
                    r.cfg.payload.dst.eq(self.cfg.payload.dst),
                    r.cfg.payload.port.eq(self.cfg.payload.port),
                    r.cfg.payload.turn.eq(self.cfg.payload.turn),
                    r.here.x.eq(x), r.here.y.eq(y),
                    self.dropped[n].eq(r.dropped),
                    self.overrun[n].eq(r.overrun),
                ]
        m.d.comb += self.cfg.ready.eq(1)
        mesh = Mesh(w, h)
        for (x, y), r in routers.items():
            for d, port in enumerate(DIRECTIONS):
                hop = next_hop(mesh, x, y, port)
                if hop is not None:
                    other = routers[hop]
                    back = DIRECTIONS.index(_OPPOSITE[port])
                    wiring.connect(m, r.link_out[d], other.link_in[back])
                else:
                    side = next(s for s, p in EDGES if p is port)
                    i = x if port in (Port.NORTH, Port.SOUTH) else y
                    outside_in = getattr(self, f"{side}_in")[i]
                    outside_out = getattr(self, f"{side}_out")[i]
                    wiring.connect(m, wiring.flipped(outside_in), r.link_in[d])
                    wiring.connect(m, r.link_out[d], wiring.flipped(outside_out))
                if self.watch:
                    # Channel ``c * vcs + k`` is of class ``c``.
                    out = r.link_out[d]
                    for c in range(CLASSES):
                        m.d.comb += self.traffic[y * w + x][d][c].eq(
                            out.valid & (out.vc >= c * self.vcs) & (out.vc < (c + 1) * self.vcs))
        return m

