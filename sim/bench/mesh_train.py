"""The training step's part of ``d1core bench`` (``--only mesh-train``, section
``bench-mesh-train``; docs/mesh.md, "The training step").

The data-parallel training step (``verif/mesh/programs/train.c``) on the 2×2 mesh of SMALL
cores (Verilator), every core live and with (1, 0) dead: :data:`STEPS` SGD steps of the default
MLP (:func:`verif.mesh.train.train_program`). Every run is checked before it gives a figure:
every live core's losses, BF16 weights and FP32 masters read back equal bit for bit to the
numpy model's; no packet dropped, no error.

The split, from the program's own cycle stamps (a REPORT build: at the start of each step,
when its backward GEMMs are done, when the all-reduce is done and fenced, and when the update
is done, every core reads its cycle counter, its matrix, vector and DMA units' busy counters and
thread 0's waiting counter; the host reads them back), per step, the mean of the live cores:

* compute: the forward and backward passes (the GEMMs, ReLU, the loss and its gradient) and the
  update (SGD on the masters, the stochastic rounding, W2ᵀ) in cycles, with the matrix and the
  vector units' busy cycles in them;
* communication: the gradient all-reduce (first push to the sum landed here, and this core's
  pushes answered), with the DMA engine's busy cycles;
* waiting: thread 0 asleep at the dispatcher (a semaphore wait or a fence) in the compute
  phases (for its own units' results) and in the all-reduce (for other cores' data);
* the mesh's counters over the whole run: the request flits on the links between routers, per
  step.

The stamps cost about 100 scalar-core cycles each (four a step): the REPORT build's steps are
that much longer than the tests' and ``make sim``'s.
"""

import os
import sys

import numpy as np

from hw.mesh.config import MESH_2X2
from sim.bench import BenchError
from sim.flow import report
from verif.mesh.run import run_mesh_program
from verif.mesh.train import REPORT_STAMPS, REPORT_WORDS, train_program

__all__ = ["CASES", "STEPS", "BenchError", "body", "measure", "run"]

#: SGD steps of each run.
STEPS = 3
#: The dead cores of the runs.
CASES = ((), ((1, 0),))


def _split(rep):
    """One core's report (steps × stamps × words) as per-step figures (dicts)."""
    w = {name: i for i, name in enumerate(REPORT_WORDS)}
    s = {name: i for i, name in enumerate(REPORT_STAMPS)}
    rep = rep.astype(np.int64)
    out = []
    for step in rep:
        def span(a, b, word, step=step):
            return int(step[s[b], w[word]] - step[s[a], w[word]])
        fwd, ar, upd = (("start", "backward_done"), ("backward_done", "allreduce_done"),
                        ("allreduce_done", "update_done"))
        out.append({
            "cycles": span("start", "update_done", "cycles"),
            "compute": span(*fwd, "cycles") + span(*upd, "cycles"),
            "forward_backward": span(*fwd, "cycles"), "update": span(*upd, "cycles"),
            "allreduce": span(*ar, "cycles"),
            "matrix_busy": span("start", "update_done", "matrix_busy"),
            "vector_busy": span("start", "update_done", "vector_busy"),
            "dma_busy": span("start", "update_done", "dma_busy"),
            "waiting_compute": span(*fwd, "thread_waiting") + span(*upd, "thread_waiting"),
            "waiting_allreduce": span(*ar, "thread_waiting")})
    return out


