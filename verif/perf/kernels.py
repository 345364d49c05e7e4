"""Programs on the RTL's cores: the single-core kernels and the mesh programs, in cycles.

The model of what `d1core bench --only core` and `--only mesh-*` measure (docs/core.md
"Kernels", docs/mesh.md), built from the engine's schedule (:func:`.core.gemm_cycles`), the
vector unit's and the network's parameters (:mod:`.params`) and a few costs that only a run of
a whole program shows (the scalar core's share: filling a descriptor, starting a thread, a
piece's waits and commands). Those are taken from the stored runs themselves, each from the
fewest runs that fix it (:func:`calibration`; the runs they come from are the *fit points*,
marked in the checks), and every other run is a check:

* **GEMM kernel** (``gemm.c``, operands in the engine's layout): the schedule's cycles plus the
  kernel's own overhead (the scalar core filling the descriptor, the sequencer's start and the
  wake-up after the signal: ``overhead[fmt]``, CFP8's including its MCFG), fitted on the
  smallest bench-core run of each format.
* **Kernel 1, row-major** (``gemm_rm.c``): the head (the threads' start, ``rm_start``, fitted
  on the first row-major run's head; the DMA's copy of the head part into its staging buffer,
  a line a cycle after its start; log2(slab) ZIP rounds over the head part's lines, each a
  vector phase), then the engine's schedule over the whole product and the sequencer's start
  and retire (the slabs' GEMMs run back to back; later slabs' ZIP rounds overlap them: the
  head split is chosen so that they do); kernel 2 adds the epilogue of the last piece of D
  (ADD, MAX and two NARROW passes of a slab's rows × 64 columns: one line a cycle each, a
  phase gap between them).
* **Layer normalisation** (``layernorm.c``): the vector sequencer's bound (a line a cycle, two
  every three for three-operand ops, ``verif.core.kernels.layernorm.vop_lines``) plus a phase
  gap per phase (the last line through the unit, its write acknowledged, the next VOP's first
  read: :func:`phase_gap`).
* **SUMMA** (``summa.c``, ``verif.mesh.gemm``'s grid and panels): each core's block as one
  GEMM kernel over all of K (the panels' GEMMs chain through C with no idle beat), plus the
  first panel's exposed arrival (the operand panels 0 a core does not own, through its router's
  eject port at a flit a cycle after the zero-load latency), plus, per later panel, what the
  data movement exceeds the panel's compute by (double buffering hides the rest): a core takes
  in one A and one B panel per step and sends its own to its grid row and column, as
  multicasts when every core lives (the routers fork them: one injection) and as unicasts
  otherwise.
* **All-reduce** (``allreduce.h``, ``verif.mesh.allreduce``'s chunks and pieces): a fixed
  cost, a cost per piece of the largest chunk that grows with the ranks (the scalar thread's
  waits, adds and pushes: ``piece_base + piece_rank·(P − 1)``), and the lines that no piece
  overlaps (the first pieces' scatter, the last piece's P adds and its all-gather pushes, a
  line a cycle); the three costs fitted on the runs with 8-line pieces and the dead-core run,
  the runs with 32-line pieces checked.
* **Training step** (``train.c``): its phases as the one thread issues them (:class:`_Thread`):
  the instructions each phase executes (:mod:`.insns`, traced) at their cycles on the core
  (:data:`INSN_CYCLES`, docs/scalar.md's timing with the core's scratchpad and dispatcher),
  against the units' work between its waits: the GEMMs (the SMALL engine's sequenced
  schedule, a queued one its beats), the VOPs (their lines, and a phase gap when one reads the
  previous one's result); the all-reduce inside a step is its thread's instructions. Checked
  when the bench's section ``bench-mesh-train`` exists.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from hw.core.config import D1
from hw.mesh.config import MeshConfig
from verif.core.kernels import auto_head_k, slab_rows
from verif.core.kernels.layernorm import NEWTON, vop_lines
from verif.mesh import allreduce as ar
from verif.mesh.gemm import grid_of

from . import core

__all__ = ["KernelParams", "calibration", "phase_gap", "sequenced_cycles", "gemm_kernel",
           "gemm_rm_kernel", "layernorm_phases", "layernorm_kernel", "summa", "allreduce",
           "INSN_CYCLES", "thread_cycles", "gemm_beats", "train_step"]

#: The vector sequencer's structure (docs/core.md "Vector sequencer", measured in its tests):
#: cycles from a command taken to its first request entering the unit (F1..F4, the port's
#: command FIFO, the operand FIFO, the request register; the scratchpad's latency apart), and
#: from the last request's result to its ``done`` (the W queue, the completion queue, the
#: ``done`` register; the unit's latency and the scratchpad's apart).
SEQ_FIRST, SEQ_LAST = 9, 3
#: The scratchpad's read latency the sequencers see (docs/core.md: 5 cycles).
SRAM_LATENCY = 5
#: What the GEMM sequencer adds to the engine's cycles for a queue of GEMMs (docs/core.md
#: "GEMM sequencer", Cycles: G·L·K + 191 against the engine's G·L·K + 135): the command, the
#: descriptor's read and check, the first reads, the last write's answer and the ``done``.
SEQ_QUEUE = 56
#: The DMA engine's start: cycles from a command to its first write (docs/core.md "DMA
#: engine", Timing: 27 on a 64-line copy).
DMA_START = 27


@dataclass
class KernelParams:
    """The whole-program costs (cycles) taken from the stored runs, and where from."""
    overhead: dict = field(default_factory=dict)     # fmt -> GEMM kernel cycles over schedule
    rm_start: float = 0.0                            # gemm_rm.c: its threads' start
    fixed: float = 0.0                               # all-reduce: fixed cycles
    piece_base: float = 0.0                          # all-reduce: per piece
    piece_rank: float = 0.0                          # all-reduce: per piece and other rank
    fits: set = field(default_factory=set)           # the cases the costs were fitted on
    sources: dict = field(default_factory=dict)


def phase_gap(p):
    """Cycles between the last line of a vector phase entering the unit and the first line of
    the next (which reads its results): the unit's latency (bench-vector), the write and its
    acknowledgement, the ``done``, the next command's checks and first reads."""
    return p.vector_latency + 2 * SRAM_LATENCY + SEQ_LAST + SEQ_FIRST


