"""A bulk traffic harness for the mesh: every local stream driven from, or recorded to, a file.

One Python call per flit per cycle would make mesh runs crawl, so :func:`traffic_harness_verilog`
wraps a design in generated Verilog that moves traffic in bulk (the multi-stream counterpart of
``verif/harness.py``):

* **configuration**: at ``start`` the words of ``cfg.hex`` (one hex payload a line) enter the
  ``cfg`` stream in order, one per cycle;
* **sources**: every input stream ``inject__<n>__<c>`` reads ``src_<n>_<c>.hex``, lines
  ``<time> <payload>`` (hex) in order; a payload is offered from cycle ``time`` on (cycles count
  from the end of configuration), so the file is an unbounded source queue with creation times;
  an xorshift32 generator per source adds idle cycles (``idle`` in 256ths);
* **sinks**: every output stream ``eject__<n>__<c>`` writes ``snk_<n>_<c>.hex``, lines
  ``<cycle> <payload>`` of every transfer; an xorshift32 generator per sink drops ``ready``
  (``stall`` in 256ths); the stream rules (valid and payload held until ready) are checked and
  violations counted in ``proto_errors``;
* **end**: ``count`` (non-zero) transfers out then 64 more cycles, so late duplicates are still
  recorded; or ``timeout`` cycles without an output transfer (``timed_out``: a hang); or
  ``max_cycles`` (non-zero) cycles (a bench run above saturation).

Other design inputs (the mesh's edge links) are tied to zero; other outputs are brought out under
their own names; ``edge_flits`` counts the cycles in which any ``*_out__*__valid`` output was high
(a flit leaving the mesh). ``n_in``/``n_out`` count the transfers of all sources/sinks.
"""

import re
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from sim.flow.build import atomic_write

__all__ = ["traffic_harness_verilog", "traffic_harness", "TrafficHarness", "TRAIL_CYCLES"]

#: Cycles the harness keeps recording after the expected count of transfers.
TRAIL_CYCLES = 64

_SOURCE = re.compile(r"^(inject__\d+__\d+)__payload$")
_SINK = re.compile(r"^(eject__\d+__\d+)__payload$")
_EDGE_VALID = re.compile(r"^\w+_out__\d+__valid$")

#: The xorshift32 step of the endpoints' pause generators (as in ``verif/harness.py``).
_XS = """    function [31:0] xs(input [31:0] x);
        reg [31:0] y;
        begin
            y = x ^ (x << 13);
            y = y ^ (y >> 17);
            xs = y ^ (y << 5);
        end
    endfunction
"""

