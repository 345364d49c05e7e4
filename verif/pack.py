"""Packing stream payloads with their Amaranth layout: the layout is the only packing spec.

Fields are numpy arrays (or scalars, broadcast); words are ``np.uint64`` for layouts of up to 64
bits and Python ``int`` object arrays beyond that.
"""

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import data

__all__ = ["pack", "unpack", "pack_word", "unpack_word", "field_widths"]


def _layout(layout):
    return data.Layout.cast(layout)


def field_widths(layout):
    """``{name: (offset, width)}`` of a struct layout's fields."""
    return {name: (f.offset, Shape.cast(f.shape).width) for name, f in _layout(layout)}


def _wide(layout):
    return _layout(layout).size > 64


def pack(layout, n=None, **fields):
    """Pack field arrays into payload words. Missing fields are zero; values must fit their field
    (a value that does not fit raises ``ValueError`` rather than spilling into its neighbour)."""
    widths = field_widths(layout)
    unknown = set(fields) - set(widths)
    if unknown:
        raise ValueError(f"no field(s) {', '.join(sorted(unknown))} in layout; "
                         f"fields are {', '.join(widths)}")
    if n is None:
        n = max((np.size(v) for v in fields.values()), default=0)
    wide = _wide(layout)
    words = np.zeros(n, dtype=object if wide else np.uint64)
    for name, value in fields.items():
        offset, width = widths[name]
        v = np.asarray(value)
        if v.dtype == object:  # enum members, or Python ints too wide for numpy
            v = np.asarray([int(getattr(x, "value", x)) for x in np.atleast_1d(v)], dtype=object)
        v = np.broadcast_to(v, (n,)).astype(object if wide else np.uint64)
        if n and width < 64 and int(v.max()) >> width:
            raise ValueError(f"field {name!r} must fit {width} bits, not {int(v.max()):#x}")
        words = words | (v << (offset if wide else np.uint64(offset)))
    return words


def pack_word(layout, fields):
    """One payload word (a Python ``int``) from ``fields``, a mapping of field names to values
    (ints or enum members; missing fields are zero). Any field name may be used, ``n``
    included, which :func:`pack`'s keywords cannot take. Same checks as :func:`pack`: an unknown
    field or a value that does not fit its field raises ``ValueError``."""
    widths = field_widths(layout)
    unknown = set(fields) - set(widths)
    if unknown:
        raise ValueError(f"no field(s) {', '.join(sorted(unknown))} in layout; "
                         f"fields are {', '.join(widths)}")
    word = 0
    for name, value in fields.items():
        offset, width = widths[name]
        v = int(getattr(value, "value", value))
        if not 0 <= v < 1 << width:
            raise ValueError(f"field {name!r} must fit {width} bits, not {v:#x}")
        word |= v << offset
    return word


def unpack_word(layout, word):
    """``{field: int}`` of one payload word (an ``int``): the inverse of :func:`pack_word`."""
    word = int(word)
    return {name: (word >> offset) & ((1 << width) - 1)
            for name, (offset, width) in field_widths(layout).items()}


def unpack(layout, words):
    """Split payload words into ``{field: array}`` (``np.uint64``, or ``int`` objects if wide)."""
    wide = _wide(layout)
    w = np.asarray(words, dtype=object if wide else np.uint64)
    out = {}
    for name, (offset, width) in field_widths(layout).items():
        mask = (1 << width) - 1
        if wide:
            out[name] = (w >> offset) & mask
        else:
            out[name] = (w >> np.uint64(offset)) & np.uint64(mask)
    return out
