"""Amaranth-simulator tests of the router's pieces and of small meshes.

Layers: construction errors with their exact messages (the round-robin arbiter is tested in
``tests/common/test_arbiter.py``); the input buffer's FIFO order, overrun flag and simultaneous
push and pop; and 1×3 and 2×2 meshes: zero-load latency per hop, one flit per cycle through a
link, backpressure on an eject stream, drops with their ERROR answers and counts, a packet on
the wrong class stream.
"""

import random

import pytest
from amaranth.sim import Simulator

from hw.noc.flit import Flit, MsgClass, Opcode
from hw.noc.input_buffer import OUTPUTS, InputBuffer
from hw.noc.mesh import NoCMesh
from hw.noc.router import Router
from hw.noc.routing import Mesh, Rect, node_id, route_tables, table_words, turn_words
from tests.amaranth_sim import raises_unelaborated, receive, send
from verif.noc.model import MeshModel, Packet, pack_flit, unpack_flit


@pytest.mark.parametrize("factory,kwargs,error,message", [
    (Router, dict(width=0, height=2), ValueError, r"^width must be in 1\.\.16, not 0$"),
    (Router, dict(width=2, height=17), ValueError, r"^height must be in 1\.\.16, not 17$"),
    (Router, dict(width="2", height=2), TypeError, r"^width must be an integer, not '2'$"),
    (Router, dict(width=2, height=2, vcs=3), ValueError,
     r"^vcs must be a power of two in 1\.\.4, not 3$"),
    (Router, dict(width=2, height=2, depth=3), ValueError,
     r"^depth must be a power of two in 1\.\.16, not 3$"),
    (Router, dict(width=2, height=2, depth=4.0), TypeError,
     r"^depth must be an integer, not 4\.0$"),
    (Router, dict(width=2, height=2, payload_bits=0), ValueError,
     r"^payload_bits must be in 1\.\.512, not 0$"),
    (NoCMesh, dict(width=2, height=0), ValueError, r"^height must be in 1\.\.16, not 0$"),
    (NoCMesh, dict(width=2, height=2, vcs=8), ValueError,
     r"^vcs must be a power of two in 1\.\.4, not 8$"),
    (InputBuffer, dict(fifos=3, depth=4, vc_bits=1), ValueError,
     r"^fifos must be a power of two in 1\.\.16, not 3$"),
    (InputBuffer, dict(fifos=2, depth=0, vc_bits=1), ValueError,
     r"^depth must be a power of two in 1\.\.64, not 0$"),
    (InputBuffer, dict(fifos=True, depth=4, vc_bits=1), TypeError,
     r"^fifos must be an integer, not True$"),
])
def test_parameter_errors(factory, kwargs, error, message):
    """Impossible parameters fail at construction with their exact message."""
    raises_unelaborated(error, message, factory, **kwargs)


def _simulate(dut, *testbenches):
    sim = Simulator(dut)
    sim.add_clock(1e-9)
    for testbench in testbenches:
        sim.add_testbench(testbench)
    sim.run()


def onehot_of(route):
    """The output set of a unicast route code (codes 6 and 7 are DROP)."""
    return 1 << min(route, OUTPUTS - 1)


