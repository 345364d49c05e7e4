"""The round-robin arbiter of the SRAM's banks and the NoC's allocator, and its Python model.

Policy (:func:`round_robin` is its model, used by the reference models and the tests): the
winner is the first requester at or after the *front* of the round-robin order, cyclically. A
grant that is taken moves the front past the winner; a grant that is not taken moves it onto
the winner, so the same requester keeps the grant while it requests. Where every grant is taken
(the SRAM's banks, the NoC's outputs: ``advance`` tied to 1) this is plain round robin: the
front moves past each winner.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .params import check_bool, check_int

__all__ = ["ARBITER_MAX", "RoundRobinArbiter", "round_robin"]

#: Most requesters of one arbiter.
ARBITER_MAX = 64


def round_robin(requests, front, n, *, taken=True):
    """The model of :class:`RoundRobinArbiter` for one cycle: ``(winner, next_front)``.

    ``requests`` holds the numbers (``0..n - 1``) of the requesters; ``front`` is the first
    place of the order. ``winner`` is ``None`` when nobody requests (the front stays). The next
    front is the place after the winner if its grant is ``taken``, else the winner's."""
    if not requests:
        return None, front
    winner = min(requests, key=lambda k: (k - front) % n)
    return winner, (winner + 1) % n if taken else winner


class RoundRobinArbiter(wiring.Component):
    """Grant one of ``n`` requesters in round-robin order (the module's policy).

    Parameters (keyword-only)
    -------------------------
    n : int
        Requesters, ``1..64``.
    always_advance : bool
        Every grant is taken (the SRAM's banks, the NoC's outputs): ``advance`` is 1 in every
        cycle and not a member, as ``stream.Signature(always_ready=True)`` leaves out ``ready``.
        A shared module (:func:`hw.common.shared.shared`) then has no port and no logic for it.

    Members
    -------
    requests : ``In(n)``
        One bit per requester.
    advance : ``In(1)``, unless ``always_advance``
        The grant of this cycle is taken.
    grant : ``Out(n)``
        One-hot winner, 0 when nobody requests; combinational in ``requests`` (and not in
        ``advance``).

    Contract
    --------
    ``grant`` is the first requester at or after the front; the front is a register that moves
    past a taken grant and onto one that is not taken, and stays when nobody requests. Proved
    with ``requests`` and ``advance`` free (``verif/noc/formal.py``): a grant offered and not
    taken stays on its requester until that requester drops its request; a requester that keeps
    requesting is passed over by at most ``n - 1`` taken grants and sees at most ``n - 1``
    *turns* of others (a turn: the grant moves to another requester and stays there until taken
    or dropped), however the others' requests come and go. The NoC's allocator rests on both
    (docs/noc.md, "Allocation"); where every grant is taken, a requester that keeps requesting
    is granted within ``n`` cycles.
    """

    def __init__(self, *, n, always_advance=False):
        self.n = check_int("n", n, 1, ARBITER_MAX)
        self.always_advance = check_bool("always_advance", always_advance)
        members = {"requests": In(n), "grant": Out(n)}
        if not always_advance:
            members["advance"] = In(1)
        super().__init__(members)
        #: The front as a mask: the bits at or after the front (all ones at reset). Not a
        #: member; the formal properties (``verif/noc/formal.py``) state its invariant.
        self.after = Signal(n, init=(1 << n) - 1)

    def elaborate(self, platform):
        m = Module()
        n = self.n
        requests, after = self.requests, self.after
        high = Signal(n)
        m.d.comb += high.eq(requests & after)

        # For the requesters at or after the front and for all of them, side by side: whether
        # a requester comes before each bit, as OR trees (not x & -x, whose carry chain adds a
        # level per requester), chosen between last. The lowest requester is the one with none
        # before it.
        def before(x, name):
            ors = Signal(n, name=name)
            m.d.comb += ors.eq(Cat(x[:i].any() for i in range(n)))
            return ors

        before_high, before_all = before(high, "before_high"), before(requests, "before_all")
        m.d.comb += self.grant.eq(Mux(high.any(), high & ~before_high, requests & ~before_all))
        with m.If(requests.any()):
            if self.always_advance:
                # The bits past the grant, from the ORs beside it rather than after it: 11 gate
                # levels instead of 17 for the SRAM's 8 requesters.
                m.d.sync += after.eq(Mux(high.any(), before_high, before_all))
            else:
                # Taken: the front moves past the grant; not taken: onto it. From the grant
                # with ``advance`` chosen last: in the router ``advance`` comes late (from the
                # output arbiters), and this keeps its allocation stage at its depth.
                m.d.sync += after.eq(Mux(self.advance,
                                         Cat(self.grant[:i].any() for i in range(n)),
                                         Cat(self.grant[:i + 1].any() for i in range(n))))
        return m
