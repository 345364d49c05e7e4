"""Bad input never crashes the tools or gets a wrong answer (issue 16): the exit-status contract
of every ``d1core`` command (0 pass, 1 the check failed, 2 bad usage or input, 3 an internal
error with the traceback in a file) and one test per defect of the issue. Everything here is
refused before any build or simulation, so these tests run in-process and fast; a test that
does simulate says so."""

import os
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from sim import cli
from sim.cli import main
from sim.commands import gemm as gemm_command
from sim.flow import toolchain
from verif.scoreboard import flags_str


def _main(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# --- the exit-status contract ---------------------------------------------------------------

def test_help_documents_the_exit_statuses():
    out = subprocess.run([sys.executable, "-m", "sim.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for line in ("0  pass", "1  the design or a check failed", "2  bad usage or input",
                 "3  an internal error"):
        assert line in out


def test_internal_error_is_exit_3_with_the_traceback_in_a_file(capsys, monkeypatch, tmp_path):
    """A bug (here: an exception the command does not expect) exits 3 with one line naming the
    exception, where it was raised and the file holding the traceback; no traceback on the
    terminal."""
    monkeypatch.setattr(toolchain, "BUILD", tmp_path)

    def broken(args):
        raise KeyError("oops")

    monkeypatch.setattr(cli.COMMANDS[0], "main", broken)
    # the parser's set_defaults took the function object: patch it where the parser looks
    parser, _ = cli._parser()
    monkeypatch.setattr(cli, "_parser", lambda: (parser, _))
    for action in parser._subparsers._group_actions:
        action.choices["sim"].set_defaults(func=broken)
    status, out, err = _main(capsys, "sim")
    assert status == 3 and out == ""
    assert "Traceback" not in err and len(err.splitlines()) == 1
    m = re.fullmatch(r"d1core sim: internal error: KeyError: 'oops' \(at .*test_bad_input\.py:"
                     r"\d+\); full traceback in (.*)\n", err)
    assert m, err
    crash = m.group(1)
    assert crash.startswith(str(tmp_path / "crash"))
    text = open(crash).read()
    assert "Traceback" in text and "KeyError: 'oops'" in text


def test_usage_errors_return_2_in_process(capsys):
    """argparse's errors are exit status 2 from main() too (no SystemExit escapes)."""
    assert _main(capsys, "run", "x.elf", "--sim", "spike")[0] == 2
    assert _main(capsys, "no-such-command")[0] == 2
    assert _main(capsys)[0] == 2
    assert _main(capsys, "--help")[0] == 0


def test_sim_bogus_prints_sims_usage(capsys):
    status, _, err = _main(capsys, "sim", "--bogus")
    assert status == 2
    assert err.startswith("usage: d1core sim ")
    assert "d1core sim: error: unrecognized arguments: --bogus" in err


# --- seeds ----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["sim", "--seed", "-1"],
    ["sim", "--demo", "convert", "--seed", str(2**32)],
    ["gemm", "--m", "4", "--n", "4", "--k", "4", "--seed", "-1"],
    ["noc-bench", "--seed", "-1"],
    ["noc-bench", "--seed", str(2**32)],
    ["vectors", "--unit", "fma", "--op", "f32_mul", "--in", "x", "--seed", "-1"],
    ["vectors", "--unit", "convert", "--op", "bf16_to_f32", "--in", "x", "--seed", str(2**40)],
])
def test_seed_out_of_range(capsys, argv):
    status, _, err = _main(capsys, *argv)
    assert status == 2 and "the seed must be in 0..4294967295" in err


