"""The scalar core's write-back stage: retirement, traps, thread state and thread control."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .completion import Done
from .decode import RegisterWrite, sext
from .isa import XLEN, Cause, LoadFunct3, Opcode, RetireRecord
from .stages import CsrSel, ExStage, IdStage, Kind, WbStage, per_thread, thread_bit, thread_index

__all__ = ["WriteBack", "RetirePort"]

#: The retire trace: a record and its valid bit, every cycle, no handshake (see ``ScalarCore``).
#: The retire trace: one retired instruction a cycle at most, never back-pressured (a trace, not a
#: request: its consumer must take every record).
RetirePort = stream.Signature(RetireRecord, always_ready=True)


class WriteBack(wiring.Component):
    """Stage 4 and the completions' retirement: every thread's pc and run state, register
    writes, trap entries, thread control and the retire trace.

    Parameters (keyword-only)
    -------------------------
    threads : int, 1..4
        Hardware threads (the caller has checked the value).
    reset_pc : int
        Thread 0's first pc.

    Members
    -------
    wb : ``In(WbStage)``
        The instruction from execute.
    done : ``In(Done)``
        The completion taken in the previous cycle (its instruction parked in write-back).
    id, ex : ``In(IdStage)``, ``In(ExStage)``
        The instructions in decode and execute (a thread-control write waits for them).
    busy, fetching, wanted : ``In(threads)``
        From issue and fetch (a thread-control write waits for these too).
    release_id, next_id, redirect, next_ex : ``In``
        Decode releases ``id.thread`` at ``next_id``; execute releases or redirects
        ``ex.thread`` to ``next_ex``.
    old, new, mepc, mtvec, late_mtvec, mthreadpc : ``In(XLEN)``
        From the CSR file.
    replay, retiring : ``Out(1)``
        To the CSR file: the instruction in write-back is replayed; it retires.
    late_pc, late_cause, late_tval : ``Out``
        To the CSR file: the completing instruction's trap.
    pc : ``Out(data.ArrayLayout(XLEN, threads))``
        Every thread's pc.
    running, hold : ``Out(threads)``
        Running threads; threads held (not issuing) while a thread-control write waits.
    release : ``Out(threads)``
        Threads released by write-back or by a faulting completion.
    fence_i : ``Out(1)``
        A ``fence.i`` retires: fetch empties its line buffers.
    write, write_late : ``Out(RegisterWrite)``
        The register file's write ports.
    retire, retire_late : ``Out(RetirePort)``
        The retire trace, one cycle after write-back or completion.

    Contract
    --------
    A thread-control write (``mthreadctl``) that stops other threads is replayed until they
    are held and have nothing in flight, so all their instructions retire before it. The
    completing thread is never the thread in write-back.
    """

    def __init__(self, *, threads, reset_pc, boot=True):
        self._threads = threads
        self._reset_pc = reset_pc
        self._boot = boot
        super().__init__({
            **({} if boot else {"go": In(1)}),
            "wb": In(WbStage), "done": In(Done), "id": In(IdStage), "ex": In(ExStage),
            "busy": In(threads), "fetching": In(threads), "wanted": In(threads),
            "release_id": In(1), "next_id": In(XLEN), "redirect": In(1), "next_ex": In(XLEN),
            "old": In(XLEN), "new": In(XLEN), "mepc": In(XLEN), "mtvec": In(XLEN),
            "late_mtvec": In(XLEN), "mthreadpc": In(XLEN),
            "replay": Out(1), "retiring": Out(1), "late_pc": Out(XLEN),
            "late_cause": Out(Cause), "late_tval": Out(XLEN),
            "pc": Out(data.ArrayLayout(XLEN, threads)), "running": Out(threads),
            "hold": Out(threads), "release": Out(threads), "fence_i": Out(1),
            "write": Out(RegisterWrite), "write_late": Out(RegisterWrite),
            "retire": Out(RetirePort), "retire_late": Out(RetirePort),
        })

    def elaborate(self, platform):
        m = Module()
        n = self._threads

        def ix(thread):
            return thread_index(thread, n)

        pc = per_thread("pc", XLEN, n, self._reset_pc)
        running = Signal(n, init=int(self._boot))
        if not self._boot:
            # Thread 0 starts (at its reset pc) in the first cycle ``go`` is high.
            booted = Signal()
            with m.If(self.go & ~booted):
                m.d.sync += [booted.eq(1), running[0].eq(1)]
        hold = Signal(n)
        pend_pc = per_thread("pend_pc", XLEN, n)
        pend_addr = per_thread("pend_addr", XLEN, n)
        pend_insn = per_thread("pend_insn", 32, n)
        m.d.comb += [self.pc[i].eq(pc[i]) for i in range(n)]
        m.d.comb += [self.running.eq(running), self.hold.eq(hold)]

        wbr, done = self.wb, self.done
        from_pipe = wbr.valid
        t = wbr.thread
        tw = ix(t)
        r_valid = self.retiring
        r_rd_en = Signal()
        r_value = Signal(XLEN)
        new_pc = Signal(XLEN)
        set_pc = Signal()
        clear_busy = Signal()

        # Thread control: a write that stops other threads waits (is replayed) until they are
        # held (issue no more) and have nothing in flight, so all their instructions retire
        # before it.
        new_mask = self.new[:n]
        others = Const((1 << n) - 1, n) & ~(Const(1, n) << tw)[:n]
        stopping = running & ~new_mask & others
        ctl_write = (from_pipe & ~wbr.trap & (wbr.kind == Kind.CSR) & wbr.csr_writes
                     & (wbr.csr == CsrSel.MTHREADCTL))
        # Instructions of released threads may still be in decode or execute.
        in_pipe = Signal(n)
        for i in range(n):
            m.d.comb += in_pipe[i].eq((self.id.valid & (self.id.thread == i))
                                      | (self.ex.valid & (self.ex.thread == i)))
        ctl_wait = ctl_write & ((stopping & (self.busy | self.fetching | self.wanted | in_pipe
                                             | ~hold)) != 0)
        wkind = wbr.kind
        parks = from_pipe & ~wbr.trap & (
            (wkind == Kind.LOAD) | (wkind == Kind.STORE) | (wkind == Kind.MUL)
            | (wkind == Kind.DIV) | (wkind == Kind.CUSTOM))
        replay = self.replay
        m.d.comb += replay.eq(from_pipe & ctl_wait)

        # An instruction whose request left from execute: what its completion needs.
        with m.If(parks):
            m.d.sync += [pend_pc[tw].eq(wbr.pc), pend_addr[tw].eq(wbr.a),
                         pend_insn[tw].eq(wbr.insn), pc[tw].eq(wbr.next_pc)]

        # A released instruction's thread has its pc and may have issued again: only retire.
        with m.If(from_pipe):
            with m.If(wbr.trap):
                m.d.comb += [r_valid.eq(1), clear_busy.eq(1)]
            with m.Elif(replay):
                m.d.comb += clear_busy.eq(1)
            with m.Elif(~parks):
                m.d.comb += [r_valid.eq(1), clear_busy.eq(~wbr.released),
                             set_pc.eq(~wbr.released), new_pc.eq(wbr.next_pc),
                             r_rd_en.eq(wbr.rd_en),
                             r_value.eq(Mux(wkind == Kind.CSR, self.old, wbr.res))]
                with m.If(wkind == Kind.MRET):
                    m.d.comb += new_pc.eq(self.mepc)

        # The completing instruction: the one its thread parked.
        tc = done.thread
        twc = ix(tc)
        c_insn = pend_insn[twc]
        c_addr = pend_addr[twc]
        c_load = c_insn[0:7] == Opcode.LOAD
        c_store = c_insn[0:7] == Opcode.STORE
        loaded = done.data >> Cat(Const(0, 3), c_addr[:3])
        extracted = Signal(XLEN)
        with m.Switch(c_insn[12:15]):
            for funct3 in LoadFunct3:
                bits = 8 << (funct3 & 3)
                with m.Case(funct3):
                    signed = not funct3 & 4 and bits < XLEN
                    m.d.comb += extracted.eq(sext(loaded, bits) if signed else loaded[:bits])
        c_rd_en = done.valid & ~done.error & ~c_store & (c_insn[7:12] != 0)
        c_value = Mux(c_load, extracted, done.data)
        # Of the late instructions only loads, stores and coprocessor instructions fail: a
        # refused coprocessor instruction is illegal, with its bits in mtval.
        c_cause = Mux(c_store, Cause.STORE_FAULT, Mux(c_load, Cause.LOAD_FAULT, Cause.ILLEGAL))
        m.d.comb += [self.late_pc.eq(pend_pc[twc]),
                     self.late_cause.eq(c_cause),
                     self.late_tval.eq(Mux(c_load | c_store, c_addr, c_insn))]

        # pc updates: a trap goes to its handler (the CSR file enters it).
        with m.If(done.valid & done.error):
            m.d.sync += pc[twc].eq(self.late_mtvec)
        with m.If(from_pipe & wbr.trap):
            m.d.sync += pc[tw].eq(self.mtvec)
        with m.Elif(set_pc):
            m.d.sync += pc[tw].eq(new_pc)
        # A faulting completion releases its thread after the trap entry.
        m.d.comb += self.release.eq(thread_bit(clear_busy, t, n)
                                    | thread_bit(done.valid & done.error, tc, n))
        m.d.comb += self.fence_i.eq(from_pipe & ~wbr.trap & ~replay & (wkind == Kind.FENCE_I))

        with m.If(ctl_write & ~ctl_wait & ~replay):
            starting = new_mask & ~running
            m.d.sync += [running.eq(new_mask), hold.eq(0)]
            for i in range(n):
                with m.If(starting[i]):
                    m.d.sync += pc[i].eq(self.mthreadpc)
        with m.Elif(ctl_wait):
            m.d.sync += hold.eq(hold | stopping)

        # Released threads go on (at most one pc write per thread in a cycle: a thread has one
        # unreleased instruction at most, and only that one writes its pc).
        with m.If(self.release_id):
            m.d.sync += pc[ix(self.id.thread)].eq(self.next_id)
        with m.If(self.redirect):
            m.d.sync += pc[ix(self.ex.thread)].eq(self.next_ex)

        # Register writes and the retire trace (completions first: they are older).
        m.d.comb += [self.write.en.eq(r_valid & ~wbr.trap & r_rd_en),
                     self.write.rd.eq(wbr.insn[7:12]), self.write.thread.eq(t),
                     self.write.data.eq(r_value),
                     self.write_late.en.eq(c_rd_en), self.write_late.rd.eq(c_insn[7:12]),
                     self.write_late.thread.eq(tc), self.write_late.data.eq(c_value)]
        for port, valid, thread, at, insn, rd_en, value, trap, cause in (
                (self.retire_late, done.valid, tc, pend_pc[twc], c_insn, c_rd_en, c_value,
                 done.error, c_cause),
                (self.retire, r_valid, t, wbr.pc, wbr.insn, r_rd_en & ~wbr.trap, r_value,
                 wbr.trap, wbr.cause)):
            rec = port.payload
            m.d.sync += [port.valid.eq(valid), rec.thread.eq(thread), rec.pc.eq(at),
                         rec.insn.eq(insn), rec.rd_en.eq(rd_en), rec.rd.eq(insn[7:12]),
                         rec.value.eq(value), rec.trap.eq(trap), rec.cause.eq(cause)]
        return m
