"""The D1 core's instruction-set extension: the custom instructions the scalar core sends on its
coprocessor stream, the descriptors the units read from the scratchpad, the semaphore signal, the
error codes and the counter numbering. ``docs/isa.md`` is this file in prose; the RTL
(``hw/core``), the core model (``verif/core``) and the C header (``d1.h``) all take their numbers
from here.

Encoding
--------
Every custom instruction is R-type (``funct7 rs2 rs1 funct3 rd opcode``). The major opcode names
the unit (:class:`Unit`): custom-0 the matrix engine, custom-1 the vector unit, custom-2 the DMA
engine, custom-3 the synchronisation unit (semaphores, fences, status and counters). ``rs1`` and
``rs2`` are register operands (their values travel in the coprocessor request); ``rd`` receives
the answer (the instructions that answer nothing write 0 to it). An encoding not listed here is
an illegal instruction: the thread traps with cause 2 and ``mtval`` = the instruction bits.

Commands and their completion
-----------------------------
Matrix, vector (to the scratchpad) and DMA commands are *queued*: the instruction retires as soon
as its unit has taken the command (a full queue holds the thread until it has room), and the
work completes later, in the order the unit took the commands. Each such command names a
:data:`Signal`: on completion, the unit adds ``amount`` to semaphore ``sem`` (when ``enable``).
``d1.fence`` waits until every command the issuing thread queued has completed; semaphores order
work between threads and units. A thread's scalar stores are complete before its next
instruction issues, so a unit command always sees the stores that precede it.

Errors of queued work
---------------------
A descriptor or command that is invalid (:class:`Error`: a field out of range, an address outside
the scratchpad, a misaligned address) is refused by its unit when the unit reads it: nothing is
written, the unit's error register records the code and the descriptor address (read and cleared
by ``d1.status``), and the command's signal is still delivered, so that no thread waits forever
on refused work. Programs check ``d1.status`` after a wait.
"""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data, enum

from hw.scalar.isa import THREAD_BITS
from hw.vector.isa import VecOp

__all__ = [
    "Unit", "MatrixFn", "VectorFn", "DmaFn", "SyncFn", "Error", "SEMAPHORES", "SEM_BITS",
    "Signal", "GemmDescriptor", "DmaDescriptor", "VectorStrides", "VectorConfig",
    "Counter", "DESCRIPTOR_BYTES", "encode", "decode_fields", "THREAD_BITS",
    "MatrixCommand", "VectorCommand", "DmaCommand", "Done", "ErrorRecord", "RegResult",
    "StallCause", "STATUS_NETWORK",
]

#: Every descriptor is one 64-byte scratchpad line, 64-byte aligned.
DESCRIPTOR_BYTES = 64
#: Semaphores: a bank of 32-bit counters, numbered 0..SEMAPHORES-1.
SEMAPHORES = 16
SEM_BITS = 32


class Unit(enum.IntEnum):
    """Major opcode of each unit's instructions (custom-0..3)."""
    MATRIX = 0x0B
    VECTOR = 0x2B
    DMA = 0x5B
    SYNC = 0x7B


class MatrixFn(enum.IntEnum):
    """``funct3`` of the matrix instructions (``funct7`` = 0).

    ``MCFG``: ``rs1`` = an ``OperandConfig`` value (``hw.matmul.array``: a_fmt, a_bias, b_fmt,
    b_bias, packed as that struct; higher bits ignored), ``rs2`` = a :data:`Signal` (as every
    MatrixCommand has one), queued in order with the GEMMs: GEMMs taken after it use it. A GEMM
    whose configured format is not BF16 or CFP8 is refused (Error.FIELD).
    ``MGEMM``: ``rs1`` = address of a :data:`GemmDescriptor`, ``rs2`` = a :data:`Signal`.
    """
    MCFG = 0
    MGEMM = 1


