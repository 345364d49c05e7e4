"""The distributed GEMM (``verif/mesh/programs/summa.c``, host side ``verif/mesh/gemm.py``).

Model level (no simulation): chaining K panels through C is bit for bit one GEMM over all of K
(the premise of checking the mesh's D against the whole product); every panel of A and B is
loaded into exactly one core, at the place the program reads it; D is assembled from the
blocks read back, and one wrong bit is reported. RTL: the program on the 2×2 mesh of SMALL
cores (the mesh tests' one Verilator build), BF16 and CFP8, with blocks and a last panel that do
not divide evenly; D read back through the edge port against the SoftFloat-based reference."""

import numpy as np
import pytest

from hw.core.config import SMALL
from hw.core.isa import DmaDescriptor
from hw.mesh.config import MESH_2X2, MeshConfig
from hw.noc.routing import Rect
from tests.groups import same_build
from verif.core.kernels import OPERAND_FORMATS, random_operands
from verif.matmul.model import matmul
from verif.mesh.gemm import RESULT_WORDS, grid_of, summa_kernel
from verif.mesh.mesh_tb import MeshBench
from verif.mesh.run import run_mesh_program
from verif.pack import unpack

VERILATOR = [pytest.param("verilator", marks=[
    same_build(MeshBench(MESH_2X2).mesh, "verilator"), pytest.mark.slow])]


@pytest.mark.parametrize("fmt", ["bf16", "cfp8"])
def test_panels_chained_through_c_are_one_gemm(fmt):
    """D = A·B equals, bit for bit, the panels' GEMMs chained through C (each panel's D is the
    next one's C): the matrix unit accumulates in k order from C. Operands with mixed signs and
    exponents, so that another order would round differently."""
    a_fmt, a_bias, b_fmt, b_bias = OPERAND_FORMATS[fmt]
    a, b = random_operands(24, 20, 50, fmt, np.random.default_rng(3))
    kw = dict(a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt, b_bias=b_bias)
    whole, _ = matmul(a, b, **kw)
    d = None
    for k0 in range(0, 50, 16):
        d, _ = matmul(a[:, k0:k0 + 16], b[k0:k0 + 16], d, **kw)
    assert (d == whole).all()
    # the order matters for these operands: the panels summed the other way round differ
    r = None
    for k0 in reversed(range(0, 50, 16)):
        r, _ = matmul(a[:, k0:k0 + 16], b[k0:k0 + 16], r, **kw)
    assert (r != whole).any()