def test_input_buffer_fifo_order_overrun_and_push_pop():
    """Two FIFOs keep their own order; a push into a full FIFO raises overrun and is not
    stored (even if the FIFO is popped in that cycle: the sender keeps to its credits); a push
    and a pop of one FIFO that is not full both happen in one cycle."""
    dut = InputBuffer(fifos=2, depth=2, vc_bits=1)

    async def push(ctx, fifo, value, route=1, pop_sel=0):
        ctx.set(dut.w_valid, 1)
        ctx.set(dut.w_fifo, fifo)
        ctx.set(dut.w_flit.as_value(), value)
        ctx.set(dut.w_out, onehot_of(route))
        ctx.set(dut.r_sel, pop_sel)
        ctx.set(dut.r_pop, pop_sel != 0)
        overrun = ctx.get(dut.overrun)
        await ctx.tick()
        ctx.set(dut.w_valid, 0)
        ctx.set(dut.r_pop, 0)
        return overrun

    async def pop(ctx, fifo):
        ctx.set(dut.r_sel, 1 << fifo)
        ctx.set(dut.r_pop, 1)
        value = ctx.get(dut.r_flit.as_value())
        await ctx.tick()
        ctx.set(dut.r_pop, 0)
        return value

    async def testbench(ctx):
        assert not await push(ctx, 0, 10, route=2)
        assert not await push(ctx, 1, 20)
        assert not await push(ctx, 0, 11, route=3)
        assert ctx.get(dut.full) == 0b01 and ctx.get(dut.nonempty) == 0b11
        assert ctx.get(dut.head_out[0]) == 1 << 2
        assert await push(ctx, 0, 12)  # full: refused
        assert await push(ctx, 0, 12, pop_sel=0b01)  # full, even while popped: refused
        assert not await push(ctx, 0, 13, pop_sel=0b01)  # one left, pushed and popped
        assert not await push(ctx, 1, 21)
        assert [await pop(ctx, 0)] == [13]
        assert [await pop(ctx, 1) for _ in range(2)] == [20, 21]
        assert ctx.get(dut.nonempty) == 0

    _simulate(dut, testbench)


def _configure(mesh_hw, mesh, policy="xy"):
    """A testbench step: load the route tables of ``mesh`` through the cfg port."""
    tables = route_tables(mesh, policy)
    words, turns = table_words(mesh, tables), turn_words(mesh, tables)

    async def configure(ctx):
        for router, codes in words.items():
            for dst, code in enumerate(codes):
                ctx.set(mesh_hw.cfg.payload.node, node_id(mesh, *router))
                ctx.set(mesh_hw.cfg.payload.dst, dst)
                ctx.set(mesh_hw.cfg.payload.port, code)
                ctx.set(mesh_hw.cfg.payload.turn, turns[router][dst])
                ctx.set(mesh_hw.cfg.valid, 1)
                await ctx.tick()
        ctx.set(mesh_hw.cfg.valid, 0)
    return configure


def _header(src, dst, cls=MsgClass.REQUEST, op=Opcode.WRITE, tag=0):
    return {"dst_x": dst[0], "dst_y": dst[1], "src_x": src[0], "src_y": src[1],
            "cls": cls.value, "op": op.value, "addr": 0x1234, "tag": tag}


def test_zero_load_latency():
    """On an idle 1×3 mesh a packet is on the eject stream 1 + 2 × hops cycles after its
    inject transfer, for 0, 1 and 2 hops: two cycles per hop, link included, plus one for the
    inject buffer."""
    mesh = Mesh(3, 1)
    dut = NoCMesh(width=3, height=1)
    configure = _configure(dut, mesh)

    async def testbench(ctx):
        await configure(ctx)
        for hops in (0, 1, 2):
            word = pack_flit(_header((0, 0), (hops, 0)), 0xABCDEF)
            ctx.set(dut.eject[hops][0].ready, 1)
            ctx.set(dut.inject[0][0].payload.as_value(), word)
            ctx.set(dut.inject[0][0].valid, 1)
            await ctx.tick().until(dut.inject[0][0].ready)
            ctx.set(dut.inject[0][0].valid, 0)
            cycles = 0
            while not ctx.get(dut.eject[hops][0].valid):
                await ctx.tick()
                cycles += 1
            assert cycles == 1 + 2 * hops, f"{hops} hops: {cycles} cycles"
            assert ctx.get(dut.eject[hops][0].payload.as_value()) == word
            await ctx.tick()

    _simulate(dut, testbench)


def test_link_carries_one_flit_per_cycle_and_eject_backpressure_holds():
    """60 back-to-back packets from node 0 to node 1 of a 2×1 mesh arrive in order, at one per
    cycle once flowing (the credit loop covers the buffer depth); then with random eject
    backpressure every payload holds until taken."""
    mesh = Mesh(2, 1)
    dut = NoCMesh(width=2, height=1)
    configure = _configure(dut, mesh)
    rnd = random.Random(5)
    words = [pack_flit(_header((0, 0), (1, 0), tag=i % 256), i) for i in range(60)]

    configured = []

    async def sender(ctx):
        await configure(ctx)
        configured.append(True)
        await send(ctx, dut.inject[0][0], words, rnd=rnd)
        await send(ctx, dut.inject[0][0], words, rnd=rnd)

    async def receiver(ctx):
        while not configured:
            await ctx.tick()
        got, cycles = await receive(ctx, dut.eject[1][0], len(words), rnd=rnd,
                                    limit=len(words) + 5)
        assert got == words
        got, _ = await receive(ctx, dut.eject[1][0], len(words), rnd=rnd, p_stall=0.6,
                               limit=20 * len(words))
        assert got == words

    _simulate(dut, sender, receiver)


