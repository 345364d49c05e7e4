"""Differential fuzzing of the D1 core: random programs run on the core's RTL and on the core
model, compared (issue 20; ``d1core fuzz`` is the command).

Tesla screens cores by running random instruction streams on many of them and comparing the
results; here the other side of the comparison is the model. Each program is generated from its
seed, so a seed is the whole reproduction of a mismatch. Two kinds:

* ``core``: :func:`verif.core.random_programs.random_program`, the core's custom instructions
  (GEMMs, vector ops, DMA lists, semaphores, fences, refused commands) across every thread;
* ``scalar``: :func:`verif.scalar.random_program.random_program`, random RV64IM streams with
  traps and CSR accesses on every thread (the scalar core's lockstep programs, laid out for the
  scratchpad, without custom-0..3 words: on the D1 core those are commands, whose random
  operands could wait on a semaphore forever).

Each runs through :func:`verif.core.run.run_core_program`: every retired instruction in lockstep
with :class:`verif.core.model.CoreModel`, the whole scratchpad compared at the end, the bench's
stream checks and the counters. A program passes when all of these agree and it ends with
tohost = 1 (every generated program does on the model: the generators' tests run it there);
anything else is a mismatch, described by its first difference.

Contract
--------
:func:`fuzz` runs seeds ``seed, seed + 1, ...`` (each kind in turn for a seed) until
``programs`` programs have run or ``seconds`` have passed, and at least one program; it never
raises for a mismatch: it is in the :class:`FuzzSummary`. A program whose run or check raises
(a crash of the model or the bench, a failed build) ends it with :class:`FuzzError` naming the
seed and kind.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

from hw.common.params import check_instance, check_int
from hw.core.config import CoreConfig
from verif.scalar import random_program as scalar_random
from verif.scalar.core_tb import LockstepError

from . import random_programs as core_random
from .run import SIMULATORS, run_core_program

__all__ = ["KINDS", "SCALAR_LENGTH", "MAX_CYCLES", "FuzzError", "FuzzResult", "FuzzSummary", "fuzz",
           "fuzz_program", "generate"]

#: The kinds of random program.
KINDS = ("core", "scalar")
#: A scalar program's body instructions per thread for each of ``commands``: 20 give the 300 of
#: the scalar core's own random tests; a command of the core kind is a handful of instructions
#: that keep a unit busy for tens to hundreds of cycles, which 15 scalar instructions match.
SCALAR_LENGTH = 15
#: Longer than any generated program needs (tens of thousands of cycles at most); a run that
#: stops making progress is ended earlier by the bench's watchdog.
MAX_CYCLES = 1_000_000


class FuzzError(RuntimeError):
    """A program could not be run or checked (the model or the bench raised); the message
    starts with its seed and kind, the exception is its cause."""


@dataclass(frozen=True)
class FuzzResult:
    """One program. ``instructions``: retire records compared with the model (to the first
    difference); ``cycles`` the run's; ``detail`` None when it passed, else its first
    difference; ``sim_seconds`` the simulation's wall time; ``run_dir`` the run's files."""

    seed: int
    kind: str
    instructions: int
    cycles: int
    detail: str | None
    sim_seconds: float
    run_dir: Path | None = None

    @property
    def passed(self):
        return self.detail is None

    @property
    def verdict(self):
        return "PASS" if self.passed else "MISMATCH"


@dataclass
class FuzzSummary:
    """Every program of a :func:`fuzz` run; ``seconds`` its whole wall time (generation, model,
    builds and simulation)."""

    results: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def programs(self):
        return len(self.results)

    @property
    def instructions(self):
        return sum(r.instructions for r in self.results)

    @property
    def sim_seconds(self):
        return sum(r.sim_seconds for r in self.results)

    @property
    def mismatches(self):
        return [r for r in self.results if not r.passed]

    def rate(self, seconds):
        """Instructions compared per second of ``seconds``."""
        return self.instructions / seconds if seconds > 0 else 0.0


def generate(kind, seed, *, config, commands=20):
    """The program of ``kind`` for ``seed`` on ``config``: ``(image, tohost)``."""
    if kind == "core":
        prog = core_random.random_program(seed, threads=config.threads, commands=commands,
                                          scratchpad=config.sram.size)
        return prog.image, prog.tohost
    if kind == "scalar":
        return scalar_random.random_program(seed, threads=config.threads,
                                            length=SCALAR_LENGTH * commands, allow_custom=False,
                                            memory=config.sram.size)
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


def _difference(run):
    """The first difference of ``run`` (a :class:`verif.core.run.CoreRun`) from the model, or
    None."""
    try:
        run.check()
    except LockstepError as e:
        return str(e)
    if run.status == "pass":
        return None
    if run.status == "fail":
        return f"the program ended with tohost {run.tohost:#x}, not 1 (run in {run.run_dir})"
    state = "; ".join((run.watchdog or "").splitlines())
    return f"the run did not finish ({run.status}): {state} (run in {run.run_dir})"


def fuzz_program(kind, seed, *, config, sim="verilator", commands=20, max_cycles=MAX_CYCLES):
    """Generate the program of ``kind`` for ``seed`` and run it on the RTL against the model."""
    image, tohost = generate(kind, seed, config=config, commands=commands)
    run = run_core_program(image, config=config, sim=sim, tohost=tohost, max_cycles=max_cycles,
                           check=False)
    return FuzzResult(seed, kind, run.checked, run.cycles, _difference(run), run.seconds,
                      run.run_dir)


def fuzz(*, config, seed=0, seconds=None, programs=None, kinds=("core",), sim="verilator",
         commands=20, on_result=None, clock=time.monotonic):
    """Run random programs (module docstring) until ``programs`` have run or ``seconds`` have
    passed (one of them, or both: the first reached), at least one; a :class:`FuzzSummary`.
    ``on_result(result)`` is called after each program."""
    check_instance("config", config, CoreConfig)
    check_int("seed", seed, 0, 1 << 64)
    if seconds is None and programs is None:
        raise ValueError("give seconds or programs (or both)")
    if seconds is not None and not (isinstance(seconds, (int, float)) and seconds >= 0):
        raise ValueError(f"seconds must be a number >= 0, not {seconds!r}")
    if programs is not None:
        check_int("programs", programs, 1, 1 << 32)
    if not kinds or any(k not in KINDS for k in kinds):
        raise ValueError(f"kinds must be some of {', '.join(KINDS)}, not {kinds!r}")
    if sim not in SIMULATORS:
        raise ValueError(f"sim must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    check_int("commands", commands, 1, 40)
    summary = FuzzSummary()
    start = clock()
    s = seed
    while True:
        for kind in kinds:
            try:
                result = fuzz_program(kind, s, config=config, sim=sim, commands=commands)
            except Exception as e:  # a crash of the model or the bench: name the program
                raise FuzzError(f"seed {s} {kind}: {type(e).__name__}: {e}") from e
            summary.results.append(result)
            summary.seconds = clock() - start
            if on_result is not None:
                on_result(result)
            if ((programs is not None and summary.programs >= programs)
                    or (seconds is not None and summary.seconds >= seconds)):
                return summary
        s += 1
