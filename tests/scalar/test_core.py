"""Tests of the scalar core's RTL (``hw/scalar/core.py``) through its bench
(``verif/scalar/core_tb.py``): every run compares every retired instruction with the ISS in
lockstep, checks the stream rules of the core's request ports, and must end the way the test
says (pass through tohost, timeout, hang).

Layers: constants against the ISS; elaboration errors; ``run_program``'s argument errors; the
lockstep checker catching a divergence; then on Verilator and Icarus: per-instruction
self-checking programs (RISC-V "p" convention, expected values from Python integers written
here), every trap cause with ``mcause``/``mepc``/``mtval`` checked by the program, thread start
and stop, coprocessor round trips under port stalls, ``fence.i`` with self-modifying code,
timeout and hang, and random multi-threaded instruction streams under random backpressure and
latency on every port. Verilator runs the four-thread core (the preset; its build takes about a
minute); Icarus, which builds in seconds but simulates a few hundred cycles a second, runs the
one-, two- and three-thread cores on shorter random streams, a fifth of the instruction cases,
fewer coprocessor cases and no hang case (4096 quiet cycles).
"""

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib.wiring import connect

from hw.scalar.core import ScalarCore
from hw.scalar.isa import RAM_BASE, Cause, Csr
from hw.sram.config import D1 as SRAM_D1
from hw.sram.config import SMALL as SRAM_SMALL
from hw.sram.scratchpad import Scratchpad
from tests.amaranth_sim import raises_unelaborated
from verif.scalar import asm as A
from verif.scalar import iss
from verif.scalar.core_tb import LockstepError, bench_coprocessor, lockstep, run_program
from verif.scalar.ptest import PTEST_DATA, TOHOST, ptest_image
from verif.scalar.random_program import random_program

M64 = (1 << 64) - 1
SIMS = ["verilator", "icarus"]


def s64(x):
    x &= M64
    return x - (1 << 64) if x >> 63 else x


def s32(x):
    x &= 0xFFFF_FFFF
    return x - (1 << 32) if x >> 31 else x


def trunc_div(a, b):
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


# --- constants and parameters --------------------------------------------------------------------

def test_reset_pc():
    """Thread 0 starts where the ISS starts it: at the start of memory."""
    assert ScalarCore().reset_pc == iss.ISS(iss.Memory(size=16)).threads[0].pc == RAM_BASE


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"threads": 0}, ValueError, r"^threads must be in 1\.\.4, not 0$"),
    ({"threads": 5}, ValueError, r"^threads must be in 1\.\.4, not 5$"),
    ({"threads": "4"}, TypeError, r"^threads must be an integer, not '4'$"),
    ({"threads": True}, TypeError, r"^threads must be an integer, not True$"),
    ({"reset_pc": 0x8000_0002}, ValueError, r"^reset_pc must be 4-byte aligned, not 0x80000002$"),
    ({"reset_pc": -4}, ValueError, r"^reset_pc must be in 0\.\.18446744073709551615, not -4$"),
    ({"addr_bits": 7}, ValueError, r"^addr_bits must be in 8\.\.64, not 7$"),
    ({"tag_width": 1}, ValueError, r"^tag_width must be in 2\.\.64, not 1$"),
    ({"tag_width": 65}, ValueError, r"^tag_width must be in 2\.\.64, not 65$"),
])
def test_bad_parameters(kwargs, error, message):
    raises_unelaborated(error, message, ScalarCore, **kwargs)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"coprocessor": lambda *a: 0}, r"^the RTL bench has one coprocessor"),
    ({"sim": "questa"}, r"^sim must be one of verilator, icarus, not 'questa'$"),
    ({"stall": 256}, r"^stall must be in 0\.\.255, not 256$"),
    ({"latency": 16}, r"^latency must be in 0\.\.15, not 16$"),
    ({"entry": 0x8000_1000}, r"^the core resets at 0x80000000; entry 0x80001000"),
    ({"tohost": 0x10}, r"^tohost 0x10 is not inside memory$"),
])
def test_run_program_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_program([(0x8000_0000, b"\0" * 4)], **kwargs)


def test_run_program_bad_argument_type():
    with pytest.raises(TypeError, match=r"^stall must be an integer, not 0\.5$"):
        run_program([(0x8000_0000, b"\0" * 4)], stall=0.5)


