"""The routing policy of the d1core mesh: route tables, their check, and the table words.

Cores tile into a ``width`` × ``height`` mesh of 5-port routers. Node ``(x, y)`` has id
``y * width + x``; x grows to the EAST, y grows to the SOUTH (row 0 is the northern edge). Every
live router holds one table entry per destination id, a `Port` code, written at configuration
time. This module is plain Python, shared by the model and the configuration code; the router
RTL uses the `Port` encoding. See docs/noc.md, section "Routing".
"""

from collections import deque
from dataclasses import dataclass

from amaranth.lib import enum

from hw.common.params import check_int

__all__ = ["Port", "Mesh", "RoutingError", "POLICIES", "node_id", "coords", "next_hop",
           "route_tables", "check", "table_words", "Turn", "turn_words", "HOST", "EDGE",
           "host_routes", "host_turns", "Rect", "multicast_outputs", "multicast_walk",
           "multicast_tree", "ALL_MULTICASTS"]

MAX_SIDE = 16
#: The host's address: the coordinates its packets carry as source, and answers to it as
#: destination. Outside every mesh but a 16 × 16 one (where it is a core and the host has no
#: address). A router sends packets for it by a table entry of its own, the host entry (entry
#: ``width * height``, reset DROP), which `host_routes` computes (docs/mesh.md, "The host's
#: reads").
HOST = (MAX_SIDE - 1, MAX_SIDE - 1)


class Port(enum.Enum, shape=3):
    """A router output, the 3-bit code of a route table entry.

    LOCAL delivers to the core of this router; NORTH, EAST, SOUTH and WEST go to the neighbour
    at y - 1, x + 1, y + 1 and x - 1. DROP is no port: the router removes the packet (its
    destination is disabled or does not exist). Codes 6 and 7 are not used.
    """
    LOCAL = 0
    NORTH = 1
    EAST = 2
    SOUTH = 3
    WEST = 4
    DROP = 5


DIRECTIONS = {Port.NORTH: (0, -1), Port.EAST: (1, 0), Port.SOUTH: (0, 1), Port.WEST: (-1, 0)}

#: Where the host's link meets the mesh: the router at (0, 0), through its WEST port (the edge
#: port, ``hw.mesh.edge.EdgePort``), a port that faces out of every mesh.
EDGE = ((0, 0), Port.WEST)


class Turn(enum.Enum, shape=2):
    """What a packet does at the next router, the lookahead part of a route table entry: it goes
    on STRAIGHT, leaves the network there (OUT: LOCAL or DROP at the next router, or no next
    router because this router's own route is LOCAL or DROP), or turns LEFT or RIGHT. A router
    picks the packet's virtual channel on the link by it (docs/noc.md, "Virtual channels")."""
    STRAIGHT = 0
    OUT = 1
    LEFT = 2
    RIGHT = 3

POLICIES = ("xy", "updown")


class RoutingError(ValueError):
    """A configuration the route tables cannot serve: a pair that does not arrive, a mesh that
    is not connected, or channel dependencies that could deadlock."""


def _fmt(node):
    return f"({node[0]}, {node[1]})"


@dataclass(frozen=True)
class Mesh:
    """A ``width`` × ``height`` mesh (1 to 16 each) with some nodes disabled.

    ``disabled`` holds the ``(x, y)`` coordinates of the routers (and cores) that are off; they
    are stored sorted by node id. At least one node must stay live.
    """
    width: int
    height: int
    disabled: tuple = ()

    def __post_init__(self):
        check_int("width", self.width, 1, MAX_SIDE)
        check_int("height", self.height, 1, MAX_SIDE)
        seen = set()
        for node in self.disabled:
            if (type(node) is not tuple or len(node) != 2
                    or any(type(c) is not int for c in node)):
                raise TypeError(f"disabled node must be an (x, y) pair of ints, not {node!r}")
            if not self.contains(*node):
                raise ValueError(f"disabled node {_fmt(node)} is outside the "
                                 f"{self.width}x{self.height} mesh")
            if node in seen:
                raise ValueError(f"disabled node {_fmt(node)} is listed twice")
            seen.add(node)
        if len(seen) == self.width * self.height:
            raise ValueError(f"every node of the {self.width}x{self.height} mesh is disabled")
        object.__setattr__(self, "disabled",
                           tuple(sorted(seen, key=lambda n: n[1] * self.width + n[0])))

    def contains(self, x, y):
        """Whether ``(x, y)`` is a node of the mesh (live or disabled)."""
        return 0 <= x < self.width and 0 <= y < self.height

    def is_live(self, x, y):
        """Whether ``(x, y)`` is a node of the mesh and not disabled."""
        return self.contains(x, y) and (x, y) not in self.disabled

    @property
    def nodes(self):
        """All nodes ``(x, y)`` in node-id order."""
        return [(x, y) for y in range(self.height) for x in range(self.width)]

    @property
    def live(self):
        """The live nodes ``(x, y)`` in node-id order."""
        return [n for n in self.nodes if n not in self.disabled]


