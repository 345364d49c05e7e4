"""``d1core run PROGRAM.elf``: run a program on the scalar core and report its result.

The program is an ELF64 RISC-V executable (:mod:`verif.scalar.elf`) that reports through its
``tohost`` symbol (1 pass, 2n + 1 failure of test n; :mod:`verif.scalar.programs`). It runs on

* ``--sim iss``: the golden instruction-set simulator (:mod:`verif.scalar.iss`); a "cycle" is one
  ISS step (one instruction of one thread), so the total IPC is 1 by construction;
* ``--sim core``: the same ISS with the D1 core's units (:class:`verif.core.model.CoreModel`:
  the custom instructions of docs/isa.md, executed at issue); cycles are ISS steps. A run in
  which every running thread sleeps (a semaphore wait nobody satisfies) ends as a deadlock,
  reported with every thread's pc and wait and the semaphores;
* ``--sim verilator`` / ``--sim icarus``: the RTL core through
  ``verif.scalar.core_tb.run_program``, every retired instruction checked in lockstep against the
  ISS; with ``--core D1|SMALL``, the integrated D1 core (``hw/core``) through
  ``verif.core.run.run_core_program``: every retired instruction in lockstep with the core model
  and every byte of the scratchpad compared at the end; a run that stops making progress is
  ended by the bench's watchdog, which prints every thread's last pc, the queued commands and
  the semaphores. ``--counters`` adds the core's performance counters, read from the RTL after
  the run (:mod:`verif.core.counters`): per unit busy, each stall cause, idle and utilisation,
  per thread instructions and where its cycles went, and whether they account for every cycle
  (they must: a counter that does not is a failure, with or without ``--counters``).

With ``--mesh WxH`` it runs the program on every live core of a W×H mesh of cores
(``verif.mesh.run.run_mesh_program``: the route tables, the image loaded into every live core
through the edge port, the cores started together; ``--dead X,Y`` holds a core in reset and
routes around it; ``--core`` the cores' preset, SMALL by default) on Verilator or Icarus. The
program checks itself: the run passes when every live core writes ``tohost`` = 1. It prints the
outcome (with the watchdog's dump of every core when the run hangs or times out), the cycles
and the simulation's speed, per core the matrix, vector and DMA units' busy share of the run
and the instructions retired, the network's counts and every link's flits
(:mod:`verif.mesh.report`); ``--plot FILE.png`` draws the cores' matrix-unit utilisation and
the links' traffic as heat maps of the mesh.

It prints the result, the cycles, and the instructions retired and IPC of each thread and in
total. A program still running after ``--max-cycles`` is stopped and reported as a timeout.
A trap that no handler takes (``mtvec`` not set) ends the run: it is reported with its cause, pc,
``mtval`` and thread. Exit status: 0 pass; 1 fail, trap, timeout, or every thread stopped without
a result; 2 bad usage or a file that is not a program for the core, or whose ``tohost`` is not
8-byte aligned inside memory (exact message on stderr).
"""

import dataclasses
import re
import sys
from dataclasses import dataclass

from hw.core.config import PRESETS as CORE_PRESETS
from hw.core.config import get_preset as get_core_preset
from hw.mesh.config import PRESETS as MESH_PRESETS
from hw.mesh.config import MeshConfig
from verif.core import run as core_run
from verif.core.counters import CounterReport
from verif.core.model import CoreModel
from verif.core.run import run_core_program
from verif.mesh import report as mesh_report
from verif.mesh.programs import PLACE_SYMBOL
from verif.mesh.run import check_dead, run_mesh_program
from verif.scalar import core_tb, elf
from verif.scalar.core_tb import parse_trace
from verif.scalar.iss import ISS, MAX_THREADS, Memory, TrapInfo
from verif.scalar.programs import (
    CAUSES,
    DEFAULT_MAX_CYCLES,
    RAM_BASE,
    RAM_SIZE,
    describe,
    failing_test,
)