def test_image_outside_memory():
    with pytest.raises(ValueError, match=r"^segment 0x1000\.\.0x1004 is outside memory"):
        run_program([(0x1000, b"\0" * 4)])


def test_lockstep_catches_a_divergence():
    """The checker itself: the ISS's own records pass; one wrong value, a wrong thread order
    (a parked thread retiring) or a missing trap are reported."""
    image, tohost = random_program(3, threads=2, length=40)
    memory = iss.Memory()
    for addr, blob in image:
        memory.write(addr, blob)
    model = iss.ISS(memory, threads=2, tohost=tohost, coprocessor=bench_coprocessor)
    records = [model.step() for _ in range(300)]
    run = dict(threads=2, entry=RAM_BASE, tohost=tohost, mem_size=1 << 20,
               coprocessor=bench_coprocessor)
    assert lockstep(records, image, **run) == (300, None)
    k = next(i for i, r in enumerate(records) if r.rd is not None and i > 50)
    bad = records[:k] + [iss.Retire(**{**records[k].__dict__, "value": records[k].value ^ 4})]
    checked, divergence = lockstep(bad, image, **run)
    assert checked == k and f"record {k}: got" in divergence
    assert "thread 1" in lockstep([iss.Retire(1, 0, 0, None, None, None)], image, **run)[1]
    t = next(i for i, r in enumerate(records) if r.trap is not None)
    bad = records[:t] + [iss.Retire(**{**records[t].__dict__, "trap": None})]
    assert lockstep(bad, image, **run)[1] is not None


# --- per-instruction programs ---------------------------------------------------------------------

_EDGE = [0, 1, 2, M64, 1 << 63, (1 << 63) - 1, 1 << 31, 0xFFFF_FFFF, 0x7FFF_FFFF,
         0x8000_0000_0000_0001, 0x1234_5678_9ABC_DEF0, 63, 64, 31, 32]

_RR = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "sll": lambda a, b: a << (b & 63),
    "slt": lambda a, b: int(s64(a) < s64(b)),
    "sltu": lambda a, b: int(a < b),
    "xor": lambda a, b: a ^ b,
    "srl": lambda a, b: a >> (b & 63),
    "sra": lambda a, b: s64(a) >> (b & 63),
    "or_": lambda a, b: a | b,
    "and_": lambda a, b: a & b,
    "addw": lambda a, b: s32(a + b),
    "subw": lambda a, b: s32(a - b),
    "sllw": lambda a, b: s32(a << (b & 31)),
    "srlw": lambda a, b: s32((a & 0xFFFF_FFFF) >> (b & 31)),
    "sraw": lambda a, b: s32(a) >> (b & 31),
    "mul": lambda a, b: a * b,
    "mulh": lambda a, b: (s64(a) * s64(b)) >> 64,
    "mulhsu": lambda a, b: (s64(a) * b) >> 64,
    "mulhu": lambda a, b: (a * b) >> 64,
    "mulw": lambda a, b: s32(a * b),
    "div": lambda a, b: -1 if b == 0 else trunc_div(s64(a), s64(b)),
    "divu": lambda a, b: M64 if b == 0 else a // b,
    "rem": lambda a, b: s64(a) if b == 0 else s64(a) - s64(b) * trunc_div(s64(a), s64(b)),
    "remu": lambda a, b: a if b == 0 else a % b,
    "divw": lambda a, b: -1 if s32(b) == 0 else s32(trunc_div(s32(a), s32(b))),
    "divuw": lambda a, b: -1 if b & 0xFFFF_FFFF == 0 else s32((a & 0xFFFF_FFFF)
                                                              // (b & 0xFFFF_FFFF)),
    "remw": lambda a, b: s32(a) if s32(b) == 0 else s32(s32(a) - s32(b)
                                                         * trunc_div(s32(a), s32(b))),
    "remuw": lambda a, b: s32(a) if b & 0xFFFF_FFFF == 0 else s32((a & 0xFFFF_FFFF)
                                                                   % (b & 0xFFFF_FFFF)),
}
_RI = {
    "addi": lambda a, i: a + i, "slti": lambda a, i: int(s64(a) < i),
    "sltiu": lambda a, i: int(a < (i & M64)), "xori": lambda a, i: a ^ (i & M64),
    "ori": lambda a, i: a | (i & M64), "andi": lambda a, i: a & (i & M64),
    "addiw": lambda a, i: s32(a + i),
}
_SHIFTS = {
    "slli": (63, lambda a, s: a << s), "srli": (63, lambda a, s: a >> s),
    "srai": (63, lambda a, s: s64(a) >> s), "slliw": (31, lambda a, s: s32(a << s)),
    "srliw": (31, lambda a, s: s32((a & 0xFFFF_FFFF) >> s)),
    "sraiw": (31, lambda a, s: s32(a) >> s),
}
_LOADS = {"lb": (1, True), "lh": (2, True), "lw": (4, True), "ld": (8, False),
          "lbu": (1, False), "lhu": (2, False), "lwu": (4, False)}


