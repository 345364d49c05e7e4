"""``d1core bench --only regression``: the regression's wall time on this machine, as CI sees it.

CI runs the README's test command on a clean clone: nothing converted, nothing built. This part
does the same in a copy of the project's files (:data:`COPIED`) in a temporary directory, so
that no cached simulator build or Verilog shortens it, and runs each tier there as the
Makefile does (:data:`TIERS`: ``make test``, the whole regression but the tests marked
``bench``, and ``make check``, the tests marked ``check``) with pytest-xdist on :data:`JOBS`
workers. It reports per tier the tests passed, the wall time, the workers' busy time (setup,
call and teardown of every test, from ``--durations=0``) and the longest tests; a tier with a
failure or an error gives no figure.
Each tier is its own section, ``bench-regression-test`` and ``bench-regression-check``; the
budgets (:data:`BUDGET`) are issue 20's.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from sim.bench import BenchError
from sim.flow import report, toolchain
from sim.flow.build import MUTANT_ENV

__all__ = ["BUDGET", "COPIED", "JOBS", "TIERS", "BenchError", "copy_project", "fresh_env",
           "parse", "run", "run_tier", "section"]

#: Workers, as CI has (2 cores).
JOBS = 2
#: The pytest arguments of each tier after the Makefile's (``make test``, ``make check``).
TIERS = {"test": ["-m", "not bench"], "check": ["-m", "check"]}
#: Wall-time budget of each tier on 2 cores, in seconds.
BUDGET = {"test": 30 * 60, "check": 5 * 60}
#: What the copy holds: what a clone holds that the tests read.
COPIED = ("hw", "verif", "sim", "tests", "docs", "pyproject.toml", "Makefile", "README.md")
#: The longest tests listed per tier.
LONGEST = 10


_DURATION = re.compile(r"^([\d.]+)s (setup|call|teardown)\s+(\S+)", re.M)
#: pytest's last line, with ``-q`` or without (then between rules of ``=``).
_SUMMARY = re.compile(r"^=*\s*(no tests ran|\d+ \w+(?:, \d+ \w+)*) in ([\d.]+)s", re.M)


def parse(output):
    """``(summary, wall seconds, {test: busy seconds})`` of a pytest run's ``output`` (with
    ``--durations=0``); ``summary`` is pytest's last line's counts, as a dict (``passed``,
    ``failed``, ...)."""
    busy = defaultdict(float)
    for seconds, _, test in _DURATION.findall(output):
        busy[re.sub(r"@.*$", "", test)] += float(seconds)
    found = _SUMMARY.findall(output)
    if not found:
        raise BenchError("pytest printed no summary line:\n" + output[-2000:])
    counts, wall = found[-1]
    summary = {k: int(n) for n, k in re.findall(r"(\d+) (\w+)", counts)}
    return summary, float(wall), dict(busy)


def copy_project(dest):
    """Copy what a clone of the project holds that the tests read (:data:`COPIED`) to ``dest``:
    no build, no cache."""
    for name in COPIED:
        src = toolchain.ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dest / name)


def fresh_env(root=None):
    """This environment for a run in a fresh copy: its own build directory, no mutant; with
    ``root`` (the copy), the copy's packages first, run by this interpreter; without, a user's
    shell in the copy: nothing of this process's PYTHONPATH (it would import this tree's code
    instead of the copy's) or virtual environment (make picks the copy's own)."""
    drop = ("D1CORE_BUILD", MUTANT_ENV, "PYTHONPATH", *(() if root else ("VIRTUAL_ENV",)))
    env = {k: v for k, v in os.environ.items() if k not in drop}
    if root is not None:
        env["PYTHONPATH"] = str(root)
    return env


def run_tier(tier, *, jobs=JOBS):
    """Run ``tier`` in a fresh copy of the project; its figures as a dict."""
    with tempfile.TemporaryDirectory(prefix=f"d1core-{tier}-") as tmp:
        root = Path(tmp)
        copy_project(root)
        cmd = [sys.executable, "-m", "pytest", "-n", str(jobs), "--dist", "loadgroup",
               "--no-loadscope-reorder", "--durations=0", "--durations-min=0", "-q",
               "-p", "no:cacheprovider",
               *TIERS[tier]]
        print(f"regression, {tier} tier: {' '.join(cmd[1:])} in a fresh copy ({root})",
              flush=True)
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=fresh_env(root))
        elapsed = time.monotonic() - t0
    summary, wall, busy = parse(proc.stdout)
    if proc.returncode != 0 or summary.get("failed") or summary.get("error") \
            or summary.get("errors"):
        raise BenchError(f"the {tier} tier did not pass ({summary}):\n" + proc.stdout[-3000:])
    return {"tier": tier, "passed": summary.get("passed", 0),
            "skipped": summary.get("skipped", 0), "wall_s": wall, "elapsed_s": elapsed,
            "busy_s": sum(busy.values()), "jobs": jobs, "budget_s": BUDGET[tier],
            "longest": sorted(busy.items(), key=lambda kv: -kv[1])[:LONGEST]}


def _minutes(seconds):
    s = round(seconds)        # whole seconds first: 299.6 s is 5 min 00 s, not 4 min 60 s
    return f"{s // 60} min {s % 60:02d} s"


def section(r):
    """The markdown of one tier's figures (a :func:`run_tier` result)."""
    row = [f"`make {r['tier']}`", f"{r['passed']:,}", _minutes(r["wall_s"]),
           f"{r['busy_s']:,.0f} s", f"{r['busy_s'] / (r['jobs'] * r['wall_s']):.0%}",
           _minutes(r["budget_s"]), "yes" if r["wall_s"] <= r["budget_s"] else "**no**"]
    return (f"In a fresh copy of the project (no simulator build or Verilog cached, as CI's "
            f"clean clone), pytest-xdist on {r['jobs']} workers as the Makefile runs it. Busy: "
            f"the workers' setup, call and teardown time of every test; use: busy over "
            f"workers × wall.\n\n"
            + report.markdown_table(["tier", "tests passed", "wall time", "busy", "use",
                                     "budget", "within"], [row])
            + "\n\nLongest tests (busy seconds; a build's group pays its build in its first "
              "test):\n\n"
            + report.markdown_table(["test", "s"],
                                    [[f"`{t}`", f"{s:.1f}"] for t, s in r["longest"]]))


def run(*, tiers=tuple(TIERS), write=True, command="d1core bench --only regression"):
    """Run the ``tiers``; print and (with ``write``) publish each as its section
    ``bench-regression-TIER``."""
    results = []
    for tier in tiers:
        r = run_tier(tier)
        report.publish(f"bench-regression-{tier}", f"Regression: `make {tier}` on 2 cores",
                       section(r), command=command,
                       figures={k: v for k, v in r.items() if k != "longest"}, write=write)
        results.append(r)
    return results
