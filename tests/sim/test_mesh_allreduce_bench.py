"""The all-reduce part of the bench (``sim/bench/mesh_allreduce.py``) without a simulator: the
run is faked with the tohost words a REPORT build writes and the results read back, so the
figures (the cycles from the earliest start to the latest end, the bound, their ratio) and the
refusals (a result one bit off, a core that did not report, dropped packets) are checked. The
real run is ``d1core bench --only mesh-allreduce``."""

from types import SimpleNamespace

import numpy as np
import pytest

from sim.bench import mesh_allreduce as bench
from sim.bench.mesh_allreduce import BenchError
from verif.mesh.allreduce import REPORT_WORDS, lines_of, lower_bound


def fake_run(monkeypatch, tohost, dropped=(0, 0, 0, 0), corrupt=False):
    """Patch the bench's runner: every live core's result read back as the model's sum (one
    bit of rank 1's element 7 flipped when ``corrupt``)."""
    made = {}
    real = bench.allreduce_program

    def build(*args, **kwargs):
        made["program"] = real(*args, **kwargs)
        return made["program"]

    def run_mesh_program(*args, segments, reads, **kwargs):
        program = made["program"]
        assert segments == program.segments()
        assert reads == program.reads() + program.report_read()
        want = np.zeros(lines_of(program.n) * 16, np.float32)
        want[:program.n] = program.expected
        results = [bytearray(want.tobytes()) for _ in program.ranks]
        if corrupt:
            results[1][4 * 7] ^= 1
        for rank in range(program.p):
            words = dict.fromkeys(REPORT_WORDS, 0)
            words.update(vector_busy=10 * (rank + 1), dma_busy=20 * (rank + 1),
                         thread_waiting=30 * (rank + 1), thread_issued=5,
                         thread_in_flight=7, thread_fetch=3 * rank)
            results.append(np.array(list(words.values()), np.uint64).tobytes())
        return SimpleNamespace(tohost=list(tohost), dropped=list(dropped), failed=[0] * 4,
                               refused=[0] * 4, status="fail", run_dir="here", cycles=9000,
                               seconds=3.0, reads=results)

    monkeypatch.setattr(bench, "allreduce_program", build)
    monkeypatch.setattr(bench, "run_mesh_program", run_mesh_program)


def report(t0, t1, ts=10):
    return (t1 << 42 | t0 << 21 | ts) << 1


def test_figures(monkeypatch):
    """Cycles = the latest end less the earliest start over the live cores; the dead core's
    tohost (0) is not read."""
    fake_run(monkeypatch, [report(100, 900), 0, report(104, 1100), report(102, 1000)])
    f = bench.measure(256, ((1, 0),))
    assert f["cycles"] == 1100 - 100 and f["cores"] == 3
    assert f["bound_cycles"] == lower_bound(256, 3) == 2 * 6 + 16 - 6     # chunks of 5, 5, 6 lines
    assert f["of_bound"] == f["bound_cycles"] / 1000
    assert f["per_core"] == {"0,0": 800, "0,1": 996, "1,1": 898}
    assert f["plan_cycles"] == 104 - 10
    # the split: the mean of the three live cores' counters
    assert [f[k] for k in bench.SPLIT] == [20, 40, 60, 5, 7, 3]
    text = bench.body([f])
    assert ("| 256 | 1 | 3 ((1, 0) dead) | 8 | 1,000 | 22 | 2.2 % | 1.4 | 20 | 40 | 60 | 5 | 7 | "
            "3 | 94 |" in text)


def test_a_wrong_bit_gives_no_figure(monkeypatch):
    fake_run(monkeypatch, [report(1, 2)] * 4, corrupt=True)
    with pytest.raises(BenchError, match=r"core \(1, 0\)'s element 7 differs"):
        bench.measure(256)


@pytest.mark.parametrize("tohost,dropped,msg", [
    ([report(1, 2), 1, report(1, 2), report(1, 2)], (0,) * 4, r"core \(1, 0\) ended with "
     r"tohost 0x1"),
    ([report(1, 2), 2 * 40 + 1, report(1, 2), report(1, 2)], (0,) * 4, "tohost 0x51"),
    ([report(1, 2)] * 4, (0, 1, 0, 0), r"dropped \[0, 1, 0, 0\]"),
])
def test_refusals(monkeypatch, tohost, dropped, msg):
    fake_run(monkeypatch, tohost, dropped)
    with pytest.raises(BenchError, match=msg):
        bench.measure(256)
