"""``d1core fuzz``: random programs on the D1 core's RTL, compared with the core model.

Runs the random programs of :mod:`verif.core.fuzz` for seeds ``--seed``, ``--seed + 1``, ... (with
``--kind both``, the core's and the scalar program of each seed in turn) until ``--seconds`` have
passed, at least one program; each is checked in lockstep with the core model, its whole
scratchpad compared at the end. It prints a line per program (seed, kind, instructions compared,
cycles, PASS or MISMATCH) and at the end the programs run, the instructions compared, the
instructions compared per second (of simulation wall time, and of the whole run: generation,
the model, the build if the core was not built yet) and every mismatch with its seed, its first
difference and the command that runs that program alone; with ``--write``, those figures go
into docs/results.md (section ``core-fuzz``). Exit status: 0 no mismatch, 1 a mismatch, 2 bad
options.
"""

import argparse

from hw.core.config import PRESETS as CORE_PRESETS
from hw.core.config import get_preset
from sim.flow import report as results
from sim.flow import toolchain
from verif.core.fuzz import KINDS, SCALAR_LENGTH, fuzz

from ._common import command_line, count, seed_arg

__all__ = ["add_parser", "main", "publish", "reproduce", "report", "section"]

#: ``--kind`` values: each kind, or both in turn.
KIND_CHOICES = (*KINDS, "both")


def seconds_arg(text):
    """argparse type of ``--seconds``: a number of seconds >= 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not v >= 0 or v == float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text!r}")
    return v


def reproduce(result, *, core, sim, commands):
    """The command that runs ``result``'s program alone."""
    return (f"d1core fuzz --seconds 0 --seed {result.seed} --kind {result.kind} --core {core} "
            f"--sim {sim} --commands {commands}")


def _line(r):
    return (f"seed {r.seed} {r.kind}: {r.instructions} instructions, {r.cycles} cycles, "
            f"{r.verdict}")


def report(summary, *, core, sim, commands):
    """The closing lines of a run (a :class:`verif.core.fuzz.FuzzSummary`)."""
    lines = [f"programs: {summary.programs}",
             f"instructions compared: {summary.instructions}",
             f"instructions compared per second: {summary.rate(summary.sim_seconds):,.0f} of "
             f"simulation ({summary.sim_seconds:.1f} s), {summary.rate(summary.seconds):,.0f} "
             f"overall ({summary.seconds:.1f} s)",
             f"mismatches: {len(summary.mismatches)}"]
    for r in summary.mismatches:
        lines += [f"  seed {r.seed} {r.kind}: {r.detail}",
                  f"    reproduce: {reproduce(r, core=core, sim=sim, commands=commands)}"]
    return lines


def main(args):
    """``d1core fuzz`` with parsed ``args``; returns the exit status."""
    config = get_preset(args.core)
    kinds = KINDS if args.kind == "both" else (args.kind,)
    size = {"core": f"{args.commands} commands",
            "scalar": f"{SCALAR_LENGTH * args.commands} instructions"}
    what = " and ".join(f"{k} programs of {size[k]} a thread" for k in kinds)
    print(f"d1core fuzz: {what} on {config}, {args.sim}, seeds from {args.seed}, "
          f"{args.seconds:g} s", flush=True)
    summary = fuzz(config=config, seed=args.seed, seconds=args.seconds, kinds=kinds,
                   sim=args.sim, commands=args.commands,
                   on_result=lambda r: print(_line(r), flush=True))
    print("\n".join(report(summary, core=args.core, sim=args.sim, commands=args.commands)))
    if args.write:
        publish(summary, args, what=what, command=command_line())
    return 1 if summary.mismatches else 0


def section(summary, args, *, what):
    """The markdown of a run's figures (section ``core-fuzz``)."""
    rows = [["programs", f"{summary.programs:,}"],
            ["instructions compared", f"{summary.instructions:,}"],
            ["compared per second of simulation", f"{summary.rate(summary.sim_seconds):,.0f}"],
            ["compared per second of the whole run (generation, model, build)",
             f"{summary.rate(summary.seconds):,.0f}"],
            ["mismatches", str(len(summary.mismatches))]]
    text = (f"{what.capitalize()} on the {args.core} core in {args.sim}, seeds from {args.seed}, "
            f"{args.seconds:g} s: every retired instruction compared with the core model in "
            f"lockstep, and the whole scratchpad at the end.\n\n"
            + results.markdown_table(["figure", "value"], rows))
    for r in summary.mismatches:
        text += (f"\n- seed {r.seed} {r.kind}: {r.detail} (`"
                 f"{reproduce(r, core=args.core, sim=args.sim, commands=args.commands)}`)")
    return text


def publish(summary, args, *, what, command):
    """Write the run's figures into docs/results.md (section ``core-fuzz``)."""
    results.publish("core-fuzz", "D1 core: differential fuzzing against the model",
                    section(summary, args, what=what), command=command,
                    figures={"programs": summary.programs,
                             "instructions": summary.instructions,
                             "per_second_simulation": summary.rate(summary.sim_seconds),
                             "per_second_overall": summary.rate(summary.seconds),
                             "mismatches": len(summary.mismatches)})


def add_parser(sub):
    """Add the ``fuzz`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    q = sub.add_parser("fuzz", help="random programs on the core's RTL, compared with the model",
                       description="Runs random programs (seeds --seed, --seed + 1, ...) on the "
                       "integrated D1 core's RTL, every retired instruction in lockstep with "
                       "the core model and the whole scratchpad compared at the end, until "
                       "--seconds have passed (at least one program). Kinds: core (the custom "
                       "instructions across every thread: GEMMs, vector ops, DMA, semaphores, "
                       "refused commands), scalar (random RV64IM streams with traps on every "
                       "thread), or both in turn. Prints a line per program, then the "
                       "programs, the instructions compared and their rate, and every "
                       "mismatch with its seed, first difference and the command that "
                       "reproduces it. Exit 0 no mismatch, 1 a mismatch, 2 bad options.")
    q.add_argument("--seconds", type=seconds_arg, default=60.0, metavar="S",
                   help="run programs until S seconds have passed (default 60; 0: one program)")
    q.add_argument("--seed", type=seed_arg, default=1,
                   help="the first program's seed, 0..2**32-1 (default 1)")
    q.add_argument("--core", choices=tuple(CORE_PRESETS), default="SMALL",
                   help="core preset (default SMALL: 64 KB, one 8x8 array; D1: the full core)")
    q.add_argument("--sim", choices=toolchain.SIMULATORS, default="verilator",
                   help="simulator (default verilator)")
    q.add_argument("--kind", choices=KIND_CHOICES, default="core",
                   help="core (default), scalar or both")
    q.add_argument("--commands", type=count(1, 40), default=20, metavar="N",
                   help=f"random commands a thread in a core program, 1..40 (default 20); a "
                   f"scalar program has {SCALAR_LENGTH}·N instructions a thread")
    q.add_argument("--write", action="store_true",
                   help="write the run's figures into docs/results.md (section core-fuzz)")
    q.set_defaults(func=main)
    return q