def _instruction_cases(seed):
    """``(words, expected)`` cases over every RV64IM computational, load/store, branch and jump
    instruction, with edge and random operands."""
    rng = random.Random(seed)
    values = _EDGE + [rng.getrandbits(64) for _ in range(4)]
    cases = []

    def pairs(n):
        return [(rng.choice(values), rng.choice(values)) for _ in range(n)] + [
            (values[0], values[3]), (values[4], values[3]), (values[3], values[0])]

    for name, f in _RR.items():
        for a, b in pairs(5):
            cases.append(([*A.li(1, a), *A.li(2, b), getattr(A, name)(10, 1, 2)], f(a, b) & M64))
    for name, f in _RI.items():
        for a, _ in pairs(3):
            i = rng.choice([0, 1, -1, 2047, -2048, rng.randrange(-2048, 2048)])
            cases.append(([*A.li(1, a), getattr(A, name)(10, 1, i)], f(a, i) & M64))
    for name, (top, f) in _SHIFTS.items():
        for a, _ in pairs(2):
            s = rng.choice([0, 1, top, rng.randrange(top + 1)])
            cases.append(([*A.li(1, a), getattr(A, name)(10, 1, s)], f(a, s) & M64))
    cases.append(([A.lui(10, 0x80000)], (-(1 << 31)) & M64))
    cases.append(([A.lui(10, 0x12345)], 0x12345000))
    # auipc: the difference of two auipc results is the distance plus the immediate.
    cases.append(([A.auipc(1, 0), A.auipc(2, 1), A.sub(10, 2, 1)], 4 + 4096))
    # loads and stores of every width at every aligned offset of a word
    word = rng.getrandbits(64)
    for name, (size, signed) in _LOADS.items():
        for off in range(0, 8, size):
            raw = (word >> (8 * off)) & ((1 << (8 * size)) - 1)
            value = raw - (1 << (8 * size)) if signed and raw >> (8 * size - 1) else raw
            cases.append(([*A.li(1, PTEST_DATA), *A.li(2, word), A.sd(2, 0, 1),
                           getattr(A, name)(10, off, 1)], value & M64))
    for name, size in (("sb", 1), ("sh", 2), ("sw", 4), ("sd", 8)):
        for off in range(0, 8, size):
            v = rng.getrandbits(64)
            mask = ((1 << (8 * size)) - 1) << (8 * off)
            expected = (word & ~mask) | ((v << (8 * off)) & mask)
            cases.append(([*A.li(1, PTEST_DATA + 8), *A.li(2, word), A.sd(2, 0, 1),
                           *A.li(3, v), getattr(A, name)(3, off, 1), A.ld(10, 0, 1)], expected))
    # branches: taken adds 0, not taken adds 1
    conds = {"beq": lambda a, b: a == b, "bne": lambda a, b: a != b,
             "blt": lambda a, b: s64(a) < s64(b), "bge": lambda a, b: s64(a) >= s64(b),
             "bltu": lambda a, b: a < b, "bgeu": lambda a, b: a >= b}
    for name, cond in conds.items():
        for a, b in pairs(3) + [(5, 5)]:
            cases.append(([*A.li(1, a), *A.li(2, b), A.addi(10, 0, 0), getattr(A, name)(1, 2, 8),
                           A.addi(10, 10, 1)], 0 if cond(a, b) else 1))
    # jal / jalr: link value (pc + 4) relative to an auipc, and the jump skips one instruction
    cases.append(([A.auipc(1, 0), A.jal(2, 8), A.addi(2, 0, 0), A.sub(10, 2, 1)], 8))
    cases.append(([A.auipc(1, 0), A.jalr(2, 1, 16), A.addi(2, 0, 0), A.addi(2, 0, 0),
                   A.sub(10, 2, 1)], 8))
    cases.append(([A.auipc(1, 0), A.addi(1, 1, 17), A.jalr(10, 1, 0), A.addi(0, 0, 0),
                   A.addi(10, 0, 7)], 7))  # jalr clears bit 0: lands on the addi
    return cases


