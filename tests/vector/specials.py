"""Shared helper of the vector model tests: operand tuples drawn from a list of special codes."""

import numpy as np


def special_combinations(specials, arity, rng, triples=3000):
    """Operand arrays covering ``specials``: every ordered pair (``arity`` 2), or ``triples``
    tuples drawn at random from them (``arity`` 3)."""
    n = len(specials)
    if arity == 2:
        ia, ib = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        return [specials[ia.ravel()], specials[ib.ravel()]]
    return [specials[rng.integers(0, n, triples)] for _ in range(arity)]
