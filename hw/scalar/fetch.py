"""The scalar core's instruction fetch: a line buffer per thread and the line requests."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.arith import prefix_add

from .isa import LINE_BYTES, THREAD_BITS, XLEN, fetch_request_layout, fetch_response_layout
from .stages import access_fault, per_thread, thread_bit, thread_index

__all__ = ["Fetch", "LINE_BITS"]

#: Byte-offset bits of a fetch line.
LINE_BITS = (LINE_BYTES - 1).bit_length()


class Fetch(wiring.Component):
    """One 32-byte line buffer per thread, the word of the thread issue picks, and the line
    requests of the core's fetch port.

    Parameters (keyword-only)
    -------------------------
    threads : int, 1..4
        Hardware threads.
    addr_bits, tag_width : int
        Of the fetch port's payloads (``hw.scalar.isa.fetch_request_layout``).
    (The caller has checked the values.)

    Members
    -------
    req : ``Out(stream.Signature(fetch_request_layout(...), always_ready=True))``
        Line requests (``tag`` = thread), to the core's fetch queue (which always has room).
    resp : ``In(stream.Signature(fetch_response_layout(...)))``
        Their responses, in request order; always taken. A status other than ``OK`` and
        ``CORRECTED`` makes the line's instructions fetch faults.
    pc : ``In(data.ArrayLayout(XLEN, threads))``
        Every thread's pc.
    pick, any_pick : ``In(THREAD_BITS)``, ``In(1)``
        The thread issue picks this cycle, if any.
    hit, insn, fault, pick_pc : ``Out(1)``, ``Out(32)``, ``Out(1)``, ``Out(XLEN)``
        Whether the picked thread's line buffer holds its pc's line, the word at its pc, whether
        that line's fetch faulted, and its pc.
    request : ``Out(1)``
        The picked thread's line is requested this cycle (a miss, or a prefetch of the next line
        as the line's last word issues).
    fetching, wanted : ``Out(threads)``
        Threads with a line request outstanding; threads whose line was asked for (``ask_*``)
        and not yet requested. Neither may issue.
    tags : ``Out(data.ArrayLayout(XLEN - LINE_BITS, threads))``
        The line each buffer holds or is fetching.
    ask_id, ask_id_thread, ask_id_line, ask_ex, ask_ex_thread, ask_ex_line : ``In``
        Decode and execute ask for a thread's line (a jump or branch to another line).
    fence_i : ``In(1)``
        Empty every line buffer.

    Contract
    --------
    A request asked for by decode or execute goes out first, once the thread's previous fetch
    is answered; a prefetch still outstanding is dropped when it arrives. All of these are
    combinational from the inputs and the buffers' registers, in the cycle of the pick.
    """

    def __init__(self, *, threads, addr_bits, tag_width):
        self._threads = threads
        tag = XLEN - LINE_BITS
        request = fetch_request_layout(addr_bits=addr_bits, tag_width=tag_width)
        response = fetch_response_layout(tag_width=tag_width)
        super().__init__({
            "req": Out(stream.Signature(request, always_ready=True)),
            "resp": In(stream.Signature(response)),
            "pc": In(data.ArrayLayout(XLEN, threads)),
            "pick": In(THREAD_BITS), "any_pick": In(1),
            "hit": Out(1), "insn": Out(32), "fault": Out(1), "pick_pc": Out(XLEN),
            "request": Out(1), "fetching": Out(threads), "wanted": Out(threads),
            "tags": Out(data.ArrayLayout(tag, threads)),
            "ask_id": In(1), "ask_id_thread": In(THREAD_BITS), "ask_id_line": In(tag),
            "ask_ex": In(1), "ask_ex_thread": In(THREAD_BITS), "ask_ex_line": In(tag),
            "fence_i": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        n = self._threads

        def ix(thread):
            return thread_index(thread, n)

        def bit(valid, thread):
            return thread_bit(valid, thread, n)

        pc = Array(self.pc[i] for i in range(n))
        line_tag = per_thread("line_tag", XLEN - LINE_BITS, n)
        line_valid = Signal(n)
        line_fault = Signal(n)
        line_data = per_thread("line_data", 8 * LINE_BYTES, n)
        fetching = Signal(n)   # a line fetch outstanding
        wanted = Signal(n)     # a line asked for by decode or execute, not yet sent
        m.d.comb += [self.fetching.eq(fetching), self.wanted.eq(wanted)]
        m.d.comb += [self.tags[i].eq(line_tag[i]) for i in range(n)]

        pick = self.pick
        t_is = ix(pick)
        pc_is = pc[t_is]
        # Every thread's line hit, computed beside the pick rather than after it.
        hits = Signal(n)
        for i in range(n):
            m.d.comb += hits[i].eq(line_valid[i] & (line_tag[i] == pc[i][LINE_BITS:]))
        hit = hits.bit_select(t_is, 1)
        m.d.comb += [self.hit.eq(hit), self.pick_pc.eq(pc_is),
                     self.insn.eq(line_data[t_is].word_select(pc_is[2:LINE_BITS], 32)),
                     self.fault.eq(line_fault.bit_select(t_is, 1))]
        # A miss fetches the pc's line; issuing the last word of a line prefetches the next
        # (the thread's one line buffer is free once that word has issued).
        last_word = pc_is[2:LINE_BITS] == (1 << (LINE_BITS - 2)) - 1
        # Every thread's next line, computed beside the pick rather than after it.
        next_lines = Array(prefix_add(m, pc[i][LINE_BITS:], 1, width=XLEN - LINE_BITS,
                                      name=f"next_line{i}")[0] for i in range(n))
        fetch_line = Mux(hit, next_lines[t_is], pc_is[LINE_BITS:])
        # A line asked for by decode or execute (its tag already set) goes first, once
        # the thread's previous fetch (a prefetch, dropped) is answered.
        sendable = wanted & ~fetching
        want = Signal(THREAD_BITS)
        for i in reversed(range(n)):
            with m.If(sendable[i]):
                m.d.comb += want.eq(i)
        any_want = sendable != 0
        # (The queue always has room: a thread has one fetch outstanding at most.)
        request = self.any_pick & (~hit | last_word) & ~any_want
        m.d.comb += [self.request.eq(request),
                     self.req.payload.addr.eq(Cat(Const(0, LINE_BITS),
                                                  Mux(any_want, line_tag[ix(want)], fetch_line))),
                     self.req.payload.tag.eq(Mux(any_want, want, pick)),
                     self.req.valid.eq(request | any_want)]
        set_fetching = Signal(n)
        with m.If(request):
            m.d.comb += set_fetching.eq(1 << t_is)
        with m.If(any_want):
            m.d.comb += set_fetching.eq(1 << ix(want))

        # Fetching bits: set by a request, cleared by its response; wanted bits: set by a line
        # asked for in decode or execute, cleared when its request goes out.
        fetch_done = Signal(n)
        m.d.comb += self.resp.ready.eq(1)
        fr = self.resp.payload
        with m.If(self.resp.valid):
            m.d.comb += fetch_done.eq(1 << ix(fr.tag))
            m.d.sync += line_data[ix(fr.tag)].eq(fr.data)
        m.d.sync += [fetching.eq((fetching | set_fetching) & ~fetch_done),
                     wanted.eq((wanted & ~bit(any_want, want))
                               | bit(self.ask_ex, self.ask_ex_thread)
                               | bit(self.ask_id, self.ask_id_thread))]
        refill = (bit(request, pick) | bit(self.ask_ex, self.ask_ex_thread)
                  | bit(self.ask_id, self.ask_id_thread))
        m.d.sync += line_valid.eq((line_valid | (fetch_done & ~wanted)) & ~refill)
        with m.If(self.resp.valid):
            m.d.sync += line_fault.eq((line_fault & ~fetch_done)
                                      | Mux(access_fault(fr.status), fetch_done, 0))
        with m.If(self.fence_i):
            m.d.sync += line_valid.eq(0)
        # Line tags written by decode's ask, the pick's request and execute's ask, the latest
        # arriving last (they are never the same thread's: a thread whose branch execute
        # releases is not picked; one whose branch is mispredicted goes back into the same
        # line, asking none).
        with m.If(self.ask_id):
            m.d.sync += line_tag[ix(self.ask_id_thread)].eq(self.ask_id_line)
        with m.If(request):
            m.d.sync += line_tag[t_is].eq(fetch_line)
        with m.If(self.ask_ex):
            m.d.sync += line_tag[ix(self.ask_ex_thread)].eq(self.ask_ex_line)
        return m
