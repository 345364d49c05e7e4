"""Tests of the mesh routing policy (hw/noc/routing.py) against independent walks and checks."""

import random
from collections import deque

import pytest

from hw.noc import routing
from hw.noc.routing import (
    ALL_MULTICASTS,
    Mesh,
    Port,
    Rect,
    RoutingError,
    Turn,
    check,
    coords,
    multicast_tree,
    multicast_walk,
    next_hop,
    node_id,
    route_tables,
    table_words,
    turn_words,
)

# Independent of the module: port code -> (dx, dy), x to the east, y to the south.
STEP = {1: (0, -1), 2: (1, 0), 3: (0, 1), 4: (-1, 0)}


def brute_xy(width, height):
    """XY tables written out by hand: codes per router (x, y), indexed by y * width + x."""
    tables = {}
    for y in range(height):
        for x in range(width):
            row = []
            for dy in range(height):
                for dx in range(width):
                    if dx > x:
                        row.append(2)
                    elif dx < x:
                        row.append(4)
                    elif dy > y:
                        row.append(3)
                    elif dy < y:
                        row.append(1)
                    else:
                        row.append(0)
            tables[(x, y)] = row
    return tables


def walk(mesh, tables, src, dst):
    """The links a packet from src to dst uses, following the table codes step by step."""
    links, node = [], src
    dead = set(mesh.disabled)
    while node != dst:
        code = tables[node][dst[1] * mesh.width + dst[0]].value
        assert code in STEP, (src, dst, node, code)
        hop = (node[0] + STEP[code][0], node[1] + STEP[code][1])
        assert 0 <= hop[0] < mesh.width and 0 <= hop[1] < mesh.height, (src, dst, hop)
        assert hop not in dead, (src, dst, hop)
        links.append((node, hop))
        node = hop
        assert len(links) <= mesh.width * mesh.height, (src, dst)
    assert tables[dst][dst[1] * mesh.width + dst[0]] is Port.LOCAL
    return links


def live_nodes(mesh):
    dead = set(mesh.disabled)
    return [(x, y) for y in range(mesh.height) for x in range(mesh.width) if (x, y) not in dead]


def assert_acyclic(mesh, tables):
    """Every pair arrives, and Kahn's algorithm empties the channel dependency graph."""
    edges, indegree = {}, {}
    for src in live_nodes(mesh):
        for dst in live_nodes(mesh):
            links = walk(mesh, tables, src, dst)
            for a, b in zip(links, links[1:], strict=False):
                if b not in edges.setdefault(a, set()):
                    edges[a].add(b)
                    indegree[b] = indegree.get(b, 0) + 1
                indegree.setdefault(a, 0)
    ready = [link for link, n in indegree.items() if n == 0]
    removed = 0
    while ready:
        link = ready.pop()
        removed += 1
        for b in edges.get(link, ()):
            indegree[b] -= 1
            if indegree[b] == 0:
                ready.append(b)
    assert removed == len(indegree)


def connected(mesh):
    live = live_nodes(mesh)
    seen, queue = {live[0]}, deque([live[0]])
    while queue:
        x, y = queue.popleft()
        for dx, dy in STEP.values():
            hop = (x + dx, y + dy)
            if hop in set(live) and hop not in seen:
                seen.add(hop)
                queue.append(hop)
    return len(seen) == len(live)


@pytest.mark.parametrize("width,height", [(1, 1), (2, 2), (4, 4), (8, 8), (5, 3)])
def test_xy_tables_equal_brute_force(width, height):
    tables = route_tables(Mesh(width, height))
    assert table_words(Mesh(width, height), tables) == brute_xy(width, height)
    assert route_tables(Mesh(width, height), policy="xy") == tables


@pytest.mark.parametrize("width,height", [(8, 8), (3, 5)])
def test_xy_hops_are_manhattan(width, height):
    mesh = Mesh(width, height)
    tables = route_tables(mesh)
    for src in mesh.live:
        for dst in mesh.live:
            hops = len(walk(mesh, tables, src, dst))
            assert hops == abs(src[0] - dst[0]) + abs(src[1] - dst[1])


