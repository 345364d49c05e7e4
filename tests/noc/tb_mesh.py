"""cocotb tests of the mesh's Verilog in the traffic harness (run by tests/noc/test_mesh.py).

``traffic``: one random-traffic run described by the test's arguments (mesh size, virtual
channels, disabled nodes and routing policy, bad destinations, wrong-class packets, idle sources,
endpoint backpressure), checked by the scoreboard of ``verif/noc/mesh_tb.py``.
"""

import cocotb

from sim.flow.runner import tb_args
from verif.noc.harness import TrafficHarness
from verif.noc.mesh_tb import run_traffic


@cocotb.test()
async def traffic(dut):
    """Every packet arrives once, unchanged, where the model says, in order per stream pair;
    drop counts equal the model's; nothing leaves through the edges."""
    harness = TrafficHarness(dut)
    await harness.reset()
    for run in tb_args()["runs"]:
        await run_traffic(dut, harness, run)
