"""``d1core run``: pass, fail with the test number, an unexpected trap, a timeout, every thread
stopped, the retire trace against objdump, the per-thread figures, and exit status 2 with exact
messages for bad usage and files that are not programs for the core."""

import re
import subprocess

import pytest

from sim.cli import main
from tests.groups import core_build
from verif.scalar import riscv
from verif.scalar.iss import MAX_THREADS


def _run(capsys, *argv):
    status = main(["run", *map(str, argv)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _asm(tmp_path, name, body):
    return riscv.asm_snippet(name, body, tmp_path)


def test_pass_with_figures(capsys):
    """A passing four-worker program on four threads: exit 0, PASS, the cycles, one line per
    thread whose instructions add up to the total, IPCs that are instructions / cycles."""
    status, out, _ = _run(capsys, riscv.c_program("matmul", workers=4), "--sim", "iss")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "PASS"
    cycles = int(re.match(r"cycles: (\d+) \(ISS steps\)$", lines[1]).group(1))
    rows = [line.split() for line in lines[3:]]
    assert [r[0] for r in rows] == [*map(str, range(MAX_THREADS)), "total"]
    counts = [int(r[1]) for r in rows]
    assert sum(counts[:-1]) == counts[-1] == cycles and all(counts)
    for r in rows:
        assert float(r[2]) == pytest.approx(int(r[1]) / cycles, abs=5e-4)


def test_threads_option(capsys):
    """--threads 1 runs the same program on a one-thread core: one thread line."""
    status, out, _ = _run(capsys, riscv.c_program("sort", workers=4), "--sim", "iss",
                          "--threads", "1")
    assert status == 0 and out.splitlines()[3].split()[0] == "0"
    assert out.splitlines()[4].split()[0] == "total"


def test_fail_names_the_test(capsys, tmp_path):
    """A failing test 3: exit 1, 'FAIL: test 3'."""
    path = _asm(tmp_path, "fail3", "  TEST_RR_OP(2, add, 5, 2, 3)\n  TEST_RR_OP(3, sub, 5, 2, 3)")
    status, out, _ = _run(capsys, path, "--sim", "iss")
    assert status == 1 and out.splitlines()[0] == "FAIL: test 3"


def test_unexpected_trap(capsys, tmp_path):
    """A load from address 0: exit 1, the cause by name and the pc of the load."""
    path = _asm(tmp_path, "loadfault", "  li x2, 0\nbad: ld x1, 0(x2)")
    from verif.scalar.elf import load

    pc = load(path).symbol("bad")
    status, out, _ = _run(capsys, path, "--sim", "iss")
    assert status == 1
    assert out.splitlines()[0] == (f"FAIL: unexpected trap, cause 5 (load access fault) at "
                                   f"pc {pc:#x}")


def test_timeout(capsys, tmp_path):
    """An endless loop stops at --max-cycles: exit 1, TIMEOUT, exactly that many cycles."""
    path = _asm(tmp_path, "loop", "1: j 1b")
    status, out, _ = _run(capsys, path, "--sim", "iss", "--max-cycles", "777")
    assert status == 1
    assert out.splitlines()[:2] == ["TIMEOUT: still running after 777 cycles (--max-cycles)",
                                    "cycles: 777 (ISS steps)"]


def test_every_thread_stopped(capsys, tmp_path):
    """Thread 0 stopping itself without a result: exit 1 and a message saying so."""
    path = _asm(tmp_path, "stop", "  csrci 0x7c0, 1")
    status, out, _ = _run(capsys, path, "--sim", "iss")
    assert status == 1
    assert out.splitlines()[0] == "FAIL: every thread stopped before the program wrote tohost"


def test_trace_matches_objdump(capsys):
    """--trace prints one line per retired instruction; the first ones are crt0's, with the
    instruction words objdump shows at those addresses."""
    path = riscv.isa_test("add")
    status, out, _ = _run(capsys, path, "--sim", "iss", "--trace")
    assert status == 0
    dump = subprocess.run(["riscv64-unknown-elf-objdump", "-d", str(path)], capture_output=True,
                          text=True, check=True).stdout
    words = {int(a, 16): int(w, 16) for a, w in
             re.findall(r"^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s", dump, re.M)}
    trace = [line for line in out.splitlines() if line.startswith("t0 ")]
    cycles = int(re.search(r"^cycles: (\d+)", out, re.M).group(1))
    assert len(trace) == cycles
    assert trace[0].split()[1] == "0x80000000"
    for line in trace[:20]:
        _, pc, insn, *_ = line.split()
        assert words[int(pc, 16)] == int(insn, 16)
    assert re.match(r"t0 0x80000000 [0-9a-f]{8} x3 = 0x[0-9a-f]+$", trace[0])


@pytest.mark.parametrize("sim", [pytest.param("verilator", marks=core_build("SMALL", "verilator"))])
def test_core_counters(sim, capsys):
    """``--core SMALL --counters`` on the DMA program (Verilator): PASS, then the counter table
    read from the RTL: a row per unit whose causes add up to the total, CYCLES = the run's
    cycles, only the DMA busy, a row per thread, and the verdict that every cycle is
    accounted for."""
    from verif.core import programs

    try:
        path = programs.build("dma")
    except riscv.CompilerMissing as e:
        pytest.skip(str(e))
    status, out, _ = _run(capsys, path, "--core", "SMALL", "--sim", sim, "--counters")
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0] == "PASS"
    cycles = int(re.match(r"cycles: (\d+)$", lines[1]).group(1))
    start = lines.index(f"counters ({cycles} cycles)")
    assert lines[start + 1].split() == ["unit", "busy", "port", "operand", "backpressure",
                                        "idle", "total", "utilisation"]
    units = {}
    for line in lines[start + 2:start + 5]:
        name, *cells, pct, _ = line.split()
        units[name] = [int(c) for c in cells]
        assert sum(units[name][:5]) == units[name][5] == cycles
        assert float(pct) == pytest.approx(100 * units[name][0] / cycles, abs=0.005)
    assert list(units) == ["matrix", "vector", "DMA"]
    assert units["DMA"][0] > 0 and units["matrix"][4] == units["vector"][4] == cycles
    assert lines[start + 5].split()[0] == "thread"
    threads = [line.split() for line in lines[start + 6:start + 6 + MAX_THREADS]]
    assert [t[0] for t in threads] == [*map(str, range(MAX_THREADS))]
    # instructions, then the seven cycle reasons, then their total
    assert all(len(t) == 10 and sum(map(int, t[2:9])) == int(t[9]) == cycles for t in threads)
    assert lines[-1].startswith("every cycle accounted for")


@pytest.mark.parametrize("argv, message", [
    (["--counters"], "--counters reads the integrated core's counters: it needs --core"),
    (["--threads", "0"], "--threads must be in 1..4, not 0"),
    (["--threads", "5"], "--threads must be in 1..4, not 5"),
    (["--max-cycles", "0"], "--max-cycles must be at least 1, not 0"),
])
def test_bad_options(capsys, argv, message):
    """Impossible option values: exit 2 and the exact message."""
    status, _, err = _run(capsys, riscv.isa_test("add"), "--sim", "iss", *argv)
    assert status == 2 and err == f"d1core run: error: {message}\n"


def test_bad_files(capsys, tmp_path):
    """A missing file, a file that is not ELF, a program without tohost: exit 2, exact
    messages."""
    missing = tmp_path / "missing.elf"
    status, _, err = _run(capsys, missing, "--sim", "iss")
    assert status == 2
    assert err == f"d1core run: error: {missing}: cannot read: No such file or directory\n"
    text = tmp_path / "text.elf"
    text.write_text("hello\n")
    status, _, err = _run(capsys, text, "--sim", "iss")
    assert (status, err) == (2, f"d1core run: error: {text}: not an ELF file (no \\x7fELF "
                                "magic)\n")
    src = tmp_path / "bare.S"
    src.write_text(".globl _start\n_start: j _start\n")
    bare = tmp_path / "bare.elf"
    subprocess.run([riscv.compiler(), *riscv.ARCH_FLAGS, "-nostdlib", "-Wl,-N,-Ttext=0x80000000",
                    str(src), "-o", str(bare)], check=True)
    status, _, err = _run(capsys, bare, "--sim", "iss")
    assert status == 2
    assert err.startswith(f"d1core run: error: {bare}: no tohost symbol: the program cannot "
                          "report a result")


def test_unknown_simulator_is_a_usage_error(capsys):
    """argparse refuses a simulator that is not offered (exit 2)."""
    assert main(["run", "x.elf", "--sim", "spike"]) == 2
    assert "invalid choice: 'spike'" in capsys.readouterr().err


def test_help():
    """`d1core run --help` describes the command and its options."""
    import sys

    out = subprocess.run([sys.executable, "-m", "sim.cli", "run", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for word in ("usage: d1core run", "--threads", "--sim", "--trace", "--max-cycles", "tohost"):
        assert word in out
