"""``hw.core.counters.Counters``: each unit's cause counters and each thread's counters count
what they say for random inputs, read the same on both reads (the dispatcher's and the host's), a
unit's five causes add up to CYCLES, a number with no counter reads 0, and ``counter_numbers``
lists exactly the counters there are."""

import random

from amaranth.sim import Simulator

from hw.core.counters import (
    THREAD_REASONS,
    UNIT_CAUSES,
    Counters,
    counter_index,
    counter_numbers,
)
from hw.core.isa import Counter


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
            running, waiting = rnd.randrange(16), rnd.randrange(16)
            ctx.set(dut.running, running)
            ctx.set(dut.waiting, waiting)
            for t in range(threads):
                n = rnd.randrange(3)
                ctx.set(dut.retired[t], n)
                on, asleep = running >> t & 1, waiting >> t & 1
                want[counter_index(thread=t, reason="instructions")] += n
                want[counter_index(thread=t, reason="not_running")] += not on
                want[counter_index(thread=t, reason="waiting")] += on and asleep
                want[counter_index(thread=t, reason="other")] += on and not asleep
            want[Counter.CYCLES] += 1
            await ctx.tick()
        for n, value in want.items():
            ctx.set(dut.index, n)
            ctx.set(dut.host_index, n)
            assert ctx.get(dut.value) == ctx.get(dut.host_value) == value, n
        for u in range(3):
            assert sum(want[counter_index(unit=u, cause=c)] for c in UNIT_CAUSES) == \
                want[Counter.CYCLES]
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
    assert counter_index(thread=3, reason="other") == 64 + 24 + 3
    assert max(numbers) == Counter.CYCLES == 127
