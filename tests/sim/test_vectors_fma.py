"""``d1core vectors --unit fma``: TestFloat-format vector files through the FMA unit.

The vector files come from Berkeley SoftFloat (the ``softfloat`` package: ``f32_mulAdd``,
``f32_mul``, ``f32_add``; RNE, tininess after rounding), an oracle independent of d1core's model
and RTL. SoftFloat's NaN results carry x86 payloads (0xFFC00000, propagated payloads); the unit's
NaN is always 0x7FC00000, so NaN results are compared by NaN-ness (documented in
sim/commands/vectors.py).
A corrupted line must be reported by line number with exit status 1.
"""

import numpy as np
import pytest
import softfloat

from sim.cli import main
from sim.flow.toolchain import SIMULATORS
from verif.fp.fma_tb import hard_requests, random_requests, special_requests

SIGN = 0x80000000


def _softfloat(op, *operands):
    """SoftFloat ``op`` on FP32 codes, RNE and tininess after rounding: ``(z, flags)``."""
    cvar = softfloat.cvar
    cvar.softfloat_roundingMode = softfloat.softfloat_round_near_even
    cvar.softfloat_detectTininess = softfloat.softfloat_tininess_afterRounding
    regs = [softfloat.float32_t() for _ in operands]
    z, flags = [], []
    for values in zip(*(np.asarray(x).tolist() for x in operands), strict=True):
        for reg, v in zip(regs, values, strict=True):
            reg.v = int(v)
        cvar.softfloat_exceptionFlags = 0
        z.append(op(*regs).v)
        flags.append(cvar.softfloat_exceptionFlags)
    return z, flags


def _triples(n, seed):
    """FP32 (a, b, c): random FMAs, hard cases and a sample of the special combinations."""
    rng = np.random.default_rng(seed)
    specials = special_requests()
    fp32 = np.flatnonzero((specials["a_fmt"] == 0) & (specials["b_fmt"] == 0))
    pick = rng.choice(fp32, 300, replace=False)
    parts = [random_requests(rng, n, formats=("fp32",)), hard_requests(rng, n)]
    cols = [np.concatenate([p[k] for p in parts] + [specials[k][pick]]) for k in "abc"]
    return [c.astype(np.uint32) for c in cols]


def _write(path, operands, widths, z, flags, comment):
    fields = [[f"{int(v):0{w // 4}X}" for v in col]
              for col, w in zip(operands, widths, strict=True)]
    rows = zip(*fields, strict=True)
    lines = [" ".join(row) + f" {r:08X} {f:02X}"
             for row, r, f in zip(rows, z, flags, strict=True)]
    path.write_text(f"# {comment}\n" + "\n".join(lines) + "\n")
    return len(lines)


def _mul_add_file(path, n=600, seed=1):
    a, b, c = _triples(n, seed)
    z, flags = _softfloat(softfloat.f32_mulAdd, a, b, c)
    return _write(path, (a, b, c), (32, 32, 32), z, flags, "softfloat f32_mulAdd, RNE")


def _run(op, path, sim):
    return main(["vectors", "--unit", "fma", "--op", op, "--in", str(path), "--sim", sim])


@pytest.mark.parametrize("sim", SIMULATORS)
def test_mul_add_softfloat_vectors(sim, tmp_path, capsys):
    """A SoftFloat f32_mulAdd file (values and flags) passes on the RTL; NaN results are counted
    as compared by NaN-ness."""
    path = tmp_path / "mulAdd.txt"
    n = _mul_add_file(path)
    assert _run("f32_mulAdd", path, sim) == 0
    out = capsys.readouterr().out
    assert f"{n} pass, 0 fail" in out
    assert "NaN results compared by NaN-ness" in out


def test_corrupted_line_fails(tmp_path, capsys):
    """One wrong result bit, and one wrong flag, each fail their line (exit 1), on the RTL and
    on the model."""
    path = tmp_path / "mulAdd.txt"
    n = _mul_add_file(path, n=200, seed=2)
    lines = path.read_text().splitlines()
    a, b, c, z, f = lines[57].split()
    lines[57] = f"{a} {b} {c} {int(z, 16) ^ 1:08X} {f}"
    a, b, c, z, f = lines[99].split()
    lines[99] = f"{a} {b} {c} {z} {int(f, 16) ^ 0x01:02X}"
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines) + "\n")
    for sim in ("verilator", "model"):
        assert _run("f32_mulAdd", bad, sim) == 1
        out = capsys.readouterr().out
        assert f"{n - 2} pass, 2 fail (value 1, flags 1)" in out
        assert "line 58:" in out and "line 100:" in out


