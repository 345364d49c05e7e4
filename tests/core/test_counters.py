"""``hw.core.counters.Counters``: each unit's cause counters and each thread's counters count
what they say for random inputs, read the same on both reads (the dispatcher's and the host's), a
unit's five causes add up to CYCLES, a number with no counter reads 0, and ``counter_numbers``
lists exactly the counters there are; the report of a run's counters
(``verif.core.counters``) checks that they account for every cycle and names what does not."""

import random

import pytest
from amaranth.sim import Simulator

from hw.core.counters import (
    THREAD_REASONS,
    UNIT_CAUSES,
    Counters,
    counter_index,
    counter_numbers,
)
from hw.core.isa import Counter
from verif.core.counters import CounterReport, read_counters

#: The inputs that give a thread's cycle reason, in priority order.
SIGNALS = {"not_running": lambda dut: dut.running, "held": lambda dut: dut.activity.held,
           "waiting": lambda dut: dut.waiting, "in_flight": lambda dut: dut.activity.busy,
           "fetch": lambda dut: dut.activity.fetch, "issued": lambda dut: dut.activity.issued}


def _reason(bits, t):
    """Thread ``t``'s reason for the cycle: the first of THREAD_REASONS that holds (not
    running is the running bit's absence; eligible when none holds)."""
    for reason in THREAD_REASONS[1:-1]:
        bit = bits[reason] >> t & 1
        if bit ^ (reason == "not_running"):
            return reason
    return "eligible"


def test_counts():
    threads = 2
    dut = Counters(threads=threads)
    rnd = random.Random(4)
    want = {n: 0 for n in counter_numbers(threads)}

    async def bench(ctx):
        for _ in range(300):
            for u in range(3):
                k = rnd.randrange(len(UNIT_CAUSES))
                ctx.set(dut.cause[u], 1 << k)
                want[counter_index(unit=u, cause=UNIT_CAUSES[k])] += 1
            bits = {name: rnd.randrange(16) for name in SIGNALS}
            for name, value in bits.items():
                ctx.set(SIGNALS[name](dut), value)
            for t in range(threads):
                n = rnd.randrange(3)
                ctx.set(dut.retired[t], n)
                want[counter_index(thread=t, reason="instructions")] += n
                want[counter_index(thread=t, reason=_reason(bits, t))] += 1
            want[Counter.CYCLES] += 1
            await ctx.tick()
        for n, value in want.items():
            ctx.set(dut.index, n)
            ctx.set(dut.host_index, n)
            assert ctx.get(dut.value) == ctx.get(dut.host_value) == value, n
        for u in range(3):
            assert sum(want[counter_index(unit=u, cause=c)] for c in UNIT_CAUSES) == \
                want[Counter.CYCLES]
        for t in range(threads):
            assert sum(want[counter_index(thread=t, reason=r)] for r in THREAD_REASONS[1:]) \
                == want[Counter.CYCLES]
            assert all(want[counter_index(thread=t, reason=r)] for r in THREAD_REASONS), t
        ctx.set(dut.index, 42)
        ctx.set(dut.host_index, 43)
        assert ctx.get(dut.value) == ctx.get(dut.host_value) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(bench)
    sim.run()


def test_numbers():
    numbers = counter_numbers(4)
    assert len(numbers) == len(set(numbers)) == 3 * len(UNIT_CAUSES) + 4 * len(THREAD_REASONS) + 1
    assert counter_index(unit=2, cause="idle") == 36
    assert counter_index(thread=3, reason="eligible") == 64 + 24 + 7
    assert max(numbers) == Counter.CYCLES == 127
    # the ISA's names of the reasons (docs/isa.md, d1.h's D1_CTR_THREAD_*) in the same order
    assert [Counter[f"THREAD_{r.upper()}"] for r in THREAD_REASONS] == list(range(8))


def _values(cycles, threads, **changes):
    """Counter values of a run of ``cycles`` in which every unit is idle and every thread runs
    without sleeping, with ``changes`` (``{number: value}`` by keyword ``n<number>``)."""
    values = dict.fromkeys(range(128), 0)
    values[int(Counter.CYCLES)] = cycles
    for u in range(3):
        values[counter_index(unit=u, cause="idle")] = cycles
    for t in range(threads):
        values[counter_index(thread=t, reason="issued")] = cycles
    values.update({int(k[1:]): v for k, v in changes.items()})
    return values


def test_report_accounts_for_every_cycle():
    """``CounterReport``: no error when every identity holds; the table's rows, totals and
    utilisation; and each identity that breaks is named: a unit's causes, a thread's reasons,
    CYCLES against the run's cycles."""
    busy, idle = counter_index(unit=1, cause="busy"), counter_index(unit=1, cause="idle")
    good = _values(1000, 2, **{f"n{busy}": 250, f"n{idle}": 750})
    report = CounterReport.from_values(good, threads=2, run_cycles=1000)
    assert report.errors() == []
    assert report.units["vector"] == {"busy": 250, "port": 0, "operand": 0, "backpressure": 0,
                                      "idle": 750}
    assert report.utilisation("vector") == 0.25
    lines = report.lines()
    assert lines[0] == "counters (1000 cycles)"
    assert lines[3].split() == ["vector", "250", "0", "0", "0", "750", "1000", "25.00", "%"]
    assert lines[5].split() == ["thread", "instructions", "not", "running", "held", "asleep",
                                "in", "flight", "fetch", "issued", "eligible", "total"]
    assert lines[6].split() == ["0", "0", "0", "0", "0", "0", "0", "1000", "0", "1000"]
    assert lines[-1].startswith("every cycle accounted for")

    port = counter_index(unit=2, cause="port")
    asleep = counter_index(thread=1, reason="waiting")
    bad = CounterReport.from_values({**good, port: 1, asleep: 3}, threads=2, run_cycles=999)
    assert bad.errors() == [
        "CYCLES is 1000 but the run took 999 cycles",
        "DMA: busy + causes + idle = 1001, not CYCLES = 1000",
        "thread 1: not running + held + asleep + in flight + fetch + issued + eligible = 1003, "
        "not CYCLES = 1000",
    ]
    assert [line for line in bad.lines() if line.startswith("COUNTER ERROR")] == [
        f"COUNTER ERROR: {e}" for e in bad.errors()]


def test_read_counters(tmp_path):
    """``counters.txt``: one hex value a line for numbers 0..127; any other count refused."""
    path = tmp_path / "counters.txt"
    path.write_text("".join(f"{n * 3:016x}\n" for n in range(128)))
    assert read_counters(path) == {n: 3 * n for n in range(128)}
    path.write_text("0\n" * 127)
    with pytest.raises(ValueError, match="127 counter values, not 128"):
        read_counters(path)