from ._common import UsageError, check_output_path

__all__ = ["SIMS", "MESH_SIMS", "Outcome", "RunError", "add_parser", "check_tohost",
           "describe_trap", "format_retire", "report", "run", "run_core", "run_iss",
           "mesh_config", "parse_dead", "run_mesh"]

#: Where ``d1core run`` can run a program.
SIMS = ("verilator", "icarus", "iss", "core")
#: Where ``d1core run --mesh`` can run a program.
MESH_SIMS = ("verilator", "icarus")


class RunError(Exception):
    """The program cannot be run (not a program for the core, no tohost, core missing)."""


@dataclass(frozen=True)
class Outcome:
    """How a run ended. ``status``: "pass", "fail", "timeout" (``max_cycles`` reached),
    "stopped" (every thread parked with tohost still 0; on the RTL, nothing retired for a long
    time), "trap" (a trap no handler takes: ``trap`` holds its cause, pc, mtval and thread),
    "diverged" (the RTL's retire trace left the ISS's, ``detail`` says where) or "deadlock"
    (``--sim core``: every running thread asleep, ``detail`` is the report); ``instret`` per
    thread; ``trace`` the retire records when asked for; ``counters`` the integrated core's
    :class:`verif.core.counters.CounterReport` (``--core`` only)."""

    status: str
    tohost: int
    cycles: int
    instret: tuple
    sim: str
    trace: tuple | None = None
    detail: str | None = None
    trap: TrapInfo | None = None
    counters: CounterReport | None = None

    @property
    def test(self):
        """The failing test number, or None."""
        return failing_test(self.tohost) if self.status == "fail" else None

    def ipc(self, thread=None):
        """Instructions per cycle of ``thread``, or of all threads together."""
        n = sum(self.instret) if thread is None else self.instret[thread]
        return n / self.cycles if self.cycles else 0.0