def _lines(nbytes):
    return math.ceil(nbytes / 64)


def _rm_head(p, kp, m, n, k, fmt, head_k):
    """Cycles from the kernel's first instruction to its first GEMM queued: the threads' start
    (``rm_start``), then, with the head split, the DMA's copy of the head part into its staging
    buffer (the layout waits for that copy only), and the slab's ZIP rounds over the head
    part's lines, each a vector phase (its lines, then the gap before the next round reads
    them)."""
    rows = slab_rows(fmt)
    b = core.format_bytes(fmt)
    part = rows * _lines((head_k or k) * b)
    staging = DMA_START + part if head_k else 0
    rounds = rows.bit_length() - 1
    return kp.rm_start + staging + rounds * (part + phase_gap(p))


def sequenced_cycles(p, m, n, k, fmt="bf16"):
    """The engine's cycles for a GEMM the core's sequencer feeds: its groups are 2 × 2 tiles
    (docs/core.md "GEMM sequencer", Schedule), a missing tile a skip beat, so the schedule of
    M and N rounded up to whole groups (the same as :func:`.core.gemm_cycles` when they are
    whole; the engine alone, fed tile after tile, packs partial shapes tighter)."""
    side = int(math.isqrt(p.interleave))
    gm, gn = side * p.tile_rows, side * p.tile_cols
    return core.gemm_cycles(p, math.ceil(m / gm) * gm, math.ceil(n / gn) * gn, k, fmt)


