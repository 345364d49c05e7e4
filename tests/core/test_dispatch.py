"""``hw.core.dispatch.Dispatcher`` in the Amaranth simulator: the decode of every custom
instruction (illegal encodings answered with ``error``), commands to the units with the thread's
vector state, answers only once a unit took the command, semaphores (SSET, SADD, signals of
finished commands, SWAIT asleep until the value is reached), fences, the units' error registers
(STATUS reads and clears), RDCTR, and to_reg results."""

import random

import pytest
from amaranth.sim import Simulator

from hw.core.counters import counter_index, counter_numbers
from hw.core.dispatch import Dispatcher
from hw.core.isa import (
    DmaCommand,
    Done,
    Error,
    ErrorRecord,
    MatrixCommand,
    MatrixFn,
    RegResult,
    SyncFn,
    Unit,
    VectorCommand,
    VectorConfig,
    VectorFn,
    VectorStrides,
    encode,
)
from hw.core.packets import DirectAnswer, RemoteAdd
from hw.matmul.array import OperandConfig
from hw.scalar.isa import CoprocRequest, CoprocResponse
from hw.vector.isa import VecOp
from tests.amaranth_sim import raises_unelaborated
from verif.pack import pack, unpack

MASK64 = (1 << 64) - 1


def pack_fields(layout, fields):
    return int(pack(layout, 1, **fields)[0])


def unpack_fields(layout, word):
    return {k: int(v[0]) for k, v in unpack(layout, [word]).items()}


def _insn(unit, funct3, **kw):
    return encode(unit, funct3, **kw)


def signal_bits(sem, amount, enable=1):
    return sem | enable << 4 | amount << 5


class Bench:
    """Drives the dispatcher: ``ask`` sends one instruction of a thread and returns its answer
    (or None if none came within ``limit`` cycles); the units' command streams are taken with
    ``ready`` set by ``self.ready[unit]`` and recorded in ``self.commands[unit]``; ``finish``
    sends a Done, ``refuse`` an ErrorRecord, ``reply`` a RegResult."""

    def __init__(self, ctx, dut):
        self.ctx, self.dut = ctx, dut
        self.ready = {"matrix": 1, "vector": 1, "dma": 1}
        self.commands = {"matrix": [], "vector": [], "dma": []}
        self.layouts = {"matrix": MatrixCommand, "vector": VectorCommand, "dma": DmaCommand}
        if dut.network:
            self.ready["notify"], self.commands["notify"] = 1, []
            self.layouts["notify"] = RemoteAdd
        self.answers = []
        self.counter_value = 0
        self.cycle = 0

    async def tick(self, n=1):
        d, ctx = self.dut, self.ctx
        for _ in range(n):
            ctx.set(d.o.ready, 1)
            ctx.set(d.counter_value, self.counter_value + ctx.get(d.counter))
            for name in self.commands:                  # transfers of this cycle
                port = getattr(d, name)
                ctx.set(port.ready, self.ready[name])
                if ctx.get(port.valid) and self.ready[name]:
                    self.commands[name].append(
                        unpack_fields(self.layouts[name], ctx.get(port.payload.as_value())))
            if ctx.get(d.o.valid):
                self.answers.append(
                    unpack_fields(CoprocResponse, ctx.get(d.o.payload.as_value())))
            await ctx.tick()
            self.cycle += 1
            for port in (d.matrix_done, d.vector_done, d.dma_done, d.matrix_error,
                         d.vector_error, d.dma_error, d.result):
                ctx.set(port.valid, 0)
            if d.network:
                ctx.set(d.net_signal.valid, 0)
                ctx.set(d.net_answer.valid, 0)

    async def send(self, thread, insn, rs1=0, rs2=0):
        d, ctx = self.dut, self.ctx
        ctx.set(d.i.payload.as_value(), pack_fields(CoprocRequest, {
            "insn": insn, "rs1": rs1 & MASK64, "rs2": rs2 & MASK64, "thread": thread,
            "rd": (insn >> 7) & 31}))
        ctx.set(d.i.valid, 1)
        assert ctx.get(d.i.ready)
        await self.tick()
        ctx.set(d.i.valid, 0)

    async def answer_of(self, thread, limit=20):
        for _ in range(limit):
            for k, a in enumerate(self.answers):
                if a["thread"] == thread:
                    return self.answers.pop(k)
            await self.tick()
        return None

    async def ask(self, thread, insn, rs1=0, rs2=0, limit=20):
        await self.send(thread, insn, rs1, rs2)
        return await self.answer_of(thread, limit)

    def _put(self, port, layout_fields, layout):
        self.ctx.set(port.payload.as_value(), pack_fields(layout, layout_fields))
        self.ctx.set(port.valid, 1)

    def finish(self, unit, *, thread, signal=0, last=1):
        self._put(getattr(self.dut, f"{unit}_done"),
                  {"signal": signal, "thread": thread, "last": last}, Done)

    def refuse(self, unit, *, code, addr):
        self._put(getattr(self.dut, f"{unit}_error"), {"code": code, "addr": addr}, ErrorRecord)

    def notify(self, signal):
        """A NOTIFY's signal from the network interface's receive side (docs/mesh.md)."""
        self.ctx.set(self.dut.net_signal.payload.as_value(), signal)
        self.ctx.set(self.dut.net_signal.valid, 1)

    def net_answer(self, *, thread, code, x, y):
        """The answer to a direct add (``d1.snotify``) from the send side."""
        self._put(self.dut.net_answer, {"thread": thread, "code": code, "x": x, "y": y},
                  DirectAnswer)

    def reply(self, *, thread, rd, value):
        self._put(self.dut.result, {"value": value, "thread": thread, "rd": rd}, RegResult)