def node_id(mesh, x, y):
    """The id ``y * width + x`` of node ``(x, y)``."""
    if not mesh.contains(x, y):
        raise ValueError(f"node {_fmt((x, y))} is outside the {mesh.width}x{mesh.height} mesh")
    return y * mesh.width + x


def coords(mesh, id):
    """The ``(x, y)`` coordinates of node ``id``."""
    size = mesh.width * mesh.height
    check_int("node id", id, 0, size - 1)
    return id % mesh.width, id // mesh.width


def next_hop(mesh, x, y, port):
    """The node reached from ``(x, y)`` through ``port`` (NORTH, EAST, SOUTH or WEST), or None
    when that port faces the edge of the mesh. The node may be disabled."""
    if port not in DIRECTIONS:
        raise ValueError(f"next_hop needs NORTH, EAST, SOUTH or WEST, not {port}")
    dx, dy = DIRECTIONS[port]
    return (x + dx, y + dy) if mesh.contains(x + dx, y + dy) else None


def _neighbours(mesh, node):
    """The live neighbours of ``node`` as ``(port, neighbour)`` pairs, in port-code order."""
    return [(port, hop) for port in DIRECTIONS
            if (hop := next_hop(mesh, *node, port)) is not None and mesh.is_live(*hop)]


def _distances(mesh, start):
    """Hop distances from ``start`` to the live nodes it reaches through live nodes."""
    dist = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for _, hop in _neighbours(mesh, node):
            if hop not in dist:
                dist[hop] = dist[node] + 1
                queue.append(hop)
    return dist


def _check_connected(mesh):
    live = mesh.live
    reached = _distances(mesh, live[0])
    for node in live:
        if node not in reached:
            raise RoutingError(f"nodes {_fmt(live[0])} and {_fmt(node)} are not connected: "
                               f"the disabled nodes split the mesh")


def _xy_port(here, dst):
    (x, y), (dx, dy) = here, dst
    if dx > x:
        return Port.EAST
    if dx < x:
        return Port.WEST
    if dy > y:
        return Port.SOUTH
    if dy < y:
        return Port.NORTH
    return Port.LOCAL


def _xy_tables(mesh):
    for src in mesh.live:
        for dst in mesh.live:
            node = src
            while node != dst:
                node = next_hop(mesh, *node, _xy_port(node, dst))
                if not mesh.is_live(*node):
                    raise RoutingError(f"XY routing cannot reach {_fmt(dst)} from {_fmt(src)}: "
                                       f"the route passes disabled node {_fmt(node)}; "
                                       f"use policy='updown'")
    return {r: [_xy_port(r, d) if mesh.is_live(*d) else Port.DROP for d in mesh.nodes]
            for r in mesh.live}


def _updown_tables(mesh):
    # Rank the live nodes by (BFS level from the root, node id); a link is "up" when it goes to
    # a lower rank. A route takes up links, then down links, never up after down.
    live = mesh.live
    cx, cy = (mesh.width - 1) / 2, (mesh.height - 1) / 2
    root = min(live, key=lambda n: abs(n[0] - cx) + abs(n[1] - cy))
    level = _distances(mesh, root)
    rank = {n: (level[n], node_id(mesh, *n)) for n in live}
    by_rank = sorted(live, key=rank.get)
    tables = {r: [Port.DROP] * (mesh.width * mesh.height) for r in live}
    for dst in live:
        d = node_id(mesh, *dst)
        # Nodes with an all-down route to dst: a down link goes to a higher rank, so visit the
        # nodes from the highest rank down, each taking its shortest down link towards dst.
        cost = {dst: 0}
        tables[dst][d] = Port.LOCAL
        for node in reversed(by_rank):
            down = [(cost[hop], port.value) for port, hop in _neighbours(mesh, node)
                    if rank[hop] > rank[node] and hop in cost]
            if node != dst and down:
                hops, code = min(down)
                cost[node], tables[node][d] = hops + 1, Port(code)
        # The other nodes take the up link whose next node has the shortest route from there.
        # The root reaches every node by down links, so every other node finds one.
        for node in by_rank:
            if node not in cost:
                hops, code = min((cost[hop], port.value) for port, hop in _neighbours(mesh, node)
                                 if rank[hop] < rank[node])
                cost[node], tables[node][d] = hops + 1, Port(code)
    return tables


