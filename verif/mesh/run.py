"""Running one program on every core of a mesh's RTL (docs/mesh.md).

:func:`run_mesh_program` configures the route tables (and the routers' host entries, the way
back to the host), loads the program and each core's own data into every live core through the
edge port as LINE packets (each core's copy with its place in ``d1_place``), runs the live
cores (``verif/mesh/mesh_tb.py`` has the bench), reads each core's ``tohost`` and then the
ranges asked for, through the edge port as PULL packets answered with READ_DATA or ERROR.
Dead cores (``dead``) are held in reset, not loaded, and their routers left unconfigured (every
destination DROP: a dead node); the live routers get up*/down* tables that avoid them
(``hw.noc.routing``, checked for deadlock), XY tables when every core lives. The programs check
their own results (no lockstep model of a mesh yet) and find the live cores in their place.
"""

from dataclasses import dataclass
from pathlib import Path

from amaranth.lib import data

from hw.core.counters import counter_index
from hw.core.isa import SEM_BITS, SEMAPHORES, Error
from hw.core.packets import WORDS, Pull, line_packet, pull_packet
from hw.mesh.config import MeshConfig
from hw.noc.flit import Flit, Opcode
from hw.noc.mesh import mesh_table_write_layout
from hw.noc.router import CLASSES, DIRECTIONS
from hw.noc.routing import (
    HOST,
    Mesh,
    host_routes,
    host_turns,
    next_hop,
    node_id,
    route_tables,
    table_words,
    turn_words,
)
from hw.scalar.isa import RAM_BASE
from sim.flow.runner import run_cocotb
from verif.core.core_tb import new_run_dir, read_summary
from verif.noc.model import pack_flit, unpack_flit
from verif.pack import pack, unpack
from verif.scalar import elf

from .mesh_tb import HELD, QUEUES, STATUS, MeshBench
from .programs import PLACE_SYMBOL

__all__ = ["MeshRun", "MeshReadError", "run_mesh_program", "load_packets", "read_packets",
           "read_answers", "live_mask", "check_dead", "whole_core", "read_core", "HOST",
           "UNITS", "read_counters", "read_links", "watchdog_report"]

#: The queued units whose busy cycles make a core's utilisation (``hw.core.counters``' order).
UNITS = ("matrix", "vector", "dma")

_LINE = 64


@dataclass
class MeshRun:
    """The result of :func:`run_mesh_program`: ``status`` "pass" (every core's ``tohost`` is 1),
    "fail", "timeout" or "hang"; ``tohost`` each core's value (by core number, 0: none);
    ``dropped`` each router's drop count; ``failed`` and ``refused`` each core's network
    interface's counts (ERROR answers to its transfers and direct adds; lines refused there);
    the run's ``cycles``; ``watchdog`` the state report of a run that did not finish
    (:func:`watchdog_report`: per core every thread's last pc, the semaphores, the DMA's and
    the network interface's queues); ``reads`` the bytes of each range of
    ``run_mesh_program``'s ``reads``, in order (None for a range not read: a run that did not
    finish, or a range answered with an error, :class:`MeshReadError`), ``ranges`` the
    ranges asked for (``(x, y, address, nbytes)`` each), ``config`` the mesh's; ``edge`` the
    edge port's figures, ``{"load": (flits, cycles), "read": (pulls, cycles)}`` (the phases'
    cycles: the load's from its first cycle until every LINE was taken, the read's from its
    first cycle until the last answer arrived).

    ``utilisation``: per core ``{"matrix", "vector", "dma"}``: the unit's busy cycles over the
    run's cycles (0 for a dead core); ``instructions``: per core, retired; ``counters``: per
    core every performance counter read after the run (``{RDCTR number: value}``);
    ``links``: ``{(from, to): (request flits, response flits)}`` of every link between two
    routers, ``from`` and ``to`` the routers' ``(x, y)``, counted while the cores run;
    ``retired`` the instructions every core retired in the run (the bench's count);
    ``speed`` the simulation's mesh cycles per wall-clock second (the bench's cycles from reset
    to the end, loading included, over the time they took: no build, no start-up)."""
    status: str
    tohost: list
    dropped: list
    failed: list
    refused: list
    cycles: int
    sim: str
    seconds: float
    run_dir: Path
    watchdog: str | None = None
    reads: list | None = None
    edge: dict | None = None
    ranges: list | None = None
    config: MeshConfig | None = None
    utilisation: list | None = None
    instructions: list | None = None
    counters: list | None = None
    links: dict | None = None
    retired: int | None = None
    speed: float | None = None


