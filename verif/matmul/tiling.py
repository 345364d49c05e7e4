"""Host-side tiling of a GEMM ``D = A·B + C`` onto the matrix engine, shared by tests and the CLI.

A GEMM of any M × N × K is cut into output tiles of ``tile_rows × tile_cols`` (A, B and C padded
with zeros up to whole tiles); the tiles are taken in row-major order in groups of L (the
engine's interleave), and a group runs K rounds of L beats, beat ``k·L + s`` bringing column k of
A and row k of B for the tile of slot s (a group of fewer than L tiles fills the rest with
``skip`` beats). Each tile's C rows are sent ahead of its first beat; its output rows come back in
tile order. :func:`plan_gemm` makes the schedule, :func:`beats`, :func:`c_rows` and
:func:`assemble` turn arrays into stream payloads and back, with the engine's own layouts.

The bulk harness (``verif/harness.py``) has one input stream and one output stream with as many
words out as in. :class:`EngineBench` adapts the engine to it: an input word carries a beat, a C
row, or both (:func:`bench_words` decides which C row rides with which beat, ahead of its use and
never into a full buffer), and the output stream carries the engine's rows plus filler words, as
many as the input words that asked for one, so that the counts match. Fillers only take output
cycles the engine's rows leave free.
"""

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.fp.formats import get_format
from hw.matmul.array import OperandConfig
from hw.matmul.config import MatmulConfig
from hw.matmul.engine import MatmulEngine, engine_layouts

from ..pack import pack, unpack
from ..params import check_at_least
from ..scoreboard import Mismatch

__all__ = ["GemmPlan", "plan_gemm", "beats", "c_rows", "assemble", "pack_beats", "pack_c_rows",
           "unpack_d_rows", "bench_layouts", "bench_words", "EngineBench", "pack_config",
           "join_lanes", "split_lanes", "gemm_words", "gemm_output"]


def join_lanes(values, width):
    """Rows of lane values (``n × lanes``) as ``n`` Python ints, lane 0 in the low bits."""
    values = np.asarray(values)
    out = np.zeros(len(values), dtype=object)
    for lane in range(values.shape[1]):
        out = out | (values[:, lane].astype(np.uint64).astype(object) << (width * lane))
    return out


def split_lanes(words, width, lanes):
    """Inverse of :func:`join_lanes`: ``n`` ints as an ``n × lanes`` ``uint64`` array."""
    words = np.asarray(words, dtype=object)
    mask = (1 << width) - 1
    out = np.zeros((len(words), lanes), dtype=np.uint64)
    for lane in range(lanes):
        out[:, lane] = ((words >> (width * lane)) & mask).astype(np.uint64)
    return out


@dataclass(frozen=True)
class GemmPlan:
    """The schedule of one GEMM on an engine.

    ``tiles`` lists the (tile row, tile column) of every output tile in the order they run and
    drain; ``groups`` cuts that list into groups of at most L (consecutive tiles); ``load`` says
    whether tiles start from C (else from +0).
    """
    config: MatmulConfig
    m: int
    n: int
    k: int
    load: bool
    interleave: int
    c_delay: int
    tiles: tuple
    groups: tuple

    @property
    def tile_rows(self):
        return self.config.tile_rows

    @property
    def tile_cols(self):
        return self.config.tile_cols

    @property
    def n_beats(self):
        return len(self.groups) * self.interleave * self.k

    @property
    def n_c_rows(self):
        return len(self.tiles) * self.tile_rows if self.load else 0

    @property
    def n_d_rows(self):
        return len(self.tiles) * self.tile_rows

    @property
    def macs(self):
        """Useful multiply-accumulates: M·N·K."""
        return self.m * self.n * self.k

    def tags(self):
        """The tag of every tile (its index in ``tiles`` modulo the tag range)."""
        return np.arange(len(self.tiles)) % (1 << self.config.tag_width)