def test_drops_answer_requests_and_count():
    """On a 2×2 mesh with node (1, 1) disabled: a READ to the disabled node, a WRITE outside
    the mesh and a POST to the disabled node are removed at the source's router and counted;
    READ and WRITE come back as ERROR answers (the model's headers); a REQUEST-class packet on
    the response stream is dropped and answered too. Packets to live nodes still arrive."""
    mesh = Mesh(2, 2, [(1, 1)])
    dut = NoCMesh(width=2, height=2)
    configure = _configure(dut, mesh, "updown")
    model = MeshModel(mesh, route_tables(mesh, "updown"))
    src = (1, 0)
    packets = [
        Packet(src, 0, _header(src, (1, 1), op=Opcode.READ, tag=1), 101),
        Packet(src, 0, _header(src, (2, 0), op=Opcode.WRITE, tag=2), 102),
        Packet(src, 0, _header(src, (1, 1), op=Opcode.POST, tag=3), 103),
        Packet(src, 0, _header(src, (0, 1), op=Opcode.WRITE, tag=4), 104),
        Packet(src, 1, _header(src, (0, 0), op=Opcode.READ, tag=5), 105),
    ]
    deliveries = [d for p in packets for d in model.send(p)]
    assert model.dropped[src] == 4 and len(deliveries) == 4
    rnd = random.Random(7)

    async def testbench(ctx):
        await configure(ctx)
        for p in packets:
            await send(ctx, dut.inject[node_id(mesh, *src)][p.stream],
                       [pack_flit(p.header, p.data)], rnd=rnd)
        streams = sorted({(d.node, d.cls) for d in deliveries})
        for node, cls in streams:  # one stream at a time: the others wait, held
            want = [(d.header, d.data) for d in deliveries if (d.node, d.cls) == (node, cls)]
            got, _ = await receive(ctx, dut.eject[node_id(mesh, *node)][cls], len(want),
                                   rnd=rnd, p_stall=0.3, limit=50)
            assert [unpack_flit(w) for w in got] == want
        assert ctx.get(dut.dropped[node_id(mesh, *src)]) == 4
        assert sum(ctx.get(dut.dropped[n]) for n in range(4)) == 4

    _simulate(dut, testbench)


def test_flit_layout():
    """The flit is 512 payload bits above a 70-bit header, packed by the layout alone; the
    multicast fields are the header's top 9 bits, left out of a unicast header unpacked."""
    assert Flit.as_shape().size == 582
    header = _header((3, 4), (1, 2), cls=MsgClass.RESPONSE, op=Opcode.WRITE_ACK, tag=0x5A)
    word = pack_flit(header, 1 << 511)
    assert word & 0xF == 1 and word >> 4 & 0xF == 2 and word >> 581 == 1
    assert word >> 61 & 0x1FF == 0
    assert unpack_flit(word) == (header, 1 << 511)
    header = _multicast_header((3, 4), Rect(0, 1, 1, 2))
    word = pack_flit(header, 0)
    assert word >> 61 & 0x1FF == 1 | 0 << 1 | 1 << 5
    assert unpack_flit(word) == (header, 0)