def route_tables(mesh, policy="xy"):
    """The route table of every live router, checked by `check`.

    Returns a dict from each live router ``(x, y)`` (in node-id order) to a list of `Port`
    indexed by destination id: LOCAL for the router itself, DROP for a disabled destination.
    ``policy`` is "xy" (dimension-ordered, X then Y) or "updown" (up*/down* on the live nodes,
    routes around disabled nodes). Raises `RoutingError` when the mesh is not connected or the
    policy cannot route it.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown routing policy {policy!r}; use 'xy' or 'updown'")
    _check_connected(mesh)
    tables = _xy_tables(mesh) if policy == "xy" else _updown_tables(mesh)
    check(mesh, tables)
    return tables


def _find_cycle(graph):
    """A cycle of ``graph`` (a dict from vertex to successor list) as a vertex list, or None."""
    state = {}  # vertex -> index on the DFS stack while open, -1 when done
    for start in sorted(graph):
        if start in state:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 0
        while stack:
            vertex, successors = stack[-1]
            for succ in successors:
                if succ not in state:
                    state[succ] = len(path)
                    path.append(succ)
                    stack.append((succ, iter(sorted(graph.get(succ, ())))))
                    break
                if state[succ] >= 0:
                    cycle = path[state[succ]:]
                    first = cycle.index(min(cycle))
                    return cycle[first:] + cycle[:first]
            else:
                state[vertex] = -1
                path.pop()
                stack.pop()
    return None


def check(mesh, tables, host=None, multicast=None):
    """Check that ``tables`` serve ``mesh`` and cannot deadlock; raise `RoutingError` if not.

    ``tables`` is a dict from each live router ``(x, y)`` to its list of `Port`, one per
    destination id. Every router must deliver its own id locally and drop every disabled
    destination. Every (live source, live destination) pair is walked through the tables and
    must arrive without a loop, a DROP, an early LOCAL, a step off the mesh or into a disabled
    node. With ``host`` (a dict from each live router to its host entry, `host_routes`), the
    route from every live router to `HOST` is walked too: it must leave the mesh at the `EDGE`
    router through the edge's port, and nowhere else. The channel dependency graph (an edge
    from link a->b to link b->c whenever a route uses them in turn; the host's link is a link
    like the others, out of the mesh) must be acyclic. The tables are indexed by destination
    only, so every virtual channel sees the same graph and one check covers them all.

    ``multicast`` adds multicast trees (`multicast_tree`) to the graph: an iterable of
    ``(source, rect)`` pairs, each of whose trees must stay on live nodes, or `ALL_MULTICASTS`:
    every tree of every live source to every rectangle of live nodes at once (their union is
    the set of all dimension-ordered link pairs between live nodes, added without walking each
    tree). The trees' forks and the unicast routes must then have no dependency cycle together.
    """
    size = mesh.width * mesh.height
    for router in tables:
        if not (type(router) is tuple and len(router) == 2 and mesh.is_live(*router)):
            raise RoutingError(f"table for {router!r}, which is not a live router of the "
                               f"{mesh.width}x{mesh.height} mesh")
    for router in mesh.live:
        if router not in tables:
            raise RoutingError(f"no table for live router {_fmt(router)}")
        table = tables[router]
        if len(table) != size:
            raise RoutingError(f"table of {_fmt(router)} has {len(table)} entries, "
                               f"expected {size}")
        for d, entry in enumerate(table):
            if not isinstance(entry, Port):
                raise RoutingError(f"table of {_fmt(router)} entry {d} is {entry!r}, "
                                   f"expected a Port")
        if table[node_id(mesh, *router)] is not Port.LOCAL:
            raise RoutingError(f"router {_fmt(router)} does not deliver its own packets: "
                               f"its entry is {table[node_id(mesh, *router)]}")
        for dead in mesh.disabled:
            if table[node_id(mesh, *dead)] is not Port.DROP:
                raise RoutingError(f"router {_fmt(router)} does not drop packets for disabled "
                                   f"node {_fmt(dead)}: its entry is "
                                   f"{table[node_id(mesh, *dead)]}")
    depends = {}
    for src in mesh.live:
        for dst in mesh.live:
            d = node_id(mesh, *dst)
            _walk(mesh, src, dst, lambda node, d=d: tables[node][d],
                  f"route from {_fmt(src)} to {_fmt(dst)}", depends)
    if host is not None:
        _check_host_entries(mesh, host)
        for src in mesh.live:
            _walk(mesh, src, HOST, host.get, f"route from {_fmt(src)} to the host", depends)
    if multicast is ALL_MULTICASTS:
        _add_all_tree_pairs(mesh, depends)
    elif multicast is not None:
        for src, rect in multicast:
            for link, after in multicast_tree(mesh, src, rect).pairs:
                depends.setdefault(link, set()).add(after)
    cycle = _find_cycle(depends)
    if cycle is not None:
        raise RoutingError("channel dependency cycle, the tables can deadlock: "
                           + ", ".join(f"{_fmt(a)}->{_fmt(b)}" for a, b in cycle))


def _walk(mesh, src, dst, route, where, depends):
    """Walk the route from ``src`` to ``dst`` (a node, or `HOST`), ``route(node)`` giving the
    port at each node; add the pairs of links used in turn to ``depends``."""
    node, visited, link = src, [src], None
    while node != dst:
        port = route(node)
        if port is Port.LOCAL:
            raise RoutingError(f"{where} stops at {_fmt(node)}")
        if port is Port.DROP:
            raise RoutingError(f"{where} is dropped at {_fmt(node)}")
        hop = next_hop(mesh, *node, port)
        if dst == HOST and (node, port) == EDGE:
            hop = HOST                      # out of the mesh at the edge: at the host
        elif hop is None:
            raise RoutingError(f"{where} leaves the mesh at {_fmt(node)} going {port.name}")
        elif not mesh.is_live(*hop):
            raise RoutingError(f"{where} enters disabled node {_fmt(hop)} from {_fmt(node)}")
        if hop in visited:
            raise RoutingError(f"{where} loops: "
                               + " -> ".join(_fmt(n) for n in visited + [hop]))
        if link is not None:
            depends.setdefault(link, set()).add((node, hop))
        link = (node, hop)
        visited.append(hop)
        node = hop


def _check_host_address(mesh):
    if mesh.contains(*HOST):
        raise RoutingError(f"the {mesh.width}x{mesh.height} mesh has no host: the host's "
                           f"address {_fmt(HOST)} is one of its nodes")
    if not mesh.is_live(*EDGE[0]):
        raise RoutingError(f"the host's edge router {_fmt(EDGE[0])} is disabled")


def _check_host_entries(mesh, host):
    _check_host_address(mesh)
    for router in host:
        if not (type(router) is tuple and len(router) == 2 and mesh.is_live(*router)):
            raise RoutingError(f"host entry for {router!r}, which is not a live router of the "
                               f"{mesh.width}x{mesh.height} mesh")
    for router in mesh.live:
        if not isinstance(host.get(router), Port):
            raise RoutingError(f"host entry of {_fmt(router)} is {host.get(router)!r}, "
                               f"expected a Port")


def host_routes(mesh, tables):
    """The host entry of every live router (a dict from router ``(x, y)`` to a `Port`): where
    a packet for `HOST` goes there. It follows the router's route to the `EDGE` router (its
    entry for that node) and leaves the mesh there through the edge's port, so it needs no
    route of its own: with dead cores too, the host is reached as the edge router is.
    ``tables`` (`route_tables`'s) and the host entries are checked together (`check`): the
    host's routes arrive, and the channel dependencies stay acyclic."""
    edge, out = EDGE
    _check_host_address(mesh)
    e = node_id(mesh, *edge)
    host = {r: out if r == edge else tables[r][e] for r in mesh.live}
    check(mesh, tables, host)
    return host


def host_turns(mesh, host):
    """The lookahead half of the host entries (a dict from each live router to a `Turn` code,
    as `turn_words`'s): what a packet for the host does at the next router; OUT at the edge
    router, whose host route leaves the mesh. ``host`` must have passed `check`."""
    def after(router):
        port = host[router]
        return None if router == EDGE[0] else next_hop(mesh, *router, port)
    return {r: (Turn.OUT if after(r) is None else _turn_of(host[r], host[after(r)])).value
            for r in mesh.live}


def table_words(mesh, tables, depth=None):
    """The configuration words of every live router: a dict from router ``(x, y)`` to its
    table as a list of port codes (ints 0 to 5) in destination-id order.

    ``depth`` (default ``width * height``) is the number of table entries a router holds; the
    entries past the last node are DROP, so a packet for an id that does not exist is removed.
    """
    pad = _padding(mesh, depth)
    return {router: [port.value for port in tables[router]] + [Port.DROP.value] * pad
            for router in mesh.live}


def _padding(mesh, depth):
    """Table entries past the last node for a table of ``depth`` entries (default none)."""
    size = mesh.width * mesh.height
    if depth is None:
        return 0
    if not isinstance(depth, int) or isinstance(depth, bool):
        raise TypeError(f"table depth must be an integer, not {depth!r}")
    if depth < size:
        raise ValueError(f"table depth {depth!r} is smaller than the {size} nodes of the "
                         f"{mesh.width}x{mesh.height} mesh")
    return depth - size


def _turn(mesh, tables, router, d):
    port = tables[router][d]
    if port not in DIRECTIONS:
        return Turn.OUT
    return _turn_of(port, tables[next_hop(mesh, *router, port)][d])


def _turn_of(port, after):
    """The `Turn` of a packet that arrives through ``port`` and leaves through ``after``."""
    if after not in DIRECTIONS:
        return Turn.OUT
    order = list(DIRECTIONS)
    step = (order.index(after) - order.index(port)) % 4
    return {0: Turn.STRAIGHT, 1: Turn.RIGHT, 3: Turn.LEFT}[step]


def turn_words(mesh, tables, depth=None):
    """The lookahead half of the configuration words: a dict from each live router ``(x, y)`` to
    a list of `Turn` codes (ints 0 to 3) in destination-id order, entry ``d`` saying what a
    packet for ``d`` does at the router after this one (``OUT`` past the last node, as
    `table_words` pads with DROP). ``tables`` must have passed `check` (no route enters a
    disabled node or turns back), as every table set of `route_tables` has."""
    size = mesh.width * mesh.height
    pad = _padding(mesh, depth)
    return {router: [_turn(mesh, tables, router, d).value for d in range(size)]
            + [Turn.OUT.value] * pad for router in mesh.live}


# --- multicast (docs/noc.md, "Multicast") ---

#: `check`'s ``multicast`` for every tree of every live source to every rectangle of live nodes.
ALL_MULTICASTS = "all"


@dataclass(frozen=True)
class Rect:
    """The rectangle of nodes ``x0..x1`` × ``y0..y1`` (inclusive) a multicast packet goes to.
    Its header names it by ``dst`` = (``x1``, ``y1``) and (``rect_x``, ``rect_y``) = (``x0``,
    ``y0``)."""
    x0: int
    y0: int
    x1: int
    y1: int

    def nodes(self):
        """The nodes of the rectangle, in node-id order."""
        return [(x, y) for y in range(self.y0, self.y1 + 1) for x in range(self.x0, self.x1 + 1)]

    def fits(self, width, height):
        """Whether the rectangle is a non-empty part of a ``width`` × ``height`` mesh (what
        the router checks before forking; plain ints or Amaranth values alike)."""
        return ((self.x0 <= self.x1) & (self.x1 < width)
                & (self.y0 <= self.y1) & (self.y1 < height))


def multicast_outputs(here, rect, came):
    """Where a multicast packet for ``rect`` goes at router ``here`` (``(x, y)``) when it came
    in through ``came`` (LOCAL: injected there; NORTH, EAST, SOUTH, WEST: the link it came in
    on): a dict from each of LOCAL, NORTH, EAST, SOUTH, WEST to whether it goes there.

    The tree is dimension ordered, X then Y: along the source's row towards every column of
    the rectangle (both ways from a source between ``x0`` and ``x1``), forking north and south
    in each of those columns towards ``y0`` and ``y1``, and delivered at every node inside.
    Written with ``&``, ``<`` and ``<=`` only, so that the same function gives the router's
    logic on Amaranth values (``here`` and ``rect`` fields may be values; ``came`` is a
    Python constant) and the model's decisions on ints."""
    x, y = here
    column = (rect.x0 <= x) & (x <= rect.x1)
    rows = (rect.y0 <= y) & (y <= rect.y1)
    along_x = came in (Port.LOCAL, Port.EAST, Port.WEST)
    return {
        Port.LOCAL: column & rows,
        # Along x it goes on away from where it came from; from the core, both ways.
        Port.EAST: (x < rect.x1) if came in (Port.LOCAL, Port.WEST) else False,
        Port.WEST: (rect.x0 < x) if came in (Port.LOCAL, Port.EAST) else False,
        # In a column of the rectangle it forks towards y0 and y1, then goes on along y.
        Port.NORTH: (column & (rect.y0 < y)) if along_x
        else (rect.y0 < y) if came is Port.SOUTH else False,
        Port.SOUTH: (column & (y < rect.y1)) if along_x
        else (y < rect.y1) if came is Port.NORTH else False,
    }


_CAME = {Port.NORTH: Port.SOUTH, Port.SOUTH: Port.NORTH, Port.EAST: Port.WEST,
         Port.WEST: Port.EAST}


@dataclass(frozen=True)
class MulticastWalk:
    """Where a multicast packet's copies go (`multicast_walk`): ``delivered``, the nodes whose
    cores take a copy, in the order the walk reaches them; ``dropped``, ``(node, why)`` for each
    copy removed (the rectangle does not fit the mesh: at the source; a disabled node: where
    the tree enters it); ``links``, the links ``(a, b)`` the copies use; ``pairs``, the
    dependencies ``(a->b, b->c)`` of links used in turn."""
    delivered: tuple
    dropped: tuple
    links: tuple
    pairs: tuple


def multicast_walk(mesh, src, rect):
    """Walk a multicast packet from live node ``src`` to ``rect`` (a `Rect`) through the mesh as
    the routers fork it (`multicast_outputs`); a disabled router (never configured) removes a
    copy that enters it. Returns a `MulticastWalk`."""
    if not mesh.is_live(*src):
        raise ValueError(f"source {_fmt(src)} is not a live node of the "
                         f"{mesh.width}x{mesh.height} mesh")
    if not rect.fits(mesh.width, mesh.height):
        return MulticastWalk((), ((src, "the rectangle does not fit the mesh"),), (), ())
    delivered, dropped, links, pairs = [], [], [], []
    todo = deque([(src, Port.LOCAL, None)])
    while todo:
        node, came, link = todo.popleft()
        if not mesh.is_live(*node):
            dropped.append((node, "disabled node"))
            continue
        for port, go in multicast_outputs(node, rect, came).items():
            if not go:
                continue
            if port is Port.LOCAL:
                delivered.append(node)
                continue
            hop = next_hop(mesh, *node, port)
            assert hop is not None, "a multicast tree stays inside its rectangle's bounds"
            links.append((node, hop))
            if link is not None:
                pairs.append((link, (node, hop)))
            todo.append((hop, _CAME[port], (node, hop)))
    return MulticastWalk(tuple(delivered), tuple(dropped), tuple(links), tuple(pairs))


def multicast_tree(mesh, src, rect):
    """The tree of a multicast from ``src`` to ``rect`` (a `MulticastWalk` with no drops), or
    `RoutingError` when a copy would be dropped: the rectangle does not fit the mesh, or the
    tree enters a disabled node (software then splits the rectangle into parts whose trees
    avoid the dead nodes, or sends those copies by unicast)."""
    walk = multicast_walk(mesh, src, rect)
    if walk.dropped:
        node, why = walk.dropped[0]
        where = (f"enters disabled node {_fmt(node)}" if why == "disabled node"
                 else f"does not fit the {mesh.width}x{mesh.height} mesh")
        raise RoutingError(f"multicast from {_fmt(src)} to ({rect.x0}, {rect.y0})..({rect.x1}, "
                           f"{rect.y1}) {where}")
    return walk


def _add_all_tree_pairs(mesh, depends):
    """Add to ``depends`` every pair of links some multicast tree on live nodes uses in turn:
    along x straight on, from x to y (either way), along y straight on. Each is the whole tree
    of a multicast from its first node to a one-node rectangle at its last, so the union of
    all trees is exactly this set."""
    for node in mesh.live:
        for into, turns in ((Port.EAST, (Port.EAST, Port.NORTH, Port.SOUTH)),
                            (Port.WEST, (Port.WEST, Port.NORTH, Port.SOUTH)),
                            (Port.NORTH, (Port.NORTH,)), (Port.SOUTH, (Port.SOUTH,))):
            before = next_hop(mesh, *node, _CAME[into])
            if before is None or not mesh.is_live(*before):
                continue
            for out in turns:
                after = next_hop(mesh, *node, out)
                if after is not None and mesh.is_live(*after):
                    depends.setdefault((before, node), set()).add((node, after))
