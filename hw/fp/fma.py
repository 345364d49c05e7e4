"""The pipelined FP32 fused multiply-add: ``FMAPipe`` (lockstep datapath) and ``FMAUnit`` (stream).

How the datapath works (the contract is in the class docstrings; the reference model is
``verif/fp/fma.py``). Seven stages; ``c`` enters at the fourth, so an accumulation ``z -> c``
closes a loop of four.

* ``u``: ``a`` and ``b`` are decoded in their run-time formats and normalized (a subnormal FP32
  or BF16, a CFP8 denormal), so their ``W``-bit significands have the top bit set and the
  product ``sp = sa·sb`` (``2W`` bits) has its leading one in its top two bits.
* ``mul.s1``, ``mul.p`` (:class:`hw.fp.mul.Multiplier`): partial products, a Wallace tree of 3:2
  layers, a Kogge-Stone final adder. Beside it, ``m0`` sums the product's exponent and ``m1``
  places the product in the *window*.
* **The window** is an ``N``-bit integer whose top bit weighs ``2**T``. The product sits at bits
  ``S .. S+2W-1`` with 26 bits above it: room for ``c`` up to two bits above the product's top.
  Bit 0 is a sticky bit, the OR of whatever was shifted below bit 1. ``S >= 28 - 2W`` puts a
  normalized product at least 2**26 above bit 0, so whenever ``c`` has bits below bit 1 the sum
  keeps its leading one at bit 25 or above and the round bit never falls on the sticky bit: one
  sticky bit then gives the right round bit, carry and borrow. A product so tiny that ``T`` would
  fall below ``-126`` is shifted right first (its lost bits sticky), so ``T >= -126`` always; a
  ``c`` more than 26 bits above the product, or any ``c`` with a zero product, takes the top
  itself (``T`` is then ``c``'s exponent; the product lies wholly below ``c``'s round bit and
  only its stickiness matters).
* ``al`` (``c`` enters): ``c`` shifted right by ``T - e_c`` (its bits below bit 1 into the sticky
  bit) and inverted for an effective subtraction; the product by its pre-shift.
* ``ad``: one carry tree gives ``P + C``, ``P - C`` and, by inverting ``P + ~C``, ``C - P``: the
  magnitude of the sum without a second adder. Beside it, the position of the *stopper*, the
  window bit of weight ``2**-126``.
* ``nm``: leading zeros of ``sum | stopper`` and the left shift, so normalization stops at the
  smallest normal exponent and a subnormal result comes out aligned.
* ``rd``: round to nearest even on ``{exponent, mantissa}`` as one integer (the carry runs into
  the exponent: subnormal to normal, and to Inf), tininess after rounding from the two bits
  below the LSB, then the special cases.

Every stage stays within the project's budget of 40 gate levels (docs/flow.md); the carry trees,
the carry-save layers and the leading-zero tree are built explicitly (``hw/fp/mul.py``) because
Yosys's ``+`` and ``<`` become ripple chains in the synthesis flow.
"""

import functools
from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common import pipeline
from hw.common.arith import (
    add_many,
    compress,
    count_leading_zeros,
    prefix_add,
    prefix_sub,
    shift_left,
)
from hw.common.params import check_bool, check_tag_width

from .formats import BIAS_BITS, FP32, Flags, FormatCode, check_formats
from .mul import Multiplier
from .unpack import EXP_WIDTH, SIG_WIDTH, unpack, unpack_any

__all__ = ["FMAPipe", "FMAUnit", "FMAGeometry", "FMA_FORMATS", "MATRIX_FORMATS",
           "fma_operand_layout", "fma_request_layout", "fma_response_layout"]

#: The formats a multiplicand may have, by default all of them.
FMA_FORMATS = ("fp32", "bf16", "cfp8_143", "cfp8_152")
#: The matrix units' multiplicands: no FP32, so an 8-bit significand multiplier.
MATRIX_FORMATS = ("bf16", "cfp8_143", "cfp8_152")


