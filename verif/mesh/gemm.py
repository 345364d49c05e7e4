"""The distributed GEMM on a mesh (``programs/summa.c``, docs/mesh.md "Distributed GEMM"): the
host's side. :func:`summa_kernel` builds the program for a mesh and a shape, draws random
operands (as the one-core kernels do, ``verif.core.kernels.random_operands``) and cuts them into
each core's own panels; :class:`SummaKernel` gives the per-core data to load, the ranges to read
back through the edge port, and the check of D against the SoftFloat-based reference of the
whole product (``verif.matmul.model.matmul``) with the cycle figures.

The grid (:func:`grid_of`): the mesh itself when every core lives; with dead cores, the live
cores in core-number order on the grid that they fill whose largest block of D is smallest (the
work re-partitioned over the live cores). Partitioning: grid position (gx, gy) computes rows
``gy·BM ..`` and columns ``gx·BN ..`` of D, ``BM = ⌈⌈M / GH⌉ / 16⌉·16``, ``BN`` likewise with GW;
K in ``L = ⌈K / KB⌉`` panels; A's panel p of row block gy lives at position
((p + gy) mod GW, gy), B's panel p of column block gx at (gx, (p + gx + 1) mod GH)
(:meth:`SummaKernel.owner_a`, :meth:`~SummaKernel.owner_b`).
"""

from dataclasses import dataclass, field

import numpy as np

from hw.common.params import check_int
from hw.core.isa import DmaDescriptor, GemmDescriptor
from hw.mesh.config import MeshConfig
from verif.core.kernels import OPERAND_FORMATS, check_fmt, random_operands
from verif.matmul.model import matmul
from verif.pack import pack_word
from verif.scalar import elf, riscv

from .programs import DIR
from .run import check_dead

__all__ = ["RESULT_WORDS", "TILE", "SummaKernel", "grid_of", "summa_kernel"]

#: summa.c's d1_result words, in order.
RESULT_WORDS = ("start", "end", "busy", "port", "operand", "backpressure", "idle",
                "wait_panels", "wait_gemms", "wait_credits", "status", "check")
#: Rows and columns of D per block are whole multiples of this (the D1 engine's tile).
TILE = 16
#: summa.c's semaphores that count the A and B panels landed.
_S_AIN, _S_BIN = 1, 2
_LINE = 64


