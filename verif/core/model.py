"""Instruction-level model of the D1 core: the scalar ISS (``verif.scalar.iss``) with a
coprocessor that executes every custom instruction of ``hw.core.isa`` (docs/isa.md) on the ISS's
memory, which is the scratchpad.

Memory
    One :class:`~verif.scalar.iss.Memory` from ``RAM_BASE`` (0x8000_0000, where the scratchpad
    sits in the core's address map) of the SRAM preset's size (``lines · 64`` bytes: 1.25 MiB
    for D1). Programs, their data and every unit operand live in it. A unit address is valid
    when every byte it touches is inside it (else ``Error.RANGE``).

Timing: none
    Every queued command (MCFG, MGEMM, a VOP to the scratchpad, a DMA list) executes completely
    when its instruction issues, and its signal is added then (for a DMA list, each
    descriptor's signal after that descriptor). So a queue is never full, ``d1.fence`` never
    waits, and the only instruction that sleeps is ``d1.swait`` on a semaphore below its
    threshold. The RTL completes the same work later; a program that synchronises as
    docs/isa.md says (a semaphore wait or a fence before it reads a unit's results or reuses its
    operands, the error registers read after such a wait) gets the same memory and registers
    from both, whatever the timing. Programs that race (read results without waiting) are
    outside the contract: the model then shows them the finished results.

Units and their state
    * Semaphores: :data:`~hw.core.isa.SEMAPHORES` 32-bit counters (reset 0), :attr:`semaphores`.
    * Error registers: one per unit (matrix, vector, DMA), :attr:`errors`, ``(code, addr)``.
      The first refusal since the last ``d1.status`` read is kept; later ones are dropped until
      the register is read (and cleared).
    * Matrix: the operand configuration (:attr:`operands`, reset BF16 × BF16), set by MCFG.
    * Vector: per thread, the state of VSETCFG/VSETSTRIDE/VSETDC (:class:`VectorState`, reset
      0); per core, the vector unit's sticky flags and SR generators
      (:class:`verif.vector.model.VectorUnitModel`, :attr:`vector_unit`), stepped by each line
      of each VOP in issue order.

Instructions (the exact rules are docs/isa.md; ``rd`` gets 0 from every instruction that
answers nothing)
    * MCFG: ``rs1`` bits 0..17 are an ``OperandConfig`` (higher bits ignored), ``rs2`` a
      signal delivered at once (after the configuration takes effect).
    * MGEMM: the descriptor at ``rs1``; D = A·B (+ C) by ``verif.matmul.model.matmul`` with the
      configured formats; D rows ``m`` of ``n`` FP32 values: bytes past column n of a row and
      rows past m are not written. Refusals (error address = the descriptor's): descriptor
      address misaligned (ALIGN) or outside (RANGE); reserved bits set, m, n or k zero, or an
      operand format that is not BF16/CFP8 (FIELD); an operand address or stride not a multiple
      of 64 (ALIGN); an operand byte outside (RANGE).
    * VOP: ``count`` lines, line i reading the operands the op reads (``OPS[(op, vtype)]``)
      from ``base + i·stride`` and writing ``d + i·stride_d``, line by line in order. Refusals
      (nothing written): count 0, or a register VOP (``rd`` != 0) with count != 1 (FIELD,
      address = ``rs1``); an operand or destination base or stride not a multiple of 64
      (ALIGN, that base); a line outside (RANGE, that line's address). These are found before
      the unit sees the command. An operation the vector unit finds illegal (unknown op code,
      a pair not in ``OPS``, a bad fmt/imm for a conversion) is refused as ILLEGAL_OP (address
      ``rs1``): its ``count`` requests still pass through the unit (the SR generators step),
      nothing is written and a register VOP answers 0. A register VOP answers the low 64 bits
      of its result line. Every VOP, register VOPs included, delivers its VSETCFG signal.
    * DMA: the list from ``rs1`` by the DMA engine's own model (``verif.core.dma_model``:
      each descriptor executed as ``hw.core.isa.DmaDescriptor`` says, element by element, then
      its signal). A descriptor is refused (nothing written, error address = its address, its
      signal still delivered, the list ended) for reserved bits set, ``elem_bytes`` 3, rows or
      elems 0 (FIELD); a destination core other than this one (REMOTE); a src, dst or stride not
      a multiple of the element size (ALIGN); a byte outside, or a ``next`` that is not a
      descriptor address inside (RANGE, ALIGN). A first descriptor address that is not 64-byte
      aligned or not inside ends the list with ALIGN/RANGE at that address (no signal: none can
      be read). A descriptor whose source overlaps its own destination is not supported.
    * SSET, SADD, SWAIT, SREAD: semaphore ``rs1`` (16 or more: illegal instruction), values
      taken modulo 2**32. SWAIT below its threshold raises ``CoprocessorWait`` (the thread
      sleeps; the reason names the semaphore, its value and the threshold).
    * FENCE: ``rd`` = 0 at once. STATUS ``rs1`` in 0..2 (else illegal): ``code | addr << 32``,
      then cleared. SNOTIFY (a core of a mesh's) is illegal: the model is a lone core's.
    * RDCTR: the model has no cycles. It answers ``CYCLES`` with the ISS's cycle count (one per
      retired-or-trapping step, as ``mcycle``), thread t's ``THREAD_INSTRUCTIONS`` with its retired
      count (``instret``) and every other defined counter with 0; a number that names no
      counter is illegal. A lockstep comparison must not compare RDCTR results: it takes the
      RTL's value (:func:`reads_counter` finds the instruction) and writes it into the model's
      register, or passes ``counter`` (a function ``(thread, number) -> value``) that answers
      from the RTL.
    * Any other encoding of custom-0..3 (an unknown funct3, funct7 not 0 where 0 is required,
      VOP funct7 bit 6 set) raises ``CoprocessorIllegal``: an illegal-instruction trap.

Using it
    ``CoreModel(threads=4, sram="D1")``; load a program (:meth:`CoreModel.load`) and
    :meth:`CoreModel.run` (a deadlock ends the run with the ISS's report, which includes
    :meth:`CoreModel.deadlock_report`), or call :meth:`CoreModel.coprocessor` directly (the
    tests do). The model object itself is the ISS's coprocessor callback.

Lockstep with the RTL (for the core's bench)
    Step the model's ISS in the RTL's retire order, ``model.iss.step(thread)`` per retired
    record, and compare the records as ``verif.scalar.core_tb.lockstep`` does. ``ThreadAsleep``
    from that call means the RTL retired a ``d1.swait`` the model still sleeps on: a
    divergence (or a racy program). For ``d1.rdctr`` (:func:`reads_counter`) take the RTL's
    value: write it into ``model.iss.threads[t].x[rd]`` after the step, or answer through
    ``counter``. The RTL's units finish queued work later than the model, so memory is
    compared where the program has synchronised (its end, or after its waits), not per record.
"""

