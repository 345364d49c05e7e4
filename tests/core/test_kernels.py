"""The core's kernels (``verif/core/kernels``) on the core model: the GEMM kernel in BF16 and
CFP8 at a shape that is not a multiple of the tile writes D equal, bit for bit, to the
SoftFloat-based GEMM reference (``d1core gemm``'s), and leaves its error register clear; the
row-major GEMM kernel (with and without the head split, BF16 and CFP8) the same, and with the
fused epilogue (RNE and SR) its BF16 output equal to the vector model's; its ZIP layout scheme
on the vector model; the epilogue's reference against numpy and ml_dtypes. The same kernels on
the RTL are in ``test_core.py`` and ``test_core_d1.py``. The layer-normalisation kernel writes
its BF16 rows equal, bit for bit, to the same operations in numpy, which are checked against
float64 layer normalisation."""

import ml_dtypes
import numpy as np
import pytest

from verif.core.kernels import gemm_kernel, gemm_rm_kernel, slab_rows
from verif.core.kernels.layernorm import (
    error_bound,
    fma32,
    layernorm_float64,
    layernorm_kernel,
    layernorm_numpy,
    vop_lines,
)
from verif.core.model import CoreModel
from verif.fp.fma import fma
from verif.vector.model import execute


@pytest.mark.parametrize("fmt", ["bf16", "cfp8"])
def test_gemm_kernel_on_the_model(fmt):
    kern = gemm_kernel(20, 24, 9, fmt=fmt, seed=1)
    model = CoreModel(threads=4, sram="D1", reset_pc=kern.program.entry,
                      tohost=kern.program.tohost)
    for addr, blob in kern.image:
        model.memory.write(addr, bytes(blob))
    assert model.run(100_000).status == "pass"
    ref, _ = kern.reference()
    assert (kern.d_from(model.memory.read) == ref).all()
    assert kern.results(model.memory.read)["status"] == 0


def test_gemm_kernel_refuses_a_format():
    with pytest.raises(ValueError, match=r"^fmt must be one of bf16, cfp8, not 'fp32'$"):
        gemm_kernel(16, 16, 16, fmt="fp32")


# --- kernels 1 and 2: row-major operands, the fused epilogue ----------------------------------

def _vop_lines(mem, op, vtype, count, a, b, d, strides):
    """One VOP of ``count`` lines on ``mem`` (bytes, lines of 64) with the vector model, reads
    before writes as the sequencer does (a, b, d line numbers; strides in lines)."""
    sa, sb, sd = strides
    idx = np.arange(count)
    z, _, err = execute(op, vtype, mem[a + idx * sa], mem[b + idx * sb])
    assert not err.any()
    mem[d + idx * sd] = z


@pytest.mark.parametrize("fmt,nb", [("bf16", 1), ("bf16", 3), ("bf16", 8), ("cfp8", 1),
                                    ("cfp8", 3)])
