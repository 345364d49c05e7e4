"""``d1core sim``: the default demonstration, a design doing real work, checked against the model.

``--demo train`` (the default, what ``make sim`` runs) is the data-parallel training step on the
2×2 mesh of SMALL cores (:func:`run_train_demo`; issue 18's third program,
``verif/mesh/programs/train.c``): every core trains a two-layer MLP on its shard of the batch,
the gradients all-reduced over the mesh, SGD on FP32 masters with stochastically rounded BF16
weights; the loss of every step is printed, and every core's losses, weights and masters are
compared bit for bit with the numpy model (:mod:`verif.mesh.train`).

``--demo kernel`` is kernel 1 with kernel 2 on one D1 core
(:func:`run_kernel_demo`): the C program ``verif/core/kernels/gemm_rm.c`` computes D = A·B from
row-major BF16 A and B (:data:`DEFAULT_KERNEL`, or ``--shape``), the vector unit laying out Aᵀ
while the matrix engine multiplies, and the fused epilogue turns every finished piece of D into
BF16(ReLU(D + bias)); the RTL runs in lockstep with the core model, the whole scratchpad is
compared with the model's, D with the SoftFloat-based GEMM reference and the BF16 output with
the vector model's. ``--demo gemm`` runs :data:`DEFAULT_GEMM` on the D1 matrix engine alone
through ``d1core gemm``'s :func:`sim.commands.gemm.run`. ``--demo convert`` is the conversion unit
quantizing a random FP32 tensor (:func:`run_convert_demo`): the tensor goes to every format
(BF16, CFP8 1-4-3 at bias 7, CFP8 1-5-2 at bias 15, SHP at bias 15, UHP), with
round-to-nearest-even and with stochastic rounding, and every result comes back to FP32 through
the unit's widening path. Every response is checked bit for bit (value and flags) against
the reference model; the report gives cycles, conversions per cycle and the round-trip error.
"""

import argparse
import sys
import time

import numpy as np

from hw.core.config import D1
from hw.fp.formats import FLAG_INEXACT, FLAG_OVERFLOW, FLAG_UNDERFLOW, Round, get_format
from hw.mesh.config import MESH_2X2
from sim.flow.report import markdown_table
from verif.core.kernels import gemm_rm_kernel
from verif.core.run import run_core_program
from verif.fp import stimulus as st
from verif.fp.convert import convert_requests
from verif.fp.convert_run import run_convert
from verif.fp.convert_tb import describe_request
from verif.mesh.run import run_mesh_program
from verif.mesh.train import train_program
from verif.scalar import riscv

from . import gemm
from ._common import UsageError, check_estimate, count, seed_arg, sim_option, waves_of

__all__ = ["DEFAULT_GEMM", "DEFAULT_KERNEL", "DEFAULT_STEPS", "DEMO_FORMATS", "add_parser",
           "main", "run_convert_demo", "run_kernel_demo", "run_train_demo"]

#: The GEMM of ``--demo gemm``: M, N, K, BF16 x BF16 with C, on the D1 engine.
DEFAULT_GEMM = (64, 64, 64)
#: The default demo's problem: M, N, K of kernel 1 with 2 (BF16) on one D1 core.
DEFAULT_KERNEL = (256, 256, 256)
#: Each of M, N, K of ``--shape`` is at most this (the operands must fit the scratchpad).
KERNEL_DIM_MAX = 1024
#: Simulated D1-core cycles per second, for the estimate that refuses a run too long.
CORE_CYCLES_PER_SECOND = {"verilator": 800, "icarus": 4}
#: SGD steps of the default demo (``--steps``), and at most.
DEFAULT_STEPS = 3
STEPS_MAX = 16
#: Mesh cycles of the training demo: per step, and for loading, starting and reading (measured
#: on the 2×2 SMALL mesh: about 7,000 and 6,500; rounded up), and simulated mesh cycles per
#: second on a loaded machine (docs/mesh.md: 230-400 on Verilator, 10 on Icarus).
TRAIN_CYCLES = (8_000, 8_000)
MESH_CYCLES_PER_SECOND = {"verilator": 250, "icarus": 8}

