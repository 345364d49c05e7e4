"""The matrix engine in RTL simulation, on Verilator and Icarus, against the reference model.

What runs where, and why (figures in docs/matmul.md):

* ``BLOCK``, a 2×2 block of 2×1 arrays (8 FMAs: the beat fork, the C row split and the row join
  of D1 and every array mechanism), and ``ARRAY``, one 3×2 array (6 FMAs), run every case on
  both simulators: the same RTL as the presets, parameterized, with tiles small enough that
  GEMMs of many shapes cost few cycles.
* The presets themselves, ``SMALL`` (one 8×8 array) and ``D1`` (the 256-MAC engine), run every
  case on Verilator, which builds D1 in about half a minute (shared PEs, hierarchical
  Verilation) and simulates it at about a thousand cycles per second. Icarus simulates D1's 256
  FMAs at a few cycles per second: it runs D1 on one small GEMM (``icarus_d1``).
* Verilator runs the full sizes below; Icarus, one to two orders of magnitude slower, the same
  tests on fewer and smaller GEMMs.
"""

import numpy as np
import pytest

from hw.matmul.config import D1, SMALL, MatmulConfig
from sim.flow.build import Design
from sim.flow.runner import run_cocotb
from sim.flow.toolchain import SIMULATORS
from tests.groups import same_build
from verif.harness import stream_harness
from verif.matmul.engine_tb import operands
from verif.matmul.model import matmul
from verif.matmul.tiling import EngineBench

#: A 2×2 block of 2×1 arrays: a 4×2 output tile, 8 MACs per cycle.
BLOCK = MatmulConfig("BLOCK", block_rows=2, block_cols=2, unit_rows=2, unit_cols=1)
#: One 3×2 array: 6 MACs per cycle.
ARRAY = MatmulConfig("ARRAY", unit_rows=3, unit_cols=2)

CONFIGS = {"block": BLOCK, "array": ARRAY, "small": SMALL, "d1": D1}
#: The regression's engines; ``d1core gemm`` builds the presets' alike (verif.matmul.gemm_run).
DESIGNS = {name: Design.of(f"matmul_bench_{name}", EngineBench, config=cfg)
           for name, cfg in CONFIGS.items()}
#: Simulators each configuration runs every case on. D1's engine is not run on Icarus, which
#: simulates its 256 FMAs at a few cycles per second (one GEMM of six tiles took 80 s): the same
#: RTL runs there at the block and array presets, and inside the SMALL core
#: (tests/core/test_core.py's GEMM kernels on Icarus).
SIMS = {"block": SIMULATORS, "array": SIMULATORS, "small": ["verilator"], "d1": ["verilator"]}

FULL = {"verilator": True, "icarus": False}


def _config_args(cfg):
    return {"name": cfg.name, "block_rows": cfg.block_rows, "block_cols": cfg.block_cols,
            "unit_rows": cfg.unit_rows, "unit_cols": cfg.unit_cols,
            "formats": list(cfg.formats), "tag_width": cfg.tag_width}


def _shapes(cfg, full, seed=1):
    """M and N from 1 to a few tiles, never all whole tiles; K from 1 to 512."""
    rng = np.random.default_rng(seed)
    ks = [1, 2, 3, 5, 8, 13, 31, 64] + ([100, 257, 512] if full else [40])
    shapes = []
    for k in ks:
        m = int(rng.integers(1, 3 * cfg.tile_rows + 2))
        n = int(rng.integers(1, 3 * cfg.tile_cols + 2))
        if m % cfg.tile_rows == 0 and n % cfg.tile_cols == 0:
            m += 1
        if k > 64:  # keep long GEMMs to a group of tiles or two
            m, n = min(m, 2 * cfg.tile_rows - 1), min(n, 2 * cfg.tile_cols + 1)
        shapes.append([m, n, k])
    return shapes