def plan_gemm(config, m, n, k, *, load=True):
    """Schedule an ``m × n × k`` GEMM on an engine built with ``config``."""
    m, n, k = (check_at_least(name, v, 1) for name, v in (("M", m), ("N", n), ("K", k)))
    tm = -(-m // config.tile_rows)
    tn = -(-n // config.tile_cols)
    tiles = tuple((i, j) for i in range(tm) for j in range(tn))
    L = config.interleave
    groups = tuple(tuple(range(g, min(g + L, len(tiles)))) for g in range(0, len(tiles), L))
    return GemmPlan(config, m, n, k, bool(load), L, config.fma_c_delay, tiles, groups)


def _pad(x, rows, cols):
    out = np.zeros((rows, cols), dtype=x.dtype)
    out[:x.shape[0], :x.shape[1]] = x
    return out


def beats(plan, a, b):
    """Beat fields of the whole GEMM: ``a`` (beats × tile_rows) and ``b`` (beats × tile_cols)
    raw codes, and the control fields ``first``, ``load``, ``last``, ``skip``, ``tag``."""
    tr, tc, L, k = plan.tile_rows, plan.tile_cols, plan.interleave, plan.k
    tm = -(-plan.m // tr)
    tn = -(-plan.n // tc)
    ap = _pad(np.asarray(a), tm * tr, k).astype(np.uint64)
    bp = _pad(np.asarray(b), k, tn * tc).astype(np.uint64)
    tags = plan.tags()
    n = plan.n_beats
    out = {"a": np.zeros((n, tr), np.uint64), "b": np.zeros((n, tc), np.uint64),
           "first": np.zeros(n, np.uint64), "load": np.zeros(n, np.uint64),
           "last": np.zeros(n, np.uint64), "skip": np.ones(n, np.uint64),
           "tag": np.zeros(n, np.uint64)}
    base = 0
    kk = np.arange(k)
    for group in plan.groups:
        for s, t in enumerate(group):
            ti, tj = plan.tiles[t]
            idx = base + kk * L + s
            out["a"][idx] = ap[ti * tr:(ti + 1) * tr, :].T
            out["b"][idx] = bp[:, tj * tc:(tj + 1) * tc]
            out["first"][idx] = kk == 0
            out["last"][idx] = kk == k - 1
            out["load"][idx] = plan.load
            out["skip"][idx] = 0
            out["tag"][idx] = tags[t]
        base += L * k
    return out


def c_rows(plan, c):
    """The C rows (``n_c_rows × tile_cols`` FP32 codes) in the order the engine loads them."""
    if not plan.load:
        return np.zeros((0, plan.tile_cols), np.uint64)
    tr, tc = plan.tile_rows, plan.tile_cols
    tm = -(-plan.m // tr)
    tn = -(-plan.n // tc)
    cp = _pad(np.asarray(c, dtype=np.uint32), tm * tr, tn * tc).astype(np.uint64)
    return np.concatenate([cp[ti * tr:(ti + 1) * tr, tj * tc:(tj + 1) * tc]
                           for ti, tj in plan.tiles])


def assemble(plan, rows):
    """``(d, flags)`` (``m × n`` uint32 and uint8) from the engine's output rows (a dict of
    ``data`` and ``flags``, ``n_d_rows × tile_cols`` each, in drain order)."""
    tr, tc = plan.tile_rows, plan.tile_cols
    tm = -(-plan.m // tr)
    tn = -(-plan.n // tc)
    d = np.zeros((tm * tr, tn * tc), np.uint32)
    f = np.zeros((tm * tr, tn * tc), np.uint8)
    for t, (ti, tj) in enumerate(plan.tiles):
        d[ti * tr:(ti + 1) * tr, tj * tc:(tj + 1) * tc] = rows["data"][t * tr:(t + 1) * tr]
        f[ti * tr:(ti + 1) * tr, tj * tc:(tj + 1) * tc] = rows["flags"][t * tr:(t + 1) * tr]
    return d[:plan.m, :plan.n], f[:plan.m, :plan.n]


def expected_rows(plan):
    """The ``row``, ``last`` and ``tag`` fields every output row must carry, in drain order."""
    tr = plan.tile_rows
    n = plan.n_d_rows
    row = np.arange(n) % tr
    return {"row": row.astype(np.uint64), "last": (row == tr - 1).astype(np.uint64),
            "tag": np.repeat(plan.tags(), tr).astype(np.uint64)}


# --- payload words -------------------------------------------------------------------------------

def pack_beats(config, fields):
    """Beat fields as engine payload words."""
    w = config.operand_width
    return pack(engine_layouts(config)["beat"], n=len(fields["first"]),
                a=join_lanes(fields["a"], w), b=join_lanes(fields["b"], w),
                **{k: fields[k] for k in ("first", "load", "last", "skip", "tag")})


def pack_c_rows(config, rows):
    """C rows (``n × tile_cols`` FP32 codes) as engine payload words."""
    return pack(engine_layouts(config)["c_row"], n=len(rows), data=join_lanes(rows, 32))


def unpack_d_rows(config, words):
    """Engine output words as ``{"data", "flags"}`` (``n × tile_cols``) and ``row``, ``last``,
    ``tag`` (``n``), all ``uint64``."""
    from hw.fp.formats import Flags

    fw = data.Layout.cast(Flags).size
    got = unpack(engine_layouts(config)["d_row"], np.asarray(words, dtype=object))
    tc = config.tile_cols
    return {"data": split_lanes(got["data"], 32, tc), "flags": split_lanes(got["flags"], fw, tc),
            "row": np.asarray(got["row"], np.uint64), "last": np.asarray(got["last"], np.uint64),
            "tag": np.asarray(got["tag"], np.uint64)}


def pack_config(a_fmt, a_bias, b_fmt, b_bias):
    """The configuration register's value (an int) for these formats (``Format`` objects,
    names or codes) and biases (``None`` counts as 0)."""

    def code(f):
        return f if isinstance(f, int) else get_format(f).code.value

    words = pack(OperandConfig, n=1, a_fmt=code(a_fmt), a_bias=a_bias or 0,
                 b_fmt=code(b_fmt), b_bias=b_bias or 0)
    return int(words[0])


# --- the harness adapter ------------------------------------------------------------------------

def bench_layouts(config):
    """``{"in", "out"}``: payload layouts of :class:`EngineBench`'s streams."""
    layouts = engine_layouts(config)
    return {
        "in": data.StructLayout({"beat": layouts["beat"], "c_row": layouts["c_row"],
                                 "has_beat": 1, "has_c_row": 1, "fill": 1}),
        "out": data.StructLayout({"d_row": layouts["d_row"], "is_row": 1}),
    }


def bench_words(plan, beat_words, c_words):
    """The input words of :class:`EngineBench` for a plan: ``(words, fills)``.

    Group 0's C rows go first, alone. Group g+1's C rows ride with group g's beats from beat
    ``L + c_delay`` of the group on (by then every C tile of group g has been consumed, so the
    buffers have room for L tiles), and any that do not fit follow the group's beats alone.
    Words with ``fill`` set (the first ones) make the output count equal the input count;
    when the engine has more rows than there are words, empty words are appended.
    """
    L, k = plan.interleave, plan.k
    per_tile = plan.tile_rows if plan.load else 0
    layout = bench_layouts(plan.config)["in"]
    group_c = []
    start = 0
    for group in plan.groups:
        group_c.append(list(range(start, start + per_tile * len(group))))
        start += per_tile * len(group)
    beat_idx, c_idx = [], []
    for r in group_c[0]:
        beat_idx.append(-1)
        c_idx.append(r)
    b = 0
    for g, _ in enumerate(plan.groups):
        upcoming = group_c[g + 1] if g + 1 < len(plan.groups) else []
        for j in range(L * k):
            beat_idx.append(b)
            b += 1
            c_idx.append(upcoming.pop(0) if upcoming and j >= L + plan.c_delay else -1)
        for r in upcoming:
            beat_idx.append(-1)
            c_idx.append(r)
    n_words = max(len(beat_idx), plan.n_d_rows)
    beat_idx += [-1] * (n_words - len(beat_idx))
    c_idx += [-1] * (n_words - len(c_idx))
    beat_idx, c_idx = np.array(beat_idx), np.array(c_idx)
    fills = n_words - plan.n_d_rows
    zero = np.zeros(1, dtype=object)
    bw = np.concatenate([np.asarray(beat_words, dtype=object), zero])
    cw = np.concatenate([np.asarray(c_words, dtype=object), zero])
    words = pack(layout, n=n_words, beat=bw[beat_idx], c_row=cw[c_idx],
                 has_beat=(beat_idx >= 0).astype(np.uint64),
                 has_c_row=(c_idx >= 0).astype(np.uint64),
                 fill=(np.arange(n_words) < fills).astype(np.uint64))
    return words, fills


def split_bench_output(config, words):
    """``(d_row_words, trailing_fills)`` from :class:`EngineBench`'s output words."""
    got = unpack(bench_layouts(config)["out"], np.asarray(words, dtype=object))
    is_row = np.asarray(got["is_row"]).astype(bool)
    rows = np.flatnonzero(is_row)
    trailing = len(words) - 1 - int(rows[-1]) if len(rows) else len(words)
    return got["d_row"][is_row], trailing


class EngineBench(wiring.Component):
    """:class:`hw.matmul.engine.MatmulEngine` with one input and one output stream, for the bulk
    harness (a test fixture, not part of the core).

    ``i`` words (:func:`bench_layouts` ``"in"``) carry a beat (``has_beat``), a C row
    (``has_c_row``), both or neither; each part goes to its engine stream, and the word is taken
    once both parts are (an eager fork). A word with ``fill`` adds one filler to ``o``. ``o``
    carries the engine's rows (``is_row``) and the fillers, rows first; it is a register.
    ``cfg`` is the engine's.
    """

    def __init__(self, config):
        self._config = config
        layouts = bench_layouts(config)
        super().__init__({
            "i": In(stream.Signature(layouts["in"])),
            "o": Out(stream.Signature(layouts["out"])),
            "cfg": In(stream.Signature(OperandConfig)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = eng = MatmulEngine(self._config)
        wiring.connect(m, wiring.flipped(self.cfg), eng.cfg)
        word = self.i.payload
        taken = Signal(2)
        beat_done = ~word.has_beat | taken[0] | eng.i.ready
        c_done = ~word.has_c_row | taken[1] | eng.c.ready
        m.d.comb += [
            eng.i.valid.eq(self.i.valid & word.has_beat & ~taken[0]),
            eng.i.payload.eq(word.beat),
            eng.c.valid.eq(self.i.valid & word.has_c_row & ~taken[1]),
            eng.c.payload.eq(word.c_row),
            self.i.ready.eq(beat_done & c_done),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += taken.eq(0)
        with m.Else():
            m.d.sync += taken.eq(taken | ((eng.i.valid & eng.i.ready) |
                                          ((eng.c.valid & eng.c.ready) << 1)))
        fills = Signal(32)
        add = self.i.valid & self.i.ready & word.fill
        advance = ~self.o.valid | self.o.ready
        send_fill = advance & ~eng.o.valid & (fills != 0)
        m.d.comb += eng.o.ready.eq(advance)
        with m.If(advance):
            m.d.sync += [
                self.o.valid.eq(eng.o.valid | (fills != 0)),
                self.o.payload.d_row.eq(eng.o.payload),
                self.o.payload.is_row.eq(eng.o.valid),
            ]
        m.d.sync += fills.eq(fills + add - send_fill)
        return m


# --- a whole GEMM through EngineBench -----------------------------------------------------------

def gemm_words(config, a, b, c):
    """``(plan, words)``: the schedule of the GEMM ``a·b + c`` (``c`` ``None``: from zero) on an
    engine built with ``config``, and :class:`EngineBench`'s input words that run it."""
    m, k = a.shape
    plan = plan_gemm(config, m, b.shape[1], k, load=c is not None)
    beat_words = pack_beats(config, beats(plan, a, b))
    c_words = pack_c_rows(config, c_rows(plan, c)) if c is not None else []
    return plan, bench_words(plan, beat_words, c_words)[0]


def gemm_output(plan, words, cycles):
    """``(d, flags, cycles)`` of a GEMM from :class:`EngineBench`'s output ``words`` and the
    harness's ``cycles``: D and its flags in ``plan``'s shape, and the cycles up to the last row
    of D (trailing fillers not counted). Raises :class:`verif.scoreboard.Mismatch` when rows are
    lost, repeated or reordered (their ``row``, ``last`` or ``tag`` is not the expected one)."""
    rows, trailing = split_bench_output(plan.config, words)
    got = unpack_d_rows(plan.config, rows)
    expect = expected_rows(plan)
    for field in ("row", "last", "tag"):
        if not np.array_equal(got[field], expect[field]):
            bad = int(np.flatnonzero(got[field] != expect[field])[0])
            raise Mismatch(f"output row {bad} has {field} {int(got[field][bad])}, expected "
                           f"{int(expect[field][bad])}: rows lost, repeated or reordered")
    d, flags = assemble(plan, got)
    return d, flags, cycles - trailing
