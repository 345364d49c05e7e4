"""cocotb side of ``d1core noc-bench`` (``sim/bench/noc.py``): one run per offered rate, each
from reset, in the traffic harness; writes per-rate latency and throughput to a JSON file.
Every packet out must be one that went in, delivered once, at its destination."""

import json

import cocotb
import numpy as np

from hw.noc.flit import Header, MsgClass, Opcode, flit_layout
from hw.noc.routing import Mesh, route_tables
from sim.bench.noc import SERIAL_BITS
from sim.flow.runner import tb_args
from verif.noc.harness import TrafficHarness
from verif.noc.mesh_tb import config_words
from verif.pack import pack, unpack


def _words(node):
    n = len(node["t"])
    head = pack(Header, n, dst_x=np.array(node["dx"], dtype=np.uint64),
                dst_y=np.array(node["dy"], dtype=np.uint64), src_x=node["x"], src_y=node["y"],
                cls=MsgClass.REQUEST.value, op=Opcode.POST.value)
    serials = np.arange(node["serial"], node["serial"] + n, dtype=np.uint64)
    return pack(flit_layout(SERIAL_BITS), n, header=head, data=serials)


@cocotb.test()
async def bench(dut):
    """Latency and accepted throughput at each offered rate."""
    args = tb_args()
    with open(args["spec"]) as f:
        spec = json.load(f)
    width, height = spec["width"], spec["height"]
    nodes = width * height
    warmup, cycles = spec["warmup"], spec["cycles"]
    mesh = Mesh(width, height)
    cfg = config_words(mesh, route_tables(mesh))
    harness = TrafficHarness(dut)
    points = []
    for run in spec["runs"]:
        await harness.reset()
        created = np.concatenate([np.array(n["t"], dtype=np.int64) for n in run["nodes"]])
        first = run["nodes"][0]["serial"]
        sources = {f"{k}_0": list(zip(n["t"], _words(n), strict=True))
                   for k, n in enumerate(run["nodes"])}
        received, counters = await harness.run(cfg, sources, count=0,
                                               max_cycles=spec["max_cycles"],
                                               timeout=spec["max_cycles"] + 10)
        items = [(int(name.split("_")[0]), c, w) for name, stream in received.items()
                 for c, w in stream]
        at = np.array([c for _, c, _ in items], dtype=np.int64)
        data = unpack(flit_layout(SERIAL_BITS),
                      np.array([w for _, _, w in items], dtype=object))["data"]
        serial = np.array([int(d) & ((1 << SERIAL_BITS) - 1) for d in data], dtype=np.int64)
        # Every packet out is one that went in, once, at its destination.
        dst = np.concatenate([np.array(n["dy"], dtype=np.int64) * width + n["dx"]
                              for n in run["nodes"]])
        index = serial - first
        assert np.all((index >= 0) & (index < len(created))), "a packet that was never sent"
        assert len(np.unique(index)) == len(index), "a packet delivered twice"
        node = np.array([n for n, _, _ in items], dtype=np.int64)
        assert np.array_equal(node, dst[index]), "a packet delivered at the wrong node"
        latency = at - created[serial - first]
        window = (created >= warmup) & (created < cycles)
        measured = window[serial - first]
        lat = latency[measured]
        accepted = np.count_nonzero((at >= warmup) & (at < cycles)) / (nodes * (cycles - warmup))
        points.append({
            "offered": run["rate"], "accepted": accepted,
            "latency_avg": float(lat.mean()) if len(lat) else 0.0,
            "latency_p99": float(np.percentile(lat, 99)) if len(lat) else 0.0,
            "measured": int(len(lat)), "complete": bool(len(lat) == np.count_nonzero(window)),
            "sim_cycles": counters["cycles"],
        })
        dut._log.info(f"rate {run['rate']}: {points[-1]}")
    with open(args["summary"], "w") as f:
        json.dump(points, f)
