"""``d1core coverage``: line and toggle coverage of the blocks' tests, mapped to the Amaranth
source (:mod:`sim.flow.coverage`); with ``--functional``, their functional coverage (the bins of
:mod:`verif.fcov`, run by :mod:`sim.commands._fcov`)."""

import sys

from sim.flow import coverage

from . import _fcov
from ._common import UsageError, command_line, count

__all__ = ["add_parser", "main", "MAX_JOBS"]

#: The most pytest-xdist workers a selection runs on (each a Verilator build and run).
MAX_JOBS = 16


def main(args):
    """``d1core coverage`` with parsed ``args``; returns the exit status: 0 when every test
    passed, 1 when some failed (the figures are written all the same)."""
    flow = _fcov if args.functional else coverage
    try:
        names = flow.check_blocks(args.blocks)
    except ValueError as e:
        raise UsageError(str(e)) from None
    try:
        _, failed = flow.run(names, jobs=args.jobs, tests=not args.report_only,
                             write=not args.no_write, command=command_line(),
                             say=lambda line: print(line, flush=True))
    except ValueError as e:  # --report-only without counts, or unreadable databases
        raise UsageError(str(e)) from None
    if failed:
        print(f"d1core coverage: tests failed in {len(failed)} selection(s): "
              + ", ".join(s.text() for s in failed), file=sys.stderr)
        return 1
    return 0


def add_parser(sub):
    """Add the ``coverage`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    q = sub.add_parser("coverage", help="line and toggle coverage of the blocks' tests",
                       description="Runs the Verilator half of each block's tests with "
                       "Verilator's line and toggle coverage, merges the counts, maps every "
                       "point to the Amaranth line it comes from and writes an lcov tracefile "
                       "per block (build/coverage/BLOCK.info), an HTML report (with Debian's "
                       "lcov) and a table per block into docs/coverage.md. Blocks: "
                       f"{', '.join(coverage.blocks())}. Exit 1 if a test failed.")
    q.add_argument("blocks", nargs="*", metavar="BLOCK", help="blocks (default: all)")
    q.add_argument("--functional", action="store_true",
                   help="functional coverage instead: the same tests with D1CORE_FCOV set, the "
                   "bins of verif/fcov (blocks: " + ", ".join(_fcov.blocks()) + "); databases "
                   "in build/fcov/, a section per block in docs/coverage.md")
    q.add_argument("--jobs", type=count(1, MAX_JOBS), default=1,
                   help=f"pytest-xdist workers, 1..{MAX_JOBS} (default 1)")
    q.add_argument("--report-only", action="store_true",
                   help="report the counts of the last run again (build/coverage/dat/; "
                   "--functional: build/fcov/dat/), "
                   "running no test")
    q.add_argument("--no-write", action="store_true",
                   help="print the figures; leave docs/coverage.md as it is")
    q.set_defaults(func=main)
    return q