def test_xy_dependencies_acyclic_8x8():
    mesh = Mesh(8, 8)
    assert_acyclic(mesh, route_tables(mesh))


def test_xy_with_disabled_node_out_of_the_way_drops():
    mesh = Mesh(3, 1, [(2, 0)])
    tables = route_tables(mesh)
    assert table_words(mesh, tables) == {(0, 0): [0, 2, 5], (1, 0): [4, 0, 5]}


def test_xy_refuses_disabled_node_in_the_way():
    with pytest.raises(RoutingError) as info:
        route_tables(Mesh(4, 2, [(1, 1)]))
    assert str(info.value) == ("XY routing cannot reach (1, 0) from (0, 1): the route passes "
                               "disabled node (1, 1); use policy='updown'")


@pytest.mark.parametrize("policy", ["xy", "updown"])
@pytest.mark.parametrize("disabled,message", [
    ([(1, 0), (0, 1)],
     "nodes (0, 0) and (2, 0) are not connected: the disabled nodes split the mesh"),
    ([(1, 0), (1, 1), (1, 2)],
     "nodes (0, 0) and (2, 0) are not connected: the disabled nodes split the mesh"),
    ([(0, 2), (1, 1), (2, 0)],
     "nodes (0, 0) and (2, 1) are not connected: the disabled nodes split the mesh"),
])
def test_disconnected_mesh_refused(policy, disabled, message):
    with pytest.raises(RoutingError) as info:
        route_tables(Mesh(3, 3, disabled), policy=policy)
    assert str(info.value) == message


def test_updown_routes_around_a_hole():
    mesh = Mesh(3, 3, [(1, 1)])
    tables = route_tables(mesh, policy="updown")
    assert_acyclic(mesh, tables)
    assert all(table[4] is Port.DROP for table in tables.values())
    # The root is (1, 0); (1, 2) is the lowest point of the ring, so passing it from (0, 2) to
    # (2, 2) would go down then up: the route goes round the top instead.
    assert len(walk(mesh, tables, (0, 1), (2, 1))) == 4
    assert len(walk(mesh, tables, (0, 2), (2, 2))) == 6
    assert len(walk(mesh, tables, (0, 2), (1, 2))) == 1
    assert [b for _, b in walk(mesh, tables, (0, 2), (2, 2))] == [
        (0, 1), (0, 0), (1, 0), (2, 0), (2, 1), (2, 2)]


