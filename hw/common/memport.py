"""The memory-port contract: the request and response payloads every requester of a d1core
memory (the scratchpad's ports, the scalar core's fetch and data ports) uses, so that a
requester and a memory port of the same parameters connect with ``wiring.connect`` alone.

A request carries a byte ``addr`` (a multiple of the access width), an ``op`` on a port that
both reads and writes, ``data`` and a byte ``mask`` on a port that writes, and an opaque
``tag``. Its response carries ``data`` on a port that reads (0 for a write or a refused
request), a :class:`Status` and the request's ``tag``. Byte ``i`` of ``data`` is in bits
``8i..8i+7`` (little-endian); mask bit ``i`` enables byte ``i``.
"""

from amaranth.lib import data, enum

__all__ = ["Op", "Status", "request_layout", "response_layout"]


class Op(enum.Enum, shape=1):
    """The operation of a request on a port that both reads and writes."""
    READ = 0
    WRITE = 1


class Status(enum.Enum, shape=3):
    """The outcome of a request, in its response."""
    #: Done; no error seen.
    OK = 0
    #: Done; one or more words had a single-bit error, corrected (and written back).
    CORRECTED = 1
    #: Done; one or more words had an uncorrectable error: read data as stored; a partial write
    #: leaves those words as they were (the rest of the access is done).
    UNCORRECTABLE = 2
    #: Refused, nothing changed: the address is not a multiple of the port's width.
    MISALIGNED = 3
    #: Refused, nothing changed: the address is at or beyond the end of the memory.
    OUT_OF_RANGE = 4


def request_layout(*, addr_bits, tag_width, width, reads, writes):
    """A request of a port of ``width`` bytes per access: ``addr`` (``addr_bits``); ``op`` if
    it ``reads`` and ``writes``; ``data`` (``8 * width``) and ``mask`` (``width``) if it
    ``writes``; ``tag`` (``tag_width``, may be 0)."""
    fields = {"addr": addr_bits}
    if reads and writes:
        fields["op"] = Op
    if writes:
        fields["data"] = width * 8
        fields["mask"] = width
    fields["tag"] = tag_width
    return data.StructLayout(fields)


def response_layout(*, tag_width, width, reads):
    """The response of a port of ``width`` bytes per access: ``data`` (``8 * width``) if it
    ``reads``; ``status`` (:class:`Status`); ``tag`` (``tag_width``)."""
    fields = {}
    if reads:
        fields["data"] = width * 8
    fields["status"] = Status
    fields["tag"] = tag_width
    return data.StructLayout(fields)