#: Bits of the window above the product: 24 of ``c`` and the two guard bits below it.
_ABOVE = SIG_WIDTH + 2
#: Exponent width of the window arithmetic (signed): covers -298 - 27 .. 254 + 27 + 127.
_EW = EXP_WIDTH + 2
#: The smallest normal exponent of FP32, and its bias.
_EMIN = FP32.emin()
_BIAS = FP32.bias
#: Largest ``T + 127`` (window top, biased): the largest product exponent 2·127 plus 27 plus 127.
_TOP127_MAX = 2 * FP32.emax() + _ABOVE + 1 + _BIAS
#: Width of the biased result exponent before the overflow check (up to ``_TOP127_MAX``), signed.
_EXP_FIELD_W = _TOP127_MAX.bit_length() + 1
#: Width of c's alignment shift ``T - e_c`` (signed).
_RC_W = _TOP127_MAX.bit_length() + 1
#: Stages from the normalized significands to the product: the multiplier's, or two, whichever
#: is more (the exponent logic beside it needs two).
_PRODUCT_STAGES = 2
#: Stages from c to the result: align, add, normalize, round.
_ADD_STAGES = 4


def _check_ab_formats(ab_formats):
    return check_formats(
        ab_formats, name="ab_formats", allowed=FMA_FORMATS,
        refuse=lambda f: f"FMAPipe operands are {', '.join(FMA_FORMATS[:-1])} or "
                         f"{FMA_FORMATS[-1]}, not {f.name!r}")


@dataclass(frozen=True)
class FMAGeometry:
    """Sizes derived from the multiplicand formats, computed and checked once.

    ``mul_width`` (``W``) is the widest significand of ``formats``. The sum window is ``window``
    (``N``) bits wide: the product at bits ``offset .. offset + 2W - 1`` (``S``), 26 bits above it,
    bit 0 for sticky; ``S`` keeps at least 26 bits below a normalized product's leading one, so
    that the round bit never falls to bit 0 when anything is sticky.
    """
    formats: tuple
    mul_width: int
    offset: int
    window: int
    c_delay: int
    latency: int

    @classmethod
    def of(cls, ab_formats):
        formats = _check_ab_formats(ab_formats)
        w = max(f.man_bits + 1 for f in formats)
        offset = max(1, _ABOVE + 2 - 2 * w)
        c_delay = 1 + max(Multiplier.latency_for(w), _PRODUCT_STAGES)
        return cls(formats=formats, mul_width=w, offset=offset, window=offset + 2 * w + _ABOVE,
                   c_delay=c_delay, latency=c_delay + _ADD_STAGES)


def fma_operand_layout(tag_width):
    """Payload of an :class:`FMAPipe` request: the multiplicands ``a·b`` (the addend ``c``
    enters the pipe later); the biases apply to CFP8 operands only."""
    return data.StructLayout({
        "a": 32,
        "a_fmt": FormatCode,
        "a_bias": BIAS_BITS,
        "b": 32,
        "b_fmt": FormatCode,
        "b_bias": BIAS_BITS,
        "tag": check_tag_width(tag_width),
    })


def fma_request_layout(tag_width):
    """Payload of an FMA request: ``a·b + c``; the biases apply to CFP8 operands only."""
    return data.StructLayout({
        "a": 32,
        "b": 32,
        "c": 32,
        "a_fmt": FormatCode,
        "a_bias": BIAS_BITS,
        "b_fmt": FormatCode,
        "b_bias": BIAS_BITS,
        "tag": check_tag_width(tag_width),
    })


def fma_response_layout(tag_width):
    """Payload of an FMA response."""
    return data.StructLayout({
        "z": 32,
        "flags": Flags,
        "tag": check_tag_width(tag_width),
    })


