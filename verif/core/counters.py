"""The core's performance counters after a run: where every cycle went (``d1core run --counters``).

The bench (``verif/core/core_tb.py``) reads every counter number through the core's host read of
the counters after the run into ``counters.txt``; the counters count only while the program runs
(``Core.go``), so ``CYCLES`` is the run's cycles. :class:`CounterReport` names them
(``hw.core.counters``: per unit, the cycles of each cause; per thread, the instructions and the
cycles by reason), checks that they account for every cycle and prints them.

Contract
--------
* Each unit's causes (busy, port, operand, backpressure, idle) add up to ``CYCLES``: each unit
  names exactly one cause a cycle.
* Each thread's cycles (not running, held, asleep, in flight, fetch, issued, eligible) add up
  to ``CYCLES``.
* ``CYCLES`` equals the bench's count of the run's cycles.

A failure of any of them is a hardware error (:meth:`CounterReport.errors` lists them).
"""

from dataclasses import dataclass
from pathlib import Path

from hw.core.counters import QUEUED_UNITS, THREAD_REASONS, UNIT_CAUSES, counter_index
from hw.core.dispatch import COUNTER_BITS
from hw.core.isa import Counter

__all__ = ["UNITS", "THREAD_CYCLES", "CounterReport", "read_counters"]

#: The queued units, in the order of their counters (``isa.Counter``: unit u at 16·u).
UNITS = ("matrix", "vector", "DMA")
#: A thread's reasons that count cycles (the other, "instructions", counts instructions).
THREAD_CYCLES = THREAD_REASONS[1:]
#: The table's heads of THREAD_REASONS.
THREAD_HEADS = {"instructions": "instructions", "not_running": "not running", "held": "held",
                "waiting": "asleep", "in_flight": "in flight", "fetch": "fetch",
                "issued": "issued", "eligible": "eligible"}

assert len(UNITS) == QUEUED_UNITS


def read_counters(path):
    """Every counter number's value from the bench's ``counters.txt`` (``{number: value}``,
    numbers 0..127; 0 for a number with no counter)."""
    values = [int(line, 16) for line in Path(path).read_text().split()]
    if len(values) != 1 << COUNTER_BITS:
        raise ValueError(f"{path}: {len(values)} counter values, not {1 << COUNTER_BITS}")
    return dict(enumerate(values))


@dataclass(frozen=True)
class CounterReport:
    """The counters of a run of ``threads`` threads.

    Members
    -------
    cycles : int
        ``CYCLES``.
    units : dict
        ``{unit name: {cause: cycles}}`` (``UNITS``, ``UNIT_CAUSES``).
    threads : tuple
        Per thread, ``{reason: count}`` (``THREAD_REASONS``).
    run_cycles : int or None
        The bench's cycle count, checked against ``CYCLES`` when given.
    """

    cycles: int
    units: dict
    threads: tuple
    run_cycles: int | None = None

    @classmethod
    def from_values(cls, values, *, threads, run_cycles=None):
        """The report of ``values`` (``{counter number: value}``, e.g. :func:`read_counters`)."""
        units = {name: {c: values[counter_index(unit=u, cause=c)] for c in UNIT_CAUSES}
                 for u, name in enumerate(UNITS)}
        per_thread = tuple({r: values[counter_index(thread=t, reason=r)] for r in THREAD_REASONS}
                           for t in range(threads))
        return cls(values[int(Counter.CYCLES)], units, per_thread, run_cycles)

    def errors(self):
        """Every identity the counters break, as sentences (empty: every cycle accounted)."""
        out = []
        if self.run_cycles is not None and self.cycles != self.run_cycles:
            out.append(f"CYCLES is {self.cycles} but the run took {self.run_cycles} cycles")
        for name, causes in self.units.items():
            total = sum(causes.values())
            if total != self.cycles:
                out.append(f"{name}: busy + causes + idle = {total}, not CYCLES = {self.cycles}")
        for t, reasons in enumerate(self.threads):
            total = sum(reasons[r] for r in THREAD_CYCLES)
            if total != self.cycles:
                out.append(f"thread {t}: {' + '.join(THREAD_HEADS[r] for r in THREAD_CYCLES)} "
                           f"= {total}, not CYCLES = {self.cycles}")
        return out

    def utilisation(self, unit):
        """The share of ``CYCLES`` that ``unit`` was busy (0.0 for a run of no cycles)."""
        return self.units[unit]["busy"] / self.cycles if self.cycles else 0.0

    def lines(self):
        """The table ``d1core run --counters`` prints, ending with the identity's verdict."""
        cyc = self.cycles
        pct = (lambda n: f"{100 * n / cyc:6.2f} %") if cyc else (lambda n: "      -")
        out = [f"counters ({cyc} cycles)",
               f"{'unit':<7}" + "".join(f"{c:>13}" for c in UNIT_CAUSES)
               + f"{'total':>13} {'utilisation':>11}"]
        for name, causes in self.units.items():
            out.append(f"{name:<7}" + "".join(f"{causes[c]:>13}" for c in UNIT_CAUSES)
                       + f"{sum(causes.values()):>13} {pct(causes['busy']):>11}")
        heads = [THREAD_HEADS[r] for r in THREAD_REASONS] + ["total"]
        out.append(f"{'thread':<7}" + "".join(f"{h:>13}" for h in heads))
        for t, reasons in enumerate(self.threads):
            cells = [reasons[r] for r in THREAD_REASONS] + [sum(reasons[r] for r in THREAD_CYCLES)]
            out.append(f"{t:<7}" + "".join(f"{v:>13}" for v in cells))
        errors = self.errors()
        if errors:
            out += [f"COUNTER ERROR: {e}" for e in errors]
        else:
            out.append("every cycle accounted for: busy + causes + idle = CYCLES for each unit, "
                       "the cycle reasons add up to CYCLES for each thread"
                       + ("" if self.run_cycles is None else ", CYCLES = the run's cycles"))
        return out