def run(testbench, *, threads=4, network=False):
    dut = Dispatcher(threads=threads, counters=counter_numbers(threads), network=network)

    async def bench(ctx):
        await testbench(Bench(ctx, dut))

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(bench)
    sim.run()


ILLEGAL = [
    _insn(Unit.MATRIX, 2),                                   # unknown matrix funct3
    _insn(Unit.MATRIX, MatrixFn.MGEMM, funct7=1),            # funct7 must be 0
    _insn(Unit.VECTOR, VectorFn.VOP, funct7=64 | VecOp.ADD.value),   # bit 6 set
    _insn(Unit.VECTOR, 4),                                   # unknown vector funct3
    _insn(Unit.VECTOR, VectorFn.VSETDC, funct7=2),
    _insn(Unit.DMA, 1),
    _insn(Unit.DMA, 0, funct7=4),
    _insn(Unit.SYNC, 7),
    _insn(Unit.SYNC, SyncFn.FENCE, funct7=1),
    _insn(Unit.SYNC, SyncFn.SSET, funct7=1),
    _insn(Unit.SYNC, SyncFn.SADD, funct7=8),
]


@pytest.mark.parametrize("insn", ILLEGAL, ids=[f"{i:08x}" for i in ILLEGAL])
def test_illegal_encodings_are_answered_with_error(insn):
    """Every encoding outside isa.py is refused (the scalar core traps with cause 2 and the
    instruction bits in mtval), nothing reaches a unit and no semaphore changes (an illegal SSET
    or SADD: the semaphores' own decode, on the way in, must agree with the answer's)."""
    async def tb(b):
        ans = await b.ask(2, insn | 9 << 7, rs1=1, rs2=5)
        assert ans == {"value": 0, "thread": 2, "rd": 9, "error": 1}
        assert b.commands == {"matrix": [], "vector": [], "dma": []}
        assert b.ctx.get(b.dut.semaphores.as_value()) == 0
    run(tb)


@pytest.mark.parametrize("fn,rs1", [(SyncFn.SSET, 16), (SyncFn.SADD, 1 << 40),
                                    (SyncFn.SWAIT, 99), (SyncFn.SREAD, 16),
                                    (SyncFn.STATUS, 3), (SyncFn.RDCTR, 128),
                                    (SyncFn.RDCTR, 42), (SyncFn.RDCTR, 64 + 8 * 4)])
def test_operands_out_of_range_are_illegal(fn, rs1):
    """A semaphore number of 16 or more, a unit number of 3 or more, a number that names no
    counter (42; thread 4's of a 4-thread core; 128); no semaphore changes (an SSET of 16 or a
    SADD of 2**40 names semaphore 0 in its low bits)."""
    async def tb(b):
        ans = await b.ask(0, _insn(Unit.SYNC, fn, rd=3), rs1=rs1, rs2=1)
        assert ans["error"] == 1
        assert b.ctx.get(b.dut.semaphores.as_value()) == 0
    run(tb)


