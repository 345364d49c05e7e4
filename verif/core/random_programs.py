"""Random multi-thread programs that mix the D1 core's custom instructions, for lockstep runs
against the core model (``tests/core/test_random_programs.py``).

:func:`random_program` returns a :class:`RandomProgram`: an image (``[(address, bytes)]``) for a
scratchpad of at least 64 KB at ``RAM_BASE`` and its ``tohost``. Thread 0 boots, configures the
matrix operands (MCFG: BF16 or CFP8 with random biases) and starts the other threads; each runs
its own straight-line body of random actions:

* GEMMs (descriptors built in the image; m, n, k 1..12, with or without C), queued VOPs of 1..4
  lines and register VOPs (every legal (op, type) pair but the flag and seed ops; WIDEN and
  NARROW with legal formats and parts; strides 0 or 64), DMA lists of one or two descriptors
  (8, 16 and 64-byte elements, gathers and copies);
* semaphores: each command signals its thread's own semaphore (0..3) or a semaphore shared with
  a later thread; SADD on both; SWAIT (and SREAD) on its own semaphore for every signal it has
  asked for; SSET after such a wait; SWAIT on a shared one for everything its producer will add,
  then loads of the results of the producer's commands that signal it;
* fences, then scalar loads of the thread's finished results; RDCTR; STATUS;
* refused commands: GEMMs, VOPs and DMA lists that break one rule each (alignment, range, a zero
  size, reserved bits, an illegal op pair, a remote core, a misaligned first descriptor).

Every value a thread reads (register answers, SWAIT/SREAD values, STATUS codes, loads) is stored
in its results area, so the final scratchpad compare sees it too.

Contract (why the model, which completes every command at issue, is exact)
--------------------------------------------------------------------------
* Sources (vector and DMA data, GEMM operands, descriptors) are in the image and never written;
  every command writes its own fresh lines of its thread's output area, which nothing else
  writes, read only by loads of its thread after a fence or a wait for all its signals, and by
  loads of the thread that waits for the shared semaphore it signals (docs/isa.md: after the
  SWAIT on the command's signal, in any thread).
* A SWAIT waits for everything that will ever be added to its semaphore up to that point in
  program order (its own semaphore: every signal the thread asked for; a shared one: every
  contribution of its producer), so the value it answers does not depend on timing. SSET only
  after such a wait.
* The matrix configuration is set once, before the other threads start.
* Each unit's refusals come from one thread (its error owner), which alone reads that unit's
  STATUS, and only after a fence: the error register holds the first of its refusals.
* Vector ops never use stochastic rounding and never read or clear the shared flags, so the
  order in which threads' VOPs reach the vector unit does not matter.

No deadlock by construction: a thread waits only on its own signals (every command delivers its
signal, refused ones too; a DMA list refused at its first address delivers none and is not
counted) and on semaphores of lower-numbered threads, which never wait on higher ones; thread 0
waits for the others to stop only after its whole body.
"""

import random
from dataclasses import dataclass, field

import numpy as np

from hw.common.params import check_int
from hw.core.counters import counter_numbers
from hw.core.isa import (
    DmaDescriptor,
    Error,
    GemmDescriptor,
    Signal,
    VectorConfig,
    VectorStrides,
)
from hw.fp.formats import FormatCode
from hw.matmul.array import OperandConfig
from hw.scalar.isa import MAX_THREADS, RAM_BASE, Csr
from hw.vector.isa import VecOp, VecType
from verif.scalar import asm as A
from verif.vector.model import OPS

from .model import pack_struct

__all__ = ["RandomProgram", "random_program", "MIN_SCRATCHPAD", "STATUS_UNITS"]

#: The layout needs the SMALL core's 64 KB (any larger scratchpad works too).
MIN_SCRATCHPAD = 64 * 1024
LINE = 64
ENTRY = RAM_BASE + 0x200
BODY = RAM_BASE + 0x1000          # thread t's body at BODY + t·BODY_SPAN
BODY_SPAN = 0x1000
DESC = RAM_BASE + 0x5000          # descriptors: 16 lines a thread
DESC_LINES = 16
SRC = RAM_BASE + 0x6000           # vector and DMA sources: 64 lines of random bytes
SRC_LINES = 64
GEMM_SRC = RAM_BASE + 0x7000      # GEMM operands: 32 lines, finite codes
GEMM_LINES = 32
C_SRC = RAM_BASE + 0x7800         # GEMM C rows: 16 lines of FP32
C_LINES = 16
OUT = RAM_BASE + 0x8000           # outputs: 112 lines a thread
OUT_LINES = 112
RESULTS = RAM_BASE + 0xF000       # what each thread read: 64 words a thread
RESULT_SLOTS = 64
TOHOST = RAM_BASE + 0xFF00
END = RAM_BASE + MIN_SCRATCHPAD

