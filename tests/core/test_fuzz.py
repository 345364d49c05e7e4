"""The fuzzer's library (``verif/core/fuzz.py``; ``d1core fuzz`` is tested in
``tests/sim/test_fuzz_cmd.py``).

* The scalar kind's programs, laid out for the core's scratchpad (64 KB on SMALL, the scalar
  core's layout on D1), pass on the core model for many seeds: a program that failed there
  would be reported as a mismatch of the RTL; the 64 KB layout keeps the same instructions.
* :func:`fuzz` stops after ``programs`` or ``seconds`` (at least one program), runs the seeds
  in order and each kind in turn, and its summary adds up (a fake clock and runner: no
  simulation).
* Its parameters are refused with exact messages.
* On the SMALL core's RTL (Verilator): a scalar program passes, every instruction compared.
"""

import pytest

from hw.core.config import D1, SMALL
from tests.groups import core_cases
from verif.core import fuzz as fz
from verif.core.model import CoreModel
from verif.scalar import random_program as scalar_random


def _on_model(config, image, tohost):
    model = CoreModel(threads=config.threads, sram=config.sram, tohost=tohost)
    for addr, blob in image:
        model.memory.write(addr, bytes(blob))
    return model.run(1_000_000)


@pytest.mark.parametrize("config", [SMALL, D1], ids=["SMALL", "D1"])
def test_scalar_programs_pass_on_the_model(config):
    """Every seed's scalar program (20 and 40 commands' worth) fits the scratchpad and passes on
    the core model."""
    for seed in range(12):
        for commands in (20, 40):
            image, tohost = fz.generate("scalar", seed, config=config, commands=commands)
            end = max(addr + len(blob) for addr, blob in image)
            assert end <= config.sram.base + config.sram.size
            result = _on_model(config, image, tohost)
            assert result.status == "pass", (seed, commands, result.status)


@pytest.mark.parametrize("seed", [101, 102, 7])
def test_core_programs_refuse_on_d1(seed):
    """The core kind's programs for D1 (1.25 MB) pass on the model and every STATUS answers the
    refusal intended: their range refusals point past D1's scratchpad, not past 64 KB, where
    they were legal commands racing on shared lines (``d1core fuzz --core D1`` seeds 101 and
    102 mismatched so)."""
    image, tohost = fz.generate("core", seed, config=D1, commands=40)
    from verif.core.random_programs import random_program

    prog = random_program(seed, commands=40, scratchpad=D1.sram.size)
    assert prog.image == image
    model = CoreModel(threads=D1.threads, sram=D1.sram, tohost=tohost)
    for addr, blob in image:
        model.memory.write(addr, bytes(blob))
    assert model.run(2_000_000).status == "pass"
    for addr, code in prog.statuses:
        word = int.from_bytes(model.memory.read(addr, 8), "little")
        assert word & 0xFFFF_FFFF == code, f"seed {seed}: STATUS at {addr:#x}: {word:#x}"


def test_small_layout_keeps_the_instructions():
    """The 64 KB layout moves the regions, not the random instructions: thread 1's body is the
    same as in the scalar core's layout, thread 0's up to its end (which writes tohost)."""
    big, _ = scalar_random.random_program(5, threads=2, length=50)
    small, tohost = scalar_random.random_program(5, threads=2, length=50, memory=1 << 16)
    assert tohost == scalar_random.SMALL_LAYOUT.tohost
    body = lambda image, lay, t: dict(image)[scalar_random.BODY + t * lay.body_span]  # noqa: E731
    big_bodies = [body(big, scalar_random.LAYOUT, t) for t in range(2)]
    small_bodies = [body(small, scalar_random.SMALL_LAYOUT, t) for t in range(2)]
    assert big_bodies[1] == small_bodies[1]
    assert big_bodies[0][:-64] == small_bodies[0][:-64]


