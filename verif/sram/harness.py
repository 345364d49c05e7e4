"""A bulk harness for a design with several input and output streams (the scratchpad's seven
request/response port pairs and its ``inject`` stream): a thin generated Verilog top over the
harness library of ``verif/hdl`` (:data:`verif.harness.LIBRARY`).

It is ``verif/harness.py``'s idea for many streams at once, with per-transfer cycle records so
that a cycle-level model can replay the run:

* every input stream ``s`` (a ``tb_stream_source``) reads ``s.stim.hex``: one line per word,
  ``DELAY PAYLOAD`` in hex: the word is offered after ``DELAY`` cycles of its own (counted once
  the previous word was taken) and then after random idle cycles (probability ``idle``/256, a
  pause generator per stream); once offered it is held until taken. Each transfer appends
  ``OFFER ACCEPT`` (the cycle the word was first offered and the cycle it was taken) to
  ``s.acc.hex``;
* every output stream ``s`` (a ``tb_stream_sink``) is ready with probability 1 - ``stall``/256
  per cycle (its own generator) and appends ``CYCLE PAYLOAD`` to ``s.resp.hex`` per transfer;
  its stream rule (valid and payload held until taken) is checked, violations counted in
  ``proto_errors``;
* the run ends when every input has sent ``count_s`` words and every output has delivered
  ``expect_s``; ``timeout`` cycles without any transfer end it with ``timed_out`` set.

Input ``i``'s generator is seeded with ``rand_seed ^ (0x9E3779B9 * (2i + 1))``, output ``i``'s
with ``rand_seed ^ (0x9E3779B9 * (2i + 2))``; each is stepped once before its first draw.
Cycle 0 is the first cycle of the run. Other ports of the design (status) come out unchanged.
"""

from pathlib import Path

import cocotb
from cocotb.clock import Clock

from verif.harness import (
    RUN_CONTROL,
    HarnessError,
    harness_sources,
    port_decl,
    read_records,
    reset_top,
    run_top,
    sink_instance,
    source_instance,
    top_head,
)

__all__ = ["multi_harness_verilog", "multi_harness", "MultiStreamHarness", "HarnessError"]


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

    head = [f"input wire [31:0] count_{s}" for s in inputs]
    head += [f"input wire [31:0] expect_{s}" for s in outputs]
    head += [port_decl(p) for p in other]
    body = []
    # Input i's generator is number 2i + 1, output i's 2i + 2.
    numbers = [2 * i + 1 for i in range(len(inputs))] + [2 * i + 2 for i in range(len(outputs))]
    for k, s in enumerate((*inputs, *outputs)):
        w = width[s]
        seed = f"rand_seed ^ 32'h{0x9E3779B9 * numbers[k] & 0xFFFF_FFFF:08X}"
        if k < len(inputs):
            body.append(source_instance(f"{s}_source", s, w,
                                        params=f".W({w}), .RECORD(1), .ADVANCE(1)",
                                        stimulus=f"{s}.stim.hex", accepts=f"{s}.acc.hex",
                                        seed=seed, limit=f"count_{s}"))
        else:
            body.append(sink_instance(f"{s}_sink", s, w, params=f".W({w}), .ADVANCE(1)",
                                      responses=f"{s}.resp.hex", seed=seed))
    fire = {s: f"({s}__valid && {s}__ready)" for s in (*inputs, *outputs)}
    # Counts after this cycle's transfers.
    met = [f"{s}_source_sent + {{31'd0, {fire[s]}}} >= count_{s}" for s in inputs]
    met += [f"{s}_sink_got + {{31'd0, {fire[s]}}} >= expect_{s}" for s in outputs]
    conns = [f"        .{s}__{x}({s}__{x})" for s in (*inputs, *outputs)
             for x in ("payload", "valid", "ready")]
    conns += [f"        .{p.name}({p.name})" for p in other]
    nl = "\n"
    return f"""{top_head("verif/sram/harness.py", top, name, head)}{"".join(body)}
    assign proto_errors = {" + ".join(f"{s}_sink_errors" for s in outputs)};
    // A hang is timeout cycles without any transfer.
    wire moved = {" || ".join(fire.values())};
    wire finished = {(nl + "        && ").join(f"({m})" for m in met)};
{RUN_CONTROL}
    {top} dut (
        .clk(clk),
        .rst(rst),
{("," + nl).join(conns)}
    );
endmodule
"""


def multi_harness(design, *, inputs, outputs):
    """``(sources, top)`` of ``design`` in the multi-stream harness (for
    ``sim.flow.runner.run_cocotb``'s ``harness``)."""
    top = f"mharness_{design.name}"
    text = multi_harness_verilog(design.name, design.ports(), inputs=inputs, outputs=outputs,
                                 name=top)
    return harness_sources(design, text, suffix="mharness"), top


class MultiStreamHarness:
    """The cocotb side of :func:`multi_harness_verilog`."""

    def __init__(self, dut, inputs, outputs, *, period_ns=2):
        self.dut, self.inputs, self.outputs = dut, tuple(inputs), tuple(outputs)
        self.period_ns = period_ns

    async def reset(self):
        cocotb.start_soon(Clock(self.dut.clk, self.period_ns, unit="ns").start())
        await reset_top(self.dut, start=0, idle=0, stall=0, rand_seed=1, timeout=10_000,
                        **{f"count_{s}": 0 for s in self.inputs},
                        **{f"expect_{s}": 0 for s in self.outputs})

    async def run(self, stimulus, expect, *, idle=0, stall=0, seed=1, timeout=10_000):
        """One run. ``stimulus``: ``{input stream: [(delay, payload), ...]}`` (streams left out
        send nothing); ``expect``: ``{output stream: number of words}``. Returns
        ``(accepts, responses, cycles)``: per input the ``(offer, accept)`` cycle pairs, per
        output the ``(cycle, payload)`` pairs, and the run's length in cycles."""
        d = self.dut
        counts = {}
        for s in self.inputs:
            words = stimulus.get(s, [])
            Path(f"{s}.stim.hex").write_text("".join(f"{dl:x} {int(w):x}\n" for dl, w in words))
            counts[f"count_{s}"] = len(words)
        counts.update({f"expect_{s}": expect.get(s, 0) for s in self.outputs})
        await run_top(d, idle=idle, stall=stall, rand_seed=seed & 0xFFFF_FFFF, timeout=timeout,
                      **counts)
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
