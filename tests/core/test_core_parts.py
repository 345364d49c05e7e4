"""The core's units are parts (``hw.core.core.parts``): the core instantiates each as a module of
its own, and each is a block of the synthesis registry (``sim/flow/blocks.py``), so that the
whole core's synthesis (``d1core synth core.small core.d1``) composes from the units' rows. The
synthesis itself takes Yosys many minutes (the vector unit, the engine, the scratchpad), too
long for the regression: these tests check the composition's inputs without it."""

import pytest
from amaranth.hdl import Fragment
from amaranth.lib.wiring import In

from hw.common.shared import converting, port_members
from hw.core.config import D1, SMALL
from hw.core.core import SHARED_PORTS, Core, parts
from sim.flow import blocks
from sim.flow.build import shared_design

CONFIGS = pytest.mark.parametrize("config", [SMALL, D1], ids=lambda c: c.name)


@CONFIGS
def test_every_unit_is_a_block(config):
    """Each unit's module is the design of a registry block, which the core's composition
    needs (``SynthError`` otherwise); the two cores have their registry rows."""
    table = blocks.blocks()
    registered = {b.design.name for b in table.values()}
    for name, (factory, params) in parts(config).items():
        assert shared_design(factory, **params).name in registered, name
    core = table[f"core.{config.name.lower()}"]
    assert core.design.factory is Core and dict(core.design.params) == {"config": config}


def test_d1_rows_are_the_units_of_the_d1_core():
    """The existing rows of the engine and the vector unit are the D1 core's units, so that a
    full ``make synth`` synthesizes each once; the port shares of equal layouts are one
    module."""
    table = blocks.blocks()
    units = {name: shared_design(f, **p).name for name, (f, p) in parts(D1).items()}
    assert table["matmul.engine"].design.name == units["engine"]
    assert table["vector.unit"].design.name == units["vector_unit"]
    assert units["share_vr0"] == units["share_vr1"] == units["share_rr"]
    assert units["share_vw"] == units["share_rw"] != units["share_vr0"]


def _convert(calls):
    """A converter that records each part and answers with its design's name and the ports its
    signature gives (no Verilog written)."""
    def convert(factory, params, hier):
        calls.append((shared_design(factory, **params).name, hier))
        component = factory(**params)
        component._MustUse__silence = True  # only its signature is wanted
        ports = [("clk", "in"), ("rst", "in")]
        ports += [(name, "in" if flow == In else "out")
                  for name, flow, _ in port_members(component)]
        return calls[-1][0], ports
    return convert


@CONFIGS
def test_core_is_its_parts_wired(config):
    """Converted, the core instantiates every unit once as a part (not marked for Verilator's
    hierarchical build) and one share per shared port, and nothing else of its own but the
    wiring (elaboration with the recording converter: no Verilog, no Yosys)."""
    calls = []
    with converting(_convert(calls)):
        Fragment.get(Core(config), None)
    expected = [(shared_design(f, **p).name, False) for f, p in parts(config).values()]
    assert sorted(calls) == sorted(expected)
    assert len(calls) == 9 + len(SHARED_PORTS)


def test_parts_refuses_a_bad_config():
    with pytest.raises(TypeError, match=r"^config must be an instance of CoreConfig"):
        parts("D1")