_MODULES = """
module {name}_src #(parameter W = 8) (
    input wire clk, input wire go, input wire run, input wire stop,
    input wire [15:0] node, input wire [15:0] cls, input wire [31:0] salt,
    input wire [31:0] seed, input wire [7:0] idle, input wire [31:0] now,
    output reg [W-1:0] payload, output reg valid, input wire ready, output reg [31:0] sent);
    integer fd, rc;
    reg [8*32-1:0] file;
    reg [31:0] t, rnd;
    reg [W-1:0] word;
    reg have;
{xs}    initial begin fd = 0; valid = 1'b0; sent = 32'd0; have = 1'b0; end
    always @(posedge clk) begin
        if (go) begin
            $sformat(file, "src_%0d_%0d.hex", node, cls);
            fd = $fopen(file, "r");
            have = 1'b0;
            if (fd != 0) begin rc = $fscanf(fd, "%h %h\\n", t, word); have = (rc == 2); end
            valid <= 1'b0;
            sent <= 32'd0;
            rnd <= (seed ^ salt) == 32'd0 ? 32'h2545F491 : (seed ^ salt);
        end else if (run) begin
            rnd <= xs(rnd);
            if (valid && ready) sent <= sent + 1;
            if (!valid || ready) begin
                if (have && t <= now && rnd[31:24] >= idle) begin
                    payload <= word;
                    valid <= 1'b1;
                    rc = $fscanf(fd, "%h %h\\n", t, word);
                    have = (rc == 2);
                end else begin
                    valid <= 1'b0;
                end
            end
        end else begin
            valid <= 1'b0;
        end
        if (stop && fd != 0) begin $fclose(fd); fd = 0; end
    end
endmodule

module {name}_snk #(parameter W = 8) (
    input wire clk, input wire go, input wire run, input wire stop,
    input wire [15:0] node, input wire [15:0] cls, input wire [31:0] salt,
    input wire [31:0] seed, input wire [7:0] stall, input wire [31:0] now,
    input wire [W-1:0] payload, input wire valid, output reg ready,
    output reg [31:0] got, output reg [31:0] errors);
    integer fd;
    reg [8*32-1:0] file;
    reg [31:0] rnd;
    reg held;
    reg [W-1:0] held_payload;
{xs}    initial begin fd = 0; ready = 1'b0; got = 32'd0; errors = 32'd0; held = 1'b0; end
    always @(posedge clk) begin
        if (go) begin
            $sformat(file, "snk_%0d_%0d.hex", node, cls);
            fd = $fopen(file, "w");
            ready <= 1'b0;
            got <= 32'd0;
            errors <= 32'd0;
            held <= 1'b0;
            rnd <= (seed ^ salt) == 32'd0 ? 32'h2545F491 : (seed ^ salt);
        end else if (run) begin
            rnd <= xs(rnd);
            if (held && (!valid || payload != held_payload)) errors <= errors + 1;
            held <= valid && !ready;
            held_payload <= payload;
            if (valid && ready) begin
                $fwrite(fd, "%h %h\\n", now, payload);
                got <= got + 1;
            end
            ready <= rnd[31:24] >= stall;
        end else begin
            ready <= 1'b0;
        end
        if (stop && fd != 0) begin $fclose(fd); fd = 0; end
    end
endmodule
"""


def _decl(p):
    rng = f"[{p.width - 1}:0] " if p.width > 1 else ""
    return f"output wire {rng}{p.name}"


def _ids(stream):
    """The node and class ports of a source or sink module (one module for all: a file name
    as a parameter would make each instance a module of its own to compile)."""
    node, cls = stream.split("__")[1:]
    return f".node(16'd{node}), .cls(16'd{cls})"


