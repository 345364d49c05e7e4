"""The (72, 64) Hsiao SECDED code of the SRAM scratchpad, and its combinational encoder and
decoder.

The code
--------
Each 8-byte word (64 data bits) is stored with 8 check bits. The codeword bit order is::

    bit  0 .. 63   data bits 0 .. 63  (bit i of the 64-bit word)
    bit 64 .. 71   check bits 0 .. 7  (bit k of the 8-bit check byte)

The parity-check matrix ``H`` is 8 × 72; column ``c`` is written as an 8-bit integer
``HSIAO_COLUMNS[c]`` whose bit ``j`` is ``H[j, c]``. Check bit ``k`` is the parity of row ``k``
over the data bits, so ``H · codeword = 0`` for every codeword, and the syndrome of a received
word is ``H · received``: 0 when no bit flipped, column ``c`` when only bit ``c`` flipped.

``H`` follows Hsiao's construction (odd-weight columns, all distinct, least total weight),
by this deterministic rule:

* data columns 0 .. 55: the 56 weight-3 8-bit values, in increasing order
  (``0b00000111, 0b00001011, 0b00001101, ...``);
* data columns 56 .. 63: the 8 weight-5 values with the rows ``i .. i+4`` (mod 8) set,
  for ``i = 0 .. 7`` (``0b00011111, 0b00111110, ..., 0b10001111``);
* check columns 64 .. 71: the unit columns ``1 << k`` (the identity).

Every row then holds 21 + 5 = 26 data ones (27 with its check bit), so every check bit is
the XOR of 26 data bits. Since every column has odd weight, two flipped bits give a non-zero
even-weight syndrome, which is never a column: single errors are corrected and double errors
are detected. A syndrome of odd weight that is not a column (48 of weight 5, 8 of weight 7)
means three or more flipped bits and is reported as uncorrectable too; some triple errors
alias to a single-bit syndrome and are mis-corrected, as in any SECDED code.

The data width is fixed at 64 bits (8 check bits); the components take no parameters.
"""

from itertools import combinations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["DATA_BITS", "CHECK_BITS", "CODE_BITS", "POSITION_BITS", "HSIAO_COLUMNS",
           "hsiao_columns", "ECCStatus", "ECCEncoder", "ECCDecoder"]

DATA_BITS = 64
CHECK_BITS = 8
CODE_BITS = DATA_BITS + CHECK_BITS
POSITION_BITS = (CODE_BITS - 1).bit_length()


def hsiao_columns():
    """The 72 columns of ``H`` in codeword bit order, each an 8-bit integer whose bit ``j`` is
    row ``j`` (the rule is in the module docstring)."""
    weight3 = sorted(sum(1 << j for j in rows) for rows in combinations(range(CHECK_BITS), 3))
    weight5 = [sum(1 << ((i + r) % CHECK_BITS) for r in range(5)) for i in range(CHECK_BITS)]
    units = [1 << k for k in range(CHECK_BITS)]
    return tuple(weight3 + weight5 + units)


HSIAO_COLUMNS = hsiao_columns()


class ECCStatus(enum.Enum, shape=2):
    """The decoder's verdict on one word."""

    #: The syndrome is 0: no error seen.
    OK = 0
    #: The syndrome is a column of ``H``: one bit (data or check) flipped and was corrected.
    CORRECTED = 1
    #: Any other syndrome: two (or more) bits flipped; the data is passed through uncorrected.
    UNCORRECTABLE = 2


def _row_bits(data, row):
    """The bits of the 64-bit ``data`` whose columns of ``H`` have row ``row`` set."""
    return Cat(data[c] for c in range(DATA_BITS) if (HSIAO_COLUMNS[c] >> row) & 1)


class ECCEncoder(wiring.Component):
    """Computes the 8 check bits of a 64-bit word, combinationally.

    Members
    -------
    data : ``In(64)``
        The word to store.
    check : ``Out(8)``
        Its check bits: bit ``k`` is the XOR of the data bits in row ``k`` of ``H``
        (26 bits each, one XOR tree per bit).
    """

    def __init__(self):
        super().__init__({
            "data": In(DATA_BITS),
            "check": Out(CHECK_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.check.eq(Cat(_row_bits(self.data, k).xor() for k in range(CHECK_BITS)))
        return m


class ECCDecoder(wiring.Component):
    """Checks and corrects a 64-bit word read with its 8 check bits, combinationally.

    Members
    -------
    data : ``In(64)``
        The data bits as read.
    check : ``In(8)``
        The check bits as read.
    corrected : ``Out(64)``
        ``data`` with the flipped bit inverted when ``status`` is ``CORRECTED`` and that bit is
        a data bit; otherwise ``data`` unchanged (also when ``UNCORRECTABLE``).
    status : ``Out(ECCStatus)``
        ``OK``, ``CORRECTED`` or ``UNCORRECTABLE`` (see :class:`ECCStatus`).
    syndrome : ``Out(8)``
        The re-computed check bits XOR ``check``.
    position : ``Out(7)``
        The codeword bit that was corrected (0 .. 63 data, 64 .. 71 check) when ``status`` is
        ``CORRECTED``; 0 otherwise.

    Logic: the syndrome is an :class:`ECCEncoder` (XOR trees) and 8 XORs; each of the 72
    columns is an 8-bit compare with the syndrome, and the 72 one-hot matches drive the data
    flips, an OR for ``CORRECTED`` and a one-hot-to-binary OR for ``position``.
    """

    def __init__(self):
        super().__init__({
            "data": In(DATA_BITS),
            "check": In(CHECK_BITS),
            "corrected": Out(DATA_BITS),
            "status": Out(ECCStatus),
            "syndrome": Out(CHECK_BITS),
            "position": Out(POSITION_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.encoder = encoder = ECCEncoder()
        m.d.comb += [
            encoder.data.eq(self.data),
            self.syndrome.eq(encoder.check ^ self.check),
        ]

        match = Signal(CODE_BITS)  # one-hot (or 0): bit c set when the syndrome is column c
        m.d.comb += [
            match.eq(Cat(self.syndrome == column for column in HSIAO_COLUMNS)),
            self.corrected.eq(self.data ^ match[:DATA_BITS]),
            self.position.eq(Cat(
                Cat(match[c] for c in range(CODE_BITS) if (c >> b) & 1).any()
                for b in range(POSITION_BITS))),
        ]

        with m.If(self.syndrome == 0):
            m.d.comb += self.status.eq(ECCStatus.OK)
        with m.Elif(match.any()):
            m.d.comb += self.status.eq(ECCStatus.CORRECTED)
        with m.Else():
            m.d.comb += self.status.eq(ECCStatus.UNCORRECTABLE)
        return m
