"""The data-parallel training step (issue 18's third program; docs/mesh.md, "The training
step"): the host side of ``verif/mesh/programs/train.c`` and its numpy model.

* :func:`train_program` builds the program for a mesh and its dead cores (the -D flags), with
  seeded data (:func:`problem`): a two-layer MLP ``Y = ReLU(X·W1)·W2`` (BF16 weights, FP32
  masters) learning a fixed random teacher network's outputs ``T`` under a mean squared error,
  the global batch cut into one shard of rows per live core (:func:`shards`).
  :meth:`Training.segments` is each core's data, :meth:`Training.reads` what the host reads
  back, :meth:`Training.errors` the comparison with the model, bit for bit.
* :func:`train_model` is the program in numpy, operation by operation, with the same rounding
  decisions: every GEMM by :func:`verif.matmul.model.matmul` (the engine's arithmetic: FP32
  fused steps in k order), every vector operation by :func:`verif.vector.model.execute` on the
  same padded 64-byte lines, the stochastic rounding by :class:`verif.vector.model.
  VectorUnitModel` seeded as the program seeds the unit, and the gradient reduction by
  :func:`verif.mesh.allreduce.allreduce_numpy` (the all-reduce's documented order).
* :func:`float64_step` is the same network in plain float64 numpy (no BF16, no rounding
  decisions): the tests compare the model's gradients and losses with it, to a tolerance.
"""

from dataclasses import dataclass, field

import numpy as np

from hw.common.params import check_instance, check_int
from hw.core.counters import counter_index
from hw.fp.formats import FormatCode
from hw.mesh.config import MeshConfig
from hw.vector.isa import VecOp, VecType
from verif.matmul.model import matmul
from verif.scalar import elf, riscv
from verif.vector.model import REQUEST_DTYPE, VectorUnitModel, execute

from .allreduce import allreduce_numpy, ranks
from .programs import DIR as PROGRAMS
from .run import check_dead

__all__ = ["PIECE", "REPORT_STAMPS", "REPORT_WORDS", "SR_SEED", "ModelRun", "Sizes", "Training",
           "bf16_codes", "bf16_values", "float64_step", "local_step", "problem", "shards",
           "train_model", "train_program"]

#: The SEED of the first step's first stochastic NARROW (train.c's SR_SEED).
SR_SEED = 0x7A11
#: tr_report's stamps per step and words per stamp (train.c).
REPORT_STAMPS = ("start", "backward_done", "allreduce_done", "update_done")
REPORT_WORDS = ("cycles", "matrix_busy", "vector_busy", "dma_busy", "thread_waiting")
#: Rows of W2 per transposition (train.c's SLAB).
SLAB = 32
#: train.c's semaphores for its own work (the all-reduce takes 0 .. P - 1).
STEP_SEMAPHORES = 2
#: Lines per piece of the gradients' all-reduce: one piece per chunk (the default sizes' chunks
#: are 12 to 17 lines): at these sizes a piece's scalar work costs more than pipelining pushes
#: with adds saves (docs/mesh.md, "All-reduce").
PIECE = 32


