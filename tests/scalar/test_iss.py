"""Tests of the scalar core's golden model (verif/scalar/iss.py) and test assembler
(verif/scalar/asm.py): encodings against constants from the RISC-V spec, every instruction with
exact expected values, traps, CSRs, threads, the coprocessor callback and tohost."""

import random

import pytest

from hw.scalar.isa import RAM_BASE, Csr
from verif.scalar import asm as a
from verif.scalar.iss import (
    ISS,
    AccessFault,
    CoprocessorIllegal,
    CoprocessorWait,
    Deadlock,
    DeadlockInfo,
    Memory,
    Retire,
    RunResult,
    ThreadAsleep,
)

M64 = (1 << 64) - 1
SIZE = 0x10000
DATA = RAM_BASE + 0x4000
HANDLER = RAM_BASE + 0x800
TOHOST = RAM_BASE + 0x8000
START = RAM_BASE + 0x1000


def u(v):
    return v & M64


def make(*insns, threads=1, coprocessor=None, at=None):
    """An ISS with ``insns`` at RAM_BASE and ``at`` ({address: [insns]}) elsewhere."""
    mem = Memory(RAM_BASE, SIZE)
    mem.write(RAM_BASE, a.program(*insns))
    for addr, code in (at or {}).items():
        mem.write(addr, a.program(*code))
    return ISS(mem, threads=threads, coprocessor=coprocessor, tohost=TOHOST)


