"""The DMA engine (``hw/core/dma.py``) in Amaranth's simulator against the descriptor model
(``verif/core/dma_model.py``), on a behavioural scratchpad. The scratchpad is the core's
behavioural one (``verif/core/scratchpad_model.py``): reads taken at acceptance, writes applied
at acceptance (byte mask), answers in request order after ``latency`` cycles plus random delays,
random request stalls, at most ``depth`` answers outstanding (the real port's credits), the
memory-port statuses (OUT_OF_RANGE, MISALIGNED; UNCORRECTABLE for lines marked bad) and the
stream rule checked on the requests. Checked: every byte of memory after each run against the
model; Done and ErrorRecord in order; one write per destination line where the contract says so;
every error code with nothing written; exact cycle counts of a contiguous copy and of a gather;
the construction errors."""

import random

import pytest
from amaranth.hdl import Elaboratable, Fragment
from amaranth.sim import Simulator

from hw.core.dma import DmaEngine
from hw.core.isa import Counter, DmaCommand, Done, Error, ErrorRecord
from tests.amaranth_sim import raises_unelaborated
from verif.core.dma_model import descriptor, run_list, signal_value
from verif.core.scratchpad_model import ScratchpadModel
from verif.pack import pack, unpack

BASE, SIZE = 0x4000, 0x4000
END = BASE + SIZE


def scratchpad(data, *, latency=5, p_stall=0.0, p_delay=0.0, depth=8, bad=(), seed=1):
    """The behavioural scratchpad (``verif.core.scratchpad_model``) holding ``data`` from
    ``BASE``: ``depth`` answers outstanding per port (the real port's credits), lines ``bad``
    (indices from ``BASE``) answered UNCORRECTABLE."""
    memory = ScratchpadModel(size=SIZE, base=BASE, latency=latency, p_stall=p_stall,
                             p_delay=p_delay, credits=depth, bad=bad, rng=random.Random(seed))
    memory.load(BASE, data)
    return memory


def _cause(stall):
    """The cause number (``isa.Counter.UNIT_*``) of a one-hot ``stall`` value."""
    value = stall.as_value().value if hasattr(stall, "as_value") else int(stall)
    assert value and not value & (value - 1), f"stall {value:#b} is not one-hot"
    return value.bit_length() - 1

def simulate(memory, lists, *, thread=1, limit=5000, x=0, y=0, p_idle=0.0, seed=2,
             addr_bits=32, tag_width=4):
    """Run the lists (first descriptor addresses) as commands; return ``(done, errors, causes,
    cmd_cycles)``: Done and ErrorRecord as dicts with the cycle they appeared, the cause of every
    cycle, the cycle each command was taken."""
    dut = DmaEngine(addr_bits=addr_bits, tag_width=tag_width, base=BASE, size=SIZE,
                    x=x, y=y)
    rnd = random.Random(seed)
    done, errors, causes, cmd_cycles = [], [], [], []
    lasts = [0]

    async def bench(ctx):
        cycle = 0
        for addr in lists:
            while rnd.random() < p_idle:
                ctx.set(dut.cmd.valid, 0)
                await ctx.tick()
                cycle += 1
            ctx.set(dut.cmd.payload.as_value(), int(pack(DmaCommand, 1, desc=addr,
                                                         thread=thread)[0]))
            ctx.set(dut.cmd.valid, 1)
            while True:
                _, _, taken = await ctx.tick().sample(dut.cmd.ready)
                cycle += 1
                if taken:
                    cmd_cycles.append(cycle - 1)
                    break
        ctx.set(dut.cmd.valid, 0)

    async def monitor(ctx):
        cycle = 0
        while lasts[0] < len(lists):
            assert cycle < limit, f"hang: {len(done)} done after {cycle} cycles"
            _, _, dv, dp, ev, ep, cause = await ctx.tick().sample(
                dut.done.valid, dut.done.payload.as_value(), dut.error.valid,
                dut.error.payload.as_value(), dut.stall)
            causes.append(_cause(cause))
            if dv:
                d = {k: int(v[0]) for k, v in unpack(Done, [dp]).items()}
                done.append({**d, "cycle": cycle})
                lasts[0] += d["last"]
            if ev:
                assert dv, "an ErrorRecord without its Done"
                e = {k: int(v[0]) for k, v in unpack(ErrorRecord, [ep]).items()}
                errors.append({"code": Error(e["code"]), "addr": e["addr"], "cycle": cycle})
            cycle += 1
        # A few more cycles: nothing else may come out.
        for _ in range(20):
            _, _, dv, ev, cause = await ctx.tick().sample(dut.done.valid, dut.error.valid,
                                                         dut.stall)
            assert not dv and not ev, "a Done or ErrorRecord after the lists ended"
            causes.append(_cause(cause))

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_process(memory.port(dut.rd_req, dut.rd_resp, name="rr"))
    sim.add_process(memory.port(dut.wr_req, dut.wr_resp, name="rw"))
    sim.add_testbench(bench)
    sim.add_testbench(monitor)
    sim.run()
    return done, errors, causes, cmd_cycles


