"""A bulk stream harness: drives a design's input stream from a file and records its output stream.

cocotb drives per-cycle Python slowly (tens of thousands of cycles a second), so long runs move
stimulus in bulk: :func:`harness_verilog` wraps a design in a thin generated Verilog top that
instantiates the checked-in harness library (:data:`LIBRARY`, ``verif/hdl``): a
``tb_stream_source`` reads one word per line of ``stim.hex`` into the input stream, a
``tb_stream_sink`` writes every output transfer as one hex line to ``resp.hex``, and a
``tb_run_control`` starts the run, counts its cycles and raises ``done``. Python only writes
the file, starts the run and checks the result, in :class:`StreamHarness`. The SRAM's and the
mesh's harnesses and the scalar core's bench are tops over the same library.

What the harness guarantees and checks
  * Input idles and output backpressure come from two xorshift32 pause generators (seeded by
    ``rand_seed`` and ``rand_seed ^ 0x9E3779B9``), with probabilities ``idle/256`` and
    ``stall/256``: the same on every simulator, so runs are reproducible.
  * The input side obeys the stream rules. The output side is checked: once the design asserts
    ``valid`` without ``ready``, it must keep ``valid`` and the payload until the transfer;
    every violation increments ``proto_errors``.
  * The source records each word's offer and accept cycles (``acc.hex``), the sink each
    response's cycle beside it (``resp.hex``): with ``pipeline``, :meth:`StreamHarness.run`
    checks them against :func:`harness_model`, the cycle model of the source and sink, with the
    design's contract (:class:`StallingPipeline`) between them.
  * A design that stops producing output ends the run in the ``timeout``-th cycle in a row
    without an output transfer, with ``timed_out`` set: a hang becomes a failure, never a stuck
    simulation.

Every other port of the design (configuration, status) is brought out of the harness unchanged,
under its own name, for the testbench to drive or read.
"""

import itertools
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hw.common.params import check_int
from sim.flow.build import atomic_write

__all__ = ["LIBRARY", "check_pauses", "verilog_string", "harness_sources", "port_decl",
           "RUN_PORTS", "top_head", "RUN_CONTROL", "RUN", "source_instance", "sink_instance",
           "harness_verilog", "stream_harness", "reset_top", "run_top",
           "StreamHarness", "HarnessError", "DesignBench",
           "read_records", "write_words", "read_words", "STIM_FILE", "RESP_FILE", "ACC_FILE",
           "StallingPipeline", "harness_model", "check_cycles"]

STIM_FILE = "stim.hex"
RESP_FILE = "resp.hex"
ACC_FILE = "acc.hex"

#: The checked-in Verilog harness library (``verif/hdl``), in dependency order: every generated
#: harness top instantiates these, and every simulation of one compiles them.
LIBRARY = tuple(Path(__file__).parent / "hdl" / f"{m}.v" for m in (
    "tb_xorshift32", "tb_pause", "tb_hold_check", "tb_stream_source", "tb_stream_sink",
    "tb_run_control"))

#: Bytes of the library's file-name and stream-name ports.
_NAME_BYTES = {"file": 64, "name": 32}


def check_pauses(idle, stall):
    """``(idle, stall)`` if both are integers in 0..255: the probabilities, in 256ths, of an idle
    input cycle and of a cycle without output ready that every harness's pause generator takes."""
    return check_int("idle", idle, 0, 255), check_int("stall", stall, 0, 255)


def verilog_string(text, *, kind="file"):
    """A Verilog constant of ``text`` as wide as the library's ``kind`` ports ("file": 64 bytes,
    "name": 32), zero-padded on the left as a string literal is."""
    size = _NAME_BYTES[kind]
    if len(text) > size or not text.isascii() or '"' in text or "\\" in text:
        raise ValueError(f"{kind} must be at most {size} ASCII characters without quotes or "
                         f"backslashes, not {text!r}")
    pad = 8 * (size - len(text))
    return f'{{{pad}\'d0, "{text}"}}' if text else f"{8 * size}'d0"


def harness_sources(design, text, *, suffix):
    """Write the harness top ``text`` next to ``design``'s simulation Verilog (again only if it
    changed) and return the sources to compile: the design, the library, the top (last)."""
    rtl = design.simulation_verilog()
    path = rtl.with_name(f"{design.stem}.{suffix}.v")
    if not path.exists() or path.read_text() != text:  # the generator may have changed
        atomic_write(path, text)
    return [rtl, *LIBRARY, path]


