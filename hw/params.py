"""Validation of elaboration-time parameters, shared by every component of ``hw/``.

Each check returns the normalized value or raises with one exact message (``TypeError`` for a
value of the wrong kind, ``ValueError`` for one out of range); the tests compare the messages.
"""

from .fp.formats import get_format

__all__ = ["check_int", "check_formats"]


def check_int(name, value, lo, hi):
    """``value`` if it is an int in ``lo..hi``; else ``TypeError`` / ``ValueError``, one message."""
    message = f"{name} must be an integer in {lo}..{hi}, got {value!r}"
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(message)
    if not lo <= value <= hi:
        raise ValueError(message)
    return value


def check_formats(formats, *, name, allowed, refuse):
    """A non-empty sequence of format names, each in ``allowed`` and listed once, as a tuple of
    :class:`~hw.fp.formats.Format`. ``refuse(fmt)`` gives the message for a known format that is
    not allowed; an unknown name gets :func:`~hw.fp.formats.get_format`'s message."""
    if isinstance(formats, str) or not hasattr(formats, "__iter__"):
        raise TypeError(f"{name} must be a sequence of format names, got {formats!r}")
    result = []
    for item in formats:
        fmt = get_format(item)
        if fmt.name not in allowed:
            raise ValueError(refuse(fmt))
        if fmt in result:
            raise ValueError(f"format {fmt.name!r} is listed more than once")
        result.append(fmt)
    if not result:
        raise ValueError(f"{name} must name at least one format")
    return tuple(result)
