"""Tests of the core model (verif/core/model.py) alone, calling its coprocessor directly: every
custom instruction of hw/core/isa.py with results checked against numpy (exact small values) and
the matmul and vector references, every refusal (error code and address, nothing written, the
signal still delivered, read-and-clear), every illegal encoding, the semaphore wait, RDCTR."""

import numpy as np
import pytest

from hw.core.isa import (
    SEMAPHORES,
    Counter,
    DmaDescriptor,
    DmaFn,
    Error,
    GemmDescriptor,
    MatrixFn,
    Signal,
    SyncFn,
    Unit,
    VectorConfig,
    VectorFn,
    VectorStrides,
    encode,
)
from hw.fp.formats import FLAG_INEXACT, FormatCode
from hw.matmul.array import OperandConfig
from hw.scalar.isa import RAM_BASE
from hw.vector.isa import VecOp, VecType
from verif.core.model import (
    LINE,
    CoreModel,
    ModelError,
    pack_struct,
    reads_counter,
    unpack_struct,
)
from verif.matmul.model import matmul
from verif.scalar.iss import CoprocessorIllegal, CoprocessorWait, Memory
from verif.vector.model import VectorUnitModel

BASE = RAM_BASE + 0x1_0000      # operands live here (above any program)
DESC = RAM_BASE + 0x8000
SIZE = 256 * LINE               # the SMALL preset: 16 KiB
SMALL_BASE = RAM_BASE + 0x1000


def model(**kw):
    return CoreModel(threads=2, **kw)


def call(m, unit, funct3, rs1=0, rs2=0, *, funct7=0, rd=0, thread=0):
    return m.coprocessor(thread, encode(unit, funct3, funct7=funct7, rd=rd), rs1, rs2)


def signal(sem, amount=1):
    return pack_struct(Signal, sem=sem, enable=1, amount=amount)


def status(m, unit_index):
    return call(m, Unit.SYNC, SyncFn.STATUS, unit_index, rd=1)


def put_desc(core, addr, layout, **fields):
    core.memory.write(addr, pack_struct(layout, **fields).to_bytes(64, "little"))


def bf16(x):
    return (np.asarray(x, np.float32).view(np.uint32) >> 16).astype(np.uint16)


def f32(codes):
    return np.asarray(codes, np.uint32).view(np.float32)


# --- layouts ----------------------------------------------------------------------------

def test_pack_unpack_round_trip_nested_and_signed():
    v = pack_struct(DmaDescriptor, src=5, rows=3, signal={"sem": 2, "enable": 1, "amount": 9})
    assert v == 5 | 3 << 192 | (2 | 1 << 4 | 9 << 5) << 235
    d = unpack_struct(DmaDescriptor, v)
    assert d["src"] == 5 and d["rows"] == 3 and d["signal"] == {"sem": 2, "enable": 1,
                                                                 "amount": 9}
    s = unpack_struct(VectorStrides, pack_struct(VectorStrides, a=0xFFC0, d=64))
    assert s == {"a": -64, "b": 0, "c": 0, "d": 64}       # the strides are signed
    assert pack_struct(VectorStrides, a=-64) == 0xFFC0
    with pytest.raises(ValueError, match=r"^m must fit 16 bits, not 65536$"):
        pack_struct(GemmDescriptor, m=1 << 16)
    with pytest.raises(ValueError, match=r"^no field 'x' in the layout"):
        pack_struct(Signal, x=1)


# --- matrix -----------------------------------------------------------------------------

def gemm_setup(core, *, mm=3, k=5, n=4, load_c=True, seed=0, base=BASE, **over):
    rng = np.random.default_rng(seed)
    a = rng.integers(-4, 5, (mm, k)).astype(np.float32)
    b = rng.integers(-4, 5, (k, n)).astype(np.float32)
    c = rng.integers(-8, 9, (mm, n)).astype(np.float32)
    ga, gb, gc, gd = base, base + 0x1000, base + 0x2000, base + 0x3000
    for kk in range(k):
        core.memory.write(ga + 128 * kk, bf16(a[:, kk]).tobytes())
        core.memory.write(gb + 64 * kk, bf16(b[kk]).tobytes())
    for i in range(mm):
        core.memory.write(gc + 64 * i, c[i].tobytes())
    core.memory.write(gd, b"\xAA" * 64 * (mm + 2))
    fields = dict(a=ga, b=gb, c=gc, d=gd, lda=128, ldb=64, ldc=64, ldd=64, m=mm, n=n, k=k,
                  load_c=int(load_c))
    fields.update(over)
    put_desc(core, DESC, GemmDescriptor, **fields)
    return a, b, c, gd


