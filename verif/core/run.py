"""Running a program on the D1 core's RTL, checked against the core model.

:func:`run_core_program` loads the image through the host port, runs it (``verif/core/core_tb.py``
has the bench), then checks three things against :class:`verif.core.model.CoreModel`:

* **lockstep**: every retired instruction, in the RTL's retire order, equals the model's for the
  same thread (the scalar core's rule, ``verif.scalar.core_tb``); a read of a clock counter
  (``mcycle``, ``cycle``, RDCTR) takes the RTL's value into the model's register;
* **memory**: every byte of the scratchpad after the run equals the model's memory;
* **the bench**: every load was accepted, every dump read answered, no stream rule broken;
* **the counters** (read by the bench after the run, :mod:`verif.core.counters`): each unit's
  causes and each thread's reasons add up to ``CYCLES``, which is the run's cycles.

A run that does not finish is reported with the watchdog's state (``state.txt``): every thread's
last pc, its queued commands and whether it sleeps at the dispatcher, and every semaphore.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from hw.core.config import CoreConfig
from hw.scalar.isa import RAM_BASE
from sim.flow.runner import run_cocotb
from verif.scalar.core_tb import LockstepError, parse_trace, reads_clock
from verif.scalar.iss import ThreadAsleep

from .core_tb import (
    STATUS,
    CoreBench,
    load_refusals,
    load_words,
    new_run_dir,
    parse_dump,
    read_summary,
)
from .counters import CounterReport, read_counters
from .model import CoreModel, reads_counter

__all__ = ["CoreRun", "run_core_program", "SIMULATORS"]

SIMULATORS = ("verilator", "icarus")


@dataclass
class CoreRun:
    """The result of :func:`run_core_program`. ``status``: "pass", "fail", "timeout", "hang";
    ``divergence`` the first lockstep mismatch or None; ``memory`` the first scratchpad lines
    that differ from the model's (``(address, rtl bytes, model bytes)``); ``watchdog`` the
    state report of a run that did not finish; ``counters`` the :class:`CounterReport` of
    every counter after the run."""

    status: str
    tohost: int
    cycles: int
    retired: list
    divergence: str | None
    checked: int
    memory: list
    proto_errors: int
    load_errors: list
    watchdog: str | None
    sim: str
    seconds: float
    run_dir: Path
    base: int = 0
    scratchpad: bytes = b""
    counters: CounterReport | None = None
    extra: dict = field(default_factory=dict)

    def read(self, addr, n):
        """``n`` bytes of the scratchpad at ``addr`` as the run left it (the dump)."""
        if not (self.base <= addr and addr + n <= self.base + len(self.scratchpad)):
            raise ValueError(f"{n} bytes at {addr:#x} are outside the scratchpad")
        return self.scratchpad[addr - self.base:addr - self.base + n]

    @property
    def test(self):
        return self.tohost >> 1 if self.status == "fail" and self.tohost & 1 else None

    def check(self):
        """Raise :class:`LockstepError` on any disagreement with the model or the bench."""
        where = f"(run in {self.run_dir})"
        if self.divergence:
            raise LockstepError(f"{self.divergence} {where}")
        if self.memory:
            addr, got, want = self.memory[0]
            raise LockstepError(f"{len(self.memory)} scratchpad lines differ from the model; "
                                f"first at {addr:#x}: RTL {got.hex()} model {want.hex()} "
                                f"{where}")
        if self.proto_errors or self.load_errors:
            raise LockstepError(f"bench: {self.proto_errors} stream-rule violations, load "
                                f"errors {self.load_errors[:4]} {where}")
        if self.counters is not None and self.counters.errors():
            raise LockstepError(f"counters: {'; '.join(self.counters.errors())} {where}")
        return self


def _watchdog(run_dir, records, threads):
    """The watchdog's report: every thread's last pc (from the trace), queued commands and
    sleep, and the semaphores (from ``state.txt``)."""
    last = {}
    for r in records:
        last[r.thread] = r.pc
    text = (Path(run_dir) / "state.txt").read_text()
    lines = [f"thread {t}: last pc {last[t]:#x}" if t in last else f"thread {t}: never retired"
             for t in range(threads)]
    return "\n".join(lines + text.strip().splitlines())


def lockstep_core(records, model):
    """Step ``model`` in the RTL's retire order; ``(checked, divergence)``."""
    for n, got in enumerate(records):
        try:
            want = model.iss.step(got.thread)
        except ThreadAsleep as e:
            return n, f"record {n}: thread {got.thread} pc {got.pc:#x} retired; {e}"
        except RuntimeError as e:
            return n, f"record {n}: thread {got.thread} pc {got.pc:#x} retired; model: {e}"
        clock = reads_clock(got.insn) or (got.insn is not None and reads_counter(got.insn))
        if (clock and want.rd is not None and got.rd == want.rd and got.trap is None
                and want.trap is None):
            model.iss.threads[got.thread].x[got.rd] = got.value
            want = got
        if got != want:
            return n, f"record {n}: got {got}; model expected {want}"
    return len(records), None


