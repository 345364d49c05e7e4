"""The vector sequencer: ``VectorSequencer``, VOP commands to scratchpad reads, vector-unit
requests and scratchpad writes (docs/core.md, "Vector sequencer")."""

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from hw.common import memport
from hw.common.arith import add_many, compress, prefix_add, prefix_sub
from hw.common.params import check_int
from hw.common.pipeline import stage
from hw.sram.config import D1, LINE_BYTES
from hw.vector import isa as visa
from hw.vector.isa import VecOp
from hw.vector.unit import decode

from . import isa

__all__ = ["VectorSequencer", "OPERANDS"]

#: The vector operands each op reads from the scratchpad (docs/vector.md, "operands"): ``a``
#: alone for the unary ops, ``a, c`` for NARROW (``c`` holds the bytes it keeps), ``a, b, c``
#: for the FMA family and SELECT, nothing for RDFLAGS and CLRFLAGS (their ``a`` is ignored);
#: SEED reads ``a`` (lane 0 is the seed). Every other op reads ``a, b``.
_UNARY = (VecOp.ABS, VecOp.NEG, VecOp.NOT, VecOp.TO_I32, VecOp.TO_I32_RTZ, VecOp.TO_F32,
          VecOp.WIDEN, VecOp.REDSUM, VecOp.REDMAX, VecOp.REDMIN, VecOp.BCAST, VecOp.TRANSPOSE8,
          VecOp.SEED)
_TERNARY = (VecOp.FMA, VecOp.FMS, VecOp.FNMA, VecOp.FNMS, VecOp.SELECT)
OPERANDS = {op: ("a",) if op in _UNARY else ("a", "b", "c") if op in _TERNARY
            else ("a", "c") if op is VecOp.NARROW
            else () if op in (VecOp.RDFLAGS, VecOp.CLRFLAGS) else ("a", "b") for op in VecOp}



#: The operand FIFOs and the read (port, slot) that fills each: R0 reads ``a`` (slot x) and the
#: ``c`` of the even lines of an a, b, c op (slot y, FIFO c0); R1 reads ``b`` (x) and the other
#: ``c`` lines (y, FIFO c1). A read's tag is its slot, so each FIFO is filled in order by one
#: port.
_SLOTS = {"r0": {"x": "a", "y": "c0"}, "r1": {"x": "b", "y": "c1"}}
_SLOT_TAG = {"x": 0, "y": 1}
# Event kinds of the completion queue: what the event waits for before it completes.
_NOW, _WRITE, _RESULT = 0, 1, 2
_FRONT_STAGES = 4
#: Two's complement width of a line's offset from the scratchpad's start or end: a 32-bit
#: address less a 32-bit origin, plus (count - 1)·stride (16 × 16 bits signed).
_OFFSET_BITS = 36


def _fifo(m, name, layout, depth):
    """A buffered FIFO of ``layout`` entries; returns it and views of its write and read data."""
    fifo = SyncFIFOBuffered(width=Shape.cast(layout).width, depth=depth)
    m.submodules[name] = fifo
    return fifo, data.View(layout, fifo.w_data), data.View(layout, fifo.r_data)


def _sext(value, width):
    """``value`` (a signed value) sign-extended or truncated to ``width`` bits, unsigned."""
    v = Value.cast(value)
    return Cat(v, v[-1].replicate(max(width - len(v), 0)))[:width]


def _step(m, addr, stride, name):
    """``addr`` + the signed ``stride``, modulo ``2**len(addr)`` (a Kogge-Stone adder)."""
    return prefix_add(m, addr, _sext(stride.as_signed(), len(addr)), width=len(addr),
                      name=name)[0]


def _inc(m, value, name):
    return prefix_add(m, value, 1, width=len(value), name=name)[0]


def _updown(m, counter, up, down, name):
    """The next value of ``counter``: +1 on ``up`` alone, -1 on ``down`` alone. Both sums are
    formed from the register; the late ``up``/``down`` only select."""
    plus = _inc(m, counter, f"{name}_inc")
    minus = prefix_add(m, counter, (1 << len(counter)) - 1, width=len(counter),
                       name=f"{name}_dec")[0]
    return Mux(up & ~down, plus, Mux(down & ~up, minus, counter))


def _ge(m, x, y, name):
    """``x >= y`` for unsigned ``x``, ``y`` of one width (the carry of a prefix subtractor)."""
    return prefix_sub(m, x, y, width=len(x), name=name)[1]


def _one_of(value, members):
    return Cat(*(value == member for member in members)).any() if members else Const(0)