def traffic_harness_verilog(top, ports, *, name=None):
    """Verilog text of a traffic harness module around design ``top`` with the given ports."""
    by_name = {p.name: p for p in ports}
    sources = [m.group(1) for p in ports if (m := _SOURCE.match(p.name))]
    sinks = [m.group(1) for p in ports if (m := _SINK.match(p.name))]
    if not sources or not sinks or "cfg__payload" not in by_name:
        raise ValueError(f"design {top!r} needs inject__*, eject__* and cfg streams")
    name = name or f"traffic_{top}"
    handled = {f"{s}__{x}" for s in [*sources, *sinks, "cfg"]
               for x in ("payload", "valid", "ready")}
    handled |= {"clk", "rst"}
    forwarded = [p for p in ports if p.name not in handled and p.direction == "out"]
    tied = [p for p in ports if p.name not in handled and p.direction == "in"]
    edges = [p.name for p in forwarded if _EDGE_VALID.match(p.name)]
    cw = by_name["cfg__payload"].width
    zero = "1'b0"
    lines = [f"// Generated by verif/noc/harness.py for design {top}: do not edit.",
             "`timescale 1ns/1ps",
             f"module {name} (",
             "    input wire clk, input wire rst, input wire start,",
             "    input wire [31:0] count, input wire [7:0] idle, input wire [7:0] stall,",
             "    input wire [31:0] rand_seed, input wire [31:0] timeout,",
             "    input wire [31:0] max_cycles,",
             "    output reg done, output reg timed_out, output reg [31:0] cycles,",
             "    output reg [31:0] cfg_words, output reg [31:0] edge_flits,",
             "    output wire [31:0] proto_errors, output wire [31:0] n_in,",
             "    output wire [31:0] n_out"
             + "".join(f",\n    {_decl(p)}" for p in forwarded),
             ");"]
    for p in tied:
        lines.append(f"    wire [{p.width - 1}:0] {p.name} = {p.width}'d0;")
    lines += [f"    reg [{cw - 1}:0] cfg_payload, cfg_word;",
              "    reg cfg_valid, go, run, stop, started;",
              "    wire cfg_ready;",
              "    reg [2:0] state;",
              "    reg [31:0] quiet, last_out, trail;",
              "    integer fc, rc;"]
    conns = [".clk(clk)", ".rst(rst)", ".cfg__payload(cfg_payload)", ".cfg__valid(cfg_valid)",
             ".cfg__ready(cfg_ready)"]
    conns += [f".{p.name}({p.name})" for p in forwarded + tied]
    # (kind, streams, salt multiplier, pause input, counter ports)
    for kind, streams, mix, pause, counters in (
            ("src", sources, 0x9E3779B9, "idle", {"sent": "sent"}),
            ("snk", sinks, 0x85EBCA6B, "stall", {"got": "got", "errors": "err"})):
        for k, s in enumerate(streams):
            w = by_name[f"{s}__payload"].width
            outs = "".join(f", .{port}({wire}_{k})" for port, wire in counters.items())
            lines += [f"    wire [{w - 1}:0] {s}__payload;", f"    wire {s}__valid, {s}__ready;",
                      f"    wire [31:0] {', '.join(f'{c}_{k}' for c in counters.values())};",
                      f"    {name}_{kind} #(.W({w})) {kind}_{k} (.clk(clk), {_ids(s)}, "
                      f".salt(32'd{(k + 1) * mix & 0xFFFFFFFF}), .go(go), .run(run), "
                      f".stop(stop), .seed(rand_seed), .{pause}({pause}), .now(cycles), "
                      f".payload({s}__payload), .valid({s}__valid), .ready({s}__ready){outs});"]
            conns += [f".{s}__{x}({s}__{x})" for x in ("payload", "valid", "ready")]
    lines += [f"    assign n_in = {' + '.join(f'sent_{k}' for k in range(len(sources)))};",
              f"    assign n_out = {' + '.join(f'got_{k}' for k in range(len(sinks)))};",
              f"    assign proto_errors = {' + '.join(f'err_{k}' for k in range(len(sinks)))};",
              f"    wire edge_valid = {' | '.join(edges) or zero};",
              f"    {top} dut (\n        " + ",\n        ".join(conns) + "\n    );"]
    lines.append("""
    always @(posedge clk) begin
        go <= 1'b0;
        stop <= 1'b0;
        if (rst) begin
            state <= 3'd0; started <= 1'b0; done <= 1'b0; timed_out <= 1'b0; run <= 1'b0;
            cfg_valid <= 1'b0; cycles <= 32'd0; cfg_words <= 32'd0; edge_flits <= 32'd0;
        end else begin
            if (!start) started <= 1'b0;
            case (state)
            3'd0: if (start && !started) begin
                started <= 1'b1; done <= 1'b0; timed_out <= 1'b0; cfg_words <= 32'd0;
                fc = $fopen("cfg.hex", "r");
                state <= 3'd1;
            end
            3'd1: begin
                if (cfg_valid && cfg_ready) cfg_words <= cfg_words + 1;
                if (!cfg_valid || cfg_ready) begin
                    rc = (fc == 0) ? 0 : $fscanf(fc, "%h\\n", cfg_word);
                    if (rc == 1) begin
                        cfg_payload <= cfg_word;
                        cfg_valid <= 1'b1;
                    end else begin
                        cfg_valid <= 1'b0;
                        if (fc != 0) $fclose(fc);
                        go <= 1'b1;
                        state <= 3'd2;
                    end
                end
            end
            3'd2: begin
                run <= 1'b1; cycles <= 32'd0; quiet <= 32'd0; last_out <= 32'd0;
                edge_flits <= 32'd0; state <= 3'd3;
            end
            3'd3, 3'd4: begin
                cycles <= cycles + 1;
                if (edge_valid) edge_flits <= edge_flits + 1;
                last_out <= n_out;
                quiet <= (n_out != last_out) ? 32'd0 : quiet + 1;
                if (state == 3'd3 && count != 0 && n_out >= count) begin
                    state <= 3'd4; trail <= 32'd0;
                end
                if (state == 3'd4) trail <= trail + 1;
                if ((state == 3'd4 && trail >= TRAIL) || (state == 3'd3 && quiet >= timeout)
                        || (max_cycles != 0 && cycles + 1 >= max_cycles)) begin
                    timed_out <= state == 3'd3 && quiet >= timeout;
                    run <= 1'b0; stop <= 1'b1; state <= 3'd5;
                end
            end
            3'd5: begin done <= 1'b1; state <= 3'd0; end
            endcase
        end
    end
endmodule""".replace("TRAIL", str(TRAIL_CYCLES)))
    lines.append(_MODULES.format(name=name, xs=_XS))
    return "\n".join(lines)


