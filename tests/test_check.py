"""``make check``'s tier (tests/check.py): every entry names tests that exist, and every block of
``hw/`` is simulated on both simulators in it."""

import subprocess
import sys

from sim.flow import toolchain
from sim.flow.toolchain import SIMULATORS
from tests import check


def _collected(*args):
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", *args], cwd=toolchain.ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return [line for line in proc.stdout.splitlines() if "::" in line]


def test_every_entry_names_collected_tests_and_the_marker_takes_them():
    """An entry that names nothing (a test renamed, a parameter changed) would drop a block from
    the tier silently; the ``check`` marker must take exactly the tests the entries name."""
    every = _collected()
    for entry in check.entries():
        assert any(check.selects(entry, t) for t in every), f"{entry} names no test"
    marked = _collected("-m", "check")
    assert marked == [t for t in every if any(check.selects(e, t) for e in check.entries())]


def test_every_block_is_simulated_on_both_simulators():
    blocks = sorted(p.name for p in (toolchain.ROOT / "hw").iterdir()
                    if p.is_dir() and (p / "__init__.py").exists() and p.name != "common")
    for block in blocks:
        if block in check.NOT_IN_TIER:
            continue
        home = block if block in check.RTL else check.ALSO_IN.get(block)
        assert home in check.RTL, f"hw/{block} is simulated by no test of the tier"
        for sim in SIMULATORS:
            assert any(f"{sim}" in t for t in check.RTL[home]), (block, sim)


def test_selects():
    assert check.selects("tests/common", "tests/common/test_shared.py::test_x")
    assert not check.selects("tests/common", "tests/commonx/test_shared.py::test_x")
    assert check.selects("tests/a.py", "tests/a.py::test_x[1]")
    assert not check.selects("tests/a.py", "tests/a.pyc::test_x")
    assert check.selects("tests/a.py::t[v-1]", "tests/a.py::t[v-1]@build-x-verilator")
    assert not check.selects("tests/a.py::t[v-1]", "tests/a.py::t[v-10]")
