"""The mesh runner's host side (``verif/mesh/run.py``), without a simulator: dead cores are
checked (and (0, 0), the edge port's router, refused), the live routers get up*/down* tables
that pass the deadlock check and avoid the dead core, each with its host entry, the dead core's
router and scratchpad get nothing, and every live core's place carries the live mask the
programs read. Per-core segments land in their core only, after the image; reads become one
PULL per line, and the answers (in any order, READ_DATA or ERROR) become the ranges' bytes or
the errors' messages; the arguments' errors."""

import pytest

from hw.core.isa import Error
from hw.core.packets import byte_mask, pull_error_packet, read_data_packet
from hw.mesh.config import MESH_2X2
from hw.noc.mesh import mesh_table_write_layout
from hw.noc.routing import Mesh, Port, check, host_routes, route_tables
from verif.mesh.run import (
    HOST,
    MeshRun,
    check_dead,
    config_words,
    live_mask,
    load_packets,
    read_answers,
    read_core,
    read_packets,
    whole_core,
)
from verif.noc.model import pack_flit, unpack_flit
from verif.pack import unpack

DEAD = ((1, 0),)


@pytest.mark.parametrize("dead, message", [
    ([(0, 0)], r"core \(0, 0\) cannot be dead: the edge port enters the mesh there"),
    ([(2, 0)], r"disabled node \(2, 0\) is outside the 2x2 mesh"),
    ([(1, 0), (1, 0)], r"disabled node \(1, 0\) is listed twice"),
])
def test_dead_core_errors(dead, message):
    with pytest.raises(ValueError, match=message):
        check_dead(MESH_2X2, dead)


def test_live_mask():
    assert live_mask(MESH_2X2) == 0b1111
    assert live_mask(MESH_2X2, DEAD) == 0b1101


def test_route_tables_avoid_the_dead_core():
    """Words only for the three live routers (one per destination each, and the host entry,
    entry 4: the route to (0, 0), then WEST there); with every core live the XY tables of all
    four."""
    layout = mesh_table_write_layout(MESH_2X2.nodes)
    words = [{k: int(v[0]) for k, v in unpack(layout, [w]).items()}
             for w in config_words(MESH_2X2, DEAD)]
    assert sorted({w["node"] for w in words}) == [0, 2, 3]
    assert len(words) == 3 * 5
    assert all(w["port"] == Port.DROP.value for w in words if w["dst"] == 1)
    mesh = Mesh(2, 2, disabled=DEAD)
    tables = route_tables(mesh, "updown")
    host = host_routes(mesh, tables)
    check(mesh, tables, host)
    assert {w["node"]: w["port"] for w in words if w["dst"] == 4} == {
        0: Port.WEST.value, 2: host[(0, 1)].value, 3: host[(1, 1)].value}
    assert len(config_words(MESH_2X2)) == 4 * 5


def test_load_skips_dead_cores_and_writes_the_place():
    """No LINE to the dead core; each live core's place line holds x, y, width, height and the
    live mask as uint32, the words written exactly those holding them."""
    place = 0x8000_0100
    packets = [unpack_flit(p) for p in load_packets([(0x8000_0000, b"\x01" * 8)], MESH_2X2,
                                                    place, DEAD)]
    assert {(h["dst_x"], h["dst_y"]) for h, _ in packets} == {(0, 0), (0, 1), (1, 1)}
    assert all((h["src_x"], h["src_y"]) == HOST for h, _ in packets)
    for h, data in packets:
        if h["addr"] == place:
            want = b"".join(v.to_bytes(4, "little")
                            for v in (h["dst_x"], h["dst_y"], 2, 2, 0b1101))
            assert h["tag"] == 0b111
            bits = sum(0xFF << 8 * i for i in range(64) if byte_mask(h["tag"]) >> i & 1)
            assert data & bits == int.from_bytes(want, "little")


def test_segments_go_to_their_core_after_the_image():
    """Core (1, 1)'s segment lands in (1, 1) only, overwriting the image's byte it shares and
    keeping the others of that word; (0, 1)'s in (0, 1) only."""
    image = [(0x8000_0000, bytes(range(1, 17)))]
    packets = [unpack_flit(p) for p in load_packets(
        image, MESH_2X2, 0x8000_0100, DEAD,
        {(1, 1): [(0x8000_0003, b"\xAA")], (0, 1): [(0x8000_0040, b"\x55" * 8)]})]
    first = {(h["dst_x"], h["dst_y"]): d for h, d in packets if h["addr"] == 0x8000_0000}
    want = bytearray(range(1, 17)) + bytearray(48)
    assert first[(0, 0)] == first[(0, 1)] == int.from_bytes(want, "little")
    want[3] = 0xAA
    assert first[(1, 1)] == int.from_bytes(want, "little")
    second = [(h["dst_x"], h["dst_y"], h["tag"], d) for h, d in packets
              if h["addr"] == 0x8000_0040]
    assert second == [(0, 1, 0b1, int.from_bytes(b"\x55" * 8, "little"))]


