"""cocotb testbench of the matrix engine: stimulus → bulk harness → model → scoreboard.

:class:`EngineTB` runs whole GEMMs through :class:`verif.matmul.tiling.EngineBench` (the engine
adapted to the one-stream bulk harness): it writes the configuration register, tiles the operands
(``verif.matmul.tiling``), sends every beat and C row in one batch with the harness's idle cycles
and backpressure, and compares every output bit (values, sticky flags, and each row's index,
``last`` and tag) with ``verif.matmul.model.matmul``. A mismatch raises
``verif.scoreboard.Mismatch`` listing the first differing elements in hex and decoded form.

:func:`operands` makes the stimulus, also for the ``d1core gemm`` command: operands of every
kind the tests need (ordinary values, raw bit patterns, specials, underflowing products,
overflowing sums) in any format pair.
"""

import numpy as np
from cocotb.triggers import RisingEdge

from hw.fp.formats import FP32, format_for_code, get_format
from verif.fp.formats import code_dtype, decode, max_value, narrow

from ..harness import StreamHarness
from ..scoreboard import compare, flags_str
from . import tiling
from .model import matmul

__all__ = ["EngineTB", "KINDS", "operands", "describe_element", "check_result", "format_bias"]

#: Kinds of operands :func:`operands` makes.
KINDS = ("normal", "raw", "specials", "underflow", "overflow")


def format_bias(fmt, bias):
    """The bias a format's model and register take: ``bias`` for CFP8, ``None`` for BF16."""
    return bias if get_format(fmt).configurable else None


def _from_float(x, fmt, bias):
    """Codes of ``fmt`` nearest to the float values ``x`` (RNE; beyond FP32: BF16 Inf, CFP8 max)."""
    with np.errstate(over="ignore"):
        x = np.asarray(x, np.float32)
    codes, _ = narrow(x.view(np.uint32), fmt, format_bias(fmt, bias))
    return codes.astype(code_dtype(get_format(fmt)))


def _scale(fmt, bias):
    """log2 of a magnitude in the middle of the format's range at ``bias``."""
    f = get_format(fmt)
    b = format_bias(fmt, bias)
    return (f.emin(b) + f.emax(b)) / 2


def _specials(fmt, bias):
    """Special codes of ``fmt``: zeros, denormals, smallest normal, largest, Inf and NaN."""
    f = get_format(fmt)
    sign = 1 << f.sign_shift
    man = (1 << f.man_bits) - 1
    base = [0, 1, man, 1 << f.man_bits, f.max_code, f.max_code - 1]
    if f.ieee:
        base += [f.inf_code, f.qnan_code, f.inf_code | 1]  # +Inf, quiet and signalling NaN
    return np.array(base + [c | sign for c in base], dtype=code_dtype(f))


def _fp32_specials():
    one = int(np.float32(1).view(np.uint32))
    base = [0, 1, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, one, FP32.inf_code, FP32.qnan_code,
            FP32.inf_code | 1]
    return np.array(base + [c | 0x80000000 for c in base], np.uint32)


