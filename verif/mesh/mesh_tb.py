"""Running one program on every core of a mesh (``hw.mesh.mesh.CoreMesh``): the bench.

The bench (generated Verilog, :func:`bench_verilog`) does everything cycle by cycle around the
mesh, in phases, and Python only writes the files, starts the run and reads the results:

1. **Configure**: the route tables' words (``cfg.hex``, one ``cfg`` payload a line).
2. **Load**: the request packets that write every core's image and data (``load.hex``, one
   flit a line: LINEs, docs/mesh.md) through the edge port, then ``DRAIN_CYCLES`` for the last to
   land (the host gets no answer: LINEs have none; at most a few hops and a scratchpad write are
   left). ``edge.txt`` gets ``load FLITS CYCLES`` (the phase's cycles, for the port's rate).
3. **Run** (the cycles reported): ``go`` rises for every live core (bit ``n`` of the input
   ``go_mask``: a dead core stays in reset). The bench watches each core's scalar stores for
   ``tohost`` and ends the run ``TAIL_CYCLES`` after every live core has written it, at
   ``max_cycles``, or after ``HANG_CYCLES`` in which no core that has not written it retired
   an instruction.
4. **Read** (after a run that ended with every live core's ``tohost``, when ``n_read`` > 0):
   the host's PULLs (``reads.hex``, one flit a line) through the edge port, until ``n_read``
   packets for the host came out of the mesh during the phase (each PULL has one answer:
   READ_DATA or ERROR) or none came for ``HANG_CYCLES``; ``edge.txt`` gets ``read PULLS
   CYCLES``. Every packet for the host, in any phase, is taken at once and written with its
   cycle to ``answers.txt`` (``CYCLE FLIT`` in hex, a line each), its stream rule checked
   (``proto_errors``).
5. **Finish**: it writes each core's ``tohost`` value (0: none) to ``tohost.txt``, each
   router's drop count to ``dropped.txt`` and each core's network interface's counts
   (``CoreMesh.failed`` and ``refused``, two values a line) to ``net.txt``, one line by core
   number, and the watchdog's state (``state.txt``: per core its running and waiting threads
   and its semaphores).
6. **Count** (after the run; the observation part, :func:`_observe`): every core's counters,
   one RDCTR number a cycle through ``CoreMesh.counter_index`` (``counters.txt``: a line per
   number, then each core's value); each router's output links' flits by class, counted while
   the cores ran (``links.txt``); and per core what the watchdog's dump needs (``watch.txt``:
   every thread's last retired pc, the commands outstanding per thread, the DMA's and the
   receive side's queues integrated from ``CoreMesh.probe`` over the whole run, and the
   probe's held streams at the end).

``tohost_value`` (the summary's) is 1 when every core passed, else the first failing core's
value; ``retired`` counts the instructions every core retired.
"""

from dataclasses import dataclass

from amaranth.lib import data

from hw.core.core import NetProbe, StoreTap
from hw.core.counters import counter_numbers
from hw.core.isa import SEM_BITS, SEMAPHORES
from hw.mesh.config import MeshConfig
from hw.mesh.mesh import RetireTap
from hw.noc.flit import Flit
from hw.noc.mesh import mesh_table_write_layout
from hw.noc.router import CLASSES, DIRECTIONS
from sim.flow.build import Design
from verif.harness import DesignBench, verilog_string
from verif.scalar.core_tb import bench_head, field_slices

__all__ = ["MeshBench", "bench_verilog", "DRAIN_CYCLES", "HANG_CYCLES", "TAIL_CYCLES", "STATUS",
           "QUEUES"]

DRAIN_CYCLES = 64
HANG_CYCLES = 4096
TAIL_CYCLES = 64
STATUS = {1: "tohost", 2: "timeout", 3: "hang"}
#: The queues the bench integrates from each core's ``probe`` (``NetProbe``) over the whole
#: run, loading included: ``(name, the bit that adds one, the bit that takes one away)``.
QUEUES = (("lists", "dma_take", "dma_list"), ("remote", "remote_end", "remote_answer"),
          ("rx_writes", "rx_write", "rx_written"), ("rx_pulls", "rx_pull", "rx_pulled"))
#: The probe's bits that are a stream held this cycle (a snapshot at the end).
HELD = ("dma_held", "tx_held", "tx_blocked", "rx_held", "rx_blocked")


