"""``NoCMesh(watch=True)``: the ``traffic`` member exists only with it (so the NoC's benches'
Verilog is unchanged without it), and ``watch`` is checked. What it counts is checked end to
end by the mesh's run (tests/mesh/test_mesh.py, every link's flits of push.c)."""

import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.lib import data

from hw.noc.mesh import NoCMesh
from hw.noc.router import CLASSES, DIRECTIONS

# Only signatures are looked at: nothing is elaborated.
pytestmark = pytest.mark.filterwarnings(f"ignore::{UnusedElaboratable.__module__}."
                                        f"{UnusedElaboratable.__qualname__}")


def test_traffic_only_when_watched():
    assert "traffic" not in NoCMesh(width=2, height=2).signature.members
    member = NoCMesh(width=2, height=2, watch=True).signature.members["traffic"]
    assert member.dimensions == (4,)
    assert member.shape == data.ArrayLayout(CLASSES, len(DIRECTIONS))


def test_watch_must_be_a_bool():
    with pytest.raises(TypeError, match="watch must be a bool, not 1"):
        NoCMesh(width=2, height=2, watch=1)
