"""The registry of synthesizable blocks: one entry per block of the core, with the preset it is
measured in. ``d1core synth``, ``d1core lint`` and ``d1core bench`` iterate over it; a new block
adds one line here (see docs/flow.md)."""

from dataclasses import dataclass

from .build import Design, shared_design

__all__ = ["Block", "blocks", "get_block"]


@dataclass(frozen=True)
class Block:
    """A block of the report: its design, a one-line summary, and its peak multiply-accumulates
    per cycle where it has any (for the transistors-per-MAC figure). ``fpga=False`` skips the
    iCE40 and ECP5 mappings, which take Yosys over half an hour on a block of 50k+ cells."""
    name: str
    design: Design
    summary: str
    macs_per_cycle: int = 0
    fpga: bool = True


def blocks():
    """Every block, in report order. A block built from shared sub-blocks (``hw.common.shared``) is
    synthesized with them as black boxes and its figures composed from theirs: each of them
    must be a block here too (``shared_design`` gives the same design)."""
    from hw.common.arbiter import RoundRobinArbiter
    from hw.core.config import D1 as CORE_D1
    from hw.core.counters import counter_numbers
    from hw.core.dispatch import Dispatcher
    from hw.core.dma import DmaEngine
    from hw.core.gemm import GemmSequencer
    from hw.core.vector import VectorSequencer
    from hw.fp.convert import ConvertPipe, ConvertUnit
    from hw.fp.fma import FMAUnit
    from hw.matmul.array import MatmulArray, ProcessingElement, operand_width
    from hw.matmul.config import D1
    from hw.matmul.engine import MatmulEngine
    from hw.noc.router import Router
    from hw.scalar.core import ScalarCore
    from hw.scalar.muldiv import DivUnit
    from hw.sram.bank import Bank
    from hw.sram.check import LineCheck
    from hw.sram.config import D1 as SRAM_D1
    from hw.sram.ecc import ECCDecoder, ECCEncoder
    from hw.sram.scratchpad import Scratchpad, linemux_params, slice_params
    from hw.sram.slice import BankSlice, LineMux
    from hw.vector.convpipe import ConvPipe, lane_params
    from hw.vector.intpipe import IntPipe
    from hw.vector.lane import FPLane
    from hw.vector.movepipe import MovePipe
    from hw.vector.reduce import ReduceAdder
    from hw.vector.unit import VectorUnit

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
        Block("vector.lane", shared_design(FPLane),
              "one 32-bit FP slice of the vector unit: FP32 + BF16 FMAs (BF16 rounded once), "
              "min/max, compares, INT32 conversions", macs_per_cycle=1),
        Block("vector.adder", shared_design(ReduceAdder),
              "FP32 adder of the vector reduction tree (an FMA with b = 1.0)"),
        Block("vector.intpipe", shared_design(IntPipe),
              "vector INT8/16/32 add/sub/mul/min/max/logic/shift/compare, select, int redsum",
              fpga=False),
        Block("vector.movepipe", shared_design(MovePipe),
              "vector bcast, shuffle, zip/unzip (8/16/32-bit lanes), INT8 8x8 transpose",
              fpga=False),
        *(Block(name, shared_design(ConvertPipe, **lane_params(k)),
                f"a conversion lane of vector.convpipe ({', '.join(lane_params(k)['formats'])})")
          for name, k in (("vector.convlane", 0), ("vector.convlane_cfp8", 16))),
        Block("vector.convpipe", shared_design(ConvPipe),
              "vector WIDEN/NARROW: 32 conversion lanes, parts, RNE/SR, 32 SR generators",
              fpga=False),
        Block("vector.unit", Design.of("vector_unit", VectorUnit, tag_width=8),
              "64-byte SIMD unit: 16 FP32 FMAs, 32 BF16, INT, reductions, moves, conversions, "
              "1 op per cycle", macs_per_cycle=16, fpga=False),
        Block("sram.ecc_encoder", Design.of("sram_ecc_encoder", ECCEncoder),
              "(72, 64) Hsiao SECDED encoder: 8 check bits of a 64-bit word, combinational"),
        Block("sram.ecc_decoder", Design.of("sram_ecc_decoder", ECCDecoder),
              "(72, 64) Hsiao SECDED decoder: syndrome, single-bit correction, status"),
        Block("sram.arbiter", shared_design(RoundRobinArbiter, n=SRAM_D1.requesters,
                                             always_advance=True),
              "round-robin arbiter of one bank: 7 ports and the scrubber"),
        Block("sram.bank", shared_design(Bank, rows=SRAM_D1.rows),
              f"single-port bank, {SRAM_D1.rows} lines of 8 x 72 bits, command register",
              fpga=False),
        Block("sram.slice", shared_design(BankSlice, **slice_params(SRAM_D1)),
              "one bank with its arbiter, read-modify-write lock and command multiplexer",
              fpga=False),
        Block("sram.linemux", shared_design(LineMux, **linemux_params(SRAM_D1)),
              f"a port's read-data multiplexer over the {SRAM_D1.banks} banks", fpga=False),
        *(Block(f"sram.check{w}", shared_design(LineCheck, words=w),
                f"check stage of a {8 * w}-byte port: {w} codewords registered, decoded")
          for w in (1, 4, 8)),
        Block("sram.scratchpad", Design.of("sram_d1", Scratchpad, config=SRAM_D1),
              f"D1 scratchpad: {SRAM_D1.lines:,} lines (1.25 MB) in {SRAM_D1.banks} banks, "
              "7 ports + scrubber, SECDED", fpga=False),
        Block("noc.router", Design.of("noc_router", Router, width=8, height=8, vcs=1, depth=4),
              "5-port mesh router for 8x8, 64 B flits, 1 VC per class, 4-flit buffers",
              fpga=False),
        Block("noc.router_v2", Design.of("noc_router_v2", Router, width=8, height=8, vcs=2,
                                         depth=4),
              "5-port mesh router for 8x8, 64 B flits, 2 VCs per class, 4-flit buffers",
              fpga=False),
        Block("noc.router_v2_d8", Design.of("noc_router_v2_d8", Router, width=8, height=8,
                                            vcs=2, depth=8),
              "5-port mesh router for 8x8, 64 B flits, 2 VCs per class, 8-flit buffers",
              fpga=False),
        Block("noc.router_v2_d16", Design.of("noc_router_v2_d16", Router, width=8, height=8,
                                             vcs=2, depth=16),
              "5-port mesh router for 8x8, 64 B flits, 2 VCs per class, 16-flit buffers",
              fpga=False),
        Block("scalar.div", shared_design(DivUnit),
              "the scalar core's divider (one per thread): 64-bit DIV/REM, radix 8, 23 cycles "
              "unsigned", fpga=False),
        Block("scalar.core", Design.of("scalar_core", ScalarCore, threads=4),
              "RV64IM + Zicsr core, 4 barrel threads, 4-stage pipeline, a divider per thread",
              fpga=False),
        Block("core.dispatch", Design.of("core_dispatch", Dispatcher, threads=4,
                                         counters=counter_numbers(4)),
              "D1 core: custom-instruction decode, command registers, 16 semaphores, fences",
              fpga=False),
        Block("core.gemm", Design.of("core_gemm", GemmSequencer, config=D1, tag_width=7,
                                     base=CORE_D1.sram.base, size=CORE_D1.sram.size),
              "D1 core: GEMM sequencer (descriptors, Aᵀ/B/C reads, beats, D writes)",
              fpga=False),
        Block("core.vector_seq", Design.of("core_vector_seq", VectorSequencer, tag_width=7,
                                           base=CORE_D1.sram.base, size=CORE_D1.sram.size),
              "D1 core: vector sequencer (operand reads, unit requests, result writes)",
              fpga=False),
        Block("core.dma", Design.of("core_dma", DmaEngine, tag_width=7,
                                    base=CORE_D1.sram.base, size=CORE_D1.sram.size),
              "D1 core: DMA engine, 2D gather with descriptor lists", fpga=False),
    )}


def get_block(name):
    table = blocks()
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown block {name!r}; expected one of {', '.join(table)}") from None
