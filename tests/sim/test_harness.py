"""The bulk stream harness, the Verilog harness library under it and the cocotb runner, on both
simulators.

Checks: words reach the output in order and intact under random idles and backpressure; a design
that breaks the stream rules or hangs is reported, not passed and not left running; the library's
source and sink (every parameter setting) offer, take and record in exactly the cycles of a
cycle model, and its hold check counts exactly the model's violations."""

import hashlib
import re

import pytest

from sim.flow import lint
from sim.flow.build import Design, Port, atomic_write
from sim.flow.runner import run_cocotb
from sim.flow.toolchain import BUILD, SIMULATORS
from tests.sim.designs import PlusOne
from verif.harness import (
    LIBRARY,
    HarnessError,
    StallingPipeline,
    check_cycles,
    check_pauses,
    harness_model,
    harness_verilog,
    stream_harness,
    verilog_string,
)
from verif.noc.harness import traffic_harness_verilog
from verif.scalar.core_tb import bench_verilog
from verif.sram.harness import multi_harness_verilog


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("defect,expect,idle,stall", [
    (None, "ok", 0, 0),
    (None, "ok", 100, 150),
    ("drop-valid", "stream-rule", 0, 128),
    ("silent", "hung", 0, 0),
])
def test_harness(sim, defect, expect, idle, stall):
    design = Design.of("plus_one", PlusOne, width=32, defect=defect)
    run_cocotb(design, "tests.sim.tb_harness", sim, harness=stream_harness, quiet=True,
               testcase="harness_roundtrip",
               args={"seed": 5, "n": 500, "idle": idle, "stall": stall, "expect": expect})


class LibraryBench:
    """The harness library (``verif/hdl``) on its own: a ``tb_stream_source`` wired straight into
    a ``tb_stream_sink``, as ``run_cocotb`` takes a design (``name``, ``stem``, and the
    ``harness`` below for its sources). ``drop`` hides the stream's valid from the sink in odd
    cycles, breaking the hold rule for the sink's check to catch."""

    name = "harness_library"

    def __init__(self, *, timing, advance, stamp):
        self.text = LIBRARY_TOP.format(timing=timing, advance=advance, stamp=stamp,
                                       stim=verilog_string("stim.hex"),
                                       acc=verilog_string("acc.hex"),
                                       resp=verilog_string("resp.hex"),
                                       stream=verilog_string("loop", kind="name"))
        digest = hashlib.sha256(self.text.encode())
        for path in LIBRARY:
            digest.update(path.read_bytes())
        self.stem = f"{self.name}{timing}{advance}{stamp}-{digest.hexdigest()[:16]}"

    def harness(self):
        """``run_cocotb``'s ``harness``: the library and the top above (written once)."""
        path = BUILD / "rtl" / f"{self.stem}.v"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, self.text)
        return [*LIBRARY, path], self.name


LIBRARY_TOP = """`timescale 1ns/1ps
module harness_library (
    input wire clk, input wire rst, input wire start, input wire drop,
    input wire [31:0] count, input wire [7:0] idle, input wire [7:0] stall,
    input wire [31:0] rand_seed,
    output reg done, output reg [31:0] cycles,
    output wire [31:0] sent, output wire [31:0] got, output wire [31:0] errors
);
    wire [15:0] payload;
    wire valid, ready;
    wire seen = valid && !(drop && cycles[0]);
    reg running, started;
    wire launch = !running && start && !started;
    wire finish = running && (sent + {{31'd0, valid && ready}} >= count || cycles >= 100000);

    tb_stream_source #(.W(16), .TIMING({timing}), .RECORD(1), .ADVANCE({advance})) source (
        .clk(clk), .start(launch), .run(running), .stop(rst || finish),
        .stimulus({stim}), .accepts({acc}), .seed(rand_seed), .idle(idle), .limit(count),
        .now(cycles), .payload(payload), .valid(valid), .ready(ready), .sent(sent)
    );
    tb_stream_sink #(.W(16), .STAMP({stamp}), .ADVANCE({advance})) sink (
        .clk(clk), .start(launch), .run(running), .stop(rst || finish),
        .responses({resp}), .name({stream}), .seed(rand_seed ^ 32'h9E3779B9), .stall(stall),
        .now(cycles), .payload(payload), .valid(seen), .ready(ready), .got(got),
        .errors(errors)
    );

    always @(posedge clk) begin
        if (rst) begin
            running <= 1'b0; started <= 1'b0; done <= 1'b0; cycles <= 32'd0;
        end else if (!running) begin
            if (!start) started <= 1'b0;
            if (launch) begin
                started <= 1'b1; running <= 1'b1; done <= 1'b0; cycles <= 32'd0;
            end
        end else begin
            cycles <= cycles + 1;
            if (finish) begin running <= 1'b0; done <= 1'b1; end
        end
    end
endmodule
"""


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("timing,advance,stamp,drop", [
    (0, 0, 0, 0), (1, 1, 1, 0), (2, 0, 1, 0), (1, 0, 1, 1)])
def test_library(sim, timing, advance, stamp, drop):
    """The library's source, sink, pause generators and hold check, every transfer's cycles
    and every rule violation against the cycle model of ``tests/sim/tb_harness.py``."""
    bench = LibraryBench(timing=timing, advance=advance, stamp=stamp)
    run_cocotb(bench, "tests.sim.tb_harness", sim, quiet=True, testcase="library",
               harness=LibraryBench.harness,
               args={"timing": timing, "advance": advance, "stamp": stamp, "drop": drop,
                     "n": 300})


def test_library_lints_clean():
    """``d1core lint`` lints the library with every block; it has no warning at all."""
    assert lint.lint_library() == ([], [])