from dataclasses import dataclass, field

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import data

from hw.core.counters import counter_numbers
from hw.core.isa import (
    DESCRIPTOR_BYTES,
    SEM_BITS,
    SEMAPHORES,
    Counter,
    DmaFn,
    Error,
    GemmDescriptor,
    MatrixFn,
    Signal,
    SyncFn,
    Unit,
    VectorConfig,
    VectorFn,
    VectorStrides,
    decode_fields,
)
from hw.fp.formats import format_for_code
from hw.matmul.array import DEFAULT_OPERANDS, OperandConfig
from hw.scalar.isa import MAX_THREADS, RAM_BASE
from hw.sram.config import SRAMConfig, get_preset
from hw.vector.isa import VECTOR_BYTES, VecOp, VecType
from verif.core.dma_model import run_list
from verif.matmul.model import MATMUL_FORMATS, matmul
from verif.scalar.iss import ISS, CoprocessorIllegal, CoprocessorWait, Memory
from verif.vector.model import OPS, VectorUnitModel

__all__ = ["CoreModel", "VectorState", "ModelError", "pack_struct", "unpack_struct",
           "reads_counter", "STATUS_UNITS", "LINE"]

#: Bytes of a scratchpad line (the alignment of unit operands and descriptors).
LINE = 64
#: The units ``d1.status`` names, by its ``rs1``.
STATUS_UNITS = (Unit.MATRIX, Unit.VECTOR, Unit.DMA)
_SEM_MASK = (1 << SEM_BITS) - 1
#: Descriptors a DMA list may have before the model calls it a loop.
DMA_LIST_MAX = 1 << 16


