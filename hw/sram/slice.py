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

__all__ = ["BankSlice", "LineMux", "requester_signature"]


def requester_signature(row_bits):
    """One requester's side of a :class:`BankSlice`, from the requester: an operation on row
    ``row`` (``want``; ``write``, else a read, of the codewords ``wen`` of ``wdata``; ``lock``,
    ``unlock`` of a read-modify-write), taken in a cycle with ``grant``. The same members as
    :func:`hw.sram.port.bank_link_signature` without the bank choice and the read data."""
    return wiring.Signature({
        "want": Out(1), "row": Out(row_bits), "write": Out(1),
        "wen": Out(LINE_WORDS), "wdata": Out(LINE_CODE_BITS),
        "lock": Out(1), "unlock": Out(1), "grant": In(1),
    })


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
    requesters : ``In(requester_signature(row_bits)).array(n)``
        Requester ``k``: ``want`` (an operation for this bank), its ``row``, and whether it
        writes, locks the bank to it (phase 1 of a read-modify-write) or unlocks it (phase 2);
        a writer's codeword mask ``wen`` and codewords ``wdata`` (``write``, ``wen`` and
        ``wdata`` are ignored for a non-writer); ``grant`` (out): one-hot over the requesters,
        the winner of this cycle, none if 0. While the bank is locked only its owner can win.
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
            "requesters": In(requester_signature(self.row_bits)).array(n),
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
            arbiter.requests.eq(Cat(self.requesters[k].want & (~locked | (owner == k))
                                    for k in range(n))),
            *(self.requesters[k].grant.eq(arbiter.grant[k]) for k in range(n)),
            bank.en.eq(arbiter.grant.any()),
        ]
        row, write, wen, wdata = [], [], [], []
        for k in range(n):
            g, req = arbiter.grant[k], self.requesters[k]
            row.append(req.row & g.replicate(self.row_bits))
            if k in self.writers:
                write.append(req.write & g)
                wen.append(req.wen & g.replicate(LINE_WORDS))
                wdata.append(req.wdata & g.replicate(LINE_CODE_BITS))
            with m.If(g & req.lock):
                m.d.sync += [locked.eq(1), owner.eq(k)]
            with m.If(g & req.unlock):
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
