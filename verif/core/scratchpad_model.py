"""The behavioural scratchpad of the Amaranth-simulator tests of the core's units (the GEMM and
vector sequencers, the DMA engine): a memory of 64-byte lines behind any number of ports of the
memory-port contract (:mod:`hw.common.memport`).

Each port takes a request in a cycle unless a random stall says so (``p_stall``) or ``credits``
answers are pending (the real port's credits; its ``ready`` never depends on ``valid``), does it
at once (a write is visible to every later request) and answers ``latency`` cycles later, plus a
random delay (each extra cycle with probability ``p_delay``), in request order per port, one a
cycle, holding the answer while the response stream is not ready. Statuses: an address outside
``base .. base + size`` is answered ``OUT_OF_RANGE``, one not a multiple of the port's width
``MISALIGNED`` (read data 0, nothing written); a line marked ``bad`` ``UNCORRECTABLE`` (the
access is done: reads answer the stored bytes, writes store).

Two ways to drive a port:

* :meth:`ScratchpadModel.port` makes the simulator process of one port from the requester's
  streams (pass it to ``add_process``/``add_testbench(..., background=True)``): it packs and
  unpacks with the streams' own layouts (``verif.pack``) and asserts the stream rule on the
  requests (a request offered and not taken is offered again, unchanged);
* :class:`Port` (``model.timed_port(...)``) knows no simulator, for a bench that drives every
  port itself in one process: :meth:`Port.tick` starts a cycle, :meth:`Port.ready`,
  :meth:`Port.request` (a request taken), :meth:`Port.response` (the answer offered) and
  :meth:`Port.pop` (the answer taken).

Every request taken is counted per port (``requests[name]``) and logged (``reads``: ``(cycle,
addr, tag)``, ``writes``: ``(cycle, addr, mask)``, the cycle of the port's own count).
"""

from collections import deque

import numpy as np
from amaranth.lib import data

from hw.common.memport import Op, Status

from ..pack import field_widths, pack_word, unpack_word

__all__ = ["ScratchpadModel", "Port", "LINE"]

#: Bytes of a line.
LINE = 64