def gemm_kernel(p, kp, m, n, k, fmt="bf16"):
    """Cycles of ``gemm.c`` on one core: the sequenced schedule plus the kernel's overhead."""
    return sequenced_cycles(p, m, n, k, fmt) + kp.overhead[_fmt(fmt)]


def _fmt(fmt):
    core.format_bytes(fmt)
    return "bf16" if fmt == "bf16" else "cfp8"


def gemm_rm_kernel(p, kp, m, n, k, fmt="bf16", head_k=None, epilogue=None, np_cols=64):
    """Cycles of ``gemm_rm.c`` (kernel 1; kernel 2 with ``epilogue``): ``(cycles, head)``."""
    if head_k is None:
        head_k = auto_head_k(m, n, k, fmt, macs=p.macs_per_cycle)
    head = _rm_head(p, kp, m, n, k, fmt, head_k)
    # behind the head the slabs' GEMMs run back to back (later slabs' layouts overlap them):
    # the engine's schedule over the whole product, the sequencer's start and retire once
    cycles = head + sequenced_cycles(p, m, n, k, fmt) + SEQ_QUEUE
    if epilogue:
        lines = slab_rows(fmt) * _lines(np_cols * 4)
        # ADD, MAX (a line each), two NARROW passes (half the lines each), a gap between
        cycles += 3 * lines + 4 * phase_gap(p)
    return cycles, head