CASES = {
    "shapes": lambda cfg, full: {"shapes": _shapes(cfg, full), "idle": 24, "stall": 24},
    "formats": lambda cfg, full: {"shape": [cfg.tile_rows + 1, cfg.tile_cols - 1, 6 if full else 3],
                                  "biases": [0, 63, None] if full else [0, 63]},
    "specials": lambda cfg, full: {"shape": [cfg.tile_rows + 2, cfg.tile_cols + 1,
                                             12 if full else 4],
                                   **({} if full else {"pairs": [["bf16", "bf16"],
                                                                 ["cfp8_143", "cfp8_152"],
                                                                 ["cfp8_152", "bf16"]]})},
    "backpressure": lambda cfg, full: {"shapes": [[2 * cfg.tile_rows - 1, cfg.tile_cols + 1, 9],
                                                  [cfg.tile_rows, 2 * cfg.tile_cols, 1]]},
    "bad_format": lambda cfg, full: {"shape": [cfg.tile_rows, cfg.tile_cols + 1, 3]},
    "throughput": lambda cfg, full: {"shapes": [[4 * cfg.tile_rows, cfg.tile_cols, 64 if full
                                                 else 16]]},
}


#: Each (configuration, simulator) on one worker (one build); D1's cases take minutes in all.
@pytest.mark.parametrize(("config", "case", "sim"), [
    pytest.param(config, case, sim, marks=[same_build(DESIGNS[config], sim),
                                           *([pytest.mark.slow] if config == "d1" else [])])
    for config in CONFIGS for case in CASES for sim in SIMS[config]])
def test_engine(config, case, sim):
    cfg = CONFIGS[config]
    run_cocotb(DESIGNS[config], "tests.matmul.tb_engine", sim, harness=stream_harness,
               testcase=case, quiet=True,
               args={"config": _config_args(cfg), **CASES[case](cfg, FULL[sim])})


# --- d1core gemm ---------------------------------------------------------------------------------

def _gemm(*argv):
    from sim.cli import main

    return main(["gemm", *map(str, argv)])


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(("argv", "message"), [
    (["--m", 4, "--n", 4, "--k", 4, "--a-format", "fp32"],
     "--a-format must be one of bf16, cfp8-143 (or cfp8_143), cfp8-152 (or cfp8_152), not 'fp32'"),
    (["--m", 4, "--n", 4, "--k", 4, "--b-format", "cfp8_999"],
     "--b-format must be one of bf16, cfp8-143 (or cfp8_143), cfp8-152 (or cfp8_152), "
     "not 'cfp8_999'"),
    (["--m", 4, "--n", 4, "--k", 4, "--a-bias", 3],
     "--a-bias: BF16 has a fixed bias; give --a-bias only with a CFP8 format"),
    (["--m", 4, "--n", 4, "--k", 4, "--b-format", "cfp8-143", "--b-bias", 64],
     "--b-bias: CFP8 1-4-3 bias must be an integer in 0..63, not 64"),
    (["--m", 4, "--n", 4], "--k required (or --in FILE.npz)"),
    (["--m", 0, "--n", 4, "--k", 4], "argument --m: must be at least 1, not 0"),
])
def test_gemm_usage_errors(argv, message, capsys):
    assert _gemm(*argv) == 2
    assert f"d1core gemm: error: {message}" in capsys.readouterr().err


@pytest.mark.parametrize(("arrays", "extra", "message"), [
    ({"a": np.zeros((2, 3), np.float32), "b": np.zeros((3, 4), np.uint16)}, [],
     "A holds bf16 codes and must have dtype uint16, not float32"),
    ({"a": np.zeros(3, np.uint16), "b": np.zeros((3, 4), np.uint16)}, [],
     r"A must be a 2-D array (MxK), not an array of shape (3,)"),
    ({"a": np.zeros((2, 3), np.uint16), "b": np.zeros((4, 4), np.uint16)}, [],
     "A is MxK and B is KxN, but A has K=3 and B has K=4"),
    ({"a": np.zeros((2, 3), np.uint16), "b": np.zeros((3, 5), np.uint16),
      "c": np.zeros((5, 2), np.uint32)}, [], "C must be MxN = 2x5, not an array of shape (5, 2)"),
    ({"a": np.zeros((2, 3), np.uint16), "b": np.zeros((3, 5), np.uint16),
      "c": np.zeros((2, 5), np.float32)}, [],
     "C holds FP32 codes and must have dtype uint32, not float32"),
    ({"a": np.zeros((2, 3), np.uint16), "b": np.zeros((3, 5), np.uint16)},
     ["--a-format", "cfp8-143"], "A holds cfp8_143 codes and must have dtype uint8, not uint16"),
    ({"a": np.zeros((2, 3), np.uint16)}, [], "has no array 'b' (it holds a)"),
    ({"a": np.zeros((2, 3), np.uint16), "b": np.zeros((3, 5), np.uint16)}, ["--m", 5],
     "--m 5 disagrees with"),
])
def test_gemm_input_errors(arrays, extra, message, tmp_path, capsys):
    path = _npz(tmp_path / "in.npz", **arrays)
    assert _gemm("--in", path, *extra) == 2
    err = capsys.readouterr().err
    assert "d1core gemm: error: " in err and message in err


