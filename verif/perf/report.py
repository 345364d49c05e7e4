"""Running the model for a command: one prediction with the H100 beside it, sweeps, plots.

The functions return plain dicts (what ``--json`` writes) and text; the plots use matplotlib's
Agg backend.
"""

from . import system
from .core import ModelError, format_bytes

__all__ = ["predict", "sweep", "text", "sweep_text", "plot_prediction", "plot_sweep",
           "SWEEPS", "parse_sweep"]

#: What-if sweeps: knob -> default values.
SWEEPS = {"sram_scale": (0.5, 1, 2, 4), "link_scale": (0.5, 1, 2, 4),
          "d2d_scale": (0.5, 1, 2, 4), "hbm_scale": (0.5, 1, 2, 4), "vcs": (1, 2),
          "depth": (4, 8, 16), "dead_fraction": (0.0, 6 / 360, 0.05, 0.1)}


def parse_sweep(text):
    """``name`` or ``name=v1,v2,..`` -> (name, [values as text])."""
    name, eq, values = text.partition("=")
    if name not in SWEEPS:
        raise ModelError(f"sweep parameter must be one of {', '.join(SWEEPS)}, not {name!r}")
    vals = values.split(",") if eq else [str(v) for v in SWEEPS[name]]
    if not all(vals):
        raise ModelError(f"sweep values must be a comma-separated list, not {values!r}")
    return name, vals


def _run(p, sys_name, kind, wl):
    if kind == "gemm":
        return system.gemm(p, sys_name, wl["m"], wl["n"], wl["k"], wl["fmt"])
    if kind == "allreduce":
        return system.allreduce(p, sys_name, wl["nbytes"])
    return system.transformer(p, sys_name, **wl)


def _h100(p, sys_name, kind, wl, result):
    n = max(1, round(system.chips(p, sys_name)))
    if kind == "gemm":
        t = system.h100_gemm(p, n, wl["m"], wl["n"], wl["k"], wl["fmt"])
        bd = {}
    else:
        t, bd = system.h100_transformer(p, n, seq=wl["seq"], width=wl["width"],
                                        heads=wl["heads"], batch=wl["batch"],
                                        layers=wl.get("layers", 1), tp=result.detail["tp"],
                                        dp=result.detail["dp"])
    peak = p.pub("h100_tflops") * 1e12 * n * (2 if kind == "gemm" and
                                              format_bytes(wl["fmt"]) == 1 else 1)
    return {"chips": n, "seconds": t, "sustained_flops": result.flops / t,
            "utilisation": result.flops / t / peak, "power_w": n * p.pub("h100_power_w"),
            "breakdown": bd}


def predict(p, sys_name, workload):
    """The prediction for ``workload`` (its text) on ``sys_name``: a dict."""
    kind, wl = system.parse_workload(workload)
    r = _run(p, sys_name, kind, wl)
    out = r.as_dict()
    out["power_w"] = system.power_w(p, sys_name)
    out["peaks"] = {s: system.peak_flops(p, s) for s in system.SYSTEMS}
    if sys_name != "core" and kind != "allreduce":
        out["h100"] = _h100(p, sys_name, kind, wl, r)
    flops_hbm = (2 * wl["m"] * wl["n"] * wl["k"] /
                 ((wl["m"] * wl["k"] + wl["k"] * wl["n"]) * format_bytes(wl["fmt"])
                  + 8 * wl["m"] * wl["n"])) if kind == "gemm" else None
    if kind == "transformer" and r.breakdown["hbm"]:
        flops_hbm = r.flops / (r.breakdown["hbm"] * system._hbm_bytes_s(p, sys_name))
    out["intensity"] = flops_hbm
    return out


