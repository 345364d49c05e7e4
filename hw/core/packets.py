"""The packets of the network interface of a core (docs/mesh.md, "Packets"): what the NI's
receive and send sides, the models and the testbenches put in the router's flits
(``hw.noc.flit.Flit``; nothing here changes the router's format).

A transfer is a train of LINEs (``POST``: a line write, the word mask in the header's ``tag``)
and one NOTIFY (``WRITE``: its :data:`Notify` payload carries the semaphore signal to add at
the destination, its ``tag`` the source's transfer number). The NOTIFY is answered with
``WRITE_ACK`` or ``ERROR`` (payload :data:`Notify` with the error ``code``: 0 in the router's
own answer to a dead or missing core, the destination's verdict otherwise).
"""

from amaranth.lib import data

from hw.noc.flit import PAYLOAD_BITS, MsgClass, Opcode

from .isa import THREAD_BITS, Error, Signal

__all__ = ["LINE", "NOTIFY", "MNOTIFY", "PULL", "READ_DATA", "Notify", "Pull", "pull_packet",
           "read_data_packet", "pull_error_packet", "WORDS", "SEQ_BITS", "NetLine", "NetAnswer",
           "Place", "RemoteAdd", "DirectAnswer", "DIRECT", "byte_mask", "status_code",
           "line_packet", "notify_packet", "answer_packet"]

#: The opcode of a line write (no answer: the router drops it silently at a bad destination).
LINE = Opcode.POST
#: The opcode of a transfer's end (answered: the router answers ERROR at a bad destination).
NOTIFY = Opcode.WRITE
#: The opcode of a multicast transfer's end: a NOTIFY that asks for no answer.
MNOTIFY = Opcode.MNOTIFY
#: The opcode of a pull (a line read at the destination, answered with the line).
PULL = Opcode.READ
#: The opcode of a pull's answer: the line, to be written at the puller.
READ_DATA = Opcode.READ_DATA

#: 8-byte words in a line: the bits of a LINE's word mask (its ``tag``).
WORDS = 8

#: The payload of a NOTIFY and of its answer: the signal to add at the destination, and the
#: answer's error code (0 in a NOTIFY and in an ACK).
Notify = data.StructLayout({
    "signal": Signal,
    "code": Error,
    "reserved": PAYLOAD_BITS - Signal.size - 4,
})

#: The payload of a PULL, and of the ERROR that answers a refused one: where the line goes at
#: the puller (``dst``, the READ_DATA's address), and the ``code`` where a :data:`Notify`'s is
#: (0 in a PULL and in the router's ERROR: the core does not exist or is dead).
Pull = data.StructLayout({
    "signal": Signal,           # unused, 0
    "code": Error,
    "pad": 32 - Signal.size - 4,
    "dst": 32,
    "reserved": PAYLOAD_BITS - 64,
})

#: A core's coordinates in the mesh (an input of the core: every core is the same module).
Place = data.StructLayout({"x": 4, "y": 4})

#: Bits of a remote descriptor's transfer number (the NOTIFY's tag, its answer's): the DMA
#: engine keeps fewer descriptors started and not done than ``2 ** SEQ_BITS``, so the numbers of
#: those waiting for an answer differ.
SEQ_BITS = 3

#: A line of a remote descriptor, from the DMA engine to the NI's send side: the destination
#: core ``(x, y)``, the line's byte address there, its 64 bytes and word mask; ``end`` on the
#: descriptor's last line, which the NOTIFY follows, with the descriptor's ``signal`` and
#: transfer number ``seq``. A multicast push's lines have ``mcast`` set and go to the rectangle
#: from (``rect_x``, ``rect_y``) to ``(x, y)``.
NetLine = data.StructLayout({
    "x": 4, "y": 4, "addr": 32, "data": PAYLOAD_BITS, "words": WORDS, "end": 1,
    "signal": Signal, "seq": SEQ_BITS, "mcast": 1, "rect_x": 4, "rect_y": 4,
})

#: A thread's direct add to another core's semaphores (``d1.snotify``), from the dispatcher to
#: the NI's send side: the destination core, the signal, the issuing thread.
RemoteAdd = data.StructLayout({"x": 4, "y": 4, "signal": Signal, "thread": THREAD_BITS})

#: The tag bit of a direct add's NOTIFY (the low bits: the issuing thread); a DMA transfer's
#: NOTIFY has it clear (its tag is the transfer number, below ``2 ** SEQ_BITS``).
DIRECT = 0x80

#: The answer to a direct add, from the NI's send side to the dispatcher: the issuing thread,
#: the code (as :data:`NetAnswer`'s) and the core that answered (the destination, or the bad
#: coordinates the router answered for).
DirectAnswer = data.StructLayout({"thread": THREAD_BITS, "code": Error, "x": 4, "y": 4})

