"""The vector sequencer (``hw/core/vector.py``) in Amaranth's simulator.

The sequencer runs against the behavioural scratchpad (``verif/core/scratchpad_model.py``: three
ports driven by the bench, in-order responses 5 cycles after a request, random stalls, 8
answers outstanding per port) and, in most tests, a Python model
of the vector unit's streams (the model ``verif.vector.model.VectorUnitModel`` behind a 30-cycle
in-order pipe with random stalls); a few tests use the real ``VectorUnit``. Every written line,
every ``result``, ``done`` and ``error`` is checked against a reference that runs the commands
one after another on a Python copy of the memory with ``verif.vector.model`` (``execute``
for the stateless ops, checked equal to the unit model, which also keeps the sticky flags and
the SR generators). Lines never written must stay as they were (nothing written for a refused
command).
"""

import random

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.lib import data, wiring
from amaranth.sim import Simulator

from hw.common.memport import Status
from hw.core import isa
from hw.core.vector import OPERANDS, VectorSequencer
from hw.fp.formats import FormatCode
from hw.sram.config import SMALL
from hw.sram.scratchpad import Scratchpad
from hw.vector.isa import VecOp, VecType
from hw.vector.unit import UNIT_OPS, VectorUnit
from tests.amaranth_sim import raises_unelaborated
from verif.core.scratchpad_model import ScratchpadModel
from verif.vector import model

SIZE = 16384            # the scratchpad of these tests: 256 lines
UNIT_LATENCY = 30
_STATEFUL = {"rdflags", "clrflags", "seed"}


# --- construction ---------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"addr_bits": 7}, ValueError, r"^addr_bits must be in 8\.\.32, not 7$"),
    ({"tag_width": 0}, ValueError, r"^tag_width must be in 1\.\.16, not 0$"),
    ({"unit_tag_width": 0}, ValueError, r"^unit_tag_width must be in 1\.\.64, not 0$"),
    ({"depth": 1}, ValueError, r"^depth must be in 2\.\.64, not 1$"),
    ({"depth": "4"}, TypeError, r"^depth must be an integer, not '4'$"),
    ({"cmd_depth": 200}, ValueError, r"^cmd_depth must be in 2\.\.128, not 200$"),
    ({"base": 32}, ValueError, r"^base must be a multiple of 64, not 32$"),
    ({"base": 0x10000, "size": 0x18000}, ValueError,
     r"^base must be a multiple of 0x20000 \(the window that holds size\), not 0x10000$"),
    ({"size": 100}, ValueError, r"^size must be a multiple of 64, not 100$"),
    ({"addr_bits": 12, "size": 8192}, ValueError, r"^size must be in 64\.\.4096, not 8192$"),
])
def test_construction_errors(kwargs, error, message):
    raises_unelaborated(error, message, VectorSequencer, **kwargs)


def test_operands_are_the_models():
    """Each op reads the operands the model's table names (RDFLAGS/CLRFLAGS ignore their a)."""
    for (op, vtype), spec in model.OPS.items():
        want = () if op in ("rdflags", "clrflags") else spec.fields
        assert OPERANDS[VecOp[op.upper()]] == want, (op, vtype)


def test_members_connect_to_the_blocks():
    """The ports connect to a VectorUnit and to scratchpad-shaped ports with connect alone."""
    from hw.sram.config import PORTS, request_layout, response_layout
    seq = VectorSequencer(addr_bits=SMALL.addr_bits, tag_width=SMALL.tag_width,
                          size=SMALL.lines * 64)
    unit = VectorUnit(tag_width=8)
    m = Module()
    wiring.connect(m, seq.req, unit.i)
    wiring.connect(m, unit.o, seq.resp)
    cfg = SMALL
    for port, spec in zip(("r0", "r1", "w"), PORTS[:3], strict=True):
        assert getattr(seq, f"{port}_req").payload.shape() == request_layout(spec, cfg)
        assert getattr(seq, f"{port}_resp").payload.shape() == response_layout(spec, cfg)


# --- the bench ------------------------------------------------------------------------------
def _signed16(x):
    return x & 0xFFFF


def command(op, vtype=VecType.FP32, *, a=0, b=0, c=0, d=0, sa=64, sb=64, sc=64, sd=64, count=1,
            fmt=0, bias=0, rnd=0, imm=0, to_reg=0, rd=0, thread=0, sem=0):
    """A VectorCommand as a dict (strides in bytes, signed)."""
    return {"op": op, "config": {"vtype": int(vtype.value), "fmt": int(getattr(fmt, "value", fmt)),
                                 "bias": bias, "rnd": rnd, "imm": imm, "count": count,
                                 "signal": {"sem": sem, "enable": 1, "amount": 1}},
            "strides": {"a": _signed16(sa), "b": _signed16(sb), "c": _signed16(sc),
                        "d": _signed16(sd)},
            "a": a, "b": b, "c": c, "d": d, "to_reg": to_reg, "rd": rd, "thread": thread}


def _as_int(x):
    return int(x) & ((1 << 32) - 1)


