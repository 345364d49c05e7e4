"""The scratchpad's testbench pieces: the harness for the flow's ``run_cocotb``, request packing,
random traffic, and :class:`ScratchpadTB`, which runs traffic through the design and checks every
accept cycle, every response (data, status, tag, cycle) and the status counters against the
cycle-level model (``verif/sram/model.py``).

Used by ``tests/sram/tb_scratchpad.py`` and by the bench (``sim/bench/sram.py``).
"""

import numpy as np
from cocotb.triggers import ClockCycles

from hw.common.memport import Op
from hw.sram.config import (
    LINE_BYTES,
    PORTS,
    InjectLayout,
    request_layout,
    response_layout,
    status_layout,
)
from hw.sram.ecc import CODE_BITS
from verif.pack import pack, unpack
from verif.params import check_index

from ..fcov.sram import sample_scratchpad
from .harness import MultiStreamHarness, multi_harness
from .model import Request, ScratchpadModel

__all__ = ["INPUTS", "OUTPUTS", "harness", "ScratchpadTB", "random_requests", "Mismatch",
           "WRITE_PORTS", "GAP"]

INPUTS = (*(f"{p.name}_req" for p in PORTS), "inject")
OUTPUTS = tuple(f"{p.name}_resp" for p in PORTS)
#: Port numbers of the ports that write (error injection targets).
WRITE_PORTS = tuple(k for k, p in enumerate(PORTS) if p.writes)
#: Idle cycles between runs, for pending scrubs to finish in the design and the model alike
#: (at most 5 lines queued or in the scrubber, about 6 cycles each).
GAP = 40


class Mismatch(AssertionError):
    """The design and the model disagree."""


def harness(design):
    """``run_cocotb``'s ``harness``: the multi-stream harness around ``design``."""
    return multi_harness(design, inputs=INPUTS, outputs=OUTPUTS)


def _pack_request(spec, config, r):
    fields = {"addr": r.addr, "tag": r.tag}
    if spec.reads and spec.writes:
        fields["op"] = r.op
    if spec.writes:
        fields["data"], fields["mask"] = r.data, r.mask
    layout = request_layout(spec, config)
    return int(pack(layout, 1, **{k: np.array([v], dtype=object) for k, v in fields.items()})[0])


def _unpack(layout, word):
    return {k: int(v[0]) for k, v in unpack(layout, np.array([word], dtype=object)).items()}


