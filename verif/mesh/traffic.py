"""Random traffic between cores and its scoreboard (issue 18's tests; docs/mesh.md, "Random
traffic"): the host side of ``verif/mesh/programs/traffic.c``.

:func:`random_traffic` draws, for every live core, pushes (DMA descriptors) to random live cores
(itself included): copies and 2D gathers of 8-, 16- and 64-byte elements with random row and
element strides, from the source's ``src`` to a region of the destination's ``dst``; each adds
1 to semaphore 3 at its destination when its last byte has landed. A destination's regions are
disjoint, so the bytes every ``dst`` must hold after the run do not depend on the order in
which pushes arrive: :meth:`Traffic.expected` computes them from the descriptors' contract
(docs/isa.md, ``DmaDescriptor``: element ``e`` of row ``r`` read at ``src + r·src_stride +
e·src_elem_stride`` and written at ``dst + r·dst_stride + e·size``), independently of the RTL
and of the core model. The pushes of a core are split into lists of 1 to 4 chained
descriptors, one DMA command each; a push to the core itself is a local descriptor
(``local`` = 1) or, as often, one naming the core's own coordinates.
"""

from dataclasses import dataclass

import numpy as np

from hw.common.params import check_instance, check_int
from hw.core.isa import DmaDescriptor
from hw.mesh.config import MeshConfig
from hw.scalar.isa import RAM_BASE
from verif.pack import pack_word
from verif.scalar import elf

from .allreduce import ranks
from .programs import build
from .run import check_dead

__all__ = ["DST_BYTES", "MAX_PUSHES", "SEM", "SRC_BYTES", "Push", "Traffic", "random_traffic"]

#: traffic.c's sizes: pushes per core at most, the bytes of ``src`` and of ``dst``.
MAX_PUSHES = 64
SRC_BYTES = 4096
DST_BYTES = 8192
#: The semaphore every push adds 1 to at its destination.
SEM = 3
#: Element sizes (bytes) and their ``elem_bytes`` codes.
ELEMENT_CODES = {8: 0, 16: 1, 64: 2}


@dataclass(frozen=True)
class Push:
    """One push from core ``source`` to core ``target``: ``rows`` × ``elems`` elements of
    ``size`` bytes; offsets and strides in bytes, ``src`` in the source's ``src`` array,
    ``dst`` in the target's ``dst`` array. ``local``: sent as a local descriptor (a push of a
    core to itself only)."""
    source: tuple
    target: tuple
    size: int
    rows: int
    elems: int
    src: int
    src_stride: int
    src_elem_stride: int
    dst: int
    dst_stride: int
    local: bool = False

    def moves(self):
        """``(src offset, dst offset)`` of every element, row by row."""
        return [(self.src + r * self.src_stride + e * self.src_elem_stride,
                 self.dst + r * self.dst_stride + e * self.size)
                for r in range(self.rows) for e in range(self.elems)]

    @property
    def dst_end(self):
        return self.dst + (self.rows - 1) * self.dst_stride + self.elems * self.size


