"""The core's kernels (``verif/core/kernels``) on the core model: the GEMM kernel in BF16 and
CFP8 at a shape that is not a multiple of the tile writes D equal, bit for bit, to the
SoftFloat-based GEMM reference (``d1core gemm``'s), and leaves its error register clear. The
same kernels on the RTL are in ``test_core.py``."""

import pytest

from verif.core.kernels import gemm_kernel
from verif.core.model import CoreModel


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
