"""A bulk harness for a design with several input and output streams (the scratchpad's seven
request/response port pairs and its ``inject`` stream), in generated Verilog.

It is ``verif/harness.py``'s idea for many streams at once, with per-transfer cycle records so
that a cycle-level model can replay the run:

* every input stream ``s`` reads ``s.stim.hex``: one line per word, ``DELAY PAYLOAD`` in hex:
  the word is offered after ``DELAY`` cycles of its own (counted once the previous word was
  taken) and then after random idle cycles (probability ``idle``/256, an xorshift32 generator
  per stream); once offered it is held until taken. Each transfer appends ``OFFER ACCEPT`` (the
  cycle the word was first offered and the cycle it was taken) to ``s.acc.hex``;
* every output stream ``s`` is ready with probability 1 - ``stall``/256 per cycle (its own
  generator) and appends ``CYCLE PAYLOAD`` to ``s.resp.hex`` per transfer; its stream rule
  (valid and payload held until taken) is checked, violations counted in ``proto_errors``;
* the run ends when every input has sent ``count_s`` words and every output has delivered
  ``expect_s``; ``timeout`` cycles without any transfer end it with ``timed_out`` set.

Cycle 0 is the first cycle of the run. Other ports of the design (status) come out unchanged.
"""

import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from verif.harness import XORSHIFT32_VERILOG, HarnessError

__all__ = ["multi_harness_verilog", "MultiStreamHarness", "HarnessError"]


def _decl(p):
    rng = f"[{p.width - 1}:0] " if p.width > 1 else ""
    return f"{'input' if p.direction == 'in' else 'output'} wire {rng}{p.name}"


