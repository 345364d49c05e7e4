"""A performance model of the D1 core, die, training tile and ExaPOD (issue 19).

numpy only, no simulator: :mod:`.figures` reads the benches' measured figures
(``docs/results.json``, or ``docs/results.md``'s tables), :mod:`.params` turns them and the
published system figures (``../shared/reference/d1.md``) into the model's parameters,
:mod:`.core` (matrix engine, vector unit, SRAM, scalar), :mod:`.network` (mesh latency,
contention, multicast, dead cores), :mod:`.system` (die, tile, ExaPOD, workloads, H100) and
:mod:`.calibrate` (the checks against the stored RTL figures). docs/scale.md describes it.
"""
