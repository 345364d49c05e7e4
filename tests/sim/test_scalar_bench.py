"""The scalar core's bench part (``sim/bench/scalar.py``) without a simulator: the IPC and
target logic, the tables, and that a failing or inconsistent run gives no figure. The real runs
are ``d1core bench --only scalar`` (too long for the regression)."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from sim.bench import BenchError
from sim.bench import scalar as scalar_bench
from sim.bench.scalar import Measured
from sim.flow import report
from verif.scalar.core_tb import LockstepError


def fake(program="crc", workers=4, threads=4, *, instret=(300, 200, 200, 200), cycles=1000,
         sim="verilator", status="pass", seconds=0.5):
    return Measured(program, workers, threads, sim, status, cycles, tuple(instret), seconds)


def test_cases():
    """Per program: the 1-worker build on 1 and 4 threads, the 4-worker build on 4 threads."""
    got = scalar_bench.cases(("sort", "crc"))
    assert got == [("sort", 1, 1), ("sort", 1, 4), ("sort", 4, 4),
                   ("crc", 1, 1), ("crc", 1, 4), ("crc", 4, 4)]
    assert len(scalar_bench.cases()) == 9


def test_ipc_and_bound():
    """IPC is instructions over cycles, per thread and in total; the bound is one instruction
    per two cycles per thread with work (workers on at least as many threads), at most one a
    cycle."""
    m = fake()
    assert m.total == 900
    assert m.ipc() == 0.9
    assert [m.ipc(t) for t in range(4)] == [0.3, 0.2, 0.2, 0.2]
    assert m.bound == 1.0
    assert fake(workers=1, threads=1, instret=(10,)).bound == 0.5
    assert fake(workers=1, threads=4, instret=(10, 0, 0, 0)).bound == 0.5
    assert fake(workers=4, threads=1, instret=(10,)).bound == 0.5
    assert fake(workers=2, threads=4, instret=(10, 10, 0, 0)).bound == 1.0


def test_verdict():
    """The target applies to four workers on four threads only: met at exactly 0.9 in total,
    not met just below; no verdict for other runs, however fast."""
    assert scalar_bench.verdict(fake(instret=(300, 200, 200, 200))) == "met"
    assert scalar_bench.verdict(fake(instret=(299, 200, 200, 200))) == "not met"
    assert scalar_bench.verdict(fake(instret=(250, 250, 250, 250))) == "met"
    assert scalar_bench.verdict(fake(workers=1, threads=1, instret=(1000,))) is None
    assert scalar_bench.verdict(fake(workers=1, instret=(950, 0, 0, 0))) is None


def figures():
    ipc = [fake("crc", 1, 1, instret=(200,)),
           fake("crc", 4, 4, instret=(300, 200, 200, 200)),
           fake("sort", 4, 4, instret=(200, 100, 100, 100))]
    speed = [scalar_bench.speed_figure("verilator", "w", [fake(cycles=10_000, seconds=0.25)] * 4),
             scalar_bench.speed_figure("icarus", "w", [fake(cycles=10_000, seconds=50.0)]),
             scalar_bench.speed_figure("verilator", "the IPC runs above", ipc)]
    return {"ipc": ipc, "speed": speed, "load": 3.25}


def test_body():
    """The section's tables: one row per run with per-thread and total figures and the
    verdict; the summary names the lowest four-thread run; the speed rows sum their runs and the
    ratio compares the two simulators on the same workload."""
    text = scalar_bench.body(figures())
    assert ("| crc | 1 | 1 | 1,000 | 200 | 200 | 0.200 | 0.200 | 0.50 | — |") in text
    assert ("| crc | 4 | 4 | 1,000 | 300 / 200 / 200 / 200 | 900 | "
            "0.300 / 0.200 / 0.200 / 0.200 | 0.900 | 1.00 | met |") in text
    assert "| sort | 4 | 4 | 1,000 | 200 / 100 / 100 / 100 | 500 |" in text
    assert "| 0.500 | 1.00 | not met |" in text
    assert "is met by 1 of 2 programs; the lowest is sort, 0.500." in text
    # only crc has a one-thread run
    assert "One thread alone reaches crc 0.200 (at most 0.50: " in text
    assert "4 threads share one issue slot a cycle, and the target needs each thread to " \
        "average at most 4.44 cycles per instruction." in text
    assert "| — |\n\nFour threads" not in text and "| not met |\n\nFour threads" in text
    assert "| verilator | w | 4 | 40,000 | 1 | 40,000 |" in text
    assert "| icarus | w | 1 | 10,000 | 50 | 200 |" in text
    assert "| verilator | the IPC runs above | 3 | 3,000 | 1.5 | 2,000 |" in text
    assert "Verilator / Icarus speed ratio on the same workload (w): **200×**." in text
    assert "no stalls, zero extra latency" in text
    assert "Load average (one minute) when the speed runs started: 3.2 " in text


def test_body_without_icarus():
    """With one simulator there is no ratio."""
    f = figures()
    f["speed"] = [s for s in f["speed"] if s["sim"] == "verilator"]
    assert "speed ratio" not in scalar_bench.body(f)


def test_check_status():
    """A figure only from a passing run, or from a capped run still going at its cap."""
    scalar_bench.check_status(fake(), tohost=1, capped=False)
    scalar_bench.check_status(fake(status="timeout"), tohost=0, capped=True)
    with pytest.raises(BenchError, match=r"^crc, 4 workers on the 4-thread core in verilator: "
                       r"fail after 1000 cycles \(tohost 0x7\); no figure from a failing run"):
        scalar_bench.check_status(fake(status="fail"), tohost=7, capped=False)
    with pytest.raises(BenchError, match=r"^crc, 1 worker on the 1-thread core .*: timeout"):
        scalar_bench.check_status(fake(workers=1, threads=1, instret=(5,), status="timeout"),
                                  tohost=0, capped=False)
    with pytest.raises(BenchError, match=r": hang after"):
        scalar_bench.check_status(fake(status="hang"), tohost=0, capped=True)


def test_check_same():
    """The speed workload must end identically on every run and simulator."""
    scalar_bench.check_same([fake(), fake(sim="icarus", seconds=40.0)])
    with pytest.raises(BenchError, match=r"ended differently: verilator pass after 1000 cycles, "
                       r"\(300, 200, 200, 200\) instructions; icarus pass after 1000 cycles, "
                       r"\(300, 200, 201, 200\) instructions"):
        scalar_bench.check_same([fake(), fake(sim="icarus", instret=(300, 200, 201, 200))])


RESULTS_XML = """<?xml version='1.0' encoding='utf-8'?>
<testsuites name="cocotb tests"><testsuite name="verif.program_cocotb" tests="{n}" time="16.4">
{cases}</testsuite></testsuites>"""
CASE = '<testcase classname="verif.program_cocotb" name="run" time="16.381"></testcase>'


def test_sim_seconds(tmp_path):
    """The simulation's seconds are cocotb's time for its one test case."""
    path = tmp_path / "results.xml"
    path.write_text(RESULTS_XML.format(n=1, cases=CASE))
    assert scalar_bench.sim_seconds(path) == 16.381
    path.write_text(RESULTS_XML.format(n=2, cases=CASE * 2))
    with pytest.raises(BenchError, match=r"results.xml: expected one test case, found 2"):
        scalar_bench.sim_seconds(path)


@pytest.fixture
def no_sim(monkeypatch):
    """``measure`` with the program build, loader and RTL run replaced: the run returns
    ``outcome`` (or raises it) and records the keywords it was called with."""
    calls = []
    state = SimpleNamespace(outcome=None, calls=calls)

    def run_program(image, **kw):
        calls.append(kw)
        Path(kw["run_dir"]).mkdir(parents=True)
        (Path(kw["run_dir"]) / "results.xml").write_text(RESULTS_XML.format(n=1, cases=CASE))
        if isinstance(state.outcome, Exception):
            raise state.outcome
        return state.outcome

    prog = SimpleNamespace(segments=[(0x8000_0000, b"\0" * 8)], entry=0x8000_0000,
                           tohost=0x8000_1000)
    monkeypatch.setattr(scalar_bench.riscv, "c_program", lambda name, workers: Path(name))
    monkeypatch.setattr(scalar_bench.elf, "load", lambda path: prog)
    monkeypatch.setattr(scalar_bench.core_tb, "run_program", run_program)
    return state


@pytest.fixture
def build_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(scalar_bench, "BUILD", tmp_path)
    return tmp_path


def test_measure(no_sim, build_dir):
    """``measure`` runs with no stalls, zero latency and the lockstep check on; its figures are
    the run's; a failing program or a lockstep divergence raises instead of giving a figure."""
    no_sim.outcome = SimpleNamespace(status="pass", cycles=1234, retired=[7, 8, 9, 10],
                                     tohost=1)
    m = scalar_bench.measure("crc", workers=4, threads=4, sim="icarus")
    assert m == Measured("crc", 4, 4, "icarus", "pass", 1234, (7, 8, 9, 10), 16.381)
    kw = no_sim.calls[-1]
    assert (kw["stall"], kw["latency"], kw["check"], kw["threads"], kw["sim"]) == \
        (0, 0, True, 4, "icarus")
    assert kw["max_cycles"] == scalar_bench.DEFAULT_MAX_CYCLES
    assert kw["run_dir"] == build_dir / "runs" / "bench-scalar-crc-4w-4t-icarus"

    m = scalar_bench.measure("crc", workers=4, threads=4, sim="icarus", max_cycles=500)
    assert no_sim.calls[-1]["max_cycles"] == 500

    no_sim.outcome = SimpleNamespace(status="fail", cycles=99, retired=[1, 1, 1, 1], tohost=5)
    with pytest.raises(BenchError, match=r"fail after 99 cycles \(tohost 0x5\)"):
        scalar_bench.measure("crc", workers=4, threads=4, sim="verilator")
    no_sim.outcome = LockstepError("record 3: got ...")
    with pytest.raises(LockstepError, match="record 3"):
        scalar_bench.measure("crc", workers=4, threads=4, sim="verilator")


