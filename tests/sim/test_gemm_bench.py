"""The matrix-engine bench (``sim/bench/gemm.py``) on the regression's ``ARRAY`` engine (one 3×2
array, already built for ``tests/matmul``), Verilator only: its figures follow from the runs, and
no figure comes from a wrong run."""

import pytest

from hw.matmul.config import D1, SMALL
from sim.bench import gemm as gemm_bench
from tests.matmul.test_engine import ARRAY, DESIGNS
from verif.matmul.model import matmul
from verif.scoreboard import Mismatch

KS = (8, 32)


@pytest.fixture(scope="module")
def swept():
    return gemm_bench.sweep(DESIGNS["array"], ARRAY, KS, extra=[(3, 2, 5)], progress=False)


def test_sweep_figures(swept):
    """Per K: both GEMMs have the planned shapes; the figures are the runs' MACs over cycles."""
    rows, runs, _ = swept
    peak, L = ARRAY.macs_per_cycle, ARRAY.interleave
    fewer_groups, more_groups = gemm_bench.GROUPS
    assert [r["k"] for r in rows] == list(KS)
    assert len(runs) == 2 * len(KS) + 1
    assert (runs[-1]["m"], runs[-1]["n"], runs[-1]["k"]) == (3, 2, 5)
    for row, fewer, more in zip(rows, runs[0::2], runs[1::2], strict=False):
        k = row["k"]
        for run, groups in ((fewer, fewer_groups), (more, more_groups)):
            assert (run["m"], run["n"], run["k"]) == (groups * 3, L * 2, k)
            assert run["macs"] == groups * 3 * L * 2 * k
            # every beat takes a cycle: at least groups·L·K of them
            assert groups * L * k < run["cycles"] <= run["sim_cycles"]
        assert row["cycles"] == (fewer["cycles"], more["cycles"])
        assert row["whole"] == pytest.approx(more["macs"] / more["cycles"] / peak)
        assert row["steady"] == pytest.approx(
            (more["macs"] - fewer["macs"]) / (more["cycles"] - fewer["cycles"]) / peak)
        assert row["whole_macs_per_cycle"] == pytest.approx(row["whole"] * peak)
        assert row["steady_macs_per_cycle"] == pytest.approx(row["steady"] * peak)
        # A group's 12 C rows and 12 output rows fit in its L·K >= 32 beats: two more groups
        # cost exactly their beats, and filling and draining only lower the whole-GEMM figure.
        assert more["cycles"] - fewer["cycles"] == (more_groups - fewer_groups) * L * k
        assert row["steady"] == 1
        assert 0 < row["whole"] < row["steady"]


def test_wrong_result_raises(monkeypatch):
    """A run that disagrees with the model gives no figure: here the model is made to
    disagree."""
    def off_by_one_ulp(a, b, c, **formats):
        d, flags = matmul(a, b, c, **formats)
        d = d.copy()
        d[0, 0] ^= 1
        return d, flags

    monkeypatch.setattr(gemm_bench, "matmul", off_by_one_ulp)
    with pytest.raises(Mismatch, match=r"bench GEMM 3x2x1 on ARRAY"):
        gemm_bench.run_checked(DESIGNS["array"], ARRAY, [(3, 2, 1)], "verilator",
                               progress=False)


def test_workload_k():
    """The Icarus workload fills what the probe leaves of the budget: probe 100 cycles (16 of
    them beats) in a 50 s batch of a 70 s launch; 180 - 70 s, less another 20 s launch, at 2
    cycles/s is 180 cycles, 84 of them not beats: K = 96 / L."""
    probe = {"k": 4, "sim_cycles": 100, "seconds": 50.0}
    assert gemm_bench.workload_k(ARRAY, probe, 70.0, 180) == 24
    assert gemm_bench.workload_k(ARRAY, probe, 170.0, 180) < 0


def test_schedule_bound():
    """The input schedule's limit: a group's 4·K beats against 7 + 4 × tile-rows words."""
    assert gemm_bench.schedule_bound(D1, 8) == 32 / 71
    assert gemm_bench.schedule_bound(D1, 16) == 64 / 71
    assert gemm_bench.schedule_bound(D1, 18) == 1
    assert gemm_bench.schedule_bound(SMALL, 8) == 32 / 39
    assert gemm_bench.schedule_bound(ARRAY, 8) == 1


def test_section_text(swept):
    """The section states the figures, the target's verdict and the speed ratio."""
    rows, runs, _ = swept
    same = {"workload": "16×16×4 GEMM"}
    figures = {"D1": rows, "SMALL": rows,
               "speed": [{"sim": "icarus", **same, "runs": 1, "cycles": 60, "seconds": 120.0},
                         {"sim": "verilator", **same, "runs": 10, "cycles": 600,
                          "seconds": 0.6},
                         {"sim": "verilator", "workload": "the K sweep", "runs": 16,
                          "cycles": 9000, "seconds": 10.0}]}
    body = gemm_bench._body(figures)
    for row in rows:
        assert f"| {row['k']} | {100 * row['whole']:.1f} | 100.0 |" in body
    assert ("Verilator / Icarus speed ratio on the D1 engine, same run and workload "
            "(16×16×4 GEMM): **2,000×**") in body
    assert body.count("speed ratio") == 1
    assert "| icarus | 16×16×4 GEMM | 1 | 60 | 120 | 0.5 |" in body
    assert "K ≥ 256" not in body  # no K ≥ 256 in these rows: no verdict
    long_k = [{**rows[-1], "k": 256, "steady": 0.96}]
    assert "(**misses** the 97.0 % target)" in gemm_bench._body({**figures, "D1": long_k,
                                                                  "SMALL": long_k})
