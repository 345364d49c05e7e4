"""The SRAM scratchpad of one core: seven request/response ports onto single-port SECDED banks.

Contract
  * Ports (``hw/sram/config.py``: :data:`~hw.sram.config.PORTS`): ``<name>_req`` in,
    ``<name>_resp`` out, streams of :func:`~hw.sram.config.request_layout` and
    :func:`~hw.sram.config.response_layout`. Every port takes one request per cycle and
    answers each, in order, with its tag; an idle port answers 5 cycles after the request is
    offered. All ports are served in the same cycle when they want different banks.
  * Arbitration: every cycle, each bank takes one operation from the requesters (the 7 ports and
    the scrubber) whose request register holds a request for it, by round robin
    (:mod:`hw.common.arbiter`); the others keep their request and are back-pressured. A bank locked
    by a read-modify-write takes only its owner's phase 2.
  * Ordering: operations on a bank happen one per cycle in grant order, so two requests to one
    address in the same cycle are ordered by the arbiter: a read granted after a write (same
    cycle or later) returns the written data; a read granted before it returns the old data.
  * ECC: every 8-byte word is stored as a (72, 64) Hsiao codeword. Reads are corrected; a read
    that corrected a word queues its line for the scrubber, which re-reads it and writes the
    corrected words back (read-modify-write) when its bank is granted to it; a full scrub queue
    drops the line (the next read corrects it again and retries). Uncorrectable words are
    returned as stored with status ``UNCORRECTABLE``; the status interface counts accesses and
    keeps the address of the latest uncorrectable word.
  * Error injection (``inject``, always ready): the next write of port ``port`` that stores at
    least one codeword XORs ``flip`` into every codeword it stores, then the register disarms; a
    new ``inject`` replaces an armed one.
  * Bad requests (misaligned for the port's width, out of range) get ``MISALIGNED`` /
    ``OUT_OF_RANGE`` in order with the others and change nothing.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from hw.common.arith import prefix_add
from hw.common.params import check_instance
from hw.common.shared import shared

from .config import (
    LINE_BYTES,
    LINE_CODE_BITS,
    LINE_WORDS,
    PORTS,
    SCRUB,
    InjectLayout,
    SRAMConfig,
    request_layout,
    response_layout,
    status_layout,
)
from .port import ScratchpadPort
from .slice import BankSlice, LineMux

__all__ = ["Scratchpad", "slice_params", "linemux_params"]

#: The requesters of every bank: the ports, then the scrubber.
_REQUESTERS = (*PORTS, SCRUB)


def slice_params(config):
    """The parameters of each bank's :class:`~hw.sram.slice.BankSlice` in a scratchpad of
    ``config``."""
    return {"n": len(_REQUESTERS), "rows": config.rows,
            "writers": tuple(k for k, spec in enumerate(_REQUESTERS) if spec.writes)}


def linemux_params(config):
    """The parameters of each port's :class:`~hw.sram.slice.LineMux` (``config.banks`` > 1)."""
    return {"banks": config.banks}


