"""Programs on every live core of a 2×2 mesh of SMALL cores (``hw/mesh/mesh.py``) on
Verilator, loaded through the edge port (``verif/mesh/run.py``). Every test here runs on the
one build of that mesh (the same design; the programs and the dead cores differ per run), so
the regression pays one build.

``push.c``: core (0, 0) pushes a copy and a gather to core (1, 1) with remote DMA descriptors
that add to a semaphore there; (1, 1) waits on it and checks every byte, (0, 0) checks that its
DMA saw no error. ``remote.c``: the network instructions and their error paths (``d1.snotify``
to a live core, a dead one and one outside the mesh; pushes to a dead core and to a missing
address), with core (1, 0) live and dead (held in reset, not loaded, routed around by up*/down*
tables). The programs check themselves bit for bit (tohost); the bench checks every core's
tohost and the network's counts: the packets each router dropped, the ERROR answers each core
got, the lines refused at each; and what it observes: each core's units' busy cycles (from its
counters, read after the run) and each link's flits by class (the watchdog's dump of a run
that hangs on purpose, ``hang.c``, is checked through ``d1core run --mesh``:
tests/sim/test_run_mesh_cmd.py)."""

import pytest

from hw.mesh.config import MESH_2X2
from tests.groups import same_build
from verif.mesh.mesh_tb import MeshBench
from verif.mesh.programs import build
from verif.mesh.run import run_mesh_program

VERILATOR = [pytest.param("verilator", marks=[
    same_build(MeshBench(MESH_2X2).mesh, "verilator"), pytest.mark.slow])]


@pytest.mark.parametrize("sim", VERILATOR)
def test_push_between_cores(sim):
    run = run_mesh_program(build("push"), config=MESH_2X2, sim=sim, max_cycles=200_000)
    assert run.status == "pass", f"{run.status}: tohost {run.tohost} (run in {run.run_dir})"
    assert run.tohost == [1, 1, 1, 1]
    assert run.dropped == [0, 0, 0, 0]
    assert run.failed == [0, 0, 0, 0] and run.refused == [0, 0, 0, 0]
    # The push's 8 + 2 LINEs and 2 NOTIFYs go (0, 0) -> (1, 0) -> (1, 1) (XY), the two ACKs
    # back (1, 1) -> (0, 1) -> (0, 0); nothing else moves while the cores run.
    assert run.links == {((0, 0), (1, 0)): (12, 0), ((1, 0), (1, 1)): (12, 0),
                         ((1, 1), (0, 1)): (0, 2), ((0, 1), (0, 0)): (0, 2),
                         **{k: (0, 0) for k in (((0, 0), (0, 1)), ((1, 0), (0, 0)),
                                                ((0, 1), (1, 1)), ((1, 1), (1, 0)))}}
    # Only (0, 0) uses a unit: its DMA, for some of the run; no core multiplies.
    assert 0 < run.utilisation[0]["dma"] < 1
    assert all(u["matrix"] == 0 and u["vector"] == 0 for u in run.utilisation)
    assert all(u["dma"] == 0 for u in run.utilisation[1:])
    assert all(c[127] == run.cycles for c in run.counters), "CYCLES: the run's, every core"
    assert all(run.instructions) and sum(run.instructions) == run.retired


@pytest.mark.parametrize("sim", VERILATOR)
@pytest.mark.parametrize("dead", [(), ((1, 0),)], ids=["all-live", "dead-1-0"])
def test_network_instructions_and_errors(sim, dead):
    """(0, 0)'s router drops what goes nowhere and answers its NOTIFYs: the d1.snotify to
    (3, 3) always; with (1, 0) dead also the d1.snotify to it and the push's 2 LINEs and
    NOTIFY. Those NOTIFYs are (0, 0)'s ERROR answers; nothing is refused at a destination (the
    missing address is refused at the source); the dead core never writes tohost."""
    run = run_mesh_program(build("remote"), config=MESH_2X2, sim=sim, max_cycles=200_000,
                           dead=dead)
    assert run.status == "pass", (f"{run.status}: tohost {run.tohost} (run in {run.run_dir})"
                                  f"\n{run.watchdog or ''}")
    if dead:
        assert run.tohost == [1, 0, 1, 1]
        assert run.dropped == [1 + 1 + 2 + 1, 0, 0, 0]
        assert run.failed == [3, 0, 0, 0]
    else:
        assert run.tohost == [1, 1, 1, 1]
        assert run.dropped == [1, 0, 0, 0]
        assert run.failed == [1, 0, 0, 0]
    assert run.refused == [0, 0, 0, 0]

