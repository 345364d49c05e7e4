"""The scalar core: RV64IM + Zicsr + FENCE/FENCE.I, machine mode, one to four barrel threads.

Contract (docs/scalar.md has the whole story)
---------------------------------------------
The architectural behaviour is ``verif.scalar.iss``'s, instruction for instruction: the same
registers, CSRs, traps (cause, ``mepc``, ``mtval``), thread start and stop through
``mthreadctl``/``mthreadpc``, coprocessor semantics. Two things differ by design and are
documented there: ``mcycle``/``cycle`` count clock cycles, and a thread's instruction fetch sees a
store only after a ``fence.i`` (any thread's; it empties every thread's line buffer).

Parts (one component each, wired here): :class:`~hw.scalar.fetch.Fetch` (line buffers),
:class:`~hw.scalar.issue.Issue`, :class:`~hw.scalar.decode.Decode` (with the register file),
:class:`~hw.scalar.execute.Execute`, :class:`~hw.scalar.writeback.WriteBack` (thread state and
control), :class:`~hw.scalar.csr.CsrFile`, :class:`~hw.scalar.completion.Completion`, the
:class:`~hw.scalar.muldiv.MulUnit`, a :class:`~hw.scalar.muldiv.DivUnit` per thread, and a
:class:`~hw.scalar.queue.RequestQueue` on each request port.

Pipeline. Four stages (issue, register read and decode, execute, write-back); issue picks the
next ready thread in round-robin order, one instruction a cycle. A thread issues again once its
previous instruction has released it: at decode for ALU instructions, FENCE, JAL and backward
branches within their line (predicted taken; execute corrects a misprediction and kills the
wrong-path word if it is being issued), in execute for other branches and JALR, at write-back
for CSR instructions, ``mret`` and traps, and when the result arrives for loads, stores,
multiplications, divisions and coprocessor instructions, whose requests leave from execute. So
an ALU instruction's thread issues again two cycles later (its result reaches the next
instruction through a bypass from write-back and transparent register-file reads), every
thread's instructions retire in order, and two threads can fill every issue slot. Results that
arrive later retire on a second lane beside write-back (a second register-file write port and
``retire_late``).

Ports (``amaranth.lib.stream``, payloads in ``hw.scalar.isa``): ``fetch_req``/``fetch_resp``
(32-byte lines) and ``data_req``/``data_resp`` (8-byte words with a byte mask) with the
memory-port contract of ``hw.common.memport`` (the scratchpad's ``fetch`` and ``scalar``
ports': ``tag`` carries the thread, ``op`` reads or writes), ``cop_req``/``cop_resp``
(custom-0..3). Responses must come in request order on each port; a response whose ``status``
is neither ``OK`` nor ``CORRECTED`` is an access fault. ``fetch_resp.ready`` is always 1;
data, coprocessor and the units' own results are taken one a cycle, in that priority. Every
request stream has a FIFO with one entry per thread (a request that finds it empty goes straight
out), so no request is ever refused for lack of space. Instruction fetch keeps one 32-byte line
per thread; issuing a line's last word prefetches the next line; a jump or branch to another
line asks for that line from decode or execute.

``retire`` and ``retire_late`` (valid + :data:`~hw.scalar.isa.RetireRecord`, not streams: they
cannot be held up) report every instruction that retires or traps, one cycle after write-back
or completion; in a cycle with both, ``retire_late``'s instruction is the older.
``running`` is the mask of running threads; ``activity`` says, per thread, what it did this
cycle (for the D1 core's performance counters). Without ``boot``, ``go`` starts thread 0 and
``halt`` holds threads from issuing (the D1 core's host port).
"""

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from hw.common.params import TAG_WIDTH_MAX, check_bool, check_int
from hw.common.shared import shared

from .completion import Completion
from .csr import CsrFile
from .decode import Decode
from .execute import Execute
from .fetch import Fetch
from .isa import (
    MAX_THREADS,
    RAM_BASE,
    THREAD_BITS,
    XLEN,
    CoprocRequest,
    CoprocResponse,
    data_request_layout,
    data_response_layout,
    fetch_request_layout,
    fetch_response_layout,
)
from .issue import Issue
from .muldiv import DivUnit, MulUnit
from .queue import RequestQueue
from .writeback import RetirePort, WriteBack

__all__ = ["ScalarCore", "ThreadActivity"]

#: What each thread did this cycle (a bit per thread in each field): it ``issued``; it has an
#: instruction in flight (``busy``: a load, a store, a multiplication, a division, a coprocessor
#: instruction, or an instruction not yet past the stage that releases it); it waits for its
#: line (``fetch``: a line request outstanding or asked for); it is ``held`` (by a
#: thread-control write that waits for it, or by ``halt``).
ThreadActivity = data.StructLayout({name: MAX_THREADS
                                    for name in ("issued", "busy", "fetch", "held")})