def random_requests(rng, config, n, *, hot_lines=8, p_hot=0.5, p_bad=0.03, tag_base=0):
    """``n`` random requests per port: addresses half in ``hot_lines`` lines (same-bank and
    same-address collisions between ports), half anywhere; about ``p_bad`` misaligned or out of
    range (above the scratchpad, or below a non-zero ``base``); write masks whole, partial or
    empty; the scalar port reads or writes at random. Returns ``{port number: [Request]}``."""
    out = {}
    hot = rng.choice(config.lines, size=min(hot_lines, config.lines), replace=False)
    for k, spec in enumerate(PORTS):
        reqs = []
        for i in range(n):
            if rng.random() < p_hot:
                line = int(rng.choice(hot))
            else:
                line = int(rng.integers(config.lines))
            addr = config.base + line * LINE_BYTES \
                + int(rng.integers(LINE_BYTES // spec.width)) * spec.width
            u = rng.random()
            if u < p_bad / 2:
                addr += int(rng.integers(1, spec.width)) if spec.width > 1 else 0
            elif u < p_bad:
                addr = config.base + config.size \
                    + int(rng.integers(0, 4 * LINE_BYTES)) // spec.width * spec.width
                if config.base and rng.random() < 0.5:
                    addr -= config.size + 8 * LINE_BYTES      # below the base
                addr = min(addr, (1 << config.addr_bits) - spec.width)
            r = Request(addr=addr, tag=(tag_base + i) % (1 << config.tag_width))
            if spec.writes:
                r.op = Op.WRITE.value if (not spec.reads or rng.random() < 0.5) else Op.READ.value
                r.data = int.from_bytes(rng.bytes(spec.width), "little")
                kind = rng.random()
                if kind < 0.5:
                    r.mask = (1 << spec.width) - 1
                elif kind < 0.6:
                    r.mask = sum(0xFF << 8 * w for w in range(spec.words) if rng.random() < 0.5)
                else:
                    r.mask = int.from_bytes(rng.bytes(spec.width // 8), "little")
            reqs.append(r)
        out[k] = reqs
    return out


class ScratchpadTB:
    """Runs traffic through the design in the harness and checks it against the model."""

    def __init__(self, dut, config):
        self.dut, self.config = dut, config
        self.h = MultiStreamHarness(dut, INPUTS, OUTPUTS)
        self.model = ScratchpadModel(config)
        self.runs = []

    async def reset(self):
        await self.h.reset()

    async def run(self, requests, *, delays=None, injects=(), idle=0, stall=0, seed=1,
                  timeout=5_000):
        """Run ``requests`` (``{port number: [Request]}``), each after ``delays[k][i]`` cycles
        of its own (default 0), and ``injects`` (``(delay, port, flip)``); check everything
        against the model; return ``{"cycles", "accepts", "responses"}`` (the harness's)."""
        c = self.config
        stimulus = {}
        for k, spec in enumerate(PORTS):
            reqs = requests.get(k, [])
            dl = (delays or {}).get(k, [0] * len(reqs))
            stimulus[INPUTS[k]] = [(d, _pack_request(spec, c, r))
                                   for d, r in zip(dl, reqs, strict=True)]
        stimulus["inject"] = [(d, int(pack(InjectLayout, 1, port=np.array([p], dtype=object),
                                           flip=np.array([f], dtype=object))[0]))
                              for d, p, f in injects]
        expect = {OUTPUTS[k]: len(requests.get(k, [])) for k in range(len(PORTS))}
        accepts, responses, cycles = await self.h.run(stimulus, expect, idle=idle, stall=stall,
                                                      seed=seed, timeout=timeout)
        self._check(requests, accepts, responses, injects)
        await ClockCycles(self.dut.clk, GAP)
        self.model.settle(GAP)
        self.check_status()
        result = {"cycles": cycles, "accepts": accepts, "responses": responses}
        self.runs.append(result)
        return result

    def _check(self, requests, accepts, responses, injects):
        c = self.config
        nports = len(PORTS)
        reqs = [requests.get(k, []) for k in range(nports)]
        offers = [[o for o, _ in accepts[INPUTS[k]]] for k in range(nports)]
        taken = [[t for t, _ in responses[OUTPUTS[k]]] for k in range(nports)]
        inject_cycles = [a for _, a in accepts["inject"]]
        if len(inject_cycles) != len(injects):
            raise Mismatch(f"{len(inject_cycles)} of {len(injects)} injections taken")
        model_injects = [(cyc, p, f) for cyc, (_, p, f) in
                         zip(inject_cycles, injects, strict=True)]
        for k in range(nports):
            if len(offers[k]) != len(reqs[k]):
                raise Mismatch(f"port {PORTS[k].name}: {len(offers[k])} of {len(reqs[k])} "
                               f"requests taken")
        first = len(self.model.conflict_log)
        acc_m, resp_m = self.model.run(reqs, offers, taken, model_injects)
        for k, spec in enumerate(PORTS):
            got_acc = [a for _, a in accepts[INPUTS[k]]]
            if got_acc != acc_m[k]:
                i = next(i for i, (g, e) in enumerate(zip(got_acc, acc_m[k], strict=False))
                         if g != e)
                raise Mismatch(f"port {spec.name}: request {i} taken in cycle {got_acc[i]}, "
                               f"model {acc_m[k][i]}")
            layout = response_layout(spec, c)
            got = responses[OUTPUTS[k]]
            if len(got) != len(resp_m[k]):
                raise Mismatch(f"port {spec.name}: {len(got)} responses, model "
                               f"{len(resp_m[k])}")
            for i, ((cyc, word), (mcyc, want)) in enumerate(zip(got, resp_m[k], strict=True)):
                fields = _unpack(layout, word)
                expected = {f: want[f] for f in fields}
                if fields != expected or cyc != mcyc:
                    r = reqs[k][i]
                    raise Mismatch(
                        f"port {spec.name}: response {i} (request addr {r.addr:#x} "
                        f"op {r.op} mask {r.mask:#x}) in cycle {cyc}: "
                        f"{_show(fields)}; model, cycle {mcyc}: {_show(expected)}")
        # Functional coverage (with D1CORE_FCOV only), once the design matched the model.
        sample_scratchpad(self.model.conflict_log[first:], {
            k: [_unpack(response_layout(spec, c), w)["status"] for _, w in
                responses[OUTPUTS[k]]] for k, spec in enumerate(PORTS)})

    def response(self, port, i=-1):
        """Response ``i`` of port number ``port`` in the last run (checked against the model),
        unpacked: ``{"data"?, "status", "tag"}``."""
        _, word = self.runs[-1]["responses"][OUTPUTS[port]][i]
        return _unpack(response_layout(PORTS[port], self.config), word)

    def status(self):
        """The design's status interface, unpacked."""
        return _unpack(status_layout(self.config), int(self.dut.status.value))

    def check_status(self):
        got = self.status()
        m = self.model
        want = {**m.counters, "err_addr": m.err_addr, "err_valid": int(m.err_valid)}
        if got != want:
            raise Mismatch(f"status {got}, model {want}")


def _show(fields):
    return ", ".join(f"{k}={v:#x}" for k, v in fields.items())


def flip_mask(bits):
    """A 72-bit injection mask with the codeword bits ``bits`` set."""
    mask = 0
    for b in bits:
        mask |= 1 << check_index("codeword bit", b, 0, CODE_BITS - 1)
    return mask


__all__ += ["flip_mask"]
