"""``d1core noc-plot``: several ``noc-bench`` results drawn into one plot."""

import sys

from sim.bench import noc

from ._common import check_output_path

__all__ = ["add_parser", "main"]


def main(args):
    """``d1core noc-plot`` with parsed ``args``; returns the exit status."""
    check_output_path(args.out, "--out", suffixes=(".png", ".svg"))
    try:
        noc.draw(args.out, [noc.load_result(path) for path in args.results])
    except (OSError, noc.OptionError) as e:
        print(f"d1core noc-plot: error: {e}", file=sys.stderr)
        return 2
    return 0


def add_parser(sub):
    """Add the ``noc-plot`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    q = sub.add_parser("noc-plot", help="draw several noc-bench results into one plot",
                       description="Latency against offered load of the noc-bench JSON "
                       "results given, one line per result.")
    q.add_argument("results", nargs="+", metavar="FILE.json", help="noc-bench --json files")
    q.add_argument("--out", required=True, metavar="FILE.png", help="the plot (.png or .svg)")
    q.set_defaults(func=main)
    return q