def test_input_buffer_multicast_head_leaves_after_its_last_output():
    """A head with three outputs is read three times, each read keeping the outputs not yet
    taken: it stays (its set shrinking, ``popped`` low) until the read that keeps none of its
    outputs removes it (``popped`` high once); the flit behind it then comes to the head. A
    buffer that removed the head at its first read, or never, fails here."""
    dut = InputBuffer(fifos=1, depth=2, vc_bits=1)
    outs = 0b10110  # NORTH, EAST, WEST

    async def testbench(ctx):
        for value, out in ((7, outs), (8, 0b1)):
            ctx.set(dut.w_valid, 1)
            ctx.set(dut.w_flit.as_value(), value)
            ctx.set(dut.w_out, out)
            await ctx.tick()
        ctx.set(dut.w_valid, 0)
        ctx.set(dut.r_sel, 1)
        left = outs
        for taken in (0b10, 0b100, 0b10000):
            assert ctx.get(dut.head_out[0]) == left
            assert ctx.get(dut.r_flit.as_value()) == 7
            left &= ~taken
            ctx.set(dut.r_pop, 1)
            ctx.set(dut.r_keep, ~taken & (1 << OUTPUTS) - 1)
            assert ctx.get(dut.popped) == (left == 0)
            await ctx.tick()
        ctx.set(dut.r_pop, 0)
        assert ctx.get(dut.r_flit.as_value()) == 8 and ctx.get(dut.head_out[0]) == 1

    _simulate(dut, testbench)


def _multicast_header(src, rect, cls=MsgClass.REQUEST, op=Opcode.POST, tag=0):
    return {**_header(src, (rect.x1, rect.y1), cls, op, tag), "mcast": 1, "rect_x": rect.x0,
            "rect_y": rect.y0}


def _run_against_model(mesh, packets, *, vcs, p_stall=0.2, seed=11):
    """Send ``packets`` (`Packet`) into a `NoCMesh` of ``mesh`` (XY tables, 32-bit payloads)
    all at once, take every eject stream with random stalls, and check that each stream gets
    exactly the model's deliveries (as a multiset: packets from different sources interleave),
    and the drop counts."""
    dut = NoCMesh(width=mesh.width, height=mesh.height, vcs=vcs, payload_bits=32)
    configure = _configure(dut, mesh)
    model = MeshModel(mesh, route_tables(mesh))
    deliveries = [d for p in packets for d in model.send(p)]
    rnd = random.Random(seed)
    configured = []
    streams = {(n, c): [] for n in mesh.nodes for c in (0, 1)}
    for d in deliveries:
        streams[(d.node, d.cls)].append((d.header, d.data))

    async def sender(ctx):
        await configure(ctx)
        configured.append(True)
        for node in mesh.live:
            for c in (0, 1):
                words = [pack_flit(p.header, p.data, 32) for p in packets
                         if (p.node, p.stream) == (node, c)]
                if words:
                    ctx.set(dut.inject[node_id(mesh, *node)][c].payload.as_value(), words[0])
                    await send(ctx, dut.inject[node_id(mesh, *node)][c], words, rnd=rnd)

    def receiver(node, c):
        async def run(ctx):
            while not configured:
                await ctx.tick()
            want = streams[(node, c)]
            got, _ = await receive(ctx, dut.eject[node_id(mesh, *node)][c], len(want), rnd=rnd,
                                   p_stall=p_stall, limit=400)
            key = repr
            assert sorted(map(key, (unpack_flit(w, 32) for w in got))) == sorted(map(key, want)), \
                f"at {node} class {c}"
            for _ in range(20):  # nothing more arrives
                await ctx.tick()
                assert not ctx.get(dut.eject[node_id(mesh, *node)][c].valid), f"extra at {node}"
            for n in mesh.nodes:
                assert ctx.get(dut.dropped[node_id(mesh, *n)]) == model.dropped[n], n
        return run

    _simulate(dut, sender, *(receiver(n, c) for n, c in streams))
    return deliveries


