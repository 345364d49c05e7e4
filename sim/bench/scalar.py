"""The scalar core's part of ``d1core bench`` (``--only scalar``, section ``bench-scalar``).

IPC. The C programs of :data:`verif.scalar.programs.C_PROGRAMS` run to completion on the RTL
core (Verilator): the 1-worker build on a 1-thread core, the same build on the 4-thread core (the
rate of one thread in the barrel, three slots empty) and the 4-worker build on the 4-thread core.
The memory answers every request at once and never refuses one (``run_program``'s ``stall=0,
latency=0``), so the figures are the core's own. Every retired instruction is compared in
lockstep with the ISS (``verif.scalar.core_tb.run_program(check=True)``) and the program must
report pass through ``tohost``: a wrong run raises and gives no figure. The four-thread rows are
held against the issue's target, :data:`TARGET_IPC` instructions per cycle in total.

Simulation speed. One workload, :data:`SPEED` (program, workers, core threads) stopped after
:data:`SPEED_CYCLES` cycles (Icarus simulates this core at a few hundred cycles per second: the
whole program would take minutes), on Verilator (:data:`VERILATOR_REPEATS` times, its runs being
short) and on Icarus; everything retired up to the stop is checked in lockstep, and both
simulators must end with the same cycles and instructions per thread. Speed is simulated cycles
per wall-clock second of the simulation itself: cocotb's time for its test (``results.xml``),
from reset to the end of the run, without the simulator's start-up or the lockstep check.
"""

import os
import shutil
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from sim.bench import BenchError
from sim.flow import report
from sim.flow.toolchain import BUILD, SIMULATORS
from verif.scalar import core_tb, elf, riscv
from verif.scalar.iss import MAX_THREADS
from verif.scalar.programs import C_PROGRAMS, DEFAULT_MAX_CYCLES, RAM_SIZE

__all__ = ["BenchError", "ISSUE_LOOP", "Measured", "SPEED", "SPEED_CYCLES", "TARGET_IPC",
           "TARGET_THREADS", "VERILATOR_REPEATS", "cases", "check_same", "measure", "run",
           "sim_seconds", "speed_figure", "verdict"]

#: Instructions per cycle in total the four-thread core must reach (the issue's target).
TARGET_IPC = 0.9
#: The core and the program build the target applies to: four threads, four workers.
TARGET_THREADS = MAX_THREADS
#: Cycles a thread's shortest loop through the pipeline takes (an ALU instruction releases its
#: thread at decode; docs/scalar.md): one thread retires at most one instruction every
#: ISSUE_LOOP cycles, and the core issues at most one a cycle.
ISSUE_LOOP = 2

#: The simulation-speed workload: program, workers of its build, threads of the core.
SPEED = ("crc", 4, 4)
#: Cycles the speed workload runs for before the bench stops it.
SPEED_CYCLES = 10_000
#: Times Verilator runs the speed workload (each run takes a fraction of a second).
VERILATOR_REPEATS = 4


@dataclass(frozen=True)
class Measured:
    """One run: ``program`` built for ``workers`` on a ``threads``-thread core in ``sim``;
    ``status`` and ``cycles`` as ``run_program``'s; ``instret`` per thread (traps excluded);
    ``seconds`` the simulation's wall-clock time (:func:`sim_seconds`)."""

    program: str
    workers: int
    threads: int
    sim: str
    status: str
    cycles: int
    instret: tuple
    seconds: float

    @property
    def total(self):
        """Instructions retired by all threads."""
        return sum(self.instret)

    def ipc(self, thread=None):
        """Instructions per cycle of ``thread``, or of all threads together."""
        n = self.total if thread is None else self.instret[thread]
        return n / self.cycles

    @property
    def bound(self):
        """The most instructions per cycle the core can retire for this build: one per
        :data:`ISSUE_LOOP` cycles per thread that has work, at most one a cycle."""
        return min(1.0, min(self.workers, self.threads) / ISSUE_LOOP)

    @property
    def name(self):
        return f"{self.program}, {self.workers} worker{'s' * (self.workers > 1)}"


def cases(programs=C_PROGRAMS):
    """The IPC runs, as ``(program, workers, threads)``: per program the 1-worker build on the
    1-thread and on the 4-thread core, and the 4-worker build on the 4-thread core."""
    return [(p, w, t) for p in programs
            for w, t in ((1, 1), (1, MAX_THREADS), (MAX_THREADS, MAX_THREADS))]


def verdict(m):
    """"met" or "not met" for a run the target applies to (:data:`TARGET_THREADS` workers on as
    many threads: total IPC at least :data:`TARGET_IPC`), else None."""
    if m.workers != TARGET_THREADS or m.threads != TARGET_THREADS:
        return None
    return "met" if m.ipc() >= TARGET_IPC else "not met"