def test_semaphores_set_add_signal_wait():
    """SSET and SADD write, SREAD reads; finished commands' signals add (several in one cycle,
    with a SADD); SWAIT sleeps until the semaphore reaches its value and answers with it."""
    async def tb(b):
        sync = lambda fn: _insn(Unit.SYNC, fn, rd=5)  # noqa: E731
        assert (await b.ask(0, sync(SyncFn.SSET), rs1=3, rs2=10))["value"] == 0
        assert (await b.ask(0, sync(SyncFn.SADD), rs1=3, rs2=(1 << 32) - 4))["error"] == 0
        assert (await b.ask(1, sync(SyncFn.SREAD), rs1=3))["value"] == 6   # mod 2**32
        await b.send(2, sync(SyncFn.SWAIT), rs1=3, rs2=100)
        assert await b.answer_of(2, limit=30) is None                    # asleep
        b.finish("matrix", thread=0, signal=signal_bits(3, 50), last=1)
        b.finish("dma", thread=1, signal=signal_bits(3, 40), last=0)
        b.finish("vector", thread=0, signal=signal_bits(3, 7, enable=0))  # not enabled
        await b.send(0, sync(SyncFn.SADD), rs1=3, rs2=4)                  # same cycle
        assert await b.answer_of(2, limit=5) == {"value": 100, "thread": 2, "rd": 5, "error": 0}
        assert (await b.ask(1, sync(SyncFn.SREAD), rs1=3))["value"] == 100
        assert (await b.ask(1, sync(SyncFn.SREAD), rs1=4))["value"] == 0
    run(tb)


def test_network_signals_add_to_the_semaphores():
    """With a network, a received NOTIFY's signal adds like a unit's, in the same cycle as a
    unit's signal and a SADD; a thread asleep on SWAIT wakes; a signal not enabled adds
    nothing; no fence is touched."""
    async def tb(b):
        sync = lambda fn: _insn(Unit.SYNC, fn, rd=5)  # noqa: E731
        await b.send(2, sync(SyncFn.SWAIT), rs1=9, rs2=12)
        assert await b.answer_of(2, limit=10) is None                    # asleep
        b.notify(signal_bits(9, 5))
        await b.tick()
        b.notify(signal_bits(9, 100, enable=0))
        await b.tick()
        assert await b.answer_of(2, limit=5) is None                     # 5 < 12
        b.notify(signal_bits(9, 4))
        b.finish("dma", thread=1, signal=signal_bits(9, 2), last=0)
        await b.send(0, sync(SyncFn.SADD), rs1=9, rs2=1)                  # same cycle
        assert await b.answer_of(2, limit=5) == {"value": 12, "thread": 2, "rd": 5, "error": 0}
        assert b.ctx.get(b.dut.outstanding.as_value()) == 0
    run(tb, network=True)


def test_snotify_is_a_queued_command_with_the_networks_error_register():
    """With a network, d1.snotify hands {x, y, signal, thread} to the send side and is answered
    0 at once; the thread's fence waits for the answer; an answer with an error code records
    it in STATUS unit 3 (code | x | y << 4 in the address), which the read clears; a clean
    answer records nothing; STATUS 4 is illegal. (A lone core finds d1.snotify illegal: the
    `ILLEGAL` list's funct3 7; and STATUS 3: `test_operands_out_of_range_are_illegal`.)"""
    async def tb(b):
        sync = lambda fn: _insn(Unit.SYNC, fn, rd=5)  # noqa: E731
        sig = signal_bits(4, 7)
        assert (await b.ask(1, sync(SyncFn.SNOTIFY), rs1=1 | 2 << 4 | 1 << 9, rs2=sig)
                ) == {"value": 0, "thread": 1, "rd": 5, "error": 0}
        assert b.commands["notify"] == [{"x": 1, "y": 2, "signal": sig, "thread": 1}]
        assert b.ctx.get(b.dut.outstanding[1]) == 1
        await b.send(1, sync(SyncFn.FENCE))
        assert await b.answer_of(1, limit=10) is None                    # waits for it
        b.net_answer(thread=1, code=Error.NONE, x=1, y=2)
        assert (await b.answer_of(1, limit=5))["value"] == 0
        assert (await b.ask(0, sync(SyncFn.STATUS), rs1=3))["value"] == 0
        await b.ask(2, sync(SyncFn.SNOTIFY), rs1=3 | 3 << 4, rs2=sig)
        b.net_answer(thread=2, code=Error.REMOTE, x=3, y=3)
        await b.tick()
        await b.ask(2, sync(SyncFn.SNOTIFY), rs1=1, rs2=sig)
        b.net_answer(thread=2, code=Error.RANGE, x=1, y=0)               # not the first
        await b.tick(2)
        assert b.ctx.get(b.dut.outstanding[2]) == 0
        status = await b.ask(0, sync(SyncFn.STATUS), rs1=3)
        assert status["value"] == Error.REMOTE | 0x33 << 32
        assert (await b.ask(0, sync(SyncFn.STATUS), rs1=3))["value"] == 0   # cleared
        assert (await b.ask(0, sync(SyncFn.STATUS), rs1=4))["error"] == 1
        assert b.ctx.get(b.dut.semaphores.as_value()) == 0                # nothing local
    run(tb, network=True)