def test_zip_rounds_transpose_a_slab(fmt, nb):
    """gemm_rm.c's layout on the vector model: a slab of E rows of nb lines each (E = 32 BF16,
    64 CFP8 elements a line), as one array of 2H lines, by log2(E) rounds of two VOPs (line i of
    zip_lo / zip_hi joins lines i and i + H into lines 2i / 2i + 1), ping-ponging so that the
    last round writes the Aᵀ buffer: Aᵀ with one line per k, also for an nb that is not a power
    of two."""
    rows = slab_rows(fmt)
    vtype, dtype = ("int8", np.uint8) if fmt == "cfp8" else ("int16", np.uint16)
    lines = rows * nb
    a = np.random.default_rng(nb).integers(0, 1 << (8 * np.dtype(dtype).itemsize),
                                           (rows, 64 // np.dtype(dtype).itemsize * nb))
    a = a.astype(dtype)
    mem = np.zeros((3 * lines, 64), np.uint8)      # A, the scratch, Aᵀ
    mem[:lines] = a.view(np.uint8).reshape(lines, 64)
    rounds = rows.bit_length() - 1
    src, half = 0, lines // 2
    for r in range(rounds):
        dst = 2 * lines if (rounds - 1 - r) % 2 == 0 else lines
        _vop_lines(mem, "zip_lo", vtype, half, src, src + half, dst, (1, 1, 2))
        _vop_lines(mem, "zip_hi", vtype, half, src, src + half, dst + 1, (1, 1, 2))
        src = dst
    at = mem[2 * lines:].reshape(-1).view(dtype).reshape(-1, rows)
    assert (at == a.T).all()


def _run_on_model(kern):
    model = CoreModel(threads=4, sram="D1", reset_pc=kern.program.entry,
                      tohost=kern.program.tohost)
    for addr, blob in kern.image:
        model.memory.write(addr, bytes(blob))
    result = model.run(2_000_000)
    assert result.status == "pass", model.report(result)
    return model


@pytest.mark.parametrize("shape,fmt,head_k,epilogue", [
    ((40, 72, 24), "bf16", 0, None),          # one line a row of A, slabs of 32 and 8 rows
    ((70, 40, 96), "bf16", 32, None),         # the head split, three slabs
    ((70, 72, 128), "cfp8", 64, None),        # CFP8: slabs of 64 rows, the split
    ((40, 136, 40), "bf16", 0, "rne"),        # pieces of 64, 64 and 8 columns
    ((72, 136, 64), "bf16", 32, "sr"),        # the split and the epilogue, SR
    ((40, 72, 128), "cfp8", 64, "rne"),       # CFP8 operands, BF16 output
])
def test_gemm_rm_kernel_on_the_model(shape, fmt, head_k, epilogue):
    """The row-major GEMM kernel on the core model: D bit for bit equal to the SoftFloat-based
    reference; with the epilogue, OUT equal to the vector model's ADD, MAX, NARROW of D and the
    bias; every error register clear."""
    kern = gemm_rm_kernel(*shape, fmt=fmt, head_k=head_k, epilogue=epilogue, seed=2)
    model = _run_on_model(kern)
    ref, _ = kern.reference()
    assert (kern.d_from(model.memory.read) == ref).all()
    res = kern.results(model.memory.read)
    assert res["status"] == res["vector_status"] == res["dma_status"] == 0
    if epilogue:
        assert (kern.out_from(model.memory.read) == kern.epilogue_reference(ref)).all()


def test_epilogue_reference_against_numpy():
    """The epilogue's reference against numpy and ml_dtypes: RNE is float32 D + bias, negative
    values and -0 to +0, ml_dtypes' BF16 rounding (nearest even); SR rounds every value to one
    of its two BF16 neighbours (the code truncated, or one above), and not always the same."""
    kern = gemm_rm_kernel(40, 136, 40, epilogue="rne", seed=2)
    d, _ = kern.reference()
    x = d.view(np.float32) + kern.bias.view(np.float32)
    x = np.where(x > 0, x, np.float32(0))
    want = x.astype(ml_dtypes.bfloat16).view(np.uint16)
    assert (kern.epilogue_reference(d) == want).all()
    kern.epilogue = "sr"
    sr = kern.epilogue_reference(d).astype(np.int64)
    trunc = (x.view(np.uint32) >> 16).astype(np.int64)
    assert ((sr == trunc) | (sr == trunc + 1)).all()
    assert (sr == trunc + 1).any() and ((sr == trunc) & (x.view(np.uint32) & 0xFFFF != 0)).any()


@pytest.mark.parametrize("kw,error", [
    ({"fmt": "fp32"}, r"^fmt must be one of bf16, cfp8, not 'fp32'$"),
    ({"head_k": 16}, r"^head_k must be a multiple of 32 below k = 64, not 16$"),
    ({"head_k": 64}, r"^head_k must be a multiple of 32 below k = 64, not 64$"),
    ({"epilogue": "rtz"}, r"^epilogue must be None or one of rne, sr, not 'rtz'$"),
    ({"np_cols": 32}, r"^np_cols must be a multiple of 64 or n = 96, not 32$"),
    ({"np_cols": 128}, r"^np_cols must be in 1\.\.96, not 128$"),
])
def test_gemm_rm_kernel_refuses(kw, error):
    with pytest.raises(ValueError, match=error):
        gemm_rm_kernel(40, 96, 64, **kw)


# --- kernel 3: layer normalisation on the vector unit ---------------------------------------

@pytest.mark.parametrize("rows,cols", [(2, 16), (3, 48), (5, 96), (4, 320), (1, 160)])
def test_layernorm_kernel_on_the_model(rows, cols):
    """The kernel's BF16 rows on the core model equal, bit for bit, the same operations in
    numpy (``layernorm_numpy``, written independently of the vector model: numpy float32,
    one-rounding FMAs by round-to-odd, ml_dtypes' BF16), padding zero; no error. The shapes
    cover one line a row (no tree), an odd line count (the first level's leftover line), an
    odd count further down the tree (6 → 3 → 2 → 1), rows fewer than lines (a VOP per row)
    and more (a VOP per line), and a single row."""
    kern = layernorm_kernel(rows, cols, seed=rows)
    model = _run_on_model(kern)
    assert (kern.y_from(model.memory.read) == kern.reference()).all()
    assert kern.results(model.memory.read)["status"] == 0


def test_layernorm_numpy_is_a_layer_norm():
    """The kernel's algorithm (its numpy mirror) against float64 layer normalisation at the
    bench's shape: the FP32 values before the narrowing and the BF16 outputs within
    ``error_bound`` (the mean's error scaled by gamma/sigma, a few FP32 roundings, the Newton
    steps' last bits; then half a BF16 unit); the FP32 values' median relative error below
    2^-20 (a wrong step, e.g. one Newton step too few, would be far above it); a constant row
    gives beta exactly."""
    rng = np.random.default_rng(5)
    rows, cols = 64, 1024
    x = (rng.uniform(-4, 4, (rows, 1)) + np.exp(rng.uniform(-3, 2, (rows, 1)))
         * rng.standard_normal((rows, cols))).astype(np.float32)
    x[0] = np.float32(1.25)
    gamma = (1 + 0.25 * rng.standard_normal(cols)).astype(np.float32)
    beta = (0.5 * rng.standard_normal(cols)).astype(np.float32)
    y, f = layernorm_numpy(x, gamma, beta)
    exact = layernorm_float64(x, gamma, beta)
    bf16 = y.view(ml_dtypes.bfloat16).astype(np.float64)
    assert (np.abs(f - exact) <= error_bound(x, gamma, beta, bf16=False)).all()
    assert (np.abs(bf16 - exact) <= error_bound(x, gamma, beta)).all()
    assert np.median(np.abs(f - exact) / (np.abs(exact) + 1e-3)) < 2.0 ** -20
    assert (f[0] == beta).all()


def test_layernorm_numpy_fma_rounds_once():
    """The numpy mirror's FMA equals the project's FP32 FMA model (SoftFloat-checked) on
    operands whose product and sum need the single rounding: cancelling sums, ties, tiny
    results."""
    rng = np.random.default_rng(7)
    n = 20_000
    a = (rng.standard_normal(n) * 2.0 ** rng.integers(-40, 40, n)).astype(np.float32)
    b = (rng.standard_normal(n) * 2.0 ** rng.integers(-40, 40, n)).astype(np.float32)
    c = (-(a.astype(np.float64) * b) * (1 + rng.integers(-4, 5, n) * 2.0 ** -24)).astype(
        np.float32)
    c[::3] = (rng.standard_normal(n) * 2.0 ** rng.integers(-60, 60, n)).astype(np.float32)[::3]
    want, _ = fma(a.view(np.uint32), b.view(np.uint32), c.view(np.uint32))
    assert (fma32(a, b, c).view(np.uint32) == want).all()


@pytest.mark.parametrize("rows,cols,exc,msg", [
    (0, 16, ValueError, r"^rows must be in 1\.\.511, not 0$"),
    (512, 16, ValueError, r"^rows must be in 1\.\.511, not 512$"),
    (2, 40, ValueError, r"^cols must be a multiple of 16 in 16\.\.8176, not 40$"),
    (2, 8192, ValueError, r"^cols must be a multiple of 16 in 16\.\.8176, not 8192$"),
    (2.0, 16, TypeError, r"^rows must be an integer, not 2\.0$"),
    (2, "16", TypeError, r"^cols must be an integer, not '16'$"),
])
def test_layernorm_kernel_refuses_a_shape(rows, cols, exc, msg):
    with pytest.raises(exc, match=msg):
        layernorm_kernel(rows, cols)


def test_layernorm_vop_lines():
    """The line counts by rate class at the bench's shape, written out op by op (the RTL tests
    check ``vop_lines`` against the vector unit's busy counter)."""
    two, three = vop_lines(64, 1024)
    # per row: 32 + 31 adds, REDSUM, MUL, BCAST, 64 SUB, 32 MUL + 31 adds, REDSUM, BCAST,
    # SRL, MUL, SUB, 6 Newton MULs, 64 MUL, 64 NARROW
    assert two == 64 * (63 + 3 + 64 + 63 + 2 + 3 + 6 + 64 + 64)
    # 32 FMA, the variance FMA, 3 FNMA, 64 FMA
    assert three == 64 * (32 + 1 + 3 + 64)


def test_output_errors_name_what_is_wrong():
    """``output_errors``, the check the bench and ``d1core sim`` use: none on a good run; a
    changed element of D, of the epilogue's BF16 output, and a set error register each named."""
    kern = gemm_rm_kernel(40, 72, 24, epilogue="rne", seed=2)
    model = _run_on_model(kern)
    mem = model.memory
    assert kern.output_errors(mem.read) == []
    d = kern.program.symbols["d"]
    mem.write(d, bytes(b ^ 0xFF for b in mem.read(d, 4)))
    out = kern.results(mem.read)["out"]
    mem.write(out, bytes(b ^ 0x01 for b in mem.read(out, 2)))
    status = kern.program.symbols["d1_result"] + 8 * kern.RESULT_WORDS.index("dma_status")
    mem.write(status, (3).to_bytes(8, "little"))
    assert kern.output_errors(mem.read) == [
        "1 elements of D differ from the SoftFloat-based reference",
        "1 elements of the BF16 output differ from the vector model's epilogue",
        "error registers {'dma_status': 3}"]