def test_seed_limits_accepted(capsys, tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("3F80 3F800000\n")
    for s in ("0", str(2**32 - 1)):
        assert _main(capsys, "vectors", "--unit", "convert", "--op", "bf16_to_f32", "--in", path,
                     "--sim", "model", "--seed", s)[0] == 0


# --- sizes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["gemm", "--m", "100000", "--n", "100000", "--k", "100000"], "GiB of memory"),
    (["gemm", "--m", "512", "--n", "512", "--k", "512", "--sim", "icarus"], "give --force"),
    (["sim", "--demo", "convert", "--n", "1000000000"], "GiB of memory"),
    (["sim", "--demo", "convert", "--n", "1000000", "--sim", "icarus"], "give --force"),
    (["sim", "--sim", "icarus"], "give --force"),
    (["bench", "--n", "100000000000"], "GiB of memory"),
    (["noc-bench", "--cycles", "100000000000"], "GiB of memory"),
    (["noc-bench", "--cycles", "1000000", "--rate", "0.1"], "give --force"),
])
def test_sizes_refused_with_the_estimate(capsys, argv, message):
    status, _, err = _main(capsys, *argv)
    assert status == 2 and message in err
    assert re.search(r"about [\d,.]+ (GiB|s|minutes|hours|days)", err), err


def test_gemm_estimate_grows_with_the_shape():
    small = gemm_command.estimate(64, 64, 64, preset="D1", sim="verilator")
    big = gemm_command.estimate(640, 64, 64, preset="D1", sim="verilator")
    assert big[0] == pytest.approx(10 * small[0]) and big[1] > small[1]
    assert small[0] < 2  # the default demo is far below the limit


# --- output paths, checked before the run ---------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["gemm", "--m", "4", "--n", "4", "--k", "4", "--out", "{missing}/res.npz"],
    ["gemm", "--m", "4", "--n", "4", "--k", "4", "--out", "{tmp}"],
    ["gemm", "--m", "4", "--n", "4", "--k", "4", "--out", "/proc/res.npz"],
    ["noc-bench", "--mesh", "2x2", "--json", "{missing}/r.json"],
    ["noc-bench", "--mesh", "2x2", "--plot", "{missing}/r.png"],
    ["noc-bench", "--mesh", "2x2", "--plot", "{tmp}/r.pdf"],
])
def test_output_path_refused_before_simulating(capsys, tmp_path, monkeypatch, argv):
    import sim.flow.runner

    def no_simulation(*a, **k):
        raise AssertionError("simulated before checking the output path")

    monkeypatch.setattr(sim.flow.runner, "run_cocotb", no_simulation)
    monkeypatch.setattr("sim.bench.noc.run_cocotb", no_simulation)
    monkeypatch.setattr("sim.commands.gemm.run_stream", no_simulation)
    argv = [a.format(missing=tmp_path / "no" / "dir", tmp=tmp_path) for a in argv]
    status, _, err = _main(capsys, *argv)
    assert status == 2 and "error:" in err


def test_gemm_out_writes_the_name_given(capsys, tmp_path):
    """`gemm --out res` writes `res` (not res.npz) and says so (simulates a 4x4x4 GEMM on
    Verilator)."""
    out = tmp_path / "res"
    status, stdout, _ = _main(capsys, "gemm", "--m", "4", "--n", "4", "--k", "4",
                              "--out", out, "--preset", "SMALL")
    assert status == 0
    assert f"wrote {out}\n" in stdout and out.exists() and not (tmp_path / "res.npz").exists()
    with np.load(out) as f:
        assert f["d"].shape == (4, 4)
    _check_timing_line(stdout)


def _check_timing_line(stdout):
    """The timing line's parts add up to its total (to the rounding of its figures), and its
    rate is the cycles over the simulation's own seconds."""
    line = next(line for line in stdout.splitlines() if line.startswith("time "))
    m = re.fullmatch(r"time ([\d.]+) s: build ([\d.]+) s \(Verilog ([\d.]+) s, simulator "
                     r"([\d.]+) s\), simulation ([\d.]+) s \(([\d,]+) cycles, ([\d,]+) cycles/s\), "
                     r"checking ([\d.]+) s, other ([\d.]+) s \(.*\)", line)
    assert m, line
    total, build, verilog, simulator, simulation, _, _, checking, other = (
        float(g.replace(",", "")) for g in m.groups())
    assert abs(verilog + simulator - build) <= 0.11
    assert abs(build + simulation + checking + other - total) <= 0.21