class DesignBench:
    """A bench top around one design, as ``sim.flow.runner.run_cocotb`` takes a design (the
    scalar core's, the D1 core's and the mesh's benches). A subclass gives ``name``, ``design``
    (the :class:`~sim.flow.build.Design` it wraps), :meth:`bench_text` (the top's Verilog) and
    ``variant`` (what else sets that text, in the stem: empty by default). The stem carries the
    design's mutant suffix, so that a mutant of one of its modules is built apart
    (``d1core mutate``), never in the unmutated design's build directory."""
    variant = ""

    @property
    def stem(self):
        return f"{self.name}{self.variant}-{self.design.key}{self.design.mutant_suffix}"

    def harness(self):
        """``run_cocotb``'s ``harness``: the design, the harness library (``verif/hdl``) and the
        bench top (last), with the top module's name."""
        return (harness_sources(self.design, self.bench_text(), suffix=f"bench{self.variant}"),
                self.name)


def port_decl(p):
    """The Verilog declaration of the design port ``p`` brought out of a harness top."""
    rng = f"[{p.width - 1}:0] " if p.width > 1 else ""
    return f"{'input' if p.direction == 'in' else 'output'} wire {rng}{p.name}"


#: The ports of every generated harness top with a ``tb_run_control`` (:data:`RUN_CONTROL`),
#: first in its port list.
RUN_PORTS = ("input wire clk", "input wire rst", "input wire start", "input wire [7:0] idle",
             "input wire [7:0] stall", "input wire [31:0] rand_seed", "input wire [31:0] timeout",
             "output wire done", "output wire timed_out", "output wire [31:0] proto_errors",
             "output wire [31:0] cycles")


def top_head(generator, top, name, ports):
    """The first lines of the harness top ``name`` around design ``top`` that the Python file
    ``generator`` writes: a do-not-edit line, the timescale, the module with :data:`RUN_PORTS`
    and then the declarations ``ports``, and the wires of :data:`RUN_CONTROL`."""
    decls = ",\n".join(f"    {p}" for p in (*RUN_PORTS, *ports))
    return (f"// Generated by {generator} for design {top}: do not edit.\n"
            f"`timescale 1ns/1ps\nmodule {name} (\n{decls}\n);\n"
            "    wire launch, running, finish;\n")


#: Verilog of a top's ``tb_run_control`` (``verif/hdl/tb_run_control.v``) on :data:`RUN_PORTS`
#: and the wires :func:`top_head` declares. The top declares ``moved`` (a transfer, which
#: restarts the count of cycles to a hang) and ``finished`` (all of the run's transfers made,
#: this cycle's included).
RUN_CONTROL = """    tb_run_control control (
        .clk(clk), .rst(rst), .start(start), .moved(moved), .finished(finished),
        .timeout(timeout), .launch(launch), .running(running), .finish(finish), .done(done),
        .timed_out(timed_out), .cycles(cycles)
    );
"""


#: The connections of a top's sources and sinks to its run control (:data:`RUN_CONTROL`).
RUN = ".clk(clk), .start(launch), .run(running), .stop(rst || finish), .now(cycles)"


def _stream_wires(stream, width):
    return (f"    wire [{width - 1}:0] {stream}__payload;\n"
            f"    wire {stream}__valid, {stream}__ready;\n")


def source_instance(inst, stream, width, *, params, stimulus, accepts="", seed, limit, run=RUN):
    """Verilog of a ``tb_stream_source`` named ``inst`` driving the stream ``stream`` (wires
    ``<stream>__payload``/``valid``/``ready``, declared here, ``width`` bits of payload) from the
    file ``stimulus`` (``accepts``: the record file, if ``params`` sets ``RECORD``), idles drawn
    from ``seed`` (an expression); ``<inst>_sent`` counts its transfers. ``run`` connects its
    clock and run ports: by default to the top's :data:`RUN_CONTROL`."""
    return _stream_wires(stream, width) + f"""    wire [31:0] {inst}_sent;
    tb_stream_source #({params}) {inst} (
        {run},
        .stimulus({verilog_string(stimulus)}), .accepts({verilog_string(accepts)}),
        .seed({seed}), .idle(idle), .limit({limit}),
        .payload({stream}__payload), .valid({stream}__valid), .ready({stream}__ready),
        .sent({inst}_sent)
    );
"""


