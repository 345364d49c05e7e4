"""The scalar core's issue stage: the round-robin thread pick and the busy bits."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import THREAD_BITS, XLEN
from .stages import IdStage, thread_bit, thread_index

__all__ = ["Issue"]


class Issue(wiring.Component):
    """Stage 1: picks the next thread that may issue, in round-robin order, one a cycle, and
    registers the word it issues into decode.

    Parameters (keyword-only)
    -------------------------
    threads : int, 1..4
        Hardware threads (the caller has checked the value).

    Members
    -------
    running, hold, fetching, wanted : ``In(threads)``
        Threads that may issue are running, not held by a thread-control write, and have no
        line request outstanding or asked for.
    pick, any_pick : ``Out(THREAD_BITS)``, ``Out(1)``
        The thread picked this cycle, if any (combinational).
    hit, request, insn, pc, fault : ``In``
        From fetch: the picked thread's line hit, its line request, the word, its pc and fault.
    kill : ``In(1)``
        Execute found the picked thread's predicted branch mispredicted: the word picked is on
        the wrong path and does not issue.
    release_id, release_ex, ex_thread : ``In(1)``, ``In(1)``, ``In(THREAD_BITS)``
        Decode releases ``id.thread``; execute releases ``ex_thread``.
    release_wb, release_done : ``In(threads)``
        Threads released by write-back and by completions.
    busy : ``Out(threads)``
        Threads with an instruction in flight.
    issued : ``Out(threads)``
        The thread that issues this cycle (one-hot, or 0): for the performance counters.
    id : ``Out(IdStage)``
        The pipeline register into decode.

    Contract
    --------
    A thread issues when it is picked and its line buffer hits; it is then busy until released
    (it may issue again in the cycle after its release).
    The pick moves past the picked thread when it issues or requests its line.
    """

    def __init__(self, *, threads):
        self._threads = threads
        super().__init__({
            "running": In(threads), "hold": In(threads), "fetching": In(threads),
            "wanted": In(threads),
            "pick": Out(THREAD_BITS), "any_pick": Out(1),
            "hit": In(1), "request": In(1), "insn": In(32), "pc": In(XLEN), "fault": In(1),
            "kill": In(1),
            "release_id": In(1), "release_ex": In(1), "ex_thread": In(THREAD_BITS),
            "release_wb": In(threads), "release_done": In(threads),
            "busy": Out(threads), "issued": Out(threads), "id": Out(IdStage),
        })

    def elaborate(self, platform):
        m = Module()
        n = self._threads
        busy = Signal(n)
        m.d.comb += self.busy.eq(busy)
        last = Signal(range(n), init=n - 1)
        eligible = self.running & ~busy & ~self.hold & ~self.fetching & ~self.wanted
        pick, any_pick = self.pick, self.any_pick
        with m.Switch(last):
            for prev in range(n):
                with m.Case(prev):
                    order = [(prev + k) % n for k in range(1, n + 1)]
                    for k, i in enumerate(order):
                        with (m.If if k == 0 else m.Elif)(eligible[i]):
                            m.d.comb += [pick.eq(i), any_pick.eq(1)]
        t_is = thread_index(pick, n)
        issue = any_pick & self.hit & ~self.kill
        m.d.sync += [self.id.valid.eq(issue), self.id.thread.eq(pick), self.id.pc.eq(self.pc),
                     self.id.insn.eq(self.insn), self.id.fault.eq(self.fault)]
        set_busy = Signal(n)
        with m.If(any_pick & (self.hit | self.request)):
            m.d.sync += last.eq(t_is)
        with m.If(issue):
            m.d.comb += set_busy.eq(1 << t_is)
        m.d.comb += self.issued.eq(set_busy)
        # A completion without error releases its thread as it is taken: the thread may issue
        # while it retires (the register file's read ports are transparent).
        clear = (self.release_wb | self.release_done
                 | thread_bit(self.release_id, self.id.thread, n)
                 | thread_bit(self.release_ex, self.ex_thread, n))
        m.d.sync += busy.eq((busy | set_busy) & ~clear)
        return m
