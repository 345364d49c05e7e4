"""The GEMM sequencer (``hw/core/gemm.py``) with the real matrix engine and a behavioural
scratchpad (``verif/core/scratchpad_model.py``) in the Amaranth simulator: D bit for bit against
the model (``verif/matmul/model.py``) with BF16 and CFP8, with and without C, shapes that are
not multiples of the tile, GEMMs back to back with an MCFG between, every error code (nothing
written, ``error`` and ``done`` sent), the stream rules, and the cycle count of a GEMM against
the beats it needs.
"""

import dataclasses
import gc
import warnings

import numpy as np
import pytest
from amaranth.hdl import Module, UnusedElaboratable
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hw.core.gemm import GemmSequencer
from hw.core.isa import Error, GemmDescriptor, MatrixCommand, MatrixFn
from hw.matmul.array import OperandConfig
from hw.matmul.config import D1, SMALL, MatmulConfig
from hw.matmul.engine import MatmulEngine
from tests.amaranth_sim import raises_unelaborated, send
from verif.core.engine_streams import EngineStreams
from verif.core.scratchpad_model import LINE, ScratchpadModel
from verif.matmul.engine_tb import format_bias, operands
from verif.matmul.model import matmul
from verif.matmul.tiling import pack_config
from verif.pack import field_widths, pack, unpack

#: Small engines for fast tests: 2×2 tiles of four 1×1 arrays, 4×4 tiles of one array.
TILE2 = MatmulConfig("T2", block_rows=2, block_cols=2, unit_rows=1, unit_cols=1)
TILE4 = MatmulConfig("T4", unit_rows=4, unit_cols=4)
SENTINEL = 0xA5
MEM = 1 << 16


def _pack(layout, **fields):
    """One payload word (a Python int) of ``layout`` (``verif.pack.pack`` takes ``n`` itself)."""
    widths = field_widths(layout)
    return sum(int(v) << widths[name][0] for name, v in fields.items())