@pytest.mark.parametrize("sim", SIMS)
def test_instructions(sim):
    """Every RV64IM instruction on edge and random operands gives the value Python computes;
    the run passes (tohost 1) and the lockstep check agrees on every instruction."""
    cases = _instruction_cases(1)
    if sim == "icarus":
        cases = cases[::5]  # Icarus simulates a few hundred cycles a second
    image, tohost = ptest_image(cases)
    run = run_program(image, threads=4 if sim == "verilator" else 1, sim=sim, tohost=tohost,
                      max_cycles=200_000)
    assert run.status == "pass", (run.status, run.test)
    assert run.retired[0] > 8 * len(cases)


# --- traps ----------------------------------------------------------------------------------------

HANDLER = RAM_BASE + 0x8000
SAVE = PTEST_DATA + 0x100


def _trap_case(insns, cause, tval=None):
    """A case that runs ``insns`` (the last traps) and checks mcause (and mtval if given), and
    that mepc is the trapping instruction's pc: x10 = 0 when all match."""
    checks = [A.ld(2, 0, 20), *A.li(3, cause), A.sub(10, 2, 3)]   # mcause
    checks += [A.ld(2, 8, 20), A.sub(2, 2, 21), A.or_(10, 10, 2)]  # mepc - pc of the insn
    if tval is not None:
        checks += [A.ld(2, 16, 20), *A.li(3, tval), A.sub(2, 2, 3), A.or_(10, 10, 2)]
    head = [*insns[:-1], A.auipc(21, 0), A.addi(21, 21, 8), insns[-1]]
    return head + checks, 0


def _trap_cases():
    base = RAM_BASE
    cases = [
        _trap_case([0xFFFF_FFFF], Cause.ILLEGAL, 0xFFFF_FFFF),
        _trap_case([A.csrrs(1, 0x123, 0)], Cause.ILLEGAL, A.csrrs(1, 0x123, 0)),
        _trap_case([A.csrrw(1, Csr.MHARTID, 1)], Cause.ILLEGAL,
                   A.csrrw(1, Csr.MHARTID, 1)),
        _trap_case([0x10500073], Cause.ILLEGAL, 0x10500073),  # wfi
        _trap_case([A.ecall()], Cause.ECALL_M, 0),
        _trap_case([A.ebreak()], Cause.BREAKPOINT, 0),
        _trap_case([*A.li(1, PTEST_DATA + 2), A.lw(2, 0, 1)], Cause.LOAD_MISALIGNED,
                   PTEST_DATA + 2),
        _trap_case([*A.li(1, PTEST_DATA + 4), A.sd(2, 0, 1)], Cause.STORE_MISALIGNED,
                   PTEST_DATA + 4),
        _trap_case([A.ld(2, 64, 0)], Cause.LOAD_FAULT, 64),
        _trap_case([*A.li(1, base + (1 << 20)), A.sb(2, 0, 1)], Cause.STORE_FAULT,
                   base + (1 << 20)),
        _trap_case([A.auipc(1, 0), A.jalr(0, 1, 10)], Cause.FETCH_MISALIGNED, None),
        # the coprocessor refuses it (its answer has error): illegal, mtval the bits
        _trap_case([A.custom1(10, 1, 2, 0x7F, 7)], Cause.ILLEGAL, A.custom1(10, 1, 2, 0x7F, 7)),
        _trap_case([A.addi(1, 0, 1), A.bne(1, 0, 6)], Cause.FETCH_MISALIGNED, None),
        # Functional coverage's holes (verif/fcov/scalar.py): every CSR form on an
        # unimplemented CSR, jal and every other taken branch to a misaligned target.
        *(_trap_case([op(1, 0x123, 1)], Cause.ILLEGAL, op(1, 0x123, 1))
          for op in (A.csrrc, A.csrrwi, A.csrrsi, A.csrrci)),
        _trap_case([A.jal(0, 6)], Cause.FETCH_MISALIGNED, None),
        *(_trap_case([A.addi(1, 0, 1), branch(*regs, 6)], Cause.FETCH_MISALIGNED, None)
          for branch, regs in ((A.beq, (0, 0)), (A.blt, (0, 1)), (A.bge, (1, 0)),
                               (A.bltu, (0, 1)), (A.bgeu, (1, 0)))),
    ]
    # Fetch fault: jump outside memory; the handler returns to the saved link in x22.
    cases.append(([A.auipc(22, 0), A.addi(22, 22, 16), *A.li(1, 0x1000), A.jalr(0, 1, 0),
                   A.ld(2, 0, 20), *A.li(3, Cause.FETCH_FAULT), A.sub(10, 2, 3),
                   A.ld(2, 16, 20), *A.li(3, 0x1000), A.sub(2, 2, 3), A.or_(10, 10, 2)], 0))
    # mstatus: a trap moves MIE to MPIE and clears MIE; mret restores it.
    cases.append(([A.csrrsi(0, Csr.MSTATUS, 8), A.ecall(),
                   A.csrrs(10, Csr.MSTATUS, 0)], 0x1888))
    cases.append(([A.ld(10, 24, 20)], 0x1880))  # mstatus as the handler saw it
    # mie reads 0 and ignores writes; mtvec keeps bits 1:0 zero
    cases.append(([A.csrrwi(0, Csr.MIE, 31), A.csrrs(10, Csr.MIE, 0)], 0))
    # The immediate CSR forms retire: mscratch = 5, clear bit 0, set bit 3.
    cases.append(([A.csrrwi(0, Csr.MSCRATCH, 5), A.csrrci(0, Csr.MSCRATCH, 1),
                   A.csrrsi(0, Csr.MSCRATCH, 8), A.csrrs(10, Csr.MSCRATCH, 0)], 12))
    return cases


