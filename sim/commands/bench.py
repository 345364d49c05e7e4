"""``d1core bench``: simulation speed and block throughput, measured, into ``docs/results.md``.

Ten parts, each writing its own section(s): ``convert`` (the conversion unit's speed and
throughput, :mod:`sim.bench.convert`, section ``bench``), ``matmul`` (the matrix engine's
utilisation against K and its simulation speed, :mod:`sim.bench.gemm`, section ``bench-matmul``),
``sram`` (the scratchpad's bytes per cycle, :mod:`sim.bench.sram`, section ``bench-sram``),
``vector`` (the vector unit's operations per cycle per class and its simulation speed,
:mod:`sim.bench.vector`, section ``bench-vector``), ``scalar`` (the scalar core's IPC with one
and four threads on the C programs and its simulation speed, :mod:`sim.bench.scalar`, section
``bench-scalar``), ``noc`` (the mesh's latency/throughput curves, :mod:`sim.bench.noc`) and
``core`` (GEMM from C on one D1 core, :mod:`sim.bench.core`, section ``bench-core``; layer
normalisation on its vector unit, section ``bench-core-layernorm``) and ``core-speed`` (the D1
core's simulation speed against the engine alone on the same GEMM, :mod:`sim.bench.core_speed`,
section ``bench-core-speed``), ``mesh-allreduce`` (the all-reduce on the 2×2 mesh of SMALL
cores against the bound link bandwidth sets, :mod:`sim.bench.mesh_allreduce`, section
``bench-mesh-allreduce``) and ``mesh-gemm`` (the distributed GEMM on meshes of D1 cores,
:mod:`sim.bench.mesh_gemm`, section ``bench-mesh-gemm``). On request only (``--only
regression``): the wall time of ``make test`` and ``make check`` in a fresh copy of the project
(:mod:`sim.bench.regression`, sections ``bench-regression-test`` and ``bench-regression-check``).
"""

from sim.bench import (
    convert,
    core,
    core_speed,
    gemm,
    mesh_allreduce,
    mesh_gemm,
    noc,
    regression,
    scalar,
    sram,
    vector,
)
from sim.flow.toolchain import SIMULATORS

from ._common import UsageError, check_estimate, command_line, count
from .sim import BYTES_PER_CONVERSION, CONVERSIONS_PER_SECOND

__all__ = ["PARTS", "add_parser", "main", "run"]

#: The parts of the bench, in the order they run.
PARTS = ("convert", "matmul", "sram", "vector", "scalar", "noc", "core", "mesh-allreduce",
         "core-speed", "mesh-gemm")
#: Parts that run only when asked for (``--only``): the regression's own wall time (half an
#: hour and more, all of the machine).
ON_REQUEST = ("regression",)


def run(*, n=50_000, sims=SIMULATORS, write=True, command="d1core bench", parts=PARTS,
        tiers=tuple(regression.TIERS)):
    """Run the ``parts`` of the bench (each prints its tables and, with ``write``, rewrites its
    section); ``n`` is the conversion part's number of requests, ``tiers`` the regression part's
    tiers. Returns each part's figures."""
    figures = {}
    if "convert" in parts:
        figures["convert"] = convert.run(n=n, sims=sims, write=write, command=command)
    if "matmul" in parts:
        figures["matmul"] = gemm.run(sims=sims, write=write, command=command)
    if "sram" in parts:  # the scratchpad's bytes per cycle, :mod:`sim.bench.sram`, bench-sram
        figures["sram"] = sram.run(write=write, command=command)
    if "vector" in parts:  # the vector unit per class, :mod:`sim.bench.vector`, bench-vector
        figures["vector"] = vector.run(sims=sims, write=write, command=command)
    if "scalar" in parts:  # the scalar core's IPC and speed, :mod:`sim.bench.scalar`
        figures["scalar"] = scalar.run(sims=sims, write=write, command=command)
    if "noc" in parts:  # the mesh's latency/throughput curves and plots, :mod:`sim.bench.noc`
        figures["noc"] = noc.curves(write=write, command=command)
    if "core" in parts:  # GEMM from C on the D1 core, :mod:`sim.bench.core`, bench-core
        figures["core"] = core.run(write=write, command=command)
        # layer normalisation on the vector unit, bench-core-layernorm
        figures["core-layernorm"] = core.run_layernorm(write=write, command=command)
    if "mesh-allreduce" in parts:  # the all-reduce on the 2x2 mesh, bench-mesh-allreduce
        figures["mesh-allreduce"] = mesh_allreduce.run(write=write, command=command)
    if "core-speed" in parts:  # the core's simulation speed against the engine's
        figures["core-speed"] = core_speed.run(write=write, command=command)
    if "mesh-gemm" in parts:  # SUMMA on meshes of D1 cores, :mod:`sim.bench.mesh_gemm`
        figures["mesh-gemm"] = mesh_gemm.run(write=write, command=command)
    if "regression" in parts:  # make test and make check in a fresh copy, bench-regression-*
        figures["regression"] = regression.run(tiers=tiers, write=write, command=command)
    return figures



