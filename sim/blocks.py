"""The registry of synthesizable blocks: one entry per block of the core, with the preset it is
measured in. ``d1core synth``, ``d1core lint`` and ``d1core bench`` iterate over it; a new block
adds one line here (see docs/flow.md)."""

from dataclasses import dataclass

from .build import Design, shared_design

__all__ = ["Block", "blocks", "get_block"]


@dataclass(frozen=True)
class Block:
    """A block of the report: its design, a one-line summary, and its peak multiply-accumulates
    per cycle where it has any (for the transistors-per-MAC figure)."""
    name: str
    design: Design
    summary: str
    macs_per_cycle: int = 0


def blocks():
    """Every block, in report order. A block built from shared sub-blocks (``hw.shared``) is
    synthesized with them as black boxes and its figures composed from theirs: each of them
    must be a block here too (``sim.build.shared_design`` gives the same design)."""
    from hw.fp.convert import ConvertUnit
    from hw.fp.fma import FMAUnit
    from hw.matmul.array import MatmulArray, ProcessingElement, operand_width
    from hw.matmul.config import D1
    from hw.matmul.engine import MatmulEngine
    from hw.sram.ecc import ECCDecoder, ECCEncoder

    unit = D1.unit_rows * D1.unit_cols
    return {b.name: b for b in (
        Block("fp.convert", Design.of("fp_convert", ConvertUnit, tag_width=8),
              "FP32 <-> BF16/CFP8/SHP/UHP conversion, RNE and SR, 1 per cycle"),
        Block("fp.fma", Design.of("fp_fma", FMAUnit, tag_width=8),
              "FP32 fused multiply-add, FP32/BF16/CFP8 multiplicands, 1 per cycle"),
        Block("matmul.pe", shared_design(ProcessingElement, width=operand_width(D1.formats),
                                         formats=D1.formats),
              "one MAC of an array: BF16/CFP8 x BF16/CFP8 + FP32 FMA, c select, sticky flags",
              macs_per_cycle=1),
        Block("matmul.array", shared_design(MatmulArray, rows=D1.unit_rows, cols=D1.unit_cols,
                                            formats=D1.formats, tag_width=D1.tag_width),
              f"{D1.unit_rows}x{D1.unit_cols} array: {unit} PEs, {D1.interleave} interleaved "
              "tiles, C loader, drain", macs_per_cycle=unit),
        Block("matmul.engine", Design.of("matmul_engine", MatmulEngine, config=D1),
              f"D1 engine: {D1.block_rows}x{D1.block_cols} arrays sharing operands, "
              f"{D1.macs_per_cycle} MACs/cycle", macs_per_cycle=D1.macs_per_cycle),
        Block("sram.ecc_encoder", Design.of("sram_ecc_encoder", ECCEncoder),
              "(72, 64) Hsiao SECDED encoder: 8 check bits of a 64-bit word, combinational"),
        Block("sram.ecc_decoder", Design.of("sram_ecc_decoder", ECCDecoder),
              "(72, 64) Hsiao SECDED decoder: syndrome, single-bit correction, status"),
    )}


def get_block(name):
    table = blocks()
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown block {name!r}; expected one of {', '.join(table)}") from None
