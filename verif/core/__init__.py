"""Reference models of the D1 core (``hw/core``): :mod:`verif.core.model` is the scalar ISS with
the coprocessor that executes every custom instruction of ``hw.core.isa``."""