def read_d(m, gd, mm, n):
    return np.stack([np.frombuffer(m.memory.read(gd + 64 * i, 4 * n), np.float32)
                     for i in range(mm)])


@pytest.mark.parametrize("load_c", [True, False])
def test_mgemm_bf16_against_numpy(load_c):
    m = model()
    a, b, c, gd = gemm_setup(m, load_c=load_c)
    assert call(m, Unit.MATRIX, MatrixFn.MGEMM, DESC, signal(3, 2), rd=5) == 0
    want = a @ b + (c if load_c else 0)   # small integers: exact in FP32
    assert np.array_equal(read_d(m, gd, 3, 4), want)
    # Bytes past column n of each row and rows past m are untouched.
    assert all(m.memory.read(gd + 64 * i + 16, 48) == b"\xAA" * 48 for i in range(3))
    assert m.memory.read(gd + 64 * 3, 128) == b"\xAA" * 128
    assert m.semaphores[3] == 2 and status(m, 0) == 0


def test_mcfg_cfp8_against_matmul_reference():
    m = model()
    rng = np.random.default_rng(1)
    mm, k, n = 4, 6, 8
    a = rng.integers(0, 256, (mm, k), dtype=np.uint8)
    b = rng.integers(0, 256, (k, n), dtype=np.uint8)
    for kk in range(k):
        m.memory.write(BASE + 64 * kk, a[:, kk].tobytes())
        m.memory.write(BASE + 0x1000 + 64 * kk, b[kk].tobytes())
    put_desc(m, DESC, GemmDescriptor, a=BASE, b=BASE + 0x1000, d=BASE + 0x2000, lda=64,
             ldb=64, ldd=64, m=mm, n=n, k=k)
    cfg = pack_struct(OperandConfig, a_fmt=FormatCode.CFP8_143.value, a_bias=10,
                      b_fmt=FormatCode.CFP8_152.value, b_bias=20)
    call(m, Unit.MATRIX, MatrixFn.MCFG, cfg | 1 << 40, signal(1))   # bits above 17 ignored
    call(m, Unit.MATRIX, MatrixFn.MGEMM, DESC, signal(1))
    want, _ = matmul(a, b, a_fmt="cfp8_143", a_bias=10, b_fmt="cfp8_152", b_bias=20)
    got = np.stack([np.frombuffer(m.memory.read(BASE + 0x2000 + 64 * i, 4 * n), np.uint32)
                    for i in range(mm)])
    assert np.array_equal(got, want) and m.semaphores[1] == 2


#: A 64 KiB scratchpad for the refusals: OUT is its first byte past the end.
OUT = RAM_BASE + 0x1_0000


@pytest.mark.parametrize("setup, desc, code", [
    ({}, DESC + 8, Error.ALIGN),
    ({}, RAM_BASE + (1 << 32), Error.RANGE),
    ({"m": 0}, DESC, Error.FIELD),
    ({"k": 0}, DESC, Error.FIELD),
    ({"reserved": 1 << 100}, DESC, Error.FIELD),
    ({"a": BASE + 2}, DESC, Error.ALIGN),
    ({"ldb": 32}, DESC, Error.ALIGN),
    ({"ldd": 65}, DESC, Error.ALIGN),
    ({"c": OUT - 64 * 2, "ldc": 64}, DESC, Error.RANGE),          # C row 2 is outside
    ({"d": OUT - 64 * 2, "ldd": 64}, DESC, Error.RANGE),
    ({"b": RAM_BASE - 0x1000}, DESC, Error.RANGE),
])
def test_mgemm_refusals(setup, desc, code):
    # Every operand is in range except the one a case moves.
    m = CoreModel(threads=1, memory=Memory(RAM_BASE, OUT - RAM_BASE))
    _, _, _, gd = gemm_setup(m, base=SMALL_BASE, **setup)
    before = m.memory.read(gd, 64 * 5)
    call(m, Unit.MATRIX, MatrixFn.MGEMM, desc, signal(4, 7))
    assert m.memory.read(gd, 64 * 5) == before          # nothing written
    assert m.semaphores[4] == 7                          # the signal is still delivered
    assert status(m, 0) == code | (desc & 0xFFFF_FFFF) << 32
    assert status(m, 0) == 0                             # read and cleared
    assert status(m, 1) == 0 and status(m, 2) == 0       # other units untouched