def multi_harness_verilog(top, ports, *, inputs, outputs, name):
    """Verilog text of a harness module ``name`` around design ``top`` (with ``ports``, as
    ``sim.flow.build.Design.ports`` lists them), driving the input streams ``inputs`` and taking
    the output streams ``outputs`` (stream names: ``<s>__payload``/``valid``/``ready``)."""
    by_name = {p.name: p for p in ports}
    for s in (*inputs, *outputs):
        for suffix in ("payload", "valid", "ready"):
            if f"{s}__{suffix}" not in by_name:
                raise ValueError(f"design {top!r} has no stream {s!r} (port {s}__{suffix} missing)")
    streamed = {f"{s}__{x}" for s in (*inputs, *outputs) for x in ("payload", "valid", "ready")}
    other = [p for p in ports if p.name not in streamed and p.name not in ("clk", "rst")]
    width = {s: by_name[f"{s}__payload"].width for s in (*inputs, *outputs)}

    head = [f"    input wire [31:0] count_{s}" for s in inputs]
    head += [f"    input wire [31:0] expect_{s}" for s in outputs]
    head += [f"    {_decl(p)}" for p in other]
    decls, conns, resets, starts, body, closes = [], [], [], [], [], []
    for i, s in enumerate(inputs):
        w = width[s]
        decls.append(f"""    reg [{w - 1}:0] {s}_payload, {s}_word;
    reg {s}_valid, {s}_have, {s}_v;
    wire {s}_ready;
    reg [31:0] {s}_sent, {s}_wait, {s}_offer, {s}_rnd;
    integer {s}_in, {s}_acc;""")
        conns += [f"    .{s}__payload({s}_payload)", f"    .{s}__valid({s}_valid)",
                  f"    .{s}__ready({s}_ready)"]
        resets.append(f"            {s}_valid <= 1'b0;")
        starts.append(f"""                {s}_sent = 0; {s}_have = 0; {s}_wait = 0;
                {s}_rnd = seed_of(rand_seed, {2 * i + 1});
                {s}_in = $fopen("{s}.stim.hex", "r");
                {s}_acc = $fopen("{s}.acc.hex", "w");""")
        body.append(f"""            {s}_rnd = xorshift32({s}_rnd);
            {s}_v = {s}_valid;
            if ({s}_valid && {s}_ready) begin
                $fwrite({s}_acc, "%h %h\\n", {s}_offer, cycles);
                {s}_sent = {s}_sent + 1;
                {s}_v = 1'b0;
                moved = 1;
            end
            if (!{s}_v) begin
                if (!{s}_have && {s}_sent < count_{s}) begin
                    rc = $fscanf({s}_in, "%h %h\\n", {s}_wait, {s}_word);
                    {s}_have = 1;
                end
                if ({s}_have) begin
                    if ({s}_wait != 0) {s}_wait = {s}_wait - 1;
                    else if ({s}_rnd[31:24] >= idle) begin
                        {s}_payload <= {s}_word;
                        {s}_v = 1'b1;
                        {s}_have = 0;
                        {s}_offer <= cycles + 1;
                    end
                end
            end
            {s}_valid <= {s}_v;
            if ({s}_sent < count_{s}) finished = 0;""")
        closes.append(f"                $fclose({s}_in); $fclose({s}_acc);")
    for i, s in enumerate(outputs):
        w = width[s]
        decls.append(f"""    wire [{w - 1}:0] {s}_payload;
    wire {s}_valid;
    reg {s}_ready, {s}_held;
    reg [{w - 1}:0] {s}_last;
    reg [31:0] {s}_got, {s}_rnd;
    integer {s}_out;""")
        conns += [f"    .{s}__payload({s}_payload)", f"    .{s}__valid({s}_valid)",
                  f"    .{s}__ready({s}_ready)"]
        resets.append(f"            {s}_ready <= 1'b0; {s}_held = 0;")
        starts.append(f"""                {s}_got = 0; {s}_held = 0;
                {s}_rnd = seed_of(rand_seed, {2 * i + 2});
                {s}_out = $fopen("{s}.resp.hex", "w");""")
        body.append(f"""            {s}_rnd = xorshift32({s}_rnd);
            if ({s}_held && (!{s}_valid || {s}_payload != {s}_last)) begin
                $display("harness: stream {s}: valid or payload changed, cycle %0d", cycles);
                proto_errors = proto_errors + 1;
            end
            {s}_held = {s}_valid && !{s}_ready;
            {s}_last = {s}_payload;
            if ({s}_valid && {s}_ready) begin
                $fwrite({s}_out, "%h %h\\n", cycles, {s}_payload);
                {s}_got = {s}_got + 1;
                moved = 1;
            end
            {s}_ready <= {s}_rnd[31:24] >= stall;
            if ({s}_got < expect_{s}) finished = 0;""")
        closes.append(f"                $fclose({s}_out);")
    conns += [f"    .{p.name}({p.name})" for p in other]
    nl = "\n"
    return f"""// Generated by verif/sram/harness.py for design {top}: do not edit.
`timescale 1ns/1ps
module {name} (
    input wire clk,
    input wire rst,
    input wire start,
    input wire [7:0] idle,
    input wire [7:0] stall,
    input wire [31:0] rand_seed,
    input wire [31:0] timeout,
    output reg done,
    output reg timed_out,
    output reg [31:0] proto_errors,
    output reg [31:0] cycles,
{("," + nl).join(head)}
);
{nl.join(decls)}
    integer rc;
    reg running, started, moved, finished;
    reg [31:0] quiet;

    {top} dut (
    .clk(clk),
    .rst(rst),
{("," + nl).join(conns)}
    );

{XORSHIFT32_VERILOG}

    function [31:0] seed_of(input [31:0] seed, input [31:0] k);
        reg [31:0] s;
        begin
            s = seed ^ (32'h9E3779B9 * k);
            seed_of = (s == 32'h0) ? 32'h2545F491 : s;
        end
    endfunction

    always @(posedge clk) begin
        if (rst) begin
            running = 0;
            started = 0;
            done <= 1'b0;
            timed_out <= 1'b0;
            proto_errors = 0;
            cycles <= 0;
{nl.join(resets)}
        end else if (!running) begin
            if (!start) started = 0;
            if (start && !started) begin
                started = 1;
                running = 1;
                done <= 1'b0;
                timed_out <= 1'b0;
                proto_errors = 0;
                cycles <= 0;
                quiet = 0;
{nl.join(starts)}
            end
        end else begin
            moved = 0;
            finished = 1;
{nl.join(body)}
            cycles <= cycles + 1;
            quiet = moved ? 0 : quiet + 1;
            if (finished || quiet >= timeout) begin
                timed_out <= !finished;
                running = 0;
                done <= 1'b1;
{nl.join(f"                {s}_valid <= 1'b0;" for s in inputs)}
{nl.join(f"                {s}_ready <= 1'b0;" for s in outputs)}
{nl.join(closes)}
            end
        end
    end
endmodule
"""


