"""One D1 core: the scalar core, the scratchpad, the dispatcher, the GEMM and vector sequencers
with the matrix engine and the vector unit, the DMA engine and the counters, wired.

docs/core.md has the picture, the ports each unit uses and the counters. Every unit is a
:func:`~hw.common.shared.part`: a module of its own in the Verilog, which synthesis measures as
its own block (:func:`parts` gives each unit's parameters, for the core and for the block
registry alike); the top itself only wires them (and counts retires for the counters).
"""


from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from hw.common.memport import Op
from hw.common.params import check_instance, check_int
from hw.common.portshare import PortShare
from hw.common.shared import part, reset_by
from hw.matmul.engine import MatmulEngine
from hw.noc.flit import Flit
from hw.noc.routing import MAX_SIDE
from hw.scalar.core import ScalarCore
from hw.scalar.isa import MAX_THREADS
from hw.scalar.writeback import RetirePort
from hw.sram.config import PORTS, request_layout, response_layout, status_layout
from hw.sram.scratchpad import Scratchpad
from hw.vector.unit import VectorUnit

from .config import UNIT_TAG_WIDTH, CoreConfig
from .counters import Counters, counter_numbers
from .dispatch import COUNTER_BITS, Dispatcher
from .dma import DmaEngine
from .gemm import GemmSequencer
from .isa import SEM_BITS, SEMAPHORES
from .ni_receive import ERRORS_BITS, NiReceive
from .ni_send import STRAY_BITS, NiSend
from .packets import Place
from .vector import VectorSequencer

__all__ = ["Core", "StoreTap", "NetProbe", "SHARED_PORTS", "MESH_SHARED_PORTS", "parts",
           "check_mesh"]

#: A scalar store the scratchpad took (for the testbench's ``tohost`` watch).
StoreTap = data.StructLayout({"valid": 1, "addr": 32, "data": 64, "mask": 8})

#: What a core of a mesh's DMA engine and network interface do this cycle, each bit a
#: handshake or a held stream between two of its units (wiring only): a bench integrates them
#: into the queues' occupancy for the watchdog's report (``verif/mesh/mesh_tb.py``).
#: ``dma_take``: the engine takes a DMA command (a descriptor list); ``dma_held``: a command
#: waits for it; ``dma_desc``: a descriptor is done; ``dma_list``: a list is done;
#: ``remote_end``: a remote descriptor's last line enters the send side; ``remote_answer``: an
#: answer to one comes back; ``tx_held``: a line waits to enter the send side; ``tx_blocked``:
#: a request flit waits for the router; ``rx_held``: a request waits at the receive side;
#: ``rx_write``, ``rx_written``, ``rx_pull``, ``rx_pulled``: the receive side's scratchpad
#: writes and reads start and end; ``rx_blocked``: an answer waits for the router.
NetProbe = data.StructLayout({name: 1 for name in (
    "dma_take", "dma_held", "dma_desc", "dma_list", "remote_end", "remote_answer", "tx_held",
    "tx_blocked", "rx_held", "rx_write", "rx_written", "rx_pull", "rx_pulled", "rx_blocked")})

#: The scratchpad ports two requesters share, and their users (unit member prefixes; ``host``
#: is the core's own ``host_rd``/``host_wr`` members).
SHARED_PORTS = {"vr0": (("gemm", "a"), ("vseq", "r0")), "vr1": (("gemm", "b"), ("vseq", "r1")),
                "vw": (("gemm", "d"), ("vseq", "w")), "rr": (("dma", "rd"), ("host", "host_rd")),
                "rw": (("dma", "wr"), ("host", "host_wr"))}
#: The same in a core of a mesh: the network interface's receive side writes on ``rw`` and
#: reads (its PULLs) on ``rr`` (the host reaches the scratchpad through the network,
#: docs/mesh.md).
MESH_SHARED_PORTS = {**SHARED_PORTS, "rr": (("dma", "rd"), ("ni_rx", "rd")),
                     "rw": (("dma", "wr"), ("ni_rx", "wr"))}


def check_mesh(mesh):
    """``mesh`` if it is None (a lone core) or a ``(width, height)`` pair of ints 1..16."""
    if mesh is None:
        return None
    if not (isinstance(mesh, tuple) and len(mesh) == 2):
        raise TypeError(f"mesh must be None or a (width, height) pair, not {mesh!r}")
    for name, v in zip(("width", "height"), mesh, strict=True):
        check_int(f"mesh {name}", v, 1, MAX_SIDE)
    return mesh


