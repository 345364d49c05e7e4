"""Primitives under every block of d1core: integer arithmetic built for depth (``arith``),
pipeline registers (``pipeline``), elaboration-time parameter checks (``params``) and sub-blocks
converted once (``shared``). Nothing here imports a block package."""