class ModelError(RuntimeError):
    """Something the model cannot model (a DMA list that never ends)."""


# --- layouts as Python integers --------------------------------------------------------------

def _fields(layout):
    return [(name, f.offset, f.shape) for name, f in data.Layout.cast(layout)]


def unpack_struct(layout, value):
    """``value``'s fields of the struct ``layout`` as a dict of integers (nested dicts for
    struct fields)."""
    out = {}
    for name, offset, shape in _fields(layout):
        width = Shape.cast(shape).width
        v = (value >> offset) & ((1 << width) - 1)
        if isinstance(shape, data.StructLayout):
            v = unpack_struct(shape, v)
        elif Shape.cast(shape).signed and v >> (width - 1):
            v -= 1 << width
        out[name] = v
    return out


def pack_struct(layout, **fields):
    """The integer of the struct ``layout`` with ``fields`` (integers, or dicts for struct
    fields; missing fields 0). A value that does not fit its field raises ValueError."""
    shapes = {name: (offset, shape) for name, offset, shape in _fields(layout)}
    value = 0
    for name, v in fields.items():
        if name not in shapes:
            raise ValueError(f"no field {name!r} in the layout; fields are {', '.join(shapes)}")
        offset, shape = shapes[name]
        if isinstance(v, dict):
            v = pack_struct(shape, **v)
        width = Shape.cast(shape).width
        lo = -(1 << (width - 1)) if Shape.cast(shape).signed else 0
        if not lo <= v < (1 << width):
            raise ValueError(f"{name} must fit {width} bits, not {v}")
        value |= (v & ((1 << width) - 1)) << offset
    return value


def _signal(value):
    return unpack_struct(Signal, value & ((1 << data.Layout.cast(Signal).size) - 1))




def reads_counter(insn):
    """Whether ``insn`` is a RDCTR (its result must not be compared in lockstep)."""
    opcode, _, funct3, _, _, funct7 = decode_fields(insn)
    return opcode == Unit.SYNC and funct3 == SyncFn.RDCTR and funct7 == 0


class _Refused(Exception):
    def __init__(self, code, addr):
        super().__init__(code, addr)
        self.code = code
        self.addr = addr


@dataclass
class VectorState:
    """One thread's vector state: the VSETCFG fields (``config``, a dict of VectorConfig),
    the VSETSTRIDE strides (signed, a dict of VectorStrides), ``d`` and ``c`` (VSETDC)."""

    config: dict = field(default_factory=lambda: unpack_struct(VectorConfig, 0))
    strides: dict = field(default_factory=lambda: dict.fromkeys("abcd", 0))
    d: int = 0
    c: int = 0