def sink_instance(inst, stream, width, *, params, responses, seed, run=RUN):
    """Verilog of a ``tb_stream_sink`` named ``inst`` taking the stream ``stream`` (wires
    declared here, as :func:`source_instance` does) into the file ``responses``, stalls drawn
    from ``seed``; ``<inst>_got`` counts its transfers, ``<inst>_errors`` the stream-rule
    violations. ``run`` as :func:`source_instance`'s."""
    return _stream_wires(stream, width) + f"""    wire [31:0] {inst}_got, {inst}_errors;
    tb_stream_sink #({params}) {inst} (
        {run},
        .responses({verilog_string(responses)}), .name({verilog_string(stream, kind="name")}),
        .seed({seed}), .stall(stall),
        .payload({stream}__payload), .valid({stream}__valid), .ready({stream}__ready),
        .got({inst}_got), .errors({inst}_errors)
    );
"""


def harness_verilog(top, ports, *, stream_in="i", stream_out="o", name=None):
    """Verilog text of a harness module around design ``top`` with the given ports: a
    ``tb_stream_source`` on ``stream_in``, a ``tb_stream_sink`` on ``stream_out``."""
    by_name = {p.name: p for p in ports}
    for s, role in ((stream_in, "input"), (stream_out, "output")):
        for suffix in ("payload", "valid", "ready"):
            if f"{s}__{suffix}" not in by_name:
                raise ValueError(f"design {top!r} has no {role} stream {s!r} "
                                 f"(port {s}__{suffix} missing)")
    iw = by_name[f"{stream_in}__payload"].width
    ow = by_name[f"{stream_out}__payload"].width
    stream_ports = {f"{s}__{x}" for s in (stream_in, stream_out)
                    for x in ("payload", "valid", "ready")}
    other = [p for p in ports if p.name not in stream_ports and p.name not in ("clk", "rst")]
    name = name or f"harness_{top}"
    head = ["input wire [31:0] count", "output wire [31:0] n_in", "output wire [31:0] n_out",
            *map(port_decl, other)]
    conns = "".join(f",\n        .{p.name}({p.name})" for p in (
        *(p for p in ports if p.name in stream_ports), *other))
    si, so = stream_in, stream_out
    # Two pause generators from one seed: the source's idles, the sink's backpressure.
    # Every accept and every response is recorded with its cycle, for the cycle contract.
    source = source_instance("source", si, iw, params=f".W({iw}), .TIMING(0), .RECORD(1)",
                             stimulus=STIM_FILE, accepts=ACC_FILE, seed="rand_seed",
                             limit="count")
    sink = sink_instance("sink", so, ow, params=f".W({ow}), .STAMP(1)", responses=RESP_FILE,
                         seed="rand_seed ^ 32'h9E3779B9")
    return f"""{top_head("verif/harness.py", top, name, head)}{source}{sink}
    assign n_in = source_sent;
    assign n_out = sink_got;
    assign proto_errors = sink_errors;
    // A hang is timeout cycles without an output transfer.
    wire moved = {so}__valid && {so}__ready;
    wire finished = n_out + {{31'd0, moved}} >= count;
{RUN_CONTROL}
    {top} dut (
        .clk(clk),
        .rst(rst){conns}
    );
endmodule
"""


def stream_harness(design, *, stream_in="i", stream_out="o"):
    """``(sources, top)`` of ``design`` in the stream harness (``sim.flow.runner.run_cocotb``'s
    default harness)."""
    top = f"harness_{design.name}"
    text = harness_verilog(design.name, design.ports(), stream_in=stream_in,
                           stream_out=stream_out, name=top)
    return harness_sources(design, text, suffix="harness"), top


async def reset_top(dut, **ports):
    """Set the input ``ports`` of a harness top (by name) and reset it: ``rst`` high for three
    cycles, then one cycle more. Its clock must be running."""
    for port, value in ports.items():
        getattr(dut, port).value = value
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 1)


async def run_top(dut, **ports):
    """Set the input ``ports`` of a harness top (by name), start a run and return one cycle
    after it is done (``start`` dropped again)."""
    for port, value in ports.items():
        getattr(dut, port).value = value
    dut.start.value = 1
    await RisingEdge(dut.done)
    dut.start.value = 0
    await ClockCycles(dut.clk, 1)


