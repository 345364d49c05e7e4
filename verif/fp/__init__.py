"""Bit-exact reference models of d1core's number formats and of its conversion unit.

``verif.fp.formats`` (decode, widen, narrow), ``verif.fp.rng`` (the stochastic-rounding random
generator) and ``verif.fp.convert`` (the conversion unit, request by request). No simulator is
needed to import them. The contract they implement is ``docs/formats.md``.
"""