def _unpack(kern, segments):
    """A and B rebuilt from the cores' own panels (each element from exactly one core)."""
    syms = kern.program.symbols
    es, dt = kern.esize, kern.a.dtype
    lda = -(-kern.bm * es // 64) * 64 // es
    ldb = -(-kern.bn * es // 64) * 64 // es
    a = np.zeros(kern.a.shape, dt)
    b = np.zeros(kern.b.shape, dt)
    seen_a = np.zeros(kern.a.shape, int)
    seen_b = np.zeros(kern.b.shape, int)
    w, h = kern.gw, kern.gh
    assert len(segments) == w * h
    for (x, y), core in kern.positions():
        blobs = dict(segments[core])
        aown = np.frombuffer(blobs[syms["aown"]], dt).reshape(-1, kern.kb, lda)
        bown = np.frombuffer(blobs[syms["bown"]], dt).reshape(-1, kern.kb, ldb)
        r0, rows, c0, cols = kern.block(x, y)
        for p in range(kern.panels):
            if (p + y) % w != x:                # A's panel p of row y: column (p + y) mod W
                continue
            ks = slice(p * kern.kb, min(kern.k, (p + 1) * kern.kb))
            a[r0:r0 + rows, ks] = aown[p // w, :ks.stop - ks.start, :rows].T
            seen_a[r0:r0 + rows, ks] += 1
        for p in range(kern.panels):
            if (p + x + 1) % h != y:            # B's panel p of column x: row (p + x + 1) mod H
                continue
            ks = slice(p * kern.kb, min(kern.k, (p + 1) * kern.kb))
            b[ks, c0:c0 + cols] = bown[p // h, :ks.stop - ks.start, :cols]
            seen_b[ks, c0:c0 + cols] += 1
    return a, b, seen_a, seen_b


@pytest.mark.parametrize("w, h, m, n, k, kb, fmt, dead", [
    (2, 2, 64, 64, 64, 16, "bf16", ()), (2, 2, 40, 48, 72, 32, "cfp8", ()),
    (3, 2, 50, 70, 100, 16, "bf16", ()), (1, 3, 33, 17, 9, 4, "cfp8", ()),
    (2, 2, 48, 48, 48, 16, "bf16", ((1, 0),)), (4, 4, 160, 96, 40, 16, "cfp8", ((2, 1),))])
def test_every_panel_is_loaded_once(w, h, m, n, k, kb, fmt, dead):
    """Each element of A and B is in exactly one grid core's own panels, where the program
    reads it; each panel a core lacks is pushed to it exactly once, by its owner, into the
    buffer its GEMM reads."""
    config = MeshConfig("T", core=SMALL, width=w, height=h)
    kern = summa_kernel(config, m, n, k, kb=kb, fmt=fmt, seed=1, dead=dead)
    segments = kern.segments()
    a, b, seen_a, seen_b = _unpack(kern, segments)
    assert (seen_a == 1).all() and (seen_b == 1).all()
    assert (a == kern.a).all() and (b == kern.b).all()
    _check_pushes(kern, segments)


def _check_pushes(kern, segments):
    syms, L = kern.program.symbols, kern.panels
    es = kern.esize
    lda, ldb = -(-kern.bm * es // 64) * 64, -(-kern.bn * es // 64) * 64
    sent = []                               # (owner, destination, src, dst, bytes, sem)
    for core, segs in segments.items():
        blobs = dict(segs)
        raw = blobs.get(syms["pushes"], b"")
        for i in range(len(raw) // 64):
            f = unpack(DmaDescriptor, [int.from_bytes(raw[64 * i:64 * i + 64], "little")])
            f = {k: int(v[0]) for k, v in f.items()}
            assert f["local"] == 0 and f["elem_bytes"] == 2 and f["rows"] == 1
            assert f["mcast"] == kern.multicasts
            # A multicast push lands on each core of its rectangle: a run of the sender's row
            # or column, without the sender.
            rect = Rect(f["rect_x"], f["rect_y"], f["dst_x"], f["dst_y"]) if f["mcast"] else \
                Rect(f["dst_x"], f["dst_y"], f["dst_x"], f["dst_y"])
            assert core not in rect.nodes() and (rect.x0 == rect.x1 or rect.y0 == rect.y1)
            for to in rect.nodes():
                sent.append((core, to, f["src"], f["dst"], 64 * f["elems"], f["signal"] & 15))
    expected = []
    for (gx, gy), core in kern.positions():
        for p in range(L):
            kp = min(kern.k, (p + 1) * kern.kb) - p * kern.kb
            owner_a = kern.grid[gy][(p + gy) % kern.gw]
            if owner_a != core:
                expected.append((owner_a, core, syms["aown"] + (p // kern.gw) * kern.kb * lda,
                                 syms["abuf"] + (p % 2) * kern.kb * lda, kp * lda, 1))
            owner_b = kern.grid[(p + gx + 1) % kern.gh][gx]
            if owner_b != core:
                expected.append((owner_b, core, syms["bown"] + (p // kern.gh) * kern.kb * ldb,
                                 syms["bbuf"] + (p % 2) * kern.kb * ldb, kp * ldb, 2))
    assert sorted(sent) == sorted(expected)


def test_grid_of_the_live_cores():
    """Every core when all live (the mesh itself); with dead cores the live ones in
    core-number order on the grid with the smallest largest block, fewer cores on a tie."""
    mesh44 = MeshConfig("T", core=SMALL, width=4, height=4)
    assert grid_of(mesh44, 512, 512) == [[(x, y) for x in range(4)] for y in range(4)]
    g = grid_of(MESH_2X2, 48, 48, ((1, 0),))
    assert g == [[(0, 0)], [(0, 1)], [(1, 1)]]      # 1 × 3: blocks of 16×48 (a tie with 3 × 1)
    # 64×64 on three cores: 3 columns of 32 (tiles of 16) are no better than 2: two cores
    assert grid_of(MESH_2X2, 64, 64, ((1, 0),)) == [[(0, 0)], [(0, 1)]]
    g = grid_of(mesh44, 512, 512, ((2, 1),))
    assert len(g) * len(g[0]) == 15 and (2, 1) not in sum(g, [])


def test_d_is_assembled_from_the_blocks_and_checked():
    """:meth:`collect` puts each core's rows where :meth:`block` says; a single flipped bit in
    one core's block is reported as one wrong element."""
    kern = summa_kernel(MESH_2X2, 40, 48, 32, kb=16, seed=2)
    ref = kern.reference()
    ldd = -(-4 * kern.bn // 64) * 16
    data = []
    for x, y, _, nbytes in kern.reads():
        if nbytes == 8 * len(RESULT_WORDS):
            data.append(np.zeros(len(RESULT_WORDS), np.uint64).tobytes())
            continue
        r0, rows, c0, cols = kern.block(x, y)
        blk = np.zeros((nbytes // (4 * ldd), ldd), np.uint32)
        blk[:rows, :cols] = ref[r0:r0 + rows, c0:c0 + cols]
        data.append(blk.tobytes())
    assert kern.errors(data) == []
    bad = np.frombuffer(data[6], np.uint32).copy()     # core (1, 1)'s block: row 0, column 3
    bad[3] ^= 1
    data[6] = bad.tobytes()
    assert kern.errors(data) == ["1 of 1920 elements of D differ from the SoftFloat-based "
                                 "reference of A·B"]


def test_bad_parameters():
    with pytest.raises(TypeError, match="config must be a MeshConfig, not 'MESH_2X2'"):
        summa_kernel("MESH_2X2", 16, 16, 16)
    with pytest.raises(ValueError, match="fmt must be one of bf16, cfp8, not 'fp8'"):
        summa_kernel(MESH_2X2, 16, 16, 16, fmt="fp8")
    with pytest.raises(ValueError, match="kb must be in 1..16, not 32"):
        summa_kernel(MESH_2X2, 16, 16, 16, kb=32)
    with pytest.raises(ValueError, match="m must be in 1..65535, not 0"):
        summa_kernel(MESH_2X2, 0, 16, 16)
    with pytest.raises(ValueError, match=r"core \(0, 0\) cannot be dead"):
        summa_kernel(MESH_2X2, 16, 16, 16, dead=((0, 0),))


@pytest.mark.parametrize("sim", VERILATOR)
@pytest.mark.parametrize("m, n, k, kb, fmt, dead", [(64, 64, 64, 16, "bf16", ()),
                                                   (40, 48, 72, 32, "cfp8", ()),
                                                   (48, 48, 48, 16, "bf16", ((1, 0),))],
                         ids=["bf16-64x64x64", "cfp8-40x48x72", "bf16-48x48x48-dead-1-0"])
def test_summa_on_the_mesh(sim, m, n, k, kb, fmt, dead):
    """Every core passes its own checks (error registers clear), no packet is dropped or
    refused, and D read back equals the reference bit for bit; with (1, 0) dead the three live
    cores share the work (a grid of one column, three rows)."""
    kern = summa_kernel(MESH_2X2, m, n, k, kb=kb, fmt=fmt, seed=4, dead=dead)
    run = run_mesh_program(kern.path, config=MESH_2X2, sim=sim, max_cycles=300_000,
                           dead=dead, segments=kern.segments(), reads=kern.reads())
    assert run.status == "pass", (f"{run.status}: tohost {run.tohost} (run in {run.run_dir})"
                                  f"\n{run.watchdog or ''}")
    assert run.dropped == [0] * 4 and run.failed == [0] * 4 and run.refused == [0] * 4
    assert all(r["busy"] for r in kern.collect(run.reads)[1].values())
    assert kern.errors(run.reads) == []


@pytest.mark.parametrize("side", [2, 3, 4])
def test_no_core_sends_both_first_panels(side):
    """On a square grid the owners of A's and B's panel 0 are different cores, so every
    receiver's first panels come from different senders at once."""
    kern = summa_kernel(MeshConfig("T", core=SMALL, width=side, height=side), 64, 64, 64,
                        kb=16)
    for (gx, gy), _ in kern.positions():
        assert not (0 in kern.owned_a(gx, gy) and 0 in kern.owned_b(gx, gy))


@pytest.mark.parametrize("multicast", [True, False])
def test_panels_go_by_multicast_on_a_full_mesh(multicast):
    """On a full 4×3 mesh each panel's list holds one multicast descriptor per run of
    receivers on each side of its owner in its row (A) or column (B): two for an owner inside
    the line, one at its end, where unicast needs one push per receiver (3 for A, 2 for B);
    without ``multicast``, or with a dead core (the grid is then not the mesh's rows and
    columns), one push per receiver. The pushes land where they must either way."""
    config = MeshConfig("T", core=SMALL, width=4, height=3)
    panels = 16
    for dead in ((), ((2, 1),)):
        kern = summa_kernel(config, 64, 64, 16 * panels, kb=16, seed=1, dead=dead,
                            multicast=multicast)
        assert kern.multicasts == (multicast and not dead)
        segments = kern.segments()
        _check_pushes(kern, segments)
        if dead:
            continue
        pushes = kern.program.symbols["pushes"]
        count = sum(len(dict(segs).get(pushes, b"")) // 64 for segs in segments.values())
        runs = lambda owner, side: 2 if 0 < owner < side - 1 else 1        # noqa: E731
        if multicast:
            assert count == sum(runs((p + gy) % 4, 4) for gy in range(3) for p in range(panels)) \
                + sum(runs((p + gx + 1) % 3, 3) for gx in range(4) for p in range(panels))
        else:
            assert count == panels * (3 * 3 + 4 * 2)
