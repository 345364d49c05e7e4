"""The core's performance counters (``hw.core.isa.Counter`` numbers them; RDCTR reads them).

Every counter is 64 bits and counts from reset (in the core, only the cycles it runs: ``go``).
Per queued unit (matrix, vector, DMA) one counter per cycle cause; every cycle is exactly one
cause of each unit, so a unit's five counters add up to ``CYCLES``. Per thread: instructions
retired, and every cycle by one reason (the first that holds, in ``THREAD_REASONS``' order):
not running; held (by the host's ``halt`` or a thread-control write that waits for it); asleep
at the dispatcher (a wait, a fence, a full queue, a result); an instruction in flight (its
previous instruction has not released it: a load, a store, a multiplication, a division, a
coprocessor instruction, or one still in decode or execute); waiting for its instruction line;
issued; and eligible but not issued (another thread had the issue slot, or its pick missed its
line or was killed). So a thread's seven cycle counters add up to ``CYCLES``.
"""

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.common.arith import prefix_add
from hw.common.params import check_int
from hw.scalar.core import ThreadActivity
from hw.scalar.isa import MAX_THREADS

from .dispatch import COUNTER_BITS
from .isa import Counter

__all__ = ["Counters", "UNIT_CAUSES", "THREAD_REASONS", "counter_index", "counter_numbers"]

#: Cycle causes of a unit, in the order of their counters (isa.Counter.UNIT_*).
UNIT_CAUSES = ("busy", "port", "operand", "backpressure", "idle")
#: What a thread's counters count (instructions, then cycles by reason, in priority order).
THREAD_REASONS = ("instructions", "not_running", "held", "waiting", "in_flight", "fetch",
                  "issued", "eligible")
QUEUED_UNITS = 3


def counter_index(*, unit=None, cause=None, thread=None, reason=None):
    """The RDCTR number of a unit's cause counter or a thread's counter."""
    if unit is not None:
        return 16 * unit + UNIT_CAUSES.index(cause)
    return 64 + 8 * thread + THREAD_REASONS.index(reason)


def counter_numbers(threads):
    """Every RDCTR number that names a counter of a core with ``threads`` threads."""
    units = [counter_index(unit=u, cause=c) for u in range(QUEUED_UNITS) for c in UNIT_CAUSES]
    per_thread = [counter_index(thread=t, reason=r) for t in range(threads)
                  for r in THREAD_REASONS]
    return (*units, *per_thread, int(Counter.CYCLES))


class Counters(wiring.Component):
    """Parameters (keyword-only): ``threads`` 1..4.

    Members
    -------
    cause : ``In(len(UNIT_CAUSES)).array(3)``
        Each unit's cause of this cycle, one-hot (a unit's contract; a value that is not
        one-hot counts every set bit, and the test of each unit checks it is one-hot).
    retired : ``In(2).array(threads)``
        Instructions of each thread retiring this cycle (0..2: the retire ports).
    running, waiting : ``In(MAX_THREADS)``
        The scalar core's running threads; the dispatcher's asleep threads.
    activity : ``In(ThreadActivity)``
        What each thread did this cycle (the scalar core's).
    enable : ``In(1, init=1)``
        Every counter counts while 1 only (the core counts the cycles it runs: ``go``).
    index : ``In(COUNTER_BITS)``, ``value`` : ``Out(64)``
        The counter ``index`` names, combinationally (0 for a number with no counter): the
        dispatcher's RDCTR.
    host_index : ``In(COUNTER_BITS)``, ``host_value`` : ``Out(64)``
        A second read, the same way: the host's (the core bench reads every counter after a
        run), so that it never competes with a thread's RDCTR.
    """

    def __init__(self, *, threads=MAX_THREADS):
        self.threads = check_int("threads", threads, 1, MAX_THREADS)
        super().__init__({
            "cause": In(len(UNIT_CAUSES)).array(QUEUED_UNITS),
            "retired": In(2).array(self.threads),
            "running": In(MAX_THREADS), "waiting": In(MAX_THREADS),
            "activity": In(ThreadActivity), "enable": In(1, init=1),
            "index": In(COUNTER_BITS), "value": Out(64),
            "host_index": In(COUNTER_BITS), "host_value": Out(64),
        })

    def elaborate(self, platform):
        m = Module()
        counters = {Counter.CYCLES: (Signal(64, name="cycles"), 1)}
        for u in range(QUEUED_UNITS):
            for k, cause in enumerate(UNIT_CAUSES):
                counters[counter_index(unit=u, cause=cause)] = (
                    Signal(64, name=f"unit{u}_{cause}"), self.cause[u][k])
        for t in range(self.threads):
            act = self.activity
            # The cycle's reason: the first that holds (a priority chain, so one a cycle).
            holds = {"not_running": ~self.running[t], "held": act.held[t],
                     "waiting": self.waiting[t], "in_flight": act.busy[t],
                     "fetch": act.fetch[t], "issued": act.issued[t], "eligible": Const(1)}
            earlier = Const(0)
            for reason in THREAD_REASONS:
                if reason == "instructions":
                    inc = self.retired[t]
                else:
                    inc = Signal(name=f"thread{t}_is_{reason}")
                    m.d.comb += inc.eq(holds[reason] & ~earlier)
                    earlier = earlier | holds[reason]
                counters[counter_index(thread=t, reason=reason)] = (
                    Signal(64, name=f"thread{t}_{reason}"), inc)
        # A prefix adder each: ``reg + inc`` maps to a 64-bit ripple (69 gate levels).
        for number, (reg, inc) in counters.items():
            total, _ = prefix_add(m, reg, inc, width=64, name=f"ctr{int(number)}")
            with m.If(self.enable):
                m.d.sync += reg.eq(total)
        for index, value in ((self.index, self.value), (self.host_index, self.host_value)):
            with m.Switch(index):
                for number, (reg, _) in counters.items():
                    with m.Case(number):
                        m.d.comb += value.eq(reg)
        return m
