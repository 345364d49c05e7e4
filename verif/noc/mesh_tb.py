"""Testbench of the mesh: random traffic through the traffic harness, checked by a scoreboard.

Driver: the traffic harness (``verif/noc/harness.py``) injects every node's packets from files
and records every ejected packet. Model: `verif.noc.model.MeshModel` says where each packet
must leave (or that it is dropped, where, and whether an ERROR answer goes back). Scoreboard
(:func:`scoreboard`): nothing lost, duplicated, corrupted or misdelivered; per (inject stream,
eject stream) the packets arrive in injection order (ERROR answers per request destination);
the routers' drop counts equal the model's;
no flit leaves through an edge port; no credit overrun.
"""

import numpy as np

from hw.noc.flit import ANSWERED, PAYLOAD_BITS, MsgClass, Opcode
from hw.noc.mesh import mesh_table_write_layout
from hw.noc.routing import (
    ALL_MULTICASTS,
    Mesh,
    Rect,
    RoutingError,
    check,
    multicast_tree,
    node_id,
    route_tables,
    table_words,
    turn_words,
)
from verif.pack import pack

from .model import MeshModel, Packet, pack_flit, unpack_flit

__all__ = ["config_words", "random_packets", "random_rect", "safe_trees", "scoreboard",
           "run_traffic", "SERIAL_BITS"]

#: The low payload bits of every test packet hold its serial number (unique in a run).
SERIAL_BITS = 32

_REQUEST_OPS = [op.value for op in (*ANSWERED, Opcode.POST)]
_RESPONSE_OPS = [Opcode.READ_DATA.value, Opcode.WRITE_ACK.value]


def config_words(mesh, tables):
    """The ``cfg`` stream words that load ``tables`` into the live routers of ``mesh``."""
    nodes = mesh.width * mesh.height
    layout = mesh_table_write_layout(nodes)
    node, dst, port, turn = [], [], [], []
    turns = turn_words(mesh, tables)
    for router, codes in table_words(mesh, tables).items():
        for d, code in enumerate(codes):
            node.append(node_id(mesh, *router))
            dst.append(d)
            port.append(code)
            turn.append(turns[router][d])
    return [int(w) for w in pack(layout, node=np.array(node), dst=np.array(dst),
                                 port=np.array(port), turn=np.array(turn))]


def random_rect(mesh, rng):
    """A random multicast rectangle of ``mesh`` (a `Rect`): a row, a column or any rectangle,
    a third each."""
    x0, x1 = sorted(int(v) for v in rng.integers(mesh.width, size=2))
    y0, y1 = sorted(int(v) for v in rng.integers(mesh.height, size=2))
    kind = rng.integers(3)
    if kind == 0:
        x0, x1 = 0, mesh.width - 1
        y1 = y0
    elif kind == 1:
        y0, y1 = 0, mesh.height - 1
        x1 = x0
    return Rect(x0, y0, x1, y1)


def safe_trees(mesh, tables, rng, *, tries=200):
    """Multicast trees that ``tables`` can carry with ``mesh``'s dead nodes: ``{source: [Rect,
    ...]}`` of up to ``tries`` random (source, `random_rect`) pairs, each kept when its tree
    avoids the dead nodes and every tree kept so far, with the unicast routes, leaves the
    channel dependency graph acyclic (`check`, as a program would check the trees it uses)."""
    live, chosen = mesh.live, []
    for _ in range(tries):
        src, rect = live[rng.integers(len(live))], random_rect(mesh, rng)
        try:
            multicast_tree(mesh, src, rect)
            check(mesh, tables, multicast=chosen + [(src, rect)])
        except RoutingError:
            continue
        chosen.append((src, rect))
    trees = {}
    for src, rect in chosen:
        trees.setdefault(src, []).append(rect)
    return trees


