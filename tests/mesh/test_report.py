"""The mesh run's observations on the host side, without a simulator: the bench's files read
into counters, links and the watchdog's dump (``verif/mesh/run.py``), the text report and the
heat maps (``verif/mesh/report.py``): a link count lands on the link between the right
routers, a count on a link out of the mesh is refused, the dump names each thread's last pc,
its sleep and commands, the semaphores that are not 0 and the queues; the plot is a PNG, and a
path that is not one or cannot be written is refused."""

from pathlib import Path

import pytest

from hw.core.counters import counter_index
from hw.mesh.config import MESH_2X2
from verif.mesh.report import draw, outcome_line, report_lines
from verif.mesh.run import HOST, MeshRun, read_counters, read_links, watchdog_report

PNG = b"\x89PNG\r\n\x1a\n"


def _links_file(tmp_path, rows):
    path = tmp_path / "links.txt"
    path.write_text("".join(" ".join(f"{v:x}" for v in row) + "\n" for row in rows))
    return path


def test_read_links(tmp_path):
    """Router n's line is north, east, south, west, request then response each: (0, 0)'s east
    is the link to (1, 0), (1, 0)'s south the link to (1, 1)..."""
    rows = [[0] * 8 for _ in range(4)]
    rows[0][2:4] = [12, 0]          # (0, 0) east
    rows[1][4:6] = [12, 1]          # (1, 0) south
    rows[3][6:8] = [0, 2]           # (1, 1) west
    rows[2][0:2] = [3, 2]           # (0, 1) north
    links = read_links(_links_file(tmp_path, rows), MESH_2X2)
    assert links == {((0, 0), (1, 0)): (12, 0), ((0, 0), (0, 1)): (0, 0),
                     ((1, 0), (0, 0)): (0, 0), ((1, 0), (1, 1)): (12, 1),
                     ((0, 1), (0, 0)): (3, 2), ((0, 1), (1, 1)): (0, 0),
                     ((1, 1), (1, 0)): (0, 0), ((1, 1), (0, 1)): (0, 2),
                     ((0, 0), HOST): (0, 0)}


def test_a_flit_out_of_the_mesh_is_refused(tmp_path):
    """(0, 0)'s west link goes to the host (the edge port); any other link out of the mesh
    carries nothing."""
    rows = [[0] * 8 for _ in range(4)]
    rows[0][7] = 5                  # (0, 0) west: the host's responses
    assert read_links(_links_file(tmp_path, rows), MESH_2X2)[((0, 0), HOST)] == (0, 5)
    rows[1][2] = 1                  # (1, 0) east: out of the mesh
    with pytest.raises(ValueError, match=r"\(1, 0\) flits left the mesh at \(1, 0\) east"):
        read_links(_links_file(tmp_path, rows), MESH_2X2)


def test_read_counters(tmp_path):
    path = tmp_path / "counters.txt"
    path.write_text("0 a 0 0 1\n127 64 64 0 64\n")
    assert read_counters(path, 4) == [{0: 10, 127: 100}, {0: 0, 127: 100}, {0: 0, 127: 0},
                                      {0: 1, 127: 100}]


def _state(tmp_path, dead_core=None):
    sems = 2 << 32 * 5 | 7 << 32 * 15
    state, watch = [], []
    for n in range(4):
        state.append(f"core {n} running 1 waiting {1 if n == 3 else 0} semaphores "
                     f"{sems if n == 3 else 0:0128x}")
        # Icarus writes x for the pc of a thread that never retired.
        pcs = " ".join(f"{0x8000_0000 + 4 * n + t:016x}" if t == 0 else "x" * 16
                       for t in range(4))
        watch.append(f"core {n} ever 1 pc {pcs} outstanding {0x300 if n == 3 else 0:08x} "
                     f"lists={n} remote=1 rx_writes=2 rx_pulls=0 dma_held=0 tx_held=1 "
                     f"tx_blocked=0 rx_held=0 rx_blocked=1")
    (tmp_path / "state.txt").write_text("\n".join(state) + "\n")
    (tmp_path / "watch.txt").write_text("\n".join(watch) + "\n")
    (tmp_path / "tohost.txt").write_text("1\n0\n1\n0\n")


