"""The one format table of d1core: FP32, BF16, CFP8 1-4-3, CFP8 1-5-2, CFP16 SHP and UHP.

The RTL (``hw/``), the reference model (``verif/``) and the tests all read their constants from
here; nothing below is written twice. The contract is ``docs/formats.md``.

Encodings
  * IEEE formats (FP32, BF16): the all-ones exponent holds Inf and NaN.
  * Configurable formats (CFP8, SHP, UHP): no Inf, no NaN; the all-ones exponent is an ordinary
    binade. Zero is exponent 0, mantissa 0; exponent 0 with a non-zero mantissa is a denormal of
    value ``0.m × 2**(1 - bias)``. UHP has no sign bit.

Run-time codes
  ``FormatCode`` is the 3-bit code a request or instruction uses to name a format. Codes 6 and 7 are
  not formats: a unit that receives one raises Invalid and returns a defined result (see each unit).
"""

from dataclasses import dataclass

from amaranth.hdl import unsigned
from amaranth.lib import data, enum

from hw.common.params import lookup

__all__ = [
    "FormatCode", "Round", "Flags", "Format", "FORMATS", "FP32", "BF16", "CFP8_143", "CFP8_152",
    "SHP", "UHP", "get_format", "format_for_code", "BIAS_BITS", "BIAS_MAX",
    "FLAG_INEXACT", "FLAG_UNDERFLOW", "FLAG_OVERFLOW", "FLAG_INVALID", "FLAG_DENORMAL",
    "TESTFLOAT_FLAG_MASK", "SR_BITS", "XORSHIFT_SHIFTS", "XORSHIFT_ZERO_SEED",
]

#: Width of a configurable bias field, and its largest value (the white paper's 0..63).
BIAS_BITS = 6
BIAS_MAX = (1 << BIAS_BITS) - 1

#: Stochastic rounding keeps this many fraction bits below the destination LSB (decision 8).
SR_BITS = 16

#: The SR random generator is Marsaglia's xorshift32 with these shifts (left, right, left), advanced
#: once per conversion. A seed of 0 would lock it at 0, so seed 0 is replaced by this constant.
XORSHIFT_SHIFTS = (13, 17, 5)
XORSHIFT_ZERO_SEED = 0x2545F491


class FormatCode(enum.Enum, shape=unsigned(3)):
    """Run-time name of a format. Values 6 and 7 are unknown formats."""
    FP32 = 0
    BF16 = 1
    CFP8_143 = 2
    CFP8_152 = 3
    SHP = 4
    UHP = 5


class Round(enum.Enum, shape=unsigned(1)):
    """Rounding mode of a narrowing conversion."""
    RNE = 0  #: round to nearest, ties to even
    SR = 1   #: stochastic rounding, contract decision 8


class Flags(data.Struct):
    """Exception flags. Bits 0..4 are Berkeley TestFloat's; Denormal (bit 5) is the white paper's.

    Bit 3 is TestFloat's divide-by-zero ("infinite"), which no d1core operation raises.
    """
    inexact: 1
    underflow: 1
    overflow: 1
    infinite: 1
    invalid: 1
    denormal: 1


def _flag_bit(name):
    return 1 << data.Layout.cast(Flags)[name].offset


FLAG_INEXACT = _flag_bit("inexact")
FLAG_UNDERFLOW = _flag_bit("underflow")
FLAG_OVERFLOW = _flag_bit("overflow")
FLAG_INVALID = _flag_bit("invalid")
FLAG_DENORMAL = _flag_bit("denormal")
#: The flag bits a TestFloat vector file can state (everything but Denormal).
TESTFLOAT_FLAG_MASK = FLAG_INEXACT | FLAG_UNDERFLOW | FLAG_OVERFLOW | (1 << 3) | FLAG_INVALID