def execute(*insns, **kw):
    """Run straight-line ``insns`` (one step each) on thread 0; return the ISS."""
    iss = make(*insns, **kw)
    for _ in range(len(a.program(*insns)) // 4):
        iss.step()
    return iss


def reg(*insns, r=3, **kw):
    return execute(*insns, **kw).threads[0].x[r]


# Handler: x20 = mepc, x21 = mcause, x22 = mtval, return to mepc + 4.
TRAP_HANDLER = [
    a.csrrs(20, Csr.MEPC, 0), a.csrrs(21, Csr.MCAUSE, 0), a.csrrs(22, Csr.MTVAL, 0),
    a.addi(23, 20, 4), a.csrrw(0, Csr.MEPC, 23), a.mret(),
]
SET_MTVEC = [a.li(31, HANDLER), a.csrrw(0, Csr.MTVEC, 31)]


def trapped(*body, steps):
    """Run SET_MTVEC + body with the handler for ``steps`` steps; return thread 0."""
    iss = make(*SET_MTVEC, *body, at={HANDLER: TRAP_HANDLER})
    for _ in range(steps):
        iss.step()
    return iss.threads[0]


PREFIX = len(a.program(*SET_MTVEC)) // 4
BODY_PC = RAM_BASE + 4 * PREFIX


# --- assembler ---------------------------------------------------------------------------

@pytest.mark.parametrize("insn, word", [
    (a.addi(1, 0, 1), 0x00100093),
    (a.jal(0, 0), 0x0000006F),
    (a.ecall(), 0x00000073),
    (a.ebreak(), 0x00100073),
    (a.mret(), 0x30200073),
    (a.lui(5, 0x12345), 0x123452B7),
    (a.beq(0, 0, -4), 0xFE000EE3),
    (a.add(3, 1, 2), 0x002081B3),
    (a.mul(3, 1, 2), 0x022081B3),
    (a.sw(2, 8, 1), 0x0020A423),
    (a.sd(1, 0, 2), 0x00113023),
    (a.ld(1, 0, 2), 0x00013083),
    (a.srai(1, 1, 63), 0x43F0D093),
    (a.addiw(1, 1, -1), 0xFFF0809B),
    (a.csrrs(10, Csr.MHARTID, 0), 0xF1402573),
    (a.fence(), 0x0FF0000F),
    (a.fence_i(), 0x0000100F),
    (a.jal(1, -8), 0xFF9FF0EF),
    (a.custom0(1, 2, 3, funct7=0x7F, funct3=7), 0xFE31708B),
])
def test_encoding(insn, word):
    assert insn == word


@pytest.mark.parametrize("call, message", [
    (lambda: a.addi(1, 0, 2048), "imm must be in -2048..2047, not 2048"),
    (lambda: a.addi(32, 0, 0), "rd must be in 0..31, not 32"),
    (lambda: a.add(1, -1, 0), "rs1 must be in 0..31, not -1"),
    (lambda: a.sw(1, -2049, 2), "imm must be in -2048..2047, not -2049"),
    (lambda: a.beq(0, 0, 3), "offset must be even and in -4096..4094, not 3"),
    (lambda: a.bne(0, 0, 4096), "offset must be even and in -4096..4094, not 4096"),
    (lambda: a.jal(0, 1 << 20), "offset must be even and in -1048576..1048574, not 1048576"),
    (lambda: a.lui(1, 0x100000), "imm must be in 0..1048575, not 1048576"),
    (lambda: a.slli(1, 1, 64), "shamt must be in 0..63, not 64"),
    (lambda: a.sraiw(1, 1, 32), "shamt must be in 0..31, not 32"),
    (lambda: a.csrrw(0, 0x1000, 0), "csr must be in 0..4095, not 4096"),
    (lambda: a.csrrwi(0, 0x300, 32), "uimm must be in 0..31, not 32"),
    (lambda: a.custom1(0, 0, 0, funct7=128), "funct7 must be in 0..127, not 128"),
    (lambda: a.custom2(0, 0, 0, funct3=8), "funct3 must be in 0..7, not 8"),
    (lambda: a.fence(16, 0), "pred must be in 0..15, not 16"),
    (lambda: a.li(1, 1 << 64), f"value must be in {-(1 << 63)}..{M64}, not {1 << 64}"),
    (lambda: a.program(1 << 32), "instruction must be in 0..4294967295, not 4294967296"),
])
def test_assembler_range_errors(call, message):
    with pytest.raises(ValueError) as e:
        call()
    assert str(e.value) == message


@pytest.mark.parametrize("call, message", [
    (lambda: a.addi(1, 0, "1"), "imm must be an integer, not '1'"),
    (lambda: a.add(True, 0, 0), "rd must be an integer, not True"),
    (lambda: a.beq(0, 0, 4.0), "offset must be an integer, not 4.0"),
])
def test_assembler_type_errors(call, message):
    with pytest.raises(TypeError) as e:
        call()
    assert str(e.value) == message


def test_program_bytes():
    assert a.program(0x00100093, [0x0000006F]) == bytes.fromhex("930010006f000000")


LI_VALUES = [0, 1, -1, 2047, -2048, 2048, 0x7FFFFFFF, -(1 << 31), 0x80000000, 0xFFFFFFFF,
             RAM_BASE, 1 << 63, (1 << 63) - 1, 0x123456789ABCDEF0, 0xFFFFFFFF00000000,
             0x0000000100000001, -0x800]


@pytest.mark.parametrize("value", LI_VALUES + [random.Random(s).getrandbits(64) for s in range(8)])
def test_li(value):
    assert reg(a.li(3, value)) == u(value)


# --- memory and construction -------------------------------------------------------------

def test_memory_load_store_and_range():
    m = Memory(0x1000, 16)
    m.store(0x1008, 8, 0x1122334455667788)
    assert m.load(0x1008, 4) == 0x55667788
    assert m.load(0x100F, 1) == 0x11
    assert m.load(0x1000, 8) == 0
    assert m.contains(0x100F, 1) and not m.contains(0x100F, 2) and not m.contains(0xFFF, 1)
    with pytest.raises(AccessFault) as e:
        m.load(0x100C, 8)
    assert str(e.value) == "8-byte access at 0x100c is outside memory 0x1000..0x100f"
    with pytest.raises(ValueError) as e:
        m.load(0x1000, 3)
    assert str(e.value) == "access width must be 1, 2, 4 or 8 bytes, not 3"


@pytest.mark.parametrize("threads, exc, message", [
    (0, ValueError, "threads must be in 1..4, not 0"),
    (5, ValueError, "threads must be in 1..4, not 5"),
    ("2", TypeError, "threads must be an integer, not '2'"),
])
def test_thread_count_errors(threads, exc, message):
    with pytest.raises(exc) as e:
        ISS(Memory(), threads=threads)
    assert str(e.value) == message


def test_retire_record_and_x0():
    iss = make(a.addi(1, 0, 5), a.addi(0, 0, 7), a.sd(1, 0, 0))
    assert iss.step() == Retire(0, RAM_BASE, 0x00500093, 1, 5, None)
    assert iss.step() == Retire(0, RAM_BASE + 4, a.addi(0, 0, 7), None, None, None)
    assert iss.threads[0].x[0] == 0
    assert iss.step() == Retire(0, RAM_BASE + 8, a.sd(1, 0, 0), None, None, 7)


# --- integer instructions ----------------------------------------------------------------

INT_MIN = 1 << 63
RR = [
    (a.add, M64, 1, 0), (a.sub, 0, 1, M64), (a.sub, 5, 7, u(-2)),
    (a.sll, 1, 63, INT_MIN), (a.sll, 1, 67, 8), (a.srl, INT_MIN, 63, 1), (a.srl, M64, 64, M64),
    (a.sra, INT_MIN, 63, M64), (a.sra, u(-16), 2, u(-4)), (a.sra, 0x7000, 12, 7),
    (a.slt, M64, 0, 1), (a.slt, 0, M64, 0), (a.sltu, M64, 0, 0), (a.sltu, 0, M64, 1),
    (a.xor, 0xF0F0, 0xFF00, 0x0FF0), (a.or_, 0xF0F0, 0xFF00, 0xFFF0),
    (a.and_, 0xF0F0, 0xFF00, 0xF000),
    (a.addw, 0x7FFFFFFF, 1, 0xFFFFFFFF80000000), (a.addw, 0x1_0000_0005, 0, 5),
    (a.subw, 0, 1, M64), (a.subw, 0x80000000, 1, 0x7FFFFFFF),
    (a.sllw, 1, 31, 0xFFFFFFFF80000000), (a.sllw, 1, 32, 1),
    (a.srlw, 0xFFFFFFFF80000000, 31, 1), (a.srlw, 0x80000000, 0, 0xFFFFFFFF80000000),
    (a.sraw, 0x80000000, 31, M64), (a.sraw, 0xFFFF_FFFF_7FFF_FFFF, 30, 1),
    (a.mul, INT_MIN, 2, 0), (a.mul, M64, M64, 1), (a.mul, 0x100000000, 0x100000000, 0),
    (a.mulh, M64, M64, 0), (a.mulh, INT_MIN, INT_MIN, 1 << 62), (a.mulh, INT_MIN, 1, M64),
    (a.mulhsu, M64, M64, M64), (a.mulhsu, INT_MIN, M64, INT_MIN),
    (a.mulhu, M64, M64, M64 - 1), (a.mulhu, INT_MIN, 2, 1),
    (a.div, 7, u(-2), u(-3)), (a.div, u(-7), 2, u(-3)), (a.div, 5, 0, M64),
    (a.div, INT_MIN, M64, INT_MIN), (a.div, INT_MIN, 1, INT_MIN),
    (a.divu, M64, 2, M64 >> 1), (a.divu, 5, 0, M64),
    (a.rem, 7, u(-2), 1), (a.rem, u(-7), 2, u(-1)), (a.rem, u(-7), 0, u(-7)),
    (a.rem, INT_MIN, M64, 0), (a.remu, M64, 10, 5), (a.remu, 12345, 0, 12345),
    (a.mulw, 0x7FFFFFFF, 2, u(-2)), (a.mulw, 0x1_0000_0003, 3, 9),
    (a.divw, 0x80000000, M64, 0xFFFFFFFF80000000), (a.divw, u(-7), 0, M64),
    (a.divw, 0x1_0000_0007, 2, 3), (a.divuw, 0xFFFFFFFF, 2, 0x7FFFFFFF), (a.divuw, 9, 0, M64),
    (a.remw, 0x80000000, M64, 0), (a.remw, u(-7), 0, u(-7)), (a.remw, u(-7), 2, u(-1)),
    (a.remuw, 0x80000000, 0, 0xFFFFFFFF80000000), (a.remuw, 0xFFFFFFFF, 10, 5),
]


@pytest.mark.parametrize("op, x, y, expected", RR, ids=[f"{c[0].__name__}-{i}" for i, c in
                                                      enumerate(RR)])
def test_register_register(op, x, y, expected):
    assert reg(a.li(1, x), a.li(2, y), op(3, 1, 2)) == expected


def _signed(v):
    return v - (1 << 64) if v >> 63 else v


@pytest.mark.parametrize("seed", range(4))
def test_mulh_against_big_ints(seed):
    rng = random.Random(seed)
    edges = [0, 1, M64, INT_MIN, INT_MIN - 1, 0xFFFFFFFF, 1 << 32]
    for x in edges + [rng.getrandbits(64) for _ in range(3)]:
        for y in edges[:4] + [rng.getrandbits(64)]:
            got = [reg(a.li(1, x), a.li(2, y), op(3, 1, 2)) for op in (a.mulh, a.mulhsu, a.mulhu)]
            assert got == [u((_signed(x) * _signed(y)) >> 64), u((_signed(x) * y) >> 64),
                           (x * y) >> 64]


RI = [
    (a.addi, 0, -1, M64), (a.addi, M64, 1, 0), (a.slti, M64, 0, 1), (a.slti, 0, -1, 0),
    (a.sltiu, 0, -1, 1), (a.sltiu, M64, -1, 0), (a.xori, 0x0F, -1, u(~0x0F)),
    (a.ori, 0x100, 0x0F, 0x10F), (a.andi, M64, -2048, u(-2048)), (a.andi, M64, 0x7FF, 0x7FF),
    (a.slli, 1, 63, INT_MIN), (a.srli, INT_MIN, 63, 1), (a.srai, INT_MIN, 63, M64),
    (a.srai, 0x4000000000000000, 62, 1),
    (a.addiw, 0x7FFFFFFF, 1, 0xFFFFFFFF80000000), (a.addiw, 0xFFFFFFFF, 0, M64),
    (a.slliw, 1, 31, 0xFFFFFFFF80000000), (a.slliw, 0x1_0000_0001, 1, 2),
    (a.srliw, 0x80000000, 31, 1), (a.srliw, 0x80000000, 0, 0xFFFFFFFF80000000),
    (a.sraiw, 0x80000000, 31, M64), (a.sraiw, 0x1_7FFF_FFFF, 30, 1),
]


@pytest.mark.parametrize("op, x, imm, expected", RI, ids=[f"{c[0].__name__}-{i}" for i, c in
                                                        enumerate(RI)])
def test_register_immediate(op, x, imm, expected):
    assert reg(a.li(1, x), op(3, 1, imm)) == expected


def test_lui_auipc():
    iss = execute(a.lui(5, 0x80000), a.lui(6, 0x7FFFF), a.auipc(7, 1), a.auipc(8, 0xFFFFF))
    x = iss.threads[0].x
    assert x[5:9] == [0xFFFFFFFF80000000, 0x7FFFF000, RAM_BASE + 8 + 0x1000, RAM_BASE + 12 - 0x1000]


# --- branches and jumps ------------------------------------------------------------------

BRANCHES = [
    (a.beq, 5, 5, True), (a.beq, 5, 6, False), (a.bne, 5, 6, True), (a.bne, 5, 5, False),
    (a.blt, M64, 0, True), (a.blt, 0, M64, False), (a.bltu, M64, 0, False), (a.bltu, 0, M64, True),
    (a.bge, 0, M64, True), (a.bge, 3, 3, True), (a.bge, M64, 0, False),
    (a.bgeu, 0, M64, False), (a.bgeu, M64, M64, True), (a.bgeu, M64, 0, True),
]


@pytest.mark.parametrize("op, x, y, taken", BRANCHES)
def test_branch(op, x, y, taken):
    setup = [a.li(1, x), a.li(2, y)]
    iss = make(*setup, op(1, 2, 8), a.addi(3, 0, 1), a.addi(4, 0, 2))
    for _ in range(len(a.program(*setup)) // 4):
        iss.step()
    branch_pc = iss.threads[0].pc
    assert iss.step() == Retire(0, branch_pc, op(1, 2, 8), None, None, None)
    assert iss.threads[0].pc == branch_pc + (8 if taken else 4)
    for _ in range(1 if taken else 2):
        iss.step()
    assert iss.threads[0].x[3:5] == ([0, 2] if taken else [1, 2])


def test_backward_branch_loop():
    # x1 counts 10 down to 0, x2 adds 3 per iteration.
    iss = make(a.addi(1, 0, 10), a.addi(2, 2, 3), a.addi(1, 1, -1), a.bne(1, 0, -8),
               a.jal(0, 0))
    iss.run(1 + 3 * 10)
    assert iss.threads[0].x[1:3] == [0, 30]
    assert iss.threads[0].pc == RAM_BASE + 16


def test_jal_jalr():
    iss = make(a.jal(1, 12), a.addi(9, 0, 9), a.jal(0, 0), a.auipc(5, 0), a.jalr(6, 5, -7))
    records = [iss.step() for _ in range(4)]
    assert records[0] == Retire(0, RAM_BASE, a.jal(1, 12), 1, RAM_BASE + 4, None)
    # jalr clears bit 0 of rs1 + imm: (RAM_BASE + 12) - 7 = RAM_BASE + 5 -> RAM_BASE + 4.
    assert records[2] == Retire(0, RAM_BASE + 16, a.jalr(6, 5, -7), 6, RAM_BASE + 20, None)
    assert records[3].pc == RAM_BASE + 4 and iss.threads[0].x[9] == 9


# --- loads and stores --------------------------------------------------------------------

LOADS = [
    (a.ld, 0, 0x8877665544332211), (a.lb, 0, 0x11), (a.lb, 7, u(-0x78)), (a.lbu, 7, 0x88),
    (a.lh, 2, 0x4433), (a.lh, 6, 0xFFFFFFFFFFFF8877), (a.lhu, 6, 0x8877),
    (a.lw, 0, 0x44332211), (a.lw, 4, 0xFFFFFFFF88776655), (a.lwu, 4, 0x88776655),
    (a.lb, -8, 0x7F), (a.lbu, 5, 0x66),
]


@pytest.mark.parametrize("op, offset, expected", LOADS)
def test_load(op, offset, expected):
    assert reg(a.li(1, DATA), a.li(2, 0x8877665544332211), a.sd(2, 0, 1), a.addi(4, 0, 0x7F),
               a.sb(4, -8, 1), op(3, offset, 1)) == expected


@pytest.mark.parametrize("op, offset", [(a.sb, 1), (a.sb, 7), (a.sh, 2), (a.sh, 6), (a.sw, 4),
                                        (a.sw, 0), (a.sd, 0)])
def test_store(op, offset):
    value = 0x11223333AA
    iss = execute(a.li(1, DATA), a.li(2, 0x8877665544332211), a.sd(2, 0, 1), a.li(5, value),
                  op(5, offset, 1), a.ld(3, 0, 1))
    width = {a.sb: 1, a.sh: 2, a.sw: 4, a.sd: 8}[op]
    mask = ((1 << (8 * width)) - 1) << (8 * offset)
    assert iss.threads[0].x[3] == (0x8877665544332211 & ~mask) | ((value << 8 * offset) & mask)
    assert iss.memory.load(DATA + offset, width) == value & ((1 << (8 * width)) - 1)


def test_store_exact_words():
    iss = execute(a.li(1, DATA), a.li(2, 0x8877665544332211), a.sd(2, 0, 1), a.li(5, 0xAABBCCDD),
                  a.sb(5, 1, 1), a.sh(5, 2, 1), a.sw(5, 4, 1), a.ld(3, 0, 1))
    assert iss.threads[0].x[3] == 0xAABBCCDDCCDDDD11


def test_fence_and_fence_i_self_modifying_code():
    # Overwrite the instruction at +24 (addi x3, x0, 1) with addi x3, x0, 2, then fence.i.
    new = a.addi(3, 0, 2)
    iss = make(a.auipc(1, 0), a.li(2, new), a.sw(2, 24, 1), a.fence(), a.fence_i(),
               a.addi(3, 0, 1))
    assert len(a.program(a.li(2, new))) == 8
    for _ in range(7):
        iss.step()
    assert iss.threads[0].x[3] == 2


# --- traps -------------------------------------------------------------------------------

def test_trap_through_mtvec_and_mret():
    t = trapped(a.ecall(), a.addi(5, 0, 5), steps=PREFIX + 1 + 6 + 1)
    assert (t.x[20], t.x[21], t.x[22], t.x[5]) == (BODY_PC, 11, 0, 5)
    assert t.pc == BODY_PC + 8


ILLEGAL = [0x00000000, 0xFFFFFFFF, 0x00000001, 0x00007003, 0x00002063, 0x0000400F,
           a.slli(1, 1, 1) | 1 << 30, a.slliw(1, 1, 1) | 1 << 25, a.add(1, 1, 1) | 1 << 26,
           0x10500073, a.jalr(0, 0, 0) | 1 << 12, a.subw(1, 1, 1) | 6 << 12, 0x00004073,
           a.custom0(1, 2, 3), a.custom3(1, 2, 3)]


@pytest.mark.parametrize("insn", ILLEGAL, ids=[f"{w:#010x}" for w in ILLEGAL])
def test_illegal_instruction(insn):
    iss = make(*SET_MTVEC, insn, at={HANDLER: TRAP_HANDLER})
    for _ in range(PREFIX):
        iss.step()
    assert iss.step() == Retire(0, BODY_PC, insn, None, None, 2)
    t = iss.threads[0]
    assert (t.csr[Csr.MEPC], t.csr[Csr.MCAUSE], t.csr[Csr.MTVAL], t.pc) == (
        BODY_PC, 2, insn, HANDLER)


@pytest.mark.parametrize("body, cause, tval", [
    ([a.ebreak()], 3, 0),
    ([a.ecall()], 11, 0),
    ([a.li(1, DATA + 2), a.lw(2, 0, 1)], 4, DATA + 2),
    ([a.li(1, DATA + 4), a.ld(2, 0, 1)], 4, DATA + 4),
    ([a.li(1, DATA + 1), a.lhu(2, 0, 1)], 4, DATA + 1),
    ([a.li(1, DATA + 6), a.sw(2, 0, 1)], 6, DATA + 6),
    ([a.li(1, DATA + 3), a.sh(2, 0, 1)], 6, DATA + 3),
    ([a.li(1, 0x1000), a.ld(2, 0, 1)], 5, 0x1000),
    ([a.li(1, RAM_BASE + SIZE), a.lb(2, 0, 1)], 5, RAM_BASE + SIZE),
    ([a.li(1, RAM_BASE + SIZE - 8), a.sd(2, 8, 1)], 7, RAM_BASE + SIZE),
    ([a.addi(1, 0, -8), a.sd(2, 0, 1)], 7, M64 - 7),
    ([a.jal(1, 2)], 0, lambda pc: pc + 2),
    ([a.beq(0, 0, 6)], 0, lambda pc: pc + 6),
    ([a.jal(1, -2)], 0, lambda pc: pc - 2),
    ([a.auipc(1, 0), a.jalr(1, 1, 10)], 0, lambda pc: pc + 6),
])
def test_trap_causes(body, cause, tval):
    """The faulting instruction (last of ``body``) traps, the handler reads mepc, mcause and
    mtval and returns past it; ``tval`` is a value or a function of the faulting pc."""
    n = len(a.program(*body)) // 4
    t = trapped(*body, a.addi(5, 0, 5), steps=PREFIX + n + 6 + 1)
    pc = BODY_PC + 4 * (n - 1)
    assert (t.x[20], t.x[21], t.x[22]) == (pc, cause, tval(pc) if callable(tval) else tval)
    assert t.x[5] == 5 and t.pc == pc + 8


@pytest.mark.parametrize("jump", [a.jal(1, 2), a.jalr(1, 0, 2)])
def test_trapping_jump_writes_no_register(jump):
    iss = make(a.addi(1, 0, 33), jump)
    iss.threads[0].csr[Csr.MTVEC] = HANDLER
    iss.step()
    assert iss.step() == Retire(0, RAM_BASE + 4, jump, None, None, 0)
    assert iss.threads[0].x[1] == 33


def test_untaken_branch_to_misaligned_target_does_not_trap():
    assert reg(a.bne(0, 0, 6), a.addi(3, 0, 3)) == 3


def test_fetch_access_fault():
    iss = make(a.li(1, RAM_BASE + SIZE), a.jalr(0, 1, 0))
    iss.threads[0].csr[Csr.MTVEC] = HANDLER
    while iss.threads[0].pc < RAM_BASE + SIZE:
        iss.step()
    assert iss.step() == Retire(0, RAM_BASE + SIZE, None, None, None, 1)
    t = iss.threads[0]
    assert (t.csr[Csr.MEPC], t.csr[Csr.MCAUSE], t.csr[Csr.MTVAL], t.pc) == (
        RAM_BASE + SIZE, 1, RAM_BASE + SIZE, HANDLER)


def test_mstatus_on_trap_and_mret():
    t = trapped(a.csrrsi(0, Csr.MSTATUS, 8), a.csrrs(6, Csr.MSTATUS, 0), a.ecall(),
                a.csrrs(7, Csr.MSTATUS, 0), steps=PREFIX + 3 + 6 + 1)
    # Before the trap MIE = 1 (0x1808); the trap saves it in MPIE, mret restores MIE = MPIE = 1.
    assert t.x[6] == 0x1808 and t.x[7] == 0x1888
    iss = make(a.csrrs(1, Csr.MSTATUS, 0), a.li(2, -1), a.csrrw(0, Csr.MSTATUS, 2),
               a.csrrs(3, Csr.MSTATUS, 0))
    for _ in range(4):
        iss.step()
    assert (iss.threads[0].x[1], iss.threads[0].x[3]) == (0x1800, 0x1888)


def test_mret_clears_mie_when_mpie_clear_and_sets_mpie():
    iss = make(a.li(1, RAM_BASE + 0x100), a.csrrw(0, Csr.MEPC, 1), a.csrrwi(0, Csr.MSTATUS, 8),
               a.mret(), at={RAM_BASE + 0x100: [a.csrrs(3, Csr.MSTATUS, 0)]})
    for _ in range(len(a.program(a.li(1, RAM_BASE + 0x100))) // 4 + 4):
        iss.step()
    assert iss.threads[0].x[3] == 0x1880


# --- CSRs --------------------------------------------------------------------------------

@pytest.mark.parametrize("insn", [
    a.csrrs(1, 0x301, 0), a.csrrs(1, 0x344, 0), a.csrrw(0, 0x7C2, 1), a.csrrs(1, 0xC01, 0),
    a.csrrw(0, Csr.MHARTID, 1), a.csrrs(0, Csr.MHARTID, 1), a.csrrwi(0, Csr.CYCLE, 0),
    a.csrrci(0, Csr.INSTRET, 1),
])
def test_unimplemented_or_read_only_csr_traps(insn):
    iss = make(a.addi(1, 0, 1), insn)
    iss.threads[0].csr[Csr.MTVEC] = HANDLER
    iss.step()
    assert iss.step().trap == 2
    assert iss.threads[0].csr[Csr.MTVAL] == insn and iss.threads[0].pc == HANDLER


def test_csr_reads_and_writes():
    x = execute(
        a.li(1, -1),
        a.csrrw(2, Csr.MIE, 1), a.csrrs(3, Csr.MIE, 0), a.csrrsi(4, Csr.MIE, 31),
        a.li(5, RAM_BASE + 0x103), a.csrrw(0, Csr.MTVEC, 5), a.csrrs(6, Csr.MTVEC, 0),
        a.csrrw(0, Csr.MEPC, 5), a.csrrs(7, Csr.MEPC, 0),
        a.csrrw(8, Csr.MSCRATCH, 1), a.csrrw(9, Csr.MSCRATCH, 0),
        a.csrrwi(0, Csr.MCAUSE, 21), a.csrrci(10, Csr.MCAUSE, 4), a.csrrs(11, Csr.MCAUSE, 0),
        a.csrrw(0, Csr.MTVAL, 1), a.csrrc(0, Csr.MTVAL, 5), a.csrrs(12, Csr.MTVAL, 0),
        a.csrrs(13, Csr.MHARTID, 0),
        a.addi(15, 0, 77), a.csrrw(15, Csr.MSCRATCH, 15), a.csrrs(16, Csr.MSCRATCH, 0),
    ).threads[0].x
    assert x[2:5] == [0, 0, 0]
    assert x[6:8] == [RAM_BASE + 0x100, RAM_BASE + 0x100]
    assert x[8:10] == [0, M64]
    assert x[10:12] == [21, 17]
    assert x[12] == u(~(RAM_BASE + 0x103))
    assert x[13] == 0
    assert x[15:17] == [0, 77]


def test_counters():
    x = execute(
        a.addi(1, 0, 1), a.addi(1, 0, 1),
        a.csrrs(2, Csr.INSTRET, 0), a.csrrs(3, Csr.MINSTRET, 0), a.csrrs(4, Csr.CYCLE, 0),
        a.addi(5, 0, 100), a.csrrw(0, Csr.MINSTRET, 5), a.csrrs(6, Csr.INSTRET, 0),
        a.csrrw(0, 0xB00, 5), a.csrrs(7, Csr.CYCLE, 0), a.csrrs(8, 0xB00, 0),
    ).threads[0].x
    assert x[2:5] == [2, 3, 4]
    assert x[6:9] == [100, 100, 101]


def test_trap_counts_cycle_but_not_instret():
    iss = make(a.ecall())
    iss.threads[0].csr[Csr.MTVEC] = RAM_BASE + 4
    iss.memory.write(RAM_BASE + 4, a.program(a.csrrs(1, Csr.INSTRET, 0), a.csrrs(2, Csr.CYCLE, 0)))
    for _ in range(3):
        iss.step()
    assert iss.threads[0].x[1:3] == [0, 2]


# --- threads -----------------------------------------------------------------------------

def _start_threads(mask):
    return [a.li(5, START), a.csrrw(0, Csr.MTHREADPC, 5), a.li(6, mask),
            a.csrrs(0, Csr.MTHREADCTL, 6)]


def test_threads_start_round_robin_and_mhartid():
    # Each started thread stores mhartid + 10 to DATA + 8 * hartid, then loops.
    worker = [a.csrrs(1, Csr.MHARTID, 0), a.slli(2, 1, 3), a.li(3, DATA), a.add(2, 2, 3),
              a.addi(4, 1, 10), a.sd(4, 0, 2), a.jal(0, 0)]
    boot = _start_threads(0b1110)
    iss = make(*boot, a.csrrs(7, Csr.MTHREADCTL, 0), a.csrrs(8, Csr.MHARTID, 0), a.jal(0, 0),
               threads=4, at={START: worker})
    boot_steps = len(a.program(*boot)) // 4
    records = [iss.step() for _ in range(boot_steps)]
    assert {r.thread for r in records} == {0}
    assert [t.running for t in iss.threads] == [True] * 4
    records = [iss.step() for _ in range(40)]
    assert [r.thread for r in records] == [1, 2, 3, 0] * 10
    assert records[0] == Retire(1, START, worker[0], 1, 1, None)
    assert records[1] == Retire(2, START, worker[0], 1, 2, None)
    assert [iss.memory.load(DATA + 8 * i, 8) for i in range(4)] == [0, 11, 12, 13]
    assert iss.threads[0].x[7:9] == [0b1111, 0]


def test_threads_park_and_idle():
    # Workers stop themselves; then thread 0 stops itself and the core is idle.
    worker = [a.csrrs(1, Csr.MHARTID, 0), a.addi(2, 0, 1), a.sll(2, 2, 1),
              a.csrrc(0, Csr.MTHREADCTL, 2), a.addi(9, 0, 9)]
    iss = make(*_start_threads(0b110), a.addi(10, 0, 1), a.addi(10, 0, 1), a.addi(10, 0, 1),
               a.addi(10, 0, 1), a.csrrs(7, Csr.MTHREADCTL, 0), a.csrrci(0, Csr.MTHREADCTL, 1),
               threads=3, at={START: worker})
    result = iss.run(100)
    assert result.status == "idle" and result.tohost == 0
    assert [t.running for t in iss.threads] == [False] * 3
    assert iss.threads[0].x[7] == 1
    assert [t.x[9] for t in iss.threads] == [0, 0, 0]
    assert iss.threads[1].pc == START + 16
    with pytest.raises(RuntimeError) as e:
        iss.step()
    assert str(e.value) == "no thread is running"


def test_thread_mask_ignores_missing_threads():
    iss = make(*_start_threads(0b1111), a.csrrs(7, Csr.MTHREADCTL, 0), a.jal(0, 0), threads=2,
               at={START: [a.addi(1, 1, 1), a.jal(0, 0)]})
    iss.run(len(a.program(*_start_threads(0))) // 4 + 4)
    assert iss.threads[0].x[7] == 0b11
    assert iss.threads[1].x[1] == 1 and iss.threads[1].pc == START + 4


def test_stopped_thread_restarts_at_thread_pc_with_its_registers():
    # Thread 0 starts thread 1 (x1 += 1 forever), stops it, moves mthreadpc, restarts it.
    boot = _start_threads(0b10)
    again = START + 0x100
    main = [*boot, a.addi(7, 0, 2), a.csrrc(0, Csr.MTHREADCTL, 7), a.addi(8, 8, 1),
            a.li(5, again), a.csrrw(0, Csr.MTHREADPC, 5), a.csrrs(0, Csr.MTHREADCTL, 7)]
    iss = make(*main, a.jal(0, 0), threads=2,
               at={START: [a.addi(1, 1, 1), a.jal(0, -4)], again: [a.addi(2, 1, 100)]})
    records = [iss.step() for _ in range(len(a.program(*boot)) // 4 + 4)]
    assert [r.thread for r in records[-4:]] == [1, 0, 1, 0]
    assert not iss.threads[1].running and iss.threads[1].x[1] == 1
    while iss.threads[0].pc != RAM_BASE + len(a.program(*main)):
        assert iss.step().thread == 0
    assert iss.step() == Retire(1, again, a.addi(2, 1, 100), 2, 101, None)


def test_per_thread_instret():
    worker = [a.addi(1, 0, 1), a.csrrs(2, Csr.INSTRET, 0), a.jal(0, 0)]
    boot = _start_threads(0b10)
    iss = make(*boot, a.csrrs(2, Csr.INSTRET, 0), a.jal(0, 0), threads=2, at={START: worker})
    iss.run(len(a.program(*boot)) // 4 + 4)
    assert iss.threads[1].x[2] == 1
    assert iss.threads[0].x[2] == len(a.program(*boot)) // 4


# --- coprocessor -------------------------------------------------------------------------

def test_custom_opcodes_call_coprocessor():
    calls = []

    def coprocessor(thread, insn, x, y):
        calls.append((thread, insn, x, y))
        return -len(calls)

    ops = [a.custom0(3, 1, 2), a.custom1(4, 2, 1, funct7=5), a.custom2(0, 1, 1, funct3=7),
           a.custom3(5, 0, 2, funct7=127, funct3=1)]
    iss = execute(a.li(1, M64), a.li(2, 7), *ops, coprocessor=coprocessor)
    assert calls == [(0, ops[0], M64, 7), (0, ops[1], 7, M64), (0, ops[2], M64, M64),
                     (0, ops[3], 0, 7)]
    assert iss.threads[0].x[3:6] == [M64, M64 - 1, M64 - 3]


def test_custom_opcode_trace_record():
    iss = make(a.custom0(3, 0, 0), coprocessor=lambda *args: 0x1_0000_0000_0000_0005)
    assert iss.step() == Retire(0, RAM_BASE, a.custom0(3, 0, 0), 3, 5, None)


def test_coprocessor_refuses_as_illegal():
    # The refused instruction traps like any illegal one: cause 2, mtval = its bits, mepc at
    # it, no rd write; the handler returns past it and the next call (x1 = 1) is accepted.
    def coprocessor(thread, insn, x, y):
        if x == 13:
            raise CoprocessorIllegal
        return 99

    insn = a.custom1(3, 1, 0)
    body = [a.li(1, 13), a.li(3, 5), insn, a.li(1, 1), insn]
    iss = make(*SET_MTVEC, *body, coprocessor=coprocessor, at={HANDLER: TRAP_HANDLER})
    records = [iss.step() for _ in range(PREFIX + 3 + 6 + 2)]
    pc = BODY_PC + 8
    assert records[PREFIX + 2] == Retire(0, pc, insn, None, None, 2)
    t = iss.threads[0]
    assert t.x[20:23] == [pc, 2, insn]
    assert records[-1] == Retire(0, pc + 8, insn, 3, 99, None)


class Gate:
    """A coprocessor with one semaphore: custom0 waits until it is >= rs1 (then rd = its
    value, side effects only then), custom1 adds rs1 to it."""

    def __init__(self):
        self.value = 0
        self.calls = 0

    def __call__(self, thread, insn, x, y):
        self.calls += 1
        if insn & 0x7F == 0x0B:
            if self.value < x:
                raise CoprocessorWait(f"gate {self.value} < {x}")
            return self.value
        self.value += x
        return 0


def test_waiting_thread_sleeps_and_others_run():
    # Thread 0 waits for the gate to reach 3; thread 1 adds 1 three times. Thread 0's wait
    # never retires until the third add; meanwhile only thread 1 retires, and the wait then
    # retires with the value 3. A retry that waits again counts no cycle.
    gate = Gate()
    boot = _start_threads(0b10)
    worker = [a.li(1, 1), a.custom1(0, 1, 0), a.custom1(0, 1, 0), a.custom1(0, 1, 0),
              a.jal(0, 0)]
    iss = make(a.li(1, 3), *boot, a.custom0(4, 1, 0), a.jal(0, 0), threads=2,
               coprocessor=gate, at={START: worker})
    for _ in range(len(a.program(a.li(1, 3), *boot)) // 4):
        iss.step()
    wait_pc = iss.threads[0].pc
    records = [iss.step() for _ in range(5)]
    assert [r.thread for r in records] == [1, 1, 1, 1, 0]
    assert records[4] == Retire(0, wait_pc, a.custom0(4, 1, 0), 4, 3, None)
    assert iss.cycle == len(a.program(a.li(1, 3), *boot)) // 4 + 5
    assert iss.threads[0].instret == len(a.program(a.li(1, 3), *boot)) // 4 + 1


def test_step_named_thread_asleep():
    gate = Gate()
    iss = make(a.li(1, 1), a.custom0(4, 1, 0), coprocessor=gate)
    iss.step()
    with pytest.raises(ThreadAsleep, match=r"^thread 0 is asleep: gate 0 < 1$"):
        iss.step(0)
    assert iss.threads[0].pc == RAM_BASE + 4 and iss.threads[0].instret == 1
    gate.value = 1
    assert iss.step(0).value == 1


def test_deadlock_report():
    # Both threads wait on gates that nobody opens: run ends at once with every pc and reason,
    # instead of spinning to max_steps.
    gate = Gate()
    boot = _start_threads(0b10)
    iss = make(*boot, a.li(1, 2), a.custom0(4, 1, 0), threads=2, coprocessor=gate,
               at={START: [a.li(1, 5), a.custom0(4, 1, 0)]})
    steps = len(a.program(*boot, a.li(1, 2))) // 4 + len(a.program(a.li(1, 5))) // 4
    result = iss.run(10_000)
    pc0 = RAM_BASE + len(a.program(*boot, a.li(1, 2)))
    pc1 = START + len(a.program(a.li(1, 5)))
    info = DeadlockInfo(((0, pc0, "gate 0 < 2"), (1, pc1, "gate 0 < 5")))
    assert result == RunResult("deadlock", steps, 0, deadlock=info)
    assert str(info) == ("deadlock: every running thread is asleep\n"
                         f"  thread 0 pc {pc0:#x} asleep: gate 0 < 2\n"
                         f"  thread 1 pc {pc1:#x} asleep: gate 0 < 5")
    with pytest.raises(Deadlock) as e:
        iss.step()
    assert e.value.info == info


def test_deadlock_report_includes_the_coprocessor_state():
    class Reporting(Gate):
        def deadlock_report(self):
            return f"gate value {self.value}"

    iss = make(a.li(1, 2), a.custom0(4, 1, 0), coprocessor=Reporting())
    result = iss.run(100)
    assert result.deadlock.state == "gate value 0"
    assert str(result.deadlock).endswith("asleep: gate 0 < 2\ngate value 0")


def test_deadlock_report_names_parked_threads():
    iss = make(a.li(1, 2), a.custom0(4, 1, 0), threads=2, coprocessor=Gate())
    result = iss.run(100)
    assert result.status == "deadlock"
    assert result.deadlock.threads == ((0, RAM_BASE + 4, "gate 0 < 2"), (1, 0, None))
    assert "thread 1 pc 0x0 parked" in str(result.deadlock)


# --- run and tohost ----------------------------------------------------------------------

@pytest.mark.parametrize("value, status, test", [(1, "pass", None), (7, "fail", 3),
                                                  (4, "fail", None)])
def test_tohost(value, status, test):
    body = [a.li(1, TOHOST), a.addi(2, 0, value), a.sw(2, 0, 1)]
    iss = make(*body, a.jal(0, 0))
    result = iss.run(1000)
    steps = len(a.program(*body)) // 4
    assert result == RunResult(status, steps, value)
    assert result.test == test


def test_max_steps():
    iss = make(a.li(1, TOHOST), a.sw(0, 0, 1), a.jal(0, 0))
    result = iss.run(50)
    assert result == RunResult("max_steps", 50, 0) and result.test is None
    assert iss.cycle == 50
