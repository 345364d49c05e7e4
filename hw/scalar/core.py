"""The scalar core: RV64IM + Zicsr + FENCE/FENCE.I, machine mode, one to four barrel threads.

Contract (docs/scalar.md has the whole story)
---------------------------------------------
The architectural behaviour is ``verif.scalar.iss``'s, instruction for instruction: the same
registers, CSRs, traps (cause, ``mepc``, ``mtval``), thread start and stop through
``mthreadctl``/``mthreadpc``, coprocessor semantics. Two things differ by design and are
documented there: ``mcycle``/``cycle`` count clock cycles, and a thread's instruction fetch sees a
store only after a ``fence.i`` (any thread's; it empties every thread's line buffer).

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
(32-byte lines), ``data_req``/``data_resp`` (8-byte words with a byte mask), ``cop_req``/
``cop_resp`` (custom-0..3). Responses must come in request order on each port; an access
fault is a response with ``error`` set. ``fetch_resp.ready`` is always 1; data, coprocessor
and the units' own results are taken one a cycle, in that priority. Every request stream has a
FIFO with one entry per thread (a request that finds it empty goes straight out), so no request
is ever refused for lack of space. Instruction fetch keeps one 32-byte line per thread; issuing
a line's last word prefetches the next line; a jump or branch to another line asks for that line
from decode or execute.

``retire`` and ``retire_late`` (valid + :data:`~hw.scalar.isa.RetireRecord`, not streams: they
cannot be held up) report every instruction that retires or traps, one cycle after write-back
or completion; in a cycle with both, ``retire_late``'s instruction is the older.
``running`` is the mask of running threads.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.common.arith import prefix_add, prefix_sub
from hw.common.params import check_int
from hw.common.shared import shared

from .isa import (
    CUSTOM_OPCODES,
    LINE_BYTES,
    MAX_THREADS,
    RAM_BASE,
    SRAI_FUNCT6,
    THREAD_BITS,
    XLEN,
    Cause,
    CoprocRequest,
    CoprocResponse,
    Csr,
    DataRequest,
    DataResponse,
    FetchRequest,
    FetchResponse,
    FixedInsn,
    Funct7,
    Opcode,
    RetireRecord,
)
from .muldiv import DivUnit, MulUnit

__all__ = ["ScalarCore", "Kind", "AluOp", "CsrSel", "RetirePort"]

MSTATUS_MPP = 3 << 11
LINE_BITS = (LINE_BYTES - 1).bit_length()


class Kind(enum.Enum, shape=unsigned(4)):
    """What write-back does with an instruction."""
    ALU = 0       # rd <- result (OP, OP-IMM, LUI, AUIPC and their W forms)
    BRANCH = 1
    JUMP = 2      # JAL, JALR: rd <- pc + 4
    LOAD = 3
    STORE = 4
    MUL = 5
    DIV = 6
    CSR = 7
    MRET = 8
    FENCE_I = 9
    CUSTOM = 10
    NOP = 11      # FENCE


class AluOp(enum.Enum, shape=unsigned(4)):
    ADD = 0
    SUB = 1
    SLL = 2
    SLT = 3
    SLTU = 4
    XOR = 5
    SRL = 6
    SRA = 7
    OR = 8
    AND = 9


class CsrSel(enum.Enum, shape=unsigned(4)):
    MSTATUS = 0
    MIE = 1
    MTVEC = 2
    MSCRATCH = 3
    MEPC = 4
    MCAUSE = 5
    MTVAL = 6
    MCYCLE = 7
    MINSTRET = 8
    MHARTID = 9
    MTHREADCTL = 10
    MTHREADPC = 11


#: CSR number -> (selector, read-only).
CSR_DECODE = {
    Csr.MSTATUS: (CsrSel.MSTATUS, False), Csr.MIE: (CsrSel.MIE, False),
    Csr.MTVEC: (CsrSel.MTVEC, False), Csr.MSCRATCH: (CsrSel.MSCRATCH, False),
    Csr.MEPC: (CsrSel.MEPC, False), Csr.MCAUSE: (CsrSel.MCAUSE, False),
    Csr.MTVAL: (CsrSel.MTVAL, False), Csr.MCYCLE: (CsrSel.MCYCLE, False),
    Csr.MINSTRET: (CsrSel.MINSTRET, False), Csr.CYCLE: (CsrSel.MCYCLE, True),
    Csr.INSTRET: (CsrSel.MINSTRET, True), Csr.MHARTID: (CsrSel.MHARTID, True),
    Csr.MTHREADCTL: (CsrSel.MTHREADCTL, False), Csr.MTHREADPC: (CsrSel.MTHREADPC, False),
}

#: The retire trace: a record and its valid bit, every cycle, no handshake.
RetirePort = wiring.Signature({"valid": Out(1), "payload": Out(RetireRecord)})

# Pipeline registers.
_ID = data.StructLayout({"valid": 1, "thread": THREAD_BITS, "pc": XLEN, "insn": 32, "fault": 1})
_EX = data.StructLayout({
    "valid": 1, "thread": THREAD_BITS, "pc": XLEN, "insn": 32, "kind": Kind, "op": AluOp,
    "word": 1, "a": XLEN, "b": XLEN, "rs2": XLEN, "target": XLEN, "link": XLEN,
    "rd_en": 1, "predicted": 1,
    "trap": 1, "cause": Cause, "csr": CsrSel, "csr_writes": 1, "released": 1,
})
_WB = data.StructLayout({
    "valid": 1, "thread": THREAD_BITS, "pc": XLEN, "insn": 32, "kind": Kind, "res": XLEN,
    "a": XLEN, "b": XLEN, "next_pc": XLEN, "rd_en": 1, "trap": 1, "cause": Cause,
    "tval": XLEN, "csr": CsrSel, "csr_writes": 1, "released": 1,
})
_MUL_RES = data.StructLayout({"thread": THREAD_BITS, "value": XLEN})
_DONE = data.StructLayout({"valid": 1, "thread": THREAD_BITS, "data": XLEN, "error": 1})


def _sext(value, bits):
    return Cat(value[:bits], value[bits - 1].replicate(XLEN - bits))


class ScalarCore(wiring.Component):
    """The scalar core (see the module docstring).

    Parameters (keyword-only)
    -------------------------
    threads : int, 1..4
        Hardware threads. Thread 0 starts at ``reset_pc``; the others wait for ``mthreadctl``.
    reset_pc : int
        Thread 0's first pc, 4-byte aligned, below 2**64 (default 0x8000_0000).
    """

    def __init__(self, *, threads=MAX_THREADS, reset_pc=RAM_BASE):
        self._threads = check_int("threads", threads, 1, MAX_THREADS)
        reset_pc = check_int("reset_pc", reset_pc, 0, (1 << XLEN) - 1)
        if reset_pc & 3:
            raise ValueError(f"reset_pc must be 4-byte aligned, got {reset_pc:#x}")
        self._reset_pc = reset_pc
        super().__init__({
            "fetch_req": Out(stream.Signature(FetchRequest)),
            "fetch_resp": In(stream.Signature(FetchResponse)),
            "data_req": Out(stream.Signature(DataRequest)),
            "data_resp": In(stream.Signature(DataResponse)),
            "cop_req": Out(stream.Signature(CoprocRequest)),
            "cop_resp": In(stream.Signature(CoprocResponse)),
            "retire": Out(RetirePort),
            "retire_late": Out(RetirePort),
            "running": Out(MAX_THREADS),
        })

    @property
    def threads(self):
        return self._threads

    @property
    def reset_pc(self):
        return self._reset_pc

    def elaborate(self, platform):
        m = Module()
        n = self._threads
        tbits = (n - 1).bit_length()

        def ix(thread):
            """Index of a per-thread array (constant 0 with one thread)."""
            return thread[:tbits] if tbits else Const(0, 1)

        def bit(valid, thread):
            """The mask with ``thread``'s bit set if ``valid``."""
            return Mux(valid, (Const(1, n) << ix(thread))[:n], 0)

        def per_thread(name, width, init=0):
            return Array(Signal(width, name=f"{name}{i}", init=init if i == 0 else 0)
                         for i in range(n))

        # --- thread state ------------------------------------------------------------------
        pc = per_thread("pc", XLEN, self._reset_pc)
        running = Signal(n, init=1)
        busy = Signal(n)       # an instruction in flight
        fetching = Signal(n)   # a line fetch outstanding
        wanted = Signal(n)     # a line asked for by decode or execute, not yet sent
        hold = Signal(n)
        line_tag = per_thread("line_tag", XLEN - LINE_BITS)
        line_valid = Signal(n)
        line_fault = Signal(n)
        line_data = per_thread("line_data", 8 * LINE_BYTES)
        pend_pc = per_thread("pend_pc", XLEN)
        pend_addr = per_thread("pend_addr", XLEN)
        pend_insn = per_thread("pend_insn", 32)
        # Per-thread CSRs.
        mie = per_thread("mstatus_mie", 1)
        mpie = per_thread("mstatus_mpie", 1)
        mtvec = per_thread("mtvec", XLEN)
        mscratch = per_thread("mscratch", XLEN)
        mepc = per_thread("mepc", XLEN)
        mcause = per_thread("mcause", XLEN)
        mtval = per_thread("mtval", XLEN)
        minstret = per_thread("minstret", XLEN)
        # Core-wide CSRs.
        mcycle = Signal(XLEN)
        mthreadpc = Signal(XLEN)
        m.d.comb += self.running.eq(running)

        m.submodules.rf = rf = Memory(shape=XLEN, depth=32 << tbits, init=[])
        wp = rf.write_port()      # write-back
        wp2 = rf.write_port()     # completions
        # Transparent: a thread may issue in the cycle its previous instruction writes its
        # result (a jump leaving write-back, a completion); see "Releasing a thread" below.
        rp1 = rf.read_port(transparent_for=(wp, wp2))
        rp2 = rf.read_port(transparent_for=(wp, wp2))

        # --- request FIFOs (one entry per thread: never full) and units ----------------------
        def request_fifo(name, layout, port=None):
            """A FIFO with a place for every thread, and its write enable and data. In front
            of ``port``, a request that meets an empty FIFO goes straight out, and into the
            FIFO only if the port does not take it at once."""
            fifo = SyncFIFO(width=layout.size, depth=MAX_THREADS)
            m.submodules[name] = fifo
            if port is None:
                return fifo, fifo.w_en, fifo.w_data
            push = Signal(name=f"{name}_push")
            wdata = Signal(layout.size, name=f"{name}_wdata")
            bypass = ~fifo.r_rdy
            m.d.comb += [port.valid.eq(fifo.r_rdy | push),
                         port.payload.eq(Mux(bypass, wdata, fifo.r_data)),
                         fifo.r_en.eq(port.ready), fifo.w_data.eq(wdata),
                         fifo.w_en.eq(push & ~(bypass & port.ready))]
            return fifo, push, wdata

        fetch_q, fetch_push, fetch_wdata = request_fifo("fetch_q", FetchRequest, self.fetch_req)
        data_q, data_push, data_wdata = request_fifo("data_q", DataRequest, self.data_req)
        cop_q, cop_push, cop_wdata = request_fifo("cop_q", CoprocRequest, self.cop_req)
        mul_out, _, _ = request_fifo("mul_out", _MUL_RES)
        m.submodules.mul = mul = MulUnit()
        m.d.comb += mul_out.w_data.eq(Cat(mul.o_thread, mul.o_value))
        # One divider per thread, so the threads divide at the same time. A thread sends a
        # division only when it has nothing else in flight, so its divider has delivered the
        # previous quotient and is idle (``i_ready``): the request needs no queue.
        divs = []
        for i in range(n):
            m.submodules[f"div{i}"] = div = shared(DivUnit)
            divs.append(div)
        mul_res = data.View(_MUL_RES, mul_out.r_data)

        # --- stage 1: issue ----------------------------------------------------------------
        idr = Signal(_ID)
        last = Signal(range(n), init=n - 1)
        eligible = running & ~busy & ~hold & ~fetching & ~wanted
        pick = Signal(THREAD_BITS)
        any_pick = Signal()
        with m.Switch(last):
            for prev in range(n):
                with m.Case(prev):
                    order = [(prev + k) % n for k in range(1, n + 1)]
                    for k, i in enumerate(order):
                        with (m.If if k == 0 else m.Elif)(eligible[i]):
                            m.d.comb += [pick.eq(i), any_pick.eq(1)]
        t_is = ix(pick)
        pc_is = pc[t_is]
        # Every thread's line hit, computed beside the pick rather than after it.
        hits = Signal(n)
        for i in range(n):
            m.d.comb += hits[i].eq(line_valid[i] & (line_tag[i] == pc[i][LINE_BITS:]))
        hit = hits.bit_select(t_is, 1)
        insn_is = line_data[t_is].word_select(pc_is[2:LINE_BITS], 32)
        m.d.comb += [rp1.addr.eq(Cat(insn_is[15:20], pick[:tbits])),
                     rp2.addr.eq(Cat(insn_is[20:25], pick[:tbits]))]
        # A miss fetches the pc's line; issuing the last word of a line prefetches the next
        # (the thread's one line buffer is free once that word has issued).
        # ``kill``: the picked thread's branch, predicted at decode, is found mispredicted in
        # execute this cycle, so the word picked is on the wrong path: it does not issue. (A
        # fetch request still may: the wrong-path word and the right one are both in the
        # branch's line, never its last word, so a request can only refetch that line.)
        kill = Signal()
        issue = any_pick & hit & ~kill
        last_word = pc_is[2:LINE_BITS] == (1 << (LINE_BITS - 2)) - 1
        # Every thread's next line, computed beside the pick rather than after it.
        next_lines = Array(prefix_add(m, pc[i][LINE_BITS:], 1, width=XLEN - LINE_BITS,
                                      name=f"next_line{i}")[0] for i in range(n))
        next_line = next_lines[t_is]
        fetch_line = Mux(hit, next_line, pc_is[LINE_BITS:])
        # A line asked for by decode or execute (its tag already set) goes first, once
        # the thread's previous fetch (a prefetch, dropped) is answered.
        sendable = wanted & ~fetching
        want = Signal(THREAD_BITS)
        for i in reversed(range(n)):
            with m.If(sendable[i]):
                m.d.comb += want.eq(i)
        any_want = sendable != 0
        request = any_pick & (~hit | last_word) & fetch_q.w_rdy & ~any_want
        m.d.comb += [fetch_wdata.eq(Cat(Const(0, LINE_BITS),
                                        Mux(any_want, line_tag[ix(want)], fetch_line),
                                        Mux(any_want, want, pick))),
                     fetch_push.eq(request | any_want)]
        m.d.sync += [idr.valid.eq(issue), idr.thread.eq(pick), idr.pc.eq(pc_is),
                     idr.insn.eq(insn_is), idr.fault.eq(line_fault.bit_select(t_is, 1))]
        set_busy = Signal(n)
        set_fetching = Signal(n)
        with m.If(any_pick & (hit | request)):
            m.d.sync += last.eq(t_is)
        with m.If(issue):
            m.d.comb += set_busy.eq(1 << t_is)
        with m.If(request):
            m.d.comb += set_fetching.eq(1 << t_is)
        with m.If(any_want):
            m.d.comb += set_fetching.eq(1 << ix(want))

        # --- stage 2: register read and decode -----------------------------------------------
        exr = Signal(_EX)
        wbr = Signal(_WB)
        insn = idr.insn
        opcode, rd, f3 = insn[0:7], insn[7:12], insn[12:15]
        rs1, rs2, f7 = insn[15:20], insn[20:25], insn[25:32]
        # The thread's previous instruction may be in write-back, its result not yet in the
        # register file (it was released at decode): take it from there.
        same = wbr.valid & wbr.rd_en & (wbr.thread == idr.thread)
        rv1 = Mux(rs1 == 0, 0, Mux(same & (wbr.insn[7:12] == rs1), wbr.res, rp1.data))
        rv2 = Mux(rs2 == 0, 0, Mux(same & (wbr.insn[7:12] == rs2), wbr.res, rp2.data))
        imm_i = _sext(insn[20:32], 12)
        imm_s = _sext(Cat(insn[7:12], insn[25:32]), 12)
        imm_b = _sext(Cat(Const(0, 1), insn[8:12], insn[25:31], insn[7], insn[31]), 13)
        imm_u = _sext(Cat(Const(0, 12), insn[12:32]), 32)
        imm_j = _sext(Cat(Const(0, 1), insn[21:31], insn[20], insn[12:20], insn[31]), 21)

        kind = Signal(Kind)
        op = Signal(AluOp)
        word = Signal()
        a = Signal(XLEN)
        b = Signal(XLEN)
        rd_en = Signal()
        illegal = Signal()
        cause = Signal(Cause)
        trap = Signal()
        csr_sel = Signal(CsrSel)
        csr_writes = Signal()
        m.d.comb += [a.eq(rv1), b.eq(rv2), kind.eq(Kind.ALU), op.eq(AluOp.ADD)]

        def alu_ops(with_sub, word_form):
            """OP/OP-IMM decoding of funct3 (and funct7 bit 5 for SUB/SRA)."""
            alt = insn[30]
            with m.Switch(f3):
                with m.Case(0):
                    m.d.comb += op.eq(Mux(alt & with_sub, AluOp.SUB, AluOp.ADD))
                with m.Case(1):
                    m.d.comb += op.eq(AluOp.SLL)
                with m.Case(2):
                    m.d.comb += op.eq(AluOp.SLT)
                with m.Case(3):
                    m.d.comb += op.eq(AluOp.SLTU)
                with m.Case(4):
                    m.d.comb += op.eq(AluOp.XOR)
                with m.Case(5):
                    m.d.comb += op.eq(Mux(alt, AluOp.SRA, AluOp.SRL))
                    if word_form:
                        m.d.comb += a.eq(Mux(alt, _sext(rv1, 32), rv1[:32]))
                with m.Case(6):
                    m.d.comb += op.eq(AluOp.OR)
                with m.Case(7):
                    m.d.comb += op.eq(AluOp.AND)

        with m.Switch(opcode):
            with m.Case(Opcode.LUI):
                m.d.comb += [a.eq(0), b.eq(imm_u), rd_en.eq(1)]
            with m.Case(Opcode.AUIPC):
                m.d.comb += [a.eq(idr.pc), b.eq(imm_u), rd_en.eq(1)]
            with m.Case(Opcode.JAL):
                m.d.comb += [kind.eq(Kind.JUMP), rd_en.eq(1)]
            with m.Case(Opcode.JALR):
                m.d.comb += [kind.eq(Kind.JUMP), b.eq(imm_i), rd_en.eq(1),
                             illegal.eq(f3 != 0)]
            with m.Case(Opcode.BRANCH):
                m.d.comb += [kind.eq(Kind.BRANCH),
                             illegal.eq((f3 == 2) | (f3 == 3))]
            with m.Case(Opcode.LOAD):
                m.d.comb += [kind.eq(Kind.LOAD), b.eq(imm_i), rd_en.eq(1), illegal.eq(f3 == 7)]
            with m.Case(Opcode.STORE):
                m.d.comb += [kind.eq(Kind.STORE), b.eq(imm_s), illegal.eq(f3[2])]
            with m.Case(Opcode.OP_IMM):
                m.d.comb += [b.eq(imm_i), rd_en.eq(1)]
                alu_ops(with_sub=False, word_form=False)
                funct6 = insn[26:32]
                with m.If(f3 == 1):
                    m.d.comb += illegal.eq(funct6 != 0)
                with m.If(f3 == 5):
                    m.d.comb += illegal.eq((funct6 != 0) & (funct6 != SRAI_FUNCT6))
            with m.Case(Opcode.OP_IMM_32):
                m.d.comb += [b.eq(imm_i), rd_en.eq(1), word.eq(1)]
                alu_ops(with_sub=False, word_form=True)
                m.d.comb += illegal.eq(
                    ~((f3 == 0) | ((f3 == 1) & (f7 == Funct7.BASE))
                      | ((f3 == 5) & ((f7 == Funct7.BASE) | (f7 == Funct7.ALT)))))
            with m.Case(Opcode.OP):
                m.d.comb += rd_en.eq(1)
                with m.If(f7 == Funct7.MULDIV):
                    m.d.comb += kind.eq(Mux(f3[2], Kind.DIV, Kind.MUL))
                with m.Else():
                    alu_ops(with_sub=True, word_form=False)
                    m.d.comb += illegal.eq(~((f7 == Funct7.BASE) | ((f7 == Funct7.ALT)
                                                          & ((f3 == 0) | (f3 == 5)))))
            with m.Case(Opcode.OP_32):
                m.d.comb += [rd_en.eq(1), word.eq(1)]
                with m.If(f7 == Funct7.MULDIV):
                    m.d.comb += [kind.eq(Mux(f3[2], Kind.DIV, Kind.MUL)),
                                 illegal.eq((f3 != 0) & ~f3[2])]
                with m.Else():
                    alu_ops(with_sub=True, word_form=True)
                    m.d.comb += illegal.eq(
                        ~(((f7 == Funct7.BASE) & ((f3 == 0) | (f3 == 1) | (f3 == 5)))
                          | ((f7 == Funct7.ALT) & ((f3 == 0) | (f3 == 5)))))
            with m.Case(Opcode.MISC_MEM):  # FENCE, FENCE.I
                m.d.comb += [kind.eq(Mux(f3[0], Kind.FENCE_I, Kind.NOP)),
                             illegal.eq(f3[1:] != 0)]
            with m.Case(Opcode.SYSTEM):
                with m.If(f3[:2] != 0):  # CSR instructions
                    m.d.comb += [kind.eq(Kind.CSR), rd_en.eq(1),
                                 a.eq(Mux(f3[2], rs1, rv1)),
                                 csr_writes.eq((f3[:2] == 1) | (rs1 != 0))]
                    m.d.comb += illegal.eq(1)
                    with m.Switch(insn[20:32]):
                        for number, (sel, read_only) in CSR_DECODE.items():
                            with m.Case(number):
                                m.d.comb += [csr_sel.eq(sel),
                                             illegal.eq(csr_writes & read_only)]
                with m.Elif(insn == FixedInsn.ECALL):
                    m.d.comb += [trap.eq(1), cause.eq(Cause.ECALL_M)]
                with m.Elif(insn == FixedInsn.EBREAK):
                    m.d.comb += [trap.eq(1), cause.eq(Cause.BREAKPOINT)]
                with m.Elif(insn == FixedInsn.MRET):
                    m.d.comb += kind.eq(Kind.MRET)
                with m.Else():
                    m.d.comb += illegal.eq(1)
            with m.Case(*CUSTOM_OPCODES):
                m.d.comb += [kind.eq(Kind.CUSTOM), rd_en.eq(1)]
            with m.Default():
                m.d.comb += illegal.eq(1)
        with m.If(idr.fault):
            m.d.comb += [trap.eq(1), cause.eq(Cause.FETCH_FAULT)]
        with m.Elif(illegal):
            m.d.comb += [trap.eq(1), cause.eq(Cause.ILLEGAL)]
        # Releasing a thread: an instruction that cannot trap lets its thread issue again now,
        # at its next pc; its result reaches the next instruction through the bypass above.
        # ALU instructions and FENCE go on at pc + 4; a JAL at its target; a backward branch
        # whose target is in the same line is predicted taken (a loop) and goes on at its
        # target, execute checking the prediction (``mispredict``, ``kill``). Targets must be
        # 4-byte aligned (else execute traps). Other branches and JALR wait for execute.
        seq_pc, _ = prefix_add(m, idr.pc, 4, width=XLEN, name="link")
        off = Mux(insn[3], imm_j, imm_b)  # JAL 0x6F, branches 0x63
        target_id, _ = prefix_add(m, idr.pc, off, width=XLEN, name="target")
        # Whether the target is in the pc's line, without the adder: the offset's bits above the
        # line are all 0 (all 1) and the low bits do not (do) carry; and the pc is not the
        # line's last word (whose issue replaced the line by a prefetch of the next).
        high = off[LINE_BITS:21]  # imm_j/imm_b are sign-extended from bit 20/12
        carry = (idr.pc[2:LINE_BITS] + off[2:LINE_BITS])[LINE_BITS - 2]
        in_line = (Mux(carry, high == (1 << len(high)) - 1, high == 0)
                   & (idr.pc[2:LINE_BITS] != (1 << (LINE_BITS - 2)) - 1))
        is_jal = (kind == Kind.JUMP) & insn[3]
        predicted = is_jal | ((kind == Kind.BRANCH) & insn[31] & in_line)
        release_id = idr.valid & ~trap & ((kind == Kind.ALU) | (kind == Kind.NOP)
                                          | (predicted & ~off[1]))
        next_id = Mux(predicted, target_id, seq_pc)
        # A JAL to another line: ask for that line as execute does below.
        ask_id = release_id & predicted & ~in_line
        with m.If(ask_id):
            m.d.sync += line_tag[ix(idr.thread)].eq(target_id[LINE_BITS:])
        # The multiplier's operands, in registers of their own that change only for a
        # multiplication: its tree starts from them in execute.
        mul_a = Signal(XLEN)
        mul_b = Signal(XLEN)
        with m.If(idr.valid & (kind == Kind.MUL)):
            m.d.sync += [mul_a.eq(a), mul_b.eq(b)]
        m.d.sync += [
            exr.valid.eq(idr.valid), exr.thread.eq(idr.thread), exr.pc.eq(idr.pc),
            exr.insn.eq(insn), exr.kind.eq(kind), exr.op.eq(op), exr.word.eq(word),
            exr.a.eq(a), exr.b.eq(b), exr.rs2.eq(rv2), exr.target.eq(target_id),
            exr.link.eq(seq_pc), exr.predicted.eq(predicted),
            exr.rd_en.eq(rd_en & (rd != 0)), exr.trap.eq(trap), exr.cause.eq(cause),
            exr.csr.eq(csr_sel), exr.csr_writes.eq(csr_writes), exr.released.eq(release_id),
        ]

        # --- stage 3: execute ----------------------------------------------------------------
        ea, eb = exr.a, exr.b
        is_sub = exr.op == AluOp.SUB
        total, _ = prefix_add(m, ea, Mux(is_sub, ~eb, eb), width=XLEN, carry_in=is_sub,
                              name="alu_add")
        # Compares (SLT, SLTU, branches: b is rs2 for those) on a - b: carry = a >= b.
        _, no_borrow = prefix_sub(m, ea, eb, width=XLEN, name="cmp")
        ltu = ~no_borrow
        lt = Mux(ea[-1] != eb[-1], ea[-1], ltu)
        eq = ea == eb
        target = exr.target
        link = exr.link
        amount = Mux(exr.word, eb[:5], eb[:6])
        shifted_left = (ea << amount)[:XLEN]
        shifted_right = Mux(exr.op == AluOp.SRA, (ea.as_signed() >> amount).as_unsigned(),
                            ea >> amount)
        result = Signal(XLEN)
        with m.Switch(exr.op):
            with m.Case(AluOp.ADD, AluOp.SUB):
                m.d.comb += result.eq(total)
            with m.Case(AluOp.SLL):
                m.d.comb += result.eq(shifted_left)
            with m.Case(AluOp.SLT):
                m.d.comb += result.eq(lt)
            with m.Case(AluOp.SLTU):
                m.d.comb += result.eq(ltu)
            with m.Case(AluOp.XOR):
                m.d.comb += result.eq(ea ^ eb)
            with m.Case(AluOp.SRL, AluOp.SRA):
                m.d.comb += result.eq(shifted_right)
            with m.Case(AluOp.OR):
                m.d.comb += result.eq(ea | eb)
            with m.Case(AluOp.AND):
                m.d.comb += result.eq(ea & eb)
        ef3 = exr.insn[12:15]
        taken = Signal()
        with m.Switch(ef3):
            with m.Case(0):
                m.d.comb += taken.eq(eq)
            with m.Case(1):
                m.d.comb += taken.eq(~eq)
            with m.Case(4):
                m.d.comb += taken.eq(lt)
            with m.Case(5):
                m.d.comb += taken.eq(~lt)
            with m.Case(6):
                m.d.comb += taken.eq(ltu)
            with m.Case(7):
                m.d.comb += taken.eq(~ltu)
        is_jalr = exr.insn[3] == 0  # JALR 0x67 vs JAL 0x6F
        jump_to = Mux((exr.kind == Kind.JUMP) & is_jalr, Cat(Const(0, 1), total[1:]), target)
        jumps = (exr.kind == Kind.JUMP) | ((exr.kind == Kind.BRANCH) & taken)
        size = ef3[:2]
        misaligned = Mux(size == 0, 0, Mux(size == 1, total[0], Mux(size == 2, total[:2] != 0,
                                                                      total[:3] != 0)))
        x_trap = Signal()
        x_cause = Signal(Cause)
        x_tval = Signal(XLEN)
        m.d.comb += [x_trap.eq(exr.trap), x_cause.eq(exr.cause)]
        with m.If(exr.trap):
            with m.Switch(exr.cause):
                with m.Case(Cause.ILLEGAL):
                    m.d.comb += x_tval.eq(exr.insn)
                with m.Case(Cause.FETCH_FAULT):
                    m.d.comb += x_tval.eq(exr.pc)
        with m.Elif(jumps & (jump_to[:2] != 0)):
            m.d.comb += [x_trap.eq(1), x_cause.eq(Cause.FETCH_MISALIGNED), x_tval.eq(jump_to)]
        with m.Elif(((exr.kind == Kind.LOAD) | (exr.kind == Kind.STORE)) & misaligned):
            m.d.comb += [x_trap.eq(1), x_tval.eq(total),
                         x_cause.eq(Mux(exr.kind == Kind.LOAD, Cause.LOAD_MISALIGNED,
                                        Cause.STORE_MISALIGNED))]
        value = Mux(exr.kind == Kind.JUMP, link, Mux(exr.word, _sext(result, 32), result))
        next_pc = Mux(jumps, jump_to, link)
        # A branch or jump not released at decode (JALR, a misaligned target) that does not
        # trap releases its thread here, at its next pc; a mispredicted branch puts its thread
        # on the right path (killing the wrong-path word if it is being issued now). If the
        # next pc is in another line than the one the thread's buffer holds or is fetching,
        # execute asks for that line (``wanted``): the thread waits for it without taking an
        # issue slot (a prefetch still outstanding is dropped when it arrives).
        tx = ix(exr.thread)
        buf_tag = line_tag[tx]
        # (A JALR's target comes from the adder: too late to compare, its line is asked for.)
        jalr = (exr.kind == Kind.JUMP) & is_jalr
        same_line = Mux(jumps, ~jalr & (buf_tag == target[LINE_BITS:]),
                        buf_tag == link[LINE_BITS:])
        release_ex = (exr.valid & ~exr.released & ~x_trap
                      & ((exr.kind == Kind.BRANCH) | (exr.kind == Kind.JUMP)))
        mispredict = exr.valid & exr.released & (exr.kind == Kind.BRANCH) & (taken != exr.predicted)
        redirect = release_ex | mispredict
        m.d.comb += kill.eq(mispredict & (pick == exr.thread))
        ask_line = redirect & ~same_line
        m.d.sync += [
            wbr.valid.eq(exr.valid), wbr.thread.eq(exr.thread), wbr.pc.eq(exr.pc),
            wbr.insn.eq(exr.insn), wbr.kind.eq(exr.kind), wbr.res.eq(value),
            wbr.a.eq(Mux((exr.kind == Kind.LOAD) | (exr.kind == Kind.STORE), total, ea)),
            wbr.next_pc.eq(next_pc), wbr.rd_en.eq(exr.rd_en),
            wbr.trap.eq(x_trap), wbr.cause.eq(x_cause), wbr.tval.eq(x_tval),
            wbr.csr.eq(exr.csr), wbr.csr_writes.eq(exr.csr_writes),
            wbr.released.eq(exr.released | release_ex),
        ]
        # Loads and stores carry their address in ``a``.

        # Requests leave from execute: loads, stores, multiplications, divisions, coprocessor
        # instructions that do not trap. Every queue has a place for each thread and a thread
        # has at most one request out, so none is ever refused; the thread waits (``busy``) for
        # the completion, and write-back only records what the completion needs.
        ekind = exr.kind
        requests = exr.valid & ~x_trap
        esize = exr.insn[12:14]
        lane = total[:3]
        mask = Mux(esize == 0, 0x1, Mux(esize == 1, 0x3, Mux(esize == 2, 0xF, 0xFF)))
        dreq = data.View(DataRequest, data_wdata)
        m.d.comb += [dreq.addr.eq(total), dreq.write.eq(ekind == Kind.STORE),
                     dreq.mask.eq((mask << lane)[:8]),
                     dreq.data.eq((exr.rs2 << Cat(Const(0, 3), lane))[:XLEN]),
                     dreq.thread.eq(exr.thread)]
        creq = data.View(CoprocRequest, cop_wdata)
        m.d.comb += [creq.insn.eq(exr.insn), creq.rs1.eq(ea), creq.rs2.eq(eb),
                     creq.thread.eq(exr.thread), creq.rd.eq(exr.insn[7:12])]
        # A division traps in execute only with a trap from decode (the other checks are for
        # jumps and accesses): its request is known straight from the execute registers.
        div_push = exr.valid & ~exr.trap & (ekind == Kind.DIV)
        for i, div in enumerate(divs):
            m.d.comb += [div.i_valid.eq(div_push & (ix(exr.thread) == i)),
                         div.i_thread.eq(exr.thread), div.i_funct3.eq(esize),
                         div.i_word.eq(exr.insn[3]), div.i_a.eq(ea), div.i_b.eq(eb)]
        m.d.comb += [mul.i_thread.eq(exr.thread), mul.i_funct3.eq(esize),
                     mul.i_word.eq(exr.insn[3]), mul.i_a.eq(mul_a), mul.i_b.eq(mul_b)]
        with m.Switch(ekind):
            with m.Case(Kind.LOAD, Kind.STORE):
                m.d.comb += data_push.eq(requests)
            with m.Case(Kind.CUSTOM):
                m.d.comb += cop_push.eq(requests)
            with m.Case(Kind.MUL):
                m.d.comb += mul.i_valid.eq(requests)

        # --- completions: results that arrive after write-back -------------------------------
        # One result a cycle (loads, stores, products, quotients, coprocessor answers) is taken
        # into ``done`` and retires the next cycle, beside what write-back retires (always
        # another thread's instruction: the completing thread is waiting).
        # A product goes into ``done`` straight from the multiplier when nothing else is
        # taken, else into ``mul_out`` (a place for every thread).
        done = Signal(_DONE)
        incoming = Signal(_DONE)  # what ``done`` takes this cycle
        mul_direct = Signal()
        m.d.sync += done.eq(incoming)
        with m.If(self.data_resp.valid):
            m.d.comb += self.data_resp.ready.eq(1)
            m.d.comb += [incoming.valid.eq(1), incoming.thread.eq(self.data_resp.payload.thread),
                         incoming.data.eq(self.data_resp.payload.data),
                         incoming.error.eq(self.data_resp.payload.error)]
        with m.Elif(self.cop_resp.valid):
            m.d.comb += self.cop_resp.ready.eq(1)
            m.d.comb += [incoming.valid.eq(1), incoming.thread.eq(self.cop_resp.payload.thread),
                         incoming.data.eq(self.cop_resp.payload.value)]
        for div in divs:
            with m.Elif(div.o_valid):
                m.d.comb += div.o_ready.eq(1)
                m.d.comb += [incoming.valid.eq(1), incoming.thread.eq(div.o_thread),
                             incoming.data.eq(div.o_value)]
        with m.Elif(mul_out.r_rdy):
            m.d.comb += mul_out.r_en.eq(1)
            m.d.comb += [incoming.valid.eq(1), incoming.thread.eq(mul_res.thread),
                         incoming.data.eq(mul_res.value)]
        with m.Elif(mul.o_valid):
            m.d.comb += [incoming.valid.eq(1), incoming.thread.eq(mul.o_thread),
                         incoming.data.eq(mul.o_value), mul_direct.eq(1)]
        m.d.comb += mul_out.w_en.eq(mul.o_valid & ~mul_direct)

        # --- stage 4: write-back -------------------------------------------------------------
        from_pipe = wbr.valid
        t = wbr.thread
        tw = ix(t)
        r_valid = Signal()
        r_rd_en = Signal()
        r_value = Signal(XLEN)
        new_pc = Signal(XLEN)
        set_pc = Signal()
        clear_busy = Signal()
        no_instret = Signal()

        # CSR read and modify.
        old = Signal(XLEN)
        with m.Switch(wbr.csr):
            with m.Case(CsrSel.MSTATUS):
                m.d.comb += old.eq(MSTATUS_MPP | mie[tw] << 3 | mpie[tw] << 7)
            with m.Case(CsrSel.MTVEC):
                m.d.comb += old.eq(mtvec[tw])
            with m.Case(CsrSel.MSCRATCH):
                m.d.comb += old.eq(mscratch[tw])
            with m.Case(CsrSel.MEPC):
                m.d.comb += old.eq(mepc[tw])
            with m.Case(CsrSel.MCAUSE):
                m.d.comb += old.eq(mcause[tw])
            with m.Case(CsrSel.MTVAL):
                m.d.comb += old.eq(mtval[tw])
            with m.Case(CsrSel.MCYCLE):
                m.d.comb += old.eq(mcycle)
            with m.Case(CsrSel.MINSTRET):
                m.d.comb += old.eq(minstret[tw])
            with m.Case(CsrSel.MHARTID):
                m.d.comb += old.eq(t)
            with m.Case(CsrSel.MTHREADCTL):
                m.d.comb += old.eq(running)
            with m.Case(CsrSel.MTHREADPC):
                m.d.comb += old.eq(mthreadpc)
        src = wbr.a
        csr_new = Signal(XLEN)
        with m.Switch(wbr.insn[12:14]):
            with m.Case(1):
                m.d.comb += csr_new.eq(src)
            with m.Case(2):
                m.d.comb += csr_new.eq(old | src)
            with m.Case(3):
                m.d.comb += csr_new.eq(old & ~src)

        # Thread control: a write that stops other threads waits (is replayed) until they are
        # held (issue no more) and have nothing in flight, so all their instructions retire
        # before it.
        new_mask = csr_new[:n]
        others = Const((1 << n) - 1, n) & ~(Const(1, n) << tw)[:n]
        stopping = running & ~new_mask & others
        ctl_write = (from_pipe & ~wbr.trap & (wbr.kind == Kind.CSR) & wbr.csr_writes
                     & (wbr.csr == CsrSel.MTHREADCTL))
        # Instructions of released threads may still be in decode or execute.
        in_pipe = Signal(n)
        for i in range(n):
            m.d.comb += in_pipe[i].eq((idr.valid & (idr.thread == i))
                                      | (exr.valid & (exr.thread == i)))
        ctl_wait = ctl_write & ((stopping & (busy | fetching | wanted | in_pipe | ~hold)) != 0)
        wkind = wbr.kind
        parks = from_pipe & ~wbr.trap & (
            (wkind == Kind.LOAD) | (wkind == Kind.STORE) | (wkind == Kind.MUL)
            | (wkind == Kind.DIV) | (wkind == Kind.CUSTOM))
        replay = from_pipe & ctl_wait

        # An instruction whose request left from execute: what its completion needs.
        with m.If(parks):
            m.d.sync += [pend_pc[tw].eq(wbr.pc), pend_addr[tw].eq(wbr.a),
                         pend_insn[tw].eq(wbr.insn), pc[tw].eq(wbr.next_pc)]

        # A released instruction's thread has its pc and may have issued again: only retire.
        with m.If(from_pipe):
            with m.If(wbr.trap):
                m.d.comb += [r_valid.eq(1), clear_busy.eq(1)]
            with m.Elif(replay):
                m.d.comb += clear_busy.eq(1)
            with m.Elif(~parks):
                m.d.comb += [r_valid.eq(1), clear_busy.eq(~wbr.released),
                             set_pc.eq(~wbr.released), new_pc.eq(wbr.next_pc),
                             r_rd_en.eq(wbr.rd_en),
                             r_value.eq(Mux(wkind == Kind.CSR, old, wbr.res))]
                with m.If(wkind == Kind.MRET):
                    m.d.comb += new_pc.eq(mepc[tw])

        # The completing instruction: the one its thread parked.
        tc = done.thread
        twc = ix(tc)
        c_insn = pend_insn[twc]
        c_addr = pend_addr[twc]
        c_load = c_insn[0:7] == Opcode.LOAD
        c_store = c_insn[0:7] == Opcode.STORE
        loaded = done.data >> Cat(Const(0, 3), c_addr[:3])
        extracted = Signal(XLEN)
        with m.Switch(c_insn[12:15]):
            for code, bits, signed in ((0, 8, True), (1, 16, True), (2, 32, True), (3, 64, False),
                                       (4, 8, False), (5, 16, False), (6, 32, False)):
                with m.Case(code):
                    m.d.comb += extracted.eq(_sext(loaded, bits) if signed else loaded[:bits])
        c_rd_en = done.valid & ~done.error & ~c_store & (c_insn[7:12] != 0)
        c_value = Mux(c_load, extracted, done.data)
        c_cause = Mux(c_store, Cause.STORE_FAULT, Cause.LOAD_FAULT)

        # Architectural updates.
        def enter_trap(thread, at, cause, tval):
            m.d.sync += [mepc[thread].eq(at), mcause[thread].eq(cause), mtval[thread].eq(tval),
                         mpie[thread].eq(mie[thread]), mie[thread].eq(0),
                         pc[thread].eq(mtvec[thread])]

        # Every thread's minstret + 1, ready before it is known which thread retires.
        counted = Array(prefix_add(m, minstret[i], 1, width=XLEN, name=f"instret_inc{i}")[0]
                        for i in range(n))

        def count_retired(thread):
            m.d.sync += minstret[thread].eq(counted[thread])

        with m.If(done.valid & done.error):
            enter_trap(twc, pend_pc[twc], c_cause, c_addr)
        with m.If(done.valid & ~done.error):
            count_retired(twc)
        pipe_csr = from_pipe & ~wbr.trap & ~replay & (wkind == Kind.CSR) & wbr.csr_writes
        with m.If(from_pipe & wbr.trap):
            enter_trap(tw, wbr.pc, wbr.cause, wbr.tval)
        with m.Elif(set_pc):
            m.d.sync += pc[tw].eq(new_pc)
        with m.If(from_pipe & ~wbr.trap & ~replay & (wkind == Kind.MRET)):
            m.d.sync += [mie[tw].eq(mpie[tw]), mpie[tw].eq(1)]
        cycle_next, _ = prefix_add(m, mcycle, 1, width=XLEN, name="cycle_inc")
        m.d.sync += mcycle.eq(cycle_next)
        with m.If(r_valid & ~wbr.trap & ~no_instret):
            count_retired(tw)
        with m.If(pipe_csr):
            with m.Switch(wbr.csr):
                with m.Case(CsrSel.MSTATUS):
                    m.d.sync += [mie[tw].eq(csr_new[3]), mpie[tw].eq(csr_new[7])]
                with m.Case(CsrSel.MTVEC):
                    m.d.sync += mtvec[tw].eq(Cat(Const(0, 2), csr_new[2:]))
                with m.Case(CsrSel.MSCRATCH):
                    m.d.sync += mscratch[tw].eq(csr_new)
                with m.Case(CsrSel.MEPC):
                    m.d.sync += mepc[tw].eq(Cat(Const(0, 2), csr_new[2:]))
                with m.Case(CsrSel.MCAUSE):
                    m.d.sync += mcause[tw].eq(csr_new)
                with m.Case(CsrSel.MTVAL):
                    m.d.sync += mtval[tw].eq(csr_new)
                with m.Case(CsrSel.MCYCLE):
                    m.d.sync += mcycle.eq(csr_new)
                with m.Case(CsrSel.MINSTRET):
                    m.d.comb += no_instret.eq(1)
                    m.d.sync += minstret[tw].eq(csr_new)
                with m.Case(CsrSel.MTHREADPC):
                    m.d.sync += mthreadpc.eq(Cat(Const(0, 2), csr_new[2:]))

        # Busy bits: set at issue, cleared when the instruction releases its thread (decode,
        # execute, write-back or its completion); fetching bits: set by a fetch request, cleared
        # by its response; wanted bits: set by a line asked for in decode or execute, cleared
        # when its request goes out.
        fetch_done = Signal(n)
        m.d.comb += self.fetch_resp.ready.eq(1)
        fr = self.fetch_resp.payload
        with m.If(self.fetch_resp.valid):
            m.d.comb += fetch_done.eq(1 << ix(fr.thread))
            m.d.sync += [line_data[ix(fr.thread)].eq(fr.data)]
        # A completion without error releases its thread as ``done`` takes it: the thread may
        # issue while it retires (the register file's read ports are transparent); one with an
        # error releases it after the trap entry.
        clear = (bit(clear_busy, t) | bit(done.valid & done.error, tc)
                 | bit(incoming.valid & ~incoming.error, incoming.thread)
                 | bit(release_id, idr.thread) | bit(release_ex, exr.thread))
        m.d.sync += [busy.eq((busy | set_busy) & ~clear),
                     fetching.eq((fetching | set_fetching) & ~fetch_done),
                     wanted.eq((wanted & ~bit(any_want, want)) | bit(ask_line, exr.thread)
                               | bit(ask_id, idr.thread))]
        refill = bit(request, pick) | bit(ask_line, exr.thread) | bit(ask_id, idr.thread)
        m.d.sync += line_valid.eq((line_valid | (fetch_done & ~wanted)) & ~refill)
        with m.If(self.fetch_resp.valid):
            m.d.sync += line_fault.eq((line_fault & ~fetch_done)
                                      | Mux(fr.error, fetch_done, 0))
        with m.If(from_pipe & ~wbr.trap & ~replay & (wkind == Kind.FENCE_I)):
            m.d.sync += line_valid.eq(0)

        with m.If(ctl_write & ~ctl_wait & ~replay):
            starting = new_mask & ~running
            m.d.sync += [running.eq(new_mask), hold.eq(0)]
            for i in range(n):
                with m.If(starting[i]):
                    m.d.sync += pc[i].eq(mthreadpc)
        with m.Elif(ctl_wait):
            m.d.sync += hold.eq(hold | stopping)

        # Line tags written by the issue stage's request and by execute's ask, the latest-arriving
        # last (they are never the same thread's: a thread whose branch execute releases is not
        # picked; one whose branch is mispredicted goes back into the same line, asking none).
        with m.If(request):
            m.d.sync += line_tag[t_is].eq(fetch_line)
        with m.If(ask_line):
            m.d.sync += line_tag[tx].eq(next_pc[LINE_BITS:])

        # Released threads go on (at most one pc write per thread in a cycle: a thread has one
        # unreleased instruction at most, and only that one writes its pc).
        with m.If(release_id):
            m.d.sync += pc[ix(idr.thread)].eq(next_id)
        with m.If(redirect):
            m.d.sync += pc[ix(exr.thread)].eq(next_pc)

        # Register writes and the retire trace (completions first: they are older).
        m.d.comb += [wp.addr.eq(Cat(wbr.insn[7:12], t[:tbits])), wp.data.eq(r_value),
                     wp.en.eq(r_valid & ~wbr.trap & r_rd_en),
                     wp2.addr.eq(Cat(c_insn[7:12], tc[:tbits])), wp2.data.eq(c_value),
                     wp2.en.eq(c_rd_en)]
        for port, valid, thread, at, insn, rd_en, value, trap, cause in (
                (self.retire_late, done.valid, tc, pend_pc[twc], c_insn, c_rd_en, c_value,
                 done.error, c_cause),
                (self.retire, r_valid, t, wbr.pc, wbr.insn, r_rd_en & ~wbr.trap, r_value,
                 wbr.trap, wbr.cause)):
            rec = port.payload
            m.d.sync += [port.valid.eq(valid), rec.thread.eq(thread), rec.pc.eq(at),
                         rec.insn.eq(insn), rec.rd_en.eq(rd_en), rec.rd.eq(insn[7:12]),
                         rec.value.eq(value), rec.trap.eq(trap), rec.cause.eq(cause)]
        return m
