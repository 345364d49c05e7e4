"""The scalar core's constants and port layouts: memory map, trap causes, CSR numbers, the
request/response payloads of its fetch, data and coprocessor ports and its retire trace.

The numbers are RISC-V's (privileged spec) and the two custom CSRs of ``verif.scalar.iss``;
``tests/scalar/test_core.py`` checks that the ISS uses the same ones.
"""

from amaranth.hdl import unsigned
from amaranth.lib import data, enum

__all__ = [
    "RAM_BASE", "MAX_THREADS", "THREAD_BITS", "XLEN", "LINE_BYTES", "Cause", "Csr",
    "CUSTOM_OPCODES", "FetchRequest", "FetchResponse", "DataRequest", "DataResponse",
    "CoprocRequest", "CoprocResponse", "RetireRecord",
]

#: Where memory starts; thread 0 resets here.
RAM_BASE = 0x8000_0000
MAX_THREADS = 4
#: Width of every thread field (ports carry it whatever the thread count).
THREAD_BITS = 2
XLEN = 64
#: Bytes per instruction-fetch line (the SRAM's fetch width).
LINE_BYTES = 32


class Cause(enum.Enum, shape=unsigned(4)):
    """``mcause`` of each trap the core raises."""
    FETCH_MISALIGNED = 0
    FETCH_FAULT = 1
    ILLEGAL = 2
    BREAKPOINT = 3
    LOAD_MISALIGNED = 4
    LOAD_FAULT = 5
    STORE_MISALIGNED = 6
    STORE_FAULT = 7
    ECALL_M = 11


class Csr(enum.IntEnum):
    """Numbers of the CSRs the core implements (any other number is illegal)."""
    MSTATUS = 0x300
    MIE = 0x304
    MTVEC = 0x305
    MSCRATCH = 0x340
    MEPC = 0x341
    MCAUSE = 0x342
    MTVAL = 0x343
    MTHREADCTL = 0x7C0
    MTHREADPC = 0x7C1
    MCYCLE = 0xB00
    MINSTRET = 0xB02
    CYCLE = 0xC00
    INSTRET = 0xC02
    MHARTID = 0xF14


#: Major opcodes custom-0..3, sent to the coprocessor port.
CUSTOM_OPCODES = (0x0B, 0x2B, 0x5B, 0x7B)

#: Instruction-fetch request: the 32-byte line at ``addr`` (low five bits zero).
FetchRequest = data.StructLayout({"addr": XLEN, "thread": THREAD_BITS})
#: Its response, in request order: the line (byte ``i`` in bits ``8i..8i+7``), or ``error``
#: when any of it is outside memory.
FetchResponse = data.StructLayout({"data": 8 * LINE_BYTES, "error": 1, "thread": THREAD_BITS})
#: Data request: the 8-byte word holding byte address ``addr``; ``mask`` selects its bytes (the
#: access's own, 1, 2, 4 or all 8, aligned); ``data`` holds store bytes in their lanes.
DataRequest = data.StructLayout({"addr": XLEN, "write": 1, "mask": 8, "data": XLEN,
                                 "thread": THREAD_BITS})
#: Its response, in request order: the whole word for a load, ``error`` for an access outside
#: memory (nothing is written then).
DataResponse = data.StructLayout({"data": XLEN, "error": 1, "thread": THREAD_BITS})
#: A custom-0..3 instruction: its bits, the values of rs1 and rs2, the thread and rd.
CoprocRequest = data.StructLayout({"insn": 32, "rs1": XLEN, "rs2": XLEN, "thread": THREAD_BITS,
                                   "rd": 5})
#: The coprocessor's answer: ``value`` goes to ``rd`` of ``thread`` (dropped for x0).
CoprocResponse = data.StructLayout({"value": XLEN, "thread": THREAD_BITS, "rd": 5})
#: One retired (or trapped) instruction of the retire trace.
RetireRecord = data.StructLayout({
    "thread": THREAD_BITS, "pc": XLEN, "insn": 32, "rd_en": 1, "rd": 5, "value": XLEN,
    "trap": 1, "cause": Cause,
})