class Reference:
    """The commands run one after another on a copy of the memory: the expected memory,
    results, dones and errors."""

    def __init__(self, lines, *, base=0, size=SIZE):
        self.mem = dict(lines)
        self.base, self.size = base, size
        self.unit = model.VectorUnitModel()
        self.results, self.dones, self.errors = [], [], []

    def _line(self, cmd, n, i):
        return cmd[n] + i * (cmd["strides"][n] - ((cmd["strides"][n] & 0x8000) << 1))

    def _error(self, cmd):
        cfg, op = cmd["config"], cmd["op"]
        count = cfg["count"]
        used = list(OPERANDS[op]) + ([] if cmd["to_reg"] else ["d"])
        if count == 0 or (cmd["to_reg"] and count != 1):
            return isa.Error.FIELD, cmd["a"]
        vtype = VecType(cfg["vtype"]) if cfg["vtype"] < 5 else None
        legal = (op, vtype) in UNIT_OPS
        if legal and op in (VecOp.WIDEN, VecOp.NARROW):
            legal = not model.execute(op.name.lower(), vtype.name.lower(),
                                      *[np.zeros(64, np.uint8)] * (1 + (op is VecOp.NARROW)),
                                      fmt=cfg["fmt"], imm=cfg["imm"])[2]
        if not legal:
            return isa.Error.ILLEGAL_OP, cmd["a"]
        for n in used:
            if cmd[n] % 64 or cmd["strides"][n] % 64:
                return isa.Error.ALIGN, cmd[n]
        for n in used:
            for i in (0, count - 1):
                rel = self._line(cmd, n, i) - self.base
                if not 0 <= rel < self.size:
                    return isa.Error.RANGE, cmd[n]
        return isa.Error.NONE, 0

    def run(self, cmd):
        code, addr = self._error(cmd)
        sig = cmd["config"]["signal"]
        self.dones.append((sig["sem"], cmd["thread"]))
        if code != isa.Error.NONE:
            self.errors.append((int(code), addr))
            if cmd["to_reg"]:       # the waiting thread is answered all the same
                self.results.append((0, cmd["thread"], cmd["rd"]))
            return
        cfg, op = cmd["config"], cmd["op"]
        vtype = VecType(cfg["vtype"])
        for i in range(cfg["count"]):
            vec = {n: self.mem.get((self._line(cmd, n, i) - self.base) // 64, 0)
                   if n in OPERANDS[op] else 0 for n in "abc"}
            req = {"op": op, "vtype": vtype, "fmt": cfg["fmt"], "bias": cfg["bias"],
                   "rnd": cfg["rnd"], "imm": cfg["imm"], **vec}
            resp = self.unit.run([req])[0]
            name, tname = op.name.lower(), vtype.name.lower()
            if name not in _STATEFUL and not (name == "narrow" and cfg["rnd"]):
                z, flags, err = model.execute(
                    name, tname, *model.vectors_from_ints([vec[n] for n in OPERANDS[op]]),
                    fmt=cfg["fmt"], bias=cfg["bias"], rnd=cfg["rnd"], imm=cfg["imm"])
                assert (z == resp["data"]).all() and flags == resp["flags"]
            value = model.ints_from_vectors(resp["data"][None])[0]
            if cmd["to_reg"]:
                self.results.append((value & ((1 << 64) - 1), cmd["thread"], cmd["rd"]))
            else:
                self.mem[(self._line(cmd, "d", i) - self.base) // 64] = value


class UnitModel:
    """The vector unit's streams: a request per cycle unless stalled, each answered in order
    ``latency`` cycles later by ``VectorUnitModel``."""

    def __init__(self, rnd, p_stall):
        self.unit, self.rnd, self.p_stall = model.VectorUnitModel(), rnd, p_stall
        self.pending, self.cycle, self._ready = [], 0, True

    def tick(self):
        self.cycle += 1
        self._ready = self.rnd.random() >= self.p_stall and len(self.pending) <= UNIT_LATENCY

    def take(self, layout, bits):
        """A request taken (``bits`` of ``layout``): its fields as codes, unknown ones too."""
        r = {name: (bits >> field.offset) & ((1 << field.width) - 1)
             for name, field in data.Layout.cast(layout)}
        resp = self.unit.run([r])[0]
        self.pending.append((self.cycle + UNIT_LATENCY, {
            "data": model.ints_from_vectors(resp["data"][None])[0], "flags": int(resp["flags"]),
            "error": int(resp["error"]), "tag": int(resp["tag"])}))

    def response(self):
        return self.pending[0][1] if self.pending and self.pending[0][0] <= self.cycle else None


class _Top(Elaboratable):
    """The sequencer with the real vector unit and/or the real scratchpad, by connect."""

    def __init__(self, dut, *, unit, sram):
        self.dut = dut
        self.unit = VectorUnit(tag_width=dut.unit_tag_width) if unit else None
        self.sram = Scratchpad(config=sram) if sram is not None else None

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.dut
        if self.unit is not None:
            m.submodules.unit = self.unit
            wiring.connect(m, self.dut.req, self.unit.i)
            wiring.connect(m, self.unit.o, self.dut.resp)
        if self.sram is not None:
            m.submodules.sram = self.sram
            for ours, theirs in (("r0", "vr0"), ("r1", "vr1"), ("w", "vw")):
                wiring.connect(m, getattr(self.dut, f"{ours}_req"),
                               getattr(self.sram, f"{theirs}_req"))
                wiring.connect(m, getattr(self.sram, f"{theirs}_resp"),
                               getattr(self.dut, f"{ours}_resp"))
        return m


async def _sram_load(ctx, sram, lines):
    """Write ``lines`` into the scratchpad through its router write port (rw), in order."""
    ctx.set(sram.rw_resp.ready, 1)
    for index, value in lines.items():
        ctx.set(sram.rw_req.payload.as_value(), _pack(sram.rw_req, {
            "addr": 64 * index, "data": value, "mask": (1 << 64) - 1, "tag": 0}))
        ctx.set(sram.rw_req.valid, 1)
        await ctx.tick().until(sram.rw_req.ready)
    ctx.set(sram.rw_req.valid, 0)
    await ctx.tick().repeat(20)


async def _sram_dump(ctx, sram, n):
    """Read lines 0 .. n - 1 back through the router read port (rr)."""
    ctx.set(sram.rr_resp.ready, 1)
    got = {}
    asked = 0
    while len(got) < n:
        ctx.set(sram.rr_req.valid, asked < n)
        ctx.set(sram.rr_req.payload.as_value(), _pack(sram.rr_req, {"addr": 64 * asked,
                                                                    "tag": asked % 256}))
        _, _, ready, valid, bits = await ctx.tick().sample(sram.rr_req.ready, sram.rr_resp.valid,
                                                           sram.rr_resp.payload.as_value())
        if asked < n and ready:
            asked += 1
        if valid:
            r = sram.rr_resp.payload.shape().from_bits(bits)
            assert r.status == Status.OK
            got[len(got)] = r.data
    return got


def _bits(layout, value):
    """``value`` (a dict of ints, enum members and dicts for nested layouts) as the bits of
    ``layout``; missing fields are 0."""
    if not isinstance(value, dict):
        return int(getattr(value, "value", value)) & ((1 << data.Layout.cast(layout).size) - 1)
    bits = 0
    for name, field in data.Layout.cast(layout):
        if name in value:
            shape = field.shape
            inner = _bits(shape, value[name]) if isinstance(value[name], dict) else \
                int(getattr(value[name], "value", value[name])) & ((1 << field.width) - 1)
            bits |= inner << field.offset
    return bits


def _pack(stream, value):
    return _bits(stream.payload.shape(), value)


def simulate(commands, lines, *, seed=0, p_stall=0.0, p_idle=0.0, real_unit=False,
             latency=5, base=0, mem_size=SIZE, limit=20000, port_stall=None, sram=None,
             **kwargs):
    """Run ``commands`` on a sequencer; returns the memory, the outputs in order and the
    cycles at which the unit took each request and the commands were taken. ``p_stall`` is
    the stall probability of every port, the unit and ``result`` (``port_stall`` overrides it
    per port). With ``sram`` (an ``SRAMConfig``) the real scratchpad replaces the model,
    loaded with ``lines`` through its ``rw`` port first and read back through ``rr``."""
    rnd = random.Random(seed)
    dut = VectorSequencer(base=base, size=SIZE, **kwargs)
    memory = ScratchpadModel(size=mem_size, base=base, latency=latency, credits=8, rng=rnd)
    memory.load_lines(lines)
    ports = {n: memory.timed_port(name=n, p_stall=(port_stall or {}).get(n, p_stall))
             for n in ("r0", "r1", "w")}
    unit = UnitModel(rnd, p_stall)
    top = _Top(dut, unit=real_unit, sram=sram) if real_unit or sram is not None else dut
    counts = {n: 0 for n in ports}
    if sram is not None:
        ports = {}
    out = {"results": [], "dones": [], "errors": [], "busy": [], "cmd": [], "stall": [],
           "result_cycles": []}
    sim = Simulator(top)
    sim.add_clock(1e-9)

    async def bench(ctx):
        if sram is not None:
            await _sram_load(ctx, top.sram, lines)
        pending = list(commands)
        for cycle in range(limit):
            if not pending and len(out["dones"]) == len(commands):
                if sram is not None:
                    out["memory"] = await _sram_dump(ctx, top.sram, sram.lines)
                return
            offer = bool(pending) and rnd.random() >= p_idle
            ctx.set(dut.cmd.valid, offer)
            if offer:
                ctx.set(dut.cmd.payload.as_value(), _pack(dut.cmd, pending[0]))
            resps = {}
            for name, port in ports.items():
                port.tick()
                ctx.set(getattr(dut, f"{name}_req").ready, port.ready())
                resps[name] = port.response()
                stream = getattr(dut, f"{name}_resp")
                ctx.set(stream.valid, resps[name] is not None)
                if resps[name] is not None:
                    ctx.set(stream.payload.as_value(), _pack(stream, resps[name]))
            if not real_unit:
                unit.tick()
                ctx.set(dut.req.ready, unit._ready)
                uresp = unit.response()
                ctx.set(dut.resp.valid, uresp is not None)
                if uresp is not None:
                    ctx.set(dut.resp.payload.as_value(), _pack(dut.resp, uresp))
            ctx.set(dut.result.ready, rnd.random() >= p_stall)
            sigs = [dut.cmd.ready, dut.req.valid, dut.req.ready, dut.req.payload.as_value(),
                    dut.resp.ready, dut.result.valid, dut.result.ready,
                    dut.result.payload.as_value(), dut.done.valid, dut.done.payload.as_value(),
                    dut.error.valid, dut.error.payload.as_value(), dut.stall.as_value()]
            for name in ports:
                req, resp = getattr(dut, f"{name}_req"), getattr(dut, f"{name}_resp")
                sigs += [req.valid, req.payload.as_value(), resp.ready]
            sigs += [getattr(dut, f"{n}_req").valid & getattr(dut, f"{n}_req").ready
                     for n in counts]
            _, _, *v = await ctx.tick().sample(*sigs)
            (cmd_ready, req_valid, req_ready, req_bits, resp_ready, res_valid, res_ready,
             res_bits, done_valid, done_bits, err_valid, err_bits, stall) = v[:13]
            for n, taken in zip(counts, v[len(v) - len(counts):], strict=True):
                counts[n] += taken
            stall_bits = [stall >> k & 1 for k in range(5)]
            assert sum(stall_bits) == 1, f"cycle {cycle}: stall causes {stall_bits}"
            out["stall"].append(stall_bits.index(1))
            if offer and cmd_ready:
                pending.pop(0)
                out["cmd"].append(cycle)
            if req_valid and req_ready:
                out["busy"].append(cycle)
                if not real_unit:
                    unit.take(dut.req.payload.shape(), req_bits)
            if not real_unit and resp_ready and unit.response() is not None:
                unit.pending.pop(0)
            if res_valid and res_ready:
                r = dut.result.payload.shape().from_bits(res_bits)
                out["results"].append((r.value, r.thread, r.rd))
                out["result_cycles"].append(cycle)
            if done_valid:
                d = dut.done.payload.shape().from_bits(done_bits)
                assert d.last == 1
                out["dones"].append((d.signal.sem, d.thread, cycle))
            if err_valid:
                e = dut.error.payload.shape().from_bits(err_bits)
                assert done_valid, "an error without its done"
                out["errors"].append((int(e.code), e.addr))
            for k, (name, port) in enumerate(ports.items()):
                rvalid, rbits, presp_ready = v[13 + 3 * k: 16 + 3 * k]
                if resps[name] is not None and presp_ready:
                    port.pop()
                if rvalid and port.ready():
                    req = getattr(dut, f"{name}_req").payload.shape().from_bits(rbits)
                    fields = {"addr": req.addr, "tag": req.tag}
                    if name == "w":
                        assert req.mask == (1 << 64) - 1
                        fields.update(data=req.data, mask=req.mask)
                    port.request(fields)
        raise AssertionError(f"hang: {len(out['dones'])} of {len(commands)} commands done")

    sim.add_testbench(bench)
    sim.run()
    out.setdefault("memory", memory.lines())
    out["port_requests"] = counts
    return out


def check(commands, lines, **kwargs):
    """Simulate and compare everything with the reference; returns the outputs."""
    ref = Reference(lines, base=kwargs.get("base", 0))
    for cmd in commands:
        ref.run(cmd)
    out = simulate(commands, lines, **kwargs)
    assert [(s, t) for s, t, _ in out["dones"]] == ref.dones
    assert out["errors"] == ref.errors
    assert out["results"] == ref.results
    for index in sorted(set(ref.mem) | set(out["memory"])):
        assert out["memory"].get(index, 0) == ref.mem.get(index, 0), f"line {index}"
    return out


def random_lines(rnd, n=256, kind="fp32"):
    lines = {}
    for i in range(n):
        if kind == "fp32":      # finite FP32 values of moderate size, some specials
            words = [rnd.getrandbits(32) & 0x3FFFFFFF | rnd.getrandbits(1) << 31
                     if rnd.random() < 0.95 else rnd.choice([0x7FC00000, 0, 0x80000000])
                     for _ in range(16)]
            lines[i] = sum(w << (32 * k) for k, w in enumerate(words))
        else:
            lines[i] = rnd.getrandbits(512)
    return lines


# --- functional tests against the unit model -------------------------------------------------
def test_binary_unary_and_fma_runs():
    """Binary (a, b), unary (a), FMA (a, b, c) and SELECT runs with strided operands: every
    line bit for bit; each line reads exactly its operands: a on R0, b on R1, c on R0 for the
    even lines and R1 for the odd ones of an (a, b, c) op."""
    rnd = random.Random(1)
    lines = random_lines(rnd)
    cmds = [
        command(VecOp.ADD, a=0, b=64 * 40, d=64 * 100, count=8, sem=1),
        command(VecOp.MUL, VecType.BF16, a=64 * 8, b=64 * 60, d=64 * 120, sa=128, sb=192,
                count=5, sem=2),
        command(VecOp.FMA, a=64 * 20, b=64 * 70, c=64 * 80, d=64 * 140, count=6, sem=3),
        command(VecOp.FNMS, VecType.BF16, a=64 * 30, b=64 * 32, c=64 * 34, d=64 * 150,
                count=3, sem=4),
        command(VecOp.NEG, a=64 * 50, d=64 * 160, count=4, sem=5),
        command(VecOp.SELECT, VecType.INT8, a=64 * 1, b=64 * 2, c=64 * 3, d=64 * 170,
                count=4, sem=6),
        command(VecOp.XOR, VecType.INT16, a=64 * 90, b=64 * 91, d=64 * 180, sa=0, count=3),
    ]
    out = check(cmds, lines, seed=1)
    r0 = r1 = 0
    for cmd in cmds:
        used, count = OPERANDS[cmd["op"]], cmd["config"]["count"]
        even = (count + 1) // 2 if used == ("a", "b", "c") else 0   # c of even lines on R0
        r0 += count + even
        r1 += count * (len(used) - 1) - even
    assert out["port_requests"] == {"r0": r0, "r1": r1,
                                    "w": sum(c["config"]["count"] for c in cmds)}


def test_negative_strides_and_stalls():
    """Negative and zero strides, with random stalls on every port, the unit and the
    commands."""
    rnd = random.Random(2)
    lines = random_lines(rnd, kind="int")
    cmds = [
        command(VecOp.SUB, VecType.INT32, a=64 * 40, b=64 * 90, d=64 * 200, sa=-64, sb=-128,
                sd=-192, count=10, sem=1),
        command(VecOp.FMS, a=64 * 10, b=64 * 11, c=64 * 60, d=64 * 230, sa=0, sc=-64, count=7,
                sem=2),
        command(VecOp.SHUFFLE, VecType.INT8, a=64 * 5, b=64 * 6, d=64 * 250, sd=64, count=5),
    ]
    check(cmds, lines, seed=2, p_stall=0.3, p_idle=0.3)


def test_reductions_and_compares_to_reg():
    """REDSUM/REDMAX and compares with to_reg: the low 64 bits on result, nothing written,
    done after the result is taken."""
    rnd = random.Random(3)
    lines = random_lines(rnd)
    cmds = [command(VecOp.REDSUM, a=64 * k, to_reg=1, rd=5 + k, thread=k % 4, sem=k)
            for k in range(3)]
    cmds += [command(VecOp.LT, a=64 * 9, b=64 * 10, to_reg=1, rd=1, d=7),
             command(VecOp.EQ, VecType.INT8, a=64 * 11, b=64 * 11, to_reg=1, rd=2),
             command(VecOp.REDMAX, a=64 * 12, to_reg=1, rd=3, sa=192, sd=3)]
    out = check(cmds, lines, seed=3, p_stall=0.5)
    assert len(out["results"]) == 6 and out["memory"] == lines
    for done, taken in zip(out["dones"], out["result_cycles"], strict=True):
        assert done[2] > taken


def test_widen_narrow_and_unit_state():
    """WIDEN/NARROW with fmt, bias, imm and both roundings (NARROW reads a and c, on R0 and
    R1 at one line per cycle), and the unit's state through the sequencer: SEED (reads a),
    RDFLAGS and CLRFLAGS (read nothing)."""
    rnd = random.Random(4)
    lines = random_lines(rnd)
    cmds = [
        command(VecOp.SEED, VecType.INT32, a=64 * 3, d=64 * 255),
        command(VecOp.NARROW, a=64 * 0, c=64 * 50, d=64 * 100, count=4, fmt=FormatCode.CFP8_143,
                bias=7, imm=2, rnd=1, sem=1),
        command(VecOp.NARROW, VecType.BF16, a=64 * 10, c=64 * 51, d=64 * 110, count=3,
                fmt=FormatCode.CFP8_152, imm=1, rnd=0, sem=2),
        command(VecOp.WIDEN, a=64 * 100, d=64 * 120, count=4, fmt=FormatCode.CFP8_143, bias=7,
                imm=2, sem=3),
        command(VecOp.ADD, a=64 * 20, b=64 * 21, d=64 * 130, count=2),
        command(VecOp.RDFLAGS, VecType.INT32, to_reg=1, rd=9),
        command(VecOp.CLRFLAGS, VecType.INT32, d=64 * 140),
        command(VecOp.RDFLAGS, VecType.INT32, d=64 * 141, a=3, b=5, c=7, sa=1),
    ]
    out = check(cmds, lines, seed=4, p_stall=0.2)
    assert out["port_requests"]["r0"] == 1 + 4 + 3 + 4 + 2
    assert out["port_requests"]["r1"] == 4 + 3 + 2


def test_back_to_back_dependent_commands():
    """A command reading what the previous one writes sees it (the hazard check), and
    commands on separate lines follow each other without a gap."""
    rnd = random.Random(5)
    lines = random_lines(rnd, kind="int")
    cmds = [command(VecOp.ADD, VecType.INT32, a=64 * 0, b=64 * 8, d=64 * 100, count=8),
            command(VecOp.ADD, VecType.INT32, a=64 * 100, b=64 * 120, d=64 * 110, count=8),
            command(VecOp.NOT, VecType.INT32, a=64 * 110, d=64 * 100, count=8, sd=64)]
    check(cmds, lines, seed=5, p_stall=0.2)


@pytest.mark.parametrize(("cmd", "code", "addr"), [
    (command(VecOp.ADD, count=0, a=64), isa.Error.FIELD, 64),
    (command(VecOp.REDSUM, count=2, to_reg=1, a=128), isa.Error.FIELD, 128),
    (command(VecOp.MAX, VecType.BF16, to_reg=1, a=64, rd=3), isa.Error.ILLEGAL_OP, 64),
    (command(VecOp.LT, to_reg=1, a=64, b=SIZE, rd=3), isa.Error.RANGE, SIZE),
    (command(VecOp.REDMAX, VecType.INT8, a=64), isa.Error.ILLEGAL_OP, 64),
    (command(VecOp.WIDEN, a=64, fmt=FormatCode.CFP8_143, imm=4), isa.Error.ILLEGAL_OP, 64),
    (command(VecOp.ADD, VecType.INT32, a=64, b=130), isa.Error.ALIGN,
     130),
    (command(VecOp.ADD, a=64, b=128, sb=96, count=2), isa.Error.ALIGN, 128),
    (command(VecOp.FMA, a=64, b=128, c=192, sc=-32, count=2), isa.Error.ALIGN, 192),
    (command(VecOp.NEG, a=64, d=200), isa.Error.ALIGN, 200),
    (command(VecOp.ADD, a=SIZE - 128, b=0, count=3), isa.Error.RANGE, SIZE - 128),
    (command(VecOp.ADD, a=64, b=128, sb=-128, count=3), isa.Error.RANGE, 128),
    (command(VecOp.FMA, a=64, b=128, c=SIZE, count=1), isa.Error.RANGE, SIZE),
    (command(VecOp.ADD, a=0, b=0, d=SIZE - 64, count=2), isa.Error.RANGE, SIZE - 64),
    (command(VecOp.ADD, a=0, b=0, d=0xFFFF_FFC0), isa.Error.RANGE, 0xFFFF_FFC0),
])
def test_errors(cmd, code, addr):
    """Each refused command writes nothing, reads nothing, sends error (code, address) with
    its done, in order between two good commands."""
    rnd = random.Random(6)
    lines = random_lines(rnd, kind="int")
    good = command(VecOp.ADD, VecType.INT8, a=64 * 10, b=64 * 20, d=64 * 30, count=2)
    out = check([good, cmd, good], lines, seed=6)
    assert out["errors"] == [(int(code), addr)]
    assert out["port_requests"] == {"r0": 4, "r1": 4, "w": 4}


def test_refused_read_is_range():
    """A line inside ``size`` that the scratchpad refuses (a smaller memory) is RANGE: the
    line and the rest of the command are not written."""
    rnd = random.Random(7)
    lines = random_lines(rnd, n=128, kind="int")
    cmd = command(VecOp.ADD, VecType.INT8, a=64 * 120, b=0, d=64 * 10, count=16)
    out = simulate([cmd], lines, seed=7, mem_size=128 * 64)
    assert out["errors"] == [(int(isa.Error.RANGE), 64 * 120)]
    ref = Reference(lines)
    ref.run({**cmd, "config": {**cmd["config"], "count": 8}})
    assert out["memory"] == ref.mem


def test_base_offset():
    """With ``base`` (0x8000_0000, as in the D1 core), the ports carry the command's addresses
    as they are (the scratchpad decodes its window); below base is RANGE."""
    rnd = random.Random(8)
    lines = random_lines(rnd, kind="int")
    base = 0x8000_0000
    cmds = [command(VecOp.AND, VecType.INT32, a=base + 64, b=base + 640, d=base + 64 * 50,
                    count=4),
            command(VecOp.AND, VecType.INT32, a=base - 64, b=base, d=base)]
    out = check(cmds, lines, seed=8, base=base)
    assert out["errors"] == [(int(isa.Error.RANGE), base - 64)]


def test_random_commands():
    """Random legal and illegal commands of every class, random stalls."""
    rnd = random.Random(9)
    lines = random_lines(rnd, kind="int")
    ops = list(VecOp)
    cmds = []
    for k in range(30):
        op = rnd.choice(ops)
        vtype = rnd.choice(list(VecType))
        count = rnd.choice([1, 1, 2, 3, 5])
        to_reg = int(count == 1 and rnd.random() < 0.3)
        sa, sb, sc = (rnd.choice([64, -64, 0, 128]) for _ in range(3))
        a, b, c = (64 * rnd.randrange(8, 120) for _ in range(3))
        d = 64 * (128 + 16 * (k % 8))
        cmds.append(command(op, vtype, a=a, b=b, c=c, d=d, sa=sa, sb=sb, sc=sc, sd=64,
                            count=count, to_reg=to_reg, rd=k % 32, thread=k % 4, sem=k % 16,
                            fmt=rnd.randrange(8), imm=rnd.randrange(4), rnd=rnd.randrange(2),
                            bias=rnd.randrange(64)))
    check(cmds, lines, seed=9, p_stall=0.25, p_idle=0.2)


# --- throughput --------------------------------------------------------------------------------
@pytest.mark.parametrize(("op", "cycles"), [
    (VecOp.ADD, lambda n: n), (VecOp.NARROW, lambda n: n), (VecOp.NEG, lambda n: n),
    (VecOp.RDFLAGS, lambda n: n), (VecOp.FMA, lambda n: 3 * n // 2 - 1)])
def test_throughput(op, cycles):
    """Two 24-line commands back to back, no stall: the unit takes the 48 requests in 48
    consecutive cycles for ops reading (a, b), (a, c), (a) or nothing, and in 71 cycles for
    an (a, b, c) op (3 reads per port per 2 lines: 72 cycles of reads, the first line's c
    one cycle after its a). The first request enters the unit 14 cycles after the command is
    taken (F1..F4, 2 in the port's command FIFO, 5 of scratchpad, 2 in the operand FIFO, the
    request register), 15 for FMA (its c is R0's second read), 7 without reads."""
    n = 24
    vtype = VecType.INT32 if op is VecOp.RDFLAGS else VecType.FP32
    kw = {"fmt": FormatCode.BF16} if op is VecOp.NARROW else {}
    cmds = [command(op, vtype, a=0, b=64 * 40, c=64 * 80, d=64 * 120, count=n, **kw),
            command(op, vtype, a=64 * 30, b=64 * 70, c=64 * 200, d=64 * 150, count=n, **kw)]
    out = check(cmds, random_lines(random.Random(10)), seed=10)
    busy = out["busy"]
    assert len(busy) == 2 * n
    assert busy[-1] - busy[0] + 1 == cycles(2 * n)
    first = busy[0] - out["cmd"][0]
    assert first == {VecOp.RDFLAGS: 7, VecOp.FMA: 15}.get(op, 14), first
    # Every cycle from the first join to the last is busy (a line joined, entering the unit
    # the cycle after) or waits for an operand.
    causes = out["stall"][busy[0] - 1:busy[-1]]
    assert set(causes) <= {0, 2}
    assert causes.count(0) == 2 * n
    print(f"{op.name}: first request {first} cycles after the command, "
          f"{2 * n} lines in {busy[-1] - busy[0] + 1} cycles, last done at {out['dones'][-1][2]}")


def test_one_line_commands_stream():
    """One-line commands back to back (to separate lines) enter the unit one per cycle."""
    n = 40
    cmds = [command(VecOp.ADD, a=64 * k, b=64 * (k + 50), d=64 * (k + 100)) for k in range(n)]
    out = check(cmds, random_lines(random.Random(11)), seed=11)
    busy = out["busy"]
    assert busy[-1] - busy[0] == n - 1, busy


# --- end to end with the real unit ----------------------------------------------------------
def test_real_unit_end_to_end():
    """The sequencer with the real VectorUnit: a binary run, an FMA run, a reduction to a
    register and a refused command, against the model."""
    rnd = random.Random(12)
    lines = random_lines(rnd)
    cmds = [command(VecOp.ADD, a=0, b=64 * 40, d=64 * 100, count=4, sem=1),
            command(VecOp.FMA, a=64 * 8, b=64 * 48, c=64 * 60, d=64 * 110, count=3, sem=2),
            command(VecOp.REDSUM, a=64 * 3, to_reg=1, rd=4, sem=3),
            command(VecOp.REDMAX, VecType.INT8, a=64, sem=4)]
    out = check(cmds, lines, seed=12, real_unit=True, p_stall=0.2)
    assert out["errors"] == [(int(isa.Error.ILLEGAL_OP), 64)]



def test_refused_write_is_range():
    """A destination line the scratchpad refuses (inside ``size``, beyond a smaller memory) is
    RANGE, reported with the command's a address; the lines it could write are written."""
    rnd = random.Random(13)
    lines = random_lines(rnd, n=128, kind="int")
    cmd = command(VecOp.OR, VecType.INT8, a=64 * 10, b=64 * 20, d=64 * 124, count=8)
    out = simulate([cmd], lines, seed=13, mem_size=128 * 64)
    assert out["errors"] == [(int(isa.Error.RANGE), 64 * 10)]
    ref = Reference(lines)
    ref.run({**cmd, "config": {**cmd["config"], "count": 4}})
    assert out["memory"] == ref.mem


@pytest.mark.parametrize(("port_stall", "cause"), [({"r0": 0.8, "r1": 0.8}, 1), ({"w": 0.9}, 3)])
def test_stall_causes(port_stall, cause):
    """Exactly one cause per cycle (checked in every simulation); stalled read ports show as
    ``port``, a stalled W port as ``backpressure``; ``busy`` counts the lines; the cycles
    before the first command are ``idle``."""
    rnd = random.Random(14)
    cmds = [command(VecOp.ADD, a=0, b=64 * 40, d=64 * 100, count=32)]
    out = simulate(cmds, random_lines(rnd), seed=14, port_stall=port_stall)
    causes = out["stall"]
    assert causes.count(0) == 32
    assert causes.count(cause) > 10
    assert causes[0] == 4 and causes[-1] == 4


def _lines_of(cmd, n):
    count = cmd["config"]["count"]
    stride = cmd["strides"][n] - ((cmd["strides"][n] & 0x8000) << 1)
    return {(cmd[n] + i * stride) // 64 for i in range(count)}


@pytest.mark.parametrize("seed", [15, 16])
def test_dependent_chains(seed):
    """Commands that read what the commands just before wrote, in a small region (one-line
    chains back to back and short runs, random stalls): each sees the earlier results, as the
    reference that runs them one after another. (A command's own destination never meets
    its operands: within one command reads run ahead of writes.)"""
    rnd = random.Random(seed)
    lines = random_lines(rnd, kind="int")
    cmds = [command(VecOp.ADD, VecType.INT32, a=64 * k, b=64 * 40, d=64 * (k + 1))
            for k in range(8)]
    while len(cmds) < 40:
        op = rnd.choice([VecOp.ADD, VecOp.XOR, VecOp.NOT, VecOp.SELECT, VecOp.MUL])
        count = rnd.choice([1, 1, 2, 3])
        cmd = command(op, VecType.INT16, a=64 * rnd.randrange(16), b=64 * rnd.randrange(16),
                      c=64 * rnd.randrange(16), d=64 * rnd.randrange(16), count=count,
                      sa=rnd.choice([64, -64, 0]), sb=64, sc=-64, sd=rnd.choice([64, -64]))
        reads = set().union(*(_lines_of(cmd, n) for n in OPERANDS[op]))
        written = _lines_of(cmd, "d")
        if not reads & written and all(0 <= x < 16 for x in reads | written):
            cmds.append(cmd)
    check(cmds, lines, seed=seed, p_stall=0.2)


@pytest.mark.parametrize("latency", [5, 7])
def test_reads_in_flight_cover_the_latency(latency):
    """A credit's loop (read, response, operand FIFO, join, credit back) is the scratchpad's
    latency + 3 cycles: ``depth`` = latency + 3 streams 40 lines in 40 cycles, one less does
    not."""
    cmds = [command(VecOp.ADD, a=0, b=64 * 40, d=64 * 120, count=40)]
    lines = random_lines(random.Random(17))
    for depth, rate in ((latency + 3, True), (latency + 2, False)):
        busy = check(cmds, lines, depth=depth, latency=latency)["busy"]
        assert (busy[-1] - busy[0] + 1 == 40) == rate, (depth, busy[-1] - busy[0] + 1)


def test_real_scratchpad():
    """The sequencer on the real scratchpad (SMALL: 8 banks, so R0, R1 and W meet in banks):
    runs of every class, a dependent chain and errors, the memory read back at the end."""
    rnd = random.Random(18)
    lines = random_lines(rnd, kind="int")
    cmds = [command(VecOp.ADD, VecType.INT32, a=0, b=64 * 40, d=64 * 100, count=12),
            command(VecOp.FMA, a=64 * 8, b=64 * 48, c=64 * 60, d=64 * 120, sc=-64, count=7),
            command(VecOp.NARROW, a=64 * 100, c=64 * 70, d=64 * 140, count=5,
                    fmt=FormatCode.CFP8_152, imm=3),
            command(VecOp.REDSUM, VecType.INT16, a=64 * 101, to_reg=1, rd=7),
            command(VecOp.ADD, count=0),
            command(VecOp.SUB, VecType.INT8, a=64 * 140, b=64 * 100, d=64 * 150, sa=-64,
                    count=4)]
    assert SMALL.lines * 64 == SIZE
    out = check(cmds, lines, seed=18, sram=SMALL, tag_width=SMALL.tag_width,
                addr_bits=SMALL.addr_bits)
    assert out["errors"] == [(int(isa.Error.FIELD), 0)]


@pytest.mark.parametrize(("op", "n", "cycles"), [(VecOp.ADD, 80, 81), (VecOp.FMA, 60, 90)])
def test_real_scratchpad_rate(op, n, cycles):
    """On the real scratchpad, no stall: an 80-line (a, b) run enters the unit in 81 cycles
    (one lost to a bank conflict of W with a read: round robin) and a 60-line (a, b, c) run
    in 90 (90 read cycles per port); the first request 15 cycles after the command."""
    vtype = VecType.INT32 if op is VecOp.ADD else VecType.FP32
    cmds = [command(op, vtype, a=0, b=64 * n, c=64 * 2 * n, d=64 * (256 - n), count=n)]
    out = check(cmds, random_lines(random.Random(19), kind="int"), sram=SMALL,
                tag_width=SMALL.tag_width)
    busy = out["busy"]
    assert busy[-1] - busy[0] + 1 == cycles
    assert busy[0] - out["cmd"][0] == 15


def test_real_unit_and_scratchpad():
    """Both real blocks around the sequencer, joined by connect alone: an FMA run, a NARROW
    run, a reduction to a register, against the model."""
    rnd = random.Random(20)
    lines = random_lines(rnd)
    cmds = [command(VecOp.FMA, a=0, b=64 * 10, c=64 * 20, d=64 * 100, count=5, sem=1),
            command(VecOp.NARROW, a=64 * 100, c=64 * 30, d=64 * 110, count=3,
                    fmt=FormatCode.BF16, imm=1, sem=2),
            command(VecOp.REDMIN, a=64 * 102, to_reg=1, rd=9, sem=3)]
    out = check(cmds, lines, seed=20, real_unit=True, sram=SMALL, tag_width=SMALL.tag_width)
    assert len(out["results"]) == 1
