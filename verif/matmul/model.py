"""Bit-exact numpy model of d1core's matrix multiply: ``D = A·B + C`` with FP32 accumulators.

The contract is ``docs/formats.md`` ("Arithmetic"); the arithmetic step is ``verif.fp.fma.fma``.

* A is M×K and B is K×N codes of BF16 or CFP8 (1-4-3 or 1-5-2), each with its own format and, for
  CFP8, its own bias; C is M×N FP32 codes (``None``: +0). D is M×N FP32 codes.
* Order: every accumulator advances in k order, one fused step per k, starting from C:
  ``acc[i, j] = fma(A[i, k], B[k, j], acc[i, j])`` for k = 0, 1, ..., K-1, i.e.
  ``RNE_fp32(acc + A[i, k]·B[k, j])`` with the product exact and one rounding per step.
* Flags: ``flags[i, j]`` is the OR over k of the flags of the steps of element (i, j) (sticky).
  Denormal is therefore raised when ``A[i, k]`` or ``B[k, j]`` is a denormal of its format, when
  ``C[i, j]`` is a subnormal FP32, and also when an intermediate accumulator value is a subnormal
  FP32 that feeds a later step (it is that step's ``c`` operand); a subnormal final value does not.
  Once an accumulator is NaN it stays the canonical NaN 0x7FC00000; Invalid is raised by the step
  that makes it (∞·0, ∞ - ∞, a signaling BF16 NaN or a signaling NaN in C).
"""

import numpy as np

from hw.fp.formats import get_format
from verif.fp.fma import fma
from verif.fp.formats import code_dtype

__all__ = ["MATMUL_FORMATS", "check_operands", "matmul"]

#: Formats of the A and B operands of a matrix multiply.
MATMUL_FORMATS = ("bf16", "cfp8_143", "cfp8_152")


def _check_format(fmt, bias, name):
    f = get_format(fmt)
    if f.name not in MATMUL_FORMATS:
        raise ValueError(
            f"{name} format must be one of {', '.join(MATMUL_FORMATS)}, not {f.name!r}")
    return f, f.check_bias(bias)


def _check_dtype(x, f, name):
    want = np.dtype(code_dtype(f))
    if x.dtype != want:
        raise ValueError(f"{name} holds {f.name} codes and must have dtype {want}, not {x.dtype}")


def check_operands(a, b, c=None, a_fmt="bf16", a_bias=None, b_fmt="bf16", b_bias=None):
    """Validate matrix-multiply operands; return ``(M, K, N)``. Raises ``ValueError``:

    * ``{A|B} format must be one of bf16, cfp8_143, cfp8_152, not '<name>'`` (an unknown name gives
      ``hw.fp.formats.get_format``'s message);
    * a bad bias: ``Format.check_bias``'s message (e.g. ``CFP8 1-4-3 bias must be an integer in
      0..63, not 64``);
    * ``A must be a 2-D array (MxK), not an array of shape (3,)``, same for B (KxN);
    * ``A is MxK and B is KxN, but A has K=3 and B has K=4``;
    * ``M, K and N must be at least 1, not M=0, K=3, N=5``;
    * ``A holds bf16 codes and must have dtype uint16, not uint8`` (uint8 for CFP8), same for B;
    * ``C must be MxN = 2x5, not an array of shape (5, 2)``; ``C holds FP32 codes and must have
      dtype uint32, not float32``.

    A wrong dtype is a ``ValueError`` too, not a ``TypeError``: the operands are arrays either
    way, and ``d1core gemm --in`` turns this function's ``ValueError`` into its usage error.
    Code values need no check: every value of a correctly typed array is a code.
    """
    fa, _ = _check_format(a_fmt, a_bias, "A")
    fb, _ = _check_format(b_fmt, b_bias, "B")
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2:
        raise ValueError(f"A must be a 2-D array (MxK), not an array of shape {a.shape}")
    if b.ndim != 2:
        raise ValueError(f"B must be a 2-D array (KxN), not an array of shape {b.shape}")
    (m, k), (kb, n) = a.shape, b.shape
    if k != kb:
        raise ValueError(f"A is MxK and B is KxN, but A has K={k} and B has K={kb}")
    if min(m, k, n) < 1:
        raise ValueError(f"M, K and N must be at least 1, not M={m}, K={k}, N={n}")
    _check_dtype(a, fa, "A")
    _check_dtype(b, fb, "B")
    if c is not None:
        c = np.asarray(c)
        if c.shape != (m, n):
            raise ValueError(f"C must be MxN = {m}x{n}, not an array of shape {c.shape}")
        if c.dtype != np.uint32:
            raise ValueError(f"C holds FP32 codes and must have dtype uint32, not {c.dtype}")
    return m, k, n


def matmul(a, b, c=None, *, a_fmt="bf16", a_bias=None, b_fmt="bf16", b_bias=None):
    """``D = A·B + C`` as d1core computes it. Returns ``(d, flags)``: M×N ``np.uint32`` FP32 codes
    and M×N ``np.uint8`` sticky flags.

    ``a`` (M×K) and ``b`` (K×N) are codes of ``a_fmt`` and ``b_fmt`` (``uint16`` for BF16,
    ``uint8`` for CFP8; CFP8 needs a bias in ``0..BIAS_MAX``); ``c`` is M×N ``uint32`` FP32 codes
    or ``None`` for +0. Bad operands raise ``ValueError`` (see :func:`check_operands`). The order
    of the arithmetic and the flags are those of the module docstring.
    """
    m, k, n = check_operands(a, b, c, a_fmt, a_bias, b_fmt, b_bias)
    a, b = np.asarray(a), np.asarray(b)
    acc = np.zeros((m, n), np.uint32) if c is None else np.array(c, np.uint32)
    flags = np.zeros((m, n), np.uint8)
    for kk in range(k):
        acc, step = fma(a[:, kk:kk + 1], b[kk:kk + 1, :], acc,
                        a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt, b_bias=b_bias)
        flags |= step
    return acc.astype(np.uint32), flags

