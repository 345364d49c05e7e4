"""The conversion unit's part of ``d1core bench`` (section ``bench``).

Simulation speed: the same workload (random conversion requests) through the unit on Verilator
and on Icarus in one run, as simulated cycles per second of wall-clock time (the bulk harness
driving, cocotb only starting and checking), and their ratio. The reference model's speed is shown
beside them.

Throughput: conversions per cycle with no stalls, with idle input cycles and with output
backpressure, from the cycles the harness counted; and the pipeline latency from a single request.
Every response is checked against the model, so a figure never comes from a wrong run.
"""

import time

import numpy as np

from sim.flow import report
from sim.flow.toolchain import SIMULATORS
from verif.fp import stimulus as st
from verif.fp.convert import convert_requests
from verif.fp.convert_run import CONVERT_DESIGN, run_convert

__all__ = ["run"]


def _check(req, seed, got):
    data, flags = convert_requests(req["data"], req["op"], req["fmt"], req["bias"], req["rnd"],
                                   seed=seed)
    if not (np.array_equal(data, got["data"]) and np.array_equal(flags, got["flags"])):
        raise AssertionError("bench run disagrees with the reference model: run the regression")


def run(*, n=50_000, sims=SIMULATORS, write=True, command="d1core bench"):
    """The conversion unit's part: measure; print the tables; write the ``bench`` section.
    Returns the figures as a dict."""
    rng = np.random.default_rng(2026)
    req = st.random_requests(rng, n)
    figures = {"workload": f"{n} random conversion requests (all formats, biases, RNE/SR)",
               "sims": {}}

    t0 = time.perf_counter()
    convert_requests(req["data"], req["op"], req["fmt"], req["bias"], req["rnd"], seed=7)
    figures["model_per_s"] = n / (time.perf_counter() - t0)

    one = {k: v[:1] for k, v in req.items()}
    for sim in sims:
        print(f"bench: {sim}", flush=True)
        batches = [
            {"req": req, "seed": 7, "label": "speed (no stalls)"},
            {"req": req, "seed": 7, "idle": 64, "label": "25 % idle input"},
            {"req": req, "seed": 7, "stall": 128, "label": "50 % output backpressure"},
            {"req": one, "seed": 7, "label": "one request"},
        ]
        results, summary, info = run_convert(batches, sim)
        for b, got in zip(batches, results, strict=True):
            _check(b["req"], 7, got)
        speed = summary[0]
        figures["sims"][sim] = {
            "cycles_per_s": speed["cycles"] / speed["seconds"],
            "build_s": info["build_seconds"],
            "per_cycle": [len(b["req"]["data"]) / s["cycles"] for b, s in
                          zip(batches[:3], summary[:3], strict=True)],
            # The harness counts from its start cycle: one cycle to present the request, the
            # unit's latency, one cycle to record the response.
            "latency": summary[3]["cycles"] - 2,
        }

    speed_table = report.speed_table(figures["sims"])
    first = next(iter(figures["sims"].values()))
    tp = report.markdown_table(
        ["block", "no stalls", "25 % idle input", "50 % output backpressure", "latency"],
        [["fp.convert"] + [f"{x:.3f}" for x in first["per_cycle"]] +
         [f"{first['latency']} cycles"]])
    body = (f"Design `{CONVERT_DESIGN.stem}` (fp.convert, tag_width 8); workload: "
            f"{figures['workload']}. Simulation speed is simulated cycles per wall-clock second "
            f"with the bulk stream harness (cocotb starts and checks; the harness drives).\n\n"
            f"{speed_table}\n\nReference model (numpy): "
            f"{figures['model_per_s']:,.0f} conversions/s.\n\n"
            f"### Throughput (conversions per cycle; peak 1)\n\n{tp}\n")
    report.publish("bench", "Simulation speed and throughput", body, command=command,
                   figures=figures, write=write)
    return figures
