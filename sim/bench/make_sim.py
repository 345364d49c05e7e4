"""``d1core bench --only make-sim``: the wall time of the README's ``make sim`` on this machine,
and where it goes; the mesh's simulation speed from the same runs.

In a fresh copy of the project (:func:`sim.bench.regression.copy_project`: no virtual
environment, nothing converted or built, as a new user's clone), it runs ``make setup`` (the
virtual environment and its packages: what ``make sim`` does first on a fresh machine, timed
apart), then ``make sim`` :data:`RUNS` times: the first run converts and builds the 2×2 mesh of
SMALL cores, the later ones find the build cached. Each ``make sim`` must pass (the training
step bit for bit against its model). Where the time goes comes from the command's own ``time:``
line (the program and the model, converting and building the mesh, the simulation with the
loading and the reads through the edge port, the check). The mesh's speed is the command's
(mesh cycles per second over the whole simulation, loading and reading back included), and per
core.
"""

import re
import subprocess
import tempfile
import time
from pathlib import Path

from hw.mesh.config import MESH_2X2
from sim.bench import BenchError
from sim.flow import report

from .regression import JOBS, copy_project, fresh_env

__all__ = ["RUNS", "BenchError", "parse", "run", "section"]

#: Runs of ``make sim`` after the set-up: the first with the build, then cached ones.
RUNS = 2
_TIME = re.compile(r"^time: ([\d.]+) s \(program and model ([\d.]+) s, conversion and build "
                   r"([\d.]+) s, simulation ([\d.]+) s, checking ([\d.]+) s\)", re.M)
_SPEED = re.compile(r"^(\d+) steps in ([\d,]+) mesh cycles .*simulated at ([\d,]+) mesh "
                    r"cycles/s", re.M)


def parse(output):
    """The figures of one ``d1core sim`` output: ``{"command_s", "program_s", "build_s",
    "simulation_s", "check_s", "steps", "cycles", "speed"}``; :class:`BenchError` if it did
    not pass or prints no timing."""
    if "\nPASS" not in "\n" + output:
        raise BenchError("make sim did not pass:\n" + output[-3000:])
    t, s = _TIME.search(output), _SPEED.search(output)
    if not t or not s:
        raise BenchError("make sim printed no time or speed line:\n" + output[-3000:])
    num = lambda v: float(v.replace(",", ""))                      # noqa: E731
    return {"command_s": num(t[1]), "program_s": num(t[2]), "build_s": num(t[3]),
            "simulation_s": num(t[4]), "check_s": num(t[5]), "steps": int(s[1]),
            "cycles": int(num(s[2])), "speed": num(s[3])}


def _make(root, target):
    t0 = time.monotonic()
    proc = subprocess.run(["make", target], cwd=root, capture_output=True, text=True,
                          env=fresh_env())
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise BenchError(f"make {target} failed ({proc.returncode}):\n"
                         + (proc.stdout + proc.stderr)[-3000:])
    return wall, proc.stdout + proc.stderr


def measure(*, runs=RUNS):
    """Run the set-up and ``runs`` times ``make sim`` in a fresh copy; the figures (dict)."""
    with tempfile.TemporaryDirectory(prefix="d1core-make-sim-") as tmp:
        root = Path(tmp)
        copy_project(root)
        print(f"make-sim: make setup, then make sim {runs} times in a fresh copy ({root})",
              flush=True)
        setup_s, _ = _make(root, "setup")
        sims = []
        for _ in range(runs):
            wall, out = _make(root, "sim")
            sims.append({"wall_s": wall, **parse(out)})
    return {"setup_s": setup_s, "runs": sims, "cores": MESH_2X2.width * MESH_2X2.height,
            "jobs": JOBS}


def section(r):
    """The markdown of :func:`measure`'s figures."""
    first, later = r["runs"][0], r["runs"][-1]
    rows = [[("first" if i == 0 else "later") + f" (run {i + 1})", f"{s['wall_s']:.1f}",
             f"{s['program_s']:.1f}", f"{s['build_s']:.1f}", f"{s['simulation_s']:.1f}",
             f"{s['check_s']:.1f}", f"{s['wall_s'] - s['command_s']:.1f}", f"{s['cycles']:,}",
             f"{s['speed']:,.0f}", f"{s['speed'] * r['cores']:,.0f}"]
            for i, s in enumerate(r["runs"])]
    return (f"The README's `make sim` (the training step, {first['steps']} steps, on the 2×2 "
            f"mesh of SMALL cores, Verilator, checked bit for bit against its model) in a fresh "
            f"copy of the project. `make setup` first (the virtual environment and its "
            f"packages, what `make sim` does first on a fresh machine; pip's cache of this "
            f"machine held the packages): **{r['setup_s']:.0f} s**. Then `make sim` "
            f"{len(r['runs'])} times: the first converts and builds the mesh "
            f"(**{first['wall_s']:.0f} s**, of which the conversion and the build "
            f"{first['build_s']:.0f} s), the later find it built (**{later['wall_s']:.0f} s**). "
            f"Seconds; program and model: the ELF's build, the numpy model and the image; "
            f"conversion and build: Amaranth to Verilog and Verilator's build of the mesh; "
            f"simulation: Verilator, the loading and the reads through the edge port included; "
            f"start-up: Python and make around the command. Speed: mesh cycles per wall-clock "
            f"second of the whole simulation, and core cycles per second ({r['cores']} "
            f"cores).\n\n"
            + report.markdown_table(["make sim", "wall", "program and model",
                                     "conversion and build", "simulation", "check", "start-up",
                                     "mesh cycles", "mesh cycles/s", "core cycles/s"], rows))


def run(*, write=True, command="d1core bench --only make-sim"):
    """Measure, print and (with ``write``) publish section ``bench-make-sim``."""
    r = measure()
    report.publish("bench-make-sim", "`make sim`: wall time and the mesh's simulation speed",
                   section(r), command=command, figures=r, write=write)
    return r