class ScratchpadModel:
    """``size`` bytes from ``base`` (multiples of 64), all zero at first.

    Parameters (keyword-only): ``size``, ``base``; the defaults of every port: ``latency``
    (cycles from a request taken to its answer), ``p_stall`` (probability a port refuses a
    request in a cycle), ``p_delay`` (probability of each extra cycle of an answer),
    ``credits`` (answers pending at most, None: unbounded); ``bad`` (line indices, from
    ``base``, answered ``UNCORRECTABLE``); ``rng`` (anything with ``random()``: a
    ``random.Random`` or a numpy ``Generator``; default a fixed numpy one).

    ``load(addr, bytes)`` / ``read(addr, n)`` and ``load_lines``/``lines`` access it from Python.
    """

    def __init__(self, *, size, base=0, latency=5, p_stall=0.0, p_delay=0.0, credits=None,
                 bad=(), rng=None):
        if base % LINE or size % LINE:
            raise ValueError(f"base and size must be multiples of {LINE}, not {base}, {size}")
        self.base, self.size = base, size
        self.latency, self.p_stall, self.p_delay, self.credits = latency, p_stall, p_delay, credits
        self.bad = set(bad)
        self.rng = rng or np.random.default_rng(0)
        self.mem = bytearray(size)
        self.requests = {}
        self.reads = []             # (cycle, addr, tag) of every read taken
        self.writes = []            # (cycle, addr, mask) of every write taken
        self._touched = set()       # lines loaded or written (for ``lines``)

    # --- from Python ---------------------------------------------------------------------------

    def load(self, addr, raw):
        """Put the bytes ``raw`` at byte address ``addr``."""
        raw = bytes(raw)
        off = addr - self.base
        assert 0 <= off and off + len(raw) <= self.size, f"{addr:#x}+{len(raw)} outside"
        self.mem[off:off + len(raw)] = raw
        self._touched.update(range(off // LINE, -(-(off + len(raw)) // LINE)))

    def read(self, addr, n):
        """``n`` bytes from ``addr``."""
        off = addr - self.base
        return bytes(self.mem[off:off + n])

    def load_lines(self, lines):
        """Set whole lines: ``{line index from base: 512-bit little-endian int}``."""
        for index, value in lines.items():
            self.load(self.base + LINE * index, int(value).to_bytes(LINE, "little"))

    def lines(self):
        """Every line loaded or written so far, as ``load_lines`` takes them."""
        return {i: int.from_bytes(self.mem[LINE * i:LINE * (i + 1)], "little")
                for i in sorted(self._touched)}

    # --- accesses ------------------------------------------------------------------------------

    def status(self, addr, width):
        """The status of an access of ``width`` bytes at ``addr``."""
        if not self.base <= addr < self.base + self.size:
            return Status.OUT_OF_RANGE
        if addr % width:
            return Status.MISALIGNED
        if (addr - self.base) // LINE in self.bad:
            return Status.UNCORRECTABLE
        return Status.OK

    def access(self, req, width, *, cycle=0):
        """Do a request (a dict of its fields: ``addr``, ``tag``, and ``data``, ``mask`` and on
        a read/write port ``op`` for a write); its answer as a dict (``status``, ``tag``, and
        ``data`` for a read)."""
        addr = req["addr"]
        status = self.status(addr, width)
        refused = status in (Status.OUT_OF_RANGE, Status.MISALIGNED)
        off = addr - self.base
        if "mask" in req and req.get("op", Op.WRITE.value) == Op.WRITE.value:
            self.writes.append((cycle, addr, req["mask"]))
            if not refused:
                raw, mask = req["data"], req["mask"]
                for i in range(width):
                    if mask >> i & 1:
                        self.mem[off + i] = raw >> (8 * i) & 0xFF
                self._touched.add(off // LINE)
            return {"status": status, "tag": req["tag"]}
        self.reads.append((cycle, addr, req["tag"]))
        value = 0 if refused else int.from_bytes(self.mem[off:off + width], "little")
        return {"status": status, "tag": req["tag"], "data": value}

    # --- the ports -----------------------------------------------------------------------------

    def timed_port(self, *, name="port", width=LINE, **kw):
        """A :class:`Port` of this memory (``kw``: ``latency``, ``p_stall``, ``p_delay``,
        ``credits``, ``rng``, default the memory's)."""
        return Port(self, name=name, width=width, **kw)

    def port(self, req, resp, *, name="port", **kw):
        """The simulator process of one port: ``req``/``resp`` are the requester's streams (its
        ``*_req`` and ``*_resp`` members), whose layouts say the width and the fields; ``kw``
        as :meth:`timed_port`."""
        req_layout = data.Layout.cast(req.payload.shape())
        resp_layout = data.Layout.cast(resp.payload.shape())
        widths = field_widths(req_layout)
        width = (widths if "data" in widths else field_widths(resp_layout))["data"][1] // 8
        reads = "data" in field_widths(resp_layout)
        p = self.timed_port(name=name, width=width, **kw)

        async def process(ctx):
            held = None
            while True:
                p.tick()
                ctx.set(req.ready, p.ready())
                answer = p.response()
                ctx.set(resp.valid, answer is not None)
                if answer is not None:
                    if not reads:
                        answer = {k: v for k, v in answer.items() if k != "data"}
                    ctx.set(resp.payload.as_value(), pack_word(resp_layout, answer))
                _, _, r_valid, r_word, s_valid, s_ready = await ctx.tick().sample(
                    req.valid, req.payload.as_value(), resp.valid, resp.ready)
                if held is not None:
                    assert r_valid and r_word == held, \
                        f"{name}: a request changed or vanished while not taken"
                held = r_word if r_valid and not p.ready() else None
                if s_valid and s_ready:
                    p.pop()
                if r_valid and p.ready():
                    p.request(unpack_word(req_layout, r_word))

        return process


class Port:
    """One port of ``memory`` (:class:`ScratchpadModel`) with no simulator: ``width`` bytes an
    access; a request taken in a cycle unless stalled or ``credits`` answers are pending; each
    answered ``latency`` cycles after it was taken plus its random delay, in order, one a
    cycle. Per cycle: :meth:`tick`, then :meth:`ready`, :meth:`response`; after the clock edge
    :meth:`pop` if the answer was taken and :meth:`request` if a request was."""

    def __init__(self, memory, *, name="port", width=LINE, latency=None, p_stall=None,
                 p_delay=None, credits=None, rng=None):
        self.memory, self.name, self.width = memory, name, width
        pick = lambda v, d: d if v is None else v  # noqa: E731
        self.latency = pick(latency, memory.latency)
        self.p_stall = pick(p_stall, memory.p_stall)
        self.p_delay = pick(p_delay, memory.p_delay)
        self.credits = pick(credits, memory.credits)
        self.rng = pick(rng, memory.rng)
        self.cycle = -1
        self.pending = deque()      # (due cycle, answer dict)
        self._due = 0
        self._ready = True
        memory.requests[name] = 0

    @property
    def requests(self):
        """Requests taken so far."""
        return self.memory.requests[self.name]

    def tick(self):
        """Start the next cycle: decide whether the port takes a request in it."""
        self.cycle += 1
        stalled = self.rng.random() < self.p_stall
        full = self.credits is not None and len(self.pending) >= self.credits
        self._ready = not stalled and not full

    def ready(self):
        return self._ready

    def request(self, req):
        """A request taken this cycle (a dict of its fields)."""
        self.memory.requests[self.name] += 1
        self._due = max(self._due, self.cycle + self.latency)
        while self.p_delay and self.rng.random() < self.p_delay:
            self._due += 1
        self.pending.append((self._due, self.memory.access(req, self.width, cycle=self.cycle)))

    def response(self):
        """The answer offered this cycle (a dict), or None."""
        if self.pending and self.pending[0][0] <= self.cycle:
            return self.pending[0][1]
        return None

    def pop(self):
        """The answer offered this cycle was taken."""
        self.pending.popleft()