class ScalarCore(wiring.Component):
    """The scalar core (see the module docstring).

    Parameters (keyword-only)
    -------------------------
    threads : int, 1..4
        Hardware threads. Thread 0 starts at ``reset_pc``; the others wait for ``mthreadctl``.
    reset_pc : int
        Thread 0's first pc, 4-byte aligned, below 2**64 (default 0x8000_0000).
    addr_bits : int, 8..64
        Width of the fetch and data ports' addresses (default 64). The ports carry the low
        ``addr_bits`` bits of the address: the memory behind them must lie below
        ``2**addr_bits`` and programs must not use addresses above it (they would alias).
    tag_width : int, 2..16
        Width of the fetch and data ports' tags (default 2), which carry the thread.
    boot : bool
        Thread 0 runs from reset (default True). With False it waits for ``go``, and until then
        no thread runs and the core sends no request (the D1 core holds it so while its
        scratchpad is loaded).

    Members
    -------
    fetch_req, fetch_resp : ``Out/In(stream.Signature(fetch_request/response_layout(...)))``
        Instruction fetch, 32-byte lines: the memory-port contract (``hw.common.memport``) of a
        read-only 32-byte port, the scratchpad's ``fetch`` port for the same ``addr_bits`` and
        ``tag_width``.
    data_req, data_resp : ``Out/In(stream.Signature(data_request/response_layout(...)))``
        Loads and stores, 8-byte words with a byte mask: the contract of a read/write 8-byte
        port, the scratchpad's ``scalar`` port.
    cop_req, cop_resp : ``Out/In(stream.Signature(CoprocRequest/CoprocResponse))``
        Custom-0..3 instructions.
    retire, retire_late : ``Out(RetirePort)``
        The retire trace.
    running : ``Out(MAX_THREADS)``
        The running threads.
    activity : ``Out(ThreadActivity)``
        What each thread did this cycle.
    go : ``In(1)``, only with ``boot=False``
        Thread 0 starts in the first cycle it is high after reset.
    halt : ``In(MAX_THREADS)``, only with ``boot=False``
        The threads whose bit is 1 issue nothing (their instructions in flight complete); they
        go on where they were when it falls. Registers, pcs and every other state are kept.

    Contract
    --------
    See the module docstring.
    """

    def __init__(self, *, threads=MAX_THREADS, reset_pc=RAM_BASE, addr_bits=XLEN,
                 tag_width=THREAD_BITS, boot=True):
        self.threads = check_int("threads", threads, 1, MAX_THREADS)
        reset_pc = check_int("reset_pc", reset_pc, 0, (1 << XLEN) - 1)
        if reset_pc & 3:
            raise ValueError(f"reset_pc must be 4-byte aligned, not {reset_pc:#x}")
        self.reset_pc = reset_pc
        self.addr_bits = check_int("addr_bits", addr_bits, 8, XLEN)
        self.tag_width = check_int("tag_width", tag_width, THREAD_BITS, TAG_WIDTH_MAX)
        self.boot = check_bool("boot", boot)
        memory = {"addr_bits": addr_bits, "tag_width": tag_width}
        super().__init__({
            **({} if self.boot else {"go": In(1), "halt": In(MAX_THREADS)}),
            "fetch_req": Out(stream.Signature(fetch_request_layout(**memory))),
            "fetch_resp": In(stream.Signature(fetch_response_layout(tag_width=tag_width))),
            "data_req": Out(stream.Signature(data_request_layout(**memory))),
            "data_resp": In(stream.Signature(data_response_layout(tag_width=tag_width))),
            "cop_req": Out(stream.Signature(CoprocRequest)),
            "cop_resp": In(stream.Signature(CoprocResponse)),
            "retire": Out(RetirePort),
            "retire_late": Out(RetirePort),
            "running": Out(MAX_THREADS),
            "activity": Out(ThreadActivity),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.threads
        memory = {"addr_bits": self.addr_bits, "tag_width": self.tag_width}
        m.submodules.fetch = fetch = Fetch(threads=n, **memory)
        m.submodules.issue = issue = Issue(threads=n)
        m.submodules.decode = decode = Decode(threads=n)
        m.submodules.execute = execute = Execute(threads=n, **memory)
        m.submodules.csr = csr = CsrFile(threads=n)
        m.submodules.completion = completion = Completion(threads=n, tag_width=self.tag_width)
        m.submodules.writeback = wb = WriteBack(threads=n, reset_pc=self.reset_pc,
                                                boot=self.boot)
        if not self.boot:
            m.d.comb += wb.go.eq(self.go)
        m.submodules.mul = mul = MulUnit()
        # One divider per thread, so the threads divide at the same time. A thread sends a
        # division only when it has nothing else in flight, so its divider has delivered the
        # previous quotient and is idle: the request needs no queue.
        divs = []
        for i in range(n):
            m.submodules[f"div{i}"] = div = shared(DivUnit)
            divs.append(div)
        # Every request port has a queue with a place for each thread (a thread has one
        # request out at most), so no request is ever refused.
        queues = {}
        for name, source, port in (("fetch_q", fetch.req, self.fetch_req),
                                   ("data_q", execute.data, self.data_req),
                                   ("cop_q", execute.cop, self.cop_req)):
            queue = RequestQueue(layout=source.payload.shape())
            m.submodules[name] = queues[name] = queue
            connect(m, source, queue.i)
            connect(m, queue.o, flipped(port))

        # Ports and units.
        connect(m, flipped(self.fetch_resp), fetch.resp)
        connect(m, flipped(self.data_resp), completion.data_resp)
        connect(m, flipped(self.cop_resp), completion.cop_resp)
        connect(m, execute.mul, mul.i)
        connect(m, mul.o, completion.mul)
        for i, div in enumerate(divs):
            connect(m, execute.div[i], div.i)
            connect(m, div.o, completion.div[i])
        connect(m, wb.retire, flipped(self.retire))
        connect(m, wb.retire_late, flipped(self.retire_late))

        held = wb.hold | (0 if self.boot else self.halt[:n])
        m.d.comb += [
            self.running.eq(wb.running),
            self.activity.issued.eq(issue.issued), self.activity.busy.eq(issue.busy),
            self.activity.fetch.eq(fetch.fetching | fetch.wanted), self.activity.held.eq(held),
            # Fetch.
            fetch.pc.eq(wb.pc), fetch.pick.eq(issue.pick), fetch.any_pick.eq(issue.any_pick),
            fetch.ask_id.eq(decode.ask), fetch.ask_id_thread.eq(issue.id.thread),
            fetch.ask_id_line.eq(decode.ask_line),
            fetch.ask_ex.eq(execute.ask), fetch.ask_ex_thread.eq(decode.ex.thread),
            fetch.ask_ex_line.eq(execute.ask_line),
            fetch.fence_i.eq(wb.fence_i),
            # Issue.
            issue.running.eq(wb.running), issue.hold.eq(held),
            issue.fetching.eq(fetch.fetching), issue.wanted.eq(fetch.wanted),
            issue.hit.eq(fetch.hit), issue.request.eq(fetch.request),
            issue.insn.eq(fetch.insn), issue.pc.eq(fetch.pick_pc), issue.fault.eq(fetch.fault),
            issue.kill.eq(execute.kill), issue.release_id.eq(decode.release),
            issue.release_ex.eq(execute.release), issue.ex_thread.eq(decode.ex.thread),
            issue.release_wb.eq(wb.release), issue.release_done.eq(completion.release),
            # Decode.
            decode.id.eq(issue.id), decode.read_insn.eq(fetch.insn),
            decode.read_thread.eq(issue.pick), decode.wb.eq(execute.wb),
            decode.write.eq(wb.write), decode.write_late.eq(wb.write_late),
            # Execute.
            execute.ex.eq(decode.ex), execute.mul_a.eq(decode.mul_a),
            execute.mul_b.eq(decode.mul_b), execute.pick.eq(issue.pick),
            execute.tags.eq(fetch.tags),
            # CSR file.
            csr.wb.eq(execute.wb), csr.replay.eq(wb.replay), csr.retiring.eq(wb.retiring),
            csr.running.eq(wb.running), csr.late_valid.eq(completion.done.valid),
            csr.late_error.eq(completion.done.error),
            csr.late_thread.eq(completion.done.thread), csr.late_pc.eq(wb.late_pc),
            csr.late_cause.eq(wb.late_cause), csr.late_tval.eq(wb.late_tval),
            # Write-back.
            wb.wb.eq(execute.wb), wb.done.eq(completion.done), wb.id.eq(issue.id),
            wb.ex.eq(decode.ex), wb.busy.eq(issue.busy), wb.fetching.eq(fetch.fetching),
            wb.wanted.eq(fetch.wanted), wb.release_id.eq(decode.release),
            wb.next_id.eq(decode.next_pc), wb.redirect.eq(execute.redirect),
            wb.next_ex.eq(execute.next_pc), wb.old.eq(csr.old), wb.new.eq(csr.new),
            wb.mepc.eq(csr.mepc), wb.mtvec.eq(csr.mtvec), wb.late_mtvec.eq(csr.late_mtvec),
            wb.mthreadpc.eq(csr.mthreadpc),
        ]
        return m
