"""The GEMM sequencer: matrix commands in, the matrix engine's beats, C rows and D writes out,
the operands read straight from the scratchpad.

A command (:data:`hw.core.isa.MatrixCommand`) is an MCFG (the engine's operand formats) or an
MGEMM (the address of a :data:`hw.core.isa.GemmDescriptor`). The sequencer reads and checks each
descriptor while the previous GEMM runs, then walks it in groups of 2×2 output tiles (the
engine's L = 4 slots): per k, one 64-byte read of row k of Aᵀ (port ``a``) covers the A columns
of both tile rows and one read of row k of B (port ``b``) the B rows of both tile columns, and
the two feed four beats. C rows are read on port ``b`` too, between the B reads, and flow into
the engine as soon as its C buffer has room; D rows are written on port ``d`` as the engine
drains them. docs/core.md ("GEMM sequencer") has the schedule and the figures.

The pieces, each a component: :class:`GemmCheck` (takes commands, reads and checks
descriptors), :class:`OperandWalker` (the A/B read addresses and each k's beat control),
:class:`TileRowWalker` (the address of every C or D row), :class:`BeatMaker` (four beats from
each pair of lines), :class:`GemmRetire` (the completions, in command order).
:class:`GemmSequencer` wires them to the ports.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from hw.common import memport
from hw.common.arith import prefix_add, prefix_sub
from hw.common.memport import Status
from hw.common.params import check_instance, check_int
from hw.fp.formats import FormatCode, get_format
from hw.matmul.array import OperandConfig
from hw.matmul.config import MatmulConfig
from hw.matmul.engine import engine_layouts

from . import isa
from .isa import (
    DESCRIPTOR_BYTES,
    Done,
    Error,
    ErrorRecord,
    GemmDescriptor,
    MatrixCommand,
    MatrixFn,
    StallCause,
)

__all__ = ["GemmSequencer", "GemmCheck", "OperandWalker", "TileRowWalker", "BeatMaker",
           "GemmRetire", "LINE", "PAIR", "Kind"]

#: Bytes of a scratchpad line: the width of the vr0, vr1 and vw ports.
LINE = 64
#: Output tiles per group side: a group is PAIR × PAIR tiles, the engine's L = 4 slots.
PAIR = 2
#: Cycles of the descriptor check's multiplier (one bit of a 16-bit count per cycle).
_MUL_BITS = 16


class Kind:
    """What a read on port ``b`` is for (the low two bits of its tag)."""
    B = 0
    C = 1
    DESC = 2



#: A command the check has finished with: its code (NONE: to run), the command and, for a GEMM,
#: the descriptor and the element size of each operand (CFP8: 1 byte) under the formats of the
#: MCFGs before it.
Entry = data.StructLayout({
    "cmd": MatrixCommand,
    "code": Error,
    "desc": GemmDescriptor,
    "a8": 1,
    "b8": 1,
})


def _is_cfp8(fmt):
    return (fmt == FormatCode.CFP8_143) | (fmt == FormatCode.CFP8_152)


def _log2(n):
    return n.bit_length() - 1


def _low(value, n):
    """``value`` modulo ``n`` (a power of two; 0 when ``n`` is 1)."""
    return value[:_log2(n)] if n > 1 else Const(0, 1)


def _gt(value, c):
    """``value > c`` for a non-negative ``value`` and a small constant ``c``: the high bits
    any, or a compare of the few low bits (not a carry chain as wide as ``value``)."""
    b = max(1, c.bit_length())
    return value[b:].any() | (value[:b] > c)


def _thermo(count, width):
    """``width`` bits, bit e set when e < ``count`` (non-negative)."""
    return Cat(_gt(count, e) for e in range(width))


class _Arith:
    """Adders with a Kogge-Stone carry tree (``hw.common.arith``), each with its own name."""

    def __init__(self, m, prefix):
        self.m, self.prefix, self.n = m, prefix, 0

    def _name(self):
        self.n += 1
        return f"{self.prefix}{self.n}"

    def add(self, x, y, width):
        return prefix_add(self.m, x, y, width=width, name=self._name())[0]

    def sub(self, x, y, width):
        """``(x - y mod 2**width, x >= y)``."""
        return prefix_sub(self.m, x, y, width=width, name=self._name())


class GemmCheck(wiring.Component):
    """Takes matrix commands and checks GEMM descriptors, one command at a time.

    Members
    -------
    cmd : ``In(stream.Signature(MatrixCommand))``
    desc_req : ``Out(stream.Signature(addr_bits))``, the descriptor read (one in flight).
    desc_resp : ``In(stream.Signature({data 512, status}))``, always ready.
    o : ``Out(stream.Signature(Entry))``: each command with its code, in order.
    busy : a command is being checked.

    Contract: an MGEMM whose address is not a multiple of 64 is ALIGN and outside
    ``base .. base + size - 64`` RANGE without a read; a read answered OUT_OF_RANGE is RANGE,
    MISALIGNED is ALIGN, UNCORRECTABLE is FIELD. Then, in this order: m, n or k zero, reserved
    bits set, or an operand format (of the MCFGs before) outside ``formats`` is FIELD; a, b, c,
    d or a stride not a multiple of 64 is ALIGN; a line of A, B, D (and C with ``load_c``)
    outside ``base .. base + size`` is RANGE. The element sizes follow the MCFGs taken before
    the GEMM. A GEMM's check takes 21 cycles after its descriptor.
    """

    def __init__(self, *, addr_bits, base, size, formats):
        self.addr_bits, self.base, self.size = addr_bits, base, size
        #: The format codes the engine multiplies.
        self.formats = tuple(get_format(f).code.value for f in formats)
        super().__init__({
            "cmd": In(stream.Signature(MatrixCommand)),
            "desc_req": Out(stream.Signature(addr_bits)),
            "desc_resp": In(stream.Signature(data.StructLayout({"data": 512,
                                                                "status": Status}))),
            "o": Out(stream.Signature(Entry)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ar = _Arith(m, "chk")
        out = self.o.payload
        cmd = out.cmd
        d = out.desc
        a8, b8 = Signal(), Signal()           # the formats of the commands taken so far
        fmt_ok = Signal(init=1)                # both formats are the engine's
        end = self.base + self.size
        aw = self.addr_bits
        step = Signal(range(_MUL_BITS + 4))
        # The range check: for each operand, first + (rows - 1)·stride + its row's bytes rounded
        # up to lines, against the end. The products by a shift-and-add, one bit per cycle.
        ops = [("a", "lda", "k", Mux(a8, d.m, d.m << 1)), ("b", "ldb", "k", Mux(b8, d.n, d.n << 1)),
               ("c", "ldc", "m", d.n << 2), ("d", "ldd", "m", d.n << 2)]
        wide = aw + _MUL_BITS + 2
        names = [x for x, *_ in ops]
        prods = [Signal(wide, name=f"prod_{x}") for x in names]
        mults = [Signal(_MUL_BITS, name=f"mult_{x}") for x in names]
        lines = [Signal(19, name=f"bytes_{x}") for x in names]     # row bytes, whole lines
        firsts = [Signal(wide, name=f"first_{x}") for x in names]  # + the address
        ends = [Signal(wide, name=f"end_{x}") for x in names]      # + (rows - 1)·stride
        ok = [Signal(name=f"ok_{x}") for x in names]
        value = Signal(32)

        m.d.comb += self.desc_resp.ready.eq(1)
        with m.If(self.desc_req.ready):
            m.d.sync += self.desc_req.valid.eq(0)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        def finish(code):
            m.d.sync += [out.code.eq(code), self.o.valid.eq(1)]
            m.next = "IDLE"

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(~self.o.valid)
                with m.If(self.cmd.valid & ~self.o.valid):
                    p = self.cmd.payload
                    m.d.sync += [cmd.eq(p), out.code.eq(Error.NONE), out.a8.eq(a8),
                                 out.b8.eq(b8), d.eq(0), value.eq(p.value)]
                    with m.If(p.op == MatrixFn.MCFG):
                        c = OperandConfig(p.value[:OperandConfig.as_shape().size])
                        m.d.sync += [a8.eq(_is_cfp8(c.a_fmt)), b8.eq(_is_cfp8(c.b_fmt)),
                                     fmt_ok.eq(c.a_fmt.as_value().matches(*self.formats)
                                               & c.b_fmt.as_value().matches(*self.formats)),
                                     self.o.valid.eq(1)]
                    with m.Else():
                        m.next = "TAKE"
            with m.State("TAKE"):
                m.d.comb += self.busy.eq(1)
                _, low_ok = ar.sub(value, self.base, aw + 1)
                _, high_ok = ar.sub(end - DESCRIPTOR_BYTES, value, aw + 1)
                with m.If(value[:6] != 0):
                    finish(Error.ALIGN)
                with m.Elif(~low_ok | ~high_ok):
                    finish(Error.RANGE)
                with m.Else():
                    m.d.sync += [self.desc_req.valid.eq(1), self.desc_req.payload.eq(value)]
                    m.next = "READ"
            with m.State("READ"):
                m.d.comb += self.busy.eq(1)
                with m.If(self.desc_resp.valid):
                    r = self.desc_resp.payload
                    m.d.sync += [d.eq(r.data), step.eq(0)]
                    with m.Switch(r.status):
                        with m.Case(Status.OK, Status.CORRECTED):
                            m.next = "CHECK"
                        with m.Case(Status.OUT_OF_RANGE):
                            finish(Error.RANGE)
                        with m.Case(Status.MISALIGNED):
                            finish(Error.ALIGN)
                        with m.Default():
                            finish(Error.FIELD)
            with m.State("CHECK"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += step.eq(step + 1)
                # step 0: the row bytes in lines and the multipliers; steps 1..16: the products
                # (and at step 1 the address plus the row's lines); 17: the last line's end;
                # 18: the compares; 19: the code.
                with m.If(step == 0):
                    for (_x, _ld, rows, width), prod, mult, line in zip(
                            ops, prods, mults, lines, strict=True):
                        up = ar.add(width, LINE - 1, 19)
                        m.d.sync += [prod.eq(0), mult.eq(ar.add(getattr(d, rows), -1 % (1 << 16),
                                                                 16)),
                                     line.eq(Cat(Const(0, 6), up[6:]))]
                with m.Elif(step <= _MUL_BITS):
                    for (x, ld, *_), prod, mult, line, first in zip(
                            ops, prods, mults, lines, firsts, strict=True):
                        m.d.sync += [prod.eq(ar.add(prod << 1, Mux(mult[-1], getattr(d, ld), 0),
                                                    wide)),
                                     mult.eq(mult << 1)]
                        with m.If(step == 1):
                            m.d.sync += first.eq(ar.add(getattr(d, x), line, wide))
                with m.Elif(step == _MUL_BITS + 1):
                    for prod, first, e in zip(prods, firsts, ends, strict=True):
                        m.d.sync += e.eq(ar.add(first, prod, wide))
                with m.Elif(step == _MUL_BITS + 2):
                    for (x, *_), e, good in zip(ops, ends, ok, strict=True):
                        _, low_ok = ar.sub(getattr(d, x), self.base, wide)
                        _, high_ok = ar.sub(end, e, wide)
                        m.d.sync += good.eq(low_ok & high_ok)
                with m.Else():
                    aligned = Cat(getattr(d, f)[:6] == 0 for f in (
                        "a", "b", "c", "d", "lda", "ldb", "ldc", "ldd")).all()
                    field = ((d.m == 0) | (d.n == 0) | (d.k == 0) | (d.reserved != 0)
                             | ~fmt_ok)
                    in_range = ok[0] & ok[1] & ok[3] & (ok[2] | ~d.load_c)
                    finish(Mux(field, Error.FIELD, Mux(~aligned, Error.ALIGN,
                                                       Mux(in_range, Error.NONE, Error.RANGE))))
        return m


#: The job of a walker: a GEMM's fields it needs (the rest are trimmed by synthesis).
Job = data.StructLayout({"desc": GemmDescriptor, "a8": 1, "b8": 1})


def _ctrl_layout(config):
    """What :class:`BeatMaker` needs with each k's pair of lines."""
    t, u = config.tile_rows, config.tile_cols
    return data.StructLayout({
        "first": 1, "last": 1, "load": 1,
        "skip": PAIR * PAIR,                 # slot s = 2·di + dj has no tile
        "a_pos": range(LINE // (PAIR * t)),  # the 2T-element chunk of A in its line
        "b_pos": range(LINE // (PAIR * u)),
        "a_mask": PAIR * t,                  # elements of the chunk within m (n)
        "b_mask": PAIR * u,
        "a8": 1, "b8": 1,
    })


class _GroupWalk:
    """The group loop shared by the walkers: pairs of tile rows (outer) and of tile columns,
    with the rows and columns left from each pair's first (``rem_m``, ``rem_n``: positive
    while the walk runs)."""

    def __init__(self, m, ar, t, u):
        self.m, self.ar, self.t, self.u = m, ar, t, u
        self.rem_m = Signal(17)
        self.rem_n = Signal(17)
        self.pj = Signal(16)        # the tile-column pair
        self.pi = Signal(16)

    def start(self, desc):
        return [self.rem_m.eq(desc.m), self.rem_n.eq(desc.n), self.pi.eq(0), self.pj.eq(0)]

    def exists(self, di, dj):
        """Whether tile (2·pi + di, 2·pj + dj) is within m × n."""
        return (~di | _gt(self.rem_m, self.t)) & (~dj | _gt(self.rem_n, self.u))

    def advance(self, desc, new_row):
        """Move to the next group (``new_row``: more statements on a new pair row); returns
        whether this was the last group."""
        m, ar = self.m, self.ar
        more_cols = _gt(self.rem_n, PAIR * self.u)
        more_rows = _gt(self.rem_m, PAIR * self.t)
        with m.If(more_cols):
            m.d.sync += [self.pj.eq(ar.add(self.pj, 1, 16)),
                         self.rem_n.eq(ar.sub(self.rem_n, PAIR * self.u, 17)[0])]
        with m.Else():
            m.d.sync += [self.pj.eq(0), self.rem_n.eq(desc.n), self.pi.eq(ar.add(self.pi, 1, 16)),
                         self.rem_m.eq(ar.sub(self.rem_m, PAIR * self.t, 17)[0])]
            m.d.sync += new_row
        return ~more_cols & ~more_rows


class OperandWalker(wiring.Component):
    """The A and B reads of a GEMM and the beat control of each k, one k per transfer.

    Groups of 2×2 tiles in row-major order, k = 0 .. K-1 in each: ``o`` carries the line of row
    k of Aᵀ holding the A columns of the group's two tile rows, the line of row k of B holding
    the B rows of its two tile columns, and the control (:func:`_ctrl_layout`). Two cycles of
    set-up per group, then one k per cycle while ``o`` is ready. ``busy`` while a job runs.
    """

    def __init__(self, config, *, addr_bits):
        self.config = config
        self.addr_bits = addr_bits
        super().__init__({
            "job": In(stream.Signature(Job)),
            "o": Out(stream.Signature(data.StructLayout({
                "a_addr": addr_bits, "b_addr": addr_bits, "ctrl": _ctrl_layout(config)}))),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ar = _Arith(m, "ow")
        aw = self.addr_bits
        t, u = self.config.tile_rows, self.config.tile_cols
        job = Signal(Job)
        desc = job.desc
        walk = _GroupWalk(m, ar, t, u)
        left = Signal(16)           # ks after this one
        a_off = Signal(aw)
        b_off = Signal(aw)
        o = self.o.payload
        ctrl = o.ctrl
        # The byte offset of the group's chunk in a row: pair · 2T elements.
        a_bytes = Mux(job.a8, walk.pi << _log2(PAIR * t), walk.pi << _log2(PAIR * t * 2))
        b_bytes = Mux(job.b8, walk.pj << _log2(PAIR * u), walk.pj << _log2(PAIR * u * 2))
        a_span = LINE // (PAIR * t)     # chunks per line with CFP8 (BF16: half as many)
        b_span = LINE // (PAIR * u)
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.job.ready.eq(1)
                with m.If(self.job.valid):
                    m.d.sync += [job.eq(self.job.payload), walk.start(self.job.payload.desc)]
                    m.next = "SETUP"
            with m.State("SETUP"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [
                    a_off.eq(a_bytes & ~(LINE - 1)),
                    b_off.eq(b_bytes & ~(LINE - 1)),
                    ctrl.a_pos.eq(Mux(job.a8, _low(walk.pi, a_span), _low(walk.pi, a_span // 2))),
                    ctrl.b_pos.eq(Mux(job.b8, _low(walk.pj, b_span), _low(walk.pj, b_span // 2))),
                    ctrl.a_mask.eq(_thermo(walk.rem_m, PAIR * t)),
                    ctrl.b_mask.eq(_thermo(walk.rem_n, PAIR * u)),
                    ctrl.skip.eq(Cat(~walk.exists(Const(s >> 1), Const(s & 1))
                                     for s in range(PAIR * PAIR))),
                    ctrl.load.eq(desc.load_c),
                    ctrl.a8.eq(job.a8),
                    ctrl.b8.eq(job.b8),
                    left.eq(ar.add(desc.k, 0xFFFF, 16)),
                ]
                m.next = "ADDR"
            with m.State("ADDR"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [o.a_addr.eq(ar.add(desc.a, a_off, aw)),
                             o.b_addr.eq(ar.add(desc.b, b_off, aw)),
                             ctrl.first.eq(1), ctrl.last.eq(left == 0),
                             self.o.valid.eq(1)]
                m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += self.busy.eq(1)
                with m.If(self.o.ready):
                    m.d.sync += [o.a_addr.eq(ar.add(o.a_addr, desc.lda, aw)),
                                 o.b_addr.eq(ar.add(o.b_addr, desc.ldb, aw)),
                                 left.eq(ar.add(left, 0xFFFF, 16)), ctrl.first.eq(0),
                                 ctrl.last.eq(left == 1)]
                    with m.If(ctrl.last):
                        m.d.sync += self.o.valid.eq(0)
                        with m.If(walk.advance(desc, [])):
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "SETUP"
        return m


class TileRowWalker(wiring.Component):
    """The address of every row of C (or D) of a GEMM, in the order the engine takes (drains)
    them: groups of 2×2 tiles as :class:`OperandWalker`, the existing tiles of a group in slot
    order, rows 0 .. T-1 of each.

    ``o`` carries the line address, the position of the tile's row in its line (``pos``, in
    rows of ``tile_cols`` FP32), the byte mask of the columns within n (at that position),
    ``zero`` for a row beyond m (its address is the last row's, so a read stays in range) and
    ``last`` on the GEMM's last row within m. Two cycles of set-up per tile, then one row per
    cycle while ``o`` is ready. The job's ``desc.c``/``ldc`` are the matrix walked (the parent
    puts ``d``/``ldd`` there for D).
    """

    def __init__(self, config, *, addr_bits):
        self.config = config
        self.addr_bits = addr_bits
        u = config.tile_cols
        super().__init__({
            "job": In(stream.Signature(Job)),
            "o": Out(stream.Signature(data.StructLayout({
                "addr": addr_bits, "pos": range(LINE // (4 * u)), "mask": LINE, "zero": 1,
                "last": 1}))),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ar = _Arith(m, "rw")
        aw = self.addr_bits
        t, u = self.config.tile_rows, self.config.tile_cols
        row_bytes = 4 * u
        job = Signal(Job)
        desc = job.desc
        walk = _GroupWalk(m, ar, t, u)
        pair_base = Signal(aw)      # the address of the group's first row
        tile_base = Signal(aw)
        col_off = Signal(aw)
        slot = Signal(range(PAIR * PAIR))
        row = Signal(range(t))
        rem_m = Signal(17)          # rows (columns) of the matrix from the tile's first on
        rem_n = Signal(17)
        left = Signal(17)           # rows of the matrix from this row on (<= 0 beyond m)
        o = self.o.payload
        di, dj = slot[1], slot[0]
        j = Cat(dj, walk.pj)        # the tile column
        le1 = left[-1] | (left[1:] == 0)

        def next_slot():
            with m.If(slot == PAIR * PAIR - 1):
                step = ar.add(pair_base, desc.ldc << _log2(PAIR * t), aw)
                m.d.sync += slot.eq(0)
                with m.If(walk.advance(desc, [pair_base.eq(step)])):
                    m.next = "IDLE"
                with m.Else():
                    m.next = "SETUP"
            with m.Else():
                m.d.sync += slot.eq(slot + 1)
                m.next = "SETUP"

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.job.ready.eq(1)
                with m.If(self.job.valid):
                    p = self.job.payload
                    m.d.sync += [job.eq(p), walk.start(p.desc), pair_base.eq(p.desc.c),
                                 slot.eq(0)]
                    m.next = "SETUP"
            with m.State("SETUP"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [
                    tile_base.eq(ar.add(pair_base, Mux(di, desc.ldc << _log2(t), 0), aw)),
                    col_off.eq((j << _log2(row_bytes)) & ~(LINE - 1)),
                    o.pos.eq(_low(j, LINE // row_bytes)),
                    rem_m.eq(ar.sub(walk.rem_m, Mux(di, t, 0), 17)[0]),
                    rem_n.eq(ar.sub(walk.rem_n, Mux(dj, u, 0), 17)[0]),
                    row.eq(0),
                ]
                with m.If(walk.exists(di, dj)):
                    m.next = "ADDR"
                with m.Else():
                    next_slot()
            with m.State("ADDR"):
                m.d.comb += self.busy.eq(1)
                last_tile = ~_gt(rem_m, t) & ~_gt(rem_n, u)
                cols = Cat(_gt(rem_n, c).replicate(4) for c in range(u))
                m.d.sync += [o.addr.eq(ar.add(tile_base, col_off, aw)), o.zero.eq(0),
                             o.mask.eq(cols << (o.pos << _log2(row_bytes))),
                             o.last.eq(last_tile & (rem_m == 1)), left.eq(rem_m),
                             self.o.valid.eq(1)]
                m.next = "ROWS"
            with m.State("ROWS"):
                m.d.comb += self.busy.eq(1)
                with m.If(self.o.ready):
                    last_tile = ~_gt(rem_m, t) & ~_gt(rem_n, u)
                    m.d.sync += [row.eq(row + 1), left.eq(ar.add(left, 0x1FFFF, 17)),
                                 o.zero.eq(le1), o.last.eq(last_tile & (left == 2))]
                    with m.If(~le1):
                        m.d.sync += o.addr.eq(ar.add(o.addr, desc.ldc, aw))
                    with m.If(row == t - 1):
                        m.d.sync += self.o.valid.eq(0)
                        next_slot()
        return m


class BeatMaker(wiring.Component):
    """Four beats from each k's control and its pair of lines: slot s = 2·di + dj takes the A
    elements of tile row di and the B elements of tile column dj of the group, elements beyond
    m and n zeroed, CFP8 codes right-aligned in their 16-bit lanes; a slot without a tile is a
    ``skip`` beat. ``beat`` is a register (one beat per cycle while ready); ``busy`` while a
    beat is held or a k is half used."""

    def __init__(self, config):
        self.config = config
        super().__init__({
            "ctrl": In(stream.Signature(_ctrl_layout(config))),
            "a": In(stream.Signature(8 * LINE)),
            "b": In(stream.Signature(8 * LINE)),
            "beat": Out(stream.Signature(engine_layouts(config)["beat"])),
            "busy": Out(1),
        })

    @staticmethod
    def _lanes(line, pos, half, wide8, mask, n):
        """``n`` 16-bit lanes: chunk ``pos`` half ``half`` of ``line`` (BF16 or CFP8)."""
        index = Cat(half, pos)
        bf16 = line.word_select(index, 16 * n)
        fp8 = line.word_select(index, 8 * n)
        fp8 = Cat(Cat(fp8[8 * e:8 * e + 8], Const(0, 8)) for e in range(n))
        keep = Mux(half, mask[n:], mask[:n])
        return Mux(wide8, fp8, bf16) & Cat(keep[e].replicate(16) for e in range(n))

    def elaborate(self, platform):
        m = Module()
        t, u = self.config.tile_rows, self.config.tile_cols
        slot = Signal(range(PAIR * PAIR))
        ctrl = self.ctrl.payload
        beat = self.beat.payload
        have = self.ctrl.valid & self.a.valid & self.b.valid
        take = have & (~self.beat.valid | self.beat.ready)
        di, dj = slot[1], slot[0]
        m.d.comb += [
            self.busy.eq(self.beat.valid | (slot != 0)),
            self.ctrl.ready.eq(take & (slot == PAIR * PAIR - 1)),
            self.a.ready.eq(self.ctrl.ready),
            self.b.ready.eq(self.ctrl.ready),
        ]
        with m.If(self.beat.ready):
            m.d.sync += self.beat.valid.eq(0)
        with m.If(take):
            m.d.sync += [
                self.beat.valid.eq(1),
                beat.a.eq(self._lanes(self.a.payload, ctrl.a_pos, di, ctrl.a8, ctrl.a_mask, t)),
                beat.b.eq(self._lanes(self.b.payload, ctrl.b_pos, dj, ctrl.b8, ctrl.b_mask, u)),
                beat.first.eq(ctrl.first),
                beat.last.eq(ctrl.last),
                beat.load.eq(ctrl.load),
                beat.skip.eq(ctrl.skip.bit_select(slot, 1)),
                slot.eq(slot + 1),
            ]
        return m


#: A command in flight, for its completion.
Record = data.StructLayout({"op": 1, "code": Error, "addr": 32, "signal": isa.Signal,
                            "thread": isa.THREAD_BITS})


class GemmRetire(wiring.Component):
    """The completions, in command order: a refused command at once (``error`` and ``done``),
    an MCFG once applied (``applied`` pulses), a GEMM once the write of its last D row has been
    acknowledged (``acked`` pulses). ``done``/``error`` are registers, one cycle after."""

    def __init__(self, *, depth=4):
        self.depth = depth
        super().__init__({
            "rec": In(stream.Signature(Record)),
            "applied": In(1),
            "acked": In(1),
            "done": Out(stream.Signature(Done, always_ready=True)),
            "error": Out(stream.Signature(ErrorRecord, always_ready=True)),
            "empty": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=Record.size, depth=self.depth)
        wiring.connect(m, wiring.flipped(self.rec), fifo.w_stream)
        head = Record(fifo.r_data)
        applied = Signal(range(self.depth + 2))
        acked = Signal(range(self.depth + 2))
        refused = head.code != Error.NONE
        is_cfg = head.op == MatrixFn.MCFG
        retire = fifo.r_rdy & (refused | Mux(is_cfg, applied != 0, acked != 0))
        m.d.comb += [fifo.r_en.eq(retire), self.empty.eq(~fifo.r_rdy & (fifo.w_level == 0))]
        m.d.sync += [
            applied.eq(applied + self.applied - (retire & ~refused & is_cfg)),
            acked.eq(acked + self.acked - (retire & ~refused & ~is_cfg)),
            self.done.valid.eq(retire),
            self.done.payload.signal.eq(head.signal),
            self.done.payload.thread.eq(head.thread),
            self.done.payload.last.eq(1),
            self.error.valid.eq(retire & refused),
            self.error.payload.code.eq(head.code),
            self.error.payload.addr.eq(head.addr),
        ]
        return m


class GemmSequencer(wiring.Component):
    """Matrix commands in; the engine's beats, C rows and configuration and the scratchpad's
    reads and writes out.

    Parameters
    ----------
    config : :class:`hw.matmul.config.MatmulConfig`
        The engine's (``D1``: 16×16 tiles, ``SMALL``: 8×8); ``tile_rows`` and ``tile_cols``
        powers of two up to 16, L = 4 slots, 16-bit operand lanes (BF16 among the formats).
    addr_bits : int, 8..32
    tag_width : int, 2..16
        Of the three scratchpad ports (the core puts a tag-routed arbiter in front of them).
    base, size : int
        The scratchpad's byte range (multiples of 64): every line a GEMM touches must lie in
        ``base .. base + size`` (Error.RANGE).
    read_depth : int, 2..16
        The ks in flight (A and B lines requested and not yet used).
    c_depth : int, 2..64
        C rows in flight (requested and not yet taken by the engine).

    Members
    -------
    cmd : ``In(stream.Signature(MatrixCommand))``
    a_req, a_resp : the shapes of the scratchpad's ``vr0`` (64-byte reads): rows of Aᵀ.
    b_req, b_resp : of ``vr1``: rows of B, C rows and descriptors (``tag[:2]``: :class:`Kind`).
    d_req, d_resp : of ``vw`` (64-byte writes with a byte mask): D rows (``tag[0]``: a GEMM's
        last row).
    beat, c, d, cfg : the engine's ``i``, ``c``, ``o`` and ``cfg`` (connect them; ``cfg`` is
        offered for one cycle: the engine's is always ready).
    done : ``Out(stream.Signature(Done, always_ready=True))``: one per command, in command
        order: a GEMM's when its last D write is acknowledged, an MCFG's when applied, a refused
        GEMM's at once.
    error : ``Out(stream.Signature(ErrorRecord, always_ready=True))``: a refused GEMM (with its
        ``done``): the code and the descriptor's address (:class:`GemmCheck` lists the rules).
    stall : ``Out(StallCause)``: what this cycle is, one-hot: busy (a beat taken), backpressure (a
        beat offered, not taken), port (a request offered, not taken), operand (work in
        progress, waiting), idle (no command).

    Contract: D = A·B (+ C with ``load_c``) bit for bit as ``verif.matmul.model.matmul``; a
    refused GEMM writes nothing; an MCFG is written to the engine only between GEMMs (after the
    previous GEMM's last beat was taken), and GEMMs taken after it use it. Operand reads are
    not checked again (the descriptor check proves them in range).
    """

    def __init__(self, config, *, addr_bits=32, tag_width=4, base=0, size=None, read_depth=8,
                 c_depth=16):
        from hw.sram.config import D1 as SRAM_D1

        self.config = check_instance("config", config, MatmulConfig)
        for name, n in (("tile_rows", config.tile_rows), ("tile_cols", config.tile_cols)):
            if n & (n - 1) or n > 16:
                raise ValueError(f"config.{name} must be a power of two up to 16, not {n}")
        if config.interleave != PAIR * PAIR:
            raise ValueError(f"config.interleave must be {PAIR * PAIR} (groups of {PAIR}×{PAIR} "
                             f"tiles), not {config.interleave}")
        if config.operand_width != 16:
            raise ValueError(f"config.operand_width must be 16 (BF16 lanes), not "
                             f"{config.operand_width}")
        self.addr_bits = check_int("addr_bits", addr_bits, 8, 32)
        self.tag_width = check_int("tag_width", tag_width, 2, 16)
        size = SRAM_D1.size if size is None else size
        self.base = check_int("base", base, 0, (1 << addr_bits) - LINE)
        self.size = check_int("size", size, LINE, (1 << addr_bits) - base)
        for name, v in (("base", base), ("size", size)):
            if v % LINE:
                raise ValueError(f"{name} must be a multiple of {LINE}, not {v}")
        self.read_depth = check_int("read_depth", read_depth, 2, 16)
        self.c_depth = check_int("c_depth", c_depth, 2, 64)
        layouts = engine_layouts(config)

        def port(reads, writes):
            return (memport.request_layout(addr_bits=addr_bits, tag_width=tag_width,
                                           width=LINE, reads=reads, writes=writes),
                    memport.response_layout(tag_width=tag_width, width=LINE, reads=reads))

        members = {"cmd": In(stream.Signature(MatrixCommand))}
        for name, reads in (("a", True), ("b", True), ("d", False)):
            req, resp = port(reads, not reads)
            members[f"{name}_req"] = Out(stream.Signature(req))
            members[f"{name}_resp"] = In(stream.Signature(resp))
        members.update({
            "beat": Out(stream.Signature(layouts["beat"])),
            "c": Out(stream.Signature(layouts["c_row"])),
            "d": In(stream.Signature(layouts["d_row"])),
            "cfg": Out(stream.Signature(OperandConfig)),
            "done": Out(stream.Signature(Done, always_ready=True)),
            "error": Out(stream.Signature(ErrorRecord, always_ready=True)),
            "stall": Out(StallCause),
        })
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.check = check = GemmCheck(addr_bits=self.addr_bits, base=self.base,
                                               size=self.size, formats=cfg.formats)
        m.submodules.walk = walk = OperandWalker(cfg, addr_bits=self.addr_bits)
        m.submodules.c_rows = c_rows = TileRowWalker(cfg, addr_bits=self.addr_bits)
        m.submodules.d_rows = d_rows = TileRowWalker(cfg, addr_bits=self.addr_bits)
        m.submodules.beats = beats = BeatMaker(cfg)
        m.submodules.retire = retire = GemmRetire()
        ctrl = _ctrl_layout(cfg)
        m.submodules.ctrl_fifo = ctrl_fifo = SyncFIFOBuffered(width=ctrl.size,
                                                              depth=self.read_depth)
        m.submodules.a_fifo = a_fifo = SyncFIFOBuffered(width=8 * LINE, depth=self.read_depth)
        m.submodules.b_fifo = b_fifo = SyncFIFOBuffered(width=8 * LINE, depth=self.read_depth)
        c_info = data.StructLayout({"pos": range(LINE // (4 * cfg.tile_cols)), "zero": 1})
        m.submodules.c_info = c_info_fifo = SyncFIFOBuffered(width=c_info.size,
                                                             depth=self.c_depth)
        c_width = engine_layouts(cfg)["c_row"].size
        m.submodules.c_fifo = c_fifo = SyncFIFOBuffered(width=c_width, depth=self.c_depth)

        wiring.connect(m, wiring.flipped(self.cmd), check.cmd)
        wiring.connect(m, ctrl_fifo.r_stream, beats.ctrl)
        wiring.connect(m, a_fifo.r_stream, beats.a)
        wiring.connect(m, b_fifo.r_stream, beats.b)
        wiring.connect(m, beats.beat, wiring.flipped(self.beat))
        wiring.connect(m, c_fifo.r_stream, wiring.flipped(self.c))
        wiring.connect(m, retire.done, wiring.flipped(self.done))
        wiring.connect(m, retire.error, wiring.flipped(self.error))

        held = self._dispatch(m, check, walk, c_rows, d_rows, retire, ctrl_fifo, beats)
        self._reads(m, check, walk, c_rows, ctrl_fifo, a_fifo, b_fifo, c_info, c_info_fifo,
                    c_fifo)
        self._writes(m, d_rows, retire)

        # The cause of each cycle, for the counters.
        beat, busy_beat = self.beat, Signal()
        waiting = Cat(p.valid & ~p.ready for p in (self.a_req, self.b_req, self.d_req)).any()
        idle = (~check.o.valid & ~check.busy & retire.empty & ~walk.busy & ~c_rows.busy &
                ~d_rows.busy & ~beats.busy & ~held)
        m.d.comb += [
            busy_beat.eq(beat.valid & beat.ready),
            self.stall.busy.eq(busy_beat),
            self.stall.backpressure.eq(beat.valid & ~beat.ready),
            self.stall.port.eq(~beat.valid & waiting),
            self.stall.idle.eq(~beat.valid & ~waiting & idle),
            self.stall.operand.eq(~beat.valid & ~waiting & ~idle),
        ]
        return m

    def _dispatch(self, m, check, walk, c_rows, d_rows, retire, ctrl_fifo, beats):
        """The checked command to its walkers and its completion record: an eager fork, each
        target taking the entry once. A GEMM's A/B job and an MCFG go through ``beat_job`` (one
        register) in order: an MCFG there waits until the previous GEMM's last beat is taken,
        then writes the engine's configuration, while the C and D walkers go on with the next
        GEMM (FP32 rows do not depend on the formats). Returns 1 while work waits there."""
        e = check.o.payload
        run = (e.code == Error.NONE) & (e.cmd.op == MatrixFn.MGEMM)
        is_cfg = (e.code == Error.NONE) & (e.cmd.op == MatrixFn.MCFG)
        job = Signal(Job)
        d_job = Signal(Job)
        m.d.comb += [job.eq(Cat(e.desc, e.a8, e.b8)), d_job.eq(job),
                     d_job.desc.c.eq(e.desc.d), d_job.desc.ldc.eq(e.desc.ldd)]
        # The register in front of the operand walker and the configuration write.
        beat_job = stream.Signature(data.StructLayout({"cfg": 1, "job": Job})).flip().create()
        held = Signal(data.StructLayout({"valid": 1, "cfg": 1, "job": Job}))
        m.d.comb += beat_job.ready.eq(~held.valid)
        with m.If(beat_job.valid & beat_job.ready):
            m.d.sync += [held.valid.eq(1), held.cfg.eq(beat_job.payload.cfg),
                         held.job.eq(beat_job.payload.job)]
        m.d.comb += [beat_job.payload.cfg.eq(is_cfg), beat_job.payload.job.eq(job)]
        targets = [
            (beat_job, run | is_cfg, job),
            (c_rows.job, run & e.desc.load_c, job),
            (d_rows.job, run, d_job),
            (retire.rec, Const(1), None),
        ]
        taken = Signal(len(targets))
        dones = []
        for n, (target, need, payload) in enumerate(targets):
            m.d.comb += target.valid.eq(check.o.valid & need & ~taken[n])
            dones.append(~need | taken[n] | target.ready)
            if payload is not None and target is not beat_job:
                m.d.comb += target.payload.eq(payload)
        rec = retire.rec.payload
        m.d.comb += [rec.op.eq(e.cmd.op), rec.code.eq(e.code), rec.addr.eq(e.cmd.value),
                     rec.signal.eq(e.cmd.signal), rec.thread.eq(e.cmd.thread)]
        fired = Cat(t.valid & t.ready for t, *_ in targets)
        m.d.comb += check.o.ready.eq(Cat(dones).all())
        with m.If(check.o.valid & check.o.ready):
            m.d.sync += taken.eq(0)
        with m.Else():
            m.d.sync += taken.eq(taken | fired)

        # The held job: to the operand walker, or (MCFG) to the engine once the beats of the
        # GEMMs before it have all been taken.
        drained = (~walk.busy & ~walk.o.valid & ~ctrl_fifo.r_rdy & (ctrl_fifo.level == 0) &
                   ~beats.busy)
        write = held.valid & held.cfg & drained
        m.d.comb += [walk.job.valid.eq(held.valid & ~held.cfg), walk.job.payload.eq(held.job)]
        with m.If(write | (walk.job.valid & walk.job.ready)):
            m.d.sync += held.valid.eq(0)
        m.d.sync += [self.cfg.valid.eq(write), retire.applied.eq(write),
                     self.cfg.payload.eq(held.job.desc.as_value()[:OperandConfig.as_shape().size])]
        m.d.comb += beat_job.payload.job.desc.eq(Mux(is_cfg, e.cmd.value, e.desc))
        return held.valid

    def _reads(self, m, check, walk, c_rows, ctrl_fifo, a_fifo, b_fifo, c_info, c_info_fifo,
               c_fifo):
        """The read ports: A on ``a``; B, then C, then descriptors on ``b`` (one request
        register each); the responses into their FIFOs, which always have room (a read is only
        issued with room for its answer), so the response streams are always ready."""
        a_req, b_req = self.a_req, self.b_req
        # A and B of a k go out together; the B read waits in ``b_op`` for port b. It goes
        # before C reads while fewer than half the ks in flight are buffered (the beats need
        # it soon), after them otherwise (a group's C rows then go in one burst, and at the
        # start of a GEMM its first C tiles, which the first beats wait for, go first).
        b_op = Signal(self.addr_bits)
        b_op_valid = Signal()
        urgent = ctrl_fifo.level < self.read_depth // 2
        a_free = ~a_req.valid | a_req.ready
        b_free = ~b_req.valid | b_req.ready
        # C rows: credits for the rows requested and not yet taken by the engine.
        credit = Signal(range(self.c_depth + 1))
        c_room = (credit < self.c_depth) & c_info_fifo.w_rdy
        c_go = c_rows.o.valid & c_rows.o.ready
        b_go = b_free & b_op_valid & (urgent | ~(c_rows.o.valid & c_room))
        m.d.comb += [
            walk.o.ready.eq(a_free & (~b_op_valid | b_go) & ctrl_fifo.w_rdy),
            ctrl_fifo.w_data.eq(walk.o.payload.ctrl),
            ctrl_fifo.w_en.eq(walk.o.valid & walk.o.ready),
            c_rows.o.ready.eq(b_free & ~(b_op_valid & urgent) & c_room),
            check.desc_req.ready.eq(b_free & ~b_op_valid & ~(c_rows.o.valid & c_room)),
            c_info_fifo.w_data.eq(Cat(c_rows.o.payload.pos, c_rows.o.payload.zero)),
            c_info_fifo.w_en.eq(c_go),
        ]
        with m.If(a_req.ready):
            m.d.sync += a_req.valid.eq(0)
        with m.If(walk.o.valid & walk.o.ready):
            m.d.sync += [a_req.valid.eq(1), a_req.payload.addr.eq(walk.o.payload.a_addr),
                         a_req.payload.tag.eq(0)]
        m.d.sync += credit.eq(credit + c_go - (self.c.valid & self.c.ready))
        with m.If(b_free):
            m.d.sync += b_req.valid.eq(0)
            with m.If(b_go):
                m.d.sync += [b_req.valid.eq(1), b_req.payload.addr.eq(b_op),
                             b_req.payload.tag.eq(Kind.B), b_op_valid.eq(0)]
            with m.Elif(c_go):
                m.d.sync += [b_req.valid.eq(1), b_req.payload.addr.eq(c_rows.o.payload.addr),
                             b_req.payload.tag.eq(Kind.C)]
            with m.Elif(check.desc_req.valid & check.desc_req.ready):
                m.d.sync += [b_req.valid.eq(1), b_req.payload.addr.eq(check.desc_req.payload),
                             b_req.payload.tag.eq(Kind.DESC)]
        with m.If(walk.o.valid & walk.o.ready):
            m.d.sync += [b_op.eq(walk.o.payload.b_addr), b_op_valid.eq(1)]

        # Responses.
        a_resp, b_resp = self.a_resp, self.b_resp
        kind = b_resp.payload.tag[:2]
        info = c_info(c_info_fifo.r_data)
        row_bits = 32 * self.config.tile_cols
        row = b_resp.payload.data.word_select(info.pos, row_bits)
        m.d.comb += [
            a_resp.ready.eq(1),
            a_fifo.w_data.eq(a_resp.payload.data),
            a_fifo.w_en.eq(a_resp.valid),
            b_resp.ready.eq(1),
            b_fifo.w_data.eq(b_resp.payload.data),
            b_fifo.w_en.eq(b_resp.valid & (kind == Kind.B)),
            c_fifo.w_data.eq(Mux(info.zero, 0, row)),
            c_fifo.w_en.eq(b_resp.valid & (kind == Kind.C)),
            c_info_fifo.r_en.eq(c_fifo.w_en),
            check.desc_resp.valid.eq(b_resp.valid & (kind == Kind.DESC)),
            check.desc_resp.payload.data.eq(b_resp.payload.data),
            check.desc_resp.payload.status.eq(b_resp.payload.status),
        ]

    def _writes(self, m, d_rows, retire):
        """D rows to port ``d``: each engine row joined with its address; rows beyond m are
        taken and dropped. The acknowledgement of a GEMM's last row retires it."""
        d_req, d = self.d_req, self.d
        row = d_rows.o.payload
        free = ~d_req.valid | d_req.ready
        m.d.comb += [
            d.ready.eq(d_rows.o.valid & free),
            d_rows.o.ready.eq(d.valid & free),
            self.d_resp.ready.eq(1),
            retire.acked.eq(self.d_resp.valid & self.d_resp.payload.tag[0]),
        ]
        with m.If(d_req.ready):
            m.d.sync += d_req.valid.eq(0)
        with m.If(d.valid & d.ready & ~row.zero):
            reps = LINE // (4 * self.config.tile_cols)
            m.d.sync += [d_req.valid.eq(1), d_req.payload.addr.eq(row.addr),
                         d_req.payload.data.eq(d.payload.data.as_value().replicate(reps)),
                         d_req.payload.mask.eq(row.mask), d_req.payload.tag.eq(row.last)]
