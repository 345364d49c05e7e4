"""verif.pack: packing payload words by their Amaranth layout.

pack_word/unpack_word against pack/unpack (the same bits), a field called ``n`` (which pack's
keywords cannot take), enum members, and the exact errors for an unknown field or a value that
does not fit.
"""

import enum

import numpy as np
import pytest
from amaranth.lib import data

from verif.pack import pack, pack_word, unpack, unpack_word


class Kind(enum.Enum):
    A = 0
    B = 5


LAYOUT = data.StructLayout({"kind": 3, "n": 12, "addr": 20, "flag": 1})
WIDE = data.StructLayout({"lo": 64, "hi": 16})


def test_pack_word_places_each_field_at_its_offset():
    # kind at 0 (3 bits), n at 3 (12), addr at 15 (20), flag at 35 (1)
    word = pack_word(LAYOUT, {"kind": Kind.B, "n": 0xABC, "addr": 0x12345, "flag": 1})
    assert word == 5 | 0xABC << 3 | 0x12345 << 15 | 1 << 35
    assert unpack_word(LAYOUT, word) == {"kind": 5, "n": 0xABC, "addr": 0x12345, "flag": 1}


def test_pack_word_agrees_with_pack_and_unpack():
    rng = np.random.default_rng(1)
    for _ in range(50):
        kind, addr, flag = (int(rng.integers(0, 1 << w)) for w in (3, 20, 1))
        word = pack_word(LAYOUT, {"kind": kind, "addr": addr, "flag": flag})
        assert word == int(pack(LAYOUT, kind=kind, addr=addr, flag=flag)[0])
        columns = unpack(LAYOUT, [word])
        assert unpack_word(LAYOUT, word) == {k: int(v[0]) for k, v in columns.items()}


def test_pack_word_of_a_layout_wider_than_64_bits():
    word = pack_word(WIDE, {"lo": (1 << 64) - 1, "hi": 0x8001})
    assert word == (1 << 64) - 1 | 0x8001 << 64
    assert unpack_word(WIDE, word) == {"lo": (1 << 64) - 1, "hi": 0x8001}


@pytest.mark.parametrize(("fields", "message"), [
    ({"addr": 1 << 20}, "field 'addr' must fit 20 bits, not 0x100000"),
    ({"n": -1}, "field 'n' must fit 12 bits, not -0x1"),
    ({"size": 1, "addr": 0}, "no field(s) size in layout; fields are kind, n, addr, flag"),
])
def test_pack_word_refuses_what_does_not_fit(fields, message):
    with pytest.raises(ValueError) as err:
        pack_word(LAYOUT, fields)
    assert str(err.value) == message
