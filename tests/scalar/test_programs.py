"""The scalar core's programs (verif/scalar/programs/): every assembly test and C program built
with the RISC-V GCC and run on the golden ISS, passing; the tests' expected values recomputed
independently of the ISS (Python integers from the spec, zlib, numpy); every RV64IM + Zicsr
instruction present in the tests' disassembly (binutils' objdump); a failing test reports its
number, an unexpected trap its cause and pc, a program that never ends times out; a bug put into
the ISS makes the test about it fail. The same programs on the RTL core, on both simulators,
once verif/scalar/core_tb.py exists."""

import math
import re
import subprocess
import zlib
from fractions import Fraction

import numpy as np
import pytest

from sim.commands.run import run, run_iss
from sim.flow.toolchain import SIMULATORS
from verif.scalar import elf, riscv
from verif.scalar import iss as iss_module
from verif.scalar import programs as p

# --- the expected values, from the spec's definitions in Python integers --------------------

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1


def s64(x):
    x &= M64
    return x - (1 << 64) if x >> 63 else x


def s32(x):
    x &= M32
    return x - (1 << 32) if x >> 31 else x


def _quotient(a, b):
    return math.trunc(Fraction(a, b))


def _div(a, b):
    return -1 if b == 0 else _quotient(a, b)


def _rem(a, b):
    return a if b == 0 else a - b * _quotient(a, b)


RR = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "sll": lambda a, b: a << (b & 63),
    "slt": lambda a, b: int(s64(a) < s64(b)),
    "sltu": lambda a, b: int(a < b),
    "xor": lambda a, b: a ^ b,
    "srl": lambda a, b: a >> (b & 63),
    "sra": lambda a, b: s64(a) >> (b & 63),
    "or": lambda a, b: a | b,
    "and": lambda a, b: a & b,
    "addw": lambda a, b: s32(a + b),
    "subw": lambda a, b: s32(a - b),
    "sllw": lambda a, b: s32(a << (b & 31)),
    "srlw": lambda a, b: s32((a & M32) >> (b & 31)),
    "sraw": lambda a, b: s32(a) >> (b & 31),
    "mul": lambda a, b: a * b,
    "mulh": lambda a, b: (s64(a) * s64(b)) >> 64,
    "mulhsu": lambda a, b: (s64(a) * b) >> 64,
    "mulhu": lambda a, b: (a * b) >> 64,
    "div": lambda a, b: _div(s64(a), s64(b)),
    "divu": lambda a, b: M64 if b == 0 else a // b,
    "rem": lambda a, b: _rem(s64(a), s64(b)),
    "remu": lambda a, b: a if b == 0 else a % b,
    "mulw": lambda a, b: s32(a * b),
    "divw": lambda a, b: s32(_div(s32(a), s32(b))),
    "divuw": lambda a, b: s32(M32 if b & M32 == 0 else (a & M32) // (b & M32)),
    "remw": lambda a, b: s32(_rem(s32(a), s32(b))),
    "remuw": lambda a, b: s32(a if b & M32 == 0 else (a & M32) % (b & M32)),
}

IMM = {
    "addi": lambda a, i: a + i,
    "slti": lambda a, i: int(s64(a) < i),
    "sltiu": lambda a, i: int(a < (i & M64)),
    "xori": lambda a, i: a ^ (i & M64),
    "ori": lambda a, i: a | (i & M64),
    "andi": lambda a, i: a & (i & M64),
    "slli": lambda a, i: a << i,
    "srli": lambda a, i: a >> i,
    "srai": lambda a, i: s64(a) >> i,
    "addiw": lambda a, i: s32(a + i),
    "slliw": lambda a, i: s32(a << i),
    "srliw": lambda a, i: s32((a & M32) >> i),
    "sraiw": lambda a, i: s32(a) >> i,
}

BRANCH = {
    "beq": lambda a, b: a == b,
    "bne": lambda a, b: a != b,
    "blt": lambda a, b: s64(a) < s64(b),
    "bge": lambda a, b: s64(a) >= s64(b),
    "bltu": lambda a, b: a < b,
    "bgeu": lambda a, b: a >= b,
}

