"""The host's edge port (``hw/mesh/edge.py``) in Amaranth's simulator.

Sending, against a receiver that frees each flit's buffer entry after a random time: every flit
arrives once, in order, unchanged, on channel 0; never more flits outstanding than the credits
(the link's rule: a sender breaking it would overrun the router's buffer); a flit a cycle when
credits come back in the router's four-cycle loop. Receiving, from a sender that keeps the
router's credit rule (``depth`` credits per channel, each usable the cycle after it came back)
on random channels, to a host with random stalls: every flit comes out once, unchanged, in order
per channel, the stream rule kept; a credit only for a flit taken (more credits than ``depth``,
or a flit lost in a full FIFO, fails); a flit a cycle when the host always takes. The
construction errors. And the mesh presets' checks (``hw/mesh/config.py``)."""

import random
from collections import deque

import pytest
from amaranth.sim import Simulator

from hw.core.config import SMALL
from hw.mesh.config import MESH_2X2, MeshConfig, get_preset
from hw.mesh.edge import EdgePort
from hw.noc.flit import Flit
from hw.noc.router import CLASSES
from tests.amaranth_sim import raises_unelaborated, receive, send

#: Every bit of a flit, the multicast fields at the header's top included.
FLIT_BITS = Flit.as_shape().size

def run(n, *, depth, hold, p_idle=0.0, seed=1):
    """Send ``n`` flits; the receiver frees each ``hold(rnd)`` cycles after it arrived. Returns
    ``(arrivals, max outstanding)``: ``(cycle, vc, flit)`` per flit."""
    dut = EdgePort(depth=depth)
    rnd = random.Random(seed)
    words = [rnd.getrandbits(FLIT_BITS) for _ in range(n)]
    got, state = [], {"max": 0}

    async def receiver(ctx):
        pending, outstanding, cycle = deque(), 0, 0
        while len(got) < n or pending:
            freed = bool(pending) and pending[0] <= cycle
            ctx.set(dut.link.credit_valid, freed)
            ctx.set(dut.link.credit_vc, 0)
            _, _, valid, vc, flit = await ctx.tick().sample(dut.link.valid, dut.link.vc,
                                                           dut.link.flit.as_value())
            if freed:
                pending.popleft()
                outstanding -= 1
            if valid:
                got.append((cycle, vc, flit))
                outstanding += 1
                pending.append(cycle + hold(rnd))
            state["max"] = max(state["max"], outstanding)
            assert outstanding <= depth, "a flit sent without a credit"
            cycle += 1
            assert cycle < 50 * n + 100, "hang"

    async def sender(ctx):
        await send(ctx, dut.i, words, rnd=random.Random(seed), p_idle=p_idle)

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(sender)
    sim.add_testbench(receiver)
    sim.run()
    assert [f for _, _, f in got] == words
    assert all(vc == 0 for _, vc, _ in got)
    return got, state["max"]


def test_credits_are_kept_under_random_holds():
    _, most = run(60, depth=4, hold=lambda r: r.randint(1, 12), p_idle=0.2)
    assert most == 4        # the receiver's slowness used every credit, and no more


def test_a_flit_a_cycle_with_the_routers_credit_loop():
    """The router frees an entry at the earliest two cycles after the flit arrives; its credit
    is seen the cycle after: with four credits the port sends one flit every cycle."""
    got, _ = run(32, depth=4, hold=lambda r: 2)
    cycles = [c for c, _, _ in got]
    assert cycles == list(range(cycles[0], cycles[0] + 32))


