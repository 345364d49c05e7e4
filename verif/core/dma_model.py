"""Transaction-level model of the DMA engine (``hw/core/dma.py``; docs/core.md, "DMA engine"):
what a descriptor list writes, and the ``Done``/``ErrorRecord`` it produces, in order.

``memory`` is a ``bytearray`` of the scratchpad's bytes: byte ``i`` is at address ``base + i``.
Descriptors run one after the other, element by element (the engine gives the same bytes: a
descriptor whose source overlaps an earlier one's destination waits for those writes); a
descriptor whose source overlaps its own destination is outside the contract (the engine reads
ahead of its writes) and the model does not define it either.
"""

from hw.core.isa import DESCRIPTOR_BYTES, DmaDescriptor, Error
from hw.noc.routing import Rect
from verif.pack import field_widths, pack_word, unpack_word

__all__ = ["ELEM_BYTES", "signal_value", "descriptor", "decode", "check", "is_remote", "elements",
           "run_list"]

#: ``elem_bytes`` code -> bytes (code 3 is Error.FIELD).
ELEM_BYTES = {0: 8, 1: 16, 2: 64}
_RESERVED_WIDTH = field_widths(DmaDescriptor)["reserved"][1]


def signal_value(sem=0, enable=0, amount=0):
    """The packed :data:`hw.core.isa.Signal`."""
    return sem | enable << 4 | amount << 5


def descriptor(**fields):
    """The 64 bytes of a descriptor (fields of :data:`hw.core.isa.DmaDescriptor`; ``signal``
    packed by :func:`signal_value`; missing fields 0)."""
    word = pack_word(DmaDescriptor, fields)
    return word.to_bytes(DESCRIPTOR_BYTES, "little")


def decode(line):
    """``{field: int}`` of a descriptor's 64 bytes."""
    word = int.from_bytes(bytes(line), "little")
    return unpack_word(DmaDescriptor, word)


def is_remote(d, x, y):
    """Whether descriptor ``d`` (decoded) names a core other than ``(x, y)``, or is a multicast
    push (which goes out even to a rectangle of this core alone)."""
    return not d["local"] and (bool(d["mcast"]) or (d["dst_x"], d["dst_y"]) != (x, y))


def check(d, addr, *, base, size, x, y, network=False):
    """The :class:`Error` of descriptor ``d`` (decoded) at ``addr``, in the engine's order:
    FIELD, REMOTE (without a ``network`` only), ALIGN (addresses, strides, ``next``), RANGE
    (source, destination, ``next``; a remote destination against the same range)."""
    end = base + size
    if d["elem_bytes"] == 3 or d["rows"] == 0 or d["elems"] == 0 or d["reserved"]:
        return Error.FIELD
    if not network and (d["mcast"] or d["rect_x"] or d["rect_y"]):
        return Error.FIELD          # a lone core's reserved bits
    if not network and is_remote(d, x, y):
        return Error.REMOTE
    eb = ELEM_BYTES[d["elem_bytes"]]
    if any(d[f] % eb for f in ("src", "dst", "src_stride", "dst_stride", "src_elem_stride")) \
            or d["next"] % DESCRIPTOR_BYTES:
        return Error.ALIGN
    src_end = d["src"] + (d["rows"] - 1) * d["src_stride"] \
        + (d["elems"] - 1) * d["src_elem_stride"] + eb
    dst_end = d["dst"] + (d["rows"] - 1) * d["dst_stride"] + d["elems"] * eb
    if d["src"] < base or src_end > end or d["dst"] < base or dst_end > end \
            or (d["next"] and not base <= d["next"] <= end - DESCRIPTOR_BYTES):
        return Error.RANGE
    return Error.NONE


def elements(d):
    """``(src, dst, bytes)`` of every element of descriptor ``d``, in the engine's order."""
    eb = ELEM_BYTES[d["elem_bytes"]]
    for r in range(d["rows"]):
        for e in range(d["elems"]):
            yield (d["src"] + r * d["src_stride"] + e * d["src_elem_stride"],
                   d["dst"] + r * d["dst_stride"] + e * eb, eb)


def run_list(memory, addr, *, base, size, x=0, y=0, thread=0, max_descriptors=1 << 16,
             network=None):
    """Run the list at ``addr`` on ``memory`` (changed in place): a ``bytearray`` holding byte
    ``base + i`` at ``i``, or an object with ``read(address, n)`` and ``write(address, bytes)``
    (the core model's memory, ``verif.scalar.iss.Memory``). Returns ``(writes, done,
    errors)``: ``writes`` the ``(address, bytes)`` of every element written, in order; ``done``
    one ``{"signal", "thread", "last"}`` per descriptor; ``errors`` one ``{"code", "addr"}``
    per refused descriptor (a refused first address has signal 0).

    ``network`` (a core with a network interface, docs/mesh.md): an object whose
    ``push(x, y, writes, signal)`` does a remote descriptor at core ``(x, y)`` (``writes`` its
    ``(address, bytes)`` in order, ``signal`` added there) and returns the answer's
    :class:`Error` code (``REMOTE`` for a dead core); and whose ``multicast(rect, writes,
    signal)`` does a multicast push at every core of ``rect`` (a `hw.noc.routing.Rect`) and
    returns ``NONE`` (no core answers it). A remote descriptor's ``Done`` carries
    signal 0 (its signal is the destination's); a code other than ``NONE`` adds its
    ``ErrorRecord`` but does not end the list (the answer comes after the list has moved on).
    Its bytes are not in ``writes`` (those are this core's)."""
    if hasattr(memory, "read"):
        read, write = memory.read, memory.write
    else:
        def read(a, n):
            return bytes(memory[a - base:a - base + n])

        def write(a, data):
            memory[a - base:a - base + len(data)] = data
    writes, done, errors = [], [], []
    end = base + size
    for _ in range(max_descriptors):
        code = Error.NONE
        if addr % DESCRIPTOR_BYTES:
            code = Error.ALIGN
        elif not base <= addr <= end - DESCRIPTOR_BYTES:
            code = Error.RANGE
        if code != Error.NONE:
            errors.append({"code": code, "addr": addr})
            done.append({"signal": 0, "thread": thread, "last": 1})
            return writes, done, errors
        d = decode(read(addr, DESCRIPTOR_BYTES))
        code = check(d, addr, base=base, size=size, x=x, y=y, network=network is not None)
        if code != Error.NONE:
            errors.append({"code": code, "addr": addr})
            done.append({"signal": d["signal"], "thread": thread, "last": 1})
            return writes, done, errors
        last = int(d["next"] == 0)
        if network is not None and is_remote(d, x, y):
            pushed = [(dst, read(src, eb)) for src, dst, eb in elements(d)]
            if d["mcast"]:          # not answered: done when sent
                code = network.multicast(Rect(d["rect_x"], d["rect_y"], d["dst_x"],
                                              d["dst_y"]), pushed, d["signal"])
            else:
                code = network.push(d["dst_x"], d["dst_y"], pushed, d["signal"])
            if code != Error.NONE:
                errors.append({"code": code, "addr": addr})
            done.append({"signal": 0, "thread": thread, "last": last})
        else:
            for src, dst, eb in elements(d):
                chunk = read(src, eb)
                write(dst, chunk)
                writes.append((dst, chunk))
            done.append({"signal": d["signal"], "thread": thread, "last": last})
        if last:
            return writes, done, errors
        addr = d["next"]
    raise ValueError(f"list longer than {max_descriptors} descriptors (a loop?)")