#: STATUS unit numbers.
STATUS_UNITS = {"matrix": 0, "vector": 1, "dma": 2}
#: Ops that read or change state shared by the threads (flags, SR generators) are left out.
_SHARED_STATE = ("rdflags", "clrflags", "seed")
_VOPS = sorted(k for k in OPS if k[0] not in _SHARED_STATE)
#: Temporaries (x5..x9 operands, x10..x15 answers); x31 holds the thread's results area.
_T = (5, 6, 7, 8, 9)
_RD = (10, 11, 12, 13, 14, 15)


@dataclass
class RandomProgram:
    """A generated program. ``image`` and ``tohost`` to run; ``seed``; ``counts`` how many
    commands of each kind were generated; ``statuses`` the expected STATUS answers, as
    ``(address of the stored word, expected code)`` (the code is the word's low 32 bits)."""
    image: list
    tohost: int
    seed: int
    counts: dict = field(default_factory=dict)
    statuses: list = field(default_factory=list)


class _Thread:
    def __init__(self, t):
        self.t = t
        self.code = []
        self.pending = 0            # signals asked for on its own semaphore
        self.out_next = OUT + t * OUT_LINES * LINE
        self.out_end = self.out_next + OUT_LINES * LINE
        self.desc_next = DESC + t * DESC_LINES * LINE
        self.desc_end = self.desc_next + DESC_LINES * LINE
        self.slot = 0
        self.written = []           # (address, bytes) of its commands' outputs, complete
        self.unsynced = []          # outputs of commands signalling its own semaphore
        self.unfenced = []          # outputs of commands signalling a shared semaphore
        self.first_error = {}       # unit -> code of its first refusal since its last STATUS


