"""A test top for large meshes: the mesh with narrow inject ports.

Amaranth cannot convert a top whose input ports total more than 65,536 bits, and an 8×8 mesh's
128 inject streams of 573-bit flits are 73,344. `CompactMesh` wraps `hw.noc.mesh.NoCMesh` and
takes on each inject stream a header and a 32-bit serial number only; the payload is
:func:`expand` of the serial (16 words of ``serial ^ k × 0x9E3779B9``), which the model
reproduces. Every other port is the mesh's own.
"""

from amaranth.hdl import Cat, Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In

from hw.noc.flit import PAYLOAD_BITS, Header
from hw.noc.mesh import NoCMesh
from hw.noc.router import CLASSES

__all__ = ["CompactMesh", "CompactFlit", "expand", "SERIAL_BITS"]

SERIAL_BITS = 32
_WORDS = PAYLOAD_BITS // SERIAL_BITS
_MIX = 0x9E3779B9


class CompactFlit(data.Struct):
    """What a test source sends: the header and the serial number the payload is made from."""
    header: Header
    serial: SERIAL_BITS


def expand(serial):
    """The 512-bit payload made from ``serial`` (plain Python, for the model)."""
    return sum(((serial ^ (k * _MIX)) & 0xFFFFFFFF) << (SERIAL_BITS * k) for k in range(_WORDS))


class CompactMesh(wiring.Component):
    """`NoCMesh` with ``inject[n][c]`` streams of `CompactFlit`."""

    def __init__(self, **params):
        self.mesh = NoCMesh(**params)
        nodes = self.mesh.width * self.mesh.height
        members = dict(self.mesh.signature.members)
        members["inject"] = In(stream.Signature(CompactFlit)).array(nodes, CLASSES)
        super().__init__(wiring.Signature(members))

    def elaborate(self, platform):
        m = Module()
        m.submodules.mesh = mesh = self.mesh
        inner = {path: value for path, _, value in mesh.signature.flatten(mesh)}
        for path, member, value in self.signature.flatten(self):
            if path[0] == "inject":
                continue
            if member.flow == In:
                m.d.comb += inner[path].eq(value)
            else:
                m.d.comb += value.eq(inner[path])
        for n, streams in enumerate(self.inject):
            for c, src in enumerate(streams):
                dst = mesh.inject[n][c]
                serial = src.payload.serial
                m.d.comb += [
                    dst.valid.eq(src.valid), src.ready.eq(dst.ready),
                    dst.payload.header.eq(src.payload.header),
                    dst.payload.data.eq(Cat(serial ^ ((k * _MIX) & 0xFFFFFFFF)
                                            for k in range(_WORDS))),
                ]
        return m
