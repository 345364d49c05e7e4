"""Remote DMA pushes end to end in Amaranth's simulator: core A's DMA engine (with a network)
and the NI's send side (``hw/core/ni_send.py``) at (0, 0), a 3×1 mesh of real routers
(``hw/noc/mesh.py``) whose node (2, 0) is dead, and core B's NI receive side at (1, 0); both
scratchpads are the behavioural one (``verif/core/scratchpad_model.py``). Checked bit for bit
against the DMA model with a network (``verif/core/dma_model.py``, ``run_list(network=...)``)
and the NI's receive model: every byte of both scratchpads, the Done and ErrorRecord sequence,
the signals added at B, and the packets A sends, field by field. Error paths: a dead core and a
core outside the mesh (the router's ERROR: ``REMOTE``), a missing address at the destination
(B's NI: ``RANGE``); a list goes on after them. Also the DMA's ``network`` parameter error
and the send side's count of stray responses."""

import random

from amaranth.hdl import Elaboratable, Module
from amaranth.lib.wiring import connect
from amaranth.sim import Simulator

from hw.core.dma import DmaEngine
from hw.core.isa import DmaCommand, Done, Error, ErrorRecord
from hw.core.ni_receive import NiReceive
from hw.core.ni_send import NiSend
from hw.core.packets import DIRECT, DirectAnswer, RemoteAdd, line_packet, notify_packet
from hw.noc.mesh import NoCMesh
from hw.noc.routing import Mesh, Rect, node_id, route_tables, table_words, turn_words
from tests.amaranth_sim import raises_unelaborated
from verif.core.dma_model import descriptor, run_list, signal_value
from verif.core.ni_model import NiReceiveModel
from verif.core.scratchpad_model import ScratchpadModel
from verif.noc.model import pack_flit, unpack_flit
from verif.pack import pack, unpack

BASE, SIZE = 0x8000_0000, 0x4000
A, B, DEAD, OUTSIDE = (0, 0), (1, 0), (2, 0), (5, 0)
MESH = Mesh(3, 1, disabled=[DEAD])


