"""The host's address (docs/mesh.md, "The host's reads"): the routers' host entries and their
check (``hw/noc/routing.py``: `host_routes`, `host_turns`, `check` with ``host``), and the
router's host entry in Amaranth's simulator on a 2×2 mesh of routers (``hw/noc/router.py``).

The check: with XY tables and up*/down* tables around dead nodes (2×2, 4×4), every live router
reaches the host, through (0, 0)'s WEST port only; host entries that leave the mesh elsewhere,
stop, loop or add a dependency cycle are refused with their message; a 16×16 mesh has no host
address. The router: packets for the host from every node leave the mesh on (0, 0)'s west link
and no other, on a channel of their class, in order per source; with the host entries not
written (reset DROP, as every NoC bench leaves them) they are dropped and counted as before, and
a destination outside the mesh that is not the host's is dropped whatever the host entry."""

import random

import pytest
from amaranth.sim import Simulator

from hw.noc.flit import MsgClass, Opcode
from hw.noc.mesh import EDGES, NoCMesh
from hw.noc.router import CLASSES
from hw.noc.routing import (
    EDGE,
    HOST,
    Mesh,
    Port,
    RoutingError,
    Turn,
    check,
    host_routes,
    host_turns,
    node_id,
    route_tables,
    table_words,
    turn_words,
)
from tests.amaranth_sim import send
from verif.noc.model import pack_flit, unpack_flit

MESHES = [(Mesh(2, 2), "xy"), (Mesh(2, 2, disabled=((1, 0),)), "updown"),
          (Mesh(4, 4), "xy"), (Mesh(4, 4, disabled=((1, 1), (2, 3))), "updown"),
          (Mesh(4, 4, disabled=((1, 0), (0, 2))), "updown"), (Mesh(1, 1), "xy")]


def walk(mesh, host, src):
    """The nodes a packet for the host passes from ``src``, then the port it leaves by."""
    node, path = src, [src]
    while True:
        port = host[node]
        hop = None if node == EDGE[0] else (node[0] + {Port.EAST: 1, Port.WEST: -1}.get(port, 0),
                                            node[1] + {Port.SOUTH: 1, Port.NORTH: -1}.get(port, 0))
        if hop is None:
            return path, port
        path.append(hop)
        node = hop


@pytest.mark.parametrize("mesh, policy", MESHES, ids=lambda v: getattr(v, "disabled", v))
def test_every_live_router_reaches_the_host_at_the_edge(mesh, policy):
    tables = route_tables(mesh, policy)
    host = host_routes(mesh, tables)
    assert set(host) == set(mesh.live)
    for src in mesh.live:
        path, out = walk(mesh, host, src)
        assert path[-1] == (0, 0) and out is Port.WEST
        assert all(mesh.is_live(*n) for n in path) and len(set(path)) == len(path)
    # The lookahead: what the packet does at the next router (a right turn: one step
    # clockwise in N, E, S, W), OUT at the edge, where it leaves the mesh.
    turns = host_turns(mesh, host)
    order = [Port.NORTH, Port.EAST, Port.SOUTH, Port.WEST]
    for router in mesh.live:
        path, _ = walk(mesh, host, router)
        if router == (0, 0):
            assert turns[router] == Turn.OUT.value
            continue
        step = (order.index(host[path[1]]) - order.index(host[router])) % 4
        assert turns[router] == {0: Turn.STRAIGHT, 1: Turn.RIGHT, 3: Turn.LEFT}[step].value


def test_host_entry_errors():
    mesh = Mesh(2, 2)
    tables = route_tables(mesh)
    good = host_routes(mesh, tables)
    cases = [
        ({(1, 1): Port.EAST}, r"route from \(1, 1\) to the host leaves the mesh at \(1, 1\) "
                              r"going EAST"),
        ({(0, 0): Port.NORTH}, r"route from \(0, 0\) to the host leaves the mesh at \(0, 0\) "
                               r"going NORTH"),
        ({(1, 0): Port.LOCAL}, r"route from \(1, 0\) to the host stops at \(1, 0\)"),
        ({(0, 1): Port.DROP}, r"route from \(0, 1\) to the host is dropped at \(0, 1\)"),
        ({(1, 0): Port.SOUTH, (1, 1): Port.NORTH},
         r"route from \(1, 0\) to the host loops: \(1, 0\) -> \(1, 1\) -> \(1, 0\)"),
        ({(0, 1): 4}, r"host entry of \(0, 1\) is 4, expected a Port"),
    ]
    for change, message in cases:
        with pytest.raises(RoutingError, match=message):
            check(mesh, tables, {**good, **change})
    with pytest.raises(RoutingError, match=r"host entry for \(2, 2\), which is not a live"):
        check(mesh, tables, {**good, (2, 2): Port.WEST})
    big = Mesh(16, 16)
    with pytest.raises(RoutingError, match=r"the 16x16 mesh has no host: the host's address "
                                           r"\(15, 15\) is one of its nodes"):
        host_routes(big, None)
    dead = Mesh(2, 2, disabled=((0, 0),))
    with pytest.raises(RoutingError, match=r"the host's edge router \(0, 0\) is disabled"):
        host_routes(dead, route_tables(dead, "updown"))


