"""One core: the matrix engine's cycles, the vector unit's rate, SRAM costs, scalar issue.

The engine's cycles are docs/matmul.md's schedule ("Cycles of a GEMM"; the input schedule of
``verif.matmul.tiling.bench_words``), with the engine's structure from ``hw.matmul.config``:
a GEMM of T output tiles runs in G = ⌈T / L⌉ groups of L tiles;

    cycles = rows·min(T, L)                           the first group's C rows, before its beats
           + Σ_{g < G-1} max(L·K, L + c_delay + rows·T_{g+1})
                                                      a group's L·K beats; the next group's C
                                                      rows ride from beat L + c_delay on
           + L·K + latency + rows·T_last              the last group, the FMA, the last drain

(``rows`` = the tile's rows, T_g the tiles of group g; a partial group pads with skip beats, so
it still takes L·K beats). The operand format does not change the beats (CFP8 codes ride in the
16-bit lanes): it halves the bytes each beat reads from the SRAM (:func:`gemm_sram`).
"""

import math

__all__ = ["FORMATS", "format_bytes", "gemm_cycles", "gemm_sram", "vector_cycles",
           "sram_served", "scalar_cycles", "ModelError"]


class ModelError(ValueError):
    """A workload the model cannot take (bad shape, unknown format or class)."""


#: Operand formats of the matrix engine and their bytes per element (docs/formats.md).
FORMATS = {"bf16": 2, "cfp8": 1, "cfp8-143": 1, "cfp8-152": 1}


def format_bytes(fmt):
    if fmt not in FORMATS:
        raise ModelError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return FORMATS[fmt]


def _check_shape(m, n, k):
    for name, v in (("M", m), ("N", n), ("K", k)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ModelError(f"{name} must be a positive integer, not {v!r}")


def gemm_cycles(p, m, n, k, fmt="bf16"):
    """Cycles of an M×N×K GEMM on one core's engine (first input word to last row of D), from
    the schedule above; the format only checked (it does not change the cycles)."""
    _check_shape(m, n, k)
    format_bytes(fmt)
    L, rows = p.interleave, p.tile_rows
    tiles = math.ceil(m / p.tile_rows) * math.ceil(n / p.tile_cols)
    groups = math.ceil(tiles / L)
    first, last = min(L, tiles), tiles - (groups - 1) * L
    # groups 1..G-1 are full but the last: G-2 riding a full group's rows, one riding the last's
    ride = (max(0, groups - 2) * max(L * k, L + p.fma_c_delay + rows * L)
            + (groups > 1) * max(L * k, L + p.fma_c_delay + rows * last))
    return rows * first + ride + L * k + p.fma_latency + rows * last


def gemm_sram(p, m, n, k, fmt="bf16"):
    """Per-cycle SRAM traffic of the GEMM at the engine's rate, as shares of one 64-byte port:
    ``operands`` (A column + B row per beat, read port R0), ``c_load`` (C rows, read port R1) and
    ``drain`` (D rows, write port W); a share over the measured streaming rate of a port slows the
    engine by that factor (``slowdown``)."""
    b = format_bytes(fmt)
    operands = (p.tile_rows + p.tile_cols) * b / 64
    per_tile = p.tile_rows * p.tile_cols * 4 / 64 / (p.interleave * k) * p.interleave
    out = {"operands": operands, "c_load": per_tile, "drain": per_tile}
    out["slowdown"] = max(1.0, max(out.values()) / p.sram_port_rate)
    return out


def vector_cycles(p, cls, elements):
    """Cycles for ``elements`` lane operations of vector class ``cls`` (a bench-vector class
    name) at its measured requests per cycle, plus the unit's latency once."""
    if cls not in p.vector_rate:
        raise ModelError(f"vector class must be one of {', '.join(p.vector_rate)}, not {cls!r}")
    requests = math.ceil(elements / p.vector_lanes[cls])
    return requests / p.vector_rate[cls] + p.vector_latency


def sram_served(p, banks=None):
    """Fraction of the 7 ports' requests served per cycle under uniformly random addresses, at
    ``banks`` banks (default the D1 scratchpad's): measured where the bench measured it, else the
    balls-in-bins estimate 1 - (1 - 1/B)^7 scaled to the measured points."""
    banks = p.sram_banks if banks is None else banks
    if banks in p.sram_random:
        return p.sram_random[banks]
    est = banks * (1 - (1 - 1 / banks) ** 7) / 7
    ref = max(p.sram_random)
    return min(1.0, est * p.sram_random[ref] / (ref * (1 - (1 - 1 / ref) ** 7) / 7))


def scalar_cycles(p, instructions, threads=1):
    """Cycles for ``instructions`` on the scalar core with ``threads`` threads busy, at the
    measured IPC (bench-scalar: 1 thread, 4 threads; 2 and 3 interpolated)."""
    if threads not in (1, 2, 3, 4):
        raise ModelError(f"threads must be in 1..4, not {threads}")
    ipc = p.scalar_ipc_1 + (p.scalar_ipc_4 - p.scalar_ipc_1) * (threads - 1) / 3
    return instructions / ipc