class FMAPipe(wiring.Component):
    """FP32 ``RNE(a·b + c)``, one rounding, one operation per cycle: a pipe that cannot stall
    (docs/architecture.md), for units that run many in lockstep (the matrix units, the vector
    unit): every register advances on ``en``.

    Parameters (keyword-only)
    -------------------------
    tag_width : int, 0..64, default 0
        Width of the opaque tag passed from each request to its result.
    ab_formats : sequence of format names
        The formats ``a`` and ``b`` may have: any of ``fp32``, ``bf16``, ``cfp8_143`` and
        ``cfp8_152``, each once. The significand multiplier is as wide as the widest (24 bits with
        FP32, 8 with BF16).
    round_to_odd : bool, default False
        Add the ``rto`` input: an operation with ``rto`` set is rounded to odd instead of to
        nearest even (see the contract). Off, the pipe is exactly as without the parameter.

    Members
    -------
    en : ``In(1)``
        All pipeline registers (``o`` included) advance when 1, hold when 0.
    i : ``In(stream.Signature(fma_operand_layout(tag_width), always_ready=True))``
        A request enters in a cycle with ``en`` (and ``i.valid``, which only travels to
        ``o.valid``): multiplicands ``a``, ``b``, raw bits right-aligned (bits above the format's
        width are ignored); their formats ``a_fmt``, ``b_fmt`` and biases ``a_bias``, ``b_bias``
        (CFP8 only; ignored otherwise); ``tag``.
    c : ``In(32)``
        The FP32 addend, sampled ``c_delay`` en-cycles after ``i``.
    rto : ``In(1)``, only with ``round_to_odd``
        Round this operation to odd; sampled with ``c``.
    o : ``Out(stream.Signature(fma_response_layout(tag_width), always_ready=True))``
        ``valid``, the result ``z``, its ``flags`` and ``tag``, ``latency`` en-cycles after the
        request entered (registered).

    Contract
    --------
    * Timing: ``latency`` = 7 en-cycles from ``i`` to ``o``, ``c`` taken
      ``c_delay`` = 3 en-cycles after them, whatever ``ab_formats``; so an accumulation
      ``z -> c`` closes a loop of ``latency - c_delay`` = 4 en-cycles, and four independent
      accumulations interleaved keep the unit busy. With ``en`` low nothing moves: ``o``
      holds. After reset the pipeline holds zero operations (``z`` = +0, no flags, no valid).
      ``z`` is computed whatever ``i.valid``: a lockstep parent may leave ``o.valid`` unused.
    * ``z = RNE_fp32(a·b + c)`` with one rounding (the reference model is ``verif/fp/fma.py``):
      multiplicands widened exactly, IEEE special cases, subnormals kept (no flush to zero),
      every NaN result 0x7FC00000, an exact zero sum +0 unless ``a·b`` and ``c`` are both -0.
    * Flags: Invalid (a signalling NaN operand; ``∞·0``, also with a NaN ``c``, but not when
      ``a`` or ``b`` is a NaN; ``∞ - ∞``); Overflow (a finite sum rounds beyond the largest
      FP32, giving ±Inf, with Inexact); Underflow (tiny after rounding, and inexact); Inexact;
      Denormal (some operand is a denormal in its own format, whatever the result).
    * Round to odd (``rto``): a finite inexact result is the FP32 value toward zero with its
      last mantissa bit set, and one beyond the largest finite FP32 is that largest finite value
      (with its sign); the flags are as for RNE but computed on this result (Overflow and
      Inexact for the latter). A later rounding to a format of at most 22 significand bits and
      FP32's exponent range (BF16) then rounds the exact ``a·b + c`` once.
    * Bad input: a format code not in ``ab_formats`` (SHP, UHP, 6, 7, or FP32 when excluded),
      for ``a`` or ``b``, gives 0x7FC00000 with Invalid only. Bits of ``a`` or ``b`` above their
      format's width, and the bias of a non-CFP8 operand, are ignored.
    """

    def __init__(self, *, tag_width=0, ab_formats=FMA_FORMATS, round_to_odd=False):
        self.tag_width = check_tag_width(tag_width)
        self.geometry = FMAGeometry.of(ab_formats)
        self.round_to_odd = check_bool("round_to_odd", round_to_odd)
        super().__init__({
            "en": In(1),
            "i": In(stream.Signature(fma_operand_layout(tag_width), always_ready=True)),
            "c": In(32),
            **({"rto": In(1)} if round_to_odd else {}),
            "o": Out(stream.Signature(fma_response_layout(tag_width), always_ready=True)),
        })

    @property
    def ab_formats(self):
        """Names of the multiplicand formats, in the order given."""
        return tuple(f.name for f in self.geometry.formats)

    @property
    def latency(self):
        """En-cycles from ``a``/``b`` being sampled to ``z``/``flags`` holding the result."""
        return self.geometry.latency

    @property
    def c_delay(self):
        """En-cycles from ``a``/``b`` being sampled to ``c`` being sampled."""
        return self.geometry.c_delay

    def elaborate(self, platform):
        m = Module()
        geo = self.geometry
        w, n, s_off = geo.mul_width, geo.window, geo.offset

        def comb(name, shape, value):
            sig = Signal(shape, name=name)
            m.d.comb += sig.eq(value)
            return sig

        stage = functools.partial(pipeline.stage, m, self.en)

        # --- Stage u: decode and normalize the multiplicands. ------------------------------
        def operand(bits, code, bias, which):
            u, known = unpack_any(m, bits, code, bias, geo.formats, normalize=False)
            top = u.sig[SIG_WIDTH - w:]       # every format's significand fits the top W bits
            lz = count_leading_zeros(m, top, name=f"lz_{which}")
            sig = shift_left(m, top, lz, name=f"norm_{which}")
            return u, known, sig, lz

        req = self.i.payload
        ua, known_a, sig_a, lz_a = operand(req.a, req.a_fmt, req.a_bias, "a")
        ub, known_b, sig_b, lz_b = operand(req.b, req.b_fmt, req.b_bias, "b")
        x = stage(
            "u", sig_a=sig_a, sig_b=sig_b, exp_a=ua.exp, exp_b=ub.exp, lz_a=lz_a, lz_b=lz_b,
            sign=ua.sign ^ ub.sign, zero=ua.zero | ub.zero,
            inf=(ua.inf | ub.inf) & ~(ua.nan | ub.nan),
            nan=ua.nan | ub.nan, snan=ua.snan | ub.snan,
            inf_times_zero=((ua.inf & ub.zero) | (ua.zero & ub.inf)),
            denormal=ua.denormal | ub.denormal, unknown=~(known_a & known_b))
        status = dict(zero=x.zero, sign=x.sign, inf=x.inf, nan=x.nan, snan=x.snan,
                      inf_times_zero=x.inf_times_zero, denormal=x.denormal, unknown=x.unknown)

        # --- Multiplier stages; the product's place in the window is computed beside them. --
        m.submodules.mul = mul = Multiplier(width=w)
        m.d.comb += [mul.en.eq(self.en), mul.a.eq(x.sig_a), mul.b.eq(x.sig_b)]
        product = mul.p
        for k in range(mul.latency, _PRODUCT_STAGES):
            product = stage(f"p{k}", p=product).p

        # Stage m0: the product's exponent ep (value = sp * 2**(ep - 2W + 2)).
        # -lz = ~lz + 1 (in _EW bits): no negation before the carry-save layers.
        ep = add_many(m, [x.exp_a, x.exp_b, ~Cat(x.lz_a, Const(0, _EW - len(x.lz_a))),
                          ~Cat(x.lz_b, Const(0, _EW - len(x.lz_b))), 2], width=_EW, name="ep")
        x = stage("m0", ep=ep.as_signed(), **status)

        # Stage m1: the window. The product's top bit (2W-1) weighs 2**(ep + 1) and has 26 bits
        # of the window above it, so the window's top bit weighs 2**(ep + 27), T + 127 =
        # ep + 154. Where that is below 2**-126 (the smallest normal), the product is shifted
        # right by pre = -126 - (ep + 27) instead, so that T never falls below -126.
        top127 = _ABOVE + 1 + _BIAS
        p_shift_max = s_off + 2 * w - 1               # from there on, the product is all sticky
        neg_ep = ~x.ep.as_unsigned()                # -ep - 1
        pre = prefix_add(m, neg_ep, (_EMIN - _ABOVE) % (1 << _EW), width=_EW,
                         name="pre")[0].as_signed()
        pre_max = prefix_add(m, neg_ep, (_EMIN - _ABOVE - p_shift_max) % (1 << _EW),
                             width=_EW, name="pre_max")[0].as_signed()
        ep127 = prefix_add(m, x.ep, top127, width=_EW, name="ep127")[0]
        epn = prefix_add(m, x.ep, (top127 - (n - 1)) % (1 << _EW), width=_EW, name="epn")[0]
        no_pre = comb("no_pre", 1, pre[-1] | (pre == 0))
        p_shift = comb("p_shift", range(p_shift_max + 1),
                       Mux(no_pre, 0, Mux(pre_max[-1], pre, p_shift_max)))
        tf127 = comb("tf127", range(_TOP127_MAX + 1), Mux(no_pre, ep127, _EMIN + _BIAS))
        tfn = comb("tfn", signed(_EW), Mux(no_pre, epn, _EMIN + _BIAS - (n - 1)))
        x = stage("m1", p_shift=p_shift, tf127=tf127, tfn=tfn,
                  **{k: getattr(x, k) for k in status})

        # --- Stage al: c enters; align c and the product in the window. --------------------
        c = unpack(m, self.c, FP32, normalize=False)
        c_field = self.c[FP32.man_bits:FP32.sign_shift]
        ef_eff = comb("c_ef", FP32.exp_bits, Mux(c_field == 0, 1, c_field))
        # rc = T - e_c in the product's frame: c's right shift from the window's top. Below 0,
        # c is more than 26 bits above the product and takes the top itself (as when P = 0);
        # from N - 1 on, c lies wholly below bit 1.
        rc = prefix_sub(m, x.tf127, ef_eff, width=_RC_W, name="rc")[0]
        rcn = prefix_sub(m, x.tfn, ef_eff, width=_RC_W, name="rcn")[0]
        c_frame = comb("c_frame", 1, rc[-1] | x.zero)
        big = comb("big", 1, ~rcn[-1])
        # Window bits 1..N-1 are f[SIG_WIDTH:]; what lands below is c's sticky part. Shifts
        # from N - 1 up to the shifter's reach drop c; ``big`` takes over there.
        f = comb("c_aligned", SIG_WIDTH + n - 1,
                 Cat(Const(0, n - 1), c.sig) >> rc[:(n - 1).bit_length()])
        c_top = Cat(Const(0, n - 1 - SIG_WIDTH), c.sig)
        c_vec = Cat(~c_frame & Mux(big, c.sig.any(), f[:SIG_WIDTH].any()),
                    Mux(c_frame, c_top, Mux(big, 0, f[SIG_WIDTH:])))
        # The product: bits 1..N-1 of the window are g[2W:]; below is sticky.
        g = comb("p_aligned", 4 * w + s_off - 1,
                 Cat(Const(0, 2 * w + s_off - 1), product) >> x.p_shift)
        p_vec = Cat(g[:2 * w].any(), g[2 * w:])

        prod_inf = x.inf & ~x.inf_times_zero
        inf_minus_inf = prod_inf & c.inf & (x.sign ^ c.sign)
        nan = x.nan | c.nan | x.inf_times_zero | inf_minus_inf | x.unknown
        invalid = x.snan | c.snan | x.inf_times_zero | inf_minus_inf | x.unknown
        rto = self.rto if self.round_to_odd else Const(0, 1)
        x = stage(
            # c is inverted here for an effective subtraction (P + ~C, below).
            "al", p_vec=comb("p_vec", n, p_vec),
            c_vec=comb("c_vec", n, c_vec ^ (x.sign ^ c.sign).replicate(n)),
            t127=comb("t127", range(_TOP127_MAX + 1), Mux(c_frame, ef_eff, x.tf127)),
            eff_sub=x.sign ^ c.sign, sign_p=x.sign, sign_c=c.sign,
            nan=nan, inf=prod_inf | c.inf, inf_sign=Mux(prod_inf, x.sign, c.sign),
            invalid=invalid, denormal=(x.denormal | c.denormal) & ~x.unknown, rto=rto)

        # --- Stage ad: the magnitude of P ± C; the stopper. --------------------------------
        s0, _, s1, co1 = prefix_add(m, x.p_vec, x.c_vec, width=n,
                                    name="sum", both=True)
        # P + C; or P - C when P >= C (carry out of P + ~C + 1); or C - P = ~(P + ~C).
        mag = comb("mag", n, Mux(x.eff_sub, Mux(co1, s1, ~s0), s0))
        # The stopper: the window bit of weight 2**-126, N - (T + 127), if it lies in the window
        # (T + 127 >= 1 always). Its position is registered; the next stage decodes it.
        pos_w = (n - 1).bit_length()
        stop_pos, in_window = prefix_sub(m, n, x.t127, width=len(x.t127) + 1, name="stop_pos")
        x = stage(
            "ad", mag=mag, t127=x.t127, stop_pos=stop_pos[:pos_w],
            stop_on=in_window & (stop_pos[pos_w:] == 0),
            sign=Mux(x.eff_sub & ~co1, x.sign_c, x.sign_p), zero_sign=~x.eff_sub & x.sign_p,
            nan=x.nan, inf=x.inf, inf_sign=x.inf_sign, invalid=x.invalid, denormal=x.denormal,
            rto=x.rto)

        # --- Stage nm: normalize, stopping at the smallest normal exponent. ----------------
        stop = comb("stop", n, Cat(*[x.stop_on & (x.stop_pos == k) for k in range(n)]))
        lz = count_leading_zeros(m, x.mag | stop, name="lz_sum")
        norm = shift_left(m, x.mag, lz, name="norm")
        x = stage(
            "nm", norm=norm, lz=lz, t127=x.t127, nonzero=x.mag.any(), sign=x.sign,
            zero_sign=x.zero_sign, nan=x.nan, inf=x.inf, inf_sign=x.inf_sign,
            invalid=x.invalid, denormal=x.denormal, rto=x.rto)

        # --- Stage rd: round, pack, special cases. ------------------------------------------
        norm = x.norm
        sig = norm[n - SIG_WIDTH:]
        man, hidden = sig[:FP32.man_bits], sig[FP32.man_bits]
        round_bit, below = norm[n - SIG_WIDTH - 1], norm[n - SIG_WIDTH - 2]
        sticky = norm[:n - SIG_WIDTH - 2].any()
        inexact = round_bit | below | sticky
        # Round to odd: truncate, and set the last bit below if anything was dropped.
        increment = ~x.rto & round_bit & (below | sticky | man[0])
        # {exponent, mantissa} as one integer, so the rounding carry runs into the exponent:
        # sig + ((T + 127 - lz - 1) << 23). With the hidden bit set that is the biased exponent
        # T + 127 - lz; without it the normalization stopped at 2**-126, where T + 127 - lz is 1,
        # and the field is 0: a subnormal. The exponent is summed here, carry-save with sig, not
        # in the normalize stage after the leading-zero count.
        ew = _EXP_FIELD_W
        width = FP32.man_bits + ew
        rows = compress(m, [Cat(sig, Const(0, width - SIG_WIDTH)),
                            Cat(Const(0, FP32.man_bits), x.t127, Const(0, ew - len(x.t127))),
                            Cat(Const(0, FP32.man_bits),
                                ~Cat(x.lz, Const(0, ew - len(x.lz))))], name="pack")
        rounded, _ = prefix_add(m, rows[0], rows[1], width=width, carry_in=increment,
                                name="round")
        exp_field = rounded[FP32.man_bits:]
        # The field is at most T + 127 - lz + 1 <= 409: it never wraps, and >= 255 is overflow.
        overflow = exp_field[FP32.exp_bits:].any() | exp_field[:FP32.exp_bits].all()
        # Tiny after rounding: below 2**-126 and not within a quarter ulp of it (where rounding
        # to 24 bits with an unbounded exponent would reach 2**-126).
        tiny = ~hidden & ~(man.all() & round_bit & below)

        z = Signal(32, name="z_next")
        flags = Signal(Flags, name="flags_next")
        m.d.comb += [flags.denormal.eq(x.denormal), flags.invalid.eq(x.invalid)]
        with m.If(x.nan):
            m.d.comb += z.eq(FP32.qnan_code)
        with m.Elif(x.inf):
            m.d.comb += z.eq(Cat(Const(FP32.inf_code, 31), x.inf_sign))
        with m.Elif(~x.nonzero):
            m.d.comb += z.eq(Cat(Const(0, 31), x.zero_sign))
        with m.Elif(overflow):
            m.d.comb += [
                # RTO: the largest finite value instead of Inf.
                z.eq(Cat(Mux(x.rto, FP32.inf_code - 1, FP32.inf_code)[:31], x.sign)),
                flags.overflow.eq(1),
                flags.inexact.eq(1),
            ]
        with m.Else():
            m.d.comb += [
                z.eq(Cat(rounded[0] | (x.rto & inexact), rounded[1:31], x.sign)),
                flags.inexact.eq(inexact),
                flags.underflow.eq(tiny & inexact),
            ]
        # valid and tag travel beside the datapath, into the output register with the result.
        m.d.comb += [
            self.o.valid.eq(pipeline.delay(m, self.en, self.i.valid, geo.latency, name="valid")),
            self.o.payload.tag.eq(pipeline.delay(m, self.en, req.tag, geo.latency, name="tag")),
        ]
        with m.If(self.en):
            m.d.sync += [self.o.payload.z.eq(z), self.o.payload.flags.eq(flags)]
        return m


