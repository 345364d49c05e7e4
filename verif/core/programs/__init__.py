"""The core model's C programs (``*.c`` here): built with the scalar programs' flow
(:func:`verif.scalar.riscv.build`: crt0, link.ld, d1.h with d1core.h and the ISA's -D constants)
and run on :class:`verif.core.model.CoreModel` by ``tests/core/test_programs.py``."""

from pathlib import Path

from verif.scalar import riscv

__all__ = ["DIR", "PROGRAMS", "build"]

DIR = Path(__file__).resolve().parent
PROGRAMS = tuple(sorted(p.stem for p in DIR.glob("*.c")))


def build(name):
    """The ELF of ``<name>.c`` (cached by the flow)."""
    if name not in PROGRAMS:
        raise ValueError(f"no core program {name!r}; expected one of {', '.join(PROGRAMS)}")
    src = DIR / f"{name}.c"
    return riscv.build(f"core/{name}", [src], depends=[DIR / "common.h"])
