"""Primitives under every block of d1core: integer arithmetic built for depth (``arith``),
pipeline registers (``pipeline``), the round-robin arbiter and its model (``arbiter``),
elaboration-time parameter checks (``params``) and sub-blocks converted once (``shared``).
Nothing here imports a block package."""