def test_watchdog_report(tmp_path):
    """Core (1, 1): thread 0 asleep at its last pc, thread 1 with 3 commands outstanding,
    threads that never retired, semaphores 5 and 15; each queue and held stream; a dead core
    named as such."""
    _state(tmp_path)
    text = watchdog_report(tmp_path, MESH_2X2, dead=((1, 0),))
    lines = text.splitlines()
    assert "core (1, 0): dead" in lines
    assert "core (0, 0): wrote tohost 0x1" in lines
    at = lines.index("core (1, 1): has not written tohost")
    assert lines[at + 1] == ("  thread 0: last pc 0x8000000c, asleep at the dispatcher, "
                             "0 command(s) outstanding")
    assert lines[at + 2] == "  thread 1: never retired, stopped, 3 command(s) outstanding"
    assert lines[at + 5] == "  semaphores: 5: 2, 15: 7"
    assert lines[at + 6] == ("  DMA: 3 list(s) in flight, 1 remote descriptor(s) awaiting "
                             "their answer")
    assert lines[at + 7] == ("  network: receive side 2 write(s) and 0 read(s) outstanding "
                             "at the scratchpad")
    assert lines[at + 8] == "  held at the end: tx_held, rx_blocked"
    assert "  semaphores: all 0" in lines


def _run(status="pass", tohost=(1, 1, 1, 1), watchdog=None):
    busy = counter_index(unit=0, cause="busy")
    return MeshRun(status=status, tohost=list(tohost), dropped=[1, 0, 0, 0],
                   failed=[1, 0, 0, 0], refused=[0] * 4, cycles=1000, sim="verilator",
                   seconds=2.0, run_dir=Path("."), watchdog=watchdog,
                   utilisation=[{"matrix": m, "vector": 0.0, "dma": 0.25}
                                for m in (0.5, 0.0, 0.125, 1.0)],
                   instructions=[10, 20, 30, 40], counters=[{busy: 1}] * 4,
                   links={((0, 0), (1, 0)): (12, 0), ((1, 0), (0, 0)): (0, 3)},
                   retired=100, speed=500.0)


def test_report_lines():
    lines = report_lines(_run(), MESH_2X2, dead=((1, 0),))
    assert lines[0] == "PASS: every live core wrote tohost = 1 (3 cores)"
    assert lines[1] == "mesh: MESH_2X2 (2×2 of SMALL), dead (1, 0)"
    assert lines[2] == ("cycles: 1000 (500 mesh cycles/s on verilator, 1,500 core cycles/s "
                        "over 3 live cores, loading included; 2.0 s)")
    assert lines[4] == "  (0, 0)    50.0%     0.0%    25.0%            10      0x1"
    assert lines[5] == "  (1, 0)     dead"
    assert lines[7] == "  (1, 1)   100.0%     0.0%    25.0%            40      0x1"
    assert lines[8].startswith("network: 1 packets dropped by routers [1, 0, 0, 0], 1 ERROR")
    assert lines[10] == "  (0, 0) -> (1, 0)        12         0       0.0120"
    assert lines[11] == "  (1, 0) -> (0, 0)         0         3       0.0030"


def test_outcomes():
    assert outcome_line(_run("fail", (1, 0, 5, 1)), MESH_2X2, ((1, 0),)) == (
        "FAIL: core (0, 1): fail: test 2")
    hang = report_lines(_run("hang", watchdog="core (0, 0):\n  thread 0: x"), MESH_2X2)
    assert hang[0].startswith("HANG: ") and hang[1:4] == ["watchdog:", "  core (0, 0):",
                                                          "    thread 0: x"]
    assert outcome_line(_run("timeout"), MESH_2X2).startswith("TIMEOUT: still running after 1000")


def test_draw_writes_a_png(tmp_path):
    path = tmp_path / "mesh.png"
    draw(path, _run(), MESH_2X2, dead=((1, 0),))
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 10_000


def test_draw_refuses_bad_paths(tmp_path):
    with pytest.raises(ValueError, match=r"the plot is a PNG: give a .png file, not '.*x.svg'"):
        draw(tmp_path / "x.svg", _run(), MESH_2X2)
    with pytest.raises(OSError):
        draw(tmp_path / "missing" / "x.png", _run(), MESH_2X2)
