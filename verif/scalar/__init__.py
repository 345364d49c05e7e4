"""Golden model of d1core's scalar control core: ``verif.scalar.iss`` (the RV64IM + Zicsr
instruction-set simulator, four hardware threads, machine-mode traps) and ``verif.scalar.asm`` (a
tiny assembler that writes test programs for it). No simulator is needed to import them."""