def _trap_handler():
    """Saves mcause, mepc, mtval, mstatus at x20; returns to mepc + 4, or to x22 after a fetch
    fault."""
    words = [A.csrrs(23, Csr.MCAUSE, 0), A.sd(23, 0, 20), A.csrrs(23, Csr.MEPC, 0),
             A.sd(23, 8, 20), A.csrrs(24, Csr.MTVAL, 0), A.sd(24, 16, 20),
             A.csrrs(24, Csr.MSTATUS, 0), A.sd(24, 24, 20),
             A.addi(23, 23, 4), A.csrrs(24, Csr.MCAUSE, 0), A.addi(24, 24, -1),
             A.bne(24, 0, 8), A.addi(23, 22, 0), A.csrrw(0, Csr.MEPC, 23), A.mret()]
    return [(HANDLER, A.program(*words))]


@pytest.mark.parametrize("sim", SIMS)
def test_traps(sim):
    """Illegal instructions (bad encoding, every CSR form on an unimplemented CSR, read-only CSR
    write, wfi), ecall, ebreak, misaligned and out-of-range loads and stores, misaligned jumps
    and every taken branch, a fetch
    outside memory: each traps to mtvec with the right mcause, mepc and mtval, and mret comes
    back; a coprocessor instruction the coprocessor refuses traps as illegal with its bits in
    mtval; mstatus.MIE/MPIE move as specified; mie reads 0."""
    prologue = [*A.li(1, HANDLER + 3), A.csrrw(0, Csr.MTVEC, 1), *A.li(20, SAVE)]
    image, tohost = ptest_image(_trap_cases(), prologue=prologue, extra=_trap_handler())
    run = run_program(image, threads=4 if sim == "verilator" else 1, sim=sim, tohost=tohost,
                      max_cycles=50_000)
    assert run.status == "pass", (run.status, run.test)
    assert run.traps == 25


# --- threads, coprocessor, fence.i, the end of a run ----------------------------------------------

