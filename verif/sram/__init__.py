"""Reference models of d1core's SRAM scratchpad: so far ``verif.sram.ecc``, the (72, 64) Hsiao
SECDED code in numpy. No simulator is needed to import them."""
