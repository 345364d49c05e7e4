"""docs/isa.md against hw/core/isa.py: every layout table's fields and bit ranges, the encoding
table's opcodes and funct3 values, and the error codes (a change to isa.py that the page does
not follow fails here)."""

import re
from pathlib import Path

import pytest
from amaranth.hdl import Shape
from amaranth.lib import data

from hw.core import isa
from hw.matmul.array import OperandConfig

DOC = (Path(__file__).resolve().parents[2] / "docs" / "isa.md").read_text()

LAYOUTS = {"Signal": isa.Signal, "OperandConfig": OperandConfig,
           "VectorConfig": isa.VectorConfig, "VectorStrides": isa.VectorStrides,
           "GemmDescriptor": isa.GemmDescriptor, "DmaDescriptor": isa.DmaDescriptor}

#: Mnemonic -> (unit, funct3) as isa.py defines them.
MNEMONICS = {
    "d1.mcfg": (isa.Unit.MATRIX, isa.MatrixFn.MCFG),
    "d1.mgemm": (isa.Unit.MATRIX, isa.MatrixFn.MGEMM),
    "d1.vop.<op>": (isa.Unit.VECTOR, isa.VectorFn.VOP),
    "d1.vsetcfg": (isa.Unit.VECTOR, isa.VectorFn.VSETCFG),
    "d1.vsetstride": (isa.Unit.VECTOR, isa.VectorFn.VSETSTRIDE),
    "d1.vsetdc": (isa.Unit.VECTOR, isa.VectorFn.VSETDC),
    "d1.dma": (isa.Unit.DMA, isa.DmaFn.DMA),
    **{f"d1.{f.name.lower()}": (isa.Unit.SYNC, f) for f in isa.SyncFn},
}


def section(title):
    m = re.search(rf"^### {title}\n(.*?)(?=^#)", DOC, re.S | re.M)
    assert m, f"docs/isa.md has no section {title}"
    return m.group(1)


@pytest.mark.parametrize("name", LAYOUTS)
def test_layout_tables(name):
    rows = re.findall(r"^\| `(\w+)` \| (\d+)\.\.(\d+) \|", section(name), re.M)
    want = [(f, str(lay.offset), str(lay.offset + Shape.cast(lay.shape).width - 1))
            for f, lay in data.Layout.cast(LAYOUTS[name])]
    assert rows == want


def test_encoding_table():
    rows = re.findall(r"^\| `(d1\.[\w.<>]+)` \| custom-(\d) \((0x[0-9A-F]+)\) \| (\d) \| ",
                      DOC, re.M)
    assert {r[0] for r in rows} == set(MNEMONICS)
    for mnemonic, number, opcode, funct3 in rows:
        unit, fn = MNEMONICS[mnemonic]
        assert int(opcode, 16) == unit.value and list(isa.Unit).index(unit) == int(number)
        assert int(funct3) == fn.value, mnemonic


def test_error_table():
    rows = re.findall(r"^\| (\d) \| `(\w+)` \|", DOC, re.M)
    assert [(int(c), n) for c, n in rows] == [(e.value, e.name) for e in isa.Error]
