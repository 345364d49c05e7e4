"""The scalar core's constants and port layouts, written once for the RTL (``hw/scalar``), the
instruction-set simulator (``verif/scalar/iss.py``) and the assembler (``verif/scalar/asm.py``):
the memory map, the RISC-V encoding tables (major opcodes, funct3/funct7 values, the fixed
SYSTEM words), trap causes, CSR numbers and ``mstatus`` bits, the request/response payloads of
the fetch and data ports (the memory-port contract of ``hw.common.memport``, so that they
connect to the scratchpad's ``fetch`` and ``scalar`` ports), of the coprocessor port and the
retire trace.

The numbers are RISC-V's (unprivileged and privileged specs) plus the two custom CSRs
``mthreadctl``/``mthreadpc`` (``verif.scalar.iss`` documents them).
"""

from amaranth.hdl import unsigned
from amaranth.lib import data, enum

from hw.common import memport

__all__ = [
    "RAM_BASE", "MAX_THREADS", "THREAD_BITS", "XLEN", "LINE_BYTES", "Opcode", "Funct3",
    "BranchFunct3", "LoadFunct3", "StoreFunct3", "MulDivFunct3", "CsrFunct3", "FenceFunct3",
    "Funct7", "SRAI_FUNCT6", "FixedInsn", "Cause", "Csr", "MSTATUS_MIE", "MSTATUS_MPIE",
    "MSTATUS_MPP", "CUSTOM_OPCODES", "fetch_request_layout",
    "fetch_response_layout", "data_request_layout", "data_response_layout",
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


class Opcode(enum.IntEnum):
    """Major opcodes (instruction bits 6:0) of RV64IM + Zicsr and the four custom ones."""
    LOAD = 0x03
    CUSTOM_0 = 0x0B
    MISC_MEM = 0x0F
    OP_IMM = 0x13
    AUIPC = 0x17
    OP_IMM_32 = 0x1B
    STORE = 0x23
    CUSTOM_1 = 0x2B
    OP = 0x33
    LUI = 0x37
    OP_32 = 0x3B
    CUSTOM_2 = 0x5B
    BRANCH = 0x63
    JALR = 0x67
    JAL = 0x6F
    SYSTEM = 0x73
    CUSTOM_3 = 0x7B


class Funct3(enum.IntEnum):
    """funct3 of OP, OP-IMM and their W forms with funct7 ``BASE``/``ALT`` (``SRL``/``SRA`` and
    ``ADD``/``SUB`` share a value: funct7 tells them apart)."""
    ADD = 0
    SLL = 1
    SLT = 2
    SLTU = 3
    XOR = 4
    SR = 5
    OR = 6
    AND = 7


class BranchFunct3(enum.IntEnum):
    """funct3 of BRANCH (2 and 3 are illegal)."""
    BEQ = 0
    BNE = 1
    BLT = 4
    BGE = 5
    BLTU = 6
    BGEU = 7


class LoadFunct3(enum.IntEnum):
    """funct3 of LOAD: bits 1:0 are log2 of the size, bit 2 zero-extends (7 is illegal)."""
    LB = 0
    LH = 1
    LW = 2
    LD = 3
    LBU = 4
    LHU = 5
    LWU = 6


class StoreFunct3(enum.IntEnum):
    """funct3 of STORE: log2 of the size (4..7 are illegal)."""
    SB = 0
    SH = 1
    SW = 2
    SD = 3


class MulDivFunct3(enum.IntEnum):
    """funct3 of OP/OP-32 with funct7 ``MULDIV`` (bit 2 set: a division)."""
    MUL = 0
    MULH = 1
    MULHSU = 2
    MULHU = 3
    DIV = 4
    DIVU = 5
    REM = 6
    REMU = 7


class CsrFunct3(enum.IntEnum):
    """funct3 of the SYSTEM CSR instructions (bit 2: the source is the 5-bit ``uimm``; bits 1:0:
    write, set, clear). 0 is ``ecall``/``ebreak``/``mret``; 4 is illegal."""
    CSRRW = 1
    CSRRS = 2
    CSRRC = 3
    CSRRWI = 5
    CSRRSI = 6
    CSRRCI = 7


class FenceFunct3(enum.IntEnum):
    """funct3 of MISC-MEM (2..7 are illegal)."""
    FENCE = 0
    FENCE_I = 1


class Funct7(enum.IntEnum):
    """funct7 of OP and OP-32 (and of OP-IMM-32's shifts)."""
    BASE = 0x00
    MULDIV = 0x01
    #: SUB, SRA (and SRAI/SRAIW).
    ALT = 0x20


#: funct6 (bits 31:26) of RV64's SRAI, whose shift amount has six bits (``SRLI``/``SLLI``: 0).
SRAI_FUNCT6 = 0x10


class FixedInsn(enum.IntEnum):
    """Instructions that are one fixed word (no operands)."""
    ECALL = 0x0000_0073
    EBREAK = 0x0010_0073
    MRET = 0x3020_0073
    FENCE_I = 0x0000_100F


class Cause(enum.IntEnum, shape=unsigned(4)):
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


#: ``mstatus`` bits: MIE and MPIE are stored; MPP always reads 3 (machine mode only).
MSTATUS_MIE = 1 << 3
MSTATUS_MPIE = 1 << 7
MSTATUS_MPP = 3 << 11

#: Major opcodes custom-0..3, sent to the coprocessor port.
CUSTOM_OPCODES = (Opcode.CUSTOM_0, Opcode.CUSTOM_1, Opcode.CUSTOM_2, Opcode.CUSTOM_3)

def fetch_request_layout(*, addr_bits, tag_width):
    """Instruction-fetch request, the memory-port contract's (:mod:`hw.common.memport`) for a
    read-only port of ``LINE_BYTES`` bytes: ``addr`` of the line (low five bits zero), ``tag``
    (the thread)."""
    return memport.request_layout(addr_bits=addr_bits, tag_width=tag_width, width=LINE_BYTES,
                                  reads=True, writes=False)


def fetch_response_layout(*, tag_width):
    """Its response, in request order: ``data``, the line (byte ``i`` in bits ``8i..8i+7``),
    ``status`` and ``tag``."""
    return memport.response_layout(tag_width=tag_width, width=LINE_BYTES, reads=True)


def data_request_layout(*, addr_bits, tag_width):
    """Data request, the memory-port contract's for a read/write port of 8 bytes: ``addr`` of
    the 8-byte word (low three bits zero), ``op`` (:class:`~hw.common.memport.Op`), ``data``
    (store bytes in their lanes), ``mask`` (the access's own bytes: 1, 2, 4 or all 8,
    aligned) and ``tag`` (the thread)."""
    return memport.request_layout(addr_bits=addr_bits, tag_width=tag_width, width=8,
                                  reads=True, writes=True)


def data_response_layout(*, tag_width):
    """Its response, in request order: ``data``, the whole word for a load, ``status`` and
    ``tag``."""
    return memport.response_layout(tag_width=tag_width, width=8, reads=True)


#: A custom-0..3 instruction: its bits, the values of rs1 and rs2, the thread and rd.
CoprocRequest = data.StructLayout({"insn": 32, "rs1": XLEN, "rs2": XLEN, "thread": THREAD_BITS,
                                   "rd": 5})
#: The coprocessor's answer: ``value`` goes to ``rd`` of ``thread`` (dropped for x0); with
#: ``error`` the instruction is illegal instead: the thread traps with cause 2 and ``mtval`` = the
#: instruction bits (``value`` is ignored).
CoprocResponse = data.StructLayout({"value": XLEN, "thread": THREAD_BITS, "rd": 5, "error": 1})
#: One retired (or trapped) instruction of the retire trace.
RetireRecord = data.StructLayout({
    "thread": THREAD_BITS, "pc": XLEN, "insn": 32, "rd_en": 1, "rd": 5, "value": XLEN,
    "trap": 1, "cause": Cause,
})
