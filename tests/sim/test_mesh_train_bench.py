"""The training step's part of the bench (``sim/bench/mesh_train.py``) without a simulator:
the run is faked with the reads a REPORT build brings back (every core's losses, weights and
masters equal to the model's, and cycle stamps and counters of known values), so the split
(compute, all-reduce, update, the units' busy cycles, the waiting), its mean over the live
cores, the table and the refusals (one bit off, a failed run, a dropped packet) are checked.
The real run is ``d1core bench --only mesh-train``."""

from types import SimpleNamespace

import numpy as np
import pytest

from sim.bench import BenchError
from sim.bench import mesh_train as bench
from sim.commands import bench as command
from verif.mesh.train import REPORT_STAMPS, REPORT_WORDS


def _report(steps, k):
    """Core k's stamps: step s starts at 1000·s, its backward is done 400 + k later, its
    all-reduce 300 after that, its update 200 after; the counters count given amounts."""
    rep = np.zeros((steps, len(REPORT_STAMPS), len(REPORT_WORDS)), np.uint64)
    for s in range(steps):
        t = [1000 * s, 1000 * s + 400 + k, 1000 * s + 700 + k, 1000 * s + 900 + k]
        for i, c in enumerate(t):
            # matrix busy 50 in the compute, vector 100 + 20, DMA 30 in the all-reduce,
            # waiting 10 + 5 in the compute and 250 in the all-reduce
            rep[s, i] = [c, 50 * s + 50 * (i > 0), 120 * s + 100 * (i > 0) + 20 * (i > 2),
                         30 * s + 30 * (i > 1), 265 * s + 10 * (i > 0) + 250 * (i > 1)
                         + 5 * (i > 2)]
    return rep


def fake_run(monkeypatch, status="pass", flip=False, dropped=(0, 0, 0, 0)):
    made = {}
    real = bench.train_program

    def build(**kwargs):
        assert kwargs["report"] is True
        made["program"] = real(**kwargs)
        return made["program"]

    def run_mesh_program(elf, *, segments, reads, dead, **kwargs):
        program = made["program"]
        assert reads == program.reads() and segments == program.segments()
        s, m = program.sizes, program.model
        loss = np.zeros((s.steps, 16), np.uint32)
        loss[:, 0] = m.losses
        pad = lambda a, lanes: np.pad(a, ((0, 0), (0, lanes - a.shape[1])))  # noqa: E731
        results = []
        for k in range(program.p):
            results += [bytearray(b) for b in (
                loss.tobytes(), pad(m.w1, 32).tobytes(), pad(m.w2, 32).tobytes(),
                pad(m.m1, 16).tobytes(), pad(m.m2, 16).tobytes(),
                _report(s.steps, k).tobytes())]
        if flip:
            results[6 + 2][5] ^= 4
        return SimpleNamespace(status=status, tohost=[1] * 4, reads=results,
                               dropped=list(dropped), failed=[0] * 4, refused=[0] * 4,
                               cycles=9000, seconds=3.0, run_dir="here",
                               links={((0, 0), (1, 0)): (30, 3), ((1, 0), (0, 0)): (60, 6)})

    monkeypatch.setattr(bench, "train_program", build)
    monkeypatch.setattr(bench, "run_mesh_program", run_mesh_program)


def test_split(monkeypatch):
    """Per step, the mean of the live cores: cycles start to update done, the phases between
    the stamps, busy and waiting counters over them; flits a step from the mesh's links."""
    fake_run(monkeypatch)
    f = bench.measure(((1, 0),))
    assert f["cores"] == 3 and f["shard"] == 16 and f["steps"] == 3
    for step in f["per_step"]:
        # cores k = 0, 1, 2: their backward done 400 + k after the start
        assert step["cycles"] == 901 and step["forward_backward"] == 401
        assert step["allreduce"] == 300 and step["update"] == 200
        assert step["compute"] == 601
        assert (step["matrix_busy"], step["vector_busy"], step["dma_busy"]) == (50, 120, 30)
        assert (step["waiting_compute"], step["waiting_allreduce"]) == (15, 250)
    assert f["link_flits_per_step"] == 30
    text = bench.body([f])
    assert "| 3 ((1, 0) dead) | 0 | 901 | 401 | 300 | 200 | 50 | 120 | 30 | 15 | 250 | 66.7 % | " \
        "30 |" in text
    assert "a 32-16-16 MLP" in text and "a global batch of 48 rows" in text


@pytest.mark.parametrize("kwargs, message", [
    ({"flip": True}, r"core \(0, 1\): 1 elements of w2 differ"),
    ({"status": "hang"}, "hang, tohost"),
    ({"dropped": (0, 1, 0, 0)}, r"dropped \[0, 1, 0, 0\]"),
])
def test_refusals(monkeypatch, kwargs, message):
    fake_run(monkeypatch, **kwargs)
    with pytest.raises(BenchError, match=message):
        bench.measure(((1, 0),))


def test_registered():
    assert "mesh-train" in command.PARTS