class FMAUnit(wiring.Component):
    """FP32 fused multiply-add ``a·b + c`` behind a stream interface, one request per cycle.

    Parameters (keyword-only)
    -------------------------
    tag_width : int, 0..64
        Width of the opaque tag passed from each request to its response.
    ab_formats : sequence of format names
        The multiplicand formats (see :class:`FMAPipe`).

    Members
    -------
    i : ``In(stream.Signature(fma_request_layout(tag_width)))``
        Requests: ``a``, ``b`` (raw bits, right-aligned), ``c`` (FP32), ``a_fmt``, ``a_bias``,
        ``b_fmt``, ``b_bias``, ``tag``. All three operands are taken together.
    o : ``Out(stream.Signature(fma_response_layout(tag_width)))``
        Responses in request order: ``z``, ``flags``, ``tag``.

    Contract
    --------
    * Latency ``latency`` cycles from acceptance to a valid response without stalls; one request
      per cycle sustained.
    * Backpressure: the whole pipeline holds while ``o`` is valid and not ready, so ``i.ready`` is
      ``~o.valid | o.ready``; ``o.valid`` never depends on ``o.ready``.
    * Arithmetic, flags and bad-input behaviour are :class:`FMAPipe`'s; ``c`` goes through a delay
      line of ``FMAPipe.c_delay`` registers to meet its product; ``valid`` and ``tag`` travel in
      the pipe.
    """

    def __init__(self, *, tag_width=8, ab_formats=FMA_FORMATS):
        self.tag_width = check_tag_width(tag_width)
        self.geometry = FMAGeometry.of(ab_formats)
        super().__init__({
            "i": In(stream.Signature(fma_request_layout(tag_width))),
            "o": Out(stream.Signature(fma_response_layout(tag_width))),
        })

    @property
    def ab_formats(self):
        """Names of the multiplicand formats, in the order given."""
        return tuple(f.name for f in self.geometry.formats)

    @property
    def latency(self):
        """Cycles from acceptance to a valid response when the output is not stalled."""
        return self.geometry.latency

    def elaborate(self, platform):
        m = Module()
        m.submodules.pipe = pipe = FMAPipe(tag_width=self.tag_width, ab_formats=self.ab_formats)
        req = self.i.payload
        # The whole pipeline advances when the output register is empty or being taken.
        en = Signal()
        m.d.comb += [
            en.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(en),
            pipe.en.eq(en),
            pipe.i.valid.eq(self.i.valid),
            *(getattr(pipe.i.payload, name).eq(getattr(req, name))
              for name in ("a", "a_fmt", "a_bias", "b", "b_fmt", "b_bias", "tag")),
            pipe.c.eq(pipeline.delay(m, en, req.c, pipe.c_delay, name="c")),
            self.o.valid.eq(pipe.o.valid),
            self.o.payload.eq(pipe.o.payload),
        ]
        return m
