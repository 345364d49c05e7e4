"""The D1 core's verification side: :mod:`verif.core.model` (the scalar ISS with the coprocessor
that executes every custom instruction of ``hw.core.isa``), :mod:`verif.core.dma_model` (the DMA
engine's descriptor semantics), the bench (:mod:`verif.core.core_tb`, :mod:`verif.core.run`),
the counters report (:mod:`verif.core.counters`), random programs
(:mod:`verif.core.random_programs`), the units' behavioural scratchpad
(:mod:`verif.core.scratchpad_model`) and the kernels (:mod:`verif.core.kernels`)."""
