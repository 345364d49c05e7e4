"""Instruction-set simulator of d1core's scalar core: the golden model the RTL retire trace is
compared against in lockstep.

What it models
--------------
RV64IM with Zicsr, FENCE and FENCE.I, 32-bit encodings only (no C extension), machine mode only,
one to four hardware threads sharing one :class:`Memory`. Each :class:`Thread` has its own pc,
registers ``x[0..31]`` (``x0`` reads 0, writes to it are dropped) and trap CSRs.

Memory
    :class:`Memory` is sparse and byte-addressed, ``size`` bytes from ``base`` (default
    ``0x8000_0000``); bytes never written read 0. Accesses are little-endian, 1, 2, 4 or 8 bytes.
    Any byte outside ``[base, base + size)`` is out of range.

Threads and how they start
    Thread 0 resets at ``reset_pc`` (default ``0x8000_0000``) and runs; threads 1.. are parked.
    Two core-wide custom CSRs (machine read/write space) control them:

    * ``mthreadpc`` (``0x7C1``): the start pc. Writes clear the low two bits (WARL, always
      4-byte aligned). Resets to 0.
    * ``mthreadctl`` (``0x7C0``): reads the mask of running threads (bit i =
      thread i). A write sets the new mask, keeping only bits of threads that exist: a thread
      whose bit goes 0 -> 1 starts at ``mthreadpc`` (its registers keep their values; they reset
      to 0); a thread whose bit goes 1 -> 0 parks. So ``csrrs x0, mthreadctl, rs1`` starts the
      threads in ``rs1`` and ``csrrc`` stops them; a thread may stop itself. The change takes
      effect after the writing instruction retires (a thread that stops itself retires that
      instruction first, and its pc then points past it).

    :meth:`ISS.step` runs one instruction of the next running thread in round-robin order,
    starting after the thread that ran last (thread 0 first after reset).

CSRs (any other CSR number is an illegal instruction)
    ``mstatus`` (0x300): only MIE (bit 3) and MPIE (bit 7) are stored; MPP (bits 12:11) reads 3
    (machine mode is the only mode); every other bit reads 0 and ignores writes. Resets to
    MPP = 3 only. ``mie`` (0x304): reads 0, writes ignored (no interrupts). ``mtvec`` (0x305):
    direct mode only, so writes clear the low two bits (the mode field reads 0); any 4-byte
    aligned base. ``mscratch`` (0x340), ``mcause`` (0x342), ``mtval`` (0x343): 64-bit read/write.
    ``mepc`` (0x341): writes clear the low two bits (IALIGN = 32). All of these reset to 0 and
    are per thread. ``mhartid`` (0xF14): read-only, the thread index.

    Counters: ``mcycle`` (0xB00) and its read-only shadow ``cycle`` (0xC00) count per core: one
    per :meth:`ISS.step` of any thread, trapping or not (the ISS's notion of a cycle; the RTL's
    cycle count differs, so a lockstep comparison must not compare values read from ``cycle``).
    ``minstret`` (0xB02) and its read-only shadow ``instret`` (0xC02) count per thread: the
    instructions that thread retired (a trapping instruction does not retire). Both read the
    value before the reading instruction counts; a value written to ``mcycle``/``minstret`` is
    what the next instruction reads (the writing instruction does not add to it).

    Writing a read-only CSR (``mhartid``, ``cycle``, ``instret``) is an illegal instruction.
    ``csrrs``/``csrrc`` with ``rs1 = x0`` and ``csrrsi``/``csrrci`` with ``uimm = 0`` do not
    write; ``csrrw``/``csrrwi`` always write.

Traps
    A trap writes ``mepc`` = pc of the faulting instruction, ``mcause``, ``mtval``; sets
    ``mstatus.MPIE`` = MIE and MIE = 0; writes no register; and continues at ``mtvec``.
    ``mret`` continues at ``mepc`` with MIE = MPIE and MPIE = 1. Causes and ``mtval``:

    ====  ================================  ==========================================
    0     instruction address misaligned    the target of a taken branch, JAL or JALR
                                            that is not 4-byte aligned (the jump traps)
    1     instruction access fault          the pc, when the fetch is out of range
    2     illegal instruction               the instruction bits
    3     breakpoint (``ebreak``)           0
    4/6   load/store address misaligned     the address (checked before the range)
    5/7   load/store access fault           the address, when any byte is out of range
    11    environment call from M-mode      0
    ====  ================================  ==========================================

    Illegal: low two bits not ``11``, unknown opcodes or function fields, unimplemented CSRs,
    writes to read-only CSRs, ``wfi`` and other SYSTEM encodings besides ``ecall``, ``ebreak``,
    ``mret`` and the CSR instructions, and custom opcodes without a coprocessor.

Coprocessor (custom-0..3, opcodes 0x0B, 0x2B, 0x5B, 0x7B)
    The ISS calls ``coprocessor(thread, insn, rs1_value, rs2_value)`` (thread index, instruction
    bits, unsigned 64-bit operand values) and writes the returned value, taken modulo 2**64, to
    ``rd`` (dropped if ``rd`` is 0). Without a callback these opcodes are illegal instructions.
    The callback has two other answers, as exceptions:

    * ``raise CoprocessorIllegal()``: the instruction is illegal (an encoding or an operand
      value the coprocessor refuses). The thread traps with cause 2 and ``mtval`` = the
      instruction bits, as for any illegal instruction.
    * ``raise CoprocessorWait(reason)``: not yet (a semaphore wait, a fence, a full queue). The
      instruction neither retires nor traps: nothing changes (the callback must not change its
      own state either when it says so), the thread stays at that pc, asleep, and
      :meth:`ISS.step` runs the next thread in round-robin order instead. An asleep thread
      retries its instruction each time its turn comes, so it wakes as soon as another thread
      has changed what it waits for. A retry that waits again counts no cycle and no step.
      When every running thread is asleep nothing can wake them: :meth:`ISS.step` raises
      :class:`Deadlock` and :meth:`ISS.run` ends with status "deadlock" and a
      :class:`DeadlockInfo` (every thread's pc, and each asleep thread's ``reason``, the text
      the callback gave, e.g. the semaphore and its value; and, when the callback object has a
      ``deadlock_report()`` method, its text as ``state``, e.g. every semaphore).

Fetch and stores
    The ISS fetches from memory directly, so a store is visible to the next fetch even without
    ``fence.i``; ``fence`` and ``fence.i`` are no-ops here. Programs must still use ``fence.i``
    for the RTL.

Results
    :meth:`ISS.step` returns a :class:`Retire` record for the trace comparison. :meth:`ISS.run`
    stops when a store leaves the 64-bit word at ``tohost`` non-zero: 1 means pass, an odd
    ``2n + 1`` failure of test ``n``; any other value is reported as a failure without a test
    number.
"""

