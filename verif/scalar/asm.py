"""A tiny RV64IM + Zicsr assembler for the scalar core's tests.

Each mnemonic is a function that returns the 32-bit instruction word. Operands follow the
assembly order: ``addi(rd, rs1, imm)``, loads ``lw(rd, imm, rs1)`` (``lw rd, imm(rs1)``), stores
``sw(rs2, imm, rs1)`` (``sw rs2, imm(rs1)``), branches ``beq(rs1, rs2, offset)``, CSR ops
``csrrw(rd, csr, rs1)`` and ``csrrwi(rd, csr, uimm)``. Registers are numbers 0..31; branch and
jump offsets are bytes relative to the instruction. Names that are Python keywords get a
trailing underscore: ``or_``, ``and_``. ``lui``/``auipc`` take the 20-bit upper immediate as an
unsigned field (0..0xFFFFF).

Every operand is checked and a bad one raises an error naming it: ``TypeError`` for a value that
is not an integer (``imm must be an integer, not '1'``), ``ValueError`` for one out of range
(``imm must be in -2048..2047, not 2048``). ``li(rd, value)`` is the one pseudo-instruction:
it returns a list of instructions loading any 64-bit value. :func:`program` flattens words and
lists of words into little-endian bytes.

The D1 core's custom instructions (``hw/core/isa.py``, docs/isa.md) have one function each,
named after their assembly mnemonic ``d1.<name>`` with the dot as an underscore: ``d1_mcfg``,
``d1_mgemm``, ``d1_vop(op, rd, rs1, rs2)`` (``d1.vop.<op>``), ``d1_vsetcfg``, ``d1_vsetstride``,
``d1_vsetdc``, ``d1_dma``, ``d1_sset``, ``d1_sadd``, ``d1_swait``, ``d1_sread``, ``d1_fence``,
``d1_status``, ``d1_rdctr``, ``d1_snotify``.

The encodings come from :mod:`hw.scalar.isa` and :mod:`hw.core.isa`, the tables the RTL and the
ISS use.
"""

from hw.core.isa import DmaFn, MatrixFn, SyncFn, Unit, VectorFn
from hw.scalar.isa import (
    CUSTOM_OPCODES,
    SRAI_FUNCT6,
    BranchFunct3,
    CsrFunct3,
    FixedInsn,
    Funct3,
    Funct7,
    LoadFunct3,
    MulDivFunct3,
    Opcode,
    StoreFunct3,
)

__all__ = [
    "add", "addi", "addiw", "addw", "and_", "andi", "auipc", "beq", "bge", "bgeu", "blt",
    "bltu", "bne", "csrrc", "csrrci", "csrrs", "csrrsi", "csrrw", "csrrwi", "custom0",
    "custom1", "custom2", "custom3", "d1_dma", "d1_fence", "d1_mcfg", "d1_mgemm", "d1_rdctr",
    "d1_sadd", "d1_snotify", "d1_sread", "d1_sset", "d1_status", "d1_swait", "d1_vop", "d1_vsetcfg",
    "d1_vsetdc", "d1_vsetstride", "div", "divu", "divuw", "divw", "ebreak", "ecall", "fence",
    "fence_i", "jal", "jalr", "lb", "lbu", "ld", "lh", "lhu", "li", "lui", "lw", "lwu", "mret",
    "mul", "mulh", "mulhsu", "mulhu", "mulw", "or_", "ori", "program", "rem", "remu", "remuw",
    "remw", "sb", "sd", "sh", "sll", "slli", "slliw", "sllw", "slt", "slti", "sltiu", "sltu",
    "sra", "srai", "sraiw", "sraw", "srl", "srli", "srliw", "srlw", "sub", "subw", "sw", "xor",
    "xori",
]


