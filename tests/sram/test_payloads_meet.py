"""The widths that the core top joins (docs/architecture.md, "The connections the core makes"):
the vector unit's, the matrix engine's and the router's payloads against the scratchpad's ports,
at the D1 presets. The sequencers and the network interface between them carry these fields
unchanged, so a change of width on one side must show here."""

from amaranth.hdl import Shape
from amaranth.lib import data

from hw.matmul.config import D1 as MATMUL_D1
from hw.matmul.engine import engine_layouts
from hw.noc.flit import Flit, Header
from hw.sram.config import D1 as SRAM_D1
from hw.sram.config import PORTS, request_layout, response_layout
from hw.vector.isa import request_layout as vector_request_layout
from hw.vector.isa import response_layout as vector_response_layout


def _port(name):
    spec = next(s for s in PORTS if s.name == name)
    return request_layout(spec, SRAM_D1), response_layout(spec, SRAM_D1)


def _width(layout, field):
    shape = data.Layout.cast(layout)[field].shape
    return data.Layout.cast(shape).size if isinstance(shape, data.Layout) else \
        Shape.cast(shape).width


def test_vector_unit_meets_vector_ports():
    vreq, vresp = vector_request_layout(8), vector_response_layout(8)
    for port in ("vr0", "vr1"):
        _, resp = _port(port)
        for operand in ("a", "b", "c"):
            assert _width(resp, "data") == _width(vreq, operand)
        assert _width(resp, "tag") == _width(vreq, "tag")
    write, _ = _port("vw")
    assert _width(vresp, "data") == _width(write, "data")
    assert _width(vresp, "tag") == _width(write, "tag")


def test_matrix_engine_meets_vector_ports():
    layouts = engine_layouts(MATMUL_D1)
    _, read = _port("vr0")
    write, _ = _port("vw")
    beat = layouts["beat"]
    # One beat of BF16 operands is one 64-byte read (docs/matmul.md: 64 B per cycle).
    assert _width(beat, "a") + _width(beat, "b") == _width(read, "data")
    assert data.Layout.cast(layouts["c_row"]).size == _width(read, "data")
    assert _width(layouts["d_row"], "data") == _width(write, "data")
    assert _width(layouts["d_row"], "tag") == _width(write, "tag") == _width(beat, "tag")


def test_router_local_port_meets_router_ports():
    rreq, rresp = _port("rr")
    wreq, _ = _port("rw")
    assert _width(Flit, "data") == _width(rresp, "data") == \
        _width(wreq, "data")
    header = data.Layout.cast(Header)
    assert Shape.cast(header["addr"].shape).width == _width(rreq, "addr") == _width(wreq, "addr")
    assert Shape.cast(header["tag"].shape).width == _width(rreq, "tag") == _width(wreq, "tag")