def _threads_image():
    """Thread 0 starts 1..3 at ``worker``; each writes hartid + 1 to its slot and, thread 3
    excepted, stops itself; thread 3 spins until thread 0 stops it. Thread 0 checks the slots,
    the running mask, then stops thread 3 and checks the mask again."""
    worker = RAM_BASE + 0x4000
    slots = PTEST_DATA + 0x200
    # First, for functional coverage (every instruction and trap cause on every thread,
    # verif/fcov/scalar.py): the immediate CSR forms on each worker's own mscratch, and a fetch
    # fault (a jump outside memory) that the trap handler returns from to the link in x22.
    w = [A.csrrwi(0, Csr.MSCRATCH, 3), A.csrrsi(0, Csr.MSCRATCH, 4), A.csrrci(0, Csr.MSCRATCH, 1),
         *A.li(1, HANDLER), A.csrrw(0, Csr.MTVEC, 1), *A.li(20, SAVE),
         A.auipc(22, 0), A.addi(22, 22, 16), *A.li(1, 0x1000), A.jalr(0, 1, 0),
         A.csrrs(1, Csr.MHARTID, 0), *A.li(2, slots), A.slli(3, 1, 3), A.add(2, 2, 3),
         A.addi(4, 1, 1), A.sd(4, 0, 2), A.addi(5, 0, 3), A.beq(1, 5, 16),
         A.addi(6, 0, 1), A.sll(6, 6, 1), A.csrrc(0, Csr.MTHREADCTL, 6),
         A.addi(7, 7, 1), A.jal(0, -4)]
    prologue = [*A.li(1, worker), A.csrrw(0, Csr.MTHREADPC, 1), A.addi(1, 0, 0xE),
                A.csrrs(0, Csr.MTHREADCTL, 1)]
    cases = [([*A.li(2, slots + 8 * t), A.ld(10, 0, 2), A.beq(10, 0, -4)], t + 1)
             for t in (1, 2, 3)]
    # Threads 1 and 2 stop themselves (wait for it), thread 3 spins.
    cases.append(([A.csrrs(10, Csr.MTHREADCTL, 0), A.andi(10, 10, 6), A.bne(10, 0, -8)],
                  0))
    cases.append(([A.csrrs(10, Csr.MTHREADCTL, 0)], 9))  # 0 and 3 still run
    cases.append(([A.addi(1, 0, 8), A.csrrc(0, Csr.MTHREADCTL, 1),
                   A.csrrs(10, Csr.MTHREADCTL, 0)], 1))
    cases.append(([A.csrrs(10, Csr.MTHREADPC, 0)], worker))
    cases.append(([A.csrrs(10, Csr.MHARTID, 0)], 0))
    return ptest_image(cases, prologue=prologue,
                       extra=[(worker, A.program(*w)), *_trap_handler()])


@pytest.mark.parametrize("sim", SIMS)
def test_thread_start_stop(sim):
    """mthreadctl starts threads at mthreadpc; a thread stops itself; one thread stops another
    that is running (its instructions in flight all retire before the stop, as the lockstep
    shows); the running mask reads back. Each worker first runs the immediate CSR forms and
    takes a fetch fault through its own mtvec."""
    image, tohost = _threads_image()
    run = run_program(image, threads=4, sim=sim, tohost=tohost, max_cycles=60_000,
                      stall=40, latency=2)
    assert run.status == "pass", (run.status, run.test)
    assert all(run.retired), run.retired


def _coprocessor_image(seed, n=12):
    rng = random.Random(seed)
    cases = []
    for k in range(n):
        a, b = rng.getrandbits(64), rng.getrandbits(64)
        op = [A.custom0, A.custom1, A.custom2, A.custom3][k % 4]
        insn = op(10, 1, 2, rng.randrange(128), rng.randrange(8))
        rot = ((b << 13) | (b >> 51)) & M64
        cases.append(([*A.li(1, a), *A.li(2, b), insn], ((a ^ rot) + 2 * insn) & M64))
    return ptest_image(cases)


@pytest.mark.parametrize("sim", SIMS)
def test_coprocessor_round_trips(sim):
    """custom-0..3 go out with the instruction and the rs1/rs2 values and the answer lands in
    rd (expected values from the bench coprocessor's formula, written here), under request
    stalls and response latency."""
    image, tohost = _coprocessor_image(5, 12 if sim == "verilator" else 4)
    run = run_program(image, threads=4 if sim == "verilator" else 2, sim=sim, tohost=tohost,
                      max_cycles=40_000, stall=128, latency=7, seed=3)
    assert run.status == "pass", (run.status, run.test)


