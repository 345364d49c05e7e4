"""The flit of the d1core mesh: one packet, a 64-byte payload and its header.

Every packet is one flit. The layout here is the only packing spec: the router, the mesh, the
model and the testbenches all use it (docs/noc.md, section "Flit").
"""

from amaranth.lib import data, enum

from .routing import MAX_SIDE, Rect

__all__ = ["MsgClass", "Opcode", "Header", "Flit", "flit_layout", "COORD_BITS", "PAYLOAD_BITS",
           "ANSWERED", "needs_answer", "error_answer", "MULTICAST_FIELDS", "rect_of"]

#: Bits of one coordinate: a mesh side is at most ``MAX_SIDE`` nodes.
COORD_BITS = (MAX_SIDE - 1).bit_length()
#: The payload: one 64-byte line.
PAYLOAD_BITS = 512


class MsgClass(enum.Enum, shape=1):
    """The message class. Requests and responses travel in separate virtual channels, so
    neither can ever block the other."""
    REQUEST = 0
    RESPONSE = 1


class Opcode(enum.Enum, shape=4):
    """What a packet asks or answers. READ and WRITE ask for an answer (READ_DATA, WRITE_ACK,
    or ERROR when the destination does not exist or is disabled); POST is a write that asks for
    none. Codes 4 to 7 and 10 to 14 are free for the network interface (3, MNOTIFY, is its
    multicast NOTIFY); the router treats them as requests that ask for no answer or as plain
    responses."""
    READ = 0
    WRITE = 1
    POST = 2
    #: The network interface's: a multicast transfer's end (docs/mesh.md), a request that asks
    #: for no answer (its copies would answer from every core of the rectangle).
    MNOTIFY = 3
    READ_DATA = 8
    WRITE_ACK = 9
    ERROR = 15


#: The request opcodes answered with an ERROR response when their destination is bad.
ANSWERED = (Opcode.READ, Opcode.WRITE)


class Header(data.Struct):
    """Destination and source coordinates, class, opcode, the local byte address at the
    destination, and a tag the source chooses and every answer carries back. A multicast packet
    (``mcast`` set) goes to the rectangle from (``rect_x``, ``rect_y``) to (``dst_x``,
    ``dst_y``), corners included; a unicast packet has all three at zero (docs/noc.md,
    "Multicast")."""
    dst_x: COORD_BITS
    dst_y: COORD_BITS
    src_x: COORD_BITS
    src_y: COORD_BITS
    cls: MsgClass
    op: Opcode
    addr: 32
    tag: 8
    mcast: 1
    rect_x: COORD_BITS
    rect_y: COORD_BITS


#: The header fields that only a multicast packet sets (`verif.noc.model.unpack_flit` leaves
#: them out of a header where all are zero: a unicast packet's).
MULTICAST_FIELDS = ("mcast", "rect_x", "rect_y")


class Flit(data.Struct):
    """One packet: header and 64-byte payload."""
    header: Header
    data: PAYLOAD_BITS


def flit_layout(payload_bits=PAYLOAD_BITS):
    """The flit with a payload of ``payload_bits``: `Flit` itself for the 64-byte line, else a
    layout with the same header and a narrower payload. The router carries the payload
    untouched, so its width changes no timing: large test meshes, the bench and the formal
    proofs use narrow payloads (docs/noc.md, "Flit")."""
    if payload_bits == PAYLOAD_BITS:
        return Flit
    return data.StructLayout({"header": Header, "data": payload_bits})


def needs_answer(cls, op):
    """Whether a packet of class ``cls`` and opcode ``op`` asks for an answer (plain Python,
    for the model; the router decodes the same rule)."""
    return MsgClass(cls) is MsgClass.REQUEST and int(op) in {o.value for o in ANSWERED}


def error_answer(header):
    """The ERROR response to a request whose destination is bad, as a dict of header fields
    (plain Python, for the model): back to the source, from the bad destination, same address,
    tag and payload; a unicast packet (without the multicast fields)."""
    unicast = {k: v for k, v in header.items() if k not in MULTICAST_FIELDS}
    return {**unicast, "dst_x": header["src_x"], "dst_y": header["src_y"],
            "src_x": header["dst_x"], "src_y": header["dst_y"],
            "cls": MsgClass.RESPONSE.value, "op": Opcode.ERROR.value}


def rect_of(header):
    """The `hw.noc.routing.Rect` of a multicast packet's header: a dict of ints, or a `Header`
    view (the rectangle's fields are then Amaranth values, for the router's logic)."""
    if isinstance(header, dict):
        return Rect(header["rect_x"], header["rect_y"], header["dst_x"], header["dst_y"])
    return Rect(header.rect_x, header.rect_y, header.dst_x, header.dst_y)
