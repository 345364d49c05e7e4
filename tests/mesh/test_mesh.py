"""A program on every core of a 2×2 mesh of SMALL cores (``hw/mesh/mesh.py``) on Verilator,
loaded through the edge port (``verif/mesh/run.py``): ``push.c`` has core (0, 0) push a copy
and a gather to core (1, 1) with remote DMA descriptors that add to a semaphore there; (1, 1)
waits on it and checks every byte, (0, 0) checks that its DMA saw no error. Every core must
pass, and no router may have dropped a packet."""

import pytest

from hw.mesh.config import MESH_2X2
from tests.groups import same_build
from verif.mesh.mesh_tb import MeshBench
from verif.mesh.programs import build
from verif.mesh.run import run_mesh_program


@pytest.mark.parametrize("sim", [pytest.param("verilator", marks=[
    same_build(MeshBench(MESH_2X2).mesh, "verilator"), pytest.mark.slow])])
def test_push_between_cores(sim):
    run = run_mesh_program(build("push"), config=MESH_2X2, sim=sim, max_cycles=200_000)
    assert run.status == "pass", f"{run.status}: tohost {run.tohost} (run in {run.run_dir})"
    assert run.tohost == [1, 1, 1, 1]
    assert run.dropped == [0, 0, 0, 0]
