"""The mesh runner's host side (``verif/mesh/run.py``), without a simulator: dead cores are
checked (and (0, 0), the edge port's router, refused), the live routers get up*/down* tables
that pass the deadlock check and avoid the dead core, the dead core's router and scratchpad get
nothing, and every live core's place carries the live mask the programs read."""

import pytest

from hw.core.packets import byte_mask
from hw.mesh.config import MESH_2X2
from hw.noc.mesh import mesh_table_write_layout
from hw.noc.routing import Mesh, Port, check, route_tables
from verif.mesh.run import HOST, check_dead, config_words, live_mask, load_packets
from verif.noc.model import unpack_flit
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
    """Words only for the three live routers (one per destination each); with every core live
    the XY tables of all four."""
    layout = mesh_table_write_layout(MESH_2X2.nodes)
    words = [{k: int(v[0]) for k, v in unpack(layout, [w]).items()}
             for w in config_words(MESH_2X2, DEAD)]
    assert sorted({w["node"] for w in words}) == [0, 2, 3]
    assert len(words) == 3 * 4
    assert all(w["port"] == Port.DROP.value for w in words if w["dst"] == 1)
    mesh = Mesh(2, 2, disabled=DEAD)
    check(mesh, route_tables(mesh, "updown"))
    assert len(config_words(MESH_2X2)) == 4 * 4


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
