"""The FP32 reductions of the vector unit: ``ReduceTree`` (redsum, redmax, redmin) and its
adder, ``ReduceAdder``."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.pipeline import delay, or_all, stage
from hw.common.shared import shared
from hw.fp.fma import FMAGeometry, FMAPipe
from hw.fp.formats import FP32, Flags, FormatCode

from .fpops import fp_ge, is_snan, minmax_select
from .isa import VECTOR_BITS, VecOp
from .lane import lane_result_layout

__all__ = ["ReduceAdder", "ReduceTree", "REDUCE_LANES", "REDUCE_LATENCY",
           "adder_request_layout", "reduce_request_layout"]

#: FP32 lanes of a vector: the leaves of the tree.
REDUCE_LANES = VECTOR_BITS // FP32.width
_LEVELS = (REDUCE_LANES - 1).bit_length()
_ONE = 0x3F80_0000
_ADDER_FORMATS = ("fp32",)
#: En-cycles from a vector to its reduction: four additions.
_ADDER_LATENCY = FMAGeometry.of(_ADDER_FORMATS).latency
REDUCE_LATENCY = _LEVELS * _ADDER_LATENCY

#: Payload of a :class:`ReduceAdder` request: the two addends.
adder_request_layout = data.StructLayout({"x": 32, "y": 32})
#: Payload of a :class:`ReduceTree` request: the operation and the 16 lanes.
reduce_request_layout = data.StructLayout({"op": VecOp, "a": VECTOR_BITS})


class ReduceAdder(wiring.Component):
    """FP32 ``x + y`` (the vector unit's ``add``: ``RNE(x·1 + y)``), a pipe that cannot stall
    (docs/architecture.md).

    Members: ``en`` (advance); ``i``, ``In(stream.Signature(adder_request_layout,
    always_ready=True))``: ``x`` and ``y``, taken together; ``o``,
    ``Out(stream.Signature(lane_result_layout, always_ready=True))``: ``valid``, ``z`` and
    ``flags``, ``latency`` en-cycles later. An FMA (``hw/fp/fma.py``) with ``b`` tied to 1.0,
    which synthesis folds into its multiplier.
    """

    def __init__(self):
        self._fma = FMAPipe(ab_formats=_ADDER_FORMATS)
        super().__init__({
            "en": In(1),
            "i": In(stream.Signature(adder_request_layout, always_ready=True)),
            "o": Out(stream.Signature(lane_result_layout, always_ready=True)),
        })

    @property
    def latency(self):
        return self._fma.latency

    def elaborate(self, platform):
        m = Module()
        m.submodules.fma = fma = self._fma
        m.d.comb += [
            fma.en.eq(self.en),
            fma.i.valid.eq(self.i.valid),
            fma.i.payload.a.eq(self.i.payload.x), fma.i.payload.a_fmt.eq(FormatCode.FP32),
            fma.i.payload.b.eq(_ONE), fma.i.payload.b_fmt.eq(FormatCode.FP32),
            fma.c.eq(delay(m, self.en, self.i.payload.y, fma.c_delay, name="y")),
            self.o.valid.eq(fma.o.valid),
            self.o.payload.z.eq(fma.o.payload.z),
            self.o.payload.flags.eq(fma.o.payload.flags),
        ]
        return m


class ReduceTree(wiring.Component):
    """``redsum``, ``redmax`` and ``redmin`` of 16 FP32 lanes, a pipe that cannot stall
    (docs/architecture.md).

    Members: ``en`` (advance); ``i``, ``In(stream.Signature(reduce_request_layout,
    always_ready=True))``: ``op`` and ``a`` (512 bits: the lanes); ``o``,
    ``Out(stream.Signature(lane_result_layout, always_ready=True))``: ``valid``, ``z`` (the
    lane-0 result) and ``flags``, ``latency`` en-cycles after the request entered.

    The tree order is docs/vector.md's: level 1 combines lanes (0, 1), (2, 3), ..., each next
    level adjacent pairs of the previous one's results; ``redsum``'s 15 additions are
    :class:`ReduceAdder` s (8 + 4 + 2 + 1, one per node, so one reduction enters per cycle), its
    flags the OR of all of theirs; ``redmax``/``redmin`` take four stages and wait for the sums.
    For any other op ``z`` is unspecified.
    """

    def __init__(self):
        super().__init__({
            "en": In(1),
            "i": In(stream.Signature(reduce_request_layout, always_ready=True)),
            "o": Out(stream.Signature(lane_result_layout, always_ready=True)),
        })

    @property
    def latency(self):
        """En-cycles from ``a`` to ``z``: four additions."""
        return REDUCE_LATENCY

    def elaborate(self, platform):
        m = Module()
        en = self.en
        lanes = [self.i.payload.a[32 * i:32 * (i + 1)] for i in range(REDUCE_LANES)]

        # --- redsum: one adder per node of the tree. -----------------------------------------
        # valid goes down the tree with the sums: each level's adders take the previous level's.
        values, flags, step, valid = lanes, None, _ADDER_LATENCY, self.i.valid
        for level in range(_LEVELS):
            sums, level_flags = [], []
            for k in range(len(values) // 2):
                adder = shared(ReduceAdder)
                m.submodules[f"add{level}_{k}"] = adder
                m.d.comb += [adder.en.eq(en), adder.i.valid.eq(valid),
                             adder.i.payload.x.eq(values[2 * k]),
                             adder.i.payload.y.eq(values[2 * k + 1])]
                sums.append(adder.o.payload.z)
                level_flags.append(adder.o.payload.flags.as_value())
                if k == 0:
                    next_valid = adder.o.valid
            new = Signal(Flags, name=f"sum_flags{level}")
            m.d.comb += new.eq(or_all(level_flags))
            flags = new if flags is None else or_all([delay(m, en, flags, step,
                                                         name=f"sum_flags{level}"), new])
            values, valid = sums, next_valid
        total, total_flags = values[0], flags

        # --- redmax / redmin: one level of the tree per stage (a compare and a select). -------
        take_max = self.i.payload.op == VecOp.REDMAX
        invalid = Cat(*(is_snan(x) for x in lanes)).any()
        values = lanes
        for level in range(_LEVELS):
            values = [self._minmax(m, values[2 * k], values[2 * k + 1], take_max,
                                   name=f"mm{level}_{k}") for k in range(len(values) // 2)]
            regs = stage(m, en, f"mm{level}", take_max=take_max, invalid=invalid,
                         **{f"v{k}": v for k, v in enumerate(values)})
            values = [getattr(regs, f"v{k}") for k in range(len(values))]
            take_max, invalid = regs.take_max, regs.invalid
        best = delay(m, en, values[0], self.latency - _LEVELS, name="best")
        best_invalid = delay(m, en, invalid, self.latency - _LEVELS, name="best_invalid")

        is_sum = delay(m, en, self.i.payload.op == VecOp.REDSUM, self.latency, name="is_sum")
        best_flags = Signal(Flags, name="best_flags")
        m.d.comb += [
            best_flags.invalid.eq(best_invalid),
            self.o.valid.eq(valid),
            self.o.payload.z.eq(Mux(is_sum, total, best)),
            self.o.payload.flags.eq(Mux(is_sum, total_flags, best_flags.as_value())),
        ]
        return m

    @staticmethod
    def _minmax(m, a, b, take_max, *, name):
        ge = fp_ge(m, a, b, name=name)
        z = Signal(32, name=f"{name}_z")
        m.d.comb += z.eq(Mux(take_max, minmax_select(a, b, ge, take_max=True),
                             minmax_select(a, b, ge, take_max=False)))
        return z