class HarnessError(AssertionError):
    """The design broke the stream rules, hung, or the harness could not run."""


class StreamHarness:
    """The cocotb side of :func:`harness_verilog`: start the clock, reset, run batches."""

    def __init__(self, dut, *, period_ns=2):
        self.dut = dut
        self.period_ns = period_ns
        self.total_cycles = 0

    async def reset(self, **config):
        """Start the clock, hold reset for a few cycles; ``config`` sets forwarded input ports."""
        cocotb.start_soon(Clock(self.dut.clk, self.period_ns, unit="ns").start())
        await reset_top(self.dut, start=0, count=0, idle=0, stall=0, rand_seed=0,
                        timeout=10_000, **config)

    async def run(self, words, *, idle=0, stall=0, seed=1, timeout=10_000, out_width=None,
                  pipeline=None):
        """Send ``words`` (ints) through the design; return the output words as a list of ints.

        ``idle`` and ``stall`` are probabilities in 256ths of an idle input cycle and of a cycle
        without output ready. Raises :class:`HarnessError` on a hang, a stream-rule violation or
        a count mismatch, and, with ``pipeline`` (a :class:`StallingPipeline`'s ``latency``),
        when a word was accepted or came out in another cycle than the contract says
        (:func:`check_cycles`).
        """
        check_pauses(idle, stall)
        d = self.dut
        words = np.asarray(words)
        write_words(STIM_FILE, words)
        for path in (RESP_FILE, ACC_FILE):
            if os.path.exists(path):
                os.remove(path)
        await run_top(d, count=len(words), idle=idle, stall=stall, rand_seed=seed & 0xFFFFFFFF,
                      timeout=timeout)
        cycles = int(d.cycles.value)
        self.total_cycles += cycles
        self.last_cycles = cycles
        if int(d.proto_errors.value):
            raise HarnessError(f"{int(d.proto_errors.value)} stream-rule violations on the output")
        if int(d.timed_out.value):
            raise HarnessError(f"design hung: {int(d.n_out.value)} of {len(words)} outputs, "
                               f"then {timeout} cycles without an output transfer")
        records = read_records(RESP_FILE)
        if len(records) != len(words):
            raise HarnessError(f"{len(records)} outputs for {len(words)} inputs")
        if pipeline is not None:
            check_cycles(read_records(ACC_FILE), records, count=len(words), idle=idle,
                         stall=stall, seed=seed & 0xFFFFFFFF, device=StallingPipeline(pipeline))
        return [w for _, w in records]


class StallingPipeline:
    """The cycle contract of the FP units (``ConvertUnit``, ``FMAUnit``): ``latency`` registers
    that advance together whenever the output is empty or taken, so ``i.ready`` is
    ``~o.valid | o.ready`` and a word accepted in cycle t is valid at the output in cycle
    t + ``latency`` when nothing stalls. A device of :func:`harness_model`."""

    def __init__(self, latency):
        self.latency = check_int("latency", latency, 1, 1 << 16)
        self.slots = [None] * latency

    def out_valid(self):
        return self.slots[-1] is not None

    def out_payload(self):
        return self.slots[-1]

    def in_ready(self, out_ready):
        return not self.out_valid() or out_ready

    def clock(self, took, payload, out_ready):
        """The clock edge: ``took`` whether a word (``payload``) was accepted in the cycle."""
        if self.in_ready(out_ready):
            self.slots = [payload if took else None] + self.slots[:-1]


def _pauses(seed, rate, advance):
    """The pause bits of ``verif/hdl/tb_pause.v``, one per run cycle."""
    from .fp.rng import initial_state, next_state

    state = initial_state(seed)
    if advance:
        state = next_state(state)
    while True:
        yield (state >> 24) < rate
        state = next_state(state)


