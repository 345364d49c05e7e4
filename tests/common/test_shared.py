"""``hw.common.shared``: a sub-block is the plain component outside conversion, and an instance
whose ports must match its signature exactly (a mismatch is an error naming the port)."""

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Fragment, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.common.shared import SharedInstance, converting, shared


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

    def convert(factory, params):
        calls.append((factory, params))
        return "inc_x", PORTS

    with converting(convert):
        sub = shared(Inc)
    assert isinstance(sub, SharedInstance) and calls == [(Inc, {})]
    text = rtlil.convert(sub)
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