def test_mgemm_refuses_unsupported_format_and_keeps_first_error():
    m = model()
    gemm_setup(m)
    call(m, Unit.MATRIX, MatrixFn.MCFG, pack_struct(OperandConfig, a_fmt=FormatCode.FP32.value,
                                                  b_fmt=FormatCode.BF16.value))
    call(m, Unit.MATRIX, MatrixFn.MGEMM, DESC)
    call(m, Unit.MATRIX, MatrixFn.MGEMM, DESC + 4)      # a second refusal (ALIGN) is dropped
    assert status(m, 0) == Error.FIELD | DESC << 32


# --- vector -----------------------------------------------------------------------------

def vcfg(m, *, vtype=VecType.FP32, count=1, sig=0, thread=0, **kw):
    cfg = pack_struct(VectorConfig, vtype=vtype.value, count=count, **kw) | sig << 35
    call(m, Unit.VECTOR, VectorFn.VSETCFG, cfg, thread=thread)


def vstrides(m, a=64, b=64, c=64, d=64, thread=0):
    call(m, Unit.VECTOR, VectorFn.VSETSTRIDE,
         pack_struct(VectorStrides, a=a & 0xFFFF, b=b & 0xFFFF, c=c & 0xFFFF, d=d & 0xFFFF),
         thread=thread)


def vop(m, op, a, b=0, *, rd=0, thread=0):
    return call(m, Unit.VECTOR, VectorFn.VOP, a, b, funct7=op.value, rd=rd, thread=thread)


def lines(m, addr, n, stride=64, dtype=np.float32):
    return np.stack([np.frombuffer(m.memory.read(addr + i * stride, 64), dtype)
                     for i in range(n)])


def test_vop_fp32_add_lines_with_strides_and_negative_stride():
    m = model()
    rng = np.random.default_rng(2)
    x = rng.integers(-100, 100, (3, 16)).astype(np.float32)
    y = rng.integers(-100, 100, (3, 16)).astype(np.float32)
    for i in range(3):
        m.memory.write(BASE + 128 * i, x[i].tobytes())
        m.memory.write(BASE + 0x1000 - 64 * i, y[i].tobytes())
    vcfg(m, count=3, sig=signal(5, 3))
    vstrides(m, a=128, b=-64, d=192)
    call(m, Unit.VECTOR, VectorFn.VSETDC, BASE + 0x2000, 0)
    assert vop(m, VecOp.ADD, BASE, BASE + 0x1000) == 0
    assert np.array_equal(lines(m, BASE + 0x2000, 3, 192), x + y)
    assert m.semaphores[5] == 3 and status(m, 1) == 0


def test_vop_fma_reads_c_and_register_vop_redsum():
    m = model()
    x = np.arange(16, dtype=np.int32)
    m.memory.write(BASE, x.tobytes())
    m.memory.write(BASE + 64, (2 * x).tobytes())
    m.memory.write(BASE + 128, np.full(16, 1000, np.int32).tobytes())
    vcfg(m, vtype=VecType.INT32, count=1)
    vstrides(m)
    call(m, Unit.VECTOR, VectorFn.VSETDC, BASE + 192, BASE + 128)
    vop(m, VecOp.MUL, BASE, BASE + 64)
    assert np.array_equal(lines(m, BASE + 192, 1, dtype=np.int32)[0], 2 * x * x)
    vop(m, VecOp.SELECT, BASE, BASE + 64)       # a[i] != 0 ? b : c
    assert np.array_equal(lines(m, BASE + 192, 1, dtype=np.int32)[0],
                          np.where(x != 0, 2 * x, 1000))
    before = m.memory.read(BASE + 192, 64)
    assert vop(m, VecOp.REDSUM, BASE, rd=7) == int(x.sum())
    assert m.memory.read(BASE + 192, 64) == before       # register VOPs write nothing


