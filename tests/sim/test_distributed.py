"""The regression spread over several machines (docs/verification.md, "Several machines").

``make test TX="SPEC SPEC ..."`` gives pytest-xdist one ``--tx`` per spec instead of ``-n``:
``ssh=HOST//python=D/.venv/bin/python//chdir=D`` for a machine with a checkout ``D`` of the same
commit (``make setup`` done there), ``popen//python=...//chdir=...`` for this one. A popen worker
with a ``chdir`` takes the same path through xdist as an ssh one (a gateway from the spec, its
``python`` and ``chdir``, the tests collected by the worker from ``testpaths``, no path argument
shipped), so two of them, in a copy of the project standing in for the other machines'
checkout, stand in for two machines here: the run must spread the tests (both workers run
some), simulate in that checkout and pass. (Under ``--dist loadgroup`` a
test of a build's group that xdist did not group fails, tests/conftest.py.)
"""

import re
import subprocess
import sys
from pathlib import Path

from sim.bench.regression import copy_project
from sim.flow import toolchain

#: Model tests (fast, many: both workers get some) and a cocotb run of the ECC encoder on
#: Icarus (the simulator and cocotb must work on the worker).
SELECT = "test_model_unit or test_verilog_matches_model and encoder-icarus"


def test_two_workers_from_tx_specs(tmp_path):
    copy_project(tmp_path)
    spec = f"popen//python={sys.executable}//chdir={tmp_path}"
    venv = Path(sys.executable).parent.parent
    proc = subprocess.run(
        # -o: this environment is set up (make would redo it if pyproject.toml were newer).
        ["make", "--no-print-directory", "-o", f"{venv}/.d1core-setup", "test",
         f"TX={spec} {spec}", f"VENV={venv}",
         f"PYTEST={sys.executable} -m pytest -p no:cacheprovider -v -k '{SELECT}'"],
        cwd=toolchain.ROOT, capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-2000:]
    ran = re.findall(r"^\[(gw\d+)\] \[\s*\d+%\] PASSED (\S+)", out, re.M)
    assert {w for w, _ in ran} == {"gw0", "gw1"}, out[-3000:]
    assert len(ran) == int(re.search(r"(\d+) passed", out).group(1)) >= 27
    assert sum("test_verilog_matches_model" in t for _, t in ran) == 1, ran
    assert [p.name.rsplit("-", 1)[1] for p in (tmp_path / "build" / "sim").iterdir()] \
        == ["icarus"]  # built in the workers' checkout
