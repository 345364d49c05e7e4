"""The scratchpad in Amaranth's simulator against the cycle-level model, and its construction
errors.

A small driver here plays the harness's part cycle by cycle (offers with delays and random
idles, random response backpressure, injections) and records the cycle of every transfer; the
model replays the record (``verif/sram/model.py``) and must agree on every accept cycle and
every response. Also: elaboration errors with their exact messages (the round-robin arbiter's
in ``tests/common/test_arbiter.py``).
"""

import dataclasses
import random
import re

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.sram.config import (
    D1,
    PORTS,
    TINY,
    SRAMConfig,
    bank_of,
    get_preset,
    request_layout,
    response_layout,
)
from hw.sram.scratchpad import Scratchpad
from tests.amaranth_sim import raises_unelaborated
from verif.pack import unpack
from verif.sram.model import ScratchpadModel
from verif.sram.scratchpad_tb import _pack_request, flip_mask, random_requests


def simulate(config, requests, *, injects=(), p_idle=0.0, p_stall=0.0, seed=1, limit=3000):
    """Run ``requests`` (``{port: [Request]}``) through the component; return the record:
    ``(offers, accepts, responses, inject_cycles)``: per port the offer and accept cycles, the
    ``(cycle, payload)`` responses; the cycles of the injections (``(delay, port, flip)``)."""
    dut = Scratchpad(config=config)
    rnd = random.Random(seed)
    nports = len(PORTS)
    offers = [[] for _ in range(nports)]
    accepts = [[] for _ in range(nports)]
    responses = [[] for _ in range(nports)]
    inject_cycles = []

    async def bench(ctx):
        sent = [0] * nports
        wait = [None] * nports
        inj = list(injects)
        inj_wait = inj[0][0] if inj else 0
        for cycle in range(limit):
            for k, spec in enumerate(PORTS):
                req = getattr(dut, f"{spec.name}_req")
                if not ctx.get(req.valid) and sent[k] < len(requests.get(k, [])):
                    if wait[k] is None:
                        wait[k] = 0
                    if wait[k] > 0:
                        wait[k] -= 1
                    elif rnd.random() >= p_idle:
                        r = requests[k][sent[k]]
                        ctx.set(req.payload.as_value(), _pack_request(spec, config, r))
                        ctx.set(req.valid, 1)
                        offers[k].append(cycle)
                ctx.set(getattr(dut, f"{spec.name}_resp").ready, rnd.random() >= p_stall)
            if inj and inj_wait == 0:
                port, flip = inj[0][1], inj[0][2]
                ctx.set(dut.inject.payload.port, port)
                ctx.set(dut.inject.payload.flip, flip)
                ctx.set(dut.inject.valid, 1)
                inject_cycles.append(cycle)
                inj.pop(0)
                inj_wait = inj[0][0] if inj else 0
            else:
                ctx.set(dut.inject.valid, 0)
                inj_wait = max(0, inj_wait - 1)
            took = []
            for k, spec in enumerate(PORTS):
                req = getattr(dut, f"{spec.name}_req")
                resp = getattr(dut, f"{spec.name}_resp")
                if ctx.get(req.valid) and ctx.get(req.ready):
                    accepts[k].append(cycle)
                    took.append(k)
                if ctx.get(resp.valid) and ctx.get(resp.ready):
                    responses[k].append((cycle, ctx.get(resp.payload.as_value())))
            await ctx.tick()
            for k in took:
                sent[k] += 1
                wait[k] = None
                ctx.set(getattr(dut, f"{PORTS[k].name}_req").valid, 0)
            if all(len(responses[k]) == len(requests.get(k, [])) for k in range(nports)) \
                    and not inj:
                break

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(bench)
    sim.run()
    return offers, accepts, responses, inject_cycles


def check_against_model(config, requests, **kwargs):
    offers, accepts, responses, inject_cycles = simulate(config, requests, **kwargs)
    injects = kwargs.get("injects", ())
    model = ScratchpadModel(config)
    nports = len(PORTS)
    reqs = [requests.get(k, []) for k in range(nports)]
    taken = [[c for c, _ in responses[k]] for k in range(nports)]
    acc_m, resp_m = model.run(reqs, offers, taken,
                              [(c, p, f) for c, (_, p, f) in zip(inject_cycles, injects,
                                                                  strict=True)])
    for k, spec in enumerate(PORTS):
        assert accepts[k] == acc_m[k], spec.name
        layout = response_layout(spec, config)
        for i, ((cyc, word), (mcyc, want)) in enumerate(zip(responses[k], resp_m[k],
                                                            strict=True)):
            got = {f: int(v[0]) for f, v in unpack(layout, np.array([word], dtype=object)).items()}
            assert (cyc, got) == (mcyc, {f: want[f] for f in got}), (spec.name, i)
    return responses, model


