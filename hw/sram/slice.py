"""The two pieces of the scratchpad that repeat: a bank slice per bank (its arbiter, lock and
command multiplexer in front of the bank memory) and a line multiplexer per port (the read data
of the bank a port's request went to).

Both go through :func:`hw.common.shared.shared` in :class:`~hw.sram.scratchpad.Scratchpad`, so a D1
scratchpad's Verilog holds one module of each, instantiated 32 and 8 times, and synthesis
measures each once (``sram.slice``, ``sram.linemux`` in ``sim/flow/blocks.py``).
"""

from amaranth.hdl import Array, Cat, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hw.common.arbiter import RoundRobinArbiter
from hw.common.params import check_int
from hw.common.pipeline import or_all
from hw.common.shared import shared

from .bank import Bank
from .config import LINE_CODE_BITS, LINE_WORDS, LINES_MAX, index_bits

__all__ = ["BankSlice", "LineMux"]


class BankSlice(wiring.Component):
    """One bank and what decides its operation: ``n`` requesters (2..16) by round robin, the
    lock of a read-modify-write, and the multiplexer of the winner's command.

    Parameters (keyword-only)
    -------------------------
    n : int
        Requesters (the scratchpad's ports and its scrubber).
    rows : int
        Lines of the bank (:class:`~hw.sram.bank.Bank`).
    writers : tuple of int
        The requesters that can write, in increasing order; the others' commands are reads.

    Members
    -------
    requests : ``In(n)``
        Requester ``k`` has an operation for this bank.
    row : ``In(ArrayLayout(row_bits, n))``; write, lock, unlock : ``In(n)``
        Each requester's row, and whether its operation writes, locks the bank to it (phase 1 of
        a read-modify-write) or unlocks it (phase 2). ``write`` is ignored for a non-writer.
    wen : ``In(ArrayLayout(8, len(writers)))``; wdata : ``In(ArrayLayout(576, len(writers)))``
        Each writer's codeword mask and codewords, in the order of ``writers``.
    grant : ``Out(n)``
        One-hot winner of this cycle, 0 if none. While the bank is locked only its owner can
        win.
    rdata : ``Out(576)``
        The bank's read data (two cycles after the granted read).
    """

    def __init__(self, *, n, rows, writers):
        self.n = check_int("n", n, 2, 16)
        writers = tuple(writers)
        if not writers or any(not isinstance(k, int) or not 0 <= k < n for k in writers) or \
                list(writers) != sorted(set(writers)):
            raise ValueError(f"writers must be increasing requester numbers in 0..{n - 1}, "
                             f"not {writers!r}")
        self.writers = writers
        self.rows = check_int("rows", rows, 1, LINES_MAX)
        self.row_bits = index_bits(rows)
        super().__init__({
            "requests": In(n),
            "row": In(data.ArrayLayout(self.row_bits, n)),
            "write": In(n), "lock": In(n), "unlock": In(n),
            "wen": In(data.ArrayLayout(LINE_WORDS, len(writers))),
            "wdata": In(data.ArrayLayout(LINE_CODE_BITS, len(writers))),
            "grant": Out(n),
            "rdata": Out(LINE_CODE_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.n
        m.submodules.arbiter = arbiter = shared(RoundRobinArbiter, n=n, always_advance=True)
        m.submodules.bank = bank = shared(Bank, rows=self.rows)
        locked = Signal()
        owner = Signal(range(n))
        m.d.comb += [
            arbiter.requests.eq(Cat(self.requests[k] & (~locked | (owner == k))
                                    for k in range(n))),
            self.grant.eq(arbiter.grant),
            bank.en.eq(arbiter.grant.any()),
        ]
        row, write, wen, wdata = [], [], [], []
        for k in range(n):
            g = arbiter.grant[k]
            row.append(self.row[k] & g.replicate(self.row_bits))
            if k in self.writers:
                j = self.writers.index(k)
                write.append(self.write[k] & g)
                wen.append(self.wen[j] & g.replicate(LINE_WORDS))
                wdata.append(self.wdata[j] & g.replicate(LINE_CODE_BITS))
            with m.If(g & self.lock[k]):
                m.d.sync += [locked.eq(1), owner.eq(k)]
            with m.If(g & self.unlock[k]):
                m.d.sync += locked.eq(0)
        # One-hot selected, the others zero: an AND-OR multiplexer of the winner's command.
        m.d.comb += [
            bank.row.eq(or_all(row)), bank.write.eq(or_all(write)),
            bank.wen.eq(or_all(wen)), bank.wdata.eq(or_all(wdata)),
            self.rdata.eq(bank.rdata),
        ]
        return m


class LineMux(wiring.Component):
    """The line of bank ``sel`` among ``banks`` (2..1024) lines of 576 bits.

    Members
    -------
    lines : ``In(ArrayLayout(576, banks))``; sel : ``In(index_bits(banks))``; line : ``Out(576)``
        A ``sel`` of ``banks`` or more selects an unspecified line.
    """

    def __init__(self, *, banks):
        self.banks = check_int("banks", banks, 2, 1024)
        super().__init__({
            "lines": In(data.ArrayLayout(LINE_CODE_BITS, banks)),
            "sel": In(index_bits(banks)),
            "line": Out(LINE_CODE_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.line.eq(Array(self.lines[b] for b in range(self.banks))[self.sel])
        return m
