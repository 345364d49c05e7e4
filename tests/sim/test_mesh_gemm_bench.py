"""The mesh-gemm part of ``d1core bench`` (sim/bench/mesh_gemm.py) without simulating: its table,
its verdicts against the targets and the weak-scaling line from given figures (the runs take
minutes to hours on D1 meshes: the bench's own)."""

from sim.bench import mesh_gemm
from sim.commands import bench


def _row(mesh, m, n, k, util, fmt="bf16"):
    w, h = (int(v) for v in mesh.split("x"))
    return {"mesh": mesh, "m": m, "n": n, "k": k, "fmt": fmt, "kb": 64, "cycles": 1000,
            "utilisation": util, "busy": 900, "wait_panels": 10, "wait_gemms": 20,
            "wait_credits": 30, "run_cycles": 2000, "sim_seconds": 4.0,
            "target": mesh_gemm.TARGETS.get((w, h, m, n, k)) if fmt == "bf16" else None,
            "load": 1.0}


def test_table_and_verdicts():
    text = mesh_gemm.body([_row("2x2", 256, 256, 256, 0.93), _row("2x2", 512, 512, 512, 0.94),
                           _row("2x2", 256, 256, 256, 0.5, "cfp8")])
    assert "| 2x2 | 256×256×256 | BF16 | 64 | 1,000 | 93.00 % | ≥ 90 % met |" in text
    assert "| 94.00 % | ≥ 95 % MISSED |" in text
    assert "| CFP8 | 64 | 1,000 | 50.00 % | - |" in text
    assert "Weak scaling" not in text


def test_weak_scaling_line():
    rows = [_row("1x1", 128, 128, 512, 0.99), _row("4x4", 512, 512, 512, 0.96)]
    text = mesh_gemm.body(rows)
    assert ("per-core utilisation on 4×4 96.00 % against one core's 99.00 %: **0.970×** "
            "(target ≥ 0.95: met)") in text


def test_is_a_part_of_the_bench():
    assert "mesh-gemm" in bench.PARTS