def _observe(config):
    """The bench's observation part (docs/mesh.md "Running a program on a mesh"): declarations,
    the counting in every cycle (``always`` body), the counting while running, and the Verilog
    of the FINISH phase that reads every core's counters (one number a cycle: the mesh's
    ``counter_index``) into ``counters.txt``, then writes ``links.txt`` and ``watch.txt``.
    Returns ``(decls, conns, every, running, resets, finish)``; ``finish`` ends the run
    (``done``) once the last number is written."""
    n, threads = config.nodes, config.core.threads
    numbers = counter_numbers(threads)
    rw, links = RetireTap.size, len(DIRECTIONS) * CLASSES
    probe = {name: f.offset for name, f in NetProbe}
    decls, conns, every, running, pcs, watch, traffic = [], [], [], [], [], [], []
    fmt = " ".join(["%h"] * links)
    decls += ["    reg [7:0] step;", "    integer fc;",
              "    wire [6:0] counter_index = " + " : ".join(
                  f"step == {k} ? 7'd{v}" for k, v in enumerate(numbers)) + " : 7'd0;"]
    for i in range(n):
        decls += [f"    wire [63:0] counter_value__{i};", f"    wire [{2 * rw - 1}:0] retire__{i};",
                  f"    wire [{NetProbe.size - 1}:0] probe__{i};",
                  f"    wire [{links - 1}:0] traffic__{i};",
                  f"    wire [31:0] outstanding__{i};",
                  f"    reg [63:0] pc__{i} [0:3];", f"    reg [3:0] ever__{i};",
                  f"    reg [31:0] flits__{i} [0:{links - 1}];"]
        decls += [f"    reg [15:0] {q}__{i};" for q, _, _ in QUEUES]
        conns.append(f"        .counter_value__{i}(counter_value__{i}), .retire__{i}(retire__{i}),"
                     f" .probe__{i}(probe__{i}), .traffic__{i}(traffic__{i}),"
                     f" .outstanding__{i}(outstanding__{i})")
        every += [f"{q}__{i} <= {q}__{i} + probe__{i}[{probe[up]}] - probe__{i}[{probe[down]}];"
                  for q, up, down in QUEUES]
        # The completion port (1) is older than the issue port (0): the newer pc wins.
        for k in (1, 0):
            base = k * rw
            f = {name: base + fl.offset for name, fl in RetireTap}
            t = f"retire__{i}[{f['thread'] + 1}:{f['thread']}]"
            running.append(f"if (retire__{i}[{f['valid']}]) begin "
                           f"pc__{i}[{t}] <= retire__{i}[{f['pc'] + 63}:{f['pc']}]; "
                           f"ever__{i}[{t}] <= 1; end")
        running += [f"for (k = 0; k < {links}; k = k + 1) "
                    f"flits__{i}[k] <= flits__{i}[k] + traffic__{i}[k];"]
        pcs.append(f"counter_value__{i}")
        held = " ".join(f"{h}=%0d" for h in HELD)
        hargs = ", ".join(f"probe__{i}[{probe[h]}]" for h in HELD)
        qs = " ".join(f"{q}=%0d" for q, _, _ in QUEUES)
        qargs = ", ".join(f"{q}__{i}" for q, _, _ in QUEUES)
        watch.append(f'                $fwrite(fd, "core {i} ever %h pc %h %h %h %h outstanding %h '
                     f'{qs} {held}\\n", ever__{i}, pc__{i}[0], pc__{i}[1], pc__{i}[2], '
                     f"pc__{i}[3], outstanding__{i}, {qargs}, {hargs});")
        traffic.append(f'                $fwrite(fd, "{fmt}\\n", '
                       + ", ".join(f"flits__{i}[{k}]" for k in range(links)) + ");")
    values, per_core = ", ".join(pcs), " %h" * n
    finish = f"""                if (step == 0) fc = $fopen("counters.txt", "w");
                $fwrite(fc, "%0d{per_core}\\n", counter_index, {values});
                step <= step + 1;
                if (step == {len(numbers) - 1}) begin
                    $fclose(fc);
                    fd = $fopen("links.txt", "w");
{chr(10).join(traffic)}
                    $fclose(fd);
                    fd = $fopen("watch.txt", "w");
{chr(10).join(watch)}
                    $fclose(fd);
                    done <= 1;
                end"""
    resets = [f"{q}__{i} <= 0;" for i in range(n) for q, _, _ in QUEUES]
    resets += [f"ever__{i} <= 0;" for i in range(n)]
    resets += [f"for (k = 0; k < {links}; k = k + 1) flits__{i}[k] <= 0;" for i in range(n)]
    return "\n".join(decls), ",\n".join(conns), every, running, resets, finish


