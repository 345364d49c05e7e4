"""The layer-normalisation part of the core bench (``sim/bench/core.py``,
``measure_layernorm``) without a simulator: the run is the core model's memory with the
kernel's result words filled in, so the figures (lines a cycle, the share of the sequencer's
bound) and the refusals (an output that differs, a busy count that is not the kernel's lines, an
error register) are checked. The real run is ``d1core bench --only core``."""

from types import SimpleNamespace

import numpy as np
import pytest

from sim.bench import BenchError
from sim.bench import core as core_bench
from verif.core.kernels.layernorm import RESULT_WORDS, layernorm_kernel
from verif.core.model import CoreModel

ROWS, COLS = 3, 48


def fake_run(monkeypatch, *, busy=None, status=0, corrupt=False):
    """Patch the bench's runner to give the model's memory with these result words."""
    kern = layernorm_kernel(ROWS, COLS, seed=0)        # the bench's own seed: the same build
    model = CoreModel(threads=4, sram="D1", reset_pc=kern.program.entry,
                      tohost=kern.program.tohost)
    for addr, blob in kern.image:
        model.memory.write(addr, bytes(blob))
    assert model.run(1_000_000).status == "pass"
    two, three = kern.vop_lines()
    words = {"cycles": 1000, "busy": two + three if busy is None else busy, "port": 5,
             "operand": 40, "backpressure": 0, "idle": 7, "status": status, "flags": 1}
    model.memory.write(kern.program.symbols["d1_result"],
                       np.array([words[w] for w in RESULT_WORDS], np.uint64).tobytes())
    if corrupt:
        y = kern.program.symbols["ws"] + kern.offsets["OFF_Y"]
        model.memory.write(y, bytes([model.memory.read(y, 1)[0] ^ 1]))
    run = SimpleNamespace(check=lambda: None, status="pass", read=model.memory.read,
                          cycles=1500, seconds=3.0)
    monkeypatch.setattr(core_bench, "run_core_program", lambda *a, **k: run)
    return two, three


def test_figures(monkeypatch):
    """Lines a cycle = lines / kernel cycles; the bound = lines + half the three-operand lines;
    the share = bound / kernel cycles; the counters as the kernel recorded them; the table."""
    two, three = fake_run(monkeypatch)
    f = core_bench.measure_layernorm(ROWS, COLS)
    assert f["lines"] == two + three and f["three_operand_lines"] == three
    assert f["lines_per_cycle"] == (two + three) / 1000
    assert f["bound_cycles"] == two + 1.5 * three
    assert f["of_peak"] == (two + 1.5 * three) / 1000
    assert (f["busy"], f["port"], f["operand"], f["idle"]) == (two + three, 5, 40, 7)
    text = core_bench.layernorm_body([f])
    assert f"| {ROWS}×{COLS} | 1,000 | {two + three:,} ({three:,}) |" in text


@pytest.mark.parametrize("kw,msg", [
    ({"corrupt": True}, "the output differs from the numpy reference"),
    ({"busy": 1}, r"1 busy cycles for \d+ lines"),
    ({"status": 0x104}, "error register 0x104"),
])
def test_refusals(monkeypatch, kw, msg):
    """A run whose output, busy count or error register is wrong gives no figure."""
    fake_run(monkeypatch, **kw)
    with pytest.raises(BenchError, match=rf"^layernorm {ROWS}x{COLS}: {msg}$"):
        core_bench.measure_layernorm(ROWS, COLS)