class VectorFn(enum.IntEnum):
    """``funct3`` of the vector instructions.

    ``VOP`` (``funct7`` = the ``VecOp`` code, low 6 bits; bit 6 = 0): one vector operation of type
    ``VectorConfig.vtype`` on ``count`` lines: operand ``a`` from ``rs1 + i·stride_a``, ``b``
    from ``rs2 + i·stride_b``, ``c`` from ``c + i·stride_c``, result to ``d + i·stride_d``
    (:data:`VectorConfig`, :data:`VectorStrides`, the thread's vector state). With ``rd`` = x0
    the command is queued and results go to the scratchpad. With ``rd`` != x0 the thread waits
    for the operation (``count`` must be 1, else Error.FIELD and ``rd`` = 0), nothing is
    written to the scratchpad and ``rd`` gets the low 64 bits of the result line (reductions
    put their result in lane 0, compares their masks in the low lanes: docs/vector.md). Every
    VOP, register VOPs included, delivers the signal of its VectorConfig.
    ``VSETCFG``: ``rs1`` = a :data:`VectorConfig` (the thread's op modifiers, count, signal).
    ``VSETSTRIDE``: ``rs1`` = a :data:`VectorStrides`.
    ``VSETDC``: ``rs1`` = the destination address ``d``, ``rs2`` = the third operand's ``c``.
    """
    VOP = 0
    VSETCFG = 1
    VSETSTRIDE = 2
    VSETDC = 3


class DmaFn(enum.IntEnum):
    """``funct3`` of the DMA instructions (``funct7`` = 0).

    ``DMA``: ``rs1`` = address of the first :data:`DmaDescriptor` of a list; the list parser
    walks it (``next``) on its own. Each descriptor's own signal is delivered when its last
    byte has landed.
    """
    DMA = 0


class SyncFn(enum.IntEnum):
    """``funct3`` of the synchronisation instructions (``funct7`` = 0).

    ``SSET``: semaphore ``rs1`` = ``rs2``. ``SADD``: semaphore ``rs1`` += ``rs2`` (mod 2**32).
    ``SWAIT``: the thread sleeps until semaphore ``rs1`` >= ``rs2`` (unsigned 32-bit), then ``rd``
    = its value. ``SREAD``: ``rd`` = semaphore ``rs1``. ``FENCE``: the thread waits until every
    command it queued has completed; ``rd`` = 0. ``STATUS``: ``rd`` = the error register of unit
    ``rs1`` (:class:`Unit` index 0..2: matrix, vector, DMA) as ``code | address << 32``, then
    clears it. ``RDCTR``: ``rd`` = counter ``rs1`` (:class:`Counter`). A semaphore number of
    SEMAPHORES or more, a STATUS unit above 2 and an RDCTR number that names no counter are
    illegal instructions.

    In a core of a mesh (docs/mesh.md) only: ``SNOTIFY``: add the :data:`Signal` ``rs2`` to
    the semaphores of core ``rs1`` (x in bits 0..3, y in bits 4..7), a queued command that
    completes with the destination's answer (a fence waits for it); STATUS unit 3
    (:data:`STATUS_NETWORK`) is then the network's error register (a failed SNOTIFY: code
    ``REMOTE``, address the core ``x | y << 4``). A lone core finds both illegal.
    """
    SSET = 0
    SADD = 1
    SWAIT = 2
    SREAD = 3
    FENCE = 4
    STATUS = 5
    RDCTR = 6
    SNOTIFY = 7


#: The STATUS unit number of the network's error register (a core of a mesh only).
STATUS_NETWORK = 3


class Error(enum.IntEnum, shape=unsigned(4)):
    """Codes of a unit's error register (0: no error since the last read)."""
    NONE = 0
    #: An address (operand, descriptor, next pointer) outside the scratchpad.
    RANGE = 1
    #: An address or stride not aligned as the command requires.
    ALIGN = 2
    #: A field out of range (a zero size, reserved bits set, an unknown mode).
    FIELD = 3
    #: A vector operation that is illegal for its type (the vector unit's ``error``).
    ILLEGAL_OP = 4
    #: A DMA destination core other than this one in a lone core; in a mesh (docs/mesh.md), a
    #: push to a dead core or to one outside the mesh.
    REMOTE = 5


