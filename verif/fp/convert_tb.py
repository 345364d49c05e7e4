"""cocotb testbench of the conversion unit: driver (bulk harness) → model → scoreboard.

:class:`ConvertTB` sends batches of requests through ``hw.fp.convert.ConvertUnit`` inside the bulk
stream harness, computes the expected responses with ``verif.fp.convert.convert_requests`` and
compares data, flags and tags bit for bit, in order. A mismatch raises
``verif.scoreboard.Mismatch`` listing the first differences in hex and decoded form.
"""

import numpy as np
from cocotb.triggers import RisingEdge

from hw.fp.convert import ConvertUnit, request_layout, response_layout
from hw.fp.formats import FP32, SR_BITS, format_for_code

from ..fcov.fp import sample_convert
from ..harness import StreamHarness
from ..pack import pack, unpack
from ..scoreboard import compare, flags_str
from .convert import convert_requests
from .formats import decode

__all__ = ["ConvertTB", "describe_request"]


def _value(bits, fmt, bias):
    try:
        return f"{float(decode(np.array([bits]), fmt, bias if fmt.configurable else None)[0]):.6g}"
    except (ValueError, TypeError):
        return "?"


def describe_request(req, i, exp_data, exp_flags, got_data=None, got_flags=None):
    """One readable line for request ``i``: inputs, expected and (if given) actual results."""
    op = int(req["op"][i])
    code = int(req["fmt"][i])
    bias = int(req["bias"][i])
    rnd = "sr" if int(req["rnd"][i]) else "rne"
    f = format_for_code(code)
    name = f.name if f else f"code {code}"
    src, dst = (FP32, f) if op == 0 else (f, FP32)
    d = int(req["data"][i])

    def show(bits, fmt):
        if fmt is None:
            return f"{bits:#x}"
        bits &= (1 << fmt.width) - 1
        return f"{bits:#0{fmt.width // 4 + 2}x} ({_value(bits, fmt, bias)})"

    line = (f"#{i} {'narrow' if op == 0 else 'widen'} {name} bias {bias} {rnd}: "
            f"in {show(d, src)} -> expected {show(int(exp_data[i]), dst)} "
            f"[{flags_str(exp_flags[i])}]")
    if got_data is not None:
        line += f", got {show(int(got_data[i]), dst)} [{flags_str(got_flags[i])}]"
    return line


class ConvertTB:
    """Drive a harness-wrapped ``ConvertUnit`` (its ``seed`` port forwarded by the harness)."""

    def __init__(self, dut, *, tag_width=8, sr_bits=SR_BITS):
        self.dut = dut
        self.harness = StreamHarness(dut)
        self.tag_width = tag_width
        self.sr_bits = sr_bits
        self.checked = 0

    async def reset(self):
        await self.harness.reset(seed__valid=0, seed__payload=0)

    async def write_seed(self, seed):
        """A register write of the SR seed (one cycle of ``seed.valid``)."""
        d = self.dut
        await RisingEdge(d.clk)
        d.seed__payload.value = seed & 0xFFFFFFFF
        d.seed__valid.value = 1
        await RisingEdge(d.clk)
        d.seed__valid.value = 0

    async def check(self, req, *, seed=1, idle=0, stall=0, what="conversions", cycles=False):
        """Run the requests after writing ``seed``; compare every response with the model, and
        with ``cycles`` every accept and response cycle with the unit's cycle contract
        (``verif.harness.StallingPipeline`` of ``ConvertUnit.latency``)."""
        n = len(req["data"])
        tags = np.arange(n, dtype=np.uint64) % np.uint64(1 << self.tag_width)
        words = pack(request_layout(self.tag_width), data=req["data"], op=req["op"],
                     fmt=req["fmt"], bias=req["bias"], rnd=req["rnd"], tag=tags)
        await self.write_seed(seed)
        out = await self.harness.run(words, idle=idle, stall=stall, seed=seed,
                                     pipeline=ConvertUnit.latency if cycles else None)
        got = unpack(response_layout(self.tag_width), out)
        exp_data, exp_flags = convert_requests(req["data"], req["op"], req["fmt"], req["bias"],
                                               req["rnd"], seed=seed, sr_bits=self.sr_bits)
        expected = {"data": exp_data.astype(np.uint64), "flags": exp_flags.astype(np.uint64),
                    "tag": tags}
        compare(expected, got, what=what, describe=lambda i: describe_request(
            req, i, exp_data, exp_flags, got["data"], got["flags"]) +
            (f" (tag {int(got['tag'][i])}, expected {int(tags[i])})"
             if got["tag"][i] != tags[i] else ""))
        # Functional coverage (off unless D1CORE_FCOV is set): what the design was seen to do.
        sample_convert(req, got["flags"])
        self.checked += n
        return n