def put(mem, addr, blob):
    mem[addr - BASE:addr - BASE + len(blob)] = blob


def random_memory(seed):
    rnd = random.Random(seed)
    return bytearray(rnd.getrandbits(8) for _ in range(SIZE))


def check_against_model(mem, lists, **kwargs):
    """Simulate the lists on a copy of ``mem``; the model on another; every byte, Done and
    ErrorRecord must agree. Returns the simulation's record and the behavioural memory."""
    expect = bytearray(mem)
    exp_done, exp_err = [], []
    for addr in lists:
        _, d, e = run_list(expect, addr, base=BASE, size=SIZE, thread=1,
                           x=kwargs.get("x", 0), y=kwargs.get("y", 0))
        exp_done += d
        exp_err += e
    memory = scratchpad(mem, **{k: kwargs.pop(k) for k in
                                ("latency", "p_stall", "p_delay", "bad", "seed") if k in kwargs})
    done, errors, causes, cmd_cycles = simulate(memory, lists, **kwargs)
    assert [{k: d[k] for k in ("signal", "thread", "last")} for d in done] == exp_done
    assert [{k: e[k] for k in ("code", "addr")} for e in errors] == exp_err
    diff = [hex(BASE + i) for i in range(SIZE) if memory.mem[i] != expect[i]]
    assert not diff, f"bytes differ at {diff[:8]}"
    for _, _, mask in memory.writes:
        words = [(mask >> (8 * w)) & 0xFF for w in range(8)]
        assert all(b in (0, 0xFF) for b in words), "a write mask that splits a word"
    return done, errors, causes, cmd_cycles, memory


def sig(k):
    return signal_value(sem=k % 16, enable=1, amount=k + 1)


# --- Copies and gathers, byte for byte ------------------------------------------------------

def test_contiguous_copy_64():
    mem = random_memory(1)
    put(mem, 0x4000, descriptor(src=0x4400, dst=0x5000, rows=1, elems=16, elem_bytes=2,
                                src_elem_stride=64, local=1, signal=sig(1)))
    _, _, _, _, memory = check_against_model(mem, [0x4000])
    assert len(memory.writes) == 16


@pytest.mark.parametrize("code, eb", [(0, 8), (1, 16)])
def test_contiguous_copy_small_elements_is_line_per_write(code, eb):
    """8-B and 16-B elements that cover whole lines move a line per read and per write."""
    mem = random_memory(2)
    n = 8 * 64 // eb
    put(mem, 0x4000, descriptor(src=0x4400, dst=0x5000, rows=1, elems=n, elem_bytes=code,
                                src_elem_stride=eb, local=1))
    _, _, _, _, memory = check_against_model(mem, [0x4000])
    assert len(memory.writes) == 8
    assert sum(tag == 0 for _, _, tag in memory.reads) == 8
    assert all(mask == (1 << 64) - 1 for _, _, mask in memory.writes)


