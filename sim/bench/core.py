"""The D1 core's part of ``d1core bench`` (``--only core``, section ``bench-core``).

GEMM from C on one D1 core. The GEMM kernel (``verif/core/kernels/gemm.c``: one block in the
engine's layout, Aᵀ and B row-major in the scratchpad) runs on the RTL D1 core (Verilator) for
each shape and format of :data:`CASES`; the row-major kernels (``gemm_rm.c``: kernel 1 from
row-major A and B, kernel 2 with the fused epilogue) for each of :data:`RM_CASES`, held against
:data:`RM_TARGET` and, for kernel 2, its cycles against kernel 1's (:data:`EPILOGUE_TARGET`).
Every run is checked before it gives a figure: every
retired instruction in lockstep with the core model, the whole scratchpad equal to the model's,
D equal bit for bit to the SoftFloat-based reference, the error register clear. The kernel reads
the cycle counter before its first instruction and after the block's signal (the last byte of D
written): utilisation = M·N·K / (256 · those cycles), held against the issue's targets
(:data:`TARGETS`). The matrix unit's counters say where the other cycles went.

Layer normalisation on the vector unit (section ``bench-core-layernorm``,
:func:`run_layernorm`): the kernel ``verif/core/kernels/layernorm.c`` at :data:`LAYERNORM_CASES`
on the D1 core, checked as the GEMM (its output against the same operations in numpy); its
lines per cycle against the vector sequencer's bound (:func:`measure_layernorm`) and the vector
unit's counters.

Simulation speed: the run phase's cycles (from ``go`` to the end of the run) per second of the
simulator's own time for the whole test (loading and the dump included, so a lower bound).
"""

import os
import sys
import time

from hw.core.config import D1
from hw.core.counters import UNIT_CAUSES
from sim.bench import BenchError
from sim.flow import report
from verif.core.kernels import gemm_kernel, gemm_rm_kernel
from verif.core.kernels.layernorm import layernorm_kernel
from verif.core.run import run_core_program

__all__ = ["CASES", "EPILOGUE_TARGET", "LAYERNORM_CASES", "RM_CASES", "RM_TARGET", "TARGETS",
           "measure", "measure_layernorm", "measure_rm", "run", "run_layernorm", "run_rm"]

#: (M, N, K, format) of the GEMM runs.
CASES = ((256, 256, 256, "bf16"), (256, 256, 256, "cfp8"), (256, 256, 512, "bf16"),
         (256, 256, 512, "cfp8"))
#: The utilisation each case must reach (the issue's targets for operands in the engine's
#: layout: 97 % at 256³, the same for CFP8, 98 % at K = 512).
TARGETS = {(256, 256, 256): 0.97, (256, 256, 512): 0.98}


def _checked_run(kern, what, *, max_cycles, config, sim):
    """Run ``kern`` on the RTL core; return ``(run, wall seconds)`` once the run passed its
    checks (lockstep, scratchpad, counters) and ended at ``tohost``, or raise
    :class:`BenchError` naming ``what``."""
    t0 = time.monotonic()
    run = run_core_program(kern.image, config=config, sim=sim, tohost=kern.program.tohost,
                           max_cycles=max_cycles, check=False)
    wall = time.monotonic() - t0
    try:
        run.check()
    except AssertionError as e:
        raise BenchError(f"{what}: {e}") from None
    if run.status != "pass":
        raise BenchError(f"{what}: the kernel ended with {run.status}")
    return run, wall