def run_core_program(image, *, config, sim="verilator", max_cycles=2_000_000, tohost=None,
                     seed=1, stall=0, check=True, waves=None, run_dir=None, halt=None):
    """Run ``image`` (``(address, bytes)`` segments) on the core ``config``; a :class:`CoreRun`.
    ``tohost``: the address of the program's tohost word (or None: the run ends at
    ``max_cycles`` or when nothing progresses); ``stall`` (0..255) pauses the dump's reads;
    ``halt``: ``(mask, at, cycles)``, the host stops the threads of ``mask`` for ``cycles``
    cycles from run cycle ``at`` (``Core.halt``)."""
    if not isinstance(config, CoreConfig):
        raise TypeError(f"config must be a CoreConfig, not {config!r}")
    if sim not in SIMULATORS:
        raise ValueError(f"sim must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    halt = (0, 0, 0) if halt is None else halt
    if not (isinstance(halt, tuple) and len(halt) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) for v in halt)
            and 0 <= halt[0] < 1 << config.threads and 0 <= halt[1] < 1 << 64
            and 0 <= halt[2] < 1 << 64):
        raise ValueError(f"halt must be (mask of the {config.threads} threads, cycle, cycles), "
                         f"cycle and cycles in 0..2**64-1, not {halt!r}")
    mask, halt_at, halt_cycles = halt
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(f"core-{config.name}-{sim}")
    run_dir.mkdir(parents=True, exist_ok=True)
    words = load_words(image, config)
    (run_dir / "load.hex").write_text("\n".join(words) + "\n")
    args = {"seed": seed, "stall": stall, "max_cycles": max_cycles, "tohost": tohost or 0,
            "tohost_en": tohost is not None, "n_load": len(words), "halt_mask": mask,
            "halt_at": halt_at, "halt_cycles": halt_cycles}
    info = run_cocotb(CoreBench(config), "verif.program_cocotb", sim, args=args,
                      harness=CoreBench.harness, test_dir=run_dir, quiet=True, waves=waves,
                      echo="  [")
    summary = read_summary(run_dir)
    records = parse_trace(run_dir / "trace.txt")
    end = STATUS.get(summary["status"], "hang")
    value = summary["tohost_value"]
    status = ("pass" if value == 1 else "fail") if end == "tohost" else end

    model = CoreModel(threads=config.threads, sram=config.sram, reset_pc=RAM_BASE,
                      tohost=tohost)
    for addr, blob in image:
        model.memory.write(addr, bytes(blob))
    checked, divergence = lockstep_core(records, model)
    dump, bad_reads = parse_dump(run_dir / "dump.hex", config)
    want = model.memory.read(config.sram.base, config.sram.size)
    memory = []
    if divergence is None:
        for off in range(0, config.sram.size, 64):
            if dump[off:off + 64] != want[off:off + 64]:
                memory.append((config.sram.base + off, dump[off:off + 64], want[off:off + 64]))
    load_errors = load_refusals(run_dir / "load_resp.hex", config)
    retired = [0] * config.threads
    for r in records:
        if r.trap is None:
            retired[r.thread] += 1
    result = CoreRun(
        status=status, tohost=value, cycles=summary["cycles"], retired=retired,
        divergence=divergence, checked=checked, memory=memory,
        proto_errors=summary["proto_errors"] + len(bad_reads), load_errors=load_errors,
        watchdog=None if end == "tohost" else _watchdog(run_dir, records, config.threads),
        sim=sim, seconds=info["test_seconds"], run_dir=run_dir, base=config.sram.base,
        scratchpad=dump, extra={"build_seconds": info["build_seconds"],
                                **{k: summary[k] for k in ("clock_cycles", "clock_seconds")}},
        counters=CounterReport.from_values(read_counters(run_dir / "counters.txt"),
                                           threads=config.threads,
                                           run_cycles=summary["cycles"]))
    if check:
        result.check()
    if not os.environ.get("D1CORE_KEEP_RUNS") and divergence is None:
        (run_dir / "dump.hex").unlink(missing_ok=True)
    return result