from collections.abc import Callable
from dataclasses import dataclass

from hw.scalar.isa import (
    CUSTOM_OPCODES,
    MAX_THREADS,
    MSTATUS_MIE,
    MSTATUS_MPIE,
    MSTATUS_MPP,
    RAM_BASE,
    SRAI_FUNCT6,
    BranchFunct3,
    Cause,
    Csr,
    CsrFunct3,
    FenceFunct3,
    FixedInsn,
    Funct3,
    Funct7,
    LoadFunct3,
    MulDivFunct3,
    Opcode,
    StoreFunct3,
)

__all__ = ["ISS", "AccessFault", "CoprocessorIllegal", "CoprocessorWait", "Deadlock",
           "DeadlockInfo", "Memory", "Retire", "RunResult", "Thread", "ThreadAsleep", "TrapInfo"]

XLEN_MASK = (1 << 64) - 1

_READ_ONLY = (Csr.MHARTID, Csr.CYCLE, Csr.INSTRET)
_THREAD_CSRS = (Csr.MSTATUS, Csr.MTVEC, Csr.MSCRATCH, Csr.MEPC, Csr.MCAUSE, Csr.MTVAL)
_IMPLEMENTED = frozenset(
    _THREAD_CSRS + _READ_ONLY + (Csr.MIE, Csr.MCYCLE, Csr.MINSTRET, Csr.MTHREADCTL, Csr.MTHREADPC))

