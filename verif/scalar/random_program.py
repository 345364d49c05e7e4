"""Random multi-threaded programs for the lockstep tests of the scalar core.

:func:`random_program` returns an image (``[(address, bytes)]``) and its ``tohost`` address. Thread
0 boots: sets ``mtvec`` to a trap handler that skips the faulting instruction, points
``mthreadpc`` at the common thread entry and starts every other thread. Each thread then jumps to
its own random body (chosen by ``mhartid``): every RV64IM instruction with random registers and
immediates, loads and stores (all widths) into a private region and a region all threads share,
short forward branches and jumps (taken or not), CSR accesses, coprocessor instructions, fences,
and instructions that trap (illegal encodings, an unimplemented CSR, a write to a read-only CSR,
misaligned loads and stores, accesses outside memory, a misaligned jump, ``ecall``, ``ebreak``).
At the end threads 1.. stop themselves; thread 0 waits until they have, then writes 1 to tohost.

The layout fits ``memory`` bytes from ``RAM_BASE``: :data:`LAYOUT` (the module's constants) for
the scalar core's 1 MB and anything larger, :data:`SMALL_LAYOUT` (bodies of 8 KB) for 64 KB up to
1 MB, such as the SMALL D1 core's scratchpad (``d1core fuzz --kind scalar``).

Register use: x1..x27 random; x28 scratch for jumps; x29 the trap handler's; x30 the shared
region; x31 the private region.
"""

import random
from typing import NamedTuple

from hw.common.params import check_int
from hw.scalar.isa import RAM_BASE, Csr

from . import asm as A

__all__ = ["random_program", "Layout", "LAYOUT", "SMALL_LAYOUT", "HANDLER", "DATA", "SHARED",
           "TOHOST"]

HANDLER = RAM_BASE + 0x100
ENTRY = RAM_BASE + 0x200
BODY = RAM_BASE + 0x1000
BODY_SPAN = 0x10000
DATA = RAM_BASE + 0x80000
SHARED = RAM_BASE + 0x90000
TOHOST = RAM_BASE + 0xF0000
REGS = range(1, 28)


class Layout(NamedTuple):
    """Where a program's parts go: thread t's body at ``BODY + t·body_span`` (a power of two),
    its private region at ``data + t·0x1000``, the shared region and the tohost word."""
    body_span: int
    data: int
    shared: int
    tohost: int
    memory: int  # the least memory (bytes from RAM_BASE) it fits


#: The scalar core's layout (its 1 MB memory).
LAYOUT = Layout(BODY_SPAN, DATA, SHARED, TOHOST, 1 << 20)
#: For 64 KB (four bodies of 8 KB from BODY, the private regions above them).
SMALL_LAYOUT = Layout(0x2000, RAM_BASE + 0xA000, RAM_BASE + 0xE000, RAM_BASE + 0xF000, 1 << 16)

_ALU_RR = [A.add, A.sub, A.sll, A.slt, A.sltu, A.xor, A.srl, A.sra, A.or_, A.and_, A.addw,
           A.subw, A.sllw, A.srlw, A.sraw, A.mul, A.mulh, A.mulhsu, A.mulhu, A.mulw, A.div,
           A.divu, A.rem, A.remu, A.divw, A.divuw, A.remw, A.remuw]
_ALU_RI = [A.addi, A.slti, A.sltiu, A.xori, A.ori, A.andi, A.addiw]
_SHIFT_I = [(A.slli, 63), (A.srli, 63), (A.srai, 63), (A.slliw, 31), (A.srliw, 31),
            (A.sraiw, 31)]
_LOADS = [(A.lb, 1), (A.lh, 2), (A.lw, 4), (A.ld, 8), (A.lbu, 1), (A.lhu, 2), (A.lwu, 4)]
_STORES = [(A.sb, 1), (A.sh, 2), (A.sw, 4), (A.sd, 8)]
_BRANCHES = [A.beq, A.bne, A.blt, A.bge, A.bltu, A.bgeu]
_CUSTOM = [A.custom0, A.custom1, A.custom2, A.custom3]
_ILLEGAL = [0x00000000, 0xFFFFFFFF, 0x10500073, A.csrrs(1, 0x123, 0), A.csrrw(2, Csr.MHARTID, 3),
            0x0000700F, 0x02007033]


def _value(rng):
    return rng.choice([0, 1, -1, 1 << 63, (1 << 63) - 1, 1 << 31, -(1 << 31),
                       rng.getrandbits(64), rng.getrandbits(64), rng.randrange(-100, 100)])


