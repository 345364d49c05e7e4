"""The network on chip of d1core: the mesh of 5-port routers. So far, its routing policy."""

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
