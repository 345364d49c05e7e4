"""The receive side of the network interface (``hw/core/ni_receive.py``) in Amaranth's
simulator, against its model (``verif/core/ni_model.py``) on the behavioural scratchpad
(``verif/core/scratchpad_model.py``: answers after a latency plus random delays, random
stalls, OUT_OF_RANGE / MISALIGNED / UNCORRECTABLE statuses, the stream rule checked on the
writes). Checked bit for bit: every byte of the scratchpad; every answer flit (header fields and
payload) in order, the PULLs' READ_DATA lines among them; every signal in order; that a NOTIFY
is taken only once every line before it has been answered by the port; the error count; a line
and a pull a cycle with a ready port; the construction errors."""

import random

import pytest
from amaranth.sim import Simulator

from hw.core.isa import Error
from hw.core.ni_receive import NiReceive
from hw.core.packets import LINE, MNOTIFY, NOTIFY, PULL, line_packet, notify_packet, pull_packet
from hw.noc.flit import Opcode
from hw.noc.routing import Rect
from tests.amaranth_sim import raises_unelaborated, receive, send
from verif.core.dma_model import signal_value
from verif.core.ni_model import NiReceiveModel
from verif.core.scratchpad_model import ScratchpadModel
from verif.noc.model import pack_flit, unpack_flit

BASE, SIZE = 0x8000_0000, 0x4000
HERE = (1, 2)
W, H = 4, 3


def memory(seed, **kw):
    """The behavioural scratchpad, random contents, line 3 uncorrectable."""
    rnd = random.Random(seed)
    mem = ScratchpadModel(size=SIZE, base=BASE, credits=8, bad=(3,), rng=random.Random(seed),
                          **kw)
    mem.load(BASE, bytes(rnd.getrandbits(8) for _ in range(SIZE)))
    return mem


def run(packets, *, seed=1, p_idle=0.0, p_stall=0.0, latency=5, p_delay=0.0, inflight=4,
        limit=4000):
    """Offer ``packets`` (``(header, data)``) to a NiReceive at ``HERE``; return ``(answers,
    signals, errors, memory, cycles)``: the answer flits and signals as ints in order, the
    error count at the end, the scratchpad, the cycles from the first packet taken to the last.
    Asserts the model's answers, signals, errors and memory, and that a NOTIFY is taken only
    once the port has answered every line taken before it."""
    dut = NiReceive(width=W, height=H, inflight=inflight)
    mem = memory(seed, latency=latency, p_stall=p_stall, p_delay=p_delay)
    model = NiReceiveModel(memory(seed))
    expected = [e for h, d in packets for e in model.take(h, d)]
    want_answers = [pack_flit(*p) for kind, p in expected if kind == "answer"]
    want_signals = [s for kind, s in expected if kind == "signal"]
    rnd = random.Random(seed + 100)
    got_signals, result = [], {}

    async def driver(ctx):
        await send(ctx, dut.req, [pack_flit(*p) for p in packets], rnd=rnd, p_idle=p_idle)
        result["taken"] = True

    async def answers(ctx):
        result["answers"], _ = await receive(ctx, dut.answer, len(want_answers), rnd=rnd,
                                             p_stall=0.3 if p_stall else 0.0, limit=limit)

    async def monitor(ctx):
        lines = written = cycles = tail = 0
        taken = []
        while tail < 30:        # on for 30 cycles after the last packet and answer
            _, _, v, r, payload, sv, sp, av = await ctx.tick().sample(
                dut.req.valid, dut.req.ready, dut.req.payload.as_value(), dut.signal.valid,
                dut.signal.payload.as_value(), dut.wr_resp.valid)
            cycles += 1
            assert cycles < limit, "hang"
            tail = tail + 1 if result.get("taken") and "answers" in result else 0
            if sv:
                got_signals.append(sp)
            written += av
            if v and r:
                taken.append(cycles)
                op = unpack_flit(payload)[0]["op"]
                if op in (NOTIFY.value, MNOTIFY.value):
                    assert written == lines, "a NOTIFY was taken before its lines landed"
                lines += op == LINE.value
        result["cycles"] = taken[-1] - taken[0] + 1 if taken else 0
        result["errors"] = ctx.get(dut.errors)

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_process(mem.port(dut.wr_req, dut.wr_resp, name="rw"))
    sim.add_process(mem.port(dut.rd_req, dut.rd_resp, name="rr"))
    sim.add_testbench(driver)
    sim.add_testbench(answers)
    sim.add_testbench(monitor)
    sim.run()
    assert result["answers"] == want_answers
    assert got_signals == want_signals
    assert result["errors"] == model.errors
    assert mem.mem == model.memory.mem
    return result["answers"], got_signals, result["errors"], mem, result["cycles"]


def _line(rnd):
    return rnd.getrandbits(512)


