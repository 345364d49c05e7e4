"""Transaction-level model of the mesh: where every packet ends, and what the routers count.

Plain Python over the same route tables the hardware is configured with (``hw.noc.routing``),
independent of the router's RTL: a packet is walked through the tables hop by hop. See
docs/noc.md, sections "Router" and "Verification".
"""

from dataclasses import dataclass

from hw.noc.flit import (
    MULTICAST_FIELDS,
    PAYLOAD_BITS,
    Header,
    MsgClass,
    error_answer,
    flit_layout,
    needs_answer,
    rect_of,
)
from hw.noc.routing import Port, multicast_walk, next_hop, node_id
from verif.pack import pack, unpack

__all__ = ["Packet", "Delivery", "MeshModel", "pack_flit", "unpack_flit"]


def pack_flit(header, data, payload_bits=PAYLOAD_BITS):
    """One flit word (an int) from a dict of header fields and the payload int."""
    head = int(pack(Header, 1, **{k: [v] for k, v in header.items()})[0])
    return int(pack(flit_layout(payload_bits), 1, header=[head], data=[data])[0])


def unpack_flit(word, payload_bits=PAYLOAD_BITS):
    """``(header dict, data int)`` of one flit word. A unicast header (the multicast fields all
    zero) comes without them, as unicast headers are written (`pack_flit` zeroes a missing
    field)."""
    got = unpack(flit_layout(payload_bits), [word])
    header = {k: int(v[0]) for k, v in unpack(Header, [int(got["header"][0])]).items()}
    if not any(header[k] for k in MULTICAST_FIELDS):
        header = {k: v for k, v in header.items() if k not in MULTICAST_FIELDS}
    return header, int(got["data"][0])


@dataclass(frozen=True)
class Packet:
    """A packet offered on inject stream ``(node, cls)``: node ``(x, y)``, stream class, header
    fields and payload."""
    node: tuple
    stream: int
    header: dict
    data: int


@dataclass(frozen=True)
class Delivery:
    """A packet that leaves the mesh at ``node`` on eject stream ``cls``, caused by the packet
    ``origin`` (itself, or the request an ERROR answers)."""
    node: tuple
    cls: int
    header: dict
    data: int
    origin: Packet


class MeshModel:
    """The mesh ``mesh`` (a `hw.noc.routing.Mesh`) configured with ``tables`` (as from
    `route_tables`): :meth:`send` says where a packet ends (a multicast packet: where each of
    its copies ends, `hw.noc.routing.multicast_walk`); the drops are counted per router."""

    def __init__(self, mesh, tables):
        self.mesh, self.tables = mesh, tables
        self.dropped = {n: 0 for n in mesh.nodes}

    def _walk(self, start, dst):
        """The router where a packet entering at ``start`` for ``dst`` leaves: ``(node, True)``
        delivered there, ``(node, False)`` dropped there."""
        node = start
        for _ in range(self.mesh.width * self.mesh.height + 1):
            table = self.tables.get(node)
            port = Port.DROP
            if table is not None and self.mesh.contains(*dst):
                port = table[node_id(self.mesh, *dst)]
            if port is Port.LOCAL:
                return node, True
            if port is Port.DROP:
                return node, False
            node = next_hop(self.mesh, *node, port)
            assert node is not None, f"tables route off the mesh towards {dst}"
        raise AssertionError(f"tables loop towards {dst}")

    def send(self, packet):
        """The deliveries ``packet`` causes (zero or one; a multicast packet's, one per core
        of its rectangle that its tree reaches), counting drops."""
        h = packet.header
        if h["cls"] != packet.stream:
            # A packet of the other class on a stream is dropped where it enters.
            return self._drop(packet, packet.node)
        if h.get("mcast"):
            walk = multicast_walk(self.mesh, packet.node, rect_of(h))
            return ([Delivery(n, h["cls"], h, packet.data, packet) for n in walk.delivered]
                    + [d for n, _ in walk.dropped for d in self._drop(packet, n)])
        end, delivered = self._walk(packet.node, (h["dst_x"], h["dst_y"]))
        if delivered:
            return [Delivery(end, h["cls"], h, packet.data, packet)]
        return self._drop(packet, end)

    def _drop(self, packet, end):
        """``packet`` (or a copy of it) removed at router ``end``: count it, and return the
        delivery of its ERROR answer, if it asks for one and the answer arrives."""
        h = packet.header
        self.dropped[end] += 1
        if not needs_answer(h["cls"], h["op"]):
            return []
        answer = error_answer(h)
        end2, delivered = self._walk(end, (answer["dst_x"], answer["dst_y"]))
        if not delivered:
            self.dropped[end2] += 1
            return []
        return [Delivery(end2, MsgClass.RESPONSE.value, answer, packet.data, packet)]