def _draw_push(rng, source, target, cursor):
    """A random push from ``source`` to ``target`` whose region starts at or after ``cursor``
    in the target's ``dst``; None if it no longer fits."""
    size = int(rng.choice(list(ELEMENT_CODES)))
    rows, elems = int(rng.integers(1, 5)), int(rng.integers(1, 9))
    src_elem_stride = size * int(rng.integers(1, 4))
    src_stride = size * int(rng.integers(0, 12))
    reach = (rows - 1) * src_stride + (elems - 1) * src_elem_stride + size
    if reach > SRC_BYTES:
        return None
    src = size * int(rng.integers(0, (SRC_BYTES - reach) // size + 1))
    dst_stride = elems * size + size * int(rng.integers(0, 3))
    dst = -(-cursor // size) * size + size * int(rng.integers(0, 3))
    push = Push(source, target, size, rows, elems, src, src_stride, src_elem_stride, dst,
                dst_stride, local=source == target and bool(rng.integers(0, 2)))
    return push if push.dst_end <= DST_BYTES else None


@dataclass
class Traffic:
    """A traffic pattern on ``config``'s live cores (``dead`` held in reset): ``pushes`` (a
    list of :class:`Push`, each core's in the order it sends them), ``lists`` (per core the
    lengths of its DMA lists), each core's ``src`` bytes and the initial bytes of its
    ``dst``, and the program (``traffic.c``'s ELF, loaded)."""
    config: MeshConfig
    dead: tuple
    pushes: list
    lists: dict
    src: dict
    dst: dict
    program: object
    path: object

    @property
    def live(self):
        return ranks(self.config, self.dead)

    def _symbol(self, name):
        return self.program.symbols[name]

    def sent(self, core):
        return [p for p in self.pushes if p.source == core]

    def received(self, core):
        return [p for p in self.pushes if p.target == core]

    def _descriptor(self, push, next_address):
        src = self._symbol("src") + push.src
        tx, ty = push.target
        return pack_word(DmaDescriptor, {
            "src": src, "dst": self._symbol("dst") + push.dst, "src_stride": push.src_stride,
            "dst_stride": push.dst_stride, "src_elem_stride": push.src_elem_stride,
            "next": next_address, "rows": push.rows, "elems": push.elems,
            "elem_bytes": ELEMENT_CODES[push.size], "local": int(push.local),
            "dst_x": 0 if push.local else tx, "dst_y": 0 if push.local else ty,
            "signal": SEM | 1 << 4 | 1 << 5})

    def segments(self):
        """Each live core's data: its plan (lists, the number of pushes it receives, each
        list's first descriptor), its descriptors, ``src`` and the initial ``dst``."""
        base = self._symbol("pushes")
        out = {}
        for core in self.live:
            sent, lines, firsts, i = self.sent(core), [], [], 0
            for n in self.lists[core]:
                firsts.append(i)
                for j in range(i, i + n):
                    nxt = base + 64 * (j + 1) if j + 1 < i + n else 0
                    lines.append(self._descriptor(sent[j], nxt).to_bytes(64, "little"))
                i += n
            plan = np.asarray([len(firsts), len(self.received(core)), *firsts],
                              np.uint32).tobytes()
            out[core] = [(self._symbol("plan"), plan), (self._symbol("src"), self.src[core]),
                         (self._symbol("dst"), self.dst[core])]
            if lines:
                out[core].append((base, b"".join(lines)))
        return out

    def reads(self):
        """Every live core's ``dst``, as ``(x, y, address, bytes)``."""
        return [(x, y, self._symbol("dst"), DST_BYTES) for x, y in self.live]

    def expected(self):
        """``{core: bytes}``: every live core's ``dst`` after the run (the scoreboard)."""
        out = {core: bytearray(self.dst[core]) for core in self.live}
        for p in self.pushes:
            source, target = self.src[p.source], out[p.target]
            for s, d in p.moves():
                target[d:d + p.size] = source[s:s + p.size]
        return {core: bytes(v) for core, v in out.items()}

    def differences(self, got):
        """What differs between the ``dst`` read back (``got``: ``MeshRun.reads`` in
        :meth:`reads`'s order) and the scoreboard, as sentences (none: all right)."""
        bad, expected = [], self.expected()
        for core, have in zip(self.live, got, strict=True):
            want = expected[core]
            wrong = [i for i in range(DST_BYTES) if want[i] != have[i]]
            if wrong:
                owner = [p for p in self.received(core)
                         if any(d <= wrong[0] < d + p.size for _, d in p.moves())]
                bad.append(f"core {core}: {len(wrong)} byte(s) of dst differ, the first at "
                           f"{wrong[0]:#x} ({owner[0] if owner else 'written by no push'})")
        return bad


def random_traffic(config, *, pushes=12, seed=0, dead=()):
    """Random traffic on ``config`` (a :class:`MeshConfig`): ``pushes`` per live core at most
    (1..MAX_PUSHES; fewer where a destination's ``dst`` is full), destinations drawn among the
    live cores, ``seed`` for everything; ``dead``: cores held in reset (sent nothing)."""
    check_instance("config", config, MeshConfig)
    check_int("pushes", pushes, 1, MAX_PUSHES)
    check_int("seed", seed, 0, 2**32 - 1)
    dead = tuple(check_dead(config, dead))
    rng = np.random.default_rng(seed)
    live = ranks(config, dead)
    cursor = dict.fromkeys(live, 0)
    all_pushes, lists = [], {}
    for core in live:
        for _ in range(pushes):
            target = live[int(rng.integers(0, len(live)))]
            push = _draw_push(rng, core, target, cursor[target])
            if push is not None:
                cursor[target] = push.dst_end
                all_pushes.append(push)
        n, lists[core] = sum(p.source == core for p in all_pushes), []
        while n:
            k = min(n, int(rng.integers(1, 5)))
            lists[core].append(k)
            n -= k
    src = {c: rng.integers(0, 256, SRC_BYTES, np.uint8).tobytes() for c in live}
    dst = {c: rng.integers(0, 256, DST_BYTES, np.uint8).tobytes() for c in live}
    path = build("traffic")
    program = elf.load(path, base=RAM_BASE, size=config.core.sram.size)
    return Traffic(config, dead, all_pushes, lists, src, dst, program, path)