#: The answer to a remote descriptor's NOTIFY, from the NI's send side to the DMA engine: its
#: transfer number and the error code (``NONE`` for an ACK; ``REMOTE`` for the router's ERROR
#: of a dead or missing core; the destination's code otherwise).
NetAnswer = data.StructLayout({"seq": SEQ_BITS, "code": Error})


def byte_mask(words):
    """The 64-bit byte mask of an 8-bit word mask (plain Python): bit ``i`` of ``words``
    enables bytes ``8i .. 8i+7``."""
    return sum(0xFF << (8 * i) for i in range(WORDS) if words >> i & 1)


def status_code(status):
    """The error code a line write answered with memory-port ``status`` (``hw.common.memport
    .Status``, or its int) records: ``NONE`` when it was done, else ``RANGE``, ``ALIGN`` or
    ``FIELD`` (an uncorrectable word), as a refused local descriptor's codes (plain Python)."""
    return {0: Error.NONE, 1: Error.NONE, 2: Error.FIELD, 3: Error.ALIGN,
            4: Error.RANGE}[getattr(status, "value", status)]


def _header(src, dst, cls, op, addr, tag):
    return {"dst_x": dst[0], "dst_y": dst[1], "src_x": src[0], "src_y": src[1],
            "cls": MsgClass(cls).value, "op": Opcode(op).value, "addr": addr, "tag": tag}


def _multicast(header, rect):
    """``header`` made multicast to ``rect`` (a `hw.noc.routing.Rect`: its south-east corner in
    the destination fields), or kept unicast when ``rect`` is None."""
    if rect is None:
        return header
    return {**header, "dst_x": rect.x1, "dst_y": rect.y1, "mcast": 1, "rect_x": rect.x0,
            "rect_y": rect.y0}


def line_packet(src, dst, addr, words, line, rect=None):
    """``(header dict, data int)`` of a LINE from core ``src`` to core ``dst`` (``(x, y)``
    pairs), or to every core of ``rect`` (a `hw.noc.routing.Rect`): the 64-byte ``line`` (an
    int, byte ``i`` in bits ``8i..``) at ``addr`` there, the 8-B words of ``words`` written."""
    return _multicast(_header(src, dst, MsgClass.REQUEST, LINE, addr, words), rect), line


def notify_packet(src, dst, seq, signal, rect=None):
    """``(header dict, data int)`` of a NOTIFY: transfer number ``seq`` (the answer's tag),
    ``signal`` a packed :data:`hw.core.isa.Signal` int; to every core of ``rect``, an MNOTIFY
    (not answered)."""
    op = NOTIFY if rect is None else MNOTIFY
    return _multicast(_header(src, dst, MsgClass.REQUEST, op, 0, seq), rect), signal


def pull_packet(src, dst, addr, words, to):
    """``(header dict, data int)`` of a PULL from core ``src`` of the line at ``addr`` in core
    ``dst``, to be written at ``to`` in ``src`` (its 8-B words of ``words``, the tag)."""
    return _header(src, dst, MsgClass.REQUEST, PULL, addr, words), to << 32


def read_data_packet(request, data, line):
    """``(header dict, data int)`` of the READ_DATA that answers the PULL ``request`` (header
    dict, payload ``data``): back to the puller, at the PULL's ``dst``, its tag kept, the
    64-byte ``line`` (an int) read at the PULL's address."""
    header = _header((request["dst_x"], request["dst_y"]), (request["src_x"], request["src_y"]),
                     MsgClass.RESPONSE, READ_DATA, data >> 32 & 0xFFFF_FFFF, request["tag"])
    return header, line


def pull_error_packet(request, data, code):
    """``(header dict, data int)`` of the ERROR that answers a refused PULL: back to the puller,
    the PULL's address and tag, the payload its ``dst`` with ``code`` set."""
    header = _header((request["dst_x"], request["dst_y"]), (request["src_x"], request["src_y"]),
                     MsgClass.RESPONSE, Opcode.ERROR, request["addr"], request["tag"])
    return header, (data >> 32 & 0xFFFF_FFFF) << 32 | int(Error(code)) << Signal.size


def answer_packet(request, data, code):
    """``(header dict, data int)`` of the destination's answer to a NOTIFY or a PULL
    (``request`` its header dict, ``data`` its payload): back to the source, ``WRITE_ACK`` when
    ``code`` is ``NONE``, else ``ERROR``; ``addr`` and ``tag`` kept; the payload's signal kept
    and its ``code`` set."""
    code = Error(code)
    op = Opcode.WRITE_ACK if code is Error.NONE else Opcode.ERROR
    header = _header((request["dst_x"], request["dst_y"]), (request["src_x"], request["src_y"]),
                     MsgClass.RESPONSE, op, request["addr"], request["tag"])
    keep = (1 << Signal.size) - 1
    return header, (data & keep) | int(code) << Signal.size