#: Conversions per simulated second (with Python's part) and bytes of memory per conversion of
#: the conversion demo, for the estimate that refuses a run too large (rounded pessimistically).
CONVERSIONS_PER_SECOND = {"verilator": 100_000, "icarus": 5_000}
BYTES_PER_CONVERSION = 256

#: (format, bias) pairs the demo quantizes to.
DEMO_FORMATS = (("bf16", 0), ("cfp8_143", 7), ("cfp8_152", 15), ("shp", 15), ("uhp", 31))


def _tensor(rng, n):
    """A random FP32 tensor spanning many binades: normal samples scaled by 2**U(-10, 10)."""
    x = rng.standard_normal(n) * np.exp2(rng.uniform(-10, 10, n))
    return x.astype(np.float32)


def _report_mismatches(req, exp, got, limit=8):
    bad = np.flatnonzero((exp[0] != got["data"]) | (exp[1] != got["flags"]))
    for i in bad[:limit]:
        print("  " + describe_request(req, int(i), exp[0], exp[1], got["data"], got["flags"]),
              file=sys.stderr)
    return len(bad)


def run_convert_demo(*, sim="verilator", n=65536, seed=1, waves=None):
    """Run the conversion demo; print the report; return the number of mismatching responses."""
    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    x = _tensor(rng, n)
    bits = x.view(np.uint32).astype(np.uint64)
    batches, expected = [], []
    for k, (name, bias) in enumerate(DEMO_FORMATS):
        for rnd in (Round.RNE, Round.SR):
            req = st.requests(bits, st.NARROW, name, bias, rnd)
            s = seed * 100 + k
            exp = convert_requests(req["data"], req["op"], req["fmt"], req["bias"], req["rnd"],
                                   seed=s)
            batches.append({"req": req, "seed": s, "label": f"FP32 -> {name} {rnd.name}"})
            expected.append(exp)
            back = st.requests(exp[0].astype(np.uint64), st.WIDEN, name, bias)
            batches.append({"req": back, "seed": s, "label": f"{name} -> FP32"})
            expected.append(convert_requests(back["data"], back["op"], back["fmt"],
                                             back["bias"], back["rnd"], seed=s))
    print(f"d1core sim: a {n}-element random FP32 tensor through the conversion unit "
          f"({sim}), {len(batches)} batches, every response checked against the model",
          file=sys.stderr)
    results, summary, info = run_convert(batches, sim, waves=waves)
    t_check = time.perf_counter()

    rows, failures = [], 0
    total_cycles = sum(s["cycles"] for s in summary)
    for i in range(0, len(batches), 2):
        name, bias = DEMO_FORMATS[i // 4]
        fmt = get_format(name)
        narrow_exp, widen_exp = expected[i], expected[i + 1]
        bad = _report_mismatches(batches[i]["req"], narrow_exp, results[i])
        bad += _report_mismatches(batches[i + 1]["req"], widen_exp, results[i + 1])
        failures += bad
        back = results[i + 1]["data"].astype(np.uint32).view(np.float32).astype(np.float64)
        ok = np.isfinite(x) & (x != 0) & ((x > 0) | fmt.signed)  # UHP has no negatives
        rel = np.abs(back[ok] - x[ok]) / np.abs(x[ok])
        flags = results[i]["flags"].astype(np.int64)
        cycles = summary[i]["cycles"] + summary[i + 1]["cycles"]
        rows.append([fmt.title, bias, batches[i]["label"].split()[-1], 2 * n, cycles,
                     f"{2 * n / cycles:.3f}", bad,
                     f"{np.sqrt(np.mean(rel ** 2)):.2e}",
                     int((flags & FLAG_OVERFLOW != 0).sum()),
                     int((flags & FLAG_UNDERFLOW != 0).sum()),
                     int((flags & FLAG_INEXACT != 0).sum())])
    print(markdown_table(["format", "bias", "round", "conversions", "cycles", "conv/cycle",
                          "mismatches", "round-trip RMS rel. error", "overflow", "underflow",
                          "inexact"], rows))
    conversions = 2 * n * len(DEMO_FORMATS) * 2
    checking = time.perf_counter() - t_check
    print(f"\n{conversions} conversions in {total_cycles} cycles "
          f"({conversions / total_cycles:.3f} per cycle, peak 1)")
    print(gemm.timing_line(time.perf_counter() - t_start, convert=info["convert_seconds"],
                           build=info["build_seconds"],
                           simulation=sum(s["seconds"] for s in summary), checking=checking,
                           cycles=total_cycles))
    if info.get("waves"):
        print(f"waves: {info['waves']}")
    print("PASS: every response matches the reference model" if failures == 0 else
          f"FAIL: {failures} responses differ from the reference model (first ones above)")
    return failures


def check_convert_size(n, *, sim, force=False):
    """Refuse a conversion demo of ``n`` elements too large for memory or the time limit."""
    conversions = 4 * len(DEMO_FORMATS) * n
    check_estimate(f"the conversion demo of {n:,} elements ({conversions:,} conversions) in {sim}",
                   seconds=conversions / CONVERSIONS_PER_SECOND[sim],
                   memory=conversions * BYTES_PER_CONVERSION, force=force)


def shape_arg(text):
    """argparse type of ``--shape``: ``MxNxK``, each in 1..KERNEL_DIM_MAX."""
    parts = str(text).lower().split("x")
    try:
        dims = tuple(int(p, 10) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) != 3:
        raise argparse.ArgumentTypeError(f"the shape must be MxNxK (three integers), not {text!r}")
    if not all(1 <= d <= KERNEL_DIM_MAX for d in dims):
        raise argparse.ArgumentTypeError(
            f"M, N and K must be in 1..{KERNEL_DIM_MAX}, not {text!r}")
    return dims


def run_kernel_demo(*, shape=DEFAULT_KERNEL, sim="verilator", seed=1, waves=None,
                    rounding="rne", force=False):
    """Kernel 1 with 2 on one D1 core (the module docstring); print the report; return the
    number of failed checks. Raises :class:`UsageError` for a run too long (without ``force``)
    or a problem that does not fit the scratchpad."""
    m, n, k = shape
    cycles = m * n * k // D1.matmul.macs_per_cycle + 5_000
    check_estimate(f"kernel 1 with 2 at {m}x{n}x{k} on the D1 core in {sim}",
                   seconds=cycles / CORE_CYCLES_PER_SECOND[sim], force=force)
    t_start = time.perf_counter()
    try:
        kern = gemm_rm_kernel(m, n, k, epilogue=rounding, seed=seed)
    except riscv.BuildError as e:
        if "overflow" in str(e):
            raise UsageError(f"{m}x{n}x{k}: the kernel's operands and buffers do not fit the "
                             f"scratchpad") from None
        raise
    print(f"d1core sim: kernel 1 with 2 on one D1 core ({sim}): D = A·B from row-major BF16 "
          f"A ({m}x{k}) and B ({k}x{n}), the vector unit laying out Aᵀ while the engine "
          f"multiplies, then OUT = BF16(ReLU(D + bias)) ({rounding.upper()}) on every finished "
          f"piece; checked in lockstep with the core model and against the references",
          file=sys.stderr)
    run = run_core_program(kern.image, config=D1, sim=sim, tohost=kern.program.tohost,
                           max_cycles=4 * cycles + 100_000, check=False, waves=waves)
    t_check = time.perf_counter()
    failures = []
    try:
        run.check()
    except AssertionError as e:
        failures.append(f"the RTL differs from the core model: {e}")
    if run.status != "pass":
        failures.append(f"the program ended with {run.status}"
                        + (f"\n{run.watchdog}" if run.watchdog else ""))
    failures += kern.output_errors(run.read)
    res = kern.results(run.read)
    peak = D1.matmul.macs_per_cycle
    macs = m * n * k
    if res["cycles"]:
        print(f"{m}x{n}x{k}: {macs} MACs in {res['cycles']:,} kernel cycles (first instruction to "
              f"the last byte of the output; {res['head']:,} to the first GEMM queued): "
              f"{macs / res['cycles']:.1f} MACs/cycle, {100 * macs / (peak * res['cycles']):.2f} "
              f"% of the {peak}-MAC peak; the vector unit busy {res['vector_busy']:,} cycles")
    print(gemm.timing_line(time.perf_counter() - t_start, convert=0.0,
                           build=run.extra.get("build_seconds", 0.0), simulation=run.seconds,
                           checking=time.perf_counter() - t_check, cycles=run.cycles))
    print("PASS: D and the BF16 output match the references, the RTL matches the core model"
          if not failures else "FAIL: " + "; ".join(failures))
    return len(failures)


def run_train_demo(*, steps=DEFAULT_STEPS, sim="verilator", seed=1, force=False):
    """The training step on the 2×2 mesh of SMALL cores (the module docstring); print the loss
    of every step and the report; return the number of failed checks. Raises
    :class:`UsageError` for a run too long (without ``force``)."""
    config = MESH_2X2
    per_step, fixed = TRAIN_CYCLES
    cycles = steps * per_step + fixed
    check_estimate(f"the training demo ({steps} steps) on the 2x2 mesh in {sim}",
                   seconds=cycles / MESH_CYCLES_PER_SECOND[sim], force=force)
    t_start = time.perf_counter()
    program = train_program(config=config, steps=steps, seed=seed)
    s = program.sizes
    print(f"d1core sim: the data-parallel training step on the {config.width}x{config.height} "
          f"mesh of SMALL cores ({sim}): a {s.din}-{s.hidden}-{s.dout} MLP (ReLU, BF16 "
          f"weights, FP32 masters), a batch of {s.batch} rows in {program.p} shards of "
          f"{program.bmax}, mean squared error, {steps} SGD steps (lr {s.lr}); every core: "
          f"forward and backward GEMMs, the gradients all-reduced over the mesh, the update "
          f"rounded stochastically; checked bit for bit against the numpy model",
          file=sys.stderr)
    t_model = time.perf_counter() - t_start
    run = run_mesh_program(program.elf, config=config, sim=sim, max_cycles=8 * cycles,
                           segments=program.segments(), reads=program.reads())
    t_check = time.perf_counter()
    failures = []
    if run.status != "pass":
        failures.append(f"the run ended with {run.status} (tohost {run.tohost})"
                        + (f"\n{run.watchdog}" if run.watchdog else ""))
    else:
        failures += program.errors(run.reads)
    if any(run.dropped) or any(run.failed) or any(run.refused):
        failures.append(f"the network dropped {run.dropped}, failed {run.failed}, refused "
                        f"{run.refused}")
    want = program.losses()
    got = [float(v) for v in program.decode(run.reads)[0]["losses"][:, 0].view(np.float32)] \
        if run.status == "pass" else [float("nan")] * steps
    print(markdown_table(["step", "loss (the mesh)", "loss (the model)", "bit for bit"],
                         [[i, f"{g:.8f}", f"{w:.8f}", "yes" if g == w else "no"]
                          for i, (g, w) in enumerate(zip(got, want, strict=True))]))
    print(f"{steps} steps in {run.cycles:,} mesh cycles (the cores' start to the last "
          f"one's end, loading excluded); simulated at {run.speed:,.0f} mesh cycles/s")
    t_end = time.perf_counter()
    # run.seconds is the simulation alone: converting and building the mesh come before it
    build = t_check - t_start - t_model - run.seconds
    print(f"time: {t_end - t_start:.1f} s (program and model {t_model:.1f} s, conversion "
          f"and build {build:.1f} s, simulation {run.seconds:.1f} s, checking "
          f"{t_end - t_check:.1f} s)")
    print("PASS: every core's losses, BF16 weights and FP32 masters equal the model's bit for "
          "bit" if not failures else "FAIL: " + "; ".join(failures))
    return len(failures)


def main(args):
    """``d1core sim`` with parsed ``args``; returns the exit status."""
    if args.shape is not None and args.demo != "kernel":
        print("d1core sim: error: --shape is an option of --demo kernel", file=sys.stderr)
        return 2
    if args.steps is not None and args.demo != "train":
        print("d1core sim: error: --steps is an option of --demo train", file=sys.stderr)
        return 2
    if args.demo == "train":
        if args.n is not None:
            print("d1core sim: error: --n is an option of --demo convert", file=sys.stderr)
            return 2
        if waves_of(args):
            print("d1core sim: error: --waves is not an option of --demo train (the mesh's "
                  "bench records no waveform)", file=sys.stderr)
            return 2
        try:
            bad = run_train_demo(steps=args.steps or DEFAULT_STEPS, sim=args.sim,
                                 seed=args.seed, force=args.force)
        except UsageError as e:
            print(f"d1core sim: error: {e}", file=sys.stderr)
            return 2
        return 1 if bad else 0
    if args.demo == "kernel":
        if args.n is not None:
            print("d1core sim: error: --n is an option of --demo convert", file=sys.stderr)
            return 2
        try:
            bad = run_kernel_demo(shape=args.shape or DEFAULT_KERNEL, sim=args.sim,
                                  seed=args.seed, waves=waves_of(args), force=args.force)
        except UsageError as e:
            print(f"d1core sim: error: {e}", file=sys.stderr)
            return 2
        return 1 if bad else 0
    if args.demo == "convert":
        n = 65536 if args.n is None else args.n
        check_convert_size(n, sim=args.sim, force=args.force)
        bad = run_convert_demo(sim=args.sim, n=n, seed=args.seed, waves=waves_of(args))
        return 1 if bad else 0
    if args.n is not None:
        print("d1core sim: error: --n is an option of --demo convert", file=sys.stderr)
        return 2
    m, n, k = DEFAULT_GEMM
    try:
        bad = gemm.run(m=m, n=n, k=k, seed=args.seed, sim=args.sim, preset="D1",
                       waves=waves_of(args), force=args.force)
    except gemm.GemmError as e:
        print(f"d1core sim: error: {e}", file=sys.stderr)
        return 2
    return 1 if bad else 0


def add_parser(sub):
    """Add the ``sim`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    q = sub.add_parser("sim", help="run the default demo simulation, checked against the model",
                       description="The default demo (--demo train): the data-parallel "
                       "training step of a two-layer MLP on the 2x2 mesh of SMALL cores, "
                       "every core on its shard of the batch, the gradients all-reduced over "
                       "the mesh, SGD with stochastically rounded BF16 weights; prints the loss "
                       "of every step, every core checked bit for bit against the numpy model. "
                       "--demo kernel: kernel 1 with 2 on one "
                       "D1 core, a {}x{}x{} BF16 GEMM from row-major A and B (the vector unit "
                       "laying out Aᵀ while the matrix engine multiplies) with the fused "
                       "epilogue BF16(ReLU(D + bias)), a C program checked in lockstep with the "
                       "core model, D and the output bit for bit against the references; prints "
                       "cycles and the utilisation of the 256-MAC peak. --demo gemm: a {}x{}x{} "
                       "BF16 GEMM D = A·B + C on the D1 matrix engine alone (as `d1core gemm`, "
                       "which takes any shape and format). --demo convert: a random FP32 tensor "
                       "through the conversion unit in every format and back, with RNE and SR, "
                       "checked the same way.".format(*DEFAULT_KERNEL, *DEFAULT_GEMM))
    sim_option(q)
    q.add_argument("--demo", choices=["train", "kernel", "gemm", "convert"], default="train",
                   help="what to simulate (default train)")
    q.add_argument("--steps", type=count(1, STEPS_MAX),
                   help=f"SGD steps of --demo train (default {DEFAULT_STEPS})")
    q.add_argument("--shape", type=shape_arg,
                   help="MxNxK of --demo kernel (default {}x{}x{})".format(*DEFAULT_KERNEL))
    q.add_argument("--n", type=count(1),
                   help="tensor elements of --demo convert (default 65536)")
    q.add_argument("--seed", type=seed_arg, default=1,
                   help="random seed, 0..2**32-1 (default 1)")
    q.add_argument("--force", action="store_true",
                   help="run even if the estimated simulation time exceeds an hour")
    q.set_defaults(func=main)
    return q
