"""A tiny RV64IM + Zicsr assembler for the scalar core's tests.

Each mnemonic is a function that returns the 32-bit instruction word. Operands follow the
assembly order: ``addi(rd, rs1, imm)``, loads ``lw(rd, imm, rs1)`` (``lw rd, imm(rs1)``), stores
``sw(rs2, imm, rs1)`` (``sw rs2, imm(rs1)``), branches ``beq(rs1, rs2, offset)``, CSR ops
``csrrw(rd, csr, rs1)`` and ``csrrwi(rd, csr, uimm)``. Registers are numbers 0..31; branch and
jump offsets are bytes relative to the instruction. Names that are Python keywords get a
trailing underscore: ``or_``, ``and_``. ``lui``/``auipc`` take the 20-bit upper immediate as an
unsigned field (0..0xFFFFF).

Every operand is range-checked and a bad one raises ValueError naming it, e.g. ``imm must be
in -2048..2047, got 2048``. ``li(rd, value)`` is the one pseudo-instruction: it returns a list
of instructions loading any 64-bit value. :func:`program` flattens words and lists of words
into little-endian bytes.
"""

__all__ = [
    "add", "addi", "addiw", "addw", "and_", "andi", "auipc", "beq", "bge", "bgeu", "blt",
    "bltu", "bne", "csrrc", "csrrci", "csrrs", "csrrsi", "csrrw", "csrrwi", "custom0",
    "custom1", "custom2", "custom3", "div", "divu", "divuw", "divw", "ebreak", "ecall", "fence",
    "fence_i", "jal", "jalr", "lb", "lbu", "ld", "lh", "lhu", "li", "lui", "lw", "lwu", "mret",
    "mul", "mulh", "mulhsu", "mulhu", "mulw", "or_", "ori", "program", "rem", "remu", "remuw",
    "remw", "sb", "sd", "sh", "sll", "slli", "slliw", "sllw", "slt", "slti", "sltiu", "sltu",
    "sra", "srai", "sraiw", "sraw", "srl", "srli", "srliw", "srlw", "sub", "subw", "sw", "xor",
    "xori",
]