@pytest.mark.parametrize("width,height,trials", [(4, 4, 40), (8, 8, 8)])
def test_updown_random_disabled_sets(width, height, trials):
    rng = random.Random(1234 + width)
    nodes = [(x, y) for y in range(height) for x in range(width)]
    accepted = refused = 0
    while accepted < trials:
        mesh = Mesh(width, height, rng.sample(nodes, rng.randint(0, width * height // 4)))
        if not connected(mesh):
            with pytest.raises(RoutingError, match="are not connected"):
                route_tables(mesh, policy="updown")
            refused += 1
            continue
        tables = route_tables(mesh, policy="updown")
        assert_acyclic(mesh, tables)
        dead = [node_id(mesh, *n) for n in mesh.disabled]
        for words in table_words(mesh, tables).values():
            assert [words[d] for d in dead] == [Port.DROP.value] * len(dead)
        accepted += 1
    assert refused > 0


def test_updown_without_disabled_nodes_is_acyclic_and_minimal():
    mesh = Mesh(4, 4)
    tables = route_tables(mesh, policy="updown")
    assert_acyclic(mesh, tables)
    for src in mesh.live:
        for dst in mesh.live:
            hops = len(walk(mesh, tables, src, dst))
            assert hops == abs(src[0] - dst[0]) + abs(src[1] - dst[1])


def clockwise_2x2():
    """A 2x2 ring where every packet turns clockwise: each pair arrives, but the ring's four
    links depend on each other in a cycle."""
    turn = {(0, 0): Port.EAST, (1, 0): Port.SOUTH, (1, 1): Port.WEST, (0, 1): Port.NORTH}
    return {r: [Port.LOCAL if coords(Mesh(2, 2), d) == r else turn[r] for d in range(4)]
            for r in turn}


def test_check_names_the_dependency_cycle():
    with pytest.raises(RoutingError) as info:
        check(Mesh(2, 2), clockwise_2x2())
    assert str(info.value) == ("channel dependency cycle, the tables can deadlock: "
                               "(0, 0)->(1, 0), (1, 0)->(1, 1), (1, 1)->(0, 1), (0, 1)->(0, 0)")


def xy_3x1():
    return route_tables(Mesh(3, 1))


def edited(tables, router, dst, port):
    tables[router][dst] = port
    return tables


@pytest.mark.parametrize("mesh,tables,message", [
    (Mesh(3, 1), edited(xy_3x1(), (1, 0), 2, Port.WEST),
     "route from (0, 0) to (2, 0) loops: (0, 0) -> (1, 0) -> (0, 0)"),
    (Mesh(3, 1), edited(xy_3x1(), (1, 0), 2, Port.LOCAL),
     "route from (0, 0) to (2, 0) stops at (1, 0)"),
    (Mesh(3, 1), edited(xy_3x1(), (0, 0), 1, Port.DROP),
     "route from (0, 0) to (1, 0) is dropped at (0, 0)"),
    (Mesh(3, 1), edited(xy_3x1(), (0, 0), 2, Port.NORTH),
     "route from (0, 0) to (2, 0) leaves the mesh at (0, 0) going NORTH"),
    (Mesh(3, 1), edited(xy_3x1(), (2, 0), 2, Port.EAST),
     "router (2, 0) does not deliver its own packets: its entry is Port.EAST"),
    (Mesh(3, 1), edited(xy_3x1(), (0, 0), 1, 2),
     "table of (0, 0) entry 1 is 2, expected a Port"),
    (Mesh(3, 1), {(0, 0): xy_3x1()[(0, 0)], (1, 0): xy_3x1()[(1, 0)]},
     "no table for live router (2, 0)"),
    (Mesh(3, 1), {**xy_3x1(), (1, 0): [Port.WEST, Port.LOCAL]},
     "table of (1, 0) has 2 entries, expected 3"),
    (Mesh(3, 1, [(2, 0)]), xy_3x1(),
     "table for (2, 0), which is not a live router of the 3x1 mesh"),
    (Mesh(3, 1, [(2, 0)]), {r: t for r, t in xy_3x1().items() if r != (2, 0)},
     "router (0, 0) does not drop packets for disabled node (2, 0): its entry is Port.EAST"),
    (Mesh(3, 1, [(1, 0)]),
     {(0, 0): [Port.LOCAL, Port.DROP, Port.EAST], (2, 0): [Port.WEST, Port.DROP, Port.LOCAL]},
     "route from (0, 0) to (2, 0) enters disabled node (1, 0) from (0, 0)"),
])
def test_check_refuses_bad_tables(mesh, tables, message):
    with pytest.raises(RoutingError) as info:
        check(mesh, tables)
    assert str(info.value) == message


def test_unknown_policy():
    with pytest.raises(ValueError) as info:
        route_tables(Mesh(2, 2), policy="west-first")
    assert str(info.value) == "unknown routing policy 'west-first'; use 'xy' or 'updown'"


@pytest.mark.parametrize("args,error,message", [
    ((0, 4), ValueError, "width must be in 1..16, not 0"),
    ((17, 4), ValueError, "width must be in 1..16, not 17"),
    ((True, 4), TypeError, "width must be an integer, not True"),
    ((4, 2.0), TypeError, "height must be an integer, not 2.0"),
    ((4, "4"), TypeError, "height must be an integer, not '4'"),
    ((4, 4, [[1, 1]]), TypeError, "disabled node must be an (x, y) pair of ints, not [1, 1]"),
    ((4, 4, [(1, 1, 0)]), TypeError,
     "disabled node must be an (x, y) pair of ints, not (1, 1, 0)"),
    ((4, 2, [(1, 2)]), ValueError, "disabled node (1, 2) is outside the 4x2 mesh"),
    ((4, 2, [(-1, 0)]), ValueError, "disabled node (-1, 0) is outside the 4x2 mesh"),
    ((4, 2, [(1, 1), (0, 1), (1, 1)]), ValueError, "disabled node (1, 1) is listed twice"),
    ((2, 1, [(0, 0), (1, 0)]), ValueError, "every node of the 2x1 mesh is disabled"),
])
def test_mesh_parameter_errors(args, error, message):
    with pytest.raises(error) as info:
        Mesh(*args)
    assert str(info.value) == message


def test_mesh_keeps_disabled_in_id_order():
    mesh = Mesh(4, 2, [(0, 1), (3, 0)])
    assert mesh.disabled == ((3, 0), (0, 1))
    assert mesh.live == [(0, 0), (1, 0), (2, 0), (1, 1), (2, 1), (3, 1)]
    assert mesh == Mesh(4, 2, ((3, 0), (0, 1)))


def test_node_ids_and_coords():
    mesh = Mesh(5, 3)
    assert [node_id(mesh, x, y) for x, y in mesh.nodes] == list(range(15))
    assert node_id(mesh, 4, 2) == 14
    assert [coords(mesh, i) for i in range(15)] == mesh.nodes
    with pytest.raises(ValueError) as info:
        node_id(mesh, 5, 0)
    assert str(info.value) == "node (5, 0) is outside the 5x3 mesh"
    with pytest.raises(ValueError) as info:
        coords(mesh, 15)
    assert str(info.value) == "node id must be in 0..14, not 15"
    with pytest.raises(TypeError) as info:
        coords(mesh, 1.0)
    assert str(info.value) == "node id must be an integer, not 1.0"


def test_next_hop():
    mesh = Mesh(3, 2, [(1, 1)])
    assert next_hop(mesh, 1, 0, Port.NORTH) is None
    assert next_hop(mesh, 1, 0, Port.EAST) == (2, 0)
    assert next_hop(mesh, 1, 0, Port.SOUTH) == (1, 1)
    assert next_hop(mesh, 1, 0, Port.WEST) == (0, 0)
    assert next_hop(mesh, 0, 0, Port.WEST) is None
    with pytest.raises(ValueError) as info:
        next_hop(mesh, 1, 0, Port.LOCAL)
    assert str(info.value) == "next_hop needs NORTH, EAST, SOUTH or WEST, not Port.LOCAL"


def test_port_encoding():
    assert {p.name: p.value for p in Port} == {
        "LOCAL": 0, "NORTH": 1, "EAST": 2, "SOUTH": 3, "WEST": 4, "DROP": 5}
    assert Port.as_shape().width == 3


def test_table_words_pad_with_drop():
    mesh = Mesh(2, 1)
    tables = route_tables(mesh)
    assert table_words(mesh, tables, depth=4) == {(0, 0): [0, 2, 5, 5], (1, 0): [4, 0, 5, 5]}
    with pytest.raises(ValueError) as info:
        table_words(mesh, tables, depth=1)
    assert str(info.value) == "table depth 1 is smaller than the 2 nodes of the 2x1 mesh"
    with pytest.raises(TypeError) as info:
        table_words(mesh, tables, depth="4")
    assert str(info.value) == "table depth must be an integer, not '4'"


@pytest.mark.parametrize("mesh,policy",
                         [(Mesh(4, 4), "xy"), (Mesh(5, 4, [(2, 1), (1, 2)]), "updown")])
def test_turn_words_against_cross_products(mesh, policy):
    """Each lookahead code says what the packet does at the next router, recomputed here from
    the two steps' directions (cross product, y to the south: positive is a right turn) with
    codes written out (0 straight, 1 out, 2 left, 3 right); a swapped LEFT/RIGHT or a turn
    read from this router instead of the next fails."""
    tables = route_tables(mesh, policy)
    ports = table_words(mesh, tables)
    turns = turn_words(mesh, tables)
    width = mesh.width
    for (x, y), codes in ports.items():
        for d, code in enumerate(codes):
            if code not in STEP:
                want = 1
            else:
                dx, dy = STEP[code]
                after = ports[(x + dx, y + dy)][d]
                if after not in STEP:
                    want = 1
                else:
                    ex, ey = STEP[after]
                    cross = dx * ey - dy * ex
                    want = 0 if (ex, ey) == (dx, dy) else 3 if cross > 0 else 2
            assert turns[(x, y)][d] == want, ((x, y), (d % width, d // width))


def test_turn_words_pad_and_encoding():
    """Padding past the last node is OUT, like table_words' DROP; the codes are fixed."""
    mesh = Mesh(3, 1)
    tables = route_tables(mesh)
    assert turn_words(mesh, tables, depth=4) == {
        (0, 0): [1, 1, 0, 1], (1, 0): [1, 1, 1, 1], (2, 0): [0, 1, 1, 1]}
    assert {t.name: t.value for t in Turn} == {"STRAIGHT": 0, "OUT": 1, "LEFT": 2, "RIGHT": 3}


def all_rects(width, height):
    return [Rect(x0, y0, x1, y1) for x0 in range(width) for x1 in range(x0, width)
            for y0 in range(height) for y1 in range(y0, height)]


@pytest.mark.parametrize("width,height", [(4, 4), (3, 2), (1, 3), (5, 1)])
def test_multicast_tree_delivers_each_node_once_on_a_minimal_tree(width, height):
    """For every source and rectangle: every node of the rectangle gets exactly one copy and no
    other node one; the links are distinct steps between neighbours, each node entered once
    (a tree); their number is the independent count of a dimension-ordered tree: along the
    source's row from the source across the rectangle's columns, then in each of those columns
    from the source's row across the rectangle's rows."""
    mesh = Mesh(width, height)
    for src in mesh.nodes:
        for rect in all_rects(width, height):
            walk = multicast_tree(mesh, src, rect)
            assert sorted(walk.delivered) == sorted(rect.nodes()), (src, rect)
            assert walk.dropped == ()
            entered = [b for _, b in walk.links]
            assert len(set(entered)) == len(entered) and src not in entered, (src, rect)
            assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in walk.links)
            (sx, sy), columns = src, rect.x1 - rect.x0 + 1
            along_x = max(rect.x1, sx) - min(rect.x0, sx)
            along_y = columns * (max(rect.y1, sy) - min(rect.y0, sy))
            assert len(walk.links) == along_x + along_y, (src, rect)


def test_multicast_tree_refusals():
    """A rectangle past the mesh, or a tree that enters a dead node (on its way or inside the
    rectangle), is refused with its message; the walk says where each copy is dropped; a source
    that is not live is an error."""
    mesh = Mesh(4, 4, ((2, 1),))
    with pytest.raises(RoutingError) as info:
        multicast_tree(mesh, (0, 1), Rect(3, 0, 3, 3))
    assert str(info.value) == ("multicast from (0, 1) to (3, 0)..(3, 3) enters disabled node "
                               "(2, 1)")
    with pytest.raises(RoutingError) as info:
        multicast_tree(mesh, (0, 0), Rect(1, 2, 1, 1))
    assert str(info.value) == "multicast from (0, 0) to (1, 2)..(1, 1) does not fit the 4x4 mesh"
    walk = multicast_walk(mesh, (0, 1), Rect(1, 0, 3, 2))
    assert walk.dropped == (((2, 1), "disabled node"),)
    assert sorted(walk.delivered) == [(1, 0), (1, 1), (1, 2)]   # beyond (2, 1): nothing
    assert multicast_walk(mesh, (0, 0), Rect(2, 0, 2, 3)).dropped == (((2, 1), "disabled node"),)
    assert multicast_walk(mesh, (0, 0), Rect(0, 0, 4, 0)).dropped == (
        ((0, 0), "the rectangle does not fit the mesh"),)
    with pytest.raises(ValueError) as info:
        multicast_walk(mesh, (2, 1), Rect(0, 0, 0, 0))
    assert str(info.value) == "source (2, 1) is not a live node of the 4x4 mesh"


@pytest.mark.parametrize("mesh", [Mesh(4, 4), Mesh(3, 2), Mesh(4, 3, ((1, 1), (3, 2)))])
def test_all_multicasts_is_the_union_of_every_tree(mesh):
    """`ALL_MULTICASTS` adds exactly the link pairs that the trees of every live source to every
    rectangle whose tree stays on live nodes use, walked one by one."""
    union = set()
    for src in mesh.live:
        for rect in all_rects(mesh.width, mesh.height):
            walk = multicast_walk(mesh, src, rect)
            if not walk.dropped:
                union |= set(walk.pairs)
    closed = {}
    routing._add_all_tree_pairs(mesh, closed)
    assert {(a, b) for a, bs in closed.items() for b in bs} == union


@pytest.mark.parametrize("width,height", [(4, 4), (8, 8), (5, 3)])
def test_xy_tables_are_deadlock_free_with_every_multicast(width, height):
    """XY tables and every multicast tree together: no dependency cycle (both dimension
    ordered); the explicit list of every tree of a 4×4 passes too."""
    mesh = Mesh(width, height)
    check(mesh, route_tables(mesh), multicast=ALL_MULTICASTS)
    if (width, height) == (4, 4):
        check(mesh, route_tables(mesh),
              multicast=[(s, r) for s in mesh.nodes for r in all_rects(4, 4)])


def yx_2x2():
    """Y-first tables on a 2×2 mesh: deadlock-free alone (never Y after X)."""
    def port(here, dst):
        (x, y), (dx, dy) = here, dst
        return (Port.SOUTH if dy > y else Port.NORTH if dy < y else Port.EAST if dx > x
                else Port.WEST if dx < x else Port.LOCAL)
    mesh = Mesh(2, 2)
    return {r: [port(r, d) for d in mesh.nodes] for r in mesh.nodes}


def test_check_refuses_multicast_trees_that_deadlock_with_the_tables():
    """Y-first unicast routes turn from Y to X, multicast trees from X to Y: two trees that
    each turn once close a cycle with two unicast routes, and the check names it; either tree
    alone passes. Up*/down* tables around a dead node with every multicast are refused too,
    and a tree into the dead node is refused before any cycle is looked for."""
    mesh = Mesh(2, 2)
    check(mesh, yx_2x2())
    one, other = ((0, 1), Rect(1, 0, 1, 0)), ((1, 0), Rect(0, 1, 0, 1))
    check(mesh, yx_2x2(), multicast=[one])
    check(mesh, yx_2x2(), multicast=[other])
    with pytest.raises(RoutingError) as info:
        check(mesh, yx_2x2(), multicast=[one, other])
    assert str(info.value) == ("channel dependency cycle, the tables can deadlock: "
                               "(0, 0)->(0, 1), (0, 1)->(1, 1), (1, 1)->(1, 0), (1, 0)->(0, 0)")
    holed = Mesh(4, 4, ((1, 1),))
    tables = route_tables(holed, "updown")
    with pytest.raises(RoutingError) as info:
        check(holed, tables, multicast=ALL_MULTICASTS)
    assert str(info.value).startswith("channel dependency cycle, the tables can deadlock: ")
    with pytest.raises(RoutingError) as info:
        check(holed, tables, multicast=[((0, 0), Rect(1, 0, 1, 2))])
    assert str(info.value) == ("multicast from (0, 0) to (1, 0)..(1, 2) enters disabled node "
                               "(1, 1)")
