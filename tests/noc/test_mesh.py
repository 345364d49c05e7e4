"""Mesh tests: random traffic of both classes through 2×2 (two virtual channels per class,
512-bit payloads) and 4×4 (one, 32-bit payloads) meshes on Verilator and Icarus, and an 8×8
mesh (two, 32-bit payloads) on Verilator, in the traffic harness, against the model
(``tests/noc/tb_mesh.py``). Icarus runs fewer packets: it simulates a mesh one to two orders of
magnitude more slowly."""

import pytest

from hw.noc.flit import PAYLOAD_BITS
from hw.noc.mesh import NoCMesh
from sim.flow.build import Design
from sim.flow.runner import run_cocotb
from sim.flow.toolchain import SIMULATORS
from verif.noc.harness import traffic_harness


def mesh_design(width, height, vcs=1, depth=4, payload_bits=PAYLOAD_BITS):
    return Design.of(f"noc_mesh{width}x{height}", NoCMesh, width=width, height=height, vcs=vcs,
                     depth=depth, payload_bits=payload_bits)


def run(design, sim, runs):
    run_cocotb(design, "tests.noc.tb_mesh", sim, harness=traffic_harness, args={"runs": runs})


@pytest.mark.parametrize("sim", SIMULATORS)
def test_mesh2x2(sim):
    """2×2, two virtual channels per class: every class, bad destinations, wrong-class
    packets, then idles and backpressure; then a third of the packets multicast (rows,
    columns, rectangles, some past the mesh's edge) among unicast ones, with backpressure."""
    run(mesh_design(2, 2, vcs=2), sim, [
        {"width": 2, "height": 2, "per_stream": 40, "bad": 0.1, "wrong_class": 0.05, "seed": 1},
        {"width": 2, "height": 2, "per_stream": 40, "bad": 0.1, "idle": 128, "stall": 200,
         "seed": 2},
        {"width": 2, "height": 2, "per_stream": 30, "bad": 0.05, "multicast": 0.33,
         "stall": 64, "seed": 7},
    ])


@pytest.mark.parametrize("sim", SIMULATORS)
def test_mesh4x4(sim):
    """4×4 with 32-bit payloads (the 2×2 carries the full 512; the payload is only carried, and
    narrow it halves the build): XY routing with bad destinations and backpressure; then two
    disabled nodes routed around with up*/down* tables, idles and heavy backpressure; then
    with XY tables a quarter of the packets multicast (rows, columns, rectangles, some past the
    edge) among unicast ones, with idles and backpressure; and with the two disabled nodes and
    up*/down* tables, multicast to rectangles whose trees avoid them and that the deadlock
    check takes with those tables (`safe_trees`)."""
    dead = [[1, 1], [2, 3]]
    n = 20 if sim == "verilator" else 8
    run(mesh_design(4, 4, payload_bits=32), sim, [
        {"width": 4, "height": 4, "per_stream": n, "bad": 0.1, "wrong_class": 0.02,
         "stall": 64, "seed": 3, "payload_bits": 32},
        {"width": 4, "height": 4, "per_stream": n, "bad": 0.1, "disabled": dead,
         "policy": "updown", "idle": 64, "stall": 160, "seed": 4, "payload_bits": 32},
        {"width": 4, "height": 4, "per_stream": n, "bad": 0.05, "multicast": 0.25,
         "idle": 32, "stall": 96, "seed": 8, "payload_bits": 32},
        {"width": 4, "height": 4, "per_stream": n, "bad": 0.05, "disabled": dead,
         "policy": "updown", "multicast": 0.3, "stall": 96, "seed": 9, "payload_bits": 32},
    ])


@pytest.mark.slow
def test_mesh8x8_verilator():
    """8×8, two virtual channels per class, on Verilator only (Icarus would take minutes for
    64 routers), with a 32-bit payload (the serial number; the router carries the payload
    untouched, and 128 inject streams of 573-bit flits would pass Amaranth's 65,536-bit limit
    on top-level inputs): all nodes injecting both classes at once with bad destinations,
    wrong-class packets and backpressure, then three disabled nodes routed around with
    up*/down* tables, idle sources and heavy backpressure."""
    dead = [[3, 3], [0, 5], [6, 1]]
    run(mesh_design(8, 8, vcs=2, payload_bits=32), "verilator", [
        {"width": 8, "height": 8, "per_stream": 12, "bad": 0.05, "wrong_class": 0.02,
         "stall": 64, "seed": 5, "payload_bits": 32},
        {"width": 8, "height": 8, "per_stream": 8, "bad": 0.05, "disabled": dead,
         "policy": "updown", "idle": 32, "stall": 128, "seed": 6, "payload_bits": 32},
    ])