def test_commands_answer_once_taken_and_carry_the_vector_state():
    """MGEMM, MCFG, DMA and a VOP reach their units with their fields; a thread's answer (0)
    waits until its unit took the command; the VOP carries the thread's own vector state."""
    async def tb(b):
        # The dispatcher's command register holds one command the unit has not taken; the
        # next command (here another thread's) waits for it, and so does its thread.
        b.ready["matrix"] = 0
        await b.ask(3, _insn(Unit.MATRIX, MatrixFn.MGEMM), rs1=0x8000_0c00)
        await b.send(1, _insn(Unit.MATRIX, MatrixFn.MGEMM, rd=4), rs1=0x8000_1000,
                     rs2=signal_bits(2, 3))
        assert await b.answer_of(1, limit=25) is None            # the unit is not ready
        b.ready["matrix"] = 1
        assert await b.answer_of(1) == {"value": 0, "thread": 1, "rd": 4, "error": 0}
        assert b.commands["matrix"] == [
            {"op": 1, "value": 0x8000_0c00, "signal": 0, "thread": 3},
            {"op": 1, "value": 0x8000_1000, "signal": signal_bits(2, 3), "thread": 1}]
        cfg = pack_fields(OperandConfig, {"a_fmt": 2, "a_bias": 7, "b_fmt": 1, "b_bias": 0})
        assert (await b.ask(0, _insn(Unit.MATRIX, MatrixFn.MCFG), rs1=cfg,
                            rs2=signal_bits(5, 1)))["error"] == 0
        assert b.commands["matrix"][2] == {"op": 0, "value": cfg, "signal": signal_bits(5, 1),
                                           "thread": 0}
        assert (await b.ask(3, _insn(Unit.DMA, 0), rs1=0x8000_0040))["error"] == 0
        assert b.commands["dma"] == [{"desc": 0x8000_0040, "thread": 3}]
        # Vector state of thread 2, and a different one of thread 0.
        vcfg = pack_fields(VectorConfig, {"vtype": 1, "fmt": 2, "bias": 9, "rnd": 1, "imm": 5,
                                          "count": 12, "signal": signal_bits(1, 1)})
        strides = pack_fields(VectorStrides, {"a": 64, "b": 128, "c": 0, "d": 0xFFC0})
        await b.ask(2, _insn(Unit.VECTOR, VectorFn.VSETCFG), rs1=vcfg)
        await b.ask(2, _insn(Unit.VECTOR, VectorFn.VSETSTRIDE), rs1=strides)
        await b.ask(2, _insn(Unit.VECTOR, VectorFn.VSETDC), rs1=0x8000_2000, rs2=0x8000_3000)
        await b.ask(0, _insn(Unit.VECTOR, VectorFn.VSETCFG), rs1=1)
        ans = await b.ask(2, _insn(Unit.VECTOR, VectorFn.VOP, funct7=VecOp.FMA.value),
                          rs1=0x8000_0100, rs2=0x8000_0200)
        assert ans == {"value": 0, "thread": 2, "rd": 0, "error": 0}
        want = {"op": VecOp.FMA.value, "config": vcfg, "strides": strides,
                "a": 0x8000_0100, "b": 0x8000_0200, "c": 0x8000_3000, "d": 0x8000_2000,
                "to_reg": 0, "rd": 0, "thread": 2}
        assert b.commands["vector"] == [want]
    run(tb)


