"""Fast tests of the matrix array and engine (``hw/matmul/``) in Amaranth's Python simulator.

Layers: construction and its error messages; the presets' derived values and the stream layouts;
then GEMMs streamed through small arrays and blocks (the same RTL as the 8×8 array and the D1
engine, with fewer FMAs so that the Python simulator stays quick) with random input idles and
output backpressure, checked bit for bit against ``verif.matmul.model.matmul``, and the stream
rules of the output checked every cycle.
"""

import random

import numpy as np
import pytest
from amaranth.lib import data
from amaranth.sim import Simulator

from hw.fp.formats import FLAG_INVALID, FP32
from hw.matmul.array import (
    ArrayControl,
    MatmulArray,
    ProcessingElement,
    TileDrain,
    TileLoader,
    beat_layout,
    d_row_layout,
)
from hw.matmul.config import D1, SMALL, MatmulConfig, get_preset
from hw.matmul.engine import BeatFork, MatmulEngine, RowJoin, RowSplit, engine_layouts
from tests.amaranth_sim import raises_unelaborated, receive, send
from verif.matmul import tiling
from verif.matmul.engine_tb import format_bias, operands
from verif.matmul.model import matmul

# --- construction ------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"name": ""}, TypeError, r"^name must be a non-empty string, not ''$"),
    ({"block_rows": 0}, ValueError, r"^block_rows must be in 1\.\.4, not 0$"),
    ({"block_cols": 5}, ValueError, r"^block_cols must be in 1\.\.4, not 5$"),
    ({"unit_rows": 2.0}, TypeError, r"^unit_rows must be an integer, not 2\.0$"),
    ({"unit_cols": 17}, ValueError, r"^unit_cols must be in 1\.\.16, not 17$"),
    ({"tag_width": -1}, ValueError, r"^tag_width must be in 0\.\.64, not -1$"),
    ({"formats": "bf16"}, TypeError, r"^formats must be a sequence of format names, not 'bf16'$"),
    ({"formats": ()}, ValueError, r"^formats must name at least one format$"),
    ({"formats": ("bf16", "fp32")}, ValueError,
     r"^FP32 is not a matrix operand format; expected bf16, cfp8_143, cfp8_152$"),
    ({"formats": ("shp",)}, ValueError,
     r"^CFP16 SHP is not a matrix operand format; expected bf16, cfp8_143, cfp8_152$"),
    ({"formats": ("bf16", "bf16")}, ValueError, r"^format 'bf16' is listed more than once$"),
    ({"formats": ("fp8",)}, ValueError, r"^unknown format 'fp8'; expected one of fp32, bf16, "),
])
def test_config_errors(kwargs, error, message):
    raises_unelaborated(error, message, MatmulConfig, **{"name": "X", **kwargs})


@pytest.mark.parametrize(("factory", "kwargs", "error", "message"), [
    (MatmulArray, {"rows": 0}, ValueError, r"^rows must be in 1\.\.16, not 0$"),
    (MatmulArray, {"cols": "8"}, TypeError, r"^cols must be an integer, not '8'$"),
    (MatmulArray, {"tag_width": 65}, ValueError, r"^tag_width must be in 0\.\.64, not 65$"),
    (MatmulArray, {"formats": ("uhp",)}, ValueError, r"^CFP16 UHP is not a matrix operand "),
    (ArrayControl, {"latency": 0, "c_delay": 0}, ValueError,
     r"^latency must be in 1\.\.64, not 0$"),
    (ArrayControl, {"latency": 4, "c_delay": 4}, ValueError,
     r"^c_delay must be in 0\.\.3, not 4$"),
    (ArrayControl, {"latency": 4, "c_delay": -1}, ValueError,
     r"^c_delay must be in 0\.\.3, not -1$"),
    (TileLoader, {"depth": 0}, ValueError, r"^depth must be in 1\.\.64, not 0$"),
    (TileDrain, {"depth": 65}, ValueError, r"^depth must be in 1\.\.64, not 65$"),
    (TileDrain, {"rows": 17}, ValueError, r"^rows must be in 1\.\.16, not 17$"),
    (ProcessingElement, {"width": 33}, ValueError, r"^width must be in 1\.\.32, not 33$"),
])
def test_component_errors(factory, kwargs, error, message):
    raises_unelaborated(error, message, factory, **kwargs)


@pytest.mark.parametrize("factory", [MatmulEngine, BeatFork, RowSplit, RowJoin, engine_layouts])
def test_engine_needs_config(factory):
    raises_unelaborated(TypeError, r"^config must be an instance of MatmulConfig, not 'D1'$",
                        factory, "D1")


