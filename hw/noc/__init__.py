"""The network on chip of d1core (docs/noc.md): flits and packet classes (``flit``), the routing
policy and route tables (``routing``, exported here: plain Python shared with the model), a
router input's buffer (``input_buffer``), the 5-port router (``router``) and the mesh of routers
(``mesh``). The round-robin arbiter of the allocator is ``hw.common.arbiter``."""

from .routing import (
    POLICIES,
    Mesh,
    Port,
    RoutingError,
    Turn,
    check,
    coords,
    next_hop,
    node_id,
    route_tables,
    table_words,
    turn_words,
)

__all__ = ["Port", "Mesh", "RoutingError", "POLICIES", "node_id", "coords", "next_hop",
           "route_tables", "check", "table_words",
           "Turn", "turn_words"]