def _integer(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    return value


def _range(name, value, lo, hi):
    if not lo <= _integer(name, value) <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, not {value!r}")
    return value


def _reg(name, value):
    return _range(name, value, 0, 31)


def _even(name, value, bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 2
    if _integer(name, value) & 1 or not lo <= value <= hi:
        raise ValueError(f"{name} must be even and in {lo}..{hi}, not {value!r}")
    return value


def _r(opcode, funct3, funct7, rd, rs1, rs2):
    return (funct7 << 25 | _reg("rs2", rs2) << 20 | _reg("rs1", rs1) << 15 | funct3 << 12
            | _reg("rd", rd) << 7 | opcode)


def _i(opcode, funct3, rd, rs1, imm):
    imm = _range("imm", imm, -2048, 2047)
    return ((imm & 0xFFF) << 20 | _reg("rs1", rs1) << 15 | funct3 << 12 | _reg("rd", rd) << 7
            | opcode)


def _s(funct3, rs2, imm, rs1):
    imm = _range("imm", imm, -2048, 2047) & 0xFFF
    return ((imm >> 5) << 25 | _reg("rs2", rs2) << 20 | _reg("rs1", rs1) << 15 | funct3 << 12
            | (imm & 31) << 7 | Opcode.STORE)


def _b(funct3, rs1, rs2, offset):
    o = _even("offset", offset, 13) & 0x1FFF
    return ((o >> 12) << 31 | (o >> 5 & 0x3F) << 25 | _reg("rs2", rs2) << 20
            | _reg("rs1", rs1) << 15 | funct3 << 12 | (o >> 1 & 0xF) << 8 | (o >> 11 & 1) << 7
            | Opcode.BRANCH)


def _shift(opcode, funct3, funct6, rd, rs1, shamt, bits):
    shamt = _range("shamt", shamt, 0, (1 << bits) - 1)
    return (funct6 << 26 | shamt << 20 | _reg("rs1", rs1) << 15 | funct3 << 12
            | _reg("rd", rd) << 7 | opcode)


def lui(rd, imm):
    return _range("imm", imm, 0, 0xFFFFF) << 12 | _reg("rd", rd) << 7 | Opcode.LUI


def auipc(rd, imm):
    return _range("imm", imm, 0, 0xFFFFF) << 12 | _reg("rd", rd) << 7 | Opcode.AUIPC


def jal(rd, offset):
    o = _even("offset", offset, 21) & 0x1FFFFF
    return ((o >> 20) << 31 | (o >> 1 & 0x3FF) << 21 | (o >> 11 & 1) << 20 | (o >> 12 & 0xFF) << 12
            | _reg("rd", rd) << 7 | Opcode.JAL)


def jalr(rd, rs1, imm):
    return _i(Opcode.JALR, 0, rd, rs1, imm)


def beq(rs1, rs2, offset):
    return _b(BranchFunct3.BEQ, rs1, rs2, offset)


def bne(rs1, rs2, offset):
    return _b(BranchFunct3.BNE, rs1, rs2, offset)


def blt(rs1, rs2, offset):
    return _b(BranchFunct3.BLT, rs1, rs2, offset)


def bge(rs1, rs2, offset):
    return _b(BranchFunct3.BGE, rs1, rs2, offset)


def bltu(rs1, rs2, offset):
    return _b(BranchFunct3.BLTU, rs1, rs2, offset)


def bgeu(rs1, rs2, offset):
    return _b(BranchFunct3.BGEU, rs1, rs2, offset)


def lb(rd, imm, rs1):
    return _i(Opcode.LOAD, LoadFunct3.LB, rd, rs1, imm)


def lh(rd, imm, rs1):
    return _i(Opcode.LOAD, LoadFunct3.LH, rd, rs1, imm)


def lw(rd, imm, rs1):
    return _i(Opcode.LOAD, LoadFunct3.LW, rd, rs1, imm)


def ld(rd, imm, rs1):
    return _i(Opcode.LOAD, LoadFunct3.LD, rd, rs1, imm)


def lbu(rd, imm, rs1):
    return _i(Opcode.LOAD, LoadFunct3.LBU, rd, rs1, imm)


def lhu(rd, imm, rs1):
    return _i(Opcode.LOAD, LoadFunct3.LHU, rd, rs1, imm)


def lwu(rd, imm, rs1):
    return _i(Opcode.LOAD, LoadFunct3.LWU, rd, rs1, imm)


def sb(rs2, imm, rs1):
    return _s(StoreFunct3.SB, rs2, imm, rs1)


def sh(rs2, imm, rs1):
    return _s(StoreFunct3.SH, rs2, imm, rs1)


def sw(rs2, imm, rs1):
    return _s(StoreFunct3.SW, rs2, imm, rs1)


def sd(rs2, imm, rs1):
    return _s(StoreFunct3.SD, rs2, imm, rs1)


def addi(rd, rs1, imm):
    return _i(Opcode.OP_IMM, Funct3.ADD, rd, rs1, imm)


def slti(rd, rs1, imm):
    return _i(Opcode.OP_IMM, Funct3.SLT, rd, rs1, imm)


def sltiu(rd, rs1, imm):
    return _i(Opcode.OP_IMM, Funct3.SLTU, rd, rs1, imm)


def xori(rd, rs1, imm):
    return _i(Opcode.OP_IMM, Funct3.XOR, rd, rs1, imm)


def ori(rd, rs1, imm):
    return _i(Opcode.OP_IMM, Funct3.OR, rd, rs1, imm)


def andi(rd, rs1, imm):
    return _i(Opcode.OP_IMM, Funct3.AND, rd, rs1, imm)


def slli(rd, rs1, shamt):
    return _shift(Opcode.OP_IMM, Funct3.SLL, 0, rd, rs1, shamt, 6)


def srli(rd, rs1, shamt):
    return _shift(Opcode.OP_IMM, Funct3.SR, 0, rd, rs1, shamt, 6)


def srai(rd, rs1, shamt):
    return _shift(Opcode.OP_IMM, Funct3.SR, SRAI_FUNCT6, rd, rs1, shamt, 6)


def addiw(rd, rs1, imm):
    return _i(Opcode.OP_IMM_32, Funct3.ADD, rd, rs1, imm)


def slliw(rd, rs1, shamt):
    return _shift(Opcode.OP_IMM_32, Funct3.SLL, 0, rd, rs1, shamt, 5)


def srliw(rd, rs1, shamt):
    return _shift(Opcode.OP_IMM_32, Funct3.SR, 0, rd, rs1, shamt, 5)


def sraiw(rd, rs1, shamt):
    return _shift(Opcode.OP_IMM_32, Funct3.SR, SRAI_FUNCT6, rd, rs1, shamt, 5)


def _op(funct3, funct7):
    return lambda rd, rs1, rs2: _r(Opcode.OP, funct3, funct7, rd, rs1, rs2)


def _op32(funct3, funct7):
    return lambda rd, rs1, rs2: _r(Opcode.OP_32, funct3, funct7, rd, rs1, rs2)


B, A, M = Funct7.BASE, Funct7.ALT, Funct7.MULDIV
add, sub, sll, slt = _op(Funct3.ADD, B), _op(Funct3.ADD, A), _op(Funct3.SLL, B), _op(Funct3.SLT, B)
sltu, xor, srl, sra = _op(Funct3.SLTU, B), _op(Funct3.XOR, B), _op(Funct3.SR, B), _op(Funct3.SR, A)
or_, and_ = _op(Funct3.OR, B), _op(Funct3.AND, B)
addw, subw, sllw = _op32(Funct3.ADD, B), _op32(Funct3.ADD, A), _op32(Funct3.SLL, B)
srlw, sraw = _op32(Funct3.SR, B), _op32(Funct3.SR, A)
mul, mulh = _op(MulDivFunct3.MUL, M), _op(MulDivFunct3.MULH, M)
mulhsu, mulhu = _op(MulDivFunct3.MULHSU, M), _op(MulDivFunct3.MULHU, M)
div, divu = _op(MulDivFunct3.DIV, M), _op(MulDivFunct3.DIVU, M)
rem, remu = _op(MulDivFunct3.REM, M), _op(MulDivFunct3.REMU, M)
mulw, divw = _op32(MulDivFunct3.MUL, M), _op32(MulDivFunct3.DIV, M)
divuw = _op32(MulDivFunct3.DIVU, M)
remw, remuw = _op32(MulDivFunct3.REM, M), _op32(MulDivFunct3.REMU, M)
del B, A, M


def fence(pred=0xF, succ=0xF):
    """``fence pred, succ`` with the iorw sets as 4-bit masks (i = 8, o = 4, r = 2, w = 1)."""
    return _range("pred", pred, 0, 15) << 24 | _range("succ", succ, 0, 15) << 20 | Opcode.MISC_MEM


def fence_i():
    return int(FixedInsn.FENCE_I)


def ecall():
    return int(FixedInsn.ECALL)


def ebreak():
    return int(FixedInsn.EBREAK)


def mret():
    return int(FixedInsn.MRET)


def _csr(funct3, rd, csr, src, src_name):
    return (_range("csr", csr, 0, 0xFFF) << 20 | _reg(src_name, src) << 15 | funct3 << 12
            | _reg("rd", rd) << 7 | Opcode.SYSTEM)


def csrrw(rd, csr, rs1):
    return _csr(CsrFunct3.CSRRW, rd, csr, rs1, "rs1")


def csrrs(rd, csr, rs1):
    return _csr(CsrFunct3.CSRRS, rd, csr, rs1, "rs1")


def csrrc(rd, csr, rs1):
    return _csr(CsrFunct3.CSRRC, rd, csr, rs1, "rs1")


def csrrwi(rd, csr, uimm):
    return _csr(CsrFunct3.CSRRWI, rd, csr, uimm, "uimm")


def csrrsi(rd, csr, uimm):
    return _csr(CsrFunct3.CSRRSI, rd, csr, uimm, "uimm")


def csrrci(rd, csr, uimm):
    return _csr(CsrFunct3.CSRRCI, rd, csr, uimm, "uimm")


def _custom(opcode):
    def encode(rd, rs1, rs2, funct7=0, funct3=0):
        return _r(opcode, _range("funct3", funct3, 0, 7), _range("funct7", funct7, 0, 127),
                  rd, rs1, rs2)
    encode.__name__ = encode.__qualname__ = f"custom{(opcode >> 5) & 3}"
    encode.__doc__ = f"R-type instruction in the custom opcode {opcode:#04x}."
    return encode


custom0, custom1, custom2, custom3 = (_custom(op) for op in CUSTOM_OPCODES)


# --- the D1 core's custom instructions (hw/core/isa.py, docs/isa.md) -------------------------
# Assembly name ``d1.<name>`` is the function ``d1_<name>``; operands in assembly order.

def _d1(unit, funct3, rd=0, rs1=0, rs2=0, funct7=0):
    return _r(int(unit), int(funct3), funct7, rd, rs1, rs2)


def d1_mcfg(rs1, rs2=0):
    """``d1.mcfg rs1, rs2``: matrix operand configuration ``rs1``, signal ``rs2``."""
    return _d1(Unit.MATRIX, MatrixFn.MCFG, 0, rs1, rs2)


def d1_mgemm(rs1, rs2=0):
    """``d1.mgemm rs1, rs2``: queue the GEMM descriptor at ``rs1``, signal ``rs2``."""
    return _d1(Unit.MATRIX, MatrixFn.MGEMM, 0, rs1, rs2)


def d1_vop(op, rd, rs1, rs2):
    """``d1.vop.<op> rd, rs1, rs2``: vector operation ``op`` (a ``VecOp`` or its code 0..63) on
    operands at ``rs1``/``rs2``; ``rd`` = 0 queues it, else ``rd`` gets the result's low 64
    bits."""
    code = _range("op", getattr(op, "value", op), 0, 63)
    return _d1(Unit.VECTOR, VectorFn.VOP, rd, rs1, rs2, code)


def d1_vsetcfg(rs1):
    """``d1.vsetcfg rs1``: this thread's vector configuration."""
    return _d1(Unit.VECTOR, VectorFn.VSETCFG, 0, rs1)


def d1_vsetstride(rs1):
    """``d1.vsetstride rs1``: this thread's vector strides."""
    return _d1(Unit.VECTOR, VectorFn.VSETSTRIDE, 0, rs1)


def d1_vsetdc(rs1, rs2):
    """``d1.vsetdc rs1, rs2``: VOP destination ``rs1`` and third operand ``rs2``."""
    return _d1(Unit.VECTOR, VectorFn.VSETDC, 0, rs1, rs2)


def d1_dma(rs1):
    """``d1.dma rs1``: queue the DMA descriptor list at ``rs1``."""
    return _d1(Unit.DMA, DmaFn.DMA, 0, rs1)


def d1_sset(rs1, rs2):
    """``d1.sset rs1, rs2``: semaphore ``rs1`` = ``rs2``."""
    return _d1(Unit.SYNC, SyncFn.SSET, 0, rs1, rs2)


def d1_sadd(rs1, rs2):
    """``d1.sadd rs1, rs2``: semaphore ``rs1`` += ``rs2``."""
    return _d1(Unit.SYNC, SyncFn.SADD, 0, rs1, rs2)


def d1_swait(rd, rs1, rs2):
    """``d1.swait rd, rs1, rs2``: sleep until semaphore ``rs1`` >= ``rs2``; ``rd`` = its
    value."""
    return _d1(Unit.SYNC, SyncFn.SWAIT, rd, rs1, rs2)


def d1_sread(rd, rs1):
    """``d1.sread rd, rs1``: ``rd`` = semaphore ``rs1``."""
    return _d1(Unit.SYNC, SyncFn.SREAD, rd, rs1)


def d1_fence(rd=0):
    """``d1.fence``: wait until every command this thread queued has completed."""
    return _d1(Unit.SYNC, SyncFn.FENCE, rd)


def d1_status(rd, rs1):
    """``d1.status rd, rs1``: ``rd`` = error register of unit ``rs1`` (then cleared)."""
    return _d1(Unit.SYNC, SyncFn.STATUS, rd, rs1)


def d1_snotify(rs1, rs2):
    """``d1.snotify rs1, rs2``: add signal ``rs2`` to the semaphores of core ``rs1`` (``x | y
    << 4``; a core of a mesh only)."""
    return _d1(Unit.SYNC, SyncFn.SNOTIFY, 0, rs1, rs2)


def d1_rdctr(rd, rs1):
    """``d1.rdctr rd, rs1``: ``rd`` = counter ``rs1``."""
    return _d1(Unit.SYNC, SyncFn.RDCTR, rd, rs1)


def li(rd, value):
    """Instructions that load ``value`` (-2**63..2**64-1, taken modulo 2**64) into ``rd``:
    ``addi`` for 12-bit values, ``lui`` + ``addiw`` for 32-bit ones, else the upper part
    recursively, then ``slli`` and ``addi``."""
    _reg("rd", rd)
    value = _range("value", value, -(1 << 63), (1 << 64) - 1)
    value = value - (1 << 64) if value >= 1 << 63 else value
    if -2048 <= value <= 2047:
        return [addi(rd, 0, value)]
    low = ((value & 0xFFF) ^ 0x800) - 0x800
    if -(1 << 31) <= value < 1 << 31:
        upper = [lui(rd, ((value - low) >> 12) & 0xFFFFF)]
        return upper + ([addiw(rd, rd, low)] if low else [])
    high = (value - low) >> 12
    shift = 12 + (high & -high).bit_length() - 1
    high = (value - low) >> shift
    return li(rd, high) + [slli(rd, rd, shift)] + ([addi(rd, rd, low)] if low else [])


def program(*insns):
    """Little-endian bytes of the instruction words (ints, or lists of them as ``li`` returns)."""
    out = bytearray()
    for insn in insns:
        for word in insn if isinstance(insn, list) else [insn]:
            out += _range("instruction", word, 0, 0xFFFFFFFF).to_bytes(4, "little")
    return bytes(out)