def test_verilog_string():
    """File and stream names reach the library's ports as zero-padded constants."""
    assert verilog_string("stim.hex") == '{448\'d0, "stim.hex"}'
    assert verilog_string("o", kind="name") == '{248\'d0, "o"}'
    assert verilog_string("") == "512'd0"
    with pytest.raises(ValueError, match=r"^name must be at most 32 ASCII characters without "
                                         r"quotes or backslashes, not 'x{33}'$"):
        verilog_string("x" * 33, kind="name")


@pytest.mark.parametrize(("idle", "stall", "error", "message"), [
    (256, 0, ValueError, "idle must be in 0..255, not 256"),
    (0, -1, ValueError, "stall must be in 0..255, not -1"),
    (0.5, 0, TypeError, "idle must be an integer, not 0.5"),
])
def test_check_pauses(idle, stall, error, message):
    """The stream and NoC harnesses share one check of their pause rates (256ths)."""
    assert check_pauses(0, 255) == (0, 255)
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        check_pauses(idle, stall)


def test_scalar_bench_is_a_top_over_the_library():
    """The scalar core's bench draws its stalls and latencies and checks the stream rules with
    the library's modules (one pause generator and one hold check per request port, one
    generator for the latencies), and writes no generator or check of its own."""
    text = bench_verilog("scalar_core", threads=1, mem_size=1 << 16, name="scalar_bench")
    assert text.count("tb_pause #") == 3 and text.count("tb_hold_check #") == 3
    assert text.count("tb_xorshift32 #") == 1
    assert "function [31:0]" not in text and "_held" not in text


def _stream_ports(name, width, direction):
    back = "out" if direction == "in" else "in"
    return [Port(f"{name}__payload", width, direction), Port(f"{name}__valid", 1, direction),
            Port(f"{name}__ready", 1, back)]


def test_generated_tops_are_built_over_the_library():
    """The stream and multi-stream tops are the library's modules wired together: one
    ``tb_run_control`` (start, cycles, the end of the run, done), a source per input and a
    sink per output stream, and no register or file access of their own; the traffic top has
    its own run control (configuration phase, trailing cycles) over the same sources and sinks."""
    clock = [Port("clk", 1, "in"), Port("rst", 1, "in")]
    stream = harness_verilog("d", [*clock, *_stream_ports("i", 8, "in"),
                                   *_stream_ports("o", 9, "out")])
    multi = multi_harness_verilog("d", [*clock, *_stream_ports("a", 8, "in"),
                                        *_stream_ports("b", 8, "in"),
                                        *_stream_ports("r", 8, "out")],
                                  inputs=["a", "b"], outputs=["r"], name="m")
    traffic = traffic_harness_verilog("d", [*clock, *_stream_ports("cfg", 16, "in"),
                                            *_stream_ports("inject__0__0", 8, "in"),
                                            *_stream_ports("eject__0__0", 8, "out")])
    for text, sources, sinks in ((stream, 1, 1), (multi, 2, 1)):
        assert text.count("tb_run_control control (") == 1
        assert text.count("tb_stream_source #(") == sources
        assert text.count("tb_stream_sink #(") == sinks
        assert "always" not in text and "reg " not in text and "$f" not in text
    assert "tb_run_control" not in traffic
    assert traffic.count("tb_stream_source #(") == traffic.count("tb_stream_sink #(") == 1


class _ReadyOnlyWhenTaken(StallingPipeline):
    """A pipeline with a bug that loses no data: it takes input only when its output is taken
    (``i.ready = o.ready``, fp.convert's mutation-testing survivor), so a bubble at the output
    under backpressure also stops the input."""

    def in_ready(self, out_ready):
        return out_ready


def test_cycle_model_of_a_stalling_pipeline():
    """``harness_model`` with a :class:`StallingPipeline`: without pauses the words are taken one
    a cycle and each comes out ``latency`` cycles after it was taken; under backpressure the
    buggy pipeline above is told apart, with the word and both cycles in the message; words and
    their order are the testbench's to check, so payloads are tokens."""
    words = [(0, k) for k in range(40)]
    acc, resp, errors, _ = harness_model(words, count=40, idle=0, stall=0, seed=3,
                                         device=StallingPipeline(5))
    assert errors == 0 and [a for _, a in acc] == list(range(acc[0][1], acc[0][1] + 40))
    assert [c for c, _ in resp] == [a + 5 for _, a in acc] and [p for _, p in resp] == list(
        range(40))
    acc, resp, _, _ = harness_model(words, count=40, idle=60, stall=120, seed=3,
                                    device=StallingPipeline(5))
    check_cycles(acc, resp, count=40, idle=60, stall=120, seed=3, device=StallingPipeline(5))
    bad_acc, bad_resp, _, _ = harness_model(words, count=40, idle=60, stall=120, seed=3,
                                            device=_ReadyOnlyWhenTaken(5))
    assert [p for _, p in bad_resp] == list(range(40))  # the data is right
    with pytest.raises(HarnessError, match=r"cycle contract \(StallingPipeline, latency 5\): "
                       r"accept of word \d+: expected \(\d+, \d+\), the design's \(\d+, \d+\)"):
        check_cycles(bad_acc, bad_resp, count=40, idle=60, stall=120, seed=3,
                     device=StallingPipeline(5))
    with pytest.raises(HarnessError, match="response of word 0: expected"):
        check_cycles(acc, [(c + 1, p) for c, p in resp], count=40, idle=60, stall=120, seed=3,
                     device=StallingPipeline(5))
    with pytest.raises(ValueError, match="latency must be in 1..65536, not 0"):
        StallingPipeline(0)
