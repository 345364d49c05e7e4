"""What the scalar core's parts share inside the core: the micro-operation encodings decode
produces (:class:`Kind`, :class:`AluOp`, :class:`CsrSel`), the pipeline-register layouts
between the stages, the multiplier's and divider's stream payloads, and the per-thread
indexing helpers. Nothing here is part of the core's ports (those are in ``hw.scalar.isa``).
"""

from amaranth.hdl import Array, Const, Mux, Signal, unsigned
from amaranth.lib import data, enum

from hw.common.memport import Status

from .isa import THREAD_BITS, XLEN, Cause, Csr

__all__ = [
    "Kind", "AluOp", "CsrSel", "CSR_DECODE", "IdStage", "ExStage", "WbStage", "MulDivRequest",
    "MulDivResult", "access_fault", "thread_bits", "thread_index", "thread_bit", "per_thread",
]


class Kind(enum.Enum, shape=unsigned(4)):
    """What execute and write-back do with an instruction."""
    ALU = 0       # rd <- result (OP, OP-IMM, LUI, AUIPC and their W forms)
    BRANCH = 1
    JUMP = 2      # JAL, JALR: rd <- pc + 4
    LOAD = 3
    STORE = 4
    MUL = 5
    DIV = 6
    CSR = 7
    MRET = 8
    FENCE_I = 9
    CUSTOM = 10
    NOP = 11      # FENCE


class AluOp(enum.Enum, shape=unsigned(4)):
    """The ALU operation of an ``ALU`` instruction (``ADD`` for the others)."""
    ADD = 0
    SUB = 1
    SLL = 2
    SLT = 3
    SLTU = 4
    XOR = 5
    SRL = 6
    SRA = 7
    OR = 8
    AND = 9


class CsrSel(enum.Enum, shape=unsigned(4)):
    """The CSR file's register a CSR instruction reads and writes."""
    MSTATUS = 0
    MIE = 1
    MTVEC = 2
    MSCRATCH = 3
    MEPC = 4
    MCAUSE = 5
    MTVAL = 6
    MCYCLE = 7
    MINSTRET = 8
    MHARTID = 9
    MTHREADCTL = 10
    MTHREADPC = 11


#: CSR number -> (selector, read-only).
CSR_DECODE = {
    Csr.MSTATUS: (CsrSel.MSTATUS, False), Csr.MIE: (CsrSel.MIE, False),
    Csr.MTVEC: (CsrSel.MTVEC, False), Csr.MSCRATCH: (CsrSel.MSCRATCH, False),
    Csr.MEPC: (CsrSel.MEPC, False), Csr.MCAUSE: (CsrSel.MCAUSE, False),
    Csr.MTVAL: (CsrSel.MTVAL, False), Csr.MCYCLE: (CsrSel.MCYCLE, False),
    Csr.MINSTRET: (CsrSel.MINSTRET, False), Csr.CYCLE: (CsrSel.MCYCLE, True),
    Csr.INSTRET: (CsrSel.MINSTRET, True), Csr.MHARTID: (CsrSel.MHARTID, True),
    Csr.MTHREADCTL: (CsrSel.MTHREADCTL, False), Csr.MTHREADPC: (CsrSel.MTHREADPC, False),
}

#: Issue -> decode: the word issued.
IdStage = data.StructLayout({
    "valid": 1, "thread": THREAD_BITS, "pc": XLEN, "insn": 32, "fault": 1,
})
#: Decode -> execute.
ExStage = data.StructLayout({
    "valid": 1, "thread": THREAD_BITS, "pc": XLEN, "insn": 32, "kind": Kind, "op": AluOp,
    "word": 1, "a": XLEN, "b": XLEN, "rs2": XLEN, "target": XLEN, "link": XLEN,
    "rd_en": 1, "predicted": 1,
    "trap": 1, "cause": Cause, "csr": CsrSel, "csr_writes": 1, "released": 1,
})
#: Execute -> write-back (loads and stores carry their address in ``a``).
WbStage = data.StructLayout({
    "valid": 1, "thread": THREAD_BITS, "pc": XLEN, "insn": 32, "kind": Kind, "res": XLEN,
    "a": XLEN, "b": XLEN, "next_pc": XLEN, "rd_en": 1, "trap": 1, "cause": Cause,
    "tval": XLEN, "csr": CsrSel, "csr_writes": 1, "released": 1,
})

#: A multiplication or division: the operands as the instruction read them (``a`` = rs1,
#: ``b`` = rs2), funct3's low two bits, whether it is a W form, and an opaque ``thread``.
MulDivRequest = data.StructLayout({
    "thread": THREAD_BITS, "funct3": 2, "word": 1, "a": XLEN, "b": XLEN,
})
#: Its result: the value ``rd`` gets, with the request's ``thread``.
MulDivResult = data.StructLayout({"thread": THREAD_BITS, "value": XLEN})


def access_fault(status):
    """Whether a memory response's ``status`` makes the access fault: anything but done
    (``OK``, or ``CORRECTED``: the data is right)."""
    return (status != Status.OK) & (status != Status.CORRECTED)


def thread_bits(threads):
    """Bits of a per-thread array index (0 with one thread)."""
    return (threads - 1).bit_length()


def thread_index(thread, threads):
    """Index of a per-thread array (constant 0 with one thread)."""
    tbits = thread_bits(threads)
    return thread[:tbits] if tbits else Const(0, 1)


def thread_bit(valid, thread, threads):
    """The ``threads``-bit mask with ``thread``'s bit set if ``valid``."""
    return Mux(valid, (Const(1, threads) << thread_index(thread, threads))[:threads], 0)


def per_thread(name, width, threads, init=0):
    """One register per thread (``init`` for thread 0, 0 for the others)."""
    return Array(Signal(width, name=f"{name}{i}", init=init if i == 0 else 0)
                 for i in range(threads))
