"""The scalar core's M-extension units: a pipelined 64 x 64 multiplier and an iterative divider.

Both take the operand values as the instruction read them (``a`` = rs1, ``b`` = rs2) with the
instruction's ``funct3`` and whether it is a W (32-bit) form, and deliver the value ``rd`` gets,
with an opaque ``thread`` passed through.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.fp.mul import compress, prefix_add, prefix_sub

from .isa import THREAD_BITS, XLEN

__all__ = ["MulUnit", "DivUnit"]


def _sext32(value):
    return Cat(value[:32], value[31].replicate(32))


def negate(m, value, *, name):
    """``-value`` modulo ``2**len(value)`` (a Kogge-Stone increment of the complement)."""
    total, _ = prefix_add(m, ~value, 0, width=len(value), carry_in=1, name=name)
    return total


class MulUnit(wiring.Component):
    """MUL, MULH, MULHSU, MULHU and MULW, one per cycle, ``LATENCY`` cycles, no stall.

    Members: ``i_valid``, ``i_thread``, ``i_funct3`` (0..3 as in the encoding), ``i_word``,
    ``i_a``, ``i_b`` in; ``o_valid``, ``o_thread``, ``o_value`` out, ``LATENCY`` cycles after
    the inputs were sampled.

    The 128-bit product of the operands as unsigned numbers is a Wallace tree of 64 partial
    products; a signed operand adds the two's complement of the other operand shifted up by 64
    (two more rows and a constant), which makes the high half the signed product's. Five 3:2
    layers per stage, then a 128-bit Kogge-Stone adder, then the result select.
    """

    LATENCY = 4
    LAYERS = 5

    def __init__(self):
        super().__init__({
            "i_valid": In(1), "i_thread": In(THREAD_BITS), "i_funct3": In(2), "i_word": In(1),
            "i_a": In(XLEN), "i_b": In(XLEN),
            "o_valid": Out(1), "o_thread": Out(THREAD_BITS), "o_value": Out(XLEN),
        })

    def elaborate(self, platform):
        m = Module()
        w2 = 2 * XLEN
        # Stage 1: operands registered.
        valid = [Signal(name=f"valid{k}") for k in range(4)]
        thread = [Signal(THREAD_BITS, name=f"thread{k}") for k in range(4)]
        sel = [Signal(3, name=f"sel{k}") for k in range(4)]  # funct3[1:0], word
        a, b = Signal(XLEN), Signal(XLEN)
        m.d.sync += [valid[0].eq(self.i_valid), thread[0].eq(self.i_thread),
                     sel[0].eq(Cat(self.i_funct3, self.i_word)), a.eq(self.i_a), b.eq(self.i_b)]
        for k in range(1, 4):
            m.d.sync += [valid[k].eq(valid[k - 1]), thread[k].eq(thread[k - 1]),
                         sel[k].eq(sel[k - 1])]
        funct3 = sel[0][:2]
        a_neg = Signal()
        b_neg = Signal()
        m.d.comb += [a_neg.eq(((funct3 == 1) | (funct3 == 2)) & a[-1]),
                     b_neg.eq((funct3 == 1) & b[-1])]
        rows = [Mux(b[j], Cat(Const(0, j), a), 0)[:w2] for j in range(XLEN)]
        rows = [Cat(r, Const(0, w2 - len(r))) for r in rows]
        rows.append(Mux(a_neg, ~Cat(Const(0, XLEN), b), 0))
        rows.append(Mux(b_neg, ~Cat(Const(0, XLEN), a), 0))
        rows.append(Cat(a_neg ^ b_neg, a_neg & b_neg, Const(0, w2 - 2)))
        # Stage 2 and 3: the tree, split in two.
        rows = compress(m, rows, layers=self.LAYERS, name="csa_a")
        regs1 = [Signal(w2, name=f"s2_row{k}") for k in range(len(rows))]
        m.d.sync += [r.eq(v) for r, v in zip(regs1, rows, strict=True)]
        rows = compress(m, regs1, name="csa_b")
        regs2 = [Signal(w2, name=f"s3_row{k}") for k in range(2)]
        m.d.sync += [r.eq(v) for r, v in zip(regs2, rows, strict=True)]
        # Stage 4: the carry-propagate adder.
        product = Signal(w2)
        total, _ = prefix_add(m, regs2[0], regs2[1], width=w2, name="cpa")
        m.d.sync += product.eq(total)
        funct3, word = sel[3][:2], sel[3][2]
        value = Mux(word, _sext32(product), Mux(funct3 == 0, product[:XLEN], product[XLEN:]))
        m.d.comb += [self.o_valid.eq(valid[3]), self.o_thread.eq(thread[3]),
                     self.o_value.eq(value)]
        return m


class DivUnit(wiring.Component):
    """DIV, DIVU, REM, REMU and their W forms: one at a time, 67 cycles each.

    Members: request ``i_valid``/``i_ready`` with ``i_thread``, ``i_funct3`` (4..7 as in the
    encoding, low two bits), ``i_word``, ``i_a``, ``i_b``; result ``o_valid``/``o_ready`` with
    ``o_thread``, ``o_value``, held until taken. Results follow the RISC-V spec for division by
    zero (all ones; the dividend) and signed overflow (the dividend; 0).

    Restoring radix-2 division of the operands' magnitudes (one 65-bit subtraction per cycle),
    then the signs: one cycle to take magnitudes, 64 iterations, one cycle to negate.
    """

    def __init__(self):
        super().__init__({
            "i_valid": In(1), "i_ready": Out(1), "i_thread": In(THREAD_BITS),
            "i_funct3": In(2), "i_word": In(1), "i_a": In(XLEN), "i_b": In(XLEN),
            "o_valid": Out(1), "o_ready": In(1), "o_thread": Out(THREAD_BITS),
            "o_value": Out(XLEN),
        })

    def elaborate(self, platform):
        m = Module()
        thread = Signal(THREAD_BITS)
        unsigned_op = Signal()   # funct3 bit 0
        rem_op = Signal()        # funct3 bit 1
        word = Signal()
        a, b = Signal(XLEN), Signal(XLEN)
        neg_a, neg_b, b_zero = Signal(), Signal(), Signal()
        rem, quo = Signal(XLEN), Signal(XLEN)
        count = Signal(range(XLEN + 1))
        value = Signal(XLEN)

        ia = Mux(self.i_word, Mux(self.i_funct3[0], self.i_a[:32], _sext32(self.i_a)), self.i_a)
        ib = Mux(self.i_word, Mux(self.i_funct3[0], self.i_b[:32], _sext32(self.i_b)), self.i_b)
        neg_a_next = ~self.i_funct3[0] & ia[-1]
        neg_b_next = ~self.i_funct3[0] & ib[-1]
        abs_a = Mux(neg_a, negate(m, a, name="neg_a"), a)
        abs_b = Mux(neg_b, negate(m, b, name="neg_b"), b)
        shifted = Cat(quo[-1], rem)
        diff, no_borrow = prefix_sub(m, shifted, Cat(b, Const(0, 1)), width=XLEN + 1,
                                     name="step")
        result = Mux(rem_op, rem, quo)
        negative = Mux(rem_op, neg_a, (neg_a ^ neg_b) & ~b_zero)
        signed_result = Mux(negative, negate(m, result, name="neg_r"), result)

        m.d.comb += [self.o_thread.eq(thread), self.o_value.eq(value)]
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.i_ready.eq(1)
                with m.If(self.i_valid):
                    m.d.sync += [thread.eq(self.i_thread), unsigned_op.eq(self.i_funct3[0]),
                                 rem_op.eq(self.i_funct3[1]), word.eq(self.i_word),
                                 a.eq(ia), b.eq(ib), neg_a.eq(neg_a_next),
                                 neg_b.eq(neg_b_next), b_zero.eq(ib == 0)]
                    m.next = "ABS"
            with m.State("ABS"):
                m.d.sync += [quo.eq(abs_a), b.eq(abs_b), rem.eq(0), count.eq(XLEN)]
                m.next = "ITER"
            with m.State("ITER"):
                m.d.sync += [rem.eq(Mux(no_borrow, diff[:XLEN], shifted[:XLEN])),
                             quo.eq(Cat(no_borrow, quo[:-1])), count.eq(count - 1)]
                with m.If(count == 1):
                    m.next = "SIGN"
            with m.State("SIGN"):
                m.d.sync += value.eq(Mux(word, _sext32(signed_result), signed_result))
                m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.o_valid.eq(1)
                with m.If(self.o_ready):
                    m.next = "IDLE"
        return m