_CALL = re.compile(r"^\s*(TEST_\w+)\((.*)\)\s*$")


def _int(text):
    return int(text.strip(), 0)


def _data(text):
    """The bytes after the ``tdat:`` label of a test's data section (its own, or the one of
    ``isa/tdat.h`` if it includes that)."""
    if '#include "tdat.h"' in text:
        text = (p.DIR / "isa" / "tdat.h").read_text()
    body = text.split("tdat:", 1)[1].split("RVTEST_DATA_END", 1)[0]
    return bytearray(int(b, 16) for line in re.findall(r"\.byte (.*)", body)
                     for b in line.split(","))


def _load(mem, offset, inst):
    n = {"b": 1, "h": 2, "w": 4, "d": 8}[inst[1]]
    v = int.from_bytes(mem[offset:offset + n], "little")
    return v if inst.endswith("u") or n == 8 else s64(v - (1 << 8 * n) if v >> (8 * n - 1) else v)


def _vector(name, args, mem):
    """The expected value of one TEST_* line from its operands; None for lines this check
    does not recompute (TEST_CASE: hand-written code)."""
    if name in ("TEST_RR_OP", "TEST_RR_SRC1_EQ_DEST", "TEST_RR_SRC2_EQ_DEST"):
        return args[2], RR[args[1]](_int(args[3]), _int(args[4]))
    if name in ("TEST_RR_DEST_BYPASS", "TEST_RR_SRC_BYPASS"):
        return args[3], RR[args[2]](_int(args[4]), _int(args[5]))
    if name == "TEST_RR_SRC12_EQ_DEST":
        return args[2], RR[args[1]](_int(args[3]), _int(args[3]))
    if name == "TEST_RR_ZEROSRC1":
        return args[2], RR[args[1]](0, _int(args[3]))
    if name == "TEST_RR_ZEROSRC2":
        return args[2], RR[args[1]](_int(args[3]), 0)
    if name == "TEST_RR_ZEROSRC12":
        return args[2], RR[args[1]](0, 0)
    if name in ("TEST_IMM_OP", "TEST_IMM_SRC1_EQ_DEST"):
        return args[2], IMM[args[1]](_int(args[3]), _int(args[4]))
    if name in ("TEST_IMM_DEST_BYPASS", "TEST_IMM_SRC1_BYPASS"):
        return args[3], IMM[args[2]](_int(args[4]), _int(args[5]))
    if name == "TEST_IMM_ZEROSRC1":
        return args[2], IMM[args[1]](0, _int(args[3]))
    if name.startswith("TEST_BR2_OP_"):
        return str(int(name.endswith("_TAKEN"))), BRANCH[args[1]](_int(args[2]), _int(args[3]))
    if name in ("TEST_LD_OP", "TEST_LD_SRC1_BYPASS", "TEST_LD_DEST_BYPASS"):
        inst, result, offset = args[-4:-1]
        return result, _load(mem, 16 + _int(offset), inst)
    if name in ("TEST_ST_OP", "TEST_ST_BYPASS"):
        load, store, result, value, offset = args[-6:-1]
        n = {"b": 1, "h": 2, "w": 4, "d": 8}[store[1]]
        at = 16 + _int(offset)
        mem[at:at + n] = (_int(value) & ((1 << 8 * n) - 1)).to_bytes(n, "little")
        return result, _load(mem, at, load)
    return None


