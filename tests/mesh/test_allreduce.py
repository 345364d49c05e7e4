"""The all-reduce (``verif/mesh/programs/allreduce.c``, its host side ``verif/mesh/allreduce.py``,
docs/mesh.md "All-reduce").

The model (fast, no simulation): its order against a plain loop of scalar FP32 adds; that the
inputs make the order matter (another order changes bits, so a program adding in another order
fails the bit-for-bit check); that the vector unit's FP32 add (``verif/fp/fma.py``, the model
the RTL is checked against) gives numpy's bits on every add of the order; the partition (chunks
and pieces) for 1..16 cores and sizes that are not a multiple of 16·P; the bound; the errors.

The program on the 2×2 mesh of SMALL cores on Verilator (the one build of
``tests/mesh/test_mesh.py``): every core live, the host placing each core's input and reading
every result back to compare it bit for bit with the model's sum; (1, 0) dead (3 live cores),
each core checking its own result against the expected sum in its image (tohost); two live
cores and one; and such a run with one expected element changed by one unit in the last place
fails at exactly that element."""

import numpy as np
import pytest

from hw.mesh.config import MESH_2X2
from tests.groups import same_build
from verif.fp.fma import f32_add
from verif.mesh.allreduce import (
    LANES,
    MAX_CORES,
    allreduce_numpy,
    allreduce_program,
    chunks,
    decode_report,
    inputs,
    lines_of,
    lower_bound,
    pieces,
    ranks,
)
from verif.mesh.mesh_tb import MeshBench
from verif.mesh.run import run_mesh_program

VERILATOR = [pytest.param("verilator", marks=[
    same_build(MeshBench(MESH_2X2).mesh, "verilator"), pytest.mark.slow])]


def codes(x):
    return np.asarray(x, np.float32).view(np.uint32)


# --- the model ----------------------------------------------------------------------------

def test_order_is_left_to_right_in_rank_order():
    xs = inputs(5, 37, seed=3)
    want = np.empty(37, np.float32)
    for i in range(37):
        total = xs[0, i]
        for k in range(1, 5):
            total = np.float32(total + xs[k, i])
        want[i] = total
    assert np.array_equal(codes(allreduce_numpy(xs)), codes(want))
    assert np.array_equal(allreduce_numpy(xs[:1]), xs[0])