def parts(config, mesh=None):
    """The units of a core of ``config`` (a :class:`CoreConfig`) alone or, with ``mesh`` a
    ``(width, height)`` pair, in a mesh (with the network interface): ``{name: (factory,
    params)}``,
    each made by the core as ``part(factory, **params)``, and measured by the block registry
    (``sim/flow/blocks.py``) as ``shared_design(factory, **params)``: one place for both, so
    that each unit of the core is the very module of its block. ``share_<port>`` is the
    :class:`PortShare` of a shared scratchpad port (ports of the same layouts get the same
    module)."""
    check_instance("config", config, CoreConfig)
    check_mesh(mesh)
    network = mesh is not None
    sc = config.sram
    window = {"addr_bits": sc.addr_bits, "base": sc.base, "size": sc.size}
    units = {
        "sram": (Scratchpad, {"config": sc}),
        # ``go`` holds it in reset (``reset_by``) and starts thread 0 when it rises.
        "scalar": (ScalarCore, {"threads": config.threads, "addr_bits": sc.addr_bits,
                                "tag_width": sc.tag_width, "boot": False}),
        "dispatch": (Dispatcher, {"threads": config.threads,
                                  "counters": counter_numbers(config.threads),
                                  **({"network": True} if network else {})}),
        "counters": (Counters, {"threads": config.threads}),
        "engine": (MatmulEngine, {"config": config.matmul}),
        "vector_unit": (VectorUnit, {"tag_width": sc.tag_width}),
        "gemm": (GemmSequencer, {"config": config.matmul, "tag_width": UNIT_TAG_WIDTH,
                                 **window}),
        "vseq": (VectorSequencer, {"tag_width": UNIT_TAG_WIDTH, **window}),
        "dma": (DmaEngine, {"tag_width": UNIT_TAG_WIDTH, **window,
                            **({"network": True} if network else {})}),
    }
    if network:
        units["ni_rx"] = (NiReceive, {"width": mesh[0], "height": mesh[1],
                                      "addr_bits": sc.addr_bits, "tag_width": UNIT_TAG_WIDTH})
        units["ni_tx"] = (NiSend, {})
    specs = {s.name: s for s in PORTS}
    for port, users in (MESH_SHARED_PORTS if network else SHARED_PORTS).items():
        units[f"share_{port}"] = (PortShare, {"request": request_layout(specs[port], sc),
                                              "response": response_layout(specs[port], sc),
                                              "n": len(users)})
    return units