#: A completion signal: add ``amount`` to semaphore ``sem`` when ``enable``.
Signal = data.StructLayout({"sem": 4, "enable": 1, "amount": 16})

#: A GEMM block, D = A·B (+ C), one descriptor line. Addresses are byte addresses in the
#: scratchpad. The layout is the engine's (docs/isa.md): ``a`` holds Aᵀ row-major (row k is
#: column k of A, ``m`` elements, row stride ``lda`` bytes), ``b`` holds B row-major (row k,
#: ``n`` elements, stride ``ldb``), elements of the format set by MCFG (2 bytes BF16, 1 byte
#: CFP8). ``c`` and ``d`` are FP32 row-major with strides ``ldc``/``ldd``. ``a``, ``b``, ``c``,
#: ``d`` and the four strides must be multiples of 64 (Error.ALIGN); m, n, k >= 1 (Error.FIELD).
GemmDescriptor = data.StructLayout({
    "a": 32, "b": 32, "c": 32, "d": 32,
    "lda": 32, "ldb": 32, "ldc": 32, "ldd": 32,
    "m": 16, "n": 16, "k": 16,
    "load_c": 1,            # 1: D = A·B + C; 0: D = A·B (accumulators start at +0)
    "reserved": 512 - 8 * 32 - 3 * 16 - 1,
})

#: One DMA transfer, a 2D gather: ``rows`` rows of ``elems`` elements of ``elem_bytes`` (8, 16
#: or 64) bytes; element e of row r is read at ``src + r·src_stride + e·src_elem_stride`` and
#: written at ``dst + r·dst_stride + e·elem_bytes`` (rows are packed at the destination).
#: Addresses and strides are multiples of the element size. ``next`` is the next descriptor's
#: address (0 ends the list). ``dst_x``/``dst_y`` name the destination core (this core's own
#: coordinates, or any value with ``local`` set; issue 18 adds remote cores). In a core of a
#: mesh, ``mcast`` (with ``local`` clear) makes it a multicast push to every core of the
#: rectangle from (``rect_x``, ``rect_y``) to (``dst_x``, ``dst_y``) (docs/mesh.md,
#: "Multicast pushes"); a lone core refuses it (FIELD, as it refuses any reserved bit set).
DmaDescriptor = data.StructLayout({
    "src": 32, "dst": 32, "src_stride": 32, "dst_stride": 32, "src_elem_stride": 32,
    "next": 32,
    "rows": 16, "elems": 16,
    "elem_bytes": 2,        # 0: 8 B, 1: 16 B, 2: 64 B; 3 is Error.FIELD
    "local": 1,
    "dst_x": 4, "dst_y": 4,
    "signal": Signal,
    "mcast": 1, "rect_x": 4, "rect_y": 4,
    "reserved": 512 - 6 * 32 - 2 * 16 - 2 - 1 - 8 - 21 - 9,
})

#: A thread's vector state set by VSETCFG (rs1): the type and modifiers of the next VOPs, the
#: number of lines per VOP and the signal each queued VOP delivers on completion.
VectorConfig = data.StructLayout({
    "vtype": 3, "fmt": 3, "bias": 6, "rnd": 1, "imm": 6,
    "count": 16,            # lines per VOP, >= 1 (0 is Error.FIELD)
    "signal": Signal,
})

#: Byte strides between the lines of a VOP's operands and result, signed 16-bit, multiples of 64.
VectorStrides = data.StructLayout({k: signed(16) for k in "abcd"})


# --- What the dispatcher sends to the units, and what they send back ----------------------------
# Every unit takes its commands on one stream (``cmd``), one command per transfer, in the order the
# threads issued them, and reports each finished command on ``done`` (always ready: the sync unit
# takes one per cycle from each unit) and each refused one on ``error`` as well.

