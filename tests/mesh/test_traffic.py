"""Random traffic between cores with a scoreboard (``verif/mesh/programs/traffic.c``,
``verif/mesh/traffic.py``): every live core of a 2×2 mesh of SMALL cores sends pushes (copies
and 2D gathers of 8-, 16- and 64-byte elements, in lists of chained descriptors, local and
remote ones mixed) to random live cores, itself included; each adds 1 to semaphore 3 at its
destination. The host reads every core's ``dst`` back through the edge port and compares it
byte for byte with the scoreboard, computed from the descriptors' contract alone: a lost,
duplicated, misplaced or corrupted element, a byte written where no push writes, or a push
landing at the wrong core fails. Each core checks its semaphore reached exactly the number of
pushes it receives, and its DMA saw no error; the network dropped and refused nothing.

The model tests check the generator and the scoreboard themselves (the regions are disjoint,
the descriptors say what the pushes say, the scoreboard moves the bytes the contract says)."""

import pytest

from hw.core.isa import DmaDescriptor
from hw.mesh.config import MESH_2X2
from sim.flow.toolchain import SIMULATORS
from tests.groups import sims_of
from verif.mesh.mesh_tb import MeshBench
from verif.mesh.run import run_mesh_program
from verif.mesh.traffic import DST_BYTES, SEM, Push, random_traffic
from verif.pack import unpack_word

#: Verilator, and Icarus out of ``make test`` (a run there takes minutes: tests/mesh/test_mesh.py)
SIMS = sims_of(MeshBench(MESH_2X2).mesh, slow=SIMULATORS, bench=("icarus",))


def test_regions_at_a_destination_are_disjoint_and_in_dst():
    t = random_traffic(MESH_2X2, pushes=20, seed=3)
    for core in t.live:
        written = {}
        for p in t.received(core):
            assert 0 <= p.dst and p.dst_end <= DST_BYTES
            for _, d in p.moves():
                for b in range(d, d + p.size):
                    assert b not in written, (p, written[b])
                    written[b] = p
    kinds = {(p.size, p.rows > 1, p.source == p.target, p.local) for p in t.pushes}
    assert {8, 16, 64} <= {k[0] for k in kinds}, "every element size is drawn"
    assert any(k[1] for k in kinds) and any(k[2] for k in kinds) and any(k[3] for k in kinds)


def test_descriptors_say_what_the_pushes_say():
    t = random_traffic(MESH_2X2, pushes=10, seed=4, dead=((1, 0),))
    base = t.program.symbols["pushes"]
    for core, segs in t.segments().items():
        blob = dict(segs)[base]
        sent = t.sent(core)
        assert len(blob) == 64 * len(sent) and sum(t.lists[core]) == len(sent)
        starts = {sum(t.lists[core][:i]) for i in range(len(t.lists[core]))}
        for j, p in enumerate(sent):
            d = unpack_word(DmaDescriptor, int.from_bytes(blob[64 * j:64 * j + 64], "little"))
            assert d["src"] == t.program.symbols["src"] + p.src
            assert d["dst"] == t.program.symbols["dst"] + p.dst
            size = (8, 16, 64)[d["elem_bytes"]]
            assert (d["rows"], d["elems"], size) == (p.rows, p.elems, p.size)
            assert d["local"] == p.local
            if not p.local:
                assert (d["dst_x"], d["dst_y"]) == p.target
            assert d["signal"] == SEM | 1 << 4 | 1 << 5
            last = j + 1 in starts or j + 1 == len(sent)
            assert d["next"] == (0 if last else base + 64 * (j + 1))
        assert (1, 0) not in (p.target for p in t.pushes), "nothing goes to the dead core"


def test_the_scoreboard_moves_the_elements_the_contract_says():
    t = random_traffic(MESH_2X2, pushes=1, seed=0)
    p = Push((0, 0), (1, 1), 16, rows=2, elems=3, src=64, src_stride=256, src_elem_stride=32,
             dst=128, dst_stride=64)
    t.pushes = [p]
    want = bytearray(t.dst[(1, 1)])
    src = t.src[(0, 0)]
    for r in range(2):
        for e in range(3):
            s, d = 64 + r * 256 + e * 32, 128 + r * 64 + e * 16
            want[d:d + 16] = src[s:s + 16]
    assert t.expected()[(1, 1)] == bytes(want)
    assert t.expected()[(0, 0)] == t.dst[(0, 0)]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"pushes": 0}, ValueError, "pushes must be in 1..64, not 0"),
    ({"pushes": 2.0}, TypeError, "pushes must be an integer, not 2.0"),
    ({"seed": -1}, ValueError, "seed must be in 0..4294967295, not -1"),
    ({"dead": ((0, 0),)}, ValueError,
     "core (0, 0) cannot be dead: the edge port enters the mesh there"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error) as e:
        random_traffic(MESH_2X2, **kwargs)
    assert str(e.value) == message


@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("seed, pushes, dead", [(1, 16, ()), (2, 16, ((1, 0),)), (3, 48, ())],
                         ids=["all-live", "dead-1-0", "all-live-48"])
def test_random_traffic_on_the_mesh(sim, seed, pushes, dead):
    t = random_traffic(MESH_2X2, pushes=pushes, seed=seed, dead=dead)
    run = run_mesh_program(t.path, config=MESH_2X2, sim=sim, dead=dead, max_cycles=300_000,
                           segments=t.segments(), reads=t.reads())
    assert run.status == "pass", f"{run.status}: tohost {run.tohost} (run in {run.run_dir})"
    live = [n for n in range(4) if (n % 2, n // 2) not in dead]
    assert [run.tohost[n] for n in live] == [1] * len(live)
    assert run.dropped == [0] * 4 and run.failed == [0] * 4 and run.refused == [0] * 4
    assert t.differences(run.reads) == []


def test_differences_name_the_core_the_byte_and_the_push():
    t = random_traffic(MESH_2X2, pushes=8, seed=5)
    want = t.expected()
    got = [bytearray(want[core]) for core in t.live]
    assert t.differences(got) == []
    p = t.received((1, 1))[0]
    d = p.moves()[0][1]
    got[3][d] ^= 1
    assert t.differences(got) == [
        f"core (1, 1): 1 byte(s) of dst differ, the first at {d:#x} ({p})"]
