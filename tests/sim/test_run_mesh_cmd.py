"""``d1core run --mesh``: the options' errors, each with its exact message and exit status 2,
found before anything is built or simulated (a bad WxH, a dead (0, 0), a dead core outside
the mesh or listed twice, --dead or --plot without --mesh, options that do not go with it, a
simulator that cannot run a mesh, a plot path that cannot be written); the mesh of a shape and
core (a preset when one matches: the tests' build is shared). One run on the 2×2 SMALL mesh's
shared Verilator build, of a program that hangs on purpose, prints the watchdog's dump and the
report and writes the plot (tests/mesh/test_mesh.py runs the others)."""

import re

import pytest

from hw.core.config import D1, SMALL
from hw.mesh.config import MESH_1X1, MESH_2X2
from sim.cli import main
from sim.commands.run import RunError, mesh_config
from tests.groups import same_build
from verif.mesh.mesh_tb import MeshBench
from verif.mesh.programs import build
from verif.scalar import elf, riscv


def _run(capsys, *argv):
    status = main(["run", *map(str, argv)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("argv, message", [
    (["--mesh", "2"], "--mesh must be WxH (for example 2x2) or a mesh preset (MESH_1X1, "
     "MESH_2X2, MESH_4X4), not '2'"),
    (["--mesh", "2x"], "--mesh must be WxH (for example 2x2) or a mesh preset (MESH_1X1, "
     "MESH_2X2, MESH_4X4), not '2x'"),
    (["--mesh", "MESH_2X2", "--core", "D1"], "--mesh MESH_2X2 has SMALL cores, not --core D1"),
    (["--mesh", "0x2"], "--mesh: width and height must be in 1..16, not 0x2"),
    (["--mesh", "17x1"], "--mesh: width and height must be in 1..16, not 17x1"),
    (["--mesh", "2x2", "--dead", "0,0"],
     "--dead: core (0, 0) cannot be dead: the edge port enters the mesh there"),
    (["--mesh", "2x2", "--dead", "2,0"], "--dead: disabled node (2, 0) is outside the 2x2 mesh"),
    (["--mesh", "2x2", "--dead", "1,0", "--dead", "1,0"],
     "--dead: disabled node (1, 0) is listed twice"),
    (["--mesh", "2x2", "--dead", "1"], "--dead must be X,Y (a core's coordinates, for example "
     "1,0), not '1'"),
    (["--dead", "1,0"], "--dead needs --mesh WxH"),
    (["--plot", "x.png"], "--plot needs --mesh WxH"),
    (["--mesh", "2x2", "--trace"], "--trace does not go with --mesh"
     " (the mesh prints every core's counters; its cores have their preset's threads)"),
    (["--mesh", "2x2", "--counters"], "--counters does not go with --mesh"
     " (the mesh prints every core's counters; its cores have their preset's threads)"),
    (["--mesh", "2x2", "--threads", "2"], "--threads does not go with --mesh"
     " (the mesh prints every core's counters; its cores have their preset's threads)"),
    (["--mesh", "2x2", "--sim", "iss"],
     "--mesh runs on an RTL simulator (verilator, icarus), not 'iss'"),
    (["--mesh", "2x2", "--plot", "x.svg"], "--plot writes PNG: give a .png file, not 'x.svg'"),
    (["--mesh", "2x2", "--plot", "/nonexistent/x.png"],
     "--plot /nonexistent/x.png: directory '/nonexistent' does not exist"),
])
def test_bad_mesh_options(capsys, argv, message):
    status, out, err = _run(capsys, build("push"), *argv)
    assert status == 2 and out == ""
    assert err == f"d1core run: error: {message}\n"


def test_not_a_mesh_program(capsys, tmp_path):
    """A scalar program (no d1_place) and a file that is not a program: exit 2, before any
    build."""
    path = riscv.isa_test("add")
    status, _, err = _run(capsys, path, "--mesh", "2x2")
    assert status == 2 and err == (
        f"d1core run: error: {path}: no d1_place symbol: not a program for a mesh (include "
        "verif/mesh/programs/mesh.h: the host writes each core's place there)\n")
    text = tmp_path / "x.elf"
    text.write_text("hello")
    status, _, err = _run(capsys, text, "--mesh", "2x2")
    assert status == 2 and err.startswith(f"d1core run: error: {text}: ")


def test_mesh_shapes():
    """A shape and core that a preset has is that preset (its build is the tests'), as is a
    preset's name; another is a mesh of its own, named after both; D1 cores are allowed."""
    assert mesh_config("2x2") is MESH_2X2 and mesh_config("1X1", "SMALL") is MESH_1X1
    assert mesh_config("mesh_2x2") is MESH_2X2 and mesh_config("MESH_1X1", "SMALL") is MESH_1X1
    three = mesh_config("3x2")
    assert (three.name, three.width, three.height, three.core) == ("MESH_3X2_SMALL", 3, 2, SMALL)
    assert mesh_config("2x2", "D1").core == D1
    with pytest.raises(RunError, match="BIG"):
        mesh_config("2x2", "BIG")


@pytest.mark.parametrize("sim", [pytest.param("verilator", marks=[
    same_build(MeshBench(MESH_2X2).mesh, "verilator"), pytest.mark.slow])])
def test_mesh_run_hangs_prints_and_plots(sim, capsys, tmp_path):
    """hang.c on the 2×2 mesh (core (1, 1) sleeps in wait_here on semaphore 5, which holds 2
    of the 3 it waits for): exit 1, HANG, the watchdog's dump naming that thread's last pc (in
    wait_here, just before its d1.swait), its sleep and semaphore 5 = 2; then the cycles and
    speed, a row per core with the units' utilisation, the network's counts, a row per link,
    and the PNG plot."""
    path, plot = build("hang"), tmp_path / "mesh.png"
    status, out, err = _run(capsys, path, "--mesh", "2x2", "--sim", sim, "--plot", plot)
    assert status == 1, out + err
    lines = out.splitlines()
    assert lines[0].startswith("HANG: no core that has not written tohost retired")
    assert lines[1] == "watchdog:"
    at = lines.index("  core (1, 1): has not written tohost")
    wait_here = elf.load(path).symbol("wait_here")
    thread = re.fullmatch(r"    thread 0: last pc (0x[0-9a-f]+), asleep at the dispatcher, "
                          r"0 command\(s\) outstanding", lines[at + 1])
    assert thread and wait_here <= int(thread.group(1), 16) < wait_here + 8, lines[at + 1]
    assert lines[at + 5] == "    semaphores: 5: 2"
    assert "  core (0, 0): wrote tohost 0x1" in lines
    mesh = lines.index("mesh: MESH_2X2 (2×2 of SMALL)")
    assert "mesh cycles/s on verilator" in lines[mesh + 1]
    rows = lines[mesh + 3:mesh + 7]
    assert [r.split(")")[0].strip() + ")" for r in rows] == ["(0, 0)", "(1, 0)", "(0, 1)",
                                                            "(1, 1)"]
    assert rows[3].split()[-1] == "0x0"
    assert lines[mesh + 7].startswith("network: 0 packets dropped")
    # the 8 links between routers, and (0, 0)'s to the host (the edge port's)
    assert sum(" -> " in line for line in lines) == 9
    assert any(line.split()[:4] == ["(0,", "0)", "->", "host"] for line in lines)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert lines[-1] == f"plot: {plot}"
