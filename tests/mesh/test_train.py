"""The data-parallel training step (``verif/mesh/programs/train.c``, its host side and model
``verif/mesh/train.py``, docs/mesh.md "The training step").

The model (fast, no simulation): against a plain float64 numpy MLP (the loss goes down, its
gradients and losses close to float64's: the one place with a tolerance, since the model rounds
activations and gradients to BF16 where float64 does not); the premises the program rests on
(a product computed in both orientations is the same bits; the stochastic rounding depends on
the seed, so a core seeding differently would end with other weights; the reduction order
decides bits); the shards; the host's segments and the comparison finding one flipped bit;
the parameter errors.

The program on the 2×2 mesh of SMALL cores (Verilator, the one build of
``tests/mesh/test_mesh.py``): every core live, the host loading each core's shard and reading
every core's losses, BF16 weights and FP32 masters back, all equal bit for bit to the model's;
with (1, 0) dead (the global batch re-partitioned over three cores; marked ``bench``)."""

import numpy as np
import pytest

from hw.mesh.config import MESH_2X2, MESH_4X4
from tests.groups import same_build
from verif.matmul.model import matmul
from verif.mesh.mesh_tb import MeshBench
from verif.mesh.run import run_mesh_program
from verif.mesh.train import (
    SR_SEED,
    Sizes,
    bf16_values,
    float64_step,
    local_step,
    problem,
    shards,
    train_model,
    train_program,
)

VERILATOR = [pytest.param("verilator", marks=[
    same_build(MeshBench(MESH_2X2).mesh, "verilator"), pytest.mark.slow])]

SIZES = Sizes(din=32, hidden=16, dout=16, batch=48, steps=6, lr=0.25)


def f32(codes):
    return np.asarray(codes, np.uint32).view(np.float32).astype(np.float64)


def float64_training(sizes, x, t, w1, w2):
    """Plain float64 SGD from the same start: the loss of every step."""
    xv, tv = bf16_values(x), f32(t)
    w1v, w2v = bf16_values(w1).astype(np.float64), bf16_values(w2).astype(np.float64)
    losses = []
    for _ in range(sizes.steps):
        loss, dw1, dw2 = float64_step(xv, tv, w1v, w2v, sizes.batch)
        losses.append(loss)
        w1v, w2v = w1v - sizes.lr * dw1, w2v - sizes.lr * dw2
    return losses


# --- the model against float64 ---------------------------------------------------------------

@pytest.mark.parametrize("p", [1, 3, 4])
def test_model_gradients_close_to_float64(p):
    """The first step's loss and all-reduced gradients against float64 from the same weights
    and data. Tolerance (the one place with one): the model rounds H1, dY and dZ1 to BF16
    (8-bit significands: 2^-9 relative each), so its gradients differ from float64's by about
    1 % of their largest element; 3 % and a loss within 1 % catch a wrong transpose, a
    missing ReLU mask, a wrong scale or a shard left out (each off by far more)."""
    x, t, w1, w2 = problem(SIZES, seed=1)
    run = train_model(SIZES, x, t, w1, w2, p)
    loss, dw1, dw2 = float64_step(bf16_values(x), f32(t), bf16_values(w1), bf16_values(w2),
                                  SIZES.batch)
    assert abs(f32(run.losses[0]) - loss) <= 0.01 * loss
    for got, want in ((run.dw1[0], dw1), (run.dw2[0], dw2)):
        assert np.abs(f32(got) - want).max() <= 0.03 * np.abs(want).max()


def test_model_loss_goes_down_as_float64s():
    """Six steps: the model's loss falls every step, as float64's does, and stays within 2 %
    of it (the stochastic rounding of the weights keeps the updates unbiased)."""
    x, t, w1, w2 = problem(SIZES, seed=2)
    losses = f32(train_model(SIZES, x, t, w1, w2, 4).losses)
    want = float64_training(SIZES, x, t, w1, w2)
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))
    assert all(b < a for a, b in zip(want, want[1:], strict=False))
    assert losses[-1] < 0.8 * losses[0]
    assert np.allclose(losses, want, rtol=0.02)


# --- the premises ----------------------------------------------------------------------------