def test_unaligned_rows_and_offsets():
    """Rows that start mid-line at source and destination (different offsets), row lengths
    that are not whole lines, rows that share destination lines."""
    mem = random_memory(3)
    put(mem, 0x4000, descriptor(src=0x4408, dst=0x6030, rows=5, elems=7, elem_bytes=0,
                                src_elem_stride=8, src_stride=200, dst_stride=56, local=1,
                                next=0x4040, signal=sig(2)))
    put(mem, 0x4040, descriptor(src=0x4810, dst=0x7010, rows=3, elems=5, elem_bytes=1,
                                src_elem_stride=16, src_stride=48, dst_stride=96, local=1,
                                signal=sig(3)))
    check_against_model(mem, [0x4000], p_stall=0.3, p_delay=0.3)


@pytest.mark.parametrize("code, eb", [(0, 8), (1, 16)])
def test_gather_writes_each_line_once(code, eb):
    """A gather of elements 192 B apart: one read per element, one write per destination
    line."""
    mem = random_memory(4)
    elems = 32
    put(mem, 0x4000, descriptor(src=0x4400, dst=0x7000, rows=2, elems=elems, elem_bytes=code,
                                src_elem_stride=192, src_stride=eb, dst_stride=elems * eb,
                                local=1, signal=sig(4)))
    _, _, _, _, memory = check_against_model(mem, [0x4000])
    assert sum(tag == 0 for _, _, tag in memory.reads) == 2 * elems
    assert len(memory.writes) == 2 * elems * eb // 64
    assert len({a for _, a, _ in memory.writes}) == len(memory.writes)


def test_transpose_gather():
    """A transpose of an 8×8 matrix of 8-B elements (a 64-B row each): row r of the result
    gathers element r of every source row (src_stride 8, src_elem_stride 64)."""
    mem = random_memory(5)
    put(mem, 0x4000, descriptor(src=0x5000, dst=0x6000, rows=8, elems=8, elem_bytes=0,
                                src_stride=8, src_elem_stride=64, dst_stride=64, local=1))
    check_against_model(mem, [0x4000], p_stall=0.2)
    got = bytearray(mem)
    run_list(got, 0x4000, base=BASE, size=SIZE)
    for r in range(8):
        for c in range(8):
            a = 0x6000 + 64 * r + 8 * c - BASE
            b = 0x5000 + 64 * c + 8 * r - BASE
            assert got[a:a + 8] == mem[b:b + 8]