def read_records(path):
    """The ``A B`` hex pairs of a record file, as a list of ``(int, int)``."""
    if not os.path.exists(path):
        return []
    out = []
    for line in Path(path).read_text().split("\n"):
        if not line.strip():
            continue
        a, b = line.split()
        if any(ch in "xXzZ" for ch in a + b):
            raise HarnessError(f"{path}: a record with undefined bits: {line}")
        out.append((int(a, 16), int(b, 16)))
    return out


class MultiStreamHarness:
    """The cocotb side of :func:`multi_harness_verilog`."""

    def __init__(self, dut, inputs, outputs, *, period_ns=2):
        self.dut, self.inputs, self.outputs = dut, tuple(inputs), tuple(outputs)
        self.period_ns = period_ns

    async def reset(self):
        d = self.dut
        cocotb.start_soon(Clock(d.clk, self.period_ns, unit="ns").start())
        d.start.value = 0
        d.idle.value = 0
        d.stall.value = 0
        d.rand_seed.value = 1
        d.timeout.value = 10_000
        for s in self.inputs:
            getattr(d, f"count_{s}").value = 0
        for s in self.outputs:
            getattr(d, f"expect_{s}").value = 0
        d.rst.value = 1
        await ClockCycles(d.clk, 3)
        d.rst.value = 0
        await ClockCycles(d.clk, 1)

    async def run(self, stimulus, expect, *, idle=0, stall=0, seed=1, timeout=10_000):
        """One run. ``stimulus``: ``{input stream: [(delay, payload), ...]}`` (streams left out
        send nothing); ``expect``: ``{output stream: number of words}``. Returns
        ``(accepts, responses, cycles)``: per input the ``(offer, accept)`` cycle pairs, per
        output the ``(cycle, payload)`` pairs, and the run's length in cycles."""
        d = self.dut
        for s in self.inputs:
            words = stimulus.get(s, [])
            Path(f"{s}.stim.hex").write_text("".join(f"{dl:x} {int(w):x}\n" for dl, w in words))
            getattr(d, f"count_{s}").value = len(words)
        for s in self.outputs:
            getattr(d, f"expect_{s}").value = expect.get(s, 0)
        d.idle.value, d.stall.value = idle, stall
        d.rand_seed.value = seed & 0xFFFF_FFFF
        d.timeout.value = timeout
        d.start.value = 1
        await RisingEdge(d.done)
        d.start.value = 0
        await ClockCycles(d.clk, 1)
        if int(d.proto_errors.value):
            raise HarnessError(f"{int(d.proto_errors.value)} stream-rule violations")
        accepts = {s: read_records(f"{s}.acc.hex") for s in self.inputs}
        responses = {s: read_records(f"{s}.resp.hex") for s in self.outputs}
        if int(d.timed_out.value):
            sent = {s: len(accepts[s]) for s in self.inputs}
            got = {s: len(responses[s]) for s in self.outputs}
            raise HarnessError(f"design hung: {timeout} cycles without a transfer; taken {sent}, "
                               f"answered {got}")
        return accepts, responses, int(d.cycles.value)