class MeshReadError(RuntimeError):
    """A read of :func:`run_mesh_program` answered with an ERROR (or not answered): the message
    names each such line's core, address and code; ``run`` is the :class:`MeshRun`, whose
    ``reads`` hold None for the ranges that failed."""

    def __init__(self, message, run):
        super().__init__(message)
        self.run = run


def live_mask(config, dead=()):
    """Bit ``y * width + x`` set for each live core of ``config`` (``dead``: the others)."""
    return sum(1 << (y * config.width + x) for y in range(config.height)
               for x in range(config.width) if (x, y) not in dead)


def load_packets(image, config, place_addr, dead=(), segments=None):
    """The LINE packets (flit ints) that load ``image`` (``(address, bytes)`` segments) into
    every live core of ``config`` (not those of ``dead``), each with its place (x, y, width,
    height and the mask of live cores, :func:`live_mask`, as uint32) at ``place_addr``, then
    that core's own ``segments`` (a dict from ``(x, y)`` to a list of ``(address, bytes)``, a
    later byte replacing an earlier one): one per 64-byte line touched, writing each 8-byte
    word that holds a byte of them (its other bytes 0, as the scratchpad holds before)."""
    sram = config.core.sram
    segments = check_segments(config, dead, segments)
    packets = []
    live = live_mask(config, dead)
    for y in range(config.height):
        for x in range(config.width):
            if (x, y) in dead:
                continue
            place = b"".join(v.to_bytes(4, "little")
                             for v in (x, y, config.width, config.height, live))
            lines = {}
            for addr, blob in [*image, (place_addr, place), *segments.get((x, y), ())]:
                blob = bytes(blob)
                if not (sram.base <= addr and addr + len(blob) <= sram.base + sram.size):
                    raise ValueError(f"segment {addr:#x}..{addr + len(blob):#x} is outside the "
                                     f"scratchpad {sram.base:#x}..{sram.base + sram.size:#x}")
                for i, byte in enumerate(blob):
                    line, off = divmod(addr + i, _LINE)
                    data, words = lines.setdefault(line, [bytearray(_LINE), 0])
                    data[off] = byte
                    lines[line][1] = words | 1 << (off // (_LINE // WORDS))
            for line in sorted(lines):
                data, words = lines[line]
                packets.append(pack_flit(*line_packet(HOST, (x, y), line * _LINE, words,
                                                      int.from_bytes(data, "little"))))
    return packets


def _check_core(config, core, what):
    if (type(core) is not tuple or len(core) != 2 or any(type(c) is not int for c in core)):
        raise TypeError(f"{what} core must be an (x, y) pair of ints, not {core!r}")
    if not (0 <= core[0] < config.width and 0 <= core[1] < config.height):
        raise ValueError(f"{what} core ({core[0]}, {core[1]}) is outside the "
                         f"{config.width}x{config.height} mesh")


def check_segments(config, dead, segments):
    """``segments`` (None, or a dict from a live core ``(x, y)`` of ``config`` to a list of
    ``(address, bytes)``) as a dict."""
    if segments is None:
        return {}
    if not isinstance(segments, dict):
        raise TypeError(f"segments must be a dict from (x, y) to a list of (address, bytes), "
                        f"not {segments!r}")
    for core, blobs in segments.items():
        _check_core(config, core, "a segment's")
        if core in dead:
            raise ValueError(f"segments for core ({core[0]}, {core[1]}), which is dead")
        for seg in blobs:
            if (type(seg) is not tuple or len(seg) != 2 or type(seg[0]) is not int
                    or not isinstance(seg[1], (bytes, bytearray))):
                raise TypeError(f"a segment must be an (address, bytes) pair, not {seg!r}")
    return segments


def read_packets(config, reads):
    """The PULL packets (flit ints) of ``reads`` (``(x, y, address, nbytes)`` each: a range of
    core ``(x, y)``'s scratchpad, dead cores included), one per 64-byte line touched, and the
    lines, ``(read index, core, line address)`` each. The PULL's ``dst`` (where the line goes
    at the puller, the READ_DATA's address; kept in an ERROR's payload) is the line's number
    in this list, so that each answer finds its line whatever order they come back in."""
    flits, lines = [], []
    for i, read in enumerate(reads):
        if type(read) is not tuple or len(read) != 4:
            raise TypeError(f"a read must be an (x, y, address, nbytes) tuple, not {read!r}")
        x, y, addr, size = read
        _check_core(config, (x, y), "a read's")
        if type(addr) is not int or type(size) is not int or size < 1 or addr < 0 \
                or addr + size > 1 << 32:
            raise ValueError(f"a read must name 1 or more bytes at a 32-bit address, "
                             f"not {read!r}")
        for line in range(addr // _LINE, (addr + size - 1) // _LINE + 1):
            flits.append(pack_flit(*pull_packet(HOST, (x, y), line * _LINE, 0xFF, len(lines))))
            lines.append((i, (x, y), line * _LINE))
    return flits, lines


def read_answers(reads, lines, flits):
    """The bytes of each of ``reads`` from the answers ``flits`` (the packets for the host:
    flit ints), ``lines`` as :func:`read_packets` gave them: ``(ranges, errors)``, ranges the
    list of ``bytes`` (None where a line failed), errors a message per line answered with an
    ERROR or not answered."""
    got, errors = {}, []
    for flit in flits:
        header, payload = unpack_flit(flit)
        if header["op"] == Opcode.READ_DATA.value:
            k = header["addr"]
        elif header["op"] == Opcode.ERROR.value:
            fields = unpack(Pull, [payload])
            k = int(fields["dst"][0])
            payload = Error(int(fields["code"][0]) or Error.REMOTE)
        else:
            continue                    # not an answer to a read (nothing else is sent there)
        if k < len(lines) and (header["src_x"], header["src_y"]) == lines[k][1]:
            got[k] = payload
    ranges = []
    for i, (x, y, addr, size) in enumerate(reads):
        blob, ok = bytearray(), True
        for k, (j, _, line) in enumerate(lines):
            if j != i:
                continue
            answer = got.get(k)
            where = f"read {i}: core ({x}, {y}) at {line:#x}"
            if answer is None:
                errors.append(f"{where}: no answer")
                ok = False
            elif isinstance(answer, Error):
                why = " (the core is dead or outside the mesh)" if answer is Error.REMOTE else ""
                errors.append(f"{where}: ERROR {answer.name}{why}")
                ok = False
            else:
                blob += answer.to_bytes(_LINE, "little")
        start = addr - addr // _LINE * _LINE
        ranges.append(bytes(blob[start:start + size]) if ok else None)
    return ranges, errors


def config_words(config, dead=()):
    """The ``cfg`` payloads (ints) that load route tables into every live router: XY, or
    up*/down* around the ``dead`` nodes (whose routers get none: all DROP), each with its host
    entry (entry ``nodes``: ``hw.noc.routing.host_routes``, checked with the tables)."""
    mesh = Mesh(config.width, config.height, disabled=tuple(dead))
    tables = route_tables(mesh, "updown" if dead else "xy")
    words, turns = table_words(mesh, tables), turn_words(mesh, tables)
    host = host_routes(mesh, tables)            # checked with the tables
    host_turn = host_turns(mesh, host)
    for r in words:                             # the host entry: after the nodes'
        words[r] = [*words[r], host[r].value]
        turns[r] = [*turns[r], host_turn[r]]
    layout = mesh_table_write_layout(config.nodes)
    return [int(pack(layout, 1, node=node_id(mesh, *r), dst=d, port=code,
                     turn=turns[r][d])[0])
            for r, codes in words.items() for d, code in enumerate(codes)]


def check_dead(config, dead):
    """``dead`` as a tuple of ``(x, y)`` cores of ``config``, not (0, 0) (the edge port's
    router: the host loads the mesh through it)."""
    dead = tuple(dead)
    Mesh(config.width, config.height, disabled=dead)        # its checks and messages
    if (0, 0) in dead:
        raise ValueError("core (0, 0) cannot be dead: the edge port enters the mesh there")
    return dead


def whole_core(config, x, y):
    """The read of core ``(x, y)``'s whole scratchpad (for :func:`run_mesh_program`'s
    ``reads``; :func:`read_core` finds its bytes)."""
    sram = config.core.sram
    return (x, y, sram.base, sram.size)


def read_core(run, x, y):
    """Core ``(x, y)``'s whole scratchpad after ``run`` (a :class:`MeshRun` whose ``reads``
    had :func:`whole_core` of that core): ``bytes``, byte 0 at the scratchpad's base."""
    want = whole_core(run.config, x, y)
    for asked, got in zip(run.ranges or (), run.reads or (), strict=False):
        if asked == want and got is not None:
            return got
    raise ValueError(f"core ({x}, {y})'s scratchpad was not read in this run: pass "
                     f"whole_core(config, {x}, {y}) in run_mesh_program's reads")


def run_mesh_program(path, *, config, sim="verilator", max_cycles=1_000_000, seed=1, stall=0,
                     dead=(), run_dir=None, segments=None, reads=()):
    """Run the ELF at ``path`` on every live core of ``config`` (a :class:`MeshConfig`); a
    :class:`MeshRun`. ``stall`` (0..255): idle cycles of the edge port's source while loading.
    ``dead``: ``(x, y)`` cores held in reset (not (0, 0)).

    ``segments``: each live core's own data, ``{(x, y): [(address, bytes), ...]}``, loaded
    with the image through the edge port (after it: a byte of both is the segment's).
    ``reads``: ``[(x, y, address, nbytes), ...]``, read through the edge port once every live
    core has written ``tohost`` (``MeshRun.reads``, the bytes of each in order); a line
    answered with an ERROR (a dead core, an address outside the scratchpad) or not answered
    raises :class:`MeshReadError`, naming its core, address and code."""
    if not isinstance(config, MeshConfig):
        raise TypeError(f"config must be a MeshConfig, not {config!r}")
    dead = check_dead(config, dead)
    sram = config.core.sram
    program = elf.load(path, base=RAM_BASE, size=sram.size)
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(f"mesh-{config.name}-{sim}")
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = config_words(config, dead)
    flits = load_packets(program.segments, config, program.symbol(PLACE_SYMBOL), dead,
                         segments)
    reads = list(reads)
    pulls, lines = read_packets(config, reads)
    (run_dir / "cfg.hex").write_text("".join(f"{w:x}\n" for w in cfg))
    digits = -(-data.Layout.cast(Flit).size // 4)
    (run_dir / "load.hex").write_text("".join(f"{w:0{digits}x}\n" for w in flits))
    (run_dir / "reads.hex").write_text("".join(f"{w:0{digits}x}\n" for w in pulls))
    args = {"seed": seed, "stall": stall, "max_cycles": max_cycles, "tohost": program.tohost,
            "tohost_en": 1, "n_cfg": len(cfg), "n_load": len(flits),
            "go_mask": live_mask(config, dead), "n_read": len(pulls)}
    info = run_cocotb(MeshBench(config), "verif.program_cocotb", sim, args=args,
                      harness=MeshBench.harness, test_dir=run_dir, quiet=True,
                      echo="  [")
    summary = read_summary(run_dir)
    end = STATUS.get(summary["status"], "hang")
    tohost = [int(v, 16) for v in (run_dir / "tohost.txt").read_text().split()]
    dropped = [int(v, 16) for v in (run_dir / "dropped.txt").read_text().split()]
    net = [[int(v, 16) for v in line.split()]
           for line in (run_dir / "net.txt").read_text().splitlines()]
    live = [(n % config.width, n // config.width) not in dead for n in range(config.nodes)]
    ok = all(v == 1 for v, alive in zip(tohost, live, strict=True) if alive)
    status = ("pass" if ok else "fail") if end == "tohost" else end
    if summary["proto_errors"]:
        raise RuntimeError(f"the edge port broke the stream rule towards the host "
                           f"{summary['proto_errors']} times (run in {run_dir})")
    edge = {kind: (int(n), int(c)) for kind, n, c in
            (line.split() for line in (run_dir / "edge.txt").read_text().splitlines())}
    counters = read_counters(run_dir / "counters.txt", config.nodes)
    cycles = summary["cycles"]
    busy = [counter_index(unit=u, cause="busy") for u in range(len(UNITS))]
    threads = range(config.core.threads)
    run = MeshRun(status=status, tohost=tohost, dropped=dropped,
                  failed=[f for f, _ in net], refused=[r for _, r in net],
                  cycles=cycles,
                  sim=sim, seconds=info["test_seconds"], run_dir=run_dir,
                  watchdog=None if end == "tohost" else watchdog_report(run_dir, config, dead),
                  edge=edge, ranges=reads, config=config,
                  utilisation=[{u: c[b] / cycles if cycles else 0.0
                                for u, b in zip(UNITS, busy, strict=True)} for c in counters],
                  instructions=[sum(c[counter_index(thread=t, reason="instructions")]
                                    for t in threads) for c in counters],
                  counters=counters, links=read_links(run_dir / "links.txt", config),
                  retired=summary["retired"],
                  speed=summary["clock_cycles"] / max(summary["clock_seconds"], 1e-9))
    if end == "tohost" and reads:
        answers = [int(line.split()[1], 16)
                   for line in (run_dir / "answers.txt").read_text().splitlines()]
        run.reads, errors = read_answers(reads, lines, answers)
        if errors:
            raise MeshReadError("; ".join(errors) + f" (run in {run_dir})", run)
    return run


def read_counters(path, nodes):
    """The bench's ``counters.txt`` (a line per RDCTR number: the number, then each core's
    value in hex) as a ``{number: value}`` per core."""
    out = [{} for _ in range(nodes)]
    for line in Path(path).read_text().splitlines():
        number, *values = line.split()
        for core, v in zip(out, values, strict=True):
            core[int(number)] = int(v, 16)
    return out


def read_links(path, config):
    """The bench's ``links.txt`` (a line per router: the flits of each output link, north,
    east, south, west, each request then response) as ``{(from, to): (request, response)}`` for
    the links between routers, and ``((0, 0), HOST)`` for the edge port's link to the host.
    Any other link out of the mesh carries nothing (no table routes there): such a count is
    refused."""
    mesh = Mesh(config.width, config.height)
    links = {}
    for n, line in enumerate(Path(path).read_text().splitlines()):
        here = (n % config.width, n // config.width)
        counts = [int(v, 16) for v in line.split()]
        for d, port in enumerate(DIRECTIONS):
            flits = tuple(counts[d * CLASSES:(d + 1) * CLASSES])
            hop = next_hop(mesh, *here, port)
            if hop is not None:
                links[(here, hop)] = flits
            elif here == (0, 0) and port.name == "WEST":
                links[(here, HOST)] = flits         # the edge port's link to the host
            elif any(flits):
                raise ValueError(f"{flits} flits left the mesh at {here} {port.name.lower()}")
    return links


def watchdog_report(run_dir, config, dead=()):
    """The watchdog's dump of a run (from the bench's ``state.txt``, ``watch.txt`` and
    ``tohost.txt``), as text: per live core whether it wrote ``tohost``, every thread's last
    retired pc and whether it runs, sleeps at the dispatcher and has commands outstanding;
    the semaphores that are not 0; the DMA engine's lists in flight and remote descriptors
    awaiting their answer; the network interface's receive side's scratchpad writes and reads
    outstanding; and which streams were held at the end (a command at the DMA, a line at the
    send side, a flit at the router...)."""
    state = {}
    for line in (Path(run_dir) / "state.txt").read_text().splitlines():
        _, n, _, running, _, waiting, _, sems = line.split()
        state[int(n)] = (int(running, 16), int(waiting, 16), int(sems, 16))
    tohost = [int(v, 16) for v in (Path(run_dir) / "tohost.txt").read_text().split()]
    lines = []
    for line in (Path(run_dir) / "watch.txt").read_text().splitlines():
        words = line.split()
        n = int(words[1])
        x, y = n % config.width, n // config.width
        if (x, y) in dead:
            lines.append(f"core ({x}, {y}): dead")
            continue
        # A thread that never retired has no pc (x in Icarus: the bench does not reset them).
        ever, pcs = int(words[3], 16), words[5:9]
        outstanding = int(words[10], 16)
        fields = dict(w.split("=") for w in words[11:])
        running, waiting, sems = state[n]
        lines.append(f"core ({x}, {y}): " + (f"wrote tohost {tohost[n]:#x}" if tohost[n]
                                                  else "has not written tohost"))
        for t in range(config.core.threads):
            where = f"last pc {int(pcs[t], 16):#x}" if ever >> t & 1 else "never retired"
            how = ("asleep at the dispatcher" if waiting >> t & 1
                   else "running" if running >> t & 1 else "stopped")
            queued = outstanding >> 8 * t & 0xFF
            lines.append(f"  thread {t}: {where}, {how}, {queued} command(s) outstanding")
        values = [sems >> SEM_BITS * k & ((1 << SEM_BITS) - 1) for k in range(SEMAPHORES)]
        nonzero = ", ".join(f"{k}: {v}" for k, v in enumerate(values) if v)
        lines.append(f"  semaphores: {nonzero or 'all 0'}")
        q = {name: int(fields[name]) for name, _, _ in QUEUES}
        held = [h for h in HELD if fields[h] == "1"]
        lines.append(f"  DMA: {q['lists']} list(s) in flight, {q['remote']} remote "
                     f"descriptor(s) awaiting their answer")
        lines.append(f"  network: receive side {q['rx_writes']} write(s) and {q['rx_pulls']} "
                     f"read(s) outstanding at the scratchpad")
        lines.append(f"  held at the end: {', '.join(held) or 'nothing'}")
    return "\n".join(lines)
