"""Bit-exact reference model of d1core's vector unit (``verif.vector.model``): 64-byte vectors,
FP32 and INT8/16/32 lanes. No simulator is needed to import it."""
