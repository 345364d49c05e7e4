"""Programs on every live core of a 2×2 mesh of SMALL cores (``hw/mesh/mesh.py``) on Verilator (and
Icarus, marked ``bench``: see ``BOTH``), loaded through the edge port (``verif/mesh/run.py``). Every
test here runs on the one build of that mesh (the same design; the programs and the dead cores
differ per run), so the regression pays one build.

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
tests/sim/test_run_mesh_cmd.py).

The host's loads and reads through the edge port (docs/mesh.md, "The host's reads"): with
``push.c`` every core gets its own data (``segments``) and the host reads it back after the run
with (1, 1)'s results, bit for bit (a core loaded with another's data, a line lost or a word
misplaced fails); with (1, 0) dead, ``remote.c``'s run also reads the dead core (the router's
ERROR: REMOTE, one more drop at (0, 0)) and an address outside (0, 1)'s scratchpad (its NI's
ERROR: RANGE, one line refused there), and the good range of the same run still arrives."""

import pytest

from hw.mesh.config import MESH_2X2
from hw.scalar.isa import RAM_BASE
from sim.flow.toolchain import SIMULATORS
from tests.groups import same_build, sims_of
from verif.mesh.mesh_tb import MeshBench
from verif.mesh.programs import build
from verif.mesh.run import HOST, MeshReadError, run_mesh_program
from verif.scalar import elf

VERILATOR = [pytest.param("verilator", marks=[
    same_build(MeshBench(MESH_2X2).mesh, "verilator"), pytest.mark.slow])]
#: And on Icarus, out of ``make test`` (``bench``): a run there takes about 11 minutes, its
#: build included, and 6 GB (docs/mesh.md, "Verification"); ``pytest -m bench -k icarus``.
BOTH = sims_of(MeshBench(MESH_2X2).mesh, slow=SIMULATORS, bench=("icarus",))


#: Where the tests put each core's own data: above every program's image and stacks.
DATA = RAM_BASE + 0x8000
CORES = [(x, y) for y in range(2) for x in range(2)]


def own_data(core, size=200):
    """Core ``core``'s data: different in every core and every byte."""
    x, y = core
    return bytes((i * 13 + x * 101 + y * 57 + 1) & 0xFF for i in range(size))


def pattern(i, j):
    """push.c's word j of line i of the block."""
    return ((0x0101010101010101 * (i * 8 + j + 1)) ^ 0x8040201008040201) & (1 << 64) - 1


@pytest.mark.parametrize("sim", BOTH)
def test_push_between_cores(sim):
    """Every core's own 200 bytes (from an address off a line and off a word: 4 lines) and
    (1, 1)'s results, ``copied`` and ``gathered``, read back through the edge port."""
    path = build("push")
    symbol = elf.load(path, base=RAM_BASE, size=MESH_2X2.core.sram.size).symbol
    segments = {core: [(DATA + 0x13, own_data(core))] for core in CORES}
    reads = [(x, y, DATA + 0x13, 200) for x, y in CORES]
    reads += [(1, 1, symbol("copied"), 8 * 64), (1, 1, symbol("gathered"), 2 * 64)]
    run = run_mesh_program(path, config=MESH_2X2, sim=sim, max_cycles=200_000,
                           segments=segments, reads=reads)
    assert run.status == "pass", f"{run.status}: tohost {run.tohost} (run in {run.run_dir})"
    assert run.tohost == [1, 1, 1, 1]
    assert run.dropped == [0, 0, 0, 0]
    assert run.failed == [0, 0, 0, 0] and run.refused == [0, 0, 0, 0]
    assert run.reads[:4] == [own_data(core) for core in CORES]
    words = lambda blob: [int.from_bytes(blob[i:i + 8], "little")  # noqa: E731
                          for i in range(0, len(blob), 8)]
    assert words(run.reads[4]) == [pattern(i, j) for i in range(8) for j in range(8)]
    assert words(run.reads[5]) == [pattern(8 + e, 2 * r + k) for r in range(2)
                                   for e in range(4) for k in range(2)]
    flits = 4 * 4 + 8 + 2
    assert run.edge["read"][0] == flits
    # The push's 8 + 2 LINEs and 2 NOTIFYs go (0, 0) -> (1, 0) -> (1, 1) (XY), the two ACKs
    # back (1, 1) -> (0, 1) -> (0, 0); nothing else moves while the cores run.
    assert run.links == {((0, 0), (1, 0)): (12, 0), ((1, 0), (1, 1)): (12, 0),
                         ((1, 1), (0, 1)): (0, 2), ((0, 1), (0, 0)): (0, 2),
                         ((0, 0), HOST): (0, 0),            # the reads come after the run
                         **{k: (0, 0) for k in (((0, 0), (0, 1)), ((1, 0), (0, 0)),
                                                ((0, 1), (1, 1)), ((1, 1), (1, 0)))}}
    # Only (0, 0) uses a unit: its DMA, for some of the run; no core multiplies.
    assert 0 < run.utilisation[0]["dma"] < 1
    assert all(u["matrix"] == 0 and u["vector"] == 0 for u in run.utilisation)
    assert all(u["dma"] == 0 for u in run.utilisation[1:])
    assert all(c[127] == run.cycles for c in run.counters), "CYCLES: the run's, every core"
    assert all(run.instructions) and sum(run.instructions) == run.retired


