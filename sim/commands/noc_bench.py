"""``d1core noc-bench``: mesh latency and throughput against offered load (:mod:`sim.bench.noc`)."""

import sys

from sim.bench import noc

from ._common import command_line

__all__ = ["add_parser", "main"]


def main(args):
    """``d1core noc-bench`` with parsed ``args``; returns the exit status."""
    try:
        rates = [float(r) for r in args.rate.split(",")]
    except ValueError:
        print(f"d1core noc-bench: error: --rate must be numbers separated by commas, "
              f"not {args.rate!r}", file=sys.stderr)
        return 2
    try:
        noc.run(mesh=args.mesh, traffic=args.traffic, rates=rates, vcs=args.vcs,
                depth=args.depth, cycles=args.cycles, seed=args.seed, json_path=args.json,
                plot=args.plot, command=None if args.no_write else command_line())
    except noc.BenchError as e:
        print(f"d1core noc-bench: error: {e}", file=sys.stderr)
        return 2
    return 0


def add_parser(sub):
    """Add the ``noc-bench`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    q = sub.add_parser("noc-bench", help="mesh latency and throughput against offered load",
                       description="Every node injects single-flit packets as a Bernoulli "
                       "process at each rate into an unbounded source queue; reports average "
                       "and 99th-percentile latency (creation to ejection) and accepted "
                       "throughput per rate, and the saturation throughput, on Verilator.")
    q.add_argument("--mesh", default="8x8", help="mesh size WxH (default 8x8)")
    q.add_argument("--traffic", default="uniform", choices=noc.TRAFFIC)
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
    q.set_defaults(func=main)
    return q