def traffic_harness(design):
    """The simulation sources and top of ``design`` in its traffic harness (for
    ``verif.runner.run_cocotb``'s ``harness``)."""
    rtl = design.simulation_verilog()
    top = f"traffic_{design.name}"
    path = rtl.with_name(f"{design.stem}.traffic.v")
    text = traffic_harness_verilog(design.name, design.ports(), name=top)
    if not path.exists() or path.read_text() != text:  # the generator may have changed
        atomic_write(path, text)
    return [rtl, path], top


class TrafficHarness:
    """The cocotb side of :func:`traffic_harness_verilog`: files in, files out."""

    def __init__(self, dut, *, period_ns=2):
        self.dut = dut
        self.period_ns = period_ns
        self.clock = None

    async def reset(self):
        """Start the clock (once) and reset the design and the harness."""
        d = self.dut
        if self.clock is None:
            self.clock = cocotb.start_soon(Clock(d.clk, self.period_ns, unit="ns").start())
        for port, value in (("start", 0), ("count", 0), ("idle", 0), ("stall", 0),
                            ("rand_seed", 1), ("timeout", 10_000), ("max_cycles", 0)):
            getattr(d, port).value = value
        d.rst.value = 1
        await ClockCycles(d.clk, 3)
        d.rst.value = 0
        await ClockCycles(d.clk, 1)

    async def run(self, cfg, sources, *, count, idle=0, stall=0, seed=1, timeout=10_000,
                  max_cycles=0):
        """Configure with the words ``cfg``, inject ``sources`` (a dict from a stream's file
        suffix ``"<n>_<c>"`` to a list of ``(time, word)``), run until ``count`` transfers out
        (or ``max_cycles``); return ``{suffix: [(cycle, word), ...]}`` for every sink file and a
        dict of the harness's counters. A hang raises ``AssertionError``."""
        if not (0 <= idle < 256 and 0 <= stall < 256):
            raise ValueError(f"idle and stall are 256ths in 0..255, got {idle} and {stall}")
        Path("cfg.hex").write_text("".join(f"{int(w):x}\n" for w in cfg))
        for old in Path(".").glob("src_*.hex"):
            old.unlink()
        for old in Path(".").glob("snk_*.hex"):
            old.unlink()
        for suffix, items in sources.items():
            Path(f"src_{suffix}.hex").write_text("".join(f"{int(t):x} {int(w):x}\n"
                                                         for t, w in items))
        d = self.dut
        d.count.value = count
        d.idle.value = idle
        d.stall.value = stall
        d.rand_seed.value = seed & 0xFFFFFFFF
        d.timeout.value = timeout
        d.max_cycles.value = max_cycles
        d.start.value = 1
        await RisingEdge(d.done)
        d.start.value = 0
        await ClockCycles(d.clk, 1)
        counters = {k: int(getattr(d, k).value) for k in
                    ("cycles", "cfg_words", "edge_flits", "proto_errors", "n_in", "n_out",
                     "timed_out")}
        out = {}
        for path in Path(".").glob("snk_*.hex"):
            items = []
            for line in path.read_text().splitlines():
                t, w = line.split()
                if any(ch in "xXzZ" for ch in w):
                    raise AssertionError(f"{path}: output word with undefined bits: {w}")
                items.append((int(t, 16), int(w, 16)))
            out[path.name[4:-4]] = items
        if counters["timed_out"]:
            raise AssertionError(f"mesh hung: {counters['n_out']} of {count} packets out, then "
                                 f"{timeout} cycles without one")
        return out, counters