@pytest.mark.parametrize("segments, error, message", [
    ({(1, 0): [(0x8000_0000, b"x")]}, ValueError, r"segments for core \(1, 0\), which is dead"),
    ({(2, 0): []}, ValueError, r"a segment's core \(2, 0\) is outside the 2x2 mesh"),
    ({(1,): []}, TypeError, r"a segment's core must be an \(x, y\) pair of ints, not \(1,\)"),
    ({(1, 1): [(0x8000_0000, "x")]}, TypeError,
     r"a segment must be an \(address, bytes\) pair, not \(2147483648, 'x'\)"),
    ([(0x8000_0000, b"x")], TypeError, r"segments must be a dict from \(x, y\)"),
    ({(1, 1): [(0x7FFF_FFFF, b"xx")]}, ValueError,
     r"segment 0x7fffffff\.\.0x80000001 is outside the scratchpad"),
])
def test_segment_errors(segments, error, message):
    with pytest.raises(error, match=message):
        load_packets([], MESH_2X2, 0x8000_0100, DEAD, segments)


def test_reads_pull_every_line_and_take_answers_in_any_order():
    """A range over three lines, one of a line and one of a dead core: a PULL per line, from
    the host, ``dst`` its number; the answers shuffled (READ_DATA with the line at that number,
    the router's ERROR code 0 for the dead core) give each range's bytes, and the error names
    its core, address and code (REMOTE)."""
    reads = [(1, 1, 0x8000_0030, 0x51), (0, 1, 0x8000_0100, 8), (1, 0, 0x8000_0000, 4)]
    flits, lines = read_packets(MESH_2X2, reads)
    assert [(i, core, addr) for i, core, addr in lines] == [
        (0, (1, 1), 0x8000_0000), (0, (1, 1), 0x8000_0040), (0, (1, 1), 0x8000_0080),
        (1, (0, 1), 0x8000_0100), (2, (1, 0), 0x8000_0000)]
    memory = {core: bytes((a * 7 + core[0] * 3 + core[1]) & 0xFF for a in range(0x200))
              for core in MESH_2X2_CORES}
    answers = []
    for k, flit in enumerate(flits):
        header, data = unpack_flit(flit)
        assert (header["src_x"], header["src_y"]) == HOST and header["op"] == 0
        assert data >> 32 & 0xFFFF_FFFF == k
        core = (header["dst_x"], header["dst_y"])
        if core == (1, 0):
            answers.append(pack_flit(*pull_error_packet(header, data, Error.NONE)))
        else:
            off = header["addr"] - 0x8000_0000
            line = int.from_bytes(memory[core][off:off + 64], "little")
            answers.append(pack_flit(*read_data_packet(header, data, line)))
    answers.reverse()
    ranges, errors = read_answers(reads, lines, answers)
    assert ranges == [memory[(1, 1)][0x30:0x81], memory[(0, 1)][0x100:0x108], None]
    assert errors == ["read 2: core (1, 0) at 0x80000000: ERROR REMOTE (the core is dead or "
                      "outside the mesh)"]
    _, errors = read_answers(reads, lines, answers[1:])          # the ERROR lost
    assert errors == ["read 2: core (1, 0) at 0x80000000: no answer"]
    header, data = unpack_flit(flits[3])                          # the destination refuses
    answers[1] = pack_flit(*pull_error_packet(header, data, Error.RANGE))
    ranges, errors = read_answers(reads, lines, answers)
    assert ranges[1] is None and errors[0] == "read 1: core (0, 1) at 0x80000100: ERROR RANGE"


MESH_2X2_CORES = [(x, y) for y in range(2) for x in range(2)]


@pytest.mark.parametrize("read, error, message", [
    ((2, 0, 0x8000_0000, 8), ValueError, r"a read's core \(2, 0\) is outside the 2x2 mesh"),
    ((0, 0, 0x8000_0000, 0), ValueError, r"a read must name 1 or more bytes at a 32-bit "),
    ((0, 0, 0x8000_0000), TypeError, r"a read must be an \(x, y, address, nbytes\) tuple"),
])
def test_read_errors(read, error, message):
    with pytest.raises(error, match=message):
        read_packets(MESH_2X2, [read])


def test_read_core_finds_the_whole_scratchpad():
    """``whole_core`` asks for the scratchpad from its base; ``read_core`` finds that range's
    bytes among a run's reads, and refuses a core whose scratchpad was not read whole."""
    whole = whole_core(MESH_2X2, 1, 1)
    assert whole == (1, 1, 0x8000_0000, 0x10000)
    blob = bytes(range(256)) * 256
    run = MeshRun(status="pass", tohost=[], dropped=[], failed=[], refused=[], cycles=0,
                  sim="verilator", seconds=0.0, run_dir=None, reads=[b"x", blob],
                  ranges=[(1, 1, 0x8000_0000, 1), whole], config=MESH_2X2)
    assert read_core(run, 1, 1) is blob
    with pytest.raises(ValueError, match=r"core \(0, 1\)'s scratchpad was not read in this "
                                         r"run: pass whole_core\(config, 0, 1\)"):
        read_core(run, 0, 1)
