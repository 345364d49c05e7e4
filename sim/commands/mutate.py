"""``d1core mutate``: mutation testing of a block's tests (:mod:`sim.flow.mutate`)."""

import argparse
import signal
import sys

from sim.flow import mutate, toolchain
from sim.flow import report as results

from ._common import UsageError, command_line, count, seed_arg

__all__ = ["add_parser", "main", "MAX_JOBS", "section", "section_key"]

#: The most mutants run at once (each is a simulator build and run).
MAX_JOBS = 16


def _ids(text):
    """argparse type of ``--only``: mutant ids, comma-separated, each at least 1."""
    parse = count(1)
    try:
        return sorted({parse(t.strip()) for t in text.split(",")})
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"mutant ids: {e}") from None


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(args):
    """``d1core mutate`` with parsed ``args``; returns the exit status: 0 when every mutant was
    killed or proved equivalent, 1 when another survived or the run could not go on."""
    try:
        tgt = mutate.target(args.block)
        sim = args.sim or tgt.default_sim
        tgt.tests_on(sim)
    except ValueError as e:
        raise UsageError(str(e)) from None
    # A terminated run stops its simulations too (they run in sessions of their own).
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        report, path = mutate.run(args.block, count=args.count, seed=args.seed, sim=sim,
                                  jobs=args.jobs, only=args.only,
                                  say=lambda line: print(line, flush=True))
    except mutate.UnknownMutant as e:  # an id of --only outside the list
        raise UsageError(str(e)) from None
    except mutate.MutationError as e:
        print(f"d1core mutate: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"{report['block']}: {report['mutants']} mutants, {report['killed']} killed, "
          f"{report['survived']} survived ({len(report['equivalent'])} proved equivalent), "
          f"kill rate {_percent(report['kill_rate'])}, without the equivalent ones "
          f"{_percent(report['kill_rate_nonequivalent'])}")
    by_id = {r["id"]: r for r in report["results"]}
    for i in report["survivors"]:
        print(f"  survivor {i} ({_verdict(by_id[i])}): {by_id[i]['description']}")
    print(f"report: {path}")
    if args.write:
        results.publish(section_key(report["block"]), f"Mutation testing: {report['block']}",
                        section(report), command=command_line(),
                        figures={k: report[k] for k in ("mutants", "killed", "survived",
                                                         "kill_rate", "kill_rate_nonequivalent")})
    return 0 if report["survived"] == len(report["equivalent"]) else 1


def section_key(block):
    """The docs/results.md section of ``block``'s mutation figures: ``sram-ecc_encoder-mutate``
    for ``sram.ecc_encoder`` (it files under its block, ``sim.flow.report.section_block``)."""
    return f"{block.replace('.', '-')}-mutate"


def _percent(rate):
    return "-" if rate is None else f"{100 * rate:.1f} %"


def section(report):
    """The markdown of a run's report (:func:`sim.flow.mutate.run`'s)."""
    rows = [[report["mutants"], report["killed"], report["survived"], len(report["equivalent"]),
             _percent(report["kill_rate"]), _percent(report["kill_rate_nonequivalent"])]]
    by_id = {r["id"]: r for r in report["results"]}
    text = (f"Yosys `mutate` sample of `{report['block']}` (module `{report['module']}`), seed "
            f"{report['seed']}, on {report['sim']}; each mutant runs these tests in place of the "
            f"block: " + ", ".join(f"`{t}`" for t in report["tests"]) + ".\n\n"
            + results.markdown_table(["mutants", "killed", "survived", "proved equivalent",
                                      "kill rate", "without the equivalent"], rows))
    for i in report["survivors"]:
        note = _verdict(by_id[i])
        text += (f"\n- survivor {i} ({note if by_id[i]['equivalent'] else f'**{note}**'}): "
                 f"{by_id[i]['description']}")
    return text


def _verdict(row):
    """A survivor's proof as the reports say it (reports from before the three verdicts have
    ``equivalent`` only)."""
    proof = row.get("proof") or ("equivalent" if row["equivalent"] else "unknown")
    return mutate.PROOF_WORDS[proof]


def add_parser(sub):
    """Add the ``mutate`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    q = sub.add_parser("mutate", help="mutation testing: how many injected bugs a block's tests "
                       "catch",
                       description="Samples single-point mutations of a block's netlist with "
                       "Yosys's mutate pass, runs the block's RTL tests on each mutant in place "
                       "of the block and reports which were killed (a test failed or timed out) "
                       "and which survived; writes a JSON report under build/mutate/BLOCK/. "
                       f"Blocks: {', '.join(mutate.TARGETS)}. Survivors are put to a SAT solver: "
                       "those proved equivalent to the block need no test. Exit 1 if another "
                       "survived.")
    q.add_argument("block", metavar="BLOCK", help="the block (as in d1core synth)")
    q.add_argument("--count", type=count(1), default=200,
                   help="mutants to sample (default 200)")
    q.add_argument("--seed", type=seed_arg, default=1, help="Yosys's sampling seed (default 1)")
    q.add_argument("--sim", choices=toolchain.SIMULATORS, default=None,
                   help="simulator (default verilator, where the block has tests on it: one "
                   "build serves every mutant, and its tests run the full sizes; else icarus)")
    q.add_argument("--jobs", type=count(1, MAX_JOBS), default=1,
                   help=f"mutants run at once, 1..{MAX_JOBS} (default 1)")
    q.add_argument("--only", type=_ids, default=None, metavar="ID,...",
                   help="run only these mutants of the list (a sample's survivors again, on "
                   "the other simulator: the same --count and --seed)")
    q.add_argument("--write", action="store_true",
                   help="write the figures into docs/results.md (section BLOCK-mutate)")
    q.set_defaults(func=main)
    return q