def test_nan_results_compare_by_nan_ness(tmp_path, capsys):
    """An x86 NaN payload expected matches the unit's canonical NaN; a number where a NaN is
    expected, or a NaN where a number is, does not."""
    path = tmp_path / "nan.txt"
    path.write_text("7F800000 00000000 3F800000 FFC00000 10\n"      # inf*0: default NaN, x86
                    "7FC01234 3F800000 00000000 7FC01234 00\n"      # payload propagated
                    "3F800000 3F800000 00000000 7FC00000 00\n"      # 1 is not a NaN
                    "7FC00000 3F800000 00000000 3F800000 00\n")     # NaN is not 1
    assert _run("f32_mulAdd", path, "model") == 1
    out = capsys.readouterr().out
    assert "2 pass, 2 fail (value 2, flags 0)" in out
    assert "line 3:" in out and "line 4:" in out


@pytest.mark.parametrize("sim", ["verilator", "model"])
def test_mul_add_bf16_vectors(sim, tmp_path, capsys):
    """bf16_f32_mulAdd: BF16 a and b widened exactly (the upper half of an FP32), FP32 c;
    expected values from SoftFloat's f32_mulAdd on the widened operands."""
    rng = np.random.default_rng(3)
    req = random_requests(rng, 800, formats=("bf16",))
    a = (req["a"] & 0xFFFF).astype(np.uint32)
    b = (req["b"] & 0xFFFF).astype(np.uint32)
    c = req["c"].astype(np.uint32)
    z, flags = _softfloat(softfloat.f32_mulAdd, a << 16, b << 16, c)
    path = tmp_path / "bf16.txt"
    n = _write(path, (a, b, c), (16, 16, 32), z, flags, "softfloat f32_mulAdd of BF16 a, b")
    assert _run("bf16_f32_mulAdd", path, sim) == 0
    assert f"{n} pass, 0 fail" in capsys.readouterr().out


@pytest.mark.parametrize("op", ["f32_mul", "f32_add"])
@pytest.mark.parametrize("sim", ["verilator", "model"])
def test_mul_and_add_vectors(op, sim, tmp_path, capsys):
    """f32_mul and f32_add, computed by the FMA unit as a·b + (-0) and a·1 + b, against
    SoftFloat's own f32_mul and f32_add."""
    a, b, c = _triples(300, 4)
    # For addition, pair a with values near it and with c (cancellation, carries).
    if op == "f32_add":
        b = np.where(np.arange(len(a)) % 2 == 0, c, (a ^ SIGN) + np.uint32(1))
    z, flags = _softfloat(getattr(softfloat, op), a, b)
    path = tmp_path / f"{op}.txt"
    n = _write(path, (a, b), (32, 32), z, flags, f"softfloat {op}, RNE")
    assert _run(op, path, sim) == 0
    assert f"{n} pass, 0 fail" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["--op", "f32_mulAdd", "--format", "cfp8_143"],
     "f32_mulAdd takes no --format (its operands are fp32, fp32, fp32)"),
    (["--op", "bf16_f32_mulAdd", "--bias", "7"], "bf16_f32_mulAdd takes no --bias"),
    (["--op", "f32_add", "--round", "sr"],
     "f32_add rounds to nearest even only: --round sr does not apply"),
    (["--op", "f32_to_bf16"], "unit 'fma' has no op 'f32_to_bf16'; its ops are f32_mulAdd, "
     "f32_mul, f32_add, bf16_f32_mulAdd"),
])
def test_bad_options(tmp_path, capsys, argv, message):
    path = tmp_path / "v.txt"
    path.write_text("3F800000 3F800000 00000000 3F800000\n")
    assert main(["vectors", "--unit", "fma", "--in", str(path), "--sim", "model"] + argv) == 2
    assert f"d1core vectors: error: {message}" in capsys.readouterr().err


@pytest.mark.parametrize("op,content,message", [
    ("f32_mulAdd", "3F800000 3F800000 3F800000\n",
     "v.txt:1: expected 3 operand(s), a result and optional flags, got 3 fields"),
    ("f32_mul", "3F800000 3F800000 3F800000 3F800000 00 00\n",
     "v.txt:1: expected 2 operand(s), a result and optional flags, got 6 fields"),
    ("bf16_f32_mulAdd", "3F800 3F80 00000000 3F800000\n", "v.txt:1: '3F800' does not fit 16 bits"),
])
def test_malformed_file(tmp_path, capsys, op, content, message):
    path = tmp_path / "v.txt"
    path.write_text(content)
    assert main(["vectors", "--unit", "fma", "--op", op, "--in", str(path), "--sim",
                 "model"]) == 2
    assert message in capsys.readouterr().err
