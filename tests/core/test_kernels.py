"""The core's kernels (``verif/core/kernels``) on the core model: the GEMM kernel in BF16 and
CFP8 at a shape that is not a multiple of the tile writes D equal, bit for bit, to the
SoftFloat-based GEMM reference (``d1core gemm``'s), and leaves its error register clear; the
layer-normalisation kernel writes its BF16 rows equal, bit for bit, to the same operations in
numpy, which are checked against float64 layer normalisation. The same kernels on the RTL are
in ``test_core.py``."""

import ml_dtypes
import numpy as np
import pytest

from verif.core.kernels import gemm_kernel
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


# --- kernel 3: layer normalisation on the vector unit ---------------------------------------

def _on_the_model(kern):
    model = CoreModel(threads=4, sram="D1", reset_pc=kern.program.entry,
                      tohost=kern.program.tohost)
    for addr, blob in kern.image:
        model.memory.write(addr, bytes(blob))
    assert model.run(1_000_000).status == "pass"
    return model


@pytest.mark.parametrize("rows,cols", [(2, 16), (3, 48), (5, 96), (4, 320), (1, 160)])
def test_layernorm_kernel_on_the_model(rows, cols):
    """The kernel's BF16 rows on the core model equal, bit for bit, the same operations in
    numpy (``layernorm_numpy``, written independently of the vector model: numpy float32,
    one-rounding FMAs by round-to-odd, ml_dtypes' BF16), padding zero; no error. The shapes
    cover one line a row (no tree), an odd line count (the first level's leftover line), an
    odd count further down the tree (6 → 3 → 2 → 1), rows fewer than lines (a VOP per row)
    and more (a VOP per line), and a single row."""
    kern = layernorm_kernel(rows, cols, seed=rows)
    model = _on_the_model(kern)
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