#: The values of each funct3 table (an ``in`` test on the enum itself needs Python 3.12).
_VALID = {table: frozenset(table) for table in (LoadFunct3, StoreFunct3, FenceFunct3, CsrFunct3)}


def _sext(value, bits):
    """``value``'s low ``bits`` bits as a signed integer."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _u64(value):
    return value & XLEN_MASK


def _div(a, b):
    """Signed division truncating toward zero (``a`` and ``b`` signed, ``b`` non-zero)."""
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


class AccessFault(Exception):
    """An access touches a byte outside :class:`Memory`."""


class CoprocessorIllegal(Exception):
    """Raised by a coprocessor callback: the instruction is illegal (the thread traps, cause 2,
    ``mtval`` = the instruction bits)."""


class CoprocessorWait(Exception):
    """Raised by a coprocessor callback: not yet; the thread sleeps and retries later.
    ``reason`` (the first argument, a string) says what it waits for, for the deadlock report."""

    @property
    def reason(self):
        return str(self.args[0]) if self.args else "asleep"


class ThreadAsleep(Exception):
    """:meth:`ISS.step` was asked to run a given thread, and that thread is asleep
    (its coprocessor instruction raised :class:`CoprocessorWait`); ``reason`` says why."""

    def __init__(self, thread, reason):
        super().__init__(f"thread {thread} is asleep: {reason}")
        self.thread = thread
        self.reason = reason


@dataclass(frozen=True)
class DeadlockInfo:
    """Every running thread is asleep. ``threads``: one ``(index, pc, reason)`` per thread,
    ``reason`` None for a parked thread, else what the coprocessor said it waits for;
    ``state``: the coprocessor's ``deadlock_report()``, or None."""

    threads: tuple
    state: str | None = None

    def __str__(self):
        lines = ["deadlock: every running thread is asleep"]
        for index, pc, reason in self.threads:
            state = "parked" if reason is None else f"asleep: {reason}"
            lines.append(f"  thread {index} pc {pc:#x} {state}")
        if self.state is not None:
            lines.append(self.state)
        return "\n".join(lines)


class Deadlock(RuntimeError):
    """Raised by :meth:`ISS.step` when every running thread is asleep; ``info`` is the
    :class:`DeadlockInfo`."""

    def __init__(self, info):
        super().__init__(str(info))
        self.info = info


class Memory:
    """Sparse byte-addressed little-endian memory of ``size`` bytes from ``base``."""

    def __init__(self, base=RAM_BASE, size=1 << 20):
        if not 0 <= base < 1 << 64:
            raise ValueError(f"base must be in 0..2**64-1, not {base:#x}")
        if not 0 < size <= (1 << 64) - base:
            raise ValueError(f"size must be in 1..2**64-base, not {size:#x}")
        self.base = base
        self.size = size
        self._bytes = {}

    def contains(self, addr, n):
        """Whether all of the ``n`` bytes from ``addr`` are inside the memory."""
        return self.base <= addr and addr + n <= self.base + self.size

    def _check(self, addr, n):
        if not self.contains(addr, n):
            raise AccessFault(f"{n}-byte access at {addr:#x} is outside memory "
                              f"{self.base:#x}..{self.base + self.size - 1:#x}")

    def read(self, addr, n):
        """``n`` bytes from ``addr``."""
        self._check(addr, n)
        return bytes(self._bytes.get(addr + i, 0) for i in range(n))

    def write(self, addr, data):
        """Write ``data`` (bytes) from ``addr`` (used to load programs)."""
        self._check(addr, len(data))
        for i, b in enumerate(data):
            self._bytes[addr + i] = b

    @staticmethod
    def _width(n):
        if n not in (1, 2, 4, 8):
            raise ValueError(f"access width must be 1, 2, 4 or 8 bytes, not {n!r}")

    def load(self, addr, n):
        """The unsigned little-endian ``n``-byte value at ``addr``."""
        self._width(n)
        return int.from_bytes(self.read(addr, n), "little")

    def store(self, addr, n, value):
        """Store the low ``n`` bytes of ``value``, little-endian, at ``addr``."""
        self._width(n)
        self.write(addr, (value & ((1 << (8 * n)) - 1)).to_bytes(n, "little"))