class _TracingISS(ISS):
    """The ISS, keeping every retire record."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.trace = []

    def step(self, thread=None):
        record = super().step(thread)
        self.trace.append(record)
        return record


def run_iss(program, *, threads=MAX_THREADS, max_cycles=DEFAULT_MAX_CYCLES, trace=False,
            coprocessor=None):
    """Run ``program`` (:class:`verif.scalar.elf.Program`) on the ISS."""
    memory = Memory(RAM_BASE, RAM_SIZE)
    program.load_into(memory)
    iss = (_TracingISS if trace else ISS)(memory, threads=threads, reset_pc=program.entry,
                                          tohost=program.tohost, coprocessor=coprocessor)
    result = iss.run(max_cycles)
    status = {"max_steps": "timeout", "idle": "stopped"}.get(result.status, result.status)
    return Outcome(status, result.tohost, result.steps, tuple(t.instret for t in iss.threads),
                   "iss", tuple(iss.trace) if trace else None, trap=result.trap)


def run_core(program, *, threads=MAX_THREADS, max_cycles=DEFAULT_MAX_CYCLES, trace=False):
    """Run ``program`` on the core model (:class:`verif.core.model.CoreModel`)."""
    model = CoreModel.load(program, threads=threads)
    records = []
    if trace:
        step = model.iss.step

        def tracing_step(thread=None):
            records.append(step(thread))
            return records[-1]

        model.iss.step = tracing_step
    result = model.run(max_cycles)
    status = {"max_steps": "timeout", "idle": "stopped"}.get(result.status, result.status)
    detail = None if result.deadlock is None else str(result.deadlock)
    return Outcome(status, result.tohost, result.steps,
                   tuple(t.instret for t in model.iss.threads), "core",
                   tuple(records) if trace else None, detail, result.trap)


def _run_rtl(program, *, sim, threads, max_cycles, trace):
    r = core_tb.run_program(list(program.segments), threads=threads, sim=sim,
                            max_cycles=max_cycles, trace=trace, entry=program.entry,
                            tohost=program.tohost, mem_size=RAM_SIZE, check=False)
    if r.divergence is not None:
        status, detail = "diverged", f"the RTL diverges from the ISS: {r.divergence}"
    elif r.proto_errors:
        status, detail = "diverged", f"{r.proto_errors} stream-rule violations"
    else:
        status = {"hang": "stopped"}.get(r.status, r.status)
        detail = None
    return Outcome(status, r.tohost, r.cycles, tuple(r.retired), sim,
                   tuple(r.trace) if trace else None, detail, r.trap)


def _run_core_rtl(program, *, sim, config, max_cycles, trace):
    """``program`` on the integrated D1 core's RTL (``verif.core.run``): lockstep with the core
    model, the whole scratchpad compared at the end."""
    try:
        r = run_core_program(list(program.segments), config=config, sim=sim,
                             max_cycles=max_cycles, tohost=program.tohost, check=False)
    except ValueError as e:
        raise RunError(str(e)) from None
    detail = None
    if r.divergence is not None:
        status, detail = "diverged", f"the RTL diverges from the core model: {r.divergence}"
    elif r.memory:
        addr, got, want = r.memory[0]
        status, detail = "diverged", (f"{len(r.memory)} scratchpad lines differ from the core "
                                      f"model, the first at {addr:#x}")
    elif r.proto_errors or r.load_errors:
        status, detail = "diverged", f"{r.proto_errors} stream-rule violations in the bench"
    elif r.counters.errors():
        status, detail = "diverged", ("the counters do not account for every cycle: "
                                      + "; ".join(r.counters.errors()))
    else:
        status = {"hang": "stopped"}.get(r.status, r.status)
        if r.watchdog and status != "pass":
            detail = r.watchdog
    records = tuple(parse_trace(r.run_dir / "trace.txt")) if trace else None
    return Outcome(status, r.tohost, r.cycles, tuple(r.retired), f"{sim}, core {config.name}",
                   records, detail, counters=r.counters)


def run(path, *, sim="iss", threads=MAX_THREADS, max_cycles=DEFAULT_MAX_CYCLES, trace=False,
        core=None):
    """Load the ELF file at ``path`` and run it; raise :class:`RunError` for bad input.
    ``core`` (a preset name, with an RTL ``sim``) runs it on the integrated D1 core."""
    if sim not in SIMS:
        raise RunError(f"unknown simulator {sim!r}; expected one of {', '.join(SIMS)}")
    if not 1 <= threads <= MAX_THREADS:
        raise RunError(f"--threads must be in 1..{MAX_THREADS}, not {threads}")
    if max_cycles < 1:
        raise RunError(f"--max-cycles must be at least 1, not {max_cycles}")
    try:
        program = elf.load(path)
    except elf.ElfError as e:
        raise RunError(str(e)) from None
    if program.tohost is None:
        raise RunError(f"{path}: no tohost symbol: the program cannot report a result "
                       "(link it with verif/scalar/programs/crt0.S, or define tohost)")
    check_tohost(path, program.tohost)
    if core is not None:
        if sim not in core_run.SIMULATORS:
            raise RunError(f"--core runs on an RTL simulator ({', '.join(core_run.SIMULATORS)})"
                           f", not {sim!r}")
        try:
            config = dataclasses.replace(get_core_preset(core), threads=threads)
        except ValueError as e:
            raise RunError(str(e)) from None
        return _run_core_rtl(program, sim=sim, config=config, max_cycles=max_cycles,
                             trace=trace)
    if sim == "iss":
        return run_iss(program, threads=threads, max_cycles=max_cycles, trace=trace)
    if sim == "core":
        return run_core(program, threads=threads, max_cycles=max_cycles, trace=trace)
    return _run_rtl(program, sim=sim, threads=threads, max_cycles=max_cycles, trace=trace)


def check_tohost(path, tohost):
    """Refuse a ``tohost`` the core cannot report through: not 8-byte aligned (the RTL bench
    and the ISS would read different words) or not 8 bytes inside memory."""
    if tohost % 8:
        raise RunError(f"{path}: tohost at {tohost:#x} is not 8-byte aligned (align the "
                       "symbol: .balign 8)")
    if not RAM_BASE <= tohost <= RAM_BASE + RAM_SIZE - 8:
        raise RunError(f"{path}: tohost at {tohost:#x} is outside memory ({RAM_BASE:#x}.."
                       f"{RAM_BASE + RAM_SIZE - 1:#x})")


def describe_trap(trap):
    """One line naming a trap no handler takes."""
    name = CAUSES.get(trap.cause, "unknown cause")
    return (f"TRAP: {name} (cause {trap.cause}) at pc {trap.pc:#x} on thread {trap.thread}, "
            f"mtval {trap.mtval:#x}, and no trap handler (mtvec) to take it")


def format_retire(r):
    """One line of the retire trace: thread, pc, instruction, register write or trap."""
    insn = "--------" if r.insn is None else f"{r.insn:08x}"
    if r.trap is not None:
        effect = f"trap {r.trap}"
    elif r.rd is not None:
        effect = f"x{r.rd} = {r.value:#x}"
    else:
        effect = ""
    return f"t{r.thread} {r.pc:#010x} {insn} {effect}".rstrip()


def report(outcome, *, max_cycles, counters=False):
    """The lines ``d1core run`` prints for ``outcome`` (with ``counters``, the core's counter
    table after them)."""
    lines = [format_retire(r) for r in outcome.trace or ()]
    if outcome.status == "timeout":
        result = f"TIMEOUT: still running after {max_cycles} cycles (--max-cycles)"
    elif outcome.status == "stopped":
        result = "FAIL: every thread stopped before the program wrote tohost"
    elif outcome.status in ("diverged", "deadlock"):
        result = f"FAIL: {outcome.detail}"
    elif outcome.status == "trap":
        result = describe_trap(outcome.trap)
    else:
        result = describe(outcome.tohost).replace("pass", "PASS", 1).replace("fail", "FAIL", 1)
    steps = outcome.sim in ("iss", "core")
    if outcome.detail and outcome.status in ("stopped", "timeout"):
        result += "\nwatchdog:\n  " + outcome.detail.replace("\n", "\n  ")
    lines += [result, f"cycles: {outcome.cycles}" + (" (ISS steps)" if steps else ""),
              f"{'thread':>6} {'instructions':>13} {'IPC':>7}"]
    lines += [f"{i:>6} {n:>13} {outcome.ipc(i):>7.3f}" for i, n in enumerate(outcome.instret)]
    lines.append(f"{'total':>6} {sum(outcome.instret):>13} {outcome.ipc():>7.3f}")
    if counters and outcome.counters is not None:
        lines += outcome.counters.lines()
    return lines


def mesh_config(shape, core=None):
    """The :class:`MeshConfig` of ``shape`` ("WxH", W and H in 1..16) of ``core`` cores (a
    core preset's name): a mesh preset when one has that shape and core (its simulator build
    is the tests' and shared), else a mesh of its own named after both. ``shape`` may also
    name a mesh preset (``MESH_2X2``), with ``core`` None or the preset's."""
    if str(shape).upper() in MESH_PRESETS:
        preset = MESH_PRESETS[str(shape).upper()]
        if core not in (None, preset.core.name):
            raise RunError(f"--mesh {shape} has {preset.core.name} cores, not --core {core}")
        return preset
    found = re.fullmatch(r"(\d+)[x×](\d+)", str(shape).strip().lower())
    if found is None:
        raise RunError(f"--mesh must be WxH (for example 2x2) or a mesh preset "
                       f"({', '.join(MESH_PRESETS)}), not {shape!r}")
    w, h = (int(v) for v in found.groups())
    if not (1 <= w <= 16 and 1 <= h <= 16):
        raise RunError(f"--mesh: width and height must be in 1..16, not {w}x{h}")
    try:
        config = get_core_preset(core or "SMALL")
    except ValueError as e:
        raise RunError(str(e)) from None
    for preset in MESH_PRESETS.values():
        if (preset.width, preset.height, preset.core) == (w, h, config):
            return preset
    return MeshConfig(f"MESH_{w}X{h}_{config.name}", core=config, width=w, height=h)


def parse_dead(values, config):
    """``--dead`` values ("X,Y" each) as ``(x, y)`` cores of ``config``, checked: inside the
    mesh, listed once, not (0, 0) (the edge port's)."""
    dead = []
    for v in values or ():
        found = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*", v)
        if found is None:
            raise RunError(f"--dead must be X,Y (a core's coordinates, for example 1,0), "
                           f"not {v!r}")
        dead.append(tuple(int(g) for g in found.groups()))
    try:
        return check_dead(config, dead)
    except ValueError as e:
        raise RunError(f"--dead: {e}") from None


def run_mesh(path, *, shape, dead=(), core=None, sim="verilator", max_cycles=DEFAULT_MAX_CYCLES):
    """Run the ELF at ``path`` on every live core of the ``shape`` mesh (``--mesh``); ``(config,
    dead, MeshRun)``. Raises :class:`RunError` for bad input, before simulating."""
    if sim not in MESH_SIMS:
        raise RunError(f"--mesh runs on an RTL simulator ({', '.join(MESH_SIMS)}), "
                       f"not {sim!r}")
    if max_cycles < 1:
        raise RunError(f"--max-cycles must be at least 1, not {max_cycles}")
    config = mesh_config(shape, core)
    dead = parse_dead(dead, config)
    try:
        program = elf.load(path, size=config.core.sram.size)
    except elf.ElfError as e:
        raise RunError(str(e)) from None
    if program.tohost is None:
        raise RunError(f"{path}: no tohost symbol: the program cannot report a result "
                       "(link it with verif/scalar/programs/crt0.S, or define tohost)")
    if PLACE_SYMBOL not in program.symbols:
        raise RunError(f"{path}: no {PLACE_SYMBOL} symbol: not a program for a mesh (include "
                       "verif/mesh/programs/mesh.h: the host writes each core's place there)")
    try:
        mesh = run_mesh_program(path, config=config, sim=sim, max_cycles=max_cycles, dead=dead)
    except ValueError as e:       # a program the mesh cannot load (no d1_place, too big)
        raise RunError(str(e)) from None
    return config, dead, mesh


def _check_mesh_args(args):
    """Refuse the options that do not go with ``--mesh`` (or need it), before any work."""
    if args.mesh is None:
        for given, option in ((args.dead, "--dead"), (args.plot, "--plot")):
            if given:
                raise RunError(f"{option} needs --mesh WxH")
        return
    for given, option in ((args.trace, "--trace"), (args.counters, "--counters"),
                          (args.threads != MAX_THREADS, "--threads")):
        if given:
            raise RunError(f"{option} does not go with --mesh (the mesh prints every core's "
                           "counters; its cores have their preset's threads)")
    if args.plot:
        check_output_path(args.plot, "--plot", suffixes=(".png",))


def _main_mesh(args):
    config, dead, mesh = run_mesh(args.program, shape=args.mesh, dead=args.dead,
                                  core=args.core, sim=args.sim, max_cycles=args.max_cycles)
    print("\n".join(mesh_report.report_lines(mesh, config, dead)))
    if args.plot:
        try:
            mesh_report.draw(args.plot, mesh, config, dead)
        except (OSError, ValueError) as e:
            print(f"d1core run: error: --plot {args.plot}: {e}", file=sys.stderr)
            return 2
        print(f"plot: {args.plot}")
    return 0 if mesh.status == "pass" else 1


def main(args):
    """``d1core run`` with parsed ``args``; returns the exit status."""
    try:
        _check_mesh_args(args)
        if args.mesh is not None:
            return _main_mesh(args)
        if args.counters and args.core is None:
            raise RunError("--counters reads the integrated core's counters: it needs --core")
        outcome = run(args.program, sim=args.sim, threads=args.threads,
                      max_cycles=args.max_cycles, trace=args.trace, core=args.core)
    except (RunError, UsageError) as e:
        print(f"d1core run: error: {e}", file=sys.stderr)
        return 2
    print("\n".join(report(outcome, max_cycles=args.max_cycles, counters=args.counters)))
    return 0 if outcome.status == "pass" else 1


def add_parser(sub):
    """Add the ``run`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    q = sub.add_parser("run", help="run a RISC-V program on the scalar core (or its ISS)",
                       description="Loads an ELF64 RISC-V executable that reports through "
                       "its tohost symbol (1 pass, 2n+1 failure of test n), runs it and prints "
                       "pass or fail, the cycles, and the instructions retired and IPC per "
                       "thread and in total. --sim iss runs the golden ISS (a cycle is one "
                       "instruction); --sim core the ISS with the core's units (docs/isa.md; a "
                       "deadlock is reported); verilator and icarus run the RTL core, checked "
                       "in lockstep "
                       "against the ISS. A trap with no handler is reported with its cause, pc, "
                       "mtval and "
                       "thread. Exit 0 pass, 1 fail, trap or timeout, 2 bad usage or file (a "
                       "tohost that is misaligned or outside memory is refused at load). --mesh "
                       "WxH runs it on every live core of a mesh of cores instead (exit 1 also "
                       "for a hang).")
    q.add_argument("program", metavar="PROGRAM.elf")
    q.add_argument("--threads", type=int, default=MAX_THREADS, metavar="N",
                   help=f"hardware threads of the core, 1..{MAX_THREADS} (default "
                   f"{MAX_THREADS})")
    q.add_argument("--sim", choices=SIMS, default="verilator",
                   help="simulator (default verilator); iss: the instruction-set simulator; "
                   "core: the ISS with the core's units (verif/core/model.py)")
    q.add_argument("--core", choices=tuple(CORE_PRESETS), default=None,
                   help="run on the integrated D1 core (docs/core.md) of this preset instead of "
                   "the scalar core alone: every retired instruction in lockstep with the core "
                   "model (verif/core/model.py) and every scratchpad byte compared at the end")
    q.add_argument("--counters", action="store_true",
                   help="with --core: print the core's performance counters after the run (per "
                   "unit busy, stall causes, idle and utilisation; per thread instructions and "
                   "cycles by reason) and check that they account for every cycle")
    q.add_argument("--trace", action="store_true", help="print the retire trace")
    q.add_argument("--max-cycles", type=int, default=DEFAULT_MAX_CYCLES, metavar="C",
                   help=f"stop and report a timeout after C cycles (default "
                   f"{DEFAULT_MAX_CYCLES})")
    q.add_argument("--mesh", metavar="WxH", default=None,
                   help="run the program on every live core of a W×H mesh of cores (W, H in "
                   f"1..16, or a preset: {', '.join(MESH_PRESETS)}; docs/mesh.md), --sim "
                   "verilator or icarus, cores of --core (default SMALL; a mesh of D1 cores "
                   "is a long build); print per core the units' utilisation and "
                   "instructions, the network's counts and each link's traffic; a run that "
                   "stops making progress is ended by the watchdog, which prints every core's "
                   "threads' pcs, semaphores and DMA and network queues")
    q.add_argument("--dead", metavar="X,Y", action="append", default=[],
                   help="with --mesh: hold core (X, Y) in reset and route around it (not 0,0: "
                   "the edge port's); repeat for more")
    q.add_argument("--plot", metavar="FILE.png", default=None,
                   help="with --mesh: draw the cores' matrix-unit utilisation and the links' "
                   "traffic as heat maps of the mesh into FILE.png")
    q.set_defaults(func=main)
    return q
