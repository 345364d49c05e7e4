"""Cycle-level reference model of the SRAM scratchpad (``hw/sram/scratchpad.py``): the contents,
which requester each bank grants in each cycle, and every response, bit for bit.

It shares with the RTL only the configuration and the policies (``hw/sram/config.py``:
ports, layouts, :func:`bank_of`/:func:`row_of`; ``hw/common/arbiter.round_robin``); the ECC is
``verif/sram/ecc.py`` (numpy), the memory a numpy array of data words and check bytes.

Driving it
  :meth:`ScratchpadModel.run` takes, per port, the requests with the cycle each was first
  offered, the cycles at which the port's responses were taken (the consumer's ready, as the
  harness recorded it) and the cycles of ``inject`` writes, and simulates cycle by cycle until
  every request is answered. It returns the cycle each request was accepted and each response
  with its payload: the scoreboard compares both with the simulation (so the backpressure
  timing is checked too, not only the data). ``idle`` ready cycles do not matter: a response is
  taken exactly when the record says so, which must be a cycle when the model has one waiting.

Timing mirrored from the RTL: a request offered in cycle t to an idle port is accepted in t,
requests arbitration in t + 1 (A), P1 at t + 2, P2 t + 3, P3 t + 4, response offered from
t + 5. A bank's operation takes effect in grant order (the model does it at the grant).
"""

from dataclasses import dataclass, field

import numpy as np

from hw.common.arbiter import round_robin
from hw.common.memport import Op, Status
from hw.sram.config import LINE_BYTES, LINE_WORDS, PORTS, SCRUB, WORD_BYTES, bank_of
from hw.sram.ecc import DATA_BITS

from . import ecc

__all__ = ["ScratchpadModel", "ModelError", "random_throughput", "Request"]

_MASK64 = (1 << 64) - 1
_READ, _RMW, _WRITE, _REFUSED = range(4)


class ModelError(AssertionError):
    """The recorded stimulus is impossible for the design (e.g. a response taken when none was
    waiting)."""


@dataclass
class Request:
    """One request: fields as in :func:`hw.sram.config.request_layout` (absent ones 0)."""
    addr: int
    tag: int = 0
    op: int = Op.READ.value
    data: int = 0
    mask: int = 0


@dataclass
class _A:
    valid: bool = False
    line: int = 0
    woff: int = 0
    write: bool = False
    rmw: bool = False
    phase2: bool = False
    wait: bool = False
    status: int = 0
    p1status: int = 0
    p2wen: int = 0
    tag: int = 0
    data: int = 0
    mask: int = 0
    addr: int = 0


@dataclass
class _Port:
    spec: object
    a: _A = field(default_factory=_A)
    count: int = 0
    pipe: list = field(default_factory=lambda: [None, None, None])  # P1, P2, P3
    fifo: list = field(default_factory=list)