def test_vop_sticky_flags_are_unit_state_shared_by_threads():
    m = model()
    third = np.full(16, 1 / 3, np.float32)
    m.memory.write(BASE, third.tobytes())
    m.memory.write(BASE + 64, np.ones(16, np.float32).tobytes())
    for t in (0, 1):
        vcfg(m, count=1, thread=t)
        vstrides(m, thread=t)
        call(m, Unit.VECTOR, VectorFn.VSETDC, BASE + 128, 0, thread=t)
    vop(m, VecOp.ADD, BASE, BASE + 64, thread=0)         # 1/3 + 1: inexact
    vcfg(m, vtype=VecType.INT32, count=1, thread=1)
    assert vop(m, VecOp.RDFLAGS, BASE, rd=3, thread=1) == FLAG_INEXACT
    assert vop(m, VecOp.CLRFLAGS, BASE, rd=3, thread=1) == FLAG_INEXACT
    assert vop(m, VecOp.RDFLAGS, BASE, rd=3, thread=1) == 0


@pytest.mark.parametrize("op, vtype, count, rd, a, d, strides, code, addr", [
    (VecOp.ADD, VecType.FP32, 0, 0, BASE, BASE, 64, Error.FIELD, BASE),
    (VecOp.ADD, VecType.FP32, 2, 3, BASE, BASE, 64, Error.FIELD, BASE),
    (VecOp.ADD, VecType.FP32, 1, 0, BASE + 4, BASE, 64, Error.ALIGN, BASE + 4),
    (VecOp.ADD, VecType.FP32, 2, 0, BASE, BASE, 32, Error.ALIGN, BASE),
    (VecOp.ADD, VecType.FP32, 1, 0, BASE, BASE + 8, 64, Error.ALIGN, BASE + 8),
    (VecOp.ADD, VecType.FP32, 1, 0, 0, BASE, 64, Error.RANGE, 0),
    (VecOp.ADD, VecType.FP32, 3, 0, BASE, RAM_BASE + (1 << 21) - 128, 64, Error.RANGE,
     RAM_BASE + (1 << 21) - 128 + 128),
    (VecOp.TRANSPOSE8, VecType.FP32, 2, 0, BASE, BASE + 0x400, 64, Error.ILLEGAL_OP, BASE),
    (VecOp.ADD, 7, 1, 0, BASE, BASE + 0x400, 64, Error.ILLEGAL_OP, BASE),
    (50, VecType.INT8, 1, 0, BASE, BASE + 0x400, 64, Error.ILLEGAL_OP, BASE),
    (VecOp.ADD, 6, 1, 5, BASE, BASE + 0x400, 64, Error.ILLEGAL_OP, BASE),
    (VecOp.WIDEN, VecType.FP32, 1, 0, BASE, BASE + 0x400, 64, Error.ILLEGAL_OP, BASE),
])
def test_vop_refusals(op, vtype, count, rd, a, d, strides, code, addr):
    m = CoreModel(threads=1, memory=Memory(RAM_BASE, 1 << 21))
    vt = vtype.value if isinstance(vtype, VecType) else vtype
    cfg = pack_struct(VectorConfig, vtype=vt, count=count,
                      signal={"sem": 9, "enable": 1, "amount": 1})
    call(m, Unit.VECTOR, VectorFn.VSETCFG, cfg)
    vstrides(m, a=strides, b=strides, d=strides)
    call(m, Unit.VECTOR, VectorFn.VSETDC, d, 0)
    before = m.memory.read(d & ~63, 128)
    opcode = op.value if isinstance(op, VecOp) else op
    got = call(m, Unit.VECTOR, VectorFn.VOP, a, BASE, funct7=opcode, rd=rd)
    assert got == 0
    assert m.memory.read(d & ~63, 128) == before
    assert m.semaphores[9] == 1
    assert status(m, 1) == code | addr << 32