@pytest.mark.parametrize("sim", SIMS)
def test_fence_i_self_modifying_code(sim):
    """A store rewrites an instruction the thread has already fetched (its line is in the
    buffer); after fence.i the new instruction runs."""
    patch = A.addi(10, 0, 42)
    cases = [([A.auipc(1, 0), *A.li(2, patch), A.sw(2, 24, 1), A.fence_i(),
               A.addi(10, 0, 0), A.addi(10, 0, 7)], 42)]
    image, tohost = ptest_image(cases)
    run = run_program(image, threads=4 if sim == "verilator" else 1, sim=sim, tohost=tohost,
                      max_cycles=5_000)
    assert run.status == "pass", (run.status, run.test)


@pytest.mark.parametrize("sim", SIMS)
def test_timeout_and_hang(sim):
    """A program that loops forever is stopped at max_cycles ("timeout"); one whose only
    thread stops itself is reported as a hang after the quiet limit, not left running; a
    failing check reports its test number."""
    threads = 4 if sim == "verilator" else 1
    loop = [(RAM_BASE, A.program(A.addi(1, 1, 1), A.jal(0, -4)))]
    run = run_program(loop, threads=threads, sim=sim, max_cycles=1000)
    assert (run.status, run.cycles) == ("timeout", 1000)
    if sim == "verilator":  # the hang limit is 4096 quiet cycles: long on Icarus
        stop = [(RAM_BASE, A.program(A.addi(1, 0, 1),
                                         A.csrrc(0, Csr.MTHREADCTL, 1)))]
        run = run_program(stop, threads=threads, sim=sim, max_cycles=100_000)
        assert run.status == "hang" and run.retired[0] == 2
    image, tohost = ptest_image([([A.addi(10, 0, 1)], 1), ([A.addi(10, 0, 1)], 2)])
    run = run_program(image, threads=threads, sim=sim, tohost=tohost, max_cycles=5_000)
    assert (run.status, run.test, run.tohost) == ("fail", 2, 5)


# --- random streams ------------------------------------------------------------------------------

