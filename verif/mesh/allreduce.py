"""The all-reduce (issue 18; docs/mesh.md, "All-reduce"): the host side of
``verif/mesh/programs/allreduce.c``.

* :func:`allreduce_numpy` is the program's reduction order in numpy: the live cores ranked in
  core-number order (``y·width + x``), every element summed left to right,
  ``((x_0 + x_1) + x_2) + ... + x_{P-1}``, each ``+`` a ``numpy.float32`` add (IEEE binary32,
  round to nearest even). The vector unit's FP32 add is one rounding of the exact sum, RNE,
  subnormals kept (docs/vector.md: ``verif/fp/fma.py``'s ``fma(a, 1, b)``), so it equals
  numpy's add for every finite operand pair; only NaN results differ (the unit's are the
  canonical quiet NaN). :func:`inputs` draws no NaN, infinity or subnormal and no sum can
  overflow, so the order is the only thing that decides the bits.
* :func:`inputs`: seeded random FP32 values of both signs and magnitudes 2^-20 .. 2^20 with
  random 24-bit significands: sums of such values round differently in different orders (the
  tests check that another order changes the result).
* :func:`chunks` and :func:`pieces`: the program's partition (the array's lines into one chunk
  per live core, each chunk into pieces of at most ``piece`` lines).
* :func:`allreduce_program` builds the program for a size, a mesh and its dead cores (the -D
  flags), one of two ways: per core (the host writes each core's input alone and reads every
  result back: :meth:`AllReduce.segments`, :meth:`AllReduce.reads`,
  :meth:`AllReduce.difference`), or self-checking (the live cores' inputs and the expected sum
  in a generated source file: every core gets every input, picks its own
  (``ar_inputs[rank]``) and checks its result bit for bit against ``ar_expected``; it needs
  (P + 3)·n elements of memory, so smaller arrays).
* :func:`lower_bound`: the cycles link bandwidth allows (every core must take in all other
  cores' parts of its own chunk and every other chunk's sum, a line per cycle through its
  router's eject port).
"""

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

from hw.common.params import check_instance, check_int
from hw.core.counters import THREAD_REASONS, UNIT_CAUSES, counter_index
from hw.mesh.config import MeshConfig
from sim.flow import toolchain
from verif.scalar import elf, riscv

from .programs import DIR as PROGRAMS
from .run import check_dead

__all__ = ["LANES", "LINE", "MAX_CORES", "REPORT_WORDS", "AllReduce", "allreduce_numpy",
           "allreduce_program", "chunks", "decode_report", "inputs", "lines_of", "lower_bound",
           "pieces", "ranks"]

LINE = 64
LANES = 16
#: A semaphore per rank (16 of them: docs/isa.md).
MAX_CORES = 16
#: Lines of an array at most (a D1 core's 1.25 MB scratchpad holds fewer).
MAX_LINES = 1 << 15
#: Lines per piece by default: large enough for the DMA engine's 4 descriptors in flight to
#: cover a push's answer, small enough that pushes overlap the adds (docs/mesh.md).
PIECE = 8
#: Bits of each time in a REPORT build's tohost (allreduce.c's TIME_MASK).
TIME_BITS = 21
#: A REPORT build's ``ar_report`` words (allreduce.c): the three times, then over the
#: all-reduce thread 0's counters and the vector unit's and the DMA engine's.
REPORT_WORDS = ("ts", "t0", "t1", *(f"thread_{r}" for r in THREAD_REASONS),
                *(f"vector_{c}" for c in UNIT_CAUSES), *(f"dma_{c}" for c in UNIT_CAUSES))


