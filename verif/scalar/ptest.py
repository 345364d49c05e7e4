"""Self-checking assembly tests in the convention of the RISC-V ISA tests' "p" environment.

:func:`ptest_image` lays out cases one after the other: each case's instructions leave a value in
``x10``; the value is compared with the case's expected value (loaded into ``x11``) and, on a
mismatch, the program writes ``2n + 1`` (n = the case's number, from 1) to ``tohost``. After the
last case it writes 1. ``x12`` holds the case number, ``x13``/``x14`` are the fail path's.
"""

from . import asm as A
from .iss import RAM_BASE

__all__ = ["ptest_image", "TOHOST", "PTEST_DATA"]

TOHOST = RAM_BASE + 0xF0000
#: A data region the cases may use.
PTEST_DATA = RAM_BASE + 0x80000


def ptest_image(cases, *, prologue=(), extra=()):
    """Image and tohost of a program running ``cases`` (a list of ``(words, expected)``, words
    a list of instruction words that leave the result in x10). ``prologue`` words run first;
    ``extra`` is a list of more ``(address, bytes)`` segments (handlers, data)."""
    words = list(prologue)
    fail_jumps = []
    for n, (insns, expected) in enumerate(cases, start=1):
        words += A.li(12, n)
        words += list(insns)
        words += A.li(11, expected)
        words.append(A.beq(10, 11, 8))
        fail_jumps.append(len(words))
        words.append(0)  # jal x0, fail: patched below
    words += [*A.li(13, TOHOST), A.addi(14, 0, 1), A.sd(14, 0, 13), A.jal(0, 0)]
    fail = len(words)
    words += [A.slli(14, 12, 1), A.addi(14, 14, 1), *A.li(13, TOHOST), A.sd(14, 0, 13),
              A.jal(0, 0)]
    for i in fail_jumps:
        words[i] = A.jal(0, 4 * (fail - i))
    return [(RAM_BASE, A.program(*words)), *extra], TOHOST
