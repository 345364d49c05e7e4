"""Transaction-level model of the mesh: where every packet ends, and what the routers count.

Plain Python over the same route tables the hardware is configured with (``hw.noc.routing``),
independent of the router's RTL: a packet is walked through the tables hop by hop. See
docs/noc.md, sections "Router" and "Verification".
"""

from dataclasses import dataclass

from hw.noc.flit import PAYLOAD_BITS, Header, MsgClass, error_answer, flit_layout, needs_answer
from hw.noc.routing import Port, next_hop, node_id
from verif.pack import pack, unpack

__all__ = ["Packet", "Delivery", "MeshModel", "pack_flit", "unpack_flit"]


def pack_flit(header, data, payload_bits=PAYLOAD_BITS):
    """One flit word (an int) from a dict of header fields and the payload int."""
    head = int(pack(Header, 1, **{k: [v] for k, v in header.items()})[0])
    return int(pack(flit_layout(payload_bits), 1, header=[head], data=[data])[0])


def unpack_flit(word, payload_bits=PAYLOAD_BITS):
    """``(header dict, data int)`` of one flit word."""
    got = unpack(flit_layout(payload_bits), [word])
    header = {k: int(v[0]) for k, v in unpack(Header, [int(got["header"][0])]).items()}
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
    `route_tables`): :meth:`send` says where a packet ends; the drops are counted per router."""

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
        """The deliveries ``packet`` causes (zero or one), counting drops."""
        h = packet.header
        if h["cls"] == packet.stream:
            end, delivered = self._walk(packet.node, (h["dst_x"], h["dst_y"]))
        else:  # a packet of the other class on a stream is dropped where it enters
            end, delivered = packet.node, False
        if delivered:
            return [Delivery(end, h["cls"], h, packet.data, packet)]
        self.dropped[end] += 1
        if not needs_answer(h["cls"], h["op"]):
            return []
        answer = error_answer(h)
        end2, delivered = self._walk(end, (answer["dst_x"], answer["dst_y"]))
        if not delivered:
            self.dropped[end2] += 1
            return []
        return [Delivery(end2, MsgClass.RESPONSE.value, answer, packet.data, packet)]