def test_random_traffic_matches_model():
    """Random traffic on every port with idles, backpressure and injections: the component's
    accept cycles and responses equal the model's."""
    rng = np.random.default_rng(5)
    reqs = random_requests(rng, TINY, 12)
    injects = [(3, 2, flip_mask([5])), (10, 5, flip_mask([1, 70])), (10, 4, flip_mask([64]))]
    check_against_model(TINY, reqs, injects=injects, p_idle=0.2, p_stall=0.3)


def test_random_traffic_at_a_base_matches_model():
    """The scratchpad at base 0x8000_0000 (as in the D1 core): random traffic, with requests above
    the scratchpad and below its base refused as out of range, and the uncorrectable-word address
    reported with the base, equal the model's (the model checks the window as the RTL does)."""
    config = dataclasses.replace(TINY, base=0x8000_0000)
    rng = np.random.default_rng(7)
    reqs = random_requests(rng, config, 12, p_bad=0.2)
    bad = sum(not config.contains(r.addr) for rs in reqs.values() for r in rs)
    assert bad >= 5         # the refusals are exercised
    injects = [(3, 2, flip_mask([5, 9]))]
    check_against_model(config, reqs, injects=injects, p_idle=0.2, p_stall=0.3)


def test_flip_mask():
    assert flip_mask([0, 71]) == 1 | 1 << 71
    with pytest.raises(ValueError, match=r"^codeword bit must be in 0\.\.71, not 72$"):
        flip_mask([72])
    with pytest.raises(TypeError, match=r"^codeword bit must be an integer, not 1\.0$"):
        flip_mask([1.0])


@pytest.mark.parametrize(("factory", "kwargs", "error", "message"), [
    (SRAMConfig, {"name": "X", "lines": 0, "banks": 1}, ValueError,
     r"^lines must be in 1\.\.16777216, not 0$"),
    (SRAMConfig, {"name": "X", "lines": 96, "banks": 3}, ValueError,
     r"^banks must be a power of two in 1\.\.64, not 3$"),
    (SRAMConfig, {"name": "X", "lines": 100, "banks": 8}, ValueError,
     r"^lines \(100\) must be a multiple of banks \(8\)$"),
    (SRAMConfig, {"name": "X", "lines": 64, "banks": 8, "interleave": "hash"}, ValueError,
     r"^interleave must be one of line, xor, not 'hash'$"),
    (SRAMConfig, {"name": "X", "lines": 20480, "banks": 32, "addr_bits": 16}, ValueError,
     r"^1310720 bytes do not fit addr_bits=16$"),
    (SRAMConfig, {"name": "X", "lines": 64, "banks": 8, "tag_width": 65}, ValueError,
     r"^tag_width must be in 0\.\.64, not 65$"),
    (SRAMConfig, {"name": "X", "lines": 64, "banks": 8, "base": 0x1800}, ValueError,
     r"^base must be a multiple of 0x1000, not 0x1800$"),
    (SRAMConfig, {"name": "X", "lines": 64, "banks": 8, "addr_bits": 12, "base": 0x1000},
     ValueError, r"^base must be in 0\.\.4095, not 4096$"),
    (SRAMConfig, {"name": "X", "lines": 64, "banks": 8, "base": -1}, ValueError,
     r"^base must be in 0\.\.4294967295, not -1$"),
    (SRAMConfig, {"name": "X", "lines": 64, "banks": 8, "resp_depth": 0}, ValueError,
     r"^resp_depth must be in 1\.\.64, not 0$"),
    (SRAMConfig, {"name": "", "lines": 64, "banks": 8}, TypeError,
     r"^name must be a non-empty string, not ''$"),
    (SRAMConfig, {"name": "X", "lines": 64.0, "banks": 8}, TypeError,
     r"^lines must be an integer, not 64\.0$"),
    (get_preset, {"name": "HUGE"}, ValueError,
     r"^unknown SRAM preset 'HUGE'; expected one of D1, SMALL, TINY$"),
])
def test_config_errors(factory, kwargs, error, message):
    with pytest.raises(error, match=message):
        factory(**kwargs)


