"""Validation of elaboration-time parameters, shared by every component of ``hw/``.

Each check returns the normalized value or raises with one exact message (``TypeError`` for a
value of the wrong kind, ``ValueError`` for one out of range); the tests compare the messages.
"""

__all__ = ["check_int", "check_bool"]


def check_int(name, value, lo, hi):
    """``value`` if it is an int in ``lo..hi``; else ``TypeError`` / ``ValueError``, one message."""
    message = f"{name} must be an integer in {lo}..{hi}, got {value!r}"
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(message)
    if not lo <= value <= hi:
        raise ValueError(message)
    return value


def check_bool(name, value):
    """``value`` if it is a bool; else ``TypeError``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {value!r}")
    return value