def test_presets_and_plans():
    assert get_preset("D1") is D1 and get_preset("SMALL") is SMALL
    with pytest.raises(ValueError, match=r"^unknown preset 'd2'; expected one of D1, SMALL$"):
        get_preset("d2")
    # D1: four 8×8 arrays as a 2×2 block, 256 MACs per cycle from 64 B of BF16 operands.
    assert (D1.units, D1.tile_rows, D1.tile_cols, D1.macs_per_cycle) == (4, 16, 16, 256)
    assert (SMALL.units, SMALL.tile_rows, SMALL.macs_per_cycle) == (1, 8, 64)
    assert D1.beat_bytes("bf16", "bf16") == 64 and D1.beat_bytes("cfp8_143", "cfp8_152") == 32
    assert (D1.row_bytes, D1.tile_bytes) == (64, 1024)
    assert D1.interleave == D1.fma_latency - D1.fma_c_delay >= 1
    with pytest.raises(ValueError, match=r"^K must be at least 1, not 0$"):
        tiling.plan_gemm(D1, 4, 4, 0)
    with pytest.raises(TypeError, match=r"^M must be an integer, not 4\.0$"):
        tiling.plan_gemm(D1, 4.0, 4, 4)
    plan = tiling.plan_gemm(D1, 33, 17, 5)  # 3 × 2 tiles of 16×16
    assert plan.tiles == ((0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1))
    assert [len(g) for g in plan.groups] == [min(D1.interleave, 6 - i)
                                             for i in range(0, 6, D1.interleave)]
    assert plan.n_beats == len(plan.groups) * D1.interleave * 5
    assert plan.n_d_rows == plan.n_c_rows == 6 * 16


def test_layouts():
    # Operand lanes are 16 bits (BF16); a CFP8-only array has 8-bit lanes.
    assert data.Layout.cast(beat_layout(8, 8, 16, 8)).size == 2 * 8 * 16 + 4 + 8
    assert data.Layout.cast(d_row_layout(8, 8, 8)).size == 8 * 32 + 8 * 6 + 3 + 1 + 8
    layouts = engine_layouts(D1)
    assert data.Layout.cast(layouts["beat"]).size == 2 * 16 * 16 + 4 + 8
    assert data.Layout.cast(layouts["c_row"]).size == 16 * 32
    cfp8 = MatmulConfig("C", formats=("cfp8_143",))
    assert cfp8.operand_width == 8
    raises_unelaborated(ValueError, r"^tag_width must be in 0\.\.64, not 99$",
                        d_row_layout, 8, 8, 99)


# --- simulation ----------------------------------------------------------------------------------


def _run(dut, config, gemms, *, idle=0.0, stall=0.0, seed=1, limit=20_000):
    """Stream GEMMs through ``dut`` (a MatmulArray or MatmulEngine with ``config``'s shape), each
    after a register write of its formats; return one ``(d, flags)`` per GEMM and the cycles.

    ``gemms``: dicts with ``a``, ``b``, ``c``, ``a_fmt``, ``a_bias``, ``b_fmt``, ``b_bias`` and
    optionally ``codes`` (raw format codes to write instead)."""
    rng = random.Random(seed)
    jobs = []
    for g in gemms:
        m, k = g["a"].shape
        plan = tiling.plan_gemm(config, m, g["b"].shape[1], k, load=g["c"] is not None)
        beats = tiling.pack_beats(config, tiling.beats(plan, g["a"], g["b"]))
        crows = (tiling.pack_c_rows(config, tiling.c_rows(plan, g["c"]))
                 if g["c"] is not None else [])
        codes = g.get("codes") or (g["a_fmt"], g["b_fmt"])
        cfg = tiling.pack_config(codes[0], g["a_bias"], codes[1], g["b_bias"])
        jobs.append((plan, beats, crows, cfg))
    out = [[] for _ in jobs]
    state = {"job": 0, "cycles": 0}
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def drive(ctx):
        for j, (_plan, beats, crows, cfg) in enumerate(jobs):
            while state["job"] < j:      # the previous GEMM has drained: write the register
                await ctx.tick()
            ctx.set(dut.cfg.payload.as_value(), cfg)
            ctx.set(dut.cfg.valid, 1)
            await ctx.tick()
            ctx.set(dut.cfg.valid, 0)
            state["c"] = crows
            await send(ctx, dut.i, beats, rnd=rng, p_idle=idle)

    async def drive_c(ctx):
        for j, (_plan, _beats, crows, _cfg) in enumerate(jobs):
            while state["job"] < j or state.get("c") is not crows:
                await ctx.tick()
            await send(ctx, dut.c, crows, rnd=rng, p_idle=idle)

    async def sink(ctx):
        for j, (plan, *_rest) in enumerate(jobs):
            out[j], cycles = await receive(ctx, dut.o, plan.n_d_rows, rnd=rng, p_stall=stall,
                                           limit=limit - state["cycles"])
            state["cycles"] += cycles
            state["job"] = j + 1
        ctx.set(dut.o.ready, 0)

    sim.add_testbench(drive)
    sim.add_testbench(drive_c)
    sim.add_testbench(sink)
    sim.run()
    results = []
    for (plan, *_rest), words in zip(jobs, out, strict=True):
        got = tiling.unpack_d_rows(config, words)
        expect = tiling.expected_rows(plan)
        for field in ("row", "last", "tag"):
            assert np.array_equal(got[field], expect[field]), field
        results.append(tiling.assemble(plan, got))
    return results, state["cycles"]