def test_component_errors():
    from hw.sram.bank import Bank
    from hw.sram.config import PortSpec
    from hw.sram.port import ScratchpadPort
    from hw.sram.slice import BankSlice, LineMux

    raises_unelaborated(TypeError, r"^config must be an instance of SRAMConfig, not 1$", Scratchpad,
                        config=1)
    raises_unelaborated(ValueError, r"^port width must be 8, 32 or 64 bytes, not 16$",
                        ScratchpadPort, config=TINY, spec=PortSpec("x", 16, True, False))
    raises_unelaborated(ValueError, r"^n must be in 2\.\.16, not 1$",
                        BankSlice, n=1, rows=4, writers=(0,))
    raises_unelaborated(ValueError, r"^rows must be in 1\.\.16777216, not 0$",
                        Bank, rows=0)
    for writers in ((), (2, 1), (0, 8), (1, 1)):
        raises_unelaborated(ValueError, rf"^writers must be increasing requester numbers in "
                            rf"0\.\.7, not {re.escape(repr(writers))}$", BankSlice, n=8, rows=4,
                            writers=writers)
    raises_unelaborated(ValueError, r"^banks must be in 2\.\.1024, not 1$", LineMux,
                        banks=1)


def test_presets():
    assert D1.size == 1_310_720 == 1.25 * 2**20
    assert (D1.lines, D1.banks, D1.rows) == (20_480, 32, 640)
    assert D1.memory_bits == 20_480 * 8 * 72
    assert [p.width for p in PORTS] == [64, 64, 64, 64, 64, 8, 32]
    # D1's 200 B of loads and 136 B of stores per cycle (400 and 272 GB/s at 2 GHz).
    loads = sum(p.width for p in PORTS if p.reads and p.name != "fetch")
    stores = sum(p.width for p in PORTS if p.writes)
    assert (loads, stores) == (200, 136)
    layout = request_layout(PORTS[5], D1)
    assert set(layout.members) == {"addr", "op", "data", "mask", "tag"}


@pytest.mark.parametrize("interleave", ["line", "xor"])
def test_interleave_is_a_bijection(interleave):
    """Every bank holds exactly ``rows`` lines, each group of ``banks`` consecutive lines (line
    interleave) or every row (both) spreads over all banks."""
    config = SRAMConfig("X", lines=256, banks=8, interleave=interleave)
    pairs = {(bank_of(line, config), line >> 3) for line in range(config.lines)}
    assert len(pairs) == config.lines
    for row in range(config.rows):
        assert sorted(bank_of(row * 8 + i, config) for i in range(8)) == list(range(8))
    if interleave == "xor":  # a stride of 8 lines spreads over the banks
        assert len({bank_of(8 * i, config) for i in range(8)}) == 8


def test_random_throughput_estimate():
    """The transaction-level estimate: one bank serves exactly one of the 7 ports per cycle;
    more banks serve more, never more than every port every cycle."""
    from verif.sram.model import random_throughput

    assert random_throughput(1, cycles=500) == pytest.approx(1 / 7)
    estimates = [random_throughput(b, cycles=4000) for b in (2, 4, 8, 16, 32, 1024)]
    assert estimates == sorted(estimates)
    assert 0.9 < estimates[-1] <= 1.0


def test_model_streaming_serves_every_port_every_cycle():
    """The bench's streaming pattern on D1 (``sim.bench.sram``), in the model with every port
    always requesting and every response taken at once: every port advances a line per request,
    from starts spread over the banks, so they never meet and each is served every cycle. With
    the scalar and fetch ports walking their own width instead (``sequential``), the faster
    ports overtake them and they lose some cycles to round robin, but never starve."""
    from sim.bench.sram import streaming_requests
    from verif.sram.model import ScratchpadModel

    n = 300
    for sequential, floor in ((False, 1.0), (True, 0.8)):
        reqs = streaming_requests(D1, n, sequential=sequential)
        model = ScratchpadModel(D1)
        acc, _ = model.run([reqs[k] for k in range(len(PORTS))], [[0] * n] * len(PORTS), None)
        for k, spec in enumerate(PORTS):
            rate = n / (acc[k][-1] - acc[k][0] + 1)
            assert rate >= floor, (sequential, spec.name, rate)