class ScratchpadModel:
    """The scratchpad of ``config``, empty (every codeword 0, which is a valid codeword)."""

    def __init__(self, config):
        self.config = config
        self.data = np.zeros((config.lines, LINE_WORDS), dtype=np.uint64)
        self.check = np.zeros((config.lines, LINE_WORDS), dtype=np.uint8)
        self.ports = [_Port(spec) for spec in (*PORTS, SCRUB)]
        self.pointer = [0] * config.banks
        self.locked = [None] * config.banks  # owner of each locked bank
        self.armed, self.inj_port, self.inj_flip = False, 0, 0
        self.scrub_fifo = []
        self.counters = {"corrected": 0, "uncorrectable": 0, "refused": 0}
        self.err_addr, self.err_valid = 0, False
        self.cycle = 0
        #: Per cycle, the number of banks that did an operation for each requester (a list).
        self.grant_log = []
        #: Per cycle, per requester that wanted a bank: ``alone`` (granted, no other eligible
        #: requester), ``won`` (granted over others), ``lost`` (another was granted) or
        #: ``locked`` (the bank is locked by another's read-modify-write); None: no request.
        self.conflict_log = []

    # --- contents --------------------------------------------------------------------------

    def read_bytes(self, addr, n):
        """``n`` bytes at byte ``addr`` as stored (data bits, no correction)."""
        words = self.data.reshape(-1)
        first, last = addr // WORD_BYTES, (addr + n - 1) // WORD_BYTES
        raw = b"".join(int(w).to_bytes(8, "little") for w in words[first:last + 1])
        return raw[addr % WORD_BYTES:addr % WORD_BYTES + n]

    def _codeword(self, line, w):
        return int(self.data[line, w]) | int(self.check[line, w]) << DATA_BITS

    # --- one cycle -------------------------------------------------------------------------

    def _decode_request(self, spec, r):
        c = self.config
        a = _A(valid=True, addr=r.addr,
               line=(r.addr & ((1 << c.window_bits) - 1)) >> 6,
               woff=(r.addr >> 3) & (LINE_WORDS - 1), tag=r.tag)
        a.write = spec.writes and (not spec.reads or r.op == Op.WRITE.value)
        if spec.writes:
            a.data, a.mask = r.data, r.mask
        partial = any(0 < (r.mask >> 8 * w) & 0xFF < 0xFF for w in range(spec.words))
        a.rmw = spec.internal or (a.write and partial)
        if not c.contains(r.addr):
            a.status = Status.OUT_OF_RANGE.value
        elif r.addr % spec.width:
            a.status = Status.MISALIGNED.value
        return a

    def _wen(self, port):
        """Line word enables of A's write."""
        a, n = port.a, port.spec.words
        if a.phase2:
            wen = a.p2wen
        else:
            wen = sum(1 << w for w in range(n) if (a.mask >> 8 * w) & 0xFF == 0xFF)
        return (wen << a.woff) & 0xFF

    def _check(self, item):
        """Decode the item's captured codewords: (corrected words, corr bits, unc bits)."""
        words = np.array([cw & _MASK64 for cw in item["code"]], dtype=np.uint64)
        checks = np.array([cw >> DATA_BITS for cw in item["code"]], dtype=np.uint8)
        fixed, status, _ = ecc.decode(words, checks)
        corr = sum(1 << w for w, s in enumerate(status) if s == ecc.CORRECTED)
        unc = sum(1 << w for w, s in enumerate(status) if s == ecc.UNCORRECTABLE)
        return [int(x) for x in fixed], corr, unc

    def step(self, offers, taken, inject=None):
        """Simulate one cycle. ``offers``: per external port, the request offered (or None);
        ``taken``: per external port, whether its waiting response is taken; ``inject``: an
        ``(port, flip)`` written this cycle, or None. Returns ``(accepted, responses)``: per
        port whether the offer was accepted, and the response taken (a dict) or None."""
        c = self.config
        ports = self.ports
        n = len(ports)
        # Combinational: requests, arbitration.
        want, refuse_pass = [False] * n, [False] * n
        for k, p in enumerate(ports):
            a = p.a
            credit = p.count < c.resp_depth
            refused = a.status != Status.OK.value
            want[k] = a.valid and not refused and not a.wait and (a.phase2 or credit)
            refuse_pass[k] = a.valid and refused and credit
        grant = [False] * n
        per_bank = [0] * n
        conflict = [None] * n
        for b in range(c.banks):
            wanting = {k for k, p in enumerate(ports) if want[k] and bank_of(p.a.line, c) == b}
            reqs = {k for k in wanting if self.locked[b] in (None, k)}
            winner, self.pointer[b] = round_robin(reqs, self.pointer[b], n)
            if winner is not None:
                grant[winner] = True
                per_bank[winner] += 1
            for k in wanting:
                conflict[k] = (("alone" if len(reqs) == 1 else "won") if k == winner
                               else "lost" if k in reqs else "locked")
        self.grant_log.append(per_bank)
        self.conflict_log.append(conflict)

        # The bank operations (in effect in grant order) and the new P1 items.
        new_items, stored = [None] * n, [False] * n
        for k, p in enumerate(ports):
            a = p.a
            lock = a.rmw and not a.phase2
            if refuse_pass[k]:
                new_items[k] = {"kind": _REFUSED, "status": a.status}
            elif grant[k]:
                b = bank_of(a.line, c)
                line = a.line
                if lock:
                    self.locked[b] = k
                if a.phase2:
                    self.locked[b] = None
                kind = _RMW if lock else (_WRITE if a.write else _READ)
                item = {"kind": kind, "status": a.p1status if kind == _WRITE else 0}
                if kind == _WRITE:
                    wen = self._wen(p)
                    stored[k] = wen != 0
                    flip = self.inj_flip if (self.armed and self.inj_port == k) else 0
                    words = self._line_words(p)
                    for w in range(LINE_WORDS):
                        if (wen >> w) & 1:
                            cw = words[w] ^ flip
                            self.data[line, w] = cw & _MASK64
                            self.check[line, w] = cw >> DATA_BITS
                else:
                    nw = p.spec.words
                    item["code"] = [self._codeword(line, a.woff + w) for w in range(nw)]
                new_items[k] = item
            if new_items[k] is not None:
                new_items[k].update(line=a.line, woff=a.woff, tag=a.tag)

        # P3: check, respond, merge, events.
        events = {"corrected": 0, "uncorrectable": 0, "refused": 0}
        scrub_line, err = None, None
        pushes = [None] * n
        merges = [None] * n
        for k, p in enumerate(ports):
            item = p.pipe[2]
            if item is None:
                continue
            kind = item["kind"]
            if kind in (_READ, _RMW):
                fixed, corr, unc = self._check(item)
                worst = (Status.UNCORRECTABLE if unc else
                         Status.CORRECTED if corr else Status.OK).value
                if not p.spec.internal:
                    events["corrected"] += bool(corr)
                    events["uncorrectable"] += bool(unc)
                    if unc and err is None:
                        first = (unc & -unc).bit_length() - 1
                        err = (c.base + item["line"] * LINE_BYTES
                               + (item["woff"] + first) * WORD_BYTES)
                    if kind == _READ and corr and scrub_line is None:
                        scrub_line = item["line"]
                if kind == _READ:
                    value = sum(w << 64 * i for i, w in enumerate(fixed))
                    pushes[k] = {"data": value, "status": worst, "tag": item["tag"]}
                else:
                    merges[k] = (fixed, corr, unc, worst)
            else:
                if kind == _REFUSED and not p.spec.internal:
                    events["refused"] += 1
                pushes[k] = {"data": 0, "status": item["status"], "tag": item["tag"]}

        # Outputs, handshakes and register updates (end of cycle).
        accepted, responses = [False] * len(PORTS), [None] * len(PORTS)
        scrub_offer = self.scrub_fifo[0] if self.scrub_fifo else None
        for k, p in enumerate(ports):
            a = p.a
            lock = a.rmw and not a.phase2
            leave = (grant[k] and not lock) or refuse_pass[k]
            ready = not a.valid or leave
            issue = (grant[k] and not a.phase2) or refuse_pass[k]
            if p.spec.internal:
                offer = None if scrub_offer is None else \
                    Request(addr=c.base | scrub_offer * LINE_BYTES, op=Op.WRITE.value)
                take = bool(p.fifo)
            else:
                offer, take = offers[k], taken[k]
            transfer = False
            if take:
                if not p.fifo:
                    raise ModelError(f"cycle {self.cycle}: port {p.spec.name}: a response "
                                     f"taken when none was waiting")
                resp = p.fifo.pop(0)
                transfer = True
                if not p.spec.internal:
                    responses[k] = resp
            if pushes[k] is not None:
                p.fifo.append(pushes[k])
            p.count += issue - transfer
            if leave:
                a.valid = False
            elif grant[k] and lock:
                a.wait = True
            if offer is not None and ready:
                p.a = a = self._decode_request(p.spec, offer)
                if p.spec.internal:
                    self.scrub_fifo.pop(0)
                else:
                    accepted[k] = True
            if merges[k] is not None:
                fixed, corr, unc, worst = merges[k]
                nw = p.spec.words
                merged = 0
                for w in range(nw):
                    for b in range(WORD_BYTES):
                        src = a.data if (a.mask >> (8 * w + b)) & 1 else fixed[w] << 64 * w
                        merged |= src & (0xFF << (64 * w + 8 * b))
                touched = sum(1 << w for w in range(nw) if (a.mask >> 8 * w) & 0xFF)
                a.data, a.p2wen = merged, (touched | corr) & ~unc & ((1 << nw) - 1)
                a.p1status, a.phase2, a.wait = worst, True, False
            p.pipe = [new_items[k], p.pipe[0], p.pipe[1]]

        if scrub_line is not None and len(self.scrub_fifo) < c.scrub_depth:
            self.scrub_fifo.append(scrub_line)
        if inject is not None:
            self.armed, self.inj_port, self.inj_flip = True, inject[0], inject[1]
        elif self.armed and stored[self.inj_port]:
            self.armed = False
        for key, value in events.items():
            self.counters[key] = (self.counters[key] + value) & 0xFFFF_FFFF
        if err is not None:
            self.err_addr, self.err_valid = err, True
        self.cycle += 1
        return accepted, responses

    def _line_words(self, port):
        """A's write data as 8 codewords placed in the line (the port's words replicated)."""
        a, n = port.a, port.spec.words
        words = [(a.data >> 64 * w) & _MASK64 for w in range(n)]
        checks = ecc.encode(np.array(words, dtype=np.uint64))
        code = [w | int(ck) << DATA_BITS for w, ck in zip(words, checks, strict=True)]
        return [code[w % n] for w in range(LINE_WORDS)]

    # --- a whole run ---------------------------------------------------------------------------

    def run(self, requests, offer_cycles, taken_cycles, injects=(), *, limit=1_000_000):
        """Simulate a recorded run (see the module docstring).

        ``requests[k]``: the :class:`Request` list of port ``k``; ``offer_cycles[k]``: the cycle
        each was first offered; ``taken_cycles[k]``: the cycles a response of port ``k`` was
        taken (``None``: every response as soon as it is offered); ``injects``: ``(cycle,
        port, flip)`` triples. Returns ``(accept_cycles, responses)``, per port a list of
        cycles and a list of ``(cycle, response dict)``.
        Cycles count from 0 at the model's start.
        """
        nports = len(PORTS)
        sent = [0] * nports
        accept_cycles = [[] for _ in range(nports)]
        responses = [[] for _ in range(nports)]
        always = taken_cycles is None  # every response taken as soon as it is offered
        taken = [set()] * nports if always else [set(t) for t in taken_cycles]
        inject_at = {cyc: (port, flip) for cyc, port, flip in injects}
        last = max([0, *(max(t) for t in taken if t), *inject_at,
                    *(max(o) for o in offer_cycles if len(o))])
        start = self.cycle
        answered = [0] * nports
        while self.cycle - start <= last or any(
                (answered if always else sent)[k] < len(requests[k]) for k in range(nports)):
            t = self.cycle - start
            if t > limit:
                raise ModelError(f"no progress after {limit} cycles")
            offers = [requests[k][sent[k]] if sent[k] < len(requests[k])
                      and offer_cycles[k][sent[k]] <= t else None for k in range(nports)]
            take = [bool(self.ports[k].fifo) if always else t in taken[k]
                    for k in range(nports)]
            acc, resp = self.step(offers, take, inject_at.get(t))
            for k in range(nports):
                if acc[k]:
                    accept_cycles[k].append(t)
                    sent[k] += 1
                if resp[k] is not None:
                    responses[k].append((t, resp[k]))
                    answered[k] += 1
        return accept_cycles, responses

    def settle(self, cycles=16):
        """Run ``cycles`` idle cycles, in which pending scrubs finish; raises
        :class:`ModelError` if something is still pending after them (a longer gap between runs
        is needed for the design and the model to stay in step)."""
        nports = len(PORTS)
        for _ in range(cycles):
            self.step([None] * nports, [False] * nports)
        busy = self.scrub_fifo or any(p.a.valid or p.fifo or any(p.pipe) for p in self.ports)
        if busy:
            raise ModelError(f"still busy after {cycles} idle cycles")


def random_throughput(banks, ports=7, *, cycles=20_000, seed=1):
    """Estimate of the fraction of requests served per port per cycle when every port always
    has a request to a uniformly random bank (a new one once served): ``ports`` requesters, one
    grant per bank per cycle by round robin. The transaction-level estimate the bench compares
    with the RTL's measured figure."""
    rng = np.random.default_rng(seed)
    want = rng.integers(0, banks, ports)
    pointer = [0] * banks
    served = 0
    for _ in range(cycles):
        granted = []
        for b in set(int(x) for x in want):
            reqs = {k for k in range(ports) if want[k] == b}
            winner, pointer[b] = round_robin(reqs, pointer[b], ports)
            granted.append(winner)
        served += len(granted)
        for k in granted:
            want[k] = rng.integers(0, banks)
    return served / (cycles * ports)