class _Gen:
    def __init__(self, seed, threads, commands, scratchpad=MIN_SCRATCHPAD):
        self.rng = random.Random(seed)
        # The first address past the scratchpad: where the "range" refusals point.
        self.end = RAM_BASE + scratchpad
        self.seed = seed
        self.nthreads = threads
        self.commands = commands
        self.image = []
        self.counts = {k: 0 for k in ("gemm", "vop", "vop_reg", "dma", "refused", "sadd",
                                      "swait", "fence", "rdctr", "status",
                                      "shared_reads")}
        self.statuses = []
        self.threads = [_Thread(t) for t in range(threads)]
        rng = self.rng
        self.owner = {u: rng.randrange(threads) for u in STATUS_UNITS}
        self.cfg = rng.choice([
            {"a_fmt": FormatCode.BF16.value, "a_bias": 0, "b_fmt": FormatCode.BF16.value,
             "b_bias": 0},
            {"a_fmt": FormatCode.CFP8_143.value, "a_bias": rng.randrange(4, 12),
             "b_fmt": FormatCode.CFP8_152.value, "b_bias": rng.randrange(12, 20)}])
        self.esize = 2 if self.cfg["a_fmt"] == FormatCode.BF16.value else 1
        # Shared semaphores: (producer, consumer, sem, contributions).
        self.shared = []
        sem = 4
        for j in range(1, threads):
            if rng.random() < 0.8 and sem < 16:
                self.shared.append({"producer": rng.randrange(j), "consumer": j, "sem": sem,
                                    "total": rng.randrange(1, 4), "placed": 0, "outs": []})
                sem += 1

    # --- emission helpers -------------------------------------------------------------------
    def li(self, th, reg, value):
        th.code += A.li(reg, value)

    def store(self, th, reg):
        """Store ``reg`` in the thread's next result slot; its address (None when full)."""
        if th.slot >= RESULT_SLOTS:
            return None
        th.code.append(A.sd(reg, 8 * th.slot, 31))
        th.slot += 1
        return RESULTS + th.t * RESULT_SLOTS * 8 + 8 * (th.slot - 1)

    def out(self, th, nbytes):
        """``nbytes`` (rounded up to lines) of fresh output lines, or None when none are left."""
        n = -(-nbytes // LINE) * LINE
        if th.out_next + n > th.out_end:
            return None
        addr, th.out_next = th.out_next, th.out_next + n
        return addr

    def desc(self, th, layout, **fields):
        if th.desc_next >= th.desc_end:
            return None
        addr, th.desc_next = th.desc_next, th.desc_next + LINE
        self.image.append((addr, pack_struct(layout, **fields).to_bytes(LINE, "little")))
        return addr

    def signal(self, th, refusable=False):
        """The signal of a command of ``th``: its own semaphore, or a contribution to a shared
        one it produces (never for a command that may deliver none)."""
        rng = self.rng
        for s in self.shared:
            if (s["producer"] == th.t and s["placed"] < s["total"] and not refusable
                    and rng.random() < 0.4):
                s["placed"] += 1
                return {"sem": s["sem"], "enable": 1, "amount": 1}
        th.pending += 1
        return {"sem": th.t, "enable": 1, "amount": 1}

    def refuse(self, th, unit, code):
        self.counts["refused"] += 1
        th.first_error.setdefault(unit, code)

    # --- commands ---------------------------------------------------------------------------
    def gemm(self, th, bad=None):
        rng = self.rng
        m, n, k = (rng.randrange(1, 13) for _ in range(3))
        load_c = rng.random() < 0.5
        a = GEMM_SRC + LINE * rng.randrange(GEMM_LINES - k + 1)
        b = GEMM_SRC + LINE * rng.randrange(GEMM_LINES - k + 1)
        c = C_SRC + LINE * rng.randrange(C_LINES - m + 1)
        d = self.out(th, m * LINE)
        if d is None:
            return
        f = dict(a=a, b=b, c=c, d=d, lda=LINE, ldb=LINE, ldc=LINE, ldd=LINE, m=m, n=n, k=k,
                 load_c=int(load_c))
        code = None
        if bad == "field":
            f["m"], code = 0, Error.FIELD
        elif bad == "align":
            f["ldb"], code = LINE + 16, Error.ALIGN
        elif bad == "range":
            f["d"], code = self.end - LINE, Error.RANGE
            f["m"] = max(2, m)
        addr = self.desc(th, GemmDescriptor, **f)
        if addr is None:
            return
        if bad == "address":
            addr, code = addr + 8, Error.ALIGN
        sig = self.signal(th, refusable=bad is not None)
        self.li(th, _T[0], addr)
        self.li(th, _T[1], pack_struct(Signal, **sig))
        th.code.append(A.d1_mgemm(_T[0], _T[1]))
        if code is None:
            self.counts["gemm"] += 1
            self.pend(th, sig, (d, m * LINE))
        else:
            self.refuse(th, "matrix", code)

    def vop(self, th, bad=None, reg=False):
        rng = self.rng
        op, vtype = rng.choice(_VOPS)
        spec = OPS[(op, vtype)]
        fmt = bias = imm = 0
        if op == "bcast":
            imm = rng.randrange(64)
        if spec.legal is not None:
            for _ in range(50):
                fmt, imm = rng.randrange(8), rng.randrange(8)
                if spec.legal(fmt, imm):
                    break
            else:
                return
            bias = rng.randrange(64)
        count = 1 if reg else rng.randrange(1, 5)
        strides = {x: rng.choice([0, LINE]) for x in "abc"}
        strides["d"] = LINE
        src = [SRC + LINE * rng.randrange(SRC_LINES - count + 1) for _ in "abc"]
        d = self.out(th, count * LINE) if not reg else OUT
        if d is None:
            return
        code = None
        vt = VecType[vtype.upper()].value
        opcode = VecOp[op.upper()].value
        if bad == "count":
            count, code = (2 if reg else 0), Error.FIELD
        elif bad == "align":
            src[0], code = src[0] + 32, Error.ALIGN
        elif bad == "range":
            src[0], code = self.end, Error.RANGE
        elif bad == "illegal":
            # an op the type lacks: a floating-point op on INT8, or a conversion on INT16
            opcode, vt = rng.choice([(VecOp.MUL.value, VecType.INT8.value),
                                     (VecOp.TO_I32.value, VecType.INT16.value),
                                     (VecOp.FMA.value, VecType.INT32.value)])
            if (VecOp(opcode).name.lower(), VecType(vt).name.lower()) in OPS:
                return
            code = Error.ILLEGAL_OP
            fmt = bias = imm = 0
        sig = self.signal(th, refusable=bad is not None)
        cfg = pack_struct(VectorConfig, vtype=vt, fmt=fmt, bias=bias, rnd=0, imm=imm,
                          count=count, signal=sig)
        self.li(th, _T[0], cfg)
        th.code.append(A.d1_vsetcfg(_T[0]))
        self.li(th, _T[0], pack_struct(VectorStrides, **strides))
        th.code.append(A.d1_vsetstride(_T[0]))
        self.li(th, _T[0], d)
        self.li(th, _T[1], src[2])
        th.code.append(A.d1_vsetdc(_T[0], _T[1]))
        self.li(th, _T[2], src[0])
        self.li(th, _T[3], src[1])
        rd = rng.choice(_RD) if reg else 0
        th.code.append(A.d1_vop(opcode, rd, _T[2], _T[3]))
        if reg:
            self.store(th, rd)
        if code is None:
            self.counts["vop_reg" if reg else "vop"] += 1
            if not reg:
                self.pend(th, sig, (d, count * LINE))
        else:
            self.refuse(th, "vector", code)

    def _dma_fields(self, th):
        rng = self.rng
        eb_code = rng.randrange(3)
        eb = (8, 16, 64)[eb_code]
        rows, elems = rng.randrange(1, 4), rng.randrange(1, 5)
        src_elem_stride = eb * rng.choice([1, 1, 2, 3])
        src_stride = eb * rng.randrange(0, 9)
        extent = (rows - 1) * src_stride + (elems - 1) * src_elem_stride + eb
        if extent > SRC_LINES * LINE:
            return None
        src = SRC + eb * rng.randrange((SRC_LINES * LINE - extent) // eb + 1)
        dst_stride = elems * eb + eb * rng.randrange(3)
        dst_bytes = (rows - 1) * dst_stride + elems * eb
        dst = self.out(th, dst_bytes)
        if dst is None:
            return None
        return dict(src=src, dst=dst, src_stride=src_stride, dst_stride=dst_stride,
                    src_elem_stride=src_elem_stride, rows=rows, elems=elems,
                    elem_bytes=eb_code, local=1), (dst, -(-dst_bytes // LINE) * LINE)

    def dma(self, th, bad=None):
        rng = self.rng
        n = rng.choice([1, 2])
        parts = [self._dma_fields(th) for _ in range(n)]
        if any(p is None for p in parts) or th.desc_next + n * LINE > th.desc_end:
            return
        code = None
        last = parts[-1][0]
        if bad == "field":
            last["elem_bytes"], code = 3, Error.FIELD
        elif bad == "remote":
            last.update(local=0, dst_x=1)
            code = Error.REMOTE
        elif bad == "align":
            last["src"], code = last["src"] + 4, Error.ALIGN
        elif bad == "range":
            last["dst"], code = self.end, Error.RANGE
        first_bad = bad == "address"
        # descriptors back to front, each pointing at the next
        addrs = [th.desc_next + i * LINE for i in range(n)]
        sigs = []
        for i, (fields, _) in enumerate(parts):
            fields["next"] = addrs[i + 1] if i + 1 < n else 0
            fields["signal"] = ({"sem": th.t, "enable": 1, "amount": 1} if first_bad
                                else self.signal(th, refusable=bad is not None))
            sigs.append(fields["signal"])
            self.desc(th, DmaDescriptor, **fields)
        addr = addrs[0]
        if first_bad:
            addr, code = addr + 16, Error.ALIGN
        self.li(th, _T[0], addr)
        th.code.append(A.d1_dma(_T[0]))
        if code is None:
            self.counts["dma"] += 1
            for sig, (_, out) in zip(sigs, parts, strict=True):
                self.pend(th, sig, out)
        else:
            self.refuse(th, "dma", code)
            if bad != "address":
                for sig, (_, out) in zip(sigs[:-1], parts[:-1], strict=True):
                    self.pend(th, sig, out)

    # --- synchronisation --------------------------------------------------------------------
    def pend(self, th, sig, out):
        """``out`` is being written by a command of ``th`` with signal ``sig``: complete after
        a wait for the thread's own signals (when ``sig`` is one) or a fence, and for the
        consumer of the shared semaphore ``sig`` names, after its wait."""
        if sig["sem"] == th.t:
            th.unsynced.append(out)
        else:
            th.unfenced.append(out)
            next(s for s in self.shared if s["sem"] == sig["sem"])["outs"].append(out)

    def wait_own(self, th):
        """SWAIT for every signal asked for, SREAD; then the outputs are complete."""
        self.counts["swait"] += 1
        rd = self.rng.choice(_RD)
        self.li(th, _T[0], th.pending)
        th.code += [A.addi(_T[1], 0, th.t), A.d1_swait(rd, _T[1], _T[0])]
        self.store(th, rd)
        th.code.append(A.d1_sread(rd, _T[1]))
        self.store(th, rd)
        self.synced(th)
        if self.rng.random() < 0.3:
            th.pending = self.rng.randrange(100)
            self.li(th, _T[0], th.pending)
            th.code.append(A.d1_sset(_T[1], _T[0]))

    def fence(self, th):
        self.counts["fence"] += 1
        th.code.append(A.d1_fence())
        th.unsynced += th.unfenced
        th.unfenced = []
        self.synced(th)

    def synced(self, th):
        """The thread's outputs are complete: load a word of some of them."""
        th.written += th.unsynced
        th.unsynced = []
        for _ in range(min(2, len(th.written))):
            addr, n = self.rng.choice(th.written)
            self.li(th, _T[0], addr + 8 * self.rng.randrange(n // 8))
            rd = self.rng.choice(_RD)
            th.code.append(A.ld(rd, 0, _T[0]))
            self.store(th, rd)

    def status(self, th, unit):
        """STATUS of a unit the thread owns, after a fence."""
        self.fence(th)
        self.counts["status"] += 1
        rd = self.rng.choice(_RD)
        th.code += [A.addi(_T[0], 0, STATUS_UNITS[unit]), A.d1_status(rd, _T[0])]
        where = self.store(th, rd)
        if where is not None:
            self.statuses.append((where, int(th.first_error.pop(unit, Error.NONE))))
        else:
            th.first_error.pop(unit, None)

    def sadd(self, th):
        rng = self.rng
        self.counts["sadd"] += 1
        mine = [s for s in self.shared if s["producer"] == th.t and s["placed"] < s["total"]]
        if mine and rng.random() < 0.6:
            s = rng.choice(mine)
            s["placed"] += 1
            sem, amount = s["sem"], 1
        else:
            sem, amount = th.t, rng.randrange(1, 2048)
            th.pending += amount
        th.code += [A.addi(_T[0], 0, sem), A.addi(_T[1], 0, amount), A.d1_sadd(_T[0], _T[1])]

    def wait_shared(self, th, s):
        self.counts["swait"] += 1
        rd = self.rng.choice(_RD)
        th.code += [A.addi(_T[0], 0, s["sem"]), A.addi(_T[1], 0, s["total"]),
                    A.d1_swait(rd, _T[0], _T[1])]
        self.store(th, rd)
        # Every command of the producer that signals it is complete: read their results.
        self.counts["shared_reads"] += len(s["outs"][:2])
        for addr, n in s["outs"][:2]:
            self.li(th, _T[0], addr + 8 * self.rng.randrange(n // 8))
            rd = self.rng.choice(_RD)
            th.code.append(A.ld(rd, 0, _T[0]))
            self.store(th, rd)

    def rdctr(self, th):
        self.counts["rdctr"] += 1
        rd = self.rng.choice(_RD)
        th.code += [A.addi(_T[0], 0, self.rng.choice(counter_numbers(self.nthreads))),
                    A.d1_rdctr(rd, _T[0])]
        self.store(th, rd)

    # --- a thread's body --------------------------------------------------------------------
    def body(self, th):
        rng = self.rng
        owned = [u for u, t in self.owner.items() if t == th.t]
        actions = ["gemm", "vop", "vop", "vop_reg", "dma", "dma", "sadd", "wait", "fence",
                   "rdctr"] + ["refuse"] * (2 * len(owned)) + ["status"] * len(owned)
        waits = [s for s in self.shared if s["consumer"] == th.t]
        wait_at = {rng.randrange(self.commands + 1): s for s in waits}
        for i in range(self.commands):
            for s in [s for k, s in wait_at.items() if k == i]:
                self.wait_shared(th, s)
            kind = rng.choice(actions)
            if kind == "gemm":
                self.gemm(th)
            elif kind == "vop":
                self.vop(th)
            elif kind == "vop_reg":
                self.vop(th, reg=True)
            elif kind == "dma":
                self.dma(th)
            elif kind == "sadd":
                self.sadd(th)
            elif kind == "wait":
                self.wait_own(th)
            elif kind == "fence":
                self.fence(th)
            elif kind == "rdctr":
                self.rdctr(th)
            elif kind == "refuse":
                unit = rng.choice(owned)
                if unit == "matrix":
                    self.gemm(th, bad=rng.choice(["field", "align", "range", "address"]))
                elif unit == "vector":
                    self.vop(th, bad=rng.choice(["count", "align", "range", "illegal"]),
                             reg=rng.random() < 0.3)
                else:
                    self.dma(th, bad=rng.choice(["field", "remote", "align", "range",
                                                 "address"]))
            else:
                self.status(th, rng.choice(owned))
        for s in [s for k, s in wait_at.items() if k >= self.commands]:
            self.wait_shared(th, s)
        # What it still owes its consumers, then everything synchronised and read.
        for s in self.shared:
            while s["producer"] == th.t and s["placed"] < s["total"]:
                s["placed"] += 1
                th.code += [A.addi(_T[0], 0, s["sem"]), A.addi(_T[1], 0, 1),
                            A.d1_sadd(_T[0], _T[1])]
        self.wait_own(th)
        for unit in owned:
            self.status(th, unit)


def random_program(seed, *, threads=4, commands=20, scratchpad=MIN_SCRATCHPAD):
    """A random program (see the module docstring) for ``threads`` threads of ``commands``
    random actions each (``threads`` 1..4, ``commands`` 1..40: a body must fit its 4 KB) on a
    core whose scratchpad has ``scratchpad`` bytes (the refusals for range point past its
    end: on a larger scratchpad than the program was made for they would be legal commands
    writing lines that several threads share, in no fixed order); the same ``seed`` gives the
    same program."""
    check_int("threads", threads, 1, MAX_THREADS)
    check_int("commands", commands, 1, 40)
    check_int("scratchpad", scratchpad, MIN_SCRATCHPAD, 1 << 40)
    g = _Gen(seed, threads, commands, scratchpad)
    rng = g.rng
    mcfg = pack_struct(OperandConfig, **g.cfg)
    boot = [*A.li(1, mcfg), A.d1_mcfg(1, 0), *A.li(1, ENTRY),
            A.csrrw(0, Csr.MTHREADPC, 1), A.addi(1, 0, (1 << threads) - 2),
            A.csrrs(0, Csr.MTHREADCTL, 1)]
    boot.append(A.jal(0, ENTRY - (RAM_BASE + 4 * len(boot))))
    entry = [A.csrrs(5, Csr.MHARTID, 0), *A.li(31, RESULTS), A.slli(6, 5, 9), A.add(31, 31, 6),
             *A.li(7, BODY), A.slli(6, 5, 12), A.add(7, 7, 6), A.jalr(0, 7, 0)]
    g.image += [(RAM_BASE, A.program(*boot)), (ENTRY, A.program(*entry))]
    # Sources: random bytes; GEMM operands with bit 6 of every byte clear (finite BF16 and
    # CFP8 codes); C rows of FP32 values of moderate size.
    g.image.append((SRC, rng.randbytes(SRC_LINES * LINE)))
    ops = bytes(b & 0xBF for b in rng.randbytes(GEMM_LINES * LINE))
    g.image.append((GEMM_SRC, ops))
    c = np.array([rng.uniform(-4, 4) for _ in range(C_LINES * LINE // 4)], np.float32)
    g.image.append((C_SRC, c.tobytes()))
    for th in g.threads:
        g.body(th)
        if th.t == 0:
            th.code += [A.csrrs(1, Csr.MTHREADCTL, 0), A.addi(2, 0, 1), A.bne(1, 2, -8),
                        *A.li(3, TOHOST), A.addi(4, 0, 1), A.sd(4, 0, 3), A.jal(0, 0)]
        else:
            th.code += [A.addi(1, 0, 1 << th.t), A.csrrc(0, Csr.MTHREADCTL, 1), A.jal(0, 0)]
        code = A.program(th.code)
        if len(code) > BODY_SPAN:
            raise ValueError(f"seed {seed}: thread {th.t}'s body is {len(code)} bytes, more "
                             f"than {BODY_SPAN:#x}: fewer commands")
        g.image.append((BODY + th.t * BODY_SPAN, code))
    return RandomProgram(g.image, TOHOST, seed, g.counts, g.statuses)