@pytest.mark.parametrize("sim", BOTH)
def test_multicast_push_to_a_row_and_a_column(sim):
    """``mcast.c``: (0, 0)'s one multicast descriptor lands its block on both cores of row 0
    and (1, 1)'s on both cores of column 1, each with its semaphore (the cores check every
    word: tohost 1 everywhere); the host reads the buffers back: the row's and the column's
    blocks bit for bit where they belong, nothing at (0, 1) (nor the row's at (1, 1), the
    column's at (0, 0)). One flit per link of each tree: 4 LINEs and the MNOTIFY from (0, 0)
    to (1, 0) and from (1, 1) to (1, 0) (the senders' own copies leave at their own routers),
    no answer anywhere, nothing dropped or refused."""
    path = build("mcast")
    symbol = elf.load(path, base=RAM_BASE, size=MESH_2X2.core.sram.size).symbol
    reads = [(x, y, symbol(name), 4 * 64) for x, y in CORES for name in ("row", "column")]
    run = run_mesh_program(path, config=MESH_2X2, sim=sim, max_cycles=200_000, reads=reads)
    assert run.status == "pass", f"{run.status}: tohost {run.tohost} (run in {run.run_dir})"
    assert run.tohost == [1, 1, 1, 1]
    assert run.dropped == [0, 0, 0, 0]
    assert run.failed == [0, 0, 0, 0] and run.refused == [0, 0, 0, 0]

    def block(s):
        return b"".join(
            ((0x0101010101010101 * (i * 8 + j + 1)) ^ (0x8040201008040201 << s)
             & (1 << 64) - 1).to_bytes(8, "little") for i in range(4) for j in range(8))

    zero = bytes(4 * 64)
    got = dict(zip([(x, y, n) for x, y in CORES for n in ("row", "column")], run.reads,
                   strict=True))
    for x, y in CORES:
        assert got[(x, y, "row")] == (block(0) if y == 0 else zero), (x, y)
        assert got[(x, y, "column")] == (block(1) if x == 1 else zero), (x, y)
    assert run.links[((0, 0), (1, 0))] == (5, 0)
    assert run.links[((1, 1), (1, 0))] == (5, 0)
    assert sum(req + resp for req, resp in run.links.values()) == 10


@pytest.mark.parametrize("sim", BOTH)
@pytest.mark.parametrize("dead", [(), ((1, 0),)], ids=["all-live", "dead-1-0"])
def test_network_instructions_and_errors(sim, dead):
    """(0, 0)'s router drops what goes nowhere and answers its NOTIFYs: the d1.snotify to
    (3, 3) always; with (1, 0) dead also the d1.snotify to it and the push's 2 LINEs and
    NOTIFY. Those NOTIFYs are (0, 0)'s ERROR answers; nothing is refused at a destination (the
    missing address is refused at the source); the dead core never writes tohost."""
    kwargs = dict(config=MESH_2X2, sim=sim, max_cycles=200_000, dead=dead)
    if not dead:
        run = run_mesh_program(build("remote"), **kwargs)
    else:
        # The host's reads: (0, 0)'s own data, the dead core, beyond (0, 1)'s scratchpad.
        ram_end = RAM_BASE + MESH_2X2.core.sram.size
        segments = {(0, 0): [(DATA, own_data((0, 0), 64))]}
        reads = [(0, 0, DATA, 64), (1, 0, DATA, 8), (0, 1, ram_end, 8)]
        with pytest.raises(MeshReadError) as error:
            run_mesh_program(build("remote"), segments=segments, reads=reads, **kwargs)
        assert str(error.value).startswith(
            f"read 1: core (1, 0) at {DATA:#x}: ERROR REMOTE (the core is dead or outside the "
            f"mesh); read 2: core (0, 1) at {ram_end:#x}: ERROR RANGE (run in ")
        run = error.value.run
        assert run.reads == [own_data((0, 0), 64), None, None]
    assert run.status == "pass", (f"{run.status}: tohost {run.tohost} (run in {run.run_dir})"
                                  f"\n{run.watchdog or ''}")
    if dead:
        assert run.tohost == [1, 0, 1, 1]
        assert run.dropped == [1 + 1 + 2 + 1 + 1, 0, 0, 0]     # and the host's PULL
        assert run.failed == [3, 0, 0, 0]
        assert run.refused == [0, 0, 1, 0]                     # the host's PULL beyond
    else:
        assert run.tohost == [1, 1, 1, 1]
        assert run.dropped == [1, 0, 0, 0]
        assert run.failed == [1, 0, 0, 0]
        assert run.refused == [0, 0, 0, 0]