class VectorSequencer(wiring.Component):
    """The vector sequencer: runs each VOP command as ``count`` vector-unit operations on
    scratchpad lines.

    Parameters (keyword-only)
    -------------------------
    addr_bits : int, 8..32
        Width of the scratchpad ports' byte address.
    tag_width : int, 1..16
        Width of the scratchpad ports' tags (bit 0 names the slot of a read, :data:`_SLOTS`;
        the core top's arbiter adds its own bits).
    unit_tag_width : int, 1..64
        Width of the vector unit's tag (bit 0 marks an operand line the scratchpad refused).
    depth : int, 2..64
        Reads in flight per operand FIFO (``a``, ``b``, ``c0``, ``c1``: ``depth`` lines each)
        and writes awaiting their acknowledgement. One line per cycle needs the scratchpad's
        latency + 3.
    cmd_depth : int, 2..128
        Commands between the checks and their last write (each short command holds an entry
        for the scratchpad and unit latency: 40 keep one-line commands at one per cycle).
    base, size : int
        The scratchpad's byte addresses in the command's address space: ``base ..
        base + size - 1``: ``base`` a multiple of the smallest power of two that holds
        ``size`` (the scratchpad's window, ``hw.sram.config.SRAMConfig.base``), ``size`` of 64.
        Port addresses are the command's (absolute), as the scratchpad takes them.

    Members
    -------
    cmd : ``In(stream.Signature(isa.VectorCommand))``
    r0_req, r0_resp, r1_req, r1_resp : the scratchpad's ``vr0``/``vr1`` read ports (memport).
    w_req, w_resp : the scratchpad's ``vw`` write port (whole lines, mask all ones).
    req, resp : the vector unit's ``i`` and ``o`` (``hw.vector.isa`` layouts).
    done : ``Out(stream.Signature(isa.Done, always_ready=True))``, one per command, ``last`` 1.
    error : ``Out(stream.Signature(isa.ErrorRecord, always_ready=True))``, with its ``done``.
    result : ``Out(stream.Signature(isa.RegResult))``, one per ``to_reg`` command (value 0
        if the command is refused), before its ``done``.
    stall : ``Out(isa.StallCause)``, exactly one bit per cycle (docs/core.md defines them).

    Contract
    --------
    * Line ``i`` of a command reads the operands its op reads (:data:`OPERANDS`): ``a +
      i·stride_a`` on R0, ``b + i·stride_b`` on R1, ``c + i·stride_c`` on R1 (NARROW) or, for
      an op reading a, b and c, on R0 for even ``i`` and R1 for odd ``i``; sends them with the
      op's fields to the unit and writes the result to ``d + i·stride_d`` (or, with
      ``to_reg``, sends its low 64 bits on ``result``). Strides are signed.
    * Refused commands (``Error`` FIELD: count 0, or ``to_reg`` with count != 1; ILLEGAL_OP: a
      pair or conversion the unit refuses; ALIGN: an address or stride of a used operand not
      a multiple of 64; RANGE: a line of a used operand outside ``base .. base + size - 1``;
      checked in that order, before any read) write nothing and send ``error`` (code, the
      offending operand's address, or ``a`` for FIELD and ILLEGAL_OP) with their ``done``.
      A read or write the scratchpad refuses all the same is RANGE (the command's later
      lines are not written); a unit ``error`` is ILLEGAL_OP.
    * ``done`` (and ``error``) leave in command order, after the command's last write is
      acknowledged or its ``result`` taken.
    * A command that reads a line an earlier command in flight may still write waits until
      the earlier commands are done (conservatively: the hull of their destinations). Within
      one command, reads run ahead of writes (a command that reads its own destination at a
      later line is undefined).
    * One line per cycle for ops reading a, (a, b), (a, c) or nothing, two lines per three
      cycles for ops reading a, b and c; no bubble between commands. The first line enters
      the unit 9 cycles + the scratchpad's latency after the command is taken (2 without
      reads).
    """

    def __init__(self, *, addr_bits=32, tag_width=4, unit_tag_width=8, depth=16, cmd_depth=40,
                 base=0, size=D1.lines * LINE_BYTES):
        self.addr_bits = check_int("addr_bits", addr_bits, 8, 32)
        self.tag_width = check_int("tag_width", tag_width, 1, 16)
        self.unit_tag_width = check_int("unit_tag_width", unit_tag_width, 1, 64)
        self.depth = check_int("depth", depth, 2, 64)
        self.cmd_depth = check_int("cmd_depth", cmd_depth, 2, 128)
        self.base = check_int("base", base, 0, (1 << 32) - LINE_BYTES)
        if base % LINE_BYTES:
            raise ValueError(f"base must be a multiple of {LINE_BYTES}, not {base!r}")
        self.size = check_int("size", size, LINE_BYTES, min(1 << addr_bits, (1 << 32) - base))
        window = 1 << (size - 1).bit_length()
        if base % window:
            raise ValueError(f"base must be a multiple of {window:#x} (the window that holds "
                             f"size), not {base:#x}")
        if size % LINE_BYTES:
            raise ValueError(f"size must be a multiple of {LINE_BYTES}, not {size!r}")
        rd = memport.request_layout(addr_bits=addr_bits, tag_width=tag_width, width=LINE_BYTES,
                                    reads=True, writes=False)
        rd_resp = memport.response_layout(tag_width=tag_width, width=LINE_BYTES, reads=True)
        wr = memport.request_layout(addr_bits=addr_bits, tag_width=tag_width, width=LINE_BYTES,
                                    reads=False, writes=True)
        wr_resp = memport.response_layout(tag_width=tag_width, width=LINE_BYTES, reads=False)
        super().__init__({
            "cmd": In(stream.Signature(isa.VectorCommand)),
            "r0_req": Out(stream.Signature(rd)), "r0_resp": In(stream.Signature(rd_resp)),
            "r1_req": Out(stream.Signature(rd)), "r1_resp": In(stream.Signature(rd_resp)),
            "w_req": Out(stream.Signature(wr)), "w_resp": In(stream.Signature(wr_resp)),
            "req": Out(stream.Signature(visa.request_layout(unit_tag_width))),
            "resp": In(stream.Signature(visa.response_layout(unit_tag_width))),
            "done": Out(stream.Signature(isa.Done, always_ready=True)),
            "error": Out(stream.Signature(isa.ErrorRecord, always_ready=True)),
            "result": Out(stream.Signature(isa.RegResult)),
            "stall": Out(isa.StallCause),
        })

    # --- layouts of the queues between the parts -----------------------------------------------
    def _read_cmd(self):
        """A command for one read port: operand ``x`` on every line (if ``rx``), ``y`` (if
        ``ry``) on every line, or with ``alt`` on the lines of parity ``par`` only."""
        return data.StructLayout({"x": self.addr_bits, "y": self.addr_bits, "sx": 16, "sy": 17,
                                  "rx": 1, "ry": 1, "alt": 1, "par": 1, "cm1": 16})

    _join_cmd = data.StructLayout({"op": VecOp, "vtype": 3, "fmt": 3, "bias": 6, "rnd": 1,
                                   "imm": 6, "ra": 1, "rb": 1, "rc": 1, "alt": 1, "cm1": 16})
    _done_info = data.StructLayout({"signal": isa.Signal, "thread": isa.THREAD_BITS,
                                    "code": isa.Error, "addr": 32})

    def _write_cmd(self):
        return data.StructLayout({"d": self.addr_bits, "sd": 16, "cm1": 16, "to_reg": 1,
                                  "rd": 5, "info": self._done_info})

    _event = data.StructLayout({"kind": 2, "last": 1, "info": _done_info})

    def elaborate(self, platform):
        m = Module()
        f = self._front(m)
        r0_fifo, r0_w, _ = _fifo(m, "r0_cmds", self._read_cmd(), 4)
        r1_fifo, r1_w, _ = _fifo(m, "r1_cmds", self._read_cmd(), 4)
        j_fifo, j_w, _ = _fifo(m, "join_cmds", self._join_cmd, self.cmd_depth)
        w_fifo, w_w, _ = _fifo(m, "write_cmds", self._write_cmd(), self.cmd_depth)

        # The last check stage hands each command to the parts that take part in it, when all
        # of them have room (a refused command only to the writer, which reports it in order).
        ok = f.code == isa.Error.NONE
        to_r0, to_r1 = ok & f.reads["a"], ok & (f.reads["b"] | f.reads["c"])
        room = (r0_fifo.w_rdy | ~to_r0) & (r1_fifo.w_rdy | ~to_r1) & (j_fifo.w_rdy | ~ok) \
            & w_fifo.w_rdy
        m.d.comb += [f.take.eq(f.valid & room & ~self._hazard(m, f)),
                     r0_fifo.w_en.eq(f.take & to_r0), r1_fifo.w_en.eq(f.take & to_r1),
                     j_fifo.w_en.eq(f.take & ok), w_fifo.w_en.eq(f.take)]
        # Ops that read a, b and c read the c of even lines on R0 and of odd lines on R1
        # (3 reads per port per 2 lines); NARROW (a, c) reads every c on R1.
        cmd = f.cmd
        alt = f.reads["b"] & f.reads["c"]
        sc = cmd.strides.c.as_signed()
        m.d.comb += [r0_w.x.eq(f.rel["a"]), r0_w.sx.eq(cmd.strides.a), r0_w.rx.eq(1),
                     r0_w.y.eq(f.rel["c"]), r0_w.sy.eq(sc * 2), r0_w.ry.eq(alt),
                     r0_w.alt.eq(1), r0_w.par.eq(0), r0_w.cm1.eq(f.cm1),
                     r1_w.x.eq(f.rel["b"]), r1_w.sx.eq(cmd.strides.b), r1_w.rx.eq(f.reads["b"]),
                     r1_w.y.eq(Mux(alt, f.c_odd, f.rel["c"])), r1_w.sy.eq(Mux(alt, sc * 2, sc)),
                     r1_w.ry.eq(f.reads["c"]), r1_w.alt.eq(alt), r1_w.par.eq(1),
                     r1_w.cm1.eq(f.cm1)]
        m.d.comb += [getattr(j_w, n).eq(getattr(cmd.config, n))
                     for n in ("vtype", "fmt", "bias", "rnd", "imm")]
        m.d.comb += [j_w.op.eq(cmd.op), j_w.cm1.eq(f.cm1), j_w.alt.eq(alt),
                     j_w.ra.eq(f.reads["a"]), j_w.rb.eq(f.reads["b"]), j_w.rc.eq(f.reads["c"])]
        m.d.comb += [w_w.d.eq(f.rel["d"]), w_w.sd.eq(cmd.strides.d), w_w.cm1.eq(f.cm1),
                     w_w.to_reg.eq(cmd.to_reg), w_w.rd.eq(cmd.rd),
                     w_w.info.signal.eq(cmd.config.signal), w_w.info.thread.eq(cmd.thread),
                     w_w.info.code.eq(f.code), w_w.info.addr.eq(f.err_addr)]

        names = ("a", "b", "c0", "c1")
        ops = {name: _fifo(m, f"operand_{name}", data.StructLayout(
            {"data": visa.VECTOR_BITS, "bad": 1}), self.depth) for name in names}
        pops = {name: Signal(name=f"pop_{name}") for name in names}
        self._read_port(m, "r0", r0_fifo, self.r0_req, pops)
        self._read_port(m, "r1", r1_fifo, self.r1_req, pops)
        self._responses(m, ops)
        load, starved = self._join(m, j_fifo, ops, pops)
        w_blocked = self._write(m, w_fifo)

        # One stall cause per cycle, by priority: a line is joined into the unit's request (it
        # enters the unit next cycle, or as soon as the unit takes it); a joined line waits for
        # the unit, or a unit response for the W queue or the result register; a read port
        # refuses a request; the joiner waits for read data (or for the checks of a new
        # command); nothing is queued (including the cycles that only drain the unit and the
        # writes).
        s = self.stall
        port = (self.r0_req.valid & ~self.r0_req.ready) | (self.r1_req.valid & ~self.r1_req.ready)
        backpressure = (self.req.valid & ~self.req.ready) | w_blocked
        waiting = starved | (f.busy & ~j_fifo.r_rdy)
        m.d.comb += [
            s.busy.eq(load),
            s.backpressure.eq(~s.busy & backpressure),
            s.port.eq(~s.busy & ~backpressure & port),
            s.operand.eq(~s.busy & ~backpressure & ~port & waiting),
            s.idle.eq(~s.busy & ~backpressure & ~port & ~waiting),
        ]
        return m

    # --- the checks: four registered stages ---------------------------------------------------
    def _front(self, m):
        """Stages F1 (the command) .. F4 (its checks done). Returns the F4 registers and
        ``take`` (to drive: F4's command leaves), ``valid``, ``busy`` (a command in F1..F4)."""
        valid = [Signal(name=f"f{k + 1}_valid") for k in range(_FRONT_STAGES)]
        take = Signal()
        en = Signal()
        m.d.comb += [en.eq(~valid[-1] | take), self.cmd.ready.eq(en)]
        with m.If(en):
            m.d.sync += valid[0].eq(self.cmd.valid)
            m.d.sync += [valid[k + 1].eq(valid[k]) for k in range(_FRONT_STAGES - 1)]

        # F1: the command. F2: which operands it reads, its legality, the field and alignment
        # checks; per operand its address relative to the scratchpad's start and to its end,
        # and (count - 1)·stride as two carry-save rows (18 rows, 6 layers).
        f1 = stage(m, en, "f1", cmd=self.cmd.payload)
        cmd = f1.cmd
        reads = {n: _one_of(cmd.op, [op for op, used in OPERANDS.items() if n in used])
                 for n in "abc"}
        reads["d"] = ~cmd.to_reg
        count = cmd.config.count
        cm1 = prefix_add(m, count, 0xFFFF, width=16, name="f1_cm1")[0]
        legal = Cat(*decode(m, cmd.op, cmd.config.vtype, cmd.config.fmt,
                            cmd.config.imm).values()).any()
        field = (count == 0) | (cmd.to_reg & (count != 1))
        addr = {n: getattr(cmd, n) for n in "abcd"}
        stride = {n: getattr(cmd.strides, n).as_signed() for n in "abcd"}
        misaligned = {n: reads[n] & ((addr[n][:6] != 0) | (stride[n][:6] != 0)) for n in "abcd"}
        rows = {}
        for n in "abcd":
            # count·stride - stride: from count, not from count - 1, which is an adder late.
            partial = [_sext(Mux(count[k], stride[n], 0), _OFFSET_BITS - k) for k in range(16)]
            minus = [~_sext(stride[n], _OFFSET_BITS), Const(1, _OFFSET_BITS)]
            rows[n] = compress(m, [Cat(Const(0, k), p) for k, p in enumerate(partial)] + minus,
                               name=f"f1_{n}_pp")
        f2 = stage(m, en, "f2", cmd=cmd, cm1=cm1, field=field, legal=legal,
                   **{f"reads_{n}": reads[n] for n in "abcd"},
                   **{f"mis_{n}": misaligned[n] for n in "abcd"},
                   **{f"neg_{n}": stride[n] < 0 for n in "abcd"},
                   **{f"rel_{n}": self._offset(m, f"f1_rel_{n}", addr[n], self.base)
                      for n in "abcd"},
                   **{f"end_{n}": self._offset(m, f"f1_end_{n}", addr[n], self.base + self.size)
                      for n in "abcd"},
                   **{f"p0_{n}": rows[n][0] for n in "abcd"},
                   **{f"p1_{n}": rows[n][1] for n in "abcd"})

        # F3: the last line of each operand, also relative to the end; the signs say whether
        # the first and last lines are in range. F4: the error code and its address.
        last = {n: add_many(m, [getattr(f2, f"{k}_{n}") for k in ("rel", "p0", "p1")],
                            width=_OFFSET_BITS, name=f"f2_last_{n}") for n in "abcd"}
        last_end = {n: add_many(m, [getattr(f2, f"{k}_{n}") for k in ("end", "p0", "p1")],
                                width=_OFFSET_BITS, name=f"f2_last_end_{n}") for n in "abcd"}
        top = _OFFSET_BITS - 1
        f3 = stage(m, en, "f3", **{k: v for k, v in vars(f2).items()
                                   if not k.startswith(("p0_", "p1_", "end_"))},
                   **{f"last_{n}": last[n] for n in "abcd"},
                   **{f"out_{n}": getattr(f2, f"rel_{n}")[top] | ~getattr(f2, f"end_{n}")[top]
                      | last[n][top] | ~last_end[n][top] for n in "abcd"})
        code = Signal(isa.Error)
        err_addr = Signal(32)
        m.d.comb += err_addr.eq(f3.cmd.a)
        with m.If(f3.field):
            m.d.comb += code.eq(isa.Error.FIELD)
        with m.Elif(~f3.legal):
            m.d.comb += code.eq(isa.Error.ILLEGAL_OP)
        for error, bad in ((isa.Error.ALIGN, "mis"), (isa.Error.RANGE, "out")):
            for n in "abcd":
                with m.Elif(getattr(f3, f"reads_{n}") & getattr(f3, f"{bad}_{n}")):
                    m.d.comb += [code.eq(error), err_addr.eq(getattr(f3.cmd, n))]
        # The lowest and highest line of each operand (for the hazard check); c's first odd
        # line (R1's first c of an a, b, c op).
        bounds = {}
        for n in "abcd":
            first, lst = getattr(f3, f"rel_{n}"), getattr(f3, f"last_{n}")
            neg = getattr(f3, f"neg_{n}")
            bounds[f"lo_{n}"] = Mux(neg, lst, first)[:self.addr_bits]
            bounds[f"hi_{n}"] = Mux(neg, first, lst)[:self.addr_bits]
        c_odd = prefix_add(m, f3.rel_c[:self.addr_bits],
                           _sext(f3.cmd.strides.c.as_signed(), self.addr_bits),
                           width=self.addr_bits, name="f3_c_odd")[0]
        f4 = stage(m, en, "f4", cmd=f3.cmd, cm1=f3.cm1, code=code, err_addr=err_addr, **bounds,
                   c_odd=c_odd,
                   **{f"reads_{n}": getattr(f3, f"reads_{n}") for n in "abcd"},
                   **{f"rel_{n}": getattr(f3, f"rel_{n}")[:self.addr_bits] for n in "abcd"})
        f4.reads = {n: getattr(f4, f"reads_{n}") for n in "abcd"}
        f4.rel = {n: getattr(f4, f"rel_{n}") for n in "abcd"}
        # F3's operands and bounds, for the hazard check of the command entering F4.
        f4.en, f4.next_bounds = en, bounds
        f4.next_reads = {n: getattr(f3, f"reads_{n}") for n in "abcd"}
        f4.valid, f4.take, f4.busy = valid[-1], take, Cat(*valid).any()
        return f4

    def _offset(self, m, name, addr, origin):
        """``addr - origin`` as an ``_OFFSET_BITS``-bit two's complement value (a Kogge-Stone
        adder of the address and a constant)."""
        return prefix_add(m, addr, (-origin) % (1 << _OFFSET_BITS), width=_OFFSET_BITS,
                          name=name)[0]

    def _hazard(self, m, f):
        """Whether the command in F4 must wait: it reads a line that a command taken before it
        may still be writing. The lines written by the commands in flight are kept as one
        range (their hull), emptied when no command is in flight; a command that overlaps it
        waits until every earlier command is done (conservative: a command reading between
        two earlier results waits too).

        Registered: the check is made as the command enters F4, against the hull, the range
        of the command taken the cycle before (``pend``, which joins the hull a cycle later)
        and that of the command F4 hands over in the same cycle; then it only clears, when
        no command is left in flight. No comparator is in series with the take."""
        inflight = Signal(range(2 * (self.cmd_depth + self.depth) + 8))
        box_valid, pend_valid, hz = Signal(), Signal(), Signal()
        box_lo, box_hi = Signal(self.addr_bits), Signal(self.addr_bits)
        pend_lo, pend_hi = Signal(self.addr_bits), Signal(self.addr_bits)

        def overlaps(valid, lo, hi, name):
            b = f.next_bounds
            return valid & Cat(*(f.next_reads[n] & _ge(m, hi, b[f"lo_{n}"], f"{name}_{n}_lo")
                                 & _ge(m, b[f"hi_{n}"], lo, f"{name}_{n}_hi")
                                 for n in "abc")).any()

        ok = f.code == isa.Error.NONE
        writer = f.take & ok & f.reads["d"]
        hz_now = overlaps(box_valid, box_lo, box_hi, "hz_box") \
            | overlaps(pend_valid, pend_lo, pend_hi, "hz_pend")
        hz_handed = overlaps(f.valid & ok & f.reads["d"], f.lo_d, f.hi_d, "hz_f4")
        # The last command in flight is done: the hull empties (never with pend set, which
        # is a command in flight that cannot be done a cycle after its take).
        empty = (inflight == 1) & self.done.valid & ~f.take
        with m.If(f.en):
            m.d.sync += hz.eq(~empty & (hz_now | (f.take & hz_handed)))
        with m.Elif(empty):
            m.d.sync += hz.eq(0)
        m.d.sync += inflight.eq(_updown(m, inflight, f.take, self.done.valid, "inflight"))
        m.d.sync += pend_valid.eq(writer)
        with m.If(writer):
            m.d.sync += [pend_lo.eq(f.lo_d), pend_hi.eq(f.hi_d)]
        with m.If(pend_valid):
            m.d.sync += [box_valid.eq(1),
                         box_lo.eq(Mux(box_valid & ~_ge(m, box_lo, pend_lo, "box_lo"),
                                       box_lo, pend_lo)),
                         box_hi.eq(Mux(box_valid & _ge(m, box_hi, pend_hi, "box_hi"),
                                       box_hi, pend_hi))]
        with m.Elif(empty):
            m.d.sync += box_valid.eq(0)
        return hz & ok

    # --- a read port: walks up to two operands' lines, interleaved --------------------------
    def _read_port(self, m, name, fifo, req, pops):
        """Issue the reads of the commands in ``fifo`` on ``req``: per line, slot ``x`` (if
        ``rx``) then ``y`` (if this line has one), one read per cycle, each only while its
        operand FIFO has a free place (credits: reads issued and not yet joined)."""
        head = data.View(self._read_cmd(), fifo.r_data)
        line = Signal(16, name=f"{name}_line")
        phase = Signal(name=f"{name}_phase")        # 1: the y read of the current line
        slots = _SLOTS[name]
        cur = {k: Signal(self.addr_bits, name=f"{name}_{k}") for k in slots}
        credits = {k: Signal(range(self.depth + 1), name=f"{name}_credit_{k}") for k in slots}
        # A slot's first read is at its start address (y's first line may be line 1).
        started = {"x": line != 0, "y": Signal(name=f"{name}_y_started")}
        at = {k: Mux(started[k], cur[k], getattr(head, k)) for k in slots}
        y_here = head.ry & (~head.alt | (line[0] == head.par))
        sel_y = y_here & (~head.rx | phase)
        free = {k: credits[k] != self.depth for k in slots}
        m.d.comb += [
            req.valid.eq(fifo.r_rdy & Mux(sel_y, free["y"], free["x"])),
            # offsets within the window, so base | offset is the address
            req.payload.addr.eq(Mux(sel_y, at["y"], at["x"]) | self.base),
            req.payload.tag.eq(Mux(sel_y, _SLOT_TAG["y"], _SLOT_TAG["x"])),
        ]
        issued = req.valid & req.ready
        last = line == head.cm1
        line_done = issued & (sel_y | ~y_here)
        took = {"x": issued & ~sel_y, "y": issued & sel_y}
        for k in slots:
            with m.If(took[k]):
                m.d.sync += cur[k].eq(_step(m, at[k], getattr(head, "s" + k), f"{name}_{k}"))
            m.d.sync += credits[k].eq(_updown(m, credits[k], took[k], pops[slots[k]],
                                              f"{name}_credit_{k}"))
        with m.If(issued):
            m.d.sync += phase.eq(~sel_y & y_here)
        with m.If(took["y"]):
            m.d.sync += started["y"].eq(1)
        with m.If(line_done):
            m.d.sync += line.eq(Mux(last, 0, _inc(m, line, f"{name}_line")))
            with m.If(last):
                m.d.sync += started["y"].eq(0)
        m.d.comb += fifo.r_en.eq(line_done & last)

    def _responses(self, m, ops):
        """Read responses into the operand FIFOs (always taken: the credits keep a place).
        The tag names the slot (:data:`_SLOTS`). A refused read marks its line."""
        for port, slots in _SLOTS.items():
            resp = getattr(self, f"{port}_resp")
            m.d.comb += resp.ready.eq(1)
            refused = _one_of(resp.payload.status,
                              [memport.Status.MISALIGNED, memport.Status.OUT_OF_RANGE])
            for slot, n in slots.items():
                fifo, w, _ = ops[n]
                hit = resp.valid & (resp.payload.tag[0] == _SLOT_TAG[slot])
                m.d.comb += [fifo.w_en.eq(hit), w.data.eq(resp.payload.data), w.bad.eq(refused)]

    # --- the join: operands + the op's fields -> one unit request ---------------------------
    def _join(self, m, fifo, ops, pops):
        """Returns ``(load, starved)``: a line is joined; the head command waits for an
        operand."""
        head = data.View(self._join_cmd, fifo.r_data)
        line = Signal(16, name="join_line")
        c0 = head.alt & ~line[0]
        need = {"a": head.ra, "b": head.rb, "c0": head.rc & c0, "c1": head.rc & ~c0}
        have = Cat(*(ops[n][0].r_rdy | ~need[n] for n in need)).all()
        load = fifo.r_rdy & have & (~self.req.valid | self.req.ready)
        last = line == head.cm1
        m.d.comb += fifo.r_en.eq(load & last)
        for n in need:
            m.d.comb += [pops[n].eq(load & need[n]), ops[n][0].r_en.eq(pops[n])]
        with m.If(load):
            m.d.sync += line.eq(Mux(last, 0, _inc(m, line, "join_line")))
        req = self.req.payload
        with m.If(load):
            m.d.sync += [req.a.eq(ops["a"][2].data), req.b.eq(ops["b"][2].data),
                         req.c.eq(Mux(c0, ops["c0"][2].data, ops["c1"][2].data))]
            m.d.sync += [getattr(req, n).eq(getattr(head, n))
                         for n in ("op", "vtype", "fmt", "bias", "rnd", "imm")]
            m.d.sync += req.tag.eq(Cat(*(ops[n][2].bad & need[n] for n in need)).any())
            m.d.sync += self.req.valid.eq(1)
        with m.Elif(self.req.ready):
            m.d.sync += self.req.valid.eq(0)
        return load, fifo.r_rdy & ~have

    # --- the writer and the completion queue ------------------------------------------------
    def _write(self, m, fifo):
        """Unit responses -> W writes or ``result``; events (one per line, one per refused
        command) -> ``done``/``error`` in order once acknowledged. A ``to_reg`` command sends
        one ``result`` whatever happens (0 if refused), so its thread is always answered.
        Returns whether a unit response is held by a full W queue or result register."""
        head = data.View(self._write_cmd(), fifo.r_data)
        wq, wq_w, wq_r = _fifo(m, "w_queue", data.StructLayout(
            {"addr": self.addr_bits, "data": visa.VECTOR_BITS}), 3)
        ev, ev_w, ev_r = _fifo(m, "events", self._event, self.depth)
        line = Signal(16, name="w_line")
        d_cur = Signal(self.addr_bits)
        err = Signal(4, name="w_err")   # the running command's late error, if any
        refused = head.info.code != isa.Error.NONE
        out_free = Mux(head.to_reg, ~self.result.valid, wq.w_rdy)
        ready = fifo.r_rdy & ~refused & ev.w_rdy & out_free
        resp = self.resp.payload
        m.d.comb += self.resp.ready.eq(ready)
        took = self.resp.valid & ready
        skip = fifo.r_rdy & refused & ev.w_rdy & out_free     # a refused command's event
        last = line == head.cm1
        line_code = Mux(resp.error, isa.Error.ILLEGAL_OP,
                        Mux(resp.tag[0], isa.Error.RANGE, isa.Error.NONE))
        code = Mux(err != isa.Error.NONE, err, line_code)
        keep = code == isa.Error.NONE
        d_line = Mux(line == 0, head.d, d_cur)

        m.d.comb += [wq_w.addr.eq(d_line), wq_w.data.eq(resp.data),
                     wq.w_en.eq(took & keep & ~head.to_reg)]
        with m.If(took):
            m.d.sync += [line.eq(Mux(last, 0, _inc(m, line, "w_line"))),
                         err.eq(Mux(last, 0, code)), d_cur.eq(_step(m, d_line, head.sd, "w_d"))]
        with m.If((took | skip) & head.to_reg):
            m.d.sync += [self.result.valid.eq(1),
                         self.result.payload.value.eq(Mux(took & keep, resp.data[:64], 0)),
                         self.result.payload.thread.eq(head.info.thread),
                         self.result.payload.rd.eq(head.rd)]
        with m.Elif(self.result.ready):
            m.d.sync += self.result.valid.eq(0)
        m.d.comb += [
            fifo.r_en.eq((took & last) | skip),
            ev.w_en.eq(took | skip),
            ev_w.kind.eq(Mux(head.to_reg, _RESULT, Mux(took & keep, _WRITE, _NOW))),
            ev_w.last.eq(skip | last),
            ev_w.info.eq(head.info),
        ]
        with m.If(~refused):
            m.d.comb += ev_w.info.code.eq(code)
        m.d.comb += [self.w_req.valid.eq(wq.r_rdy),
                     self.w_req.payload.addr.eq(wq_r.addr | self.base),
                     self.w_req.payload.data.eq(wq_r.data),
                     self.w_req.payload.mask.eq(Const(-1, LINE_BYTES)),
                     self.w_req.payload.tag.eq(0), wq.r_en.eq(self.w_req.ready)]
        self._complete(m, ev, ev_r)
        return self.resp.valid & fifo.r_rdy & ~refused & ~(ev.w_rdy & out_free)

    def _complete(self, m, ev, head):
        """Pop events in order: a write's once acknowledged, a result's once taken."""
        results = Signal(range(self.depth + 1))     # results taken, their event not yet popped
        comp_err = Signal(4)                        # a write the scratchpad refused
        sent = self.result.valid & self.result.ready
        m.d.comb += self.w_resp.ready.eq(ev.r_rdy & (head.kind == _WRITE))
        pop = ev.r_rdy & ((head.kind == _NOW) | ((head.kind == _WRITE) & self.w_resp.valid)
                          | ((head.kind == _RESULT) & (results != 0)))
        m.d.comb += ev.r_en.eq(pop)
        m.d.sync += results.eq(_updown(m, results, sent, pop & (head.kind == _RESULT),
                                       "results"))
        refused = (head.kind == _WRITE) & _one_of(
            self.w_resp.payload.status, [memport.Status.MISALIGNED, memport.Status.OUT_OF_RANGE])
        code = Mux(head.info.code != isa.Error.NONE, head.info.code,
                   Mux(refused, isa.Error.RANGE, comp_err))
        m.d.sync += [self.done.valid.eq(pop & head.last), self.error.valid.eq(
            pop & head.last & (code != isa.Error.NONE))]
        with m.If(pop):
            m.d.sync += comp_err.eq(Mux(head.last, isa.Error.NONE, code))
            m.d.sync += [self.done.payload.signal.eq(head.info.signal),
                         self.done.payload.thread.eq(head.info.thread),
                         self.done.payload.last.eq(1),
                         self.error.payload.code.eq(code),
                         self.error.payload.addr.eq(head.info.addr)]
