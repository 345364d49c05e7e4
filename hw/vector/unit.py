"""The vector unit: ``VectorUnit``, one 64-byte operation per cycle behind a stream interface."""

import enum as py_enum

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.params import check_tag_width
from hw.common.pipeline import or_all, stage
from hw.common.shared import shared
from hw.fp.formats import Flags, FormatCode

from .convpipe import ConvPipe
from .intpipe import IntPipe
from .isa import (
    VECTOR_BITS,
    VecOp,
    VecType,
    request_layout,
    response_layout,
)
from .lane import LANE_LATENCY, LANE_OPS, FPLane
from .movepipe import MovePipe
from .reduce import REDUCE_LATENCY, ReduceTree

__all__ = ["VectorUnit", "Source", "UNIT_OPS", "decode"]

_FP32_LANES = VECTOR_BITS // 32


class Source(py_enum.Enum):
    """Where a legal request's result comes from."""
    LANES = 0     #: the 16 FP lanes (``hw/vector/lane.py``)
    REDUCE = 1    #: the FP32 reduction tree (``hw/vector/reduce.py``)
    INT = 2       #: ``hw/vector/intpipe.py``
    MOVE = 3      #: ``hw/vector/movepipe.py``
    CONV = 4      #: ``hw/vector/convpipe.py``
    STATE = 5     #: the unit's own state: sticky flags, SR seed


_ALL_TYPES = tuple(VecType)
_INT_TYPES = (VecType.INT8, VecType.INT16, VecType.INT32)
_MOVE_OPS = (VecOp.BCAST, VecOp.SHUFFLE, VecOp.ZIP_LO, VecOp.ZIP_HI, VecOp.UNZIP_EVEN,
             VecOp.UNZIP_ODD)
_INT_OPS = (VecOp.ADD, VecOp.SUB, VecOp.MUL, VecOp.MIN, VecOp.MAX, VecOp.MINU, VecOp.MAXU,
            VecOp.AND, VecOp.OR, VecOp.XOR, VecOp.NOT, VecOp.SLL, VecOp.SRL, VecOp.SRA,
            VecOp.EQ, VecOp.LT, VecOp.LTU, VecOp.REDSUM)


def _unit_ops():
    # In opcode order: LANE_OPS is a set, whose order changes with PYTHONHASHSEED, and the order
    # of this table's entries is the order of the decoder's cases in the Verilog.
    table = {pair: Source.LANES
             for pair in sorted(LANE_OPS, key=lambda p: (p[0].value, p[1].value))}
    table.update({(op, VecType.FP32): Source.REDUCE
                  for op in (VecOp.REDSUM, VecOp.REDMAX, VecOp.REDMIN)})
    table.update({(op, t): Source.INT for op in _INT_OPS for t in _INT_TYPES})
    table.update({(VecOp.SELECT, t): Source.INT for t in _ALL_TYPES})
    table.update({(op, t): Source.MOVE for op in _MOVE_OPS for t in _ALL_TYPES})
    table[(VecOp.TRANSPOSE8, VecType.INT8)] = Source.MOVE
    table.update({(op, t): Source.CONV for op in (VecOp.WIDEN, VecOp.NARROW)
                  for t in (VecType.FP32, VecType.BF16)})
    table.update({(op, VecType.INT32): Source.STATE
                  for op in (VecOp.RDFLAGS, VecOp.CLRFLAGS, VecOp.SEED)})
    return table


#: Every legal (op, type) pair and the source of its result. A conversion is legal only with an
#: ``fmt`` and ``imm`` of :data:`_CONV_PARTS` besides.
UNIT_OPS = _unit_ops()

_CFP8 = (FormatCode.CFP8_143, FormatCode.CFP8_152)
_HALF = (FormatCode.BF16, FormatCode.SHP, FormatCode.UHP)
#: (wide type, narrow format) -> number of parts (``imm`` in 0 .. parts - 1).
_CONV_PARTS = {**{(VecType.FP32, f): 4 for f in _CFP8}, **{(VecType.FP32, f): 2 for f in _HALF},
               **{(VecType.BF16, f): 2 for f in _CFP8}}

