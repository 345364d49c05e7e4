"""``d1core bench``, SRAM scratchpad: bytes per cycle served, measured on Verilator, into
``docs/results.md`` (section ``bench-sram``).

Streaming, all ports busy (the D1 preset). Every port always has a request, each walking its
own region from a start spread over the banks; the 64-byte ports read or write whole lines. Two
patterns: *line-stride*, every port advances one line per request (the scalar port touches one
word of each line, fetch one half), and *sequential*, where the scalar port walks consecutive
words and fetch consecutive halves, so the faster ports overtake them. The scalar port alternates
reads and writes. Target: every port every cycle, i.e. 200 B of loads (vr0, vr1, rr, scalar)
and 136 B of stores (vw, rw, scalar) per cycle, D1's 400 and 272 GB/s at 2 GHz (the scalar
port's 8 B count in one or the other per cycle); fetch adds 32 B.

Uniformly random addresses. Every port always has a request to a uniformly random line (writes
whole lines, the scalar port alternating), on the TINY, SMALL and D1 presets (4, 8 and 32
banks): the fraction of the 7 requests per cycle served, against the bank count, beside the
transaction-level estimate of ``verif.sram.model.random_throughput``.

Figures come from the cycles the harness counted from the first request offered to the last
response taken; every accept cycle and response of every run is checked against the cycle-level
model (``verif.sram.scratchpad_tb``), so a figure never comes from a wrong run.
"""

import json
import sys

import cocotb
import numpy as np

from hw.common.memport import Op
from hw.sram.config import D1, LINE_BYTES, PORTS, SMALL, TINY, get_preset
from sim.flow import report
from sim.flow.build import Design
from sim.flow.runner import run_cocotb, tb_args
from verif.sram.model import Request, random_throughput
from verif.sram.scratchpad_tb import ScratchpadTB, harness

__all__ = ["run", "streaming_requests", "random_requests_uniform", "RANDOM_PRESETS"]

#: The presets of the random-address sweep (4, 8 and 32 banks).
RANDOM_PRESETS = (TINY, SMALL, D1)
#: Requests per port per run.
N = 2000


def _scalar_op(i):
    return Op.WRITE.value if i % 2 else Op.READ.value


def streaming_requests(config, n, *, sequential=False):
    """A streaming pattern, ``n`` requests per port (``{port: [Request]}``), each port from its
    own start (spread over the banks): every port advances one line per request (the scalar
    port touches one word per line, fetch one half), or with ``sequential`` by its own width
    (scalar consecutive words, fetch consecutive halves)."""
    reqs = {}
    spread = config.banks // len(PORTS)
    for k, spec in enumerate(PORTS):
        start = k * spread * LINE_BYTES
        stride = spec.width if sequential else LINE_BYTES
        out = []
        for i in range(n):
            addr = (start + i * stride) % config.size
            r = Request(addr, tag=i % (1 << config.tag_width))
            if spec.writes:
                r.op = _scalar_op(i) if spec.reads else Op.WRITE.value
                r.data = (i * 0x9E37_79B9_7F4A_7C15 + k) % (1 << 8 * spec.width)
                r.mask = (1 << spec.width) - 1
            out.append(r)
        reqs[k] = out
    return reqs


