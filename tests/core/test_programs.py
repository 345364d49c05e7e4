"""The core model's C programs (verif/core/programs/) built with the project's RISC-V GCC flow and
run on CoreModel: a GEMM through descriptors (checked against numpy and the matmul reference), a
vector run and a register VOP, a DMA list, two threads synchronised by semaphores (one asleep
on a wait), an illegal custom instruction (trap cause 2, mtval = its bits), a deadlock (the run
ends with a report instead of spinning), and d1core.h's descriptor and operand constructors
compared bit for bit with hw/core/isa.py's layouts packed in Python."""

import numpy as np
import pytest

from hw.core.isa import (
    DmaDescriptor,
    GemmDescriptor,
    Signal,
    SyncFn,
    Unit,
    VectorConfig,
    VectorStrides,
    decode_fields,
)
from hw.fp.formats import FormatCode
from hw.matmul.array import OperandConfig
from hw.scalar.isa import Csr
from hw.vector.isa import VecType
from sim.commands import run as run_cmd
from verif.core import programs
from verif.core.model import CoreModel, pack_struct
from verif.matmul.model import matmul
from verif.scalar import elf, riscv
from verif.scalar.programs import TRAP_TAG

MAX_STEPS = 200_000


def _built(name):
    try:
        return elf.load(programs.build(name))
    except riscv.CompilerMissing as e:
        pytest.skip(str(e))


def run(name, **kw):
    program = _built(name)
    model = CoreModel.load(program, **kw)
    return program, model, model.run(MAX_STEPS)


