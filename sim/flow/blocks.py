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
    iCE40 and ECP5 mappings, which take Yosys over half an hour on a block of 50k+ cells.
    ``die``: for a whole core, the published die it is a core of (``hw.core.config.Die``), which
    the report multiplies it out against."""
    name: str
    design: Design
    summary: str
    macs_per_cycle: int = 0
    fpga: bool = True
    die: object = None


def blocks():
    """Every block, in report order. A block built from shared sub-blocks (``hw.common.shared``) is
    synthesized with them as black boxes and its figures composed from theirs: each of them
    must be a block here too (``shared_design`` gives the same design)."""
    from hw.common.arbiter import RoundRobinArbiter
    from hw.core.config import D1 as CORE_D1
    from hw.core.config import D1_DIE
    from hw.core.config import SMALL as CORE_SMALL
    from hw.core.core import Core, parts
    from hw.fp.convert import ConvertPipe, ConvertUnit
    from hw.fp.fma import FMAUnit
    from hw.matmul.array import MatmulArray, ProcessingElement, operand_width
    from hw.matmul.config import D1
    from hw.mesh.config import MESH_4X4
    from hw.mesh.edge import EdgePort
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

    unit = D1.unit_rows * D1.unit_cols

    def part(name, config=CORE_D1, mesh=None):
        """The design of the core's unit ``name`` (``hw.core.core.parts``; with ``mesh``, a
        ``(width, height)``, of a core in a mesh): the core's module."""
        factory, params = parts(config, mesh)[name]
        return shared_design(factory, **params)

    SRAM_SMALL = CORE_SMALL.sram
    small = (f"SMALL core: {CORE_SMALL.sram.size // 1024} KB, "
             f"{CORE_SMALL.matmul.macs_per_cycle} MACs/cycle")
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
        Block("matmul.engine", part("engine"),
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
        Block("vector.unit", part("vector_unit"),
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
        # The SMALL core's scratchpad's own (its banks are shorter and fewer).
        Block("sram.bank_small", shared_design(Bank, rows=SRAM_SMALL.rows),
              f"{small}: a bank, {SRAM_SMALL.rows} lines", fpga=False),
        Block("sram.slice_small", shared_design(BankSlice, **slice_params(SRAM_SMALL)),
              f"{small}: a bank with its arbiter, lock and multiplexer", fpga=False),
        Block("sram.linemux_small", shared_design(LineMux, **linemux_params(SRAM_SMALL)),
              f"{small}: a port's read-data multiplexer over {SRAM_SMALL.banks} banks",
              fpga=False),
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
        # The network interface of a core in the mesh (measured for 8x8, the routers' size) and
        # the mesh's edge port, with the mesh's routers' VCs and buffer depth.
        Block("core.ni_send", part("ni_tx", mesh=(8, 8)),
              "the core's network interface, sending side: remote DMA lines and semaphore adds "
              "into request packets", fpga=False),
        Block("core.ni_receive", part("ni_rx", mesh=(8, 8)),
              "the core's network interface, receiving side: pushes and pulls into the "
              "scratchpad's router ports, errors, answers", fpga=False),
        Block("mesh.edge", Design.of("mesh_edge", EdgePort, vcs=MESH_4X4.vcs,
                                     depth=MESH_4X4.depth),
              f"the mesh's edge port: host flits in and out at one a cycle, {MESH_4X4.vcs} "
              f"VC(s) per class, {MESH_4X4.depth}-flit buffers", fpga=False),
        Block("scalar.div", shared_design(DivUnit),
              "the scalar core's divider (one per thread): 64-bit DIV/REM, radix 8, 23 cycles "
              "unsigned", fpga=False),
        Block("scalar.core", Design.of("scalar_core", ScalarCore, threads=4),
              "RV64IM + Zicsr core, 4 barrel threads, 4-stage pipeline, a divider per thread",
              fpga=False),
        # The units of the D1 and SMALL cores (hw.core.core.parts), then the cores.
        Block("core.scalar", part("scalar"),
              "the cores' scalar core (4 threads, started by go), a divider per thread",
              fpga=False),
        Block("core.sram", part("sram"),
              "D1 core: its scratchpad (sram.scratchpad at the core's base address)",
              fpga=False),
        Block("core.dispatch", part("dispatch"),
              "the cores' custom-instruction decode, command registers, 16 semaphores, fences",
              fpga=False),
        Block("core.counters", part("counters"),
              "the cores' performance counters (cycles, per-unit causes, per-thread reasons)",
              fpga=False),
        Block("core.gemm", part("gemm"),
              "D1 core: GEMM sequencer (descriptors, Aᵀ/B/C reads, beats, D writes)",
              fpga=False),
        Block("core.vector_seq", part("vseq"),
              "D1 core: vector sequencer (operand reads, unit requests, result writes)",
              fpga=False),
        Block("core.dma", part("dma"),
              "D1 core: DMA engine, 2D gather with descriptor lists", fpga=False),
        Block("core.share_read", part("share_vr0"),
              "the cores' two requesters on a 64-byte read port (vr0, vr1, rr)", fpga=False),
        Block("core.share_write", part("share_vw"),
              "the cores' two requesters on a 64-byte write port (vw, rw)", fpga=False),
        Block("core.sram_small", part("sram", CORE_SMALL),
              f"{small}: its scratchpad, {CORE_SMALL.sram.banks} banks", fpga=False),
        Block("core.engine_small", part("engine", CORE_SMALL),
              f"{small}: its matrix engine, one {D1.unit_rows}x{D1.unit_cols} array",
              macs_per_cycle=CORE_SMALL.matmul.macs_per_cycle, fpga=False),
        Block("core.gemm_small", part("gemm", CORE_SMALL), f"{small}: its GEMM sequencer",
              fpga=False),
        Block("core.vector_seq_small", part("vseq", CORE_SMALL),
              f"{small}: its vector sequencer", fpga=False),
        Block("core.dma_small", part("dma", CORE_SMALL), f"{small}: its DMA engine",
              fpga=False),
        Block("core.small", Design.of("core_small", Core, config=CORE_SMALL),
              f"{small}: every unit above wired", fpga=False,
              macs_per_cycle=CORE_SMALL.matmul.macs_per_cycle),
        Block("core.d1", Design.of("core_d1", Core, config=CORE_D1),
              "one D1 core: scalar core, 1.25 MB scratchpad, matrix engine, vector unit, "
              "sequencers, DMA, dispatcher, counters", fpga=False,
              macs_per_cycle=CORE_D1.matmul.macs_per_cycle, die=D1_DIE),
    )}


def get_block(name):
    table = blocks()
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown block {name!r}; expected one of {', '.join(table)}") from None
