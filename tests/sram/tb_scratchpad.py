"""cocotb tests of the scratchpad's Verilog (run by tests/sram/test_scratchpad.py on Verilator and
Icarus). Every run goes through ``verif.sram.scratchpad_tb.ScratchpadTB``, which checks the cycle
each request was taken, every response (data, status, tag and cycle) and the status counters
against the cycle-level model; the tests below add known answers.

Parameters (``tb_args()``): ``preset`` (an SRAM preset name), ``n`` (random requests per port
and batch), ``batches``, ``seed``.
"""

import cocotb
import numpy as np

from hw.common.memport import Op, Status
from hw.sram.config import LINE_BYTES, PORTS, get_preset
from hw.sram.ecc import CODE_BITS
from sim.flow.runner import tb_args
from verif.sram.model import Request
from verif.sram.scratchpad_tb import WRITE_PORTS, ScratchpadTB, flip_mask, random_requests

PORT = {p.name: k for k, p in enumerate(PORTS)}


def _config():
    return get_preset(tb_args().get("preset", "TINY"))


async def _tb(dut):
    tb = ScratchpadTB(dut, _config())
    await tb.reset()
    return tb


@cocotb.test()
async def random_traffic(dut):
    """All seven ports at once, random addresses (half in a few hot lines: bank conflicts and
    same-address reads and writes in one cycle), whole, partial and empty write masks, ~3 % bad
    requests, single- and double-bit errors injected at random during the traffic, with random
    idles and backpressure: every accept cycle, response and counter equals the model's."""
    args = tb_args()
    tb = await _tb(dut)
    rng = np.random.default_rng(args.get("seed", 1))
    n = args.get("n", 200)
    settings = [(0, 0), (64, 64), (0, 160), (160, 0)]
    for b in range(args.get("batches", 4)):
        idle, stall = settings[b % len(settings)]
        reqs = random_requests(rng, tb.config, n, tag_base=b)
        injects = [(int(rng.integers(0, 2 * n // 10 + 1)), int(rng.choice(WRITE_PORTS)),
                    flip_mask(rng.choice(CODE_BITS, int(rng.integers(1, 3)), replace=False)))
                   for _ in range(3)]
        await tb.run(reqs, injects=injects, idle=idle, stall=stall, seed=b + 1)
    st = tb.status()
    dut._log.info(f"status after the traffic: {st}")
    assert st["refused"] > 0, st
    if tb.config.lines <= 64:  # small presets: the hot lines make injected errors seen
        assert st["corrected"] > 0 and st["uncorrectable"] > 0, st


@cocotb.test()
async def ecc_every_bit(dut):
    """For every codeword bit (``tb_args()["bits"]``, default all 72), on a word of its own: a
    scalar write with that bit flipped by the injection register; a scalar read then answers
    CORRECTED with the written data (OK if an earlier read of the same line had the scrubber
    write the whole line's corrected words back), and a second read OK (written back).
    With that bit and the next flipped: both reads answer UNCORRECTABLE, and the status holds
    the address of the last one. Then the counters."""
    tb = await _tb(dut)
    c = tb.config
    bits = tb_args().get("bits", list(range(CODE_BITS)))
    rng = np.random.default_rng(7)
    sc = PORT["scalar"]
    words = rng.choice(c.size // 8, size=2 * len(bits), replace=False) * 8
    corrected = 0
    for double, addrs in ((False, words[:len(bits)]), (True, words[len(bits):])):
        values = [int(v) for v in rng.integers(0, 1 << 63, len(bits))]
        flips = [flip_mask([b, (b + 1) % CODE_BITS] if double else [b]) for b in bits]
        # One injection, then one write, every 11 cycles: each write takes its own flip.
        await tb.run({sc: [Request(int(a), op=Op.WRITE.value, data=v, mask=0xFF)
                           for a, v in zip(addrs, values, strict=True)]},
                     delays={sc: [3] + [10] * (len(bits) - 1)},
                     injects=[(0 if i == 0 else 10, sc, f) for i, f in enumerate(flips)])
        # Reads 8 cycles apart: each read's scrub is done before the next one queues.
        reads = {sc: [Request(int(a)) for a in addrs]}
        spaced = {sc: [0] + [7] * (len(bits) - 1)}
        # The first read of a line corrects its word and queues the line; the scrubber writes
        # back every corrected word of the line, so later words of that line then read OK.
        first = [Status.CORRECTED if int(a) // LINE_BYTES not in
                 {int(b) // LINE_BYTES for b in addrs[:i]} else Status.OK
                 for i, a in enumerate(addrs)]
        for want in ([[Status.UNCORRECTABLE] * len(bits)] * 2 if double
                     else [first, [Status.OK] * len(bits)]):
            await tb.run(reads, delays=spaced)
            got = [Status(tb.response(sc, i)["status"]) for i in range(len(bits))]
            assert got == want, (double, list(zip(bits, got, want, strict=True)))
            if not double:
                data = [tb.response(sc, i)["data"] for i in range(len(bits))]
                assert data == values, double
        if not double:
            corrected = first.count(Status.CORRECTED)
        if double:
            st = tb.status()
            assert st["err_valid"] == 1 and st["err_addr"] == int(addrs[-1]), st
    st = tb.status()
    assert st["corrected"] == corrected and st["uncorrectable"] == 2 * len(bits), st
    await _error_corners(tb)


async def _error_corners(tb):
    """Corners the random traffic rarely reaches (functional coverage's holes,
    verif/fcov/sram.py): vr1 reading, and rw partially writing (a read-modify-write), a word
    with a single-bit error, both answered CORRECTED; the scrubber waiting for a bank that
    another port's read-modify-write has locked."""
    c, sc, full = tb.config, PORT["scalar"], (1 << 64) - 1

    async def single_error(line):
        """Line ``line`` rewritten clean, then its word 0 written with bit 3 flipped."""
        a = line * LINE_BYTES
        await tb.run({PORT["vw"]: [Request(a, op=Op.WRITE.value, data=0, mask=full)]})
        await tb.run({sc: [Request(a, op=Op.WRITE.value, data=0x1234, mask=0xFF)]},
                     delays={sc: [3]}, injects=[(0, sc, flip_mask([3]))])
        return a

    a = await single_error(9)
    await tb.run({PORT["vr1"]: [Request(a)]})
    assert Status(tb.response(PORT["vr1"])["status"]) == Status.CORRECTED
    a = await single_error(10)
    await tb.run({PORT["rw"]: [Request(a, op=Op.WRITE.value, data=0x55, mask=1)]})
    assert Status(tb.response(PORT["rw"])["status"]) == Status.CORRECTED
    # vr0's read corrects line 11's word and queues the line for the scrubber; rw's partial
    # write of another line of that bank, offered d cycles later, locks the bank while the
    # scrubber asks for it (the model says in which run).
    scrub = len(PORTS)
    for d in range(10):
        a = await single_error(11)
        first = len(tb.model.conflict_log)
        await tb.run({PORT["vr0"]: [Request(a)],
                      PORT["rw"]: [Request(a + c.banks * LINE_BYTES, op=Op.WRITE.value,
                                           data=1, mask=1)]},
                     delays={PORT["vr0"]: [0], PORT["rw"]: [d]})
        if any(cycle[scrub] == "locked" for cycle in tb.model.conflict_log[first:]):
            break
    else:
        raise AssertionError("the scrubber never waited for a locked bank")


@cocotb.test()
async def same_cycle_order(dut):
    """A read (vr0, vr1, rr, fetch, scalar) and a write (vw, rw, scalar) of the same line offered
    in the same cycle, over many cycles and ports: the bank serves them one after the other in
    round-robin order, and a read returns the new data exactly when the arbiter put it after the
    write (the model predicts which, and the test sees both orders happen)."""
    tb = await _tb(dut)
    line = 5
    addr = line * LINE_BYTES
    orders = set()
    rng = np.random.default_rng(3)
    for i in range(16):
        wport = [PORT["vw"], PORT["rw"]][i % 2]
        rport = [PORT["vr0"], PORT["vr1"], PORT["rr"], PORT["fetch"]][i % 4]
        old = tb.model.read_bytes(addr, 64)
        data = int.from_bytes(rng.bytes(64), "little")
        await tb.run({wport: [Request(addr, data=data, mask=(1 << 64) - 1)],
                      rport: [Request(addr)]})
        got = tb.response(rport)["data"]
        width = PORTS[rport].width
        new = data & ((1 << 8 * width) - 1)
        assert got in (int.from_bytes(old[:width], "little"), new), hex(got)
        orders.add("read after write" if got == new else "read before write")
    assert orders == {"read after write", "read before write"}, orders


@cocotb.test()
async def bad_requests(dut):
    """Misaligned and out-of-range requests on every port answer MISALIGNED / OUT_OF_RANGE in
    order with good ones, are counted, and change nothing (a read of the whole memory after
    them equals the model, which never applies them)."""
    tb = await _tb(dut)
    c = tb.config
    reqs = {}
    for k, spec in enumerate(PORTS):
        good = Request(2 * LINE_BYTES, op=Op.WRITE.value, data=(1 << 8 * spec.width) - 1,
                       mask=(1 << spec.width) - 1) if spec.writes else Request(0)
        bad = [Request(addr=c.size, op=Op.WRITE.value, data=1, mask=(1 << spec.width) - 1),
               Request(addr=(1 << c.addr_bits) - spec.width, op=Op.WRITE.value, data=1,
                       mask=1)]
        if spec.width > 1:
            bad.append(Request(addr=LINE_BYTES + spec.width // 2, op=Op.WRITE.value, data=1,
                               mask=(1 << spec.width) - 1))
        reqs[k] = [bad[0], good, *bad[1:]]
    await tb.run(reqs)
    for k, spec in enumerate(PORTS):
        statuses = [Status(tb.response(k, i)["status"]) for i in range(len(reqs[k]))]
        assert statuses[:3] == [Status.OUT_OF_RANGE, Status.OK, Status.OUT_OF_RANGE], statuses
        assert statuses[3:] == [Status.MISALIGNED], (spec.name, statuses)
    # Read back the lines a silent wrap would have hit (the first and last lines) and the
    # lines written, through the fetch port: the model never applied the refused requests.
    fetch = PORT["fetch"]
    lines = [0, 1, 2, 3, c.lines - 2, c.lines - 1]
    await tb.run({fetch: [Request(line * LINE_BYTES + h * 32) for line in lines for h in (0, 1)]})
    assert tb.status()["refused"] == sum(len(r) - 1 for r in reqs.values())