def operands(rng, m, n, k, *, a_fmt="bf16", a_bias=None, b_fmt="bf16", b_bias=None,
             kind="normal", with_c=True):
    """Random ``(a, b, c)`` for an ``m × n × k`` GEMM: codes of ``a_fmt`` / ``b_fmt`` (M×K, K×N)
    and FP32 codes (M×N, or ``None`` without C).

    ``kind``: ``"normal"`` values spread around the middle of each format's range (the sums mix
    magnitudes, so rounding matters); ``"raw"`` uniformly random codes (NaN, Inf, denormals
    included); ``"specials"`` a mix of zeros, denormals, extremes, Inf and NaN with ordinary
    values; ``"underflow"`` operands so small that products and sums are FP32 subnormals or
    underflow to zero (as far as the formats reach at their biases: CFP8 × CFP8 products are
    never below 2**-129), a C among the subnormals; ``"overflow"`` operands so large that
    products and sums overflow FP32 where the formats reach (not CFP8 × CFP8), a C near the top
    of FP32's range.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    fa, fb = get_format(a_fmt), get_format(b_fmt)

    def values(shape, fmt, bias, log2_mag, spread=3.0):
        x = rng.standard_normal(shape) * np.exp2(log2_mag + rng.uniform(-spread, spread, shape))
        return _from_float(x, fmt, bias)

    def raw(shape, f):
        return rng.integers(0, 1 << f.width, size=shape, dtype=np.uint64).astype(code_dtype(f))

    def mix(codes, specials, fraction):
        pick = rng.random(codes.shape) < fraction
        return np.where(pick, rng.choice(specials, size=codes.shape), codes).astype(codes.dtype)

    c = None
    if kind == "normal":
        a = values((m, k), a_fmt, a_bias, _scale(a_fmt, a_bias))
        b = values((k, n), b_fmt, b_bias, _scale(b_fmt, b_bias))
        if with_c:
            top = _scale(a_fmt, a_bias) + _scale(b_fmt, b_bias)
            c = (rng.standard_normal((m, n)) * np.exp2(np.clip(top, -120, 120))).astype(
                np.float32).view(np.uint32)
    elif kind == "raw":
        a, b = raw((m, k), fa), raw((k, n), fb)
        if with_c:
            c = rng.integers(0, 1 << 32, size=(m, n), dtype=np.uint64).astype(np.uint32)
    elif kind == "specials":
        a = mix(values((m, k), a_fmt, a_bias, _scale(a_fmt, a_bias)),
                _specials(a_fmt, format_bias(a_fmt, a_bias)), 0.15)
        b = mix(values((k, n), b_fmt, b_bias, _scale(b_fmt, b_bias)),
                _specials(b_fmt, format_bias(b_fmt, b_bias)), 0.15)
        if with_c:
            c = mix(rng.standard_normal((m, n)).astype(np.float32).view(np.uint32),
                    _fp32_specials(), 0.3)
    else:
        # log2 targets for a and b whose sum puts the products where they should be: around
        # 2**-142 (FP32 subnormals, some below 2**-149) or 2**127 (beyond FP32's largest), each
        # operand kept inside its own format's range at its bias.
        lo_a, lo_b = fa.emin(format_bias(a_fmt, a_bias)), fb.emin(format_bias(b_fmt, b_bias))
        hi_a = np.log2(max_value(a_fmt, format_bias(a_fmt, a_bias))) - 0.5
        hi_b = np.log2(max_value(b_fmt, format_bias(b_fmt, b_bias))) - 0.5
        target, c_log2 = (-142.0, -135.0) if kind == "underflow" else (127.0, 125.0)
        ta = float(np.clip(target / 2, lo_a, hi_a))
        tb = float(np.clip(target - ta, lo_b, hi_b))
        ta = float(np.clip(target - tb, lo_a, hi_a))
        a = values((m, k), a_fmt, a_bias, ta, spread=1.5)
        b = values((k, n), b_fmt, b_bias, tb, spread=1.5)
        if with_c:
            c = (np.clip(rng.standard_normal((m, n)), -3, 3) * np.exp2(c_log2)).astype(
                np.float32).view(np.uint32)
    return a, b, c


def _show(bits, fmt, bias=None):
    f = get_format(fmt)
    try:
        v = f"{float(decode(np.array([bits]), f, bias)[0]):.7g}"
    except (ValueError, TypeError):
        v = "?"
    return f"{int(bits):#0{f.width // 4 + 2}x} ({v})"


def describe_element(i, j, exp_d, exp_f, got_d, got_f, c=None):
    """One readable line for output element (i, j): C, expected and actual value and flags."""
    line = f"D[{i},{j}]: "
    if c is not None:
        line += f"C {_show(c[i, j], FP32)}, "
    return (line + f"expected {_show(exp_d[i, j], FP32)} [{flags_str(exp_f[i, j])}], "
            f"got {_show(got_d[i, j], FP32)} [{flags_str(got_f[i, j])}]")


def check_result(d, f, exp_d, exp_f, *, c=None, what="GEMM results", limit=8):
    """Compare a GEMM's D and flags with the expected ones, element by element (row-major);
    raise :class:`verif.scoreboard.Mismatch` naming the first differing elements."""
    n = exp_d.shape[1]
    return compare({"value": exp_d.ravel(), "flags": exp_f.ravel()},
                   {"value": d.ravel(), "flags": f.ravel()}, what=what, limit=limit,
                   describe=lambda e: describe_element(e // n, e % n, exp_d, exp_f, d, f, c))


def bad_format_expectation(m, n):
    """What a GEMM gives when a format code is not one the FMAs were built for: every element the
    canonical NaN with Invalid (each step's result, per ``hw.fp.fma.FMAPipe``)."""
    from hw.fp.formats import FLAG_INVALID

    return (np.full((m, n), FP32.qnan_code, np.uint32), np.full((m, n), FLAG_INVALID, np.uint8))


class EngineTB:
    """Drive a harness-wrapped :class:`verif.matmul.tiling.EngineBench` built with ``config``."""

    def __init__(self, dut, config):
        self.dut = dut
        self.config = config
        self.harness = StreamHarness(dut)
        self.macs = 0
        self.cycles = 0

    async def reset(self):
        await self.harness.reset(cfg__valid=0, cfg__payload=0)

    async def write_config(self, a_fmt, a_bias, b_fmt, b_bias):
        """A register write of the operand formats and biases (one cycle of ``cfg.valid``);
        formats are names or raw codes (a bad code tests the defined result)."""
        d = self.dut
        await RisingEdge(d.clk)
        d.cfg__payload.value = tiling.pack_config(a_fmt, a_bias, b_fmt, b_bias)
        d.cfg__valid.value = 1
        await RisingEdge(d.clk)
        d.cfg__valid.value = 0

    async def run(self, a, b, c, *, a_fmt, a_bias, b_fmt, b_bias, idle=0, stall=0, seed=1,
                  timeout=20_000, codes=None):
        """Run one GEMM; return ``(d, flags, cycles)``. ``codes`` (a pair of raw format codes)
        overrides what is written to the register, for bad-format tests."""
        plan, words = tiling.gemm_words(self.config, a, b, c)
        ca, cb = codes if codes is not None else (a_fmt, b_fmt)
        await self.write_config(ca, a_bias, cb, b_bias)
        out = await self.harness.run(words, idle=idle, stall=stall, seed=seed, timeout=timeout)
        d, f, cycles = tiling.gemm_output(plan, out, self.harness.last_cycles)
        self.macs += plan.macs
        self.cycles += cycles
        return d, f, cycles

    async def check(self, a, b, c=None, *, a_fmt="bf16", a_bias=None, b_fmt="bf16",
                    b_bias=None, idle=0, stall=0, seed=1, what=None):
        """Run one GEMM and compare every element with the reference model; return the cycles."""
        a_bias, b_bias = format_bias(a_fmt, a_bias), format_bias(b_fmt, b_bias)
        d, f, cycles = await self.run(a, b, c, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt,
                                      b_bias=b_bias, idle=idle, stall=stall, seed=seed)
        exp_d, exp_f = matmul(a, b, c, a_fmt=a_fmt, a_bias=a_bias, b_fmt=b_fmt, b_bias=b_bias)
        m, k = a.shape
        what = what or (f"{m}x{b.shape[1]}x{k} {a_fmt}" + (f"@{a_bias}" if a_bias is not None
                        else "") + f" x {b_fmt}" + (f"@{b_bias}" if b_bias is not None else ""))
        check_result(d, f, exp_d, exp_f, c=c, what=what)
        return cycles

    async def check_bad_format(self, a, b, c, codes, *, idle=0, stall=0):
        """Run a GEMM with raw format codes ``codes`` (at least one not an operand format of the
        engine) and check the defined result."""
        names = [format_for_code(x) for x in codes]
        d, f, _ = await self.run(a, b, c, a_fmt=None, a_bias=0, b_fmt=None, b_bias=0,
                                 idle=idle, stall=stall, codes=codes)
        exp_d, exp_f = bad_format_expectation(*d.shape)
        check_result(d, f, exp_d, exp_f, c=c, what=f"GEMM with format codes {codes} "
                     f"({', '.join(x.name if x else 'none' for x in names)})")
