"""The host's edge port (``hw/mesh/edge.py``) in Amaranth's simulator, against a receiver that
frees each flit's buffer entry after a random time: every flit arrives once, in order, unchanged,
on channel 0; never more flits outstanding than the credits (the link's rule: a sender breaking
it would overrun the router's buffer); a flit a cycle when credits come back in the router's
four-cycle loop; the construction errors. And the mesh presets' checks (``hw/mesh/config.py``)."""

import random
from collections import deque

import pytest
from amaranth.sim import Simulator

from hw.core.config import SMALL
from hw.mesh.config import MESH_2X2, MeshConfig, get_preset
from hw.mesh.edge import EdgePort
from tests.amaranth_sim import raises_unelaborated, send


def run(n, *, depth, hold, p_idle=0.0, seed=1):
    """Send ``n`` flits; the receiver frees each ``hold(rnd)`` cycles after it arrived. Returns
    ``(arrivals, max outstanding)``: ``(cycle, vc, flit)`` per flit."""
    dut = EdgePort(depth=depth)
    rnd = random.Random(seed)
    words = [rnd.getrandbits(573) for _ in range(n)]
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
