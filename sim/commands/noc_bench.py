"""``d1core noc-bench``: mesh latency and throughput against offered load (:mod:`sim.bench.noc`).

The results go to stdout; ``--json`` and ``--plot`` write them to files and ``--write`` into
docs/results.md (an ad-hoc run leaves the docs alone; ``d1core bench --only noc`` writes them).
Every option and output path is checked before the mesh is built."""

import sys

from sim.bench import noc

from ._common import check_estimate, check_output_path, command_line, seed_arg

__all__ = ["BYTES_PER_PACKET", "ROUTER_CYCLES_PER_SECOND", "add_parser", "main"]

#: Router-cycles simulated per second on Verilator (the slowest mesh of docs/results.md, rounded
#: down) and bytes of memory per packet (its spec entry, the JSON, the cocotb side's arrays),
#: for the estimate that refuses a run too large.
ROUTER_CYCLES_PER_SECOND = 15_000
BYTES_PER_PACKET = 512


def main(args):
    """``d1core noc-bench`` with parsed ``args``; returns the exit status."""
    try:
        rates = [float(r) for r in args.rate.split(",")]
    except ValueError:
        print(f"d1core noc-bench: error: --rate must be numbers separated by commas, "
              f"not {args.rate!r}", file=sys.stderr)
        return 2
    try:
        width, height = noc.parse_mesh(args.mesh)
    except noc.OptionError as e:
        print(f"d1core noc-bench: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        check_output_path(args.json, "--json")
    if args.plot:
        check_output_path(args.plot, "--plot", suffixes=(".png", ".svg"))
    nodes, span = width * height, args.cycles + args.cycles // 2
    if all(0 < r <= 1 for r in rates) and args.cycles >= 100:  # else noc.run says what is wrong
        check_estimate(f"noc-bench of {len(rates)} rate(s) x {args.cycles:,} cycles on a "
                       f"{width}x{height} mesh",
                       seconds=nodes * span * len(rates) / ROUTER_CYCLES_PER_SECOND,
                       memory=int(sum(rates) * args.cycles * nodes * BYTES_PER_PACKET),
                       force=args.force)
    try:
        noc.run(mesh=args.mesh, traffic=args.traffic, rates=rates, vcs=args.vcs,
                depth=args.depth, cycles=args.cycles, seed=args.seed, json_path=args.json,
                plot=args.plot, command=command_line() if args.write else None)
    except noc.OptionError as e:
        print(f"d1core noc-bench: error: {e}", file=sys.stderr)
        return 2
    return 0


def add_parser(sub):
    """Add the ``noc-bench`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    q = sub.add_parser("noc-bench", help="mesh latency and throughput against offered load",
                       description="Every node injects single-flit packets as a Bernoulli "
                       "process at each rate into an unbounded source queue; prints on stdout "
                       "the load generated, the average and 99th-percentile latency (creation "
                       "to ejection) and the accepted throughput per rate, and the saturation "
                       "throughput (accepted against generated load), on Verilator. Writes "
                       "docs/results.md only with --write.")
    q.add_argument("--mesh", default="8x8", help="mesh size WxH (default 8x8)")
    q.add_argument("--traffic", default="uniform", choices=noc.TRAFFIC)
    q.add_argument("--rate", default="0.1,0.2,0.3,0.4,0.5",
                   help="offered rates in flits/node/cycle, comma-separated")
    q.add_argument("--vcs", type=int, default=2, help="virtual channels per class (1, 2, 4)")
    q.add_argument("--depth", type=int, default=4,
                   help="buffer flits per virtual channel (1, 2, 4, 8, 16; default 4)")
    q.add_argument("--cycles", type=int, default=2000,
                   help="cycles per rate, at least 100 (default 2000)")
    q.add_argument("--seed", type=seed_arg, default=1, help="random seed, 0..2**32-1 (default 1)")
    q.add_argument("--json", metavar="FILE", help="write the results as JSON")
    q.add_argument("--plot", metavar="FILE.png",
                   help="latency against offered load: PNG (matplotlib), or SVG for .svg")
    q.add_argument("--write", action="store_true",
                   help="also write the results into docs/results.md (section "
                   "noc-<mesh>-<traffic>-v<vcs>)")
    q.add_argument("--force", action="store_true",
                   help="run even if the estimated simulation time exceeds an hour")
    q.set_defaults(func=main)
    return q
