"""Configuration of a mesh of cores: the core, the mesh's size, the routers' virtual channels
and buffers; the presets (docs/mesh.md)."""

from dataclasses import dataclass

from hw.common.params import check_instance, check_int, check_name, check_pow2, lookup
from hw.core.config import SMALL, CoreConfig
from hw.noc.routing import MAX_SIDE

__all__ = ["MeshConfig", "MESH_1X1", "MESH_2X2", "MESH_4X4", "PRESETS", "get_preset"]


@dataclass(frozen=True)
class MeshConfig:
    """A ``width`` × ``height`` mesh of cores ``core``, routers with ``vcs`` virtual channels
    per class and ``depth``-flit buffers (``hw.noc.router.Router``'s parameters)."""
    name: str
    core: CoreConfig
    width: int
    height: int
    # The routers' configuration chosen from measurements (docs/noc.md, "The mesh's router
    # configuration"): the depth that reaches the issue's 0.415 flits/node/cycle on 8x8.
    vcs: int = 2
    depth: int = 16

    def __post_init__(self):
        check_name("name", self.name)
        check_instance("core", self.core, CoreConfig)
        check_int("width", self.width, 1, MAX_SIDE)
        check_int("height", self.height, 1, MAX_SIDE)
        if self.vcs not in (1, 2, 4):
            raise ValueError(f"vcs must be 1, 2 or 4, not {self.vcs!r}")
        check_pow2("depth", self.depth, 2, 16)

    @property
    def nodes(self):
        return self.width * self.height

    def __str__(self):
        return f"{self.name} ({self.width}×{self.height} of {self.core.name})"


#: One core with its router: the smallest mesh.
MESH_1X1 = MeshConfig("MESH_1X1", core=SMALL, width=1, height=1)
#: Four SMALL cores, for fast tests.
MESH_2X2 = MeshConfig("MESH_2X2", core=SMALL, width=2, height=2)
#: Sixteen SMALL cores: multicast, dead-core routes, the programs at scale.
MESH_4X4 = MeshConfig("MESH_4X4", core=SMALL, width=4, height=4)
PRESETS = {c.name: c for c in (MESH_1X1, MESH_2X2, MESH_4X4)}


def get_preset(name):
    """The mesh preset called ``name``."""
    return lookup("mesh preset", PRESETS, name)