def test_to_reg_result_and_fence():
    """A VOP with rd != x0 is sent with to_reg and answered with the unit's result; FENCE waits
    until every command of its thread finished (a Done with ``last``), not another thread's."""
    async def tb(b):
        await b.send(1, _insn(Unit.VECTOR, VectorFn.VOP, funct7=VecOp.REDSUM.value, rd=7))
        assert await b.answer_of(1, limit=10) is None
        assert b.commands["vector"][0]["to_reg"] == 1
        b.reply(thread=1, rd=7, value=0x1234_5678_9ABC_DEF0)
        assert await b.answer_of(1) == {"value": 0x1234_5678_9ABC_DEF0, "thread": 1, "rd": 7,
                                        "error": 0}
        await b.ask(0, _insn(Unit.DMA, 0), rs1=0x8000_0000)
        await b.ask(0, _insn(Unit.MATRIX, MatrixFn.MGEMM), rs1=0x8000_0040)
        await b.send(0, _insn(Unit.SYNC, SyncFn.FENCE, rd=1))
        assert await b.answer_of(0, limit=10) is None
        b.finish("dma", thread=0, last=0)          # a descriptor, not the list's last
        b.finish("matrix", thread=2, last=1)       # another thread's
        assert await b.answer_of(0, limit=10) is None
        b.finish("matrix", thread=0, last=1)
        assert await b.answer_of(0, limit=10) is None
        b.finish("dma", thread=0, last=1)
        assert await b.answer_of(0, limit=5) == {"value": 0, "thread": 0, "rd": 1, "error": 0}
    run(tb)


def test_status_reads_and_clears_the_first_error():
    """A unit's error register keeps the first error since the last STATUS; STATUS returns
    ``code | addr << 32`` and clears it; an error arriving as it is read is kept."""
    async def tb(b):
        status = lambda u: b.ask(0, _insn(Unit.SYNC, SyncFn.STATUS, rd=2), rs1=u)  # noqa: E731
        b.refuse("dma", code=Error.RANGE, addr=0x8001_0000)
        await b.tick()
        b.refuse("dma", code=Error.ALIGN, addr=0x8002_0000)
        await b.tick()
        assert (await status(2))["value"] == Error.RANGE | 0x8001_0000 << 32
        assert (await status(2))["value"] == 0
        assert (await status(1))["value"] == 0
        await b.send(0, _insn(Unit.SYNC, SyncFn.STATUS, rd=2), rs1=0)
        b.refuse("matrix", code=Error.FIELD, addr=0x8000_0040)      # as it is read
        assert (await b.answer_of(0))["value"] == 0
        assert (await status(0))["value"] == Error.FIELD | 0x8000_0040 << 32
    run(tb)


def test_rdctr_reads_the_counter_it_names():
    async def tb(b):
        b.counter_value = 1000
        number = counter_index(thread=0, reason="waiting")
        assert (await b.ask(3, _insn(Unit.SYNC, SyncFn.RDCTR, rd=8), rs1=number))["value"] == \
            1000 + number
    run(tb)


def test_threads_in_flight_together():
    """Four threads with instructions at the dispatcher at once, random unit readiness: every
    command reaches its unit once, every thread gets exactly its own answers."""
    rnd = random.Random(3)

    async def tb(b):
        expected = []
        for i in range(40):
            t = i % 4
            if i % 3 == 0:
                b.ready = {k: rnd.random() < 0.6 for k in b.ready}
            await b.send(t, _insn(Unit.DMA, 0, rd=t + 1), rs1=0x8000_0000 + 64 * i)
            expected.append(0x8000_0000 + 64 * i)
            if t == 3:
                b.ready = {k: 1 for k in b.ready}
                for u in range(4):
                    assert (await b.answer_of(u, limit=20))["rd"] == u + 1
        assert [c["desc"] for c in b.commands["dma"]] == expected
    run(tb)


def test_parameter_errors():
    raises_unelaborated(ValueError, r"^threads must be in 1\.\.4, not 5$", Dispatcher,
                        threads=5)
    raises_unelaborated(TypeError, "^network must be a bool, not 1$", Dispatcher, network=1)
