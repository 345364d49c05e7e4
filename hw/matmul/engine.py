"""The matrix engine of a core: a block of arrays sharing operands, fed and drained by streams.

In D1 (``hw.matmul.config.D1``) four 8×8 arrays form a 2×2 block that computes a 16×16 output
tile: each beat brings one column of A (16 elements) and one row of B (16), and array (p, q)
takes A elements ``8p..8p+7`` and B elements ``8q..8q+7``, so 256 MACs per cycle come from one
operand read of 64 bytes (BF16). C rows of 16 FP32 go to the arrays of their half of the tile; the
arrays' output rows are joined into rows of 16 again. docs/matmul.md has the bandwidth figures.

The glue is three small components: :class:`BeatFork` (every beat to every array, each its
slice), :class:`RowSplit` (a C row to the arrays of its block row, each its slice) and
:class:`RowJoin` (the arrays' output rows, side by side, block row after block row).
:class:`MatmulEngine` only instantiates and wires.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.params import check_instance
from hw.common.shared import shared

from .array import (
    MatmulArray,
    OperandConfig,
    beat_control_layout,
    beat_layout,
    c_row_layout,
    d_row_layout,
)
from .config import MatmulConfig

__all__ = ["MatmulEngine", "BeatFork", "RowSplit", "RowJoin", "engine_layouts"]


def _check_config(config):
    return check_instance("config", config, MatmulConfig)


def engine_layouts(config):
    """``{"beat", "c_row", "d_row"}``: the payload layouts of the engine's streams."""
    _check_config(config)
    return {
        "beat": beat_layout(config.tile_rows, config.tile_cols, config.operand_width,
                            config.tag_width),
        "c_row": c_row_layout(config.tile_cols),
        "d_row": d_row_layout(config.tile_rows, config.tile_cols, config.tag_width),
    }


def _unit_layouts(config):
    return {
        "beat": beat_layout(config.unit_rows, config.unit_cols, config.operand_width,
                            config.tag_width),
        "c_row": c_row_layout(config.unit_cols),
        "d_row": d_row_layout(config.unit_rows, config.unit_cols, config.tag_width),
    }