def test_vop_narrow_with_stochastic_rounding_matches_the_unit_model():
    # narrow reads a and c (c from VSETDC's c, stride c); SR uses the unit's generators, which
    # the earlier VOP (a seed) set: the same requests on a fresh VectorUnitModel agree.
    m = model()
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (2, 64), dtype=np.uint8)
    c = rng.integers(0, 256, (2, 64), dtype=np.uint8)
    seed = np.zeros(64, np.uint8)
    seed[:4] = [0x78, 0x56, 0x34, 0x12]
    for i in range(2):
        m.memory.write(BASE + 64 * i, a[i].tobytes())
        m.memory.write(BASE + 0x400 + 64 * i, c[i].tobytes())
    m.memory.write(BASE + 0x800, seed.tobytes())
    vcfg(m, vtype=VecType.INT32, count=1)
    vop(m, VecOp.SEED, BASE + 0x800, rd=1)
    call(m, Unit.VECTOR, VectorFn.VSETCFG, pack_struct(
        VectorConfig, vtype=VecType.FP32.value, fmt=FormatCode.BF16.value, rnd=1, imm=1,
        count=2))
    vstrides(m)
    call(m, Unit.VECTOR, VectorFn.VSETDC, BASE + 0xC00, BASE + 0x400)
    vop(m, VecOp.NARROW, BASE, 0)
    common = {"op": VecOp.NARROW, "vtype": VecType.FP32, "fmt": "bf16", "rnd": "sr", "imm": 1}
    ref = VectorUnitModel().run([{"op": VecOp.SEED, "vtype": VecType.INT32, "a": seed},
                                 {**common, "a": a[0], "c": c[0]},
                                 {**common, "a": a[1], "c": c[1]}])
    assert not ref["error"].any()
    assert lines(m, BASE + 0xC00, 2, dtype=np.uint8).tobytes() == ref["data"][1:].tobytes()


def test_vector_state_is_per_thread_and_captured_at_issue():
    m = model()
    m.memory.write(BASE, np.arange(16, dtype=np.int32).tobytes())
    vcfg(m, vtype=VecType.INT32, count=1, thread=0)
    vcfg(m, vtype=VecType.INT8, count=1, thread=1)
    assert vop(m, VecOp.REDSUM, BASE, rd=1, thread=0) == 120
    # Thread 1's int8 redsum of the same bytes: the sum of the bytes mod 256.
    assert vop(m, VecOp.REDSUM, BASE, rd=1, thread=1) == 120
    m.memory.write(BASE, np.full(16, 0x01010101, np.uint32).tobytes())
    assert vop(m, VecOp.REDSUM, BASE, rd=1, thread=0) == 16 * 0x01010101
    assert vop(m, VecOp.REDSUM, BASE, rd=1, thread=1) == 64


def test_illegal_op_still_steps_the_sr_generators():
    # An illegal VOP's requests pass through the unit: the generators step once per line.
    m, ref = model(), model()
    vcfg(m, vtype=VecType.INT8, count=3)
    vstrides(m)
    call(m, Unit.VECTOR, VectorFn.VSETDC, BASE + 0x400, 0)
    vop(m, VecOp.TO_F32, BASE)                          # to_f32 has no int8 form
    ref.vector_unit.run([{"op": 0, "vtype": 0}] * 3)
    assert [g.state for g in m.vector_unit.generators] == \
        [g.state for g in ref.vector_unit.generators]


# --- DMA --------------------------------------------------------------------------------

def test_dma_list_gather_and_signals():
    m = model()
    src = np.arange(64 * 16, dtype=np.uint8).tobytes()
    m.memory.write(BASE, src)
    # Descriptor 1: 2 rows of 3 elements of 16 B, element stride 64, row stride 16: a gather.
    put_desc(m, DESC, DmaDescriptor, src=BASE, dst=BASE + 0x1000, src_stride=16,
             dst_stride=128, src_elem_stride=64, next=DESC + 64, rows=2, elems=3,
             elem_bytes=1, local=1, signal={"sem": 1, "enable": 1, "amount": 1})
    # Descriptor 2: one 64-byte line to this core by its coordinates (local = 0).
    put_desc(m, DESC + 64, DmaDescriptor, src=BASE + 0x200, dst=BASE + 0x2000, rows=1,
             elems=1, elem_bytes=2, dst_x=2, dst_y=3,
             signal={"sem": 2, "enable": 1, "amount": 5})
    m.core = (2, 3)
    assert call(m, Unit.DMA, DmaFn.DMA, DESC, rd=1) == 0
    for r in range(2):
        want = b"".join(src[16 * r + 64 * e:16 * r + 64 * e + 16] for e in range(3))
        assert m.memory.read(BASE + 0x1000 + 128 * r, 48) == want
    assert m.memory.read(BASE + 0x2000, 64) == src[0x200:0x240]
    assert m.semaphores[1:3] == [1, 5] and status(m, 2) == 0


