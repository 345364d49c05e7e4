"""One matrix array: ``rows × cols`` FP32 accumulators advanced by rank-1 updates of BF16/CFP8
operands.

Each beat brings one column of A (``rows`` elements) and one row of B (``cols`` elements); the
processing element (i, j) performs the fused step ``acc = RNE_fp32(acc + a_i · b_j)`` on it. The
FMA is pipelined: its result comes back to its ``c`` input ``L = latency - c_delay`` beats later,
so the array works on L output tiles in turn, one beat each ("slots" 0..L-1 of a round), and the
accumulators live in the FMA pipeline itself. The contract is docs/matmul.md.

The pieces, each a component: :class:`ArrayControl` (the beat handshake, the pipeline's enable,
which c each step takes, the configuration register), :class:`ProcessingElement` (one FMA with its
c select and sticky flags), :class:`TileLoader` (the C tiles, written by rows, read whole) and
:class:`TileDrain` (finished tiles, written whole, read by rows). :class:`MatmulArray` only
instantiates and wires them.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.common.params import check_int, check_tag_width
from hw.common.shared import shared
from hw.fp.formats import BIAS_BITS, FP32, Flags, FormatCode

from .config import MATMUL_FORMATS, UNIT_DIM_MAX, check_formats

__all__ = [
    "CSource", "OperandConfig", "beat_layout", "beat_control_layout", "c_row_layout",
    "d_row_layout", "result_row_layout", "operand_width", "ArrayControl", "ProcessingElement",
    "TileLoader", "TileDrain", "MatmulArray", "DEFAULT_OPERANDS",
]

#: Largest buffer depth, in tiles, of the C-load and drain buffers.
BUFFER_TILES_MAX = 64


class CSource(enum.Enum, shape=2):
    """Where a fused step takes its ``c`` (the accumulator it adds to)."""
    FEEDBACK = 0  #: the same slot's previous result: the accumulation goes on
    LOAD = 1      #: the C tile at the head of the load buffer: a tile starts from C
    ZERO = 2      #: +0: a tile starts from zero (``acc = RNE(+0 + a·b)``, as the model)


class OperandConfig(data.Struct):
    """The configuration register: format and bias of each operand (bias ignored for BF16).

    A format code the FMA was not built for (FP32, a format left out of ``formats``, 6, 7) gives
    every step the FMA's defined answer: canonical NaN and Invalid.
    """
    a_fmt: FormatCode
    a_bias: BIAS_BITS
    b_fmt: FormatCode
    b_bias: BIAS_BITS


#: The register's value after reset: BF16 × BF16.
DEFAULT_OPERANDS = {"a_fmt": FormatCode.BF16, "a_bias": 0, "b_fmt": FormatCode.BF16, "b_bias": 0}


def _check_dims(rows, cols):
    check_int("rows", rows, 1, UNIT_DIM_MAX)
    check_int("cols", cols, 1, UNIT_DIM_MAX)


def operand_width(formats):
    """Bits of an operand lane: the widest of ``formats`` (BF16's 16, or CFP8's 8)."""
    from hw.fp.formats import get_format

    return max(get_format(f).width for f in check_formats(formats))


def beat_control_layout(tag_width):
    """The control fields of a beat (see :func:`beat_layout`)."""
    return data.StructLayout({
        "first": 1,
        "load": 1,
        "last": 1,
        "skip": 1,
        "tag": check_tag_width(tag_width),
    })


def beat_layout(rows, cols, width, tag_width):
    """Payload of a beat: a column of A, a row of B, and where the beat sits in its tile.

    ``a`` and ``b`` hold raw operand codes right-aligned in ``width``-bit lanes. ``first``: the
    tile's first beat (k = 0), which starts from the C tile at the head of the load buffer
    (``load``) or from zero. ``last``: its last beat (k = K - 1), after which the tile drains.
    ``skip``: an empty slot (no tile; the beat's other fields are ignored), which pads a round to
    L beats. ``tag`` travels to the tile's output rows (the last beat's tag is the one kept).
    """
    fields = {"a": data.ArrayLayout(width, rows), "b": data.ArrayLayout(width, cols)}
    fields.update((name, field.shape) for name, field in beat_control_layout(tag_width))
    return data.StructLayout(fields)


def c_row_layout(cols):
    """Payload of a C row: ``cols`` FP32 codes."""
    return data.StructLayout({"data": data.ArrayLayout(FP32.width, cols)})


def result_row_layout(cols):
    """One row of a finished tile: values and each element's sticky flags."""
    return data.StructLayout({
        "data": data.ArrayLayout(FP32.width, cols),
        "flags": data.ArrayLayout(Flags, cols),
    })


