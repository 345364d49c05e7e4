"""``d1core bench``, matrix engine: sustained MACs per cycle against K, and the engine's simulation
speed on Verilator and Icarus, measured, into ``docs/results.md``.

Utilisation. For each K, two GEMMs ``D = A·B + C`` (BF16 × BF16, FP32 C) that differ only in
their number of tile groups (a group is L = ``config.interleave`` output tiles; here one row of L
tiles): :data:`GROUPS` = 2 and 4 groups, M = groups × tile rows, N = L × tile columns. The
*whole-GEMM* utilisation is the 4-group GEMM's M·N·K over its cycles (first input word to last
row of D) over the peak; the *steady-state* utilisation is the marginal rate between the two,
(MACs₄ − MACs₂) / (cycles₄ − cycles₂) / peak, in which the pipeline's filling and emptying (the
first group's C rows, the FMA latency, the last group's drain) cancel. All GEMMs of an engine run
as batches of one simulator launch, with no idle input cycles and no backpressure, and every
element and flag of every GEMM is checked against ``verif.matmul.model.matmul``: a figure never
comes from a wrong run. The sweep runs on Verilator only.

Simulation speed. One D1 workload on both simulators, as simulated cycles per wall-clock second
of its batch (the bulk harness drives; cocotb starts and checks). Icarus simulates the 256-FMA
engine at about a cycle per second, so its speed is first measured on a tiny GEMM (one tile,
K = :data:`PROBE_K`), and a GEMM with a larger K is run only if it fits in what is left of
:data:`ICARUS_BUDGET_S`; otherwise the probe is the workload. Verilator runs the same GEMM (the
same operands) as one more batch of its sweep.
"""

import sys
import time

import numpy as np

from hw.matmul.config import PRESETS
from sim.flow import report
from verif.matmul.engine_tb import check_result, operands
from verif.matmul.gemm_run import GEMM_DESIGNS, gemm_batch
from verif.matmul.model import matmul
from verif.matmul.tiling import gemm_output
from verif.stream_run import run_stream

__all__ = ["SWEEP_K", "GROUPS", "PROBE_K", "ICARUS_BUDGET_S", "group_shape", "run_checked",
           "utilisation", "schedule_bound", "sweep", "workload_k", "icarus_speed", "run"]

#: K of the utilisation sweep.
SWEEP_K = (8, 16, 32, 64, 128, 256, 512, 1024)

#: Tile groups of the two GEMMs per K (fewer, more) whose difference gives the steady-state rate.
GROUPS = (2, 4)

#: K of the tiny GEMM (one tile) Icarus's speed is first measured on.
PROBE_K = 4

#: Wall-clock seconds Icarus's part of the bench may take (build, probe, workload).
ICARUS_BUDGET_S = 180

#: Times Verilator runs Icarus's workload (a few hundredths of a second each), to time it.
VERILATOR_REPEATS = 10

#: The operand formats of every bench GEMM (keywords of ``gemm_batch`` and of the model).
FORMATS = {"a_fmt": "bf16", "a_bias": None, "b_fmt": "bf16", "b_bias": None}

#: The utilisation the engine must sustain once the pipeline is full, and from which K.
TARGET, TARGET_K = 0.97, 256

SEED = 2026


def group_shape(config, groups, k):
    """``(M, N, K)`` of a GEMM of ``groups`` whole tile groups on ``config``'s engine: each group
    one row of L tiles."""
    return groups * config.tile_rows, config.interleave * config.tile_cols, k