@pytest.mark.parametrize("fields, code", [
    ({"elem_bytes": 3}, Error.FIELD),
    ({"rows": 0}, Error.FIELD),
    ({"elems": 0}, Error.FIELD),
    ({"reserved": 1}, Error.FIELD),
    ({"local": 0, "dst_x": 1}, Error.REMOTE),
    ({"src": BASE + 8}, Error.ALIGN),
    ({"dst_stride": 24}, Error.ALIGN),
    ({"src_elem_stride": 8}, Error.ALIGN),
    ({"src": RAM_BASE + SIZE - 16}, Error.RANGE),
    ({"dst": RAM_BASE - 64}, Error.RANGE),
])
def test_dma_refused_descriptor_writes_nothing_and_ends_the_list(fields, code):
    """A refused descriptor writes nothing, delivers its signal, is recorded, and ends its list
    (as the DMA engine does: the next descriptor does not run)."""
    m = model(sram="SMALL")
    m.memory.write(SMALL_BASE, bytes(range(64)) * 4)
    bad = dict(src=SMALL_BASE, dst=SMALL_BASE + 0x400, src_stride=64, dst_stride=64,
               src_elem_stride=16, next=DESC_S + 64, rows=2, elems=2, elem_bytes=1, local=1,
               signal={"sem": 1, "enable": 1, "amount": 1})
    bad.update(fields)
    put_desc(m, DESC_S, DmaDescriptor, **bad)
    put_desc(m, DESC_S + 64, DmaDescriptor, src=SMALL_BASE, dst=SMALL_BASE + 0x800, rows=1,
             elems=1, elem_bytes=2, local=1, signal={"sem": 2, "enable": 1, "amount": 1})
    call(m, Unit.DMA, DmaFn.DMA, DESC_S)
    assert m.memory.read(SMALL_BASE + 0x400, 256) == bytes(256)
    assert m.memory.read(SMALL_BASE + 0x800, 64) == bytes(64)
    assert m.semaphores[1:3] == [1, 0]
    assert status(m, 2) == code | DESC_S << 32


DESC_S = RAM_BASE + 0x2000


@pytest.mark.parametrize("addr, code", [(DESC_S + 32, Error.ALIGN),
                                        (RAM_BASE + SIZE, Error.RANGE)])
def test_dma_bad_next_refuses_its_descriptor(addr, code):
    """A ``next`` that is no descriptor address is checked with its descriptor (as the engine
    does): that descriptor is refused (nothing written, its signal delivered, its address
    recorded) and the list ends; a first address that is none ends the list at once."""
    m = model(sram="SMALL")
    m.memory.write(SMALL_BASE, bytes(range(1, 9)))
    put_desc(m, DESC_S, DmaDescriptor, src=SMALL_BASE, dst=SMALL_BASE + 0x400, rows=1,
             elems=1, elem_bytes=0, local=1, next=addr,
             signal={"sem": 1, "enable": 1, "amount": 1})
    call(m, Unit.DMA, DmaFn.DMA, DESC_S)
    assert m.semaphores[1] == 1
    assert m.memory.read(SMALL_BASE + 0x400, 8) == bytes(8)
    assert status(m, 2) == code | DESC_S << 32
    call(m, Unit.DMA, DmaFn.DMA, addr)
    assert m.semaphores[1] == 1
    assert status(m, 2) == code | addr << 32


def test_dma_list_that_loops_is_a_model_error():
    m = model(sram="SMALL")
    put_desc(m, DESC_S, DmaDescriptor, src=SMALL_BASE, dst=SMALL_BASE + 0x400, rows=1,
             elems=1, elem_bytes=0, local=1, next=DESC_S)
    with pytest.raises(ModelError, match=r"^DMA list longer than 65536 descriptors \(a loop\?\)$"):
        call(m, Unit.DMA, DmaFn.DMA, DESC_S)