def run_back(n, *, vcs, depth, p_stall=0.0, p_idle=0.0, channels=None, seed=1):
    """The router side sends ``n`` flits into ``back`` on random channels (``channels``: those
    to draw from, default all) while it holds their credits; the host takes ``o`` with
    ``p_stall``. Returns ``(sent, got, cycles)``: ``(cycle, vc, flit)`` per flit sent, the
    flits taken, the host's cycles."""
    dut = EdgePort(vcs=vcs, depth=depth)
    rnd = random.Random(seed)
    channels = channels or list(range(CLASSES * vcs))
    todo = [(rnd.choice(channels), rnd.getrandbits(FLIT_BITS)) for _ in range(n)]
    sent, result = [], {}

    async def router(ctx):
        credits = {v: depth for v in range(CLASSES * vcs)}
        queue, cycle = deque(todo), 0
        while queue or cycle < 4:
            go = bool(queue) and credits[queue[0][0]] > 0 and rnd.random() >= p_idle
            if go:
                vc, flit = queue.popleft()
                credits[vc] -= 1
                sent.append((cycle, vc, flit))
                ctx.set(dut.back.vc, vc)
                ctx.set(dut.back.flit.as_value(), flit)
            ctx.set(dut.back.valid, go)
            _, _, back, back_vc = await ctx.tick().sample(dut.back.credit_valid,
                                                          dut.back.credit_vc)
            if back:
                credits[back_vc] += 1
                assert credits[back_vc] <= depth, "a credit returned for no flit"
            cycle += 1
            assert cycle < 50 * n + 100, "hang"
        ctx.set(dut.back.valid, 0)

    async def host(ctx):
        got, cycles = await receive(ctx, dut.o, n, rnd=random.Random(seed + 1), p_stall=p_stall,
                                    limit=50 * n + 100)
        result["got"], result["cycles"] = got, cycles

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(router)
    sim.add_testbench(host)
    sim.run()
    return sent, result["got"], result["cycles"]


@pytest.mark.parametrize("vcs", [1, 2])
def test_back_keeps_order_per_channel_and_the_credits(vcs):
    """Random channels of both classes, a host stalling half the time: every flit once,
    unchanged, each channel's in the order sent (the router's credit model asserts no credit
    comes back for a flit not taken)."""
    sent, got, _ = run_back(150, vcs=vcs, depth=4, p_stall=0.5, p_idle=0.2, seed=vcs)
    assert sorted(got) == sorted(f for _, _, f in sent)
    for v in range(CLASSES * vcs):
        mine = {f for _, c, f in sent if c == v}
        assert [f for f in got if f in mine] == [f for _, c, f in sent if c == v]


def test_back_a_flit_a_cycle():
    """The host always takes: the router's credit comes back in three cycles, under the four
    it holds, so it sends a flit every cycle on one channel (the host's answers all come on
    one) and the host takes one every cycle."""
    sent, got, _ = run_back(40, vcs=1, depth=4, channels=[1])
    cycles = [c for c, _, _ in sent]
    assert cycles == list(range(40))
    assert got == [f for _, _, f in sent]


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(vcs=3), ValueError, "vcs must be 1, 2 or 4, not 3"),
    (dict(depth=6), ValueError, r"depth must be a power of two in 2\.\.16, not 6"),
])
def test_edge_parameter_errors(kwargs, error, message):
    raises_unelaborated(error, message, EdgePort, **kwargs)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(width=0, height=1), ValueError, r"width must be in 1\.\.16, not 0"),
    (dict(width=1, height=17), ValueError, r"height must be in 1\.\.16, not 17"),
    (dict(width=2, height=2, vcs=3), ValueError, "vcs must be 1, 2 or 4, not 3"),
    (dict(width=2, height=2, depth=32), ValueError,
     r"depth must be a power of two in 2\.\.16, not 32"),
])
def test_mesh_config_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        MeshConfig("M", core=SMALL, **kwargs)


def test_mesh_config_core_and_presets():
    with pytest.raises(TypeError, match="core must be an instance of CoreConfig, not 'x'"):
        MeshConfig("M", core="x", width=1, height=1)
    assert get_preset("MESH_2X2") is MESH_2X2 and MESH_2X2.nodes == 4
    with pytest.raises(ValueError, match="unknown mesh preset 'X'"):
        get_preset("X")
