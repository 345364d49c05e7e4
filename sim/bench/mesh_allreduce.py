"""The all-reduce's part of ``d1core bench`` (``--only mesh-allreduce``, section
``bench-mesh-allreduce``; docs/mesh.md, "All-reduce").

The all-reduce (``verif/mesh/programs/allreduce.c``) of :data:`SIZES` FP32 elements per core
on the 2×2 mesh of SMALL cores (Verilator), every core live and with (1, 0) dead. Every run is
checked before it gives a figure: every live core's result, read back, equal bit for bit to the
numpy model's sum (:mod:`verif.mesh.allreduce`); every core reported its timing (a REPORT
build: tohost ``(t1 << 42 | t0 << 21 | ts) << 1``, the cycle counter at its first instruction,
after its plan (the ranks and every DMA descriptor) and when the last piece had landed there;
the cores start together, so their counters agree); no packet dropped, no error. The
all-reduce's cycles: the latest ``t1`` less the earliest ``t0``, its first push to the last
byte landed everywhere; the plan's cycles (``t0 − ts``, the most of any core) beside them.

The bound (:func:`verif.mesh.allreduce.lower_bound`): every core must take in the other
cores' parts of its own chunk and the other chunks' sums, ``2·(P-1)/P`` of the array when the
chunks are equal, through its router's one eject port at a 64-byte line a cycle (the classic
bandwidth bound of an all-reduce, which reduce-scatter + all-gather meets in volume). Only the
data lines count: the NOTIFY flits that end each piece's push take that port too.

The host writes each core's input alone and reads every core's result back through the edge
port (a per-core build, :func:`verif.mesh.allreduce.allreduce_program`), and compares it bit for
bit with the model's. The SMALL core's 64 KB scratchpad bounds the sizes: the input, the
result, the received parts and 16 KB of stacks; 3,072 elements (12 KB) per core fit.
"""

import os
import sys

from hw.mesh.config import MESH_2X2
from sim.flow import report
from verif.mesh.allreduce import PIECE, allreduce_program, decode_report
from verif.mesh.run import run_mesh_program

__all__ = ["CASES", "PIECES", "SIZES", "SPLIT", "BenchError", "body", "measure", "run"]

#: Elements per core of the runs (2, 4, 8 and 12 KB of FP32).
SIZES = (512, 1024, 2048, 3072)
#: Lines per piece: the program's default (pushes overlap adds), and one piece per chunk (no
#: pipelining: at these sizes each piece's scalar work costs more than its lines' time).
PIECES = (PIECE, 32)
#: (elements per core, dead cores, lines per piece) of the runs.
CASES = (*((n, (), piece) for n in SIZES for piece in PIECES), (3072, ((1, 0),), 32))


#: The counters of the split (``verif.mesh.allreduce.REPORT_WORDS``): the vector unit adding,
#: the DMA engine reading and pushing lines; thread 0 asleep at the dispatcher (a semaphore
#: wait), issuing, held by its previous instruction (in flight), waiting for its instruction
#: line (fetch).
SPLIT = ("vector_busy", "dma_busy", "thread_waiting", "thread_issued", "thread_in_flight",
         "thread_fetch")


class BenchError(RuntimeError):
    """A run that failed its checks: it gives no figure."""


