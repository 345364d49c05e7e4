"""Running programs on the scalar core's RTL, checked in lockstep against the ISS.

:func:`run_program` is the one entry point: it loads an image into a memory model, runs the core
on Verilator or Icarus until the program writes ``tohost``, every thread stops, nothing retires
for :data:`HANG_CYCLES` cycles or ``max_cycles`` pass, and compares every retired instruction
with :class:`verif.scalar.iss.ISS`.

The bench (generated Verilog, :func:`bench_verilog`)
    For speed everything cycle by cycle lives in Verilog around the core: the memory (``mem_size``
    bytes from ``RAM_BASE``, zero, then the image from ``image.hex``), a model of each request
    port (fetch, data, coprocessor) that takes one request at a time, answers after a random
    latency of 0..``latency`` extra cycles and refuses requests with probability ``stall``/256
    (xorshift32 generators seeded from ``seed``: the same on both simulators), the test
    coprocessor (:func:`bench_coprocessor`), stream-rule checks of the core's three request
    streams, and the retire trace, written to ``trace.txt``. The generators and the checks are
    the harness library's (``verif/hdl``: ``tb_pause``, ``tb_xorshift32``, ``tb_hold_check``),
    the rest is the bench's own top. Python only writes the image, starts the run and reads the
    results; the cocotb side (``verif/program_cocotb.py``) waits for ``done``.

Lockstep
    The trace is in retire order, which is also the order of the core's memory accesses and CSR
    effects (docs/scalar.md), so the ISS steps the thread each record names, in that order
    (:class:`LockstepISS`), and the record must equal the ISS's :class:`~verif.scalar.iss.Retire`
    field for field. One exception: a read of ``mcycle``/``cycle`` counts clock cycles in the RTL
    and steps in the ISS, so its value is taken from the RTL and copied into the ISS's register.
"""

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from hw.common.memport import Op, Status
from hw.common.params import check_int
from hw.scalar.isa import (
    LINE_BYTES,
    RAM_BASE,
    THREAD_BITS,
    XLEN,
    CoprocRequest,
    CoprocResponse,
    Csr,
    Opcode,
    RetireRecord,
    data_request_layout,
    data_response_layout,
    fetch_request_layout,
    fetch_response_layout,
)
from sim.flow.build import Design
from sim.flow.runner import run_cocotb
from sim.flow.toolchain import BUILD
from verif.fcov.scalar import sample_retires
from verif.harness import DesignBench, verilog_string
from verif.scalar.iss import ISS, CoprocessorIllegal, Memory, Retire, TrapInfo

__all__ = ["CoreRun", "LockstepError", "LockstepISS", "run_program", "bench_coprocessor",
           "bench_verilog", "CoreBench", "MEM_SIZE", "HANG_CYCLES", "SIMULATORS", "lockstep",
           "REFUSED", "parse_trace", "reads_clock", "bench_head", "retire_trace",
           "field_slices"]

MEM_SIZE = 1 << 20
HANG_CYCLES = 4096
#: Cycles the bench keeps running after ``tohost`` becomes non-zero (the store's own retire and
#: those of other threads' instructions already in flight land in the trace).
TAIL_CYCLES = 64
SIMULATORS = ("verilator", "icarus")
MASK64 = (1 << 64) - 1

#: How a bench run ended (the Verilog's ``status`` code).
STATUS = {1: "tohost", 2: "timeout", 3: "hang"}


def bench_coprocessor(thread, insn, rs1, rs2):
    """The test coprocessor's answer: ``(rs1 ^ rotl(rs2, 13)) + 2·insn + thread`` mod 2**64,
    except for an instruction with every funct7 and funct3 bit set (:data:`REFUSED`), which it
    refuses (an illegal instruction). The bench's Verilog does the same."""
    if insn & REFUSED == REFUSED:
        raise CoprocessorIllegal
    rot = ((rs2 << 13) | (rs2 >> 51)) & MASK64
    return ((rs1 ^ rot) + 2 * insn + thread) & MASK64