class BeatFork(wiring.Component):
    """Every beat to every array of the block, array (p, q) getting A slice p and B slice q.

    ``o[p * block_cols + q]``. An eager fork: an array that takes the beat is not offered it again
    while the others have not taken it yet, so a branch's valid never depends on any ready.
    """

    def __init__(self, config):
        self.config = _check_config(config)
        unit = _unit_layouts(config)["beat"]
        super().__init__({
            "i": In(stream.Signature(engine_layouts(config)["beat"])),
            "o": Out(stream.Signature(unit)).array(config.units),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        n = cfg.units
        taken = Signal(n)
        done = Cat(taken[k] | self.o[k].ready for k in range(n))
        m.d.comb += self.i.ready.eq(done.all())
        for p in range(cfg.block_rows):
            for q in range(cfg.block_cols):
                k = p * cfg.block_cols + q
                o, i = self.o[k], self.i.payload
                m.d.comb += [
                    o.valid.eq(self.i.valid & ~taken[k]),
                    o.payload.a.eq(i.a[p * cfg.unit_rows:(p + 1) * cfg.unit_rows]),
                    o.payload.b.eq(i.b[q * cfg.unit_cols:(q + 1) * cfg.unit_cols]),
                ]
                for name, _ in beat_control_layout(cfg.tag_width):
                    m.d.comb += getattr(o.payload, name).eq(getattr(i, name))
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += taken.eq(0)
        with m.Else():
            m.d.sync += taken.eq(taken | Cat(self.o[k].valid & self.o[k].ready
                                             for k in range(n)))
        return m


class RowSplit(wiring.Component):
    """C rows of the tile to the arrays: rows of block row p (``p * unit_rows`` ..) go to arrays
    (p, 0..block_cols-1), array (p, q) taking columns ``q * unit_cols`` ... An eager fork within
    the block row, so no branch's valid depends on a ready."""

    def __init__(self, config):
        self.config = _check_config(config)
        super().__init__({
            "i": In(stream.Signature(engine_layouts(config)["c_row"])),
            "o": Out(stream.Signature(_unit_layouts(config)["c_row"])).array(config.units),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        nq = cfg.block_cols
        block = Signal(range(cfg.block_rows))   # block row of the current C row
        row = Signal(range(cfg.unit_rows))      # its row within the block row
        taken = Signal(nq)
        done = Signal(nq)
        for p in range(cfg.block_rows):
            for q in range(nq):
                o = self.o[p * nq + q]
                m.d.comb += [
                    o.valid.eq(self.i.valid & (block == p) & ~taken[q]),
                    o.payload.data.eq(self.i.payload.data[q * cfg.unit_cols:
                                                          (q + 1) * cfg.unit_cols]),
                ]
                with m.If(block == p):
                    m.d.comb += done[q].eq(taken[q] | o.ready)
        m.d.comb += self.i.ready.eq(done.all())
        took = Signal(nq)
        for q in range(nq):
            m.d.comb += took[q].eq(Cat(self.o[p * nq + q].valid & self.o[p * nq + q].ready
                                       for p in range(cfg.block_rows)).any())
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [taken.eq(0), row.eq(Mux(row == cfg.unit_rows - 1, 0, row + 1))]
            with m.If(row == cfg.unit_rows - 1):
                m.d.sync += block.eq(Mux(block == cfg.block_rows - 1, 0, block + 1))
        with m.Else():
            m.d.sync += taken.eq(taken | took)
        return m


class RowJoin(wiring.Component):
    """The arrays' output rows as rows of the tile: arrays (p, 0..block_cols-1) side by side for
    the rows of block row p, block row after block row. A join: the output is valid when every
    array of the current block row is, so its valid never depends on its ready."""

    def __init__(self, config):
        self.config = _check_config(config)
        super().__init__({
            "i": In(stream.Signature(_unit_layouts(config)["d_row"])).array(config.units),
            "o": Out(stream.Signature(engine_layouts(config)["d_row"])),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        nq = cfg.block_cols
        block = Signal(range(cfg.block_rows))
        row = Signal(range(cfg.unit_rows))
        out = self.o.payload
        for p in range(cfg.block_rows):
            ins = [self.i[p * nq + q] for q in range(nq)]
            with m.If(block == p):
                m.d.comb += [
                    self.o.valid.eq(Cat(x.valid for x in ins).all()),
                    out.data.eq(Cat(x.payload.data.as_value() for x in ins)),
                    out.flags.eq(Cat(x.payload.flags.as_value() for x in ins)),
                    out.tag.eq(ins[0].payload.tag),
                ]
            for x in ins:
                others = Cat(y.valid for y in ins if y is not x).all() if nq > 1 else 1
                m.d.comb += x.ready.eq((block == p) & self.o.ready & others)
        m.d.comb += [
            out.row.eq(block * cfg.unit_rows + row),
            out.last.eq((block == cfg.block_rows - 1) & (row == cfg.unit_rows - 1)),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += row.eq(Mux(row == cfg.unit_rows - 1, 0, row + 1))
            with m.If(row == cfg.unit_rows - 1):
                m.d.sync += block.eq(Mux(block == cfg.block_rows - 1, 0, block + 1))
        return m


class MatmulEngine(wiring.Component):
    """The matrix engine: ``config.units`` arrays (:class:`hw.matmul.array.MatmulArray`) as a
    ``block_rows × block_cols`` block sharing every beat, ``config.macs_per_cycle`` MACs per cycle.

    Parameters
    ----------
    config : :class:`hw.matmul.config.MatmulConfig` (``D1``, ``SMALL``)

    Members
    -------
    i : ``In(stream.Signature(beat_layout(tile_rows, tile_cols, ...)))``
        Beats: a column of A (``tile_rows``), a row of B (``tile_cols``), ``first``/``load``/
        ``last``/``skip``/``tag`` as for an array (beat n goes to slot n mod L of every array).
    c : ``In(stream.Signature(c_row_layout(tile_cols)))``
        C tiles, ``tile_rows`` rows each, in the order the beats that load them come.
    o : ``Out(stream.Signature(d_row_layout(tile_rows, tile_cols, tag_width)))``
        Finished tiles, ``tile_rows`` rows of ``tile_cols`` FP32 values each with per-element
        sticky flags, in the order of their last beats.
    cfg : ``In(stream.Signature(OperandConfig))``
        The configuration register of every array (always ready); write it between GEMMs.

    The contract of :class:`hw.matmul.array.MatmulArray` holds for the engine as a whole: the
    arrays take each beat together (an array that is ahead waits for the others at the fork).
    """

    def __init__(self, config):
        self.config = _check_config(config)
        layouts = engine_layouts(config)
        super().__init__({
            "i": In(stream.Signature(layouts["beat"])),
            "c": In(stream.Signature(layouts["c_row"])),
            "o": Out(stream.Signature(layouts["d_row"])),
            "cfg": In(stream.Signature(OperandConfig)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        units = []
        for p in range(cfg.block_rows):
            for q in range(cfg.block_cols):
                unit = shared(MatmulArray, rows=cfg.unit_rows, cols=cfg.unit_cols,
                              formats=cfg.formats, tag_width=cfg.tag_width)
                m.submodules[f"array_{p}_{q}"] = unit
                units.append(unit)
        # The configuration register is written in every array at once (each is always ready).
        m.d.comb += self.cfg.ready.eq(Cat(u.cfg.ready for u in units).all())
        for u in units:
            m.d.comb += [u.cfg.valid.eq(self.cfg.valid), u.cfg.payload.eq(self.cfg.payload)]
        if cfg.units == 1:
            wiring.connect(m, wiring.flipped(self.i), units[0].i)
            wiring.connect(m, wiring.flipped(self.c), units[0].c)
            wiring.connect(m, units[0].o, wiring.flipped(self.o))
            return m
        m.submodules.beat_fork = fork = BeatFork(cfg)
        m.submodules.row_split = split = RowSplit(cfg)
        m.submodules.row_join = join = RowJoin(cfg)
        wiring.connect(m, wiring.flipped(self.i), fork.i)
        wiring.connect(m, wiring.flipped(self.c), split.i)
        wiring.connect(m, join.o, wiring.flipped(self.o))
        for k, u in enumerate(units):
            wiring.connect(m, fork.o[k], u.i)
            wiring.connect(m, split.o[k], u.c)
            wiring.connect(m, u.o, join.i[k])
        return m