def _body(rng, n, *, allow_custom):
    """``n`` random instructions (lists of words; forward branches stay inside)."""
    out = []
    reg = lambda: rng.choice(REGS)  # noqa: E731
    for _ in range(n):
        kind = rng.random()
        if kind < 0.30:
            out.append([rng.choice(_ALU_RR)(reg(), reg(), reg())])
        elif kind < 0.42:
            out.append([rng.choice(_ALU_RI)(reg(), reg(), rng.randrange(-2048, 2048))])
        elif kind < 0.48:
            op, top = rng.choice(_SHIFT_I)
            out.append([op(reg(), reg(), rng.randrange(top + 1))])
        elif kind < 0.51:
            out.append([rng.choice([A.lui, A.auipc])(reg(), rng.randrange(1 << 20))])
        elif kind < 0.63:
            op, size = rng.choice(_LOADS)
            base, span = rng.choice([(31, 2040), (30, 256)])
            out.append([op(reg(), rng.randrange(0, span, size), base)])
        elif kind < 0.73:
            op, size = rng.choice(_STORES)
            base, span = rng.choice([(31, 2040), (30, 256)])
            out.append([op(reg(), rng.randrange(0, span, size), base)])
        elif kind < 0.80:
            skip = rng.randrange(1, 4)
            out.append([rng.choice(_BRANCHES)(reg(), reg(), 4 * (skip + 1))])
            out.extend([[A.addi(reg(), reg(), rng.randrange(-50, 50))] for _ in range(skip)])
        elif kind < 0.82:
            out.append([A.jal(rng.choice([0, reg()]), 8), A.addi(reg(), reg(), 1)])
        elif kind < 0.84:
            out.append([A.auipc(28, 0), A.jalr(rng.choice([0, reg()]), 28, 12),
                        A.addi(reg(), reg(), 1)])
        elif kind < 0.88:
            csr = rng.choice([Csr.MSCRATCH, Csr.MSTATUS, Csr.MEPC, Csr.MTVAL, Csr.MINSTRET,
                              Csr.MHARTID, Csr.MCYCLE])
            op = rng.choice([A.csrrs, A.csrrc, A.csrrw]) if csr != Csr.MHARTID else A.csrrs
            src = 0 if csr in (Csr.MHARTID, Csr.MCYCLE, Csr.MINSTRET) else reg()
            out.append([op(reg(), csr, src)])
        elif kind < 0.90 and allow_custom:
            out.append([rng.choice(_CUSTOM)(reg(), reg(), reg(), rng.randrange(128),
                                            rng.randrange(8))])
        elif kind < 0.92:
            out.append([rng.choice([A.fence(), A.fence_i()])])
        else:
            trap = rng.random()
            if trap < 0.3:
                out.append([rng.choice(_ILLEGAL)])
            elif trap < 0.5:
                op, size = rng.choice([x for x in _LOADS + _STORES if x[1] > 1])
                out.append([op(reg(), rng.randrange(1, 1024, 2) if size > 2 else 1, 31)])
            elif trap < 0.7:
                op, _ = rng.choice(_LOADS + _STORES)
                out.append([op(reg(), rng.randrange(0, 2040, 8), 0)])  # address < RAM_BASE
            elif trap < 0.8:
                out.append([A.auipc(28, 0), A.jalr(0, 28, 10)])  # lands on pc + 8: misaligned
            else:
                out.append([rng.choice([A.ecall(), A.ebreak()])])
    return [w for group in out for w in group]


def random_program(seed, *, threads=4, length=300, allow_custom=True, memory=LAYOUT.memory):
    """A random program for ``threads`` threads of ``length`` body instructions each, for a
    memory of ``memory`` bytes from ``RAM_BASE`` (at least 64 KB; the layout is the module
    docstring's); returns ``(image, tohost)``. The same seed and length give the same
    instructions in either layout."""
    check_int("memory", memory, SMALL_LAYOUT.memory, 1 << 40)
    lay = LAYOUT if memory >= LAYOUT.memory else SMALL_LAYOUT
    rng = random.Random(seed)
    boot = [*A.li(1, HANDLER), A.csrrw(0, Csr.MTVEC, 1), *A.li(1, ENTRY),
            A.csrrw(0, Csr.MTHREADPC, 1), A.addi(1, 0, (1 << threads) - 2),
            A.csrrs(0, Csr.MTHREADCTL, 1)]
    boot.append(A.jal(0, ENTRY - (RAM_BASE + 4 * len(boot))))
    handler = [A.csrrs(29, Csr.MEPC, 0), A.addi(29, 29, 4), A.csrrw(0, Csr.MEPC, 29), A.mret()]
    # Entry, every thread: mtvec (per thread), x31 = private region, x30 = shared region,
    # then a jump to the thread's body.
    entry = [*A.li(1, HANDLER), A.csrrw(0, Csr.MTVEC, 1), A.csrrs(5, Csr.MHARTID, 0),
             *A.li(31, lay.data), A.slli(6, 5, 12), A.add(31, 31, 6), *A.li(30, lay.shared),
             *A.li(7, BODY), A.slli(6, 5, lay.body_span.bit_length() - 1), A.add(7, 7, 6),
             A.jalr(0, 7, 0)]
    image = [(RAM_BASE, A.program(*boot)), (HANDLER, A.program(*handler)),
             (ENTRY, A.program(*entry))]
    for t in range(threads):
        init = [w for r in REGS for w in A.li(r, _value(rng))]
        body = _body(rng, length, allow_custom=allow_custom)
        if t == 0:
            # Wait until the other threads have stopped, then pass.
            end = [A.csrrs(1, Csr.MTHREADCTL, 0), A.addi(2, 0, 1), A.bne(1, 2, -8),
                   *A.li(3, lay.tohost), A.addi(4, 0, 1), A.sd(4, 0, 3), A.jal(0, 0)]
        else:
            end = [A.addi(1, 0, 1 << t), A.csrrc(0, Csr.MTHREADCTL, 1), A.jal(0, 0)]
        code = A.program(init + body + end)
        if len(code) > lay.body_span:
            raise ValueError(f"length {length} makes a body longer than {lay.body_span:#x} "
                             "bytes")
        image.append((BODY + t * lay.body_span, code))
        # Some data in the regions so loads see non-zero bytes.
        image.append((lay.data + t * 0x1000, rng.randbytes(2048)))
    image.append((lay.shared, rng.randbytes(256)))
    return image, lay.tohost