class Scratchpad(wiring.Component):
    """The scratchpad for ``config`` (an :class:`~hw.sram.config.SRAMConfig`).

    Members
    -------
    <port>_req, <port>_resp : streams, for each port of :data:`~hw.sram.config.PORTS`
    inject : ``In(stream.Signature(InjectLayout))``
        Arms the error-injection register (see the module docstring).
    status : ``Out(status_layout(config))``
        Counters and the latest uncorrectable address.
    """

    def __init__(self, *, config):
        check_instance("config", config, SRAMConfig)
        self.config = config
        members = {}
        for spec in PORTS:
            members[f"{spec.name}_req"] = In(stream.Signature(request_layout(spec, config)))
            members[f"{spec.name}_resp"] = Out(stream.Signature(response_layout(spec, config)))
        members["inject"] = In(stream.Signature(InjectLayout))
        members["status"] = Out(status_layout(config))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        c = self.config
        specs = _REQUESTERS
        ports = []
        for spec in specs:
            port = ScratchpadPort(config=c, spec=spec)
            m.submodules[f"port_{spec.name}"] = port
            ports.append(port)
            if not spec.internal:
                wiring.connect(m, wiring.flipped(getattr(self, f"{spec.name}_req")), port.req)
                wiring.connect(m, port.resp, wiring.flipped(getattr(self, f"{spec.name}_resp")))
        scrubber = ports[-1]

        # The injection register.
        armed = Signal()
        inj = Signal(InjectLayout)
        m.d.comb += self.inject.ready.eq(1)

        # Each writing requester's line, with the injection flip applied when it is the target.
        writers = slice_params(c)["writers"]
        wdata_of = {}
        for k in writers:
            hit = Signal(name=f"inject_hit_{specs[k].name}")
            wdata_of[k] = Signal(LINE_CODE_BITS, name=f"wdata_{specs[k].name}")
            m.d.comb += [hit.eq(armed & (inj.port == k)),
                         wdata_of[k].eq(ports[k].link.wdata
                                        ^ Mux(hit, inj.flip.replicate(LINE_WORDS), 0))]
        # Per bank: a slice (arbiter, lock, command mux, memory).
        # The crossbar between the ports' links and the slices' requesters: a port's operation
        # goes to the slice of its bank, the grant comes back from there.
        slices = []
        for b in range(c.banks):
            sl = m.submodules[f"slice{b}"] = shared(BankSlice, **slice_params(c))
            slices.append(sl)
            for k, port in enumerate(ports):
                link, req = port.link, sl.requesters[k]
                m.d.comb += [req.want.eq(link.want & (link.bank == b)), req.row.eq(link.row),
                             req.write.eq(link.write), req.lock.eq(link.lock),
                             req.unlock.eq(link.unlock)]
                if k in writers:  # a non-writer's wen and wdata are ignored by the slice
                    m.d.comb += [req.wen.eq(link.wen), req.wdata.eq(wdata_of[k])]

        # Per port: the read data of the bank its request went to.
        for k, port in enumerate(ports):
            m.d.comb += port.link.grant.eq(Cat(sl.requesters[k].grant for sl in slices).any())
            if c.banks == 1:
                m.d.comb += port.link.rdata.eq(slices[0].rdata)
                continue
            mux = m.submodules[f"rmux_{specs[k].name}"] = shared(LineMux, **linemux_params(c))
            m.d.comb += [mux.sel.eq(port.link.rbank), port.link.rdata.eq(mux.line)]
            m.d.comb += [mux.lines[b].eq(sl.rdata) for b, sl in enumerate(slices)]

        # Injection: consumed by the armed port's next write that stores a codeword.
        stored = Cat(port.link.grant & port.link.write & port.link.wen.any() for port in ports)
        with m.If(self.inject.valid):
            m.d.sync += [armed.eq(1), inj.eq(self.inject.payload)]
        with m.Elif(armed & stored.bit_select(inj.port, 1)):
            m.d.sync += armed.eq(0)

        # Scrub queue: the lowest-numbered port whose read corrected a word this cycle.
        m.submodules.scrub_fifo = fifo = SyncFIFO(width=c.line_bits, depth=c.scrub_depth)
        external = ports[:-1]
        for port in reversed(external):
            with m.If(port.scrub):
                m.d.comb += fifo.w_data.eq(port.scrub_line)
        m.d.comb += [
            fifo.w_en.eq(Cat(port.scrub for port in external).any()),
            scrubber.req.valid.eq(fifo.r_rdy),
            scrubber.req.payload.addr.eq(c.base | (fifo.r_data * LINE_BYTES)),
            fifo.r_en.eq(scrubber.req.ready),
            scrubber.resp.ready.eq(1),
        ]

        # Status: the events of the ports' check stages are registered first (the check stage
        # ends with the decoders; the counters' adders get a cycle of their own).
        st = self.status
        corrected, uncorrectable, refused = Signal(len(external)), Signal(len(external)), \
            Signal(len(external))
        err_valid, err_addr = Signal(), Signal(c.addr_bits)
        m.d.sync += [
            corrected.eq(Cat(p.ev_corrected for p in external)),
            uncorrectable.eq(Cat(p.ev_uncorrectable for p in external)),
            refused.eq(Cat(p.ev_refused for p in external)),
            err_valid.eq(Cat(p.ev_uncorrectable for p in external).any()),
        ]
        # 32-bit counters: a carry-tree adder each (a ripple-carry one is 51 gate levels).
        for field, events in (("corrected", corrected), ("uncorrectable", uncorrectable),
                              ("refused", refused)):
            counter = getattr(st, field)
            total, _ = prefix_add(m, counter, _count(events), width=len(counter),
                                  name=f"count_{field}")
            m.d.sync += counter.eq(total)
        for port in reversed(external):
            with m.If(port.ev_uncorrectable):
                m.d.sync += err_addr.eq(port.ev_addr)
        with m.If(err_valid):
            m.d.sync += [st.err_addr.eq(err_addr), st.err_valid.eq(1)]
        return m


def _count(bits):
    """Number of set bits among ``bits``."""
    total = 0
    for bit in bits:
        total = total + bit
    return total