class CoreModel:
    """The D1 core at instruction level: :attr:`iss` runs the threads, :meth:`coprocessor`
    executes the custom instructions (module docstring).

    Parameters: ``threads`` (1..4), ``sram`` (an SRAM preset name or ``SRAMConfig``: the
    scratchpad's size), ``memory`` (a ready Memory instead), ``reset_pc``, ``tohost`` (as the
    ISS), ``core`` (this core's ``(x, y)``, for DMA destinations), ``counter`` (None, or a
    function ``(thread, number) -> value`` answering RDCTR).
    """

    def __init__(self, *, threads=MAX_THREADS, sram="D1", memory=None, reset_pc=RAM_BASE,
                 tohost=None, core=(0, 0), counter=None):
        if memory is None:
            config = sram if isinstance(sram, SRAMConfig) else get_preset(sram)
            memory = Memory(RAM_BASE, config.lines * LINE)
        self.memory = memory
        self.core = tuple(core)
        self.counter = counter
        self.iss = ISS(memory, threads=threads, reset_pc=reset_pc, tohost=tohost,
                       coprocessor=self)
        self.semaphores = [0] * SEMAPHORES
        self.errors = {u: (Error.NONE, 0) for u in STATUS_UNITS}
        self.operands = {k: getattr(v, "value", v) for k, v in DEFAULT_OPERANDS.items()}
        self.vector = [VectorState() for _ in range(threads)]
        #: The RDCTR numbers that name a counter: the RTL's (``hw.core.counters``).
        self.counters = frozenset(counter_numbers(threads))
        self.vector_unit = VectorUnitModel()

    # --- running --------------------------------------------------------------------------

    @classmethod
    def load(cls, program, **kw):
        """A model with ``program`` (``verif.scalar.elf.Program``) loaded, starting at its entry,
        with its ``tohost``."""
        model = cls(reset_pc=program.entry, tohost=program.tohost, **kw)
        program.load_into(model.memory)
        return model

    def run(self, max_steps):
        """``self.iss.run(max_steps)``: the ISS's RunResult (status "deadlock" when every
        running thread waits on a semaphore)."""
        return self.iss.run(max_steps)

    def deadlock_report(self):
        """The state a deadlock report shows (the ISS asks for it): every semaphore and the
        error registers that hold a refusal."""
        lines = ["semaphores: " + " ".join(f"{i}={v}" for i, v in enumerate(self.semaphores))]
        lines += [f"error register of {unit.name.lower()}: {code.name} at {addr:#x}"
                  for unit, (code, addr) in self.errors.items() if code != Error.NONE]
        return "\n".join(lines)

    def report(self, result):
        """A text report of a RunResult: its status and, for a deadlock, the report (every
        thread's pc and wait, the semaphores); else the semaphores."""
        lines = [f"status {result.status}, tohost {result.tohost:#x}, {result.steps} steps"]
        lines.append(self.deadlock_report() if result.deadlock is None else str(result.deadlock))
        return "\n".join(lines)

    # --- the coprocessor ------------------------------------------------------------------

    def __call__(self, thread, insn, rs1, rs2):
        """The ISS's coprocessor callback: :meth:`coprocessor`."""
        return self.coprocessor(thread, insn, rs1, rs2)

    def coprocessor(self, thread, insn, rs1, rs2):
        """Execute ``insn`` of ``thread`` with operand values ``rs1``/``rs2``; return the value
        for ``rd``. Raises ``CoprocessorIllegal`` and ``CoprocessorWait`` (module docstring)."""
        opcode, rd, funct3, _, _, funct7 = decode_fields(insn)
        if opcode == Unit.MATRIX:
            return self._matrix(funct3, funct7, rs1, rs2)
        if opcode == Unit.VECTOR:
            return self._vector(thread, rd, funct3, funct7, rs1, rs2)
        if opcode == Unit.DMA:
            if funct3 != DmaFn.DMA or funct7:
                raise CoprocessorIllegal
            self._dma(rs1, thread)
            return 0
        if opcode == Unit.SYNC:
            return self._sync(thread, funct3, funct7, rs1, rs2)
        raise CoprocessorIllegal

    def _deliver(self, signal):
        if signal["enable"]:
            s = signal["sem"]
            self.semaphores[s] = (self.semaphores[s] + signal["amount"]) & _SEM_MASK

    def _record(self, unit, refused):
        if self.errors[unit][0] == Error.NONE:
            self.errors[unit] = (Error(refused.code), refused.addr & 0xFFFF_FFFF)

    def _inside(self, addr, n):
        return self.memory.contains(addr, n)

    def _check_range(self, addr, n, report=None):
        if not self._inside(addr, n):
            raise _Refused(Error.RANGE, addr if report is None else report)

    def _descriptor(self, addr, layout):
        if addr % DESCRIPTOR_BYTES:
            raise _Refused(Error.ALIGN, addr)
        self._check_range(addr, DESCRIPTOR_BYTES)
        return unpack_struct(layout, int.from_bytes(self.memory.read(addr, DESCRIPTOR_BYTES),
                                                    "little"))

    # --- matrix ---------------------------------------------------------------------------

    def _matrix(self, funct3, funct7, rs1, rs2):
        if funct7 or funct3 not in (MatrixFn.MCFG, MatrixFn.MGEMM):
            raise CoprocessorIllegal
        if funct3 == MatrixFn.MCFG:
            size = data.Layout.cast(OperandConfig).size
            self.operands = unpack_struct(OperandConfig, rs1 & ((1 << size) - 1))
        else:
            try:
                self._gemm(rs1)
            except _Refused as refused:
                self._record(Unit.MATRIX, refused)
        self._deliver(_signal(rs2))
        return 0

    def _operand_format(self, which):
        f = format_for_code(self.operands[f"{which}_fmt"])
        return None if f is None or f.name not in MATMUL_FORMATS else f

    def _gemm(self, addr):
        g = self._descriptor(addr, GemmDescriptor)
        fa, fb = self._operand_format("a"), self._operand_format("b")
        if g["reserved"] or min(g["m"], g["n"], g["k"]) == 0 or fa is None or fb is None:
            raise _Refused(Error.FIELD, addr)
        if any(g[f] % LINE for f in ("a", "b", "c", "d", "lda", "ldb", "ldc", "ldd")):
            raise _Refused(Error.ALIGN, addr)
        m, n, k = g["m"], g["n"], g["k"]
        ea, eb = fa.width // 8, fb.width // 8
        regions = [(g["a"], g["lda"], k, m * ea), (g["b"], g["ldb"], k, n * eb),
                   (g["d"], g["ldd"], m, 4 * n)]
        if g["load_c"]:
            regions.append((g["c"], g["ldc"], m, 4 * n))
        for base, stride, rows, nbytes in regions:
            self._check_range(base + (rows - 1) * stride, nbytes, addr)
            self._check_range(base, nbytes, addr)
        at = self._rows(g["a"], g["lda"], k, m, ea)
        b = self._rows(g["b"], g["ldb"], k, n, eb)
        c = self._rows(g["c"], g["ldc"], m, n, 4) if g["load_c"] else None
        kw = {"a_fmt": fa.name, "b_fmt": fb.name,
              "a_bias": self.operands["a_bias"] if fa.configurable else None,
              "b_bias": self.operands["b_bias"] if fb.configurable else None}
        d, _ = matmul(np.ascontiguousarray(at.T), b, c, **kw)
        for i in range(m):
            self.memory.write(g["d"] + i * g["ldd"], d[i].astype("<u4").tobytes())

    def _rows(self, base, stride, rows, cols, size):
        dtype = {1: np.uint8, 2: np.uint16, 4: np.uint32}[size]
        out = np.zeros((rows, cols), dtype)
        for r in range(rows):
            out[r] = np.frombuffer(self.memory.read(base + r * stride, cols * size),
                                   np.dtype(dtype).newbyteorder("<"))
        return out

    # --- vector ---------------------------------------------------------------------------

    def _vector(self, thread, rd, funct3, funct7, rs1, rs2):
        state = self.vector[thread]
        if funct3 == VectorFn.VOP:
            if funct7 >> 6:
                raise CoprocessorIllegal
            return self._vop(state, funct7, rd, rs1, rs2)
        if funct7 or funct3 not in (VectorFn.VSETCFG, VectorFn.VSETSTRIDE, VectorFn.VSETDC):
            raise CoprocessorIllegal
        if funct3 == VectorFn.VSETCFG:
            size = data.Layout.cast(VectorConfig).size
            state.config = unpack_struct(VectorConfig, rs1 & ((1 << size) - 1))
        elif funct3 == VectorFn.VSETSTRIDE:
            size = data.Layout.cast(VectorStrides).size
            state.strides = unpack_struct(VectorStrides, rs1 & ((1 << size) - 1))
        else:
            state.d, state.c = rs1, rs2
        return 0

    def _vop(self, state, code, rd, rs1, rs2):
        cfg, strides = state.config, state.strides
        result = 0
        try:
            result = self._vop_lines(cfg, strides, code, rd, rs1, rs2, state.d, state.c)
        except _Refused as refused:
            self._record(Unit.VECTOR, refused)
        self._deliver(cfg["signal"])
        return result

    def _vop_lines(self, cfg, strides, code, rd, a, b, d, c):
        count = cfg["count"]
        if count == 0 or (rd and count != 1):
            raise _Refused(Error.FIELD, a)
        names = (VecOp(code).name.lower() if code in {o.value for o in VecOp} else None,
                 VecType(cfg["vtype"]).name.lower()
                 if cfg["vtype"] in {t.value for t in VecType} else None)
        spec = OPS.get(names)
        bases = {"a": a, "b": b, "c": c}
        reads = spec.fields if spec is not None else ()
        operands = [(f, bases[f], strides[f]) for f in reads]
        if not rd:
            operands.append(("d", d, strides["d"]))
        for _, base, stride in operands:
            if base % LINE or stride % LINE:
                raise _Refused(Error.ALIGN, base)
            for line in (base, base + (count - 1) * stride):
                self._check_range(line, LINE)
        zero = np.zeros(VECTOR_BYTES, np.uint8)
        requests = []
        for i in range(count):
            req = {"op": code, "vtype": cfg["vtype"], "fmt": cfg["fmt"], "bias": cfg["bias"],
                   "rnd": cfg["rnd"], "imm": cfg["imm"], "a": zero, "b": zero, "c": zero}
            for f, base, stride in operands:
                if f != "d":
                    req[f] = np.frombuffer(self.memory.read(base + i * stride, LINE), np.uint8)
            requests.append(req)
            if spec is None:
                continue
            out = self.vector_unit.run([req])[0]
            if out["error"]:
                # Legal pair but a bad fmt/imm: every line is the same request shape, so all
                # are refused; the rest still pass through the unit.
                for _ in range(i + 1, count):
                    self.vector_unit.run([req])
                raise _Refused(Error.ILLEGAL_OP, a)
            if rd:
                return int.from_bytes(out["data"][:8].tobytes(), "little")
            self.memory.write(d + i * strides["d"], out["data"].tobytes())
        if spec is None:
            self.vector_unit.run(requests)
            raise _Refused(Error.ILLEGAL_OP, a)
        return 0

    # --- DMA ------------------------------------------------------------------------------

    def _dma(self, addr, thread):
        """The list at ``addr`` by the DMA engine's model (``verif.core.dma_model``): each
        descriptor's signal after it, a refused descriptor recorded (and the list ended)."""
        try:
            _, done, errors = run_list(self.memory, addr, base=self.memory.base,
                                       size=self.memory.size, x=self.core[0], y=self.core[1],
                                       thread=thread, max_descriptors=DMA_LIST_MAX)
        except ValueError as e:
            raise ModelError(f"DMA {e}") from None
        for e in errors:
            self._record(Unit.DMA, _Refused(e["code"], e["addr"]))
        for d in done:
            self._deliver(_signal(d["signal"]))

    # --- synchronisation ------------------------------------------------------------------

    def _sync(self, thread, funct3, funct7, rs1, rs2):
        if funct7 or funct3 not in {f.value for f in SyncFn}:
            raise CoprocessorIllegal
        if funct3 in (SyncFn.SSET, SyncFn.SADD, SyncFn.SWAIT, SyncFn.SREAD):
            if rs1 >= SEMAPHORES:
                raise CoprocessorIllegal
            value = self.semaphores[rs1]
            if funct3 == SyncFn.SSET:
                self.semaphores[rs1] = rs2 & _SEM_MASK
            elif funct3 == SyncFn.SADD:
                self.semaphores[rs1] = (value + rs2) & _SEM_MASK
            elif funct3 == SyncFn.SWAIT:
                want = rs2 & _SEM_MASK
                if value < want:
                    raise CoprocessorWait(f"d1.swait: semaphore {rs1} is {value}, "
                                          f"waiting for >= {want}")
                return value
            else:
                return value
            return 0
        if funct3 == SyncFn.FENCE:
            return 0
        if funct3 == SyncFn.SNOTIFY:
            raise CoprocessorIllegal        # a lone core has no network (docs/mesh.md)
        if funct3 == SyncFn.STATUS:
            if rs1 >= len(STATUS_UNITS):
                raise CoprocessorIllegal
            unit = STATUS_UNITS[rs1]
            code, addr = self.errors[unit]
            self.errors[unit] = (Error.NONE, 0)
            return int(code) | addr << 32
        if rs1 not in self.counters:
            raise CoprocessorIllegal
        if self.counter is not None:
            return self.counter(thread, rs1)
        if rs1 == Counter.CYCLES:
            return self.iss.cycle
        if rs1 >= 64 and (rs1 - 64) % 8 == Counter.THREAD_INSTRUCTIONS:
            return self.iss.threads[(rs1 - 64) // 8].instret    # a thread the core has
        return 0
