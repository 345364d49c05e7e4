"""``d1core model``: the performance model of the core, die, training tile and ExaPOD.

    d1core model --system core|die|tile|exapod --workload gemm:M,N,K[,format]
                 [--set name=value ...] [--sweep name[=v1,v2,..]] [--json FILE] [--plot FILE.png]
    d1core model --system tile --workload transformer:seq=2048,width=4096,heads=32,batch=5
    d1core model --system tile --workload allreduce:67108864
    d1core model --calibrate

prints the prediction (time, sustained FLOP/s, utilisation, where the time goes, the H100 SXM
roofline beside it) from :mod:`verif.perf`, whose parameters come from the benches' figures
(``docs/results.json`` or ``docs/results.md``). ``--calibrate`` lists the figures the model reads
(source, date, stale or missing), the table of the whole programs' checks (shape, format, mesh,
dead cores, RTL, model, error, source) and the blocks' checks against the RTL's stored cycles
(exit 1 if one is off by more than 10 %, or a section the parameters need is missing; a
program's missing section is named and its checks left out). Bad workloads and parameters exit
2. docs/scale.md.
"""

import json
import sys

from verif.perf import calibrate, figures, params, report, system
from verif.perf.core import ModelError

__all__ = ["add_parser", "main"]


def _value(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.4g}"


def _table(rows):
    """The checks as a table: case, shape, format, mesh, dead cores, RTL, model, error,
    source (and a note: a fit point, a figure not measured)."""
    out = [f"  {'':<5} {'case':<44} {'shape':<13} {'format':<13} {'mesh':<12} {'dead':<7} "
           f"{'RTL':>9} {'model':>9} {'error':>7}  source"]
    for r in rows:
        if r["measured"] is None:
            model = f"model {_value(r['model'])}; " if r["model"] is not None else ""
            out.append(f"  {'-':<5} {r['case']:<44} {model}{r['note']}")
            continue
        note = f"  [{r['note']}]" if r["note"] else ""
        out.append(f"  {'ok' if r['ok'] else 'OFF':<5} {r['case']:<44} {r['shape']:<13} "
                   f"{r['fmt']:<13} {r['mesh']:<12} {r['dead'] or '-':<7} "
                   f"{_value(r['measured']):>9} {_value(r['model']):>9} "
                   f"{100 * r['error']:>+6.1f}%  {r['source']}{note}")
    return "\n".join(out)


def _calibrate():
    sections = figures.load()
    fresh = calibrate.freshness(sections)
    print("Figures the model reads:")
    for r in fresh:
        print(f"  {r['key']:<24} {r['status']:<10} {r['source'] or '-':<13} "
              f"{r['date'] or '-':<21} {r['detail']}")
    tol = f"tolerance {100 * calibrate.TOLERANCE:.0f} %"
    programs = calibrate.program_checks(sections)
    print(f"\nPrograms against the RTL ({tol}; cycles of a kernel or a program):")
    print(_table(programs))
    blocks = calibrate.gemm_checks(sections) + calibrate.noc_checks(sections)
    print(f"\nBlocks against the RTL ({tol}; engine cycles, router latency and throughput):")
    print(_table(blocks))
    rows = programs + blocks
    checked = sum(r["measured"] is not None for r in rows)
    bad = sum(r["ok"] is False for r in rows)
    print(f"\n{checked - bad} of {checked} checks within {100 * calibrate.TOLERANCE:.0f} %")
    missing = [r["key"] for r in fresh if r["status"] == "missing"]
    stale = [r["key"] for r in fresh if r["status"] == "stale"]
    if missing:
        print(f"missing (not checked): {', '.join(missing)}")
    if stale:
        print(f"stale (measured before their block last changed): {', '.join(stale)}")
    # a program's section missing leaves its checks out; a parameter's section missing fails
    return 1 if bad or set(missing) - set(figures.PROGRAMS) else 0


def _overrides(items):
    out = {}
    for item in items or ():
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise params.ParamError(f"--set takes name=value, not {item!r}")
        out[name] = value
    return out


def main(args):
    """``d1core model`` with parsed ``args``; returns the exit status."""
    try:
        if args.calibrate:
            return _calibrate()
        if not args.workload:
            raise ModelError("--workload is needed (or --calibrate)")
        if args.plot and not args.plot.endswith(".png"):
            raise ModelError(f"--plot must name a .png file, not {args.plot!r}")
        system.parse_workload(args.workload)
        p = params.build(figures.load()).with_overrides(_overrides(args.set))
        if args.sweep:
            name, values = report.parse_sweep(args.sweep)
            rows = report.sweep(p, args.system, args.workload, name, values)
            print(report.sweep_text(name, rows))
            out = {"sweep": name, "rows": [{"value": v, **r} for v, r in rows]}
            if args.plot:
                report.plot_sweep(name, rows, args.plot)
        else:
            out = report.predict(p, args.system, args.workload)
            print(report.text(out))
            if args.plot:
                report.plot_prediction(out, p, args.plot)
    except (ModelError, params.ParamError, figures.FiguresError) as e:
        print(f"d1core model: error: {e}", file=sys.stderr)
        return 2
    if args.plot:
        print(f"wrote {args.plot}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, default=str)
        print(f"wrote {args.json}")
    return 0


def add_parser(sub):
    """Add the ``model`` subcommand to the ``d1core`` parser's subparsers ``sub``."""
    q = sub.add_parser("model", help="performance model of the core, die, tile and ExaPOD",
                       description="Predict a GEMM or a transformer training step on a core, a "
                       "D1 die, a training tile or an ExaPOD from the benches' measured figures "
                       "(docs/scale.md); --calibrate checks the figures and the model against "
                       "the RTL's stored cycles.")
    q.add_argument("--system", choices=system.SYSTEMS, default="die",
                   help="the system (default die)")
    q.add_argument("--workload", metavar="W", help="gemm:M,N,K[,bf16|cfp8|cfp8-143|cfp8-152] or "
                   "transformer:seq=S,width=H,heads=A,batch=B[,layers=L][,tp=T][,dp=D] or "
                   "allreduce:BYTES")
    q.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="what-if parameter (repeatable): " + ", ".join(
                       sorted(params.Params.KNOBS)) + ", spares (edge or random)")
    q.add_argument("--sweep", metavar="NAME[=V1,V2,..]",
                   help="run the workload at several values of one parameter: " + ", ".join(
                       report.SWEEPS))
    q.add_argument("--json", metavar="FILE", help="write the prediction as JSON")
    q.add_argument("--plot", metavar="FILE.png", help="roofline and breakdown (or the sweep)")
    q.add_argument("--calibrate", action="store_true",
                   help="the figures' freshness and the checks against the RTL")
    q.set_defaults(func=main)
    return q