def sim_seconds(results_xml):
    """Wall-clock seconds of the simulation: the ``time`` of cocotb's one test case in its
    ``results.xml`` (from the test's start to the run's end, without the simulator's start-up)."""
    cases_ = ET.parse(results_xml).getroot().findall(".//testcase")
    if len(cases_) != 1:
        raise BenchError(f"{results_xml}: expected one test case, found {len(cases_)}")
    return float(cases_[0].get("time"))


def measure(program, *, workers, threads, sim, max_cycles=None):
    """Run ``program`` built for ``workers`` on the ``threads``-thread core in ``sim``, no memory
    stalls, checked in lockstep; return a :class:`Measured`.

    Without ``max_cycles`` the program must report pass (within ``d1core run``'s default
    cycle limit); with it, it must pass or still be
    running at ``max_cycles`` (status "timeout"). Anything else raises :class:`BenchError`; a
    lockstep divergence raises ``verif.scalar.core_tb.LockstepError``."""
    path = riscv.c_program(program, workers=workers)
    prog = elf.load(path)
    run_dir = BUILD / "runs" / f"bench-scalar-{program}-{workers}w-{threads}t-{sim}"
    shutil.rmtree(run_dir, ignore_errors=True)  # never read a previous run's results
    r = core_tb.run_program(list(prog.segments), threads=threads, sim=sim,
                            max_cycles=max_cycles or DEFAULT_MAX_CYCLES,
                            entry=prog.entry, tohost=prog.tohost, mem_size=RAM_SIZE,
                            stall=0, latency=0, check=True, run_dir=run_dir)
    m = Measured(program, workers, threads, sim, r.status, r.cycles, tuple(r.retired),
                 sim_seconds(run_dir / "results.xml"))
    check_status(m, tohost=r.tohost, capped=max_cycles is not None)
    return m


def check_status(m, *, tohost, capped):
    """Raise :class:`BenchError` unless ``m`` ended as it must (see :func:`measure`)."""
    if m.status == "pass" or (capped and m.status == "timeout"):
        return
    raise BenchError(f"{m.name} on the {m.threads}-thread core in {m.sim}: {m.status} after "
                     f"{m.cycles} cycles (tohost {tohost:#x}); no figure from a failing run "
                     f"(`d1core run` shows why)")


def check_same(runs):
    """Raise :class:`BenchError` unless every run of the speed workload ended identically:
    same status, cycles and instructions per thread (the simulators run the same RTL)."""
    first = runs[0]
    for m in runs[1:]:
        if (m.status, m.cycles, m.instret) != (first.status, first.cycles, first.instret):
            raise BenchError(f"the speed workload ended differently: {first.sim} "
                             f"{first.status} after {first.cycles} cycles, {first.instret} "
                             f"instructions; {m.sim} {m.status} after {m.cycles} cycles, "
                             f"{m.instret} instructions")


def speed_figure(sim, workload, runs):
    """One row of the speed table: ``runs`` (:class:`Measured`) of ``workload`` in ``sim``,
    their cycles and simulation seconds summed."""
    return {"sim": sim, "workload": workload, "runs": len(runs),
            "cycles": sum(m.cycles for m in runs), "seconds": sum(m.seconds for m in runs)}


def _slash(values, fmt):
    return " / ".join(format(v, fmt) for v in values)


def _ipc_table(runs):
    rows = []
    for m in runs:
        rows.append([m.program, m.workers, m.threads, f"{m.cycles:,}",
                     _slash(m.instret, ","), f"{m.total:,}",
                     _slash((m.ipc(t) for t in range(m.threads)), ".3f"), f"{m.ipc():.3f}",
                     f"{m.bound:.2f}", verdict(m) or "—"])
    return report.markdown_table(
        ["program", "workers", "core threads", "cycles", "instructions per thread",
         "instructions", "IPC per thread", "IPC", "bound", f"target ≥ {TARGET_IPC}"], rows)


