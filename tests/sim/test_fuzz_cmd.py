"""``d1core fuzz``: a passing run's lines and figures, a mismatch reported with its seed, first
difference and the command that reproduces it (exit 1) when the model is deliberately wrong,
and exit status 2 with exact messages for bad options, before any simulation."""

import re
import subprocess
import sys

import pytest

from sim.cli import main
from sim.commands import fuzz as fuzz_cmd
from tests.groups import core_cases


def _run(capsys, *argv):
    status = main(["fuzz", *map(str, argv)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _figures(out):
    """The closing figures: programs, instructions, rate of simulation and overall, mismatches."""
    m = re.search(r"^programs: (\d+)\ninstructions compared: (\d+)\ninstructions compared per "
                  r"second: ([\d,]+) of simulation \(([\d.]+) s\), ([\d,]+) overall \(([\d.]+) "
                  r"s\)\nmismatches: (\d+)$", out, re.M)
    assert m, out
    return [float(g.replace(",", "")) for g in m.groups()]


@pytest.mark.parametrize("sim", core_cases("SMALL", [("verilator",)]))
def test_passing_run(sim, capsys):
    """--seconds 0 runs one program: the header, its line (instructions and cycles), then the
    figures, consistent with it (the rate is instructions / simulation seconds); exit 0."""
    status, out, _ = _run(capsys, "--seconds", 0, "--seed", 3, "--commands", 3, "--sim", sim)
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("d1core fuzz: core programs of 3 commands a thread on SMALL")
    m = re.fullmatch(r"seed 3 core: (\d+) instructions, (\d+) cycles, PASS", lines[1])
    assert m, lines[1]
    n = int(m.group(1))
    programs, instructions, sim_rate, sim_s, rate, total_s, mismatches = _figures(out)
    assert (programs, instructions, mismatches) == (1, n, 0) and n > 100
    # The rates are printed as whole numbers and the seconds to a tenth: when the run pays the
    # core's build, the overall rate is about 1 and its rounding alone is up to half of it.
    assert abs(sim_rate - n / sim_s) <= 0.5 + 0.1 * n / sim_s and total_s >= sim_s
    assert abs(rate - n / total_s) <= 0.5 + 0.1 * n / total_s


@pytest.mark.parametrize("sim", core_cases("SMALL", [("verilator",)]))
def test_mismatch_is_reported(sim, capsys, monkeypatch):
    """The model's MUL made wrong by one (the RTL is right): the scalar program of seed 5 has
    MULs, so the run says MISMATCH, the summary gives the seed, the first difference (a retire
    record whose value differs) and the command that runs that program alone; exit 1."""
    import verif.scalar.iss as iss

    muldiv = iss._muldiv
    monkeypatch.setattr(iss, "_muldiv", lambda funct3, a, b, width:
                        muldiv(funct3, a, b, width) + (funct3 == 0))
    status, out, _ = _run(capsys, "--seconds", 0, "--seed", 5, "--kind", "scalar",
                          "--commands", 2, "--sim", sim)
    assert status == 1, out
    assert re.search(r"^seed 5 scalar: \d+ instructions, \d+ cycles, MISMATCH$", out, re.M), out
    assert _figures(out)[-1] == 1
    assert re.search(r"^  seed 5 scalar: record \d+: got Retire\(thread=\d, .*\); model expected "
                     r"Retire\(thread=\d, ", out, re.M), out
    assert ("    reproduce: d1core fuzz --seconds 0 --seed 5 --kind scalar --core SMALL --sim "
            f"{sim} --commands 2\n") in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--seconds", "-1"], "argument --seconds: must be a finite number >= 0, not '-1'"),
    (["--seconds", "nan"], "argument --seconds: must be a finite number >= 0, not 'nan'"),
    (["--seconds", "ten"], "argument --seconds: must be a number of seconds, not 'ten'"),
    (["--seed", "-1"], "argument --seed: the seed must be in 0..4294967295, not -1"),
    (["--commands", "0"], "argument --commands: must be in 1..40, not 0"),
    (["--commands", "41"], "argument --commands: must be in 1..40, not 41"),
    (["--core", "D2"], "argument --core: invalid choice: 'D2' (choose from 'D1', 'SMALL')"),
    (["--kind", "vector"],
     "argument --kind: invalid choice: 'vector' (choose from 'core', 'scalar', 'both')"),
    (["--sim", "spike"],
     "argument --sim: invalid choice: 'spike' (choose from 'verilator', 'icarus')"),
])
def test_bad_options(capsys, monkeypatch, argv, message):
    """Impossible values: exit 2 and the exact message, before anything runs."""
    monkeypatch.setattr(fuzz_cmd, "fuzz", lambda **kw: pytest.fail("fuzz started"))
    status, out, err = _run(capsys, *argv)
    assert status == 2 and out == ""
    assert err.endswith(f"d1core fuzz: error: {message}\n"), err


def test_help():
    """`d1core fuzz --help` describes the command and its options."""
    out = subprocess.run([sys.executable, "-m", "sim.cli", "fuzz", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for word in ("usage: d1core fuzz", "--seconds", "--seed", "--core", "--sim", "--kind",
                 "--commands", "mismatch", "reproduces"):
        assert word in out, word


def test_written_section_of_a_run():
    """``--write``'s section: the run's counts and rates, and each mismatch with the command that
    reproduces it."""
    from types import SimpleNamespace

    from verif.core.fuzz import FuzzSummary

    ok = SimpleNamespace(seed=5, kind="core", instructions=1000, sim_seconds=2.0, passed=True)
    bad = SimpleNamespace(seed=6, kind="core", instructions=500, sim_seconds=1.0, passed=False,
                          detail="x3 differs")
    summary = FuzzSummary(results=[ok, bad], seconds=5.0)
    args = SimpleNamespace(core="SMALL", sim="verilator", seed=5, seconds=60.0, commands=20)
    text = fuzz_cmd.section(summary, args, what="core programs of 20 commands a thread")
    assert "Core programs of 20 commands a thread on the SMALL core in verilator" in text
    for row in ("| programs | 2 |", "| instructions compared | 1,500 |",
                "| compared per second of simulation | 500 |", "| mismatches | 1 |"):
        assert row in text
    assert ("- seed 6 core: x3 differs (`d1core fuzz --seconds 0 --seed 6 --kind core --core "
            "SMALL --sim verilator --commands 20`)") in text
