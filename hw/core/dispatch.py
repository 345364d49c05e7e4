"""The dispatcher: the scalar core's coprocessor, in front of the core's units.

It decodes every custom instruction (``hw/core/isa.py``), hands the queued commands to the matrix,
vector and DMA units, keeps the semaphores, the threads' vector state, the units' error registers
and the fences, and answers each instruction on the scalar core's ``cop_resp``.
"""

import functools
import operator

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.common.arbiter import RoundRobinArbiter
from hw.common.arith import add_many
from hw.common.params import check_bool, check_int
from hw.scalar.isa import MAX_THREADS, XLEN, CoprocRequest, CoprocResponse

from .isa import (
    SEM_BITS,
    SEMAPHORES,
    STATUS_NETWORK,
    DmaCommand,
    Done,
    Error,
    ErrorRecord,
    MatrixCommand,
    MatrixFn,
    RegResult,
    SyncFn,
    Unit,
    VectorCommand,
    VectorConfig,
    VectorFn,
    VectorStrides,
)
from .isa import Signal as SignalLayout
from .packets import DirectAnswer, RemoteAdd

__all__ = ["Dispatcher", "Kind", "COUNTER_BITS"]

#: Width of the counter index the dispatcher reads (RDCTR ``rs1``, low bits).
COUNTER_BITS = 7
#: The units with a command queue, in the order of their error registers (STATUS ``rs1``).
QUEUED = (Unit.MATRIX, Unit.VECTOR, Unit.DMA)


class Kind:
    """What a thread's decoded instruction waits for (the ``kind`` register)."""
    IDLE = 0      #: no instruction
    ANSWER = 1    #: the answer is ready (``value``, or ``error`` for an illegal instruction)
    MATRIX = 2    #: a command for the matrix unit, then the answer 0
    VECTOR = 3    #: a command for the vector unit, then the answer 0
    DMA = 4       #: a command for the DMA unit, then the answer 0
    WAIT = 5      #: semaphore ``sem`` >= ``value``, then its value
    FENCE = 6     #: no command of the thread outstanding, then 0
    RESULT = 7    #: a to_reg VOP sent: its RegResult
    VREG = 8      #: a to_reg VOP for the vector unit, then RESULT
    NOTIFY = 9    #: a direct add for the network interface, then the answer 0
    BITS = 4


