"""``d1core bench`` part ``vector``: the vector unit's operations per cycle per class, latency and
simulation speed, into ``docs/results.md`` (section ``bench-vector``).

Throughput (Verilator): per class of operation, a batch of random requests of its pairs with no
idle input and no backpressure; requests per cycle are counted by the harness from its start to
the last response (so a batch of ``n`` takes ``n`` + the latency + 2 cycles), and lane operations
per cycle are that times the class's lanes (16 FP32 FMAs per request, 32 BF16 ...). Latency from a
single request. Simulation speed: one workload (random requests of every pair, light idles and
backpressure) on Verilator and on Icarus, as simulated cycles per wall-clock second. Every
response of every batch is checked against the model first, so no figure comes from a wrong run.
"""

import numpy as np

from hw.vector.isa import VecOp, VecType
from hw.vector.unit import UNIT_OPS, Source
from sim.flow import report
from sim.flow.toolchain import SIMULATORS
from verif.vector.model import VectorUnitModel, ints_from_vectors
from verif.vector.unit_run import VECTOR_DESIGN, run_vector
from verif.vector.unit_tb import random_requests

__all__ = ["CLASSES", "run"]

_FMA = (VecOp.FMA, VecOp.FMS, VecOp.FNMA, VecOp.FNMS)
#: Classes of the throughput table: (name, pairs, lane operations per request, what they are).
CLASSES = [
    ("FP32 FMA", [(op, VecType.FP32) for op in _FMA], 16, "FP32 FMAs"),
    ("BF16 FMA", [(op, VecType.BF16) for op in _FMA], 32, "BF16 FMAs"),
    ("FP32 add/sub/mul", [(op, VecType.FP32) for op in (VecOp.ADD, VecOp.SUB, VecOp.MUL)], 16,
     "FP32 ops"),
    ("FP32 min/max/compare/convert", [p for p, s in UNIT_OPS.items() if s is Source.LANES
                                      and p[0] not in _FMA + (VecOp.ADD, VecOp.SUB, VecOp.MUL)],
     16, "lane ops"),
    ("FP32 reductions", [p for p, s in UNIT_OPS.items() if s is Source.REDUCE], 15,
     "FP32 adds or compares"),
    ("INT8 add/mul/logic", [(op, VecType.INT8) for op in (VecOp.ADD, VecOp.MUL, VecOp.XOR)], 64,
     "INT8 ops"),
    ("data movement", [p for p, s in UNIT_OPS.items() if s is Source.MOVE], 64, "bytes moved"),
    ("WIDEN/NARROW", [p for p, s in UNIT_OPS.items() if s is Source.CONV], 16,
     "conversions (at least)"),
]


def _check(model, req, got):
    """``got`` against the model, which carries the unit's state (sticky flags, SR generators)
    from the earlier batches of the same simulation."""
    resp = model.run(req)
    exp = {"data": ints_from_vectors(resp["data"]), "flags": resp["flags"],
           "error": resp["error"]}
    for name in ("data", "flags", "error"):
        if not np.array_equal(np.asarray(exp[name], dtype=object),
                              np.asarray(got[name], dtype=object)):
            raise AssertionError("bench run disagrees with the reference model: run the "
                                 "regression (tests/vector/test_vector.py)")


def run(*, n=2000, speed_n=120, sims=SIMULATORS, write=True, command="d1core bench"):
    """Measure; print the tables; write the ``bench-vector`` section. ``n`` requests per class
    (Verilator), ``speed_n`` in the speed workload (both simulators: Icarus simulates this unit
    at a few cycles per second). Returns the figures."""
    rng = np.random.default_rng(2026)
    classes = [(name, random_requests(rng, n, pairs=pairs, seed_fraction=0), lanes, what)
               for name, pairs, lanes, what in CLASSES]
    speed = random_requests(rng, speed_n)
    one = random_requests(rng, 1, pairs=[(VecOp.FMA, VecType.FP32)])
    figures = {"classes": {}, "sims": {}}
    for sim in sims:
        print(f"bench vector: {sim}", flush=True)
        batches = [{"req": speed, "idle": 16, "stall": 16, "label": "speed"}]
        if sim == "verilator":          # Icarus would take hours for the class batches
            batches += [{"req": req, "label": name} for name, req, _, _ in classes]
            batches += [{"req": one, "label": "one request"}]
        results, summary, info = run_vector(batches, sim)
        model = VectorUnitModel()
        for b, got in zip(batches, results, strict=True):
            _check(model, b["req"], got)
        figures["sims"][sim] = {"cycles_per_s": summary[0]["cycles"] / summary[0]["seconds"],
                                "build_s": info["build_seconds"]}
        if len(batches) > 1 and not figures["classes"]:
            for (name, req, lanes, what), s in zip(classes, summary[1:], strict=False):
                rate = len(req) / s["cycles"]
                figures["classes"][name] = {"per_cycle": rate, "lane_ops": rate * lanes,
                                            "what": what, "cycles": s["cycles"], "n": len(req)}
            figures["latency"] = summary[-1]["cycles"] - 2
            figures["rate_sim"] = sim

    rows = [[name, f"{f['per_cycle']:.3f}", f"{f['lane_ops']:.1f} {f['what']}"]
            for name, f in figures["classes"].items()]
    tp = report.markdown_table(["class", "requests per cycle", "lane operations per cycle"],
                               rows)
    speed_table = report.speed_table(figures["sims"])
    body = (f"Design `{VECTOR_DESIGN.stem}` (vector.unit, tag_width 8). Throughput on "
            f"{figures.get('rate_sim', '-')}: {n} random requests per class, no idles, no "
            f"backpressure; requests per cycle counted by the harness over the whole batch "
            f"(fill and drain included); lane operations = requests × lanes (peak 16 FP32 FMAs "
            f"per cycle). Latency of one request: **{figures.get('latency', '-')} cycles**.\n\n"
            f"{tp}\n\n### Simulation speed\n\nWorkload: {speed_n} random requests of every "
            f"legal pair, 16/256 idle input and output backpressure; simulated cycles per "
            f"wall-clock second with the bulk stream harness.\n\n{speed_table}\n")
    report.publish("bench-vector", "Vector unit: throughput and simulation speed", body,
                   command=command, figures=figures, write=write)
    return figures
