"""``d1core noc-bench``: latency and accepted throughput of the mesh against offered load.

Every node injects single-flit packets (REQUEST class, POST: no answers) as a Bernoulli process
of rate R per cycle into an unbounded source queue: the traffic harness (``verif/noc/harness.py``)
reads each node's packets with their creation cycles from a file and offers each from its
creation cycle on, so queueing at the source counts in the latency. Latency runs from creation
to ejection (eject ready always high). Packets created in the first ``cycles // 5`` cycles warm
the mesh up and are not measured; accepted throughput is the packets ejected between the end of
warm-up and ``cycles``, per node per cycle. Each rate runs from reset; the run continues up to
``cycles // 2`` cycles past ``cycles`` so that measured packets can arrive. The mesh is a
`hw.noc.mesh.NoCMesh` with a 32-bit payload, the serial number that identifies each packet (the
router carries the payload untouched: its width changes no timing), on Verilator, configured with
XY tables.
"""

import json
import time

import numpy as np

from hw.noc.mesh import NoCMesh
from sim.flow import report, toolchain
from sim.flow.build import Design
from sim.flow.runner import run_cocotb
from verif.noc.harness import traffic_harness

__all__ = ["run", "TRAFFIC", "OptionError", "bisection_bound", "pattern_bound", "draw",
           "load_result", "curves", "parse_mesh", "CURVES", "SERIAL_BITS", "saturation"]

TRAFFIC = ("uniform", "transpose", "hotspot", "neighbor")
#: Share of hotspot traffic that goes to the node nearest the centre.
HOTSPOT_SHARE = 0.2
#: The bench mesh's payload: each packet's serial number.
SERIAL_BITS = 32


class OptionError(ValueError):
    """Bad noc-bench options or input files (exit 2 from the command line)."""


