"""Reference models of d1core's SRAM scratchpad: ``verif.sram.ecc``, the (72, 64) Hsiao SECDED
code in numpy, and ``verif.sram.model``, the cycle-level model of the scratchpad's ports, banks and
arbitration; plus the scratchpad's testbench parts (``harness``, ``scratchpad_tb``). No simulator
is needed to import the models."""