def test_host_routes_join_the_dependency_check():
    """Host entries that each arrive can still deadlock with the tables' routes: on 2×3 with
    XY tables, a host route (0, 1) S (0, 2) E (1, 2) N (1, 1) N (1, 0) W (0, 0) closes a ring
    with XY's (1, 0) -> (0, 0) -> (0, 1) (to (0, 1)) and (0, 0) -> (0, 1) -> (0, 2) (to
    (0, 2)); the check walks the host's routes into the one dependency graph and refuses it."""
    mesh = Mesh(2, 3)
    tables = route_tables(mesh)
    host = {**host_routes(mesh, tables), (0, 1): Port.SOUTH, (0, 2): Port.EAST,
            (1, 2): Port.NORTH, (1, 1): Port.NORTH}
    with pytest.raises(RoutingError, match=r"channel dependency cycle, the tables can "
                                           r"deadlock: \(0, 0\)->\(0, 1\), \(0, 1\)->\(0, 2\), "):
        check(mesh, tables, host)


def configure(dut, mesh, tables, host):
    """A testbench step: the route tables, and the host entries unless ``host`` is None."""
    words, turns = table_words(mesh, tables), turn_words(mesh, tables)
    entries = [(r, d, code, turns[r][d]) for r, codes in words.items()
               for d, code in enumerate(codes)]
    if host is not None:
        ht = host_turns(mesh, host)
        entries += [(r, mesh.width * mesh.height, host[r].value, ht[r]) for r in mesh.live]

    async def step(ctx):
        for router, dst, code, turn in entries:
            ctx.set(dut.cfg.payload.node, node_id(mesh, *router))
            ctx.set(dut.cfg.payload.dst, dst)
            ctx.set(dut.cfg.payload.port, code)
            ctx.set(dut.cfg.payload.turn, turn)
            ctx.set(dut.cfg.valid, 1)
            await ctx.tick()
        ctx.set(dut.cfg.valid, 0)
    return step


def run_mesh(*, vcs, with_host, per_node=6, seed=1):
    """Every node of a 2×2 mesh of routers sends ``per_node`` RESPONSE packets to the host,
    then one to (15, 14) (outside, not the host). The test takes (0, 0)'s west link as the
    host, returning a credit per flit. Returns ``(arrivals, dropped, stray)``: ``(vc, flit
    fields)`` per flit on the host's link, each router's drop count, flits on other edge
    links."""
    mesh = Mesh(2, 2)
    tables = route_tables(mesh)
    dut = NoCMesh(width=2, height=2, vcs=vcs, depth=4, payload_bits=16)
    got, stray, done = [], [], []
    cfg_done = []

    def packet(src, k, dst=HOST):
        header = {"dst_x": dst[0], "dst_y": dst[1], "src_x": src[0], "src_y": src[1],
                  "cls": MsgClass.RESPONSE.value, "op": Opcode.READ_DATA.value, "addr": k,
                  "tag": k}
        return pack_flit(header, k, payload_bits=16)

    async def cfg(ctx):
        await configure(dut, mesh, tables, host_routes(mesh, tables) if with_host else None)(ctx)
        cfg_done.append(1)

    def sender(n):
        src = mesh.nodes[n]

        async def bench(ctx):
            while not cfg_done:
                await ctx.tick()
            words = [packet(src, k) for k in range(per_node)] + [packet(src, 99, (15, 14))]
            await send(ctx, dut.inject[n][MsgClass.RESPONSE.value], words,
                       rnd=random.Random(seed + n), p_idle=0.3)
            done.append(n)
        return bench

    async def host(ctx):
        link, last = dut.west_out[0], 0
        for cycle in range(400):
            _, _, valid, vc, flit = await ctx.tick().sample(link.valid, link.vc,
                                                           link.flit.as_value())
            ctx.set(link.credit_valid, valid)
            ctx.set(link.credit_vc, vc)
            if valid:
                got.append((vc, unpack_flit(flit, payload_bits=16)))
            for side, _ in EDGES:
                for i, out in enumerate(getattr(dut, f"{side}_out")):
                    if (side, i) != ("west", 0) and ctx.get(out.valid):
                        stray.append((side, i))
            if valid or len(done) < 4:
                last = cycle
            elif cycle > last + 20:             # every packet delivered or dropped long ago
                break
        result.extend(ctx.get(d) for d in dut.dropped)

    result = []
    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(cfg)
    for n in range(4):
        sim.add_testbench(sender(n))
    sim.add_testbench(host)
    sim.run()
    return got, result, stray


@pytest.mark.parametrize("vcs", [1, 2])
def test_router_sends_the_hosts_packets_out_at_the_edge(vcs):
    got, dropped, stray = run_mesh(vcs=vcs, with_host=True)
    assert stray == []
    assert all(v // vcs == MsgClass.RESPONSE.value and v < CLASSES * vcs for v, _ in got)
    for src in Mesh(2, 2).nodes:
        mine = [p for _, (h, p) in got if (h["src_x"], h["src_y"]) == src]
        assert mine == list(range(6)), src           # all, in order, none for (15, 14)
    assert all((h["dst_x"], h["dst_y"]) == HOST for _, (h, _) in got)
    assert dropped == [1, 1, 1, 1]                   # (15, 14): dropped at its source


def test_router_drops_the_hosts_packets_without_host_entries():
    got, dropped, stray = run_mesh(vcs=1, with_host=False)
    assert got == [] and stray == []
    assert dropped == [7, 7, 7, 7]