def _range(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {value!r}")
    return value


def _reg(name, value):
    return _range(name, value, 0, 31)


def _even(name, value, bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 2
    if isinstance(value, bool) or not isinstance(value, int) or value & 1 or not lo <= value <= hi:
        raise ValueError(f"{name} must be even and in {lo}..{hi}, got {value!r}")
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
            | (imm & 31) << 7 | 0x23)


def _b(funct3, rs1, rs2, offset):
    o = _even("offset", offset, 13) & 0x1FFF
    return ((o >> 12) << 31 | (o >> 5 & 0x3F) << 25 | _reg("rs2", rs2) << 20
            | _reg("rs1", rs1) << 15 | funct3 << 12 | (o >> 1 & 0xF) << 8 | (o >> 11 & 1) << 7
            | 0x63)


def _shift(opcode, funct3, funct6, rd, rs1, shamt, bits):
    shamt = _range("shamt", shamt, 0, (1 << bits) - 1)
    return (funct6 << 26 | shamt << 20 | _reg("rs1", rs1) << 15 | funct3 << 12
            | _reg("rd", rd) << 7 | opcode)


def lui(rd, imm):
    return _range("imm", imm, 0, 0xFFFFF) << 12 | _reg("rd", rd) << 7 | 0x37


def auipc(rd, imm):
    return _range("imm", imm, 0, 0xFFFFF) << 12 | _reg("rd", rd) << 7 | 0x17


def jal(rd, offset):
    o = _even("offset", offset, 21) & 0x1FFFFF
    return ((o >> 20) << 31 | (o >> 1 & 0x3FF) << 21 | (o >> 11 & 1) << 20 | (o >> 12 & 0xFF) << 12
            | _reg("rd", rd) << 7 | 0x6F)


def jalr(rd, rs1, imm):
    return _i(0x67, 0, rd, rs1, imm)


def beq(rs1, rs2, offset):
    return _b(0, rs1, rs2, offset)


def bne(rs1, rs2, offset):
    return _b(1, rs1, rs2, offset)


def blt(rs1, rs2, offset):
    return _b(4, rs1, rs2, offset)


def bge(rs1, rs2, offset):
    return _b(5, rs1, rs2, offset)


def bltu(rs1, rs2, offset):
    return _b(6, rs1, rs2, offset)


def bgeu(rs1, rs2, offset):
    return _b(7, rs1, rs2, offset)


def lb(rd, imm, rs1):
    return _i(0x03, 0, rd, rs1, imm)


def lh(rd, imm, rs1):
    return _i(0x03, 1, rd, rs1, imm)


def lw(rd, imm, rs1):
    return _i(0x03, 2, rd, rs1, imm)


def ld(rd, imm, rs1):
    return _i(0x03, 3, rd, rs1, imm)


def lbu(rd, imm, rs1):
    return _i(0x03, 4, rd, rs1, imm)


def lhu(rd, imm, rs1):
    return _i(0x03, 5, rd, rs1, imm)


def lwu(rd, imm, rs1):
    return _i(0x03, 6, rd, rs1, imm)


def sb(rs2, imm, rs1):
    return _s(0, rs2, imm, rs1)


def sh(rs2, imm, rs1):
    return _s(1, rs2, imm, rs1)


def sw(rs2, imm, rs1):
    return _s(2, rs2, imm, rs1)


def sd(rs2, imm, rs1):
    return _s(3, rs2, imm, rs1)


def addi(rd, rs1, imm):
    return _i(0x13, 0, rd, rs1, imm)


def slti(rd, rs1, imm):
    return _i(0x13, 2, rd, rs1, imm)


def sltiu(rd, rs1, imm):
    return _i(0x13, 3, rd, rs1, imm)


def xori(rd, rs1, imm):
    return _i(0x13, 4, rd, rs1, imm)


def ori(rd, rs1, imm):
    return _i(0x13, 6, rd, rs1, imm)


def andi(rd, rs1, imm):
    return _i(0x13, 7, rd, rs1, imm)


def slli(rd, rs1, shamt):
    return _shift(0x13, 1, 0, rd, rs1, shamt, 6)


def srli(rd, rs1, shamt):
    return _shift(0x13, 5, 0, rd, rs1, shamt, 6)


def srai(rd, rs1, shamt):
    return _shift(0x13, 5, 0x10, rd, rs1, shamt, 6)


def addiw(rd, rs1, imm):
    return _i(0x1B, 0, rd, rs1, imm)


def slliw(rd, rs1, shamt):
    return _shift(0x1B, 1, 0, rd, rs1, shamt, 5)


def srliw(rd, rs1, shamt):
    return _shift(0x1B, 5, 0, rd, rs1, shamt, 5)


def sraiw(rd, rs1, shamt):
    return _shift(0x1B, 5, 0x10, rd, rs1, shamt, 5)


def _op(funct3, funct7):
    return lambda rd, rs1, rs2: _r(0x33, funct3, funct7, rd, rs1, rs2)


def _op32(funct3, funct7):
    return lambda rd, rs1, rs2: _r(0x3B, funct3, funct7, rd, rs1, rs2)


add, sub, sll, slt = _op(0, 0), _op(0, 0x20), _op(1, 0), _op(2, 0)
sltu, xor, srl, sra = _op(3, 0), _op(4, 0), _op(5, 0), _op(5, 0x20)
or_, and_ = _op(6, 0), _op(7, 0)
addw, subw, sllw, srlw, sraw = _op32(0, 0), _op32(0, 0x20), _op32(1, 0), _op32(5, 0), _op32(5, 0x20)
mul, mulh, mulhsu, mulhu = _op(0, 1), _op(1, 1), _op(2, 1), _op(3, 1)
div, divu, rem, remu = _op(4, 1), _op(5, 1), _op(6, 1), _op(7, 1)
mulw, divw, divuw, remw, remuw = _op32(0, 1), _op32(4, 1), _op32(5, 1), _op32(6, 1), _op32(7, 1)


def fence(pred=0xF, succ=0xF):
    """``fence pred, succ`` with the iorw sets as 4-bit masks (i = 8, o = 4, r = 2, w = 1)."""
    return _range("pred", pred, 0, 15) << 24 | _range("succ", succ, 0, 15) << 20 | 0x0F


def fence_i():
    return 0x0000100F


def ecall():
    return 0x00000073


def ebreak():
    return 0x00100073


def mret():
    return 0x30200073


def _csr(funct3, rd, csr, src, src_name):
    return (_range("csr", csr, 0, 0xFFF) << 20 | _reg(src_name, src) << 15 | funct3 << 12
            | _reg("rd", rd) << 7 | 0x73)


def csrrw(rd, csr, rs1):
    return _csr(1, rd, csr, rs1, "rs1")


def csrrs(rd, csr, rs1):
    return _csr(2, rd, csr, rs1, "rs1")


def csrrc(rd, csr, rs1):
    return _csr(3, rd, csr, rs1, "rs1")


def csrrwi(rd, csr, uimm):
    return _csr(5, rd, csr, uimm, "uimm")


def csrrsi(rd, csr, uimm):
    return _csr(6, rd, csr, uimm, "uimm")


def csrrci(rd, csr, uimm):
    return _csr(7, rd, csr, uimm, "uimm")


def _custom(opcode):
    def encode(rd, rs1, rs2, funct7=0, funct3=0):
        return _r(opcode, _range("funct3", funct3, 0, 7), _range("funct7", funct7, 0, 127),
                  rd, rs1, rs2)
    encode.__name__ = encode.__qualname__ = f"custom{(opcode >> 5) & 3}"
    encode.__doc__ = f"R-type instruction in the custom opcode {opcode:#04x}."
    return encode


custom0, custom1, custom2, custom3 = (_custom(op) for op in (0x0B, 0x2B, 0x5B, 0x7B))


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