def run_checked(design, config, shapes, sim, *, progress=True):
    """Run one GEMM per ``(M, N, K)`` of ``shapes`` on ``design`` (``config``'s engine in the bulk
    harness) in ``sim``, as the batches of one launch, and check every element and flag against
    the model (raises :class:`verif.scoreboard.Mismatch`).

    A GEMM's operands depend only on its shape (seeded by it), so a shape is the same workload on
    every simulator. Returns ``(runs, info)``: per GEMM a dict with ``m``, ``n``, ``k``, ``macs``
    (M·N·K), ``cycles`` (first input word to last row of D), ``sim_cycles`` and ``seconds`` (the
    whole batch, as the harness counted and timed it); and ``run_stream``'s info dict.
    """
    gemms, batches = [], []
    for m, n, k in shapes:
        a, b, c = operands(np.random.default_rng([SEED, m, n, k]), m, n, k, kind="normal")
        plan, batch = gemm_batch(config, a, b, c, **FORMATS, label=f"{m}x{n}x{k} GEMM")
        gemms.append((plan, a, b, c))
        batches.append(batch)
    responses, summary, info = run_stream(design, batches, sim, seed_port="cfg",
                                          progress=progress)
    runs = []
    for (plan, a, b, c), words, s in zip(gemms, responses, summary, strict=True):
        d, flags, cycles = gemm_output(plan, words, s["cycles"])
        exp_d, exp_f = matmul(a, b, c, **FORMATS)
        check_result(d, flags, exp_d, exp_f, c=c,
                     what=f"bench GEMM {plan.m}x{plan.n}x{plan.k} on {config.name} in {sim}")
        runs.append({"m": plan.m, "n": plan.n, "k": plan.k, "macs": plan.macs, "cycles": cycles,
                     "sim_cycles": s["cycles"], "seconds": s["seconds"]})
    return runs, info


def utilisation(config, fewer, more):
    """The figures of one K from the runs of its two GEMMs (``fewer`` and ``more`` tile groups):
    ``whole`` (the larger GEMM's share of the peak), ``steady`` (the marginal rate's share),
    their MACs per cycle and both GEMMs' cycles."""
    peak = config.macs_per_cycle
    whole = more["macs"] / more["cycles"]
    steady = (more["macs"] - fewer["macs"]) / (more["cycles"] - fewer["cycles"])
    return {"k": more["k"], "cycles": (fewer["cycles"], more["cycles"]),
            "whole_macs_per_cycle": whole, "whole": whole / peak,
            "steady_macs_per_cycle": steady, "steady": steady / peak}


def schedule_bound(config, k):
    """The steady-state utilisation the input schedule allows at ``k``
    (``verif.matmul.tiling.bench_words``): group g+1's L × tile_rows C rows ride with group g's
    L·K beats from beat L + c_delay on, one per word, and those that do not fit follow alone, so
    a group takes max(L·K, L + c_delay + L × tile_rows) words."""
    L = config.interleave
    return L * k / max(L * k, L + config.fma_c_delay + L * config.tile_rows)


def sweep(design, config, ks=SWEEP_K, *, sim="verilator", extra=(), progress=True):
    """Utilisation against K on ``config``'s engine, and the GEMMs of shapes ``extra`` in the
    same launch. Returns ``(rows, runs, info)``: one :func:`utilisation` dict per K, and the
    :func:`run_checked` runs, the sweep's (``len(GROUPS)`` per K) then ``extra``'s."""
    shapes = [group_shape(config, g, k) for k in ks for g in GROUPS]
    runs, info = run_checked(design, config, shapes + list(extra), sim, progress=progress)
    rows = [utilisation(config, runs[2 * i], runs[2 * i + 1]) for i in range(len(ks))]
    return rows, runs, info


