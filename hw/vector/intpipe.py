"""The vector unit's integer pipe: INT8/16/32 arithmetic, logic, shifts, compares, select and
the integer sum reduction, 64 bytes per cycle."""

import functools
import itertools

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common import pipeline
from hw.common.arith import compress, prefix_add
from hw.common.shared import is_converting
from hw.fp.formats import Flags

from .isa import VECTOR_BITS, VECTOR_BYTES, VecOp, VecType, request_layout

__all__ = ["IntPipe", "INT_OPS", "lane_bytes", "lane_reduce", "spread_bytes", "seg_add",
           "Pipe", "result_layout"]

#: The ops this pipe implements (on int8, int16, int32; ``select`` on every type).
INT_OPS = (VecOp.ADD, VecOp.SUB, VecOp.MUL, VecOp.MIN, VecOp.MAX, VecOp.MINU, VecOp.MAXU,
           VecOp.AND, VecOp.OR, VecOp.XOR, VecOp.NOT, VecOp.SLL, VecOp.SRL, VecOp.SRA,
           VecOp.EQ, VecOp.LT, VecOp.LTU, VecOp.SELECT, VecOp.REDSUM)

#: The ops computing ``a - b`` on the adder (``add`` being the one that adds).
_SUBTRACTS = (VecOp.SUB, VecOp.MIN, VecOp.MAX, VecOp.MINU, VecOp.MAXU, VecOp.LT, VecOp.LTU)

#: Lane widths in bytes.
_WIDTHS = (1, 2, 4)
#: 3:2 layers of the multipliers' and the reduction's carry-save trees in the first stage.
STAGE1_LAYERS = 6


def _part(m, name):
    """A new submodule of ``m`` for a piece of combinational logic.

    Amaranth's simulator evaluates all combinational statements of a module as one process and
    reruns it until it settles, once per signal level of its longest chain; logic split into
    small modules is evaluated piece by piece, which makes the pipes' simulation many times
    faster. Written as Verilog (:func:`hw.common.shared.is_converting`), where the split would only
    add ports, it is ``m`` itself."""
    if is_converting():
        return m
    sub = Module()
    m.submodules[name] = sub
    return sub


def _sig(m, value, name, *, attrs=None):
    """``value`` as a named signal, computed in its own submodule (:func:`_part`); later
    expressions refer to it instead of repeating it."""
    sig = Signal(len(Value.cast(value)), name=name, attrs=attrs)
    _part(m, name).d.comb += sig.eq(value)
    return sig


def lane_bytes(m, vtype, name="wb"):
    """Three 1-bit signals ``(w1, w2, w4)``: the lane width of ``vtype`` is 1, 2 or 4 bytes
    (INT8; INT16/BF16; INT32/FP32)."""
    w = [Signal(name=f"{name}{k}") for k in _WIDTHS]
    m.d.comb += [
        w[0].eq(vtype == VecType.INT8),
        w[1].eq((vtype == VecType.INT16) | (vtype == VecType.BF16)),
        w[2].eq((vtype == VecType.INT32) | (vtype == VecType.FP32)),
    ]
    return tuple(w)


def spread_bytes(bits):
    """512 bits: bit ``j`` of the 64-bit ``bits`` copied to every bit of byte ``j``."""
    return Cat(*(bits[j].replicate(8) for j in range(VECTOR_BYTES)))


def lane_reduce(bits, wb, op):
    """64 bits: for byte ``j``, ``op`` (``"and"``, ``"or"`` or ``"top"``) over the bytes of
    ``j``'s lane of ``wb`` bytes (``"top"``: the bit of the lane's most significant byte)."""
    out = []
    for j in range(VECTOR_BYTES):
        base = j - j % wb
        group = bits[base:base + wb]
        out.append({"and": group.all(), "or": group.any(), "top": group[-1]}[op])
    return Cat(*out)