def _ceil(a, b):
    return -(-a // b)


def _runs(cells):
    """The cores ``cells`` (of one row or one column of the mesh, in order, the sender left
    out) as runs of neighbours: a list of ``(first, last)`` corners, each run one multicast
    rectangle (its tree goes along the line from the sender)."""
    runs = []
    for cell in cells:
        if runs and abs(cell[0] - runs[-1][1][0]) + abs(cell[1] - runs[-1][1][1]) == 1:
            runs[-1] = (runs[-1][0], cell)
        else:
            runs.append((cell, cell))
    return runs


def _line_up(n):
    return _ceil(n, _LINE) * _LINE


def _block_side(n, parts):
    return _ceil(_ceil(n, parts), TILE) * TILE


def grid_of(config, m, n, dead=()):
    """The grid of cores the GEMM runs on: rows (top to bottom) of ``(x, y)`` cores. Every core
    of ``config`` when none is ``dead``; else the live cores in core-number order filling the
    ``gw`` × ``gh`` grid (``gw · gh`` ≤ live cores) whose largest block of D
    (:func:`_block_side` of M by ``gh`` times that of N by ``gw``) is smallest, the one with
    fewer cores on a tie."""
    if not dead:
        return [[(x, y) for x in range(config.width)] for y in range(config.height)]
    live = [(c % config.width, c // config.width) for c in range(config.nodes)
            if (c % config.width, c // config.width) not in dead]
    shapes = [(gw, gh) for gw in range(1, len(live) + 1)
              for gh in range(1, len(live) // gw + 1)]
    gw, gh = min(shapes, key=lambda s: (_block_side(m, s[1]) * _block_side(n, s[0]),
                                        s[0] * s[1], s[0]))
    return [[live[gy * gw + gx] for gx in range(gw)] for gy in range(gh)]


@dataclass
class SummaKernel:
    """A built distributed GEMM for a mesh with its operands ``a`` (M×K) and ``b`` (K×N)
    codes; ``path`` the ELF every core runs, ``program`` it loaded."""
    config: MeshConfig
    m: int
    n: int
    k: int
    kb: int
    fmt: str
    path: object
    program: object
    a: np.ndarray
    b: np.ndarray
    grid: list
    dead: tuple = ()
    selfcheck: bool = False
    multicast: bool = True
    _ref: tuple | None = field(default=None, repr=False)

    @property
    def multicasts(self):
        """Whether the panels go by multicast pushes (docs/mesh.md, "Multicast pushes"):
        with ``multicast`` and every core live, where the grid is the mesh (its rows and
        columns the mesh's) and the XY tables take every tree (docs/noc.md, "Multicast")."""
        return self.multicast and not self.dead

    @property
    def esize(self):
        return self.a.itemsize

    @property
    def gw(self):
        return len(self.grid[0])

    @property
    def gh(self):
        return len(self.grid)

    @property
    def bm(self):
        return _block_side(self.m, self.gh)

    @property
    def bn(self):
        return _block_side(self.n, self.gw)

    def positions(self):
        """``((gx, gy), (x, y))`` of every grid position and its core, row by row."""
        return [((gx, gy), core) for gy, row in enumerate(self.grid)
                for gx, core in enumerate(row)]

    @property
    def panels(self):
        return _ceil(self.k, self.kb)

    def block(self, gx, gy):
        """``(row0, rows, col0, cols)`` of grid position (gx, gy)'s block of D (rows or cols
        may be 0)."""
        r0, c0 = gy * self.bm, gx * self.bn
        return (r0, max(0, min(self.bm, self.m - r0)), c0, max(0, min(self.bn, self.n - c0)))

    def _panel(self, p):
        return slice(p * self.kb, min(self.k, (p + 1) * self.kb))

    def owner_a(self, p, gy):
        """The grid column that owns A's panel p of row block ``gy``: ``(p + gy) mod GW``."""
        return (p + gy) % self.gw

    def owner_b(self, p, gx):
        """The grid row that owns B's panel p of column block ``gx``: ``(p + gx + 1) mod GH``.
        Skewed so that on a square grid no core owns both panels 0: a core's first panels
        come from different cores, and a receiver waits for its first panel's lines only
        (not for a sender busy with the other panel 0 first)."""
        return (p + gx + 1) % self.gh

    def owned_a(self, gx, gy):
        """The panels of A that position (gx, gy) owns (its ``aown[p // GW]``)."""
        return range((gx - gy) % self.gw, self.panels, self.gw)

    def owned_b(self, gx, gy):
        """The panels of B that position (gx, gy) owns (its ``bown[p // GH]``)."""
        return range((gy - gx - 1) % self.gh, self.panels, self.gh)

    @property
    def parts(self):
        """GEMM parts per panel of a full block: 2 when half of BM rows is whole lines of Aᵀ
        (summa.c: the engine never idles between panels), else 1."""
        half = self.bm // 2
        return 2 if half and half * self.esize % _LINE == 0 else 1

    def _part_rows(self, rows):
        """``(row0, rows)`` of each part of a block of ``rows`` rows (no empty part)."""
        if self.parts == 1 or rows <= self.bm // 2:
            return [(0, rows)] if rows else []
        return [(0, self.bm // 2), (self.bm // 2, rows - self.bm // 2)]

    def segments(self):
        """Each grid core's data: ``{(x, y): [(address, bytes), ...]}``: its own panels
        (``aown``, ``bown``) and its plan (:meth:`plan`)."""
        w, h, es = self.gw, self.gh, self.esize
        lda, ldb = _line_up(self.bm * es) // es, _line_up(self.bn * es) // es
        sym = self.program.symbols
        out = {}
        for (x, y), core in self.positions():
            r0, rows, c0, cols = self.block(x, y)
            aown = np.zeros((_ceil(self.panels, w), self.kb, lda), self.a.dtype)
            for p in self.owned_a(x, y):
                ks = self._panel(p)
                aown[p // w, :ks.stop - ks.start, :rows] = self.a[r0:r0 + rows, ks].T
            bown = np.zeros((_ceil(self.panels, h), self.kb, ldb), self.b.dtype)
            for p in self.owned_b(x, y):
                ks = self._panel(p)
                bown[p // h, :ks.stop - ks.start, :cols] = self.b[ks, c0:c0 + cols]
            out[core] = [(sym["aown"], aown.tobytes()), (sym["bown"], bown.tobytes()),
                         *self.plan(x, y)]
            if self.selfcheck:
                dexp = np.zeros((self.bm, _line_up(4 * self.bn) // 4), np.uint32)
                dexp[:rows, :cols] = self.reference()[r0:r0 + rows, c0:c0 + cols]
                out[core].append((sym["dexp"], dexp.tobytes()))
        return out

    def plan(self, gx, gy):
        """Grid position (gx, gy)'s plan, as ``(address, bytes)`` segments: ``d1_plan``, its
        GEMM descriptors (``gdesc[p][h]``: part h of panel p, C = D from panel 1 on) and its
        pushes (``pushes``: per panel it owns, one DMA list of remote descriptors, one per
        other core of its grid row (A) or column (B), into buffer p mod 2 there, each adding 1
        to S_AIN or S_BIN there; with :attr:`multicasts`, one multicast descriptor per run of
        those cores on one side of this one, at most two per list)."""
        sym, es, L = self.program.symbols, self.esize, self.panels
        w, h = self.gw, self.gh
        lda, ldb, ldd = _line_up(self.bm * es), _line_up(self.bn * es), _line_up(4 * self.bn)
        panel_a, panel_b = self.kb * lda, self.kb * ldb
        _, rows, _, cols = self.block(gx, gy)
        code = lambda cx, cy: cx | cy << 4                          # noqa: E731
        parts = self._part_rows(rows) if cols else []
        gdesc = bytearray(L * 2 * 64)
        pushes, apush, bpush, aneed, bneed = [], [0] * L, [0] * L, [0] * L, [0] * L
        ain, bin_, aowner, bowner = [0] * L, [0] * L, [0] * L, [0] * L
        credits_a = credits_b = 0

        def push_list(src, dst, nbytes, peers, sem):
            first = sym["pushes"] + 64 * len(pushes)
            targets = _runs(peers) if self.multicasts else [(p, p) for p in peers]
            for i, ((x0, y0), (x1, y1)) in enumerate(targets):
                nxt = first + 64 * (i + 1) if i + 1 < len(targets) else 0
                many = {"mcast": 1, "rect_x": x0, "rect_y": y0} if self.multicasts else {}
                pushes.append(pack_word(DmaDescriptor, {
                    "src": src, "dst": dst, "src_elem_stride": 64, "rows": 1,
                    "elems": nbytes // 64, "elem_bytes": 2, "local": 0, "dst_x": x1,
                    "dst_y": y1, "next": nxt, "signal": sem | 1 << 4 | 1 << 5, **many}))
            return first

        row_peers = [c for i, c in enumerate(self.grid[gy]) if i != gx]
        col_peers = [self.grid[j][gx] for j in range(h) if j != gy]
        for p in range(L):
            kp = self._panel(p).stop - self._panel(p).start
            own_a, own_b = self.owner_a(p, gy) == gx, self.owner_b(p, gx) == gy
            a = (sym["aown"] + (p // w) * panel_a) if own_a else sym["abuf"] + (p % 2) * panel_a
            b = (sym["bown"] + (p // h) * panel_b) if own_b else sym["bbuf"] + (p % 2) * panel_b
            ain[p], bin_[p] = int(not own_a), int(not own_b)
            aowner[p] = code(*self.grid[gy][self.owner_a(p, gy)])
            bowner[p] = code(*self.grid[self.owner_b(p, gx)][gx])
            if own_a and row_peers:
                credits_a += len(row_peers) if p >= 2 else 0
                aneed[p] = credits_a
                apush[p] = push_list(a, sym["abuf"] + (p % 2) * panel_a, kp * lda, row_peers,
                                     _S_AIN)
            if own_b and col_peers:
                credits_b += len(col_peers) if p >= 2 else 0
                bneed[p] = credits_b
                bpush[p] = push_list(b, sym["bbuf"] + (p % 2) * panel_b, kp * ldb, col_peers,
                                     _S_BIN)
            for i, (r0, m) in enumerate(parts):
                word = pack_word(GemmDescriptor, {
                    "a": a + r0 * es, "b": b, "c": sym["d"] + r0 * ldd, "d": sym["d"] + r0 * ldd,
                    "lda": lda, "ldb": ldb, "ldc": ldd, "ldd": ldd, "m": m, "n": cols, "k": kp,
                    "load_c": int(p > 0)})
                gdesc[(2 * p + i) * 64:(2 * p + i + 1) * 64] = word.to_bytes(64, "little")
        u32 = lambda v: np.asarray(v, np.uint32).tobytes()          # noqa: E731
        plan = (u32([1, len(parts)]) + u32(apush) + u32(bpush) + u32(aneed) + u32(bneed)
                + bytes(ain) + bytes(bin_) + bytes(aowner) + bytes(bowner))
        segs = [(sym["d1_plan"], plan), (sym["gdesc"], bytes(gdesc))]
        if pushes:
            segs.append((sym["pushes"], b"".join(v.to_bytes(64, "little") for v in pushes)))
        return segs

    def reads(self):
        """The ranges the host reads back: per grid core its rows of ``d`` and ``d1_result``,
        as ``(x, y, address, bytes)``, grid positions row by row, D's range first."""
        ldd = _line_up(4 * self.bn)
        out = []
        for (gx, gy), (x, y) in self.positions():
            rows = self.block(gx, gy)[1]
            out += [(x, y, self.program.symbols["d"], max(1, rows) * ldd),
                    (x, y, self.program.symbols["d1_result"], 8 * len(RESULT_WORDS))]
        return out

    def reference(self):
        """D (M×N FP32 codes) by the SoftFloat-based reference of the whole A·B (cached)."""
        if self._ref is None:
            a_fmt, a_bias, b_fmt, b_bias = OPERAND_FORMATS[self.fmt]
            self._ref = matmul(self.a, self.b, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt,
                               b_bias=b_bias)
        return self._ref[0]

    def collect(self, data):
        """``(d, results)`` from the bytes read back (``data``: :meth:`reads`' ranges in
        order): D (M×N uint32) and each core's result words (a dict by (x, y))."""
        ldd = _line_up(4 * self.bn)
        d = np.zeros((self.m, self.n), np.uint32)
        results = {}
        it = iter(data)
        for (gx, gy), core in self.positions():
            r0, rows, c0, cols = self.block(gx, gy)
            raw = np.frombuffer(next(it), np.uint32).reshape(-1, ldd // 4)
            d[r0:r0 + rows, c0:c0 + cols] = raw[:rows, :cols]
            words = np.frombuffer(next(it), np.uint64).tolist()
            results[core] = dict(zip(RESULT_WORDS, words, strict=True))
        return d, results

    def errors(self, data):
        """What is wrong with the run (sentences; none: all right): D against the reference,
        a core's error registers or its own checks."""
        d, results = self.collect(data)
        errors = []
        bad = int((d != self.reference()).sum())
        if bad:
            errors.append(f"{bad} of {d.size} elements of D differ from the SoftFloat-based "
                          f"reference of A·B")
        for core, r in results.items():
            if r["status"] or r["check"]:
                errors.append(f"core {core}: error registers {r['status']:#x}, "
                              f"check {r['check']}")
        return errors

    def figures(self, data):
        """The run's figures: ``cycles`` (the first instruction of any core to the last byte
        of D anywhere), ``utilisation`` (M·N·K over the live cores' peak in those cycles), and
        per grid core its result words."""
        _, results = self.collect(data)
        start = min(r["start"] for r in results.values())
        end = max(r["end"] for r in results.values())
        cycles = end - start
        peak = self.config.core.matmul.macs_per_cycle * (self.config.nodes - len(self.dead))
        return {"cycles": cycles, "utilisation": self.m * self.n * self.k / (peak * cycles),
                "cores": results}


def summa_kernel(config, m, n, k, *, kb=None, fmt="bf16", seed=0, dead=(), selfcheck=False,
                 multicast=True):
    """The distributed GEMM on the live cores of ``config`` (a :class:`MeshConfig`; ``dead``:
    its dead cores, as ``run_mesh_program`` takes them) and an M×N×K product with random
    operands; ``kb`` the panel width (None: 64, or K when smaller). ``selfcheck``: each core
    also gets its block of the reference D and compares it (its ``check`` word counts the
    elements that differ), for runs whose D is not read back. ``multicast``: the panels go by
    multicast pushes when every core lives (:attr:`SummaKernel.multicasts`), else one push
    per receiver."""
    if not isinstance(config, MeshConfig):
        raise TypeError(f"config must be a MeshConfig, not {config!r}")
    check_fmt(fmt)
    for name, v in (("m", m), ("n", n), ("k", k)):
        check_int(name, v, 1, 0xFFFF)
    kb = min(64, k) if kb is None else check_int("kb", kb, 1, k)
    dead = check_dead(config, dead)
    grid = grid_of(config, m, n, dead)
    gw, gh = len(grid[0]), len(grid)
    defines = {"M": m, "N": n, "K": k, "KB": kb, "GW": gw, "GH": gh,
               **({"CFP8": 1} if fmt == "cfp8" else {}), **({"SELFCHECK": 1} if selfcheck else {})}
    name = (f"mesh/summa-{fmt}-{m}x{n}x{k}-kb{kb}-{gw}x{gh}"
            f"{'-check' if selfcheck else ''}")
    path = riscv.build(name, [DIR / "summa.c"], defines=defines,
                       depends=[DIR / "mesh.h", DIR.parent.parent / "core" / "kernels" / "gemm.h"])
    program = elf.load(path, size=config.core.sram.size)
    a, b = random_operands(m, n, k, fmt, np.random.default_rng(seed))
    return SummaKernel(config, m, n, k, kb, fmt, path, program, a, b, grid, dead=dead,
                       selfcheck=selfcheck, multicast=bool(multicast))
