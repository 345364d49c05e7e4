"""The vector unit's instruction set: opcodes, lane types, the request and response layouts.

One request is one 64-byte operation. Its names are the reference model's
(``verif.vector.model``): :class:`VecOp` member ``X`` is the model's op ``"x"`` and
:class:`VecType` member ``Y`` its lane type ``"y"``. Which (op, type) pairs are legal is the model's
``OPS`` table; the RTL decodes the same set (a test compares them). The semantics of every op are
documented in ``docs/vector.md``.

Operands ``a``, ``b``, ``c`` are 64-byte vectors (lanes little-endian: lane ``i`` of a ``w``-bit
type is bits ``i·w .. i·w + w - 1``). Conversions name their narrow format in ``fmt`` (with ``bias``
for the configurable formats and ``rnd`` for narrowing); ``imm`` is the lane index of a broadcast
or the part index of a conversion.
"""

from amaranth.hdl import unsigned
from amaranth.lib import data, enum

from hw.common.params import check_tag_width
from hw.fp.formats import BIAS_BITS, Flags, FormatCode, Round

__all__ = ["VECTOR_BITS", "VECTOR_BYTES", "IMM_BITS", "SR_GENERATORS",
           "SEED_STRIDE", "VecOp", "VecType", "LANE_BITS", "request_layout", "response_layout"]

VECTOR_BYTES = 64
VECTOR_BITS = 8 * VECTOR_BYTES
#: Width of the immediate (a lane index of the 64 8-bit lanes, or a part index).
IMM_BITS = 6
#: Stochastic-rounding generators: one per narrowing lane slot (32 BF16 or 16 FP32 source lanes).
SR_GENERATORS = 32
#: Generator ``j`` is seeded with ``seed XOR (j · SEED_STRIDE mod 2**32)`` (the golden ratio).
SEED_STRIDE = 0x9E3779B9


class VecType(enum.Enum, shape=unsigned(3)):
    """Lane type of an operation. Values 5..7 are illegal."""
    FP32 = 0
    BF16 = 1
    INT8 = 2
    INT16 = 3
    INT32 = 4


#: Lane width in bits of each lane type.
LANE_BITS = {VecType.FP32: 32, VecType.BF16: 16, VecType.INT8: 8, VecType.INT16: 16,
             VecType.INT32: 32}


class VecOp(enum.Enum, shape=unsigned(6)):
    """Operation. Codes not listed here are illegal (as are listed ops with a type they lack)."""
    # arithmetic
    ADD = 0
    SUB = 1
    MUL = 2
    FMA = 3
    FMS = 4
    FNMA = 5
    FNMS = 6
    MIN = 7
    MAX = 8
    MINU = 9
    MAXU = 10
    ABS = 11
    NEG = 12
    # compare and select
    EQ = 13
    LT = 14
    LE = 15
    LTU = 16
    SELECT = 17
    # bitwise and shifts
    AND = 18
    OR = 19
    XOR = 20
    NOT = 21
    SLL = 22
    SRL = 23
    SRA = 24
    # conversions
    TO_I32 = 25
    TO_I32_RTZ = 26
    TO_F32 = 27
    WIDEN = 28
    NARROW = 29
    # reductions
    REDSUM = 30
    REDMAX = 31
    REDMIN = 32
    # data movement
    BCAST = 33
    SHUFFLE = 34
    ZIP_LO = 35
    ZIP_HI = 36
    UNZIP_EVEN = 37
    UNZIP_ODD = 38
    TRANSPOSE8 = 39
    # unit state
    RDFLAGS = 40
    CLRFLAGS = 41
    SEED = 42


def request_layout(tag_width):
    """Payload of a vector request."""
    return data.StructLayout({
        "op": VecOp,
        "vtype": VecType,
        "fmt": FormatCode,
        "bias": BIAS_BITS,
        "rnd": Round,
        "imm": IMM_BITS,
        "a": VECTOR_BITS,
        "b": VECTOR_BITS,
        "c": VECTOR_BITS,
        "tag": check_tag_width(tag_width),
    })


def response_layout(tag_width):
    """Payload of a vector response: the result, this operation's flags (OR over its lanes), the
    illegal-operation flag, and the request's tag."""
    return data.StructLayout({
        "data": VECTOR_BITS,
        "flags": Flags,
        "error": 1,
        "tag": check_tag_width(tag_width),
    })