def layernorm_phases(cols, newton=NEWTON):
    """The phases of ``layernorm.c`` (docs/core.md: 35 at 1,024 columns): the mean's and the
    variance's trees (log2 of the first level's lines each), 16 others, 3 a Newton step."""
    half = (cols // 16 + 1) // 2
    return 2 * max(0, math.ceil(math.log2(half))) + 16 + 3 * newton


def layernorm_kernel(p, rows, cols):
    """Cycles of ``layernorm.c``: ``(cycles, sequencer bound)``."""
    two, three = vop_lines(rows, cols)
    bound = two + 1.5 * three
    return bound + layernorm_phases(cols) * phase_gap(p), bound


def _mesh(width, height):
    return MeshConfig(f"{width}x{height}", core=D1, width=width, height=height)


def summa(p, kp, width, height, m, n, k, kb=64, fmt="bf16", dead=()):
    """Cycles of ``summa.c`` on a width × height mesh of D1 cores: ``(cycles, detail)``."""
    b = core.format_bytes(fmt)
    grid = grid_of(_mesh(width, height), m, n, tuple(map(tuple, dead)))
    gw, gh = len(grid[0]), len(grid)
    bm = math.ceil(math.ceil(m / gh) / 16) * 16
    bn = math.ceil(math.ceil(n / gw) / 16) * 16
    panels = math.ceil(k / kb)
    compute = gemm_kernel(p, kp, bm, bn, k, fmt)
    a_lines, b_lines = kb * _lines(bm * b), kb * _lines(bn * b)
    flit = p.link_bytes_per_cycle() / 64
    a_in, b_in = a_lines * (gw > 1), b_lines * (gh > 1)
    # panel 0: a core waits for the ones it does not own (summa.c's skew: A's panel 0 of row
    # gy at (gy mod gw, gy), B's of column gx at (gx, (gx + 1) mod gh): on 2×2 every core owns
    # one of its two, on larger grids most own neither), through its eject port, from at most
    # the grid's side away
    waits = [a_lines * (gx != gy % gw) + b_lines * (gy != (gx + 1) % gh)
             for gy in range(gh) for gx in range(gw)]
    first = 0.0
    if max(waits):
        first = p.fixed_cycles + p.hop_cycles * (max(gw, gh) - 1) + max(waits) / flit
    # later panels, double-buffered: in, one A and one B panel a step through the eject port;
    # out, a core owns 1/gw of its row's A panels and 1/gh of its column's B panels and sends
    # each as one multicast when every core lives (the routers fork it), else one push a
    # receiver
    copies_a, copies_b = (gw > 1, gh > 1) if not dead else (gw - 1, gh - 1)
    inject = (a_lines * copies_a / gw + b_lines * copies_b / gh) / flit
    eject = (a_in + b_in) / flit
    exposed = (panels - 1) * max(0.0, max(inject, eject) - compute / panels)
    return compute + first + exposed, {"grid": (gw, gh), "block": (bm, bn), "panels": panels,
                                       "first_panel": first, "exposed": exposed}


def _allreduce_terms(n, cores, piece):
    chunk = max(c for _, c in ar.chunks(ar.lines_of(n), cores))
    pcs = ar.pieces(chunk, piece)
    first, last = pcs[0][1], pcs[-1][1]
    lines = (cores - 1) * first + cores * last + (cores - 1) * last
    return len(pcs), lines


def allreduce(kp, n, cores, piece=ar.PIECE):
    """Cycles of ``allreduce.h``'s all-reduce of ``n`` FP32 over ``cores`` live cores."""
    if cores == 1:
        return kp.fixed
    q, lines = _allreduce_terms(n, cores, piece)
    return kp.fixed + q * (kp.piece_base + kp.piece_rank * (cores - 1)) + lines


#: Cycles from one scalar instruction's issue to its thread's next issue on the core, one thread
#: alone, by class (:mod:`.insns`): docs/scalar.md's timing table (ALU, JAL and a loop branch
#: predicted right 2; other branches and JALR 3; a multiplication 6, a division 26, a CSR 4),
#: its loads and stores (4 with an answer the next cycle) with the core's scratchpad answering
#: after SRAM_LATENCY; a coprocessor instruction (every d1 instruction) as a load whose answer
#: goes through the dispatcher's three registers (the request taken, decoded, the answer:
#: docs/core.md "The dispatcher"); a change of 32-byte line waits for the scratchpad's answer
#: less the two cycles the thread's issue takes anyway (a jump's line can wait longer: it is
#: asked for when the branch resolves). None measured per instruction: the training step's
#: non-waiting cycles check them (docs/scale.md).
INSN_CYCLES = {"alu": 2, "loop": 2, "branch": 3, "jalr": 3, "load": 3 + SRAM_LATENCY,
               "store": 3 + SRAM_LATENCY, "mul": 6, "div": 26, "csr": 4, "coprocessor": 4 + 3,
               "line_seq": SRAM_LATENCY - 2, "line_jump": SRAM_LATENCY - 2}
#: How train.c's instructions spread over a phase's commands (its source: a VOP with its
#: configuration some 15 instructions, a REPORT stamp some 30, a queued GEMM and a semaphore
#: wait a call and a counter): only their shares matter, the phase's total is its traced
#: instructions' cycles (:func:`thread_cycles`).
VOP_INSNS, GEMM_INSNS, WAIT_INSNS, STAMP_INSNS = 15, 6, 4, 30


def thread_cycles(mix):
    """The cycles one thread takes to execute ``mix`` (``{class: instructions}``, the classes
    of :data:`INSN_CYCLES`) on the core, never asleep."""
    return sum(INSN_CYCLES[c] * n for c, n in mix.items())


def gemm_beats(p, m, n, k):
    """Beats of a GEMM the core's sequencer feeds: its 2 × 2-tile groups × L × K (a GEMM queued
    behind another adds exactly these: docs/core.md "GEMM sequencer", Cycles)."""
    side = int(math.isqrt(p.interleave))
    gm, gn = side * p.tile_rows, side * p.tile_cols
    return math.ceil(m / gm) * math.ceil(n / gn) * p.interleave * k


class _Thread:
    """One thread issuing commands to its units and waiting for them: a sync point takes the
    longer of the issue and the units' work since the last one, then the last result's
    latency (a GEMM's retire, a VOP's phase gap). ``scale``: cycles per instruction share."""

    def __init__(self, p, scale=1.0):
        self.p, self.scale = p, scale
        self.cycles = self.issue = self.work = self.tail = self.shares = 0.0
        self.queued = 0

    def insns(self, n):
        self.shares += n
        self.issue += n * self.scale

    def vop(self, lines, dependent=True):
        self.insns(VOP_INSNS)
        # a VOP that reads the previous one's result waits for it (the sequencer's check)
        self.work += lines + (phase_gap(self.p) if dependent else 0)
        self.tail = phase_gap(self.p)

    def gemm(self, m, n, k):
        self.insns(GEMM_INSNS)
        # the first of a queue pays the sequencer's start and the engine's fill; one queued
        # behind it adds its beats
        self.work += (gemm_beats(self.p, m, n, k) if self.queued else
                      sequenced_cycles(self.p, m, n, k) - self.p.fma_latency)
        self.queued += 1
        self.tail = SEQ_QUEUE + self.p.fma_latency

    def sync(self):
        self.insns(WAIT_INSNS)
        self.cycles += max(self.issue, self.work) + self.tail
        self.issue = self.work = self.tail = 0.0
        self.queued = 0


def _phase(p, issue, cycles):
    """Cycles of a phase (``issue(thread)`` issues its commands) whose instructions take
    ``cycles`` of the thread: spread over its commands in their shares."""
    t = _Thread(p)
    issue(t)
    t = _Thread(p, cycles / t.shares)
    issue(t)
    return t.cycles


def _narrow(t, rows, cols, seeded=False):
    for _ in range(math.ceil(cols / 16)):     # one NARROW per FP32 line of a row
        if seeded:
            t.vop(1, dependent=False)
        t.vop(rows)


def _forward_backward(t, din, hid, dout, rows, ldf):
    t.insns(STAMP_INSNS)                      # the span starts inside the step's first stamp
    # forward: Z1ᵀ, Z1; ReLU both; H1ᵀ, H1; Yᵀ, Y; E, the loss tree; dYᵀ, dY
    t.gemm(hid, rows, din)
    t.gemm(rows, hid, din)
    t.sync()
    t.vop(hid * ldf[rows], False)
    t.vop(rows * ldf[hid], False)
    _narrow(t, hid, rows)
    _narrow(t, rows, hid)
    t.sync()
    t.gemm(dout, rows, hid)
    t.gemm(rows, dout, hid)
    t.sync()
    n = dout * ldf[rows]
    t.vop(n, False)
    t.vop(rows * ldf[dout], False)
    t.vop(n)
    while n > 1:
        t.vop(n // 2)
        n -= n // 2
    t.vop(1)
    t.vop(dout * ldf[rows], False)
    t.vop(rows * ldf[dout], False)
    _narrow(t, dout, rows)
    _narrow(t, rows, dout)
    t.sync()
    # backward: dW2, dH1 (a GEMM per 32 columns); the mask and dZ1; dW1
    t.gemm(hid, dout, rows)
    for s in range(math.ceil(hid / 32)):
        t.gemm(rows, min(32, hid - 32 * s), dout)
    t.sync()
    t.vop(rows * ldf[hid])
    _narrow(t, rows, hid)
    t.sync()
    t.gemm(din, hid, rows)
    t.sync()


def _update(t, din, hid, dout, ldf):
    t.insns(STAMP_INSNS)
    # the loss, SGD on the masters, the SR narrowing (a SEED before each), W2ᵀ
    t.vop(1, False)
    t.vop(din * ldf[hid], False)
    t.vop(hid * ldf[dout], False)
    _narrow(t, din, hid, seeded=True)
    _narrow(t, hid, dout, seeded=True)
    for _ in range(math.ceil(hid / 32)):
        for _ in range(5):                        # 5 rounds of ZIP_LO and ZIP_HI, 16 lines
            t.vop(16)
            t.vop(16, False)
    t.sync()


def train_step(p, *, sizes, batch, cores, mix):
    """Cycles of one step of ``train.c`` on a mesh of SMALL cores (``p`` built for the SMALL
    engine), phase by phase as its one thread issues them: ``{"forward_backward",
    "allreduce", "update", "cycles"}``. ``mix``: the instructions each phase executes
    (``{phase: {class: instructions}}``, :func:`.insns.train_mix` of the bench's build, its
    REPORT stamps included), at :data:`INSN_CYCLES` on the core. A compute phase takes the
    longer of its instructions and its units' work between waits (the GEMMs, a queued one
    adding its beats; the VOPs' lines and phase gaps), plus each wait's last latency. The
    all-reduce of a step this size is its thread's instructions (one piece a chunk: the
    pushes, the adds and the other cores' data land while the thread issues; the bench
    measured 8 and 37 cycles of waiting), so it takes their cycles (:func:`allreduce`'s costs,
    fitted on allreduce.c's round 0, have no round's counts, a multiplication and with 3 ranks
    divisions per semaphore, nor the fence and the stamp a step's span holds)."""
    din, hid, dout = sizes
    rows = math.ceil(batch / cores)
    ldf = {c: _lines(4 * c) for c in (din, hid, dout, rows)}
    fb = _phase(p, lambda t: _forward_backward(t, din, hid, dout, rows, ldf),
                thread_cycles(mix["forward_backward"]))
    update = _phase(p, lambda t: _update(t, din, hid, dout, ldf), thread_cycles(mix["update"]))
    comm = thread_cycles(mix["allreduce"])
    return {"forward_backward": fb, "allreduce": comm, "update": update,
            "cycles": fb + comm + update}


# --- calibration from the stored runs -------------------------------------------------------

def _fit_allreduce(kp, rows):
    fit = [r for r in rows if r["piece"] == 8 or r["cores"] < 4]
    if len(fit) < 3:
        return
    x, y = [], []
    for r in fit:
        q, lines = _allreduce_terms(r["n"], r["cores"], r["piece"])
        x.append([1.0, q, q * (r["cores"] - 1)])
        y.append(r["cycles"] - lines)
    kp.fixed, kp.piece_base, kp.piece_rank = (float(v) for v in np.linalg.lstsq(
        np.asarray(x), np.asarray(y, float), rcond=None)[0])
    kp.fits |= {("allreduce", r["n"], r["cores"], r["piece"]) for r in fit}
    kp.sources["allreduce"] = (f"least squares over {len(fit)} bench-mesh-allreduce runs "
                               "(8-line pieces, and the dead-core run)")


def calibration(p, sections):
    """The whole-program costs from the stored runs (``p`` built for the D1 engine); a cost
    whose section is missing stays 0 and its checks are reported missing."""
    kp = KernelParams()
    gemm = sections["bench-core"].figures["gemm"] if "bench-core" in sections else []
    for fmt in ("bf16", "cfp8"):
        runs = sorted((r for r in gemm if _fmt(r["fmt"]) == fmt),
                      key=lambda r: r["m"] * r["n"] * r["k"])
        if runs:
            r = runs[0]
            kp.overhead[fmt] = r["cycles"] - sequenced_cycles(p, r["m"], r["n"], r["k"], fmt)
            kp.fits.add(("gemm", r["m"], r["n"], r["k"], fmt))
            kp.sources[f"overhead {fmt}"] = f"bench-core {r['m']}x{r['n']}x{r['k']} {fmt}"
    rm = sections["bench-core"].figures.get("gemm_rm", []) if "bench-core" in sections else []
    if rm:
        r = rm[0]
        kp.rm_start = r["head"] - _rm_head(p, kp, r["m"], r["n"], r["k"], r["fmt"], r["head_k"])
        kp.fits.add(("gemm_rm head", r["m"], r["n"], r["k"], r["fmt"]))
        kp.sources["rm_start"] = (f"bench-core gemm_rm {r['m']}x{r['n']}x{r['k']} "
                                  f"{r['fmt']}: its head")
    if "bench-mesh-allreduce" in sections:
        _fit_allreduce(kp, sections["bench-mesh-allreduce"].figures["allreduce"])
    return kp
