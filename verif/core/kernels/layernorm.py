"""Kernel 3, the host side of ``layernorm.c``: layer normalisation of ``rows`` rows of ``cols``
FP32 values on the vector unit, BF16 out.

* :func:`layernorm_kernel` builds the kernel for a shape (its -D flags: the shape, the byte
  layout of its buffers, the constants) and places random rows, ``gamma`` and ``beta`` in the
  image;
* :func:`layernorm_numpy` is the same sequence of operations written independently in numpy:
  FP32 add, sub and mul in ``numpy.float32`` (IEEE, round to nearest even), the fused
  multiply-adds rounded once (exact float64 product, sum rounded to odd at 53 bits, then RNE to
  FP32: 53 ≥ 24 + 2, so one rounding), the reduction tree in docs/vector.md's order, the integer
  estimate on the codes, BF16 by ``ml_dtypes`` (RNE). It must equal the kernel's output bit for
  bit (on the core model and so on the RTL, which runs in lockstep with the model);
* :func:`layernorm_float64` is the textbook layer normalisation in float64: the kernel's output
  is within :func:`error_bound` of it (the BF16 rounding, half a BF16 unit, dominates unless a
  row's mean is large against its spread).

Layout (byte offsets in the kernel's ``ws``, each a whole number of 64-byte lines, in this
order, which the kernel's schedule relies on: a phase's reads lie outside the span of its own
destinations, see ``layernorm.c``): ``k`` the constant lines, ``gamma``, ``beta``, ``x`` (row r
at ``x + r·P·64``), ``st`` (the per-row statistics), ``t`` (the reduction tree, line j of row r
at ``t + (j·R + r)·64``), ``d`` (x − mean, then the FP32 result; row r at ``d + r·P·64``),
``y`` (BF16, row r at ``y + r·H·64``), with ``L = cols/16`` lines a row, ``H = ceil(L/2)`` and
the row stride ``P`` = L rounded up to an odd number (:func:`row_lines`: a column of rows then
visits every bank; at an even stride a multiple of the bank count every read of a column
would collide with the other port's in one bank).
"""

from dataclasses import dataclass
from pathlib import Path

import ml_dtypes
import numpy as np

from hw.core.counters import UNIT_CAUSES, counter_index
from verif.scalar import elf, riscv

__all__ = ["EPS", "MAGIC", "NEWTON", "LayerNormKernel", "constants", "error_bound", "fma32",
           "layernorm_float64", "layernorm_kernel", "layernorm_numpy", "layout", "row_lines",
           "vop_lines"]

DIR = Path(__file__).resolve().parent
LINE = 64
LANES = 16
#: The integer estimate of 1/sqrt(v): MAGIC − (code(v) >> 1) (the classic constant).
MAGIC = 0x5F3759DF
#: Newton steps r ← r·(1.5 − (v/2)·r²) after the estimate (3.4 % → 0.18 % → 4.7e-6 → FP32's
#: own rounding).
NEWTON = 3
#: The epsilon added to the variance.
EPS = np.float32(1e-5)
#: Constant lines and statistics lines the kernel uses (its enums KI_N and S_N, checked there).
K_LINES = 8
ST_LINES = 11
MAX_ROWS = 511      # a row stride of 64 bytes per row must fit the VOP's 16-bit signed stride
MAX_COLS = 8176     # likewise P·64 bytes per row (P = cols/16 rounded up to odd: 511)
#: d1_result's words (layernorm.c).
RESULT_WORDS = ("cycles", *UNIT_CAUSES, "status", "flags")


