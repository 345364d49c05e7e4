"""The D1 core (2×2 block of 8×8 arrays, 1.25 MB scratchpad) on Verilator: the GEMM kernel and the
row-major GEMM kernel with the fused epilogue at shapes that are not multiples of the 16×16 tile,
checked in lockstep with the core model, the whole scratchpad equal to the model's, D bit for bit
equal to the SoftFloat-based reference (and the epilogue's BF16 output to the vector model's);
the matrix unit busy exactly for the engine's beats. The layer-normalisation kernel likewise, its
output equal to the same operations in numpy. (Icarus: the SMALL core, ``test_core.py``; the
D1 core on Icarus takes too long for the regression. The 256³ figures come from ``d1core bench
--only core``.)"""


from hw.core.config import D1
from tests.groups import core_build
from verif.core.kernels import gemm_kernel, gemm_rm_kernel
from verif.core.kernels.layernorm import layernorm_kernel
from verif.core.run import run_core_program

#: One worker builds the D1 core and runs every test here, after the build.
pytestmark = core_build("D1", "verilator")


def test_gemm_kernel_on_the_d1_core():
    m, n, k = 40, 72, 24
    kern = gemm_kernel(m, n, k, fmt="bf16", seed=4)
    run = run_core_program(kern.image, config=D1, sim="verilator", tohost=kern.program.tohost,
                           max_cycles=200_000)
    assert run.status == "pass", (run.status, run.test)
    ref, _ = kern.reference()
    assert (kern.d_from(run.read) == ref).all()
    res = kern.results(run.read)
    t = D1.matmul.tile_rows
    groups = -(-m // (2 * t)) * -(-n // (2 * t))
    assert res["status"] == 0 and res["busy"] == groups * 4 * k


def test_gemm_rm_kernel_on_the_d1_core():
    """Kernel 2 (row-major A and B, the head split, three slabs, pieces of 64 columns, SR): D
    and the BF16 output equal to the references."""
    m, n, k = 72, 136, 64
    kern = gemm_rm_kernel(m, n, k, head_k=32, epilogue="sr", seed=4)
    run = run_core_program(kern.image, config=D1, sim="verilator", tohost=kern.program.tohost,
                           max_cycles=200_000)
    assert run.status == "pass", (run.status, run.test)
    ref, _ = kern.reference()
    assert (kern.d_from(run.read) == ref).all()
    assert (kern.out_from(run.read) == kern.epilogue_reference(ref)).all()
    res = kern.results(run.read)
    assert res["status"] == res["vector_status"] == res["dma_status"] == 0


def test_layernorm_kernel_on_the_d1_core():
    """The layer-normalisation kernel on the D1 core at an odd line count (7 lines a row):
    its BF16 rows bit for bit equal to the same operations in numpy, the vector unit busy for
    exactly its lines. (The 64×1024 figure comes from ``d1core bench --only core``.)"""
    kern = layernorm_kernel(6, 112, seed=6)
    run = run_core_program(kern.image, config=D1, sim="verilator", tohost=kern.program.tohost,
                           max_cycles=200_000)
    assert run.status == "pass", (run.status, run.test)
    assert (kern.y_from(run.read) == kern.reference()).all()
    res = kern.results(run.read)
    assert res["status"] == 0 and res["busy"] == sum(kern.vop_lines())