@pytest.mark.parametrize(("memory", "error", "message"), [
    (0x8000, ValueError, "memory must be in 65536..1099511627776, not 32768"),
    ("64K", TypeError, "memory must be an integer, not '64K'"),
])
def test_scalar_memory_refused(memory, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        scalar_random.random_program(1, memory=memory)


class _Clock:
    """A clock that advances ``step`` seconds each time it is read."""

    def __init__(self, step):
        self.t, self.step = 0.0, step

    def __call__(self):
        self.t += self.step
        return self.t


def _fake_runs(monkeypatch, bad=()):
    ran = []

    def run(kind, seed, *, config, sim, commands):
        ran.append((kind, seed))
        detail = "record 3: got x; model expected y" if (kind, seed) in bad else None
        return fz.FuzzResult(seed, kind, 100 + seed, 1000, detail, 0.5)

    monkeypatch.setattr(fz, "fuzz_program", run)
    return ran


def test_stops_after_the_seconds(monkeypatch):
    """Each program takes 10 s of the fake clock: 25 s run three (the one that passes 25 s
    included), seeds in order; both kinds alternate within a seed."""
    ran = _fake_runs(monkeypatch)
    s = fz.fuzz(config=SMALL, seed=7, seconds=25, clock=_Clock(10))
    assert ran == [("core", 7), ("core", 8), ("core", 9)]
    assert s.programs == 3 and s.instructions == 107 + 108 + 109 and s.seconds == 30
    assert s.sim_seconds == 1.5 and s.rate(s.sim_seconds) == 324 / 1.5 and not s.mismatches
    ran.clear()
    fz.fuzz(config=SMALL, seed=0, programs=5, kinds=fz.KINDS)
    assert ran == [("core", 0), ("scalar", 0), ("core", 1), ("scalar", 1), ("core", 2)]


def test_at_least_one_program_and_mismatches_kept(monkeypatch):
    """seconds=0 runs one program; a mismatch does not stop the run and is in the summary."""
    ran = _fake_runs(monkeypatch, bad={("scalar", 4)})
    s = fz.fuzz(config=SMALL, seed=4, seconds=0, kinds=("scalar",))
    assert ran == [("scalar", 4)] and [r.verdict for r in s.results] == ["MISMATCH"]
    s = fz.fuzz(config=SMALL, seed=3, programs=3, kinds=("scalar",))
    assert [r.verdict for r in s.results] == ["PASS", "MISMATCH", "PASS"]
    assert [r.seed for r in s.mismatches] == [4]


def test_a_crash_names_the_program(monkeypatch):
    """An exception while running or checking a program (here from the model) ends the run with
    FuzzError naming the seed and kind, the exception as its cause."""
    def crash(kind, seed, **kw):
        raise KeyError("thread 9")

    monkeypatch.setattr(fz, "fuzz_program", crash)
    with pytest.raises(fz.FuzzError, match=r"^seed 6 scalar: KeyError: 'thread 9'$") as e:
        fz.fuzz(config=SMALL, seed=6, programs=3, kinds=("scalar",))
    assert isinstance(e.value.__cause__, KeyError)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    (dict(), ValueError, r"give seconds or programs \(or both\)"),
    (dict(seconds=-1), ValueError, "seconds must be a number >= 0, not -1"),
    (dict(programs=0), ValueError, r"programs must be in 1\.\.4294967296, not 0"),
    (dict(programs=1, kinds=("vector",)), ValueError,
     r"kinds must be some of core, scalar, not \('vector',\)"),
    (dict(programs=1, sim="spike"), ValueError,
     "sim must be one of verilator, icarus, not 'spike'"),
    (dict(programs=1, commands=0), ValueError, r"commands must be in 1\.\.40, not 0"),
    (dict(programs=1, config="SMALL"), TypeError,
     "config must be an instance of CoreConfig, not 'SMALL'"),
])
def test_parameters(monkeypatch, kwargs, error, message):
    _fake_runs(monkeypatch)
    kwargs = {"config": SMALL, **kwargs}
    with pytest.raises(error, match=f"^{message}$"):
        fz.fuzz(**kwargs)


def test_generate_unknown_kind():
    with pytest.raises(ValueError, match="^kind must be one of core, scalar, not 'x'$"):
        fz.generate("x", 1, config=SMALL)


@pytest.mark.parametrize("sim", core_cases("SMALL", [("verilator",)]))
def test_scalar_kind_on_the_rtl(sim):
    """A scalar program (short: 4 commands' worth) on the SMALL core passes, every retired
    instruction compared (more than the register set-up of every thread), the cycles and the
    simulation's time reported. (The core kind runs in ``tests/sim/test_fuzz_cmd.py``.)"""
    s = fz.fuzz(config=SMALL, sim=sim, seed=2, programs=1, kinds=("scalar",), commands=4)
    (r,) = s.results
    assert (r.kind, r.seed, r.verdict) == ("scalar", 2, "PASS"), r.detail
    assert r.instructions > 4 * 60 and r.cycles > r.instructions // SMALL.threads
    assert r.sim_seconds > 0 and s.seconds >= r.sim_seconds
