"""The 5-port mesh router (docs/noc.md, section "Router")."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from hw.common.arbiter import RoundRobinArbiter
from hw.common.params import check_int, check_pow2

from .flit import ANSWERED, COORD_BITS, PAYLOAD_BITS, MsgClass, Opcode, flit_layout, rect_of
from .input_buffer import OUTPUTS, ROUTE_BITS, InputBuffer, onehot
from .routing import HOST, MAX_SIDE, Port, Turn, multicast_outputs

__all__ = ["Router", "link_signature", "table_write_layout", "lane_of", "inject_fifo_of",
           "vc_bits", "DIRECTIONS",
           "VCS_MAX", "DEPTH_MAX", "DROPPED_BITS", "ERROR_DEPTH", "CLASSES", "INPUTS"]

#: The four link directions, in the order of ``link_in``/``link_out`` (Port code - 1).
DIRECTIONS = (Port.NORTH, Port.EAST, Port.SOUTH, Port.WEST)
#: Most virtual channels per class and buffer flits per channel (each a power of two).
VCS_MAX = 4
DEPTH_MAX = 16
#: Width of the saturating count of dropped packets.
DROPPED_BITS = 16
#: Entries of the queue of ERROR answers waiting to leave.
ERROR_DEPTH = 2
#: Number of message classes (`MsgClass`).
CLASSES = 2
#: The allocator's inputs: the inject FIFOs of each class, the four links, the ERROR queue.
INPUTS = CLASSES + len(DIRECTIONS) + 1


def _asks(header):
    """A packet with ``header``, if dropped, is answered with an ERROR response: a READ or WRITE
    request (`ANSWERED`)."""
    return (header.cls == MsgClass.REQUEST) & Cat(header.op == op for op in ANSWERED).any()


def vc_bits(vcs):
    """Bits of a virtual-channel number with ``vcs`` channels per class."""
    return max(1, ceil_log2(CLASSES * vcs))


def link_signature(vcs, payload_bits=PAYLOAD_BITS):
    """One direction of a link, seen from its sender: a flit with ``valid`` and its virtual
    channel ``vc``, and the credit return (``credit_valid``, ``credit_vc``: one buffer entry of
    that channel was freed) from the receiver."""
    return wiring.Signature({
        "valid": Out(1), "vc": Out(vc_bits(vcs)), "flit": Out(flit_layout(payload_bits)),
        "credit_valid": In(1), "credit_vc": In(vc_bits(vcs)),
    })


def table_write_layout(entries):
    """A route-table write into a table of ``entries`` entries (a router's: one per node, then
    the host entry): entry ``dst`` gets route ``port`` and lookahead ``turn`` (what the packet
    does at the next router, `hw.noc.routing.turn_words`)."""
    return data.StructLayout({"dst": range(entries), "port": Port, "turn": Turn})


def lane_of(turn, vcs):
    """The channel within its class of a packet whose `Turn` at the next router is ``turn`` (a
    2-bit value), with ``vcs`` channels per class: with two, STRAIGHT on channel 0 and the
    rest (OUT, LEFT, RIGHT) on channel 1; with four, each its own."""
    return turn[:2] if vcs == 4 else turn.any() if vcs == 2 else turn[:0]


def inject_fifo_of(port, vcs):
    """The inject FIFO of a packet whose route here is ``port`` (a 3-bit `Port` code), with
    ``vcs`` FIFOs per class: port-code bits that keep NORTH from SOUTH and EAST from WEST."""
    return port[:2] if vcs == 4 else port[1] if vcs == 2 else port[:0]


class Router(wiring.Component):
    """A 5-port router of a ``width`` × ``height`` mesh (docs/noc.md, "Router").

    Parameters (keyword-only)
    -------------------------
    width, height : int
        The mesh's sides, ``1..16``: the route table has an entry per node.
    vcs : int
        Virtual channels per class, 1, 2 or 4.
    depth : int
        Buffer flits per virtual channel of each input, a power of two in ``1..16``.
    payload_bits : int
        Payload of a flit, ``1..512``: flits of `hw.noc.flit.flit_layout` ``(payload_bits)``
        (the 64-byte `Flit` by default).

    Members
    -------
    inject : ``In(stream.Signature(flit)).array(CLASSES)``; eject : ``Out(...)`` likewise
        The local core's streams of class ``c`` (`MsgClass`), one each way per class so that
        neither class can block the other at the endpoint.
    link_in, link_out : ``In(link_signature(vcs, payload_bits)).array(4)``; ``Out(...)``
        The links to the neighbours in `DIRECTIONS` order, credit-based.
    cfg : ``In(stream.Signature(table_write_layout(width * height + 1)))``
        Route-table writes, always ready: entry ``dst`` < ``width * height`` is destination
        ``dst``'s, entry ``width * height`` the host entry (`hw.noc.routing.HOST`).
    here : ``In(data.StructLayout({"x": COORD_BITS, "y": COORD_BITS}))``
        The router's place in the mesh, tied to constants by the mesh (every router is one
        module): multicast trees are computed from it, not looked up.
    dropped : ``Out(DROPPED_BITS)``
        Packets removed, saturating.
    overrun : ``Out(1)``
        Sticky: a link delivered a flit into a full buffer (a credit-protocol fault of the
        sender; the flit is lost).

    Contract
    --------

    * Virtual channels: channel ``c * vcs + k`` is channel ``k`` of class ``c``; on each link a
      packet takes the channel ``k = lane_of(turn, vcs)`` of its class, by the `Turn` it takes
      at the next router (the lookahead half of this router's table entry for its destination),
      so that a FIFO holds packets that want few outputs. The choice depends only on (router,
      destination, class): packets of one (source, destination, class) share one path and one
      FIFO at every hop and arrive in the order they were injected.
    * Each link input has ``depth`` flits of buffer per virtual channel; the sender holds one
      credit per entry and sends only with a credit. Each inject stream has ``vcs`` FIFOs of
      ``depth``, chosen by the packet's route here (`inject_fifo_of`); its ``ready`` is the room
      in the FIFO of the offered packet.
    * The route of a packet is looked up when it enters a buffer: the table entry of its
      destination id ``dst_y * width + dst_x``; for a destination outside the mesh, the host
      entry when it is `hw.noc.routing.HOST` (the host's address, docs/mesh.md "The host's
      reads"), else DROP. A LOCAL packet leaves on ``eject[cls]``, a DROP packet is removed
      and counted; a READ or WRITE request is then answered with an ERROR response (header:
      source and destination swapped, class RESPONSE, opcode ERROR; address, tag and payload
      kept) sent to its source like any other packet (removed and counted in turn if the
      source is bad too).
    * Zero load: a packet written into an input buffer in one cycle is on the next link (or the
      eject register) in the next: two cycles per hop, link included.
    * Allocation (output first, one iteration): each input asks for every output one of its
      FIFO heads can go to (credit, free eject register, room in the ERROR queue); each output
      grants one of the inputs asking for it, round robin; each input accepts one of the
      outputs granting it, round robin, and sends the head of the FIFO its arbiter for that
      output picked. One flit per output and per input per cycle; a waiting flit is granted
      within a bounded number of cycles once its output stays free.
    * Multicast (``mcast`` in the header): the packet's outputs here are
      `hw.noc.routing.multicast_outputs` of ``here``, its rectangle and the input it came in
      on (a dimension-ordered tree); it is removed (DROP, as above) when the rectangle does
      not fit the mesh or the router is not live (its table's entry for ``here`` is not
      LOCAL: a dead or unconfigured router). Its copies leave one output per cycle, each
      taking the class's last channel on its link (and the last inject FIFO); the buffer
      entry is freed, and its credit returned, after the last copy (asynchronous
      replication). A multicast packet's ERROR answer is a unicast packet.
    * Route tables reset to DROP (the host entry too): a router that was never configured
      removes every packet.
    """

    def __init__(self, *, width, height, vcs=1, depth=4, payload_bits=PAYLOAD_BITS):
        check_int("width", width, 1, MAX_SIDE)
        check_int("height", height, 1, MAX_SIDE)
        check_pow2("vcs", vcs, 1, VCS_MAX)
        check_pow2("depth", depth, 1, DEPTH_MAX)
        check_int("payload_bits", payload_bits, 1, PAYLOAD_BITS)
        self.width, self.height, self.vcs, self.depth = width, height, vcs, depth
        self.payload_bits = payload_bits
        self.flit = flit_layout(payload_bits)
        self.entries = width * height
        # Not ports: what the formal properties (``verif/noc/formal.py``) observe; synthesis
        # removes them. Bit ``u * OUTPUTS + o`` of the first three is input ``u`` and output
        # ``o``: input u's pick asks for o; o has room for the channel of u's pick; o grants u.
        self.alloc_want = Signal(INPUTS * OUTPUTS)
        self.alloc_room = Signal(INPUTS * OUTPUTS)
        self.alloc_grant = Signal(INPUTS * OUTPUTS)
        #: The flits held in the buffers, the answer register and the drop register.
        self.held = Signal(range(self.capacity() + 1))
        #: High in a cycle in which an ERROR answer (a new flit) waits in the answer register.
        self.answered = Signal()
        #: The drop register: high in a cycle in which a dropped flit waits in it (counted in
        #: ``dropped`` next).
        self.dropping = Signal()
        nvc = CLASSES * vcs
        #: The credits for each link output and channel, in `DIRECTIONS` order, in thermometer
        #: code (bit k: more than k credits): an update is a shift, not an add, at the end of
        #: the allocation stage.
        self.credits = [[Signal(depth, init=(1 << depth) - 1, name=f"credit_{p.name.lower()}{v}")
                         for v in range(nvc)] for p in DIRECTIONS]
        #: The flits held per allocator input (inject per class, links, ERROR queue).
        self.input_levels = [Signal(range(nvc * depth + 1), name=f"input_level{u}")
                             for u in range(INPUTS)]
        #: The flits held per link input and channel.
        self.link_levels = [[Signal(ceil_log2(depth) + 1, name=f"held_{p.name.lower()}{v}")
                             for v in range(nvc)] for p in DIRECTIONS]
        #: High while the state is one the router can reach (the strengthening invariants of
        #: the k-induction proofs): every buffer's (`InputBuffer.invariant`), each credit count
        #: a thermometer code, and the ERROR queue with the answer waiting for it within
        #: ``ERROR_DEPTH``.
        self.invariant = Signal()
        link = link_signature(vcs, payload_bits)
        flits = stream.Signature(self.flit)
        super().__init__({
            "inject": In(flits).array(CLASSES),
            "eject": Out(flits).array(CLASSES),
            "link_in": In(link).array(len(DIRECTIONS)),
            "link_out": Out(link).array(len(DIRECTIONS)),
            "cfg": In(stream.Signature(table_write_layout(self.entries + 1))),
            "here": In(data.StructLayout({"x": COORD_BITS, "y": COORD_BITS})),
            "dropped": Out(DROPPED_BITS),
            "overrun": Out(1),
        })

    def capacity(self):
        """Flits the router can hold besides its output registers: the input buffers, the
        ERROR queue, the answer and drop registers."""
        nvc = CLASSES * self.vcs
        return (CLASSES * self.vcs + len(DIRECTIONS) * nvc) * self.depth + ERROR_DEPTH + 2

    def _route_table(self, m):
        """The route table (and the host entry), written through ``cfg``; returns ``lookup``:
        a packet header's outputs here, its virtual channel on the next link and its unicast
        route."""
        vcs = self.vcs
        # --- route table, written through cfg ---
        entry = data.StructLayout({"port": Port, "turn": Turn})
        table = Array(Signal(entry, init={"port": Port.DROP}, name=f"route{d}")
                      for d in range(self.entries))
        m.d.comb += self.cfg.ready.eq(1)
        # The host entry: the route of packets for the host (outside the mesh), written as
        # entry `entries`.
        host = Signal(entry, init={"port": Port.DROP}, name="route_host")
        with m.If(self.cfg.valid & (self.cfg.payload.dst < self.entries)):
            m.d.sync += [table[self.cfg.payload.dst].port.eq(self.cfg.payload.port),
                         table[self.cfg.payload.dst].turn.eq(self.cfg.payload.turn)]
        with m.Elif(self.cfg.valid & (self.cfg.payload.dst == self.entries)):
            m.d.sync += [host.port.eq(self.cfg.payload.port),
                         host.turn.eq(self.cfg.payload.turn)]
        # Live: the table delivers this router's own id locally (a register, kept beside the
        # table, so that no lookup at ``here`` sits on the input path). A dead router is never
        # configured and removes multicast packets as it removes the others.
        live = Signal()
        with m.If(self.cfg.valid
                  & (self.cfg.payload.dst == self.here.y * self.width + self.here.x)):
            m.d.sync += live.eq(self.cfg.payload.port == Port.LOCAL)

        def lookup(header, came):
            """The packet's outputs here (a set over the `OUTPUTS`), its virtual channel on the
            next link and its unicast route (a `Port` code). Unicast: the table entry of its
            destination (outside the mesh, the host entry for the host, else DROP); the
            channel is the class's channel `lane_of` the turn it takes at the next router.
            Multicast: `multicast_outputs` for a packet that came in through ``came``, on the
            class's last channel."""
            x, y = header.dst_x, header.dst_y
            inside, is_host = Signal(), Signal()
            m.d.comb += [inside.eq((x < self.width) & (y < self.height)),
                         is_host.eq((x == HOST[0]) & (y == HOST[1]))]
            found = table[y * self.width + x]
            route = Mux(inside, found.port, Mux(is_host, host.port, Port.DROP.value))
            lane = lane_of(Mux(inside, found.turn.as_value(), host.turn.as_value()), vcs)
            rect = rect_of(header)
            outs = multicast_outputs((self.here.x, self.here.y), rect, came)
            fork = Cat(Const(outs[Port(o)], 1) if isinstance(outs[Port(o)], bool)
                       else outs[Port(o)] for o in range(Port.DROP.value))
            forks = Signal(OUTPUTS)
            m.d.comb += forks.eq(Mux(live & rect.fits(self.width, self.height) & fork.any(),
                                     fork, 1 << Port.DROP.value))
            outputs = Mux(header.mcast, forks, onehot(route))
            if vcs > 1:
                vc = Cat(Mux(header.mcast, vcs - 1, lane), header.cls.as_value())
            else:
                vc = header.cls.as_value()
            return outputs, vc, route

        return lookup

    def elaborate(self, platform):
        m = Module()
        vcs, depth = self.vcs, self.depth
        nvc = CLASSES * vcs
        vcb = vc_bits(vcs)

        lookup = self._route_table(m)

        # --- inputs: inject per class, links N/E/S/W, the ERROR queue ---
        units = []  # (buffer, the fifo index of each of its FIFOs, credit register or None)
        for c in range(CLASSES):
            # One FIFO per channel of the class, as on the links: a packet waiting for a busy
            # output does not hold up the packets of the other channels behind it.
            buf = InputBuffer(fifos=vcs, depth=depth, vc_bits=vcb, flit=self.flit)
            m.submodules[f"inject{c}"] = buf
            inj = self.inject[c]
            hdr = inj.payload.header
            route = Signal(ROUTE_BITS, name=f"inject_route{c}")
            outs = Signal(OUTPUTS, name=f"inject_outs{c}")
            outs_here, vc, route_here = lookup(hdr, Port.LOCAL)
            # A packet of the other class on this stream is dropped (and counted).
            ours = hdr.cls == MsgClass(c)
            m.d.comb += [route.eq(Mux(ours, route_here, Port.DROP.value)),
                         outs.eq(Mux(ours, outs_here, 1 << Port.DROP.value))]
            # Multicast packets take the last FIFO, whatever their outputs here: the packets
            # of one (source, rectangle) stay in one FIFO, in order.
            fifo = Mux(hdr.mcast & ours, vcs - 1, inject_fifo_of(route, vcs)) if vcs > 1 else 0
            m.d.comb += [
                inj.ready.eq(~buf.full.bit_select(fifo, 1)),
                buf.w_valid.eq(inj.valid), buf.w_fifo.eq(fifo), buf.w_flit.eq(inj.payload),
                buf.w_out.eq(outs), buf.w_vc.eq(vc),
            ]
            units.append((buf, None))
        overruns = []
        for d in range(len(DIRECTIONS)):
            buf = InputBuffer(fifos=nvc, depth=depth, vc_bits=vcb, flit=self.flit)
            m.submodules[f"in_{DIRECTIONS[d].name.lower()}"] = buf
            li = self.link_in[d]
            outs, vc, _ = lookup(li.flit.header, DIRECTIONS[d])
            m.d.comb += [
                buf.w_valid.eq(li.valid), buf.w_fifo.eq(li.vc), buf.w_flit.eq(li.flit),
                buf.w_out.eq(outs), buf.w_vc.eq(vc),
            ]
            overruns.append(buf.overrun)
            units.append((buf, li))
            m.d.comb += [self.link_levels[d][v].eq(buf.levels[v]) for v in range(nvc)]
        # The ERROR queue: a dropped request that asks for an answer waits one cycle in
        # `answer` (its route is looked up there), then enters this buffer.
        err = InputBuffer(fifos=1, depth=ERROR_DEPTH, vc_bits=vcb, flit=self.flit)
        m.submodules.errors = err
        answer = Signal(self.flit)
        answer_valid = Signal()
        outs, vc, _ = lookup(answer.header, Port.LOCAL)  # answers are unicast
        m.d.comb += [
            err.w_valid.eq(answer_valid), err.w_fifo.eq(0), err.w_flit.eq(answer),
            err.w_out.eq(outs), err.w_vc.eq(vc),
        ]
        units.append((err, None))
        n_in = len(units)

        # --- what each output can take this cycle, per virtual channel ---
        n_out = OUTPUTS
        free = [Signal(nvc, name=f"free_{Port(o).name.lower()}") for o in range(n_out)]
        credits = self.credits
        for d in range(len(DIRECTIONS)):
            m.d.comb += free[d + 1].eq(Cat(credits[d][v][0] for v in range(nvc)))
        ej = self.eject
        ej_free = [~ej[c].valid | ej[c].ready for c in range(CLASSES)]
        m.d.comb += free[Port.LOCAL.value].eq(Cat(ej_free[v // vcs] for v in range(nvc)))
        # A drop may need room in the ERROR queue, counting the answer waiting in `answer`:
        # with two entries, room unless full, or holding one while an answer waits (as gates,
        # not as a sum and a compare: this starts the allocation stage's longest path).
        assert ERROR_DEPTH == 2
        m.d.comb += free[Port.DROP.value].eq(
            (~err.full[0] & ~(err.nonempty[0] & answer_valid)).replicate(nvc))

        # --- allocation: requests from every FIFO head, output grant, input accept ---
        # `fit[u][f]`: the outputs FIFO f of input u can go to this cycle (its head's route,
        # if that output has room for the head's channel); input u asks for every output one
        # of its FIFOs fits. Beside the output arbiters, each (input, output) pair picks which
        # of the input's FIFOs would go there, so that the input's accept only chooses an
        # output (docs/noc.md, "Allocation").
        requests, pick, pick_vc, answers = [], [], [], []
        accepted = [Signal(n_out, name=f"accepted{u}") for u in range(n_in)]
        for u, (buf, _) in enumerate(units):
            n_f = buf.fifos
            fit = [Signal(n_out, name=f"fit{u}_{f}") for f in range(n_f)]
            for f in range(n_f):
                m.d.comb += fit[f].eq(buf.head_out[f] & buf.nonempty[f].replicate(n_out) & Cat(
                    free[o].bit_select(buf.head_vc[f], 1) for o in range(n_out)))
            req = Signal(n_out, name=f"request{u}")
            m.d.comb += req.eq(Cat(Cat(fit[f][o] for f in range(n_f)).any()
                                   for o in range(n_out)))
            requests.append(req)
            picks, vcs_at = [], []
            for o in range(n_out):
                arb = RoundRobinArbiter(n=n_f)
                m.submodules[f"fifo_arb{u}_{Port(o).name.lower()}"] = arb
                m.d.comb += [arb.requests.eq(Cat(fit[f][o] for f in range(n_f))),
                             arb.advance.eq(accepted[u][o])]
                vc = Signal(vcb, name=f"vc_at{u}_{Port(o).name.lower()}")
                for f in range(n_f):
                    with m.If(arb.grant[f]):
                        m.d.comb += vc.eq(buf.head_vc[f])
                picks.append(arb.grant)
                vcs_at.append(vc)
            pick.append(picks)
            pick_vc.append(vcs_at)
            # Whether the flit this input would drop asks for an ERROR answer, from the head
            # flits before the accept: the answer register's enable is not on the switch path.
            asks = Signal(name=f"asks{u}")
            m.d.comb += asks.eq(Cat(picks[Port.DROP.value][f] & _asks(buf.heads[f].header)
                                    for f in range(n_f)).any())
            answers.append(asks)

        # --- output arbiters: each grants one input asking for it; the grant stays on an
        # input that does not accept it while that input asks ---
        offers = []
        for o in range(n_out):
            arb = RoundRobinArbiter(n=n_in)
            m.submodules[f"out_arb_{Port(o).name.lower()}"] = arb
            m.d.comb += [arb.requests.eq(Cat(requests[u][o] for u in range(n_in))),
                         arb.advance.eq(Cat(accepted[u][o] for u in range(n_in)).any())]
            offers.append(arb.grant)

        # --- input accept: each input takes one of the outputs that granted it ---
        sel_flit = []
        won = [Signal(name=f"won{u}") for u in range(n_in)]
        for u, (buf, _) in enumerate(units):
            arb = RoundRobinArbiter(n=n_out, always_advance=True)
            m.submodules[f"accept{u}"] = arb
            m.d.comb += [arb.requests.eq(Cat(offers[o][u] for o in range(n_out))),
                         accepted[u].eq(arb.grant), won[u].eq(arb.grant.any())]
            sel = Signal(buf.fifos, name=f"sel{u}")
            m.d.comb += [
                sel.eq(Cat(Cat(arb.grant[o] & pick[u][o][f] for o in range(n_out)).any()
                           for f in range(buf.fifos))),
                # The head keeps the outputs it has not taken yet (a multicast packet's other
                # branches); a unicast head, or a multicast one's last branch, is removed.
                buf.r_sel.eq(sel), buf.r_pop.eq(won[u]), buf.r_keep.eq(~arb.grant),
            ]
            sel_flit.append(buf.r_flit)
        grants = [Cat(accepted[u][o] for u in range(n_in)) for o in range(n_out)]
        assert n_in == INPUTS
        m.d.comb += [
            self.alloc_want.eq(Cat(requests)),
            self.alloc_room.eq(Cat(free[o].bit_select(pick_vc[u][o], 1)
                                   for u in range(n_in) for o in range(n_out))),
            self.alloc_grant.eq(Cat(accepted)),
        ]

        def switch(o):
            flit = Signal(self.flit, name=f"xbar_{Port(o).name.lower()}")
            vc = Signal(vcb, name=f"xbar_vc_{Port(o).name.lower()}")
            bits, vcs_ = 0, 0
            for u in range(n_in):
                bits |= grants[o][u].replicate(len(flit.as_value())) & sel_flit[u].as_value()
                vcs_ |= grants[o][u].replicate(vcb) & pick_vc[u][o]
            m.d.comb += [flit.as_value().eq(bits), vc.eq(vcs_)]
            return flit, vc

        for d in range(len(DIRECTIONS)):
            o = d + 1
            flit, vc = switch(o)
            lo = self.link_out[d]
            go = grants[o].any()
            m.d.sync += lo.valid.eq(go)
            with m.If(go):
                m.d.sync += [lo.flit.eq(flit), lo.vc.eq(vc)]
            for v in range(nvc):
                # The channel of the flit each input would send here, decoded beside the
                # output arbiters, before the accept is known.
                taken = Cat(accepted[u][o] & (pick_vc[u][o] == v) for u in range(n_in)).any()
                back = lo.credit_valid & (lo.credit_vc == v)
                credit = credits[d][v]
                with m.If(taken & ~back):
                    m.d.sync += credit.eq(credit >> 1)
                with m.Elif(back & ~taken):
                    m.d.sync += credit.eq(Cat(1, credit[:-1]))

        flit, vc = switch(Port.LOCAL.value)
        go = grants[Port.LOCAL.value].any()
        for c in range(CLASSES):
            # The class of the channel (its top bit), not of the header: the room the
            # allocator checked was this class's eject register.
            with m.If(go & (vc[-1] == c)):
                m.d.sync += [ej[c].valid.eq(1), ej[c].payload.eq(flit)]
            with m.Elif(ej[c].ready):
                m.d.sync += ej[c].valid.eq(0)

        # --- credits back to the senders on the links ---
        for u, (buf, li) in enumerate(units):
            if li is None:
                continue
            index = Signal(vcb, name=f"credit_index{u}")
            for f in range(buf.fifos):
                with m.If(buf.r_sel[f]):
                    m.d.comb += index.eq(f)
            m.d.sync += [li.credit_valid.eq(buf.popped), li.credit_vc.eq(index)]

        # --- drops: count, and answer the requests that ask for one ---
        flit, _ = switch(Port.DROP.value)
        go = grants[Port.DROP.value].any()
        hdr = flit.header
        asks = Cat(grants[Port.DROP.value][u] & answers[u] for u in range(n_in)).any()
        m.d.sync += answer_valid.eq(go & asks)
        with m.If(go & asks):
            m.d.sync += [
                answer.data.eq(flit.data),
                answer.header.eq(hdr),
                answer.header.dst_x.eq(hdr.src_x), answer.header.dst_y.eq(hdr.src_y),
                answer.header.src_x.eq(hdr.dst_x), answer.header.src_y.eq(hdr.dst_y),
                answer.header.cls.eq(MsgClass.RESPONSE), answer.header.op.eq(Opcode.ERROR),
                answer.header.mcast.eq(0), answer.header.rect_x.eq(0),
                answer.header.rect_y.eq(0),
            ]
        # Counted a cycle later: the saturating increment stays out of the allocation stage.
        dropping = self.dropping
        m.d.sync += dropping.eq(go)
        with m.If(dropping & (self.dropped != (1 << DROPPED_BITS) - 1)):
            m.d.sync += self.dropped.eq(self.dropped + 1)
        m.d.comb += [
            *(level.eq(buf.level) for level, (buf, _) in zip(self.input_levels, units,
                                                            strict=True)),
            self.held.eq(sum(self.input_levels) + answer_valid + dropping),
            self.answered.eq(answer_valid),
            self.invariant.eq(Cat(
                *(buf.invariant for buf, _ in units),
                *(((c >> 1) & ~c) == 0 for row in credits for c in row),
                err.level + answer_valid <= ERROR_DEPTH,
            ).all()),
        ]
        with m.If(Cat(overruns).any()):
            m.d.sync += self.overrun.eq(1)
        return m
