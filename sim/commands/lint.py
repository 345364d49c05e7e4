"""``d1core lint``: Verilator ``--lint-only`` on every generated top (:mod:`sim.flow.lint`)."""

import sys

from sim.flow import lint

__all__ = ["add_parser", "main"]


def main(args):
    """``d1core lint`` with parsed ``args``; returns the exit status."""
    try:
        failing = lint.run(args.blocks or None)
    except ValueError as e:
        print(f"d1core lint: error: {e}", file=sys.stderr)
        return 2
    return 1 if failing else 0


def add_parser(sub):
    """Add the ``lint`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    q = sub.add_parser("lint", help="Verilator --lint-only on every generated top")
    q.add_argument("blocks", nargs="*", metavar="BLOCK", help="blocks (default: all)")
    q.set_defaults(func=main)
    return q
