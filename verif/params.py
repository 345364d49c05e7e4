"""Parameter checks of the models and testbenches: :mod:`hw.common.params`'s, widened to numpy.

A model's parameters often come out of numpy arrays (a field of a request record, a dimension of
a shape), so an integer here is a Python ``int`` or a numpy integer; the messages are
:mod:`hw.common.params`'s (``TypeError`` for a value of the wrong kind, ``ValueError`` for one out
of range, "..., not X").
"""

import numpy as np

from hw.common.params import check_int

__all__ = ["check_index", "check_at_least", "check_int_array"]


def _plain(value):
    # A numpy integer is an integer; numpy's bool is not (np.bool_ is no np.integer).
    return int(value) if isinstance(value, np.integer) else value


def check_index(name, value, lo, hi):
    """``value`` as an ``int`` if it is a Python or numpy integer in ``lo..hi``."""
    return check_int(name, _plain(value), lo, hi)


def check_at_least(name, value, lo):
    """``value`` as an ``int`` if it is a Python or numpy integer of at least ``lo``."""
    value = _plain(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < lo:
        raise ValueError(f"{name} must be at least {lo}, not {value!r}")
    return value


def check_int_array(name, values):
    """``values`` as a numpy array if its dtype is an integer one (not bool)."""
    a = np.asarray(values)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array, not an array of {a.dtype}")
    return a
