"""The pipelined FP conversion unit: FP32 to and from BF16, CFP8 1-4-3 / 1-5-2, SHP and UHP."""

import functools

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common import pipeline
from hw.common.params import check_int, check_tag_width

from .formats import BIAS_BITS, FP32, SR_BITS, Flags, FormatCode, Round, check_formats
from .rng import XorShift32
from .unpack import EXP_WIDTH, SIG_WIDTH, pack_fp32, unpack, unpack_any

__all__ = ["ConvOp", "ConvertUnit", "ConvertPipe", "request_layout", "response_layout",
           "DEFAULT_FORMATS"]

#: Every format a conversion can target: all of the table but FP32 itself.
DEFAULT_FORMATS = ("bf16", "cfp8_143", "cfp8_152", "shp", "uhp")

#: Largest number of stochastic-rounding bits (the generator's word).
SR_BITS_MAX = 32


class ConvOp(enum.Enum, shape=1):
    """Direction of a conversion."""
    NARROW = 0  #: FP32 -> ``fmt``, rounded by ``rnd``, result zero-extended
    WIDEN = 1   #: ``fmt`` (right-aligned in ``data``) -> FP32, always exact


def request_layout(tag_width):
    """Payload of a conversion request. ``bias`` is ignored for BF16 and UHP (fixed bias)."""
    return data.StructLayout({
        "data": 32,
        "op": ConvOp,
        "fmt": FormatCode,
        "bias": BIAS_BITS,
        "rnd": Round,
        "tag": check_tag_width(tag_width),
    })


def response_layout(tag_width):
    """Payload of a conversion response."""
    return data.StructLayout({
        "data": 32,
        "flags": Flags,
        "tag": check_tag_width(tag_width),
    })


def _check_formats(formats):
    return check_formats(
        formats, name="formats", allowed=DEFAULT_FORMATS,
        refuse=lambda f: f"ConvertUnit converts to and from FP32; {f.name!r} is not a conversion "
                         "format")


def _check_params(tag_width, sr_bits, formats):
    """The validated ``(tag_width, sr_bits, formats)`` of a conversion unit or pipe."""
    return (check_tag_width(tag_width), check_int("sr_bits", sr_bits, 1, SR_BITS_MAX),
            _check_formats(formats))


class ConvertUnit(wiring.Component):
    """FP32 <-> BF16 / CFP8 / CFP16 conversion, one request per cycle.

    Parameters (keyword-only)
    -------------------------
    tag_width : int, 0..64
        Width of the opaque tag passed from each request to its response.
    sr_bits : int, 1..32
        Fraction bits kept below the destination LSB by stochastic rounding (contract decision 8).
    formats : sequence of format names
        The formats the unit converts to and from (any of ``DEFAULT_FORMATS``, each once).

    Members
    -------
    i : ``In(stream.Signature(request_layout(tag_width)))``
        Requests: ``data``, ``op`` (:class:`ConvOp`), ``fmt`` (:class:`FormatCode`), ``bias``
        (configurable formats only), ``rnd`` (:class:`Round`, narrowing only), ``tag``.
    o : ``Out(stream.Signature(response_layout(tag_width)))``
        Responses in request order: ``data`` (a narrow result zero-extended), ``flags``, ``tag``.
    seed : ``In(stream.Signature(32))``
        Always ready. A write of ``s`` reloads the SR generator (:class:`XorShift32`): the first
        request accepted after the write cycle rounds with the top ``sr_bits`` of
        ``xorshift32(s)`` (``s = 0`` means ``XORSHIFT_ZERO_SEED``, which is also the reset state).

    Contract
    --------
    * Latency ``ConvertUnit.latency`` cycles from the cycle a request is accepted to the cycle its
      response is valid, with no stall; one request per cycle sustained.
    * Backpressure: the whole pipeline holds while ``o`` is valid and not ready, so ``i.ready`` is
      ``~o.valid | o.ready``. ``o.valid`` never depends on ``o.ready``.
    * The generator steps once per accepted request, whatever its ``op``, ``fmt`` or ``rnd``.
    * Arithmetic is ``docs/formats.md``'s (the reference model is ``verif/fp/convert.py``):
      RNE or SR, saturating configurable formats, IEEE BF16, tininess after rounding.
    * A request whose ``fmt`` is FP32, 6, 7 or a format the unit was not built with is not a
      conversion: a narrow returns 0, a widen returns FP32's canonical NaN, both with Invalid only.
    """

    #: Cycles from acceptance to a valid response when the output is not stalled.
    latency = 5

    def __init__(self, *, tag_width=8, sr_bits=SR_BITS, formats=DEFAULT_FORMATS):
        self.tag_width, self.sr_bits, self._formats = _check_params(tag_width, sr_bits, formats)
        super().__init__({
            "i": In(stream.Signature(request_layout(tag_width))),
            "o": Out(stream.Signature(response_layout(tag_width))),
            "seed": In(stream.Signature(32)),
        })

    @property
    def formats(self):
        """Names of the formats the unit was built with, in the order given."""
        return tuple(f.name for f in self._formats)

    def elaborate(self, platform):
        m = Module()
        m.submodules.rng = rng = XorShift32()
        wiring.connect(m, wiring.flipped(self.seed), rng.seed)
        m.submodules.pipe = pipe = ConvertPipe(tag_width=self.tag_width, sr_bits=self.sr_bits,
                                               formats=self.formats)
        # The whole pipeline advances when the output register is empty or being taken.
        en = Signal()
        m.d.comb += [
            en.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(en),
            rng.advance.eq(self.i.valid & en),
            pipe.en.eq(en),
            pipe.i.valid.eq(self.i.valid),
            pipe.i.payload.eq(self.i.payload),
            pipe.sr_word.eq(rng.random[32 - self.sr_bits:]),
            self.o.valid.eq(pipe.o.valid),
            self.o.payload.eq(pipe.o.payload),
        ]
        return m


