"""The core's kernels (C, ``*.c`` here), with the host side of each: the build (its -D flags),
the operands placed in the image, and the check of the result against the references.

``gemm``: one GEMM block in the engine's layout (``gemm.c``).
``layernorm``: layer normalisation of FP32 rows on the vector unit (``layernorm.c``; its host
side is the module ``verif.core.kernels.layernorm``).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from verif.matmul.model import matmul
from verif.scalar import elf, riscv

__all__ = ["DIR", "GemmKernel", "gemm_kernel"]

DIR = Path(__file__).resolve().parent
#: d1_result's words (gemm.c).
RESULT_WORDS = ("cycles", "busy", "port", "operand", "backpressure", "idle", "status")
_FORMATS = {"bf16": ("bf16", None, "bf16", None), "cfp8": ("cfp8_143", 7, "cfp8_152", 15)}


def _line_up(n):
    return -(-n // 64) * 64


@dataclass
class GemmKernel:
    """A built GEMM kernel with its operands: ``program`` (the ELF, loaded), ``image`` (its
    segments plus the operands), ``a`` (M×K), ``b`` (K×N) codes, and the addresses of D and of
    the result words."""
    m: int
    n: int
    k: int
    fmt: str
    program: object
    image: list
    a: np.ndarray
    b: np.ndarray

    @property
    def esize(self):
        return 1 if self.fmt == "cfp8" else 2

    def reference(self):
        """D and its flags by the SoftFloat-based GEMM reference (``d1core gemm``'s)."""
        a_fmt, a_bias, b_fmt, b_bias = _FORMATS[self.fmt]
        return matmul(self.a, self.b, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt, b_bias=b_bias)

    def d_from(self, read):
        """D (M×N uint32) out of memory, ``read(address, n)`` giving bytes."""
        ldd = _line_up(4 * self.n)
        base = self.program.symbols["d"]
        rows = [np.frombuffer(read(base + i * ldd, 4 * self.n), np.uint32)
                for i in range(self.m)]
        return np.stack(rows)

    def results(self, read):
        """The kernel's d1_result words as a dict (:data:`RESULT_WORDS`)."""
        raw = read(self.program.symbols["d1_result"], 8 * len(RESULT_WORDS))
        return dict(zip(RESULT_WORDS, np.frombuffer(raw, np.uint64).tolist(), strict=True))


def gemm_kernel(m, n, k, *, fmt="bf16", seed=0):
    """The GEMM kernel for an M×N×K block with random operands (finite, normal and subnormal
    codes of the format, both signs)."""
    if fmt not in _FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(_FORMATS)}, not {fmt!r}")
    defines = {"M": m, "N": n, "K": k, **({"CFP8": 1} if fmt == "cfp8" else {})}
    path = riscv.build(f"kernels/gemm-{fmt}-{m}x{n}x{k}", [DIR / "gemm.c"], defines=defines)
    program = elf.load(path)
    rng = np.random.default_rng(seed)
    if fmt == "cfp8":
        a = rng.integers(0, 256, (m, k), dtype=np.uint8)
        b = rng.integers(0, 256, (k, n), dtype=np.uint8)
        # no NaN or infinity codes in the operands (1-4-3 has none; 1-5-2's are 0x7C..0x7F)
        b[(b & 0x7C) == 0x7C] &= 0xFB
        dtype = np.uint8
    else:
        # BF16 values of moderate exponent (no overflow in the sums), random mantissas
        def codes(shape):
            sign = rng.integers(0, 2, shape) << 15
            exp = rng.integers(112, 136, shape) << 7
            return (sign | exp | rng.integers(0, 128, shape)).astype(np.uint16)
        a, b = codes((m, k)), codes((k, n))
        dtype = np.uint16
    esize = np.dtype(dtype).itemsize
    lda, ldb = _line_up(m * esize), _line_up(n * esize)
    at_bytes = np.zeros((k, lda // esize), dtype)
    at_bytes[:, :m] = a.T
    b_bytes = np.zeros((k, ldb // esize), dtype)
    b_bytes[:, :n] = b
    image = list(program.segments)
    image += [(program.symbols["at"], at_bytes.tobytes()),
              (program.symbols["b"], b_bytes.tobytes())]
    return GemmKernel(m, n, k, fmt, program, image, a, b)
