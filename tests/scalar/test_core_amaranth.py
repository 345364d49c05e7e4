"""Amaranth-simulator tests of the scalar core's multiplier and divider (``hw/scalar/muldiv.py``)
against Python integers: every M-extension operation, 64-bit and W forms, on edge and random
operands, division by zero and signed overflow included; the multiplier's latency and
one-per-cycle throughput; the divider's latency for every sign case (radix 4 and radix 8), its
result held until taken, its parameter checked."""

import random

import pytest
from amaranth.sim import Simulator

from hw.scalar.muldiv import DivUnit, MulUnit
from tests.amaranth_sim import raises_unelaborated

M64 = (1 << 64) - 1
EDGE = [0, 1, 2, 3, M64, M64 - 1, 1 << 63, (1 << 63) - 1, 1 << 31, (1 << 31) - 1, 0xFFFF_FFFF,
        0x8000_0000_0000_0001, 0xFFFF_FFFF_8000_0000, 7, 13]


def s(x, bits=64):
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


def tdiv(a, b):
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def mul_ref(f3, word, a, b):
    if word:
        return s(a * b, 32) & M64
    return [a * b, (s(a) * s(b)) >> 64, (s(a) * b) >> 64, (a * b) >> 64][f3] & M64


def div_ref(f3, word, a, b):
    bits = 32 if word else 64
    ua, ub = a & ((1 << bits) - 1), b & ((1 << bits) - 1)
    sa, sb = s(ua, bits), s(ub, bits)
    if f3 == 0:
        r = -1 if sb == 0 else tdiv(sa, sb)
    elif f3 == 1:
        r = (1 << bits) - 1 if ub == 0 else ua // ub
    elif f3 == 2:
        r = sa if sb == 0 else sa - sb * tdiv(sa, sb)
    else:
        r = ua if ub == 0 else ua % ub
    return (s(r, 32) if word else r) & M64


def _operands(rng, n):
    pairs = [(a, b) for a in EDGE for b in EDGE[:6]]
    pairs += [(rng.getrandbits(64), rng.getrandbits(64)) for _ in range(n)]
    pairs += [(rng.getrandbits(64), rng.getrandbits(rng.randrange(1, 64))) for _ in range(n)]
    return pairs