def _si(x, unit):
    for scale, prefix in ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"),
                          (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {prefix}{unit}"
    return f"{x:.3g} {unit}"


def _time(s):
    for scale, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if s >= scale:
            return f"{s / scale:.4g} {unit}"
    return f"{s * 1e9:.4g} ns"


def text(pred):
    """The prediction as the command prints it."""
    lines = [f"{pred['workload']} on {pred['system']}:",
             f"  time {_time(pred['seconds'])}, {_si(pred['sustained_flops'], 'FLOPS')} "
             f"sustained, {100 * pred['utilisation']:.1f} % of the "
             f"{_si(pred['peak_flops'], 'FLOPS')} peak",
             "  where the time goes (each part's own time; they overlap as docs/scale.md says):"]
    for key, v in pred["breakdown"].items():
        lines.append(f"    {key:<8} {_time(v):>12}  ({100 * v / pred['seconds']:.1f} % of the "
                     f"total)")
    for note in pred["notes"]:
        lines.append(f"  note: {note}")
    lines.append(f"  per watt: {_si(pred['sustained_flops'] / pred['power_w'], 'FLOPS/W')} "
                 f"({pred['power_w']:,.0f} W: "
                 + {"core": "the die's 400 W over its cores", "die": "published, AID21",
                    "tile": "published, HC34 system talk",
                    "exapod": "its tiles' 15 kW each; no figure published"}[pred["system"]]
                 + ")")
    if "h100" in pred:
        h = pred["h100"]
        lines.append(f"  H100 SXM roofline, {h['chips']} chip(s): time {_time(h['seconds'])}, "
                     f"{_si(h['sustained_flops'], 'FLOPS')}, {100 * h['utilisation']:.1f} % of "
                     f"peak, {_si(h['sustained_flops'] / h['power_w'], 'FLOPS/W')}; D1 / H100 "
                     f"time ratio {pred['seconds'] / h['seconds']:.2f}")
    lines.append("  peaks (model arithmetic): " + ", ".join(
        f"{s} {_si(v, 'FLOPS')}" for s, v in pred["peaks"].items()))
    return "\n".join(lines)


def sweep(p, sys_name, workload, name, values):
    """The prediction at every value of knob ``name``: a list of (value, prediction)."""
    return [(v, predict(p.with_overrides({name: v}), sys_name, workload)) for v in values]


def sweep_text(name, rows):
    head = f"{'value':>10} {'time':>12} {'util %':>7}  " + " ".join(
        f"{k:>10}" for k in rows[0][1]["breakdown"])
    out = [f"sweep of {name}:", head]
    for v, pred in rows:
        out.append(f"{v:>10} {_time(pred['seconds']):>12} {100 * pred['utilisation']:>7.1f}  "
                   + " ".join(f"{_time(t):>10}" for t in pred["breakdown"].values()))
    return "\n".join(out)


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_prediction(pred, p, path):
    """A roofline (the system's and the H100s', the workload's point) beside the breakdown."""
    plt = _pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    sys_name = pred["system"]
    peak = pred["peak_flops"]
    hbm = system._hbm_bytes_s(p, sys_name)
    xs = [2 ** e for e in range(-2, 14)]
    ax.loglog(xs, [min(peak, x * hbm) for x in xs], label=f"D1 {sys_name} (HBM {hbm / 1e12:.3g}"
              " TB/s)")
    if "h100" in pred:
        n = pred["h100"]["chips"]
        hp, hb = n * p.pub("h100_tflops") * 1e12, n * p.pub("h100_hbm_bytes_s")
        ax.loglog(xs, [min(hp, x * hb) for x in xs], "--", label=f"{n} × H100 SXM")
        if pred["intensity"]:
            ax.plot([pred["intensity"]], [pred["h100"]["sustained_flops"]], "s")
    if pred["intensity"]:
        ax.plot([pred["intensity"]], [pred["sustained_flops"]], "o", label="this workload")
    ax.set_xlabel("FLOPs per HBM byte")
    ax.set_ylabel("FLOP/s")
    ax.set_title("roofline")
    ax.legend(fontsize=8)
    keys = list(pred["breakdown"])
    bx.barh(keys, [pred["breakdown"][k] * 1e3 for k in keys])
    bx.axvline(pred["seconds"] * 1e3, color="k", ls=":", label="predicted time")
    bx.set_xlabel("ms")
    bx.set_title(f"{pred['workload']}"[:60], fontsize=8)
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sweep(name, rows, path):
    """Time and utilisation against the knob, with the breakdown stacked."""
    plt = _pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    vals = [float(v) for v, _ in rows]
    ax.plot(vals, [r["seconds"] * 1e3 for _, r in rows], "o-", label="time (ms)")
    ax.set_xlabel(name)
    ax.set_ylabel("ms per run")
    ax2 = ax.twinx()
    ax2.plot(vals, [100 * r["utilisation"] for _, r in rows], "s--", color="C1",
             label="utilisation %")
    ax2.set_ylabel("% of peak")
    ax.set_title(f"{rows[0][1]['workload']} on {rows[0][1]['system']}"[:70], fontsize=8)
    keys = list(rows[0][1]["breakdown"])
    bottom = [0.0] * len(rows)
    xs = range(len(rows))
    for k in keys:
        h = [r["breakdown"][k] * 1e3 for _, r in rows]
        bx.bar(xs, h, bottom=bottom, label=k)
        bottom = [b + x for b, x in zip(bottom, h, strict=True)]
    bx.set_xticks(list(xs), [str(v) for v, _ in rows])
    bx.set_xlabel(name)
    bx.set_ylabel("ms (each part's own time, stacked)")
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
