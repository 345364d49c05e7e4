"""A ``width`` × ``height`` mesh of D1 cores, each with its router, and the host's edge port
(docs/mesh.md)."""

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from hw.common.params import check_instance
from hw.common.shared import shared
from hw.core.core import Core, NetProbe, StoreTap
from hw.core.dispatch import COUNTER_BITS
from hw.core.isa import SEM_BITS, SEMAPHORES
from hw.core.ni_receive import ERRORS_BITS
from hw.core.ni_send import STRAY_BITS
from hw.noc.flit import Flit
from hw.noc.mesh import NoCMesh, mesh_table_write_layout
from hw.noc.router import CLASSES, DIRECTIONS, DROPPED_BITS
from hw.scalar.isa import MAX_THREADS, THREAD_BITS, XLEN

from .config import MeshConfig
from .edge import EdgePort

__all__ = ["CoreMesh", "RetireTap"]

#: A retired instruction's thread and pc (one of a core's two retire ports), for the bench's
#: per-thread last pc.
RetireTap = data.StructLayout({"valid": 1, "thread": THREAD_BITS, "pc": XLEN})


class CoreMesh(wiring.Component):
    """The cores of ``config`` in a mesh.

    Parameters
    ----------
    config : MeshConfig

    Members
    -------
    Core ``n = y * width + x``:

    cfg : ``In(stream.Signature(mesh_table_write_layout(nodes)))``
        Route-table writes (``hw.noc.mesh.NoCMesh``'s).
    edge : ``In(stream.Signature(Flit))``
        The host's request packets (LINEs, PULLs, docs/mesh.md), into the mesh through the west
        link of the router at (0, 0) (an `EdgePort`), source `hw.noc.routing.HOST`.
    host : ``Out(stream.Signature(Flit))``
        The packets for the host (the answers to its PULLs: READ_DATA and ERROR), out of the
        mesh through the same link (the routers' host entries lead there, docs/mesh.md "The
        host's reads"); the host should take them at once (a packet not taken holds the link).
    go : ``In(nodes)``
        Core ``n`` runs while bit ``n`` is 1 (``Core.go``: held in reset while 0, thread 0
        starting when it rises).
    store : ``Out(StoreTap).array(nodes)``; running : ``Out(MAX_THREADS).array(nodes)``
        Each core's scalar stores (the bench watches ``tohost``) and running threads.
    retired : ``Out(2).array(nodes)``
        The instructions each core retires this cycle (its two retire ports): the bench's
        measure of progress.
    waiting, semaphores : ``Out(MAX_THREADS).array(nodes)``, ``Out(data.ArrayLayout(SEM_BITS,
        SEMAPHORES)).array(nodes)``
        Each core's sleeping threads and semaphores (``Core``'s), for the watchdog's report.
    dropped : ``Out(DROPPED_BITS).array(nodes)``
        Each router's count of the packets it removed.
    failed, refused : ``Out(16).array(nodes)``
        Each core's network interface's counts (``Core.net_failed``, ``Core.net_refused``):
        ERROR answers to its transfers and direct adds; lines refused at it.

    The observation outputs (wiring only: the bench does the counting, so that nothing of it
    is in the mesh's logic; docs/mesh.md "Running a program on a mesh"):

    counter_index : ``In(COUNTER_BITS)``; counter_value : ``Out(64).array(nodes)``
        Every core's host read of its performance counters (``Core.counter_index``,
        ``counter_value``; ``hw.core.counters``), the same number for every core.
    retire : ``Out(data.ArrayLayout(RetireTap, 2)).array(nodes)``
        Each core's two retire ports' thread and pc (for the last pc of every thread).
    outstanding : ``Out(data.ArrayLayout(8, MAX_THREADS)).array(nodes)``
        Each core's commands queued or running per thread (``Core.outstanding``).
    probe : ``Out(NetProbe).array(nodes)``
        Each core's DMA and network-interface handshakes (``Core.probe``).
    traffic : ``Out(data.ArrayLayout(CLASSES, 4)).array(nodes)``
        The flits leaving each router on each output link, by class (``NoCMesh.traffic``).

    Contract
    --------
    Every core is the same module (``shared``): its coordinates come in on ``Core.here``. Each
    core's router streams are its router's local ports; the links are ``NoCMesh``'s. A core
    whose ``go`` bit stays 0 is dead: held in reset (its router and network interface still
    run; the host leaves its router's table unconfigured, all DROP, docs/mesh.md "Dead
    cores").
    """

    def __init__(self, config):
        self.config = check_instance("config", config, MeshConfig)
        n = config.nodes
        super().__init__({
            "cfg": In(stream.Signature(mesh_table_write_layout(n))),
            "edge": In(stream.Signature(Flit)),
            "host": Out(stream.Signature(Flit)),
            "go": In(n),
            "store": Out(StoreTap).array(n),
            "running": Out(MAX_THREADS).array(n),
            "retired": Out(2).array(n),
            "waiting": Out(MAX_THREADS).array(n),
            "semaphores": Out(data.ArrayLayout(SEM_BITS, SEMAPHORES)).array(n),
            "dropped": Out(DROPPED_BITS).array(n),
            "failed": Out(STRAY_BITS).array(n),
            "refused": Out(ERRORS_BITS).array(n),
            "counter_index": In(COUNTER_BITS),
            "counter_value": Out(64).array(n),
            "retire": Out(data.ArrayLayout(RetireTap, 2)).array(n),
            "outstanding": Out(data.ArrayLayout(8, MAX_THREADS)).array(n),
            "probe": Out(NetProbe).array(n),
            "traffic": Out(data.ArrayLayout(CLASSES, len(DIRECTIONS))).array(n),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        w, h = cfg.width, cfg.height
        m.submodules.noc = noc = NoCMesh(width=w, height=h, vcs=cfg.vcs, depth=cfg.depth,
                                        watch=True)
        m.submodules.edge = edge = EdgePort(vcs=cfg.vcs, depth=cfg.depth)
        connect(m, flipped(self.cfg), noc.cfg)
        connect(m, flipped(self.edge), edge.i)
        connect(m, edge.link, noc.west_in[0])
        connect(m, noc.west_out[0], edge.back)
        connect(m, edge.o, flipped(self.host))
        for y in range(h):
            for x in range(w):
                n = y * w + x
                core = shared(Core, config=cfg.core, mesh=(w, h))
                m.submodules[f"core_{x}_{y}"] = core
                m.d.comb += [core.here.x.eq(x), core.here.y.eq(y), core.go.eq(self.go[n]),
                             core.halt.eq(0), core.counter_index.eq(self.counter_index),
                             self.store[n].eq(core.store), self.running[n].eq(core.running),
                             self.retired[n].eq(core.retire.valid + core.retire_late.valid),
                             self.waiting[n].eq(core.waiting),
                             self.semaphores[n].eq(core.semaphores),
                             self.dropped[n].eq(noc.dropped[n]),
                             self.failed[n].eq(core.net_failed),
                             self.refused[n].eq(core.net_refused),
                             self.counter_value[n].eq(core.counter_value),
                             self.outstanding[n].eq(core.outstanding),
                             self.probe[n].eq(core.probe), self.traffic[n].eq(noc.traffic[n])]
                for k, port in enumerate((core.retire, core.retire_late)):
                    m.d.comb += [self.retire[n][k].valid.eq(port.valid),
                                 self.retire[n][k].thread.eq(port.payload.thread),
                                 self.retire[n][k].pc.eq(port.payload.pc)]
                for c in range(CLASSES):
                    connect(m, core.inject[c], noc.inject[n][c])
                    connect(m, noc.eject[n][c], core.eject[c])
        return m