#: The bits of the instructions the bench's coprocessor refuses: funct7 and funct3 all ones.
REFUSED = 0x7F << 25 | 7 << 12


class LockstepError(AssertionError):
    """The RTL retired something the ISS did not."""


class LockstepISS(ISS):
    """The ISS stepped in the RTL's retire order: :meth:`step_thread` runs one instruction of
    the named thread (the ISS's own round-robin order is for running it alone)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        #: Per thread, the first trap since its last retired instruction (a TrapInfo), and
        #: whether that chain of traps has no handler (mtvec not fetchable, or a handler that
        #: traps at its own first instruction: the thread traps forever).
        self.trap_chain = {}
        self.unhandled = set()

    def step_thread(self, index):
        thread = self.threads[index]
        if not thread.running:
            raise LockstepError(f"thread {index} retired an instruction while the ISS has it "
                                "stopped")
        record = self.step(index)
        if record.trap is None:
            self.trap_chain.pop(index, None)
            self.unhandled.discard(index)
        else:
            self.trap_chain.setdefault(index, TrapInfo(record.trap, record.pc,
                                                       thread.csr[Csr.MTVAL], index))
            if not self.memory.contains(thread.pc, 4) or record.pc == thread.pc:
                self.unhandled.add(index)
        return record

    def unhandled_trap(self):
        """The first (by thread) trap chain no handler takes, or None."""
        return next((self.trap_chain[i] for i in sorted(self.unhandled)), None)


@dataclass
class CoreRun:
    """The result of :func:`run_program`.

    ``status``: "pass", "fail" (``test`` holds n of tohost = 2n + 1, or None for another
    non-zero value), "timeout" (``max_cycles`` reached), "hang" (nothing retired for
    :data:`HANG_CYCLES` cycles, e.g. every thread stopped; a trap is not progress) or "trap"
    (a thread traps forever for want of a handler: ``trap`` holds the first trap of that chain,
    its cause, pc, mtval and thread). ``retired[i]`` counts thread i's retired instructions
    (traps excluded). ``divergence`` is None when every record matched the ISS, else the first
    mismatch; ``checked`` the records compared."""

    status: str
    test: int | None
    tohost: int
    cycles: int
    retired: list
    traps: int
    trace: list | None
    divergence: str | None
    checked: int
    proto_errors: int
    sim: str
    seconds: float
    run_dir: Path
    extra: dict = field(default_factory=dict)
    trap: TrapInfo | None = None

    @property
    def ipc(self):
        """Instructions per cycle, per thread."""
        return [r / self.cycles if self.cycles else 0.0 for r in self.retired]

    def check(self):
        """Raise :class:`LockstepError` on a divergence or a stream-rule violation."""
        if self.divergence:
            raise LockstepError(f"{self.divergence} (run in {self.run_dir})")
        if self.proto_errors:
            raise LockstepError(f"{self.proto_errors} stream-rule violations on the core's "
                                f"request ports (run in {self.run_dir})")
        return self


# --- the bench's Verilog ------------------------------------------------------------------------

# The fetch and data ports of the core as the bench builds it (``ScalarCore``'s default
# ``addr_bits`` and ``tag_width``).
FetchRequest = fetch_request_layout(addr_bits=XLEN, tag_width=THREAD_BITS)
FetchResponse = fetch_response_layout(tag_width=THREAD_BITS)
DataRequest = data_request_layout(addr_bits=XLEN, tag_width=THREAD_BITS)
DataResponse = data_response_layout(tag_width=THREAD_BITS)

def field_slices(layout, signal):
    """``{field: "signal[hi:lo]"}`` of a struct layout packed in ``signal``."""
    out = {}
    for name, f in layout:
        lo = f.offset
        hi = lo + f.width - 1
        out[name] = f"{signal}[{hi}:{lo}]"
    return out


def bench_head(name, extra_inputs=()):
    """The module header of a bench that runs programs (this one and the D1 core's,
    ``verif/core/core_tb.py``): the ports ``verif/program_cocotb.py`` drives and reads, with
    ``extra_inputs`` (declarations) after the common inputs."""
    inputs = ["input wire clk", "input wire rst", "input wire [31:0] seed",
              "input wire [7:0] stall", "input wire [63:0] max_cycles",
              "input wire [63:0] tohost", "input wire tohost_en", *extra_inputs]
    outputs = ["output reg done", "output reg [1:0] status", "output reg [63:0] cycles",
               "output reg [63:0] tohost_value", "output reg [31:0] proto_errors",
               "output reg [63:0] retired"]
    ports = ",\n    ".join(inputs + outputs)
    return f"`timescale 1ns/1ps\nmodule {name} (\n    {ports}\n);"


def retire_trace(indent, progress=""):
    """The Verilog that writes a cycle's retire records to ``trace.txt`` (completions first: they
    are older; :func:`parse_trace` reads them), counts ``retired`` and keeps ``quiet``, the
    cycles without progress: an instruction that retires without a trap, or ``progress`` (a
    Verilog condition, optional). A trap is no progress: a thread trapping for want of a handler
    is a hang."""
    rt = field_slices(RetireRecord, "retire__payload")
    rl = field_slices(RetireRecord, "retire_late__payload")
    fields = ("thread", "pc", "insn", "rd_en", "rd", "value", "trap", "cause")
    lines = []
    for port, f in (("retire_late", rl), ("retire", rt)):
        args = ", ".join(f[x] for x in fields)
        lines += [f"if ({port}__valid)",
                  f'    $fwrite(ftrace, "{" ".join(["%0h"] * len(fields))}\\n", {args});']
    lines.append("retired <= retired + retire__valid + retire_late__valid;")
    moved = f"(retire__valid && !{rt['trap']}) || (retire_late__valid && !{rl['trap']})"
    lines.append(f"quiet <= ({moved}{' || ' + progress if progress else ''}) ? 0 : quiet + 1;")
    return "\n".join(" " * indent + line for line in lines)


def bench_verilog(core_name, *, threads, mem_size, name):
    """The bench module ``name`` around core module ``core_name`` (see the module docstring)."""
    words = mem_size // 8
    fq = field_slices(FetchRequest, "fetch_req__payload")
    fr = field_slices(FetchResponse, "f_resp")
    dq, dr = field_slices(DataRequest, "data_req__payload"), field_slices(DataResponse, "d_resp")
    cq = field_slices(CoprocRequest, "cop_req__payload")
    cr = field_slices(CoprocResponse, "c_resp")
    idx_bits = (words - 1).bit_length()
    line_words = LINE_BYTES // 8
    fetch_data = ", ".join(f"mem[f_index + {k}]" for k in reversed(range(line_words)))
    # Each request port refuses with probability stall/256 (the low byte of its own generator)
    # and has its stream rules checked. NONZERO 0 loads seed ^ salt as it is, as the bench always
    # has, so that a seed keeps its stalls and latencies (a seed equal to a salt leaves that
    # generator at zero).
    ports = ""
    for p, s, layout, salt in (("f", "fetch_req", FetchRequest, 0x9E3779B9),
                               ("d", "data_req", DataRequest, 0x7F4A7C15),
                               ("c", "cop_req", CoprocRequest, 0x94D049BB)):
        ports += f"""
    wire {p}_pause, {p}_err;
    tb_pause #(.LSB(0), .NONZERO(0)) {p}_stall (.clk(clk), .load(rst),
        .seed(seed ^ 32'h{salt:08X}), .step(!done), .rate(stall), .pause({p}_pause));
    assign {s}__ready = !{p}_busy && !{p}_pause;
    tb_hold_check #(.W({layout.size})) {p}_hold (.clk(clk), .clear(rst), .enable(!done),
        .name({verilog_string(s, kind="name")}), .now(cycles[31:0]), .valid({s}__valid),
        .ready({s}__ready), .payload({s}__payload), .error({p}_err));"""

    return f"""// Generated by verif/scalar/core_tb.py: the scalar core's bench. Do not edit.
{bench_head(name, ["input wire [3:0] latency"])}
    localparam WORDS = {words};
    localparam [63:0] BASE = 64'h{RAM_BASE:x};
    reg [63:0] mem [0:WORDS-1];
    integer k, ftrace;
    initial begin
        for (k = 0; k < WORDS; k = k + 1) mem[k] = 64'h0;
        $readmemh("image.hex", mem);
        ftrace = $fopen("trace.txt", "w");
    end

    function in_range(input [63:0] addr);
        in_range = addr >= BASE && addr - BASE < {mem_size};
    endfunction

    wire [{FetchRequest.size - 1}:0] fetch_req__payload;
    wire fetch_req__valid, fetch_req__ready;
    reg [{FetchResponse.size - 1}:0] f_resp;
    wire fetch_resp__ready;
    wire [{DataRequest.size - 1}:0] data_req__payload;
    wire data_req__valid, data_req__ready;
    reg [{DataResponse.size - 1}:0] d_resp;
    wire data_resp__ready;
    wire [{CoprocRequest.size - 1}:0] cop_req__payload;
    wire cop_req__valid, cop_req__ready;
    reg [{CoprocResponse.size - 1}:0] c_resp;
    wire cop_resp__ready;
    wire retire__valid, retire_late__valid;
    wire [{RetireRecord.size - 1}:0] retire__payload, retire_late__payload;
    wire [3:0] running;
    reg f_busy, d_busy, c_busy;
    reg [3:0] f_wait, d_wait, c_wait;

    {core_name} dut (
        .clk(clk), .rst(rst),
        .fetch_req__payload(fetch_req__payload), .fetch_req__valid(fetch_req__valid),
        .fetch_req__ready(fetch_req__ready),
        .fetch_resp__payload(f_resp), .fetch_resp__valid(f_busy && f_wait == 0),
        .fetch_resp__ready(fetch_resp__ready),
        .data_req__payload(data_req__payload), .data_req__valid(data_req__valid),
        .data_req__ready(data_req__ready),
        .data_resp__payload(d_resp), .data_resp__valid(d_busy && d_wait == 0),
        .data_resp__ready(data_resp__ready),
        .cop_req__payload(cop_req__payload), .cop_req__valid(cop_req__valid),
        .cop_req__ready(cop_req__ready),
        .cop_resp__payload(c_resp), .cop_resp__valid(c_busy && c_wait == 0),
        .cop_resp__ready(cop_resp__ready),
        .retire__valid(retire__valid), .retire__payload(retire__payload),
        .retire_late__valid(retire_late__valid), .retire_late__payload(retire_late__payload),
        .running(running)
    );

    // Request ports: backpressure and stream-rule checks (the harness library's).{ports}

    // Response latencies: rnd_l[3:0] fetch, [7:4] data, [11:8] coprocessor.
    wire [31:0] rnd_l;
    tb_xorshift32 #(.NONZERO(0)) lat (.clk(clk), .load(rst), .seed(seed ^ 32'h2545F491),
        .step(!done), .state(rnd_l));

    // Request addresses as word indexes (only meaningful in range).
    wire [63:0] f_addr = {fq["addr"]};
    wire [63:0] d_addr = {dq["addr"]};
    wire [63:0] f_off = f_addr - BASE;
    wire [63:0] d_off = d_addr - BASE;
    wire [{idx_bits - 1}:0] f_index = f_off[{idx_bits + 2}:3];
    wire [{idx_bits - 1}:0] d_index = d_off[{idx_bits + 2}:3];
    wire [7:0] d_mask = {dq["mask"]};
    wire [63:0] d_wdata = {dq["data"]};
    wire [63:0] d_bits = {{{{8{{d_mask[7]}}}}, {{8{{d_mask[6]}}}}, {{8{{d_mask[5]}}}},
                          {{8{{d_mask[4]}}}}, {{8{{d_mask[3]}}}}, {{8{{d_mask[2]}}}},
                          {{8{{d_mask[1]}}}}, {{8{{d_mask[0]}}}}}};
    wire [63:0] d_merged = (mem[d_index] & ~d_bits) | (d_wdata & d_bits);
    wire [63:0] c_rs1 = {cq["rs1"]};
    wire [63:0] c_rs2 = {cq["rs2"]};
    wire [63:0] c_insn = {{32'h0, {cq["insn"]}}};
    wire [63:0] c_thread = {{62'h0, {cq["thread"]}}};
    wire [63:0] c_value = (c_rs1 ^ {{c_rs2[50:0], c_rs2[63:51]}}) + (c_insn << 1) + c_thread;

    reg [31:0] quiet;
    reg tohost_seen;
    reg [7:0] tail;

    always @(posedge clk) begin
        if (rst) begin
            f_busy <= 0; d_busy <= 0; c_busy <= 0;
            done <= 0; status <= 0; cycles <= 0; tohost_value <= 0; proto_errors <= 0;
            retired <= 0; quiet <= 0; tohost_seen <= 0; tail <= 0;
        end else if (!done) begin
            cycles <= cycles + 1;
            // fetch
            if (f_busy && f_wait != 0) f_wait <= f_wait - 1;
            if (f_busy && f_wait == 0 && fetch_resp__ready) f_busy <= 0;
            if (fetch_req__valid && fetch_req__ready) begin
                f_busy <= 1;
                f_wait <= rnd_l[3:0] % (latency + 1);
                {fr["tag"]} <= {fq["tag"]};
                if (in_range(f_addr)) begin
                    {fr["status"]} <= {Status.OK.value};
                    {fr["data"]} <= {{{fetch_data}}};
                end else begin
                    {fr["status"]} <= {Status.OUT_OF_RANGE.value};
                    {fr["data"]} <= 0;
                end
            end
            // data
            if (d_busy && d_wait != 0) d_wait <= d_wait - 1;
            if (d_busy && d_wait == 0 && data_resp__ready) d_busy <= 0;
            if (data_req__valid && data_req__ready) begin
                d_busy <= 1;
                d_wait <= rnd_l[7:4] % (latency + 1);
                {dr["tag"]} <= {dq["tag"]};
                {dr["data"]} <= 0;
                if (in_range(d_addr)) begin
                    {dr["status"]} <= {Status.OK.value};
                    if ({dq["op"]} == {Op.WRITE.value}) begin
                        mem[d_index] <= d_merged;
                        if (tohost_en && d_addr[63:3] == tohost[63:3] && d_merged != 0
                                && !tohost_seen) begin
                            tohost_seen <= 1;
                            tohost_value <= d_merged;
                        end
                    end else begin
                        {dr["data"]} <= mem[d_index];
                    end
                end else begin
                    {dr["status"]} <= {Status.OUT_OF_RANGE.value};
                end
            end
            // coprocessor
            if (c_busy && c_wait != 0) c_wait <= c_wait - 1;
            if (c_busy && c_wait == 0 && cop_resp__ready) c_busy <= 0;
            if (cop_req__valid && cop_req__ready) begin
                c_busy <= 1;
                c_wait <= rnd_l[11:8] % (latency + 1);
                {cr["thread"]} <= {cq["thread"]};
                {cr["rd"]} <= {cq["rd"]};
                {cr["value"]} <= c_value;
                {cr["error"]} <= (c_insn & 64'h{REFUSED:x}) == 64'h{REFUSED:x};
            end
            // stream rules: at most one count a cycle, however many streams break them
            proto_errors <= proto_errors + {{31'd0, f_err || d_err || c_err}};
{retire_trace(12)}
            // the end
            if (tohost_seen) tail <= tail + 1;
            if (tohost_seen && tail == {TAIL_CYCLES}) begin
                done <= 1; status <= 1;
            end else if (cycles + 1 >= max_cycles) begin
                done <= 1; status <= 2;
            end else if (quiet >= {HANG_CYCLES}) begin
                done <= 1; status <= 3;
            end
        end
    end

    always @(posedge clk) if (done) $fflush(ftrace);
endmodule
"""


@dataclass(frozen=True)
class CoreBench(DesignBench):
    """The bench of a core with ``threads`` threads and ``mem_size`` bytes of memory, as
    ``sim.flow.runner.run_cocotb`` takes a design: ``name``, ``stem``, and :meth:`harness` for its
    sources."""
    threads: int
    mem_size: int = MEM_SIZE
    name = "scalar_bench"

    @property
    def core(self):
        from hw.scalar.core import ScalarCore
        return Design.of("scalar_core", ScalarCore, threads=self.threads)

    @property
    def design(self):
        return self.core

    @property
    def variant(self):
        return f"{self.threads}-{self.mem_size:x}"

    def bench_text(self):
        return bench_verilog(self.core.name, threads=self.threads, mem_size=self.mem_size,
                             name=self.name)


# --- running ------------------------------------------------------------------------------------

def _image_hex(image, mem_size):
    """``$readmemh`` text of the 8-byte words the image touches (``@index`` lines)."""
    words = {}
    for addr, blob in image:
        blob = bytes(blob)
        if not (RAM_BASE <= addr and addr + len(blob) <= RAM_BASE + mem_size):
            raise ValueError(f"segment {addr:#x}..{addr + len(blob):#x} is outside memory "
                             f"{RAM_BASE:#x}..{RAM_BASE + mem_size:#x}")
        for i, byte in enumerate(blob):
            off = addr + i - RAM_BASE
            word = words.setdefault(off // 8, bytearray(8))
            word[off % 8] = byte
    lines = []
    for index in sorted(words):
        lines.append(f"@{index:x}\n{int.from_bytes(words[index], 'little'):016x}")
    return "\n".join(lines) + "\n"


def parse_trace(path):
    """The retire records of a bench's ``trace.txt`` (:class:`~verif.scalar.iss.Retire`)."""
    records = []
    with open(path) as f:
        for line in f:
            thread, pc, insn, rd_en, rd, value, trap, cause = (int(x, 16) for x in line.split())
            if trap:
                records.append(Retire(thread, pc, None if cause == 1 else insn, None, None,
                                      cause))
            elif rd_en:
                records.append(Retire(thread, pc, insn, rd, value, None))
            else:
                records.append(Retire(thread, pc, insn, None, None, None))
    return records


def reads_clock(insn):
    """Whether ``insn`` reads a clock counter (``mcycle``, ``cycle``): its value is the RTL's."""
    return (insn is not None and insn & 0x7F == Opcode.SYSTEM and insn >> 12 & 3
            and insn >> 20 in (Csr.MCYCLE, Csr.CYCLE))


def _describe(r):
    insn = "fetch fault" if r.insn is None else f"insn {r.insn:08x}"
    write = "" if r.rd is None else f", x{r.rd} <- {r.value:#x}"
    trap = "" if r.trap is None else f", trap cause {r.trap}"
    return f"thread {r.thread} pc {r.pc:#x} {insn}{write}{trap}"


def lockstep(records, image, *, threads, entry, tohost, mem_size, coprocessor, traps=None):
    """Compare ``records`` (RTL retire order) with the ISS; return ``(checked, divergence)``.
    With a list ``traps``, append the trap no handler takes at the end of the records (a
    :class:`~verif.scalar.iss.TrapInfo`), if there is one."""
    memory = Memory(RAM_BASE, mem_size)
    for addr, blob in image:
        memory.write(addr, bytes(blob))
    iss = LockstepISS(memory, threads=threads, reset_pc=entry, tohost=tohost,
                      coprocessor=coprocessor)
    for n, got in enumerate(records):
        try:
            want = iss.step_thread(got.thread)
        except LockstepError as e:
            return n, f"record {n}: {_describe(got)}: {e}"
        if (reads_clock(got.insn) and want.rd is not None and got.rd == want.rd
                and got.trap is None and want.trap is None):
            iss.threads[got.thread].x[got.rd] = got.value
            want = got
        if got != want:
            return n, f"record {n}: got {_describe(got)}; ISS expected {_describe(want)}"
    if traps is not None and iss.unhandled_trap() is not None:
        traps.append(iss.unhandled_trap())
    # Functional coverage (with D1CORE_FCOV only): the trace, now known equal to the ISS's.
    sample_retires(records)
    return len(records), None


def run_program(image, *, threads=4, sim="verilator", max_cycles=1_000_000, trace=False,
                entry=RAM_BASE, tohost=None, coprocessor=None, seed=1, stall=0, latency=0,
                mem_size=MEM_SIZE, check=True, waves=None, run_dir=None):
    """Run ``image`` (a list of ``(address, bytes)`` segments) on the core; return a
    :class:`CoreRun`.

    ``threads`` 1..4; ``sim`` "verilator" or "icarus"; ``max_cycles`` stops a program that runs
    too long (status "timeout"); ``trace`` keeps the retire records in the result; ``entry``
    thread 0's first pc (the core is built with it); ``tohost`` the address of the tohost word
    or None; ``coprocessor`` must be None or :func:`bench_coprocessor` (the bench's coprocessor
    is that function, in Verilog); ``seed``, ``stall`` (0..255, in 256ths), ``latency`` (0..15
    extra cycles) shape the port models. With ``check`` a lockstep divergence or stream-rule
    violation raises :class:`LockstepError`; without, it is only reported."""
    if coprocessor not in (None, bench_coprocessor):
        raise ValueError("the RTL bench has one coprocessor: pass None or bench_coprocessor")
    if sim not in SIMULATORS:
        raise ValueError(f"sim must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    check_int("stall", stall, 0, 255)
    check_int("latency", latency, 0, 15)
    if entry != RAM_BASE:
        raise ValueError(f"the core resets at {RAM_BASE:#x}; entry {entry:#x} is not supported")
    if tohost is not None and not (RAM_BASE <= tohost and tohost + 8 <= RAM_BASE + mem_size):
        raise ValueError(f"tohost {tohost:#x} is not inside memory")
    bench = CoreBench(threads, mem_size)
    if run_dir is None:
        run_dir = BUILD / "runs" / f"scalar-{threads}-{sim}-{uuid.uuid4().hex[:8]}"
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "image.hex").write_text(_image_hex(image, mem_size))
    args = {"seed": seed, "stall": stall, "latency": latency, "max_cycles": max_cycles,
            "tohost": tohost or 0, "tohost_en": tohost is not None}
    info = run_cocotb(bench, "verif.program_cocotb", sim, args=args, harness=CoreBench.harness,
                      test_dir=run_dir, quiet=True, waves=waves, echo="  [")
    summary = json.loads((run_dir / "summary.json").read_text())
    records = parse_trace(run_dir / "trace.txt")
    retired = [0] * threads
    traps = 0
    for r in records:
        if r.trap is None:
            retired[r.thread] += 1
        else:
            traps += 1
    end = STATUS.get(summary["status"], "hang")
    value = summary["tohost_value"]
    if end == "tohost":
        status = "pass" if value == 1 else "fail"
    else:
        status = end
    test = value >> 1 if status == "fail" and value & 1 else None
    unhandled = []
    checked, divergence = lockstep(records, image, threads=threads, entry=entry, tohost=tohost,
                                   mem_size=mem_size, coprocessor=bench_coprocessor,
                                   traps=unhandled)
    if status in ("hang", "timeout") and unhandled:
        status = "trap"
    result = CoreRun(status=status, test=test, tohost=value, cycles=summary["cycles"],
                     retired=retired, traps=traps, trace=records if trace else None,
                     divergence=divergence, checked=checked,
                     proto_errors=summary["proto_errors"], sim=sim,
                     seconds=info["test_seconds"], run_dir=run_dir,
                     extra={"build_seconds": info["build_seconds"]},
                     trap=unhandled[0] if status == "trap" else None)
    if check:
        result.check()
    if not os.environ.get("D1CORE_KEEP_RUNS") and divergence is None:
        (run_dir / "trace.txt").unlink(missing_ok=True)
    return result