def workload_k(config, probe, spent, budget_s):
    """K of the largest one-tile GEMM a second Icarus launch can run in what is left of
    ``budget_s`` seconds, ``spent`` seconds having gone on the probe's launch (``probe``: its
    :func:`run_checked` run, whose batch took ``probe["seconds"]``). The launch costs what the
    probe's did beyond its batch; a GEMM takes L cycles per k plus the probe's other cycles."""
    rate = probe["sim_cycles"] / probe["seconds"]
    launch = spent - probe["seconds"]
    fixed = probe["sim_cycles"] - config.interleave * probe["k"]
    return int(((budget_s - spent - launch) * rate - fixed) // config.interleave)


def icarus_speed(design, config, *, budget_s=ICARUS_BUDGET_S, progress=True):
    """Icarus's speed on the engine: a one-tile GEMM of K = :data:`PROBE_K`, then one of the K
    :func:`workload_k` allows if that is at least twice as long. Returns ``(run, info)`` of the
    workload measured (the probe if nothing twice as long fits)."""
    t0 = time.monotonic()
    shape = (config.tile_rows, config.tile_cols, PROBE_K)
    (probe,), info = run_checked(design, config, [shape], "icarus", progress=progress)
    k = workload_k(config, probe, time.monotonic() - t0, budget_s)
    if k < 2 * PROBE_K:
        return probe, info
    (run,), info = run_checked(design, config, [shape[:2] + (k,)], "icarus",
                               progress=progress)
    return run, info


def _pct(x):
    return f"{100 * x:.1f}"


def _num(x):
    """A positive figure to three significant digits, with thousands separators above 1000."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _body(figures):
    """The markdown of the ``bench-matmul`` section."""
    unit, engine = PRESETS["SMALL"], PRESETS["D1"]
    u, e = figures["SMALL"], figures["D1"]
    rows = [[r["k"], _pct(ru["whole"]), _pct(ru["steady"]), _pct(r["whole"]), _pct(r["steady"]),
             f"{r['whole_macs_per_cycle']:.1f}", f"{r['steady_macs_per_cycle']:.1f}",
             f"{r['cycles'][0]:,} / {r['cycles'][1]:,}"]
            for ru, r in zip(u, e, strict=True)]
    table = report.markdown_table(
        ["K", "unit whole %", "unit steady %", "engine whole %", "engine steady %",
         "engine MACs/cycle whole", "engine MACs/cycle steady",
         f"engine cycles {GROUPS[0]} / {GROUPS[1]} groups"], rows)
    steady = [r["steady"] for r in e if r["k"] >= TARGET_K]
    verdict = ""
    if steady:
        ok = min(steady) >= TARGET
        verdict = (f"\n\nEngine steady state for K ≥ {TARGET_K}: at least "
                   f"**{_pct(min(steady))} %** of the peak "
                   f"({'meets' if ok else '**misses**'} the {_pct(TARGET)} % target).")

    bounds, reached = [], True
    for name, cfg, cfg_rows in (("unit", unit, u), ("engine", engine, e)):
        below = [(r, b) for r in cfg_rows if (b := schedule_bound(cfg, r["k"])) < 1]
        reached &= all(abs(r["steady"] - b) < 5e-4 for r, b in below)
        if below:
            bounds.append(f"{name} " + ", ".join(f"{_pct(b)} % at K = {r['k']}"
                                                  for r, b in below))
    limits = ""
    if bounds:
        limits = (f"\n\nWhat limits the steady state at small K is the input schedule: the next "
                  f"group's L × tile-rows C rows ride with a group's L·K beats from beat "
                  f"L + c_delay = {engine.interleave + engine.fma_c_delay} on, one per beat, and "
                  f"those that do not fit follow alone, so a group takes "
                  f"max(L·K, L + c_delay + L × tile rows) cycles. That bound, where it is below "
                  f"100 %: {'; '.join(bounds)} (the steady figures above "
                  f"{'reach it' if reached else 'fall short of it'}).")

    def shapes(cfg):
        return " and ".join(f"{m}×{n}×K" for m, n, _ in (group_shape(cfg, g, 0) for g in GROUPS))

    speed = figures["speed"]
    speed_rows = [[s["sim"], s["workload"], s["runs"], f"{s['cycles']:,}", _num(s["seconds"]),
                   _num(s["cycles"] / s["seconds"])] for s in speed]
    speed_table = report.markdown_table(
        ["simulator", "workload (D1, BF16 × BF16 + C)", "runs", "cycles", "seconds", "cycles/s"],
        speed_rows)
    rates = {}  # workload -> simulator -> cycles/s
    for s in speed:
        rates.setdefault(s["workload"], {})[s["sim"]] = s["cycles"] / s["seconds"]
    ratio = "".join(f"\n\nVerilator / Icarus speed ratio on the D1 engine, same run and "
                    f"workload ({w}): **{r['verilator'] / r['icarus']:,.0f}×**."
                    for w, r in rates.items() if len(r) == 2)
    if "icarus_s" in figures:
        ratio += (f" Icarus's part of the bench took {figures['icarus_s']:.0f} s: its "
                  f"batches, the build (unless cached) and loading the design into the "
                  f"simulator, once per launch.")
    return (
        f"BF16 × BF16 + C (random values around the middle of BF16's range), no idle input "
        f"cycles, no backpressure; every element and flag of every GEMM checked against the "
        f"reference model. **Unit**: preset SMALL, one {unit.unit_rows}×{unit.unit_cols} array, "
        f"peak {unit.macs_per_cycle} MACs/cycle, {unit.tile_rows}×{unit.tile_cols} tiles. "
        f"**Engine**: preset D1, {engine.units} arrays as a {engine.block_rows}×"
        f"{engine.block_cols} block, peak {engine.macs_per_cycle} MACs/cycle, "
        f"{engine.tile_rows}×{engine.tile_cols} tiles. A group is L = {engine.interleave} tiles "
        f"(one row of tiles here).\n\n"
        f"Per K, two GEMMs of {GROUPS[0]} and {GROUPS[1]} tile groups (unit {shapes(unit)}, "
        f"engine {shapes(engine)}). *Whole*: the {GROUPS[1]}-group GEMM's M·N·K over its cycles "
        f"(first input word to last row of D). *Steady*: (MACs({GROUPS[1]}) − MACs({GROUPS[0]})) / "
        f"(cycles({GROUPS[1]}) − cycles({GROUPS[0]})), the rate once the pipeline is full "
        f"(filling and draining cancel). Simulated on Verilator only (Icarus is too slow for "
        f"the sweep).\n\n{table}{verdict}{limits}\n\n"
        f"### Simulation speed of the D1 engine\n\n"
        f"Simulated cycles per wall-clock second of the batch (the bulk harness drives; cocotb "
        f"starts and checks). Icarus first runs a {engine.tile_rows}×{engine.tile_cols}×"
        f"{PROBE_K} probe, then a longer GEMM only if it fits in what is left of "
        f"{ICARUS_BUDGET_S} s for its part of the bench; Verilator runs the same GEMM (the same "
        f"operands) {VERILATOR_REPEATS} times, and the whole sweep above.\n\n"
        f"{speed_table}{ratio}\n")


def run(*, sims=("verilator", "icarus"), write=True, command="d1core bench", progress=True):
    """Measure; print the tables; write the ``bench-matmul`` section. Returns the figures: per
    preset its :func:`utilisation` rows, and the speed measurements. The sweep runs on Verilator
    whatever ``sims`` says; ``sims`` chooses the simulators of the speed comparison."""
    figures = {"speed": []}

    def speed(sim, workload, runs):
        figures["speed"].append({"sim": sim, "workload": workload, "runs": len(runs),
                                 "cycles": sum(r["sim_cycles"] for r in runs),
                                 "seconds": sum(r["seconds"] for r in runs)})

    def gemm_name(r):
        return f"{r['m']}×{r['n']}×{r['k']} GEMM"

    extra = []
    if "icarus" in sims:
        print("bench: matmul, D1 on icarus (speed)", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        run_ic, _ = icarus_speed(GEMM_DESIGNS["D1"], PRESETS["D1"], progress=progress)
        figures["icarus_s"] = time.monotonic() - t0
        extra = [(run_ic["m"], run_ic["n"], run_ic["k"])] * VERILATOR_REPEATS
        speed("icarus", gemm_name(run_ic), [run_ic])
    for preset in ("D1", "SMALL"):
        print(f"bench: matmul, {preset} on verilator (K sweep)", file=sys.stderr, flush=True)
        rows, runs, _ = sweep(GEMM_DESIGNS[preset], PRESETS[preset],
                              extra=extra if preset == "D1" else (), progress=progress)
        figures[preset] = rows
        if preset == "D1":
            n = len(GROUPS) * len(rows)
            if extra:
                speed("verilator", gemm_name(runs[n]), runs[n:])
            speed("verilator", "the K sweep", runs[:n])
    body = _body(figures)
    report.publish("bench-matmul", "Matrix engine: utilisation and simulation speed", body,
                   command=command, figures=figures, write=write)
    return figures
