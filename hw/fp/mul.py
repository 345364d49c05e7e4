"""A pipelined unsigned multiplier (the significand product of the FMA), built from the adders
and compressors of :mod:`hw.common.arith`."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.common.arith import compress, prefix_add, tree_layers, wire
from hw.common.params import check_int

__all__ = ["Multiplier"]

#: Widest operand the multiplier accepts (the FP32 significand, hidden bit included).
WIDTH_MAX = 24


def _check_width(width):
    return check_int("width", width, 2, WIDTH_MAX)


class Multiplier(wiring.Component):
    """Unsigned ``width × width → 2·width`` multiplier, pipelined, without handshake.

    Parameters (keyword-only)
    -------------------------
    width : int, 2..24
        Operand width.

    Members
    -------
    en : ``In(1)``
        All pipeline registers advance when 1 and hold when 0.
    a, b : ``In(width)``
        Operands, sampled in a cycle with ``en``.
    p : ``Out(2 * width)``
        ``a * b``, exactly, ``latency`` en-cycles after the operands were sampled.

    The partial products (an AND array) are reduced by a Wallace tree of 3:2 adders and the two
    rows left are added by a Kogge-Stone adder. Up to :data:`STAGE_LAYERS` layers go in the first
    stage, the rest and the final adder in the second; a multiplier whose tree needs no more
    than :data:`SINGLE_STAGE_LAYERS` layers is a single stage. ``width`` 24 (FP32): 7 layers,
    two stages of about 30 gate levels each; ``width`` 8 (BF16): 4 layers, two stages.
    """

    #: 3:2 layers in the first of two stages (each about 6 gate levels).
    STAGE_LAYERS = 5
    #: A tree this shallow fits one stage together with its final adder.
    SINGLE_STAGE_LAYERS = 3

    def __init__(self, *, width):
        self.width = _check_width(width)
        super().__init__({
            "en": In(1),
            "a": In(width),
            "b": In(width),
            "p": Out(2 * width),
        })

    @classmethod
    def latency_for(cls, width):
        """En-cycles from the operands to the product, for a multiplier of ``width``."""
        return 1 if tree_layers(_check_width(width)) <= cls.SINGLE_STAGE_LAYERS else 2

    @property
    def latency(self):
        """En-cycles from the operands to the product."""
        return self.latency_for(self.width)

    def elaborate(self, platform):
        m = Module()
        w = self.width
        rows = [wire(m, f"pp{j}", Mux(self.b[j], self.a, 0) << j, 2 * w) for j in range(w)]
        if self.latency == 2:
            rows = compress(m, rows, layers=self.STAGE_LAYERS, name="csa_a")
            registered = []
            for k, row in enumerate(rows):
                reg = Signal(2 * w, name=f"s1_row{k}")
                with m.If(self.en):
                    m.d.sync += reg.eq(row)
                registered.append(reg)
            rows = registered
        rows = compress(m, rows, name="csa_b")
        total, _ = prefix_add(m, rows[0], rows[1], width=2 * w, name="cpa")
        with m.If(self.en):
            m.d.sync += self.p.eq(total)
        return m
