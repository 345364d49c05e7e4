"""One requester of the scratchpad: request decode, read-modify-write, its fixed-latency pipeline,
SECDED check and correction, and its response FIFO.

Contract (the port's side of ``hw/sram/scratchpad.py``)
  * ``req`` is taken into the port's request register A when A is empty or A's request leaves
    in this cycle; ``req.ready`` depends on the arbitration of A's request, never on
    ``req.valid``.
  * A request leaves A when its bank grants it (``link.want`` → ``link.grant``), or, for a
    refused request (misaligned, out of range), as soon as the response has room. It then
    passes three registers P1 → P2 → P3 whatever happens downstream: P1 is the cycle the bank
    does the operation, P2 selects the bank's read data (``link.rbank`` → ``link.rdata``), P3
    checks and corrects it; the response enters the FIFO at the end of P3's cycle and is on
    ``resp`` the next one (5 cycles from a request offered to an idle port to its response).
    Responses therefore come back in request order.
  * Credits: a request is granted only while fewer than ``resp_depth`` of the port's responses
    are in flight or waiting in the FIFO, so the pipeline never stalls and nothing is dropped:
    a port whose responses are not taken is back-pressured at ``req``.
  * A write whose byte mask covers every word it touches entirely (or not at all) is one bank
    operation. Otherwise (or always, for the scrubber) it is a read-modify-write: phase 1 reads
    the words (the bank is then locked to this port), P3 merges the new bytes into the corrected
    words in A, and phase 2 writes every touched word and every corrected word back, except words
    with uncorrectable errors, which keep their contents; phase 2 wins its locked bank at once
    and unlocks it. The response follows phase 2, with phase 1's ECC status.
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from hw.common.memport import Op, Status
from hw.common.params import check_instance
from hw.common.shared import shared

from .check import LineCheck
from .config import (
    LINE_BYTES,
    LINE_CODE_BITS,
    LINE_WORDS,
    WORD_BYTES,
    PortSpec,
    SRAMConfig,
    bank_of,
    request_layout,
    response_layout,
    row_of,
)
from .ecc import CODE_BITS, DATA_BITS, ECCEncoder

__all__ = ["ScratchpadPort", "Kind", "bank_link_signature"]


def bank_link_signature(config):
    """The link from a port to the banks of a scratchpad of ``config``, from the port's side:
    one operation offered to bank ``bank`` (``want``, ``row``, ``write``, ``wen``, ``wdata``,
    ``lock``, ``unlock``), taken in a cycle with ``grant``; the bank ``rbank`` whose read data
    the port needs this cycle, and that data ``rdata`` (two cycles after the granted read)."""
    return wiring.Signature({
        "want": Out(1), "bank": Out(config.bank_bits), "row": Out(config.row_bits),
        "write": Out(1), "wen": Out(LINE_WORDS), "wdata": Out(LINE_CODE_BITS),
        "lock": Out(1), "unlock": Out(1), "grant": In(1),
        "rbank": Out(config.bank_bits), "rdata": In(LINE_CODE_BITS),
    })


class Kind(enum.Enum, shape=2):
    """What an item in the port's pipeline is."""
    READ = 0     # a read: its data goes to the response
    RMW = 1      # phase 1 of a read-modify-write: its data goes back to A
    WRITE = 2    # a write (or phase 2): a response without data
    REFUSED = 3  # a refused request: a response with the error status