def random_descriptor(rnd):
    """Fields of a random descriptor in [0x4400, END) whose source and destination ranges do
    not overlap (a descriptor overlapping itself is outside the contract)."""
    while True:
        code = rnd.choice([0, 1, 2])
        eb = (8, 16, 64)[code]
        rows, elems = rnd.randint(1, 4), rnd.randint(1, 12)
        ses = rnd.choice([eb, eb, 2 * eb, 5 * eb, 0])
        sst = eb * rnd.randint(0, 40)
        dstr = elems * eb + eb * rnd.randint(0, 3)
        src = 0x4400 + eb * rnd.randint(0, (SIZE - 0x400) // eb - 1)
        dst = 0x4400 + eb * rnd.randint(0, (SIZE - 0x400) // eb - 1)
        src_end = src + (rows - 1) * sst + (elems - 1) * ses + eb
        dst_end = dst + (rows - 1) * dstr + elems * eb
        if src_end <= END and dst_end <= END and (src_end <= dst or dst_end <= src):
            return dict(src=src, dst=dst, rows=rows, elems=elems, elem_bytes=code,
                        src_elem_stride=ses, src_stride=sst, dst_stride=dstr, local=1)


def test_random_lists():
    """Random descriptors (sizes, strides, element sizes, offsets; later ones may read what
    earlier ones wrote) in lists, with random stalls and answer delays."""
    rnd = random.Random(7)
    for trial in range(6):
        mem = random_memory(10 + trial)
        lists, slot = [], 0x4000
        for _ in range(3):
            first = slot
            for k in range(4):
                last = k == 3 or rnd.random() < 0.3
                put(mem, slot, descriptor(**random_descriptor(rnd), signal=sig(trial + k),
                                          next=0 if last else slot + 64))
                slot += 64
                if last:
                    break
            lists.append(first)
        check_against_model(mem, lists, p_stall=0.25, p_delay=0.25, seed=trial)


def test_random_long_list():
    """One list of 16 random descriptors with long rows (up to 40 elements: groups cut by
    both lines' ends and the row's), random stalls."""
    rnd = random.Random(8)
    mem = random_memory(19)
    for k in range(16):
        while True:
            f = random_descriptor(rnd)
            f["elems"] = rnd.randint(1, 40)
            f["dst_stride"] = max(f["dst_stride"], f["elems"] * (8, 16, 64)[f["elem_bytes"]])
            eb = (8, 16, 64)[f["elem_bytes"]]
            src_end = f["src"] + (f["rows"] - 1) * f["src_stride"] \
                + (f["elems"] - 1) * f["src_elem_stride"] + eb
            dst_end = f["dst"] + (f["rows"] - 1) * f["dst_stride"] + f["elems"] * eb
            if src_end <= END and dst_end <= END and (src_end <= f["dst"] or dst_end <= f["src"]):
                break
        put(mem, 0x4000 + 64 * k, descriptor(**f, signal=sig(k),
                                             next=0 if k == 15 else 0x4040 + 64 * k))
    check_against_model(mem, [0x4000], p_stall=0.2, p_delay=0.2, limit=20000)


def test_narrow_addresses_and_tags():
    """16-bit addresses and a 1-bit tag (the smallest engine), on random lists with commands
    offered after random idle cycles."""
    rnd = random.Random(9)
    mem = random_memory(18)
    lists, slot = [], 0x4000
    for _ in range(4):
        lists.append(slot)
        for k in range(2):
            put(mem, slot, descriptor(**random_descriptor(rnd), signal=sig(k),
                                      next=0 if k == 1 else slot + 64))
            slot += 64
    check_against_model(mem, lists, p_stall=0.2, p_delay=0.2, addr_bits=16, tag_width=1,
                        p_idle=0.5)


def test_read_after_write_between_descriptors():
    """Descriptor 2 copies what descriptor 1 has just written: it waits for those writes."""
    mem = random_memory(6)
    put(mem, 0x4000, descriptor(src=0x4400, dst=0x5000, rows=1, elems=4, elem_bytes=2,
                                src_elem_stride=64, local=1, next=0x4040))
    put(mem, 0x4040, descriptor(src=0x5040, dst=0x6000, rows=1, elems=2, elem_bytes=2,
                                src_elem_stride=64, local=1))
    for seed in range(3):
        check_against_model(mem, [0x4000], latency=9, p_delay=0.4, seed=seed)


# --- Errors: each code, nothing written ------------------------------------------------------

GOOD = dict(src=0x4400, dst=0x5000, rows=2, elems=4, elem_bytes=1, src_elem_stride=16,
            src_stride=64, dst_stride=64, local=1)

BAD = [
    ("elem_bytes 3", dict(elem_bytes=3), Error.FIELD),
    ("rows 0", dict(rows=0), Error.FIELD),
    ("elems 0", dict(elems=0), Error.FIELD),
    ("reserved", dict(reserved=1 << 100), Error.FIELD),
    ("multicast on a lone core", dict(local=0, mcast=1), Error.FIELD),
    ("rectangle on a lone core", dict(rect_y=2), Error.FIELD),
    ("remote", dict(local=0, dst_x=1), Error.REMOTE),
    ("src", dict(src=0x4408), Error.ALIGN),
    ("dst", dict(dst=0x5008), Error.ALIGN),
    ("src_stride", dict(src_stride=72), Error.ALIGN),
    ("dst_stride", dict(dst_stride=40), Error.ALIGN),
    ("src_elem_stride", dict(src_elem_stride=8), Error.ALIGN),
    ("next misaligned", dict(next=0x4020), Error.ALIGN),
    ("src below", dict(src=0x3FF0), Error.RANGE),
    ("src end", dict(src=END - 64, src_stride=64 - 16 * 3), Error.RANGE),
    ("src end by rows", dict(src=END - 128, src_stride=0x10000), Error.RANGE),
    ("dst end", dict(dst=END - 64), Error.RANGE),
    ("dst end by rows", dict(dst_stride=1 << 31), Error.RANGE),
    ("next beyond", dict(next=END), Error.RANGE),
    ("next below", dict(next=BASE - 64), Error.RANGE),
]


@pytest.mark.parametrize("name, fields, code", BAD, ids=[b[0] for b in BAD])
def test_refused_descriptor(name, fields, code):
    """The second descriptor of a list is refused: the first is done, the second writes
    nothing, its Done (with its signal, last) and ErrorRecord come after the first's Done."""
    mem = random_memory(20)
    put(mem, 0x4000, descriptor(**{**GOOD, "dst": 0x6000}, signal=sig(5), next=0x4040))
    put(mem, 0x4040, descriptor(**{**GOOD, **fields, "signal": sig(6)}))
    done, errors, _, _, memory = check_against_model(mem, [0x4000])
    assert [e["code"] for e in errors] == [code]
    assert errors[0]["addr"] == 0x4040
    assert [d["last"] for d in done] == [0, 1]
    assert done[1]["signal"] == sig(6)
    assert all(0x6000 <= a < 0x6080 for _, a, _ in memory.writes)


@pytest.mark.parametrize("addr, code", [(0x4010, Error.ALIGN), (END, Error.RANGE),
                                        (BASE - 64, Error.RANGE), (END - 32, Error.ALIGN)])
def test_refused_first_address(addr, code):
    mem = random_memory(21)
    done, errors, _, _, memory = check_against_model(mem, [addr])
    assert errors == [{"code": code, "addr": addr, "cycle": errors[0]["cycle"]}]
    assert done[0]["signal"] == 0 and done[0]["last"] == 1
    assert not memory.writes and not memory.reads


def test_descriptor_read_uncorrectable_is_field():
    """A descriptor whose line reads UNCORRECTABLE is refused (FIELD): its fields are not
    trusted. Its signal, as read, is still delivered."""
    mem = random_memory(22)
    put(mem, 0x4000, descriptor(**GOOD, signal=sig(7)))
    memory = scratchpad(mem, bad={(0x4000 - BASE) // 64})
    done, errors, _, _ = simulate(memory, [0x4000])
    assert [e["code"] for e in errors] == [Error.FIELD]
    assert done[0]["signal"] == sig(7)
    assert not memory.writes


def test_uncorrectable_data_is_copied():
    """A source line read UNCORRECTABLE is copied as read, with no error (the scratchpad
    counts it)."""
    mem = random_memory(25)
    put(mem, 0x4000, descriptor(**GOOD, signal=sig(9)))
    done, errors, _, _, _ = check_against_model(mem, [0x4000], bad={(0x4400 - BASE) // 64})
    assert not errors and done[0]["signal"] == sig(9)


def test_errors_then_next_list_runs():
    """A refused list ends; the next command's list runs normally."""
    mem = random_memory(23)
    put(mem, 0x4000, descriptor(**{**GOOD, "rows": 0}))
    put(mem, 0x4040, descriptor(**GOOD, signal=sig(8)))
    check_against_model(mem, [0x4000, 0x4010, 0x4040], p_stall=0.2)


def test_remote_with_own_coordinates_is_local():
    mem = random_memory(24)
    put(mem, 0x4000, descriptor(**{**GOOD, "local": 0, "dst_x": 3, "dst_y": 2}))
    done, errors, _, _, _ = check_against_model(mem, [0x4000], x=3, y=2)
    assert not errors


# --- Throughput: exact cycle counts -----------------------------------------------------------
# With answers after exactly L cycles and no stalls (docs/core.md, "Timing"): the descriptor read
# is taken 3 cycles after the command, its answer L later; checking takes 7 + max(b, 1) cycles
# (b = bits of max(rows - 1, elems - 1), the multiplier's steps); the first data read is taken
# then; a write L + 1 cycles after the read that completes its line; Done L + 1 after the last.

LATENCY = 5


def _timed(desc_fields, n_writes):
    mem = random_memory(30)
    put(mem, 0x4000, descriptor(**desc_fields, local=1))
    done, _, causes, cmd_cycles, memory = check_against_model(mem, [0x4000], latency=LATENCY)
    assert len(memory.writes) == n_writes
    reads = [c for c, _, tag in memory.reads if tag == 0]
    return cmd_cycles[0], reads, [c for c, _, _ in memory.writes], done[0]["cycle"], causes


def test_contiguous_copy_rate():
    """64 lines of a contiguous copy: a read and a write per cycle."""
    lines = 64
    cmd, reads, writes, done, causes = _timed(
        dict(src=0x4400, dst=0x6000, rows=1, elems=lines, elem_bytes=2, src_elem_stride=64),
        lines)
    b = (lines - 1).bit_length()
    assert reads[0] - cmd == 3 + LATENCY + 7 + max(b, 1)
    assert reads == list(range(reads[0], reads[0] + lines))
    assert writes == [r + LATENCY + 1 for r in reads]
    assert done == writes[-1] + LATENCY + 1
    assert causes.count(Counter.UNIT_BUSY) == lines
    # The cycle causes: the read side until the first write, a write per cycle, then only
    # waiting for the last acknowledgement; idle once Done is out.
    assert set(causes[cmd:writes[0]]) == {Counter.UNIT_OPERAND}
    assert causes[writes[0]:writes[-1] + 1] == [Counter.UNIT_BUSY] * lines
    assert causes[writes[-1] + 1:done] == [Counter.UNIT_BACKPRESSURE] * LATENCY
    assert causes[done:] == [Counter.UNIT_IDLE] * 21


def test_gather_rate():
    """A 16-B gather (elements 128 B apart), 64 elements: a read per cycle, and a write per 4
    (each destination line once, L + 1 after the read of its fourth element)."""
    elems = 64
    cmd, reads, writes, done, causes = _timed(
        dict(src=0x4400, dst=0x7000, rows=1, elems=elems, elem_bytes=1, src_elem_stride=128),
        elems * 16 // 64)
    b = (elems - 1).bit_length()
    assert reads[0] - cmd == 3 + LATENCY + 7 + max(b, 1)
    assert reads == list(range(reads[0], reads[0] + elems))
    assert writes == [r + LATENCY + 1 for r in reads[3::4]]
    assert done == writes[-1] + LATENCY + 1
    assert causes.count(Counter.UNIT_BUSY) == elems // 4


def test_list_prefetch_keeps_the_rate():
    """Two 32-line copies in a list: the second descriptor is read and checked while the first
    moves (its read goes first, in the cycle after the first is handed over), so the 64
    data reads and writes run back to back."""
    mem = random_memory(31)
    put(mem, 0x4000, descriptor(src=0x4400, dst=0x6000, rows=1, elems=32, elem_bytes=2,
                                src_elem_stride=64, local=1, next=0x4040, signal=sig(1)))
    put(mem, 0x4040, descriptor(src=0x4C00, dst=0x7000, rows=1, elems=32, elem_bytes=2,
                                src_elem_stride=64, local=1, signal=sig(2)))
    done, _, _, _, memory = check_against_model(mem, [0x4000], latency=LATENCY)
    data_reads = [c for c, _, tag in memory.reads if tag == 0]
    assert data_reads == list(range(data_reads[0], data_reads[0] + 64))
    writes = [c for c, _, _ in memory.writes]
    assert writes == [r + LATENCY + 1 for r in data_reads]
    assert [d["last"] for d in done] == [0, 1]


def test_list_of_tiny_descriptors():
    """One-line descriptors: the parser sets the pace, a Done every L + 8 cycles (the next
    descriptor's read after the handover, its answer, 7 + 1 cycles of checking)."""
    mem = random_memory(32)
    for k in range(8):
        put(mem, 0x4000 + 64 * k, descriptor(src=0x4800 + 64 * k, dst=0x6000 + 64 * k, rows=1,
                                             elems=1, elem_bytes=2, src_elem_stride=64, local=1,
                                             next=0 if k == 7 else 0x4040 + 64 * k))
    done, _, _, _, _ = check_against_model(mem, [0x4000], latency=LATENCY)
    cycles = [d["cycle"] for d in done]
    assert [cycles[i + 1] - cycles[i] for i in range(6)] == [LATENCY + 8] * 6


# --- Construction ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, message", [
    (dict(addr_bits=7), ValueError, r"addr_bits must be in 8\.\.32, not 7"),
    (dict(tag_width=0), ValueError, r"tag_width must be in 1\.\.16, not 0"),
    (dict(tag_width="4"), TypeError, r"tag_width must be an integer, not '4'"),
    (dict(base=32, size=64), ValueError, r"base must be a multiple of 64, not 32"),
    (dict(base=0, size=100), ValueError, r"size must be a multiple of 64, not 100"),
    (dict(base=0, size=0), ValueError, r"size must be in 64\.\.4294967296, not 0"),
    (dict(addr_bits=16, base=0, size=1 << 17), ValueError, r"size must be in 64\.\.65536"),
    (dict(x=16), ValueError, r"x must be in 0\.\.15, not 16"),
    (dict(y=-1), ValueError, r"y must be in 0\.\.15, not -1"),
])
def test_construction_errors(kwargs, error, message):
    raises_unelaborated(error, message, DmaEngine, **kwargs)


def test_ports_meet_the_scratchpad():
    """The engine's port members have the layouts of the scratchpad's rr and rw ports (at the
    engine's tag width), so they connect with wiring.connect."""
    from hw.sram.config import PORTS, SRAMConfig, request_layout, response_layout
    config = SRAMConfig("T", lines=256, banks=8, tag_width=4)
    dut = DmaEngine(tag_width=4, base=0, size=config.size)
    ports = {p.name: p for p in PORTS}
    sig = dut.signature.members
    assert sig["rd_req"].signature.members["payload"].shape == request_layout(ports["rr"], config)
    assert sig["rd_resp"].signature.members["payload"].shape == \
        response_layout(ports["rr"], config)
    assert sig["wr_req"].signature.members["payload"].shape == request_layout(ports["rw"], config)
    assert sig["wr_resp"].signature.members["payload"].shape == \
        response_layout(ports["rw"], config)
    Fragment.get(dut, None)     # used: no warning about an unelaborated component


# --- On the real scratchpad ------------------------------------------------------------------

class _OnScratchpad(Elaboratable):
    """The engine joined to a scratchpad's rr and rw ports with wiring.connect alone."""

    def __init__(self, config):
        from hw.sram.scratchpad import Scratchpad
        self.sp = Scratchpad(config=config)
        self.dma = DmaEngine(tag_width=config.tag_width, base=0, size=config.size)

    def elaborate(self, platform):
        from amaranth.hdl import Module
        from amaranth.lib import wiring
        m = Module()
        m.submodules.sp, m.submodules.dma = self.sp, self.dma
        wiring.connect(m, self.dma.rd_req, self.sp.rr_req)
        wiring.connect(m, self.dma.rd_resp, self.sp.rr_resp)
        wiring.connect(m, self.dma.wr_req, self.sp.rw_req)
        wiring.connect(m, self.dma.wr_resp, self.sp.rw_resp)
        return m


async def _load(ctx, sp, mem):
    """Write ``mem`` into the scratchpad through its vw port, whole lines."""
    ctx.set(sp.vw_resp.ready, 1)
    for line in range(len(mem) // 64):
        ctx.set(sp.vw_req.payload.addr, 64 * line)
        ctx.set(sp.vw_req.payload.data, int.from_bytes(mem[64 * line:64 * line + 64], "little"))
        ctx.set(sp.vw_req.payload.mask, (1 << 64) - 1)
        ctx.set(sp.vw_req.valid, 1)
        await ctx.tick().until(sp.vw_req.ready)
    ctx.set(sp.vw_req.valid, 0)
    for _ in range(20):
        await ctx.tick()


def test_on_the_scratchpad():
    """A 32-line scratchpad, 4 banks (bank conflicts between the two ports): the lines are
    loaded through vw, a list of a copy and a gather runs, every line is read back through vr0
    and compared with the model."""
    from hw.sram.config import SRAMConfig

    config = SRAMConfig("T", lines=32, banks=4, tag_width=4)
    size = config.size
    mem = bytearray(random.Random(40).getrandbits(8) for _ in range(size))
    mem[0:64] = descriptor(src=0x200, dst=0x500, rows=2, elems=5, elem_bytes=1, src_stride=64,
                           src_elem_stride=16, dst_stride=80, local=1, next=0x40, signal=sig(1))
    mem[64:128] = descriptor(src=0x100, dst=0x700, rows=4, elems=8, elem_bytes=0, src_stride=8,
                             src_elem_stride=64, dst_stride=64, local=1, signal=sig(2))
    expect = bytearray(mem)
    _, exp_done, _ = run_list(expect, 0, base=0, size=size, thread=1)
    top = _OnScratchpad(config)
    sp, dma = top.sp, top.dma
    got, done = bytearray(size), []

    async def bench(ctx):
        await _load(ctx, sp, mem)
        ctx.set(dma.cmd.payload.desc, 0)
        ctx.set(dma.cmd.payload.thread, 1)
        ctx.set(dma.cmd.valid, 1)
        await ctx.tick().until(dma.cmd.ready)
        ctx.set(dma.cmd.valid, 0)
        for _ in range(1000):
            _, _, dv, dp = await ctx.tick().sample(dma.done.valid, dma.done.payload.as_value())
            if dv:
                done.append({k: int(v[0]) for k, v in unpack(Done, [dp]).items()})
                if done[-1]["last"]:
                    break
        ctx.set(sp.vr0_resp.ready, 1)
        for line in range(size // 64):
            ctx.set(sp.vr0_req.payload.addr, 64 * line)
            ctx.set(sp.vr0_req.valid, 1)
            await ctx.tick().until(sp.vr0_req.ready)
            ctx.set(sp.vr0_req.valid, 0)
            (data,) = await ctx.tick().sample(sp.vr0_resp.payload.data).until(
                sp.vr0_resp.valid)
            got[64 * line:64 * line + 64] = int(data).to_bytes(64, "little")

    sim = Simulator(top)
    sim.add_clock(1e-9)
    sim.add_testbench(bench)
    sim.run()
    assert done == exp_done
    assert got == expect


@pytest.mark.parametrize("dst_line, span", [(128, 64), (134, 65)])
def test_copy_rate_on_the_scratchpad(dst_line, span):
    """A 64-line copy on the SMALL-sized scratchpad (8 banks, answers after 5 cycles): the
    writes of lines 128.. trail the reads of lines 64.. by 6 cycles, so they meet a read in one
    bank at most once (destination line 134: one cycle lost to the bank's arbiter); the 64
    writes take 64 (65) cycles and Done comes 96 (97) cycles after the command, the figures of
    the behavioural scratchpad."""
    from hw.sram.config import SRAMConfig

    config = SRAMConfig("T", lines=256, banks=8, tag_width=4)
    top = _OnScratchpad(config)
    sp, dma = top.sp, top.dma
    mem = bytearray(64)
    mem[0:64] = descriptor(src=64 * 64, dst=64 * dst_line, rows=1, elems=64, elem_bytes=2,
                           src_elem_stride=64, local=1)
    record = {}

    async def bench(ctx):
        await _load(ctx, sp, mem)
        ctx.set(dma.cmd.payload.desc, 0)
        ctx.set(dma.cmd.valid, 1)
        await ctx.tick().until(dma.cmd.ready)
        ctx.set(dma.cmd.valid, 0)
        cycle, writes = 0, []
        while True:
            _, _, wv, wr, dv = await ctx.tick().sample(dma.wr_req.valid, dma.wr_req.ready,
                                                       dma.done.valid)
            cycle += 1
            if wv and wr:
                writes.append(cycle)
            if dv:
                break
        record.update(span=writes[-1] - writes[0] + 1, done=cycle)

    sim = Simulator(top)
    sim.add_clock(1e-9)
    sim.add_testbench(bench)
    sim.run()
    assert record == {"span": span, "done": span + 32}