def test_transfers_from_several_sources():
    """Lines from three sources interleaved, random word masks and addresses, each source's
    NOTIFY after its lines; random idles, port stalls and delays, answer backpressure."""
    rnd = random.Random(5)
    sources = [(0, 0), (3, 2), (2, 1)]
    packets = []
    for k in range(60):
        src = rnd.choice(sources)
        if rnd.random() < 0.2:
            packets.append(notify_packet(src, HERE, k & 0xFF,
                                         signal_value(sem=k % 16, enable=k % 3 != 0,
                                                      amount=rnd.getrandbits(16))))
        else:
            addr = BASE + 64 * rnd.choice([i for i in range(SIZE // 64) if i != 3])
            packets.append(line_packet(src, HERE, addr, rnd.getrandbits(8), _line(rnd)))
    for src in sources:
        packets.append(notify_packet(src, HERE, 0xA5, signal_value(sem=1, enable=1, amount=1)))
    answers, signals, errors, _, _ = run(packets, seed=3, p_idle=0.3, p_stall=0.3,
                                         p_delay=0.3)
    assert errors == 0
    assert len(answers) == sum(p[0]["op"] == NOTIFY.value for p in packets)
    assert all(unpack_flit(a)[0]["op"] == Opcode.WRITE_ACK.value for a in answers)


def test_answer_fields():
    """One NOTIFY's answer, field by field: back to the source, from here, RESPONSE,
    WRITE_ACK, the NOTIFY's address and tag, its signal in the payload and code 0."""
    sig = signal_value(sem=9, enable=1, amount=0xBEEF)
    answers, signals, _, _, _ = run([notify_packet((3, 0), HERE, 0x5A, sig)])
    header, payload = unpack_flit(answers[0])
    assert header == {"dst_x": 3, "dst_y": 0, "src_x": 1, "src_y": 2, "cls": 1, "op": 9,
                      "addr": 0, "tag": 0x5A}
    assert payload == sig
    assert signals == [sig]


def test_refused_lines_answer_errors():
    """Lines refused by the scratchpad (out of range, misaligned, uncorrectable) make their
    source's next NOTIFY an ERROR with the first one's code, and only that source's; the record
    clears with it; the signal is delivered all the same; each refused line is counted."""
    a, b = (0, 0), (2, 2)
    sig = signal_value(sem=2, enable=1, amount=7)
    packets = [
        line_packet(a, HERE, BASE + SIZE, 0xFF, 1),            # out of range
        line_packet(b, HERE, BASE + 0x40, 0x0F, 2),
        line_packet(a, HERE, BASE + 0x48, 0xFF, 3),            # misaligned
        notify_packet(b, HERE, 1, sig),
        notify_packet(a, HERE, 2, sig),
        line_packet(a, HERE, BASE + 3 * 64, 0x01, 4),          # the uncorrectable line
        notify_packet(a, HERE, 3, sig),
        notify_packet(a, HERE, 4, sig),
    ]
    answers, signals, errors, _, _ = run(packets, seed=7)
    got = [(unpack_flit(x)[0]["op"], unpack_flit(x)[0]["tag"], unpack_flit(x)[1] >> 21)
           for x in answers]
    assert got == [(Opcode.WRITE_ACK.value, 1, 0), (Opcode.ERROR.value, 2, Error.RANGE),
                   (Opcode.ERROR.value, 3, Error.FIELD), (Opcode.WRITE_ACK.value, 4, 0)]
    assert signals == [sig] * 4
    assert errors == 3


def test_pulls_and_unknown_opcodes():
    """A PULL is answered with its line: READ_DATA back to the puller, from here, at the PULL's
    destination address, its tag kept, the 64 bytes read (field by field); refused reads (out
    of range, misaligned, the uncorrectable line) are answered ERROR with their code, the
    PULL's address, tag and destination, and counted; nothing is written. A request of an
    opcode the NI does not know is dropped and counted, never answered."""
    puller = (0, 1)
    pulls = [pull_packet(puller, HERE, BASE + 0x400, 0x3C, 0x8000_2040),
             pull_packet(puller, HERE, BASE + SIZE, 0xFF, 0x8000_2080),        # out of range
             pull_packet(puller, HERE, BASE + 0x408, 0xFF, 0x8000_20C0),       # misaligned
             pull_packet(puller, HERE, BASE + 3 * 64, 0x01, 0x8000_2100)]      # uncorrectable
    odd = ({**line_packet(puller, HERE, BASE, 0xFF, 5)[0], "op": 5}, 5)
    answers, signals, errors, mem, _ = run([*pulls, odd, notify_packet(puller, HERE, 8, 0)])
    header, line = unpack_flit(answers[0])
    assert header == {"dst_x": 0, "dst_y": 1, "src_x": 1, "src_y": 2, "cls": 1,
                      "op": Opcode.READ_DATA.value, "addr": 0x8000_2040, "tag": 0x3C}
    assert line == int.from_bytes(memory(1).mem[0x400:0x440], "little")
    got = [(h["op"], h["addr"], h["tag"], d) for h, d in map(unpack_flit, answers[1:])]
    assert got == [(Opcode.ERROR.value, BASE + SIZE, 0xFF, 0x8000_2080 << 32 | Error.RANGE << 21),
                   (Opcode.ERROR.value, BASE + 0x408, 0xFF, 0x8000_20C0 << 32 | Error.ALIGN << 21),
                   (Opcode.ERROR.value, BASE + 192, 0x01, 0x8000_2100 << 32 | Error.FIELD << 21),
                   (Opcode.WRITE_ACK.value, 0, 8, 0)]
    assert signals == []            # the NOTIFY's signal is not enabled
    assert errors == 1 + 3
    assert mem.writes == []


@pytest.mark.parametrize("seed", [11, 12])
def test_pulls_after_lines_and_lines_after_pulls(seed):
    """Pulls of lines just written by LINEs (from the puller and from another core) read the new
    bytes, and LINEs after a pull do not overtake its read (the two ports are not ordered, so
    each waits for the other's earlier accesses); a NOTIFY's answer follows the READ_DATAs
    before it. Random idles, port stalls and delays, answer backpressure; the model decides."""
    rnd = random.Random(seed)
    a, b = (0, 1), (3, 2)
    packets = []
    for k in range(200):
        src = rnd.choice((a, b))
        addr = BASE + 64 * rnd.choice((4, 5))
        kind = rnd.random()
        if kind < 0.4:
            packets.append(line_packet(src, HERE, addr, rnd.getrandbits(8) | 1, _line(rnd)))
        elif kind < 0.85:
            packets.append(pull_packet(src, HERE, addr, rnd.getrandbits(8),
                                       0x8000_0000 + 64 * k))
        else:
            packets.append(notify_packet(src, HERE, k, signal_value(sem=1, enable=1, amount=1)))
    answers, *_ = run(packets, seed=seed, p_idle=0.1, p_stall=0.5, p_delay=0.3)
    assert len(answers) == sum(h["op"] in (PULL.value, NOTIFY.value) for h, _ in packets)


def test_a_pull_a_cycle():
    """With a port that never stalls, 32 PULLs are taken in 32 consecutive cycles."""
    packets = [pull_packet((0, 0), HERE, BASE + 64 * (i + 4), 0xFF, BASE + 64 * i)
               for i in range(32)]
    *_, cycles = run(packets, inflight=8)
    assert cycles == 32


def test_a_line_a_cycle():
    """With a port that never stalls, 32 lines are taken in 32 consecutive cycles."""
    packets = [line_packet((0, 0), HERE, BASE + 64 * (i + 4), 0xFF, i) for i in range(32)]
    *_, cycles = run(packets, inflight=8)
    assert cycles == 32


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(width=0, height=1), ValueError, r"width must be in 1\.\.16, not 0"),
    (dict(width=1, height=17), ValueError, r"height must be in 1\.\.16, not 17"),
    (dict(width=1, height=1, addr_bits=33), ValueError, r"addr_bits must be in 8\.\.32, not 33"),
    (dict(width=1, height=1, tag_width="x"), TypeError, "tag_width must be an integer, not 'x'"),
    (dict(width=1, height=1, inflight=0), ValueError, r"inflight must be in 1\.\.64, not 0"),
])
def test_parameter_errors(kwargs, error, message):
    raises_unelaborated(error, message, NiReceive, **kwargs)