def random_packets(mesh, rng, *, per_stream, bad=0.0, wrong_class=0.0, multicast=0.0,
                   trees=None, payload_bits=PAYLOAD_BITS):
    """Random packets for every live node and class: ``{(node, cls): [Packet, ...]}``.

    Destinations are uniform over the live nodes (the source included); a fraction ``bad`` go
    to a disabled node or to coordinates outside the mesh; a fraction ``wrong_class`` carry the
    other class than their stream's; a fraction ``multicast`` (of the rest) are multicast to a
    `random_rect` (a bad one among them: a rectangle past the mesh's east edge), or with
    ``trees`` (`safe_trees`) to one of its source's rectangles there (unicast for a source
    without one). Opcodes are
    drawn from the class's (requests: READ, WRITE, POST). The payload's low `SERIAL_BITS` bits
    number the packets in injection order; the rest of its ``payload_bits`` is random.
    """
    live = mesh.live
    bad_dsts = list(mesh.disabled) + [(mesh.width, 0), (0, mesh.height), (15, 15)]
    bad_dsts = [d for d in bad_dsts if d[0] < 16 and d[1] < 16]
    serial = 0
    packets = {}
    for node in live:
        for cls in (MsgClass.REQUEST.value, MsgClass.RESPONSE.value):
            items = []
            for _ in range(per_stream):
                if rng.random() < bad:
                    dst = bad_dsts[rng.integers(len(bad_dsts))]
                else:
                    dst = live[rng.integers(len(live))]
                hcls = cls ^ int(rng.random() < wrong_class)
                ops = _REQUEST_OPS if hcls == MsgClass.REQUEST.value else _RESPONSE_OPS
                header = {"dst_x": dst[0], "dst_y": dst[1], "src_x": node[0], "src_y": node[1],
                          "cls": hcls, "op": ops[rng.integers(len(ops))],
                          "addr": int(rng.integers(1 << 32)), "tag": int(rng.integers(256))}
                mine = None if trees is None else trees.get(node, [])
                if rng.random() < multicast and mine != []:
                    rect = random_rect(mesh, rng) if mine is None \
                        else mine[rng.integers(len(mine))]
                    if dst not in live:  # a bad one: past the east edge
                        rect = Rect(rect.x0, rect.y0, mesh.width, rect.y1)
                    header.update(dst_x=rect.x1, dst_y=rect.y1, mcast=1, rect_x=rect.x0,
                                  rect_y=rect.y0)
                noise = int.from_bytes(rng.bytes(PAYLOAD_BITS // 8), "little")
                data = (noise << SERIAL_BITS | serial) & ((1 << payload_bits) - 1)
                serial += 1
                items.append(Packet(node, cls, header, data))
            packets[(node, cls)] = items
    return packets


def scoreboard(mesh, deliveries, received, *, payload_bits=PAYLOAD_BITS, limit=10):
    """Compare ``received`` (``{(node, cls): [(cycle, word), ...]}``) with the model's
    ``deliveries``; return a list of error messages (empty when all is well)."""
    errors = []
    # A packet's copies by serial: one, or a multicast packet's, one per node it reaches.
    want = {}
    for d in deliveries:
        want.setdefault(d.data & ((1 << SERIAL_BITS) - 1), {})[(d.node, d.cls)] = d
    seen = set()
    last = {}
    for (node, cls), items in sorted(received.items()):
        for cycle, word in items:
            header, data = unpack_flit(word, payload_bits)
            serial = data & ((1 << SERIAL_BITS) - 1)
            where = f"cycle {cycle} at {node} class {cls}: serial {serial}"
            copies = want.get(serial)
            if copies is None:
                errors.append(f"{where}: no such packet was expected ({header})")
                continue
            if (serial, node, cls) in seen:
                errors.append(f"{where}: duplicated")
                continue
            seen.add((serial, node, cls))
            d = copies.get((node, cls))
            if d is None:
                errors.append(f"{where}: expected at "
                              + ", ".join(f"{n} class {c}" for n, c in copies))
                continue
            if (d.header, d.data) != (header, data):
                errors.append(f"{where}: corrupted: got {header}, expected {d.header}"
                              + ("" if d.data == data else "; payload differs"))
            # In order per (inject stream, eject stream): packets for one destination share one
            # FIFO at every hop (inject FIFO and link channels are chosen per router and
            # destination). ERROR answers take another path than packets delivered, and
            # requests for different destinations wait in different inject FIFOs before they
            # are dropped: answers are in order per request destination. Multicast packets to
            # one rectangle follow one tree in one channel, but not the unicast packets' paths:
            # they are in order among themselves, per rectangle.
            answer = d.header is not d.origin.header
            h = d.origin.header
            asked = (h["dst_x"], h["dst_y"], h.get("mcast", 0)) if answer else None
            tree = ((h["rect_x"], h["rect_y"], h["dst_x"], h["dst_y"])
                    if h.get("mcast") and not answer else None)
            key = (node, cls, d.origin.node, d.origin.stream, asked, tree)
            if last.get(key, -1) > serial:
                errors.append(f"{where}: overtook serial {last[key]} from stream "
                              f"{d.origin.node} class {d.origin.stream}"
                              + (f" (ERROR answers for {asked})" if answer else ""))
            last[key] = max(last.get(key, -1), serial)
    for serial, copies in sorted(want.items()):
        for (node, cls), d in copies.items():
            if (serial, node, cls) not in seen:
                errors.append(f"serial {serial} lost: expected at {node} class {cls} "
                              f"({d.header})")
    return errors[:limit] + ([f"... {len(errors) - limit} more"] if len(errors) > limit else [])


async def run_traffic(dut, harness, args):
    """One random-traffic run of the mesh under ``harness`` (a started `TrafficHarness`; runs
    follow each other without a reset, so drop counts are compared as differences), as
    described by ``args``: width, height, disabled, policy, per_stream, bad, wrong_class,
    multicast, idle, stall, seed, payload_bits (the mesh's). Raises ``AssertionError`` with the
    scoreboard's report on any error."""
    mesh = Mesh(args["width"], args["height"], tuple(map(tuple, args.get("disabled", ()))))
    tables = route_tables(mesh, args.get("policy", "xy"))
    rng = np.random.default_rng(args["seed"])
    bits = args.get("payload_bits", PAYLOAD_BITS)
    trees = None
    if args.get("multicast") and mesh.disabled:
        # Up*/down* tables around dead nodes do not take every tree (docs/noc.md, "The check
        # covers it"): only those checked with them.
        trees = safe_trees(mesh, tables, rng)
    elif args.get("multicast"):
        check(mesh, tables, multicast=ALL_MULTICASTS)
    packets = random_packets(mesh, rng, per_stream=args["per_stream"], bad=args.get("bad", 0),
                             wrong_class=args.get("wrong_class", 0),
                             multicast=args.get("multicast", 0), trees=trees,
                             payload_bits=bits)

    model = MeshModel(mesh, tables)
    deliveries = [d for items in packets.values() for p in items for d in model.send(p)]
    sources = {f"{node_id(mesh, *node)}_{cls}": [(0, pack_flit(p.header, p.data, bits))
                                                 for p in items]
               for (node, cls), items in packets.items()}
    def drops():
        return {n: int(getattr(dut, f"dropped__{node_id(mesh, *n)}").value) for n in mesh.nodes}

    before = drops()
    received, counters = await harness.run(
        config_words(mesh, tables), sources, count=len(deliveries), idle=args.get("idle", 0),
        stall=args.get("stall", 0), seed=args["seed"], timeout=args.get("timeout", 5000))
    by_stream = {}
    for suffix, items in received.items():
        n, cls = map(int, suffix.split("_"))
        by_stream[((n % mesh.width, n // mesh.width), cls)] = items
    errors = scoreboard(mesh, deliveries, by_stream, payload_bits=bits)
    dropped = {n: count - before[n] for n, count in drops().items()}
    if dropped != model.dropped:
        errors.append(f"drop counts {dropped}, expected {model.dropped}")
    overrun = [n for n in mesh.nodes if int(getattr(dut, f"overrun__{node_id(mesh, *n)}").value)]
    if overrun:
        errors.append(f"credit overrun at {overrun}")
    if counters["edge_flits"]:
        errors.append(f"{counters['edge_flits']} cycles with a flit leaving through an edge")
    if counters["proto_errors"]:
        errors.append(f"{counters['proto_errors']} stream-rule violations on eject streams")
    sent = sum(len(v) for v in packets.values())
    if counters["n_in"] != sent:
        errors.append(f"{counters['n_in']} packets injected of {sent}")
    dut._log.info(f"mesh {mesh.width}x{mesh.height}: {sent} packets in, {len(deliveries)} out, "
                  f"{sum(model.dropped.values())} dropped, {counters['cycles']} cycles")
    assert not errors, "scoreboard:\n  " + "\n  ".join(errors)
    return counters