def test_multiplier_matches_python():
    """Products of every form equal Python's, one issued per cycle, LATENCY cycles later."""
    rng = random.Random(1)
    jobs = [(f3, word, a, b) for a, b in _operands(rng, 20)
            for f3, word in ((0, 0), (1, 0), (2, 0), (3, 0), (0, 1))]
    rng.shuffle(jobs)
    dut = MulUnit()
    got = []

    async def bench(ctx):
        for k in range(len(jobs) + MulUnit.LATENCY + 1):
            if k < len(jobs):
                f3, word, a, b = jobs[k]
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload.thread, k % 4)
                ctx.set(dut.i.payload.funct3, f3)
                ctx.set(dut.i.payload.word, word)
                ctx.set(dut.i.payload.a, a)
                ctx.set(dut.i.payload.b, b)
            else:
                ctx.set(dut.i.valid, 0)
            if ctx.get(dut.o.valid):
                got.append((k, ctx.get(dut.o.payload.thread), ctx.get(dut.o.payload.value)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(bench)
    sim.run()
    assert len(got) == len(jobs)
    for i, (k, thread, value) in enumerate(got):
        assert k == i + MulUnit.LATENCY and thread == i % 4
        assert value == mul_ref(*jobs[i]), jobs[i]


def div_cycles(bits, f3, word, a, b):
    """The divider's latency for a job (hw/scalar/muldiv.py's contract, recomputed): one cycle
    and a step per ``bits`` quotient bits; one more for a negative signed operand, another when
    it is the divisor; one more when the result is negative (a non-zero quotient of operands of
    different signs, or a non-zero remainder of a negative dividend; division by zero gives a
    quotient of all ones)."""
    width = 32 if word else 64
    signed = f3 in (0, 2)
    na = signed and s(a, width) < 0
    nb = signed and s(b, width) < 0
    negated = na if f3 & 2 else (na != nb) and b & ((1 << width) - 1) != 0
    return 1 + -(-64 // bits) + (na or nb) + nb + negated


@pytest.mark.parametrize("bits", [2, 3])
def test_divider_matches_python(bits):
    """Quotients and remainders of every form equal the RISC-V definition computed with Python
    integers, division by zero and -2**63 / -1 included, on edge operands and random ones of
    every length (radix 8, the core's; radix 4 on every form and sign case and a few random
    operands); each takes the cycles its signs call for (33 and 23 for unsigned operands),
    ``i.ready`` low from the request taken to the result taken; results wait for ``o.ready``."""
    rng = random.Random(2 + bits)
    jobs = [(f3, word, a, b) for f3 in range(4) for word in range(2)
            for a, b in ((M64 - 5, 0), (1 << 63, M64), (0x8000_0000, M64), (M64, 2000))]
    pairs = [(rng.getrandbits(64), rng.getrandbits(rng.randrange(1, 65))) for _ in range(4)]
    if bits == 3:
        pairs += [(a, b) for a in EDGE[:8] for b in (0, 1, M64, 2, 1 << 63)]
        pairs += [(1 << 63, M64), (0xFFFF_FFFF_8000_0000, M64), (M64, 2000), (1 << 63, 3)]
        pairs += [(rng.getrandbits(64), rng.getrandbits(rng.randrange(1, 65)))
                  for _ in range(12)]
        pairs += [(rng.getrandbits(rng.randrange(1, 65)), rng.getrandbits(64)) for _ in range(4)]
    jobs += [(rng.randrange(4), rng.randrange(2), a, b) for a, b in pairs]
    dut = DivUnit(bits=bits)
    assert dut.cycles() == {2: 33, 3: 23}[bits]
    got = []

    async def bench(ctx):
        for k, (f3, word, a, b) in enumerate(jobs):
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload.thread, k % 4)
            ctx.set(dut.i.payload.funct3, f3)
            ctx.set(dut.i.payload.word, word)
            ctx.set(dut.i.payload.a, a)
            ctx.set(dut.i.payload.b, b)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)
            ctx.set(dut.o.ready, 0)
            cycles = 0
            expect = div_cycles(bits, f3, word, a, b)
            while not ctx.get(dut.o.valid):
                assert not ctx.get(dut.i.ready), "ready while dividing"
                await ctx.tick()
                cycles += 1
                assert cycles <= expect, "divider hangs"
            assert cycles == expect - 1  # counted after the cycle that took the request
            for _ in range(k % 3):  # held while not ready
                held = ctx.get(dut.o.payload.value)
                await ctx.tick()
                assert ctx.get(dut.o.valid) and ctx.get(dut.o.payload.value) == held
                assert not ctx.get(dut.i.ready)
            got.append((ctx.get(dut.o.payload.thread), ctx.get(dut.o.payload.value)))
            ctx.set(dut.o.ready, 1)
            await ctx.tick()
            ctx.set(dut.o.ready, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(bench)
    sim.run()
    for k, ((thread, value), job) in enumerate(zip(got, jobs, strict=True)):
        assert thread == k % 4
        assert value == div_ref(*job), [hex(x) for x in job[2:]] + [job[:2]]


@pytest.mark.parametrize("bits", [1, 4, 3.0, True])
def test_divider_bits_checked(bits):
    """A radix other than 4 or 8 is refused at construction with the exact message."""
    if not isinstance(bits, int) or isinstance(bits, bool):
        error, message = TypeError, rf"^bits must be an integer, not {bits!r}$"
    else:
        error, message = ValueError, rf"^bits must be in 2\.\.3, not {bits!r}$"
    raises_unelaborated(error, message, DivUnit, bits=bits)