def measure(dead=(), *, config=MESH_2X2, steps=STEPS, sim="verilator", seed=0):
    """Run the training step with ``dead`` cores; return its figures (dict), or raise
    :class:`BenchError`."""
    program = train_program(config=config, dead=dead, steps=steps, seed=seed, report=True)
    name = f"the training step on {config.name}" + (f" dead {dead}" if dead else "")
    run = run_mesh_program(program.elf, config=config, sim=sim, max_cycles=20_000 * steps
                           + 100_000, dead=dead, segments=program.segments(),
                           reads=program.reads())
    if run.status != "pass":
        raise BenchError(f"{name}: {run.status}, tohost {run.tohost} (run in {run.run_dir})")
    errors = program.errors(run.reads)
    if errors:
        raise BenchError(f"{name}: {errors[0]}")
    if any(run.dropped) or any(run.failed) or any(run.refused):
        raise BenchError(f"{name}: dropped {run.dropped}, failed {run.failed}, refused "
                         f"{run.refused}")
    cores = [_split(core["report"]) for core in program.decode(run.reads)]
    per_step = [{k: sum(c[i][k] for c in cores) / len(cores) for k in cores[0][i]}
                for i in range(steps)]
    flits = sum(request for request, _ in run.links.values())
    s = program.sizes
    return {"mesh": config.name, "dead": [list(d) for d in dead], "cores": program.p,
            "shard": program.bmax, "sizes": [s.din, s.hidden, s.dout], "batch": s.batch,
            "steps": steps, "sim": sim, "per_step": per_step,
            "gradient_floats": s.words(), "link_flits_per_step": flits / steps,
            "losses": program.losses(), "run_cycles": run.cycles, "sim_seconds": run.seconds,
            "load": os.getloadavg()[0]}


#: The per-step columns of the table: (figure, heading).
COLUMNS = (("cycles", "cycles"), ("forward_backward", "forward + backward"),
           ("allreduce", "all-reduce"), ("update", "update"),
           ("matrix_busy", "matrix busy"), ("vector_busy", "vector busy"),
           ("dma_busy", "DMA busy"), ("waiting_compute", "thread 0 waiting (compute)"),
           ("waiting_allreduce", "thread 0 waiting (all-reduce)"))


def body(rows):
    table = report.markdown_table(
        ["live cores", "step", *(h for _, h in COLUMNS), "compute share",
         "link flits a step"],
        [[f"{r['cores']}" + (f" ({', '.join(f'({x}, {y})' for x, y in r['dead'])} dead)"
                             if r["dead"] else ""), i,
          *(f"{step[k]:,.0f}" for k, _ in COLUMNS),
          f"{100 * step['compute'] / step['cycles']:.1f} %",
          f"{r['link_flits_per_step']:,.0f}"]
         for r in rows for i, step in enumerate(r["per_step"])])
    r0 = rows[0]
    din, hidden, dout = r0["sizes"]
    return ("The data-parallel training step on the 2×2 mesh of SMALL cores (Verilator; "
            "`verif/mesh/programs/train.c`, docs/mesh.md \"The training step\"): a "
            f"{din}-{hidden}-{dout} MLP (ReLU, BF16 weights, FP32 masters), a global batch of "
            f"{r0['batch']} rows in one shard per live core, mean squared error, SGD with "
            "stochastically rounded weights; the gradients "
            f"({r0['gradient_floats']:,} FP32 a core) all-reduced every step. Per step, the "
            "mean of the live cores, from each core's cycle stamps and counters (a REPORT "
            "build): its cycles, split into the forward and backward passes, the all-reduce "
            "(first push to the sum landed, its pushes answered) and the update; the matrix, "
            "vector and DMA units' busy cycles over the step; thread 0 asleep at the "
            "dispatcher in the compute phases (its own units' results) and in the all-reduce "
            "(other cores' data); the compute share (forward, backward and update over the "
            "step); the request flits on the links between routers a step (the mesh's "
            "counters over the run). Every run checked: each live core's losses, BF16 "
            "weights and FP32 masters bit for bit equal to the numpy model's, no packet "
            "dropped, no error (the machine's load average during the runs: "
            f"{max(r['load'] for r in rows):.1f}).\n\n" + table)


def run(*, write=True, command="d1core bench --only mesh-train", progress=True, cases=CASES):
    """Measure every case; print the table; write the ``bench-mesh-train`` section."""
    rows = []
    for dead in cases:
        if progress:
            print("bench: mesh-train" + (f", {dead} dead" if dead else ""), file=sys.stderr,
                  flush=True)
        rows.append(measure(dead))
    report.publish("bench-mesh-train", "Mesh: the training step", body(rows), command=command,
                   figures={"train": rows}, write=write)
    return {"train": rows}
