"""``d1core vectors --unit vector``: TestFloat-format vector files through the vector unit's 16
FP32 lanes (lines 16r .. 16r + 15 of a file in lanes 0..15 of request r).

The files come from Berkeley SoftFloat (the ``softfloat`` package), an oracle independent of
d1core's model and RTL, as for ``--unit fma`` (tests/sim/test_vectors_fma.py, whose file writers
these tests reuse). The unit reports one set of flags per request (the OR over its lanes), so
flags are compared per request; values per line. NaN results compare by NaN-ness.
"""

import numpy as np
import pytest
import softfloat

from sim.cli import main
from tests.groups import same_build, sims_of
from tests.sim.test_vectors_fma import SIGN, _mul_add_file, _softfloat, _triples, _write
from verif.vector.unit_run import VECTOR_DESIGN


def _run(op, path, sim):
    return main(["vectors", "--unit", "vector", "--op", op, "--in", str(path), "--sim", sim])


@pytest.mark.parametrize("sim", sims_of(VECTOR_DESIGN, slow=["icarus"]))
def test_mul_add_softfloat_vectors(sim, tmp_path, capsys):
    """A SoftFloat f32_mulAdd file (values and flags; a line count that is not a multiple of 16)
    passes on the RTL."""
    path = tmp_path / "mulAdd.txt"
    n = _mul_add_file(path, n=150 if sim == "icarus" else 600)
    assert n % 16
    assert _run("f32_mulAdd", path, sim) == 0
    out = capsys.readouterr().out
    assert f"{n} pass, 0 fail" in out
    assert "NaN results compared by NaN-ness" in out


@pytest.mark.parametrize("op", ["f32_mul", "f32_add"])
@pytest.mark.parametrize("sim", [*sims_of(VECTOR_DESIGN, ["verilator"]), "model"])
def test_mul_and_add_vectors(op, sim, tmp_path, capsys):
    """f32_mul and f32_add (the vector ops mul and add) against SoftFloat's f32_mul and
    f32_add."""
    a, b, c = _triples(300, 4)
    if op == "f32_add":
        b = np.where(np.arange(len(a)) % 2 == 0, c, (a ^ SIGN) + np.uint32(1))
    z, flags = _softfloat(getattr(softfloat, op), a, b)
    path = tmp_path / f"{op}.txt"
    n = _write(path, (a, b), (32, 32), z, flags, f"softfloat {op}, RNE")
    assert _run(op, path, sim) == 0
    assert f"{n} pass, 0 fail" in capsys.readouterr().out


@same_build(VECTOR_DESIGN, "verilator")
def test_corrupted_lines_fail(tmp_path, capsys):
    """One wrong result bit fails its line; one line given a flag that no line of its request
    raises fails the flags of its request's lines; both named by line number (exit 1), on the
    RTL and on the model."""
    path = tmp_path / "mulAdd.txt"
    n = _mul_add_file(path, n=200, seed=2)
    lines = path.read_text().splitlines()     # line 1 is a comment; line k + 2 is item k
    a, b, c, z, f = lines[57].split()
    lines[57] = f"{a} {b} {c} {int(z, 16) ^ 1:08X} {f}"
    flags = np.array([int(x.split()[4], 16) for x in lines[1:]])
    group = np.bitwise_or.reduceat(flags, np.arange(0, n, 16))
    r = int(np.flatnonzero((group & 0x04) == 0)[-1])      # a request without Overflow
    assert r > 3                                          # not line 58's
    item = 16 * r + 5
    a, b, c, z, f = lines[item + 1].split()
    lines[item + 1] = f"{a} {b} {c} {z} {int(f, 16) | 0x04:02X}"
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines) + "\n")
    in_request = min(16, n - 16 * r)
    for sim in ("verilator", "model"):
        assert _run("f32_mulAdd", bad, sim) == 1
        out = capsys.readouterr().out
        assert f"{n - 1 - in_request} pass, {1 + in_request} fail (value 1, flags " \
               f"{in_request})" in out
        assert "line 58 (request 3, lane 8" in out
        assert f"line {16 * r + 2} (request {r}, lane 0" in out


def test_unknown_op(tmp_path, capsys):
    path = tmp_path / "v.txt"
    path.write_text("3F800000 3F800000 00000000 3F800000\n")
    assert main(["vectors", "--unit", "vector", "--op", "bf16_f32_mulAdd", "--in", str(path),
                 "--sim", "model"]) == 2
    assert ("d1core vectors: error: unit 'vector' has no op 'bf16_f32_mulAdd'; its ops are "
            "f32_mulAdd, f32_mul, f32_add") in capsys.readouterr().err