def test_isa_vectors():
    """Every generated vector of the assembly tests (ALU, M, branches, loads, stores) equals
    the spec's definition computed here with Python integers (division through Fraction), the
    loads and stores replayed on the test's data bytes; test numbers are unique and increase,
    so a failing number names one test."""
    checked = 0
    for test in p.ISA_TESTS:
        text = (p.DIR / "isa" / f"{test}.S").read_text()
        mem = _data(text) if "tdat.h" in text or "tdat:" in text and ".byte" in text else None
        for line in text.splitlines():
            m = _CALL.match(line)
            if not m:
                continue
            args = [a.strip() for a in m.group(2).split(",")]
            pair = _vector(m.group(1), args, mem)
            if pair is None:
                continue
            if m.group(1).startswith("TEST_BR2"):
                assert int(pair[0]) == int(pair[1]), line
            else:
                assert _int(pair[0]) == pair[1] & M64, f"{test}: {line.strip()}"
            checked += 1
        numbers = [int(n) for n in re.findall(r"^\S*\s*TEST_\w+\((\d+),", text, re.M)]
        assert numbers == list(range(2, len(numbers) + 2)), test
    assert checked > 2000


# --- coverage -----------------------------------------------------------------------------

#: Every RV64IM + Zicsr + Zifencei + machine-mode instruction the core implements.
INSTRUCTIONS = set(RR) | set(IMM) | set(BRANCH) | {
    "lui", "auipc", "jal", "jalr", "lb", "lh", "lw", "ld", "lbu", "lhu", "lwu", "sb", "sh",
    "sw", "sd", "fence", "fence.i", "ecall", "ebreak", "mret", "csrrw", "csrrs", "csrrc",
    "csrrwi", "csrrsi", "csrrci"}



def test_every_instruction_is_tested():
    """binutils' objdump (without pseudo-instruction aliases) finds every instruction the core
    implements in the assembly tests."""
    paths = [str(riscv.isa_test(test)) for test in p.ISA_TESTS]
    out = subprocess.run(["riscv64-unknown-elf-objdump", "-d", "-M", "no-aliases", *paths],
                         capture_output=True, text=True, check=True).stdout
    seen = set(re.findall(r"^\s*[0-9a-f]+:\s+[0-9a-f]{8}\s+(\S+)", out, re.M))
    assert INSTRUCTIONS <= seen, sorted(INSTRUCTIONS - seen)


# --- running on the ISS -------------------------------------------------------------------

def _iss(path, threads=1, max_cycles=400_000):
    return run(path, sim="iss", threads=threads, max_cycles=max_cycles)


@pytest.mark.parametrize("test", p.ISA_TESTS)
def test_isa_on_iss(test):
    """The assembly test passes on the ISS (tohost = 1), on one thread."""
    outcome = _iss(riscv.isa_test(test))
    assert (outcome.status, outcome.tohost) == ("pass", 1), p.describe(outcome.tohost)


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_threads_on_more_threads(threads):
    """threads.S passes with 2, 3 and 4 hardware threads, and every thread retired
    instructions."""
    outcome = _iss(riscv.isa_test("threads"), threads=threads)
    assert outcome.status == "pass" and len(outcome.instret) == threads
    assert all(outcome.instret)


@pytest.mark.parametrize("workers, threads", [(1, 1), (4, 4), (4, 1)])
@pytest.mark.parametrize("name", p.C_PROGRAMS)
def test_c_program_on_iss(name, workers, threads):
    """The C program passes its own checks: one worker on one thread; four workers on four
    threads (each thread retires instructions); four workers on a one-thread core (thread 0
    does the work of the threads that do not exist)."""
    outcome = _iss(riscv.c_program(name, workers=workers), threads=threads, max_cycles=1_000_000)
    assert outcome.status == "pass", p.describe(outcome.tohost)
    assert len(outcome.instret) == threads and all(outcome.instret)


