"""Configuration of one D1 core: its scratchpad, its matrix engine, its threads; the presets.

``D1``: the 1.25 MB scratchpad (``hw.sram.config.D1``), the 2×2 block of 8×8 arrays (256 MACs a
cycle), four threads. ``SMALL``: 64 KB in 8 banks and one 8×8 array, for fast tests. Both put
the scratchpad at ``RAM_BASE`` (0x8000_0000), where programs are linked, so that every unit and
the scalar core use the same byte addresses.
"""

import dataclasses
from dataclasses import dataclass

from hw.common.params import check_instance, check_int, check_name, lookup
from hw.matmul import config as matmul_config
from hw.matmul.config import MatmulConfig
from hw.scalar.isa import MAX_THREADS, RAM_BASE
from hw.sram import config as sram_config
from hw.sram.config import PORTS, SRAMConfig, request_layout, response_layout

__all__ = ["CoreConfig", "D1", "SMALL", "PRESETS", "get_preset", "UNIT_TAG_WIDTH", "Die",
           "D1_DIE"]

#: Tag width of each unit's scratchpad requests: the scratchpad's 8 bits less the one bit of
#: the requester number on the ports two requesters share (``hw.common.portshare``).
UNIT_TAG_WIDTH = 7


@dataclass(frozen=True)
class CoreConfig:
    """One core.

    Parameters
    ----------
    name : str
        Preset name, shown in reports.
    sram : SRAMConfig
        The scratchpad; its ``base`` must be ``RAM_BASE`` and its tags 8 bits wide.
    matmul : MatmulConfig
        The matrix engine.
    threads : int, 1..4
        The scalar core's threads.
    """
    name: str
    sram: SRAMConfig
    matmul: MatmulConfig
    threads: int = MAX_THREADS

    def __post_init__(self):
        check_name("name", self.name)
        check_instance("sram", self.sram, SRAMConfig)
        check_instance("matmul", self.matmul, MatmulConfig)
        check_int("threads", self.threads, 1, MAX_THREADS)
        if self.sram.base != RAM_BASE:
            raise ValueError(f"sram.base must be {RAM_BASE:#x}, not {self.sram.base:#x}")
        if self.sram.tag_width != UNIT_TAG_WIDTH + 1:
            raise ValueError(f"sram.tag_width must be {UNIT_TAG_WIDTH + 1}, "
                             f"not {self.sram.tag_width}")

    def unit_port_layouts(self, port):
        """``(request, response)`` layouts of a requester's side of the shared scratchpad port
        ``port`` (``"vr0"``, ``"rr"``, ...): the port's, with a ``UNIT_TAG_WIDTH``-bit tag."""
        spec = lookup("scratchpad port", {s.name: s for s in PORTS}, port)
        sram = dataclasses.replace(self.sram, tag_width=UNIT_TAG_WIDTH)
        return request_layout(spec, sram), response_layout(spec, sram)

    def __str__(self):
        return (f"{self.name} ({self.threads} threads, {self.sram.size // 1024} KB scratchpad, "
                f"{self.matmul.macs_per_cycle} MACs/cycle)")


D1 = CoreConfig("D1", sram=dataclasses.replace(sram_config.D1, base=RAM_BASE),
                matmul=matmul_config.D1)
SMALL = CoreConfig("SMALL", sram=SRAMConfig("CORE_SMALL", lines=1024, banks=8, base=RAM_BASE),
                   matmul=matmul_config.SMALL)
PRESETS = {c.name: c for c in (D1, SMALL)}


@dataclass(frozen=True)
class Die:
    """What was published about a die the core is one of, for the synthesis report to multiply
    one core's figures out against (``../shared/reference/d1.md``; ``*_source``: the figure's
    source tags as there). ``missing``: what the die has that the core's synthesis does not
    count."""
    name: str
    cores: int
    cores_source: str
    transistors: int
    transistors_source: str
    process: str
    area_mm2: float
    missing: tuple


#: Tesla's D1 die (d1.md, "The die"; AID21 = Tesla AI Day 2021, MICRO = the IEEE Micro paper).
D1_DIE = Die(
    "D1", cores=354, cores_source="AID21, MICRO, H", transistors=50 * 10**9,
    transistors_source="AID21, H", process="TSMC 7 nm", area_mm2=645,
    missing=(
        "the mesh network: a router per core (the `noc.router*` rows; no NoC in the core row)",
        "the die's edge I/O: 576 SerDes lanes at 112 Gb/s (AID21, M), their PHYs and "
        "controllers",
        "the cores beyond the 354 enabled ones (the physical array is larger: spares, "
        "disabled and routed around), and clocking, power and test logic",
        "SRAM periphery (decoders, sense amplifiers, redundancy): memory bits count 6 "
        "transistors each and nothing else",
        "everything physical: buffers, clock tree, wiring, cell sizing (the CMOS figure "
        "counts 2-input gates)",
        "D1's wider scalar front end (8-wide decode, 4-wide scalar and 2-wide vector issue, "
        "HC34, H) against this project's single-issue barrel core",
    ))


def get_preset(name):
    """The core preset called ``name`` (``D1``, ``SMALL``)."""
    return lookup("core preset", PRESETS, name)
