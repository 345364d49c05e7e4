"""The matrix engine of each preset in the bulk harness, and the batch that runs one GEMM on it.

Shared by ``d1core gemm`` (:mod:`sim.commands.gemm`) and the bench's matmul part
(:mod:`sim.bench.gemm`); the regression builds the same designs.
"""

from hw.matmul.config import D1, SMALL
from sim.flow.build import Design
from verif.matmul import tiling

__all__ = ["GEMM_DESIGNS", "TIMEOUT", "gemm_batch"]

#: The engine of each preset inside the harness adapter; the regression builds the same designs.
GEMM_DESIGNS = {
    "D1": Design.of("matmul_bench_d1", tiling.EngineBench, config=D1),
    "SMALL": Design.of("matmul_bench_small", tiling.EngineBench, config=SMALL),
}

#: Cycles without an output transfer after which the harness declares a hang.
TIMEOUT = 100_000


def gemm_batch(config, a, b, c, *, a_fmt, a_bias, b_fmt, b_bias, label=None):
    """One GEMM on an engine built with ``config``, as ``(plan, batch)``: its
    :class:`verif.matmul.tiling.GemmPlan` and the ``run_stream`` batch that runs
    it (the input words, the configuration register's value as ``seed`` for the ``cfg`` port)."""
    plan, words = tiling.gemm_words(config, a, b, c)
    batch = {"words": words, "seed": tiling.pack_config(a_fmt, a_bias, b_fmt, b_bias),
             "label": label or f"{plan.m}x{plan.n}x{plan.k} GEMM", "timeout": TIMEOUT}
    return plan, batch
