"""The scalar core's CSR file: the per-thread trap CSRs and counters, and the core-wide ones."""

from amaranth.hdl import Array, Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.common.arith import prefix_add

from .isa import MSTATUS_MPP, THREAD_BITS, XLEN, Cause, CsrFunct3
from .stages import CsrSel, Kind, WbStage, per_thread, thread_index

__all__ = ["CsrFile"]


class CsrFile(wiring.Component):
    """The CSRs, read and written by the instruction in write-back, and the trap entries.

    Parameters (keyword-only)
    -------------------------
    threads : int, 1..4
        Hardware threads (the caller has checked the value).

    Members
    -------
    wb : ``In(WbStage)``
        The instruction in write-back: a CSR instruction reads and writes ``wb.csr`` of
        ``wb.thread``; a trap enters its handler; ``mret`` restores MIE.
    replay : ``In(1)``
        The instruction in write-back is replayed (a thread-control write that waits): it
        changes nothing.
    retiring : ``In(1)``
        The instruction in write-back retires (counts in ``minstret``) unless it traps.
    running : ``In(threads)``
        The running threads (``mthreadctl``'s value).
    late_valid, late_error, late_thread, late_pc, late_tval : ``In``
        A completion: it retires, or with ``late_error`` traps with ``late_cause``, ``mepc`` =
        ``late_pc`` and ``mtval`` = ``late_tval``.
    late_cause : ``In(Cause)``
    old, new : ``Out(XLEN)``
        The CSR instruction's CSR value before and after (``rd`` gets ``old``).
    mepc, mtvec : ``Out(XLEN)``
        ``wb.thread``'s ``mepc`` (where ``mret`` goes) and ``mtvec`` (where its trap goes).
    late_mtvec : ``Out(XLEN)``
        ``late_thread``'s ``mtvec``.
    mthreadpc : ``Out(XLEN)``
        Where started threads begin.

    Contract
    --------
    Reads are combinational; every update takes effect the next cycle. A write to ``minstret``
    is what the next instruction reads (the writing instruction does not count). ``mcycle``
    counts clock cycles.
    """

    def __init__(self, *, threads):
        self._threads = threads
        super().__init__({
            "wb": In(WbStage), "replay": In(1), "retiring": In(1), "running": In(threads),
            "late_valid": In(1), "late_error": In(1), "late_thread": In(THREAD_BITS),
            "late_pc": In(XLEN), "late_cause": In(Cause), "late_tval": In(XLEN),
            "old": Out(XLEN), "new": Out(XLEN), "mepc": Out(XLEN), "mtvec": Out(XLEN),
            "late_mtvec": Out(XLEN), "mthreadpc": Out(XLEN),
        })

    def elaborate(self, platform):
        m = Module()
        n = self._threads
        mie = per_thread("mstatus_mie", 1, n)
        mpie = per_thread("mstatus_mpie", 1, n)
        mtvec = per_thread("mtvec", XLEN, n)
        mscratch = per_thread("mscratch", XLEN, n)
        mepc = per_thread("mepc", XLEN, n)
        mcause = per_thread("mcause", XLEN, n)
        mtval = per_thread("mtval", XLEN, n)
        minstret = per_thread("minstret", XLEN, n)
        mcycle = Signal(XLEN)
        mthreadpc = Signal(XLEN)
        wbr = self.wb
        t = wbr.thread
        tw = thread_index(t, n)
        twc = thread_index(self.late_thread, n)
        m.d.comb += [self.mepc.eq(mepc[tw]), self.mtvec.eq(mtvec[tw]),
                     self.late_mtvec.eq(mtvec[twc]), self.mthreadpc.eq(mthreadpc)]

        old = self.old
        with m.Switch(wbr.csr):
            with m.Case(CsrSel.MSTATUS):
                m.d.comb += old.eq(MSTATUS_MPP | mie[tw] << 3 | mpie[tw] << 7)
            with m.Case(CsrSel.MTVEC):
                m.d.comb += old.eq(mtvec[tw])
            with m.Case(CsrSel.MSCRATCH):
                m.d.comb += old.eq(mscratch[tw])
            with m.Case(CsrSel.MEPC):
                m.d.comb += old.eq(mepc[tw])
            with m.Case(CsrSel.MCAUSE):
                m.d.comb += old.eq(mcause[tw])
            with m.Case(CsrSel.MTVAL):
                m.d.comb += old.eq(mtval[tw])
            with m.Case(CsrSel.MCYCLE):
                m.d.comb += old.eq(mcycle)
            with m.Case(CsrSel.MINSTRET):
                m.d.comb += old.eq(minstret[tw])
            with m.Case(CsrSel.MHARTID):
                m.d.comb += old.eq(t)
            with m.Case(CsrSel.MTHREADCTL):
                m.d.comb += old.eq(self.running)
            with m.Case(CsrSel.MTHREADPC):
                m.d.comb += old.eq(mthreadpc)
        src = wbr.a
        new = self.new
        with m.Switch(wbr.insn[12:14]):  # CsrFunct3's low bits: write, set, clear
            with m.Case(CsrFunct3.CSRRW & 3):
                m.d.comb += new.eq(src)
            with m.Case(CsrFunct3.CSRRS & 3):
                m.d.comb += new.eq(old | src)
            with m.Case(CsrFunct3.CSRRC & 3):
                m.d.comb += new.eq(old & ~src)

        def enter_trap(thread, at, cause, tval):
            m.d.sync += [mepc[thread].eq(at), mcause[thread].eq(cause), mtval[thread].eq(tval),
                         mpie[thread].eq(mie[thread]), mie[thread].eq(0)]

        # Every thread's minstret + 1, ready before it is known which thread retires.
        counted = Array(prefix_add(m, minstret[i], 1, width=XLEN, name=f"instret_inc{i}")[0]
                        for i in range(n))

        def count_retired(thread):
            m.d.sync += minstret[thread].eq(counted[thread])

        with m.If(self.late_valid & self.late_error):
            enter_trap(twc, self.late_pc, self.late_cause, self.late_tval)
        with m.If(self.late_valid & ~self.late_error):
            count_retired(twc)
        from_pipe = wbr.valid
        goes_on = from_pipe & ~wbr.trap & ~self.replay
        with m.If(from_pipe & wbr.trap):
            enter_trap(tw, wbr.pc, wbr.cause, wbr.tval)
        with m.If(goes_on & (wbr.kind == Kind.MRET)):
            m.d.sync += [mie[tw].eq(mpie[tw]), mpie[tw].eq(1)]
        cycle_next, _ = prefix_add(m, mcycle, 1, width=XLEN, name="cycle_inc")
        m.d.sync += mcycle.eq(cycle_next)
        no_instret = Signal()
        with m.If(self.retiring & ~wbr.trap & ~no_instret):
            count_retired(tw)
        with m.If(goes_on & (wbr.kind == Kind.CSR) & wbr.csr_writes):
            with m.Switch(wbr.csr):
                with m.Case(CsrSel.MSTATUS):
                    m.d.sync += [mie[tw].eq(new[3]), mpie[tw].eq(new[7])]
                with m.Case(CsrSel.MTVEC):
                    m.d.sync += mtvec[tw].eq(Cat(Const(0, 2), new[2:]))
                with m.Case(CsrSel.MSCRATCH):
                    m.d.sync += mscratch[tw].eq(new)
                with m.Case(CsrSel.MEPC):
                    m.d.sync += mepc[tw].eq(Cat(Const(0, 2), new[2:]))
                with m.Case(CsrSel.MCAUSE):
                    m.d.sync += mcause[tw].eq(new)
                with m.Case(CsrSel.MTVAL):
                    m.d.sync += mtval[tw].eq(new)
                with m.Case(CsrSel.MCYCLE):
                    m.d.sync += mcycle.eq(new)
                with m.Case(CsrSel.MINSTRET):
                    m.d.comb += no_instret.eq(1)
                    m.d.sync += minstret[tw].eq(new)
                with m.Case(CsrSel.MTHREADPC):
                    m.d.sync += mthreadpc.eq(Cat(Const(0, 2), new[2:]))
        return m