@pytest.mark.parametrize(("sim", "threads", "seed", "length", "stall", "latency"), [
    ("verilator", 4, 11, 1500, 0, 0),
    ("verilator", 4, 12, 1500, 90, 4),
    ("verilator", 4, 13, 1500, 200, 15),
    ("icarus", 1, 21, 120, 60, 3),
    ("icarus", 2, 22, 80, 60, 3),
    ("icarus", 3, 23, 50, 60, 3),
])
def test_random_lockstep(sim, threads, seed, length, stall, latency):
    """Random RV64IM streams with traps, CSR accesses, coprocessor instructions, shared-memory
    loads and stores, on every thread at once, under random stalls and latency on the fetch,
    data and coprocessor ports: every retire equals the ISS's, the program passes, no stream
    rule is broken, every thread retires."""
    image, tohost = random_program(seed, threads=threads, length=length)
    run = run_program(image, threads=threads, sim=sim, tohost=tohost, max_cycles=400_000,
                      stall=stall, latency=latency, seed=seed)
    assert run.status == "pass", run.status
    assert all(r > length // 2 for r in run.retired), run.retired
    assert run.traps > 0


def test_lockstep_failure_is_raised(monkeypatch):
    """run_program raises LockstepError when the RTL and the ISS disagree: here the ISS's
    coprocessor is swapped for a different one."""
    import verif.scalar.core_tb as core_tb
    image, tohost = _coprocessor_image(5)
    monkeypatch.setattr(core_tb, "bench_coprocessor", lambda t, i, a, b: 0)
    with pytest.raises(LockstepError, match=r"record \d+: got thread 0 .* ISS expected"):
        core_tb.run_program(image, threads=4, sim="verilator", tohost=tohost,
                            max_cycles=40_000, coprocessor=None)


# --- the thread loop ------------------------------------------------------------------------------

LINE_WORDS = 8
DATA = PTEST_DATA + 0x400
N_LOOP = 16


def _loop_cycles_image():
    """Thread 0 alone runs kernels between reads of ``mcycle`` (x5): a chain of dependent
    ``addi``, a loop closed by a backward branch within its line (taken 15 times, then not), a
    chain of JALs skipping a word (every fourth to the next line), a chain of dependent loads (a
    pointer to itself), a chain of dependent multiplications. Each kernel starts a line, after
    no-ops that put the ``mcycle`` read at the end of the line before, a chain of dependent
    unsigned divisions. Returns the image and the no-ops run in each span between two reads."""
    words = []
    pads = []

    def mark():
        pads.append((-len(words) - 1) % LINE_WORDS)
        words.extend([A.addi(0, 0, 0)] * pads[-1])
        words.append(A.csrrs(5, Csr.MCYCLE, 0))

    words += [*A.li(7, DATA), A.sd(7, 0, 7), *A.li(8, 3), *A.li(9, 0x1234_5678_9ABC_DEF1),
              A.addi(1, 0, N_LOOP)]
    mark()
    words += [A.addi(10, 10, 1)] * 32
    mark()
    words += [A.addi(10, 10, 3), A.addi(1, 1, -1), A.bne(1, 0, -8)]
    mark()
    for _ in range(N_LOOP):
        words += [A.jal(11, 8), A.addi(10, 10, 100)]   # the addi is skipped
    mark()
    words += [A.ld(7, 0, 7)] * N_LOOP
    mark()
    words += [A.mul(8, 8, 9)] * N_LOOP
    mark()
    words += [A.divu(9, 9, 8)] * N_LOOP
    mark()
    words += [*A.li(13, TOHOST), A.addi(14, 0, 1), A.sd(14, 0, 13), A.jal(0, 0)]
    return [(RAM_BASE, A.program(*words))], pads[1:]


@pytest.mark.parametrize("sim", SIMS)
def test_thread_loop_cycles(sim):
    """One thread alone issues a dependent ALU instruction every 2 cycles (released at decode,
    its result bypassed from write-back), a loop iteration of two ALU instructions and a
    backward branch predicted taken within its line in 6 (the not-taken exit mispredicts once),
    a JAL in 2 (a few more to fetch another line), a dependent load in 4 (request from execute,
    released as the answer arrives), a dependent multiplication in 6, a dependent unsigned
    division in 26 (request from execute, the thread's radix-8 divider's 23 cycles, the
    completion): the ``mcycle`` differences
    between the kernels (no stalls, no extra latency) stay within those counts, two per no-op and
    a few cycles for the ``mcycle`` read, and every result agrees with the ISS in lockstep."""
    image, pads = _loop_cycles_image()
    run = run_program(image, threads=4 if sim == "verilator" else 1, sim=sim, tohost=TOHOST,
                      max_cycles=5_000, trace=True)
    assert run.status == "pass", run.status
    marks = [r.value for r in run.trace if r.insn == A.csrrs(5, Csr.MCYCLE, 0)]
    spans = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    kernels = {"alu": 2 * 32, "loop": 6 * N_LOOP + 1, "jal": 2 * N_LOOP + 3 * (N_LOOP // 4),
               "load": 4 * N_LOOP, "mul": 6 * N_LOOP, "div": 26 * N_LOOP}
    assert len(spans) == len(kernels) == len(pads)
    over = {k: (span, bound + 2 * pad + 4)
            for (k, bound), span, pad in zip(kernels.items(), spans, pads, strict=True)
            if span > bound + 2 * pad + 4}
    assert not over, (over, spans, pads)


# --- the memory ports meet the scratchpad's -------------------------------------------------------

@pytest.mark.parametrize("config", [SRAM_D1, SRAM_SMALL])
def test_memory_ports_connect_to_the_scratchpad(config):
    """With the scratchpad's ``addr_bits`` and ``tag_width``, the core's fetch and data ports
    connect to the scratchpad's ``fetch`` and ``scalar`` ports with ``wiring.connect`` alone."""
    core = ScalarCore(threads=4, addr_bits=config.addr_bits, tag_width=config.tag_width)
    sram = Scratchpad(config=config)
    m = Module()
    connect(m, core.fetch_req, sram.fetch_req)
    connect(m, sram.fetch_resp, core.fetch_resp)
    connect(m, core.data_req, sram.scalar_req)
    connect(m, sram.scalar_resp, core.data_resp)
    assert list(core.data_req.payload.shape()) == list(sram.scalar_req.payload.shape())
    for x in (core, sram, m):
        x._MustUse__silence = True
