"""``hw.common.shared``: a sub-block is the plain component outside conversion, and an instance
whose ports must match its signature exactly (a mismatch is an error naming the port); a part
is converted the same way, only not marked for Verilator's hierarchical build; ``reset_by``
resets both kinds."""

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Fragment, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from hw.common.shared import SharedInstance, converting, part, reset_by, shared


class Inc(wiring.Component):
    """q = d + 1, registered."""
    d: In(8)
    q: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.q.eq(self.d + 1)
        return m


PORTS = [("clk", "in"), ("rst", "in"), ("d", "in"), ("q", "out")]
SIGNATURE = wiring.Signature({"d": In(8), "q": Out(8)})


def _instance(ports):
    return Fragment.get(SharedInstance(SIGNATURE, "inc_x", ports), None)


def test_plain_component_outside_conversion():
    sub = shared(Inc)
    assert type(sub) is Inc
    assert "$add" in rtlil.convert(sub)  # the component's own logic


def test_instance_while_converting():
    calls = []

    def convert(factory, params, hier):
        calls.append((factory, params, hier))
        return "inc_x", PORTS

    with converting(convert):
        sub = shared(Inc)
        unit = part(Inc)
    assert isinstance(sub, SharedInstance) and isinstance(unit, SharedInstance)
    assert calls == [(Inc, {}, True), (Inc, {}, False)]
    for text in (rtlil.convert(sub), rtlil.convert(unit)):
        assert "cell \\inc_x " in text  # an instance of the module, not the component's logic
        assert "$add" not in text


@pytest.mark.parametrize(("ports", "message"), [
    (PORTS + [("extra", "in")],
     r"^module inc_x has a port 'extra' that its component's signature does not$"),
    ([("clk", "in"), ("rst", "in"), ("d", "out"), ("q", "out")],
     r"^port 'd' of module inc_x is an output, the signature says input$"),
    (PORTS[:3], r"^module inc_x lacks the ports q of its component's signature$"),
])
def test_port_mismatch_is_refused(ports, message):
    with pytest.raises(ValueError, match=message):
        _instance(ports)


def test_reset_by_drives_the_instance_reset():
    """ResetInserter cannot reach into another module: a shared instance held in reset by
    ``reset_by`` gets ``rst | reset`` on its module's ``rst`` port instead (the Verilog's
    instance would otherwise never see ``reset``)."""
    def text(held):
        hold = Signal()
        with converting(lambda factory, params, hier: ("inc_x", PORTS)):
            sub = part(Inc)
        m = Module()
        m.submodules.sub = reset_by(sub, hold) if held else sub
        return rtlil.convert(m, ports=[hold, sub.d, sub.q])

    assert "cell \\inc_x " in text(True)
    assert "$or" in text(True) and "$or" not in text(False)  # rst | hold, to the rst port


def test_reset_by_resets_a_plain_component():
    """Outside conversion ``reset_by`` is ``ResetInserter``: the register returns to 0 while
    ``reset`` is 1 (Amaranth's simulator)."""
    hold = Signal()
    inc = Inc()
    m = Module()
    m.submodules.inc = reset_by(inc, hold)
    sim = Simulator(m)
    sim.add_clock(1e-6)
    seen = []

    async def bench(ctx):
        ctx.set(inc.d, 41)
        await ctx.tick()
        seen.append(ctx.get(inc.q))
        ctx.set(hold, 1)
        await ctx.tick()
        seen.append(ctx.get(inc.q))

    sim.add_testbench(bench)
    sim.run()
    assert seen == [42, 0]
