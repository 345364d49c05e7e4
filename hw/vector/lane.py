"""One 32-bit slice of the vector unit's FP datapath: ``FPLane``."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.pipeline import delay, stage
from hw.fp.fma import FMAGeometry, FMAPipe
from hw.fp.formats import BF16, FP32, Flags, FormatCode

from .fpops import (
    fp_compare,
    fp_ge,
    is_nan,
    is_snan,
    is_subnormal,
    minmax_select,
    narrow_bf16,
    to_f32_first,
    to_f32_second,
    to_i32_first,
    to_i32_second,
)
from .isa import VecOp, VecType

__all__ = ["FPLane", "ARITH_OPS", "MISC_FP32_OPS", "LANE_OPS", "LANE_LATENCY",
           "lane_request_layout", "lane_result_layout"]

#: The FMA forms: FP32 on one lane, BF16 on two.
ARITH_OPS = (VecOp.ADD, VecOp.SUB, VecOp.MUL, VecOp.FMA, VecOp.FMS, VecOp.FNMA, VecOp.FNMS)
#: FP32 operations without the FMA.
MISC_FP32_OPS = (VecOp.MIN, VecOp.MAX, VecOp.ABS, VecOp.NEG, VecOp.EQ, VecOp.LT, VecOp.LE,
                 VecOp.TO_I32, VecOp.TO_I32_RTZ)
#: Every (op, type) pair a lane computes.
LANE_OPS = frozenset({(op, VecType.FP32) for op in ARITH_OPS + MISC_FP32_OPS}
                     | {(op, VecType.BF16) for op in ARITH_OPS}
                     | {(VecOp.TO_F32, VecType.INT32)})

_SIGN32 = 1 << FP32.sign_shift
_ONE = {32: 0x3F80_0000, 16: 0x3F80}
_MISC_STAGES = 2
_EVEN_FORMATS = ("fp32", "bf16")
_ODD_FORMATS = ("bf16",)
#: En-cycles from the operands to the result: the FMA's, and the BF16 narrowing.
LANE_LATENCY = FMAGeometry.of(_EVEN_FORMATS).latency + 1

#: Payload of a lane's request: the operation and 32 bits of each operand.
lane_request_layout = data.StructLayout({"op": VecOp, "vtype": VecType, "a": 32, "b": 32,
                                         "c": 32})
#: Payload of a lane's result (also :class:`~hw.vector.reduce.ReduceTree`'s).
lane_result_layout = data.StructLayout({"z": 32, "flags": Flags})


class FPLane(wiring.Component):
    """32 bits of every FP operation of the vector unit, a pipe that cannot stall
    (docs/architecture.md): one FP32 lane, or two BF16 lanes, or one INT32 lane of ``to_f32``.

    Members
    -------
    en : ``In(1)``
        Every register (``o`` included) advances when 1 and holds when 0.
    i : ``In(stream.Signature(lane_request_layout, always_ready=True))``
        A request enters in a cycle with ``en`` (``i.valid`` only travels to ``o.valid``): the
        operation ``op``, ``vtype`` and the operands' lanes ``a``, ``b``, ``c`` (for BF16, lane
        ``2i`` in bits 0..15 and ``2i + 1`` above).
    o : ``Out(stream.Signature(lane_result_layout, always_ready=True))``
        ``valid``, the result ``z`` and ``flags`` (OR over the lane's one or two results),
        ``latency`` en-cycles after the request entered.

    Contract
    --------
    The pairs of :data:`LANE_OPS` compute exactly ``verif/vector/model.py`` (docs/vector.md): the
    FMA forms of FP32 on an FP32 FMA (``hw/fp/fma.py``), BF16 lane ``2i`` on that same FMA and
    lane ``2i + 1`` on a BF16-multiplicand FMA, both rounding to odd at FP32 precision and then
    to nearest even at BF16's (one rounding of the exact result); the rest on their own logic.
    Any other pair gives an unspecified result (the unit zeroes it). ``latency`` is the FMA's
    plus one.
    """

    def __init__(self):
        self._even = FMAPipe(ab_formats=_EVEN_FORMATS, round_to_odd=True)
        self._odd = FMAPipe(ab_formats=_ODD_FORMATS, round_to_odd=True)
        super().__init__({
            "en": In(1),
            "i": In(stream.Signature(lane_request_layout, always_ready=True)),
            "o": Out(stream.Signature(lane_result_layout, always_ready=True)),
        })

    @property
    def latency(self):
        """En-cycles from the operands to ``z``/``flags``."""
        return LANE_LATENCY

    def elaborate(self, platform):
        m = Module()
        en, req = self.en, self.i.payload
        op = req.op
        m.submodules.even = even = self._even
        m.submodules.odd = odd = self._odd
        c_delay, fma_latency = even.c_delay, even.latency

        # --- Operand preparation for the FMAs: add is a·1 + b, sub a·1 - b, mul a·b - 0. -----
        def is_op(*ops):
            return Cat(*(op == o for o in ops)).any()

        flip_a = is_op(VecOp.FNMA, VecOp.FNMS)
        flip_c = is_op(VecOp.SUB, VecOp.FMS, VecOp.FNMS)
        b_one = is_op(VecOp.ADD, VecOp.SUB)
        c_is_b = b_one
        c_minus_zero = op == VecOp.MUL
        bf16 = req.vtype == VecType.BF16

        def operands(lo, width):
            """``(a, b, c)`` for the FMA of the ``width``-bit lane at bit ``lo``: ``a`` and ``b``
            right-aligned in their format, ``c`` widened to FP32."""
            a, b, c = (v[lo:lo + width] for v in (req.a, req.b, req.c))
            widen = FP32.width - width
            addend = Cat(Const(0, widen), Mux(c_is_b, b, c))
            return (a ^ Cat(Const(0, width - 1), flip_a), Mux(b_one, _ONE[width], b),
                    Mux(c_minus_zero, _SIGN32, addend ^ Cat(Const(0, 31), flip_c)))

        a32, b32, c32 = operands(0, FP32.width)
        a_lo, b_lo, c_lo = operands(0, BF16.width)
        a_hi, b_hi, c_hi = operands(BF16.width, BF16.width)
        even_c = Signal(32, name="even_c")
        m.d.comb += [
            # The lane's valid travels in the odd FMA; the even one's i.valid stays 0.
            even.en.eq(en), odd.en.eq(en), odd.i.valid.eq(self.i.valid),
            even.i.payload.a.eq(Mux(bf16, a_lo, a32)), even.i.payload.b.eq(Mux(bf16, b_lo, b32)),
            even.i.payload.a_fmt.eq(Mux(bf16, FormatCode.BF16, FormatCode.FP32)),
            even.i.payload.b_fmt.eq(Mux(bf16, FormatCode.BF16, FormatCode.FP32)),
            even_c.eq(Mux(bf16, c_lo, c32)),
            even.c.eq(delay(m, en, even_c, c_delay, name="even_c")),
            even.rto.eq(delay(m, en, bf16, c_delay, name="even_rto")),
            odd.i.payload.a.eq(a_hi), odd.i.payload.b.eq(b_hi),
            odd.i.payload.a_fmt.eq(FormatCode.BF16), odd.i.payload.b_fmt.eq(FormatCode.BF16),
            odd.c.eq(delay(m, en, c_hi, c_delay, name="odd_c")),
            odd.rto.eq(1),
        ]

        # --- The other FP32 operations: two stages, then delayed to meet the FMAs. ----------
        a, b = req.a, req.b
        x = stage(m, en, "m0", a=a, b=b, op=op, ge=fp_ge(m, a, b, name="ge"),
                  nan=is_nan(a) | is_nan(b), snan=is_snan(a) | is_snan(b),
                  denormal=is_subnormal(a))
        ti = stage(m, en, "m0i", **to_i32_first(m, a, name="toi"))
        tf = stage(m, en, "m0f", **to_f32_first(m, a, name="tof"))
        eq, lt, le = fp_compare(x.a, x.b, x.ge)
        i32, i32_invalid, i32_inexact = to_i32_second(m, ti, rtz=x.op == VecOp.TO_I32_RTZ,
                                                      name="toi")
        f32, f32_inexact = to_f32_second(m, tf, name="tof")
        mask = Const(0xFFFF_FFFF, 32)
        misc = Signal(32, name="misc_z")
        misc_flags = Signal(Flags, name="misc_flags")
        with m.Switch(x.op):
            with m.Case(VecOp.MIN, VecOp.MAX):
                m.d.comb += [
                    misc.eq(Mux(x.op == VecOp.MAX,
                                minmax_select(x.a, x.b, x.ge, take_max=True),
                                minmax_select(x.a, x.b, x.ge, take_max=False))),
                    misc_flags.invalid.eq(x.snan),
                ]
            with m.Case(VecOp.ABS):
                m.d.comb += misc.eq(x.a & ~_SIGN32)
            with m.Case(VecOp.NEG):
                m.d.comb += misc.eq(x.a ^ _SIGN32)
            with m.Case(VecOp.EQ):
                m.d.comb += [misc.eq(Mux(eq, mask, 0)), misc_flags.invalid.eq(x.snan)]
            with m.Case(VecOp.LT, VecOp.LE):
                m.d.comb += [
                    misc.eq(Mux(Mux(x.op == VecOp.LT, lt, le), mask, 0)),
                    misc_flags.invalid.eq(x.nan),
                ]
            with m.Case(VecOp.TO_I32, VecOp.TO_I32_RTZ):
                m.d.comb += [
                    misc.eq(i32),
                    misc_flags.invalid.eq(i32_invalid),
                    misc_flags.inexact.eq(i32_inexact),
                    misc_flags.denormal.eq(x.denormal),
                ]
            with m.Case(VecOp.TO_F32):
                m.d.comb += [misc.eq(f32), misc_flags.inexact.eq(f32_inexact)]
        y = stage(m, en, "m1", z=misc, flags=misc_flags)
        misc_z = delay(m, en, y.z, fma_latency - _MISC_STAGES, name="misc_z")
        misc_f = delay(m, en, y.flags, fma_latency - _MISC_STAGES, name="misc_flags")

        # --- Last stage: BF16 narrowing, and the choice of result. ---------------------------
        late_op = delay(m, en, op, fma_latency, name="op")
        late_bf16 = delay(m, en, bf16, fma_latency, name="bf16")
        arith = Cat(*(late_op == o for o in ARITH_OPS)).any()
        lo, lo_ovf, lo_unf, lo_inx = narrow_bf16(m, even.o.payload.z, name="nlo")
        hi, hi_ovf, hi_unf, hi_inx = narrow_bf16(m, odd.o.payload.z, name="nhi")
        z = Signal(32, name="z_next")
        flags = Signal(Flags, name="flags_next")
        with m.If(arith & late_bf16):
            m.d.comb += [
                z.eq(Cat(lo, hi)),
                flags.invalid.eq(even.o.payload.flags.invalid | odd.o.payload.flags.invalid),
                flags.denormal.eq(even.o.payload.flags.denormal | odd.o.payload.flags.denormal),
                flags.overflow.eq(lo_ovf | hi_ovf),
                flags.underflow.eq(lo_unf | hi_unf),
                flags.inexact.eq(lo_inx | hi_inx),
            ]
        with m.Elif(arith):
            m.d.comb += [z.eq(even.o.payload.z), flags.eq(even.o.payload.flags)]
        with m.Else():
            m.d.comb += [z.eq(misc_z), flags.eq(misc_f)]
        with m.If(en):
            m.d.sync += [self.o.valid.eq(odd.o.valid), self.o.payload.z.eq(z),
                         self.o.payload.flags.eq(flags)]
        return m