def _num(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def body(figures):
    """The markdown of the ``bench-scalar`` section from ``figures`` (``ipc``: the IPC runs;
    ``speed``: :func:`speed_figure` rows)."""
    ipc = figures["ipc"]
    four = [m for m in ipc if verdict(m) is not None]
    summary = ""
    if four:
        worst = min(four, key=lambda m: m.ipc())
        n_met = sum(verdict(m) == "met" for m in four)
        summary = (f"\n\nFour threads: the target (at least {TARGET_IPC} instructions per cycle "
                   f"in total) is met by {n_met} of {len(four)} programs; the lowest is "
                   f"{worst.program}, {worst.ipc():.3f}.")
        alone = {m.program: m for m in ipc if m.workers == m.threads == 1}
        single = [f"{m.program} {alone[m.program].ipc():.3f}" for m in four
                  if m.program in alone]
        if single:
            summary += (f" One thread alone reaches {', '.join(single)} (at most "
                        f"{1 / ISSUE_LOOP:.2f}: loads, stores, multiplications, divisions and "
                        f"line fetches take longer than its {ISSUE_LOOP}-cycle loop); "
                        f"{TARGET_THREADS} threads share one issue slot a cycle, and the "
                        f"target needs each thread to average at most "
                        f"{TARGET_THREADS / TARGET_IPC:.2f} cycles per instruction.")
    speed = figures["speed"]
    speed_table = report.markdown_table(
        ["simulator", "workload", "runs", "cycles", "simulation s", "cycles/s"],
        [[s["sim"], s["workload"], s["runs"], f"{s['cycles']:,}", f"{s['seconds']:.3g}",
          _num(s["cycles"] / s["seconds"])] for s in speed])
    rates = {}  # workload -> simulator -> cycles/s
    for s in speed:
        rates.setdefault(s["workload"], {})[s["sim"]] = s["cycles"] / s["seconds"]
    ratio = "".join(f"\n\nVerilator / Icarus speed ratio on the same workload ({w}): "
                    f"**{r['verilator'] / r['icarus']:,.0f}×**."
                    for w, r in rates.items() if set(SIMULATORS) <= set(r))
    if "load" in figures:
        ratio += (f"\n\nLoad average (one minute) when the speed runs started: "
                  f"{figures['load']:.1f} (other jobs sharing the machine slow every "
                  f"simulator down).")
    program, workers, threads = SPEED
    return (
        f"The C programs (`verif/scalar/programs/c`, built by `verif/scalar/riscv.py`) run to "
        f"completion on the RTL core in Verilator. The memory answers every request at once and "
        f"never refuses one (no stalls, zero extra latency), so the figures are the core's own. "
        f"Every retired instruction is checked in lockstep against the ISS and every program "
        f"reports pass: a wrong run gives no figure. Cycles run from reset to the end of the run "
        f"(the `tohost` write plus {core_tb.TAIL_CYCLES} cycles for in-flight retires); "
        f"instructions are those retired (thread 0's waits in `d1_thread_join` included). "
        f"*Bound*: one instruction every {ISSUE_LOOP} cycles per thread that has work, at most "
        f"one a cycle (docs/scalar.md). The "
        f"1-worker build on the 4-thread core shows one thread's rate in the barrel.\n\n"
        f"{_ipc_table(ipc).rstrip()}{summary}\n\n"
        f"### Simulation speed\n\n"
        f"Workload: {program}, {workers} workers, on the {threads}-thread core, stopped after "
        f"{SPEED_CYCLES:,} cycles (Icarus would take minutes for the whole program); everything "
        f"retired up to then checked in lockstep, and both simulators end with the same cycles "
        f"and instructions per thread. Simulated cycles per wall-clock second of the simulation "
        f"(cocotb's time for its test: reset to the end, without the simulator's start-up or the "
        f"lockstep check). Verilator runs the workload {VERILATOR_REPEATS} times; its speed over "
        f"the IPC runs above is shown too.\n\n{speed_table.rstrip()}{ratio}\n")


def run(*, sims=SIMULATORS, write=True, command="d1core bench --only scalar", progress=True):
    """Measure; print the tables; write the ``bench-scalar`` section. The IPC runs are on
    Verilator whatever ``sims`` says; ``sims`` chooses the simulators of the speed comparison.
    Returns the figures (``ipc``: :class:`Measured` per run; ``speed``: rows)."""
    def say(text):
        if progress:
            print(f"bench: scalar, {text}", file=sys.stderr, flush=True)

    figures = {"ipc": [], "speed": []}
    for program, workers, threads in cases():
        say(f"{program} ({workers} workers) on {threads} threads, verilator")
        figures["ipc"].append(measure(program, workers=workers, threads=threads,
                                      sim="verilator"))
    program, workers, threads = SPEED
    figures["load"] = os.getloadavg()[0]
    workload = f"{program}, {workers} workers, {threads} threads, first {SPEED_CYCLES:,} cycles"
    speed_runs = {}
    for sim in sims:
        repeats = VERILATOR_REPEATS if sim == "verilator" else 1
        say(f"speed workload on {sim} ({repeats} run{'s' * (repeats > 1)})")
        speed_runs[sim] = [measure(program, workers=workers, threads=threads, sim=sim,
                                   max_cycles=SPEED_CYCLES) for _ in range(repeats)]
    check_same([m for runs in speed_runs.values() for m in runs])
    for sim, runs in speed_runs.items():
        figures["speed"].append(speed_figure(sim, workload, runs))
    figures["speed"].append(speed_figure("verilator", "the IPC runs above", figures["ipc"]))
    text = body(figures)
    report.publish("bench-scalar", "Scalar core: IPC and simulation speed", text, command=command,
                   figures=figures, write=write)
    return figures