class ConvertPipe(wiring.Component):
    """The conversion unit's datapath, a pipe that cannot stall (docs/architecture.md):
    :class:`ConvertUnit` is this pipe, an SR generator and the stream control; the vector unit
    runs many of them side by side.

    Parameters (keyword-only)
    -------------------------
    tag_width, sr_bits, formats
        As :class:`ConvertUnit`'s.

    Members
    -------
    en : ``In(1)``
        Advance: every register, ``o`` included, holds while 0.
    i : ``In(stream.Signature(request_layout(tag_width), always_ready=True))``
        A request enters in a cycle with ``en`` and ``i.valid`` (payload as
        :class:`ConvertUnit`'s ``i``).
    sr_word : ``In(sr_bits)``
        The stochastic-rounding bits of the entering request (``ConvertUnit``: the top ``sr_bits``
        of its generator's next number).
    o : ``Out(stream.Signature(response_layout(tag_width), always_ready=True))``
        ``valid`` and the response of the request that entered ``latency`` advances earlier
        (registered). Arithmetic and bad input as :class:`ConvertUnit`.
    """

    #: Advances from a request to its response.
    latency = 5

    def __init__(self, *, tag_width=8, sr_bits=SR_BITS, formats=DEFAULT_FORMATS):
        self.tag_width, self.sr_bits, self._formats = _check_params(tag_width, sr_bits, formats)
        super().__init__({
            "en": In(1),
            "i": In(stream.Signature(request_layout(tag_width), always_ready=True)),
            "sr_word": In(sr_bits),
            "o": Out(stream.Signature(response_layout(tag_width), always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        fmts = self._formats
        sr = self.sr_bits
        # Fraction bits the alignment keeps: SR's, and at least two (round bit and the bit below
        # it, which the tininess test needs).
        fw = max(sr, 2)
        width = SIG_WIDTH + fw              # the aligned significand with its fraction bits
        int_width = max(f.man_bits for f in fmts) + 1  # integer part: the result significand
        packed_width = max(f.max_code + 1 for f in fmts).bit_length()  # room for the carry-out

        en = self.en

        stage = functools.partial(pipeline.stage, m, en)

        def per_format(code, shape, name, fn):
            """A value chosen by the format code ``code``: ``fn(fmt)`` for each built format."""
            sig = Signal(shape, name=name)
            with m.Switch(code):
                for f in fmts:
                    with m.Case(f.code):
                        m.d.comb += sig.eq(fn(f))
            return sig

        # Stage 1: unpack both directions; destination exponent and alignment shift of a narrow.
        req = self.i.payload
        code = req.fmt
        x = unpack(m, req.data, FP32, normalize=False)
        wide_u, known = unpack_any(m, req.data, code, req.bias, fmts)

        def bias_of(f):
            return req.bias if f.configurable else f.bias

        # The result's biased exponent if it is normal; < 1 means the value is in (or below) the
        # destination's denormal range, which scales it down by a further 1 - dexp bits.
        dexp = per_format(code, signed(EXP_WIDTH + 1), "dexp", lambda f: x.exp + bias_of(f))
        huge = per_format(code, 1, "huge", lambda f: dexp > f.max_exp_field)
        # Right shift putting the destination LSB on the integer boundary: the mantissa width
        # difference, plus 1 - dexp in the denormal range; clamped where everything is sticky.
        # It is computed from the exponent field directly (not from ``dexp``) to keep it shallow.
        ef = req.data[FP32.man_bits:FP32.sign_shift]
        ef_eff = Mux(ef == 0, 1, ef)  # FP32 subnormals are scaled as exponent field 1

        def shift_of(f):
            base = FP32.man_bits - f.man_bits
            raw = Signal(signed(EXP_WIDTH + 1), name=f"shift_raw_{f.name}")
            m.d.comb += raw.eq(base + 1 + FP32.bias - bias_of(f) - ef_eff)  # base + 1 - dexp
            return Mux(raw <= base, base, Mux(raw >= width, width, raw))

        shift = per_format(code, range(width + 1), "shift", shift_of)
        s1 = stage(
            "s1", valid=self.i.valid, tag=req.tag, op=req.op, code=code, known=known, rnd=req.rnd,
            rand=self.sr_word, sign=x.sign, zero=x.zero, inf=x.inf, nan=x.nan,
            snan=x.snan, denormal=x.denormal, sig=x.sig, shift=shift, dexp=dexp, huge=huge,
            wide_u=wide_u)

        # Stage 2: alignment. The destination LSB lands on bit ``fw`` of ``aligned``; the hidden bit
        # is part of the shifted integer, so a denormal result needs no special case later.
        code = s1.code
        shifted = Cat(Const(0, width), Const(0, fw), s1.sig) >> s1.shift
        aligned = shifted[width:]
        s2 = stage(
            "s2", valid=s1.valid, tag=s1.tag, op=s1.op, code=code, known=s1.known, rnd=s1.rnd,
            rand=s1.rand, sign=s1.sign, zero=s1.zero, inf=s1.inf, nan=s1.nan, snan=s1.snan,
            denormal=s1.denormal, dexp=s1.dexp, huge=s1.huge,
            integer=aligned[fw:fw + int_width], frac=aligned[:fw], sticky=shifted[:width].any(),
            wide=pack_fp32(m, s1.wide_u), wide_snan=s1.wide_u.snan,
            wide_denormal=s1.wide_u.denormal)

        # Stage 3: pack {exponent, mantissa} as one integer (so the rounding carry runs into the
        # exponent) and decide the increment.
        code = s2.code
        integer, frac = s2.integer, s2.frac
        packed = per_format(code, packed_width, "packed", lambda f: Cat(
            integer[:f.man_bits], Mux(integer[f.man_bits], s2.dexp[:f.exp_bits], 0)))
        round_bit = frac[fw - 1]
        below = frac[:fw - 1].any() | s2.sticky
        sr_carry = (frac[fw - sr:] + s2.rand)[sr]
        increment = Mux(s2.rnd == Round.SR, sr_carry, round_bit & (below | integer[0]))
        # Tiny iff |x| < 2**emin - 2**(emin - m - 2): below the smallest normal by more than a
        # quarter of the denormal LSB (the same threshold for RNE and SR).
        tiny = per_format(code, 1, "tiny", lambda f: ~integer[f.man_bits] & ~(
            (integer[:f.man_bits] == (1 << f.man_bits) - 1) & frac[fw - 1] & frac[fw - 2]))
        s3 = stage(
            "s3", valid=s2.valid, tag=s2.tag, op=s2.op, code=code, known=s2.known, sign=s2.sign,
            zero=s2.zero, inf=s2.inf, nan=s2.nan, snan=s2.snan, denormal=s2.denormal,
            huge=s2.huge, packed=packed, increment=increment, inexact=frac.any() | s2.sticky,
            tiny=tiny, wide=s2.wide, wide_snan=s2.wide_snan, wide_denormal=s2.wide_denormal)

        # Stage 4: the increment. Without ``huge`` the packed value is at most max_code, so
        # overflow is exactly a carry out of max_code.
        code = s3.code
        at_max = per_format(code, 1, "at_max", lambda f: s3.packed == f.max_code)
        s4 = stage(
            "s4", valid=s3.valid, tag=s3.tag, op=s3.op, code=code, known=s3.known, sign=s3.sign,
            zero=s3.zero, inf=s3.inf, nan=s3.nan, snan=s3.snan, denormal=s3.denormal,
            overflow=s3.huge | (at_max & s3.increment),
            rounded=(s3.packed + s3.increment)[:packed_width], inexact=s3.inexact,
            tiny=s3.tiny, wide=s3.wide, wide_snan=s3.wide_snan, wide_denormal=s3.wide_denormal)

        # Stage 5: special cases, saturation and flags, into the output register.
        code = s4.code
        result = Signal(32)
        flags = Signal(Flags)
        with m.If(~s4.known):
            m.d.comb += [
                result.eq(Mux(s4.op == ConvOp.WIDEN, FP32.qnan_code, 0)),
                flags.invalid.eq(1),
            ]
        with m.Elif(s4.op == ConvOp.WIDEN):
            m.d.comb += [
                result.eq(s4.wide),
                flags.invalid.eq(s4.wide_snan),
                flags.denormal.eq(s4.wide_denormal),
            ]
        with m.Else():
            m.d.comb += flags.denormal.eq(s4.denormal)
            with m.Switch(code):
                for f in fmts:
                    with m.Case(f.code):
                        self._narrow_specials(m, f, s4, result, flags)
        with m.If(en):
            m.d.sync += [
                self.o.valid.eq(s4.valid),
                self.o.payload.data.eq(result),
                self.o.payload.flags.eq(flags),
                self.o.payload.tag.eq(s4.tag),
            ]
        return m

    @staticmethod
    def _narrow_specials(m, f, s4, result, flags):
        """Final result and flags of a narrow to the static format ``f``."""
        signed_bit = Const(0, 1) if not f.signed else s4.sign
        # The largest finite magnitude with the operand's sign: what saturation delivers.
        saturated = Cat(Const(f.max_code, f.sign_shift), signed_bit)
        with m.If(s4.nan):
            if f.ieee:
                m.d.comb += [result.eq(f.qnan_code), flags.invalid.eq(s4.snan)]
            else:
                m.d.comb += [result.eq(saturated), flags.invalid.eq(1)]
        # An unsigned format has no negative values: -Inf and negative non-zeros are invalid.
        negative = Const(0, 1) if f.signed else s4.sign & ~s4.zero
        with m.Elif(negative):
            m.d.comb += [result.eq(0), flags.invalid.eq(1)]
        with m.Elif(s4.inf):
            if f.ieee:
                m.d.comb += result.eq(Cat(Const(f.inf_code, f.sign_shift), signed_bit))
            else:
                m.d.comb += [result.eq(saturated), flags.overflow.eq(1), flags.inexact.eq(1)]
        with m.Elif(s4.overflow):
            limit = f.inf_code if f.ieee else f.max_code
            m.d.comb += [
                result.eq(Cat(Const(limit, f.sign_shift), signed_bit)),
                flags.overflow.eq(1),
                flags.inexact.eq(1),
            ]
        with m.Else():
            m.d.comb += [
                result.eq(Cat(s4.rounded[:f.sign_shift], signed_bit)),
                flags.inexact.eq(s4.inexact),
                flags.underflow.eq(s4.tiny & s4.inexact),
            ]
