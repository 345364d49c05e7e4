"""Functional coverage of the scalar core (docs/scalar.md): every instruction retired on every
thread, every trap cause on every thread, and which instructions raised which cause.

A sample is one retire record of the RTL's trace (thread, pc, instruction word, trap cause),
once the lockstep comparison with the ISS found the whole trace equal to the ISS's
(:func:`sample_retires`, called by ``verif/scalar/core_tb.py``'s ``lockstep``). The instruction
is named from its word by the ISA tables of ``hw/scalar/isa.py`` (RV64IM, Zicsr, Zifencei,
``mret``; ``custom``: the four custom opcodes, the coprocessor's; ``illegal``: anything else).
Threads are those of the 4-thread core the Verilator tests build.

Exclusions in the ``instruction_cause`` cross (docs/scalar.md, "Traps"): a load raises only
the load causes, a store only the store causes, a jump or branch only a misaligned target,
``ecall`` and ``ebreak`` their own cause, an illegal or custom word (the coprocessor refusing
it) and a CSR access (an unimplemented CSR, a write to a read-only one) only Illegal; a fetch
fault has no instruction word (it is the ``fetch`` bin); a byte access is never misaligned.
The ``instruction`` point holds what can retire without a trap (not ``ecall``, ``ebreak``, an
illegal word), the ``trapped`` point what can trap.
"""

from hw.scalar.isa import (
    BranchFunct3,
    Cause,
    CsrFunct3,
    FixedInsn,
    LoadFunct3,
    MulDivFunct3,
    Opcode,
    StoreFunct3,
)

from . import Cross, Group, Point, record, requested

__all__ = ["SCALAR", "GROUPS", "INSTRUCTIONS", "instruction_name", "sample_retires"]

THREADS = 4

_OP_IMM = {0: "addi", 1: "slli", 2: "slti", 3: "sltiu", 4: "xori", 5: "srli", 6: "ori", 7: "andi"}
_OP = {0: "add", 1: "sll", 2: "slt", 3: "sltu", 4: "xor", 5: "srl", 6: "or", 7: "and"}
_OP_32 = {0: "addw", 1: "sllw", 5: "srlw"}
_MULDIV_32 = {0: "mulw", 4: "divw", 5: "divuw", 6: "remw", 7: "remuw"}

INSTRUCTIONS = (
    "lui", "auipc", "jal", "jalr",
    *(f.name.lower() for f in BranchFunct3), *(f.name.lower() for f in LoadFunct3),
    *(f.name.lower() for f in StoreFunct3),
    "addi", "slti", "sltiu", "xori", "ori", "andi", "slli", "srli", "srai",
    "addiw", "slliw", "srliw", "sraiw",
    "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and",
    "addw", "subw", "sllw", "srlw", "sraw",
    *(f.name.lower() for f in MulDivFunct3), *_MULDIV_32.values(),
    "fence", "fence.i", "ecall", "ebreak", "mret",
    *(f.name.lower() for f in CsrFunct3),
    "custom", "illegal",
)
CAUSES = tuple(c.name.lower() for c in Cause)
_LOADS = {f.name.lower() for f in LoadFunct3}
_STORES = {f.name.lower() for f in StoreFunct3}
_JUMPS = {"jal", "jalr", *(f.name.lower() for f in BranchFunct3)}
_CSRS = {f.name.lower() for f in CsrFunct3}


