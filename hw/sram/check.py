"""The check stage of a scratchpad port: a register of ``words`` codewords and their SECDED
decoders (``hw/sram/ecc.py``), one block so that the many ports share one converted module
(``hw.common.shared``)."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.common.params import check_int

from .ecc import CODE_BITS, DATA_BITS, ECCDecoder, ECCStatus

__all__ = ["LineCheck"]


class LineCheck(wiring.Component):
    """``words`` (1..8) codewords registered, then checked and corrected, combinationally.

    Members
    -------
    code : ``In(72 * words)``
        Codeword ``w`` in bits ``72 w ..``; sampled at every clock edge.
    data : ``Out(64 * words)``
        The registered words, each corrected if it had one flipped data bit (else as stored).
    corr, unc : ``Out(words)``
        Per word: a single-bit error was corrected; an uncorrectable error was seen.
    """

    def __init__(self, *, words):
        self.words = check_int("words", words, 1, 8)
        super().__init__({"code": In(words * CODE_BITS), "data": Out(words * DATA_BITS),
                          "corr": Out(words), "unc": Out(words)})

    def elaborate(self, platform):
        m = Module()
        code = Signal(self.words * CODE_BITS)
        m.d.sync += code.eq(self.code)
        data, corr, unc = [], [], []
        for w in range(self.words):
            m.submodules[f"decoder{w}"] = decoder = ECCDecoder()
            m.d.comb += [decoder.data.eq(code[w * CODE_BITS:w * CODE_BITS + DATA_BITS]),
                         decoder.check.eq(code[w * CODE_BITS + DATA_BITS:(w + 1) * CODE_BITS])]
            data.append(decoder.corrected)
            corr.append(decoder.status == ECCStatus.CORRECTED)
            unc.append(decoder.status == ECCStatus.UNCORRECTABLE)
        m.d.comb += [self.data.eq(Cat(data)), self.corr.eq(Cat(corr)), self.unc.eq(Cat(unc))]
        return m