def test_mgemm_without_c_ignores_its_address():
    m = model()
    a, b, _, gd = gemm_setup(m, load_c=False, c=0, ldc=0)   # c = 0 would be outside
    call(m, Unit.MATRIX, MatrixFn.MGEMM, DESC)
    assert np.array_equal(read_d(m, gd, 3, 4), a @ b) and status(m, 0) == 0


# --- synchronisation --------------------------------------------------------------------

def test_semaphores():
    m = model()
    assert call(m, Unit.SYNC, SyncFn.SSET, 3, 10 | 1 << 40, rd=1) == 0
    assert call(m, Unit.SYNC, SyncFn.SADD, 3, (1 << 32) - 1) == 0     # mod 2**32
    assert call(m, Unit.SYNC, SyncFn.SREAD, 3, rd=1) == 9
    assert call(m, Unit.SYNC, SyncFn.SWAIT, 3, 9, rd=1) == 9
    with pytest.raises(CoprocessorWait, match=r"semaphore 3 is 9, waiting for >= 10"):
        call(m, Unit.SYNC, SyncFn.SWAIT, 3, 10, rd=1)
    assert m.semaphores[3] == 9                  # a wait changes nothing
    assert call(m, Unit.SYNC, SyncFn.FENCE, rd=1) == 0


@pytest.mark.parametrize("unit, funct3, funct7, rs1", [
    (Unit.MATRIX, 2, 0, 0), (Unit.MATRIX, MatrixFn.MGEMM, 1, 0),
    (Unit.VECTOR, VectorFn.VOP, 64, 0), (Unit.VECTOR, 4, 0, 0),
    (Unit.VECTOR, VectorFn.VSETCFG, 1, 0),
    (Unit.DMA, 1, 0, 0), (Unit.DMA, DmaFn.DMA, 2, 0),
    (Unit.SYNC, 7, 0, 0), (Unit.SYNC, SyncFn.SREAD, 1, 0),
    (Unit.SYNC, SyncFn.SSET, 0, SEMAPHORES), (Unit.SYNC, SyncFn.SWAIT, 0, 1 << 40),
    (Unit.SYNC, SyncFn.STATUS, 0, 3), (Unit.SYNC, SyncFn.RDCTR, 0, 5),
    (Unit.SYNC, SyncFn.RDCTR, 0, 64 + 8 * 4),
])
def test_illegal_encodings_and_operands(unit, funct3, funct7, rs1):
    with pytest.raises(CoprocessorIllegal):
        call(model(), unit, funct3, rs1, funct7=funct7)


def test_rdctr():
    m = model()
    numbers = CoreModel(threads=4).counters
    assert numbers >= {0, 4, 16, 36, 64, 91, 0x7F}
    assert 5 not in numbers and 96 not in numbers and 92 in numbers
    assert 64 + 8 * 3 not in CoreModel(threads=3).counters     # the RTL's set, per thread count
    m.iss.cycle = 1234
    m.iss.threads[1].instret = 77
    assert call(m, Unit.SYNC, SyncFn.RDCTR, Counter.CYCLES, rd=1) == 1234
    assert call(m, Unit.SYNC, SyncFn.RDCTR, 64 + 8 + Counter.THREAD_INSTRUCTIONS, rd=1) == 77
    with pytest.raises(CoprocessorIllegal):      # a thread this core lacks: as the RTL does
        call(m, Unit.SYNC, SyncFn.RDCTR, 64 + 8 * 3, rd=1)
    assert call(m, Unit.SYNC, SyncFn.RDCTR, 16 + Counter.UNIT_IDLE, rd=1) == 0
    m.counter = lambda thread, n: 1000 * thread + n
    assert call(m, Unit.SYNC, SyncFn.RDCTR, 33, rd=1, thread=1) == 1033
    assert reads_counter(encode(Unit.SYNC, SyncFn.RDCTR, rd=4, rs1=5))
    assert not reads_counter(encode(Unit.SYNC, SyncFn.SREAD, rd=4, rs1=5))


def test_memory_is_the_preset_scratchpad():
    assert CoreModel(sram="D1").memory.size == 20_480 * 64
    assert CoreModel(sram="SMALL").memory.size == SIZE
    assert CoreModel().memory.base == RAM_BASE
