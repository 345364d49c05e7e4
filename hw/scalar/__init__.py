"""The scalar core: an RV64IM + Zicsr barrel-threaded core (docs/scalar.md)."""
