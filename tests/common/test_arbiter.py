"""``hw.common.arbiter``: the round-robin arbiter against its model ``round_robin``, cycle by
cycle, for the NoC's use (grants taken or not) and the SRAM's (every grant taken), with the
bounds on waiting; its construction errors. The formal proofs of the same properties are in
``tests/noc/test_formal.py``."""

import random

import pytest
from amaranth.sim import Simulator

from hw.common.arbiter import RoundRobinArbiter, round_robin
from tests.amaranth_sim import raises_unelaborated


@pytest.mark.parametrize("error,kwargs,message", [
    (ValueError, dict(n=0), r"^n must be in 1\.\.64, not 0$"),
    (ValueError, dict(n=65), r"^n must be in 1\.\.64, not 65$"),
    (TypeError, dict(n=2.0), r"^n must be an integer, not 2\.0$"),
    (TypeError, dict(n=2, always_advance=1), r"^always_advance must be a bool, not 1$"),
])
def test_parameter_errors(error, kwargs, message):
    raises_unelaborated(error, message, RoundRobinArbiter, **kwargs)


def test_members():
    """``advance`` is a member unless every grant is taken."""
    assert set(RoundRobinArbiter(n=3).signature.members) == {"requests", "advance", "grant"}
    assert set(RoundRobinArbiter(n=3, always_advance=True).signature.members) == \
        {"requests", "grant"}


def test_model():
    """First requester at or after the front; the front moves past a taken grant, onto one
    not taken, and stays with no request."""
    assert round_robin({0, 2}, 1, 4) == (2, 3)
    assert round_robin({0, 2}, 3, 4) == (0, 1)
    assert round_robin({0, 2}, 1, 4, taken=False) == (2, 2)
    assert round_robin(set(), 3, 4) == (None, 3)


def _simulate(dut, testbench):
    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(testbench)
    sim.run()


@pytest.mark.parametrize("n", [1, 3, 7, 8])
def test_matches_model_grants_taken_or_not(n):
    """Random requests and advances (the NoC's inputs): the grant is the model's, one-hot,
    never without a request; a requester waits at most n - 1 taken grants; a grant not taken
    stays on its requester while it requests."""
    dut = RoundRobinArbiter(n=n)
    rnd = random.Random(n)

    async def testbench(ctx):
        front = 0
        waited = [0] * n
        offered = None  # the grant offered and not taken in the previous cycle
        for _ in range(600):
            req = rnd.getrandbits(n) | (rnd.random() < 0.5) * ((1 << n) - 1)
            adv = rnd.random() < 0.8
            ctx.set(dut.requests, req)
            ctx.set(dut.advance, adv)
            grant = ctx.get(dut.grant)
            want, front = round_robin({i for i in range(n) if req >> i & 1}, front, n, taken=adv)
            assert grant == (0 if want is None else 1 << want), (req, grant, want)
            assert grant & (grant - 1) == 0 and grant & ~req == 0
            if offered is not None and req >> offered & 1:
                assert want == offered, f"grant moved from {offered} to {want}"
            offered = None if adv else want
            for i in range(n):
                # Taken grants that passed requester i over since it last was granted one or
                # did not request.
                passed = adv and want is not None and want != i
                waited[i] = waited[i] + passed if req >> i & 1 and want != i else 0
                assert waited[i] < n, f"requester {i} waited {waited[i]} taken grants"
            await ctx.tick()

    _simulate(dut, testbench)


@pytest.mark.parametrize("n", [2, 8])
def test_matches_model_every_grant_taken(n):
    """Random requests with every grant taken (the SRAM's banks, ``always_advance``): the grant
    is the model's in every cycle; a requester that keeps requesting is granted within n
    cycles; every requester is granted."""
    dut = RoundRobinArbiter(n=n, always_advance=True)
    rnd = random.Random(3)
    grants = []

    async def testbench(ctx):
        front = 0
        waiting = [0] * n
        for _ in range(2000):
            req = {k for k in range(n) if rnd.random() < 0.6} | {0}
            ctx.set(dut.requests, sum(1 << k for k in req))
            got = ctx.get(dut.grant)
            winner, front = round_robin(req, front, n)
            assert got == 1 << winner
            for k in range(n):  # consecutive cycles requesting without a grant
                waiting[k] = waiting[k] + 1 if k in req and k != winner else 0
                assert waiting[k] < n
            grants.append(winner)
            await ctx.tick()

    _simulate(dut, testbench)
    assert set(grants) == set(range(n))