#: The pipes, by source. Each is a :class:`~hw.vector.intpipe.Pipe`: ``en``, ``i``
#: (``request_layout(0)``), ``o`` (``data``, ``flags``) and an int ``latency``; ``ConvPipe``
#: also has ``seed`` and ``seed_we`` (the ``seed`` op). Each is instantiated through
#: ``shared``: a Verilog module of its own, and a block of its own in synthesis.
_PIPES = {Source.INT: IntPipe, Source.MOVE: MovePipe, Source.CONV: ConvPipe}


def decode(m, op, vtype, fmt, imm):
    """Combinational decode of a request: a ``Signal`` per :class:`Source` (one-hot, all zero
    for an illegal request). Python table :data:`UNIT_OPS`, then the conversions' parts."""
    hits = {src: [] for src in Source}
    for (o, t), src in UNIT_OPS.items():
        hits[src].append((op == o) & (vtype == t))
    conv_ok = Cat(*((vtype == t) & (fmt == f) & (imm < parts)
                    for (t, f), parts in _CONV_PARTS.items())).any()
    out = {}
    for src, terms in hits.items():
        sig = Signal(name=f"is_{src.name.lower()}")
        legal = Cat(*terms).any()
        m.d.comb += sig.eq(legal & conv_ok if src is Source.CONV else legal)
        out[src] = sig
    return out