def _ceil(x, n=LINE):
    return -(-x // n) * n


class Gemm:
    """One GEMM's operands, placed in memory from ``at``: the descriptor, Aᵀ, B, C, D."""

    def __init__(self, config, rng, m, n, k, *, a_fmt="bf16", b_fmt="bf16", a_bias=7,
                 b_bias=15, with_c=True, kind="normal", pad=0):
        self.config, self.m, self.n, self.k = config, m, n, k
        self.a_fmt, self.b_fmt = a_fmt, b_fmt
        self.a_bias, self.b_bias = format_bias(a_fmt, a_bias), format_bias(b_fmt, b_bias)
        self.a, self.b, self.c = operands(rng, m, n, k, a_fmt=a_fmt, a_bias=self.a_bias,
                                          b_fmt=b_fmt, b_bias=self.b_bias, kind=kind,
                                          with_c=with_c)
        self.pad = pad          # extra lines between rows (strides beyond the minimum)
        self.fields = {}

    @property
    def cfg(self):
        return pack_config(self.a_fmt, self.a_bias, self.b_fmt, self.b_bias)

    def place(self, mem, at):
        """Write the descriptor and operands from ``at``; return the next free address."""
        tr = self.config.tile_rows
        rows_d = _ceil(self.m, 2 * tr)
        at_t = np.ascontiguousarray(self.a.T)
        lda = _ceil(at_t.nbytes // self.k) + self.pad * LINE
        ldb = _ceil(self.b.nbytes // self.k) + self.pad * LINE
        ldc = ldd = _ceil(4 * self.n) + self.pad * LINE
        desc = at
        a = desc + LINE
        b = a + lda * self.k
        c = b + ldb * self.k
        d = c + ldc * self.m
        end = d + ldd * rows_d
        for i in range(self.k):
            mem.load(a + i * lda, at_t[i].tobytes())
            mem.load(b + i * ldb, self.b[i].tobytes())
        if self.c is not None:
            for i in range(self.m):
                mem.load(c + i * ldc, self.c[i].tobytes())
        mem.load(d, bytes([SENTINEL]) * (end - d))
        self.fields = dict(a=a, b=b, c=c, d=d, lda=lda, ldb=ldb, ldc=ldc, ldd=ldd, m=self.m,
                           n=self.n, k=self.k, load_c=int(self.c is not None))
        self.desc = desc
        self.write_desc(mem)
        return end

    def write_desc(self, mem, **changes):
        fields = dict(self.fields, **changes)
        mem.load(self.desc, _pack(GemmDescriptor, **fields).to_bytes(LINE, "little"))

    def region(self, mem):
        """The bytes of D's region, as a ``rows × ldd`` array."""
        f = self.fields
        rows = _ceil(self.m, 2 * self.config.tile_rows)
        return np.frombuffer(mem.read(f["d"], rows * f["ldd"]), np.uint8).reshape(rows, -1)

    def check(self, mem):
        """D bit for bit against the model; every other byte of D's region untouched."""
        got = self.region(mem)
        d = np.ascontiguousarray(got[:self.m, :4 * self.n]).view(np.uint32)
        want, _ = matmul(self.a, self.b, self.c, a_fmt=self.a_fmt, a_bias=self.a_bias,
                         b_fmt=self.b_fmt, b_bias=self.b_bias)
        bad = np.argwhere(d != want)
        assert not len(bad), (f"{len(bad)} elements differ, first {tuple(bad[0])}: "
                              f"{d[tuple(bad[0])]:#x}, expected {want[tuple(bad[0])]:#x}")
        self.untouched(mem, rows=self.m, cols=4 * self.n)

    def untouched(self, mem, rows=0, cols=0):
        got = self.region(mem).copy()
        got[:rows, :cols] = SENTINEL
        assert (got == SENTINEL).all(), "bytes outside D written"


def command(op, value, *, sem=0, amount=1, thread=0):
    return int(pack(MatrixCommand, n=1, op=op, value=value,
                    signal=sem | 1 << 4 | amount << 5, thread=thread)[0])


def run(config, program, mem, *, p_idle=0.0, seed=1, limit=200_000, model=False,
        **kwargs):
    """Run ``program`` (command words) on the sequencer and the engine (``model``: the
    engine's stream timing, ``verif/core/engine_streams.py``); return ``(dones, errors,
    cycles)``: the done and error payloads (dicts) and the cycle of the last done."""
    rng = np.random.default_rng(seed)
    kwargs = {"base": mem.base, "size": mem.size} | kwargs
    seq = GemmSequencer(config, **kwargs)
    top = Module()
    top.submodules.seq = seq
    if not model:
        top.submodules.eng = eng = MatmulEngine(config)
        wiring.connect(top, seq.beat, eng.i)
        wiring.connect(top, seq.c, eng.c)
        wiring.connect(top, eng.o, seq.d)
        wiring.connect(top, seq.cfg, eng.cfg)
    sim = Simulator(top)
    sim.add_clock(1e-6)
    if model:
        sim.add_testbench(EngineStreams(config).process(seq.beat, seq.c, seq.d),
                          background=True)
    for name in ("a", "b", "d"):
        sim.add_testbench(mem.port(getattr(seq, f"{name}_req"), getattr(seq, f"{name}_resp"),
                                   name=name), background=True)
    dones, errors, state = [], [], {"cycles": 0}

    async def drive(ctx):
        await send(ctx, seq.cmd, program, rnd=rng, p_idle=p_idle)

    async def watch(ctx):
        cycle = 0
        held = None
        while len(dones) < len(program):
            _, _, dv, dp, ev, ep, bv, bp, br, cause = await ctx.tick().sample(
                seq.done.valid, seq.done.payload.as_value(), seq.error.valid,
                seq.error.payload.as_value(), seq.beat.valid, seq.beat.payload.as_value(),
                seq.beat.ready, seq.stall.as_value())
            cycle += 1
            assert cause in (1, 2, 4, 8, 16), f"cause {cause:#b} is not one-hot"
            assert bool(cause & 1) == bool(bv and br), "busy is not 'a beat taken'"
            assert bool(cause & 8) == bool(bv and not br), "backpressure"
            state["causes"] = state.get("causes", 0) | cause
            if held is not None:
                assert bv and bp == held, "a beat changed or vanished while not taken"
            held = bp if bv and not br else None
            if bv and br:
                state.setdefault("first_beat", cycle)
                state["last_beat"] = cycle
            if ev:
                errors.append(dict(error=ep, cycle=cycle, done=len(dones)))
            if dv:
                dones.append(dp)
            assert cycle < limit, f"hang: {len(dones)} of {len(program)} done"
        state["cycles"] = cycle
        run.timeline = dict(state)
        for _ in range(3):      # the last done's cycle is the last busy one: then idle
            *_, cause = await ctx.tick().sample(seq.stall.as_value())
        assert cause == 16, f"not idle after the last done: {cause:#b}"

    sim.add_testbench(drive)
    sim.add_testbench(watch)
    sim.run()
    from hw.core.isa import Done, ErrorRecord
    done = [{k: int(v[0]) for k, v in unpack(Done, [w]).items()} for w in dones]
    err = [{k: int(v[0]) for k, v in unpack(ErrorRecord, [e["error"]]).items()} | e
           for e in errors]
    return done, err, state["cycles"]


def _program(gemms, mem, *, at=0, cfg_first=True):
    """Place ``gemms`` and return the commands: an MCFG before each GEMM whose formats differ
    from the one before (and before the first if ``cfg_first``)."""
    prog, last = [], None
    for n, g in enumerate(gemms):
        at = g.place(mem, at)
        if g.cfg != last and (cfg_first or last is not None):
            prog.append(command(MatrixFn.MCFG, g.cfg, sem=15))
        last = g.cfg
        prog.append(command(MatrixFn.MGEMM, g.desc, sem=n % 15, thread=n % 4))
    return prog


@pytest.mark.parametrize("config", [TILE2, TILE4], ids=lambda c: c.name)
def test_shapes_bf16_cfp8(config):
    """GEMMs of shapes around the tile and group sizes, BF16 and CFP8 operands, with and
    without C, strides beyond the minimum, under port stalls and idle commands: D bit for bit,
    nothing else written, one done per command in order (signal and thread kept)."""
    rng = np.random.default_rng(11)
    t = config.tile_rows
    gemms = [
        Gemm(config, rng, 2 * t + 1, 3 * t - 1, 5),
        Gemm(config, rng, t, 1, 3, with_c=False, pad=1),
        Gemm(config, rng, 3 * t, 2 * t + 2, 4, a_fmt="cfp8_143", b_fmt="cfp8_152"),
        Gemm(config, rng, 1, 4 * t + 1, 2, a_fmt="cfp8_152", b_fmt="bf16", with_c=False),
        Gemm(config, rng, 5 * t - 1, t + 1, 1, a_fmt="bf16", b_fmt="cfp8_143", kind="raw"),
    ]
    mem = ScratchpadModel(size=MEM, p_stall=0.2, rng=rng)
    prog = _program(gemms, mem)
    dones, errors, _ = run(config, prog, mem, p_idle=0.2)
    assert errors == []
    assert run.timeline["causes"] & 0b111 == 0b111      # busy, port and operand cycles seen
    for g in gemms:
        g.check(mem)
    words = [unpack(MatrixCommand, [w]) for w in prog]
    assert [(d["signal"], d["thread"], d["last"]) for d in dones] == [
        (int(w["signal"][0]), int(w["thread"][0]), 1) for w in words]


def test_engine_model_matches():
    """The engine's stream model (used for the D1 cycle counts) takes exactly the cycles the
    real engine takes on the same GEMMs."""
    cycles = []
    for model in (False, True):
        rng = np.random.default_rng(5)
        gemms = [Gemm(TILE2, rng, 5, 7, 6), Gemm(TILE2, rng, 4, 4, 2, with_c=False)]
        mem = ScratchpadModel(size=MEM, p_stall=0.0, rng=rng)
        prog = _program(gemms, mem)
        cycles.append(run(TILE2, prog, mem, model=model)[2])
    assert cycles[0] == cycles[1]


#: Descriptor changes that refuse a GEMM, and the code (``g`` is the GEMM as placed).
REFUSALS = [
    ("m zero", lambda g: {"m": 0}, Error.FIELD),
    ("n zero", lambda g: {"n": 0}, Error.FIELD),
    ("k zero", lambda g: {"k": 0}, Error.FIELD),
    ("reserved bit", lambda g: {"reserved": 1 << 100}, Error.FIELD),
    ("field before align", lambda g: {"k": 0, "a": g.fields["a"] + 2}, Error.FIELD),
    ("a", lambda g: {"a": g.fields["a"] + 32}, Error.ALIGN),
    ("b", lambda g: {"b": g.fields["b"] + 2}, Error.ALIGN),
    ("c unused", lambda g: {"c": 1, "load_c": 0}, Error.ALIGN),
    ("d", lambda g: {"d": g.fields["d"] + 16}, Error.ALIGN),
    ("lda", lambda g: {"lda": g.fields["lda"] + 8}, Error.ALIGN),
    ("ldb", lambda g: {"ldb": 96}, Error.ALIGN),
    ("ldc", lambda g: {"ldc": 65}, Error.ALIGN),
    ("ldd", lambda g: {"ldd": 1 << 31 | 4}, Error.ALIGN),
    ("align before range", lambda g: {"ldd": 4, "d": MEM + 64}, Error.ALIGN),
    ("a last row", lambda g: {"a": MEM - g.fields["lda"] * (g.k - 1)}, Error.RANGE),
    ("b below base", lambda g: {"b": BASE - 64}, Error.RANGE),
    ("c past end", lambda g: {"c": BASE + MEM - 64 * (g.m - 1)}, Error.RANGE),
    ("d stride", lambda g: {"ldd": MEM}, Error.RANGE),
    ("lda wraps 32 bits", lambda g: {"lda": 1 << 31}, Error.RANGE),
    ("ldc huge", lambda g: {"ldc": (1 << 32) - 64}, Error.RANGE),
    ("row bytes", lambda g: {"a": BASE + MEM - 64, "lda": 0, "m": 33 * g.config.tile_rows},
     Error.RANGE),
]
BASE = 1 << 16


def test_refusals():
    """Every refusal: the error record (code, descriptor address) comes with the command's
    done, in order with the others; a refused GEMM writes nothing; the GEMMs around it run.
    Also a C out of range with load_c = 0 is fine (C is not read), and a stride of 0 works."""
    config = TILE2
    rng = np.random.default_rng(7)
    cases = REFUSALS + [("c unused, out of range", lambda g: {"c": 0, "load_c": 0}, Error.NONE),
                        ("stride 0", lambda g: {"ldb": 0}, Error.NONE)]
    gemms = [Gemm(config, rng, 3, 5, 2) for _ in cases] + [Gemm(config, rng, 4, 4, 3)]
    mem = ScratchpadModel(base=BASE, size=MEM, rng=rng, p_stall=0.1)
    prog = _program(gemms, mem, at=BASE)
    for g, (name, change, _code) in zip(gemms, cases, strict=False):
        g.write_desc(mem, **change(g))
        if name == "c unused, out of range":
            g.c = None
        if name == "stride 0":
            g.b = np.repeat(g.b[:1], g.k, axis=0)
    # The descriptor's own address: misaligned, and outside the range.
    prog += [command(MatrixFn.MGEMM, gemms[0].desc + 8), command(MatrixFn.MGEMM, BASE - 64),
             command(MatrixFn.MGEMM, BASE + MEM)]
    dones, errors, _ = run(config, prog, mem)
    assert len(dones) == len(prog)
    expect = [(c[2], g.desc) for g, c in zip(gemms, cases, strict=False) if c[2] != Error.NONE]
    expect += [(Error.ALIGN, gemms[0].desc + 8), (Error.RANGE, BASE - 64),
               (Error.RANGE, BASE + MEM)]
    got = [(Error(e["code"]), e["addr"]) for e in errors]
    names = [c[0] for c in cases if c[2] != Error.NONE] + ["desc align", "desc low", "desc hi"]
    for name, g_, e_ in zip(names, got, expect, strict=True):
        assert g_ == e_, f"{name}: got {g_}, expected {e_}"
    # Each error comes in the cycle of its command's done (prog[0] is the MCFG).
    refused = [n + 1 for n, c in enumerate(cases) if c[2] != Error.NONE]
    assert [e["done"] for e in errors] == refused + [len(prog) - 3, len(prog) - 2, len(prog) - 1]
    for g, (_name, _change, code) in zip(gemms, cases, strict=False):
        if code == Error.NONE:
            g.check(mem)
        else:
            g.untouched(mem)
    gemms[-1].check(mem)


def test_format_the_engine_lacks_is_refused():
    """A GEMM under an MCFG naming a format the engine does not multiply (FP32 for A, then an
    unknown code 7 for B) is refused with FIELD and writes nothing; after an MCFG back to BF16
    the next GEMM runs."""
    rng = np.random.default_rng(9)
    gemms = [Gemm(TILE2, rng, 3, 3, 2) for _ in range(3)]
    mem = ScratchpadModel(size=MEM, rng=rng)
    prog = _program(gemms, mem)       # an MCFG (BF16) first, then the three GEMMs
    bad_a = int(pack(OperandConfig, n=1, a_fmt=0, b_fmt=1)[0])
    bad_b = int(pack(OperandConfig, n=1, a_fmt=1, b_fmt=7)[0])
    prog = [prog[0], command(MatrixFn.MCFG, bad_a), prog[1], command(MatrixFn.MCFG, bad_b),
            prog[2], prog[0], prog[3]]
    dones, errors, _ = run(TILE2, prog, mem)
    assert len(dones) == len(prog)
    assert [(Error(e["code"]), e["addr"]) for e in errors] == [
        (Error.FIELD, gemms[0].desc), (Error.FIELD, gemms[1].desc)]
    gemms[0].untouched(mem)
    gemms[1].untouched(mem)
    gemms[2].check(mem)


def test_descriptor_read_refused():
    """A descriptor read the scratchpad answers OUT_OF_RANGE (the sequencer told of a larger
    range than the memory has) refuses the GEMM with Error.RANGE; the next GEMM runs."""
    rng = np.random.default_rng(8)
    g = Gemm(TILE2, rng, 3, 3, 2)
    mem = ScratchpadModel(size=MEM, rng=rng)
    prog = [command(MatrixFn.MGEMM, MEM + 128)] + _program([g], mem, cfg_first=False)
    dones, errors, _ = run(TILE2, prog, mem, size=2 * MEM)
    assert [(Error(e["code"]), e["addr"]) for e in errors] == [(Error.RANGE, MEM + 128)]
    assert len(dones) == 2
    g.check(mem)


def test_small_engine():
    """The SMALL preset (one 8×8 array, the size the core's tests use): a GEMM that is not a
    multiple of the tile with C in BF16, then after an MCFG a CFP8 one without C, queued back to
    back, under port stalls."""
    rng = np.random.default_rng(12)
    gemms = [Gemm(SMALL, rng, 17, 10, 3),
             Gemm(SMALL, rng, 9, 17, 2, a_fmt="cfp8_143", b_fmt="cfp8_143", with_c=False)]
    mem = ScratchpadModel(size=MEM, p_stall=0.2, rng=rng)
    dones, errors, _ = run(SMALL, _program(gemms, mem), mem)
    assert errors == [] and len(dones) == 4      # MCFG, GEMM, MCFG, GEMM
    for g in gemms:
        g.check(mem)


def _cycles(config, shapes, *, latency=5):
    """Cycles of GEMMs of ``shapes`` (m, n, k, with_c[, a_fmt]) queued back to back on ``config``'s
    engine (the stream model), no port stalls: from the first command offered to the last
    done."""
    rng = np.random.default_rng(0)
    gemms = [Gemm(config, rng, *shape[:3], with_c=shape[3], a_fmt=(shape[4:] or ["bf16"])[0])
             for shape in shapes]
    mem = ScratchpadModel(size=1 << 21, rng=rng, latency=latency)
    prog = _program(gemms, mem, cfg_first=False)
    dones, errors, cycles = run(config, prog, mem, model=True, limit=10**6)
    assert errors == [] and len(dones) == len(prog)
    return cycles


#: The fixed cycles of a GEMM with C on D1's 16×16 tiles and 4 slots (K ≥ 16), measured:
#: 44 until the first beat is taken (the command, the descriptor's read and check, the walker's
#: set-up, the first reads), 64 while the first beats wait for the first group's C rows (the
#: engine's own cost, docs/matmul.md), and 83 after the last beat (the FMA latency, 64 rows to
#: drain, the last write's answer and the done).
FIXED_D1 = 191
#: The cycles an MCFG between two GEMMs costs: the write after the last beat of the first, the
#: walker's set-up (2), the request register (1), the read latency (5), the operand FIFO and
#: the beat register, and the first beat's wait for its C tile in the engine.
MCFG_GAP = 15


def test_throughput_d1():
    """On D1's engine (its stream timing) one beat is taken every cycle once running: a GEMM
    takes exactly its G·L·K beats plus fixed cycles that do not depend on K, and a second
    GEMM queued behind the first adds exactly its beats (its descriptor is read and checked,
    its C rows loaded and its first operands read while the first runs, and the first's rows
    drain while it computes). 64×64×K: 16 tiles, G·L = 16."""
    cfg = D1
    assert _cycles(cfg, [(64, 64, 32, True)]) == 16 * 32 + FIXED_D1
    assert _cycles(cfg, [(64, 64, 48, True)]) == 16 * 48 + FIXED_D1
    assert _cycles(cfg, [(64, 64, 32, True), (32, 64, 32, True)]) == 24 * 32 + FIXED_D1
    # An MCFG between them waits for the first's last beat to be taken; the second's C rows
    # load meanwhile, its reads start after the write: MCFG_GAP cycles.
    assert _cycles(cfg, [(64, 64, 32, True), (64, 64, 32, True, "cfp8_143")]) == \
        32 * 32 + FIXED_D1 + MCFG_GAP
    # With the core's arbiter in front of the ports the reads take longer: up to 17 cycles
    # the sequencer still takes a beat every cycle (more fixed cycles, the same slope).
    for latency in (9, 17):
        assert _cycles(cfg, [(64, 64, 48, True)], latency=latency) == \
            16 * 16 + _cycles(cfg, [(64, 64, 32, True)], latency=latency)
    # A last group of one tile (48×40: 9 tiles) has its last beat in slot 0, 3 cycles before the
    # round ends, and drains 16 rows, not 64: at least 51 cycles fewer.
    assert _cycles(cfg, [(64, 64, 32, True), (48, 40, 32, False)]) <= 32 * 32 + FIXED_D1 - 51


@pytest.mark.slow
def test_throughput_d1_256():
    """The target: a 256×256×256 BF16 GEMM with C on D1 from the command to the last D row
    written takes its 65,536 beats plus the fixed cycles, 99.7 % of the 256-MAC peak (97 %
    required); at K = 512 the formula gives 99.85 % (98 % required). About 2.5 minutes."""
    cycles = _cycles(D1, [(256, 256, 256, True)])
    assert cycles == 64 * 4 * 256 + FIXED_D1
    assert 256 ** 3 / cycles / D1.macs_per_cycle > 0.997
    assert 256 * 256 * 512 / (64 * 4 * 512 + FIXED_D1) / D1.macs_per_cycle > 0.998


@dataclasses.dataclass(frozen=True)
class _Interleave3(MatmulConfig):
    """An engine whose FMA loop would be 3 deep (none is built today)."""

    @property
    def interleave(self):
        return 3


@pytest.mark.parametrize(("args", "kwargs", "error", "message"), [
    (("D1",), {}, TypeError, r"^config must be an instance of MatmulConfig, not 'D1'$"),
    ((MatmulConfig("X", unit_rows=3),), {}, ValueError,
     r"^config.tile_rows must be a power of two up to 16, not 3$"),
    ((MatmulConfig("X", block_cols=4),), {}, ValueError,
     r"^config.tile_cols must be a power of two up to 16, not 32$"),
    ((MatmulConfig("X", formats=("cfp8_143",)),), {}, ValueError,
     r"^config.operand_width must be 16 \(BF16 lanes\), not 8$"),
    ((_Interleave3("X"),), {}, ValueError,
     r"^config.interleave must be 4 \(groups of 2×2 tiles\), not 3$"),
    ((SMALL,), {"addr_bits": 33}, ValueError, r"^addr_bits must be in 8..32, not 33$"),
    ((SMALL,), {"tag_width": 1}, ValueError, r"^tag_width must be in 2..16, not 1$"),
    ((SMALL,), {"tag_width": "4"}, TypeError, r"^tag_width must be an integer, not '4'$"),
    ((SMALL,), {"base": 32}, ValueError, r"^base must be a multiple of 64, not 32$"),
    ((SMALL,), {"size": 100}, ValueError, r"^size must be a multiple of 64, not 100$"),
    ((SMALL,), {"addr_bits": 16, "size": 1 << 16, "base": 64}, ValueError,
     r"^size must be in 64..65472, not 65536$"),
    ((SMALL,), {"read_depth": 1}, ValueError, r"^read_depth must be in 2..16, not 1$"),
    ((SMALL,), {"c_depth": 65}, ValueError, r"^c_depth must be in 2..64, not 65$"),
])
def test_parameter_errors(args, kwargs, error, message):
    raises_unelaborated(error, message, GemmSequencer, *args, **kwargs)


def test_ports_meet_the_scratchpad():
    """The three ports connect to the scratchpad's vr0, vr1 and vw (of the same tag width) and
    the engine side to MatmulEngine, with wiring.connect alone."""
    from hw.sram.config import SMALL as SRAM_SMALL
    from hw.sram.scratchpad import Scratchpad

    with warnings.catch_warnings():     # connected only, never elaborated
        warnings.simplefilter("ignore", UnusedElaboratable)
        for config in (SMALL, D1):
            seq = GemmSequencer(config, tag_width=5)
            mem = Scratchpad(config=dataclasses.replace(SRAM_SMALL, tag_width=5))
            eng = MatmulEngine(config)
            m = Module()
            m.submodules += [seq, mem, eng]
            for ours, theirs in (("a", "vr0"), ("b", "vr1"), ("d", "vw")):
                wiring.connect(m, getattr(seq, f"{ours}_req"), getattr(mem, f"{theirs}_req"))
                wiring.connect(m, getattr(mem, f"{theirs}_resp"), getattr(seq, f"{ours}_resp"))
            wiring.connect(m, seq.beat, eng.i)
            wiring.connect(m, seq.c, eng.c)
            wiring.connect(m, eng.o, seq.d)
            wiring.connect(m, seq.cfg, eng.cfg)
        del m, seq, mem, eng
        gc.collect()


@pytest.mark.parametrize("latency", [1, 24])
def test_random(latency):
    """Random shapes, formats and C on the 2×2-tile engine, a read latency of 1 and of 24
    (beyond what ``read_depth`` ks cover at full rate), heavy port stalls: D bit for bit."""
    rng = np.random.default_rng(latency)
    fmts = ("bf16", "cfp8_143", "cfp8_152")
    gemms = [Gemm(TILE2, rng, *rng.integers(1, 10, 3), a_fmt=rng.choice(fmts),
                  b_fmt=rng.choice(fmts), with_c=bool(rng.integers(2)), pad=int(rng.integers(2)))
             for _ in range(6)]
    mem = ScratchpadModel(size=MEM, p_stall=0.4, latency=latency, rng=rng)
    dones, errors, _ = run(TILE2, _program(gemms, mem), mem, p_idle=0.1)
    assert errors == []
    for g in gemms:
        g.check(mem)


def test_with_the_scratchpad():
    """The sequencer on the real scratchpad (``hw/sram``, the SMALL preset: its ports, ECC,
    bank conflicts and latencies) and the real engine: operands written through the
    scratchpad's ``rw`` port, a BF16 GEMM with C and a CFP8 one without, D read back through
    ``rr`` and checked bit for bit."""
    from hw.sram.config import SMALL as SRAM_SMALL
    from hw.sram.scratchpad import Scratchpad

    rng = np.random.default_rng(21)
    gemms = [Gemm(TILE2, rng, 3, 5, 3),
             Gemm(TILE2, rng, 5, 2, 2, a_fmt="cfp8_143", b_fmt="cfp8_152", with_c=False)]
    sram = dataclasses.replace(SRAM_SMALL, tag_width=4)
    staging = ScratchpadModel(size=sram.size)
    prog = _program(gemms, staging)
    used = max(g.fields["d"] + g.region(staging).size for g in gemms)
    seq = GemmSequencer(TILE2, size=sram.size)
    mem = Scratchpad(config=sram)
    eng = MatmulEngine(TILE2)
    top = Module()
    top.submodules += [seq, mem, eng]
    for ours, theirs in (("a", "vr0"), ("b", "vr1"), ("d", "vw")):
        wiring.connect(top, getattr(seq, f"{ours}_req"), getattr(mem, f"{theirs}_req"))
        wiring.connect(top, getattr(mem, f"{theirs}_resp"), getattr(seq, f"{ours}_resp"))
    wiring.connect(top, seq.beat, eng.i)
    wiring.connect(top, seq.c, eng.c)
    wiring.connect(top, eng.o, seq.d)
    wiring.connect(top, seq.cfg, eng.cfg)
    sim = Simulator(top)
    sim.add_clock(1e-6)
    back = bytearray(used)

    async def bench(ctx):
        ctx.set(mem.rw_resp.ready, 1)
        ctx.set(mem.rr_resp.ready, 1)
        for addr in range(0, used, LINE):          # load through rw
            ctx.set(mem.rw_req.payload.addr, addr)
            ctx.set(mem.rw_req.payload.data, int.from_bytes(staging.read(addr, LINE), "little"))
            ctx.set(mem.rw_req.payload.mask, (1 << LINE) - 1)
            ctx.set(mem.rw_req.valid, 1)
            await ctx.tick().until(mem.rw_req.ready)
        ctx.set(mem.rw_req.valid, 0)
        await ctx.tick().repeat(10)
        await send(ctx, seq.cmd, prog, rnd=rng)
        while len(dones) < len(prog):
            await ctx.tick()
        for addr in range(0, used, LINE):          # read back through rr
            ctx.set(mem.rr_req.payload.addr, addr)
            ctx.set(mem.rr_req.valid, 1)
            await ctx.tick().until(mem.rr_req.ready)
            ctx.set(mem.rr_req.valid, 0)
            valid = False
            while not valid:
                _, _, valid, word = await ctx.tick().sample(mem.rr_resp.valid,
                                                            mem.rr_resp.payload.data)
            back[addr:addr + LINE] = int(word).to_bytes(LINE, "little")

    dones = []

    async def watch(ctx):
        cycles = 0
        while True:
            _, _, valid, error = await ctx.tick().sample(seq.done.valid, seq.error.valid)
            assert not error
            if valid:
                dones.append(cycles)
            cycles += 1
            assert cycles < 5000, f"hang: {len(dones)} of {len(prog)} done"

    sim.add_testbench(watch, background=True)
    sim.add_testbench(bench)
    sim.run()
    result = ScratchpadModel(size=sram.size)
    result.load(0, back)
    for g in gemms:
        g.check(result)