@pytest.mark.parametrize("p", [3, 4, 16])
def test_the_order_decides_the_bits(p):
    """Reversed, as a tree of two halves, or with ranks 1 and 2 swapped, the sum differs in
    some element: a program that added in another order would fail its check. (Swapping
    ranks 0 and 1 changes nothing: FP32 addition commutes.)"""
    xs = inputs(p, 512, seed=p)
    ours = codes(allreduce_numpy(xs))
    others = [allreduce_numpy(xs[::-1]), allreduce_numpy(xs[[0, 2, 1, *range(3, p)]]),
              allreduce_numpy([allreduce_numpy(xs[:p // 2]), allreduce_numpy(xs[p // 2:])])]
    for other in others:
        assert (codes(other) != ours).any()
    assert np.array_equal(codes(allreduce_numpy(xs[[1, 0, *range(2, p)]])), ours)


@pytest.mark.parametrize("p", [2, 3, 4, 16])
def test_vector_add_is_numpys_on_these_inputs(p):
    """Every add of the order, through the vector unit's FP32 model (the RTL's reference):
    the same bits as numpy's float32 add, and no NaN, infinity or subnormal on the way."""
    xs = inputs(p, 2048, seed=10 + p)
    total = xs[0]
    for row in xs[1:]:
        unit, _ = f32_add(codes(total), codes(row))
        total = total + row
        assert np.array_equal(np.asarray(unit, np.uint32), codes(total))
        assert np.isfinite(total).all()
        assert (np.abs(total[total != 0]) >= np.finfo(np.float32).tiny).all()


def test_inputs():
    xs = inputs(4, 4096, seed=1)
    assert np.array_equal(xs, inputs(4, 4096, seed=1))
    assert not np.array_equal(xs, inputs(4, 4096, seed=2))
    mag = np.abs(xs)
    assert (mag >= 2.0 ** -20).all() and (mag < 2.0 ** 21).all()
    assert (xs > 0).mean() == pytest.approx(0.5, abs=0.05)
    assert np.log2(mag).min() < -19 and np.log2(mag).max() > 19


@pytest.mark.parametrize("p", range(1, MAX_CORES + 1))
def test_chunks_cover_the_lines_once(p):
    for n in (1, 15, 17, 16 * p - 1, 16 * p + 1, 16 * 7 * p + 5, 1000):
        lines = lines_of(n)
        parts = chunks(lines, p)
        assert len(parts) == p
        assert [s for s, _ in parts] == [0, *np.cumsum([c for _, c in parts])[:-1].tolist()]
        assert sum(c for _, c in parts) == lines
        assert max(c for _, c in parts) - min(c for _, c in parts) <= 1
        assert max(c for _, c in parts) == -(-lines // p)      # the program's CMAX
        for _, count in parts:
            for piece in (1, 3, 8):
                got = pieces(count, piece)
                assert [s for s, _ in got] == list(range(0, count, piece))
                assert sum(c for _, c in got) == count and all(1 <= c <= piece for _, c in got)


def test_lines_and_bound():
    assert [lines_of(n) for n in (1, 16, 17, 32)] == [1, 1, 2, 2]
    # equal chunks: 2·(P-1)/P of the array's lines
    assert lower_bound(64 * LANES, 4) == 2 * 3 * 64 // 4
    assert lower_bound(63 * LANES, 3) == 2 * 2 * 63 // 3
    # unequal: the core with the largest chunk takes in the most
    assert lower_bound(10 * LANES, 4) == 3 * 3 + 10 - 3
    assert lower_bound(100, 1) == 0


def test_ranks_and_report():
    assert ranks(MESH_2X2) == [(0, 0), (1, 0), (0, 1), (1, 1)]
    assert ranks(MESH_2X2, ((1, 0),)) == [(0, 0), (0, 1), (1, 1)]
    assert decode_report((1234 << 42 | 56 << 21 | 7) << 1) == (7, 56, 1234)
    assert decode_report(1) is None and decode_report(7) is None and decode_report(0) is None


def test_errors():
    with pytest.raises(TypeError, match=r"^config must be an instance of MeshConfig, not 3$"):
        allreduce_program(16, config=3)
    with pytest.raises(ValueError, match=r"^n must be in 1\.\.524288, not 0$"):
        allreduce_program(0, config=MESH_2X2)
    with pytest.raises(ValueError, match=r"^piece must be in 1\.\.511, not 512$"):
        allreduce_program(16, config=MESH_2X2, piece=512)
    with pytest.raises(ValueError, match=r"^xs must be 4 × 16, not 3 × 16$"):
        allreduce_program(16, config=MESH_2X2, xs=np.zeros((3, 16), np.float32))
    with pytest.raises(ValueError, match=r"^core \(0, 0\) cannot be dead"):
        allreduce_program(16, config=MESH_2X2, dead=((0, 0),))
    with pytest.raises(ValueError, match=r"^p must be in 1\.\.16, not 17$"):
        chunks(4, 17)


def test_per_core_places_and_reads_and_compares_every_bit():
    """A per-core build: each live core's input (padded to whole lines) at ar_x, the results
    read from `result`; one flipped bit anywhere is found (rank, element)."""
    program = allreduce_program(40, config=MESH_2X2, dead=((1, 0),), per_core=True, seed=4)
    segs = program.segments()
    assert list(segs) == [(0, 0), (0, 1), (1, 1)]
    for (x, y), row in zip(program.ranks, program.xs, strict=True):
        [(at, blob)] = segs[x, y]
        assert len(blob) == 3 * 64 and blob[:160] == row.tobytes() and not any(blob[160:])
    reads = program.reads()
    assert [(x, y) for x, y, _, _ in reads] == program.ranks
    assert all(n == 3 * 64 for *_, n in reads)
    good = np.zeros(48, np.float32)
    good[:40] = program.expected
    assert program.difference([good.tobytes()] * 3) is None
    for rank, element, bit in ((0, 0, 0), (2, 39, 31), (1, 17, 12)):
        results = [bytearray(good.tobytes()) for _ in range(3)]
        results[rank][4 * element + bit // 8] ^= 1 << bit % 8
        assert program.difference(results) == (rank, element)


# --- the program on the RTL ---------------------------------------------------------------

def _run(program, dead, sim):
    return run_mesh_program(program.elf, config=MESH_2X2, sim=sim, max_cycles=200_000,
                            dead=dead)


@pytest.mark.parametrize("sim", VERILATOR)
def test_allreduce_on_the_mesh(sim):
    """Every core live, the host writing each core's input alone and reading every result
    back (a per-core build): 25 lines in chunks of 6, 6, 6, 7 lines, pieces of 4 (and 2, 3),
    every result equal bit for bit to the model's sum."""
    program = allreduce_program(400, config=MESH_2X2, piece=4, seed=400, per_core=True)
    run = run_mesh_program(program.elf, config=MESH_2X2, sim=sim, max_cycles=200_000,
                           segments=program.segments(), reads=program.reads())
    assert run.status == "pass", (f"{run.status}: tohost {run.tohost} (run in {run.run_dir})"
                                  f"\n{run.watchdog or ''}")
    assert program.difference(run.reads) is None
    assert run.dropped == [0] * 4 and run.failed == [0] * 4 and run.refused == [0] * 4


@pytest.mark.parametrize("sim", VERILATOR)
def test_allreduce_with_a_dead_core(sim):
    """(1, 0) dead: 3 live cores, 38 lines in chunks of 12, 13, 13; every core checks itself
    (its image holds every input and the expected sum)."""
    dead = ((1, 0),)
    program = allreduce_program(600, config=MESH_2X2, dead=dead, piece=8, seed=600)
    run = _run(program, dead, sim)
    assert run.status == "pass", (f"{run.status}: tohost {run.tohost} (run in {run.run_dir})"
                                  f"\n{run.watchdog or ''}")
    assert run.tohost == [1, 0, 1, 1]
    assert run.dropped == [0] * 4 and run.failed == [0] * 4 and run.refused == [0] * 4


@pytest.mark.parametrize("sim", VERILATOR)
@pytest.mark.parametrize("dead", [((1, 0), (1, 1)), ((1, 0), (0, 1), (1, 1))],
                         ids=["two-live", "one-live"])
def test_allreduce_on_fewer_cores(sim, dead):
    """Two live cores in a column (ranks (0, 0), (0, 1): 19 lines in chunks of 9 and 10,
    pieces of 2), and one (the sum is the input: no push, no add); self-checking."""
    program = allreduce_program(300, config=MESH_2X2, dead=dead, piece=2, seed=7)
    run = _run(program, dead, sim)
    assert run.status == "pass", (f"{run.status}: tohost {run.tohost} (run in {run.run_dir})"
                                  f"\n{run.watchdog or ''}")
    assert run.tohost == [0 if (x, y) in dead else 1 for y in range(2) for x in range(2)]
    assert run.dropped == [0] * 4 and run.failed == [0] * 4


@pytest.mark.parametrize("sim", VERILATOR)
def test_allreduce_fails_on_one_bit(sim):
    """The expected sum with one element one unit in the last place off: every core reports
    that element (tohost 2·(3 + i) + 1), so the check compares every bit."""
    n, i = 200, 53           # line 3: chunk 1, summed at (1, 0)
    xs = inputs(4, n, seed=5)
    expected = allreduce_numpy(xs)
    expected.view(np.uint32)[i] ^= 1
    program = allreduce_program(n, config=MESH_2X2, xs=xs, expected=expected)
    run = _run(program, (), sim)
    assert run.status == "fail"
    assert run.tohost == [2 * (3 + i) + 1] * 4
