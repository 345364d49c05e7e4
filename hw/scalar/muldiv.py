"""The scalar core's M-extension units: a pipelined 64 x 64 multiplier and an iterative divider.

Both take a :data:`~hw.scalar.stages.MulDivRequest` stream (the operand values as the
instruction read them, ``a`` = rs1, ``b`` = rs2, the instruction's ``funct3`` and whether it is a
W (32-bit) form) and deliver a :data:`~hw.scalar.stages.MulDivResult` stream (the value ``rd``
gets), with an opaque ``thread`` passed through.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.arith import compress, prefix_add, prefix_sub
from hw.common.params import check_int

from .isa import XLEN
from .stages import MulDivRequest, MulDivResult

__all__ = ["MulUnit", "DivUnit"]


def _sext32(value):
    return Cat(value[:32], value[31].replicate(32))


def negate(m, value, *, name):
    """``-value`` modulo ``2**len(value)`` (a Kogge-Stone increment of the complement)."""
    total, _ = prefix_add(m, ~value, 0, width=len(value), carry_in=1, name=name)
    return total


class MulUnit(wiring.Component):
    """MUL, MULH, MULHSU, MULHU and MULW, one per cycle, ``LATENCY`` cycles, no stall.

    Members
    -------
    i : ``In(stream.Signature(MulDivRequest, always_ready=True))``
        The operation; ``funct3`` is 0..3 as in the encoding.
    o : ``Out(stream.Signature(MulDivResult, always_ready=True))``
        Its result.

    Contract
    --------
    A request taken in cycle ``t`` is offered on ``o`` in cycle ``t + LATENCY``, in order, one a
    cycle; neither side ever stalls (the consumer must take every result as it comes).
    ``i.payload.a`` and ``i.payload.b`` feed the first layers of the tree directly: they must
    come straight from flip-flops (the core has operand registers for it, loaded at decode).

    The 128-bit product of the operands as unsigned numbers is a Wallace tree of 64 partial
    products; a signed operand adds the two's complement of the other operand shifted up by 64
    (two more rows and a constant), which makes the high half the signed product's. Partial
    products and five 3:2 layers in the first stage, the remaining layers in the second, a
    128-bit Kogge-Stone adder in the third, then the result select.
    """

    LATENCY = 3
    LAYERS = 5

    def __init__(self):
        super().__init__({
            "i": In(stream.Signature(MulDivRequest, always_ready=True)),
            "o": Out(stream.Signature(MulDivResult, always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        w2 = 2 * XLEN
        stages = self.LATENCY
        valid = [Signal(name=f"valid{k}") for k in range(stages)]
        req = self.i.payload
        thread = [Signal.like(req.thread, name=f"thread{k}") for k in range(stages)]
        sel = [Signal(3, name=f"sel{k}") for k in range(stages)]  # funct3[1:0], word
        a, b = req.a, req.b
        m.d.sync += [valid[0].eq(self.i.valid), thread[0].eq(req.thread),
                     sel[0].eq(Cat(req.funct3, req.word))]
        for k in range(1, stages):
            m.d.sync += [valid[k].eq(valid[k - 1]), thread[k].eq(thread[k - 1]),
                         sel[k].eq(sel[k - 1])]
        funct3 = req.funct3
        a_neg = Signal()
        b_neg = Signal()
        m.d.comb += [a_neg.eq(((funct3 == 1) | (funct3 == 2)) & a[-1]),
                     b_neg.eq((funct3 == 1) & b[-1])]
        rows = [Mux(b[j], Cat(Const(0, j), a), 0)[:w2] for j in range(XLEN)]
        rows = [Cat(r, Const(0, w2 - len(r))) for r in rows]
        rows.append(Mux(a_neg, ~Cat(Const(0, XLEN), b), 0))
        rows.append(Mux(b_neg, ~Cat(Const(0, XLEN), a), 0))
        rows.append(Cat(a_neg ^ b_neg, a_neg & b_neg, Const(0, w2 - 2)))
        # Stages 1 and 2: the tree, split in two.
        rows = compress(m, rows, layers=self.LAYERS, name="csa_a")
        regs1 = [Signal(w2, name=f"s2_row{k}") for k in range(len(rows))]
        m.d.sync += [r.eq(v) for r, v in zip(regs1, rows, strict=True)]
        rows = compress(m, regs1, name="csa_b")
        regs2 = [Signal(w2, name=f"s3_row{k}") for k in range(2)]
        m.d.sync += [r.eq(v) for r, v in zip(regs2, rows, strict=True)]
        # Stage 3: the carry-propagate adder.
        product = Signal(w2)
        total, _ = prefix_add(m, regs2[0], regs2[1], width=w2, name="cpa")
        m.d.sync += product.eq(total)
        funct3, word = sel[-1][:2], sel[-1][2]
        value = Mux(word, _sext32(product), Mux(funct3 == 0, product[:XLEN], product[XLEN:]))
        m.d.comb += [self.o.valid.eq(valid[-1]), self.o.payload.thread.eq(thread[-1]),
                     self.o.payload.value.eq(value)]
        return m


class DivUnit(wiring.Component):
    """DIV, DIVU, REM, REMU and their W forms: one at a time.

    Parameters (keyword-only)
    -------------------------
    bits : int, 2..3
        Quotient bits found per cycle (radix 4 or radix 8; default 3).

    Members
    -------
    i : ``In(stream.Signature(MulDivRequest))``
        The division; ``funct3`` is the encoding's 4..7, low two bits.
    o : ``Out(stream.Signature(MulDivResult))``
        Its result, held until taken.

    Contract
    --------
    ``i.ready`` is 1 exactly when no division is in progress or offered. Results follow the
    RISC-V spec for division by zero (all ones; the dividend) and signed overflow (the dividend;
    0).

    Latency, from the request taken to the result offered: :meth:`cycles`, ``1 + steps``
    (``steps = ceil(64 / bits)``: 33 at radix 4, 23 at radix 8) when both operands are taken
    as they are (unsigned forms, non-negative signed operands); one more when a signed operand
    is negative (the magnitudes), another when that is the divisor (its multiples), one more
    when the result is negated (a negative quotient or remainder).

    Restoring division of the magnitudes, ``bits`` quotient bits a step: the partial remainder
    shifted by ``bits`` bits is compared with every multiple 1..2**bits - 1 of the divisor
    (subtractions side by side) and the largest multiple not above it is taken. The odd
    multiples (3, 5, 7 times the divisor) are computed as the request is taken, from the
    operand itself when it is not negative.
    """

    #: Odd multiples of the divisor beyond 1 kept in registers: m = 2**p + sign (the rest are
    #: shifts of these).
    _ODD = {3: (1, 1), 5: (2, 1), 7: (3, -1)}

    def __init__(self, *, bits=3):
        self.bits = check_int("bits", bits, 2, 3)
        super().__init__({
            "i": In(stream.Signature(MulDivRequest)),
            "o": Out(stream.Signature(MulDivResult)),
        })

    @property
    def steps(self):
        """Iterations of a division, ``bits`` quotient bits each."""
        return -(-XLEN // self.bits)

    def cycles(self, *, negative_a=False, negative_b=False, negated=False):
        """Cycles from the request taken to the result offered, for a division whose signed
        dividend or divisor is negative and whose result is negated."""
        return (1 + self.steps + bool(negative_a or negative_b) + bool(negative_b)
                + bool(negated))

    def elaborate(self, platform):
        m = Module()
        bits, steps = self.bits, self.steps
        qw = bits * steps          # quotient register: the dividend, zero-extended
        w = XLEN + bits            # a shifted remainder: below 2**bits times the divisor
        req = self.i.payload
        thread = Signal.like(req.thread)
        rem_op = Signal()          # funct3 bit 1
        word = Signal()
        a, b = Signal(XLEN), Signal(XLEN)
        neg_a, neg_b, b_zero = Signal(), Signal(), Signal()
        rem, quo = Signal(XLEN), Signal(qw)
        count = Signal(range(steps + 1))
        value = Signal(XLEN)
        odd = {k: Signal(w, name=f"b{k}") for k in self._ODD if k < 1 << bits}

        ia = Mux(req.word, Mux(req.funct3[0], req.a[:32], _sext32(req.a)), req.a)
        ib = Mux(req.word, Mux(req.funct3[0], req.b[:32], _sext32(req.b)), req.b)
        neg_a_next = ~req.funct3[0] & ia[-1]
        neg_b_next = ~req.funct3[0] & ib[-1]
        abs_a = Mux(neg_a, negate(m, a, name="neg_a"), a)
        abs_b = Mux(neg_b, negate(m, b, name="neg_b"), b)
        # The odd multiples, from the request's divisor (used when it is not negative) or,
        # after the magnitudes, from the register (also while idle: nothing toggles then).
        from_input = Signal()
        src = Mux(from_input, ib, b)
        odd_next = []
        for k, reg in odd.items():
            p, sign = self._ODD[k]
            adder = prefix_add if sign > 0 else prefix_sub
            total, _ = adder(m, Cat(Const(0, p), src), src, width=w, name=f"times{k}")
            odd_next.append(reg.eq(total))

        def multiple(k):
            """``k`` times the divisor (1 <= k < 2**bits), ``w`` bits."""
            shift = (k & -k).bit_length() - 1
            base = b if k >> shift == 1 else odd[k >> shift]
            return Cat(Const(0, shift), base)[:w]

        # One step: the largest multiple not above the shifted remainder (the comparisons
        # are monotone in k, so the digit is the count of them that hold).
        shifted = Cat(quo[qw - bits:], rem)
        digit = Const(0, bits)
        part = shifted[:XLEN]
        for k in range(1, 1 << bits):
            diff, ge = prefix_sub(m, shifted, multiple(k), width=w, name=f"step{k}")
            digit = Mux(ge, k, digit)
            part = Mux(ge, diff[:XLEN], part)
        result = Mux(rem_op, rem, quo[:XLEN])
        negative = Mux(rem_op, neg_a, (neg_a ^ neg_b) & ~b_zero)
        signed_result = negate(m, result, name="neg_r")

        plain = Mux(word, _sext32(result), result)
        m.d.comb += [self.o.payload.thread.eq(thread),
                     self.o.payload.value.eq(Mux(negative, value, plain))]
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += [self.i.ready.eq(1), from_input.eq(self.i.valid)]
                with m.If(self.i.valid):
                    m.d.sync += [thread.eq(req.thread), rem_op.eq(req.funct3[1]),
                                 word.eq(req.word), a.eq(ia), b.eq(ib), quo.eq(ia),
                                 rem.eq(0), neg_a.eq(neg_a_next), neg_b.eq(neg_b_next),
                                 b_zero.eq(ib == 0), count.eq(steps), *odd_next]
                    with m.If(neg_a_next | neg_b_next):
                        m.next = "ABS"
                    with m.Else():
                        m.next = "ITER"
            with m.State("ABS"):
                m.d.sync += [quo.eq(abs_a), b.eq(abs_b)]
                with m.If(neg_b):
                    m.next = "MULTIPLES"
                with m.Else():
                    m.next = "ITER"
            with m.State("MULTIPLES"):
                m.d.sync += odd_next
                m.next = "ITER"
            with m.State("ITER"):
                m.d.sync += [rem.eq(part), quo.eq(Cat(digit, quo[:qw - bits])),
                             count.eq(count - 1)]
                with m.If(count == 1):
                    with m.If(negative):
                        m.next = "SIGN"
                    with m.Else():
                        m.next = "DONE"
            with m.State("SIGN"):
                m.d.sync += value.eq(Mux(word, _sext32(signed_result), signed_result))
                m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.o.valid.eq(1)
                with m.If(self.o.ready):
                    m.next = "IDLE"
        return m