def _line_up(n):
    return -(-n // 64) * 64


def _ldf(n):
    """An FP32 row's lanes (whole lines)."""
    return _line_up(4 * n) // 4


def _ldh(n):
    """A BF16 row's lanes (whole lines)."""
    return _line_up(2 * n) // 2


def _f32(x):
    return int(np.float32(x).view(np.uint32))


def bf16_codes(x):
    """BF16 codes of float64 ``x`` (via FP32, rounded to nearest even; finite values)."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + (u >> 16 & 1)) >> 16).astype(np.uint16)


def bf16_values(codes):
    return (np.asarray(codes, np.uint16).astype(np.uint32) << 16).view(np.float32)


def shards(batch, p):
    """Rank r's rows of the global batch: ``(first, rows)``, rows ``[r·batch // p, (r+1)·batch
    // p)``."""
    check_int("batch", batch, 1, 1 << 16)
    check_int("p", p, 1, 16)
    return [(r * batch // p, (r + 1) * batch // p - r * batch // p) for r in range(p)]


@dataclass(frozen=True)
class Sizes:
    """The network's and the step's sizes and constants."""
    din: int
    hidden: int
    dout: int
    batch: int
    steps: int
    lr: float

    @property
    def scale(self):
        """dL/dY = (Y − T)·scale, scale = 2 / (batch·dout) (FP32)."""
        return np.float32(2.0 / (self.batch * self.dout))

    @property
    def inv(self):
        """loss = sum of squares · inv, inv = 1 / (batch·dout) (FP32)."""
        return np.float32(1.0 / (self.batch * self.dout))

    @property
    def nseed(self):
        """Stochastic NARROW VOPs per step (one per FP32 line of a row of M1 and of M2)."""
        return -(-self.hidden // 16) + -(-self.dout // 16)

    def words(self):
        """Floats of the gradient array: dW1 (din rows), dW2 (hidden rows), a loss line."""
        return self.din * _ldf(self.hidden) + self.hidden * _ldf(self.dout) + 16


def problem(sizes, *, seed=0):
    """Seeded data: ``x`` (batch × din BF16 codes, values of N(0, 1)), ``t`` (batch × dout FP32
    codes: a random teacher ``ReLU(x·A)·B`` in float64), the initial ``w1`` (din × hidden) and
    ``w2`` (hidden × dout) BF16 codes (N(0, 1/fan-in)); the masters start at the same values."""
    rng = np.random.default_rng(seed)
    s = sizes
    x = bf16_codes(rng.standard_normal((s.batch, s.din)))
    a = rng.standard_normal((s.din, s.hidden)) / np.sqrt(s.din)
    b = rng.standard_normal((s.hidden, s.dout)) / np.sqrt(s.hidden)
    t = (np.maximum(bf16_values(x).astype(np.float64) @ a, 0) @ b).astype(np.float32)
    w1 = bf16_codes(rng.standard_normal((s.din, s.hidden)) / np.sqrt(s.din))
    w2 = bf16_codes(rng.standard_normal((s.hidden, s.dout)) / np.sqrt(s.hidden))
    return x, t.view(np.uint32), w1, w2


# --- the model -------------------------------------------------------------------------------

def _pad(a, lanes, dtype):
    out = np.zeros((a.shape[0], lanes), dtype)
    out[:, :a.shape[1]] = a
    return out


def _lines(a):
    return np.ascontiguousarray(a).view(np.uint8).reshape(-1, 64)


def _fp32(op, *operands):
    """One FP32 VOP over the lines of same-shaped uint32 arrays (broadcast constants as
    arrays); the result in the first's shape."""
    data, _, error = execute(op, "fp32", *(_lines(o) for o in operands))
    assert not error.any()
    return data.view(np.uint32).reshape(operands[0].shape)


def _const(value, shape):
    return np.full(shape, _f32(value), np.uint32)


def _narrow(src, cols, unit=None, seeds=()):
    """train.c's narrow(): the BF16 codes (rows × cols) of the FP32 rows ``src`` (padded to
    whole lines), one NARROW VOP per FP32 line of a row; with ``unit`` (a VectorUnitModel)
    stochastically, a SEED of the next of ``seeds`` before each VOP, else to nearest even."""
    rows = src.shape[0]
    out = np.zeros((rows, _ldh(cols)), np.uint16)
    seeds = iter(seeds)
    for line in range(-(-cols // 16)):
        imm = line % 2
        part = _lines(src[:, 16 * line:16 * line + 16])
        if unit is None:
            data, _, error = execute("narrow", "fp32", part, np.zeros_like(part), imm=imm,
                                     fmt="bf16", rnd="rne")
            assert not error.any()
        else:
            req = np.zeros(rows + 1, REQUEST_DTYPE)
            req["op"][0], req["vtype"][0] = VecOp.SEED.value, VecType.INT32.value
            req["a"][0, :4] = np.frombuffer(np.uint32(next(seeds)).tobytes(), np.uint8)
            req["op"][1:], req["vtype"][1:] = VecOp.NARROW.value, VecType.FP32.value
            req["fmt"][1:], req["rnd"][1:], req["imm"][1:] = FormatCode.BF16.value, 1, imm
            req["a"][1:] = part
            res = unit.run(req)
            assert not res["error"].any()
            data = res["data"][1:]
        q = line // 2
        out[:, 32 * q + 16 * imm:32 * q + 16 * imm + 16] = \
            data.view(np.uint16).reshape(rows, 32)[:, 16 * imm:16 * imm + 16]
    return out[:, :cols]


def _tree_sum(sq):
    """The loss part: the lines of ``sq`` added halves onto halves down to one line (lines
    [0, h) += [n − h, n), h = n // 2), then REDSUM: lane 0."""
    lines = _lines(sq).copy()
    n = len(lines)
    while n > 1:
        h = n // 2
        data, _, _ = execute("add", "fp32", lines[:h], lines[n - h:n])
        lines[:h] = data
        n -= h
    data, _, _ = execute("redsum", "fp32", lines[:1])
    return data.view(np.uint32)[0, 0]


def local_step(sizes, x, t, w1, w2, bmax):
    """One rank's forward and backward pass as train.c computes it: its gradient array
    (uint32: dW1 rows, dW2 rows, the loss line) and the intermediate values (dict)."""
    s = sizes
    wb, wh, wo = _ldf(bmax), _ldf(s.hidden), _ldf(s.dout)
    xt = np.ascontiguousarray(x.T)
    z1t = _pad(matmul(w1.T, xt)[0], wb, np.uint32)
    z1 = _pad(matmul(x, w1)[0], wh, np.uint32)
    r1t = _fp32("max", z1t, np.zeros_like(z1t))
    r1 = _fp32("max", z1, np.zeros_like(z1))
    rows = x.shape[0]
    h1t = _narrow(r1t, rows)
    h1 = _narrow(r1, s.hidden)
    yt = _pad(matmul(w2.T, h1t)[0], wb, np.uint32)
    y = _pad(matmul(h1, w2)[0], wo, np.uint32)
    et = _fp32("sub", yt, _pad(np.ascontiguousarray(t.T), wb, np.uint32))
    e = _fp32("sub", y, _pad(t, wo, np.uint32))
    part = _tree_sum(_fp32("mul", et, et))
    dyt = _narrow(_fp32("mul", et, _const(s.scale, et.shape)), rows)
    dy = _narrow(_fp32("mul", e, _const(s.scale, e.shape)), s.dout)
    dw2 = matmul(h1.T, dy)[0]
    dh1 = _pad(matmul(dyt.T, np.ascontiguousarray(w2.T))[0], wh, np.uint32)
    dz1 = _fp32("select", r1, dh1, np.zeros_like(dh1))
    dz1b = _narrow(dz1, s.hidden)
    dw1 = matmul(np.ascontiguousarray(x.T), dz1b)[0]
    loss = np.zeros(16, np.uint32)
    loss[0] = part
    g = np.concatenate([_pad(dw1, wh, np.uint32).ravel(), _pad(dw2, wo, np.uint32).ravel(),
                        loss])
    return g, {"h1": h1, "h1t": h1t, "dy": dy, "dyt": dyt, "dz1": dz1b, "dw1": dw1,
               "dw2": dw2, "part": part}


@dataclass
class ModelRun:
    """The model's outcome: per step the loss (FP32 code) and the all-reduced gradients
    (``dw1``, ``dw2``: FP32 codes), and the final weights (BF16 codes) and masters (FP32
    codes)."""
    losses: list
    dw1: list
    dw2: list
    w1: np.ndarray
    w2: np.ndarray
    m1: np.ndarray
    m2: np.ndarray


def train_model(sizes, x, t, w1, w2, p, *, sr_seed=SR_SEED):
    """``sizes.steps`` steps of train.c over ``p`` live cores: ``x`` (batch × din BF16 codes),
    ``t`` (batch × dout FP32 codes), the initial weights (BF16 codes; the masters their FP32
    values). A :class:`ModelRun`."""
    s = sizes
    cuts = shards(s.batch, p)
    bmax = max(n for _, n in cuts)
    wh, wo = _ldf(s.hidden), _ldf(s.dout)
    m1 = _pad(w1.astype(np.uint32) << 16, wh, np.uint32)
    m2 = _pad(w2.astype(np.uint32) << 16, wo, np.uint32)
    unit = VectorUnitModel()
    losses, dw1s, dw2s = [], [], []
    n1 = s.din * wh
    for step in range(s.steps):
        grads = [local_step(s, x[a:a + n], t[a:a + n], w1, w2, bmax)[0] for a, n in cuts]
        total = allreduce_numpy(np.stack(grads).view(np.float32)).view(np.uint32)
        g1 = total[:n1].reshape(s.din, wh)
        g2 = total[n1:n1 + s.hidden * wo].reshape(s.hidden, wo)
        loss = _fp32("mul", total[-16:][None], _const(s.inv, (1, 16)))
        losses.append(int(loss[0, 0]))
        dw1s.append(g1[:, :s.hidden])
        dw2s.append(g2[:, :s.dout])
        m1 = _fp32("fnma", _const(s.lr, m1.shape), g1, m1)
        m2 = _fp32("fnma", _const(s.lr, m2.shape), g2, m2)
        seeds = [sr_seed + step * s.nseed + v for v in range(s.nseed)]
        k = -(-s.hidden // 16)
        w1 = _narrow(m1, s.hidden, unit, seeds[:k])
        w2 = _narrow(m2, s.dout, unit, seeds[k:])
    return ModelRun(losses, dw1s, dw2s, w1, w2, m1[:, :s.hidden], m2[:, :s.dout])


def float64_step(x, t, w1, w2, batch):
    """The same network in float64 (weights, inputs and targets as given, as float64 values;
    no rounding): ``(loss, dw1, dw2)`` of the mean squared error over the ``batch`` rows."""
    x, t, w1, w2 = (np.asarray(v, np.float64) for v in (x, t, w1, w2))
    z1 = x @ w1
    h1 = np.maximum(z1, 0)
    e = h1 @ w2 - t
    loss = (e * e).sum() / e.size
    dy = 2 * e / e.size
    dw2 = h1.T @ dy
    dw1 = x.T @ ((dy @ w2.T) * (z1 > 0))
    return loss, dw1, dw2


# --- the program -------------------------------------------------------------------------------

@dataclass
class Training:
    """A built training program: ``elf`` (its path), ``sizes``, ``ranks`` (the live cores,
    rank order), the data (``x``, ``t``, ``w1``, ``w2``: codes), ``model`` (the
    :class:`ModelRun`), ``defines`` (the -D flags)."""
    elf: object
    sizes: Sizes
    ranks: list
    x: np.ndarray
    t: np.ndarray
    w1: np.ndarray
    w2: np.ndarray
    model: ModelRun
    report: bool = False
    defines: dict = field(default_factory=dict)

    @property
    def p(self):
        return len(self.ranks)

    @property
    def bmax(self):
        return max(n for _, n in shards(self.sizes.batch, self.p))

    def _symbol(self, name):
        return elf.load(self.elf).symbol(name)

    def segments(self):
        """Each live core's data: its shard's rows and both layouts of X and T, the initial
        weights and masters (the same everywhere), for ``run_mesh_program(segments=...)``."""
        s, bmax = self.sizes, self.bmax
        slabs = -(-s.hidden // SLAB)
        common = [
            ("w1", _pad(self.w1, _ldh(s.hidden), np.uint16)),
            ("w2", _pad(np.vstack([self.w2, np.zeros((slabs * SLAB - s.hidden, s.dout),
                                                     np.uint16)]), _ldh(s.dout), np.uint16)),
            ("m1", _pad(self.w1.astype(np.uint32) << 16, _ldf(s.hidden), np.uint32)),
            ("m2", _pad(self.w2.astype(np.uint32) << 16, _ldf(s.dout), np.uint32))]
        out = {}
        for (x, y), (a, n) in zip(self.ranks, shards(s.batch, self.p), strict=True):
            xs, ts = self.x[a:a + n], self.t[a:a + n]
            rows = np.array([n, 0], np.uint32)     # one 8-byte word: the loader's unit
            mine = [("tr_rows", rows),
                    ("xt", _pad(np.ascontiguousarray(xs.T), _ldh(bmax), np.uint16)),
                    ("x", _pad(np.vstack([xs, np.zeros((bmax - n, s.din), np.uint16)]),
                               _ldh(s.din), np.uint16)),
                    ("t", _pad(np.vstack([ts, np.zeros((bmax - n, s.dout), np.uint32)]),
                               _ldf(s.dout), np.uint32)),
                    ("tt", _pad(np.ascontiguousarray(ts.T), _ldf(bmax), np.uint32))]
            out[x, y] = [(self._symbol(name), a_.tobytes()) for name, a_ in mine + common]
        return out

    @property
    def read_names(self):
        """What :meth:`reads` reads of every live core, in order."""
        return ("tr_loss", "w1", "w2", "m1", "m2", *(("tr_report",) if self.report else ()))

    def reads(self):
        """Every live core's losses, weights, masters (and report in a REPORT build): ``[(x,
        y, address, bytes)]``, :attr:`read_names` per core, cores in rank order."""
        s = self.sizes
        sizes = {"tr_loss": 64 * s.steps, "w1": s.din * 2 * _ldh(s.hidden),
                 "w2": s.hidden * 2 * _ldh(s.dout), "m1": s.din * 4 * _ldf(s.hidden),
                 "m2": s.hidden * 4 * _ldf(s.dout),
                 "tr_report": 8 * s.steps * len(REPORT_STAMPS) * len(REPORT_WORDS)}
        return [(x, y, self._symbol(name), sizes[name]) for x, y in self.ranks
                for name in self.read_names]

    def model_reads(self):
        """The bytes :meth:`reads` brings back from a run that equals the model (not a REPORT
        build), as bytearrays: what the tests' stand-in runs return."""
        if self.report:
            raise ValueError("model_reads is not defined for a REPORT build")
        s, m = self.sizes, self.model
        loss = np.zeros((s.steps, 16), np.uint32)
        loss[:, 0] = m.losses

        def rows(a, lanes):
            return np.pad(a, ((0, 0), (0, lanes - a.shape[1]))).tobytes()

        core = [loss.tobytes(), rows(m.w1, _ldh(s.hidden)), rows(m.w2, _ldh(s.dout)),
                rows(m.m1, _ldf(s.hidden)), rows(m.m2, _ldf(s.dout))]
        return [bytearray(b) for _ in self.ranks for b in core]

    def decode(self, results):
        """The bytes of :meth:`reads` as one dict per live core: ``losses`` (FP32 codes), ``w1``,
        ``w2`` (BF16 codes), ``m1``, ``m2`` (FP32 codes), ``report`` (steps × stamps ×
        words; REPORT builds)."""
        s = self.sizes
        out = []
        k = len(self.read_names)
        for r in range(self.p):
            raw = dict(zip(self.read_names, results[k * r:k * r + k], strict=True))
            out.append({
                "losses": np.frombuffer(bytes(raw["tr_loss"]), np.uint32)
                .reshape(s.steps, 16),
                "w1": np.frombuffer(bytes(raw["w1"]), np.uint16).reshape(s.din, -1)
                [:, :s.hidden],
                "w2": np.frombuffer(bytes(raw["w2"]), np.uint16).reshape(s.hidden, -1)
                [:, :s.dout],
                "m1": np.frombuffer(bytes(raw["m1"]), np.uint32).reshape(s.din, -1)
                [:, :s.hidden],
                "m2": np.frombuffer(bytes(raw["m2"]), np.uint32).reshape(s.hidden, -1)
                [:, :s.dout],
                **({"report": np.frombuffer(bytes(raw["tr_report"]), np.uint64)
                    .reshape(s.steps, len(REPORT_STAMPS), len(REPORT_WORDS))}
                   if self.report else {})})
        return out

    def errors(self, results):
        """What differs from the model in the bytes of :meth:`reads`, as sentences (none: all
        equal bit for bit): every live core's losses (lane 0; the other lanes 0), BF16
        weights and FP32 masters."""
        errors = []
        m = self.model
        for (x, y), got in zip(self.ranks, self.decode(results), strict=True):
            want_loss = np.zeros((self.sizes.steps, 16), np.uint32)
            want_loss[:, 0] = m.losses
            for name, want in (("losses", want_loss), ("w1", m.w1), ("w2", m.w2),
                               ("m1", m.m1), ("m2", m.m2)):
                bad = np.argwhere(got[name] != want)
                if len(bad):
                    errors.append(f"core ({x}, {y}): {len(bad)} elements of {name} differ from "
                                  f"the model's, the first at {tuple(int(i) for i in bad[0])}")
        return errors

    def losses(self):
        """The model's loss per step (float)."""
        return [float(np.uint32(v).view(np.float32)) for v in self.model.losses]


def train_program(*, config, dead=(), steps=3, din=32, hidden=16, dout=16, batch=48, lr=0.25,
                  seed=0, piece=PIECE, report=False):
    """Build the training program for the live cores of ``config`` (a :class:`MeshConfig`,
    ``dead`` its dead cores): ``steps`` steps of SGD (learning rate ``lr``) of a din → hidden →
    dout MLP on a global batch of ``batch`` rows cut into one shard per live core, with
    :func:`problem`'s data (``seed``); the all-reduce in pieces of ``piece`` lines.
    ``report``: stamp every step's phases (tr_report, :meth:`Training.reads` reads it). A
    :class:`Training` with the model's outcome."""
    check_instance("config", config, MeshConfig)
    check_int("steps", steps, 1, 16)
    check_int("din", din, 1, 64)
    check_int("hidden", hidden, 1, 64)
    check_int("dout", dout, 1, 32)
    check_int("piece", piece, 1, 511)
    if not isinstance(lr, float):
        raise TypeError(f"lr must be a float, not {lr!r}")
    if not 0 < lr <= 1:
        raise ValueError(f"lr must be in (0, 1], not {lr!r}")
    dead = check_dead(config, dead)
    live = ranks(config, dead)
    p = len(live)
    if p > 16 - STEP_SEMAPHORES:
        raise ValueError(f"the mesh must have at most {16 - STEP_SEMAPHORES} live cores, "
                         f"not {p}")
    check_int("batch", batch, p, 32 * p)
    sizes = Sizes(din, hidden, dout, batch, steps, lr)
    x, t, w1, w2 = problem(sizes, seed=seed)
    bmax = max(n for _, n in shards(batch, p))
    n = sizes.words()
    lines = -(-n // 16)
    defines = {"P": p, "BMAX": bmax, "DIN": din, "HID": hidden, "DOUT": dout, "BATCH": batch,
               "STEPS": steps, "LR": f"{_f32(lr):#x}u", "CSCALE": f"{_f32(sizes.scale):#x}u",
               "INV": f"{_f32(sizes.inv):#x}u", "SR_SEED": f"{SR_SEED:#x}u", "N": n,
               "PIECE": piece, "CMAX": -(-lines // p),
               "THREAD_WAITING": counter_index(thread=0, reason="waiting"),
               **({"REPORT": 1} if report else {})}
    path = riscv.build(f"mesh/train-p{p}-{din}x{hidden}x{dout}-b{batch}-s{steps}"
                       f"{'-report' if report else ''}",
                       [PROGRAMS / "train.c"], defines=defines,
                       depends=[PROGRAMS / "mesh.h", PROGRAMS / "allreduce.h"])
    sram = config.core.sram
    end = elf.load(path).symbol("_end") - sram.base
    if end > sram.size:
        raise ValueError(f"the program with {p} live cores (shards of {bmax} rows) needs "
                         f"{end:,} bytes of scratchpad with its stacks, more than the "
                         f"{sram.size:,} of a {config.core.name} core")
    model = train_model(sizes, x, t, w1, w2, p)
    return Training(elf=path, sizes=sizes, ranks=live, x=x, t=t, w1=w1, w2=w2, model=model,
                    report=report, defines=defines)
