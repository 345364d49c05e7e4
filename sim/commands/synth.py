"""``d1core synth``: the synthesis report of every block (:mod:`sim.flow.synth`)."""

import sys

from sim.flow import synth

from ._common import command_line

__all__ = ["add_parser", "main"]


def main(args):
    """``d1core synth`` with parsed ``args``; returns the exit status."""
    try:
        synth.run(args.blocks or None, command=command_line())
    except ValueError as e:
        print(f"d1core synth: error: {e}", file=sys.stderr)
        return 2
    return 0


def add_parser(sub):
    """Add the ``synth`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    q = sub.add_parser("synth", help="synthesis report of every block",
                       description="Yosys generic cells, flip-flops, memory bits, CMOS "
                       "transistors, iCE40/ECP5 LUTs and the longest path per block; writes "
                       "docs/results.md and build/synth.json.")
    q.add_argument("blocks", nargs="*", metavar="BLOCK", help="blocks (default: all)")
    q.set_defaults(func=main)
    return q