def main(args):
    """``d1core bench`` with parsed ``args``; returns the exit status."""
    sims = args.sim or SIMULATORS
    if args.only in (None, "convert"):
        for sim in sims:
            # three batches of n requests per simulator (idle and backpressure slow two)
            check_estimate(f"the convert part with --n {args.n:,} in {sim}",
                           seconds=4 * args.n / CONVERSIONS_PER_SECOND[sim],
                           memory=3 * args.n * BYTES_PER_CONVERSION, force=args.force)
    if args.tier and args.only != "regression":
        raise UsageError("--tier is an option of --only regression")
    run(n=args.n, sims=sims, write=not args.no_write, command=command_line(),
        parts=[args.only] if args.only else PARTS,
        tiers=tuple(dict.fromkeys(args.tier)) if args.tier else tuple(regression.TIERS))
    return 0


def add_parser(sub):
    """Add the ``bench`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    q = sub.add_parser("bench", help="simulation speed and throughput into docs/results.md",
                       description="Ten parts, each rewriting its section(s) of docs/results.md: "
                       "convert (the conversion unit's simulation speed and throughput), "
                       "matmul (the matrix engine's MACs per cycle against K, on Verilator, and "
                       "its simulation speed), sram (the scratchpad's bytes per cycle, on "
                       "Verilator), vector (the vector unit's operations per cycle per "
                       "class, latency, simulation speed) and scalar (the scalar core's IPC "
                       "with one and four threads on the C programs, simulation speed), noc "
                       "(the mesh's latency/throughput curves, 4x4 and 8x8, uniform and "
                       "transpose, 1 and 2 VCs, and their plots docs/noc-*.png), core (GEMM "
                       "from C on one D1 core: utilisation of the 256-MAC peak; layer "
                       "normalisation on its vector unit: lines per cycle against the vector "
                       "sequencer's bound), core-speed (the D1 core's simulation speed against "
                       "its matrix engine alone, same GEMM, same run), mesh-allreduce (the "
                       "all-reduce of FP32 arrays on the 2x2 mesh of SMALL cores: cycles "
                       "against the bound link bandwidth sets, on Verilator), mesh-gemm (the "
                       "distributed GEMM, SUMMA, on meshes of D1 cores: utilisation of the "
                       "live cores' peak, on Verilator: hours). Every "
                       "result is checked against the model. On request only (--only): "
                       "regression (the wall time of make test and make check on 2 workers "
                       "in a fresh copy of the project: half an hour or more).")
    q.add_argument("--only", choices=PARTS + ON_REQUEST,
                   help="run one part (default all but regression)")
    q.add_argument("--n", type=count(1), default=50_000,
                   help="conversion requests per run (default 50000)")
    q.add_argument("--sim", action="append", choices=SIMULATORS,
                   help="simulator of the speed measurements (repeatable; default both)")
    q.add_argument("--tier", action="append", choices=tuple(regression.TIERS),
                   help="with --only regression: the tier to measure (repeatable; default "
                   "both; each tier has its own section)")
    q.add_argument("--no-write", action="store_true", help="print only")
    q.add_argument("--force", action="store_true",
                   help="run even if the convert part's estimated time exceeds an hour")
    q.set_defaults(func=main)
    return q