def d_row_layout(rows, cols, tag_width):
    """Payload of an output row: values, sticky flags per element (the OR of every step's flags),
    the row's index in its tile, ``last`` on the tile's last row, and the tile's tag."""
    return data.StructLayout({
        "data": data.ArrayLayout(FP32.width, cols),
        "flags": data.ArrayLayout(Flags, cols),
        "row": range(rows),
        "last": 1,
        "tag": check_tag_width(tag_width),
    })


def _check_loop(latency, c_delay):
    check_int("latency", latency, 1, 64)
    check_int("c_delay", c_delay, 0, latency - 1)


class ArrayControl(wiring.Component):
    """The sequencing of an array: which beat enters, when the pipeline advances, which c a step
    takes, when a C tile is consumed and when a finished tile is handed to the drain.

    Parameters (keyword-only)
    -------------------------
    latency, c_delay : int
        The FMA's: ``c`` is sampled ``c_delay`` and the result appears ``latency`` pipeline steps
        after ``a`` and ``b``. ``L = latency - c_delay`` (at least 1) slots are interleaved.
    tag_width : int, 0..16

    Members
    -------
    valid, ready, beat : the beat handshake (``beat`` holds the control fields of the payload).
    cfg : ``In(stream.Signature(OperandConfig))``, always ready; the register ``operands`` takes
        the written value at the end of the write cycle: beats accepted later use it.
    en : the pipeline steps when 1: on every accepted beat, and while no slot holds an
        unfinished tile (no accumulator can be lost then), to push finished tiles out.
    c_sel : the c of the step at the FMA's c stage; ``tile_valid``/``pop`` consume the head C tile.
    restart : the step leaving the FMA started its tile (its sticky flags start afresh).
    space/push/push_tag : hand a finished tile to the drain.
    """

    def __init__(self, *, latency, c_delay, tag_width=8):
        _check_loop(latency, c_delay)
        self.latency = latency
        self.c_delay = c_delay
        self.tag_width = check_tag_width(tag_width)
        super().__init__({
            "valid": In(1),
            "ready": Out(1),
            "beat": In(beat_control_layout(tag_width)),
            "cfg": In(stream.Signature(OperandConfig)),
            "operands": Out(OperandConfig, init=DEFAULT_OPERANDS),
            "en": Out(1),
            "c_sel": Out(CSource),
            "tile_valid": In(1),
            "pop": Out(1),
            "restart": Out(1),
            "space": In(1),
            "push": Out(1),
            "push_tag": Out(tag_width),
        })

    @property
    def interleave(self):
        return self.latency - self.c_delay

    def elaborate(self, platform):
        m = Module()
        n_slots = self.interleave
        token = data.StructLayout({"valid": 1, "first": 1, "load": 1, "last": 1,
                                   "tag": self.tag_width})

        # The configuration register.
        m.d.comb += self.cfg.ready.eq(1)
        with m.If(self.cfg.valid):
            m.d.sync += self.operands.eq(self.cfg.payload)

        # The token of each step in the FMA pipeline: stage j holds the beat that entered j steps
        # ago. A bubble (a step with no beat) and a skip beat enter as invalid tokens.
        incoming = Signal(token)
        m.d.comb += [
            incoming.valid.eq(self.valid & ~self.beat.skip),
            incoming.first.eq(self.beat.first),
            incoming.load.eq(self.beat.load),
            incoming.last.eq(self.beat.last),
            incoming.tag.eq(self.beat.tag),
        ]
        stages = [incoming] + [Signal(token, name=f"stage{j}")
                               for j in range(1, self.latency + 1)]
        at_c = stages[self.c_delay]       # the step whose c is sampled now
        leaving = stages[self.latency]    # the step whose result is at the FMA's output

        # Stalls: a tile that starts from C waits for its C tile; a finished tile waits for room.
        wait_c = at_c.valid & at_c.first & at_c.load & ~self.tile_valid
        wait_drain = leaving.valid & leaving.last & ~self.space
        stall = Signal()
        m.d.comb += stall.eq(wait_c | wait_drain)

        # ``live``: slots whose tile has had its first beat but not its last. Only while none is
        # live may the pipeline step without a beat (a bubble), which drains the last tiles.
        live = Signal(n_slots)
        slot = Signal(range(n_slots))
        pending = Cat(s.valid for s in stages[1:]).any()
        accept = Signal()
        m.d.comb += [
            accept.eq(self.valid & ~stall),
            self.ready.eq(~stall),
            self.en.eq(~stall & (self.valid | (~live.any() & pending))),
        ]
        with m.If(self.en):
            for j in range(1, self.latency + 1):
                m.d.sync += stages[j].eq(stages[j - 1])
        with m.If(accept):
            m.d.sync += [
                live.bit_select(slot, 1).eq(~self.beat.skip & ~self.beat.last),
                slot.eq(Mux(slot == n_slots - 1, 0, slot + 1)),
            ]

        def source(tok):
            return Mux(tok.valid & tok.first, Mux(tok.load, CSource.LOAD, CSource.ZERO),
                       CSource.FEEDBACK)

        # ``c_sel`` is a register (the decode of the step entering the c stage), so the c mux in
        # front of every FMA's c input is the only logic this adds to the FMA's c stage.
        if self.c_delay == 0:
            m.d.comb += self.c_sel.eq(source(at_c))
        else:
            c_sel = Signal(CSource, name="c_sel_reg")
            with m.If(self.en):
                m.d.sync += c_sel.eq(source(stages[self.c_delay - 1]))
            m.d.comb += self.c_sel.eq(c_sel)
        m.d.comb += [
            self.pop.eq(self.en & at_c.valid & at_c.first & at_c.load),
            self.restart.eq(leaving.first),
            self.push.eq(self.en & leaving.valid & leaving.last),
            self.push_tag.eq(leaving.tag),
        ]
        return m