class ScratchpadPort(wiring.Component):
    """One port of the scratchpad for ``spec`` (a :class:`~hw.sram.config.PortSpec`) in
    ``config`` (a :class:`~hw.sram.config.SRAMConfig`).

    Members
    -------
    req, resp : streams of :func:`request_layout` and :func:`response_layout`
    link : ``Out(bank_link_signature(config))``
        To the banks. ``want``, ``bank``, ``row``, ``write``, ``wen``, ``wdata``, ``lock``,
        ``unlock``: A's operation for the arbiter: a request for ``bank``; the row; a write (else
        a read) of the codewords ``wen`` of ``wdata`` (encoded, placed in the line); ``lock``:
        phase 1 of a read-modify-write (lock the bank to this port); ``unlock``: phase 2.
        ``grant`` (in): the bank takes A's operation in this cycle. ``rbank``, ``rdata`` (in):
        the bank whose read data P2 needs, and that data.
    ev_corrected, ev_uncorrectable, ev_refused, ev_addr : ``Out``
        Events of P3's cycle for the counters: an access with corrected words, with
        uncorrectable words (``ev_addr``: the byte address of the first such word), a refused
        request.
    scrub, scrub_line : ``Out``
        A read in P3 corrected a word of line ``scrub_line``.
    """

    def __init__(self, *, config, spec):
        check_instance("config", config, SRAMConfig)
        check_instance("spec", spec, PortSpec)
        if spec.width not in (WORD_BYTES, 4 * WORD_BYTES, LINE_BYTES):
            raise ValueError(f"port width must be 8, 32 or 64 bytes, not {spec.width!r}")
        self.config, self.spec = config, spec
        c = config
        super().__init__({
            "req": In(stream.Signature(request_layout(spec, c))),
            "resp": Out(stream.Signature(response_layout(spec, c))),
            "link": Out(bank_link_signature(c)),
            "ev_corrected": Out(1), "ev_uncorrectable": Out(1), "ev_refused": Out(1),
            "ev_addr": Out(c.addr_bits), "scrub": Out(1), "scrub_line": Out(c.line_bits),
        })

    def elaborate(self, platform):
        m = Module()
        c, spec = self.config, self.spec
        n = spec.words
        link = self.link
        item = data.StructLayout({
            "valid": 1, "kind": Kind, "bank": c.bank_bits, "line": c.line_bits, "woff": 3,
            "tag": c.tag_width, "status": Status})

        # --- A: the request register ---------------------------------------------------------
        a = Signal(data.StructLayout({
            "valid": 1, "line": c.line_bits, "woff": 3, "write": 1, "rmw": 1, "phase2": 1,
            "wait": 1, "status": Status, "p1status": Status, "p2wen": n, "tag": c.tag_width,
            "data": n * DATA_BITS, "mask": n * WORD_BYTES}))
        count = Signal(range(c.resp_depth + 1))
        credit = Signal()
        refused = Signal()
        refuse_pass, issue, leave = Signal(), Signal(), Signal()
        m.d.comb += [
            credit.eq(count < c.resp_depth),
            refused.eq(a.status != Status.OK),
            link.want.eq(a.valid & ~refused & ~a.wait & (a.phase2 | credit)),
            refuse_pass.eq(a.valid & refused & credit),
            link.bank.eq(bank_of(a.line, c)),
            link.row.eq(row_of(a.line, c)),
            link.lock.eq(a.rmw & ~a.phase2),
            link.unlock.eq(a.phase2),
            link.write.eq(a.write & ~link.lock),
            issue.eq((link.grant & ~a.phase2) | refuse_pass),
            leave.eq((link.grant & ~link.lock) | refuse_pass),
            self.req.ready.eq(~a.valid | leave),
        ]
        words = [a.data[w * DATA_BITS:(w + 1) * DATA_BITS] for w in range(n)]
        masks = [a.mask[w * WORD_BYTES:(w + 1) * WORD_BYTES] for w in range(n)]
        codewords = []
        for w in range(n):
            m.submodules[f"encoder{w}"] = encoder = ECCEncoder()
            m.d.comb += encoder.data.eq(words[w])
            codewords.append(Cat(words[w], encoder.check))
        wen_n = Signal(n)
        m.d.comb += [
            wen_n.eq(Cat(mk.all() for mk in masks)),
            link.wdata.eq(Cat(*codewords).replicate(LINE_WORDS // n)),
        ]
        with m.If(a.phase2):
            m.d.comb += link.wen.eq((a.p2wen << a.woff)[:LINE_WORDS])
        with m.Else():
            m.d.comb += link.wen.eq((wen_n << a.woff)[:LINE_WORDS])

        # Taking a request: decode the address once, into A.
        p = self.req.payload
        addr = p.addr
        with m.If(leave):
            m.d.sync += a.valid.eq(0)
        with m.Elif(link.grant & link.lock):
            m.d.sync += a.wait.eq(1)
        with m.If(self.req.valid & self.req.ready):
            is_write = (p.op == Op.WRITE) if (spec.reads and spec.writes) else int(spec.writes)
            partial = Cat((mk.any() & ~mk.all())
                          for mk in (p.mask[w * 8:(w + 1) * 8] for w in range(n))).any() \
                if spec.writes else 0
            m.d.sync += [
                a.valid.eq(1),
                a.line.eq(addr[6:c.window_bits]),
                a.woff.eq((addr >> 3) & (LINE_WORDS - 1)),
                a.write.eq(is_write),
                a.rmw.eq(int(spec.internal) | (is_write & partial)),
                a.phase2.eq(0),
                a.wait.eq(0),
                a.p1status.eq(Status.OK),
                a.tag.eq(p.tag),
            ]
            if spec.writes:
                m.d.sync += [a.data.eq(p.data), a.mask.eq(p.mask)]
            with m.If(~c.contains(addr)):
                m.d.sync += a.status.eq(Status.OUT_OF_RANGE)
            with m.Elif(addr & (spec.width - 1)):
                m.d.sync += a.status.eq(Status.MISALIGNED)
            with m.Else():
                m.d.sync += a.status.eq(Status.OK)

        # --- P1, P2, P3 ----------------------------------------------------------------------
        p1, p2, p3 = (Signal(item, name=f"p{k}") for k in (1, 2, 3))
        with m.If(refuse_pass):
            m.d.sync += [p1.kind.eq(Kind.REFUSED), p1.status.eq(a.status)]
        with m.Elif(link.lock):
            m.d.sync += [p1.kind.eq(Kind.RMW), p1.status.eq(Status.OK)]
        with m.Elif(a.write):
            m.d.sync += [p1.kind.eq(Kind.WRITE), p1.status.eq(a.p1status)]
        with m.Else():
            m.d.sync += [p1.kind.eq(Kind.READ), p1.status.eq(Status.OK)]
        m.submodules.check = check = shared(LineCheck, words=n)
        chunks = Array(link.rdata[k * n * CODE_BITS:(k + 1) * n * CODE_BITS]
                       for k in range(LINE_WORDS // n))
        m.d.comb += link.rbank.eq(p2.bank)
        m.d.sync += [
            p1.valid.eq(link.grant | refuse_pass), p1.bank.eq(link.bank), p1.line.eq(a.line),
            p1.woff.eq(a.woff), p1.tag.eq(a.tag),
            p2.eq(p1), p3.eq(p2),
        ]
        m.d.comb += check.code.eq(chunks[p2.woff // n])  # registered in the check stage

        # --- P3: check and correct; respond, or merge into A ------------------------------------
        corr, unc = check.corr, check.unc
        corrected = [check.data[w * DATA_BITS:(w + 1) * DATA_BITS] for w in range(n)]
        worst = Signal(Status)
        with m.If(unc.any()):
            m.d.comb += worst.eq(Status.UNCORRECTABLE)
        with m.Elif(corr.any()):
            m.d.comb += worst.eq(Status.CORRECTED)
        first_unc = Signal(3)
        for w in reversed(range(n)):
            with m.If(unc[w]):
                m.d.comb += first_unc.eq(w)
        checked = p3.valid & ((p3.kind == Kind.READ) | (p3.kind == Kind.RMW))
        m.d.comb += [
            self.ev_corrected.eq(checked & corr.any()),
            self.ev_uncorrectable.eq(checked & unc.any()),
            self.ev_refused.eq(p3.valid & (p3.kind == Kind.REFUSED)),
            self.ev_addr.eq(c.base | (p3.line << 6) | ((p3.woff + first_unc) << 3)),
            self.scrub.eq(p3.valid & (p3.kind == Kind.READ) & corr.any()),
            self.scrub_line.eq(p3.line),
        ]
        with m.If(p3.valid & (p3.kind == Kind.RMW)):
            # Byte b of word w: the new byte where the mask has it, else the corrected old one.
            merged = Cat(Mux(masks[w][b], words[w][b * 8:(b + 1) * 8],
                             corrected[w][b * 8:(b + 1) * 8])
                         for w in range(n) for b in range(WORD_BYTES))
            m.d.sync += [
                a.data.eq(merged),
                a.p2wen.eq((Cat(mk.any() for mk in masks) | corr) & ~unc),
                a.p1status.eq(worst),
                a.phase2.eq(1),
                a.wait.eq(0),
            ]

        # --- responses -----------------------------------------------------------------------
        layout = response_layout(spec, c)
        m.submodules.fifo = fifo = SyncFIFO(width=layout.size, depth=c.resp_depth)
        response = Signal(layout)
        m.d.comb += [
            response.tag.eq(p3.tag),
            fifo.w_en.eq(p3.valid & (p3.kind != Kind.RMW)),
            fifo.w_data.eq(response.as_value()),
            self.resp.payload.eq(fifo.r_data),
            self.resp.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(self.resp.ready),
        ]
        with m.If(p3.kind == Kind.READ):
            m.d.comb += response.status.eq(worst)
            if spec.reads:
                m.d.comb += response.data.eq(check.data)
        with m.Else():
            m.d.comb += response.status.eq(p3.status)
        m.d.sync += count.eq(count + issue - (self.resp.valid & self.resp.ready))
        return m