def _decode(op, ones, zeros):
    """1 for the ops ``ones``, 0 for the ops ``zeros``, anything for every other code: a match on
    the fewest bits of ``op`` that tell the two sets apart. Codes outside both sets are free (the
    pipe's output for an op outside :data:`INT_OPS` is unspecified), so a decode on the longest
    path (``sub``, ahead of the adder: op to ``s1_simple`` was 38 gate levels with a full match)
    is a few levels shallower. The bits are found here, not by hand, so a renumbered
    :class:`VecOp` stays correct."""
    op = op.as_value()
    for n in range(1, len(op) + 1):
        for bits in itertools.combinations(range(len(op)), n):
            def code(o, bits=bits):
                return sum(((o.value >> b) & 1) << k for k, b in enumerate(bits))
            one, zero = {code(o) for o in ones}, {code(o) for o in zeros}
            if not one & zero:
                key = Cat(*(op[b] for b in bits))
                # The shorter list: ``key`` is one of ``ones``' codes, or none of ``zeros``'.
                return key.matches(*one) if len(one) <= len(zero) else ~key.matches(*zero)
    raise ValueError(f"ops {ones} and {zeros} overlap")


def _by_width(w, values):
    """``values[k]`` for the lane width ``w[k]`` that is set (one-hot AND-OR)."""
    out = 0
    for sel, v in zip(w, values, strict=True):
        out = out | Mux(sel, v, 0)
    return out


def seg_add(m, x, y, seg, sep_x, sep_y, carry_in, *, name):
    """``x + y`` cut into ``seg``-bit segments joined by separator bits.

    A separator bit ``(sep_x[k], sep_y[k])`` between segments ``k`` and ``k + 1`` is ``(1, 0)``
    to pass the carry on, ``(0, 0)`` to stop it and ``(1, 1)`` to stop it and carry 1 into
    segment ``k + 1``. Returns ``(sum, carries)``: ``carries[k]`` is the carry out of segment
    ``k`` when the separator above it stops the carry (the last one always)."""
    n = len(x) // seg
    x, y = _sig(m, x, f"{name}_x"), _sig(m, y, f"{name}_y")
    sep_x, sep_y = _sig(m, sep_x, f"{name}_sx"), _sig(m, sep_y, f"{name}_sy")
    xs, ys = [], []
    for k in range(n):
        xs.append(x[k * seg:(k + 1) * seg])
        ys.append(y[k * seg:(k + 1) * seg])
        if k < n - 1:
            xs.append(sep_x[k])
            ys.append(sep_y[k])
    total, cout = prefix_add(_part(m, f"{name}_ks"), Cat(*xs), Cat(*ys), carry_in=carry_in,
                             name=name)
    step = seg + 1
    result = _sig(m, Cat(*(total[k * step:k * step + seg] for k in range(n))), f"{name}_z")
    carries = _sig(m, Cat(*(total[k * step + seg] for k in range(n - 1)), cout), f"{name}_cy")
    return result, carries


