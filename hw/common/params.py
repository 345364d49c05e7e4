"""Validation of elaboration-time parameters, shared by every component of ``hw/``.

Each check returns the value or raises with one exact message in Amaranth's own style:
``TypeError("n must be an integer, not 'x'")`` for a value of the wrong kind,
``ValueError("n must be in 1..64, not 0")`` for one out of range; the tests compare the
messages.
"""

__all__ = ["TAG_WIDTH_MAX", "check_int", "check_pow2", "check_bool", "check_tag_width",
           "check_instance", "check_name", "lookup"]

#: Widest tag a request may carry through a unit (every unit passes its tag through unchanged).
TAG_WIDTH_MAX = 64


def _check_integer(name, value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")


def check_int(name, value, lo, hi):
    """``value`` if it is an int in ``lo..hi``."""
    _check_integer(name, value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, not {value!r}")
    return value


def check_pow2(name, value, lo, hi):
    """``value`` if it is a power of two in ``lo..hi``."""
    _check_integer(name, value)
    if not lo <= value <= hi or value & (value - 1):
        raise ValueError(f"{name} must be a power of two in {lo}..{hi}, not {value!r}")
    return value


def check_bool(name, value):
    """``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {value!r}")
    return value


def check_tag_width(tag_width):
    """``tag_width`` if it is an int in ``0..TAG_WIDTH_MAX``."""
    return check_int("tag_width", tag_width, 0, TAG_WIDTH_MAX)


def check_instance(name, value, cls):
    """``value`` if it is an instance of ``cls``."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be an instance of {cls.__name__}, not {value!r}")
    return value


def check_name(name, value):
    """``value`` if it is a non-empty string."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty string, not {value!r}")
    return value


def lookup(what, table, key):
    """``table[key]`` (``table`` a dict by name), or ``ValueError`` naming its keys."""
    try:
        return table[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {what} {key!r}; expected one of {', '.join(table)}") from None