def test_both_orientations_are_the_same_bits():
    """The program computes Z1 and Z1ᵀ (Y and Yᵀ) as two GEMMs with A and B swapped: the same
    products accumulated in the same k order, so one is the other's transpose bit for bit."""
    x, _, w1, _ = problem(SIZES, seed=3)
    z1, _ = matmul(x, w1)
    z1t, _ = matmul(np.ascontiguousarray(w1.T), np.ascontiguousarray(x.T))
    assert np.array_equal(z1t, z1.T)


def test_stochastic_rounding_depends_on_the_seed():
    """The weights after a step with another SR seed differ (a core seeding differently would
    fail the comparison), and rounding to nearest would give still others: the SR decisions
    are checked, not just the masters."""
    sizes = Sizes(din=32, hidden=16, dout=16, batch=48, steps=1, lr=0.25)
    x, t, w1, w2 = problem(sizes, seed=4)
    ours = train_model(sizes, x, t, w1, w2, 4)
    other = train_model(sizes, x, t, w1, w2, 4, sr_seed=SR_SEED + 1)
    assert np.array_equal(ours.m1, other.m1) and np.array_equal(ours.m2, other.m2)
    assert (ours.w1 != other.w1).any() and (ours.w2 != other.w2).any()
    # the masters' values rounded to nearest even: some differ from the SR weights
    rne = ((ours.m1.astype(np.uint64) + 0x7FFF + (ours.m1 >> 16 & 1)) >> 16).astype(np.uint16)
    assert (rne != ours.w1).any()
    # and SR rounds to one of the two neighbours only
    assert (np.abs(ours.w1.astype(np.int64) - rne) <= 1).all()


def test_the_reduction_order_decides_bits():
    """Three or four shards of the same global batch give the same network but not the same
    bits (the gradients are summed in other orders): a program that summed in another order
    than the all-reduce's documented one would fail."""
    sizes = Sizes(din=32, hidden=16, dout=16, batch=48, steps=2, lr=0.25)
    x, t, w1, w2 = problem(sizes, seed=5)
    three, four = train_model(sizes, x, t, w1, w2, 3), train_model(sizes, x, t, w1, w2, 4)
    assert any((a != b).any() for a, b in zip(three.dw1 + three.dw2, four.dw1 + four.dw2,
                                              strict=True))


def test_local_gradients_sum_over_the_shard():
    """A shard's gradient array: dW1 and dW2 are its rows' contributions (the GEMMs contract
    over its rows only); the loss line holds its sum of squares in lane 0, zeros elsewhere."""
    x, t, w1, w2 = problem(SIZES, seed=6)
    g, inner = local_step(SIZES, x[:12], t[:12], w1, w2, 12)
    assert g.size == SIZES.words()
    assert (g[-15:] == 0).all()
    e = bf16_values(x[:12]) @ bf16_values(w1)      # float64: the sum of squares to 2 %
    e = np.maximum(e, 0) @ bf16_values(w2) - f32(t[:12])
    assert abs(f32(g[-16]) - (e * e).sum()) <= 0.02 * (e * e).sum()
    assert inner["dw1"].shape == (32, 16) and inner["dw2"].shape == (16, 16)


def test_shards():
    """Every row in exactly one shard, in rank order, sizes within one of each other."""
    for batch in (1, 17, 48, 64):
        for p in range(1, min(batch, 16) + 1):
            cuts = shards(batch, p)
            assert [a for a, _ in cuts] == list(np.cumsum([0] + [n for _, n in cuts])[:-1])
            assert sum(n for _, n in cuts) == batch
            assert max(n for _, n in cuts) - min(n for _, n in cuts) <= 1


# --- the host side ---------------------------------------------------------------------------