def instruction_name(insn):
    """The instruction's name (a bin of ``INSTRUCTIONS``) from its 32-bit word."""
    op, f3, f7 = insn & 0x7F, insn >> 12 & 7, insn >> 25
    alt = insn >> 30 & 1
    try:
        opcode = Opcode(op)
    except ValueError:
        return "illegal"
    name = None
    if opcode is Opcode.LUI:
        name = "lui"
    elif opcode is Opcode.AUIPC:
        name = "auipc"
    elif opcode is Opcode.JAL:
        name = "jal"
    elif opcode is Opcode.JALR:
        name = "jalr" if f3 == 0 else None
    elif opcode is Opcode.BRANCH:
        name = BranchFunct3(f3).name.lower() if f3 in set(BranchFunct3) else None
    elif opcode is Opcode.LOAD:
        name = LoadFunct3(f3).name.lower() if f3 in set(LoadFunct3) else None
    elif opcode is Opcode.STORE:
        name = StoreFunct3(f3).name.lower() if f3 in set(StoreFunct3) else None
    elif opcode is Opcode.OP_IMM:
        name = "srai" if f3 == 5 and alt else _OP_IMM[f3]
    elif opcode is Opcode.OP_IMM_32:
        name = {0: "addiw", 1: "slliw", 5: "sraiw" if alt else "srliw"}.get(f3)
    elif opcode is Opcode.OP:
        if f7 == 1:
            name = MulDivFunct3(f3).name.lower()
        else:
            name = {0: "sub", 5: "sra"}[f3] if alt and f3 in (0, 5) else _OP[f3]
    elif opcode is Opcode.OP_32:
        if f7 == 1:
            name = _MULDIV_32.get(f3)
        else:
            name = {0: "subw", 5: "sraw"}.get(f3) if alt else _OP_32.get(f3)
    elif opcode is Opcode.MISC_MEM:
        name = {0: "fence", 1: "fence.i"}.get(f3)
    elif opcode is Opcode.SYSTEM:
        fixed = {FixedInsn.ECALL: "ecall", FixedInsn.EBREAK: "ebreak", FixedInsn.MRET: "mret"}
        name = fixed.get(insn) if f3 == 0 else (
            CsrFunct3(f3).name.lower() if f3 in set(CsrFunct3) else None)
    else:
        name = "custom"
    return name or "illegal"


def _instruction_cause(c):
    insn, cause = c["instruction"], c["cause"]
    if insn == "fetch":
        return None if cause == "fetch_fault" else "a fetch fault has no instruction word"
    if cause == "fetch_fault":
        return "a fetch fault has no instruction word"
    if insn in ("lb", "lbu", "sb") and cause in ("load_misaligned", "store_misaligned"):
        return "a byte access is never misaligned"
    allowed = ({"load_misaligned", "load_fault"} if insn in _LOADS else
               {"store_misaligned", "store_fault"} if insn in _STORES else
               {"fetch_misaligned"} if insn in _JUMPS else
               {"ecall_m"} if insn == "ecall" else {"breakpoint"} if insn == "ebreak" else
               {"illegal"} if insn in ("illegal", "custom") or insn in _CSRS else set())
    if cause in allowed:
        return None
    return "this instruction never traps" if not allowed else \
        "loads, stores, jumps, ecall, ebreak, CSR and illegal words raise their own causes only"


#: What can retire without a trap (ecall, ebreak and an illegal word always trap) and what can
#: trap (loads, stores, jumps and branches, ecall, ebreak, CSR accesses, custom and illegal
#: words; ``fetch``: a fetch fault).
RETIRING = tuple(i for i in INSTRUCTIONS if i not in ("ecall", "ebreak", "illegal"))
TRAPPING = tuple(i for i in INSTRUCTIONS if i in _LOADS | _STORES | _JUMPS | _CSRS
                 | {"ecall", "ebreak", "custom", "illegal"}) + ("fetch",)

SCALAR = Group(
    "scalar.core",
    "one retire record of the RTL's trace (thread, instruction word, trap cause), once the "
    "whole trace equalled the ISS's in lockstep (verif/scalar/core_tb.py)",
    points=(
        Point("instruction", RETIRING, "the instruction retired without a trap"),
        Point("thread", tuple(str(t) for t in range(THREADS)), "the thread"),
        Point("cause", CAUSES, "the cause of a trap"),
        Point("trapped", TRAPPING, "the instruction that trapped ('fetch': the fetch "
              "faulted)"),
    ),
    crosses=(
        Cross("instruction_thread", ("instruction", "thread"),
              "every instruction retired on every thread"),
        Cross("cause_thread", ("cause", "thread"), "every trap cause on every thread"),
        Cross("instruction_cause", ("trapped", "cause"), "which instruction raised which cause",
              lambda c: _instruction_cause({"instruction": c["trapped"], "cause": c["cause"]})),
    ),
)


def sample_retires(records):
    """Sample retire records (``verif.scalar.iss.Retire``: ``thread``, ``insn``, ``trap``).
    Does nothing unless functional coverage is on."""
    if requested() is None:
        return
    samples = set()
    for r in records:
        name = None if r.insn is None else instruction_name(r.insn)
        thread = str(r.thread) if 0 <= r.thread < THREADS else None
        if r.trap is None:
            samples.add((name, thread, None, None))
        else:
            cause = Cause(r.trap).name.lower() if r.trap in set(Cause) else None
            samples.add((None, thread, cause, name or "fetch"))
    record(SCALAR, sorted(samples, key=repr))


GROUPS = (SCALAR,)
