"""``hw.common.portshare.PortShare``: three requesters with random pauses on one port that
answers in order after random delays and with random backpressure: every requester gets exactly
its own responses, in its order, with its own tags; the stream rules hold on every side (checked
by ``tests.amaranth_sim.receive``); construction errors."""

import random

from amaranth.sim import Simulator

from hw.common import memport
from hw.common.portshare import PortShare
from tests.amaranth_sim import raises_unelaborated, receive, send

REQ = memport.request_layout(addr_bits=16, tag_width=5, width=8, reads=True, writes=False)
RESP = memport.response_layout(tag_width=5, width=8, reads=True)


def test_each_requester_gets_its_own_answers_in_order():
    dut = PortShare(request=REQ, response=RESP, n=3)
    assert dut.tag_width == 3
    rnd = random.Random(11)
    words = {k: [(rnd.randrange(1 << 16)) | (i % 8) << 16 for i in range(25)] for k in range(3)}
    got = {}

    def answer(addr):
        return (addr * 0x9E37_79B9) & ((1 << 64) - 1)

    async def requester(ctx, k):
        await send(ctx, dut.req[k], words[k], rnd=random.Random(k), p_idle=0.4)

    async def collector(ctx, k):
        got[k], _ = await receive(ctx, dut.resp[k], len(words[k]), rnd=random.Random(10 + k),
                                  p_stall=0.3, limit=2000)

    async def port(ctx):
        # An in-order port: takes a request when it has room, answers after 0..3 cycles.
        queue, r = [], random.Random(99)
        total = sum(len(w) for w in words.values())
        answered = 0
        while answered < total:
            ready = len(queue) < 4 and r.random() < 0.7
            ctx.set(dut.port_req.ready, ready)
            head = queue[0] if queue and queue[0][0] <= 0 else None
            if head:
                ctx.set(dut.port_resp.payload.data, answer(head[1]))
                ctx.set(dut.port_resp.payload.status, 0)
                ctx.set(dut.port_resp.payload.tag, head[2])
            ctx.set(dut.port_resp.valid, head is not None)
            _, _, valid, addr, tag, rvalid, rready = await ctx.tick().sample(
                dut.port_req.valid, dut.port_req.payload.addr, dut.port_req.payload.tag,
                dut.port_resp.valid, dut.port_resp.ready)
            if rvalid and rready:
                queue.pop(0)
                answered += 1
            queue = [(d - 1, a, t) for d, a, t in queue]
            if valid and ready:
                queue.append((r.randrange(4), addr, tag))

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    for k in range(3):
        async def req_k(ctx, k=k):
            await requester(ctx, k)

        async def col_k(ctx, k=k):
            await collector(ctx, k)
        sim.add_testbench(req_k)
        sim.add_testbench(col_k)
    sim.add_testbench(port)
    sim.run()
    for k in range(3):
        want = [(answer(w & 0xFFFF) | (0 << 64) | ((w >> 16) << 67)) for w in words[k]]
        assert got[k] == want, k


def test_errors():
    raises_unelaborated(ValueError, r"^n must be in 1\.\.64, not 0$", PortShare,
                        request=REQ, response=RESP, n=0)
    raises_unelaborated(ValueError, r"^a tag of 5 bits cannot name 64 requesters$", PortShare,
                        request=REQ, response=RESP, n=64)
    other = memport.response_layout(tag_width=4, width=8, reads=True)
    raises_unelaborated(ValueError, r"^request and response tags must be as wide, not 5 and 4$",
                        PortShare, request=REQ, response=other, n=2)