@dataclass(frozen=True)
class Format:
    """One row of the format table.

    ``bias`` is the fixed bias, or ``None`` for a format whose bias is configurable in
    ``0..BIAS_MAX`` (it then travels beside the data as side-band configuration).
    """
    name: str
    title: str
    code: FormatCode
    signed: bool
    exp_bits: int
    man_bits: int
    ieee: bool
    bias: int | None

    @property
    def width(self):
        """Storage width in bits."""
        return int(self.signed) + self.exp_bits + self.man_bits

    @property
    def configurable(self):
        return self.bias is None

    @property
    def sign_shift(self):
        return self.exp_bits + self.man_bits

    @property
    def max_exp_field(self):
        """Largest exponent field of a finite value (IEEE reserves the all-ones exponent)."""
        return (1 << self.exp_bits) - (2 if self.ieee else 1)

    @property
    def max_code(self):
        """Code of the largest positive finite magnitude."""
        return (self.max_exp_field << self.man_bits) | ((1 << self.man_bits) - 1)

    @property
    def inf_code(self):
        """Code of +Inf (IEEE formats only)."""
        assert self.ieee
        return ((1 << self.exp_bits) - 1) << self.man_bits

    @property
    def qnan_code(self):
        """The canonical quiet NaN (IEEE formats only): positive, quiet bit set, payload zero."""
        assert self.ieee
        return self.inf_code | (1 << (self.man_bits - 1))

    def check_bias(self, bias):
        """Return the effective bias, raising ``ValueError`` with an exact message if impossible.

        For fixed-bias formats ``bias`` may be ``None`` or the fixed value.
        """
        if self.bias is not None:
            if bias is not None and bias != self.bias:
                raise ValueError(f"{self.title} has a fixed bias of {self.bias}, not {bias!r}")
            return self.bias
        # A run-time argument of the models and commands too, documented (and caught by the
        # commands) as ValueError whatever is wrong with it: None is "not given".
        if not isinstance(bias, int) or isinstance(bias, bool) or not 0 <= bias <= BIAS_MAX:
            raise ValueError(f"{self.title} bias must be an integer in 0..{BIAS_MAX}, "
                             f"not {bias!r}")
        return bias

    def emin(self, bias=None):
        """Unbiased exponent of the smallest normal binade (also the denormal scale)."""
        return 1 - self.check_bias(bias)

    def emax(self, bias=None):
        """Unbiased exponent of the largest finite binade."""
        return self.max_exp_field - self.check_bias(bias)


FP32 = Format("fp32", "FP32", FormatCode.FP32, True, 8, 23, True, 127)
BF16 = Format("bf16", "BF16", FormatCode.BF16, True, 8, 7, True, 127)
CFP8_143 = Format("cfp8_143", "CFP8 1-4-3", FormatCode.CFP8_143, True, 4, 3, False, None)
CFP8_152 = Format("cfp8_152", "CFP8 1-5-2", FormatCode.CFP8_152, True, 5, 2, False, None)
SHP = Format("shp", "CFP16 SHP", FormatCode.SHP, True, 5, 10, False, None)
UHP = Format("uhp", "CFP16 UHP", FormatCode.UHP, False, 6, 10, False, 31)

#: Every format, by name, in code order.
FORMATS = {f.name: f for f in (FP32, BF16, CFP8_143, CFP8_152, SHP, UHP)}


def get_format(name):
    """Look a format up by name (``"bf16"``, ``"cfp8_143"``...), or raise ``ValueError``."""
    if isinstance(name, Format):
        return name
    return lookup("format", FORMATS, name)


def format_for_code(code):
    """The format with run-time code ``code``, or ``None`` for an unknown code (6, 7)."""
    for f in FORMATS.values():
        if f.code.value == int(code):
            return f
    return None


def check_formats(formats, *, name, allowed, refuse):
    """A non-empty sequence of format names, each in ``allowed`` and listed once, as a tuple of
    :class:`Format`. ``refuse(fmt)`` gives the message for a known format that is
    not allowed; an unknown name gets :func:`get_format`'s message."""
    if isinstance(formats, str) or not hasattr(formats, "__iter__"):
        raise TypeError(f"{name} must be a sequence of format names, not {formats!r}")
    result = []
    for item in formats:
        fmt = get_format(item)
        if fmt.name not in allowed:
            raise ValueError(refuse(fmt))
        if fmt in result:
            raise ValueError(f"format {fmt.name!r} is listed more than once")
        result.append(fmt)
    if not result:
        raise ValueError(f"{name} must name at least one format")
    return tuple(result)
