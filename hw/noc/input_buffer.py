"""The input buffer of one router input: a FIFO per virtual channel (docs/noc.md, "Router")."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from hw.common.params import check_pow2

from .flit import Flit
from .routing import Port

__all__ = ["InputBuffer", "ROUTE_BITS", "OUTPUTS", "onehot"]

#: Bits of a route: a `hw.noc.routing.Port` code.
ROUTE_BITS = 3
#: The router's outputs, one per `Port` code LOCAL to DROP (codes 6 and 7 count as DROP).
OUTPUTS = Port.DROP.value + 1


def onehot(route):
    """The set over the `OUTPUTS` of a unicast route (a `Port` code; codes 6 and 7 are DROP)."""
    return Cat((route == o) if o < Port.DROP.value else (route >= o) for o in range(OUTPUTS))


class InputBuffer(wiring.Component):
    """``fifos`` FIFOs of ``depth`` flits (of layout ``flit``) each, a memory each, with each
    flit's route and output virtual channel kept beside it.

    Parameters (keyword-only)
    -------------------------
    fifos : int
        FIFOs, a power of two in ``1..16`` (one per virtual channel the input carries).
    depth : int
        Flits per FIFO, a power of two in ``1..64``.
    vc_bits : int
        Width of a virtual-channel number (`hw.noc.router.vc_bits`).
    flit : layout
        The flit layout (`Flit` by default).

    Members
    -------
    w_valid, w_fifo, w_flit, w_out, w_vc : ``In``
        A write of ``w_flit`` with its outputs (a set over the `OUTPUTS`, bit ``o`` for `Port`
        code ``o``: one bit for a unicast packet, several for a multicast one) and output
        channel to FIFO ``w_fifo``.
    full, nonempty : ``Out(fifos)``
        Per FIFO.
    head_out : ``Out(OUTPUTS).array(fifos)``; head_vc : ``Out(vc_bits).array(fifos)``
        Each FIFO head's outputs still to take (a set over the outputs) and its output channel.
    r_sel : ``In(fifos)``; r_pop : ``In(1)``; r_keep : ``In(OUTPUTS)``; r_flit : ``Out(flit)``
        Read side: the one-hot FIFO whose head is on ``r_flit``, read when ``r_pop``; the head
        keeps the outputs of its set that are in ``r_keep`` (the ones it has still to take) and
        is removed when none is left (``r_keep`` 0, the default: removed at once).
    popped : ``Out(1)``
        A head was removed in this cycle (an entry freed: a credit back to the sender).
    overrun : ``Out(1)``
        A write into a full FIFO in this cycle.

    Contract
    --------
    Write side: when ``w_valid``, the flit ``w_flit`` with ``w_route`` and ``w_vc`` is appended to
    FIFO ``w_fifo``. The writer keeps to the free space (``full`` per FIFO, credits upstream); a
    write into a full FIFO is not stored and raises ``overrun`` for that cycle.

    Read side: ``nonempty``, ``head_out`` (the outputs as a vector over the `OUTPUTS`, given
    decoded on the way in so that allocation needs no decoder) and ``head_vc`` describe every
    FIFO's head; ``r_sel``
    (one-hot) chooses a FIFO whose head flit appears on ``r_flit`` in the same cycle, and
    ``r_pop`` reads it: it is removed unless it keeps outputs of ``r_keep`` (a multicast
    packet's branches still to go: its copies leave one output at a time, and its entry is
    freed after the last). A write and a pop of one FIFO in one cycle are both done.
    """

    def __init__(self, *, fifos, depth, vc_bits, flit=Flit):
        check_pow2("fifos", fifos, 1, 16)
        check_pow2("depth", depth, 1, 64)
        self.fifos, self.depth, self.flit = fifos, depth, flit
        fifo_bits = max(1, ceil_log2(fifos))
        super().__init__({
            "w_valid": In(1), "w_fifo": In(fifo_bits), "w_flit": In(flit),
            "w_out": In(OUTPUTS), "w_vc": In(vc_bits),
            "full": Out(fifos), "nonempty": Out(fifos),
            "head_out": Out(OUTPUTS).array(fifos), "head_vc": Out(vc_bits).array(fifos),
            "r_sel": In(fifos), "r_pop": In(1), "r_keep": In(OUTPUTS), "r_flit": Out(flit),
            "popped": Out(1), "overrun": Out(1),
        })
        # Not ports: what the router's formal properties (``verif/noc/formal.py``) observe;
        # synthesis removes them.
        #: Each FIFO's head flit (what ``r_flit`` shows when ``r_sel`` selects that FIFO), read
        #: at the head pointer early in the cycle: the router decodes headers from it before
        #: its allocation is known.
        self.heads = [Signal(flit, name=f"head_flit{f}") for f in range(fifos)]
        #: The flits held, all FIFOs together.
        self.level = Signal(range(fifos * depth + 1))
        #: The flits held per FIFO.
        self.levels = [Signal(ceil_log2(depth) + 1, name=f"level{f}") for f in range(fifos)]
        #: High while the state is one the buffer can reach with unicast packets: no FIFO holds
        #: more than ``depth`` flits, and the route of every flit held is one-hot over the
        #: outputs (the strengthening invariants of the router's k-induction proofs, which
        #: keep multicast out, docs/noc.md "Multicast").
        self.invariant = Signal()

    def elaborate(self, platform):
        m = Module()
        fifos, depth = self.fifos, self.depth
        ptr_bits = ceil_log2(depth)
        vc_bits = len(self.w_vc)
        meta = data.StructLayout({"out": OUTPUTS, "vc": vc_bits})
        w_out = self.w_out
        reachable = []  # the terms of `invariant`
        heads = []  # each FIFO's head flit
        pops = []  # each FIFO's removal of its head

        for f in range(fifos):
            # Pointers with a wrap bit above the index: equal when empty, equal but for the
            # wrap bit when full. A pop only enables the head's increment (no count to update
            # at the end of the allocation stage).
            head_w = Signal(ptr_bits + 1, name=f"head{f}")
            tail_w = Signal(ptr_bits + 1, name=f"tail{f}")
            head, tail = head_w[:ptr_bits], tail_w[:ptr_bits]
            # Route and channel of the flits in order, the head's in entry 0: a shift register,
            # so that allocation reads the head's from flip-flops, not through a mux.
            metas = [Signal(meta, name=f"meta{f}_{e}") for e in range(depth)]
            push = Signal(name=f"push{f}")
            pop = Signal(name=f"pop{f}")
            # Read and kept: a multicast head that has outputs left drops the one it took.
            branch = Signal(name=f"branch{f}")
            m.d.comb += [
                self.full[f].eq((head_w ^ tail_w) == depth),
                self.nonempty[f].eq(head_w != tail_w),
                self.head_out[f].eq(metas[0].out),
                self.head_vc[f].eq(metas[0].vc),
                push.eq(self.w_valid & (self.w_fifo == f) & ~self.full[f]),
                branch.eq(self.r_pop & self.r_sel[f] & self.nonempty[f]
                          & (metas[0].out & self.r_keep).any()),
                pop.eq(self.r_pop & self.r_sel[f] & self.nonempty[f]
                       & ~(metas[0].out & self.r_keep).any()),
            ]
            pops.append(pop)
            level = self.levels[f]
            m.d.comb += level.eq(tail_w - head_w)
            reachable.append(level <= depth)
            for e in range(depth):
                out = metas[e].out
                reachable.append((level <= e) | (out.any() & ((out & (out - 1)[:OUTPUTS]) == 0)))
            incoming = Cat(w_out, self.w_vc)
            for e in range(depth):
                entry = metas[e].as_value()
                with m.If(pop):
                    # Everything moves one entry forward; a flit pushed in this cycle lands
                    # behind the last one left.
                    with m.If(push & (level == e + 1)):
                        m.d.sync += entry.eq(incoming)
                    with m.Elif(e + 1 < depth):
                        m.d.sync += entry.eq(metas[min(e + 1, depth - 1)].as_value())
                with m.Elif(push & (level == e)):
                    m.d.sync += entry.eq(incoming)
                if e == 0:
                    with m.Elif(branch):
                        m.d.sync += metas[0].out.eq(metas[0].out & self.r_keep)
            with m.If(push):
                m.d.sync += tail_w.eq(tail_w + 1)
            with m.If(pop):
                m.d.sync += head_w.eq(head_w + 1)
            # A memory per FIFO, read at its head pointer (a register): every head flit is out
            # early in the cycle, and the allocator's late choice only selects among them.
            mem = memory.Memory(shape=self.flit, depth=depth, init=[])
            m.submodules[f"mem{f}"] = mem
            wp = mem.write_port()
            rp = mem.read_port(domain="comb")
            m.d.comb += [wp.addr.eq(tail), wp.data.eq(self.w_flit), wp.en.eq(push),
                         rp.addr.eq(head)]
            m.d.comb += self.heads[f].eq(rp.data)
            heads.append(self.heads[f].as_value())
        flit_bits = len(heads[0])
        r_flit = 0
        for f in range(fifos):
            r_flit = r_flit | (self.r_sel[f].replicate(flit_bits) & heads[f])
        m.d.comb += [
            self.r_flit.eq(r_flit),
            self.popped.eq(Cat(pops).any()),
            self.overrun.eq(self.w_valid & ~(self.w_fifo < fifos)
                            | self.w_valid & self.full.bit_select(self.w_fifo, 1)),
            self.level.eq(sum(self.levels)),
            self.invariant.eq(Cat(reachable).all()),
        ]
        return m