def destinations(pattern, width, height, src, n, rng):
    """``n`` destination ``(x, y)`` for packets from ``src`` under ``pattern``."""
    x, y = src
    if pattern == "uniform":
        ids = rng.integers(width * height, size=n)
        return [(int(i) % width, int(i) // width) for i in ids]
    if pattern == "transpose":
        return [(y, x)] * n
    if pattern == "neighbor":
        return [((x + 1) % width, y)] * n
    spot = (width // 2, height // 2)
    ids = rng.integers(width * height, size=n)
    hot = rng.random(n) < HOTSPOT_SHARE
    return [spot if h else (int(i) % width, int(i) // width) for i, h in zip(ids, hot, strict=True)]


def bisection_bound(width, height):
    """Uniform-traffic throughput bound per node per cycle from the bisection of a k × k mesh
    (k the longer side): half of the k² nodes' packets cross the middle, k links each way, so
    k²/2 × R / 2 ≤ k per direction, R ≤ 4 / k."""
    k = max(width, height)
    return min(1.0, 4.0 / k)


def pattern_bound(pattern, width, height):
    """The throughput bound of ``pattern`` per node per cycle (None where not derived here)."""
    if pattern == "uniform":
        return bisection_bound(width, height)
    if pattern == "transpose" and width == height:
        # XY routing: the k - 1 nodes of a row left of the diagonal all send through one link.
        return 1.0 / (width - 1) if width > 1 else 1.0
    if pattern == "neighbor":
        return 1.0
    return None


def _design(width, height, vcs, depth):
    return Design.of(f"noc_mesh{width}x{height}v{vcs}d{depth}p{SERIAL_BITS}", NoCMesh,
                     width=width, height=height, vcs=vcs, depth=depth, payload_bits=SERIAL_BITS)


def _runs(width, height, pattern, rates, cycles, seed):
    """Per rate, per node: creation cycles and destinations of its packets, whose serial
    numbers run consecutively from ``serial``."""
    out = []
    serial = 0
    for k, rate in enumerate(rates):
        rng = np.random.default_rng(seed + k)
        nodes = []
        for y in range(height):
            for x in range(width):
                times = np.flatnonzero(rng.random(cycles) < rate)
                dsts = destinations(pattern, width, height, (x, y), len(times), rng)
                nodes.append({"x": x, "y": y, "serial": serial, "t": times.tolist(),
                              "dx": [d[0] for d in dsts], "dy": [d[1] for d in dsts]})
                serial += len(times)
        out.append({"rate": rate, "nodes": nodes})
    return out


def _generated(runs, warmup, cycles):
    """Per rate, the load actually generated: packets created in the measured window
    ``[warmup, cycles)``, per node per cycle."""
    out = []
    for run in runs:
        created = sum(int(np.count_nonzero((np.asarray(n["t"]) >= warmup)
                                           & (np.asarray(n["t"]) < cycles)))
                      for n in run["nodes"])
        out.append(created / (len(run["nodes"]) * (cycles - warmup)))
    return out


#: A rate keeps up while its average latency stays within this factor of the zero-load
#: latency (that of the lowest rate) ...
LATENCY_FACTOR = 3
#: ... and its accepted throughput within this share of the offer.
ACCEPTED_SHARE = 0.95


def saturation(points):
    """``saturation_rate``: the highest offered rate up to which every rate keeps up (all its
    measured packets arrived, average latency at most `LATENCY_FACTOR` × the lowest measured
    rate's, accepted at least `ACCEPTED_SHARE` of the load actually generated in the measured
    window, ``generated``: a Bernoulli source's packets fall short of the nominal rate by
    chance, more so on a small mesh); a rate that sent no measured packet says nothing and is
    skipped; None if the lowest measured rate does not keep up;
    ``saturation_throughput``: the accepted throughput there; ``peak_accepted``: the largest
    accepted throughput of any rate (above saturation, transpose's unloaded nodes still take
    more, so it can pass the bound)."""
    points = sorted(points, key=lambda p: p["offered"])
    measured = [p for p in points if p.get("latency_avg") is not None]
    zero_load = measured[0]["latency_avg"] if measured else None
    last = None
    for p in measured:
        if not (p["complete"] and p["latency_avg"] <= LATENCY_FACTOR * zero_load
                and p["accepted"] >= ACCEPTED_SHARE * p.get("generated", p["offered"])):
            break
        last = p
    return {"saturation_rate": last["offered"] if last else None,
            "saturation_throughput": last["accepted"] if last else 0.0,
            "peak_accepted": max((p["accepted"] for p in points), default=0.0)}


def parse_mesh(mesh):
    """``(width, height)`` of a ``--mesh`` option ``WxH``; `OptionError` if it is not one."""
    try:
        width, height = (int(v) for v in mesh.lower().split("x"))
    except ValueError:
        raise OptionError(f"--mesh must be WxH, e.g. 8x8, not {mesh!r}") from None
    if not (1 <= width <= 16 and 1 <= height <= 16):
        raise OptionError(f"mesh sides must be 1 to 16, not {width}x{height}")
    return width, height


def run(*, mesh="8x8", traffic="uniform", rates=(0.1,), vcs=2, depth=4, cycles=2000, seed=1,
        json_path=None, plot=None, command=None, progress=True):
    """Run the bench; return a dict of the results. Writes the JSON and the plot as asked and,
    given the ``command`` that ran it, the section ``noc-<mesh>-<traffic>-v<vcs>`` of
    docs/results.md."""
    width, height = parse_mesh(mesh)
    if traffic not in TRAFFIC:
        raise OptionError(f"--traffic must be one of {', '.join(TRAFFIC)}, not {traffic!r}")
    if traffic == "transpose" and width != height:
        raise OptionError("transpose traffic needs a square mesh")
    if vcs not in (1, 2, 4):
        raise OptionError(f"--vcs must be 1, 2 or 4, not {vcs}")
    if any(not 0 < r <= 1 for r in rates):
        raise OptionError(f"rates must be in (0, 1], not {list(rates)}")
    if plot:
        _check_plot_path(plot)
    if cycles < 100:
        raise OptionError(f"--cycles must be at least 100, not {cycles}")
    if depth not in (1, 2, 4, 8, 16):
        raise OptionError(f"--depth must be 1, 2, 4, 8 or 16, not {depth}")
    design = _design(width, height, vcs, depth)
    runs = _runs(width, height, traffic, list(rates), cycles, seed)
    warmup = cycles // 5
    spec = {"width": width, "height": height, "warmup": warmup, "cycles": cycles,
            "max_cycles": cycles + cycles // 2,
            "runs": runs}
    work = toolchain.BUILD / "noc_bench"
    work.mkdir(parents=True, exist_ok=True)
    spec_path = work / f"spec-{design.stem}-{traffic}.json"
    spec_path.write_text(json.dumps(spec))
    summary = work / f"summary-{design.stem}-{traffic}.json"
    t0 = time.monotonic()
    info = run_cocotb(design, "sim.bench.noc_cocotb", "verilator",
                      harness=traffic_harness, quiet=True,
                      args={"spec": str(spec_path), "summary": str(summary)})
    points = json.loads(summary.read_text())
    for point, generated in zip(points, _generated(runs, warmup, cycles), strict=True):
        point["generated"] = generated
        if point["measured"] == 0:  # nothing sent in the window: no latency to report
            point["latency_avg"] = point["latency_p99"] = None
    total_cycles = sum(p["sim_cycles"] for p in points)
    result = {
        "mesh": f"{width}x{height}", "traffic": traffic, "vcs_per_class": vcs, "depth": depth,
        "cycles": cycles,
        "warmup": warmup, "bound": pattern_bound(traffic, width, height), "points": points,
        **saturation(points),
        "router_cycles_per_second": width * height * total_cycles / info["test_seconds"],
        "build_seconds": info["build_seconds"], "wall_seconds": time.monotonic() - t0,
    }
    if progress:
        _print(result)
    if command:
        _write_section(result, command)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(result, f, indent=1)
    if plot:
        draw(plot, [result])
    return result


def load_result(path):
    """A result that ``--json`` wrote, read back (`OptionError` if it is not one)."""
    with open(path) as f:
        try:
            result = json.load(f)
        except ValueError as e:
            raise OptionError(f"{path} is not JSON: {e}") from None
    missing = [k for k in ("mesh", "traffic", "vcs_per_class", "points")
               if not isinstance(result, dict) or k not in result]
    if missing:
        raise OptionError(f"{path} is not a noc-bench result: no {', '.join(missing)}")
    points = result["points"]
    if not isinstance(points, list) or not points:
        raise OptionError(f"{path}: 'points' must be a non-empty list of measured rates")
    for i, p in enumerate(points):
        bad = [k for k, optional in (("offered", False), ("latency_avg", True),
                                     ("latency_p99", True))
               if not isinstance(p, dict) or not _number(p.get(k), optional)]
        if bad:
            raise OptionError(f"{path}: point {i} has no number {', '.join(bad)}")
    for k in ("mesh", "traffic"):
        if not isinstance(result[k], str):
            raise OptionError(f"{path}: {k!r} must be a string, not {result[k]!r}")
    return result


def _number(v, optional):
    """Whether ``v`` is a finite number (or None, when ``optional``)."""
    if v is None:
        return optional
    return isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)


def _check_plot_path(path):
    if not str(path).endswith((".png", ".svg")):
        raise OptionError(f"--plot writes PNG or SVG: give a .png or .svg file, not {path!r}")


def draw(path, results):
    """Latency against offered load, one line per result (a dict as :func:`run` returns):
    PNG through matplotlib for a ``.png`` path, a hand-written SVG for ``.svg``."""
    _check_plot_path(path)
    if str(path).endswith(".svg"):
        write_svg(path, results)
    else:
        write_png(path, results)


def _measured(points):
    """The points with a latency (a rate that sent no measured packet has none)."""
    return [p for p in points if p.get("latency_avg") is not None]


def _label(result):
    depth = result.get("depth", 4)
    return (f"{result['mesh']} {result['traffic']}, {result['vcs_per_class']} VC/class"
            + ("" if depth == 4 else f", depth {depth}"))


def write_png(path, results):
    """Average (solid) and 99th-percentile (dashed) latency against offered load, with each
    result's bound as a dotted vertical line, as a PNG (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    ymax = 0.0
    bounds = set()
    for i, r in enumerate(results):
        colour = f"C{i}"
        points = _measured(r["points"])
        x = [p["offered"] for p in points]
        avg = [p["latency_avg"] for p in points]
        p99 = [p["latency_p99"] for p in points]
        ax.plot(x, avg, "o-", color=colour, label=f"{_label(r)}: average")
        ax.plot(x, p99, "--", color=colour, alpha=0.6, label=f"{_label(r)}: 99th percentile")
        ymax = max(ymax, *avg, 0.0)
        if r.get("bound"):
            bounds.add(r["bound"])
    for b in sorted(bounds):
        ax.axvline(b, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(0, min(max(ymax * 1.3, 10), 200))
    ax.set_xlim(left=0)
    ax.set_xlabel("offered load (flits/node/cycle); dotted: the pattern's throughput bound")
    ax.set_ylabel("latency (cycles, creation to ejection)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    # No timestamps in the file: the same results give the same bytes.
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


#: The curves of docs/results.md (``d1core bench --only noc``): per (mesh, traffic), the offered
#: rates (finer near where the mesh saturates) and the (VCs per class, buffer depth) runs.
CURVES = {
    ("4x4", "uniform"): ((0.05, 0.2, 0.35, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9),
                         ((1, 4), (2, 4))),
    ("4x4", "transpose"): ((0.02, 0.1, 0.2, 0.25, 0.28, 0.3, 0.32, 0.34, 0.37, 0.4, 0.5),
                           ((1, 4), (2, 4))),
    ("8x8", "transpose"): ((0.01, 0.05, 0.09, 0.11, 0.12, 0.13, 0.135, 0.14, 0.15, 0.17, 0.2),
                           ((1, 4), (2, 4), (2, 8))),
    ("8x8", "uniform"): ((0.02, 0.1, 0.2, 0.3, 0.33, 0.35, 0.37, 0.39, 0.40, 0.41, 0.43, 0.46,
                          0.5),
                         ((1, 4), (2, 4), (2, 8), (2, 16))),
}
#: Cycles per rate of the curves.
CURVE_CYCLES = 3000


def curves(*, write=True, command="d1core bench --only noc", out_dir=None):
    """Run every curve of `CURVES`; write each run's section of docs/results.md (with
    ``write``), its JSON under ``build/noc_bench/`` and one PNG per (mesh, traffic) with all
    its runs, ``docs/noc-<mesh>-<traffic>.png``. Returns the results."""
    out_dir = report.RESULTS.parent if out_dir is None else out_dir
    results = {}
    for (mesh, traffic), (rates, configs) in CURVES.items():
        runs = []
        for vcs, depth in configs:
            name = f"noc-{mesh}-{traffic}-v{vcs}" + ("" if depth == 4 else f"-d{depth}")
            json_path = toolchain.BUILD / "noc_bench" / f"{name}.json"
            json_path.parent.mkdir(parents=True, exist_ok=True)
            runs.append(run(mesh=mesh, traffic=traffic, rates=rates, vcs=vcs, depth=depth,
                            cycles=CURVE_CYCLES, json_path=json_path,
                            command=command if write else None))
        draw(f"{out_dir}/noc-{mesh}-{traffic}.png", runs)
        results[(mesh, traffic)] = runs
    return results


def _write_section(result, command):
    rows = [[f"{p['offered']:.3f}", f"{p['accepted']:.3f}", _latency(p["latency_avg"]),
             _latency(p["latency_p99"]), "yes" if p["complete"] else "no (lower bounds)"]
            for p in result["points"]]
    table = report.markdown_table(["offered", "accepted", "avg latency", "p99 latency",
                                   "all measured arrived"], rows)
    body = (f"{result['mesh']} mesh, {result['traffic']} traffic, {result['vcs_per_class']} "
            f"virtual channel(s) per class, buffers of {result['depth']} flits per channel; "
            f"{result['cycles']} cycles per "
            f"rate, the first {result['warmup']} warm-up; flits/node/cycle and cycles "
            f"(docs/noc.md, \"Measuring\").\n\n{table}\n"
            + _saturation_text(result)
            + f". Simulation speed {result['router_cycles_per_second']:,.0f} router-cycles/s "
            "(Verilator, traffic harness).\n")
    curve = (result["mesh"], result["traffic"])
    if curve in CURVES:
        plot = f"noc-{curve[0]}-{curve[1]}.png"
        body += f"\nPlot of the curves (`d1core bench --only noc`): [{plot}]({plot}).\n"
    depth = "" if result["depth"] == 4 else f"-d{result['depth']}"
    key = f"noc-{result['mesh']}-{result['traffic']}-v{result['vcs_per_class']}{depth}"
    report.update_section(report.RESULTS, key, f"Mesh: {result['mesh']} {result['traffic']}, "
                          f"{result['vcs_per_class']} VC/class, depth {result['depth']}", body,
                          command=command, figures=result)


def _latency(v):
    """A latency for the tables: "-" where the rate sent no measured packet."""
    return "-" if v is None else f"{v:.1f}"


def _print(result):
    """The results on stdout (the progress of the run goes to stderr)."""
    print(f"mesh {result['mesh']}, {result['traffic']}, {result['vcs_per_class']} VC/class, "
          f"{result['cycles']} cycles (warm-up {result['warmup']})")
    print("  offered  generated  accepted  avg latency  p99 latency  measured")
    for p in result["points"]:
        late = "" if p["complete"] else "  (not all arrived: lower bounds)"
        print(f"  {p['offered']:7.3f}  {p['generated']:9.3f}  {p['accepted']:8.3f}  "
              f"{_latency(p['latency_avg']):>11}  {_latency(p['latency_p99']):>11}  "
              f"{p['measured']:8d}{late}")
    print(f"  {_saturation_text(result)}; {result['router_cycles_per_second']:,.0f} "
          "router-cycles/s")


def _saturation_text(result):
    bound = result["bound"]
    sat, rate = result["saturation_throughput"], result["saturation_rate"]
    if rate is None:
        text = "Saturated at the lowest rate"
    else:
        text = (f"Saturation at offered {rate:.3f}: accepted {sat:.3f} flits/node/cycle"
                + (f", {sat / bound:.0%} of the bound {bound:.3f}" if bound else ""))
    return text + f"; peak accepted {result['peak_accepted']:.3f}"


def write_svg(path, results):
    """Latency against offered load, one line per result, as a hand-written SVG."""
    w, h, m = 640, 400, 50
    xmax = max((p["offered"] for r in results for p in r["points"]), default=0) * 1.05 or 1.0
    ymax = max((p["latency_avg"] for r in results for p in _measured(r["points"])),
               default=0) * 1.1 or 10.0
    ymax = min(ymax, 200.0)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

    def sx(v):
        return m + (w - 2 * m) * v / xmax

    def sy(v):
        return h - m - (h - 2 * m) * min(v, ymax) / ymax

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<line x1="{m}" y1="{h - m}" x2="{w - m}" y2="{h - m}" stroke="black"/>',
             f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="black"/>',
             f'<text x="{w / 2}" y="{h - 12}" text-anchor="middle">offered load '
             '(flits/node/cycle)</text>',
             f'<text x="14" y="{h / 2}" transform="rotate(-90 14 {h / 2})" '
             'text-anchor="middle">average latency (cycles)</text>']
    for k in range(6):
        xv, yv = xmax * k / 5, ymax * k / 5
        parts.append(f'<text x="{sx(xv)}" y="{h - m + 16}" text-anchor="middle">{xv:.2f}</text>')
        parts.append(f'<text x="{m - 6}" y="{sy(yv) + 4}" text-anchor="end">{yv:.0f}</text>')
    for i, r in enumerate(results):
        colour = colours[i % len(colours)]
        pts = " ".join(f"{sx(p['offered']):.1f},{sy(p['latency_avg']):.1f}"
                       for p in _measured(r["points"]))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                     'stroke-width="2"/>')
        label = _label(r)
        parts.append(f'<text x="{w - m - 4}" y="{m + 16 * (i + 1)}" text-anchor="end" '
                     f'fill="{colour}">{label}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")