def test_multicast_lines_and_mnotify():
    """A multicast push's LINEs and MNOTIFY (to a rectangle holding this core) from two
    sources, among a unicast source's lines and NOTIFY, with stalls and answer backpressure:
    every line written, each MNOTIFY's signal added once its lines have landed and nothing
    answered (the NOTIFY only); a refused multicast line is counted and its record cleared by
    the MNOTIFY (the source's next NOTIFY is answered WRITE_ACK)."""
    rnd = random.Random(9)
    row, block = Rect(0, 2, 3, 2), Rect(1, 1, 2, 2)
    a, b, c = (0, 2), (3, 1), (2, 0)
    sig = [signal_value(sem=k, enable=1, amount=k + 1) for k in range(4)]
    packets = []
    for k in range(12):
        packets.append(line_packet(a, HERE, BASE + 64 * (k + 4), rnd.getrandbits(8), _line(rnd),
                                   row))
        packets.append(line_packet(b, HERE, BASE + 0x400 + 64 * k, 0xFF, _line(rnd), block))
        packets.append(line_packet(c, HERE, BASE + 0x800 + 64 * k, 0xF0, _line(rnd)))
    packets.append(line_packet(a, HERE, BASE + SIZE, 0xFF, 1, row))     # refused
    packets += [notify_packet(a, HERE, 1, sig[0], row), notify_packet(b, HERE, 2, sig[1], block),
                notify_packet(c, HERE, 3, sig[2]), notify_packet(a, HERE, 4, sig[3])]
    answers, signals, errors, _, _ = run(packets, seed=4, p_stall=0.3, p_delay=0.3)
    assert [(unpack_flit(x)[0]["op"], unpack_flit(x)[0]["tag"]) for x in answers] == [
        (Opcode.WRITE_ACK.value, 3), (Opcode.WRITE_ACK.value, 4)]
    assert signals == sig
    assert errors == 1
