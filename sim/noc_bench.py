"""``d1core noc-bench``: latency and accepted throughput of the mesh against offered load.

Every node injects single-flit packets (REQUEST class, POST: no answers) as a Bernoulli process
of rate R per cycle into an unbounded source queue: the traffic harness (``verif/noc/harness.py``)
reads each node's packets with their creation cycles from a file and offers each from its
creation cycle on, so queueing at the source counts in the latency. Latency runs from creation
to ejection (eject ready always high). Packets created in the first ``cycles // 5`` cycles warm
the mesh up and are not measured; accepted throughput is the packets ejected between the end of
warm-up and ``cycles``, per node per cycle. Each rate runs from reset; the run continues up to
``cycles // 2`` cycles past ``cycles`` so that measured packets can arrive. The mesh is a
`verif.noc.compact_mesh.CompactMesh` (the payload is made from a serial number that identifies
each packet) on Verilator, configured with XY tables.
"""

import json
import sys
import time

import numpy as np

from . import toolchain

__all__ = ["run", "TRAFFIC", "BenchError", "bisection_bound", "pattern_bound"]

TRAFFIC = ("uniform", "transpose", "hotspot", "neighbor")
#: Share of hotspot traffic that goes to the node nearest the centre.
HOTSPOT_SHARE = 0.2


class BenchError(ValueError):
    """Bad bench options (exit 2 from the command line)."""


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


def _design(width, height, vcs):
    from sim.build import Design
    from verif.noc.compact_mesh import CompactMesh

    return Design.of(f"noc_cmesh{width}x{height}v{vcs}", CompactMesh, width=width, height=height,
                     vcs=vcs, depth=4)


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


def run(*, mesh="8x8", traffic="uniform", rates=(0.1,), vcs=2, cycles=2000, seed=1,
        json_path=None, plot=None, command=None, progress=True):
    """Run the bench; return a dict of the results. Writes the JSON and the plot as asked and,
    given the ``command`` that ran it, the section ``noc-<mesh>-<traffic>-v<vcs>`` of
    docs/results.md."""
    from sim.runner import run_cocotb
    from verif.noc.harness import traffic_harness

    try:
        width, height = (int(v) for v in mesh.lower().split("x"))
    except ValueError:
        raise BenchError(f"--mesh must be WxH, e.g. 8x8, not {mesh!r}") from None
    if not (1 <= width <= 16 and 1 <= height <= 16):
        raise BenchError(f"mesh sides must be 1 to 16, not {width}x{height}")
    if traffic not in TRAFFIC:
        raise BenchError(f"--traffic must be one of {', '.join(TRAFFIC)}, not {traffic!r}")
    if traffic == "transpose" and width != height:
        raise BenchError("transpose traffic needs a square mesh")
    if vcs not in (1, 2, 4):
        raise BenchError(f"--vcs must be 1, 2 or 4, not {vcs}")
    if any(not 0 < r <= 1 for r in rates):
        raise BenchError(f"rates must be in (0, 1], not {list(rates)}")
    if plot and not str(plot).endswith(".svg"):
        raise BenchError(f"--plot writes SVG: give a .svg file, not {plot!r}")
    if cycles < 100:
        raise BenchError(f"--cycles must be at least 100, not {cycles}")
    design = _design(width, height, vcs)
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
    info = run_cocotb(design, "sim.tb_noc_bench", "verilator",
                      harness=traffic_harness, quiet=True,
                      args={"spec": str(spec_path), "summary": str(summary)})
    points = json.loads(summary.read_text())
    total_cycles = sum(p["sim_cycles"] for p in points)
    result = {
        "mesh": f"{width}x{height}", "traffic": traffic, "vcs_per_class": vcs, "cycles": cycles,
        "warmup": warmup, "bound": pattern_bound(traffic, width, height), "points": points,
        "saturation_throughput": max(p["accepted"] for p in points),
        "saturation_rate": next((p["offered"] for p in points
                                 if p["accepted"] < 0.95 * p["offered"]), None),
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
        write_svg(plot, [result])
    return result


def _write_section(result, command):
    from . import report

    rows = [[f"{p['offered']:.3f}", f"{p['accepted']:.3f}", f"{p['latency_avg']:.1f}",
             f"{p['latency_p99']:.1f}", "yes" if p["complete"] else "no (lower bounds)"]
            for p in result["points"]]
    table = report.markdown_table(["offered", "accepted", "avg latency", "p99 latency",
                                   "all measured arrived"], rows)
    bound = result["bound"]
    sat = result["saturation_throughput"]
    body = (f"{result['mesh']} mesh, {result['traffic']} traffic, {result['vcs_per_class']} "
            f"virtual channel(s) per class, buffers of 4 flits; {result['cycles']} cycles per "
            f"rate, the first {result['warmup']} warm-up; flits/node/cycle and cycles "
            f"(docs/noc.md, \"Measuring\").\n\n{table}\n"
            f"Saturation throughput {sat:.3f} flits/node/cycle"
            + (f", {sat / bound:.0%} of the bound {bound:.3f}" if bound else "")
            + f". Simulation speed {result['router_cycles_per_second']:,.0f} router-cycles/s "
            "(Verilator, traffic harness).\n")
    key = f"noc-{result['mesh']}-{result['traffic']}-v{result['vcs_per_class']}"
    report.update_section(report.RESULTS, key, f"Mesh: {result['mesh']} {result['traffic']}, "
                          f"{result['vcs_per_class']} VC/class", body, command=command)


def _print(result):
    print(f"mesh {result['mesh']}, {result['traffic']}, {result['vcs_per_class']} VC/class, "
          f"{result['cycles']} cycles (warm-up {result['warmup']})", file=sys.stderr)
    print("  offered  accepted  avg latency  p99 latency  measured", file=sys.stderr)
    for p in result["points"]:
        late = "" if p["complete"] else "  (not all arrived: lower bounds)"
        print(f"  {p['offered']:7.3f}  {p['accepted']:8.3f}  {p['latency_avg']:11.1f}  "
              f"{p['latency_p99']:11.1f}  {p['measured']:8d}{late}", file=sys.stderr)
    bound = result["bound"]
    print(f"  saturation throughput {result['saturation_throughput']:.3f}"
          + (f" ({result['saturation_throughput'] / bound:.0%} of the bound {bound:.3f})"
             if bound else "")
          + f"; {result['router_cycles_per_second']:,.0f} router-cycles/s", file=sys.stderr)


def write_svg(path, results):
    """Latency against offered load, one line per result, as a hand-written SVG."""
    w, h, m = 640, 400, 50
    xmax = max(p["offered"] for r in results for p in r["points"]) * 1.05
    ymax = max(p["latency_avg"] for r in results for p in r["points"]) * 1.1
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
        pts = " ".join(f"{sx(p['offered']):.1f},{sy(p['latency_avg']):.1f}" for p in r["points"])
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                     'stroke-width="2"/>')
        label = f"{r['mesh']} {r['traffic']}, {r['vcs_per_class']} VC/class"
        parts.append(f'<text x="{w - m - 4}" y="{m + 16 * (i + 1)}" text-anchor="end" '
                     f'fill="{colour}">{label}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")
