"""Scoreboards: compare a design's output with its reference model, field by field, and report the
first mismatches in a form a person can read (each unit supplies how to describe one item)."""

import numpy as np

__all__ = ["Mismatch", "compare", "flags_str"]


class Mismatch(AssertionError):
    """The design's output differs from the reference model."""


def compare(expected, actual, *, describe, limit=8, what="results"):
    """Raise :class:`Mismatch` unless every field of ``expected`` equals ``actual``'s.

    ``expected`` and ``actual`` map field names to equal-length arrays; ``describe(i)`` returns a
    one-line description of item ``i`` (inputs, expected and actual, in hex and decoded).
    Returns the number of items checked.
    """
    names = list(expected)
    n = len(expected[names[0]])
    for name in names:
        if len(actual[name]) != n:
            raise Mismatch(f"{what}: {len(actual[name])} {name} values for {n} expected")
    bad = np.zeros(n, dtype=bool)
    differing = {}
    for name in names:
        diff = np.asarray(expected[name]).astype(object) != np.asarray(actual[name]).astype(object)
        differing[name] = int(diff.sum())
        bad |= diff
    count = int(bad.sum())
    if count:
        idx = np.flatnonzero(bad)[:limit]
        fields = ", ".join(f"{k}: {v}" for k, v in differing.items() if v)
        lines = "\n".join(f"  {describe(int(i))}" for i in idx)
        raise Mismatch(f"{count} of {n} {what} differ from the model ({fields}); first "
                       f"{len(idx)}:\n{lines}")
    return n


#: TestFloat's "infinite" (divide-by-zero) flag: no d1core flag, but vector files may carry it.
TESTFLOAT_FLAG_INFINITE = 0x08


def flags_str(flags):
    """Flags as letters: I invalid, Z infinite (TestFloat's 0x08, divide by zero: no d1core unit
    raises it, but a vector file may expect it), O overflow, U underflow, X inexact, D denormal;
    any other bit as ``+0x..``; '-' if none."""
    from hw.fp.formats import (
        FLAG_DENORMAL,
        FLAG_INEXACT,
        FLAG_INVALID,
        FLAG_OVERFLOW,
        FLAG_UNDERFLOW,
    )
    flags = int(flags)
    letters = (("I", FLAG_INVALID), ("Z", TESTFLOAT_FLAG_INFINITE), ("O", FLAG_OVERFLOW),
               ("U", FLAG_UNDERFLOW), ("X", FLAG_INEXACT), ("D", FLAG_DENORMAL))
    s = "".join(c for c, bit in letters if flags & bit)
    rest = flags & ~sum(bit for _, bit in letters)
    return (s + (f"+{rest:#x}" if rest else "")) or "-"