class VectorUnit(wiring.Component):
    """The vector unit: a 64-byte SIMD operation per cycle (docs/vector.md is the contract).

    Parameters (keyword-only)
    -------------------------
    tag_width : int, 0..64
        Width of the opaque tag passed from each request to its response.

    Members
    -------
    i : ``In(stream.Signature(request_layout(tag_width)))``
        Requests (``hw/vector/isa.py``).
    o : ``Out(stream.Signature(response_layout(tag_width)))``
        Responses: ``data``, ``flags`` (OR over the operation's lanes), ``error``, ``tag``.

    Contract
    --------
    * Every request is accepted in one cycle when ``i.ready``; its response leaves ``latency``
      cycles later without stalls, all in issue order with their tags. One request per cycle
      sustained, for every op (reductions included).
    * Backpressure: the whole pipeline holds while ``o`` is valid and not ready: ``i.ready`` is
      ``~o.valid | o.ready``; ``o.valid`` never depends on ``o.ready``.
    * Results and flags are ``verif/vector/model.py``'s bit for bit. An illegal request (a pair
      outside :data:`UNIT_OPS`, a conversion with an impossible ``fmt`` or ``imm``) gets data 0,
      flags 0, error 1, and changes no state but the SR generators' step.
    * Sticky flags: the OR of every response's flags in issue order; ``rdflags`` and
      ``clrflags`` return them in lane 0 (``clrflags`` then clears them); ``seed`` loads the SR
      generators of the conversion pipe. Reset: sticky flags 0, the generators' reset seed.
    """

    def __init__(self, *, tag_width=8):
        self.tag_width = check_tag_width(tag_width)
        latencies = {Source.LANES: LANE_LATENCY, Source.REDUCE: REDUCE_LATENCY,
                     **{src: int(cls.latency) for src, cls in _PIPES.items()}}
        self._latencies = latencies
        super().__init__({
            "i": In(stream.Signature(request_layout(tag_width))),
            "o": Out(stream.Signature(response_layout(tag_width))),
        })

    @property
    def latency(self):
        """Cycles from a request's acceptance to its response when the output is not stalled:
        the input register, the slowest source, the output register."""
        return max(self._latencies.values()) + 2

    def elaborate(self, platform):
        m = Module()
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]

        # --- Input register: the request and its decode. ------------------------------------
        req = self.i.payload
        is_src = decode(m, req.op, req.vtype, req.fmt, req.imm)
        ctl_layout = data.StructLayout({
            "valid": 1, "op": VecOp, "tag": len(req.tag),
            **{f"is_{src.name.lower()}": 1 for src in Source}})
        ctl0 = Signal(ctl_layout, name="ctl0")
        m.d.comb += [ctl0.valid.eq(self.i.valid), ctl0.op.eq(req.op), ctl0.tag.eq(req.tag)]
        m.d.comb += [getattr(ctl0, f"is_{src.name.lower()}").eq(is_src[src]) for src in Source]
        r0 = stage(m, en, "r0", req=req, ctl=ctl0)
        r0_req = r0.req

        # --- Sources, all fed from the input register. ---------------------------------------
        outputs = {}
        lanes = []
        for i in range(_FP32_LANES):
            lane = shared(FPLane)
            m.submodules[f"lane{i}"] = lane
            sl = slice(32 * i, 32 * (i + 1))
            m.d.comb += [lane.en.eq(en), lane.i.valid.eq(r0.ctl.valid),
                         lane.i.payload.op.eq(r0_req.op), lane.i.payload.vtype.eq(r0_req.vtype),
                         lane.i.payload.a.eq(r0_req.a[sl]), lane.i.payload.b.eq(r0_req.b[sl]),
                         lane.i.payload.c.eq(r0_req.c[sl])]
            lanes.append(lane)
        # The sources' o.valid are not used: the unit's own control (ctl) travels beside them.
        outputs[Source.LANES] = (Cat(*(lane.o.payload.z for lane in lanes)),
                                 or_all([lane.o.payload.flags.as_value() for lane in lanes]))
        m.submodules.reduce = tree = ReduceTree()
        m.d.comb += [tree.en.eq(en), tree.i.valid.eq(r0.ctl.valid),
                     tree.i.payload.op.eq(r0_req.op), tree.i.payload.a.eq(r0_req.a)]
        outputs[Source.REDUCE] = (Cat(tree.o.payload.z, Const(0, VECTOR_BITS - 32)),
                                  tree.o.payload.flags.as_value())
        for src, cls in _PIPES.items():
            m.submodules[src.name.lower()] = pipe = shared(cls)
            m.d.comb += [pipe.en.eq(en), pipe.i.valid.eq(r0.ctl.valid)]
            m.d.comb += [getattr(pipe.i.payload, name).eq(getattr(r0_req, name))
                         for name in ("op", "vtype", "fmt", "bias", "rnd", "imm", "a", "b", "c")]
            if src is Source.CONV:
                m.d.comb += [pipe.seed.eq(r0_req.a[:32]),
                             pipe.seed_we.eq(r0.ctl.valid & (r0.ctl.op == VecOp.SEED)
                                             & r0.ctl.is_state)]
            outputs[src] = (pipe.o.payload.data, pipe.o.payload.flags.as_value())

        # --- Alignment: the control travels along; each source's result joins the running
        # result at its exit, and the running result is registered from the first exit on. ---
        last = max(self._latencies.values())
        ctl = [r0.ctl]
        for t in range(1, last + 1):
            ctl.append(stage(m, en, f"c{t}", v=ctl[-1]).v)
        result = None
        for t in range(last + 1):
            exiting = [src for src in outputs if self._latencies[src] == t]
            if result is not None:
                result = stage(m, en, f"res{t}", d=result[0], f=result[1])
                result = (result.d, result.f)
            for src in exiting:
                d, f = outputs[src]
                hit = getattr(ctl[t], f"is_{src.name.lower()}")
                prev = result or (Const(0, VECTOR_BITS), Const(0, len(f)))
                result = (Mux(hit, d, prev[0]), Mux(hit, f, prev[1]))

        # --- Output register; the sticky flags, in issue order. -------------------------------
        c = ctl[last]
        sticky = Signal(Flags, name="sticky")
        is_state = c.is_state
        legal = Cat(*(getattr(c, f"is_{src.name.lower()}") for src in Source)).any()
        reads = is_state & ((c.op == VecOp.RDFLAGS) | (c.op == VecOp.CLRFLAGS))
        flags = Signal(Flags, name="resp_flags")
        m.d.comb += flags.eq(result[1])
        with m.If(en):
            m.d.sync += [
                self.o.valid.eq(c.valid),
                self.o.payload.tag.eq(c.tag),
                self.o.payload.error.eq(~legal),
                self.o.payload.data.eq(Mux(reads, sticky.as_value(), result[0])),
                self.o.payload.flags.eq(flags),
            ]
            with m.If(c.valid):
                with m.If(is_state & (c.op == VecOp.CLRFLAGS)):
                    m.d.sync += sticky.eq(0)
                with m.Else():
                    m.d.sync += sticky.eq(sticky.as_value() | flags.as_value())
        return m