def measure(n, dead=(), *, config=MESH_2X2, piece=PIECE, sim="verilator", seed=0):
    """Run the all-reduce of ``n`` elements per core; return its figures (dict), or raise
    :class:`BenchError`."""
    program = allreduce_program(n, config=config, dead=dead, piece=piece, seed=seed,
                                report=True, per_core=True)
    name = f"all-reduce {n} on {config.name}" + (f" dead {dead}" if dead else "")
    run = run_mesh_program(program.elf, config=config, sim=sim, max_cycles=100 * n + 200_000,
                           dead=dead, segments=program.segments(),
                           reads=program.reads() + program.report_read())
    times = {}
    for c, value in enumerate(run.tohost):
        x, y = c % config.width, c // config.width
        if (x, y) in dead:
            continue
        report_ = decode_report(value)
        if report_ is None:
            raise BenchError(f"{name}: core ({x}, {y}) ended with tohost {value:#x} "
                             f"({run.status}; run in {run.run_dir})")
        times[x, y] = report_
    wrong = program.difference(run.reads[:program.p])
    counts = [program.report(raw) for raw in run.reads[program.p:]]
    if wrong is not None:
        x, y = program.ranks[wrong[0]]
        raise BenchError(f"{name}: core ({x}, {y})'s element {wrong[1]} differs from the "
                         f"numpy model's sum")
    if any(run.dropped) or any(run.failed) or any(run.refused):
        raise BenchError(f"{name}: dropped {run.dropped}, failed {run.failed}, refused "
                         f"{run.refused}")
    start = min(t0 for _, t0, _ in times.values())
    cycles = max(t1 for _, _, t1 in times.values()) - start
    bound = program.lower_bound()
    return {"n": n, "bytes": 4 * n, "cores": program.p, "dead": [list(d) for d in dead],
            "mesh": config.name, "piece": piece, "sim": sim, "cycles": cycles,
            "bound_cycles": bound, "of_bound": bound / cycles,
            "plan_cycles": max(t0 - ts for ts, t0, _ in times.values()),
            "per_core": {f"{x},{y}": t1 - t0 for (x, y), (_, t0, t1) in times.items()},
            # each unit's and thread 0's cycles over the all-reduce, the mean of the live cores
            **{k: sum(c[k] for c in counts) / len(counts) for k in SPLIT},
            "run_cycles": run.cycles, "sim_seconds": run.seconds, "load": os.getloadavg()[0]}


def body(rows):
    table = report.markdown_table(
        ["elements per core", "KB per core", "live cores", "piece (lines)", "cycles",
         "bound (cycles)",
         "bound / cycles", "bytes/cycle per core in", "adding", "DMA busy", "thread 0 asleep",
         "thread 0 issuing", "thread 0 in flight", "thread 0 fetch", "plan cycles",
         "run cycles", "sim cycles/s"],
        [[f"{r['n']:,}", f"{r['bytes'] / 1024:g}",
          f"{r['cores']}" + (f" ({', '.join(f'({x}, {y})' for x, y in r['dead'])} dead)"
                             if r["dead"] else ""),
          f"{r['piece']}", f"{r['cycles']:,}", f"{r['bound_cycles']:,}",
          f"{100 * r['of_bound']:.1f} %",
          f"{64 * r['bound_cycles'] / r['cycles']:.1f}",
          *(f"{r[k]:,.0f}" for k in SPLIT), f"{r['plan_cycles']:,}",
          f"{r['run_cycles']:,}",
          f"{r['run_cycles'] / r['sim_seconds']:,.0f}"] for r in rows])
    return ("All-reduce of FP32 arrays on the 2×2 mesh of SMALL cores (Verilator; "
            "`verif/mesh/programs/allreduce.c`: reduce-scatter then all-gather in pieces, a "
            "piece's pushes overlapping the next one's adds, the sum in a fixed order, "
            "docs/mesh.md \"All-reduce\"): cycles from the first push to the last byte of the "
            "sum landed on every live core (the cores' own cycle counters); the plan before it "
            "(the ranks and every DMA descriptor, made once per array) apart. The bound: each "
            "core takes in 2·(P−1)/P of the array (its chunk's P−1 parts, the other chunks' "
            "sums) through its router's eject port at 64 bytes a cycle; bytes/cycle per core "
            "in = those bytes over the cycles. The split, each core's counters over its part "
            "(the mean of the live cores): the vector unit busy (adding: a line a cycle), the "
            "DMA engine busy (reading and pushing lines), thread 0 asleep at the dispatcher (a "
            "semaphore wait), issuing, held by its previous instruction (in flight: a load, a "
            "store, a command to a unit) and waiting for its instruction line (fetch); the "
            "thread's counters span the reads of the counters too. Every run checked: each "
            "live core's sum bit for bit equal to the numpy model's, no packet dropped, no "
            "error (the machine's load "
            f"average during the runs: {max(r['load'] for r in rows):.1f}).\n\n" + table)


def run(*, write=True, command="d1core bench --only mesh-allreduce", progress=True,
        cases=CASES):
    """Measure every case; print the table; write the ``bench-mesh-allreduce`` section."""
    rows = []
    for n, dead, piece in cases:
        if progress:
            print(f"bench: mesh-allreduce, {n} elements per core, pieces of {piece} lines"
                  + (f", {dead} dead" if dead else ""), file=sys.stderr, flush=True)
        rows.append(measure(n, dead, piece=piece))
    report.publish("bench-mesh-allreduce", "Mesh: all-reduce", body(rows), command=command,
                   figures={"allreduce": rows}, write=write)
    return {"allreduce": rows}