def test_run_writes_section(monkeypatch):
    """``run`` measures every case on Verilator and the speed workload on each simulator, and
    writes section ``bench-scalar`` with the command; simulators disagreeing on the speed
    workload give no section."""
    runs, written = [], []

    def measure(program, *, workers, threads, sim, max_cycles=None):
        runs.append((program, workers, threads, sim, max_cycles))
        cycles = max_cycles or 1000
        return fake(program, workers, threads, sim=sim, cycles=cycles,
                    status="timeout" if max_cycles else "pass",
                    instret=(100,) * threads)

    monkeypatch.setattr(scalar_bench, "measure", measure)
    monkeypatch.setattr(report, "update_section",
                        lambda path, key, title, body, *, command, figures=None:
                        written.append((key, command)))
    f = scalar_bench.run(command="d1core bench --only scalar", progress=False)
    cap = scalar_bench.SPEED_CYCLES
    assert runs[:9] == [(p, w, t, "verilator", None) for p, w, t in scalar_bench.cases()]
    assert runs[9:] == ([("crc", 4, 4, "verilator", cap)] * scalar_bench.VERILATOR_REPEATS +
                        [("crc", 4, 4, "icarus", cap)])
    assert written == [("bench-scalar", "d1core bench --only scalar")]
    assert [s["sim"] for s in f["speed"]] == ["verilator", "icarus", "verilator"]
    assert f["load"] >= 0

    def disagreeing(program, *, workers, threads, sim, max_cycles=None):
        return fake(program, workers, threads, sim=sim, cycles=max_cycles or 1000,
                    instret=(100 + (sim == "icarus"),) * threads)

    monkeypatch.setattr(scalar_bench, "measure", disagreeing)
    written.clear()
    with pytest.raises(BenchError, match="ended differently"):
        scalar_bench.run(progress=False)
    assert written == []