def harness_model(stimulus, *, count, idle, stall, seed, timing=0, advance=False, drop=False,
                  device=None, limit=100_000):
    """The cycles of the harness library's source and sink (``verif/hdl``, as their contract
    states), joined directly or through ``device`` (for example a :class:`StallingPipeline`;
    ``None``: the source's stream is the sink's): ``(accepts, responses, errors, cycles)`` with
    the source's ``(offer, accept)`` records, the sink's ``(cycle, payload)`` records, the
    hold-rule violations the sink counts (``drop``: the stream's ``valid`` hidden from the sink
    every other cycle, a broken hold rule) and the cycles of the run, which ends when ``count``
    words were accepted (no device) or delivered (a device), or at cycle ``limit``. ``stimulus``:
    ``(when, payload)`` pairs (``timing`` 0: every one due at once; 1: ``when`` idle cycles
    before it; 2: not before cycle ``when``)."""
    idles, stalls = _pauses(seed, idle, advance), _pauses(seed ^ 0x9E3779B9, stall, advance)
    words = iter(stimulus)
    pending = next(words, None)
    valid, ready, payload, offered, sent, held, last = False, False, 0, 0, 0, False, 0
    accepts, responses, errors = [], [], 0
    for now in itertools.count():
        if device is None:
            in_ready, out_valid, out_payload = ready, valid, payload
        else:
            in_ready, out_valid, out_payload = (device.in_ready(ready), device.out_valid(),
                                                device.out_payload())
        seen = out_valid and not (drop and now % 2)
        fire = valid and in_ready
        if held and (not seen or out_payload != last):
            errors += 1
        held, last = seen and not ready, out_payload
        if fire:
            accepts.append((offered, now))
            sent += 1
        if seen and ready:
            responses.append((now, out_payload))
        idle_now, stall_now = next(idles), next(stalls)
        if device is not None:
            device.clock(fire, payload, ready)
        if not valid or in_ready:
            if pending is not None and timing == 1 and pending[0]:
                pending = (pending[0] - 1, pending[1])
                valid = False
            elif (pending is not None and (timing != 2 or pending[0] <= now) and sent < count
                  and not idle_now):
                valid, payload, offered = True, pending[1], now + 1
                pending = next(words, None)
            else:
                valid = False
        ready = not stall_now
        done = sent >= count if device is None else len(responses) >= count
        if done or now >= limit:
            return accepts, responses, errors, now + 1


def check_cycles(accepts, responses, *, count, idle, stall, seed, device):
    """Raise :class:`HarnessError` unless the run's records (``accepts``: the source's
    ``(offer, accept)`` cycles, ``responses``: the sink's ``(cycle, payload)``) are the cycles
    :func:`harness_model` gives for ``device`` between the generated harness's source and sink:
    every word offered, accepted and delivered in the cycle the device's contract says. The
    payloads are the testbench's to check."""
    exp_acc, exp_resp, _, _ = harness_model([(0, k) for k in range(count)], count=count,
                                            idle=idle, stall=stall, seed=seed, device=device,
                                            limit=1 << 40)
    got_resp = [c for c, _ in responses]
    for what, exp, got in (("accept", exp_acc, accepts),
                           ("response", [c for c, _ in exp_resp], got_resp)):
        if exp != got:
            k = next((i for i, (a, b) in enumerate(zip(exp, got, strict=False)) if a != b),
                     min(len(exp), len(got)))
            raise HarnessError(
                f"cycle contract ({type(device).__name__}, latency {device.latency}): "
                f"{what} of word {k}: expected {exp[k] if k < len(exp) else 'none'}, "
                f"the design's {got[k] if k < len(got) else 'none'} ({len(exp)} expected "
                f"{what}s, {len(got)} recorded)")


def write_words(path, words):
    """Write integers as one lower-case hex word per line."""
    Path(path).write_text("".join(f"{int(w):x}\n" for w in words))


def read_words(path):
    """Read one hex word per line; 'x'/'z' digits (undriven bits) become a clear error."""
    text = Path(path).read_text().split()
    try:
        return [int(w, 16) for w in text]
    except ValueError:
        bad = next(w for w in text if any(c in "xXzZ" for c in w))
        raise HarnessError(f"output word with undefined bits: {bad}") from None


def read_records(path):
    """The ``A B`` hex pairs of a harness record file, as a list of ``(int, int)`` (none if the
    file does not exist); 'x'/'z' digits (undriven bits) become a clear error."""
    if not os.path.exists(path):
        return []
    text = Path(path).read_text()
    try:  # all at once: files of a million records are common
        values = [int(w, 16) for w in text.split()]
    except ValueError:
        bad = next(line for line in text.splitlines() if any(c in "xXzZ" for c in line))
        raise HarnessError(f"{path}: a record with undefined bits: {bad}") from None
    return list(zip(values[0::2], values[1::2], strict=True))