def test_timing_line_adds_up():
    line = gemm_command.timing_line(64.7, convert=8.4, build=23.0, simulation=0.72,
                                    checking=0.3, cycles=1159)
    assert line.startswith("time 64.7 s: build 31.4 s (Verilog 8.4 s, simulator 23.0 s), "
                           "simulation 0.7 s (1,159 cycles, 1,610 cycles/s), checking 0.3 s, "
                           "other 32.3 s")
    _check_timing_line(line)


def test_progress_of_a_long_step(capsys):
    """A step that lasts says what it is doing and for how long, on stderr."""
    import time

    from sim.flow.runner import _Ticker

    with _Ticker("building something", first=0.05, every=0.05):
        time.sleep(0.3)
    err = capsys.readouterr().err
    assert "d1core: building something: 0 s so far" in err and err.count("\n") >= 2
    with _Ticker("quick", first=5):
        pass
    assert capsys.readouterr().err == ""


def test_progress_of_a_long_simulation(capsys, monkeypatch):
    """A cocotb module's progress line (``report_progress``, shared by the stream and scalar
    benches) is printed on stderr once ``seconds`` of wall-clock time have passed since the last,
    looking at the clock every ``every_ns`` simulated nanoseconds."""
    import asyncio
    import time

    import cocotb.triggers

    from sim.flow import runner

    waits = []

    async def timer(t, unit):
        waits.append((t, unit))

    wall = iter(range(0, 100, 2))  # seconds: each look at the wall clock is 2 s later
    monkeypatch.setattr(cocotb.triggers, "Timer", timer)
    monkeypatch.setattr(time, "perf_counter", lambda: next(wall))
    lines = ["  [a] 2", "  [a] 1"]

    class Cancelled(Exception):
        pass

    def line():
        if not lines:
            raise Cancelled  # ends the endless loop, as cocotb's cancel does
        return lines.pop()

    with pytest.raises(Cancelled):
        asyncio.run(runner.report_progress(line, every_ns=4000, seconds=5))
    # Looks at 2, 4, 6 s (line 1; the next 5 s count from 8), 10, 12, 14 (line 2, from 16),
    # 18, 20, 22 (the end).
    assert capsys.readouterr().err == "  [a] 1\n  [a] 2\n"
    assert waits == [(4000, "ns")] * 9


# --- gemm --in with a file that is not an npz ------------------------------------------------

def _bad_npz(tmp_path, kind):
    path = tmp_path / f"{kind}.npz"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("a = [1, 2]\n")
    elif kind == "npy":
        np.save(tmp_path / "x.npy", np.zeros((2, 2), np.uint16))
        path = tmp_path / "x.npy"
    elif kind == "truncated":
        np.savez(path, a=np.zeros((4, 4), np.uint16), b=np.zeros((4, 4), np.uint16))
        path.write_bytes(path.read_bytes()[:-40])
    elif kind == "pickle":
        np.savez(path, a=np.array([{}, 1], dtype=object), b=np.zeros((1, 1), np.uint16))
    elif kind == "bad member":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("a.npy", b"not an array")
            z.writestr("b.npy", b"\x93NUMPY\x01\x00")
    elif kind == "raw member":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("a.npy", b"")
            z.writestr("b.npy", b"xy")
    elif kind == "directory":
        path = tmp_path
    elif kind == "missing":
        path = tmp_path / "nothing.npz"
    return path


@pytest.mark.parametrize("kind", ["empty", "text", "npy", "truncated", "pickle", "bad member",
                                  "raw member", "directory", "missing"])
def test_gemm_in_not_an_npz(capsys, tmp_path, kind):
    status, _, err = _main(capsys, "gemm", "--in", _bad_npz(tmp_path, kind))
    assert status == 2, err
    assert err.startswith("d1core gemm: error: ") and "Traceback" not in err
    assert "allow_pickle" not in err


# --- vectors ----------------------------------------------------------------------------------

