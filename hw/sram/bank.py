"""One bank of the scratchpad: a single-port memory of ``rows`` lines of 8 SECDED codewords, as an
SRAM compiler would give, with its command register.

The command (``en``, ``write``, ``row``, ``wen``, ``wdata``) is registered on the clock edge and
the memory does it in the next cycle: a read's line is on ``rdata`` the cycle after that (a
synchronous read; ``rdata`` then holds until the next read), a write stores the codewords whose
``wen`` bit is set. One operation per cycle: read or write, never both (the memory is built with
a read and a write port that share the one registered address and are never enabled together,
which is what a single-port macro does).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.common.params import check_int

from .config import LINE_CODE_BITS, LINE_WORDS, LINES_MAX, index_bits
from .ecc import CODE_BITS

__all__ = ["Bank"]


class Bank(wiring.Component):
    """A single-port bank of ``rows`` rows (1..2**24) of 576 bits.

    Members
    -------
    en, write : ``In(1)``
        Do an operation next cycle; a write (else a read).
    row : ``In(row_bits)``
    wen : ``In(8)``
        Codewords to store, for a write.
    wdata : ``In(576)``
        Codeword ``w`` in bits ``72 w .. 72 w + 71``.
    rdata : ``Out(576)``
        The line read, two cycles after the command.
    """

    def __init__(self, *, rows):
        self.rows = check_int("rows", rows, 1, LINES_MAX)
        self.row_bits = index_bits(rows)
        super().__init__({
            "en": In(1), "write": In(1), "row": In(self.row_bits), "wen": In(LINE_WORDS),
            "wdata": In(LINE_CODE_BITS), "rdata": Out(LINE_CODE_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = memory = Memory(shape=LINE_CODE_BITS, depth=self.rows, init=[])
        rd = memory.read_port()
        wr = memory.write_port(granularity=CODE_BITS)
        en, write = Signal(), Signal()
        row = Signal(self.row_bits)
        wen = Signal(LINE_WORDS)
        wdata = Signal(LINE_CODE_BITS)
        m.d.sync += [en.eq(self.en), write.eq(self.write), row.eq(self.row),
                     wen.eq(self.wen), wdata.eq(self.wdata)]
        m.d.comb += [
            rd.addr.eq(row), rd.en.eq(en & ~write),
            wr.addr.eq(row), wr.data.eq(wdata), wr.en.eq(wen & (en & write).replicate(LINE_WORDS)),
            self.rdata.eq(rd.data),
        ]
        return m
