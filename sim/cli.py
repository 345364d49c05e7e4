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
    d1core fuzz       random programs on the core's RTL, compared with the model
    d1core mutate     mutation testing: how many injected bugs a block's tests catch
    d1core coverage   line and toggle coverage of the blocks' tests (docs/coverage.md)

``d1core COMMAND --help`` describes each.

Exit status, the same for every command:
  0  pass: the run finished and every check passed
  1  the design or a check failed (mismatch, lint error, failing or trapping program, timeout)
  2  bad usage or input (options, files, sizes, seeds), refused before any build or simulation
  3  an internal error: one line names the exception and where it was raised, and the file under
     build/crash/ that holds the full traceback

Each command is a module of :mod:`sim.commands` with its parser (``add_parser``) and its body
(``main``); this module only dispatches.
"""

import argparse
import os
import sys
import time
import traceback

from sim.commands import (
    bench,
    coverage,
    fuzz,
    gemm,
    lint,
    model,
    mutate,
    noc_bench,
    noc_plot,
    noc_prove,
    run,
    synth,
    vectors,
)
from sim.commands import sim as sim_command
from sim.commands._common import UsageError, check_waves_env
from sim.flow import toolchain

__all__ = ["main"]

#: The commands, in the order ``d1core --help`` lists them.
COMMANDS = (sim_command, vectors, gemm, synth, bench, noc_bench, noc_plot, noc_prove, lint, run,
            model, fuzz, mutate, coverage)


#: Exit statuses (the module docstring; ``d1core --help`` prints them).
PASS, FAILED, BAD_INPUT, INTERNAL_ERROR = 0, 1, 2, 3


def _parser():
    """The ``d1core`` parser and its subcommands' parsers by name."""
    doc = __doc__.split("\n\n")
    p = argparse.ArgumentParser(prog="d1core", description=doc[0], epilog="\n\n".join(doc[2:4]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    return p, {command.add_parser(sub).prog.split()[-1]: command for command in COMMANDS}


def _subparser(parser, name):
    for action in parser._subparsers._group_actions:
        if name in action.choices:
            return action.choices[name]
    return parser


def crash_report(exc, argv):
    """Write ``exc``'s traceback and the command line under build/crash/; return the path."""
    crash = toolchain.BUILD / "crash"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    try:
        crash.mkdir(parents=True, exist_ok=True)
        path = crash / f"{stamp}-{os.getpid()}.txt"
        path.write_text("d1core " + " ".join(argv) + "\n\n" + "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__)))
    except OSError:  # build/ not writable: the traceback goes to the temporary directory
        import tempfile

        fd, name = tempfile.mkstemp(prefix=f"d1core-crash-{stamp}-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=f)
        path = name
    return path


def _where(exc):
    """``file:line`` of the innermost frame of ``exc``'s traceback."""
    tb = traceback.extract_tb(exc.__traceback__)
    return f"{tb[-1].filename}:{tb[-1].lineno}" if tb else "?"


def main(argv=None):
    """Run ``d1core`` with ``argv`` (default ``sys.argv[1:]``); return the exit status (never
    raises: usage errors return 2, internal errors 3 with the traceback in a file)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, _ = _parser()
    name = "d1core"
    try:
        args, extra = parser.parse_known_args(argv)
        name = f"d1core {args.command}"
        if extra:  # reported by the command's own parser, with its usage
            _subparser(parser, args.command).error(
                f"unrecognized arguments: {' '.join(extra)}")
        check_waves_env()
        return args.func(args)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2, message printed)
        return e.code if isinstance(e.code, int) else BAD_INPUT
    except UsageError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the one place a bug becomes exit status 3
        path = crash_report(e, argv)
        first = str(e).splitlines()[0] if str(e) else ""
        print(f"{name}: internal error: {type(e).__name__}: {first} (at {_where(e)}); full "
              f"traceback in {path}", file=sys.stderr)
        return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
