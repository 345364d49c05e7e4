"""The DMA descriptor model (``verif/core/dma_model.py``) on its own, without a simulator:
known answers built by hand (not by the model's own formulas), the check order, the list walk."""

import random

import pytest

from hw.core.isa import Error
from verif.core.dma_model import check, decode, descriptor, run_list, signal_value

BASE, SIZE = 0x1000, 0x1000


def memory():
    rnd = random.Random(1)
    return bytearray(rnd.getrandbits(8) for _ in range(SIZE))


def at(mem, addr, n):
    return bytes(mem[addr - BASE:addr - BASE + n])


def test_descriptor_round_trip():
    fields = dict(src=0x1040, dst=0x1800, src_stride=0x100, dst_stride=0x40,
                  src_elem_stride=0x10, next=0x10C0, rows=3, elems=4, elem_bytes=1, local=1,
                  dst_x=5, dst_y=9, signal=signal_value(sem=7, enable=1, amount=300))
    line = descriptor(**fields)
    assert len(line) == 64
    assert decode(line) == {**fields, "mcast": 0, "rect_x": 0, "rect_y": 0, "reserved": 0}
    # The layout's first field is src, little-endian at byte 0.
    assert line[:4] == (0x1040).to_bytes(4, "little")


def test_gather_known_answer():
    """Two rows of three 16-B elements, 48 B apart in a row, rows 0x100 apart, packed at the
    destination (dst_stride 48): written byte for byte as listed here."""
    mem = memory()
    before = bytes(mem)
    mem[0:64] = descriptor(src=0x1200, dst=0x1C00, rows=2, elems=3, elem_bytes=1,
                           src_elem_stride=48, src_stride=0x100, dst_stride=48, local=1,
                           signal=signal_value(1, 1, 1))
    writes, done, errors = run_list(mem, BASE, base=BASE, size=SIZE, thread=2)
    sources = [0x1200, 0x1230, 0x1260, 0x1300, 0x1330, 0x1360]
    expected = b"".join(before[s - BASE:s - BASE + 16] for s in sources)
    assert at(mem, 0x1C00, 96) == expected
    assert [a for a, _ in writes] == [0x1C00 + 16 * k for k in range(6)]
    assert done == [{"signal": signal_value(1, 1, 1), "thread": 2, "last": 1}]
    assert errors == []
    # Nothing else changed.
    changed = [i for i in range(SIZE) if mem[i] != before[i]]
    assert changed == list(range(0, 64)) + list(range(0xC00, 0xC60))


def test_list_walk_and_signals():
    mem = memory()
    mem[0:64] = descriptor(src=0x1400, dst=0x1800, rows=1, elems=1, elem_bytes=2, local=1,
                           next=0x1080, signal=signal_value(2, 1, 5))
    mem[0x80:0xC0] = descriptor(src=0x1440, dst=0x1840, rows=1, elems=2, elem_bytes=0,
                                src_elem_stride=8, local=1, signal=signal_value(3, 1, 6))
    src = at(mem, 0x1400, 64) + at(mem, 0x1440, 16)
    _, done, errors = run_list(mem, BASE, base=BASE, size=SIZE)
    assert at(mem, 0x1800, 64) + at(mem, 0x1840, 16) == src
    assert [d["last"] for d in done] == [0, 1] and errors == []
    assert [d["signal"] for d in done] == [signal_value(2, 1, 5), signal_value(3, 1, 6)]


GOOD = dict(src=0x1400, dst=0x1800, rows=2, elems=2, elem_bytes=0, src_stride=8,
            dst_stride=16, src_elem_stride=64, local=1)


@pytest.mark.parametrize("fields, code", [
    (dict(), Error.NONE),
    (dict(elem_bytes=3, src=1), Error.FIELD),           # FIELD before ALIGN
    (dict(local=0, dst_x=1, src=1), Error.REMOTE),      # REMOTE before ALIGN
    (dict(src=4, dst=BASE + SIZE), Error.ALIGN),        # ALIGN before RANGE
    # destination extent 16 + 2·8 = 32 B: ending at the range's last byte, or 8 B beyond
    (dict(dst=BASE + SIZE - 32), Error.NONE),
    (dict(dst=BASE + SIZE - 24), Error.RANGE),
    # source extent 8 + 64 + 8 = 80 B
    (dict(src=BASE + SIZE - 80), Error.NONE),
    (dict(src=BASE + SIZE - 72), Error.RANGE),
    (dict(src=BASE - 8), Error.RANGE),
    (dict(next=BASE + SIZE - 64), Error.NONE),
    (dict(next=BASE + SIZE), Error.RANGE),
])
def test_check_order_and_edges(fields, code):
    d = decode(descriptor(**{**GOOD, **fields}))
    assert check(d, BASE, base=BASE, size=SIZE, x=0, y=0) == code


def test_loop_is_reported():
    mem = memory()
    mem[0:64] = descriptor(**GOOD, next=BASE)
    with pytest.raises(ValueError, match="list longer than 8 descriptors"):
        run_list(mem, BASE, base=BASE, size=SIZE, max_descriptors=8)