def _check_shape(rows, cols):
    for name, value in (("rows", rows), ("cols", cols)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an integer, not {value!r}")
    if not 1 <= rows <= MAX_ROWS:
        raise ValueError(f"rows must be in 1..{MAX_ROWS}, not {rows}")
    if cols % LANES or not LANES <= cols <= MAX_COLS:
        raise ValueError(f"cols must be a multiple of {LANES} in {LANES}..{MAX_COLS}, not {cols}")


def row_lines(cols):
    """The row stride of x and d in lines: cols/16 rounded up to an odd number."""
    return cols // LANES | 1


def layout(rows, cols):
    """The byte offsets of the kernel's buffers in ``ws`` (``OFF_*``) and its size
    (``WS_BYTES``)."""
    _check_shape(rows, cols)
    lines, stride = cols // LANES, row_lines(cols)
    half = (lines + 1) // 2
    sizes = {"K": K_LINES, "GAMMA": lines, "BETA": lines, "X": rows * stride,
             "ST": ST_LINES * rows, "T": half * rows, "D": rows * stride, "Y": rows * half}
    out, at = {}, 0
    for name, n in sizes.items():
        out[f"OFF_{name}"] = at
        at += n * LINE
    out["WS_BYTES"] = at
    return out


def vop_lines(rows, cols, newton=NEWTON):
    """The lines of vector work the kernel issues, by the vector sequencer's rate class:
    ``(lines of ops reading at most two operands, lines of ops reading three)``. docs/core.md:
    the sequencer enters one line a cycle of the first kind and two lines every three cycles of
    the second, so ``first + 1.5·second`` cycles is the kernel's bound at the unit's peak."""
    _check_shape(rows, cols)
    lines = cols // LANES
    h, half = lines // 2, (lines + 1) // 2
    # per row: first tree level and the leftover line (half), tree (half - 1), REDSUM, MUL,
    # BCAST; SUB (lines); squares MUL (half), tree (half - 1), REDSUM, BCAST; SRL, MUL, SUB;
    # 2 MULs per Newton step; MUL (lines), NARROW (lines)
    two = 4 * half + 3 * lines + 6 + 2 * newton
    # squares FMA (h), variance FMA, one FNMA per Newton step, the output FMA (lines)
    three = h + 1 + newton + lines
    return rows * two, rows * three


def _code(value):
    return int(np.float32(value).view(np.uint32))


def constants(cols):
    """The kernel's constants (-D flags ``K_*``): FP32 codes, and the INT32 magic number."""
    return {"K_INV_C": _code(np.float32(1.0 / cols)), "K_EPS": _code(EPS),
            "K_HALF": _code(0.5), "K_THREE_HALVES": _code(1.5), "K_MAGIC": MAGIC}


# --- the numpy mirror ---------------------------------------------------------------------

def fma32(a, b, c):
    """FP32 ``a·b + c`` rounded once (RNE): the product is exact in float64, the sum is
    rounded to odd at 53 bits (TwoSum gives its error), then RNE to FP32."""
    a, b, c = (np.asarray(v, np.float32).astype(np.float64) for v in (a, b, c))
    p = a * b
    s = p + c
    bv = s - p
    err = (p - (s - bv)) + (c - bv)
    odd = (s.view(np.uint64) & 1).astype(bool)
    toward = np.where(err > 0, np.inf, -np.inf)
    s = np.where((err != 0) & ~odd, np.nextafter(s, toward), s)
    return s.astype(np.float32)


def _redsum(v):
    """Lane 0 of REDSUM: pairs (0, 1), (2, 3), ... then adjacent pairs, 16 → 1."""
    while v.shape[-1] > 1:
        v = v[..., 0::2] + v[..., 1::2]
    return v[..., 0]


def _tree(t):
    """Lines j and j + n − h added (h = n/2), line h kept when n is odd, down to one line."""
    while t.shape[1] > 1:
        n = t.shape[1]
        h = n // 2
        t = np.concatenate([t[:, :h] + t[:, n - h:], t[:, h:n - h]], axis=1)
    return t[:, 0]


def layernorm_numpy(x, gamma, beta, *, newton=NEWTON, eps=EPS):
    """The kernel's operations in numpy: ``x`` (rows × cols float32), ``gamma``, ``beta``
    (cols); returns ``(y, f)``: the BF16 codes (uint16, rows × cols) and the FP32 values before
    the narrowing."""
    x = np.asarray(x, np.float32)
    rows, cols = x.shape
    lines = cols // LANES
    h = lines // 2
    inv_c = np.float32(1.0 / cols)
    xl = x.reshape(rows, lines, LANES)

    def first_level(a, square):
        op = (lambda u: u * u) if square else (lambda u: u)
        t = [op(a[:, lines - h + j]) for j in range(h)]
        if lines % 2:
            t.append(a[:, h] * a[:, h] if square else a[:, h] + np.float32(-0.0))
        if square:
            t[:h] = [fma32(a[:, j], a[:, j], t[j]) for j in range(h)]
        else:
            t[:h] = [a[:, j] + t[j] for j in range(h)]
        return np.stack(t, axis=1)

    mean = _redsum(_tree(first_level(xl, False))) * inv_c
    d = xl - mean[:, None, None]
    var = fma32(_redsum(_tree(first_level(d, True))), inv_c, eps)
    r = ((np.uint32(MAGIC) - (var.view(np.uint32) >> np.uint32(1))).astype(np.uint32)
         .view(np.float32))
    half_var = var * np.float32(0.5)
    for _ in range(newton):
        r = r * fma32(-half_var, r * r, np.float32(1.5))
    e = d * r[:, None, None]
    f = fma32(e, np.asarray(gamma, np.float32).reshape(lines, LANES),
             np.asarray(beta, np.float32).reshape(lines, LANES)).reshape(rows, cols)
    return f.astype(ml_dtypes.bfloat16).view(np.uint16), f


def layernorm_float64(x, gamma, beta, *, eps=EPS):
    """Layer normalisation in float64 (the population variance, as the kernel)."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(var + np.float64(eps)) * gamma + beta


def error_bound(x, gamma, beta, *, bf16=True):
    """How far the kernel's output may be from :func:`layernorm_float64`, element by element.

    The FP32 part (``bf16=False``: the values before the narrowing): the mean's error (the tree
    of ``log2(C) + 1`` rounded additions, each within 2^-24 of a partial sum of |x|, so within
    ``(log2(C) + 2)·2^-24·mean(|x|)``) shifts every ``x − mean``, and is scaled by
    ``|gamma|·r`` (r = 1/sqrt(var + eps)); the rest, a few roundings of 2^-24 each and the
    Newton steps' last bits, is within 2^-20 of the terms ``|y − beta| + |beta|``. With
    ``bf16``: plus the narrowing, half a BF16 unit, at most 2^-8 of the value."""
    x = np.asarray(x, np.float64)
    y = layernorm_float64(x, gamma, beta)
    var = x.var(axis=1, keepdims=True)
    shift = ((np.log2(x.shape[1]) + 2) * 2.0 ** -24 * np.abs(x).mean(axis=1, keepdims=True)
             / np.sqrt(var + np.float64(EPS)))
    fp32 = np.abs(gamma) * shift + 2.0 ** -20 * (np.abs(y - beta) + np.abs(beta))
    return fp32 + 2.0 ** -8 * (np.abs(y) + fp32) if bf16 else fp32


# --- the kernel ---------------------------------------------------------------------------

@dataclass
class LayerNormKernel:
    """A built layer-normalisation kernel with its data: ``program`` (the ELF, loaded),
    ``image`` (its segments plus x, gamma, beta), ``x`` (rows × cols float32), ``gamma``,
    ``beta`` (cols float32), ``offsets`` (:func:`layout`)."""
    rows: int
    cols: int
    program: object
    image: list
    x: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    offsets: dict

    @property
    def out_lines(self):
        """BF16 lines of an output row (the last one half used when cols/16 is odd)."""
        return (self.cols // LANES + 1) // 2

    def reference(self):
        """The output rows as the kernel writes them: :func:`layernorm_numpy`'s BF16 codes,
        zero in the unused half of an odd row's last line (rows × out_lines·32 uint16)."""
        y, _ = layernorm_numpy(self.x, self.gamma, self.beta)
        out = np.zeros((self.rows, self.out_lines * 32), np.uint16)
        out[:, :self.cols] = y
        return out

    def y_from(self, read):
        """The output rows (rows × out_lines·32 uint16 BF16 codes) out of memory,
        ``read(address, n)`` giving bytes."""
        base = self.program.symbols["ws"] + self.offsets["OFF_Y"]
        raw = read(base, self.rows * self.out_lines * LINE)
        return np.frombuffer(raw, np.uint16).reshape(self.rows, -1)

    def results(self, read):
        """The kernel's d1_result words as a dict (:data:`RESULT_WORDS`)."""
        raw = read(self.program.symbols["d1_result"], 8 * len(RESULT_WORDS))
        return dict(zip(RESULT_WORDS, np.frombuffer(raw, np.uint64).tolist(), strict=True))

    def vop_lines(self):
        return vop_lines(self.rows, self.cols)


