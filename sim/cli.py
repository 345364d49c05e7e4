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
    d1core model      performance model of the core, die, training tile and ExaPOD

``d1core COMMAND --help`` describes each. Exit status: 0 success, 1 a check failed (mismatch,
lint error), 2 bad usage or input.

Each command is a module of :mod:`sim.commands` with its parser (``add_parser``) and its body
(``main``); this module only dispatches.
"""

import argparse
import sys

from sim.commands import (
    bench,
    gemm,
    lint,
    model,
    noc_bench,
    noc_plot,
    noc_prove,
    run,
    synth,
    vectors,
)
from sim.commands import sim as sim_command

__all__ = ["main"]

#: The commands, in the order ``d1core --help`` lists them.
COMMANDS = (sim_command, vectors, gemm, synth, bench, noc_bench, noc_plot, noc_prove, lint, run,
            model)


def _parser():
    p = argparse.ArgumentParser(prog="d1core", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    if getattr(args, "n", 1) is not None and getattr(args, "n", 1) < 1:
        print(f"d1core {args.command}: error: --n must be at least 1", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