def test_vectors_not_utf8(capsys, tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(b"3F800000 3F80\n\xff\xfe 3F80\n")
    status, _, err = _main(capsys, "vectors", "--unit", "convert", "--op", "f32_to_bf16",
                           "--in", path, "--sim", "model")
    assert status == 2 and f"{path}:2: byte 0xff is not ASCII text" in err


@pytest.mark.parametrize("token", ["-0", "+1", "0x1", "1_0", "-3F80"])
def test_vectors_hex_tokens_refused(capsys, tmp_path, token):
    path = tmp_path / "v.txt"
    path.write_text(f"3F800000 {token}\n")
    status, _, err = _main(capsys, "vectors", "--unit", "convert", "--op", "f32_to_bf16",
                           "--in", path, "--sim", "model")
    assert status == 2 and f"v.txt:1: {token!r} is not hexadecimal" in err


@pytest.mark.parametrize("fmt", ["cfp8_143", "cfp8-143"])
def test_vectors_format_both_spellings(capsys, tmp_path, fmt):
    path = tmp_path / "v.txt"
    path.write_text("3F800000 38\n")
    assert _main(capsys, "vectors", "--unit", "convert", "--op", "f32_to_cfp8", "--format", fmt,
                 "--bias", "7", "--in", path, "--sim", "model")[0] == 0


@pytest.mark.parametrize("fmt", ["cfp8_143", "cfp8-143"])
def test_gemm_format_both_spellings(fmt):
    assert gemm_command._format(fmt, "a").name == "cfp8_143"


def test_vectors_flag_0x08_has_a_letter(capsys, tmp_path):
    """An expected flag 0x08 (TestFloat's infinite) shows as Z, so the line's expected and got
    flags differ on the screen."""
    assert flags_str(0x08) == "Z" and flags_str(0x19) == "IZX" and flags_str(0x40) == "+0x40"
    path = tmp_path / "v.txt"
    path.write_text("3F800000 3F80 08\n")
    status, out, _ = _main(capsys, "vectors", "--unit", "convert", "--op", "f32_to_bf16",
                           "--in", path, "--sim", "model")
    assert status == 1 and "[Z], got 3f80 (1) [-]" in out


# --- gemm bias of a fixed-bias format -----------------------------------------------------

def test_gemm_bf16_bias(capsys, monkeypatch):
    """--a-bias with BF16: a wrong value is refused without inviting one that crashes; the fixed
    value 127 itself is accepted (no bias goes to the engine) and does not crash the packing."""
    status, _, err = _main(capsys, "gemm", "--m", "4", "--n", "4", "--k", "4", "--a-bias", "3")
    assert status == 2 and "BF16 has a fixed bias; give --a-bias only with a CFP8 format" in err
    seen = {}

    def fake_run_gemm(a, b, c, **kw):
        seen.update(kw)
        raise SystemExit(0)

    monkeypatch.setattr(gemm_command, "run_gemm", fake_run_gemm)
    assert _main(capsys, "gemm", "--m", "4", "--n", "4", "--k", "4", "--a-bias", "127")[0] == 0
    assert seen["a_bias"] is None


# --- WAVES ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, on", [("off", False), ("0", False), ("no", False),
                                       ("", False), ("false", False), ("OFF", False),
                                       ("1", True), ("on", True), ("yes", True)])
def test_waves_values(monkeypatch, value, on):
    from sim.flow.runner import waves_requested

    monkeypatch.setenv("WAVES", value)
    assert waves_requested() is on


def test_waves_bad_value_refused(capsys, monkeypatch):
    monkeypatch.setenv("WAVES", "maybe")
    status, _, err = _main(capsys, "sim")
    assert status == 2 and "WAVES must be one of" in err and "'maybe'" in err


def test_no_traceback_in_subprocess(tmp_path):
    """Through the installed entry point: a bad npz exits 2 with one line and no traceback."""
    path = tmp_path / "x.npz"
    path.write_text("hello")
    r = subprocess.run([sys.executable, "-m", "sim.cli", "gemm", "--in", str(path)],
                       capture_output=True, text=True, env={**os.environ, "WAVES": "0"})
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1


# --- run: tohost and traps ------------------------------------------------------------------