class Pair(Elaboratable):
    """A's DMA and send side, B's receive side, on a 3×1 mesh (see the module docstring)."""

    def __init__(self):
        self.mesh = NoCMesh(width=3, height=1)
        self.dma = DmaEngine(tag_width=4, base=BASE, size=SIZE, network=True)
        self.send = NiSend()
        self.recv = NiReceive(width=3, height=1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mesh, m.submodules.dma = mesh, dma = self.mesh, self.dma
        m.submodules.send, m.submodules.recv = send, recv = self.send, self.recv
        a, b = node_id(MESH, *A), node_id(MESH, *B)
        m.d.comb += [dma.here.x.eq(A[0]), dma.here.y.eq(A[1]),
                     send.here.x.eq(A[0]), send.here.y.eq(A[1])]
        connect(m, dma.net, send.net)
        connect(m, send.answer, dma.net_ans)
        connect(m, send.req, mesh.inject[a][0])
        connect(m, mesh.eject[a][1], send.resp)
        connect(m, mesh.eject[b][0], recv.req)
        connect(m, recv.answer, mesh.inject[b][1])
        m.d.comb += [mesh.eject[a][0].ready.eq(1), mesh.eject[b][1].ready.eq(1)]
        return m


class Network:
    """The DMA model's network: B's receive model and scratchpad; DEAD and OUTSIDE dead."""

    def __init__(self, memory_b):
        self.b = NiReceiveModel(memory_b)
        self.signals = []

    def multicast(self, rect, writes, signal):
        """Only B of the rectangle has a receive side (A's copies are taken and thrown away,
        the dead core's removed by its router): B takes its copies like a push's."""
        if B in rect.nodes():
            for addr, chunk in writes:
                off = addr % 64
                line = int.from_bytes(bytes(off) + chunk + bytes(64 - off - len(chunk)),
                                      "little")
                words = sum(1 << (off // 8 + i) for i in range(len(chunk) // 8))
                self.b.take(*line_packet(A, B, addr - off, words, line, rect))
            events = self.b.take(*notify_packet(A, B, 0, signal, rect))
            assert not [p for kind, p in events if kind == "answer"]
            self.signals += [s for kind, s in events if kind == "signal"]
        return Error.NONE

    def push(self, x, y, writes, signal):
        if (x, y) != B:
            return Error.REMOTE
        for addr, chunk in writes:           # element by element: the same bytes as by lines
            off = addr % 64
            line = int.from_bytes(bytes(off) + chunk + bytes(64 - off - len(chunk)), "little")
            words = sum(1 << (off // 8 + i) for i in range(len(chunk) // 8))
            self.b.take(*line_packet(A, B, addr - off, words, line))
        events = self.b.take(*notify_packet(A, B, 0, signal))
        self.signals += [s for kind, s in events if kind == "signal"]
        answer = [p for kind, p in events if kind == "answer"][0]
        return Error(answer[1] >> 21)


def memories(seed, size_b=SIZE):
    rnd = random.Random(seed)
    a = ScratchpadModel(size=SIZE, base=BASE, credits=8, rng=random.Random(seed))
    a.load(BASE, bytes(rnd.getrandbits(8) for _ in range(SIZE)))
    b = ScratchpadModel(size=size_b, base=BASE, credits=8, rng=random.Random(seed + 1))
    b.load(BASE, bytes(rnd.getrandbits(8) for _ in range(size_b)))
    return a, b


def run(descriptors, *, size_b=SIZE, seed=1, limit=3000):
    """Put ``descriptors`` (field dicts) in A's scratchpad from BASE + 0x3000 as one list, run
    it, check everything against the models; return ``(done, errors, signals, flits, dut)``."""
    head = BASE + 0x3000
    mem_a, mem_b = memories(seed, size_b)
    for i, fields in enumerate(descriptors):
        nxt = head + 64 * (i + 1) if i + 1 < len(descriptors) else 0
        mem_a.load(head + 64 * i, descriptor(**{**fields, "next": nxt}))
    exp_a, exp_b = memories(seed, size_b)
    for i, fields in enumerate(descriptors):
        nxt = head + 64 * (i + 1) if i + 1 < len(descriptors) else 0
        exp_a.load(head + 64 * i, descriptor(**{**fields, "next": nxt}))
    net = Network(exp_b)
    local = bytearray(exp_a.mem)
    _, exp_done, exp_err = run_list(local, head, base=BASE, size=SIZE, thread=1, network=net)

    dut = Pair()
    done, errors, signals, flits = [], [], [], []
    state = {}

    async def bench(ctx):
        await _start(ctx, dut, head)
        cycles = tail = 0
        while tail < 40:
            _, _, dv, dp, ev, ep, sv, sp, fv, fr, fp = await ctx.tick().sample(
                dut.dma.done.valid, dut.dma.done.payload.as_value(), dut.dma.error.valid,
                dut.dma.error.payload.as_value(), dut.recv.signal.valid,
                dut.recv.signal.payload.as_value(), dut.send.req.valid, dut.send.req.ready,
                dut.send.req.payload.as_value())
            cycles += 1
            assert cycles < limit, f"hang: {len(done)} done"
            if dv:
                done.append({k: int(v[0]) for k, v in unpack(Done, [dp]).items()})
            if ev:
                e = {k: int(v[0]) for k, v in unpack(ErrorRecord, [ep]).items()}
                errors.append({"code": Error(e["code"]), "addr": e["addr"]})
            if sv:
                signals.append(sp)
            if fv and fr:
                flits.append(unpack_flit(fp))
            tail = tail + 1 if done and done[-1]["last"] else 0
        state["dropped"] = [ctx.get(dut.mesh.dropped[n]) for n in range(3)]

    _simulate(dut, bench, mem_a, mem_b)
    assert done == exp_done
    assert errors == exp_err
    assert signals == net.signals
    assert mem_a.mem == bytearray(local)
    assert mem_b.mem == exp_b.mem
    return done, errors, signals, flits, state


def copy(dst_core, src, dst, lines, signal, **kw):
    """A contiguous copy of ``lines`` 64-B lines to core ``dst_core``."""
    return dict(src=src, dst=dst, rows=1, elems=lines, elem_bytes=2, src_elem_stride=64,
                local=0, dst_x=dst_core[0], dst_y=dst_core[1], signal=signal, **kw)



def _simulate(dut, bench, mem_a, mem_b):
    """Run ``bench`` on the pair: A's DMA on ``mem_a``'s read and write ports, B's receive side
    on ``mem_b``'s write port."""
    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_process(mem_a.port(dut.dma.rd_req, dut.dma.rd_resp, name="rr"))
    sim.add_process(mem_a.port(dut.dma.wr_req, dut.dma.wr_resp, name="rw"))
    sim.add_process(mem_b.port(dut.recv.wr_req, dut.recv.wr_resp, name="b.rw"))
    sim.add_testbench(bench)
    sim.run()


async def _start(ctx, dut, head):
    """Write the mesh's XY route tables into every router, then give thread 1's DMA the list at
    ``head``."""
    tables = route_tables(MESH, "xy")
    words, turns = table_words(MESH, tables), turn_words(MESH, tables)
    cfg = dut.mesh.cfg
    for router, codes in words.items():
        for dst, code in enumerate(codes):
            ctx.set(cfg.payload.node, node_id(MESH, *router))
            ctx.set(cfg.payload.dst, dst)
            ctx.set(cfg.payload.port, code)
            ctx.set(cfg.payload.turn, turns[router][dst])
            ctx.set(cfg.valid, 1)
            await ctx.tick()
    ctx.set(cfg.valid, 0)
    ctx.set(dut.dma.cmd.payload.as_value(), int(pack(DmaCommand, 1, desc=head, thread=1)[0]))
    ctx.set(dut.dma.cmd.valid, 1)
    await ctx.tick().until(dut.dma.cmd.ready)
    ctx.set(dut.dma.cmd.valid, 0)

def test_push_lines_and_notify_field_by_field():
    """A 4-line push to B: exactly four LINEs (POST to B, each line's address, word mask 0xFF,
    its bytes) and one NOTIFY (WRITE, tag = transfer number 0, the descriptor's signal);
    the signal is added at B, A's Done carries none."""
    sig = signal_value(sem=3, enable=1, amount=0x1234)
    done, errors, signals, flits, _ = run([copy(B, BASE + 0x100, BASE + 0x800, 4, sig)])
    mem_a, _ = memories(1)
    want = [line_packet(A, B, BASE + 0x800 + 64 * i, 0xFF,
                        int.from_bytes(mem_a.read(BASE + 0x100 + 64 * i, 64), "little"))
            for i in range(4)] + [notify_packet(A, B, 0, sig)]
    assert [(h, d) for h, d in flits] == want
    assert signals == [sig] and errors == []
    assert done == [{"signal": 0, "thread": 1, "last": 1}]


def test_mixed_list_with_gathers():
    """Remote and local descriptors in one list: a 16-B gather with rows sharing destination
    lines (partial word masks) to B, a local copy, a remote 8-B gather, a remote copy to B at
    an offset; transfer numbers count on; everything against the models."""
    sig = signal_value
    run([
        dict(src=BASE + 0x40, dst=BASE + 0x1010, rows=3, elems=3, elem_bytes=1,
             src_elem_stride=48, src_stride=256, dst_stride=80, local=0, dst_x=1, dst_y=0,
             signal=sig(sem=1, enable=1, amount=2)),
        dict(src=BASE + 0x200, dst=BASE + 0x2000, rows=1, elems=6, elem_bytes=2,
             src_elem_stride=64, local=1, signal=sig(sem=2, enable=1, amount=1)),
        dict(src=BASE + 0x408, dst=BASE + 0x1808, rows=2, elems=5, elem_bytes=0,
             src_elem_stride=24, src_stride=512, dst_stride=48, local=0, dst_x=1, dst_y=0,
             signal=sig(sem=4, enable=1, amount=9)),
        copy(B, BASE + 0x600, BASE + 0x1C00, 3, sig(sem=5, enable=0, amount=1)),
    ], seed=4)


def test_dead_core_outside_core_and_missing_address():
    """Pushes to a dead core and to a core outside the mesh come back REMOTE (the router's
    ERROR; their lines dropped and counted at A's router); a push to an address B does not
    have comes back RANGE (B's NI), its signal still added at B; the list goes on to the end,
    each Done in order, each ErrorRecord with its descriptor's address."""
    head = BASE + 0x3000
    sig = signal_value(sem=6, enable=1, amount=1)
    done, errors, signals, _, state = run([
        copy(DEAD, BASE + 0x100, BASE + 0x800, 2, sig),
        copy(OUTSIDE, BASE + 0x100, BASE + 0x800, 1, sig),
        copy(B, BASE + 0x100, BASE + 0x1F80, 3, sig),     # B has 0x2000 bytes: the last misses
        copy(B, BASE + 0x100, BASE + 0x800, 1, sig),
    ], size_b=0x2000)
    assert errors == [{"code": Error.REMOTE, "addr": head},
                      {"code": Error.REMOTE, "addr": head + 64},
                      {"code": Error.RANGE, "addr": head + 128}]
    assert [d["last"] for d in done] == [0, 0, 0, 1]
    assert signals == [sig, sig]
    assert state["dropped"][node_id(MESH, *A)] == 2 + 1 + 1 + 1    # lines and NOTIFYs


def test_dma_network_parameter_error():
    raises_unelaborated(TypeError, "network must be a bool, not 1", DmaEngine, network=1)


def test_direct_adds():
    """d1.snotify's direct adds through the real mesh, while A's DMA pushes a copy to B: each
    is one NOTIFY (WRITE to its core, tag DIRECT | thread, payload its signal), never between
    a descriptor's last LINE and its NOTIFY; B adds the signals; the answers come back on
    ``direct`` with the thread, the code and the answering core (B: NONE; the dead core and
    the one outside the mesh: REMOTE, from the router), none on the DMA's ``answer``; A's
    ``failed`` counts the two ERRORs."""
    dut = Pair()
    mem_a, mem_b = memories(7)
    head = BASE + 0x3000
    sig = signal_value(sem=3, enable=1, amount=1)
    mem_a.load(head, descriptor(**copy(B, BASE + 0x100, BASE + 0x800, 4, sig)))
    adds = [(B, 0, signal_value(sem=5, enable=1, amount=7)),
            (DEAD, 1, signal_value(sem=5, enable=1, amount=1)),
            (OUTSIDE, 2, signal_value(sem=5, enable=1, amount=1)),
            (B, 3, signal_value(sem=6, enable=1, amount=0x1F))]
    flits, signals, answers, dma_answers = [], [], [], []
    state = {}

    async def bench(ctx):
        await _start(ctx, dut, head)
        pending = list(adds)
        for _ in range(400):
            if pending:
                (x, y), thread, signal = pending[0]
                ctx.set(dut.send.notify.payload.as_value(), int(pack(
                    RemoteAdd, 1, x=x, y=y, signal=signal, thread=thread)[0]))
            ctx.set(dut.send.notify.valid, bool(pending))
            _, _, nv, nr, fv, fr, fp, dv, dp, av, sv, sp = await ctx.tick().sample(
                dut.send.notify.valid, dut.send.notify.ready, dut.send.req.valid,
                dut.send.req.ready, dut.send.req.payload.as_value(), dut.send.direct.valid,
                dut.send.direct.payload.as_value(), dut.send.answer.valid,
                dut.recv.signal.valid, dut.recv.signal.payload.as_value())
            if nv and nr:
                pending.pop(0)
            if fv and fr:
                flits.append(unpack_flit(fp))
            if dv:
                answers.append({k: int(v[0]) for k, v in unpack(DirectAnswer, [dp]).items()})
            if av:
                dma_answers.append(1)
            if sv:
                signals.append(sp)
        state["failed"] = ctx.get(dut.send.failed)

    _simulate(dut, bench, mem_a, mem_b)
    notifies = [(h, d) for h, d in flits if h["op"] == 1]
    want = [notify_packet(A, core, DIRECT | t, signal) for core, t, signal in adds]
    assert [n for n in notifies if n[0]["tag"] & DIRECT] == want
    lines = [k for k, (h, _) in enumerate(flits) if h["op"] == 2]
    assert len(lines) == 4 and flits[lines[-1] + 1] == notify_packet(A, B, 0, sig)
    assert sorted(answers, key=lambda a: a["thread"]) == [
        {"thread": 0, "code": Error.NONE, "x": 1, "y": 0},
        {"thread": 1, "code": Error.REMOTE, "x": 2, "y": 0},
        {"thread": 2, "code": Error.REMOTE, "x": 5, "y": 0},
        {"thread": 3, "code": Error.NONE, "x": 1, "y": 0}]
    assert dma_answers == [1]                                    # the copy's only
    assert sorted(signals) == sorted([sig, adds[0][2], adds[3][2]])
    assert state["failed"] == 2


def test_stray_responses_are_counted():
    """Responses that answer no NOTIFY (READ_DATA, an unknown code) are counted, not passed
    on; ACK and ERROR are, with their codes (ERROR with code 0: REMOTE)."""
    dut = NiSend()
    got = []

    async def bench(ctx):
        for op, tag, code in ((8, 1, 0), (9, 2, 0), (15, 3, 0), (15, 4, Error.ALIGN), (12, 5, 0)):
            header = {**notify_packet(B, A, tag, 0)[0], "cls": 1, "op": op}
            ctx.set(dut.resp.payload.as_value(), pack_flit(header, int(code) << 21))
            ctx.set(dut.resp.valid, 1)
            _, _, av, seq, c = await ctx.tick().sample(dut.answer.valid, dut.answer.payload.seq,
                                                       dut.answer.payload.code)
        ctx.set(dut.resp.valid, 0)
        for _ in range(2):
            _, _, av, seq, c = await ctx.tick().sample(dut.answer.valid, dut.answer.payload.seq,
                                                       dut.answer.payload.code)
        got.append((ctx.get(dut.stray), ctx.get(dut.failed)))      # failed: the ERRORs

    async def watch(ctx):
        async for _, _, av, seq, c in ctx.tick().sample(dut.answer.valid,
                                                        dut.answer.payload.seq,
                                                        dut.answer.payload.code):
            if av:
                got.append((seq, Error(c)))

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(bench)
    sim.add_process(watch)
    sim.run()
    assert got == [(2, Error.NONE), (3, Error.REMOTE), (4, Error.ALIGN), (2, 2)]


def test_multicast_push_to_a_row_then_a_push():
    """A 3-line multicast push to the whole row (A itself, B and the dead core) and then a
    2-line push to B, in one list: the multicast's LINEs and its MNOTIFY carry the rectangle
    (mcast, corner (0, 0), destination (2, 0)) and the descriptor's signal; the MNOTIFY is not
    answered and A's send side answers it itself (both Dones, in order, no error); B gets the
    lines and both signals; the dead router removes the copies that enter it (4, none
    answered). A send side that waited for an answer to the MNOTIFY hangs here."""
    row = Rect(0, 0, 2, 0)
    sig1, sig2 = signal_value(sem=2, enable=1, amount=1), signal_value(sem=5, enable=1, amount=7)
    mc = {**copy((2, 0), BASE + 0x200, BASE + 0x900, 3, sig1), "mcast": 1, "rect_x": 0,
          "rect_y": 0}
    done, errors, signals, flits, state = run([mc, copy(B, BASE + 0x400, BASE + 0xA00, 2, sig2)])
    mem_a, _ = memories(1)
    want = [line_packet(A, (2, 0), BASE + 0x900 + 64 * i, 0xFF,
                        int.from_bytes(mem_a.read(BASE + 0x200 + 64 * i, 64), "little"), row)
            for i in range(3)] + [notify_packet(A, (2, 0), 0, sig1, row)]
    assert flits[:4] == want
    assert flits[4:] == [line_packet(A, B, BASE + 0xA00 + 64 * i, 0xFF,
                                     int.from_bytes(mem_a.read(BASE + 0x400 + 64 * i, 64),
                                                    "little")) for i in range(2)] + [
        notify_packet(A, B, 1, sig2)]
    assert signals == [sig1, sig2] and errors == []
    assert done == [{"signal": 0, "thread": 1, "last": 0}, {"signal": 0, "thread": 1, "last": 1}]
    assert state["dropped"] == [0, 0, 4]