#: A matrix command: MCFG (``value`` = the OperandConfig bits) or MGEMM (``value`` = the
#: descriptor's address), the signal to deliver, the issuing thread.
MatrixCommand = data.StructLayout({
    "op": 1,                # MatrixFn
    "value": 32,
    "signal": Signal,
    "thread": THREAD_BITS,
})

#: A vector command: one VOP with the thread's vector state captured when it was issued.
#: ``to_reg``: the result's low 64 bits go to register ``rd`` of ``thread`` (on ``result``), not
#: to the scratchpad.
VectorCommand = data.StructLayout({
    "op": VecOp,
    "config": VectorConfig,
    "strides": VectorStrides,
    "a": 32, "b": 32, "c": 32, "d": 32,
    "to_reg": 1,
    "rd": 5,
    "thread": THREAD_BITS,
})

#: A DMA command: the address of the first descriptor of a list.
DmaCommand = data.StructLayout({"desc": 32, "thread": THREAD_BITS})

#: A finished command (or, for the DMA, a finished descriptor): its signal and its thread. A
#: unit sends one ``Done`` per command taken (the DMA: one per descriptor, plus one ``last`` for
#: the list, which ends the thread's command for the fence).
Done = data.StructLayout({"signal": Signal, "thread": THREAD_BITS, "last": 1})

#: A refused command: the error code and the address of the descriptor (or, for a VOP, of the
#: operand) that was refused.
ErrorRecord = data.StructLayout({"code": Error, "addr": 32})

#: A value for a thread's register (a VOP with ``to_reg``).
RegResult = data.StructLayout({"value": 64, "thread": THREAD_BITS, "rd": 5})


#: What a unit does in a cycle, one bit set per cycle (the counters count each:
#: ``Counter.UNIT_BUSY`` .. ``UNIT_IDLE`` are its bit numbers). ``busy``: the unit moves data
#: (a beat, a request into the vector unit, a write); ``port``: a scratchpad request offered
#: and not taken; ``operand``: waiting for read data; ``backpressure``: held by its output;
#: ``idle``: nothing to do.
StallCause = data.StructLayout({"busy": 1, "port": 1, "operand": 1, "backpressure": 1,
                                "idle": 1})


class Counter(enum.IntEnum):
    """Performance counters read by RDCTR ``rs1`` (docs/isa.md, "Counters"). For unit u (0
    matrix, 1 vector, 2 DMA) counter ``16·u + cause`` counts the cycles of that cause; for
    thread t counter ``64 + 8·t + reason`` counts its cycles by reason. Causes per unit cycle:
    busy, stalled on a scratchpad port, waiting for an operand, held by output backpressure,
    idle (nothing queued). Every cycle of a unit is exactly one of them. Per thread: its
    instructions retired, then each cycle's reason, the first that holds in this order
    (``hw.core.counters.THREAD_REASONS``)."""
    CYCLES = 0x7F
    UNIT_BUSY = 0
    UNIT_PORT = 1
    UNIT_OPERAND = 2
    UNIT_BACKPRESSURE = 3
    UNIT_IDLE = 4
    THREAD_INSTRUCTIONS = 0
    THREAD_NOT_RUNNING = 1
    THREAD_HELD = 2         # by the host's halt or a thread-control write waiting for it
    THREAD_WAITING = 3      # asleep on a semaphore, a fence or a unit's answer
    THREAD_IN_FLIGHT = 4    # its previous instruction has not released it
    THREAD_FETCH = 5        # waiting for its instruction line
    THREAD_ISSUED = 6
    THREAD_ELIGIBLE = 7     # could issue, did not (another thread's slot, a miss, a kill)


def encode(unit, funct3, *, funct7=0, rd=0, rs1=0, rs2=0):
    """The 32-bit encoding of a custom instruction (for the assembler, the tests and d1.h)."""
    return (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | int(unit)


def decode_fields(insn):
    """``(opcode, rd, funct3, rs1, rs2, funct7)`` of an R-type instruction."""
    return (insn & 0x7F, (insn >> 7) & 31, (insn >> 12) & 7, (insn >> 15) & 31,
            (insn >> 20) & 31, insn >> 25)