def test_multicast_row_column_rectangle_with_unicast():
    """On a 3×3 mesh with two channels per class: a row broadcast, a column broadcast, a
    rectangle inside the mesh and the whole mesh (requests and responses), from sources inside
    and outside their rectangles, among unicast packets: every core of each rectangle gets one
    copy, unchanged (the model's deliveries, multicast_walk), nothing else arrives; a
    rectangle past the mesh's edge is dropped at the source and, as a WRITE, answered with a
    unicast ERROR."""
    mesh = Mesh(3, 3)
    row, column = Rect(0, 1, 2, 1), Rect(2, 0, 2, 2)
    inner, whole, bad = Rect(0, 0, 1, 1), Rect(0, 0, 2, 2), Rect(1, 1, 3, 1)
    rnd = random.Random(3)
    packets = []
    for serial, (src, dst, cls) in enumerate([
            ((0, 1), row, 0), ((2, 2), row, 1), ((1, 0), column, 0), ((0, 2), column, 0),
            ((2, 2), inner, 0), ((1, 1), whole, 1), ((0, 0), (2, 2), 0), ((2, 0), (0, 2), 1),
            ((1, 1), inner, 1), ((2, 1), (2, 1), 0), ((0, 0), bad, 0)]):
        op = Opcode.WRITE if dst is bad else Opcode.POST if cls == 0 else Opcode.WRITE_ACK
        header = (_multicast_header(src, dst, MsgClass(cls), op, serial) if isinstance(dst, Rect)
                  else _header(src, dst, MsgClass(cls), op, serial))
        packets.append(Packet(src, cls, header, rnd.getrandbits(24) << 8 | serial))
    deliveries = _run_against_model(mesh, packets, vcs=2)
    assert len(deliveries) == 3 + 3 + 3 + 3 + 4 + 9 + 1 + 1 + 4 + 1 + 1


def test_multicast_into_a_dead_router_is_dropped_there():
    """On a 3×1 mesh whose (2, 0) is dead (never configured: not live): a row broadcast from
    (0, 0) reaches (0, 0) and (1, 0); the copy that enters (2, 0) is removed there, and as a
    WRITE answered with an ERROR that (2, 0), routing nothing, removes in turn (two drops there,
    as the model counts). One channel per class."""
    mesh = Mesh(3, 1, ((2, 0),))
    packets = [Packet((0, 0), 0, _multicast_header((0, 0), Rect(0, 0, 2, 0), op=Opcode.WRITE),
                      5),
               Packet((1, 0), 0, _header((1, 0), (0, 0), op=Opcode.POST), 6)]
    deliveries = _run_against_model(mesh, packets, vcs=1)
    assert sorted(d.node for d in deliveries) == [(0, 0), (0, 0), (1, 0)]


def test_multicast_row_stream_rate_and_latency():
    """On an idle 4×1 mesh, 24 back-to-back multicast packets from (0, 0) to (1, 0)..(3, 0)
    arrive in order at every core of the row; the first at (k, 0) after 1 + 2k cycles (a
    unicast packet's zero-load latency) plus one for each router before it that delivers and
    forwards (from reset its accept takes the LOCAL copy first: 3, 6 and 9 cycles); then one
    every 2 cycles at each core: such a router sends its two copies one per cycle from its
    input (asynchronous replication, docs/noc.md "Multicast")."""
    mesh = Mesh(4, 1)
    dut = NoCMesh(width=4, height=1, vcs=2, payload_bits=32)
    configure = _configure(dut, mesh)
    row = Rect(1, 0, 3, 0)
    words = [pack_flit(_multicast_header((0, 0), row, tag=i), i, 32) for i in range(24)]
    arrivals = {k: [] for k in (1, 2, 3)}
    taken = []

    async def bench(ctx):
        await configure(ctx)
        inj = dut.inject[0][0]
        for k in arrivals:
            ctx.set(dut.eject[k][0].ready, 1)
        for cycle in range(200):
            if len(taken) < len(words):
                ctx.set(inj.payload.as_value(), words[len(taken)])
            ctx.set(inj.valid, len(taken) < len(words))
            _, _, ready, *seen = await ctx.tick().sample(
                inj.ready, *(x for k in arrivals for x in (dut.eject[k][0].valid,
                                                           dut.eject[k][0].payload.as_value())))
            if ready and len(taken) < len(words):
                taken.append(cycle)
            for i, k in enumerate(arrivals):
                if seen[2 * i]:
                    arrivals[k].append((cycle, seen[2 * i + 1]))

    _simulate(dut, bench)
    assert len(taken) == len(words)
    for k, got in arrivals.items():
        assert [w for _, w in got] == words, k
        cycles = [c for c, _ in got]
        # Sampled at the edges: a transfer at edge t, valid from edge t' on, is seen at t' + 1.
        assert cycles[0] - 1 - taken[0] == 1 + 2 * k + (k - 1), (k, cycles[0])
        assert [b - a for a, b in zip(cycles, cycles[1:], strict=False)] \
            == [2] * (len(words) - 1), k