def _mix(i):
    """The programs' generator (c/common.h): SplitMix64's output function of i + 1."""
    z = ((i + 1) * 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def _define(name, macro):
    text = (p.DIR / "c" / f"{name}.c").read_text()
    return int(re.search(rf"#define {macro} \(?(-?\w+?)u?l?\)?$", text, re.M).group(1), 0)


def test_c_constants():
    """The constants the C programs compare against: CRC-32 of the buffer from zlib, the sum of
    A B from numpy, both over the programs' generator reproduced here (checked against
    SplitMix64's published first output for seed 0, 0xE220A8397B1DCDAF)."""
    assert _mix(0) == 0xE220A8397B1DCDAF
    n = _define("crc", "N")
    buffer = bytes(_mix(i) >> 56 for i in range(n))
    assert _define("crc", "BUFFER_CRC") == zlib.crc32(buffer)
    assert zlib.crc32(b"123456789") == 0xCBF43926
    n = _define("matmul", "N")
    a = np.array([[_mix(2 * (i * n + j)) % 2000 - 1000 for j in range(n)] for i in range(n)])
    b = np.array([[_mix(2 * (i * n + j) + 1) % 2000 - 1000 for j in range(n)] for i in range(n)])
    assert _define("matmul", "C_SUM") == int((a.astype(np.int64) @ b.astype(np.int64)).sum())


# --- failures are reported, never hidden --------------------------------------------------

def _asm(tmp_path, name, body):
    return riscv.asm_snippet(name, body, tmp_path)


def test_failing_test_reports_its_number(tmp_path):
    """A wrong expected value in test 3 ends the program with tohost = 7: failure of test 3."""
    path = _asm(tmp_path, "fails3", "  TEST_RR_OP(2, add, 5, 2, 3)\n"
                                    "  TEST_RR_OP(3, add, 6, 2, 3)\n"
                                    "  TEST_RR_OP(4, add, 7, 3, 4)")
    outcome = _iss(path)
    assert (outcome.status, outcome.tohost, outcome.test) == ("fail", 7, 3)
    assert p.describe(outcome.tohost) == "fail: test 3"


def test_c_return_value_is_the_test_number(tmp_path):
    """main returning 5 is failure of test 5; d1_fail(9) from a worker thread is test 9."""
    src = tmp_path / "ret5.c"
    src.write_text('#include "d1.h"\nint main(void) { return 5; }\n')
    outcome = _iss(riscv.build("tmp/ret5", [src]))
    assert (outcome.status, outcome.test) == ("fail", 5)
    src = tmp_path / "fail9.c"
    src.write_text('#include "d1.h"\nstatic long w(long x) { (void)x; d1_fail(9); }\n'
                   "int main(void) { if (!d1_thread_start(2, w, 0)) return 1;\n"
                   "  d1_thread_join(2); return 0; }\n")
    outcome = _iss(riscv.build("tmp/fail9", [src]), threads=4)
    assert (outcome.status, outcome.test) == ("fail", 9)
    assert outcome.instret[2] > 0


def test_unexpected_trap_is_reported(tmp_path):
    """An illegal instruction with crt0's handler in place ends the program with the trap's
    cause and pc in tohost, decoded by describe()."""
    path = _asm(tmp_path, "trap", "  TEST_RR_OP(2, add, 5, 2, 3)\nbad: .word 0xffffffff")
    outcome = _iss(path)
    pc = elf.load(path).symbol("bad")
    assert outcome.status == "fail" and outcome.test is None
    assert p.describe(outcome.tohost) == (f"fail: unexpected trap, cause 2 (illegal "
                                          f"instruction) at pc {pc:#x}")


def test_endless_program_times_out(tmp_path):
    """A program that never writes tohost stops at max_cycles and is reported as a timeout."""
    path = _asm(tmp_path, "forever", "1: j 1b")
    outcome = _iss(path, max_cycles=5000)
    assert (outcome.status, outcome.cycles, outcome.tohost) == ("timeout", 5000, 0)


@pytest.mark.parametrize("test, where, broken", [
    ("sub", "_op", lambda real: lambda f7, f3, a, b, ill: (a - b + (f7 == 0x20 and f3 == 0))
     if f7 == 0x20 and f3 == 0 else real(f7, f3, a, b, ill)),
    ("divu", "_muldiv", lambda real: lambda f3, a, b, w: 0 if f3 == 5 and b & ((1 << w) - 1) == 0
     else real(f3, a, b, w)),
    ("sraiw", "_op_imm32", lambda real: lambda insn, f3, a, imm, ill:
     ((a & M32) >> (insn >> 20 & 31)) if f3 == 5 and insn >> 25 == 0x20
     else real(insn, f3, a, imm, ill)),
])
def test_a_bug_in_the_model_fails_its_test(monkeypatch, test, where, broken):
    """Each test catches the bug it is about: sub off by one, divu by zero giving 0 instead of
    all ones, sraiw shifting logically. The test then fails with a test number."""
    target = iss_module.ISS if where.startswith("_op") else iss_module
    real = getattr(target, where)
    monkeypatch.setattr(target, where, staticmethod(broken(real)) if target is iss_module.ISS
                        else broken(real))
    outcome = run_iss(elf.load(riscv.isa_test(test)), threads=1, max_cycles=100_000)
    assert outcome.status == "fail" and outcome.test is not None


def test_missing_compiler_names_the_package(monkeypatch):
    """Without the compiler on PATH the build stops with a message naming the Debian package."""
    monkeypatch.setattr(riscv.shutil, "which", lambda name: None)
    with pytest.raises(riscv.CompilerMissing, match=r"riscv64-unknown-elf-gcc not found: install "
                                                    r"Debian's gcc-riscv64-unknown-elf"):
        riscv.isa_test("add")


def test_build_errors():
    """Unknown programs and a worker count without a build are refused with exact messages."""
    with pytest.raises(ValueError, match=r"^no assembly test 'nope'; expected one of add, "):
        riscv.isa_test("nope")
    with pytest.raises(ValueError, match=r"^no C program 'nope'; expected one of sort, crc, "
                                         r"matmul$"):
        riscv.c_program("nope")
    with pytest.raises(ValueError, match=r"^workers must be one of \(1, 4\), not 3$"):
        riscv.c_program("sort", workers=3)


def test_compile_error_is_reported(tmp_path):
    """A program the compiler rejects raises BuildError with the compiler's message."""
    src = tmp_path / "broken.c"
    src.write_text("int main(void) { return undefined_name; }\n")
    with pytest.raises(riscv.BuildError,
                       match=r"(?s)building tmp/broken failed:\n.*undefined_name"):
        riscv.build("tmp/broken", [src])


# --- on the RTL core ----------------------------------------------------------------------

#: The assembly tests run on the RTL here: the core's own special cases (CSRs, traps, threads,
#: fence.i, jumps, division, sub-word memory). Every one runs on the RTL in a few seconds with
#: `d1core run`; the whole set on both simulators would take most of the regression's budget,
#: and tests/scalar/test_core.py covers each instruction on the RTL already.
RTL_ISA = ("csr", "traps", "threads", "fence_i", "jalr", "divw", "sb", "lh")


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("test", RTL_ISA)
def test_isa_on_rtl(test, sim):
    """The assembly test passes on the RTL core with four threads, every retirement in lockstep
    with the ISS."""
    outcome = run(riscv.isa_test(test), sim=sim, threads=4, max_cycles=400_000)
    assert outcome.status == "pass", outcome.detail or p.describe(outcome.tohost)


@pytest.mark.parametrize("workers", p.THREAD_VARIANTS)
@pytest.mark.parametrize("name", p.C_PROGRAMS)
def test_c_program_on_rtl(name, workers):
    """The C program passes on the four-thread RTL core (Verilator) with ``workers`` threads
    working, every retirement in lockstep with the ISS. One core build serves both variants (a
    one-worker program never starts the other threads). Verilator only: Icarus simulates the
    core at a few hundred cycles a second and these programs run 50,000 to 280,000 cycles; on
    Icarus the core runs the assembly tests above and tests/scalar/test_core.py."""
    outcome = run(riscv.c_program(name, workers=workers), sim="verilator",
                  threads=p.MAX_THREADS, max_cycles=2_000_000)
    assert outcome.status == "pass", outcome.detail or p.describe(outcome.tohost)
    assert all(outcome.instret[:workers])