def _gemm(rng, m, n, k, a_fmt="bf16", b_fmt="bf16", *, a_bias=None, b_bias=None, kind="normal",
          with_c=True):
    a_bias, b_bias = format_bias(a_fmt, a_bias), format_bias(b_fmt, b_bias)
    a, b, c = operands(rng, m, n, k, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt, b_bias=b_bias,
                       kind=kind, with_c=with_c)
    return {"a": a, "b": b, "c": c, "a_fmt": a_fmt, "a_bias": a_bias, "b_fmt": b_fmt,
            "b_bias": b_bias}


def _expected(g):
    return matmul(g["a"], g["b"], g["c"], a_fmt=g["a_fmt"], a_bias=g["a_bias"],
                  b_fmt=g["b_fmt"], b_bias=g["b_bias"])


def _check(results, gemms):
    for k, ((d, f), g) in enumerate(zip(results, gemms, strict=True)):
        exp_d, exp_f = _expected(g)
        bad = np.argwhere((d != exp_d) | (f != exp_f))
        assert not len(bad), (f"GEMM {k}: {len(bad)} elements differ, first {bad[0]}: "
                              f"{d[tuple(bad[0])]:#x}/{f[tuple(bad[0])]:#x}, expected "
                              f"{exp_d[tuple(bad[0])]:#x}/{exp_f[tuple(bad[0])]:#x}")


def test_array_one_pe():
    """A 1×1 array: tiles of K = 1 to 9 in full and partial groups, with and without C, every
    format pair, under random idles and backpressure."""
    cfg = MatmulConfig("T", unit_rows=1, unit_cols=1)
    rng = np.random.default_rng(1)
    gemms = [_gemm(rng, 5, 1, 3, "bf16", "cfp8_143", b_bias=63),
             _gemm(rng, 2, 3, 1, "cfp8_152", "bf16", a_bias=0, with_c=False),
             _gemm(rng, 1, 1, 9, "cfp8_143", "cfp8_152", a_bias=7, b_bias=20, kind="raw"),
             _gemm(rng, 4, 2, 2, kind="specials")]
    results, _ = _run(MatmulArray(rows=1, cols=1), cfg, gemms, idle=0.3, stall=0.3)
    _check(results, gemms)


def test_array_rows_and_columns():
    """A 2×1 and a 1×2 array: each PE its own operands, rows drained in order."""
    rng = np.random.default_rng(2)
    for rows, cols in ((2, 1), (1, 2)):
        cfg = MatmulConfig("T", unit_rows=rows, unit_cols=cols)
        gemms = [_gemm(rng, 3, 3, 4, "bf16", "bf16"), _gemm(rng, 2, 1, 2, kind="underflow")]
        results, _ = _run(MatmulArray(rows=rows, cols=cols), cfg, gemms, idle=0.2, stall=0.4,
                          seed=rows)
        _check(results, gemms)


def test_engine_block():
    """A 2×2 block of 1×1 arrays: the beat fork, the C row split and the output row join keep
    the arrays in step and the rows in order, under idles and backpressure."""
    cfg = MatmulConfig("B", block_rows=2, block_cols=2, unit_rows=1, unit_cols=1)
    rng = np.random.default_rng(3)
    gemms = [_gemm(rng, 3, 5, 3, "cfp8_143", "bf16", a_bias=0),
             _gemm(rng, 2, 2, 2, kind="overflow", with_c=False)]
    results, _ = _run(MatmulEngine(cfg), cfg, gemms, idle=0.3, stall=0.3)
    _check(results, gemms)


def test_full_rate():
    """Without idles or backpressure a group of L tiles takes one beat per cycle: the GEMM's
    cycles are its beats plus the fixed costs of filling and emptying the pipeline."""
    cfg = MatmulConfig("T", unit_rows=1, unit_cols=1)
    rng = np.random.default_rng(4)
    k = 6
    gemms = [_gemm(rng, cfg.interleave, 1, k, with_c=False)]
    results, cycles = _run(MatmulArray(rows=1, cols=1), cfg, gemms)
    _check(results, gemms)
    # One register write, L·K beats, the FMA latency, the drain register and the last rows.
    assert cycles <= 1 + cfg.interleave * k + cfg.fma_latency + 2 + cfg.interleave


def test_bad_format_code():
    """A format code the FMAs were not built for gives the canonical NaN with Invalid in every
    element, and a good configuration written afterwards works again."""
    cfg = MatmulConfig("T", unit_rows=1, unit_cols=1)
    rng = np.random.default_rng(5)
    bad = [dict(_gemm(rng, 2, 1, 2), codes=(0, 1)), dict(_gemm(rng, 1, 1, 3), codes=(1, 7))]
    good = _gemm(rng, 2, 1, 3, "cfp8_152", "cfp8_143", a_bias=63, b_bias=0)
    results, _ = _run(MatmulArray(rows=1, cols=1), cfg, bad + [good], idle=0.2, stall=0.2)
    for d, f in results[:2]:
        assert (d == FP32.qnan_code).all() and (f == FLAG_INVALID).all()
    _check(results[2:], [good])
