"""``make check``: the regression's fast tier (issue 20: a budget of 5 minutes on 2 cores from a
clean clone, 4 min 25 s measured in docs/results.md; every block simulated on both simulators).

tests/conftest.py marks ``check`` every test named here: a module path takes all of its tests,
a node id (without xdist's ``@group`` suffix) one. ``tests/test_check.py`` checks that every
entry names collected tests and that every block of ``hw/`` is simulated on both simulators.
``d1core bench --only regression`` measures the tier's wall time (docs/results.md).

How the tests were chosen: a simulator build costs more than most simulations, so the tier
simulates each block in the cheapest build that holds it. The SMALL core holds the scalar core,
the scratchpad, the matrix engine and the vector unit (whose own Verilator build takes four
minutes): one build per simulator and short programs that use every unit run all four. The
conversion unit, the FMA, the ECC, the router and the arrays in their own small benches (a few
seconds to build), one test each that reaches every path of the block's contract (specials,
every ECC bit, a mesh's every turn). Then the model and Amaranth-simulator tests that take
under about two seconds each: the contracts' reference models against the third-party
libraries, and every construction error.
"""

__all__ = ["RTL", "ALSO_IN", "NOT_IN_TIER", "FAST"]

#: Per block of ``hw/``, the cocotb tests that simulate it (both simulators each).
RTL = {
    "fp": ["tests/fp/test_convert.py::test_convert[corners-verilator]",
           "tests/fp/test_convert.py::test_convert[corners-icarus]",
           "tests/fp/test_fma.py::test_fma[full-specials-verilator]",
           "tests/fp/test_fma.py::test_fma[full-specials-icarus]"],
    "matmul": ["tests/matmul/test_engine.py::test_engine[array-specials-verilator]",
               "tests/matmul/test_engine.py::test_engine[array-specials-icarus]"],
    "sram": ["tests/sram/test_ecc.py::test_verilog_matches_model[decoder-verilator]",
             "tests/sram/test_ecc.py::test_verilog_matches_model[decoder-icarus]"],
    "noc": ["tests/noc/test_mesh.py::test_mesh2x2[verilator]",
            "tests/noc/test_mesh.py::test_mesh2x2[icarus]"],
    "core": ["tests/core/test_core.py::test_isa_tests[verilator-add]",
             "tests/core/test_core.py::test_core_programs[verilator-vector]",
             "tests/core/test_core.py::test_core_programs[verilator-gemm]",
             "tests/core/test_core.py::test_core_programs[verilator-dma]",
             "tests/core/test_core.py::test_isa_tests[icarus-csr]",
             # The vector unit on Icarus; the matrix engine is simulated there in its own bench.
             "tests/core/test_core.py::test_core_programs[icarus-layouts]"],
}

#: Blocks simulated inside another block's tests in this tier: ``{block: the block whose
#: build holds it}``.
ALSO_IN = {"vector": "core", "scalar": "core", "sram": "core", "matmul": "core"}

#: Blocks of ``hw/`` this tier does not simulate, and why (``make test`` does).
NOT_IN_TIER = {
    "mesh": "its cheapest build, the 2x2 mesh of SMALL cores, takes about 5 minutes on "
            "Verilator on 2 cores and a run of it 8 minutes on Icarus (docs/mesh.md): over the "
            "tier's whole budget; its parts are in the tier (the router's mesh, the SMALL core) "
            "and its Amaranth tests (tests/mesh/test_edge.py) are",
}

#: Model, Amaranth-simulator and construction tests (modules or node ids).
FAST = [
    "tests/test_layers.py",
    "tests/common",
    "tests/fp/test_model_formats.py",
    "tests/fp/test_model_convert.py",
    "tests/fp/test_convert_amaranth.py",
    "tests/vector/test_model_conversions.py",
    "tests/vector/test_model_vector.py",
    "tests/vector/test_model_unit.py",
    "tests/vector/test_model_bf16.py",
    "tests/matmul/test_model_matmul.py",
    "tests/matmul/test_array_amaranth.py",
    "tests/sram/test_scratchpad_amaranth.py",
    "tests/noc/test_routing.py",
    # the router's functional Amaranth tests; its rate and latency tests (tens of seconds
    # each) stay in make test: the tier's NoC meshes carry its every turn on both simulators
    *(f"tests/noc/test_router_amaranth.py::{t}" for t in (
        "test_flit_layout", "test_parameter_errors",
        "test_input_buffer_fifo_order_overrun_and_push_pop",
        "test_input_buffer_multicast_head_leaves_after_its_last_output",
        "test_drops_answer_requests_and_count", "test_multicast_row_column_rectangle_with_unicast",
        "test_multicast_into_a_dead_router_is_dropped_there")),
    "tests/mesh/test_edge.py",
    "tests/mesh/test_run.py",
    "tests/scalar/test_iss.py",
    "tests/scalar/test_elf.py",
    "tests/scalar/test_core_amaranth.py",
    "tests/core/test_model.py",
    "tests/core/test_dma_model.py",
    "tests/core/test_counters.py",
    "tests/core/test_isa_doc.py",
    "tests/sim/test_results_order.py",
    "tests/sim/test_report.py",
    "tests/sim/test_bad_input_properties.py",
]


def entries():
    """Every entry of the tier (``RTL``'s and ``FAST``'s)."""
    return [e for ids in RTL.values() for e in ids] + FAST


def selects(entry, nodeid):
    """Whether ``entry`` (a module or directory path, or a node id: with parameters, one test;
    without, every parameter set of it) takes the test ``nodeid`` (xdist's ``@group`` suffix
    ignored)."""
    nodeid = nodeid.split("@", 1)[0]
    if "::" in entry:   # a test: itself, or every parameter set of it
        return nodeid == entry or nodeid.startswith(entry + "[")
    return nodeid.startswith(entry.rstrip("/") + ("::" if entry.endswith(".py") else "/"))