class ProcessingElement(wiring.Component):
    """One FMA, its c select and its sticky flags: ``z = RNE(c + a·b)``, one step per ``en``.

    ``z`` and ``flags`` belong to the step leaving the pipeline: ``flags`` is that step's flags
    ORed with those of the earlier steps of its tile (``restart`` marks a tile's first step), kept
    in a delay line as deep as the accumulator loop.
    """

    def __init__(self, *, width=16, formats=MATMUL_FORMATS):
        from hw.fp.fma import FMAPipe

        self.formats = check_formats(formats)
        self.width = check_int("width", width, 1, 32)
        self._fma = FMAPipe(ab_formats=self.formats)
        self.latency = self._fma.latency
        self.c_delay = self._fma.c_delay
        super().__init__({
            "en": In(1),
            "a": In(width),
            "b": In(width),
            "operands": In(OperandConfig),
            "c_sel": In(CSource),
            "c_load": In(FP32.width),
            "restart": In(1),
            "z": Out(FP32.width),
            "flags": Out(Flags),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fma = fma = self._fma
        ops = self.operands
        m.d.comb += [
            # Every step computes (the array tracks its own valid): i.valid stays 0, o.valid
            # is unused and synthesis removes its delay line.
            fma.en.eq(self.en),
            fma.i.payload.a.eq(self.a),
            fma.i.payload.b.eq(self.b),
            fma.i.payload.a_fmt.eq(ops.a_fmt),
            fma.i.payload.a_bias.eq(ops.a_bias),
            fma.i.payload.b_fmt.eq(ops.b_fmt),
            fma.i.payload.b_bias.eq(ops.b_bias),
            fma.c.eq(Mux(self.c_sel == CSource.FEEDBACK, fma.o.payload.z,
                         Mux(self.c_sel == CSource.LOAD, self.c_load, 0))),
            self.z.eq(fma.o.payload.z),
        ]
        # The sticky flags of a slot go round a delay line of L steps beside the accumulator.
        depth = self.latency - self.c_delay
        line = [Signal(Flags, name=f"sticky{j}") for j in range(depth)]
        sticky = Signal(Flags)
        m.d.comb += [
            sticky.eq(fma.o.payload.flags.as_value() | Mux(self.restart, 0, line[-1].as_value())),
            self.flags.eq(sticky),
        ]
        with m.If(self.en):
            m.d.sync += line[0].eq(sticky)
            for j in range(1, depth):
                m.d.sync += line[j].eq(line[j - 1])
        return m


def _next(ptr, depth):
    return Mux(ptr == depth - 1, 0, ptr + 1)


class TileLoader(wiring.Component):
    """The C-load buffer: a FIFO of ``depth`` tiles, written one row per transfer, read whole.

    ``c`` takes rows 0..rows-1 of each tile in order; it is ready while a tile slot is free.
    ``valid`` says the head tile is complete, ``tile`` holds it, ``pop`` releases it.
    """

    def __init__(self, *, rows=8, cols=8, depth=4):
        _check_dims(rows, cols)
        self.rows, self.cols = rows, cols
        self.depth = check_int("depth", depth, 1, BUFFER_TILES_MAX)
        super().__init__({
            "c": In(stream.Signature(c_row_layout(cols))),
            "tile": Out(data.ArrayLayout(data.ArrayLayout(FP32.width, cols), rows)),
            "valid": Out(1),
            "pop": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        depth = self.depth
        head = Signal(range(depth))
        tail = Signal(range(depth))
        count = Signal(range(depth + 1))   # complete tiles held
        row = Signal(range(self.rows))    # next row of the tile being written
        take = self.c.valid & self.c.ready
        done = take & (row == self.rows - 1)
        m.d.comb += [self.c.ready.eq(count < depth), self.valid.eq(count != 0)]
        for r in range(self.rows):
            mem = Memory(shape=data.ArrayLayout(FP32.width, self.cols), depth=depth, init=[])
            m.submodules[f"row{r}"] = mem
            wp = mem.write_port()
            rp = mem.read_port(domain="comb")
            m.d.comb += [
                wp.addr.eq(tail),
                wp.data.eq(self.c.payload.data),
                wp.en.eq(take & (row == r)),
                rp.addr.eq(head),
                self.tile[r].eq(rp.data),
            ]
        with m.If(take):
            m.d.sync += row.eq(Mux(done, 0, row + 1))
        with m.If(done):
            m.d.sync += tail.eq(_next(tail, depth))
        with m.If(self.pop):
            m.d.sync += head.eq(_next(head, depth))
        m.d.sync += count.eq(count + done - self.pop)
        return m


class TileDrain(wiring.Component):
    """The drain buffer: a FIFO of ``depth`` finished tiles, written whole, read one row per
    transfer on ``o`` (rows 0..rows-1 of each tile in order, ``last`` on the last).

    ``space`` says a tile can be pushed; ``push`` writes ``tile`` and ``tag``. ``o`` is a register:
    its valid never depends on its ready and it holds while not ready.
    """

    def __init__(self, *, rows=8, cols=8, depth=4, tag_width=8):
        _check_dims(rows, cols)
        self.rows, self.cols = rows, cols
        self.depth = check_int("depth", depth, 1, BUFFER_TILES_MAX)
        self.tag_width = check_tag_width(tag_width)
        super().__init__({
            "tile": In(data.ArrayLayout(result_row_layout(cols), rows)),
            "tag": In(tag_width),
            "push": In(1),
            "space": Out(1),
            "o": Out(stream.Signature(d_row_layout(rows, cols, tag_width))),
        })

    def elaborate(self, platform):
        m = Module()
        depth, rows = self.depth, self.rows
        head = Signal(range(depth))
        tail = Signal(range(depth))
        count = Signal(range(depth + 1))
        row = Signal(range(rows))          # next row of the head tile to send
        ports = []
        for r in range(rows):
            mem = Memory(shape=result_row_layout(self.cols), depth=depth, init=[])
            m.submodules[f"row{r}"] = mem
            wp = mem.write_port()
            rp = mem.read_port(domain="comb")
            m.d.comb += [wp.addr.eq(tail), wp.data.eq(self.tile[r]), wp.en.eq(self.push),
                         rp.addr.eq(head)]
            ports.append(rp)
        tags = Memory(shape=max(self.tag_width, 1), depth=depth, init=[])
        m.submodules.tags = tags
        tag_wp = tags.write_port()
        tag_rp = tags.read_port(domain="comb")
        m.d.comb += [tag_wp.addr.eq(tail), tag_wp.data.eq(self.tag), tag_wp.en.eq(self.push),
                     tag_rp.addr.eq(head), self.space.eq(count < depth)]

        # The output register takes the next row whenever it is empty or being taken.
        send = Signal()
        advance = ~self.o.valid | self.o.ready
        m.d.comb += send.eq(advance & (count != 0))
        finish = send & (row == rows - 1)
        selected = Signal(result_row_layout(self.cols))
        with m.Switch(row):
            for r in range(rows):
                with m.Case(r):
                    m.d.comb += selected.eq(ports[r].data)
        with m.If(advance):
            m.d.sync += self.o.valid.eq(count != 0)
        with m.If(send):
            m.d.sync += [
                self.o.payload.data.eq(selected.data),
                self.o.payload.flags.eq(selected.flags),
                self.o.payload.row.eq(row),
                self.o.payload.last.eq(row == rows - 1),
                self.o.payload.tag.eq(tag_rp.data),
                row.eq(Mux(finish, 0, row + 1)),
            ]
        with m.If(self.push):
            m.d.sync += tail.eq(_next(tail, depth))
        with m.If(finish):
            m.d.sync += head.eq(_next(head, depth))
        m.d.sync += count.eq(count + self.push - finish)
        return m


class MatmulArray(wiring.Component):
    """A ``rows × cols`` array of FP32 accumulators fed by rank-1 updates, one beat per cycle.

    Parameters (keyword-only)
    -------------------------
    rows, cols : int, 1..16
        The output tile (8 × 8 in D1).
    formats : sequence of format names
        Operand formats the FMAs are built for (any of ``bf16``, ``cfp8_143``, ``cfp8_152``);
        operand lanes are as wide as the widest.
    tag_width : int, 0..16
        Width of the tag a tile's beats carry to its output rows.

    Members
    -------
    i : ``In(stream.Signature(beat_layout(...)))``
        Beats (see :func:`beat_layout`). Beat n goes to slot ``n mod L``: a round of L beats
        advances L tiles by one k each. A slot's tile takes beats k = 0 (``first``) to K - 1
        (``last``) in consecutive rounds; ``skip`` fills a slot that has no tile.
    c : ``In(stream.Signature(c_row_layout(cols)))``
        C tiles, rows 0..rows-1 each, in the order the ``first``/``load`` beats use them.
    o : ``Out(stream.Signature(d_row_layout(rows, cols, tag_width)))``
        Finished tiles in the order of their last beats, rows 0..rows-1 each.
    cfg : ``In(stream.Signature(OperandConfig))``
        The configuration register (format and bias per operand), always ready; a write applies
        to the beats accepted after the write cycle. Reset: BF16 × BF16.

    Contract
    --------
    * Every tile's result is ``acc_ij = RNE_fp32(acc_ij + a_ik·b_kj)`` for k = 0..K-1 in order,
      from C or +0; its flags are the OR of its K steps' flags (per element).
    * One beat per cycle is accepted while the C tiles are there in time and the drain has room:
      L (``interleave``) tiles are in flight; a group of L tiles with K beats each takes L·K
      cycles, and drains rows·L rows meanwhile, so K >= rows sustains the peak.
    * Idle input cycles do not disturb the interleave: the pipeline steps only on accepted beats
      while some tile is unfinished, and on its own (empty steps) only when none is, to push the
      last results out. Backpressure on ``o`` stalls the pipeline once the drain buffer is full;
      nothing is lost. A beat that starts a tile from C waits (not ready) until that tile is in.
    * Misuse never hangs: a beat that continues a slot with no unfinished tile, or a ``skip``
      in a slot with one, gives that slot's tile an undefined value (and the other slots' are
      unaffected); a bad format code gives the FMA's canonical NaN with Invalid.
    """

    def __init__(self, *, rows=8, cols=8, formats=MATMUL_FORMATS, tag_width=8):
        _check_dims(rows, cols)
        self.rows, self.cols = rows, cols
        self.formats = check_formats(formats)
        self.tag_width = check_tag_width(tag_width)
        self.width = operand_width(self.formats)
        from .config import fma_timing

        self.latency, self.c_delay = fma_timing(tuple(self.formats))
        super().__init__({
            "i": In(stream.Signature(beat_layout(rows, cols, self.width, tag_width))),
            "c": In(stream.Signature(c_row_layout(cols))),
            "o": Out(stream.Signature(d_row_layout(rows, cols, tag_width))),
            "cfg": In(stream.Signature(OperandConfig)),
        })

    @property
    def interleave(self):
        """L, the number of tiles in flight (accumulator sets)."""
        return self.latency - self.c_delay

    def elaborate(self, platform):
        m = Module()
        rows, cols, depth = self.rows, self.cols, self.interleave
        m.submodules.control = ctl = ArrayControl(latency=self.latency, c_delay=self.c_delay,
                                                  tag_width=self.tag_width)
        m.submodules.loader = loader = TileLoader(rows=rows, cols=cols, depth=depth)
        m.submodules.drain = drain = TileDrain(rows=rows, cols=cols, depth=depth,
                                               tag_width=self.tag_width)
        wiring.connect(m, wiring.flipped(self.cfg), ctl.cfg)
        wiring.connect(m, wiring.flipped(self.c), loader.c)
        wiring.connect(m, drain.o, wiring.flipped(self.o))
        beat = self.i.payload
        m.d.comb += [
            ctl.valid.eq(self.i.valid),
            self.i.ready.eq(ctl.ready),
            ctl.beat.first.eq(beat.first),
            ctl.beat.load.eq(beat.load),
            ctl.beat.last.eq(beat.last),
            ctl.beat.skip.eq(beat.skip),
            ctl.beat.tag.eq(beat.tag),
            ctl.tile_valid.eq(loader.valid),
            loader.pop.eq(ctl.pop),
            ctl.space.eq(drain.space),
            drain.push.eq(ctl.push),
            drain.tag.eq(ctl.push_tag),
        ]
        for i in range(rows):
            for j in range(cols):
                pe = shared(ProcessingElement, width=self.width, formats=self.formats)
                m.submodules[f"pe_{i}_{j}"] = pe
                m.d.comb += [
                    pe.en.eq(ctl.en),
                    pe.a.eq(beat.a[i]),
                    pe.b.eq(beat.b[j]),
                    pe.operands.eq(ctl.operands),
                    pe.c_sel.eq(ctl.c_sel),
                    pe.c_load.eq(loader.tile[i][j]),
                    pe.restart.eq(ctl.restart),
                    drain.tile[i].data[j].eq(pe.z),
                    drain.tile[i].flags[j].eq(pe.flags),
                ]
        return m