def bench_verilog(top, config, *, name):
    """The bench module ``name`` around mesh module ``top`` (see the module docstring)."""
    n = config.nodes
    sem_w = SEM_BITS * SEMAPHORES
    cw = mesh_table_write_layout(n).size
    fw = data.Layout.cast(Flit).size
    stores = [field_slices(StoreTap, f"store__{i}") for i in range(n)]
    decls = "\n".join(f"    wire [{StoreTap.size - 1}:0] store__{i};\n"
                      f"    wire [3:0] running__{i};\n    wire [15:0] dropped__{i};\n"
                      f"    wire [1:0] retired__{i};\n"
                      f"    wire [15:0] failed__{i}, refused__{i};\n"
                      f"    wire [3:0] waiting__{i};\n    wire [{sem_w - 1}:0] semaphores__{i};"
                      for i in range(n))
    conns = ",\n".join(f"        .store__{i}(store__{i}), .running__{i}(running__{i}), "
                       f".dropped__{i}(dropped__{i}), .retired__{i}(retired__{i}),\n"
                       f"        .failed__{i}(failed__{i}), .refused__{i}(refused__{i}),\n"
                       f"        .waiting__{i}(waiting__{i}), .semaphores__{i}(semaphores__{i})"
                       for i in range(n))
    # The store fields as wires of their own: Icarus takes no index of a part-select.
    taps = "\n".join(f"    wire store_valid__{i} = {s['valid']};\n"
                      f"    wire [31:0] store_addr__{i} = {s['addr']};\n"
                      f"    wire [63:0] store_data__{i} = {s['data']};"
                      for i, s in enumerate(stores))
    watch = "\n".join(f"""                if (store_valid__{i}
                        && store_addr__{i}[31:3] == tohost[31:3]
                        && store_data__{i} != 0 && !seen[{i}]) begin
                    seen[{i}] <= 1; value[{i}] <= store_data__{i};
                    if (store_data__{i} != 1 && tohost_value == 1) tohost_value <= store_data__{i};
                end""" for i in range(n))
    # A core that has written tohost spins (crt0): only the others' instructions are progress.
    moved = " || ".join(f"(retired__{i} != 0 && !seen[{i}])" for i in range(n))
    count = " + ".join(f"retired__{i}" for i in range(n))
    dumps = "\n".join(f'                $fwrite(fd, "%h\\n", dropped__{i});'
                      for i in range(n))
    nets = "\n".join(f'                $fwrite(fd, "%h %h\\n", failed__{i}, refused__{i});'
                     for i in range(n))
    o_decls, o_conns, o_every, o_running, o_resets, o_finish = _observe(config)
    states = "\n".join(
        f'                $fwrite(fd, "core {i} running %h waiting %h semaphores %h\\n", '
        f"running__{i}, waiting__{i}, semaphores__{i});" for i in range(n))
    return f"""// Generated by verif/mesh/mesh_tb.py: the mesh's bench. Do not edit.
{bench_head(name, ["input wire [31:0] n_cfg", "input wire [31:0] n_load",
                   "input wire [31:0] go_mask", "input wire [31:0] n_read"])}
    localparam N = {n};
    localparam CFG = 0, LOAD = 1, DRAIN = 2, RUN = 3, FINISH = 4, READ = 5, COUNT = 6;
    reg [2:0] phase;
    reg started;
    wire launch = !rst && !started;
    reg [31:0] clock, waited, quiet, since, heard;
    reg [7:0] tail;
    reg [N-1:0] seen;
    reg [63:0] value [0:N-1];
    integer fd, k;

    wire [{cw - 1}:0] cfg__payload;
    wire cfg__valid, cfg__ready;
    wire [{fw - 1}:0] edge__payload, load_payload, read_payload, host__payload;
    wire edge__valid, edge__ready, load_valid, read_valid, host__valid, host__ready;
    // One edge port, two sources: the load's LINEs, then the read's PULLs (each valid only
    // in its phase).
    assign edge__payload = phase == READ ? read_payload : load_payload;
    assign edge__valid = phase == READ ? read_valid : load_valid;
    wire [N-1:0] go = phase == RUN ? go_mask[N-1:0] : {{N{{1'b0}}}};
    wire [N-1:0] finished = seen | ~go_mask[N-1:0];     // a dead core never writes tohost
{decls}
{taps}
{o_decls}

    {top} dut (
        .clk(clk), .rst(rst), .go(go),
        .cfg__payload(cfg__payload), .cfg__valid(cfg__valid), .cfg__ready(cfg__ready),
        .edge__payload(edge__payload), .edge__valid(edge__valid), .edge__ready(edge__ready),
        .host__payload(host__payload), .host__valid(host__valid), .host__ready(host__ready),
        .counter_index(counter_index),
{conns},
{o_conns}
    );

    wire [31:0] configured, loaded, pulled, answered, host_errors;
    tb_stream_source #(.W({cw}), .TIMING(0)) cfg_source (
        .clk(clk), .start(launch), .run(phase == CFG), .stop(rst || done),
        .stimulus({verilog_string("cfg.hex")}), .accepts({verilog_string("")}),
        .seed(seed), .idle(8'd0), .limit(n_cfg), .now(clock),
        .payload(cfg__payload), .valid(cfg__valid), .ready(cfg__ready), .sent(configured)
    );
    tb_stream_source #(.W({fw}), .TIMING(0)) load_source (
        .clk(clk), .start(launch), .run(phase == LOAD), .stop(rst || done),
        .stimulus({verilog_string("load.hex")}), .accepts({verilog_string("")}),
        .seed(seed ^ 32'h9E3779B9), .idle(stall), .limit(n_load), .now(clock),
        .payload(load_payload), .valid(load_valid), .ready(edge__ready), .sent(loaded)
    );
    tb_stream_source #(.W({fw}), .TIMING(0)) read_source (
        .clk(clk), .start(launch), .run(phase == READ), .stop(rst || done),
        .stimulus({verilog_string("reads.hex")}), .accepts({verilog_string("")}),
        .seed(seed ^ 32'h7F4A7C15), .idle(8'd0), .limit(n_read), .now(clock),
        .payload(read_payload), .valid(read_valid), .ready(edge__ready), .sent(pulled)
    );
    // The host takes every packet at once (stall 0): the mesh's answers never wait for it.
    tb_stream_sink #(.W({fw}), .STAMP(1)) host_sink (
        .clk(clk), .start(launch), .run(started), .stop(rst || done),
        .responses({verilog_string("answers.txt")}), .name({verilog_string("host", kind="name")}),
        .seed(seed), .stall(8'd0), .now(clock),
        .payload(host__payload), .valid(host__valid), .ready(host__ready),
        .got(answered), .errors(host_errors)
    );

    always @(posedge clk) begin
        if (rst) begin
            phase <= CFG; started <= 0; done <= 0; status <= 0; cycles <= 0; clock <= 0;
            tohost_value <= 1; proto_errors <= 0; retired <= 0; waited <= 0; quiet <= 0;
            tail <= 0; seen <= 0; since <= 0; heard <= 0; step <= 0;
            for (k = 0; k < N; k = k + 1) value[k] <= 0;
{ind(o_resets, 12)}
        end else if (!done) begin
            started <= 1;
{ind(o_every, 12)}
            clock <= clock + 1;
            proto_errors <= host_errors;
            case (phase)
            CFG: if (started && configured == n_cfg) begin
                phase <= LOAD; since <= clock + 1;
            end
            LOAD: if (loaded == n_load) begin
                phase <= DRAIN;
                fd = $fopen("edge.txt", "w");
                $fwrite(fd, "load %0d %0d\\n", n_load, clock - since);
                $fclose(fd);
            end
            DRAIN: begin
                waited <= waited + 1;
                if (waited == {DRAIN_CYCLES}) phase <= RUN;
            end
            RUN: begin
                cycles <= cycles + 1;
{watch}
                quiet <= ({moved}) ? 0 : quiet + 1;
                retired <= retired + {count};
{ind(o_running, 16)}
                if (&finished) tail <= tail + 1;
                if (&finished && tail == {TAIL_CYCLES}) begin
                    status <= 1; phase <= n_read != 0 ? READ : FINISH;
                    quiet <= 0; since <= clock + 1; heard <= answered;
                end else if (cycles + 1 >= max_cycles) begin
                    status <= 2; phase <= FINISH;
                end else if (quiet >= {HANG_CYCLES}) begin
                    status <= 3; phase <= FINISH;
                end
            end
            READ: begin
                quiet <= host__valid && host__ready ? 0 : quiet + 1;
                if (answered - heard == n_read || quiet >= {HANG_CYCLES}) begin
                    phase <= FINISH;
                    fd = $fopen("edge.txt", "a");
                    $fwrite(fd, "read %0d %0d\\n", n_read, clock - since);
                    $fclose(fd);
                end
            end
            FINISH: begin
                fd = $fopen("tohost.txt", "w");
                for (k = 0; k < N; k = k + 1) $fwrite(fd, "%h\\n", value[k]);
                $fclose(fd);
                fd = $fopen("dropped.txt", "w");
{dumps}
                $fclose(fd);
                fd = $fopen("net.txt", "w");
{nets}
                $fclose(fd);
                fd = $fopen("state.txt", "w");
{states}
                $fclose(fd);
                phase <= COUNT;
            end
            COUNT: begin
{o_finish}
            end
            default: ;
            endcase
        end
    end
endmodule
"""


def ind(lines, n):
    """``lines`` (Verilog statements) indented by ``n`` spaces, one a line."""
    return "\n".join(" " * n + line for line in lines)


@dataclass(frozen=True)
class MeshBench(DesignBench):
    """The bench of a mesh preset, as ``sim.flow.runner.run_cocotb`` takes a design."""
    config: MeshConfig
    name = "mesh_bench"

    @property
    def mesh(self):
        from hw.mesh.mesh import CoreMesh
        return Design.of(f"mesh_{self.config.name.lower()}", CoreMesh, config=self.config)

    @property
    def design(self):
        return self.mesh

    def bench_text(self):
        return bench_verilog(self.mesh.name, self.config, name=self.name)