class Core(wiring.Component):
    """One core (see the module docstring).

    Parameters
    ----------
    config : CoreConfig
    mesh : None or (width, height)
        A core of a ``width`` × ``height`` mesh, with its network interface (docs/mesh.md): the
        host's writes and reads then come through the network, not ``host_wr``/``host_rd``.

    Members
    -------
    host_rd_req, host_rd_resp : the host's reads, the scratchpad's router-read port contract
        with a ``UNIT_TAG_WIDTH``-bit tag (shared with the DMA). A lone core's only.
    host_wr_req, host_wr_resp : the host's writes, the router-write port contract (shared
        with the DMA). A lone core's only (in a mesh the network interface takes both).
    here : ``In(hw.core.packets.Place)``; inject, eject : ``Out/In(stream.Signature(Flit))
        .array(2)``, a core of a mesh's only
        Its coordinates, and its router's local streams per class (``inject[c]`` goes to the
        router's ``inject[c]``).
    net_failed, net_refused : ``Out(16)``, a core of a mesh's only
        The network interface's counts (saturating): ERROR answers to this core's transfers
        and direct adds (``NiSend.failed``); lines refused here and unknown packets dropped
        (``NiReceive.errors``).
    probe : ``Out(NetProbe)``, a core of a mesh's only
        The DMA engine's and the network interface's handshakes this cycle (wiring only).
    go : ``In(1)``
        The scalar core runs while 1 and is held in reset while 0 (thread 0 starts at
        ``RAM_BASE`` when it rises). The units and the scratchpad keep their state. The
        counters count the cycles while 1 only, so that ``CYCLES`` is the run's cycles, without
        the host's loading and reading around it.
    halt : ``In(MAX_THREADS)``
        The host stops the threads whose bit is 1: they issue nothing until it falls (their
        instructions in flight complete, their state is kept); they go on where they were.
        The other threads, the units and the scratchpad run on. The counters count the
        cycles as the thread's "held".
    counter_index : ``In(COUNTER_BITS)``, ``counter_value`` : ``Out(64)``
        The host's read of a counter (RDCTR's numbers, ``hw.core.counters``), combinational:
        the bench reads every counter after a run (``d1core run --counters``).
    retire, retire_late, running : the scalar core's retire trace and running threads.
    store : ``Out(StoreTap)``
        The scalar store the scratchpad takes this cycle.
    semaphores, waiting, outstanding : the dispatcher's (for the watchdog's report).
    sram_status : the scratchpad's counters and error address.
    """

    def __init__(self, config, *, mesh=None):
        self.config = check_instance("config", config, CoreConfig)
        self.mesh = check_mesh(mesh)
        sc = config.sram
        rr_req, rr_resp = (stream.Signature(x) for x in config.unit_port_layouts("rr"))
        rw_req, rw_resp = (stream.Signature(x) for x in config.unit_port_layouts("rw"))
        # A lone core's members in their order from before the mesh (its Verilog ports).
        if mesh is None:
            ports = {"host_rd_req": In(rr_req), "host_rd_resp": Out(rr_resp),
                     "host_wr_req": In(rw_req), "host_wr_resp": Out(rw_resp)}
        else:
            ports = {}
            flits = stream.Signature(Flit)
            ports.update({"here": In(Place), "inject": Out(flits).array(2),
                          "eject": In(flits).array(2), "net_failed": Out(STRAY_BITS),
                          "net_refused": Out(ERRORS_BITS), "probe": Out(NetProbe)})
        super().__init__({
            **ports,
            "go": In(1), "halt": In(MAX_THREADS),
            "counter_index": In(COUNTER_BITS), "counter_value": Out(64),
            "retire": Out(RetirePort), "retire_late": Out(RetirePort),
            "running": Out(MAX_THREADS),
            "store": Out(StoreTap),
            "semaphores": Out(data.ArrayLayout(SEM_BITS, SEMAPHORES)),
            "waiting": Out(MAX_THREADS),
            "outstanding": Out(data.ArrayLayout(8, MAX_THREADS)),
            "sram_status": Out(status_layout(sc)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        units = {name: part(factory, **params)
                 for name, (factory, params) in parts(cfg, self.mesh).items()}
        # Held in reset while ``go`` is low, with no thread running (so no request leaves it);
        # thread 0 starts when ``go`` rises.
        units["scalar"] = reset_by(units["scalar"], ~self.go)
        for name, unit in units.items():
            m.submodules[name] = unit
        sram, scalar, dispatch, counters, engine, vector_unit, gemm, vseq, dma = (
            units[name] for name in ("sram", "scalar", "dispatch", "counters", "engine",
                                     "vector_unit", "gemm", "vseq", "dma"))
        m.d.comb += [scalar.go.eq(self.go), scalar.halt.eq(self.halt)]
        # Counting only while the program runs: CYCLES and each unit's idle are the run's.
        m.d.comb += counters.enable.eq(self.go)

        # The scalar core on its two ports, the dispatcher on its coprocessor stream.
        connect(m, scalar.fetch_req, sram.fetch_req)
        connect(m, sram.fetch_resp, scalar.fetch_resp)
        connect(m, scalar.data_req, sram.scalar_req)
        connect(m, sram.scalar_resp, scalar.data_resp)
        connect(m, scalar.cop_req, dispatch.i)
        connect(m, dispatch.o, scalar.cop_resp)

        # Commands to the units and their completions.
        connect(m, dispatch.matrix, gemm.cmd)
        connect(m, dispatch.vector, vseq.cmd)
        connect(m, dispatch.dma, dma.cmd)
        for unit, name in ((gemm, "matrix"), (vseq, "vector"), (dma, "dma")):
            connect(m, unit.done, getattr(dispatch, f"{name}_done"))
            connect(m, unit.error, getattr(dispatch, f"{name}_error"))
        connect(m, vseq.result, dispatch.result)

        # The units and their datapaths.
        connect(m, gemm.beat, engine.i)
        connect(m, gemm.c, engine.c)
        connect(m, engine.o, gemm.d)
        connect(m, gemm.cfg, engine.cfg)
        connect(m, vseq.req, vector_unit.i)
        connect(m, vector_unit.o, vseq.resp)

        if self.mesh is not None:
            self._network(m, units)

        # Shared scratchpad ports: two requesters each.
        for port, users in (SHARED_PORTS if self.mesh is None else MESH_SHARED_PORTS).items():
            share = units[f"share_{port}"]
            connect(m, share.port_req, getattr(sram, f"{port}_req"))
            connect(m, getattr(sram, f"{port}_resp"), share.port_resp)
            for k, (owner, prefix) in enumerate(users):
                owner = self if owner == "host" else units[owner]
                req, resp = getattr(owner, f"{prefix}_req"), getattr(owner, f"{prefix}_resp")
                if owner is self:
                    connect(m, flipped(req), share.req[k])
                    connect(m, share.resp[k], flipped(resp))
                else:
                    connect(m, req, share.req[k])
                    connect(m, share.resp[k], resp)

        # Counters, trace and monitors.
        m.d.comb += [
            counters.cause[0].eq(gemm.stall), counters.cause[1].eq(vseq.stall),
            counters.cause[2].eq(dma.stall),
            counters.running.eq(scalar.running), counters.waiting.eq(dispatch.waiting),
            counters.activity.eq(scalar.activity),
            counters.index.eq(dispatch.counter), dispatch.counter_value.eq(counters.value),
            counters.host_index.eq(self.counter_index), self.counter_value.eq(counters.host_value),
        ]
        for t in range(cfg.threads):
            m.d.comb += counters.retired[t].eq(
                (scalar.retire.valid & (scalar.retire.payload.thread == t)).as_unsigned()
                + (scalar.retire_late.valid & (scalar.retire_late.payload.thread == t)))
        connect(m, scalar.retire, flipped(self.retire))
        connect(m, scalar.retire_late, flipped(self.retire_late))
        req = scalar.data_req
        m.d.comb += [
            self.running.eq(scalar.running),
            self.store.valid.eq(req.valid & req.ready & (req.payload.op == Op.WRITE)),
            self.store.addr.eq(req.payload.addr), self.store.data.eq(req.payload.data),
            self.store.mask.eq(req.payload.mask),
            self.semaphores.eq(dispatch.semaphores), self.waiting.eq(dispatch.waiting),
            self.outstanding.eq(dispatch.outstanding), self.sram_status.eq(sram.status),
            sram.inject.valid.eq(0),
        ]
        return m

    def _network(self, m, units):
        """The network interface: its two sides between the router's streams, the DMA engine
        and the semaphores (docs/mesh.md)."""
        dma, rx, tx = units["dma"], units["ni_rx"], units["ni_tx"]
        m.d.comb += [dma.here.eq(self.here), tx.here.eq(self.here)]
        connect(m, flipped(self.eject[0]), rx.req)
        connect(m, rx.answer, flipped(self.inject[1]))
        connect(m, rx.signal, units["dispatch"].net_signal)
        connect(m, dma.net, tx.net)
        connect(m, tx.answer, dma.net_ans)
        connect(m, tx.req, flipped(self.inject[0]))
        connect(m, flipped(self.eject[1]), tx.resp)
        connect(m, units["dispatch"].notify, tx.notify)
        connect(m, tx.direct, units["dispatch"].net_answer)
        m.d.comb += [self.net_failed.eq(tx.failed), self.net_refused.eq(rx.errors)]
        p, cmd, done = self.probe, units["dispatch"].dma, dma.done

        def took(s):
            return s.valid & s.ready

        m.d.comb += [
            p.dma_take.eq(took(cmd)), p.dma_held.eq(cmd.valid & ~cmd.ready),
            p.dma_desc.eq(done.valid & ~done.payload.last),
            p.dma_list.eq(done.valid & done.payload.last),
            p.remote_end.eq(took(dma.net) & dma.net.payload.end),
            p.remote_answer.eq(tx.answer.valid),
            p.tx_held.eq(dma.net.valid & ~dma.net.ready),
            p.tx_blocked.eq(tx.req.valid & ~tx.req.ready),
            p.rx_held.eq(rx.req.valid & ~rx.req.ready),
            p.rx_write.eq(took(rx.wr_req)), p.rx_written.eq(took(rx.wr_resp)),
            p.rx_pull.eq(took(rx.rd_req)), p.rx_pulled.eq(took(rx.rd_resp)),
            p.rx_blocked.eq(rx.answer.valid & ~rx.answer.ready),
        ]

