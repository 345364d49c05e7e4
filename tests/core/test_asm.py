"""The assembler's D1 mnemonics (verif/scalar/asm.py d1_*): each encodes as hw/core/isa.py's
``encode`` says, and an assembled program runs on CoreModel with the expected register
results."""

import pytest

from hw.core.isa import DmaFn, MatrixFn, SyncFn, Unit, VectorConfig, VectorFn, encode
from hw.scalar.isa import RAM_BASE
from hw.vector.isa import VecOp, VecType
from verif.core.model import CoreModel, pack_struct
from verif.scalar import asm as a


@pytest.mark.parametrize("word, want", [
    (a.d1_mcfg(5, 6), encode(Unit.MATRIX, MatrixFn.MCFG, rs1=5, rs2=6)),
    (a.d1_mgemm(7, 8), encode(Unit.MATRIX, MatrixFn.MGEMM, rs1=7, rs2=8)),
    (a.d1_vop(VecOp.REDSUM, 3, 4, 5),
     encode(Unit.VECTOR, VectorFn.VOP, funct7=30, rd=3, rs1=4, rs2=5)),
    (a.d1_vsetcfg(9), encode(Unit.VECTOR, VectorFn.VSETCFG, rs1=9)),
    (a.d1_vsetstride(10), encode(Unit.VECTOR, VectorFn.VSETSTRIDE, rs1=10)),
    (a.d1_vsetdc(11, 12), encode(Unit.VECTOR, VectorFn.VSETDC, rs1=11, rs2=12)),
    (a.d1_dma(13), encode(Unit.DMA, DmaFn.DMA, rs1=13)),
    (a.d1_sset(1, 2), encode(Unit.SYNC, SyncFn.SSET, rs1=1, rs2=2)),
    (a.d1_sadd(1, 2), encode(Unit.SYNC, SyncFn.SADD, rs1=1, rs2=2)),
    (a.d1_swait(3, 1, 2), encode(Unit.SYNC, SyncFn.SWAIT, rd=3, rs1=1, rs2=2)),
    (a.d1_sread(3, 1), encode(Unit.SYNC, SyncFn.SREAD, rd=3, rs1=1)),
    (a.d1_fence(), encode(Unit.SYNC, SyncFn.FENCE)),
    (a.d1_status(3, 1), encode(Unit.SYNC, SyncFn.STATUS, rd=3, rs1=1)),
    (a.d1_rdctr(3, 1), encode(Unit.SYNC, SyncFn.RDCTR, rd=3, rs1=1)),
])
def test_encodings(word, want):
    assert word == want


def test_vop_code_range():
    with pytest.raises(ValueError, match=r"^op must be in 0\.\.63, not 64$"):
        a.d1_vop(64, 0, 1, 2)


def test_assembled_program_on_the_model():
    # Semaphores, a register VOP (int32 redsum of a line holding 0..15) and the status read.
    line = RAM_BASE + 0x1000
    cfg = pack_struct(VectorConfig, vtype=VecType.INT32.value, count=1)
    body = [a.li(1, 4), a.li(2, 40), a.d1_sset(1, 2), a.li(2, 2), a.d1_sadd(1, 2),
            a.d1_sread(5, 1), a.d1_swait(6, 1, 2), a.li(7, cfg), a.d1_vsetcfg(7),
            a.li(8, line), a.d1_vop(VecOp.REDSUM, 9, 8, 0), a.d1_fence(10),
            a.d1_status(11, 0), a.jal(0, 0)]
    model = CoreModel(threads=1)
    model.memory.write(RAM_BASE, a.program(*body))
    model.memory.write(line, b"".join(i.to_bytes(4, "little") for i in range(16)))
    for _ in range(len(a.program(*body[:-1])) // 4):
        model.iss.step()
    x = model.iss.threads[0].x
    assert (x[5], x[6], x[9], x[10], x[11]) == (42, 42, 120, 0, 0)