def _bare(tmp_path, name, text):
    """A bare-metal ELF from assembly ``text`` (no crt0, no trap handler)."""
    from verif.scalar import riscv

    src = tmp_path / f"{name}.S"
    src.write_text(text)
    elf = tmp_path / f"{name}.elf"
    subprocess.run([riscv.compiler(), *riscv.ARCH_FLAGS, "-nostdlib", "-Wl,-N,-Ttext=0x80000000",
                    str(src), "-o", str(elf)], check=True)
    return elf


def test_run_tohost_misaligned(capsys, tmp_path):
    """A tohost at an odd address is refused at load (it gave PASS on the ISS, FAIL on the
    RTL)."""
    elf = _bare(tmp_path, "odd", ".globl _start\n_start: j _start\n.data\n.balign 8\n.byte 0\n"
                ".globl tohost\ntohost: .dword 0\n")
    for sim in ("iss", "verilator"):
        status, _, err = _main(capsys, "run", elf, "--sim", sim)
        assert status == 2 and re.fullmatch(
            rf"d1core run: error: {re.escape(str(elf))}: tohost at 0x[0-9a-f]+ is not 8-byte "
            r"aligned \(align the symbol: \.balign 8\)\n", err), err


def test_run_tohost_outside_memory(capsys, tmp_path):
    elf = _bare(tmp_path, "far", ".globl _start\n_start: j _start\n"
                ".globl tohost\n.set tohost, 0x10\n")
    status, _, err = _main(capsys, "run", elf, "--sim", "iss")
    assert status == 2
    assert err == (f"d1core run: error: {elf}: tohost at 0x10 is outside memory "
                   "(0x80000000..0x800fffff)\n")


#: Programs that trap with no handler (mtvec 0): (body, cause, mtval from the pc of ``bad``;
#: None: the pc itself, an int: that value).
TRAPS = {
    "illegal": ("bad: .word 0", 2, 0),
    "ecall": ("bad: ecall", 11, 0),
    "wfi": ("bad: wfi", 2, 0x10500073),
    "compressed": ("bad: .half 0x4505\n .half 0x0001", 2, 0x00014505),
    "load outside memory": ("li x2, 0x10\nbad: ld x1, 0(x2)", 5, 0x10),
    "misaligned store": ("la x2, tohost\naddi x2, x2, 3\nbad: sw x0, 0(x2)", 6, "tohost+3"),
}


def _trap_program(tmp_path, name):
    body = TRAPS[name][0]
    return _bare(tmp_path, name.replace(" ", "_"),
                 f".globl _start\n_start:\ncsrw mtvec, zero\n{body}\n1: j 1b\n"
                 ".data\n.balign 8\n.globl tohost\ntohost: .dword 0\n")


def _expected_trap(path, name):
    from verif.scalar.elf import load

    program = load(path)
    pc = program.symbol("bad")
    _, cause, mtval = TRAPS[name]
    if mtval == "tohost+3":
        mtval = program.tohost + 3
    names = {2: "illegal instruction", 11: "environment call from M-mode",
             5: "load access fault", 6: "store address misaligned"}
    return (f"TRAP: {names[cause]} (cause {cause}) at pc {pc:#x} on thread 0, mtval {mtval:#x}, "
            "and no trap handler (mtvec) to take it")


def test_run_handler_that_traps_at_its_entry(capsys, tmp_path):
    """A handler whose first instruction traps loops on itself: reported as the program's
    first trap, not a timeout."""
    path = _bare(tmp_path, "selftrap", ".globl _start\n_start:\nla t0, handler\n"
                 "csrw mtvec, t0\nbad: ecall\nhandler: .word 0\n"
                 ".data\n.balign 8\n.globl tohost\ntohost: .dword 0\n")
    from verif.scalar.elf import load

    pc = load(path).symbol("bad")
    status, out, _ = _main(capsys, "run", path, "--sim", "iss", "--threads", "1")
    assert status == 1
    assert out.splitlines()[0].startswith(f"TRAP: environment call from M-mode (cause 11) at "
                                          f"pc {pc:#x} on thread 0")


@pytest.mark.parametrize("name", TRAPS)
def test_run_trap_reported_on_the_iss(capsys, tmp_path, name):
    """A trap with no handler is a trap (cause, pc, mtval, thread), exit 1, not a TIMEOUT."""
    path = _trap_program(tmp_path, name)
    status, out, _ = _main(capsys, "run", path, "--sim", "iss", "--threads", "1")
    assert status == 1
    assert out.splitlines()[0] == _expected_trap(path, name)


