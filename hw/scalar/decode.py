"""The scalar core's decode stage: register read, instruction decode and early release."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.common.arith import prefix_add

from .fetch import LINE_BITS
from .isa import (
    CUSTOM_OPCODES,
    SRAI_FUNCT6,
    THREAD_BITS,
    XLEN,
    BranchFunct3,
    Cause,
    CsrFunct3,
    FenceFunct3,
    FixedInsn,
    Funct3,
    Funct7,
    LoadFunct3,
    Opcode,
)
from .stages import CSR_DECODE, AluOp, CsrSel, ExStage, IdStage, Kind, WbStage, thread_bits

__all__ = ["Decode", "RegisterWrite", "sext"]

#: A register-file write: ``data`` to register ``rd`` of ``thread`` if ``en``.
RegisterWrite = data.StructLayout({"en": 1, "rd": 5, "thread": THREAD_BITS, "data": XLEN})


def sext(value, bits):
    """``value``'s low ``bits`` bits, sign-extended to XLEN."""
    return Cat(value[:bits], value[bits - 1].replicate(XLEN - bits))


class Decode(wiring.Component):
    """Stage 2: reads the registers, decodes the instruction and releases its thread early when
    it cannot trap.

    Parameters (keyword-only)
    -------------------------
    threads : int, 1..4
        Hardware threads (the caller has checked the value).

    Members
    -------
    id : ``In(IdStage)``
        The instruction from issue.
    read_insn, read_thread : ``In(32)``, ``In(THREAD_BITS)``
        The word issue is issuing now: the register file is read with its rs1 and rs2.
    wb : ``In(WbStage)``
        The write-back register (the bypass of a result not yet written).
    write, write_late : ``In(RegisterWrite)``
        The register file's two write ports (write-back, completions).
    ex : ``Out(ExStage)``
        The pipeline register into execute.
    mul_a, mul_b : ``Out(XLEN)``
        The multiplier's operand registers, loaded only for a multiplication.
    release, next_pc : ``Out(1)``, ``Out(XLEN)``
        The instruction releases its thread now, to go on at ``next_pc``.
    ask, ask_line : ``Out(1)``, ``Out(XLEN - LINE_BITS)``
        A JAL to another line asks fetch for that line.

    Contract
    --------
    The register file's reads are transparent for both write ports: a thread may issue in the
    cycle its previous instruction writes its result. ALU instructions and FENCE release their
    thread at pc + 4; a JAL at its target; a backward branch whose target is in the same line
    (not the line's last word) is predicted taken and released at its target, execute checking
    the prediction. Illegal encodings and fetch faults become traps here (``ex.trap``).
    """

    def __init__(self, *, threads):
        self._threads = threads
        super().__init__({
            "id": In(IdStage), "read_insn": In(32), "read_thread": In(THREAD_BITS),
            "wb": In(WbStage), "write": In(RegisterWrite), "write_late": In(RegisterWrite),
            "ex": Out(ExStage), "mul_a": Out(XLEN), "mul_b": Out(XLEN),
            "release": Out(1), "next_pc": Out(XLEN),
            "ask": Out(1), "ask_line": Out(XLEN - LINE_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        tbits = thread_bits(self._threads)
        m.submodules.rf = rf = Memory(shape=XLEN, depth=32 << tbits, init=[])
        wp = rf.write_port()      # write-back
        wp2 = rf.write_port()     # completions
        # Transparent: a thread may issue in the cycle its previous instruction writes its
        # result (a jump leaving write-back, a completion).
        rp1 = rf.read_port(transparent_for=(wp, wp2))
        rp2 = rf.read_port(transparent_for=(wp, wp2))
        for port, w in ((wp, self.write), (wp2, self.write_late)):
            m.d.comb += [port.addr.eq(Cat(w.rd, w.thread[:tbits])), port.data.eq(w.data),
                         port.en.eq(w.en)]
        m.d.comb += [rp1.addr.eq(Cat(self.read_insn[15:20], self.read_thread[:tbits])),
                     rp2.addr.eq(Cat(self.read_insn[20:25], self.read_thread[:tbits]))]

        idr, wbr, exr = self.id, self.wb, self.ex
        insn = idr.insn
        rd, rs1, rs2 = insn[7:12], insn[15:20], insn[20:25]
        # The thread's previous instruction may be in write-back, its result not yet in the
        # register file (it was released at decode): take it from there.
        same = wbr.valid & wbr.rd_en & (wbr.thread == idr.thread)
        rv1 = Mux(rs1 == 0, 0, Mux(same & (wbr.insn[7:12] == rs1), wbr.res, rp1.data))
        rv2 = Mux(rs2 == 0, 0, Mux(same & (wbr.insn[7:12] == rs2), wbr.res, rp2.data))
        d = self._decode(m, insn, idr.pc, rv1, rv2)
        trap = Signal()
        cause = Signal(Cause)
        m.d.comb += [trap.eq(d.trap), cause.eq(d.cause)]
        with m.If(idr.fault):
            m.d.comb += [trap.eq(1), cause.eq(Cause.FETCH_FAULT)]
        with m.Elif(d.illegal):
            m.d.comb += [trap.eq(1), cause.eq(Cause.ILLEGAL)]

        # Releasing a thread: an instruction that cannot trap lets its thread issue again now,
        # at its next pc; its result reaches the next instruction through the bypass from
        # write-back. ALU instructions and FENCE go on at pc + 4; a JAL at its target; a
        # backward branch whose target is in the same line is predicted taken (a loop) and goes
        # on at its target, execute checking the prediction. Targets must be 4-byte aligned
        # (else execute traps). Other branches and JALR wait for execute.
        imm_b = sext(Cat(Const(0, 1), insn[8:12], insn[25:31], insn[7], insn[31]), 13)
        imm_j = sext(Cat(Const(0, 1), insn[21:31], insn[20], insn[12:20], insn[31]), 21)
        seq_pc, _ = prefix_add(m, idr.pc, 4, width=XLEN, name="link")
        off = Mux(insn[3], imm_j, imm_b)  # insn[3]: JAL rather than BRANCH
        target_id, _ = prefix_add(m, idr.pc, off, width=XLEN, name="target")
        # Whether the target is in the pc's line, without the adder: the offset's bits above the
        # line are all 0 (all 1) and the low bits do not (do) carry; and the pc is not the
        # line's last word (whose issue replaced the line by a prefetch of the next).
        high = off[LINE_BITS:21]  # imm_j/imm_b are sign-extended from bit 20/12
        carry = (idr.pc[2:LINE_BITS] + off[2:LINE_BITS])[LINE_BITS - 2]
        in_line = (Mux(carry, high == (1 << len(high)) - 1, high == 0)
                   & (idr.pc[2:LINE_BITS] != (1 << (LINE_BITS - 2)) - 1))
        is_jal = (d.kind == Kind.JUMP) & insn[3]
        predicted = is_jal | ((d.kind == Kind.BRANCH) & insn[31] & in_line)
        release = idr.valid & ~trap & ((d.kind == Kind.ALU) | (d.kind == Kind.NOP)
                                       | (predicted & ~off[1]))
        # A JAL to another line: ask for that line as execute does.
        m.d.comb += [self.release.eq(release), self.next_pc.eq(Mux(predicted, target_id, seq_pc)),
                     self.ask.eq(release & predicted & ~in_line),
                     self.ask_line.eq(target_id[LINE_BITS:])]
        # The multiplier's operands, in registers of their own that change only for a
        # multiplication: its tree starts from them in execute.
        with m.If(idr.valid & (d.kind == Kind.MUL)):
            m.d.sync += [self.mul_a.eq(d.a), self.mul_b.eq(d.b)]
        m.d.sync += [
            exr.valid.eq(idr.valid), exr.thread.eq(idr.thread), exr.pc.eq(idr.pc),
            exr.insn.eq(insn), exr.kind.eq(d.kind), exr.op.eq(d.op), exr.word.eq(d.word),
            exr.a.eq(d.a), exr.b.eq(d.b), exr.rs2.eq(rv2), exr.target.eq(target_id),
            exr.link.eq(seq_pc), exr.predicted.eq(predicted),
            exr.rd_en.eq(d.rd_en & (rd != 0)), exr.trap.eq(trap), exr.cause.eq(cause),
            exr.csr.eq(d.csr), exr.csr_writes.eq(d.csr_writes), exr.released.eq(release),
        ]
        return m

    @staticmethod
    def _decode(m, insn, pc, rv1, rv2):
        """The decoded fields of ``insn`` (read values ``rv1``, ``rv2``), combinational."""
        d = Signal(data.StructLayout({
            "kind": Kind, "op": AluOp, "word": 1, "a": XLEN, "b": XLEN, "rd_en": 1,
            "illegal": 1, "trap": 1, "cause": Cause, "csr": CsrSel,
            "csr_writes": 1,
        }))
        opcode, f3 = insn[0:7], insn[12:15]
        rs1, f7 = insn[15:20], insn[25:32]
        imm_i = sext(insn[20:32], 12)
        imm_s = sext(Cat(insn[7:12], insn[25:32]), 12)
        imm_u = sext(Cat(Const(0, 12), insn[12:32]), 32)
        m.d.comb += [d.a.eq(rv1), d.b.eq(rv2), d.kind.eq(Kind.ALU), d.op.eq(AluOp.ADD)]

        def alu_ops(with_sub, word_form):
            """OP/OP-IMM decoding of funct3 (and funct7 bit 5 for SUB/SRA)."""
            alt = insn[30]
            ops = {Funct3.SLL: AluOp.SLL, Funct3.SLT: AluOp.SLT, Funct3.SLTU: AluOp.SLTU,
                   Funct3.XOR: AluOp.XOR, Funct3.OR: AluOp.OR, Funct3.AND: AluOp.AND}
            with m.Switch(f3):
                with m.Case(Funct3.ADD):
                    m.d.comb += d.op.eq(Mux(alt & with_sub, AluOp.SUB, AluOp.ADD))
                with m.Case(Funct3.SR):
                    m.d.comb += d.op.eq(Mux(alt, AluOp.SRA, AluOp.SRL))
                    if word_form:
                        m.d.comb += d.a.eq(Mux(alt, sext(rv1, 32), rv1[:32]))
                for funct3, op in ops.items():
                    with m.Case(funct3):
                        m.d.comb += d.op.eq(op)

        with m.Switch(opcode):
            with m.Case(Opcode.LUI):
                m.d.comb += [d.a.eq(0), d.b.eq(imm_u), d.rd_en.eq(1)]
            with m.Case(Opcode.AUIPC):
                m.d.comb += [d.a.eq(pc), d.b.eq(imm_u), d.rd_en.eq(1)]
            with m.Case(Opcode.JAL):
                m.d.comb += [d.kind.eq(Kind.JUMP), d.rd_en.eq(1)]
            with m.Case(Opcode.JALR):
                m.d.comb += [d.kind.eq(Kind.JUMP), d.b.eq(imm_i), d.rd_en.eq(1),
                             d.illegal.eq(f3 != 0)]
            with m.Case(Opcode.BRANCH):
                m.d.comb += [d.kind.eq(Kind.BRANCH),
                             d.illegal.eq(~_any_of(f3, BranchFunct3))]
            with m.Case(Opcode.LOAD):
                m.d.comb += [d.kind.eq(Kind.LOAD), d.b.eq(imm_i), d.rd_en.eq(1),
                             d.illegal.eq(~_any_of(f3, LoadFunct3))]
            with m.Case(Opcode.STORE):
                # StoreFunct3: 0..3.
                m.d.comb += [d.kind.eq(Kind.STORE), d.b.eq(imm_s), d.illegal.eq(f3[2])]
            with m.Case(Opcode.OP_IMM):
                m.d.comb += [d.b.eq(imm_i), d.rd_en.eq(1)]
                alu_ops(with_sub=False, word_form=False)
                funct6 = insn[26:32]
                with m.If(f3 == Funct3.SLL):
                    m.d.comb += d.illegal.eq(funct6 != 0)
                with m.If(f3 == Funct3.SR):
                    m.d.comb += d.illegal.eq((funct6 != 0) & (funct6 != SRAI_FUNCT6))
            with m.Case(Opcode.OP_IMM_32):
                m.d.comb += [d.b.eq(imm_i), d.rd_en.eq(1), d.word.eq(1)]
                alu_ops(with_sub=False, word_form=True)
                m.d.comb += d.illegal.eq(
                    ~((f3 == Funct3.ADD) | ((f3 == Funct3.SLL) & (f7 == Funct7.BASE))
                      | ((f3 == Funct3.SR) & ((f7 == Funct7.BASE) | (f7 == Funct7.ALT)))))
            with m.Case(Opcode.OP):
                m.d.comb += d.rd_en.eq(1)
                with m.If(f7 == Funct7.MULDIV):
                    m.d.comb += d.kind.eq(Mux(f3[2], Kind.DIV, Kind.MUL))
                with m.Else():
                    alu_ops(with_sub=True, word_form=False)
                    m.d.comb += d.illegal.eq(
                        ~((f7 == Funct7.BASE)
                          | ((f7 == Funct7.ALT) & ((f3 == Funct3.ADD) | (f3 == Funct3.SR)))))
            with m.Case(Opcode.OP_32):
                m.d.comb += [d.rd_en.eq(1), d.word.eq(1)]
                with m.If(f7 == Funct7.MULDIV):
                    # MULW and the divisions (funct3 bit 2) only.
                    m.d.comb += [d.kind.eq(Mux(f3[2], Kind.DIV, Kind.MUL)),
                                 d.illegal.eq((f3 != 0) & ~f3[2])]
                with m.Else():
                    alu_ops(with_sub=True, word_form=True)
                    m.d.comb += d.illegal.eq(
                        ~(((f7 == Funct7.BASE)
                           & ((f3 == Funct3.ADD) | (f3 == Funct3.SLL) | (f3 == Funct3.SR)))
                          | ((f7 == Funct7.ALT) & ((f3 == Funct3.ADD) | (f3 == Funct3.SR)))))
            with m.Case(Opcode.MISC_MEM):
                m.d.comb += [d.kind.eq(Mux(f3[0], Kind.FENCE_I, Kind.NOP)),
                             d.illegal.eq(~_any_of(f3, FenceFunct3))]
            with m.Case(Opcode.SYSTEM):
                with m.If(f3[:2] != 0):  # CSR instructions (CsrFunct3)
                    m.d.comb += [d.kind.eq(Kind.CSR), d.rd_en.eq(1),
                                 d.a.eq(Mux(f3[2], rs1, rv1)),
                                 d.csr_writes.eq((f3[:2] == CsrFunct3.CSRRW) | (rs1 != 0))]
                    m.d.comb += d.illegal.eq(1)
                    with m.Switch(insn[20:32]):
                        for number, (sel, read_only) in CSR_DECODE.items():
                            with m.Case(number):
                                m.d.comb += [d.csr.eq(sel),
                                             d.illegal.eq(d.csr_writes & read_only)]
                with m.Elif(insn == FixedInsn.ECALL):
                    m.d.comb += [d.trap.eq(1), d.cause.eq(Cause.ECALL_M)]
                with m.Elif(insn == FixedInsn.EBREAK):
                    m.d.comb += [d.trap.eq(1), d.cause.eq(Cause.BREAKPOINT)]
                with m.Elif(insn == FixedInsn.MRET):
                    m.d.comb += d.kind.eq(Kind.MRET)
                with m.Else():
                    m.d.comb += d.illegal.eq(1)
            with m.Case(*CUSTOM_OPCODES):
                m.d.comb += [d.kind.eq(Kind.CUSTOM), d.rd_en.eq(1)]
            with m.Default():
                m.d.comb += d.illegal.eq(1)
        return d


def _any_of(value, table):
    """Whether ``value`` is one of the values of enum ``table``."""
    return Cat(value == member for member in table).any()
