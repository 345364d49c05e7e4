"""The scalar core's execute stage: ALU, branch resolution, address checks and the requests."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.arith import prefix_add, prefix_sub
from hw.common.memport import Op

from .decode import sext
from .fetch import LINE_BITS
from .isa import THREAD_BITS, XLEN, BranchFunct3, Cause, CoprocRequest, data_request_layout
from .stages import AluOp, ExStage, Kind, MulDivRequest, WbStage, thread_index

__all__ = ["Execute"]


class Execute(wiring.Component):
    """Stage 3: computes results, resolves branches and jumps, checks targets and addresses,
    and sends the requests of loads, stores, multiplications, divisions and coprocessor
    instructions.

    Parameters (keyword-only)
    -------------------------
    threads : int, 1..4
        Hardware threads.
    addr_bits, tag_width : int
        Of the data port's requests (``hw.scalar.isa.data_request_layout``).
    (The caller has checked the values.)

    Members
    -------
    ex : ``In(ExStage)``
        The instruction from decode.
    mul_a, mul_b : ``In(XLEN)``
        Decode's multiplier operand registers.
    pick : ``In(THREAD_BITS)``
        The thread issue picks this cycle.
    tags : ``In(data.ArrayLayout(XLEN - LINE_BITS, threads))``
        The line each thread's fetch buffer holds or is fetching.
    wb : ``Out(WbStage)``
        The pipeline register into write-back.
    kill : ``Out(1)``
        The picked thread's predicted branch is mispredicted: its word must not issue.
    release, redirect, next_pc : ``Out(1)``, ``Out(1)``, ``Out(XLEN)``
        The instruction releases its thread (a branch or jump not released at decode), or puts
        a mispredicted thread on the right path (``redirect`` covers both), at ``next_pc``.
    ask, ask_line : ``Out(1)``, ``Out(XLEN - LINE_BITS)``
        On a redirect, the next pc's line is not the thread's buffer's: ask fetch for it.
    data, cop : ``Out(stream.Signature(..., always_ready=True))``
        Load/store (``data_request_layout``; ``tag`` = thread) and coprocessor requests, to
        queues with a place for every thread.
    mul : ``Out(stream.Signature(MulDivRequest, always_ready=True))``
        Multiplications; the operands are ``mul_a``/``mul_b``.
    div : ``Out(stream.Signature(MulDivRequest)).array(threads)``
        Divisions, to the thread's own divider (idle whenever its thread sends one).

    Contract
    --------
    Everything but ``wb`` is combinational from ``ex``. Requests go out only for instructions
    that do not trap; a thread has at most one request outstanding.
    """

    def __init__(self, *, threads, addr_bits, tag_width):
        self._threads = threads
        request = data_request_layout(addr_bits=addr_bits, tag_width=tag_width)
        super().__init__({
            "ex": In(ExStage), "mul_a": In(XLEN), "mul_b": In(XLEN), "pick": In(THREAD_BITS),
            "tags": In(data.ArrayLayout(XLEN - LINE_BITS, threads)),
            "wb": Out(WbStage), "kill": Out(1), "release": Out(1), "redirect": Out(1),
            "next_pc": Out(XLEN), "ask": Out(1), "ask_line": Out(XLEN - LINE_BITS),
            "data": Out(stream.Signature(request, always_ready=True)),
            "cop": Out(stream.Signature(CoprocRequest, always_ready=True)),
            "mul": Out(stream.Signature(MulDivRequest, always_ready=True)),
            "div": Out(stream.Signature(MulDivRequest)).array(threads),
        })

    def elaborate(self, platform):
        m = Module()
        exr, wbr = self.ex, self.wb
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
            for funct3, condition in ((BranchFunct3.BEQ, eq), (BranchFunct3.BNE, ~eq),
                                      (BranchFunct3.BLT, lt), (BranchFunct3.BGE, ~lt),
                                      (BranchFunct3.BLTU, ltu), (BranchFunct3.BGEU, ~ltu)):
                with m.Case(funct3):
                    m.d.comb += taken.eq(condition)
        is_jalr = exr.insn[3] == 0  # insn[3]: JAL rather than JALR
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
        value = Mux(exr.kind == Kind.JUMP, link, Mux(exr.word, sext(result, 32), result))
        next_pc = Mux(jumps, jump_to, link)
        # A branch or jump not released at decode (JALR, a misaligned target) that does not
        # trap releases its thread here, at its next pc; a mispredicted branch puts its thread
        # on the right path (killing the wrong-path word if it is being issued now). If the
        # next pc is in another line than the one the thread's buffer holds or is fetching,
        # execute asks for that line: the thread waits for it without taking an issue slot.
        tags = Array(self.tags[i] for i in range(self._threads))
        buf_tag = tags[thread_index(exr.thread, self._threads)]
        # (A JALR's target comes from the adder: too late to compare, its line is asked for.)
        jalr = (exr.kind == Kind.JUMP) & is_jalr
        same_line = Mux(jumps, ~jalr & (buf_tag == target[LINE_BITS:]),
                        buf_tag == link[LINE_BITS:])
        release = (exr.valid & ~exr.released & ~x_trap
                   & ((exr.kind == Kind.BRANCH) | (exr.kind == Kind.JUMP)))
        mispredict = exr.valid & exr.released & (exr.kind == Kind.BRANCH) & (taken != exr.predicted)
        redirect = release | mispredict
        m.d.comb += [self.kill.eq(mispredict & (self.pick == exr.thread)),
                     self.release.eq(release), self.redirect.eq(redirect),
                     self.next_pc.eq(next_pc), self.ask.eq(redirect & ~same_line),
                     self.ask_line.eq(next_pc[LINE_BITS:])]
        m.d.sync += [
            wbr.valid.eq(exr.valid), wbr.thread.eq(exr.thread), wbr.pc.eq(exr.pc),
            wbr.insn.eq(exr.insn), wbr.kind.eq(exr.kind), wbr.res.eq(value),
            wbr.a.eq(Mux((exr.kind == Kind.LOAD) | (exr.kind == Kind.STORE), total, ea)),
            wbr.next_pc.eq(next_pc), wbr.rd_en.eq(exr.rd_en),
            wbr.trap.eq(x_trap), wbr.cause.eq(x_cause), wbr.tval.eq(x_tval),
            wbr.csr.eq(exr.csr), wbr.csr_writes.eq(exr.csr_writes),
            wbr.released.eq(exr.released | release),
        ]

        # Requests leave from execute: loads, stores, multiplications, divisions, coprocessor
        # instructions that do not trap. Every queue has a place for each thread and a thread
        # has at most one request out, so none is ever refused; the thread waits (busy) for
        # the completion, and write-back only records what the completion needs.
        # Execute's own traps are for jumps, branches and accesses: a request is known from the
        # execute registers and, for an access, its alignment, without waiting for the branch
        # compare that the trap check of a jump needs.
        early = exr.valid & ~exr.trap
        esize = exr.insn[12:14]
        lane = total[:3]
        mask = Mux(esize == 0, 0x1, Mux(esize == 1, 0x3, Mux(esize == 2, 0xF, 0xFF)))
        dreq = self.data.payload
        # The word's address: the memory port takes width-aligned addresses only.
        m.d.comb += [dreq.addr.eq(Cat(Const(0, 3), total[3:])),
                     dreq.op.eq(Mux(exr.kind == Kind.STORE, Op.WRITE, Op.READ)),
                     dreq.mask.eq((mask << lane)[:8]),
                     dreq.data.eq((exr.rs2 << Cat(Const(0, 3), lane))[:XLEN]),
                     dreq.tag.eq(exr.thread)]
        creq = self.cop.payload
        m.d.comb += [creq.insn.eq(exr.insn), creq.rs1.eq(ea), creq.rs2.eq(eb),
                     creq.thread.eq(exr.thread), creq.rd.eq(exr.insn[7:12])]
        div_push = early & (exr.kind == Kind.DIV)
        for i, div in enumerate(self.div):
            m.d.comb += [div.valid.eq(div_push & (thread_index(exr.thread, self._threads) == i)),
                         div.payload.thread.eq(exr.thread), div.payload.funct3.eq(esize),
                         div.payload.word.eq(exr.insn[3]), div.payload.a.eq(ea),
                         div.payload.b.eq(eb)]
        m.d.comb += [self.mul.payload.thread.eq(exr.thread), self.mul.payload.funct3.eq(esize),
                     self.mul.payload.word.eq(exr.insn[3]), self.mul.payload.a.eq(self.mul_a),
                     self.mul.payload.b.eq(self.mul_b)]
        with m.Switch(exr.kind):
            with m.Case(Kind.LOAD, Kind.STORE):
                m.d.comb += self.data.valid.eq(early & ~misaligned)
            with m.Case(Kind.CUSTOM):
                m.d.comb += self.cop.valid.eq(early)
            with m.Case(Kind.MUL):
                m.d.comb += self.mul.valid.eq(early)
        return m