def lines_of(n):
    """The 64-byte lines of ``n`` FP32 elements (the last one padded with +0)."""
    return -(-n // LANES)


def chunks(lines, p):
    """The chunk of each of ``p`` ranks: ``(first line, lines)``, chunk j = lines
    ``[j·lines // p, (j+1)·lines // p)`` (some empty when ``p > lines``)."""
    check_int("lines", lines, 0, MAX_LINES)
    check_int("p", p, 1, MAX_CORES)
    return [(j * lines // p, (j + 1) * lines // p - j * lines // p) for j in range(p)]


def pieces(count, piece=PIECE):
    """The pieces of a chunk of ``count`` lines: ``(first line in the chunk, lines)``."""
    check_int("count", count, 0, MAX_LINES)
    check_int("piece", piece, 1, 511)
    return [(s, min(piece, count - s)) for s in range(0, count, piece)]


def allreduce_numpy(xs):
    """The sum of the rows of ``xs`` (P × n float32, in rank order) in the program's order:
    ``((xs[0] + xs[1]) + xs[2]) + ...``, FP32 RNE adds."""
    xs = np.asarray(xs, np.float32)
    total = xs[0].copy()
    for row in xs[1:]:
        total = total + row
    return total


def inputs(p, n, *, seed=0):
    """``p`` × ``n`` float32: random sign, a magnitude 2^-20 .. 2^20 (uniform exponent) with a
    random 24-bit significand (no zero, subnormal, infinity or NaN; a sum of 16 cannot
    overflow)."""
    check_int("p", p, 1, MAX_CORES)
    check_int("n", n, 1, MAX_LINES * LANES)
    rng = np.random.default_rng(seed)
    significand = rng.integers(1 << 23, 1 << 24, (p, n), dtype=np.int64)
    exponent = rng.integers(-20, 21, (p, n))
    sign = rng.choice([-1.0, 1.0], (p, n))
    return (sign * np.ldexp(significand.astype(np.float64), exponent - 23)).astype(np.float32)


def ranks(config, dead=()):
    """The live cores of ``config`` in rank order (core number ``y·width + x``): ``(x, y)``."""
    return [(c % config.width, c // config.width) for c in range(config.nodes)
            if (c % config.width, c // config.width) not in dead]


def lower_bound(n, p):
    """Cycles link bandwidth allows an all-reduce of ``n`` FP32 elements over ``p`` cores with
    this partition: rank r takes in ``(p-1)·c_r`` lines (the other ranks' parts of its chunk)
    and ``L - c_r`` (the other chunks' sums), at most a line a cycle through its router's eject
    port; the largest over the ranks (``2·(p-1)/p·L`` when the chunks are equal)."""
    sizes = [c for _, c in chunks(lines_of(n), p)]
    total = sum(sizes)
    return max((p - 1) * c + total - c for c in sizes)


def decode_report(value):
    """A REPORT build's tohost value: ``(ts, t0, t1)``, the core's cycle counter at its first
    instruction, after the plan and when the last piece had landed there; None when it is not
    one (odd: a pass or a failure code; 0: none)."""
    if value == 0 or value & 1:
        return None
    value >>= 1
    mask = (1 << TIME_BITS) - 1
    return value & mask, value >> TIME_BITS & mask, value >> 2 * TIME_BITS


def _c_words(words):
    return ",\n    ".join(", ".join(f"0x{int(w):08x}u" for w in words[i:i + 8])
                          for i in range(0, len(words), 8))


def _c_array(name, rows):
    """A C definition of ``name`` (its dimensions included) with the uint32 ``rows``."""
    body = ",\n    ".join("{\n    " + _c_words(row) + "\n    }" for row in rows)
    return f"uint32_t {name} __attribute__((aligned(64))) = {{\n    {body}\n}};\n"


@dataclass
class AllReduce:
    """A built all-reduce: ``elf`` (its path), ``n``, ``ranks`` (the live cores, rank order),
    ``xs`` (P × n float32 inputs, rank order), ``expected`` (:func:`allreduce_numpy`),
    ``piece``, ``per_core`` (the host places each input and reads the results: :meth:`segments`,
    :meth:`reads`, :meth:`difference`; else the cores check themselves), ``defines`` (the -D
    flags)."""
    elf: object
    n: int
    ranks: list
    xs: np.ndarray
    expected: np.ndarray
    piece: int
    per_core: bool = False
    defines: dict = field(default_factory=dict)

    @property
    def p(self):
        return len(self.ranks)

    def lower_bound(self):
        return lower_bound(self.n, self.p)

    def _symbol(self, name):
        return elf.load(self.elf).symbol(name)

    def segments(self):
        """Each live core's input (per-core builds): ``{(x, y): [(address, bytes)]}``, for
        ``run_mesh_program(..., segments=...)``."""
        at = self._symbol("ar_x")
        words = lines_of(self.n) * LANES
        out = {}
        for (x, y), row in zip(self.ranks, self.xs, strict=True):
            padded = np.zeros(words, np.float32)
            padded[:self.n] = row
            out[x, y] = [(at, padded.tobytes())]
        return out

    def reads(self):
        """The reads of every live core's result (per-core builds), in rank order: ``[(x, y,
        address, bytes)]``, for ``run_mesh_program(..., reads=...)``."""
        at = self._symbol("ar_x" if self.p == 1 else "result")
        return [(x, y, at, lines_of(self.n) * LINE) for x, y in self.ranks]

    def report_read(self):
        """The reads of every live core's ``ar_report`` (REPORT per-core builds)."""
        at = self._symbol("ar_report")
        return [(x, y, at, 8 * len(REPORT_WORDS)) for x, y in self.ranks]

    @staticmethod
    def report(raw):
        """One core's ``ar_report`` (its bytes) as a dict (:data:`REPORT_WORDS`)."""
        values = np.frombuffer(bytes(raw)[:8 * len(REPORT_WORDS)], np.uint64).tolist()
        return dict(zip(REPORT_WORDS, values, strict=True))

    def difference(self, results):
        """The first ``(rank, element)`` whose bits differ from the expected sum in
        ``results`` (the bytes of :meth:`reads`, in order), or None."""
        want = np.asarray(self.expected, np.float32).view(np.uint32)
        for rank, raw in enumerate(results):
            got = np.frombuffer(bytes(raw), np.uint32)[:self.n]
            bad = np.flatnonzero(got != want)
            if len(bad):
                return rank, int(bad[0])
        return None


def _data_source(xs, expected, n):
    """The generated source file with every input and the expected sum (self-checking
    builds)."""
    p = len(xs)
    words = lines_of(n) * LANES
    padded = np.zeros((p, words), np.float32)
    padded[:, :n] = xs
    out = np.zeros(words, np.float32)
    out[:n] = expected
    source = ("#include <stdint.h>\n"
              + _c_array(f"ar_inputs[{p}][{words}]", padded.view(np.uint32))
              + _c_array(f"ar_expected[1][{words}]", out.view(np.uint32)[None]))
    key = hashlib.sha256(source.encode()).hexdigest()[:16]
    data = toolchain.BUILD / "programs" / "allreduce-data" / f"{key}.c"
    if not data.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        tmp = data.with_name(f".{data.name}.{os.getpid()}.tmp")
        tmp.write_text(source)
        tmp.replace(data)
    return data


def allreduce_program(n, *, config, dead=(), seed=0, piece=PIECE, report=False, xs=None,
                      expected=None, per_core=False):
    """Build the all-reduce of ``n`` FP32 elements on the live cores of ``config`` (a
    :class:`MeshConfig`, ``dead`` its dead cores) with :func:`inputs` (``seed``) or the given
    ``xs`` (P × n), checking against ``expected`` (default :func:`allreduce_numpy`: a test
    passes another to see the program fail). ``report``: end with the timing
    (:func:`decode_report`). ``per_core``: the host writes each core's input alone and reads
    the results back (:class:`AllReduce`), else every core gets every input and the expected
    sum in its image and checks itself."""
    check_instance("config", config, MeshConfig)
    check_int("n", n, 1, MAX_LINES * LANES)
    check_int("piece", piece, 1, 511)
    dead = check_dead(config, dead)
    live = ranks(config, dead)
    p = len(live)
    xs = inputs(p, n, seed=seed) if xs is None else np.asarray(xs, np.float32)
    if xs.shape != (p, n):
        raise ValueError(f"xs must be {p} × {n}, not {' × '.join(map(str, xs.shape))}")
    expected = allreduce_numpy(xs) if expected is None else np.asarray(expected, np.float32)
    defines = {"N": n, "P": p, "PIECE": piece, "CMAX": -(-lines_of(n) // p)}
    if report:
        defines.update(REPORT=1, THREAD_CTR=counter_index(thread=0, reason="instructions"),
                       VECTOR_CTR=counter_index(unit=1, cause="busy"),
                       DMA_CTR=counter_index(unit=2, cause="busy"))
    if per_core:
        defines["PER_CORE"] = 1
        sources = [PROGRAMS / "allreduce.c"]
    else:
        sources = [PROGRAMS / "allreduce.c", _data_source(xs, expected, n)]
    path = riscv.build(f"mesh/allreduce-{n}-p{p}", sources, defines=defines,
                       depends=[PROGRAMS / "mesh.h"])
    return AllReduce(elf=path, n=n, ranks=live, xs=xs, expected=expected, piece=piece,
                     per_core=per_core, defines=defines)
