"""The 4×4 mesh of SMALL cores (``MESH_4X4``) on Verilator: ``push.c`` with every core live and
with cores (1, 0) and (2, 3) dead, each live core loaded with its own data through the edge port
and read back after the run, and each dead core read (the router's ERROR: REMOTE).

What it checks: the sixteen cores load, run and pass (``push.c``: (0, 0) pushes to (1, 1), the
others pass at once); with (1, 0) dead, the push and the loads of the eastern cores take the
up*/down* routes around it, and every live core's answers to the host come back through its
host entry (the route to (0, 0), then WEST), so the reads cover the routes to the host from every
live router of a 4×4 mesh with dead cores; the dead cores are never loaded (their routers drop
nothing but the host's PULL for them, at (0, 0)) and never write ``tohost``. (1, 1), the push's
destination, stays live: ``push.c`` needs it; (1, 0) is (0, 0)'s east neighbour, so the
first hop of the push and of every load to the east changes.

Its cost: a build of its own (the 4×4 mesh: sixteen cores of one module) and two runs of
sixteen cores (figures in docs/mesh.md, "The 4×4 mesh"). ``make check`` (tests/check.py) names
only the 2×2 mesh's tests; ``make test``, 26 of its 30 minutes spent, has no room for the build
alone, so both tests are marked ``bench``, which ``make test`` leaves out (``-m "not bench"``,
pyproject.toml's markers): run them by name or with ``-m bench``. ``slow`` too: under xdist
they start first."""

import pytest

from hw.mesh.config import MESH_4X4
from hw.scalar.isa import RAM_BASE
from tests.groups import same_build
from verif.mesh.mesh_tb import MeshBench
from verif.mesh.programs import build
from verif.mesh.run import MeshReadError, run_mesh_program

VERILATOR = [pytest.param("verilator", marks=[
    same_build(MeshBench(MESH_4X4).mesh, "verilator"), pytest.mark.slow, pytest.mark.bench])]
DATA = RAM_BASE + 0x8000
CORES = [(x, y) for y in range(4) for x in range(4)]


def own_data(core, size=72):
    """Core ``core``'s data: different in every core and every byte (72 bytes from an address
    off a line: two lines)."""
    x, y = core
    return bytes((i * 29 + x * 67 + y * 131 + 5) & 0xFF for i in range(size))


@pytest.mark.parametrize("sim", VERILATOR)
@pytest.mark.parametrize("dead", [(), ((1, 0), (2, 3))], ids=["all-live", "dead-1-0-2-3"])
def test_push_and_reads_on_4x4(sim, dead):
    live = [c for c in CORES if c not in dead]
    segments = {core: [(DATA + 0x28, own_data(core))] for core in live}
    reads = [(x, y, DATA + 0x28, 72) for x, y in CORES]
    kwargs = dict(config=MESH_4X4, sim=sim, max_cycles=400_000, dead=dead, segments=segments,
                  reads=reads)
    if dead:
        with pytest.raises(MeshReadError) as error:
            run_mesh_program(build("push"), **kwargs)
        assert str(error.value).startswith(
            f"read 1: core (1, 0) at {DATA:#x}: ERROR REMOTE (the core is dead or outside the "
            f"mesh); read 1: core (1, 0) at {DATA + 0x40:#x}: ERROR REMOTE (the core is dead or "
            f"outside the mesh); read 14: core (2, 3) at {DATA:#x}: ERROR REMOTE")
        run = error.value.run
    else:
        run = run_mesh_program(build("push"), **kwargs)
    assert run.status == "pass", (f"{run.status}: tohost {run.tohost} (run in {run.run_dir})"
                                  f"\n{run.watchdog or ''}")
    assert run.tohost == [0 if c in dead else 1 for c in CORES]
    assert run.reads == [None if c in dead else own_data(c) for c in CORES]
    assert run.dropped == [2 * len(dead)] + [0] * 15         # the host's 2 PULLs per dead core
    assert run.failed == [0] * 16 and run.refused == [0] * 16
