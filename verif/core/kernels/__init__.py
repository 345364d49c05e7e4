"""The core's kernels (C, ``*.c`` here), with the host side of each: the build (its -D flags),
the operands placed in the image, and the check of the result against the references.

``gemm``: one GEMM block in the engine's layout (``gemm.c``).
``gemm_rm``: the GEMM from row-major A and B, double-buffered over slabs of A's rows, optionally
with the fused epilogue (``gemm_rm.c``: kernel 1 and kernel 2).
``layernorm``: layer normalisation of FP32 rows on the vector unit (``layernorm.c``; its host
side is the module ``verif.core.kernels.layernorm``).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw.common.params import check_int
from hw.fp.formats import FormatCode
from hw.vector.isa import VecOp, VecType
from verif.matmul.model import matmul
from verif.scalar import elf, riscv
from verif.vector.model import REQUEST_DTYPE, VectorUnitModel, execute

__all__ = ["DIR", "EPILOGUES", "OPERAND_FORMATS", "GemmKernel", "GemmRmKernel", "auto_head_k",
           "check_fmt", "gemm_kernel", "gemm_rm_kernel", "random_operands", "slab_rows"]

DIR = Path(__file__).resolve().parent
#: d1_result's words (gemm.c).
RESULT_WORDS = ("cycles", "busy", "port", "operand", "backpressure", "idle", "status")
#: matmul's (a_fmt, a_bias, b_fmt, b_bias) of each operand format
OPERAND_FORMATS = {"bf16": ("bf16", None, "bf16", None),
                   "cfp8": ("cfp8_143", 7, "cfp8_152", 15)}


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

    #: the names of the kernel's d1_result words, in order
    RESULT_WORDS = RESULT_WORDS

    @property
    def esize(self):
        return 1 if self.fmt == "cfp8" else 2

    def reference(self):
        """D and its flags by the SoftFloat-based GEMM reference (``d1core gemm``'s)."""
        a_fmt, a_bias, b_fmt, b_bias = OPERAND_FORMATS[self.fmt]
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
        raw = read(self.program.symbols["d1_result"], 8 * len(self.RESULT_WORDS))
        return dict(zip(self.RESULT_WORDS, np.frombuffer(raw, np.uint64).tolist(), strict=True))

    def output_errors(self, read):
        """What is wrong with the kernel's results in memory (``read(address, n)`` giving
        bytes), as sentences (none: all right): D against the SoftFloat-based reference, what
        the kernel writes besides (``_output_errors``: the row-major kernel's epilogue output
        against the vector model's), the units' error registers among the result words."""
        ref, _ = self.reference()
        errors = []
        bad = int((self.d_from(read) != ref).sum())
        if bad:
            errors.append(f"{bad} elements of D differ from the SoftFloat-based reference")
        errors += self._output_errors(read, ref)
        res = self.results(read)
        registers = {w: res[w] for w in ("status", "vector_status", "dma_status")
                     if w in res and res[w]}
        if registers:
            errors.append(f"error registers {registers}")
        return errors

    def _output_errors(self, read, ref):
        return []


def gemm_kernel(m, n, k, *, fmt="bf16", seed=0):
    """The GEMM kernel for an M×N×K block with random operands (finite, normal and subnormal
    codes of the format, both signs)."""
    check_fmt(fmt)
    defines = {"M": m, "N": n, "K": k, **({"CFP8": 1} if fmt == "cfp8" else {})}
    path = riscv.build(f"kernels/gemm-{fmt}-{m}x{n}x{k}", [DIR / "gemm.c"], defines=defines,
                       depends=[DIR / "gemm.h"])
    program = elf.load(path)
    a, b = random_operands(m, n, k, fmt, np.random.default_rng(seed))
    esize = a.itemsize
    lda, ldb = _line_up(m * esize), _line_up(n * esize)
    at_bytes = np.zeros((k, lda // esize), a.dtype)
    at_bytes[:, :m] = a.T
    b_bytes = np.zeros((k, ldb // esize), b.dtype)
    b_bytes[:, :n] = b
    image = list(program.segments)
    image += [(program.symbols["at"], at_bytes.tobytes()),
              (program.symbols["b"], b_bytes.tobytes())]
    return GemmKernel(m, n, k, fmt, program, image, a, b)


def check_fmt(fmt):
    """``fmt`` is one of :data:`OPERAND_FORMATS` (else ``ValueError``)."""
    if fmt not in OPERAND_FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(OPERAND_FORMATS)}, not {fmt!r}")


def random_operands(m, n, k, fmt, rng):
    """Random A (M×K) and B (K×N) codes: finite, normal and subnormal codes of the format, both
    signs (BF16: moderate exponents, so that no sum overflows)."""
    if fmt == "cfp8":
        a = rng.integers(0, 256, (m, k), dtype=np.uint8)
        b = rng.integers(0, 256, (k, n), dtype=np.uint8)
        # no NaN or infinity codes in the operands (1-4-3 has none; 1-5-2's are 0x7C..0x7F)
        b[(b & 0x7C) == 0x7C] &= 0xFB
    else:
        # BF16 values of moderate exponent (no overflow in the sums), random mantissas
        def codes(shape):
            sign = rng.integers(0, 2, shape) << 15
            exp = rng.integers(112, 136, shape) << 7
            return (sign | exp | rng.integers(0, 128, shape)).astype(np.uint16)
        a, b = codes((m, k)), codes((k, n))
    return a, b


# --- kernels 1 and 2: row-major operands, the fused epilogue (gemm_rm.c) ----------------------

#: d1_result's words (gemm_rm.c).
RM_RESULT_WORDS = ("cycles", "head", "busy", "port", "operand", "backpressure", "idle",
                   "vector_busy", "status", "vector_status", "dma_status", "out")
#: The epilogue's rounding modes (``None``: no epilogue, D stays FP32).
EPILOGUES = ("rne", "sr")
#: gemm_rm.c's default seed of the stochastic rounding (SR_SEED).
SR_SEED = 0x5EED


def slab_rows(fmt):
    """Rows of A per slab (and per Aᵀ line): 32 BF16, 64 CFP8 elements fill a 64-byte line."""
    return 64 // (1 if fmt == "cfp8" else 2)


def auto_head_k(m, n, k, fmt, *, macs=256):
    """The head split of :func:`gemm_rm_kernel` when none is given: the fewest columns of A
    (a multiple of the slab) whose GEMM on the first slab (``rows · n · h / macs`` cycles) lasts
    as long as laying out a whole slab while it runs: log2(rows) rounds of rows · lines-per-row
    lines at about 1.5 cycles a line (the GEMM shares the read ports) plus about 150 cycles of
    latency each (measured on the D1 core), so that slab 1 is ready when it is due; 0 (no
    split) when that is all of K or there is one slab."""
    rows = slab_rows(fmt)
    lines = -(-k * (64 // rows) // 64)
    layout = (rows.bit_length() - 1) * (3 * rows * lines // 2 + 150)
    h = rows * max(1, -(-layout * macs // (rows * n * rows)))
    return 0 if h >= k or m <= rows else h


@dataclass
class GemmRmKernel(GemmKernel):
    """A built row-major GEMM kernel (``gemm_rm.c``) with its operands: as :class:`GemmKernel`,
    and ``head_k`` (the head split, 0: none), ``epilogue`` (None, "rne" or "sr"), ``np_cols``
    (columns per GEMM piece) and ``bias`` (N FP32 codes, with an epilogue)."""
    head_k: int = 0
    epilogue: str | None = None
    np_cols: int = 0
    bias: np.ndarray | None = None

    RESULT_WORDS = RM_RESULT_WORDS

    def _output_errors(self, read, ref):
        if not self.epilogue:
            return []
        bad = int((self.out_from(read) != self.epilogue_reference(ref)).sum())
        return [f"{bad} elements of the BF16 output differ from the vector model's epilogue"
                ] if bad else []

    def out_from(self, read):
        """OUT (M×N uint16 BF16 codes) out of memory (its address is a result word)."""
        ldo = _line_up(2 * self.n)
        base = self.results(read)["out"]
        rows = [np.frombuffer(read(base + i * ldo, 2 * self.n), np.uint16)
                for i in range(self.m)]
        return np.stack(rows)

    def epilogue_reference(self, d):
        """OUT = BF16(ReLU(D + bias)) from D (M×N FP32 codes) by the vector unit's model, VOP
        by VOP as gemm_rm.c issues them: ADD and MAX (FP32) per line, NARROW to BF16 with the
        kernel's rounding; with SR, each NARROW after a SEED of ``SR_SEED + v`` (v: the
        NARROW's number by slab, piece, pass and line of the piece's rows)."""
        rows, pieces = slab_rows(self.fmt), -(-self.n // self.np_cols)
        qmax = -(-self.np_cols // 32)
        width = -(-self.n // 32) * 32
        dp = np.zeros((self.m, width), np.uint32)
        dp[:, :self.n] = d
        bp = np.zeros(width, np.uint32)
        bp[:self.n] = self.bias
        lines = dp.reshape(self.m, -1, 16)            # FP32 lines: [row, line, lane]
        bias_lines = np.broadcast_to(bp.reshape(-1, 16), lines.shape)
        as_vec = lambda x: np.ascontiguousarray(x).view(np.uint8).reshape(-1, 64)  # noqa: E731
        t, _, _ = execute("add", "fp32", as_vec(lines), as_vec(bias_lines))
        t, _, _ = execute("max", "fp32", t, np.zeros_like(t))
        t = t.view(np.uint32).reshape(lines.shape)
        out = np.zeros((self.m, width), np.uint16)
        for s in range(-(-self.m // rows)):
            r = slice(s * rows, min(self.m, (s + 1) * rows))
            for p in range(pieces):
                for imm in (0, 1):
                    for q in range(-(-min(self.np_cols, self.n - p * self.np_cols) // 32)):
                        line = (p * self.np_cols) // 16 + 2 * q + imm
                        if line >= lines.shape[1]:
                            continue
                        src = as_vec(t[r, line])
                        v = ((s * pieces + p) * 2 + imm) * qmax + q
                        codes = self._narrow(src, v)
                        out[r, line * 16:(line + 1) * 16] = codes
        return out[:, :self.n]

    def _narrow(self, src, v):
        """The BF16 codes of NARROW (imm 0) of the FP32 lines ``src`` (one VOP, lines in
        order), with the kernel's rounding (SR: after a SEED of ``SR_SEED + v``)."""
        req = np.zeros(len(src) + 1, REQUEST_DTYPE)
        req["op"], req["vtype"] = VecOp.NARROW.value, VecType.FP32.value
        req["fmt"], req["rnd"] = FormatCode.BF16.value, int(self.epilogue == "sr")
        req["a"][1:] = src
        req["op"][0], req["vtype"][0] = VecOp.SEED.value, VecType.INT32.value
        req["a"][0, :4] = np.frombuffer(np.uint32(SR_SEED + v).tobytes(), np.uint8)
        res = VectorUnitModel().run(req)
        assert not res["error"].any()
        return res["data"][1:].view(np.uint16)[:, :16]


def gemm_rm_kernel(m, n, k, *, fmt="bf16", head_k=None, epilogue=None, np_cols=None, seed=0,
                   timeline=False):
    """The row-major GEMM kernel (``gemm_rm.c``) for an M×N×K block with random operands (as
    :func:`gemm_kernel`'s), A and B placed row-major. ``head_k``: the columns of A of the first
    slab's first GEMM (a multiple of the slab's rows below K; 0: no split; None:
    :func:`auto_head_k`). ``epilogue``: None (kernel 1, D FP32), "rne" or "sr" (kernel 2, OUT
    BF16 from a random bias). ``np_cols``: columns per GEMM command (None: all of N without the
    epilogue, 64 with it; else a multiple of 64 below N, or N). ``timeline``: build with
    gemm_rm.c's cycle stamps (``d1_timeline``, for tuning)."""
    check_fmt(fmt)
    for name, v in (("m", m), ("n", n), ("k", k)):
        check_int(name, v, 1, 0xFFFF)
    rows = slab_rows(fmt)
    if head_k is None:
        head_k = auto_head_k(m, n, k, fmt)
    check_int("head_k", head_k, 0, 0xFFFF)
    if head_k % rows or head_k >= k and head_k:
        raise ValueError(f"head_k must be a multiple of {rows} below k = {k}, not {head_k}")
    if epilogue is not None and epilogue not in EPILOGUES:
        raise ValueError(f"epilogue must be None or one of {', '.join(EPILOGUES)}, "
                         f"not {epilogue!r}")
    if np_cols is None:
        np_cols = n if epilogue is None or n <= 64 else 64
    check_int("np_cols", np_cols, 1, n)
    if np_cols != n and np_cols % 64:
        raise ValueError(f"np_cols must be a multiple of 64 or n = {n}, not {np_cols}")
    defines = {"M": m, "N": n, "K": k, "HEAD_K": head_k, "NP": np_cols,
               **({"CFP8": 1} if fmt == "cfp8" else {}),
               **({"EPILOGUE": 1, "SR": int(epilogue == "sr")} if epilogue else {}),
               **({"TIMELINE": 1} if timeline else {})}
    name = (f"kernels/gemm_rm-{fmt}-{m}x{n}x{k}-h{head_k}-p{np_cols}"
            f"{'-' + epilogue if epilogue else ''}{'-t' if timeline else ''}")
    path = riscv.build(name, [DIR / "gemm_rm.c"], defines=defines, depends=[DIR / "gemm.h"])
    program = elf.load(path)
    rng = np.random.default_rng(seed)
    a, b = random_operands(m, n, k, fmt, rng)
    esize = a.itemsize
    a_bytes = np.zeros((-(-m // rows) * rows, _line_up(k * esize) // esize), a.dtype)
    a_bytes[:m, :k] = a
    b_bytes = np.zeros((k, _line_up(n * esize) // esize), b.dtype)
    b_bytes[:, :n] = b
    image = list(program.segments)
    image += [(program.symbols["a"], a_bytes.tobytes()),
              (program.symbols["b"], b_bytes.tobytes())]
    bias = None
    if epilogue:
        # FP32 biases of the magnitude of D's elements, both signs (so ReLU clips some)
        sign = rng.integers(0, 2, n).astype(np.uint32) << 31
        exp = rng.integers(120, 134, n).astype(np.uint32) << 23
        bias = sign | exp | rng.integers(0, 1 << 23, n).astype(np.uint32)
        image.append((program.symbols["bias"], bias.tobytes()))
    return GemmRmKernel(m, n, k, fmt, program, image, a, b, head_k=head_k, epilogue=epilogue,
                        np_cols=np_cols, bias=bias)
