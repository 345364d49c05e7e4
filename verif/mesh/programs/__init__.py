"""The mesh's C programs (``*.c`` here): one ELF that every core runs, finding its place in the
mesh in ``d1_place`` (``mesh.h``), which the host writes into each core's copy of the image
(:func:`verif.mesh.run.run_mesh_program`). Built with the scalar programs' flow
(:func:`verif.scalar.riscv.build`)."""

from pathlib import Path

from verif.scalar import riscv

__all__ = ["DIR", "PROGRAMS", "build", "PLACE_SYMBOL"]

DIR = Path(__file__).resolve().parent
PROGRAMS = tuple(sorted(p.stem for p in DIR.glob("*.c")))
#: The symbol of the place the host writes into each core: x, y, width, height (uint32 each).
PLACE_SYMBOL = "d1_place"


def build(name):
    """The ELF of ``<name>.c`` (cached by the flow)."""
    if name not in PROGRAMS:
        raise ValueError(f"no mesh program {name!r}; expected one of {', '.join(PROGRAMS)}")
    return riscv.build(f"mesh/{name}", [DIR / f"{name}.c"], depends=[DIR / "mesh.h"])