class Thread:
    """One hardware thread: index, pc, registers, per-thread CSRs, retired count, running flag."""

    def __init__(self, index, pc, running):
        self.index = index
        self.pc = pc
        self.x = [0] * 32
        self.csr = dict.fromkeys(_THREAD_CSRS, 0)
        self.csr[Csr.MSTATUS] = MSTATUS_MPP
        self.instret = 0
        self.running = running


@dataclass(frozen=True)
class Retire:
    """One step of one thread, as the RTL's retire trace reports it.

    ``insn`` is None when the fetch itself faulted. ``rd``/``value`` are the register write
    (None when nothing is written: no destination, ``rd`` = 0, or a trap). ``trap`` is the cause
    when the instruction trapped, else None.
    """

    thread: int
    pc: int
    insn: int | None
    rd: int | None
    value: int | None
    trap: int | None


@dataclass(frozen=True)
class TrapInfo:
    """A trap no handler takes: ``cause``, the ``pc`` of the trapping instruction, ``mtval``
    and the ``thread``."""

    cause: int
    pc: int
    mtval: int
    thread: int


@dataclass(frozen=True)
class RunResult:
    """How :meth:`ISS.run` ended: ``status`` is "pass", "fail", "max_steps" (step limit),
    "idle" (no thread running), "trap" (a trap no handler takes, ``trap`` says which) or
    "deadlock" (every running thread asleep, ``deadlock`` says where); ``tohost`` the final
    value; ``steps`` the steps this run took."""

    status: str
    steps: int
    tohost: int
    trap: TrapInfo | None = None
    deadlock: DeadlockInfo | None = None

    @property
    def test(self):
        """The failing test number n for a failure with tohost = 2n + 1, else None."""
        if self.status == "fail" and self.tohost & 1:
            return self.tohost >> 1
        return None


class _Trap(Exception):
    def __init__(self, cause, tval=0):
        super().__init__(cause, tval)
        self.cause = int(cause)
        self.tval = tval


