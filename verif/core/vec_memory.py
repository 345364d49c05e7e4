"""A behavioural scratchpad for the core's sequencer tests: lines in a dict, any number of
memory ports with the memport contract (``hw/common/memport.py``), each answering its requests
in order a few cycles later, with random stalls. Transaction-level where data is concerned,
cycle-level where the timing of the port contract is (docs/sram.md: one request per cycle per
port, in-order responses with their tags, credits bounding the responses in flight).

The model knows no simulator: a testbench calls :meth:`MemPort.ready` (whether the port takes a
request this cycle), :meth:`MemPort.request` for a request taken, :meth:`MemPort.response`
for the response offered this cycle and :meth:`MemPort.pop` once it is taken, once per cycle
with :meth:`MemPort.tick`.
"""

from collections import deque

from hw.common.memport import Status

__all__ = ["Memory", "MemPort"]


class Memory:
    """``size`` bytes (all zero) from address ``base`` in lines of ``line`` bytes, stored
    sparsely by line index (line ``i`` holds bytes ``base + i·line ..``)."""

    def __init__(self, size, *, line=64, base=0):
        self.size, self.line, self.base = size, line, base
        self.lines = {}

    def status(self, addr, width):
        """The status of an access of ``width`` bytes at ``addr`` (refused or OK)."""
        if not 0 <= addr - self.base < self.size:
            return Status.OUT_OF_RANGE
        if addr % width:
            return Status.MISALIGNED
        return Status.OK

    def read(self, addr, width):
        """``(data, status)``: ``width`` bytes at ``addr`` as a little-endian integer."""
        status = self.status(addr, width)
        if status is not Status.OK:
            return 0, status
        off = addr - self.base
        word = self.lines.get(off // self.line, 0)
        shift = 8 * (off % self.line)
        return (word >> shift) & ((1 << (8 * width)) - 1), status

    def write(self, addr, data, mask, width):
        """Write the bytes of ``data`` that ``mask`` enables; returns the status."""
        status = self.status(addr, width)
        if status is not Status.OK:
            return status
        off = addr - self.base
        index, shift = off // self.line, 8 * (off % self.line)
        word = self.lines.get(index, 0)
        for i in range(width):
            if mask >> i & 1:
                byte = 0xFF << (shift + 8 * i)
                word = (word & ~byte) | (((data >> (8 * i)) & 0xFF) << (shift + 8 * i))
        self.lines[index] = word
        return status


class MemPort:
    """One port of ``memory``: ``width`` bytes per access, a request taken per cycle unless
    stalled (probability ``p_stall``) or ``credits`` responses are pending; each answered
    ``latency`` cycles after it was taken (or later: in order, one per cycle)."""

    def __init__(self, memory, *, width=64, latency=5, p_stall=0.0, credits=8, rnd=None):
        self.memory, self.width, self.latency = memory, width, latency
        self.p_stall, self.credits, self.rnd = p_stall, credits, rnd
        self.cycle = 0
        self.pending = deque()      # (due cycle, response dict)
        self.requests = 0
        self._ready = True

    def tick(self):
        """Start the next cycle: decide whether the port takes a request in it."""
        self.cycle += 1
        stalled = self.rnd is not None and self.rnd.random() < self.p_stall
        self._ready = not stalled and len(self.pending) < self.credits

    def ready(self):
        return self._ready

    def request(self, req):
        """A request taken this cycle: ``addr``, ``tag``, and ``data``/``mask`` for a write
        (``op`` = 1 on a read/write port)."""
        self.requests += 1
        writes = "data" in req and req.get("op", 1) == 1
        if writes:
            status = self.memory.write(req["addr"], req["data"], req["mask"], self.width)
            resp = {"status": status, "tag": req["tag"]}
        else:
            data, status = self.memory.read(req["addr"], self.width)
            resp = {"data": data, "status": status, "tag": req["tag"]}
        self.pending.append((self.cycle + self.latency, resp))

    def response(self):
        """The response offered this cycle, or None."""
        if self.pending and self.pending[0][0] <= self.cycle:
            return self.pending[0][1]
        return None

    def pop(self):
        self.pending.popleft()
