"""The scalar core's programs: their memory layout, the result convention, and the list of them.

The sources live beside this file (``crt0.S``, ``link.ld``, ``d1.h``, ``test_macros.h``,
``isa/*.S``, ``c/*.c``); :mod:`verif.scalar.riscv` builds them with Debian's RISC-V GCC. The
constants here are the one definition of the layout: the build passes them to the compiler
(``-D``) and the linker (``--defsym``), and the loader and the runners use them too.

Result convention (as the official RISC-V tests in their "p" environment): a program ends by
writing the 64-bit word at its ``tohost`` symbol. 1 means pass; an odd value 2n + 1 means failure
of test n. crt0's default trap handler writes ``mepc << 8 | mcause << 1 | TRAP_TAG`` for a trap
the program did not expect; :func:`describe` decodes all of these.
"""

from pathlib import Path

from amaranth.hdl import Shape
from amaranth.lib import data

from hw.core import isa
from hw.fp.formats import FormatCode
from hw.matmul.array import OperandConfig
from hw.scalar.isa import MAX_THREADS, RAM_BASE, Csr
from hw.vector.isa import VecOp, VecType

__all__ = ["C_PROGRAMS", "DIR", "ISA_TESTS", "RAM_BASE", "RAM_SIZE", "STACK_SIZE", "TRAP_TAG",
           "THREAD_VARIANTS", "CAUSES", "DEFAULT_MAX_CYCLES", "ISA_LAYOUTS", "defines",
           "describe", "failing_test", "isa_defines"]

#: The directory of the sources.
DIR = Path(__file__).resolve().parent

#: Memory the programs are linked for: ``RAM_SIZE`` bytes from ``RAM_BASE`` (the ISS's memory).
RAM_SIZE = 1 << 20
#: Stack bytes of each hardware thread (crt0 gives thread i the i-th of MAX_THREADS stacks).
STACK_SIZE = 4096
#: Low byte of tohost after an unexpected trap: bit 7 set, bit 0 clear (never a pass or test).
TRAP_TAG = 0x80

#: The per-instruction assembly tests, by name (``isa/<name>.S``).
ISA_TESTS = tuple(sorted(p.stem for p in (DIR / "isa").glob("*.S")))
#: The C programs (``c/<name>.c``); each is built for 1 and for 4 worker threads.
C_PROGRAMS = ("sort", "crc", "matmul")
THREAD_VARIANTS = (1, MAX_THREADS)
#: Cycles after which a run of a program stops as a timeout (``d1core run``, the scalar bench).
DEFAULT_MAX_CYCLES = 2_000_000

#: Trap causes by number (RISC-V privileged spec, table 3.6), for messages.
CAUSES = {
    0: "instruction address misaligned", 1: "instruction access fault",
    2: "illegal instruction", 3: "breakpoint", 4: "load address misaligned",
    5: "load access fault", 6: "store address misaligned", 7: "store access fault",
    11: "environment call from M-mode",
}


def defines():
    """The preprocessor constants every program is built with (name -> value): the layout above
    and the core's instruction set (:func:`isa_defines`)."""
    return {
        "D1_CSR_MTHREADCTL": hex(Csr.MTHREADCTL),
        "D1_CSR_MTHREADPC": hex(Csr.MTHREADPC),
        "D1_MAX_THREADS": str(MAX_THREADS),
        "D1_RAM_BASE": hex(RAM_BASE),
        "D1_RAM_SIZE": hex(RAM_SIZE),
        "D1_STACK_SIZE": str(STACK_SIZE),
        "D1_TRAP_TAG": hex(TRAP_TAG),
        **isa_defines(),
    }


#: The layouts d1core.h builds values of, by the prefix of their constants.
ISA_LAYOUTS = {"SIG": isa.Signal, "VCFG": isa.VectorConfig, "VSTRIDE": isa.VectorStrides,
               "OPCFG": OperandConfig, "GEMM": isa.GemmDescriptor, "DMA": isa.DmaDescriptor}


def isa_defines():
    """The constants of ``hw/core/isa.py`` for d1core.h: ``D1_OP_<UNIT>`` (major opcodes),
    ``D1_F3_<FN>`` (funct3 of each instruction), ``D1_VOP_<OP>``, ``D1_VT_<TYPE>``,
    ``D1_FMT_<FORMAT>``, ``D1_ERR_<CODE>``, ``D1_CTR_<COUNTER>``, ``D1_SEMAPHORES``,
    ``D1_STATUS_NETWORK``, ``D1_DESCRIPTOR_BYTES``, and for each field of each layout of
    :data:`ISA_LAYOUTS`
    ``D1_<LAYOUT>_<FIELD>_SHIFT`` and ``_BITS`` (bit offset and width)."""
    out = {f"D1_OP_{u.name}": hex(u.value) for u in isa.Unit}
    for table in (isa.MatrixFn, isa.VectorFn, isa.DmaFn, isa.SyncFn):
        out.update({f"D1_F3_{f.name}": str(f.value) for f in table})
    out.update({f"D1_VOP_{o.name}": str(o.value) for o in VecOp})
    out.update({f"D1_VT_{t.name}": str(t.value) for t in VecType})
    out.update({f"D1_FMT_{f.name}": str(f.value) for f in FormatCode})
    out.update({f"D1_ERR_{e.name}": str(e.value) for e in isa.Error})
    # every name, the aliases included (a thread's reason numbers repeat a unit's causes)
    out.update({f"D1_CTR_{name}": str(c.value) for name, c in isa.Counter.__members__.items()})
    out["D1_SEMAPHORES"] = str(isa.SEMAPHORES)
    out["D1_STATUS_NETWORK"] = str(isa.STATUS_NETWORK)
    out["D1_DESCRIPTOR_BYTES"] = str(isa.DESCRIPTOR_BYTES)
    for prefix, layout in ISA_LAYOUTS.items():
        for name, f in data.Layout.cast(layout):
            key = f"D1_{prefix}_{name.upper()}"
            out[f"{key}_SHIFT"] = str(f.offset)
            out[f"{key}_BITS"] = str(Shape.cast(f.shape).width)
    return out


def failing_test(tohost):
    """The failing test number n of tohost = 2n + 1 (n >= 1), else None."""
    return tohost >> 1 if tohost & 1 and tohost > 1 else None


def describe(tohost):
    """A one-line reading of a final tohost value."""
    if tohost == 0:
        return "no result (tohost is 0)"
    if tohost == 1:
        return "pass"
    if tohost & 1:
        return f"fail: test {tohost >> 1}"
    if tohost & 0x81 == TRAP_TAG:
        cause = (tohost >> 1) & 0x3F
        name = CAUSES.get(cause, "unknown cause")
        return f"fail: unexpected trap, cause {cause} ({name}) at pc {tohost >> 8:#x}"
    return f"fail: tohost = {tohost:#x}"