class ISS:
    """The simulator: ``threads`` (1..4) threads over ``memory``; see the module docstring."""

    def __init__(self, memory, *, threads=1, reset_pc=RAM_BASE, tohost=None,
                 coprocessor: Callable[[int, int, int, int], int] | None = None):
        if isinstance(threads, bool) or not isinstance(threads, int):
            raise TypeError(f"threads must be an integer, not {threads!r}")
        if not 1 <= threads <= MAX_THREADS:
            raise ValueError(f"threads must be in 1..{MAX_THREADS}, not {threads}")
        if reset_pc & 3:
            raise ValueError(f"reset_pc must be 4-byte aligned, not {reset_pc:#x}")
        if tohost is not None and not memory.contains(tohost, 8):
            raise ValueError(f"tohost {tohost:#x} is not 8 bytes inside memory")
        self.memory = memory
        self.tohost = tohost
        self.coprocessor = coprocessor
        self.threads = [Thread(i, reset_pc if i == 0 else 0, i == 0) for i in range(threads)]
        self.cycle = 0
        self.thread_pc = 0
        self._last = threads - 1
        self._pending_mask = None
        self._wrote = set()

    # --- running -------------------------------------------------------------------------

    def _next_thread(self):
        n = len(self.threads)
        for k in range(1, n + 1):
            t = self.threads[(self._last + k) % n]
            if t.running:
                return t
        return None

    def step(self, thread=None):
        """Run one instruction of the next running thread that is not asleep (round-robin
        order); return its :class:`Retire` record. With ``thread`` (an index), run that thread
        (the lockstep order) and raise :class:`ThreadAsleep` if it is asleep.

        Raises RuntimeError when no thread is running (or ``thread`` is not running) and
        :class:`Deadlock` when every running thread is asleep."""
        if thread is not None:
            t = self.threads[thread]
            if not t.running:
                raise RuntimeError(f"thread {thread} is not running")
            record = self._step(t)
            if isinstance(record, str):
                raise ThreadAsleep(thread, record)
            self._last = thread
            return record
        n = len(self.threads)
        asleep = {}
        for k in range(1, n + 1):
            t = self.threads[(self._last + k) % n]
            if not t.running:
                continue
            record = self._step(t)
            if isinstance(record, str):
                asleep[t.index] = record
                continue
            self._last = t.index
            return record
        if not asleep:
            raise RuntimeError("no thread is running")
        report = getattr(self.coprocessor, "deadlock_report", None)
        raise Deadlock(DeadlockInfo(tuple((u.index, u.pc, asleep.get(u.index))
                                          for u in self.threads),
                                    report() if callable(report) else None))

    def _step(self, t):
        """One instruction of thread ``t``: its :class:`Retire` record, or the reason string of
        a :class:`CoprocessorWait` (then nothing has changed)."""
        self._pending_mask = None
        self._wrote = set()
        pc = t.pc
        insn = None
        try:
            if not self.memory.contains(pc, 4):
                raise _Trap(Cause.FETCH_FAULT, pc)
            insn = self.memory.load(pc, 4)
            rd, value, next_pc = self._execute(t, insn)
        except CoprocessorWait as wait:
            return wait.reason
        except _Trap as trap:
            t.csr[Csr.MEPC] = pc
            t.csr[Csr.MCAUSE] = trap.cause
            t.csr[Csr.MTVAL] = _u64(trap.tval)
            mie = t.csr[Csr.MSTATUS] & MSTATUS_MIE
            t.csr[Csr.MSTATUS] = MSTATUS_MPP | (MSTATUS_MPIE if mie else 0)
            t.pc = t.csr[Csr.MTVEC]
            record = Retire(t.index, pc, insn, None, None, trap.cause)
        else:
            if rd:
                t.x[rd] = _u64(value)
                record = Retire(t.index, pc, insn, rd, t.x[rd], None)
            else:
                record = Retire(t.index, pc, insn, None, None, None)
            t.pc = next_pc
            if Csr.MINSTRET not in self._wrote:
                t.instret += 1
            if self._pending_mask is not None:
                self._apply_thread_mask(self._pending_mask)
        if Csr.MCYCLE not in self._wrote:
            self.cycle += 1
        return record

    def run(self, max_steps):
        """Step until ``tohost`` becomes non-zero, no thread runs, a trap finds no handler, every
        running thread is asleep (a deadlock), or ``max_steps`` steps.

        A trap finds no handler when ``mtvec`` cannot be fetched (it resets to 0, outside
        memory) or the handler traps at its own first instruction: the thread would trap
        forever without retiring anything. The run then ends with status "trap" and the first
        trap of that chain (the one the program caused, not the fetch faults that follow)."""
        first = {}  # thread -> the first trap since its last retired instruction
        for n in range(max_steps):
            if self._next_thread() is None:
                return RunResult("idle", n, self._tohost_value())
            try:
                record = self.step()
            except Deadlock as e:
                return RunResult("deadlock", n, self._tohost_value(), deadlock=e.info)
            t = self.threads[record.thread]
            value = self._tohost_value()
            if value:
                return RunResult("pass" if value == 1 else "fail", n + 1, value)
            if record.trap is None:
                first.pop(t.index, None)
                continue
            first.setdefault(t.index, TrapInfo(record.trap, record.pc, t.csr[Csr.MTVAL],
                                               t.index))
            if not self.memory.contains(t.pc, 4) or record.pc == t.pc:
                return RunResult("trap", n + 1, value, first[t.index])
        return RunResult("max_steps", max_steps, self._tohost_value())

    def _tohost_value(self):
        return 0 if self.tohost is None else self.memory.load(self.tohost, 8)

    def _apply_thread_mask(self, mask):
        for t in self.threads:
            run = bool(mask >> t.index & 1)
            if run and not t.running:
                t.pc = self.thread_pc
            t.running = run

    # --- CSRs ----------------------------------------------------------------------------

    def _csr_read(self, t, csr):
        if csr == Csr.MIE:
            return 0
        if csr in (Csr.MCYCLE, Csr.CYCLE):
            return self.cycle
        if csr in (Csr.MINSTRET, Csr.INSTRET):
            return t.instret
        if csr == Csr.MHARTID:
            return t.index
        if csr == Csr.MTHREADCTL:
            return sum(1 << u.index for u in self.threads if u.running)
        if csr == Csr.MTHREADPC:
            return self.thread_pc
        return t.csr[csr]

    def _csr_write(self, t, csr, value):
        self._wrote.add(csr)
        if csr == Csr.MSTATUS:
            t.csr[csr] = MSTATUS_MPP | (value & (MSTATUS_MIE | MSTATUS_MPIE))
        elif csr in (Csr.MTVEC, Csr.MEPC):
            t.csr[csr] = value & ~3 & XLEN_MASK
        elif csr in (Csr.MSCRATCH, Csr.MCAUSE, Csr.MTVAL):
            t.csr[csr] = value
        elif csr == Csr.MCYCLE:
            self.cycle = value
        elif csr == Csr.MINSTRET:
            t.instret = value
        elif csr == Csr.MTHREADCTL:
            self._pending_mask = value & ((1 << len(self.threads)) - 1)
        elif csr == Csr.MTHREADPC:
            self.thread_pc = value & ~3 & XLEN_MASK
        # Csr.MIE: writes are ignored.

    def _csr(self, t, insn, funct3, rs1):
        csr = insn >> 20
        if csr not in _IMPLEMENTED:
            raise _Trap(Cause.ILLEGAL, insn)
        source = rs1 if funct3 & 4 else t.x[rs1]
        op = funct3 & 3
        writes = op == 1 or rs1 != 0
        if writes and csr in _READ_ONLY:
            raise _Trap(Cause.ILLEGAL, insn)
        old = self._csr_read(t, csr)
        if writes:
            new = {1: source, 2: old | source, 3: old & ~source}[op]
            self._csr_write(t, csr, new & XLEN_MASK)
        return old

    # --- execution -----------------------------------------------------------------------

    def _jump(self, target):
        target = _u64(target)
        if target & 3:
            raise _Trap(Cause.FETCH_MISALIGNED, target)
        return target

    def _address(self, addr, n, misaligned, fault):
        addr = _u64(addr)
        if addr % n:
            raise _Trap(misaligned, addr)
        if not self.memory.contains(addr, n):
            raise _Trap(fault, addr)
        return addr

    def _execute(self, t, insn):
        """Execute ``insn`` on ``t``: return (rd or None, value, next pc) or raise _Trap."""
        illegal = _Trap(Cause.ILLEGAL, insn)
        opcode = insn & 0x7F
        rd = insn >> 7 & 31
        funct3 = insn >> 12 & 7
        rs1 = insn >> 15 & 31
        rs2 = insn >> 20 & 31
        funct7 = insn >> 25
        a = t.x[rs1]
        b = t.x[rs2]
        pc = t.pc
        next_pc = _u64(pc + 4)
        imm_i = _sext(insn >> 20, 12)

        if opcode == Opcode.LUI:
            return rd, _sext(insn & 0xFFFFF000, 32), next_pc
        if opcode == Opcode.AUIPC:
            return rd, pc + _sext(insn & 0xFFFFF000, 32), next_pc
        if opcode == Opcode.JAL:
            imm = _sext((insn >> 31 << 20) | (insn >> 12 & 0xFF) << 12
                        | (insn >> 20 & 1) << 11 | (insn >> 21 & 0x3FF) << 1, 21)
            return rd, next_pc, self._jump(pc + imm)
        if opcode == Opcode.JALR:
            if funct3 != 0:
                raise illegal
            return rd, next_pc, self._jump((a + imm_i) & ~1)
        if opcode == Opcode.BRANCH:
            imm = _sext((insn >> 31 << 12) | (insn >> 7 & 1) << 11
                        | (insn >> 25 & 0x3F) << 5 | (insn >> 8 & 0xF) << 1, 13)
            sa, sb = _sext(a, 64), _sext(b, 64)
            conditions = {BranchFunct3.BEQ: a == b, BranchFunct3.BNE: a != b,
                          BranchFunct3.BLT: sa < sb, BranchFunct3.BGE: sa >= sb,
                          BranchFunct3.BLTU: a < b, BranchFunct3.BGEU: a >= b}
            if funct3 not in conditions:
                raise illegal
            return None, 0, self._jump(pc + imm) if conditions[funct3] else next_pc
        if opcode == Opcode.LOAD:
            if funct3 not in _VALID[LoadFunct3]:
                raise illegal
            n = 1 << (funct3 & 3)
            addr = self._address(a + imm_i, n, Cause.LOAD_MISALIGNED, Cause.LOAD_FAULT)
            value = self.memory.load(addr, n)
            return rd, value if funct3 & 4 else _sext(value, 8 * n), next_pc
        if opcode == Opcode.STORE:
            if funct3 not in _VALID[StoreFunct3]:
                raise illegal
            n = 1 << funct3
            imm = _sext((insn >> 25) << 5 | rd, 12)
            addr = self._address(a + imm, n, Cause.STORE_MISALIGNED, Cause.STORE_FAULT)
            self.memory.store(addr, n, b)
            return None, 0, next_pc
        if opcode == Opcode.OP_IMM:
            return rd, self._op_imm(insn, funct3, a, imm_i, illegal), next_pc
        if opcode == Opcode.OP_IMM_32:
            return rd, self._op_imm32(insn, funct3, a, imm_i, illegal), next_pc
        if opcode == Opcode.OP:
            return rd, self._op(funct7, funct3, a, b, illegal), next_pc
        if opcode == Opcode.OP_32:
            return rd, self._op32(funct7, funct3, a, b, illegal), next_pc
        if opcode == Opcode.MISC_MEM:  # FENCE (any fm/pred/succ), FENCE.I
            if funct3 not in _VALID[FenceFunct3]:
                raise illegal
            return None, 0, next_pc
        if opcode == Opcode.SYSTEM:
            if funct3 in _VALID[CsrFunct3]:
                return rd, self._csr(t, insn, funct3, rs1), next_pc
            if insn == FixedInsn.ECALL:
                raise _Trap(Cause.ECALL_M)
            if insn == FixedInsn.EBREAK:
                raise _Trap(Cause.BREAKPOINT)
            if insn == FixedInsn.MRET:
                status = t.csr[Csr.MSTATUS]
                t.csr[Csr.MSTATUS] = (MSTATUS_MPP | MSTATUS_MPIE
                                      | (MSTATUS_MIE if status & MSTATUS_MPIE else 0))
                return None, 0, t.csr[Csr.MEPC]
            raise illegal
        if opcode in CUSTOM_OPCODES and self.coprocessor is not None:
            try:
                return rd, self.coprocessor(t.index, insn, a, b), next_pc
            except CoprocessorIllegal:
                raise illegal from None
        raise illegal

    @staticmethod
    def _op_imm(insn, funct3, a, imm, illegal):
        shamt = insn >> 20 & 63
        funct6 = insn >> 26
        sa = _sext(a, 64)
        if funct3 == Funct3.ADD:
            return a + imm
        if funct3 == Funct3.SLL:
            if funct6:
                raise illegal
            return a << shamt
        if funct3 == Funct3.SLT:
            return int(sa < imm)
        if funct3 == Funct3.SLTU:
            return int(a < _u64(imm))
        if funct3 == Funct3.XOR:
            return a ^ _u64(imm)
        if funct3 == Funct3.SR:
            if funct6 == 0:
                return a >> shamt
            if funct6 == SRAI_FUNCT6:
                return sa >> shamt
            raise illegal
        if funct3 == Funct3.OR:
            return a | _u64(imm)
        return a & _u64(imm)

    @staticmethod
    def _op_imm32(insn, funct3, a, imm, illegal):
        shamt = insn >> 20 & 31
        funct7 = insn >> 25
        if funct3 == Funct3.ADD:
            return _sext(a + imm, 32)
        if funct3 == Funct3.SLL and funct7 == Funct7.BASE:
            return _sext(a << shamt, 32)
        if funct3 == Funct3.SR and funct7 == Funct7.BASE:
            return _sext((a & 0xFFFFFFFF) >> shamt, 32)
        if funct3 == Funct3.SR and funct7 == Funct7.ALT:
            return _sext(a, 32) >> shamt
        raise illegal

    @staticmethod
    def _op(funct7, funct3, a, b, illegal):
        sa, sb = _sext(a, 64), _sext(b, 64)
        if funct7 == Funct7.BASE:
            return {Funct3.ADD: lambda: a + b, Funct3.SLL: lambda: a << (b & 63),
                    Funct3.SLT: lambda: int(sa < sb), Funct3.SLTU: lambda: int(a < b),
                    Funct3.XOR: lambda: a ^ b, Funct3.SR: lambda: a >> (b & 63),
                    Funct3.OR: lambda: a | b, Funct3.AND: lambda: a & b}[funct3]()
        if funct7 == Funct7.ALT and funct3 == Funct3.ADD:
            return a - b
        if funct7 == Funct7.ALT and funct3 == Funct3.SR:
            return sa >> (b & 63)
        if funct7 == Funct7.MULDIV:
            return _muldiv(funct3, a, b, 64)
        raise illegal

    @staticmethod
    def _op32(funct7, funct3, a, b, illegal):
        if funct7 == Funct7.BASE and funct3 == Funct3.ADD:
            return _sext(a + b, 32)
        if funct7 == Funct7.ALT and funct3 == Funct3.ADD:
            return _sext(a - b, 32)
        if funct7 == Funct7.BASE and funct3 == Funct3.SLL:
            return _sext(a << (b & 31), 32)
        if funct7 == Funct7.BASE and funct3 == Funct3.SR:
            return _sext((a & 0xFFFFFFFF) >> (b & 31), 32)
        if funct7 == Funct7.ALT and funct3 == Funct3.SR:
            return _sext(a, 32) >> (b & 31)
        if funct7 == Funct7.MULDIV and (funct3 == MulDivFunct3.MUL or funct3 & 4):
            return _sext(_muldiv(funct3, a, b, 32), 32)
        raise illegal


def _muldiv(funct3, a, b, width):
    """The M-extension operation ``funct3`` on the low ``width`` bits of ``a`` and ``b``
    (before sign extension of the W forms). Division by zero gives all ones (quotient) or the
    dividend (remainder); the signed overflow -2**(width-1) / -1 gives the dividend (quotient)
    or 0 (remainder), as the RISC-V spec defines."""
    mask = (1 << width) - 1
    ua, ub = a & mask, b & mask
    sa, sb = _sext(ua, width), _sext(ub, width)
    if funct3 == MulDivFunct3.MUL:
        return ua * ub
    if funct3 == MulDivFunct3.MULH:
        return (sa * sb) >> width
    if funct3 == MulDivFunct3.MULHSU:
        return (sa * ub) >> width
    if funct3 == MulDivFunct3.MULHU:
        return (ua * ub) >> width
    if funct3 == MulDivFunct3.DIV:
        return -1 if sb == 0 else _div(sa, sb)
    if funct3 == MulDivFunct3.DIVU:
        return mask if ub == 0 else ua // ub
    if funct3 == MulDivFunct3.REM:
        return sa if sb == 0 else sa - sb * _div(sa, sb)
    return ua if ub == 0 else ua % ub