def test_segments_reads_and_one_flipped_bit():
    """Each live core gets its own shard (rows r·48/3 ..) in both layouts and the same weights;
    the reads name every live core; the model's own bytes compare equal, and one flipped bit
    in any core's loss, weight or master is reported with its core and place."""
    program = train_program(config=MESH_2X2, dead=((1, 0),), steps=2)
    segs = program.segments()
    assert list(segs) == [(0, 0), (0, 1), (1, 1)]
    assert program.bmax == 16
    for r, (x, y) in enumerate(program.ranks):
        named = dict(zip(("tr_rows", "xt", "x", "t", "tt"), segs[x, y], strict=False))
        assert np.frombuffer(named["tr_rows"][1], np.uint32)[0] == 16
        x_rows = np.frombuffer(named["x"][1], np.uint16).reshape(16, 32)
        assert np.array_equal(x_rows, program.x[16 * r:16 * r + 16])
    assert [(x, y) for x, y, _, _ in program.reads()][::5] == program.ranks
    good = program.model_reads()
    assert program.errors(good) == []
    for i, bit, message in ((0, 0, "core (0, 0): 1 elements of losses differ"),
                            (5 + 1, 9, "core (0, 1): 1 elements of w1 differ"),
                            (10 + 4, 31, "core (1, 1): 1 elements of m2 differ")):
        results = [bytearray(b) for b in good]
        results[i][bit // 8] ^= 1 << bit % 8
        [error] = program.errors(results)
        assert error.startswith(message)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"config": MESH_2X2, "steps": 0}, ValueError, "steps must be in 1..16, not 0"),
    ({"config": MESH_2X2, "din": 65}, ValueError, "din must be in 1..64, not 65"),
    ({"config": MESH_2X2, "dout": 33}, ValueError, "dout must be in 1..32, not 33"),
    ({"config": MESH_2X2, "batch": 3}, ValueError, "batch must be in 4..128, not 3"),
    ({"config": MESH_2X2, "batch": 129}, ValueError, "batch must be in 4..128, not 129"),
    ({"config": MESH_2X2, "hidden": "16"}, TypeError, "hidden must be an integer, not '16'"),
    ({"config": MESH_2X2, "lr": 1}, TypeError, "lr must be a float, not 1"),
    ({"config": MESH_2X2, "lr": 0.0}, ValueError, "lr must be in (0, 1], not 0.0"),
    ({"config": "2x2"}, TypeError, "config must be an instance of MeshConfig, not '2x2'"),
    ({"config": MESH_2X2, "dead": ((0, 0),)}, ValueError,
     "core (0, 0) cannot be dead: the edge port enters the mesh there"),
    ({"config": MESH_4X4}, ValueError, "the mesh must have at most 14 live cores, not 16"),
])
def test_errors(kwargs, error, message):
    with pytest.raises(error) as info:
        train_program(**kwargs)
    assert str(info.value) == message


def test_too_large_for_the_scratchpad():
    """Two live cores hold shards of 24 rows: with 16 steps' losses and stamps the program
    and its buffers no longer fit a SMALL core's 64 KiB with the stacks, refused before any
    run (the linker's region is the D1 core's: it does not refuse)."""
    with pytest.raises(ValueError, match=r"^the program with 2 live cores \(shards of 24 rows\) "
                       r"needs \d{2},\d{3} bytes of scratchpad with its stacks, more than the "
                       r"65,536 of a SMALL core$"):
        train_program(config=MESH_2X2, dead=((1, 0), (1, 1)), steps=16)


# --- the program on the RTL ------------------------------------------------------------------

def _run_and_check(program, dead, sim):
    run = run_mesh_program(program.elf, config=MESH_2X2, sim=sim, max_cycles=200_000,
                           dead=dead, segments=program.segments(), reads=program.reads())
    assert run.status == "pass", (f"{run.status}: tohost {run.tohost} (run in {run.run_dir})"
                                  f"\n{run.watchdog or ''}")
    assert run.tohost == [0 if (x, y) in dead else 1 for y in range(2) for x in range(2)]
    assert program.errors(run.reads) == []
    assert run.dropped == [0] * 4 and run.failed == [0] * 4 and run.refused == [0] * 4
    return run


@pytest.mark.parametrize("sim", VERILATOR)
def test_training_on_the_mesh(sim):
    """Every core live (shards of 12 rows): three steps; every core's losses, BF16 weights
    and FP32 masters equal bit for bit to the model's, no packet dropped, no error."""
    program = train_program(config=MESH_2X2, steps=3)
    run = _run_and_check(program, (), sim)
    assert all(u["matrix"] > 0 and u["vector"] > 0 and u["dma"] > 0 for u in run.utilisation)


@pytest.mark.bench
@pytest.mark.parametrize("sim", VERILATOR)
def test_training_with_a_dead_core(sim):
    """(1, 0) dead: the same global batch of 48 rows in three shards of 16; every live core
    equal bit for bit to the model of those shards (about 100 s: out of ``make test``)."""
    dead = ((1, 0),)
    program = train_program(config=MESH_2X2, dead=dead, steps=3)
    _run_and_check(program, dead, sim)