def small(i, r):
    """common.h's small(i, r): SplitMix-style mixing of i + 1, reduced to -r..r."""
    m = (1 << 64) - 1
    z = ((i + 1) * 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z ^= z >> 31
    return z % (2 * r + 1) - r


def array(model, program, name, dtype, shape):
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer(model.memory.read(program.symbol(name), n), dtype).reshape(shape)


def test_gemm():
    program, model, result = run("gemm")
    assert result.status == "pass", model.report(result)
    mm, k, n = 4, 8, 8
    a = np.array([[small(kk * mm + i, 4) for kk in range(k)] for i in range(mm)], np.float32)
    b = np.array([[small(1000 + kk * n + j, 4) for j in range(n)] for kk in range(k)],
                 np.float32)
    c = np.array([[small(2000 + i * n + j, 50) for j in range(n)] for i in range(mm)],
                 np.float32)
    d = array(model, program, "d", np.float32, (mm, 16))
    assert np.array_equal(d[:, :n], a @ b + c)          # small integers: exact
    assert not d[:, n:].any()                           # columns past n untouched (still 0)
    # D2: the same bytes read as CFP8 codes (row k of Aᵀ: its first m bytes; of B: n bytes).
    at = array(model, program, "at", np.uint8, (k, 64))
    bb = array(model, program, "b", np.uint8, (k, 64))
    want, _ = matmul(np.ascontiguousarray(at[:, :mm].T), bb[:, :n], a_fmt="cfp8_143",
                     a_bias=7, b_fmt="cfp8_152", b_bias=15)
    assert np.array_equal(array(model, program, "d2", np.uint32, (mm, 16))[:, :n], want)
    assert model.semaphores[:2] == [2, 1]


def test_vector():
    program, model, result = run("vector")
    assert result.status == "pass", model.report(result)
    x = np.array([[small(i * 16 + j, 1000) for j in range(16)] for i in range(4)], np.int32)
    y = np.array([[small(500 + i * 16 + j, 1000) for j in range(16)] for i in range(4)],
                 np.int32)
    assert np.array_equal(array(model, program, "z", np.int32, (4, 16)), x + y)
    assert int(array(model, program, "redsum", np.int64, (1,))[0]) == int((x[0] + y[0]).sum())


def test_dma():
    program, model, result = run("dma")
    assert result.status == "pass", model.report(result)
    src = ((np.arange(8 * 64) + 7) & 0xFF).astype(np.uint8).reshape(8, 64)
    gathered = array(model, program, "gathered", np.uint8, (2, 128))
    for r in range(2):
        want = np.concatenate([src[e, 16 * r:16 * r + 16] for e in range(4)])
        assert np.array_equal(gathered[r, :64], want)
        assert not gathered[r, 64:].any()
    assert np.array_equal(array(model, program, "copied", np.uint8, (3, 64)), src[4:7])


def test_semaphores_across_threads():
    program, model, result = run("semaphores")
    assert result.status == "pass", model.report(result)
    assert model.semaphores[3:5] == [1, 1]


def test_semaphores_thread_sleeps():
    # Stepping by hand: thread 1 reaches its d1.swait before thread 0 signals, and sleeps
    # there (its pc stays at the swait) while thread 0 runs.
    program = _built("semaphores")
    model = CoreModel.load(program)
    swait = None
    asleep_steps = 0
    for _ in range(MAX_STEPS):
        t1 = model.iss.threads[1]
        if t1.running and model.memory.contains(t1.pc, 4):
            fields = decode_fields(model.memory.load(t1.pc, 4))
            if fields[0] == Unit.SYNC and fields[2] == SyncFn.SWAIT:
                swait = t1.pc
        record = model.iss.step()
        if swait is not None and t1.pc == swait and record.thread == 0:
            asleep_steps += 1
        if model.iss.memory.load(program.tohost, 8):
            break
    assert model.iss.memory.load(program.tohost, 8) == 1
    assert asleep_steps > 10


def test_illegal_instruction_traps_with_mtval():
    program, model, result = run("illegal")
    t = model.iss.threads[0]
    mepc = t.csr[Csr.MEPC]
    insn = model.memory.load(mepc, 4)
    assert result.status == "fail"
    assert result.tohost == mepc << 8 | 2 << 1 | TRAP_TAG
    assert t.csr[Csr.MCAUSE] == 2 and t.csr[Csr.MTVAL] == insn
    opcode, _, funct3, _, _, _ = decode_fields(insn)
    assert (opcode, funct3) == (Unit.SYNC, SyncFn.SREAD)


def test_deadlock_report():
    program, model, result = run("deadlock")
    assert result.status == "deadlock" and result.steps < 1000
    (t0, pc, reason), *others = result.deadlock.threads
    assert t0 == 0 and reason == "d1.swait: semaphore 5 is 2, waiting for >= 3"
    assert decode_fields(model.memory.load(pc, 4))[2] == SyncFn.SWAIT
    assert all(r is None for _, _, r in others)         # parked
    assert result.deadlock.state == model.deadlock_report()
    report = model.report(result)
    assert f"thread 0 pc {pc:#x} asleep: d1.swait: semaphore 5 is 2" in report
    assert "semaphores: 0=0 1=0 2=0 3=0 4=0 5=2" in report


def test_c_layouts_match_isa():
    program, model, result = run("layouts")
    assert result.status == "pass", model.report(result)

    def line(name, index=0):
        return model.memory.read(program.symbol(name) + 64 * index, 64)

    gemm = pack_struct(GemmDescriptor, a=0x80001040, b=0x80002080, c=0x800030C0, d=0x80004100,
                       lda=0x140, ldb=0x180, ldc=0x1C0, ldd=0x200, m=0x1234, n=0x5678,
                       k=0x9ABC, load_c=1)
    assert line("gemm") == gemm.to_bytes(64, "little")
    dma0 = pack_struct(DmaDescriptor, src=0x80010010, dst=0x80020020, src_stride=0x30,
                       dst_stride=0x40, src_elem_stride=0x50, rows=0x6543, elems=0x789A,
                       elem_bytes=1, local=1, next=program.symbol("dma") + 64,
                       signal={"sem": 13, "enable": 1, "amount": 0xBEEF})
    dma1 = pack_struct(DmaDescriptor, src=0x80030000, dst=0x80040000, src_elem_stride=64,
                       rows=1, elems=1, elem_bytes=2, local=0, dst_x=9, dst_y=6)
    assert line("dma", 0) == dma0.to_bytes(64, "little")
    assert line("dma", 1) == dma1.to_bytes(64, "little")
    values = array(model, program, "values", np.uint64, (5,)).tolist()
    assert values == [
        pack_struct(Signal, sem=11, enable=1, amount=0xFEDC),
        pack_struct(OperandConfig, a_fmt=FormatCode.CFP8_143.value, a_bias=33,
                    b_fmt=FormatCode.CFP8_152.value, b_bias=62),
        pack_struct(VectorConfig, vtype=VecType.BF16.value, fmt=FormatCode.CFP8_152.value,
                    bias=45, rnd=1, imm=37, count=0xCDEF,
                    signal={"sem": 15, "enable": 1, "amount": 0xFFFF}),
        pack_struct(VectorStrides, a=0xFFC0, b=128, c=0x8000, d=32704),
        pack_struct(VectorConfig, vtype=VecType.INT8.value, count=3),
    ]


def test_d1core_run_on_the_core_model():
    # `d1core run --sim core`: the gemm program passes; the deadlock program fails with the
    # deadlock report (exit 1), its trace ends at the last retired instruction before it.
    for name in ("gemm", "deadlock"):
        _built(name)
    outcome = run_cmd.run(programs.build("gemm"), sim="core")
    assert outcome.status == "pass" and outcome.sim == "core"
    outcome = run_cmd.run(programs.build("deadlock"), sim="core", trace=True)
    assert outcome.status == "deadlock"
    lines = run_cmd.report(outcome, max_cycles=10)
    result = lines[len(outcome.trace)]
    assert result.startswith("FAIL: deadlock: every running thread is asleep\n")
    assert "asleep: d1.swait: semaphore 5 is 2, waiting for >= 3\n" in result
    assert "\nsemaphores: 0=0 1=0 2=0 3=0 4=0 5=2 " in result
    assert len(outcome.trace) == outcome.cycles == sum(outcome.instret)