def measure(m, n, k, fmt, *, config=D1, sim="verilator", seed=0):
    """Run the GEMM kernel; return its figures (dict), or raise :class:`BenchError`."""
    kern = gemm_kernel(m, n, k, fmt=fmt, seed=seed)
    run, wall = _checked_run(
        kern, f"{m}x{n}x{k} {fmt}", config=config, sim=sim,
        max_cycles=4 * m * n * k // config.matmul.macs_per_cycle + 100_000)
    errors = kern.output_errors(run.read)
    if errors:
        raise BenchError(f"{m}x{n}x{k} {fmt}: {'; '.join(errors)}")
    res = kern.results(run.read)
    peak = config.matmul.macs_per_cycle
    return {"m": m, "n": n, "k": k, "fmt": fmt, "core": config.name, "sim": sim,
            "cycles": res["cycles"], "beats": res["busy"],
            "utilisation": m * n * k / (peak * res["cycles"]),
            "operand": res["operand"], "port": res["port"],
            "run_cycles": run.cycles, "sim_seconds": run.seconds, "wall_seconds": wall,
            "target": TARGETS.get((m, n, k)), "load": os.getloadavg()[0]}


def body(rows):
    table = report.markdown_table(
        ["M×N×K", "format", "kernel cycles", "beats (busy)", "utilisation", "target",
         "waiting for operands", "waiting on a port", "run cycles", "sim cycles/s"],
        [[f"{r['m']}×{r['n']}×{r['k']}", r["fmt"].upper(), f"{r['cycles']:,}",
          f"{r['beats']:,}", f"{100 * r['utilisation']:.2f} %",
          "-" if r["target"] is None else
          f"≥ {100 * r['target']:.0f} % {'met' if r['utilisation'] >= r['target'] else 'MISSED'}",
          f"{r['operand']:,}", f"{r['port']:,}", f"{r['run_cycles']:,}",
          f"{r['run_cycles'] / r['sim_seconds']:,.0f}"] for r in rows])
    return ("GEMM from C on one D1 core (Verilator), operands in the engine's layout "
            "(`verif/core/kernels/gemm.c`): kernel cycles from its first instruction to the "
            "block's signal (the last byte of D written); utilisation = M·N·K / (256 · kernel "
            "cycles). Every run in lockstep with the core model, the whole scratchpad equal "
            "to the model's, D bit for bit equal to the SoftFloat-based reference. The "
            "matrix unit's counters (cumulative from reset) say where the other cycles went; "
            "sim cycles/s counts the run phase over the whole simulation (loading and the "
            "dump of the scratchpad included; the machine's load average during the runs: "
            f"{max(r['load'] for r in rows):.1f}).\n\n" + table)


# --- kernels 1 and 2: row-major operands, the fused epilogue (gemm_rm.c) ----------------------

#: (M, N, K, format, epilogue) of the row-major GEMM runs: kernel 1 (no epilogue) at the
#: issue's shapes, and kernel 2 (the fused epilogue, RNE) at 256³ BF16 beside its kernel 1 row.
RM_CASES = ((256, 256, 256, "bf16", None), (256, 256, 256, "cfp8", None),
            (256, 256, 512, "bf16", None), (256, 256, 512, "cfp8", None),
            (256, 256, 256, "bf16", "rne"), (256, 256, 256, "bf16", "sr"))
#: The utilisation kernel 1 must reach from row-major operands (its own layout included).
RM_TARGET = 0.95
#: Kernel 2's cycles may exceed kernel 1's at the same shape by this fraction at most.
EPILOGUE_TARGET = 0.03


def measure_rm(m, n, k, fmt, epilogue=None, *, config=D1, sim="verilator", seed=0):
    """Run the row-major GEMM kernel; return its figures (dict), or raise :class:`BenchError`:
    every run checked as :func:`measure`'s, and the epilogue's BF16 output bit for bit equal to
    the vector model's."""
    kern = gemm_rm_kernel(m, n, k, fmt=fmt, epilogue=epilogue, seed=seed)
    what = f"row-major {m}x{n}x{k} {fmt}{' + epilogue ' + epilogue if epilogue else ''}"
    run, wall = _checked_run(
        kern, what, config=config, sim=sim,
        max_cycles=4 * m * n * k // config.matmul.macs_per_cycle + 100_000)
    errors = kern.output_errors(run.read)
    if errors:
        raise BenchError(f"{what}: {'; '.join(errors)}")
    res = kern.results(run.read)
    peak = config.matmul.macs_per_cycle
    return {"m": m, "n": n, "k": k, "fmt": fmt, "epilogue": epilogue, "core": config.name,
            "sim": sim, "head_k": kern.head_k, "np_cols": kern.np_cols,
            "cycles": res["cycles"], "head": res["head"], "beats": res["busy"],
            "utilisation": m * n * k / (peak * res["cycles"]),
            "vector_busy": res["vector_busy"], "operand": res["operand"], "port": res["port"],
            "run_cycles": run.cycles, "sim_seconds": run.seconds, "wall_seconds": wall,
            "load": os.getloadavg()[0]}


def run_rm(cases=RM_CASES, *, progress=True):
    """Measure the row-major cases; their rows."""
    rows = []
    for m, n, k, fmt, epilogue in cases:
        if progress:
            print(f"bench: core, row-major GEMM {m}x{n}x{k} {fmt}"
                  f"{' + epilogue ' + epilogue if epilogue else ''} on D1, verilator",
                  file=sys.stderr, flush=True)
        rows.append(measure_rm(m, n, k, fmt, epilogue))
    return rows


def rm_body(rows):
    """The row-major table, with each epilogue row held against the kernel 1 row of its shape."""
    plain = {(r["m"], r["n"], r["k"], r["fmt"]): r for r in rows if not r["epilogue"]}

    def target(r):
        if not r["epilogue"]:
            met = "met" if r["utilisation"] >= RM_TARGET else "MISSED"
            return f"≥ {100 * RM_TARGET:.0f} % {met}"
        base = plain.get((r["m"], r["n"], r["k"], r["fmt"]))
        if base is None:
            return "-"
        extra = r["cycles"] / base["cycles"] - 1
        ok = extra <= EPILOGUE_TARGET
        return (f"+{100 * extra:.2f} % over kernel 1 (≤ {100 * EPILOGUE_TARGET:.0f} % "
                f"{'met' if ok else 'MISSED'})")

    table = report.markdown_table(
        ["M×N×K", "format", "kernel", "head split", "kernel cycles", "head", "beats (busy)",
         "utilisation", "target", "vector busy", "waiting for operands", "waiting on a port",
         "sim cycles/s"],
        [[f"{r['m']}×{r['n']}×{r['k']}", r["fmt"].upper(),
          f"2 (epilogue, {r['epilogue'].upper()})" if r["epilogue"] else "1",
          f"{r['head_k']}" if r["head_k"] else "none", f"{r['cycles']:,}", f"{r['head']:,}",
          f"{r['beats']:,}", f"{100 * r['utilisation']:.2f} %", target(r),
          f"{r['vector_busy']:,}", f"{r['operand']:,}", f"{r['port']:,}",
          f"{r['run_cycles'] / r['sim_seconds']:,.0f}"] for r in rows])
    return ("GEMM from C on one D1 core (Verilator) from **row-major** A and B "
            "(`verif/core/kernels/gemm_rm.c`): the vector unit lays out Aᵀ by ZIP rounds, "
            "slab by slab, double-buffered with the GEMMs (the first slab split at the head "
            "split, its parts packed by the DMA); kernel 2 adds the fused epilogue (bias, ReLU, "
            "BF16) on every finished piece of D. Kernel cycles from the first instruction to "
            "the last byte written (D, or the BF16 output); head: cycles to the first GEMM "
            "queued; utilisation = M·N·K / (256 · kernel cycles). Checked as above, and the "
            "epilogue's output bit for bit equal to the vector model's.\n\n" + table)


def run(*, write=True, command="d1core bench --only core", progress=True, cases=CASES,
        rm_cases=RM_CASES):
    """Measure every case (engine layout, then row-major); print the tables; write the
    ``bench-core`` section."""
    rows = []
    for m, n, k, fmt in cases:
        if progress:
            print(f"bench: core, GEMM {m}x{n}x{k} {fmt} on D1, verilator", file=sys.stderr,
                  flush=True)
        rows.append(measure(m, n, k, fmt))
    rm_rows = run_rm(rm_cases, progress=progress)
    text = "\n\n".join(([body(rows)] if rows else []) + ([rm_body(rm_rows)] if rm_rows else []))
    report.publish("bench-core", "D1 core: GEMM from C", text, command=command,
                   figures={"gemm": rows, "gemm_rm": rm_rows}, write=write)
    return {"gemm": rows, "gemm_rm": rm_rows}


# --- kernel 3: layer normalisation on the vector unit (section bench-core-layernorm) ----------

#: (rows, cols) of the layer-normalisation runs.
LAYERNORM_CASES = ((64, 1024),)


def measure_layernorm(rows, cols, *, config=D1, sim="verilator", seed=0):
    """Run the layer-normalisation kernel; return its figures (dict), or raise
    :class:`BenchError`. The peak: the vector sequencer enters one line a cycle into the unit,
    two lines every three cycles for ops reading three operands (docs/core.md), so the
    kernel's lines need at least ``two + 1.5·three`` cycles (``vop_lines``)."""
    kern = layernorm_kernel(rows, cols, seed=seed)
    two, three = kern.vop_lines()
    name = f"layernorm {rows}x{cols}"
    run, wall = _checked_run(kern, name, config=config, sim=sim,
                             max_cycles=20 * (two + three) + 100_000)
    if not (kern.y_from(run.read) == kern.reference()).all():
        raise BenchError(f"{name}: the output differs from the numpy reference")
    res = kern.results(run.read)
    if res["status"]:
        raise BenchError(f"{name}: error register {res['status']:#x}")
    if res["busy"] != two + three:
        raise BenchError(f"{name}: {res['busy']} busy cycles for {two + three} lines")
    bound = two + 1.5 * three
    return {"rows": rows, "cols": cols, "core": config.name, "sim": sim,
            "cycles": res["cycles"], "lines": two + three, "three_operand_lines": three,
            "bound_cycles": bound, "lines_per_cycle": (two + three) / res["cycles"],
            "of_peak": bound / res["cycles"],
            **{c: res[c] for c in UNIT_CAUSES}, "flags": res["flags"],
            "run_cycles": run.cycles, "sim_seconds": run.seconds, "wall_seconds": wall,
            "load": os.getloadavg()[0]}


def layernorm_body(rows):
    table = report.markdown_table(
        ["rows × cols", "kernel cycles", "lines (3-operand)", "lines/cycle",
         "sequencer bound", "of the bound", *UNIT_CAUSES, "run cycles", "sim cycles/s"],
        [[f"{r['rows']}×{r['cols']}", f"{r['cycles']:,}",
          f"{r['lines']:,} ({r['three_operand_lines']:,})", f"{r['lines_per_cycle']:.3f}",
          f"{r['bound_cycles']:,.0f}", f"{100 * r['of_peak']:.1f} %",
          *(f"{r[c]:,}" for c in UNIT_CAUSES), f"{r['run_cycles']:,}",
          f"{r['run_cycles'] / r['sim_seconds']:,.0f}"] for r in rows])
    return ("Layer normalisation of FP32 rows on the vector unit, BF16 out, from C on one D1 "
            "core (Verilator; `verif/core/kernels/layernorm.c`): kernel cycles from its first "
            "VOP to the fence after its last. A line is one 64-byte vector operation (16 FP32 "
            "lanes); the vector unit takes one a cycle, and the vector sequencer feeds it one "
            "line a cycle for ops reading one or two operands and two lines every three cycles "
            "for FMAs (three operands, docs/core.md): the sequencer bound is lines + 0.5 · "
            "three-operand lines cycles, the kernel's peak. The vector unit's counters over the "
            "kernel: busy (a line entering the unit: exactly the kernel's lines), waiting on a "
            "port, for operands (reads, and each phase's wait for the previous one), held by "
            "backpressure, idle. Every run in lockstep with the core model, the whole "
            "scratchpad equal to the model's, the output bit for bit equal to the same "
            "operations in numpy (the machine's load average during the runs: "
            f"{max(r['load'] for r in rows):.1f}).\n\n" + table)


def run_layernorm(*, write=True, command="d1core bench --only core", progress=True,
                  cases=LAYERNORM_CASES):
    """Measure every layer-normalisation case; print the table; write the
    ``bench-core-layernorm`` section."""
    rows = []
    for r, c in cases:
        if progress:
            print(f"bench: core, layernorm {r}x{c} on D1, verilator", file=sys.stderr,
                  flush=True)
        rows.append(measure_layernorm(r, c))
    text = layernorm_body(rows)
    report.publish("bench-core-layernorm", "D1 core: layer normalisation on the vector unit", text,
                   command=command, figures={"layernorm": rows}, write=write)
    return {"layernorm": rows}