def _lane_masks(w):
    """Constants of a 512-bit vector of ``w``-bit lanes: the lane-start bits, and for each ``j``
    the bits at lane offset ``>= j``."""
    starts = sum(1 << (k * w) for k in range(VECTOR_BITS // w))
    return starts, [sum(((1 << (w - j)) - 1) << (k * w + j) for k in range(VECTOR_BITS // w))
                    for j in range(w)]


def _segmented_compress(m, rows, w, *, layers=None, name):
    """:func:`hw.fp.mul.compress` within ``w``-bit lanes: carries out of a lane are dropped
    (every sum is modulo ``2**w`` per lane)."""
    starts, _ = _lane_masks(w)
    return _layered_compress(m, rows, layers=layers, name=name,
                             carry_mask=((1 << VECTOR_BITS) - 1) ^ starts)


def _layered_compress(m, rows, *, layers=None, name, carry_mask=None):
    """:func:`hw.fp.mul.compress`, each layer in a submodule of its own (see :func:`_part`)."""
    level = 0
    while len(rows) > 2 and (layers is None or level < layers):
        rows = compress(_part(m, f"{name}{level}"), rows, layers=1, name=f"{name}{level}_",
                        carry_mask=carry_mask)
        level += 1
    return rows


#: Payload of a pipe's result: the vector and the OR of its lanes' flags.
result_layout = data.StructLayout({"data": VECTOR_BITS, "flags": Flags})


class Pipe(wiring.Component):
    """Base of the vector unit's pipes, which cannot stall (docs/architecture.md): the members
    ``en``, ``i`` and ``o`` that every pipe has (see :class:`IntPipe`), plus ``extra`` members.
    """

    def __init__(self, **extra):
        super().__init__({
            "en": In(1),
            "i": In(stream.Signature(request_layout(0), always_ready=True)),
            "o": Out(stream.Signature(result_layout, always_ready=True)),
            **extra})

    def _valid(self, m):
        """``o.valid``: ``i.valid`` ``latency`` advances later."""
        m.d.comb += self.o.valid.eq(pipeline.delay(m, self.en, self.i.valid, self.latency,
                                                   name="valid"))


class IntPipe(Pipe):
    """The integer operations of the vector unit, without handshake.

    Members
    -------
    en : ``In(1)``
        Advance: every register of the pipe, ``o`` included, holds while 0.
    i : ``In(stream.Signature(request_layout(0), always_ready=True))``
        A request enters in a cycle with ``en`` (``i.valid`` only travels to ``o.valid``: the
        pipe keeps no state): ``op``, ``vtype``, operands ``a``, ``b``, ``c``.
    o : ``Out(stream.Signature(result_layout, always_ready=True))``
        ``valid`` and the result ``data``, ``latency`` advances after the request entered;
        ``flags`` are always 0 (no integer op raises one).

    Contract
    --------
    The ops of :data:`INT_OPS` on ``int8``, ``int16`` and ``int32`` lanes, and ``select`` on
    every lane type, exactly as docs/vector.md (``verif/vector/model.py``) defines them. For any
    other (op, type) pair the output is unspecified: the vector unit selects another pipe or the
    zero result of an illegal request.

    Stage 1 computes the single-stage ops (a segmented Kogge-Stone adder for add, sub and the
    compares, per-width barrel shifters, bitwise logic, select) and the first
    :data:`STAGE1_LAYERS` carry-save layers of the low-half multipliers (one array per lane
    width) and of the sum's 64 byte rows; stage 2 the remaining carry-save layers (down to two
    rows); stage 3 the final adders and the output selection. (With the final adders in stage 2
    the sum's path was 41 gate levels.)
    """

    #: Advances from a request to its result.
    latency = 3

    def elaborate(self, platform):
        m = Module()
        req = self.i.payload
        a, b = req.a, req.b
        w = lane_bytes(m, req.vtype)

        stage = functools.partial(pipeline.stage, m, self.en)
        self._valid(m)

        simple = self._simple(m, req, w)
        mul_rows = {wb: self._mul_rows(m, a, b, 8 * wb) for wb in _WIDTHS}
        sum_rows = self._sum_rows(m, a, w)
        # Stage 3's choice travels as two class bits rather than the op.
        others = [o for o in INT_OPS if o not in (VecOp.MUL, VecOp.REDSUM)]
        mul = _decode(req.op, [VecOp.MUL], [VecOp.REDSUM, *others])
        red = _decode(req.op, [VecOp.REDSUM], [VecOp.MUL, *others])
        s1 = stage("s1", mul=mul, red=red, w=Cat(*w), simple=simple, **{
            f"mul{wb}_{k}": row for wb in _WIDTHS for k, row in enumerate(mul_rows[wb])},
            **{f"sum_{k}": row for k, row in enumerate(sum_rows)})

        # Stage 2: the rest of the carry-save trees, down to two rows each.
        mul_pairs = {wb: _segmented_compress(
            m, [getattr(s1, f"mul{wb}_{k}") for k in range(len(mul_rows[wb]))], 8 * wb,
            name=f"mul{wb}_b") for wb in _WIDTHS}
        sum_pair = _layered_compress(m, [getattr(s1, f"sum_{k}") for k in range(len(sum_rows))],
                                     name="sum_b")
        s2 = stage("s2", mul=s1.mul, red=s1.red, w=s1.w, simple=s1.simple, **{
            f"mul{wb}_{k}": row for wb in _WIDTHS for k, row in enumerate(mul_pairs[wb])},
            **{f"sum_{k}": row for k, row in enumerate(sum_pair)})

        # Stage 3: the final adders, the output selection.
        w = tuple(s2.w[k] for k in range(3))
        products = []
        for wb in _WIDTHS:
            zero = Const(0, VECTOR_BITS // (8 * wb) - 1)
            p, _ = seg_add(m, getattr(s2, f"mul{wb}_0"), getattr(s2, f"mul{wb}_1"), 8 * wb,
                           zero, zero, 0, name=f"mul{wb}_cpa")
            products.append(p)
        total, _ = prefix_add(_part(m, "sum_cpa"), s2.sum_0, s2.sum_1, width=32, name="sum_cpa")
        redsum = _by_width(w, [total[:8], total[:16], total])
        out = Signal(VECTOR_BITS)
        with m.If(s2.mul):
            m.d.comb += out.eq(_by_width(w, products))
        with m.Elif(s2.red):
            m.d.comb += out.eq(redsum)
        with m.Else():
            m.d.comb += out.eq(s2.simple)
        with m.If(self.en):
            m.d.sync += self.o.payload.data.eq(out)
        m.d.comb += self.o.payload.flags.eq(0)
        return m

    @staticmethod
    def _simple(m, req, w):
        """The single-stage ops: add/sub, min/max, logic, shifts, compares, select."""
        a, b, c = req.a, req.b, req.c
        op = req.op
        # The adder subtracts for every op that uses it but add (its result is unused by the
        # others).
        sub = Signal(name="sub")
        m.d.comb += sub.eq(_decode(op, _SUBTRACTS, [VecOp.ADD]))
        # Byte boundaries that are lane boundaries: every one for INT8, every second for INT16,
        # every fourth (the 32-bit boundaries, always) for INT32.
        boundary = Cat(*((w[0] | (w[1] & (k % 2 == 1)) | (k % 4 == 3))
                         for k in range(VECTOR_BYTES - 1)))
        sep_x = ~boundary | sub.replicate(VECTOR_BYTES - 1)
        sep_y = boundary & sub.replicate(VECTOR_BYTES - 1)
        y = Mux(sub, ~b, b)
        total, carries = seg_add(m, a, y, 8, sep_x, sep_y, sub, name="addsub")

        # Per byte j, values of j's lane: a's and b's sign bits, the carry out of a - b (set when
        # a >= b unsigned), byte equality, a nonzero mask.
        def per_lane(bits, op_name):
            names.append(op_name)
            return _sig(m, _by_width(w, [lane_reduce(bits, wb, op_name) for wb in _WIDTHS]),
                        f"lane_{op_name}_{len(names)}")

        names = []

        a_neg = per_lane(_sig(m, Cat(*(a[8 * j + 7] for j in range(VECTOR_BYTES))), "a_top"),
                         "top")
        b_neg = per_lane(_sig(m, Cat(*(b[8 * j + 7] for j in range(VECTOR_BYTES))), "b_top"),
                         "top")
        ltu = ~per_lane(carries, "top")
        lt = (a_neg & ~b_neg) | (~(a_neg ^ b_neg) & ltu)
        byte_eq = _sig(m, Cat(*(a[8 * j:8 * j + 8] == b[8 * j:8 * j + 8]
                                for j in range(VECTOR_BYTES))), "byte_eq")
        eq = per_lane(byte_eq, "and")
        nonzero = per_lane(_sig(m, Cat(*(a[8 * j:8 * j + 8].any() for j in range(VECTOR_BYTES))),
                                "byte_nz"), "or")
        lt_s, ltu_s, eq_s = (_sig(m, v, n) for v, n in ((lt, "lt"), (ltu, "ltu"), (eq, "eq")))

        shifted = IntPipe._shift(m, req, w)
        out = Signal(VECTOR_BITS, name="simple")
        with m.Switch(op):
            with m.Case(VecOp.ADD, VecOp.SUB):
                m.d.comb += out.eq(total)
            with m.Case(VecOp.MIN):
                m.d.comb += out.eq((a & spread_bytes(lt_s)) | (b & ~spread_bytes(lt_s)))
            with m.Case(VecOp.MAX):
                m.d.comb += out.eq((b & spread_bytes(lt_s)) | (a & ~spread_bytes(lt_s)))
            with m.Case(VecOp.MINU):
                m.d.comb += out.eq((a & spread_bytes(ltu_s)) | (b & ~spread_bytes(ltu_s)))
            with m.Case(VecOp.MAXU):
                m.d.comb += out.eq((b & spread_bytes(ltu_s)) | (a & ~spread_bytes(ltu_s)))
            with m.Case(VecOp.AND):
                m.d.comb += out.eq(a & b)
            with m.Case(VecOp.OR):
                m.d.comb += out.eq(a | b)
            with m.Case(VecOp.XOR):
                m.d.comb += out.eq(a ^ b)
            with m.Case(VecOp.NOT):
                m.d.comb += out.eq(~a)
            with m.Case(VecOp.SLL, VecOp.SRL, VecOp.SRA):
                m.d.comb += out.eq(shifted)
            with m.Case(VecOp.EQ):
                m.d.comb += out.eq(spread_bytes(eq_s))
            with m.Case(VecOp.LT):
                m.d.comb += out.eq(spread_bytes(lt_s))
            with m.Case(VecOp.LTU):
                m.d.comb += out.eq(spread_bytes(ltu_s))
            with m.Case(VecOp.SELECT):
                sel = spread_bytes(nonzero)
                m.d.comb += out.eq((b & sel) | (c & ~sel))
        return out

    @staticmethod
    def _shift(m, req, w):
        """``sll``, ``srl``, ``sra`` of every lane: one right shifter per lane width, a left
        shift being a right shift of the lanes with their bits reversed."""
        a, b = req.a, req.b
        left = req.op == VecOp.SLL
        arith = req.op == VecOp.SRA
        results = []
        for wb in _WIDTHS:
            lw = 8 * wb
            n = VECTOR_BITS // lw

            def reverse(v, lw=lw, n=n):
                return Cat(*(v[k * lw:(k + 1) * lw][::-1] for k in range(n)))

            x = _sig(m, Mux(left, reverse(a), a), f"shr{wb}_in")
            fill = _sig(m, Cat(*((arith & a[k * lw + lw - 1]).replicate(lw) for k in range(n))),
                        f"shr{wb}_fill")
            for level in range(lw.bit_length() - 1):
                s = 1 << level
                amount = Cat(*(b[k * lw + level].replicate(lw) for k in range(n)))
                # Within each lane: shift right by s, the top s bits from the fill.
                moved = ((x >> s) & Const(_low_mask(lw, lw - s), VECTOR_BITS)) | \
                    (fill & ~Const(_low_mask(lw, lw - s), VECTOR_BITS))
                x = _sig(m, (moved & amount) | (x & ~amount), f"shr{wb}_{level}")
            results.append(_sig(m, Mux(left, reverse(x), x), f"shr{wb}_out"))
        return _by_width(w, results)

    @staticmethod
    def _mul_rows(m, a, b, lw):
        """The partial products of the low ``lw`` bits of each ``lw``-bit lane product, reduced
        by the first stage's carry-save layers."""
        n = VECTOR_BITS // lw
        _, keep = _lane_masks(lw)
        rows = []
        for j in range(lw):
            bit = Cat(*(b[k * lw + j].replicate(lw) for k in range(n)))
            rows.append(_sig(m, ((a & bit) << j)[:VECTOR_BITS] & Const(keep[j], VECTOR_BITS),
                             f"mul{lw // 8}_pp{j}"))
        return _segmented_compress(m, rows, lw, layers=STAGE1_LAYERS, name=f"mul{lw // 8}_a")

    @staticmethod
    def _sum_rows(m, a, w):
        """The rows of the integer sum, reduced by the first stage's layers: byte ``j`` at bit
        ``8·(j mod lane bytes)`` of a 32-bit row (the sum of all lanes modulo 2**w is the sum of
        these rows modulo 2**w)."""
        rows = []
        for j in range(VECTOR_BYTES):
            byte = a[8 * j:8 * j + 8]
            offsets = [8 * (j % wb) for wb in _WIDTHS]
            row = _by_width(w, [Cat(Const(0, o), byte) for o in offsets])
            rows.append(_sig(m, Cat(row, Const(0, 32 - len(row))), f"sum_row{j}"))
        return _layered_compress(m, rows, layers=STAGE1_LAYERS, name="sum_a")


def _low_mask(lw, bits):
    """The 512-bit constant with the low ``bits`` bits of every ``lw``-bit lane set."""
    return sum(((1 << bits) - 1) << (k * lw) for k in range(VECTOR_BITS // lw))