def layernorm_kernel(rows, cols, *, seed=0):
    """The kernel for ``rows`` × ``cols`` (a multiple of 16) with random data: each row a
    random mean (±4) and spread (e^-3 .. e^2) of normal values, row 0 constant when there are
    two or more rows (variance 0: r = 1/sqrt(eps)); gamma around 1, beta around 0."""
    offsets = layout(rows, cols)
    defines = {"R": rows, "C": cols, "P": row_lines(cols), "NEWTON": NEWTON, "K_LINES": K_LINES,
               "ST_LINES": ST_LINES, "VECTOR_CTR": counter_index(unit=1, cause="busy"),
               **offsets, **{k: hex(v) for k, v in constants(cols).items()}}
    path = riscv.build(f"kernels/layernorm-{rows}x{cols}", [DIR / "layernorm.c"],
                       defines=defines)
    program = elf.load(path)
    rng = np.random.default_rng(seed)
    mean = rng.uniform(-4, 4, (rows, 1))
    spread = np.exp(rng.uniform(-3, 2, (rows, 1)))
    x = (mean + spread * rng.standard_normal((rows, cols))).astype(np.float32)
    if rows > 1:
        x[0] = np.float32(mean[0, 0])
    gamma = (1 + 0.25 * rng.standard_normal(cols)).astype(np.float32)
    beta = (0.5 * rng.standard_normal(cols)).astype(np.float32)
    ws = program.symbols["ws"]
    image = list(program.segments)
    rows_image = np.zeros((rows, row_lines(cols) * LANES), np.float32)
    rows_image[:, :cols] = x
    image += [(ws + offsets["OFF_X"], rows_image.tobytes()),
              (ws + offsets["OFF_GAMMA"], gamma.tobytes()),
              (ws + offsets["OFF_BETA"], beta.tobytes())]
    return LayerNormKernel(rows, cols, program, image, x, gamma, beta, offsets)