@pytest.mark.parametrize("name", ["illegal", "misaligned store"])
def test_run_trap_reported_on_verilator(capsys, tmp_path, name):
    """The same on the RTL (Verilator, in lockstep with the ISS): the hang detector does not
    count the trap loop as progress, so the run ends long before --max-cycles, and the trap is
    reported as on the ISS."""
    path = _trap_program(tmp_path, name)
    status, out, _ = _main(capsys, "run", path, "--sim", "verilator", "--threads", "1")
    assert status == 1
    lines = out.splitlines()
    assert lines[0] == _expected_trap(path, name)
    assert int(lines[1].split()[1]) < 10_000


# --- noc-bench and noc-plot -----------------------------------------------------------------

def test_saturation_against_the_generated_load():
    """A rate whose sources generated less than the nominal rate (Bernoulli noise) and accepted
    all of it keeps up; a rate that sent nothing has no latency and is skipped."""
    from sim.bench.noc import saturation

    def point(offered, generated, accepted, latency):
        return {"offered": offered, "generated": generated, "accepted": accepted,
                "latency_avg": latency, "complete": True}

    points = [point(0.0005, 0.0, 0.0, None), point(0.05, 0.034, 0.034, 2.0),
              point(0.1, 0.066, 0.066, 2.1)]
    assert saturation(points) == {"saturation_rate": 0.1, "saturation_throughput": 0.066,
                                  "peak_accepted": 0.066}


def test_noc_bench_light_1x1(capsys, tmp_path, monkeypatch):
    """A lightly loaded 1x1 mesh (Verilator) is not saturated, for a seed whose sources fall
    short of the nominal rate; the rate that sent nothing shows no latency (not 0.0); the
    results are on stdout; docs/results.md is not written without --write; --json holds them."""
    from sim.flow import report

    written = []
    monkeypatch.setattr(report, "update_section", lambda *a, **k: written.append(a))
    out = tmp_path / "r.json"
    status, stdout, _ = _main(capsys, "noc-bench", "--mesh", "1x1", "--rate",
                              "0.0005,0.05,0.1", "--cycles", "400", "--seed", "7", "--json", out)
    assert status == 0 and not written
    assert "Saturation at offered 0.100" in stdout
    first = next(line for line in stdout.splitlines() if line.strip().startswith("0.001"))
    assert first.split()[3:5] == ["-", "-"]
    import json

    result = json.loads(out.read_text())
    assert result["points"][0]["latency_avg"] is None
    assert result["points"][1]["generated"] < 0.045
    assert _main(capsys, "noc-plot", out, "--out", tmp_path / "p.svg")[0] == 0
    assert _main(capsys, "noc-plot", out, "--out", tmp_path / "p.png")[0] == 0


@pytest.mark.parametrize("points, message", [
    ([], "'points' must be a non-empty list"),
    ({}, "'points' must be a non-empty list"),
    ([{}], "point 0 has no number offered"),
    ([{"offered": "x", "latency_avg": 1, "latency_p99": 2}], "point 0 has no number offered"),
    ([{"offered": 0.1, "latency_avg": [], "latency_p99": 2}], "no number latency_avg"),
    ([1, 2], "point 0 has no number"),
])
def test_noc_plot_empty_or_malformed_points(capsys, tmp_path, points, message):
    import json

    path = tmp_path / "r.json"
    path.write_text(json.dumps({"mesh": "2x2", "traffic": "uniform", "vcs_per_class": 2,
                                "points": points}))
    for suffix in (".png", ".svg"):
        status, _, err = _main(capsys, "noc-plot", path, "--out", tmp_path / f"p{suffix}")
        assert status == 2 and message in err, err


def test_noc_plot_not_json(capsys, tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(b"\xff\x00garbage")
    status, _, err = _main(capsys, "noc-plot", path, "--out", tmp_path / "p.png")
    assert status == 2 and "is not JSON" in err
