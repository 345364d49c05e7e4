"""A behavioural scratchpad for the Amaranth-simulator tests of the core's units: a sparse
memory of 64-byte lines behind any number of ports of the memory-port contract
(:mod:`hw.common.memport`).

Each port takes a request in a cycle unless a random stall says otherwise (``p_stall``; its
``ready`` never depends on ``valid``), does it at once (a write is visible to every later
request), and answers ``latency`` cycles later, in request order per port, holding the answer
while the response stream is not ready. It asserts the stream rule on every request stream (a
request offered and not taken is offered again, unchanged). An address outside ``base .. base +
size`` is answered ``OUT_OF_RANGE``, one not a multiple of the port's width ``MISALIGNED`` (data
0, nothing written). Requests and responses are packed with the port's own layouts
(``verif.pack``).
"""

from collections import deque

import numpy as np
from amaranth.lib import data

from hw.common.memport import Op, Status

from ..pack import field_widths

__all__ = ["ScratchpadModel", "LINE"]

#: Bytes of a line.
LINE = 64


def _fields(layout, word):
    return {name: (word >> off) & ((1 << w) - 1) for name, (off, w) in field_widths(layout).items()}


def _word(layout, **fields):
    widths = field_widths(layout)
    out = 0
    for name, value in fields.items():
        off, w = widths[name]
        out |= (int(value) & ((1 << w) - 1)) << off
    return out


class ScratchpadModel:
    """``size`` bytes from ``base`` (multiples of 64), all zero at first.

    ``load(addr, bytes)`` / ``read(addr, n)`` access it from Python; ``port(req, resp)`` makes
    the simulator process of one port (pass it to ``add_testbench(..., background=True)``);
    ``requests[name]`` counts each port's requests taken.
    """

    def __init__(self, *, size, base=0, latency=5, p_stall=0.0, rng=None):
        if base % LINE or size % LINE:
            raise ValueError(f"base and size must be multiples of {LINE}, not {base}, {size}")
        self.base, self.size = base, size
        self.latency = latency
        self.p_stall = p_stall
        self.rng = rng or np.random.default_rng(0)
        self.mem = bytearray(size)
        self.requests = {}

    # --- from Python ---------------------------------------------------------------------------

    def load(self, addr, raw):
        """Put the bytes ``raw`` at byte address ``addr``."""
        raw = bytes(raw)
        off = addr - self.base
        assert 0 <= off and off + len(raw) <= self.size, f"{addr:#x}+{len(raw)} outside"
        self.mem[off:off + len(raw)] = raw

    def read(self, addr, n):
        """``n`` bytes from ``addr``."""
        off = addr - self.base
        return bytes(self.mem[off:off + n])

    # --- the ports -----------------------------------------------------------------------------

    def _access(self, req, width):
        """``(status, data)`` of a request (a dict of its fields); a write is done."""
        addr = req["addr"]
        if not self.base <= addr < self.base + self.size:
            return Status.OUT_OF_RANGE, 0
        if addr % width:
            return Status.MISALIGNED, 0
        off = addr - self.base
        writes = "mask" in req and ("op" not in req or req["op"] == Op.WRITE.value)
        if writes:
            raw, mask = req["data"], req["mask"]
            for i in range(width):
                if mask >> i & 1:
                    self.mem[off + i] = raw >> (8 * i) & 0xFF
            return Status.OK, 0
        return Status.OK, int.from_bytes(self.mem[off:off + width], "little")

    def port(self, req, resp, *, name="port"):
        """The process of one port: ``req``/``resp`` are the requester's streams (its
        ``*_req`` and ``*_resp`` members), whose layouts say the width and the fields."""
        req_layout = data.Layout.cast(req.payload.shape())
        resp_layout = data.Layout.cast(resp.payload.shape())
        width = field_widths(req_layout)["data"][1] // 8 if "data" in field_widths(
            req_layout) else field_widths(resp_layout)["data"][1] // 8
        reads = "data" in field_widths(resp_layout)
        self.requests[name] = 0

        async def process(ctx):
            pending = deque()
            cycle = 0
            held = None
            while True:
                ready = self.rng.random() >= self.p_stall
                ctx.set(req.ready, ready)
                if pending and pending[0][0] <= cycle:
                    ctx.set(resp.payload.as_value(), pending[0][1])
                    ctx.set(resp.valid, 1)
                else:
                    ctx.set(resp.valid, 0)
                _, _, r_valid, r_word, s_valid, s_ready = await ctx.tick().sample(
                    req.valid, req.payload.as_value(), resp.valid, resp.ready)
                if held is not None:
                    assert r_valid and r_word == held, \
                        f"{name}: a request changed or vanished while not taken"
                held = r_word if r_valid and not ready else None
                if r_valid and ready:
                    fields = _fields(req_layout, r_word)
                    status, value = self._access(fields, width)
                    out = {"status": status.value, "tag": fields["tag"]}
                    if reads:
                        out["data"] = value
                    pending.append((cycle + self.latency, _word(resp_layout, **out)))
                    self.requests[name] += 1
                if s_valid and s_ready:
                    pending.popleft()
                cycle += 1

        return process