class Dispatcher(wiring.Component):
    """Decodes custom instructions and runs the synchronisation unit.

    Parameters (keyword-only)
    -------------------------
    threads : int, 1..4
        The scalar core's threads.
    counters : sequence of int
        The RDCTR numbers that name a counter; any other is an illegal instruction.
    network : bool
        Whether the core has a network interface, whose receive side adds signals too
        (``net_signal``).

    Members
    -------
    i : ``In(stream.Signature(CoprocRequest))``
        The scalar core's ``cop_req``; ``o`` : ``Out(stream.Signature(CoprocResponse))``, its
        ``cop_resp`` (``error``: an illegal instruction).
    matrix, vector, dma : ``Out(stream.Signature(MatrixCommand / VectorCommand / DmaCommand))``
        The units' command queues.
    matrix_done, vector_done, dma_done : ``In(stream.Signature(Done, always_ready=True))``
        Finished commands: their signals are added, their threads' fences released.
    matrix_error, vector_error, dma_error : ``In(stream.Signature(ErrorRecord, always_ready=True))``
        Refused commands, recorded in the unit's error register (the first since the last read).
    net_signal : ``In(stream.Signature(hw.core.isa.Signal, always_ready=True))``, with ``network``
        The signals of the NOTIFYs the core received (docs/mesh.md), added like a unit's.
    notify : ``Out(stream.Signature(hw.core.packets.RemoteAdd))``, with ``network``
        ``d1.snotify``'s direct adds, to the NI's send side (a queued command).
    net_answer : ``In(stream.Signature(hw.core.packets.DirectAnswer, always_ready=True))``,
        with ``network``
        Their answers: each finishes its thread's command (the fence); a code other than
        ``NONE`` is recorded in the network's error register (STATUS unit ``STATUS_NETWORK``,
        address ``x | y << 4``). Without ``network``, ``d1.snotify`` and that STATUS unit are
        illegal.
    result : ``In(stream.Signature(RegResult))``
        The answers of ``to_reg`` VOPs.
    counter, counter_value : ``Out(COUNTER_BITS)``, ``In(64)``
        RDCTR reads counter ``counter`` (``hw/core/counters.py``), valid in the same cycle.
    semaphores : ``Out(data.ArrayLayout(SEM_BITS, SEMAPHORES))``
        The semaphores (for the testbench's watchdog report).
    outstanding, waiting : ``Out``
        Per thread, its queued commands not finished (``data.ArrayLayout(8, MAX_THREADS)``),
        and whether it is asleep on a wait, a fence or a result (``MAX_THREADS`` bits).

    Contract
    --------
    A thread has at most one instruction at the dispatcher (the scalar core sends a thread's
    next one after the answer): the request is taken at once (``i.ready`` = 1), registered,
    decoded into the thread's registers the next cycle, and answered when its condition holds
    (``Kind``); one answer leaves per cycle, threads in round-robin order. Commands of several
    threads for one unit go in round-robin order; a unit that is not ready holds its threads
    (their answers wait, so a full queue stalls the issuing thread, not the others). The
    semaphores take, in one cycle, one SSET or SADD and one signal from each unit (added
    together; SSET first).
    """

    def __init__(self, *, threads=MAX_THREADS, counters=(), network=False):
        self.threads = check_int("threads", threads, 1, MAX_THREADS)
        self.network = check_bool("network", network)
        #: The RDCTR numbers that name a counter (``hw.core.counters.counter_numbers``).
        self.counter_numbers = tuple(counters)
        done = stream.Signature(Done, always_ready=True)
        error = stream.Signature(ErrorRecord, always_ready=True)
        net = ({"net_signal": In(stream.Signature(SignalLayout, always_ready=True)),
                "notify": Out(stream.Signature(RemoteAdd)),
                "net_answer": In(stream.Signature(DirectAnswer, always_ready=True))}
               if network else {})
        super().__init__({
            **net,
            "i": In(stream.Signature(CoprocRequest)),
            "o": Out(stream.Signature(CoprocResponse)),
            "matrix": Out(stream.Signature(MatrixCommand)),
            "vector": Out(stream.Signature(VectorCommand)),
            "dma": Out(stream.Signature(DmaCommand)),
            "matrix_done": In(done), "vector_done": In(done), "dma_done": In(done),
            "matrix_error": In(error), "vector_error": In(error), "dma_error": In(error),
            "result": In(stream.Signature(RegResult)),
            "counter": Out(COUNTER_BITS), "counter_value": In(64),
            "semaphores": Out(data.ArrayLayout(SEM_BITS, SEMAPHORES)),
            "outstanding": Out(data.ArrayLayout(8, MAX_THREADS)),
            "waiting": Out(MAX_THREADS),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.threads
        thread_state = data.StructLayout({
            "kind": Kind.BITS, "error": 1, "value": XLEN, "rd": 5, "sem": 4,
            "insn": 32, "rs1": XLEN, "rs2": XLEN,
        })
        vstate = data.StructLayout({"config": VectorConfig, "strides": VectorStrides,
                                    "d": 32, "c": 32})
        st = [Signal(thread_state, name=f"t{t}") for t in range(n)]
        vs = [Signal(vstate, name=f"v{t}") for t in range(n)]
        sems = Signal(data.ArrayLayout(SEM_BITS, SEMAPHORES))
        outstanding = [Signal(8, name=f"outstanding{t}") for t in range(n)]
        errors = [Signal(ErrorRecord, name=f"error_{u.name.lower()}") for u in QUEUED]
        if self.network:
            assert len(errors) == STATUS_NETWORK
            errors.append(Signal(ErrorRecord, name="error_network"))
        m.d.comb += self.semaphores.eq(sems)
        for t in range(n):
            m.d.comb += [self.outstanding[t].eq(outstanding[t]),
                         self.waiting[t].eq(st[t].kind.matches(
                             Kind.WAIT, Kind.FENCE, Kind.RESULT))]

        # --- Decode: the request goes into its thread's registers ------------------------------
        # The request is registered first (one cycle), with the semaphore an SSET or SADD names
        # decoded on the way in (one-hot): the decode and the semaphores' adders would otherwise
        # be one path from the scalar core to the semaphores (94 gate levels). Every request
        # waits the same cycle, so the order of effects is unchanged.
        req = Signal(CoprocRequest)
        taking = Signal()
        set_sem = Signal(SEMAPHORES)    # SSET / SADD of the registered request, one-hot
        add_sem = Signal(SEMAPHORES)
        m.d.comb += self.i.ready.eq(1)
        m.d.sync += [req.eq(self.i.payload), taking.eq(self.i.valid)]
        nxt = self.i.payload
        sync_ok = (self.i.valid & (nxt.insn[0:7] == Unit.SYNC) & (nxt.insn[25:32] == 0)
                   & (nxt.rs1 < SEMAPHORES))
        for sem in range(SEMAPHORES):
            hit = sync_ok & (nxt.rs1[:4] == sem)
            m.d.sync += [set_sem[sem].eq(hit & (nxt.insn[12:15] == SyncFn.SSET)),
                         add_sem[sem].eq(hit & (nxt.insn[12:15] == SyncFn.SADD))]
        opcode, rd, funct3 = req.insn[0:7], req.insn[7:12], req.insn[12:15]
        funct7 = req.insn[25:32]
        decoded = Signal(thread_state)
        sem_ok = req.rs1 < SEMAPHORES
        vset = Signal(3)            # VSETCFG, VSETSTRIDE, VSETDC
        m.d.comb += [decoded.rd.eq(rd), decoded.insn.eq(req.insn), decoded.rs1.eq(req.rs1),
                     decoded.rs2.eq(req.rs2), decoded.sem.eq(req.rs1[:4]),
                     decoded.value.eq(0), decoded.kind.eq(Kind.ANSWER)]
        illegal = Signal()
        with m.Switch(opcode):
            with m.Case(Unit.MATRIX):
                with m.If(funct7 != 0):
                    m.d.comb += illegal.eq(1)
                with m.Elif((funct3 == MatrixFn.MCFG) | (funct3 == MatrixFn.MGEMM)):
                    m.d.comb += decoded.kind.eq(Kind.MATRIX)
                with m.Else():
                    m.d.comb += illegal.eq(1)
            with m.Case(Unit.VECTOR):
                with m.Switch(funct3):
                    with m.Case(VectorFn.VOP):
                        # An op code the unit lacks is the vector unit's to refuse
                        # (Error.ILLEGAL_OP); bit 6 is outside every op code.
                        m.d.comb += [illegal.eq(funct7[6]),
                                     decoded.kind.eq(Mux(rd == 0, Kind.VECTOR, Kind.VREG))]
                    with m.Case(VectorFn.VSETCFG, VectorFn.VSETSTRIDE, VectorFn.VSETDC):
                        m.d.comb += [illegal.eq(funct7 != 0),
                                     vset.eq(Cat(funct3 == fn for fn in (
                                         VectorFn.VSETCFG, VectorFn.VSETSTRIDE,
                                         VectorFn.VSETDC)))]
                    with m.Default():
                        m.d.comb += illegal.eq(1)
            with m.Case(Unit.DMA):
                m.d.comb += [illegal.eq((funct7 != 0) | (funct3 != 0)),
                             decoded.kind.eq(Kind.DMA)]
            with m.Case(Unit.SYNC):
                with m.If(funct7 != 0):
                    m.d.comb += illegal.eq(1)
                # (an Else: the cases below set illegal themselves, which would win)
                with m.Else():
                    with m.Switch(funct3):
                        with m.Case(SyncFn.SSET):
                            m.d.comb += illegal.eq(~sem_ok)
                        with m.Case(SyncFn.SADD):
                            m.d.comb += illegal.eq(~sem_ok)
                        with m.Case(SyncFn.SWAIT):
                            m.d.comb += [illegal.eq(~sem_ok), decoded.kind.eq(Kind.WAIT)]
                        with m.Case(SyncFn.SREAD):
                            m.d.comb += [illegal.eq(~sem_ok),
                                         decoded.value.eq(sems[req.rs1[:4]])]
                        with m.Case(SyncFn.FENCE):
                            m.d.comb += decoded.kind.eq(Kind.FENCE)
                        with m.Case(SyncFn.STATUS):
                            m.d.comb += illegal.eq(req.rs1 >= len(errors))
                            with m.Switch(req.rs1[:2]):
                                for u, reg in enumerate(errors):
                                    with m.Case(u):
                                        m.d.comb += decoded.value.eq(
                                            Cat(reg.code, Const(0, 28), reg.addr))
                        with m.Case(SyncFn.RDCTR):
                            known = (req.rs1[:COUNTER_BITS].matches(*self.counter_numbers)
                                     & (req.rs1 < 1 << COUNTER_BITS))
                            m.d.comb += [self.counter.eq(req.rs1[:COUNTER_BITS]),
                                         illegal.eq(~known),
                                         decoded.value.eq(self.counter_value)]
                        if self.network:
                            with m.Case(SyncFn.SNOTIFY):
                                m.d.comb += decoded.kind.eq(Kind.NOTIFY)
                        with m.Default():
                            m.d.comb += illegal.eq(1)
            with m.Default():
                m.d.comb += illegal.eq(1)
        with m.If(illegal):
            m.d.comb += [decoded.kind.eq(Kind.ANSWER), decoded.error.eq(1), vset.eq(0)]
        status_read = Signal(len(errors))
        with m.If(taking & ~illegal & (opcode == Unit.SYNC) & (funct3 == SyncFn.STATUS)):
            m.d.comb += status_read.eq(1 << req.rs1[:2])
        for t in range(n):
            with m.If(taking & (req.thread == t)):
                m.d.sync += st[t].eq(decoded)
                with m.If(vset[0]):
                    m.d.sync += vs[t].config.eq(req.rs1[:VectorConfig.size])
                with m.If(vset[1]):
                    m.d.sync += vs[t].strides.eq(req.rs1[:VectorStrides.size])
                with m.If(vset[2]):
                    m.d.sync += [vs[t].d.eq(req.rs1[:32]), vs[t].c.eq(req.rs2[:32])]

        # --- Commands to the units: one thread per unit and cycle, round robin -----------------
        # Each unit's command leaves from a register (valid never depends on ready) that a
        # granted thread fills when it is empty or being taken; the thread then waits for its
        # answer (0) or, for a to_reg VOP, for its result.
        issued = Signal(n)          # a thread's command entered a unit's register this cycle
        taken = []
        queues = [("matrix", self.matrix, (Kind.MATRIX,), self._matrix_payload),
                  ("vector", self.vector, (Kind.VECTOR, Kind.VREG), self._vector_payload),
                  ("dma", self.dma, (Kind.DMA,), self._dma_payload)]
        if self.network:
            queues.append(("notify", self.notify, (Kind.NOTIFY,), self._notify_payload))
        for name, port, kinds, payload_of in queues:
            m.submodules[f"{name}_arbiter"] = arb = RoundRobinArbiter(n=n)
            free = ~port.valid | port.ready
            m.d.comb += [arb.requests.eq(Cat(st[t].kind.matches(*kinds)
                                             for t in range(n))),
                         arb.advance.eq(free)]
            with m.If(port.valid & port.ready):
                m.d.sync += port.valid.eq(0)
            taken.append(Mux(free, arb.grant, 0))
            with m.If(free & arb.grant.any()):
                m.d.sync += port.valid.eq(1)
                for t in range(n):
                    with m.If(arb.grant[t]):
                        m.d.sync += port.payload.eq(payload_of(st[t], vs[t], t))
        m.d.comb += issued.eq(functools.reduce(operator.or_, taken))
        for t in range(n):
            with m.If(issued[t]):
                m.d.sync += [st[t].kind.eq(Mux(st[t].kind == Kind.VREG, Kind.RESULT,
                                               Kind.ANSWER)),
                             st[t].value.eq(0)]

        # --- Completions: signals, fences, error registers, results ----------------------------
        dones = (self.matrix_done, self.vector_done, self.dma_done)
        for t in range(n):
            finished = sum((d.valid & d.payload.last & (d.payload.thread == t)).as_unsigned()
                           for d in dones)
            if self.network:
                ans = self.net_answer
                finished = finished + (ans.valid & (ans.payload.thread == t))
            m.d.sync += outstanding[t].eq(outstanding[t] + issued[t] - finished)
        for s in range(SEMAPHORES):
            start = Mux(set_sem[s], req.rs2[:SEM_BITS], sems[s])
            adds = [Mux(add_sem[s], req.rs2[:SEM_BITS], 0)]
            for d in dones:
                sig = d.payload.signal
                adds.append(Mux(d.valid & sig.enable & (sig.sem == s), sig.amount, 0))
            if self.network:
                sig = self.net_signal.payload
                adds.append(Mux(self.net_signal.valid & sig.enable & (sig.sem == s),
                                sig.amount, 0))
            m.d.sync += sems[s].eq(add_many(m, [start, *adds], width=SEM_BITS,
                                            name=f"sem{s}"))
        records = [(e.valid, e.payload)
                   for e in (self.matrix_error, self.vector_error, self.dma_error)]
        if self.network:
            ans = self.net_answer.payload
            failed = Signal(ErrorRecord)
            m.d.comb += [failed.code.eq(ans.code), failed.addr.eq(Cat(ans.x, ans.y))]
            records.append((self.net_answer.valid & (ans.code != Error.NONE), failed))
        for u, (reg, (record, new)) in enumerate(zip(errors, records, strict=True)):
            # The first error since the last read is kept; a read clears the register, and an
            # error in the same cycle as the read is kept for the next.
            with m.If(status_read[u]):
                m.d.sync += reg.eq(Mux(record, new, 0))
            with m.Elif(record & (reg.code == Error.NONE)):
                m.d.sync += reg.eq(new)
        m.d.comb += self.result.ready.eq(1)
        for t in range(n):
            s_t = st[t]
            with m.If(self.result.valid & (self.result.payload.thread == t)
                      & (s_t.kind == Kind.RESULT)):
                m.d.sync += [s_t.kind.eq(Kind.ANSWER), s_t.value.eq(self.result.payload.value)]
            with m.If((s_t.kind == Kind.WAIT) & (sems[s_t.sem] >= s_t.rs2[:SEM_BITS])):
                m.d.sync += [s_t.kind.eq(Kind.ANSWER), s_t.value.eq(sems[s_t.sem])]
            with m.If((s_t.kind == Kind.FENCE) & (outstanding[t] == 0)):
                m.d.sync += [s_t.kind.eq(Kind.ANSWER), s_t.value.eq(0)]

        # --- Answers: one a cycle, round robin, from a register --------------------------------
        m.submodules.answer_arbiter = arb = RoundRobinArbiter(n=n)
        free = ~self.o.valid | self.o.ready
        m.d.comb += [arb.requests.eq(Cat(st[t].kind == Kind.ANSWER for t in range(n))),
                     arb.advance.eq(free)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(free & arb.grant.any()):
            m.d.sync += self.o.valid.eq(1)
            for t in range(n):
                with m.If(arb.grant[t]):
                    m.d.sync += [self.o.payload.value.eq(st[t].value),
                                 self.o.payload.thread.eq(t),
                                 self.o.payload.rd.eq(st[t].rd),
                                 self.o.payload.error.eq(st[t].error),
                                 st[t].kind.eq(Kind.IDLE)]
        return m

    @staticmethod
    def _matrix_payload(s, v, t):
        cmd = Signal(MatrixCommand)
        return Cat(s.insn[12], s.rs1[:32], s.rs2[:cmd.signal.shape().size],
                   Const(t, cmd.thread.shape()))

    @staticmethod
    def _vector_payload(s, v, t):
        return Cat(s.insn[25:31], v.config, v.strides, s.rs1[:32], s.rs2[:32], v.c, v.d,
                   s.kind == Kind.VREG, s.rd, Const(t, 2))

    @staticmethod
    def _dma_payload(s, v, t):
        return Cat(s.rs1[:32], Const(t, 2))

    @staticmethod
    def _notify_payload(s, v, t):
        return Cat(s.rs1[:8], s.rs2[:SignalLayout.size], Const(t, 2))