def test_gemm_file_errors(tmp_path, capsys):
    assert _gemm("--in", tmp_path / "missing.npz") == 2
    assert capsys.readouterr().err == (f"d1core gemm: error: {tmp_path / 'missing.npz'}: "
                                       "no such file (--in)\n")
    # argparse: --seed and --in exclude each other (exit 2, never SystemExit: the exit contract)
    assert _gemm("--seed", 1, "--in", tmp_path / "x.npz") == 2


@pytest.fixture
def small_preset(monkeypatch):
    """The command on the regression's ARRAY engine (already built), as preset "TEST"."""
    import sim.commands.gemm

    monkeypatch.setitem(sim.commands.gemm.PRESETS, "TEST", ARRAY)
    monkeypatch.setitem(sim.commands.gemm.GEMM_DESIGNS, "TEST", DESIGNS["array"])
    for simulator in ("verilator", "icarus"):  # its size estimate: one array, as SMALL
        monkeypatch.setitem(sim.commands.gemm.CYCLES_PER_SECOND, ("TEST", simulator),
                            sim.commands.gemm.CYCLES_PER_SECOND[("SMALL", simulator)])
    return sim.commands.gemm


def test_gemm_command(small_preset, tmp_path, capsys):
    """A GEMM from a file runs, matches the model, reports its figures and writes them."""
    rng = np.random.default_rng(8)
    a, b, c = operands(rng, 7, 5, 9, a_fmt="cfp8_152", a_bias=40, b_fmt="bf16")
    path = _npz(tmp_path / "in.npz", a=a, b=b, c=c)
    out = tmp_path / "out.npz"
    assert small_preset.run(inp=path, out=out, a_format="cfp8-152", a_bias=40,
                            preset="TEST") == 0
    text = capsys.readouterr().out
    assert "7x5x9: 315 MACs in" in text and "% of the 6-MAC peak" in text
    assert "PASS: every element" in text
    got = np.load(out)
    exp_d, exp_f = matmul(a, b, c, a_fmt="cfp8_152", a_bias=40, b_fmt="bf16")
    assert np.array_equal(got["d"], exp_d) and np.array_equal(got["flags"], exp_f)
    assert got["d"].dtype == np.uint32 and int(got["macs"]) == 315
    assert 0 < float(got["utilisation"]) <= 1


def test_operands_unknown_kind():
    """The random operands of the engine's tests refuse a kind they do not know."""
    with pytest.raises(ValueError, match=r"^kind must be one of normal, raw, specials, "
                                         r"underflow, overflow, not 'nan'$"):
        operands(np.random.default_rng(0), 2, 2, 2, kind="nan")


def test_gemm_reports_mismatches(small_preset, monkeypatch, capsys):
    """A disagreement with the model is reported element by element, and counted."""
    def wrong(*args, **kwargs):
        d, f = matmul(*args, **kwargs)
        d = d.copy()
        d[1, 2] ^= 1
        return d, f

    monkeypatch.setattr(small_preset, "matmul", wrong)
    assert small_preset.run(m=3, n=4, k=2, seed=5, preset="TEST") == 1
    captured = capsys.readouterr()
    assert "1 of 12 GEMM results differ from the model" in captured.err
    assert "D[1,2]: C 0x" in captured.err
    assert "FAIL: 1 of 12 elements differ" in captured.out