def random_requests_uniform(config, n, seed):
    """Every port ``n`` requests to uniformly random lines (aligned words within them)."""
    rng = np.random.default_rng(seed)
    reqs = {}
    for k, spec in enumerate(PORTS):
        lines = rng.integers(0, config.lines, n)
        offs = rng.integers(0, LINE_BYTES // spec.width, n) * spec.width
        out = []
        for i in range(n):
            r = Request(int(lines[i]) * LINE_BYTES + int(offs[i]), tag=i % (1 << config.tag_width))
            if spec.writes:
                r.op = _scalar_op(i) if spec.reads else Op.WRITE.value
                r.data = int.from_bytes(rng.bytes(spec.width), "little")
                r.mask = (1 << spec.width) - 1
            out.append(r)
        reqs[k] = out
    return reqs


@cocotb.test()
async def bench(dut):
    """Run the pattern named in ``tb_args()`` (checked against the model) and write the
    per-port counts and the cycles to the summary file."""
    args = tb_args()
    config = get_preset(args["preset"])
    tb = ScratchpadTB(dut, config)
    await tb.reset()
    if args["pattern"] in ("streaming", "sequential"):
        reqs = streaming_requests(config, args["n"], sequential=args["pattern"] == "sequential")
    else:
        reqs = random_requests_uniform(config, args["n"], args.get("seed", 1))
    res = await tb.run(reqs, timeout=20_000)
    acc = {p.name: res["accepts"][f"{p.name}_req"] for p in PORTS}
    pairs = [pair for port in acc.values() for pair in port]
    summary = {"cycles": res["cycles"], "first_offer": min(o for o, _ in pairs),
               "last_accept": max(a for _, a in pairs),
               # Per port: cycles from its first request offered to its last taken.
               "spans": {name: port[-1][1] - port[0][0] + 1 for name, port in acc.items()}}
    with open(args["summary"], "w") as f:
        json.dump(summary, f)


def _measure(design, args, label):
    info = run_cocotb(design, "sim.bench.sram", "verilator", harness=harness, quiet=True,
                      args={**args, "summary": "summary.json"}, testcase="bench")
    summary = json.loads((info["test_dir"] / "summary.json").read_text())
    print(f"  {label}: {summary['cycles']} cycles, build {info['build_seconds']:.0f} s",
          file=sys.stderr, flush=True)
    return summary


def _streaming(design, pattern, n):
    """Measure one streaming pattern on D1; its figures."""
    s = _measure(design, {"preset": "D1", "pattern": pattern, "n": n}, f"{pattern}, D1")
    span = s["last_accept"] - s["first_offer"] + 1
    per_port = {p.name: n / s["spans"][p.name] for p in PORTS}
    # The scalar port alternates reads and writes: half its accesses are loads, half stores.
    scalar = per_port["scalar"] * 8 / 2
    return {"span": span, "per_port": per_port,
            "loads": sum(per_port[p] * 64 for p in ("vr0", "vr1", "rr")) + scalar,
            "stores": sum(per_port[p] * 64 for p in ("vw", "rw")) + scalar,
            "fetch": per_port["fetch"] * 32}


def run(*, write=True, command="d1core bench --only sram", n=N):
    """Measure; print the tables; with ``write``, rewrite the ``bench-sram`` section. Returns
    the figures."""
    design = Design.of("sram_d1", _scratchpad(), config=D1)
    figures = {"n": n, "streaming": {p: _streaming(design, p, n)
                                     for p in ("streaming", "sequential")}}
    # Random addresses against the bank count, on the presets the regression builds too.
    figures["random"] = {}
    for config in RANDOM_PRESETS:
        d = Design.of(f"sram_{config.name.lower()}", _scratchpad(), config=config)
        r = _measure(d, {"preset": config.name, "pattern": "random", "n": n, "seed": 1},
                     f"random, {config}")
        span = r["last_accept"] - r["first_offer"] + 1
        figures["random"][config.banks] = {"measured": n / span, "preset": config.name,
                                           "estimate": random_throughput(config.banks)}
    body = _body(figures)
    report.publish("bench-sram", "SRAM scratchpad: bandwidth", body, command=command,
                   figures=figures, write=write)
    return figures


def _scratchpad():
    from hw.sram.scratchpad import Scratchpad

    return Scratchpad


def _body(f):
    pats = f["streaming"]
    rows = [[p.name, f"{p.width}"] + [f"{st['per_port'][p.name]:.3f}" for st in pats.values()]
            for p in PORTS]
    t1 = report.markdown_table(["port", "bytes", "line-stride: requests/cycle",
                                "sequential: requests/cycle"], rows)
    rows = []
    for key, label, target in (("loads", "loads (vr0, vr1, rr, scalar reads)", "200 (196)"),
                               ("stores", "stores (vw, rw, scalar writes)", "136 (132)"),
                               ("fetch", "instruction fetch", "32")):
        rows.append([label, target] + [f"{st[key]:.1f} ({st[key] * 2:.0f} GB/s)"
                                       for st in pats.values()])
    t2 = report.markdown_table(["B/cycle", "target (scalar alternating)", "line-stride",
                                "sequential"], rows)
    t3 = report.markdown_table(
        ["banks", "preset", "measured (RTL)", "estimate (model)"],
        [[str(b), r["preset"], f"{r['measured']:.3f}", f"{r['estimate']:.3f}"]
         for b, r in f["random"].items()])
    labels = {"streaming": "line-stride", "sequential": "sequential"}
    spans = ", ".join(f"{labels[k]}: {st['span']} cycles" for k, st in pats.items())
    return (f"Streaming, all ports always requesting, every response taken at once, D1 preset "
            f"({D1}), {f['n']} requests per port ({spans}, first request offered to last "
            f"taken; a port's rate is over its own span, the B/cycle rows add the ports' "
            f"rates). *Line-stride*: every port advances one line per request from its own "
            f"start (scalar: one word per line, fetch: one half); *sequential*: scalar and "
            f"fetch walk their own width, so the 64-byte ports overtake them. The scalar port "
            f"alternates reads and writes; the target is every port every cycle, 200 B of loads "
            f"and 136 B of stores (D1's 400 and 272 GB/s at 2 GHz; 196 and 132 with the scalar "
            f"port's 8 B split between them).\n\n{t1}\n\n{t2}\n\n"
            f"### Uniformly random addresses: fraction of the 7 requests served per cycle\n\n"
            f"Line interleave, every port always requesting a uniformly random line of the "
            f"whole scratchpad, {f['n']} requests per port; the estimate is the transaction-level "
            f"model (round robin per bank, each port retrying its bank until served).\n\n{t3}\n")
