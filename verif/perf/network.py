"""The on-die network: hop latency, link bandwidth, contention, multicast, dead cores.

* A contention-free transfer of ``B`` bytes over ``h`` hops takes
  ``fixed + hop·h + ⌈B / flit⌉ - 1`` cycles: the zero-load latency of its first flit (a line fitted
  through the noc bench's lowest-rate latencies on 4x4 and 8x8, :mod:`.params`; docs/noc.md's
  router gives two cycles per hop) and one flit a cycle after it (one 64-byte flit per link per
  direction per cycle, TNP).
* Under load the latency is the zero-load latency times the measured load-latency curve of the
  router's (VCs, depth), at load = offered / saturation throughput (:meth:`Params.load_latency`);
  the saturation throughput of uniform traffic is the measured share of the bisection bound.
* Multicast is a router tree (the routers fork a multicast packet, issue 18): the source
  injects it once, and the farthest destination has it after one zero-load latency over its
  hops and a flit a cycle behind (:func:`multicast_cycles`).
* Dead cores: paths from ``hw.noc.routing``'s own tables (``updown`` around disabled nodes, as the
  RTL's tables route them); :func:`hop_stretch` is the mean hop count over the live pairs
  relative to the full mesh's XY routes. The routing functions take meshes up to 16x16; a larger
  array (a D1 die) takes the stretch of a 16x16 mesh with the same dead fraction and placement.
"""

import functools
import math
import random

from hw.noc.routing import DIRECTIONS, Mesh, next_hop, node_id, route_tables

from .params import mean_hops

__all__ = ["transfer_cycles", "loaded_latency", "saturation_throughput", "multicast_cycles",
           "route_hops", "hop_stretch", "dead_nodes"]


def transfer_cycles(p, hops, nbytes):
    """Cycles of a contention-free transfer of ``nbytes`` over ``hops`` hops."""
    if hops < 0 or nbytes < 0:
        raise ValueError("hops and nbytes must be at least 0")
    flits = max(1, math.ceil(nbytes / p.link_bytes_per_cycle()))
    return p.fixed_cycles + p.hop_cycles * hops + flits - 1


def saturation_throughput(p, width, height, pattern="uniform"):
    """Flits per node per cycle at saturation: the pattern's bound (uniform: bisection 4/k of the
    larger side k; transpose under XY: 1/(k-1)) times the measured share."""
    k = max(width, height)
    if pattern == "uniform":
        return min(1.0, 4 / k) * p.saturation_share() * p.link_scale
    if pattern == "transpose":
        return (1 / (k - 1) if k > 1 else 1.0) * p.transpose_share * p.link_scale
    raise ValueError(f"pattern must be 'uniform' or 'transpose', not {pattern!r}")


def loaded_latency(p, width, height, offered, pattern="uniform"):
    """Average latency (cycles) of single-flit packets at ``offered`` flits/node/cycle."""
    hops = mean_hops(width, height)
    zero = p.fixed_cycles + p.hop_cycles * hops
    return zero * p.load_latency(offered / saturation_throughput(p, width, height, pattern))


def multicast_cycles(p, width, height, nbytes, src=(0, 0)):
    """Cycles to deliver ``nbytes`` from ``src`` to every node of a width x height region: the
    routers fork the packet (a tree along the XY routes), so the source injects it once and the
    farthest node (its hops the largest row plus column distance) has the last flit one
    zero-load latency and ``flits - 1`` cycles after the first was sent."""
    x, y = src
    row = max(x, width - 1 - x)
    col = max(y, height - 1 - y)
    flits = max(1, math.ceil(nbytes / p.link_bytes_per_cycle()))
    return p.fixed_cycles + p.hop_cycles * (row + col) + flits - 1


def route_hops(mesh, tables, src, dst):
    """Hops of the routed path from ``src`` to ``dst`` through ``tables`` (route_tables')."""
    here, hops = src, 0
    d = node_id(mesh, *dst)
    while here != dst:
        port = tables[here][d]
        if port not in DIRECTIONS:
            raise ValueError(f"no route from {src} to {dst}")
        here = next_hop(mesh, *here, port)
        hops += 1
    return hops


def dead_nodes(width, height, count, placement="edge", seed=1):
    """``count`` disabled nodes of a width x height array: ``"edge"`` fills the last row from
    its end (spares at the edge, the XY routes unaffected), ``"random"`` draws them (seeded), a
    list of ``(x, y)`` is taken as given."""
    if not isinstance(placement, str):
        nodes = [tuple(n) for n in placement]
        if len(nodes) != count:
            raise ValueError(f"{len(nodes)} dead cores given for {count}")
        return nodes
    if placement == "edge":
        return [(width - 1 - i % width, height - 1 - i // width) for i in range(count)]
    if placement == "random":
        rng = random.Random(seed)
        return rng.sample([(x, y) for y in range(height) for x in range(width)], count)
    raise ValueError(f"placement must be 'edge', 'random' or a list of (x, y), not {placement!r}")


def _mean_routed_hops(mesh, policy):
    tables = route_tables(mesh, policy)
    live = mesh.live
    total = sum(route_hops(mesh, tables, s, d) for s in live for d in live)
    return total / len(live) ** 2


@functools.cache
def hop_stretch(width, height, dead, placement="edge", seed=1):
    """Mean routed hops over the live pairs (updown around ``dead`` disabled nodes; XY when there
    are none or they are off every route) over their mean Manhattan distance. Meshes over 16 on a
    side are scaled to 16x16 with the same dead fraction (rounded)."""
    if width > 16 or height > 16:
        n = round(dead * 256 / (width * height))
        return hop_stretch(16, 16, n, placement, seed)
    if dead == 0:
        return 1.0
    mesh = Mesh(width, height, dead_nodes(width, height, dead, placement, seed))
    try:
        hops = _mean_routed_hops(mesh, "xy")
    except ValueError:
        hops = _mean_routed_hops(mesh, "updown")
    live = mesh.live
    manhattan = sum(abs(a - c) + abs(b - d) for a, b in live for c, d in live) / len(live) ** 2
    return hops / manhattan
